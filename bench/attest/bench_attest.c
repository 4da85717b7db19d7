/* Benchmark driver: DCAP verifications per second for one quote + collateral,
 * cold (cache emptied each time: every certificate parse, chain, CRL,
 * collateral and quote signature) and warm (collateral and platform material cached by content
 * hash). Usage: bench_attest QUOTE COLLATERAL NOW [SECONDS]. Prints one JSON line:
 * rates and ms by the wall clock, *_cpu_ms by the process's CPU time (on a
 * shared machine wall time also counts the time other processes held the CPU). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "phx/attest.h"

static double now_s(void)
{
    return (double)phx_monotonic_ns() / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_attest QUOTE COLLATERAL NOW [SECONDS]\n");
        return 2;
    }
    phx_buf_t quote = PHX_BUF_INIT, col = PHX_BUF_INIT;
    phx_error_t e = {0};
    if (phx_file_read(argv[1], &quote, &e) || phx_file_read(argv[2], &col, &e)) {
        fprintf(stderr, "bench_attest: %s\n", e.message);
        return 2;
    }
    int64_t now = strtoll(argv[3], NULL, 10);
    double budget = argc > 4 ? atof(argv[4]) : 2.0;
    phx_attest_policy_t policy = phx_attest_policy_permissive();
    phx_attest_result_t r;

    /* Cold: everything verified from scratch each time. */
    size_t n_cold = 0;
    double t0 = now_s(), t, c0 = cpu_s();
    phx_attest_verifier_t *cv = NULL;
    if (phx_attest_verifier_new(NULL, 0, &cv, &e)) return 1;
    do {
        /* The pinned root stays loaded (a process loads it once); everything
         * else is verified from scratch. */
        phx_attest_verifier_clear_cache(cv);
        if (phx_attest_verify(cv, quote.ptr, quote.len, col.ptr, col.len, now, &policy, &r, &e)) {
            fprintf(stderr, "bench_attest: cold verify failed: %s\n", e.message);
            return 1;
        }
        n_cold++;
    } while ((t = now_s()) - t0 < budget);
    double cold_cpu_ms = (cpu_s() - c0) * 1000.0 / (double)n_cold;
    phx_attest_verifier_free(cv);
    double cold = (double)n_cold / (t - t0);

    /* Warm: one verifier; the first call fills the cache. */
    phx_attest_verifier_t *v = NULL;
    phx_attest_verifier_new(NULL, 0, &v, &e);
    phx_attest_verify(v, quote.ptr, quote.len, col.ptr, col.len, now, &policy, &r, &e);
    size_t n_warm = 0;
    t0 = now_s();
    c0 = cpu_s();
    do {
        for (int i = 0; i < 100; i++) {
            if (phx_attest_verify(v, quote.ptr, quote.len, col.ptr, col.len, now, &policy, &r,
                                  &e)) {
                fprintf(stderr, "bench_attest: warm verify failed: %s\n", e.message);
                return 1;
            }
        }
        n_warm += 100;
    } while ((t = now_s()) - t0 < budget);
    double warm_cpu_ms = (cpu_s() - c0) * 1000.0 / (double)n_warm;
    double warm = (double)n_warm / (t - t0);
    printf("{\"cold_per_s\":%.1f,\"cold_ms\":%.4f,\"warm_per_s\":%.1f,\"warm_ms\":%.4f,"
           "\"cold_cpu_ms\":%.4f,\"warm_cpu_ms\":%.4f,\"status\":\"%s\",\"cached\":%s}\n",
           cold, 1000.0 / cold, warm, 1000.0 / warm, cold_cpu_ms, warm_cpu_ms,
           phx_tcb_status_name(r.status),
           r.collateral_cached && r.platform_cached ? "true" : "false");
    phx_attest_verifier_free(v);
    phx_buf_free(&quote);
    phx_buf_free(&col);
    return 0;
}
