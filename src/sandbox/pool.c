/* The worker side of the sandbox: starts the zygote, keeps children forked ahead
 * of demand, keeps warm processes bound to one contract each (warm isolation),
 * and runs one invocation: send the job, answer host calls under policy and
 * budgets, enforce the wall-clock deadline and the RSS hard cap, then either
 * keep the warm process for the contract's next call or reap the child with
 * wait4(), and turn however it ended into one result. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "phx/crypto.h"
#include "phx/json.h"
#include "phx/net.h"

#define MAX_PREFORK 8
#define MAX_WARM 64

typedef struct {
    pid_t pid;
    int fd;
} child_t;

/* An idle warm process, bound to the contract whose key it holds. */
typedef struct {
    child_t c;
    uint8_t key[32];  /* sha256(contract id NUL code hash NUL filename) */
    uint32_t uses;    /* invocations served */
    uint64_t last_ms; /* phx_monotonic_ms() when it last finished */
    long base_rss;    /* RSS after its first invocation, bytes */
    long last_rss;    /* RSS after its latest invocation */
    bool ready;       /* its READY frame (next realm built) has been read */
} warm_t;

struct phx_sandbox_pool {
    /* Several invocations run at once (the worker's scheduler decides how
     * many): lock guards the zygote channel and the idle/pending/zombie lists
     * and the compile rings. The exchange with a child, which is most of an
     * invocation, runs outside it; cfg is read-only after pool_new. */
    pthread_mutex_t lock;
    phx_sandbox_config_t cfg;
    char *kv_dir;
    char **allow;
    char **resolve;
    pid_t zygote;
    int ctrl;
    child_t idle[MAX_PREFORK];
    int nidle;
    /* Spawn requests sent to the zygote whose pid has not been read yet; the
     * zygote answers in order. Reading lazily keeps its fork off our path. */
    int pending_fd[MAX_PREFORK];
    int npending;
    /* Children that finished and were killed but not yet reaped. */
    pid_t zombies[64];
    int nzombies;
    /* Code hashes seen once / compiled into the zygote (a small ring each). */
    uint8_t seen[16][32], compiled[16][32];
    unsigned nseen, ncompiled;
    /* Idle warm processes, oldest first; a taken one is off the list until it
     * comes back, so no two invocations ever share one. */
    warm_t warm[MAX_WARM];
    int nwarm;
    /* Recycles idle warm processes and reaps finished children in the background. */
    pthread_t reaper;
    pthread_cond_t reaper_cv;
    bool reaper_running, stopping;
};

void phx_sandbox_limits_default(phx_sandbox_limits_t *l)
{
    l->cpu_ms = 30000;
    l->wall_ms = 60000;
    l->mem_bytes = 128u << 20;
    l->output_bytes = 1u << 20;
    l->log_bytes = 64u << 10;
    l->max_requests = 16;
    l->response_bytes = 2u << 20;
    l->request_timeout_ms = 10000;
    l->kv_write_bytes = 16u << 20;
    l->kv_total_bytes = 64u << 20;
    l->ai_tokens = 1024;
}

static void fill_limits(phx_sandbox_limits_t *l)
{
    phx_sandbox_limits_t d;
    phx_sandbox_limits_default(&d);
    if (!l->cpu_ms) l->cpu_ms = d.cpu_ms;
    if (!l->wall_ms) l->wall_ms = d.wall_ms;
    if (!l->mem_bytes) l->mem_bytes = d.mem_bytes;
    if (!l->output_bytes) l->output_bytes = d.output_bytes;
    if (!l->log_bytes) l->log_bytes = d.log_bytes;
    if (!l->max_requests) l->max_requests = d.max_requests;
    if (!l->response_bytes) l->response_bytes = d.response_bytes;
    if (!l->request_timeout_ms) l->request_timeout_ms = d.request_timeout_ms;
    if (!l->kv_write_bytes) l->kv_write_bytes = d.kv_write_bytes;
    if (!l->kv_total_bytes) l->kv_total_bytes = d.kv_total_bytes;
    if (!l->ai_tokens) l->ai_tokens = d.ai_tokens;
}

static phx_err_t read_exact_timeout(int fd, void *buf, size_t n, int timeout_ms, phx_error_t *e)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    int r;
    do {
        r = poll(&pfd, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r <= 0) return phx_fail(e, PHX_ERR_TIMEOUT, "zygote did not answer");
    ssize_t got;
    do {
        got = read(fd, buf, n);
    } while (got < 0 && errno == EINTR);
    if (got != (ssize_t)n) return phx_fail(e, PHX_ERR_IO, "zygote closed the control channel");
    return PHX_OK;
}

