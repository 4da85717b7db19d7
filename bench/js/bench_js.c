/* Benchmark driver for TEE contracts through the real sandbox, as `phx run` and
 * the worker use it, in both isolation modes (docs/sandbox.md "Isolation"):
 * "phx" is process isolation, DESIGN.md's "strict mode" (a fresh pre-forked
 * process per call), "phx-warm" a warm process bound to the contract with a
 * fresh realm per call (the default). Prints one JSON line per contract and
 * runner; run.sh puts them beside node-vm and
 * QuickJS. Usage: bench_js CONTRACTS_DIR INPUTS_DIR ITERATIONS [contract...] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phx/sandbox.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int bench(phx_sandbox_pool_t *pool, const char *runner, phx_sandbox_isolation_t iso,
                 const char *dir, const char *indir, const char *name, int iters)
{
    char path[1024];
    phx_buf_t src = PHX_BUF_INIT, input = PHX_BUF_INIT;
    phx_error_t e = {0};
    snprintf(path, sizeof path, "%s/%s.js", dir, name);
    if (phx_file_read(path, &src, &e)) return fprintf(stderr, "%s: %s\n", path, e.message), 1;
    snprintf(path, sizeof path, "%s/%s.json", indir, name);
    if (phx_file_read(path, &input, &e)) return fprintf(stderr, "%s: %s\n", path, e.message), 1;
    phx_sandbox_job_t job = {.source = (const char *)src.ptr,
                             .source_len = src.len,
                             .filename = name,
                             .input_json = (const char *)input.ptr,
                             .contract_id = "bench",
                             .isolation = iso};
    uint64_t *lat = calloc((size_t)iters, sizeof *lat);
    int warm = iters / 10 + 1, failures = 0;
    char first[200] = "";
    uint64_t t_start = 0;
    for (int i = -warm; i < iters; i++) {
        if (i == 0) t_start = phx_monotonic_ns();
        phx_sandbox_result_t r;
        uint64_t t0 = phx_monotonic_ns();
        if (phx_sandbox_invoke(pool, &job, &r, &e) || !r.ok) {
            failures++;
            if (!first[0]) snprintf(first, sizeof first, "%s: %s", r.code, r.message);
        }
        uint64_t t1 = phx_monotonic_ns();
        if (i >= 0) lat[i] = t1 - t0;
        phx_sandbox_result_free(&r);
    }
    uint64_t total = phx_monotonic_ns() - t_start;
    qsort(lat, (size_t)iters, sizeof *lat, cmp_u64);
    /* Latency with a warm pool: calls spaced so the replacement child is ready,
     * as for a worker below saturation. Back-to-back numbers above include
     * waiting for the pool to refill. */
    int paced = iters / 4 > 20 ? iters / 4 : 20;
    uint64_t *pl = calloc((size_t)paced, sizeof *pl);
    for (int i = 0; i < paced; i++) {
        struct timespec gap = {0, 4 * 1000 * 1000};
        nanosleep(&gap, NULL);
        phx_sandbox_result_t r;
        uint64_t t0 = phx_monotonic_ns();
        if (phx_sandbox_invoke(pool, &job, &r, &e) || !r.ok) failures++;
        pl[i] = phx_monotonic_ns() - t0;
        phx_sandbox_result_free(&r);
    }
    qsort(pl, (size_t)paced, sizeof *pl, cmp_u64);
    printf("{\"runner\":\"%s\",\"contract\":\"%s\",\"iters\":%d,\"per_sec\":%.1f,\"p50_us\":%.1f,"
           "\"p99_us\":%.1f,\"mean_ms\":%.3f,\"paced_p50_us\":%.1f,\"paced_p99_us\":%.1f,"
           "\"failures\":%d}\n",
           runner, name, iters, iters / (total / 1e9), lat[iters / 2] / 1e3,
           lat[(iters * 99) / 100] / 1e3, total / 1e6 / iters, pl[paced / 2] / 1e3,
           pl[(paced * 99) / 100] / 1e3, failures);
    free(pl);
    if (failures) fprintf(stderr, "%s %s: %d failures, first: %s\n", runner, name, failures, first);
    fflush(stdout);
    free(lat);
    phx_buf_free(&src);
    phx_buf_free(&input);
    return 0;
}

