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

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!(cond)) {                                                                             \
            test_failures++;                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!(cond)) {                                                                             \
            test_failures++;                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
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

/* ---- named cases ------------------------------------------------------------------
 * A test binary lists its cases and hands them to test_run, which runs each in
 * order, prints "ok   NAME" or "FAIL NAME" after it, goes on past a failing case
 * (CHECK never aborts), and ends with a summary naming the failed cases. A case
 * marked TEST_CASE_REQUIRED is one the rest build on (a deployment, a server):
 * when it fails the rest are reported SKIP instead of failing in a cascade.
 * PHX_TEST_CASE=NAME runs only the case of that name (its setup cases too).
 *
 *     static const test_case_t cases[] = {TEST_CASE_REQUIRED(test_deploy),
 *                                         TEST_CASE(test_token)};
 *     return test_run("test_chain", cases, TEST_COUNT(cases));
 */
typedef struct {
    const char *name;
    void (*run)(void);
    int required; /* the cases after it need it */
} test_case_t;

#define TEST_CASE(fn)                                                                              \
    {                                                                                              \
#fn, fn, 0                                                                                 \
    }
#define TEST_CASE_REQUIRED(fn)                                                                     \
    {                                                                                              \
#fn, fn, 1                                                                                 \
    }
#define TEST_COUNT(cases) (sizeof(cases) / sizeof((cases)[0]))

static inline int test_run(const char *suite, const test_case_t *cases, size_t n)
{
    const char *only = getenv("PHX_TEST_CASE");
    size_t ran = 0, failed = 0, skipped = 0;
    const char *skip_reason = NULL;
    char failed_names[512] = "";
    for (size_t i = 0; i < n; i++) {
        if (only && *only && strcmp(only, cases[i].name) != 0 && !cases[i].required) continue;
        if (skip_reason) {
            printf("SKIP %s: %s failed\n", cases[i].name, skip_reason);
            skipped++;
            continue;
        }
        int checks0 = test_checks, failures0 = test_failures;
        fflush(stdout);
        cases[i].run();
        ran++;
        int checks = test_checks - checks0, failures = test_failures - failures0;
        if (failures) {
            failed++;
            printf("FAIL %s (%d of %d checks failed)\n", cases[i].name, failures, checks);
            size_t len = strlen(failed_names);
            snprintf(failed_names + len, sizeof failed_names - len, "%s%s", len ? ", " : "",
                     cases[i].name);
            if (cases[i].required) skip_reason = cases[i].name;
        } else {
            printf("ok   %s (%d checks)\n", cases[i].name, checks);
        }
    }
    if (ran == 0) {
        printf("FAIL %s: no case ran (PHX_TEST_CASE=%s names none)\n", suite, only ? only : "");
        return 1;
    }
    printf("%s: %zu cases, %zu failed%s%s%s, %zu skipped; %d checks, %d failures\n", suite, ran,
           failed, failed ? " (" : "", failed_names, failed ? ")" : "", skipped, test_checks,
           test_failures);
    return test_failures ? 1 : 0;
}

#endif