/* Ask the zygote for a child whose channel is the other end of a new socketpair. */
static phx_err_t spawn_request(phx_sandbox_pool_t *p, int *fd_out, phx_error_t *e)
{
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0)
        return phx_fail(e, PHX_ERR_IO, "socketpair: %s", strerror(errno));
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    uint8_t tag = 'S';
    struct iovec iov = {&tag, 1};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &sp[1], sizeof(int));
    ssize_t n;
    do {
        n = sendmsg(p->ctrl, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    close(sp[1]);
    if (n != 1) {
        close(sp[0]);
        return phx_fail(e, PHX_ERR_IO, "zygote is gone: %s", strerror(errno));
    }
    fcntl(sp[0], F_SETFL, fcntl(sp[0], F_GETFL) | O_NONBLOCK);
    *fd_out = sp[0];
    return PHX_OK;
}

/* The pool's counts stay inside their arrays, and prefork within them; every
 * path that moves a child between idle, pending and zombie keeps this. */
static void pool_check(const phx_sandbox_pool_t *p)
{
    PHX_ASSERT(p->nidle >= 0 && p->nidle <= MAX_PREFORK);
    PHX_ASSERT(p->npending >= 0 && p->npending <= MAX_PREFORK);
    PHX_ASSERT(p->nzombies >= 0 && (size_t)p->nzombies <= sizeof p->zombies / sizeof p->zombies[0]);
    PHX_ASSERT(p->cfg.prefork >= 0 && p->cfg.prefork <= MAX_PREFORK);
    PHX_ASSERT(p->nwarm >= 0 && p->nwarm <= p->cfg.warm_max && p->cfg.warm_max <= MAX_WARM);
}

/* Read the pid for the oldest pending request. */
static phx_err_t spawn_collect(phx_sandbox_pool_t *p, child_t *c, phx_error_t *e)
{
    PHX_ASSERT(p->npending > 0); /* the zygote answers only what was asked */
    int fd = p->pending_fd[0];
    memmove(p->pending_fd, p->pending_fd + 1, sizeof(int) * (size_t)--p->npending);
    int32_t pid = -1;
    phx_err_t err = read_exact_timeout(p->ctrl, &pid, sizeof pid, 10000, e);
    if (!err && pid <= 0) err = phx_fail(e, PHX_ERR_INTERNAL, "zygote could not fork");
    if (err) {
        close(fd);
        return err;
    }
    c->pid = pid;
    c->fd = fd;
    return PHX_OK;
}

static phx_err_t spawn(phx_sandbox_pool_t *p, child_t *c, phx_error_t *e)
{
    if (p->npending < MAX_PREFORK) {
        phx_err_t err = spawn_request(p, &p->pending_fd[p->npending], e);
        if (err) return err;
        p->npending++;
    }
    return spawn_collect(p, c, e);
}

/* A ready child: an idle one, else the oldest pending, else a new one. */
static phx_err_t take_child(phx_sandbox_pool_t *p, child_t *c, phx_error_t *e)
{
    pool_check(p);
    if (p->nidle > 0) {
        *c = p->idle[0];
        memmove(p->idle, p->idle + 1, sizeof(child_t) * (size_t)--p->nidle);
        return PHX_OK;
    }
    if (p->npending > 0) return spawn_collect(p, c, e);
    return spawn(p, c, e);
}

static void refill(phx_sandbox_pool_t *p)
{
    pool_check(p);
    while (p->nidle + p->npending < p->cfg.prefork) {
        PHX_ASSERT(p->npending < MAX_PREFORK); /* prefork <= MAX_PREFORK bounds the sum */
        phx_error_t e;
        if (spawn_request(p, &p->pending_fd[p->npending], &e)) break;
        p->npending++;
    }
}

/* Collect every pending pid (before a control exchange that must not interleave). */
static void drain_pending(phx_sandbox_pool_t *p)
{
    while (p->npending > 0 && p->nidle < MAX_PREFORK) {
        phx_error_t e;
        if (spawn_collect(p, &p->idle[p->nidle], &e)) continue;
        p->nidle++;
    }
}

static void reap_zombies(phx_sandbox_pool_t *p, bool block)
{
    pool_check(p);
    int kept = 0;
    for (int i = 0; i < p->nzombies; i++) {
        int st;
        pid_t r;
        do {
            r = waitpid(p->zombies[i], &st, block ? 0 : WNOHANG);
        } while (r < 0 && errno == EINTR);
        if (r == 0) p->zombies[kept++] = p->zombies[i];
    }
    p->nzombies = kept;
}

/* Done with a child (locked): killed now, reaped later by the reaper thread
 * or the next invocation (blocking only when the zombie list is full). */
static void retire_locked(phx_sandbox_pool_t *p, const child_t *c)
{
    const int cap = (int)(sizeof p->zombies / sizeof p->zombies[0]);
    close(c->fd);
    kill(c->pid, SIGKILL);
    if (p->nzombies == cap) reap_zombies(p, false);
    if (p->nzombies < cap) {
        p->zombies[p->nzombies++] = c->pid;
    } else {
        int st;
        while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR) {
        }
    }
}

/* Whether a warm process has built its next realm: its READY frame, read here
 * without blocking (the channel is non-blocking). Anything else on the channel
 * of an idle process is a breach: false, and *broken set. */
static bool warm_ready(warm_t *w, bool *broken)
{
    *broken = false;
    if (w->ready) return true;
    static const uint8_t want[5] = {1, 0, 0, 0, PHX_SBX_READY};
    uint8_t got[5];
    ssize_t n;
    do {
        n = recv(w->c.fd, got, sizeof got, MSG_PEEK | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    if (n > 0 && n < (ssize_t)sizeof got && !memcmp(got, want, (size_t)n))
        return false; /* partial */
    if (n != (ssize_t)sizeof got || memcmp(got, want, sizeof want) ||
        recv(w->c.fd, got, sizeof got, MSG_DONTWAIT) != (ssize_t)sizeof got) {
        *broken = true; /* closed, or not the frame it may send */
        return false;
    }
    w->ready = true;
    return true;
}

/* Recycle warm processes idle for warm_idle_ms or more (locked). */
static void warm_sweep_locked(phx_sandbox_pool_t *p, uint64_t now)
{
    int kept = 0;
    for (int i = 0; i < p->nwarm; i++) {
        if (now - p->warm[i].last_ms >= p->cfg.warm_idle_ms)
            retire_locked(p, &p->warm[i].c);
        else
            p->warm[kept++] = p->warm[i];
    }
    p->nwarm = kept;
}

/* The background half of recycling: idle warm processes go, finished children
 * are reaped, even when no invocation comes to do it. */
static void *reaper_main(void *arg)
{
    phx_sandbox_pool_t *p = arg;
    uint64_t period = p->cfg.warm_idle_ms / 4;
    if (period < 20) period = 20;
    if (period > 1000) period = 1000;
    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + period * 1000000u;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&p->reaper_cv, &p->lock, &ts);
        if (p->stopping) break;
        warm_sweep_locked(p, phx_monotonic_ms());
        reap_zombies(p, false);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Start the zygote: a fresh exec of this same binary, not a fork of the caller:
 * a fork would hand every child a copy of the worker's memory (keys, secrets of
 * other contracts). Only the sanitizer settings pass through the environment. */
static phx_err_t zygote_start(phx_sandbox_pool_t *p, phx_error_t *e)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return phx_fail(e, PHX_ERR_IO, "socketpair: %s", strerror(errno));
    char zenv[160];
    snprintf(zenv, sizeof zenv, "%s=3:%llu:%llu:%llu:%d:%d", sbx_zygote_env,
             (unsigned long long)p->cfg.limits.cpu_ms, (unsigned long long)p->cfg.limits.mem_bytes,
             (unsigned long long)p->cfg.limits.output_bytes, p->cfg.jit ? 1 : 0,
             p->cfg.test_hooks ? 1 : 0);
    char *envp[8];
    int ne = 0;
    envp[ne++] = zenv;
    static const char *pass[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "PHX_LOG"};
    char *passbuf[4] = {0};
    for (int i = 0; i < 4; i++) {
        const char *v = getenv(pass[i]);
        if (v && (passbuf[i] = malloc(strlen(pass[i]) + strlen(v) + 2))) {
            sprintf(passbuf[i], "%s=%s", pass[i], v);
            envp[ne++] = passbuf[i];
        }
    }
    envp[ne] = NULL;
    char *zargv[] = {"phx-sandbox-zygote", NULL};
    fflush(NULL);
    pid_t z = fork();
    if (z == 0) {
        /* Only async-signal-safe calls between fork and exec. */
        if (sv[1] != 3) {
            dup2(sv[1], 3);
        } else {
            int fl = fcntl(3, F_GETFD);
            fcntl(3, F_SETFD, fl & ~FD_CLOEXEC);
        }
        execve("/proc/self/exe", zargv, envp);
        _exit(SBX_EXIT_EXEC);
    }
    for (int i = 0; i < 4; i++)
        free(passbuf[i]);
    if (z < 0) {
        close(sv[0]);
        close(sv[1]);
        return phx_fail(e, PHX_ERR_IO, "fork: %s", strerror(errno));
    }
    close(sv[1]);
    p->zygote = z;
    p->ctrl = sv[0];
    /* The first spawn also proves the zygote came up (engine init ~15 ms). */
    if (p->nidle < MAX_PREFORK) {
        phx_err_t err = spawn(p, &p->idle[p->nidle], e);
        if (err) return phx_error_wrap(e, PHX_ERR_INTERNAL, "starting the sandbox zygote");
        p->nidle++;
    }
    return PHX_OK;
}

