/* See anvil.h. */
#include "anvil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *const test_anvil_keys[5] = {
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
};

const char *test_node_modules(void)
{
    static char path[4096];
    const char *nm = getenv("PHX_NODE_MODULES");
    if (nm && *nm) return nm;
    const char *src = getenv("PHX_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/node_modules", src && *src ? src : ".");
    return path;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};
    nanosleep(&ts, NULL);
}

int test_anvil_start(test_anvil_t *a, const char *extra_arg)
{
    memset(a, 0, sizeof *a);
    /* The platform binary itself when present: the .bin/anvil wrapper is a node
     * script that would sit between us and the process we must stop. */
    char bin[4200];
    snprintf(bin, sizeof bin, "%s/@foundry-rs/anvil-linux-amd64/bin/anvil", test_node_modules());
    if (access(bin, X_OK) != 0) snprintf(bin, sizeof bin, "%s/.bin/anvil", test_node_modules());
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "anvil not found at %s (run scripts/setup.sh)\n", bin);
        return -1;
    }
    snprintf(a->log_path, sizeof a->log_path, "/tmp/phx-anvil-XXXXXX");
    int fd = mkstemp(a->log_path);
    if (fd < 0) return -1;
    a->pid = fork();
    if (a->pid < 0) {
        close(fd);
        return -1;
    }
    if (a->pid == 0) {
        setpgid(0, 0); /* its own group, so stop() reaches any child it starts */
        /* A test that dies without reaching stop() (sanitizer abort, CTest timeout)
         * must not leave the node running: the kernel kills it with its parent. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1) _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        if (extra_arg)
            execl(bin, "anvil", "--host", "127.0.0.1", "--port", "0", extra_arg, (char *)NULL);
        else
            execl(bin, "anvil", "--host", "127.0.0.1", "--port", "0", (char *)NULL);
        _exit(127);
    }
    setpgid(a->pid, a->pid);
    close(fd);
    /* Up to 120 s: this waits for a state (the node printed its port), and a
     * loaded machine under sanitizers can be slow to get there. */
    for (int i = 0; i < 1200; i++) {
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
        if (waitpid(a->pid, NULL, WNOHANG) == a->pid) {
            fprintf(stderr, "anvil (%s) exited before listening; see %s\n", bin, a->log_path);
            a->pid = 0;
            return -1;
        }
        pause_ms(100);
    }
    fprintf(stderr, "anvil did not start listening within 120 s\n");
    test_anvil_stop(a);
    return -1;
}

void test_anvil_stop(test_anvil_t *a)
{
    if (a->pid > 0) {
        kill(-a->pid, SIGTERM);
        int i = 0;
        while (waitpid(a->pid, NULL, WNOHANG) != a->pid && i++ < 100)
            pause_ms(100);
        if (i > 100) { /* did not stop within 10 s: no longer ask */
            kill(-a->pid, SIGKILL);
            waitpid(a->pid, NULL, 0);
        }
        a->pid = 0;
    }
    if (a->log_path[0]) {
        unlink(a->log_path);
        a->log_path[0] = '\0';
    }
}
