/* The signed results a worker publishes for on-chain requests (GET
 * /v1/jobs/:id/results), and the test-only misbehaviour of `phx worker
 * --test-misbehave` (sim TEE only; include/phx/worker.h): a corrupt output
 * signed instead of the real one, or a second, different output signed beside
 * it. The second one is kept in DIR/evidence/<id>.json and published with the
 * journaled one, so that anyone can fetch both and prove the equivocation to
 * StakePool.reportEquivocation (`phx stake report-equivocation`). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon_internal.h"
#include "phx/crypto.h"

/* The result envelope (kind "job") of request id with this outcome; the
 * signature is the caller's to set or make. */
static phx_err_t job_result(const phx_worker_t *w, const phx_job_t *j, const uint8_t code_hash[32],
                            bool ok, const uint8_t *output, size_t len, phx_result_t *r,
                            phx_error_t *e)
{
    memset(r, 0, sizeof *r);
    r->kind = PHX_RESULT_JOB;
    r->chain_id = w->dep.chain_id;
    memcpy(r->jobs, w->dep.jobs, 20);
    for (int i = 0; i < 8; i++)
        r->request_id[31 - i] = (uint8_t)(j->request_id >> (8 * i));
    memcpy(r->contract_id, j->contract_id, 32);
    memcpy(r->code_hash, code_hash, 32);
    phx_keccak256(j->input.ptr, j->input.len, r->input_hash);
    r->ok = ok;
    r->timestamp = j->updated_ms / 1000; /* not signed for a job: Jobs has its own clock */
    memcpy(r->worker, w->address, 20);
    if (phx_buf_append(&r->output, output, len)) return phx_fail(e, PHX_ERR_NOMEM, "result output");
    return PHX_OK;
}

static void evidence_path(const phx_worker_t *w, uint64_t id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/evidence/%llu.json", w->dir, (unsigned long long)id);
}

void wk_misbehave_corrupt(const phx_worker_t *w, bool *ok, phx_buf_t *output)
{
    if (w->misbehave != PHX_WORKER_CORRUPT) return;
    /* Wrong, and different for every real output, so that honest workers'
     * signatures never agree with it. */
    uint8_t h[32];
    char text[100] = "{\"corrupt\":\"";
    phx_keccak256(output->ptr, output->len, h);
    phx_hex_encode_to(text + strlen(text), h, 32);
    strcat(text, "\"}");
    phx_buf_free(output);
    if (phx_buf_append_str(output, text)) return;
    *ok = true;
}

phx_err_t wk_misbehave_equivocate(phx_worker_t *w, const phx_job_t *j, const uint8_t code_hash[32],
                                  bool ok, const uint8_t *output, size_t len, phx_error_t *e)
{
    if (w->misbehave != PHX_WORKER_EQUIVOCATE) return PHX_OK;
    uint8_t h[32];
    char text[100] = "{\"equivocation\":\"", path[1300], dir[1200];
    phx_keccak256(output, len, h);
    phx_hex_encode_to(text + strlen(text), h, 32);
    strcat(text, "\"}");
    phx_result_t r;
    json_t *env = NULL;
    char *dump = NULL;
    phx_err_t err = job_result(w, j, code_hash, ok, (const uint8_t *)text, strlen(text), &r, e);
    if (!err) err = phx_result_sign(&r, w->sk, e);
    if (!err) err = phx_result_to_json(&r, &env, e);
    if (!err && !(dump = phx_json_dump(env, true))) err = phx_fail(e, PHX_ERR_NOMEM, "evidence");
    snprintf(dir, sizeof dir, "%s/evidence", w->dir);
    if (!err && mkdir(dir, 0700) && errno != EEXIST)
        err = phx_fail(e, PHX_ERR_IO, "%s: %s", dir, strerror(errno));
    evidence_path(w, j->request_id, path, sizeof path);
    if (!err) err = phx_file_write_atomic(path, dump, strlen(dump), 0600, e);
    if (!err)
        PHX_WARN("worker: TEST MISBEHAVIOUR: request %llu signed twice, with different outputs",
                 (unsigned long long)j->request_id);
    free(dump);
    json_decref(env);
    phx_result_free(&r);
    return err;
}

phx_err_t wk_job_results(phx_worker_t *w, uint64_t id, json_t **out, phx_error_t *e)
{
    phx_job_t j;
    memset(&j, 0, sizeof j);
    *out = NULL;
    pthread_mutex_lock(&w->db_lock);
    phx_err_t err = phx_jobdb_get(w->db, id, &j, e);
    pthread_mutex_unlock(&w->db_lock);
    if (err) return err;
    json_t *list = json_array(), *env = NULL;
    phx_result_t r;
    memset(&r, 0, sizeof r);
    phx_buf_t ev = PHX_BUF_INIT;
    if (!list) {
        err = phx_fail(e, PHX_ERR_NOMEM, "results");
        goto out;
    }
    static const uint8_t none[65];
    bool signed_ =
        (j.state == PHX_JOB_SIGNED || j.state == PHX_JOB_SUBMITTED || j.state == PHX_JOB_DONE) &&
        memcmp(j.signature, none, 65) != 0;
    wk_contract_t c;
    if (signed_ && !wk_contract_load(w, j.contract_id, &c, NULL)) {
        uint8_t code_hash[32];
        memcpy(code_hash, c.code_hash, 32);
        wk_contract_clear(&c);
        if ((err = job_result(w, &j, code_hash, j.ok, j.output.ptr, j.output.len, &r, e))) goto out;
        memcpy(r.signature, j.signature, 65);
        /* Only what this identity signed: an earlier boot's key is not ours. */
        if (!phx_result_verify(&r, NULL)) {
            if ((err = phx_result_to_json(&r, &env, e))) goto out;
            json_array_append_new(list, env);
            env = NULL;
        }
    }
    char path[1300];
    evidence_path(w, id, path, sizeof path);
    if (!phx_file_read(path, &ev, NULL)) {
        json_t *x = json_loadb((const char *)ev.ptr, ev.len, 0, NULL);
        if (x) json_array_append_new(list, x);
    }
    *out = json_pack("{s:I,s:s,s:o}", "request_id", (json_int_t)id, "state",
                     phx_job_state_name(j.state), "results", list);
    list = NULL;
    if (!*out) err = phx_fail(e, PHX_ERR_NOMEM, "results");
out:
    json_decref(list);
    json_decref(env);
    phx_result_free(&r);
    phx_buf_free(&ev);
    phx_job_clear(&j);
    return err;
}