/* A zygote that died (OOM killer, a bug) is replaced; the children it already
 * forked are the pool's own and keep serving. Requests it never answered are
 * dropped, and so is its compile cache. */
static phx_err_t zygote_restart(phx_sandbox_pool_t *p, phx_error_t *e)
{
    for (int i = 0; i < p->npending; i++)
        close(p->pending_fd[i]);
    p->npending = 0;
    if (p->ctrl >= 0) close(p->ctrl);
    p->ctrl = -1;
    if (p->zygote > 0) {
        int st;
        kill(p->zygote, SIGKILL);
        while (waitpid(p->zygote, &st, 0) < 0 && errno == EINTR) {
        }
    }
    p->zygote = 0;
    memset(p->compiled, 0, sizeof p->compiled);
    p->ncompiled = 0;
    return zygote_start(p, e);
}

phx_err_t phx_sandbox_pool_new(const phx_sandbox_config_t *cfg, phx_sandbox_pool_t **out,
                               phx_error_t *e)
{
    for (int i = 0; i < cfg->nallow_hosts; i++) {
        char host[256];
        uint16_t port;
        phx_err_t err =
            phx_egress_allowance_parse(cfg->allow_hosts[i], host, sizeof host, &port, e);
        if (err) return err;
    }
    /* Before the zygote forks, so no child ever runs curl's init. */
    phx_err_t ierr = phx_net_curl_init(e);
    if (ierr) return ierr;
    phx_crypto_init();
    phx_sandbox_pool_t *p = calloc(1, sizeof *p);
    if (!p) return phx_fail(e, PHX_ERR_NOMEM, "pool");
    pthread_mutex_init(&p->lock, NULL);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&p->reaper_cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    p->cfg = *cfg;
    fill_limits(&p->cfg.limits);
    if (p->cfg.isolation != PHX_SANDBOX_ISOLATION_PROCESS)
        p->cfg.isolation = PHX_SANDBOX_ISOLATION_WARM;
    if (p->cfg.warm_max <= 0) p->cfg.warm_max = 16;
    if (p->cfg.warm_max > MAX_WARM) p->cfg.warm_max = MAX_WARM;
    if (p->cfg.warm_uses == 0) p->cfg.warm_uses = 256;
    if (p->cfg.warm_idle_ms == 0) p->cfg.warm_idle_ms = 30000;
    if (p->cfg.prefork == 0) p->cfg.prefork = 2;
    if (p->cfg.prefork < 0) p->cfg.prefork = 0; /* one-shot use: fork on demand only */
    if (p->cfg.prefork > MAX_PREFORK) p->cfg.prefork = MAX_PREFORK;
    p->kv_dir = strdup(cfg->kv_dir ? cfg->kv_dir : ".phx-kv");
    p->allow = calloc((size_t)cfg->nallow_hosts + 1, sizeof *p->allow);
    if (!p->kv_dir || !p->allow) {
        phx_sandbox_pool_free(p);
        return phx_fail(e, PHX_ERR_NOMEM, "pool");
    }
    for (int i = 0; i < cfg->nallow_hosts; i++)
        p->allow[i] = strdup(cfg->allow_hosts[i]);
    p->resolve = calloc((size_t)cfg->nresolve + 1, sizeof *p->resolve);
    if (!p->resolve) {
        phx_sandbox_pool_free(p);
        return phx_fail(e, PHX_ERR_NOMEM, "pool");
    }
    for (int i = 0; i < cfg->nresolve; i++)
        p->resolve[i] = strdup(cfg->resolve[i]);
    p->cfg.resolve = (const char **)p->resolve;
    p->cfg.kv_dir = p->kv_dir;
    p->cfg.allow_hosts = (const char **)p->allow;
    p->ctrl = -1;

    phx_err_t err = zygote_start(p, e);
    if (err) {
        phx_sandbox_pool_free(p);
        return err;
    }
    refill(p);
    /* After the zygote's fork+exec: the worker's process may have threads from here. */
    if (pthread_create(&p->reaper, NULL, reaper_main, p) != 0) {
        phx_sandbox_pool_free(p);
        return phx_fail(e, PHX_ERR_INTERNAL, "sandbox reaper thread");
    }
    p->reaper_running = true;
    /* phx.evm.send's journal: what a crash left signed but unsent goes out now. */
    phx_error_t re = {0};
    if (sbx_evm_recover(&p->cfg, &re)) PHX_WARN("sandbox: evm journal recovery: %s", re.message);
    *out = p;
    return PHX_OK;
}

