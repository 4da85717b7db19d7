/* The zygote: a fresh exec of the worker's binary (so it holds none of the
 * worker's memory) that initialises SpiderMonkey once (self-hosted code, the
 * prelude realm, precompiled contracts: ~15 ms) and then only forks. Each child is
 * created with CLONE_PARENT so the worker, not the zygote, is its parent: the
 * worker can wait4() it for its exit status and CPU/RSS usage and kill it.
 * Control messages (SOCK_SEQPACKET): 'S' + channel fd -> pid; 'C' + source -> ok. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

static int recv_with_fd(int sock, uint8_t *buf, size_t cap, int *fd_out)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {buf, cap};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    *fd_out = -1;
    ssize_t n;
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            memcpy(fd_out, CMSG_DATA(c), sizeof(int));
    }
    return (int)n;
}

/* Entry of the exec'd zygote: every binary that links the sandbox becomes a
 * zygote when started with PHX_SANDBOX_ZYGOTE set (by phx_sandbox_pool_new), before
 * its main() runs. "FD:CPU_MS:MEM_BYTES:OUTPUT_BYTES:JIT:TEST_HOOKS" */
static void zygote_main(int ctrl, const phx_sandbox_config_t *cfg) __attribute__((noreturn));

const char sbx_zygote_env[] = "PHX_SANDBOX_ZYGOTE";

__attribute__((constructor)) static void zygote_entry(void)
{
    const char *z = getenv(sbx_zygote_env);
    if (!z) return;
    static phx_sandbox_config_t cfg;
    int fd, jit, hooks;
    unsigned long long cpu, mem, out;
    if (sscanf(z, "%d:%llu:%llu:%llu:%d:%d", &fd, &cpu, &mem, &out, &jit, &hooks) != 6)
        _exit(SBX_EXIT_ZYGOTE_SETUP);
    cfg.limits.cpu_ms = cpu;
    cfg.limits.mem_bytes = mem;
    cfg.limits.output_bytes = out;
    cfg.jit = jit != 0;
    cfg.test_hooks = hooks != 0;
    unsetenv(sbx_zygote_env);
    zygote_main(fd, &cfg);
}

static void zygote_main(int ctrl, const phx_sandbox_config_t *cfg)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NAME, "phx-zygote");
    /* Nothing of the worker's survives here: no stdin/stdout, no inherited fds. */
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        if (devnull > 2) close(devnull);
    }
    if (ctrl != 3) {
        if (dup2(ctrl, 3) < 0) _exit(SBX_EXIT_ZYGOTE_SETUP);
        close(ctrl);
        ctrl = 3;
    }
    syscall(SYS_close_range, 4, ~0U, 0);

    /* jansson seeds its hash function from /dev/urandom on first use; do it here,
     * before seccomp in the children forbids opening files. */
    json_object_seed(0);
    phx_js_config_t jc = {.heap_max_bytes = cfg->limits.mem_bytes,
                          .output_max_bytes = cfg->limits.output_bytes,
                          .jit = cfg->jit};
    phx_js_engine_t *eng = NULL;
    phx_error_t e = {0};
    if (phx_js_engine_new(&jc, &eng, &e)) _exit(SBX_EXIT_ZYGOTE_SETUP);
    /* The global every child will use, built once here: standard classes, natives
     * and the prelude (~1 ms). The zygote never runs a contract in it, so each
     * child starts from its own untouched copy of the same pristine realm. */
    if (phx_js_prepare(eng, cfg->test_hooks, &e)) _exit(SBX_EXIT_ZYGOTE_SETUP);
    struct sock_fprog filter;
    if (sbx_seccomp_build(&filter, &e)) _exit(SBX_EXIT_ZYGOTE_SETUP);

    static uint8_t buf[256 * 1024];
    for (;;) {
        int fd;
        int n = recv_with_fd(ctrl, buf, sizeof buf, &fd);
        if (n <= 0) _exit(SBX_EXIT_DONE); /* the worker closed the pool */
        if (buf[0] == 'C') {              /* 'C' filename NUL source */
            const char *name = (const char *)buf + 1;
            size_t nlen = strnlen(name, (size_t)n - 1);
            uint8_t ok = 0;
            if (nlen < (size_t)n - 1)
                ok = phx_js_engine_precompile(eng, name + nlen + 1, (size_t)n - 2 - nlen, name, &e)
                         ? 0
                         : 1;
            (void)!write(ctrl, &ok, 1);
            continue;
        }
        if (buf[0] != 'S' || fd < 0) {
            if (fd >= 0) close(fd);
            continue;
        }
        phx_js_engine_quiesce(eng); /* no half-done helper work crosses the fork */
        pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, 0);
        if (pid == 0) {
            close(ctrl);
            if (fd != 3) {
                dup2(fd, 3);
                close(fd);
            }
            int fl = fcntl(3, F_GETFD);
            fcntl(3, F_SETFD, fl & ~FD_CLOEXEC);
            sbx_child_main(3, cfg, eng, &filter);
        }
        close(fd);
        int32_t reply = pid;
        (void)!write(ctrl, &reply, sizeof reply);
    }
}
