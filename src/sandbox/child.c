/* The sandbox child. Between fork and the job it drops everything it can
 * (rlimits, no new privileges, a seccomp allowlist applied to all its threads),
 * so a contract that takes over the engine finds a process with no keys, no files
 * and no sockets other than its channel to the worker. In "process" isolation it
 * runs one invocation, then exits; in "warm" isolation it is bound to the first
 * job's contract and serves further invocations of exactly that code, each in a
 * fresh realm, until the worker recycles it (docs/sandbox.md "Isolation"). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static struct {
    phx_js_engine_t *eng;
    int chan;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool armed;
    uint64_t cpu_ms, mem_bytes;
    long base_rss_kb;
    uint64_t output_cap;  /* for the forged-frame test hooks */
    uint64_t cpu_base_ms; /* warm: CPU time when the current invocation began */
} g;

static uint64_t cpu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* The watchdog: CPU time and RSS growth, polled every 2 ms while armed. An abort
 * is re-requested each tick: a single interrupt can land in native code that
 * does not check (research §2, "re-requests every 2 ms"). */
static void *watchdog_main(void *arg)
{
    (void)arg;
    phx_js_status_t reason = PHX_JS_OK;
    for (;;) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
        /* Checked and acted on under the lock: an invocation that ended (warm:
         * the next one has its own budget) is never aborted late. */
        pthread_mutex_lock(&g.mu);
        if (!g.armed) reason = PHX_JS_OK;
        while (!g.armed)
            pthread_cond_wait(&g.cv, &g.mu);
        if (!reason && cpu_now_ms() > g.cpu_ms) reason = PHX_JS_CPU_LIMIT;
        if (!reason &&
            (uint64_t)(maxrss_kb() - g.base_rss_kb) * 1024 > g.mem_bytes + SBX_RSS_SLACK_BYTES)
            reason = PHX_JS_MEMORY_LIMIT;
        if (reason) phx_js_engine_abort(g.eng, reason);
        pthread_mutex_unlock(&g.mu);
    }
    return NULL;
}

static void set_limit(int res, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {soft, hard};
    (void)setrlimit(res, &rl);
}

#ifndef SBX_ASAN
static long vm_size_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0;
    if (f) {
        if (fscanf(f, "%ld", &pages) != 1) pages = 0;
        fclose(f);
    }
    return pages * sysconf(_SC_PAGESIZE);
}
#endif

/* The allowlist: memory management (the GC and the JIT need mmap/mprotect), time,
 * futexes for the helper thread, I/O on the already-open channel, and exit.
 * Anything else fails with EPERM; the classic escape routes kill the process. */