static void reap(pid_t pid, int *status, struct rusage *ru)
{
    kill(pid, SIGKILL);
    while (wait4(pid, status, 0, ru) < 0 && errno == EINTR) {
    }
}

void phx_sandbox_pool_free(phx_sandbox_pool_t *p)
{
    if (!p) return;
    if (p->reaper_running) {
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        pthread_cond_signal(&p->reaper_cv);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->reaper, NULL);
    }
    for (int i = 0; i < p->nwarm; i++) {
        int st;
        struct rusage ru;
        close(p->warm[i].c.fd);
        reap(p->warm[i].c.pid, &st, &ru);
    }
    p->nwarm = 0;
    drain_pending(p);
    reap_zombies(p, true);
    for (int i = 0; i < p->nidle; i++) {
        int st;
        struct rusage ru;
        close(p->idle[i].fd);
        reap(p->idle[i].pid, &st, &ru);
    }
    if (p->ctrl >= 0) close(p->ctrl);
    if (p->zygote > 0) {
        int st;
        kill(p->zygote, SIGKILL);
        while (waitpid(p->zygote, &st, 0) < 0 && errno == EINTR) {
        }
    }
    if (p->allow)
        for (int i = 0; p->allow[i]; i++)
            free(p->allow[i]);
    free(p->allow);
    if (p->resolve)
        for (int i = 0; p->resolve[i]; i++)
            free(p->resolve[i]);
    free(p->resolve);
    free(p->kv_dir);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->reaper_cv);
    free(p);
}

static phx_err_t precompile_locked(phx_sandbox_pool_t *p, const char *source, size_t len,
                                   const char *filename, phx_error_t *e)
{
    if (!filename) filename = "contract.js";
    size_t flen = strlen(filename);
    if (len + flen > 200000) return PHX_OK; /* beyond one control message; compiled per child */
    drain_pending(p);
    uint8_t *msg = malloc(len + flen + 2);
    if (!msg) return phx_fail(e, PHX_ERR_NOMEM, "precompile");
    msg[0] = 'C';
    memcpy(msg + 1, filename, flen + 1);
    memcpy(msg + 2 + flen, source, len);
    ssize_t n = send(p->ctrl, msg, len + flen + 2, MSG_NOSIGNAL);
    free(msg);
    if (n != (ssize_t)(len + flen + 2))
        return phx_fail(e, PHX_ERR_IO, "zygote: %s", strerror(errno));
    uint8_t ok = 0;
    phx_err_t err = read_exact_timeout(p->ctrl, &ok, 1, 10000, e);
    /* (the caller drained pending spawns first: replies come in request order) */
    if (err) return err;
    /* Children forked before this do not have it; replace them. */
    for (int i = 0; i < p->nidle; i++) {
        int st;
        struct rusage ru;
        close(p->idle[i].fd);
        reap(p->idle[i].pid, &st, &ru);
    }
    p->nidle = 0;
    refill(p);
    return ok ? PHX_OK : phx_fail(e, PHX_ERR_INVALID, "contract does not compile");
}

phx_err_t phx_sandbox_pool_precompile(phx_sandbox_pool_t *p, const char *source, size_t len,
                                      const char *filename, phx_error_t *e)
{
    pthread_mutex_lock(&p->lock);
    phx_err_t err = precompile_locked(p, source, len, filename, e);
    pthread_mutex_unlock(&p->lock);
    return err;
}

int phx_sandbox_pool_zygote_pid(const phx_sandbox_pool_t *p)
{
    return p ? (int)p->zygote : -1;
}

void phx_sandbox_result_free(phx_sandbox_result_t *res)
{
    if (!res) return;
    phx_buf_free(&res->output);
    for (size_t i = 0; i < res->nlogs; i++)
        free(res->logs[i]);
    free(res->logs);
    res->logs = NULL;
    res->nlogs = 0;
}

#define FAILURE_NAME_(failure, name) [failure] = name,
static const char *const failure_names[] = {PHX_SANDBOX_FAILURE_LIST(FAILURE_NAME_)};
#undef FAILURE_NAME_
_Static_assert(sizeof failure_names / sizeof failure_names[0] == PHX_SBX_FAIL__COUNT,
               "a sandbox failure without a name");

const char *phx_sandbox_failure_name(phx_sandbox_failure_t failure)
{
    if ((unsigned)failure >= PHX_SBX_FAIL__COUNT) return "unknown";
    return failure_names[failure];
}

const char *phx_sandbox_isolation_name(phx_sandbox_isolation_t iso)
{
    switch (iso) {
    case PHX_SANDBOX_ISOLATION_DEFAULT:
        return "default";
    case PHX_SANDBOX_ISOLATION_WARM:
        return "warm";
    case PHX_SANDBOX_ISOLATION_PROCESS:
        return "process";
    }
    return "unknown";
}

phx_err_t phx_sandbox_isolation_parse(const char *s, phx_sandbox_isolation_t *out, phx_error_t *e)
{
    if (s && !strcmp(s, "warm")) {
        *out = PHX_SANDBOX_ISOLATION_WARM;
        return PHX_OK;
    }
    if (s && !strcmp(s, "process")) {
        *out = PHX_SANDBOX_ISOLATION_PROCESS;
        return PHX_OK;
    }
    return phx_fail(e, PHX_ERR_INVALID, "isolation must be \"warm\" or \"process\", not \"%s\"",
                    s ? s : "");
}

phx_sandbox_isolation_t phx_sandbox_source_isolation(const char *source, size_t len)
{
    /* A directive, as JavaScript writes one ('use strict' is the other); looked
     * for anywhere in the first 4 KiB, so a stray match can only make a
     * contract's isolation stricter, never looser. */
    static const char word[] = "use process isolation";
    const size_t wl = sizeof word - 1;
    size_t n = len < 4096 ? len : 4096;
    for (size_t i = 1; i + wl + 1 <= n; i++) {
        char q = source[i - 1];
        if ((q == '"' || q == '\'') && source[i + wl] == q && !memcmp(source + i, word, wl))
            return PHX_SANDBOX_ISOLATION_PROCESS;
    }
    return PHX_SANDBOX_ISOLATION_DEFAULT;
}

