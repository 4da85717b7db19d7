/* One verifier shared by several threads (how a worker or KMS uses it): every
 * verdict stays what a lone verification gives while the cache fills and is
 * emptied underneath. */
#include <pthread.h>

#include "phx/attest.h"
#include "test.h"

typedef struct {
    phx_buf_t quote, col;
    int64_t now;
    bool want_ok;
} job_t;

static job_t jobs[4];
static size_t n_jobs;
static phx_attest_verifier_t *shared;
static int wrong;
static pthread_mutex_t wrong_lock = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
    size_t id = (size_t)arg;
    phx_attest_policy_t p = phx_attest_policy_permissive();
    for (int i = 0; i < 60; i++) {
        const job_t *j = &jobs[(id + (size_t)i) % n_jobs];
        phx_attest_result_t r;
        phx_error_t e = {0};
        if (i % 20 == 19 && id == 0) phx_attest_verifier_clear_cache(shared);
        phx_err_t err = phx_attest_verify(shared, j->quote.ptr, j->quote.len, j->col.ptr,
                                          j->col.len, j->now, &p, &r, &e);
        if ((err == PHX_OK) != j->want_ok) {
            pthread_mutex_lock(&wrong_lock);
            wrong++;
            pthread_mutex_unlock(&wrong_lock);
        }
    }
    return NULL;
}

static bool load(job_t *j, const char *q, const char *c, int64_t now, bool ok)
{
    char rel[256];
    phx_error_t e;
    snprintf(rel, sizeof rel, "dcap/%s", q);
    const char *p = test_data_path(rel);
    if (!p || phx_file_read(p, &j->quote, &e)) return false;
    snprintf(rel, sizeof rel, "dcap/%s", c);
    p = test_data_path(rel);
    if (!p || phx_file_read(p, &j->col, &e)) return false;
    j->now = now;
    j->want_ok = ok;
    return true;
}

int main(void)
{
    if (!load(&jobs[0], "quotes/phala_sgx_v3_00a067.bin", "collateral/phala_sgx_00a067_2506.json",
              1752919277, true) ||
        !load(&jobs[1], "quotes/phala_tdx_v4_b0c06f.bin", "collateral/phala_tdx_b0c06f_2506.json",
              1752919234, true) ||
        !load(&jobs[2], "quotes/phala_tdx_v4_b0c06f_tappd.bin",
              "collateral/phala_tdx_b0c06f_2506.json", 1752919234, false) ||
        !load(&jobs[3], "quotes/gotdx_tdx_v5_90c06f.bin", "collateral/phala_tdx_90c06f_2602.json",
              1774003274, true))
        return test_done("attest_threads");
    n_jobs = 4;
    phx_error_t e;
    CHECK(phx_attest_verifier_new(NULL, 0, &shared, &e) == PHX_OK);
    pthread_t th[4];
    for (size_t i = 0; i < 4; i++)
        CHECK(pthread_create(&th[i], NULL, worker, (void *)i) == 0);
    for (size_t i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK_MSG(wrong == 0, "%d verdicts differ from a lone verification", wrong);
    printf("4 threads x 60 verifications on one verifier: %d wrong verdicts\n", wrong);
    phx_attest_verifier_free(shared);
    for (size_t i = 0; i < n_jobs; i++) {
        phx_buf_free(&jobs[i].quote);
        phx_buf_free(&jobs[i].col);
    }
    return test_done("attest_threads");
}
