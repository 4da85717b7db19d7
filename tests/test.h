/* Minimal test harness: CHECK records a failure and goes on; the process exit
 * status is the verdict CTest reads. Also finds the shared test vectors. */
#ifndef PHX_TEST_H
#define PHX_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        test_checks++;                                                                 \
        if (!(cond)) {                                                                 \
            test_failures++;                                                           \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
        }                                                                              \
    } while (0)

#define CHECK_MSG(cond, ...)                                                           \
    do {                                                                               \
        test_checks++;                                                                 \
        if (!(cond)) {                                                                 \
            test_failures++;                                                           \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);            \
            fprintf(stderr, __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                       \
        }                                                                              \
    } while (0)

/* Path of a file under the shared test data, or NULL (and a SKIP line) when the
 * folder is absent. Returned string is static storage, overwritten per call. */
static inline const char *test_data_path(const char *rel)
{
    static char path[4096];
    const char *root = getenv("PHX_TESTDATA");
    if (!root || !*root) root = "../shared/testdata";
    snprintf(path, sizeof path, "%s/%s", root, rel);
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("SKIP %s: not found (set PHX_TESTDATA)\n", path);
        return NULL;
    }
    return path;
}

static inline int test_done(const char *name)
{
    printf("%s: %d checks, %d failures\n", name, test_checks, test_failures);
    return test_failures ? 1 : 0;
}

#endif