const char *sbx_exit_name(int status)
{
#define EXIT_CASE_(exit, status_, name)                                                            \
    case exit:                                                                                     \
        return name;
    switch (status) {
        SBX_EXIT_LIST(EXIT_CASE_)
    }
#undef EXIT_CASE_
    return "unknown";
}

/* The engine's statuses, as the failures users see. */
static phx_sandbox_failure_t failure_of_js(phx_js_status_t status)
{
    switch (status) {
    case PHX_JS_OK:
        return PHX_SBX_FAIL_NONE;
    case PHX_JS_EXCEPTION:
        return PHX_SBX_FAIL_EXCEPTION;
    case PHX_JS_COMPILE:
        return PHX_SBX_FAIL_COMPILE;
    case PHX_JS_NO_ENTRY:
        return PHX_SBX_FAIL_NO_ENTRY;
    case PHX_JS_PENDING:
        return PHX_SBX_FAIL_PENDING;
    case PHX_JS_CPU_LIMIT:
        return PHX_SBX_FAIL_CPU_LIMIT;
    case PHX_JS_MEMORY_LIMIT:
        return PHX_SBX_FAIL_MEMORY_LIMIT;
    case PHX_JS_OUTPUT_LIMIT:
        return PHX_SBX_FAIL_OUTPUT_LIMIT;
    case PHX_JS_WALL_LIMIT:
        return PHX_SBX_FAIL_WALL_LIMIT;
    case PHX_JS_HOST_ABORT:
        return PHX_SBX_FAIL_HOST_ABORT;
    }
    return PHX_SBX_FAIL_PROTOCOL; /* a status the child may not send */
}

static void set_failure(phx_sandbox_result_t *res, phx_sandbox_failure_t failure, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));
static void set_failure(phx_sandbox_result_t *res, phx_sandbox_failure_t failure, const char *fmt,
                        ...)
{
    res->ok = false;
    res->failure = failure;
    snprintf(res->code, sizeof res->code, "%s", phx_sandbox_failure_name(failure));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
}

typedef struct {
    pid_t pid;
    uint64_t rss_cap_bytes;
    bool over_memory;
} watch_t;

/* The hard memory stop, from outside: a child whose RSS passes the cap is killed
 * even if its own watchdog could not act (a long native call, a hostile child). */
static phx_err_t watch_tick(void *ud, phx_error_t *e)
{
    watch_t *w = ud;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)w->pid);
    FILE *f = fopen(path, "r");
    if (!f) return PHX_OK;
    long size = 0, rss = 0;
    int n = fscanf(f, "%ld %ld", &size, &rss);
    fclose(f);
    if (n == 2 && (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE) > w->rss_cap_bytes) {
        w->over_memory = true;
        return phx_fail(e, PHX_ERR_LIMIT, "memory");
    }
    return PHX_OK;
}

static long rss_bytes_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    FILE *f = fopen(path, "r");
    long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * sysconf(_SC_PAGESIZE);
}

/* A process's CPU time (user + system) so far, what its RLIMIT_CPU counts, and
 * its RSS, from the kernel in one read. false when it cannot be read. */
static bool proc_stat(pid_t pid, uint64_t *cpu_ms, long *rss_bytes)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *q = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
    unsigned long long ut = 0, st = 0;
    long pages = 0;
    if (!q || sscanf(q + 1,
                     " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu"
                     " %*d %*d %*d %*d %*d %*d %*u %*u %ld",
                     &ut, &st, &pages) != 3)
        return false;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0) return false;
    *cpu_ms = (ut + st) * 1000u / (unsigned long long)hz;
    *rss_bytes = pages * sysconf(_SC_PAGESIZE);
    return true;
}

static void put_u64(phx_buf_t *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    phx_buf_append(b, x, 8);
}

static void put_str(phx_buf_t *b, const char *s, size_t n)
{
    uint8_t x[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    phx_buf_append(b, x, 4);
    phx_buf_append(b, s, n);
    phx_buf_append_byte(b, 0);
}

/* The JOB payload (trusted: the child reads it in place, no parsing library):
 * u64le cpu_ms | u64le mem_bytes | u64le flags (SBX_JOB_WARM) | 4 x (u32le length | bytes | NUL):
 * source, filename, input JSON, ctx JSON. The buffer holds the secrets: it is secret. */
static phx_err_t build_job(const phx_sandbox_pool_t *p, const phx_sandbox_job_t *job,
                           const char *contract_id, const char *code_hash, bool warm, char rid[67],
                           phx_buf_t *out, phx_error_t *e)
{
    json_t *secrets = json_object();
    for (int i = 0; i < job->nsecrets; i++)
        json_object_set_new(secrets, job->secret_keys[i], json_string(job->secret_values[i]));
    if (job->request_id) {
        snprintf(rid, 67, "%s", job->request_id);
    } else {
        uint8_t r[16];
        phx_random_bytes(r, sizeof r);
        rid[0] = '0';
        rid[1] = 'x';
        phx_hex_encode_to(rid + 2, r, sizeof r);
    }
    json_t *ctx = json_pack(
        "{s:s,s:s,s:s,s:s,s:I,s:o}", "contractId", contract_id, "codeHash", code_hash, "caller",
        job->caller ? job->caller : "0x0000000000000000000000000000000000000000", "requestId", rid,
        "now", (json_int_t)phx_now_ms(), "secrets", secrets);
    if (ctx && job->trigger_json) {
        /* What fired the run (the worker's own text; an object or nothing). */
        json_t *t = json_loads(job->trigger_json, 0, NULL);
        if (json_is_object(t)) json_object_set(ctx, "trigger", t);
        json_decref(t);
    }
    if (ctx && job->phase) json_object_set_new(ctx, "phase", json_string(job->phase));
    char *ctx_text = ctx ? json_dumps(ctx, JSON_COMPACT) : NULL;
    json_decref(ctx);
    if (!ctx_text) return phx_fail(e, PHX_ERR_INVALID, "secrets must be valid UTF-8 strings");
    const char *fname = job->filename ? job->filename : "contract.js";
    const char *input = job->input_json ? job->input_json : "null";
    out->secret = true;
    put_u64(out, p->cfg.limits.cpu_ms);
    put_u64(out, p->cfg.limits.mem_bytes);
    put_u64(out, warm ? SBX_JOB_WARM : 0);
    put_str(out, job->source, job->source_len);
    put_str(out, fname, strlen(fname));
    put_str(out, input, strlen(input));
    put_str(out, ctx_text, strlen(ctx_text));
    phx_secure_zero(ctx_text, strlen(ctx_text));
    free(ctx_text);
    return out->len ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "job");
}

