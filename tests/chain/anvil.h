/* Test helper: start a real anvil (npm @foundry-rs/anvil) on a random loopback
 * port and stop it again. Its output goes to a temporary file (a pipe would fill
 * up and stall the node) which is read only to learn the port. */
#ifndef PHX_TEST_ANVIL_H
#define PHX_TEST_ANVIL_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    int port;
    char url[64];
    char log_path[64];
} test_anvil_t;

/* Anvil's well-known development keys (public test keys, funded with 10000 ETH). */
static const char *const test_anvil_keys[] = {
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
};

static inline const char *test_node_modules(void)
{
    static char path[4096];
    const char *nm = getenv("PHX_NODE_MODULES");
    if (nm && *nm) return nm;
    const char *src = getenv("PHX_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/node_modules", src && *src ? src : ".");
    return path;
}

/* 0 on success; -1 (with a message on stderr) when anvil does not come up. */
static inline int test_anvil_start(test_anvil_t *a)
{
    memset(a, 0, sizeof *a);
    /* The platform binary itself when present: the .bin/anvil wrapper is a node
     * script that would sit between us and the process we must stop. */
    char bin[4200];
    snprintf(bin, sizeof bin, "%s/@foundry-rs/anvil-linux-amd64/bin/anvil", test_node_modules());
    if (access(bin, X_OK) != 0) snprintf(bin, sizeof bin, "%s/.bin/anvil", test_node_modules());
    snprintf(a->log_path, sizeof a->log_path, "/tmp/phx-anvil-XXXXXX");
    int fd = mkstemp(a->log_path);
    if (fd < 0) return -1;
    a->pid = fork();
    if (a->pid < 0) return -1;
    if (a->pid == 0) {
        setpgid(0, 0); /* its own group, so stop() reaches any child it starts */
        /* A test that dies without reaching stop() (sanitizer abort, CTest timeout)
         * must not leave the node running: the kernel kills it with its parent. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1) _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(bin, "anvil", "--port", "0", "--accounts", "5", (char *)NULL);
        _exit(127);
    }
    close(fd);
    for (int i = 0; i < 600; i++) { /* up to 60 s on a loaded machine */
        FILE *f = fopen(a->log_path, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f)) {
            const char *p = strstr(line, "Listening on 127.0.0.1:");
            if (p) a->port = atoi(p + strlen("Listening on 127.0.0.1:"));
        }
        if (f) fclose(f);
        if (a->port > 0) {
            snprintf(a->url, sizeof a->url, "http://127.0.0.1:%d", a->port);
            return 0;
        }
        int status;
        if (waitpid(a->pid, &status, WNOHANG) == a->pid) {
            fprintf(stderr, "anvil (%s) exited before listening; see %s\n", bin, a->log_path);
            a->pid = 0;
            return -1;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "anvil did not start listening within 60 s\n");
    return -1;
}

static inline void test_anvil_stop(test_anvil_t *a)
{
    if (a->pid > 0) {
        kill(-a->pid, SIGTERM);
        waitpid(a->pid, NULL, 0);
        a->pid = 0;
    }
    if (a->log_path[0]) unlink(a->log_path);
}

#endif