phx_err_t sbx_seccomp_build(struct sock_fprog *prog, phx_error_t *e)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx) return phx_fail(e, PHX_ERR_NOMEM, "seccomp_init");
    static const int allow[] = {
        SCMP_SYS(read),
        SCMP_SYS(write),
        SCMP_SYS(readv),
        SCMP_SYS(writev),
        SCMP_SYS(recvfrom),
        SCMP_SYS(sendto),
        SCMP_SYS(recvmsg),
        SCMP_SYS(sendmsg),
        SCMP_SYS(close),
        SCMP_SYS(poll),
        SCMP_SYS(ppoll),
        SCMP_SYS(lseek),
        SCMP_SYS(mmap),
        SCMP_SYS(munmap),
        SCMP_SYS(mprotect),
        SCMP_SYS(madvise),
        SCMP_SYS(mremap),
        SCMP_SYS(brk),
        SCMP_SYS(futex),
        SCMP_SYS(set_robust_list),
        SCMP_SYS(clock_gettime),
        SCMP_SYS(clock_getres),
        SCMP_SYS(gettimeofday),
        SCMP_SYS(clock_nanosleep),
        SCMP_SYS(nanosleep),
        SCMP_SYS(getrusage),
        SCMP_SYS(getpid),
        SCMP_SYS(gettid),
        SCMP_SYS(getppid),
        SCMP_SYS(sched_yield),
        SCMP_SYS(sched_getaffinity),
        SCMP_SYS(getrandom),
        SCMP_SYS(rt_sigreturn),
        SCMP_SYS(rt_sigprocmask),
        SCMP_SYS(rt_sigaction),
        SCMP_SYS(sigaltstack),
        SCMP_SYS(tgkill),
        SCMP_SYS(exit),
        SCMP_SYS(exit_group),
        SCMP_SYS(fstat),
        SCMP_SYS(newfstatat),
        SCMP_SYS(restart_syscall),
        SCMP_SYS(membarrier),
        SCMP_SYS(rseq),
#ifdef SBX_ASAN
        /* ASan's runtime asks for these on its error path; opening files stays
         * denied (EPERM instead of a kill, so a report can still be printed). */
        SCMP_SYS(readlink),
        SCMP_SYS(ioctl),
#endif
    };
    static const int kill[] = {
        SCMP_SYS(execve),
        SCMP_SYS(execveat),
        SCMP_SYS(socket),
        SCMP_SYS(connect),
        SCMP_SYS(bind),
        SCMP_SYS(listen),
        SCMP_SYS(accept),
        SCMP_SYS(accept4),
        SCMP_SYS(ptrace),
        SCMP_SYS(fork),
        SCMP_SYS(vfork),
        SCMP_SYS(clone),
        SCMP_SYS(clone3),
        SCMP_SYS(kill),
        SCMP_SYS(process_vm_readv),
        SCMP_SYS(process_vm_writev),
        SCMP_SYS(unshare),
        SCMP_SYS(setns),
        SCMP_SYS(mount),
        SCMP_SYS(bpf),
        SCMP_SYS(perf_event_open),
        SCMP_SYS(userfaultfd),
        SCMP_SYS(io_uring_setup),
#ifndef SBX_ASAN
        SCMP_SYS(open),
        SCMP_SYS(openat),
#endif
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof allow / sizeof allow[0] && !rc; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allow[i], 0);
    for (size_t i = 0; i < sizeof kill / sizeof kill[0] && !rc; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, kill[i], 0);
    /* prlimit64 on pid 0 only (glibc's getrlimit): the same uid may otherwise
     * read or lower the rlimits of the worker itself. */
    const struct scmp_arg_cmp self_only = {.arg = 0, .op = SCMP_CMP_EQ, .datum_a = 0, .datum_b = 0};
    if (!rc) rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, &self_only);
    /* Compiled once in the zygote (libseccomp takes ~0.3 ms to build it); each
     * child loads the same BPF program. */
    int fd = rc ? -1 : memfd_create("phx-seccomp", MFD_CLOEXEC);
    if (fd >= 0) rc = seccomp_export_bpf(ctx, fd);
    seccomp_release(ctx);
    if (rc || fd < 0) {
        if (fd >= 0) close(fd);
        return phx_fail(e, PHX_ERR_INTERNAL, "building the seccomp filter failed (%d)", rc);
    }
    off_t size = lseek(fd, 0, SEEK_END);
    prog->filter = size > 0 ? malloc((size_t)size) : NULL;
    if (!prog->filter || pread(fd, prog->filter, (size_t)size, 0) != size) {
        free(prog->filter);
        close(fd);
        return phx_fail(e, PHX_ERR_IO, "reading the seccomp filter back");
    }
    close(fd);
    prog->len = (unsigned short)((size_t)size / sizeof(struct sock_filter));
    return PHX_OK;
}

/* tgkill is allowed for the process's own threads only: with the same uid it
 * could otherwise signal (SIGKILL) the worker or the zygote. The pid differs in
 * every child, so this small filter is written here, per child, and stacked
 * under the shared one (the shared one kills any foreign architecture). */
static int install_tgkill_filter(void)
{
    uint32_t self = (uint32_t)getpid();
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_tgkill, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, self, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
}