/* Two callers at once, each with its own pool (a worker serving concurrent
 * requests on this machine's cores): aggregate invocations per second. */
typedef struct {
    phx_sandbox_pool_t *pool;
    phx_sandbox_job_t job;
    int iters, failures;
} caller_t;

static void *caller_main(void *arg)
{
    caller_t *c = arg;
    for (int i = 0; i < c->iters; i++) {
        phx_sandbox_result_t r;
        phx_error_t e;
        if (phx_sandbox_invoke(c->pool, &c->job, &r, &e) || !r.ok) c->failures++;
        phx_sandbox_result_free(&r);
    }
    return NULL;
}

static void bench_parallel(phx_sandbox_pool_t **pools, const char *runner,
                           phx_sandbox_isolation_t iso, const char *dir, const char *indir,
                           const char *name, int iters)
{
    char path[1024];
    phx_buf_t src = PHX_BUF_INIT, input = PHX_BUF_INIT;
    phx_error_t e = {0};
    snprintf(path, sizeof path, "%s/%s.js", dir, name);
    if (phx_file_read(path, &src, &e)) return;
    snprintf(path, sizeof path, "%s/%s.json", indir, name);
    if (phx_file_read(path, &input, &e)) return;
    caller_t c[2];
    for (int i = 0; i < 2; i++) {
        c[i] = (caller_t){.pool = pools[i], .iters = iters / 2};
        c[i].job = (phx_sandbox_job_t){.source = (const char *)src.ptr,
                                       .source_len = src.len,
                                       .filename = name,
                                       .input_json = (const char *)input.ptr,
                                       .contract_id = "bench",
                                       .isolation = iso};
        caller_main(&(caller_t){.pool = pools[i], .job = c[i].job, .iters = 10}); /* warm */
    }
    uint64_t t0 = phx_monotonic_ns();
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, caller_main, &c[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    uint64_t total = phx_monotonic_ns() - t0;
    int n = c[0].iters + c[1].iters;
    printf("{\"runner\":\"%s\",\"contract\":\"%s\",\"iters\":%d,\"per_sec\":%.1f,"
           "\"mean_ms\":%.3f,\"failures\":%d}\n",
           runner, name, n, n / (total / 1e9), total / 1e6 / n, c[0].failures + c[1].failures);
    fflush(stdout);
    phx_buf_free(&src);
    phx_buf_free(&input);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_js CONTRACTS_DIR INPUTS_DIR ITERATIONS [contract...]\n");
        return 2;
    }
    int iters = atoi(argv[3]);
    phx_sandbox_config_t cfg = {0};
    char kv[] = "/tmp/phx-bench-js-kv";
    cfg.kv_dir = kv;
    cfg.dev_keys = true;
    cfg.prefork = 4;
    cfg.jit = !getenv("PHX_BENCH_NO_JIT") ||
              !*getenv("PHX_BENCH_NO_JIT"); /* interpreter-only comparison */
    phx_sandbox_pool_t *pool;
    phx_error_t e = {0};
    if (phx_sandbox_pool_new(&cfg, &pool, &e)) return fprintf(stderr, "pool: %s\n", e.message), 1;
    phx_sandbox_pool_t *second = NULL;
    if (phx_sandbox_pool_new(&cfg, &second, &e)) return fprintf(stderr, "pool: %s\n", e.message), 1;
    for (int i = 4; i < argc; i++) {
        int n = !strcmp(argv[i], "cpu") ? (iters / 100 > 5 ? iters / 100 : 5) : iters;
        const phx_sandbox_isolation_t P = PHX_SANDBOX_ISOLATION_PROCESS,
                                      W = PHX_SANDBOX_ISOLATION_WARM;
        bench(pool, "phx", P, argv[1], argv[2], argv[i], n);
        bench(pool, "phx-warm", W, argv[1], argv[2], argv[i], n);
        if (strcmp(argv[i], "cpu")) {
            phx_sandbox_pool_t *pools[2] = {pool, second};
            bench_parallel(pools, "phx-2callers", P, argv[1], argv[2], argv[i], n);
            bench_parallel(pools, "phx-warm-2callers", W, argv[1], argv[2], argv[i], n);
        }
    }
    phx_sandbox_pool_free(second);
    phx_sandbox_pool_free(pool);
    return 0;
}