/* Text from a child goes into JSON and terminals: keep it printable UTF-8. */
static void copy_message(char *dst, size_t cap, const uint8_t *p, size_t n)
{
    json_t *probe = json_stringn((const char *)p, n); /* NULL unless valid UTF-8 */
    size_t take = n < cap - 1 ? n : cap - 1;
    /* Cut before a sequence, never inside one: p[take] starts a character. */
    while (probe && take > 0 && take < n && (p[take] & 0xC0) == 0x80)
        take--;
    for (size_t i = 0; i < take; i++) {
        uint8_t c = p[i];
        if (c < 0x20 || c == 0x7f)
            c = ' ';
        else if (c >= 0x80 && !probe)
            c = '?';
        dst[i] = (char)c;
    }
    dst[take] = 0;
    json_decref(probe);
}

/* Turn a child's RESULT into the user-visible outcome. Everything in it is
 * untrusted: the output must fit the limit and, unless bytes, be JSON. */
static void decode_result(const phx_sandbox_msg_t *m, const phx_sandbox_limits_t *L,
                          phx_sandbox_result_t *res)
{
    char msg[sizeof res->message];
    copy_message(msg, sizeof msg, m->message, m->message_len);
    res->cpu_ms = m->cpu_ms;
    res->peak_mem_kb = m->peak_rss_kb;
    if (m->status != PHX_JS_OK) {
        if (m->status == PHX_JS_CPU_LIMIT)
            set_failure(res, PHX_SBX_FAIL_CPU_LIMIT, "CPU limit of %llu ms reached",
                        (unsigned long long)L->cpu_ms);
        else if (m->status == PHX_JS_MEMORY_LIMIT)
            set_failure(res, PHX_SBX_FAIL_MEMORY_LIMIT, "memory limit of %llu MiB reached (%s)",
                        (unsigned long long)(L->mem_bytes >> 20), msg);
        else
            set_failure(res, failure_of_js((phx_js_status_t)m->status), "%s", msg);
        return;
    }
    if (m->body_len > L->output_bytes) {
        set_failure(res, PHX_SBX_FAIL_OUTPUT_LIMIT, "output of %zu bytes exceeds %llu", m->body_len,
                    (unsigned long long)L->output_bytes);
        return;
    }
    if (!m->is_bytes) {
        /* JS numbers are doubles (12345678901234567890 is valid output) and JS
         * strings may hold U+0000: accept what JSON.stringify can produce. */
        json_t *chk =
            json_loadb((const char *)m->body, m->body_len, PHX_SANDBOX_OUTPUT_JSON_FLAGS, NULL);
        if (!chk) {
            set_failure(res, PHX_SBX_FAIL_PROTOCOL, "the sandbox returned output that is not JSON");
            return;
        }
        json_decref(chk);
    }
    phx_buf_reset(&res->output);
    if (phx_buf_append(&res->output, m->body, m->body_len)) {
        set_failure(res, PHX_SBX_FAIL_INTERNAL, "out of memory");
        return;
    }
    res->ok = true;
    res->output_is_bytes = m->is_bytes;
}

phx_err_t phx_sandbox_result_parse(const uint8_t *p, size_t len, const phx_sandbox_limits_t *limits,
                                   phx_sandbox_result_t *res, phx_error_t *e)
{
    memset(res, 0, sizeof *res);
    phx_sandbox_msg_t m;
    phx_err_t err = phx_sandbox_msg_parse(p, len, &m, e);
    if (err) return err;
    if (m.type != PHX_SBX_RESULT) return phx_fail(e, PHX_ERR_INVALID, "not a result");
    phx_sandbox_limits_t L = *limits;
    fill_limits(&L);
    decode_result(&m, &L, res);
    return PHX_OK;
}