static int install_seccomp(const struct sock_fprog *prog)
{
    /* First: once the shared filter is in, seccomp() itself is refused. */
    if (install_tgkill_filter() != 0) return -1;
    /* TSYNC: the helper and watchdog threads already exist and must be covered. */
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, prog);
}

/* A host call from the engine: one CALL frame out, one REPLY frame back. */
static bool g_test_hooks;

/* Test hooks: act like a contract that took over the process and tries the
 * syscalls seccomp is there to stop. Only with test_hooks in the job. */
static phx_err_t test_hook(const char *op, phx_buf_t *reply, phx_error_t *e)
{
    if (!strcmp(op, "test.socket")) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        return phx_fail(e, PHX_ERR_POLICY, "socket() returned %d: %s", fd, strerror(errno));
    }
    if (!strcmp(op, "test.open")) {
        int fd = open("/etc/passwd", O_RDONLY);
        if (fd >= 0) {
            char buf[64] = {0};
            ssize_t n = read(fd, buf, sizeof buf - 1);
            close(fd);
            return phx_buf_printf(reply, "{\"read\":%zd}", n);
        }
        return phx_fail(e, PHX_ERR_POLICY, "open() failed: %s", strerror(errno));
    }
    if (!strcmp(op, "test.signal")) {
        /* Signal the worker (our parent: CLONE_PARENT). SIGURG is ignored by
         * default, so a failure of this check cannot take the test down. */
        pid_t w = getppid();
        long rc = syscall(SYS_tgkill, w, w, SIGURG);
        return phx_fail(e, PHX_ERR_POLICY, "tgkill(worker) returned %ld: %s", rc, strerror(errno));
    }
    if (!strcmp(op, "test.prlimit")) {
        struct rlimit old;
        long rc = syscall(SYS_prlimit64, getppid(), RLIMIT_NOFILE, NULL, &old);
        if (rc == 0)
            return phx_buf_printf(reply, "{\"nofile\":%llu}", (unsigned long long)old.rlim_cur);
        return phx_fail(e, PHX_ERR_POLICY, "prlimit(worker) failed: %s", strerror(errno));
    }
    if (!strcmp(op, "test.fds")) {
        /* Which descriptors this process holds: [fd, "sock"|"chr"|"other"]. */
        phx_err_t err = phx_buf_printf(reply, "[");
        bool first = true;
        for (int fd = 0; fd < 1024 && !err; fd++) {
            struct stat st;
            if (fstat(fd, &st) != 0) continue;
            const char *kind = S_ISSOCK(st.st_mode)                                 ? "sock"
                               : S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3) ? "null"
                                                                                    : "other";
            err = phx_buf_printf(reply, "%s[%d,\"%s\"]", first ? "" : ",", fd, kind);
            first = false;
        }
        return err ? err : phx_buf_printf(reply, "]");
    }
    if (!strcmp(op, "test.env")) {
        /* The child's whole environment, names only: a JSON array of strings. */
        extern char **environ;
        phx_err_t err = phx_buf_printf(reply, "[");
        for (char **v = environ; v && *v && !err; v++) {
            size_t n = strcspn(*v, "=\"\\");
            err = phx_buf_printf(reply, "%s\"%.*s=\"", v == environ ? "" : ",", (int)n, *v);
        }
        return err ? err : phx_buf_printf(reply, "]");
    }
    if (!strncmp(op, "test.forge.", 11)) {
        /* A taken-over child writes its own frames: the worker must judge them.
         * big: a RESULT whose output passes the output limit; notjson: a RESULT
         * whose output is not JSON; type: an unknown frame type; huge: a length
         * header of 4 GiB; badop: a CALL whose op has a byte outside [A-Za-z0-9._]. */
        const char *what = op + 11;
        uint8_t res[12] = {PHX_JS_OK, 0};
        if (!strcmp(what, "big")) {
            size_t n = (size_t)g.output_cap + 1;
            char *body = malloc(n);
            if (!body) _exit(SBX_EXIT_TEST_HOOK);
            memset(body, '1', n);
            (void)sbx_write_frame(g.chan, PHX_SBX_RESULT, res, sizeof res, body, n, 0, NULL);
        } else if (!strcmp(what, "notjson")) {
            (void)sbx_write_frame(g.chan, PHX_SBX_RESULT, res, sizeof res, "{", 1, 0, NULL);
        } else if (!strcmp(what, "type")) {
            (void)sbx_write_frame(g.chan, 0x7f, "x", 1, NULL, 0, 0, NULL);
        } else if (!strcmp(what, "huge")) {
            static const uint8_t hdr[5] = {0xff, 0xff, 0xff, 0xff, PHX_SBX_CALL};
            (void)!write(g.chan, hdr, sizeof hdr);
        } else if (!strcmp(what, "badop")) {
            (void)sbx_write_frame(g.chan, PHX_SBX_CALL, "kv.get/../x", 12, "{}", 2, 0, NULL);
            phx_buf_t frame = PHX_BUF_INIT; /* wait for the worker to end us */
            (void)sbx_read_frame(g.chan, &frame, PHX_SBX_MAX_FRAME, 0, NULL, NULL, NULL);
        }
        _exit(SBX_EXIT_DONE);
    }
    if (!strcmp(op, "test.vanish")) {
        /* Ask the worker something and die before the answer: its reply must
         * meet a closed socket without taking the worker down (SIGPIPE). */
        static const char req[] = "{\"level\":\"log\",\"msg\":\"bye\"}";
        (void)sbx_write_frame(g.chan, PHX_SBX_CALL, "log", 4, req, sizeof req - 1, 0, NULL);
        _exit(SBX_EXIT_DONE);
    }
    return phx_fail(e, PHX_ERR_UNSUPPORTED, "no such test hook");
}