phx_err_t phx_sandbox_invoke(phx_sandbox_pool_t *p, const phx_sandbox_job_t *job,
                             phx_sandbox_result_t *res, phx_error_t *e)
{
    memset(res, 0, sizeof *res);
    const phx_sandbox_limits_t *L = &p->cfg.limits;
    uint8_t digest[32];
    /* keccak-256, the code hash deploy, the worker and Jobs use: one hash
     * for the same code everywhere (ctx.codeHash, the stencil cache key). */
    phx_keccak256(job->source, job->source_len, digest);
    res->code_hash[0] = '0';
    res->code_hash[1] = 'x';
    phx_hex_encode_to(res->code_hash + 2, digest, 32);
    const char *contract_id = job->contract_id ? job->contract_id : res->code_hash;

    if (job->input_json) { /* the input must be JSON; check before spending a process */
        json_t *tmp;
        if (phx_json_parse(job->input_json, strlen(job->input_json), &tmp, e))
            return phx_error_wrap(e, PHX_ERR_INVALID, "input");
        json_decref(tmp);
    }
    /* Isolation: the source's directive, else the job's choice, else the pool's. */
    phx_sandbox_isolation_t iso = phx_sandbox_source_isolation(job->source, job->source_len);
    if (iso == PHX_SANDBOX_ISOLATION_DEFAULT) iso = job->isolation;
    if (iso == PHX_SANDBOX_ISOLATION_DEFAULT) iso = p->cfg.isolation;
    const bool warm = iso == PHX_SANDBOX_ISOLATION_WARM;
    res->isolation = iso;
    /* A warm process serves one contract id, code and filename, never another. */
    uint8_t warm_key[32];
    {
        const char *fname = job->filename ? job->filename : "contract.js";
        size_t il = strlen(contract_id), fl = strlen(fname);
        uint8_t *k = malloc(il + 1 + 66 + 1 + fl);
        if (!k) return phx_fail(e, PHX_ERR_NOMEM, "warm key");
        memcpy(k, contract_id, il + 1);
        memcpy(k + il + 1, res->code_hash, 67);
        memcpy(k + il + 1 + 67, fname, fl);
        phx_sha256(k, il + 1 + 67 + fl, warm_key);
        free(k);
    }
    phx_buf_t job_buf = PHX_BUF_INIT;
    char rid[67]; /* ctx.requestId, which also names the run's phx.evm.send actions */
    phx_err_t jerr = build_job(p, job, contract_id, res->code_hash, warm, rid, &job_buf, e);
    if (jerr) {
        phx_buf_free(&job_buf);
        return jerr;
    }

    pthread_mutex_lock(&p->lock);
    reap_zombies(p, false);
    child_t c;
    warm_t w = {.uses = 0};
    bool have = false;
    if (warm) {
        /* An idle process of this contract whose next realm is built, newest
         * first. If there are only ones still building it, a pre-forked child
         * (its realm is ready) is quicker: it becomes a second warm process, so
         * back to back calls alternate between two and one builds while the
         * other runs. With no pre-forked child at hand, the newest is taken
         * and the job waits in its channel. */
        int pick = -1, waiting = -1;
        for (int i = p->nwarm - 1; i >= 0 && pick < 0; i--) {
            if (memcmp(p->warm[i].key, warm_key, 32)) continue;
            bool broken;
            if (warm_ready(&p->warm[i], &broken)) {
                pick = i;
            } else if (broken) {
                retire_locked(p, &p->warm[i].c);
                memmove(p->warm + i, p->warm + i + 1, sizeof(warm_t) * (size_t)(p->nwarm - i - 1));
                p->nwarm--;
                if (waiting > i) waiting--;
            } else if (waiting < 0) {
                waiting = i;
            }
        }
        if (pick < 0 && waiting >= 0 && p->nidle == 0) pick = waiting;
        if (pick >= 0) {
            w = p->warm[pick];
            memmove(p->warm + pick, p->warm + pick + 1,
                    sizeof(warm_t) * (size_t)(p->nwarm - pick - 1));
            p->nwarm--;
            have = true;
        }
    }
    /* The second time a code hash comes, compile it into the zygote: children
     * forked from then on start with its stencil (cached by code hash). */
    bool known = have, seen = false;
    for (unsigned i = 0; i < 16 && !known; i++)
        known = !memcmp(p->compiled[i], digest, 32);
    for (unsigned i = 0; i < 16 && !seen; i++)
        seen = !memcmp(p->seen[i], digest, 32);
    if (!known && seen) {
        phx_error_t pe;
        if (!precompile_locked(p, job->source, job->source_len, job->filename, &pe))
            memcpy(p->compiled[p->ncompiled++ % 16], digest, 32);
    } else if (!known) {
        memcpy(p->seen[p->nseen++ % 16], digest, 32);
    }
    phx_err_t err = PHX_OK;
    if (have) {
        c = w.c;
    } else {
        err = take_child(p, &c, e);
        if (err && zygote_restart(p, e) == PHX_OK) err = take_child(p, &c, e);
        /* Fork the next one ahead while this runs: with several invocations at
         * once the idle list empties faster than one at a time. */
        if (!err) refill(p);
    }
    pthread_mutex_unlock(&p->lock);
    if (err) {
        phx_buf_free(&job_buf);
        return err;
    }

    sbx_host_t host = {.cfg = &p->cfg, .limits = L, .contract_id = contract_id, .request_id = rid};
    if (job->keys) { /* zeroed by sbx_host_close */
        memcpy(host.sk, job->keys->secp256k1_sk, 32);
        memcpy(host.kv_key, job->keys->kv_key, 32);
        host.have_keys = true;
    }
    uint64_t t0 = phx_monotonic_ms();
    uint64_t deadline = t0 + L->wall_ms;
    host.deadline_ms = deadline;
    /* A warm process's RSS was measured when it came back (one /proc read per call). */
    long rss_now = have ? w.last_rss : rss_bytes_of(c.pid);
    watch_t watch = {.pid = c.pid,
                     .rss_cap_bytes =
                         (uint64_t)rss_now + L->mem_bytes * 2 + (64u << 20) + SBX_RSS_SLACK_BYTES};
    phx_buf_t frame = PHX_BUF_INIT, reply = PHX_BUF_INIT;
    phx_error_t ferr = {0};
    bool got_result = false, killed_wall = false;
    int result_status = -1; /* the engine status the child reported */
    size_t max_in = L->output_bytes + 8192 > (4u << 20) ? L->output_bytes + 8192 : (4u << 20);

    err = sbx_write_frame(c.fd, PHX_SBX_JOB, job_buf.ptr, job_buf.len, NULL, 0, deadline, &ferr);
    phx_buf_free(&job_buf); /* secret: zeroed */
    while (!err) {
        err = sbx_read_frame(c.fd, &frame, max_in, deadline, watch_tick, &watch, &ferr);
        if (err) break;
        phx_sandbox_msg_t m;
        phx_error_t perr = {0};
        if (phx_sandbox_msg_parse(frame.ptr, frame.len, &m, &perr)) {
            set_failure(res, PHX_SBX_FAIL_PROTOCOL, "the sandbox sent a malformed message: %s",
                        perr.message);
            got_result = true; /* a broken protocol is the answer; do not guess more */
            break;
        }
        if (m.type == PHX_SBX_READY && have && !w.ready) {
            w.ready = true; /* taken while still building its realm: its one READY */
            continue;
        }
        if (m.type == PHX_SBX_READY) {
            set_failure(res, PHX_SBX_FAIL_PROTOCOL, "the sandbox sent an unexpected ready");
            got_result = true;
            break;
        }
        if (m.type == PHX_SBX_RESULT) {
            got_result = true;
            result_status = m.status;
            if (m.status == PHX_JS_HOST_ABORT && host.fatal != PHX_SBX_FAIL_NONE)
                set_failure(res, host.fatal, "%s", host.fatal_message);
            else
                decode_result(&m, L, res);
            break;
        }
        /* A host call. */
        phx_buf_reset(&reply);
        phx_error_t herr = {0};
        phx_err_t hrc = sbx_host_dispatch(&host, m.op, m.body, m.body_len, &reply, &herr);
        if (host.fatal != PHX_SBX_FAIL_NONE) { /* policy or budget: the invocation ends here */
            set_failure(res, host.fatal, "%s", host.fatal_message);
            got_result = true;
            break;
        }
        uint8_t st = hrc ? 1 : 0;
        const void *body = hrc ? (const void *)herr.message : (const void *)reply.ptr;
        size_t blen = hrc ? strlen(herr.message) : reply.len;
        err = sbx_write_frame(c.fd, PHX_SBX_REPLY, &st, 1, body, blen, deadline, &ferr);
    }
    if (!got_result && err == PHX_ERR_TIMEOUT) killed_wall = true;

    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    res->sandbox_pid = (int)c.pid;
    res->sandbox_uses = w.uses + 1;
    /* Warm: keep the process for the contract's next call only when the run
     * ended by itself and the worker found nothing wrong with the answer, and
     * recycle it after warm_uses calls, on RSS growth past half the memory
     * budget (garbage of old realms, fragmentation), or before its lifetime
     * CPU ceiling (child.c) could cut a full budget short. */
    bool keep = warm && got_result && sbx_status_reusable(result_status) &&
                host.fatal == PHX_SBX_FAIL_NONE &&
                (res->ok || res->failure == PHX_SBX_FAIL_EXCEPTION ||
                 res->failure == PHX_SBX_FAIL_COMPILE || res->failure == PHX_SBX_FAIL_NO_ENTRY ||
                 res->failure == PHX_SBX_FAIL_PENDING) &&
                w.uses + 1 < p->cfg.warm_uses;
    if (keep) {
        uint64_t cpu_s = (L->cpu_ms + 999) / 1000 + 1, cpu_used = 0;
        long rss = 0;
        if (!proc_stat(c.pid, &cpu_used, &rss) || rss <= 0) keep = false;
        if (w.uses == 0) w.base_rss = rss;
        w.last_rss = rss;
        if ((uint64_t)rss > (uint64_t)w.base_rss + L->mem_bytes / 2 + SBX_RSS_SLACK_BYTES)
            keep = false;
        if (cpu_used / 1000 + 2 * cpu_s > cpu_s * SBX_WARM_CPU_LIFETIMES) keep = false;
    }
    bool deferred = false;
    if (keep) {
        w.c = c;
        w.ready = false;
        w.uses++;
        w.last_ms = phx_monotonic_ms();
        memcpy(w.key, warm_key, 32);
        pthread_mutex_lock(&p->lock);
        if (p->nwarm == p->cfg.warm_max) { /* full: the least recently used goes */
            retire_locked(p, &p->warm[0].c);
            memmove(p->warm, p->warm + 1, sizeof(warm_t) * (size_t)--p->nwarm);
        }
        p->warm[p->nwarm++] = w;
        pthread_mutex_unlock(&p->lock);
        deferred = true;
    } else if (got_result) {
        /* It answered: stop it now, reap it later (its usage came with the result). */
        close(c.fd);
        kill(c.pid, SIGKILL);
        pthread_mutex_lock(&p->lock);
        if ((deferred = p->nzombies < (int)(sizeof p->zombies / sizeof p->zombies[0])))
            p->zombies[p->nzombies++] = c.pid;
        pthread_mutex_unlock(&p->lock);
    } else {
        close(c.fd);
    }
    if (!deferred) {
        /* No answer: how it ended is the answer, and wait4 has the true usage. */
        reap(c.pid, &status, &ru);
        res->cpu_ms = (uint64_t)ru.ru_utime.tv_sec * 1000 + (uint64_t)ru.ru_utime.tv_usec / 1000 +
                      (uint64_t)ru.ru_stime.tv_sec * 1000 + (uint64_t)ru.ru_stime.tv_usec / 1000;
        res->peak_mem_kb = (uint64_t)ru.ru_maxrss;
    }
    res->wall_ms = phx_monotonic_ms() - t0;
    res->requests = host.requests;
    res->logs = host.logs;
    res->nlogs = host.nlogs;
    host.logs = NULL;
    host.nlogs = 0;

    if (!got_result && !res->code[0]) {
        if (watch.over_memory) {
            set_failure(res, PHX_SBX_FAIL_MEMORY_LIMIT,
                        "the sandbox passed its memory cap and was killed");
        } else if (err == PHX_ERR_LIMIT || err == PHX_ERR_INVALID) {
            set_failure(res, PHX_SBX_FAIL_PROTOCOL, "the sandbox broke the protocol: %s",
                        ferr.message);
        } else if (killed_wall) {
            set_failure(res, PHX_SBX_FAIL_WALL_LIMIT, "wall-clock limit of %llu ms reached",
                        (unsigned long long)L->wall_ms);
        } else if (WIFSIGNALED(status) &&
                   (WTERMSIG(status) == SIGXCPU ||
                    (WTERMSIG(status) == SIGKILL && res->cpu_ms + 100 >= L->cpu_ms))) {
            set_failure(res, PHX_SBX_FAIL_CPU_LIMIT, "CPU limit of %llu ms reached",
                        (unsigned long long)L->cpu_ms);
        } else if (WIFSIGNALED(status)) {
            set_failure(res, PHX_SBX_FAIL_CRASHED, "the sandbox process died with signal %d (%s)",
                        WTERMSIG(status), strsignal(WTERMSIG(status)));
        } else {
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            set_failure(res, PHX_SBX_FAIL_CRASHED,
                        "the sandbox process exited (status %d, %s) without a result: %s", code,
                        sbx_exit_name(code), ferr.message);
        }
    }
    if (!res->ok) phx_buf_free(&res->output);
    phx_buf_free(&frame);
    phx_buf_free(&reply);
    sbx_host_close(&host);
    pthread_mutex_lock(&p->lock);
    refill(p);
    pthread_mutex_unlock(&p->lock);
    return PHX_OK;
}