static phx_err_t child_host(void *ud, const char *op, const char *req, size_t req_len,
                            phx_buf_t *reply, bool *abort_run, phx_error_t *e)
{
    (void)ud;
    if (g_test_hooks && !strncmp(op, "test.", 5)) return test_hook(op, reply, e);
    phx_buf_t frame = PHX_BUF_INIT;
    phx_err_t err = sbx_write_frame(g.chan, PHX_SBX_CALL, op, strlen(op) + 1, req, req_len, 0, e);
    if (!err) err = sbx_read_frame(g.chan, &frame, PHX_SBX_MAX_FRAME, 0, NULL, NULL, e);
    if (err) {
        *abort_run = true;
        goto out;
    }
    if (frame.len < 2 || frame.ptr[0] != PHX_SBX_REPLY) {
        *abort_run = true;
        err = phx_fail(e, PHX_ERR_INVALID, "bad reply");
        goto out;
    }
    if (frame.ptr[1] == 0) {
        err = phx_buf_append(reply, frame.ptr + 2, frame.len - 2);
    } else if (frame.ptr[1] == 1) {
        err =
            phx_fail(e, PHX_ERR_REMOTE, "%.*s", (int)(frame.len - 2), (const char *)frame.ptr + 2);
    } else {
        *abort_run = true;
        err = phx_fail(e, PHX_ERR_POLICY, "stopped by the worker");
    }
out:
    phx_buf_free(&frame);
    return err;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void send_result(const phx_js_result_t *res)
{
    size_t mlen = strnlen(res->message, sizeof res->message);
    uint8_t hdr[12 + sizeof res->message];
    uint64_t cpu = cpu_now_ms() - g.cpu_base_ms; /* this invocation's (process: the whole life) */
    hdr[0] = (uint8_t)res->status;
    hdr[1] = res->output_is_bytes ? 1 : 0;
    put_u32(hdr + 2, cpu > UINT32_MAX ? UINT32_MAX : (uint32_t)cpu);
    put_u32(hdr + 6, (uint32_t)maxrss_kb());
    hdr[10] = (uint8_t)mlen;
    hdr[11] = (uint8_t)(mlen >> 8);
    memcpy(hdr + 12, res->message, mlen);
    (void)sbx_write_frame(g.chan, PHX_SBX_RESULT, hdr, 12 + mlen, res->output.ptr, res->output.len,
                          0, NULL);
}

void sbx_child_main(int chan, const phx_sandbox_config_t *cfg, phx_js_engine_t *eng,
                    const struct sock_fprog *filter)
{
    g.eng = eng;
    g.chan = chan;
    g.output_cap = cfg->limits.output_bytes;
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0);

    /* CPU: the watchdog gives the clean error at cpu_ms; the rlimit is the hard stop. */
    /* The hard CPU limit here is the lifetime ceiling of a warm process
     * (SBX_WARM_CPU_LIFETIMES invocations at their full budget); each job sets
     * the soft limit to its own budget + 1 s and, in process isolation, lowers
     * the hard limit to match (only lowering is possible without privileges). */
    rlim_t cpu_s = (rlim_t)((cfg->limits.cpu_ms + 999) / 1000) + 1;
    rlim_t cpu_hard = cpu_s * SBX_WARM_CPU_LIFETIMES + 1;
    set_limit(RLIMIT_CPU, cpu_s, cpu_hard);
    set_limit(RLIMIT_FSIZE, 0, 0);
    set_limit(RLIMIT_CORE, 0, 0);
    set_limit(RLIMIT_NOFILE, 8, 8);
#ifndef SBX_ASAN
    /* stderr is the worker's (a terminal, its log file): the child gets
     * /dev/null (the zygote's fd 0) so a hostile child cannot write there.
     * Under ASan it stays, for the sanitizer's reports. */
    dup2(0, 2);
#endif

    phx_error_t e = {0};
    pthread_t wd;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (phx_js_engine_start_threads(eng, &e) || pthread_create(&wd, &attr, watchdog_main, NULL))
        _exit(SBX_EXIT_THREADS);
    pthread_attr_destroy(&attr);
#ifndef SBX_ASAN
    /* Address space: what the process has now plus the budget and room for the GC
     * and JIT. Skipped under ASan, whose shadow memory reserves terabytes of
     * virtual space; there the GC budget and the RSS watchdog are the limits. */
    {
        rlim_t as = (rlim_t)vm_size_bytes() + (rlim_t)cfg->limits.mem_bytes * 2 + (512u << 20);
        set_limit(RLIMIT_AS, as, as);
    }
#endif
    if (install_seccomp(filter) != 0) _exit(SBX_EXIT_SECCOMP);
    /* The fresh global for the coming invocation, built while nobody waits. */
    if (phx_js_prepare(eng, cfg->test_hooks, &e)) _exit(SBX_EXIT_PREPARE);

    bool warm = false;
    char *bound = NULL; /* warm: the source and filename this process serves */
    size_t bound_len = 0;
    for (uint64_t uses = 0;; uses++) {
        phx_buf_t frame = PHX_BUF_INIT;
        if (sbx_read_frame(chan, &frame, PHX_SBX_MAX_FRAME, 0, NULL, NULL, &e) ||
            frame.ptr[0] != PHX_SBX_JOB)
            _exit(SBX_EXIT_DONE); /* the worker went away, shut the pool down or recycled us */
        /* The job (pool.c build_job): read in place, strings NUL-terminated there. */
        phx_reader_t r = phx_reader(frame.ptr + 1, frame.len - 1);
        uint64_t cpu_ms = 0, mem = 0, flags = 0;
        const char *str[4];
        uint32_t slen[4];
        if (phx_reader_u64le(&r, &cpu_ms, &e) || phx_reader_u64le(&r, &mem, &e) ||
            phx_reader_u64le(&r, &flags, &e))
            _exit(SBX_EXIT_BAD_JOB);
        for (int i = 0; i < 4; i++) {
            const uint8_t *v;
            if (phx_reader_u32le(&r, &slen[i], &e) ||
                phx_reader_view(&r, &v, (size_t)slen[i] + 1, &e) || v[slen[i]] != 0)
                _exit(SBX_EXIT_BAD_JOB);
            str[i] = (const char *)v;
        }
        if (uses == 0) {
            warm = (flags & SBX_JOB_WARM) != 0;
            if (warm) { /* bound for life: source NUL filename */
                size_t flen = strlen(str[1]);
                bound_len = (size_t)slen[0] + 1 + flen;
                if (!(bound = malloc(bound_len))) _exit(SBX_EXIT_BAD_JOB);
                memcpy(bound, str[0], slen[0]);
                bound[slen[0]] = 0;
                memcpy(bound + slen[0] + 1, str[1], flen);
            }
        } else if (!(flags & SBX_JOB_WARM) || (size_t)slen[0] + 1 + strlen(str[1]) != bound_len ||
                   memcmp(bound, str[0], slen[0]) ||
                   memcmp(bound + slen[0] + 1, str[1], bound_len - slen[0] - 1)) {
            /* The worker never sends another contract's job to a bound process
             * (pool.c keys warm processes by contract id and code hash); if it
             * did, this process would refuse rather than serve it. */
            _exit(SBX_EXIT_BAD_JOB);
        }
        /* CPU: the watchdog gives the clean error at cpu_ms; the rlimit is the hard
         * stop, cpu_ms + 1 s from now. A process-isolation child lowers the hard
         * limit to that too; a warm one keeps the lifetime ceiling set at start
         * (the pool recycles it before that is reached). */
        {
            rlim_t now_s = (rlim_t)(cpu_now_ms() / 1000);
            rlim_t soft = now_s + (rlim_t)((cfg->limits.cpu_ms + 999) / 1000) + 1;
            if (soft > cpu_hard) soft = cpu_hard;
            set_limit(RLIMIT_CPU, soft, warm ? cpu_hard : soft + 1);
        }
        phx_js_call_t call = {
            .source = str[0],
            .source_len = slen[0],
            .filename = str[1],
            .input_json = str[2],
            .ctx_json = str[3],
            .host = child_host,
            .test_hooks = cfg->test_hooks,
        };
        g_test_hooks = cfg->test_hooks;

        pthread_mutex_lock(&g.mu);
        if (warm) g.cpu_base_ms = cpu_now_ms();
        g.cpu_ms = cpu_now_ms() + (cpu_ms > 0 ? cpu_ms : 30000);
        g.mem_bytes = mem > 0 ? mem : (128u << 20);
        g.base_rss_kb = maxrss_kb();
        g.armed = true;
        pthread_cond_signal(&g.cv);
        pthread_mutex_unlock(&g.mu);

        phx_js_result_t res;
        if (phx_js_run(eng, &call, &res, &e)) {
            memset(&res, 0, sizeof res);
            res.status = PHX_JS_EXCEPTION;
            snprintf(res.message, sizeof res.message, "engine: %s", e.message);
        }
        pthread_mutex_lock(&g.mu);
        g.armed = false;
        pthread_mutex_unlock(&g.mu);
        send_result(&res);
        /* Process isolation: no teardown, the process is the unit of cleanup.
         * Warm: only after an invocation that ended by itself (the worker applies
         * the same rule, sbx_status_reusable) does the next one get a new realm. */
        if (!warm || !sbx_status_reusable(res.status)) _exit(SBX_EXIT_DONE);
        phx_js_result_free(&res);
        phx_buf_free(&frame);
        if (phx_js_prepare_next(eng, cfg->test_hooks, &e)) _exit(SBX_EXIT_PREPARE);
        /* Tell the worker: it prefers a process whose realm is ready (pool.c). */
        if (sbx_write_frame(chan, PHX_SBX_READY, NULL, 0, NULL, 0, 0, &e)) _exit(SBX_EXIT_DONE);
    }
    /* No teardown: the process is the unit of cleanup. */
}
