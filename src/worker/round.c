/* k-of-n rounds for on-chain requests that ask for k > 1 signatures, after
 * Chainlink OCR's report model (docs/worker.md "k-of-n"): each worker observes
 * by running the contract and signing the Jobs digest over its (ok, output),
 * exactly as for k = 1, and journals it; it serves that signed observation to
 * anyone (GET /v1/jobs/:id/observation) and asks its peers for theirs. For an
 * `identical` contract the report is the output itself, so an observation's
 * signature is already a signature of the report: k of them over the same
 * digest, by active workers of distinct operators, make one Jobs.fulfill.
 * Messages are authenticated by those signatures alone (recovered, then
 * checked against the Registry), so a peer URL, or whatever relays it, is
 * trusted for nothing. A signed observation that contradicts a quorum is
 * reported on chain (Jobs.reportDissent), where the contract checks both
 * sides and emits Dissent: evidence anyone can read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_internal.h"
#include "phx/crypto.h"

#define PEER_TIMEOUT_MS 1500

phx_err_t wk_round_observation(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                               phx_error_t *e)
{
    phx_worker_t *w = ctx;
    const char *id_s = phx_http_param(req, "id");
    char *end = NULL;
    unsigned long long id = id_s ? strtoull(id_s, &end, 10) : 0;
    if (!id_s || !*id_s || !end || *end || id == 0)
        return phx_fail(e, PHX_ERR_INVALID, "request id must be a decimal number above 0");
    phx_job_t j;
    memset(&j, 0, sizeof j);
    pthread_mutex_lock(&w->db_lock);
    phx_err_t err = phx_jobdb_get(w->db, (uint64_t)id, &j, e);
    pthread_mutex_unlock(&w->db_lock);
    if (err) return err; /* NOT_FOUND: never seen */
    if (j.state != PHX_JOB_SIGNED && j.state != PHX_JOB_SUBMITTED && j.state != PHX_JOB_DONE) {
        phx_job_clear(&j);
        return phx_fail(e, PHX_ERR_NOT_FOUND, "no signed observation of request %llu", id);
    }
    if (j.state == PHX_JOB_DONE && !j.output.ptr && !j.output.len) {
        phx_job_clear(&j);
        return phx_fail(e, PHX_ERR_NOT_FOUND, "no signed observation of request %llu", id);
    }
    phx_observation_t o = {.request_id = (uint64_t)id, .ok = j.ok, .output = j.output};
    memcpy(o.signature, j.signature, 65);
    resp->json = phx_observation_to_json(&o, w->address);
    phx_job_clear(&j);
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "observation");
}

typedef struct {
    bool ok;
    phx_buf_t output;
    uint8_t sig[65];
    uint8_t signer[20];
    uint8_t operator_[20];
    uint8_t digest[32];
} observation_t;

/* One peer's observation of request id, its signature recovered and its signer
 * an active worker of the Registry. Anything else is PHX_ERR_* and ignored. */
static phx_err_t fetch_observation(phx_worker_t *w, const char *peer, const phx_job_t *j,
                                   const uint8_t domain[32], observation_t *o, phx_error_t *e)
{
    char url[400];
    snprintf(url, sizeof url, "%s/v1/jobs/%llu/observation", peer,
             (unsigned long long)j->request_id);
    phx_http_client_opts_t co = {.timeout_ms = PEER_TIMEOUT_MS, .connect_timeout_ms = 500};
    json_t *res = NULL;
    phx_err_t err = phx_http_json("GET", url, NULL, &co, NULL, &res, e);
    if (err) return err;
    phx_observation_t ob;
    if ((err = phx_observation_parse(res, &ob, e))) goto out;
    if (ob.request_id != j->request_id) {
        phx_observation_clear(&ob);
        err = phx_fail(e, PHX_ERR_INVALID, "%s: an observation of another request", peer);
        goto out;
    }
    o->ok = ob.ok;
    o->output = ob.output; /* moved */
    memcpy(o->sig, ob.signature, 65);
    if ((err = phx_observation_signer(&ob, domain, j->contract_id, j->code_hash, o->signer,
                                      o->digest, e)))
        goto out;
    phx_chain_worker_t cw;
    if ((err = phx_chain_worker_get(w->job_rpc, &w->dep, o->signer, &cw, e))) goto out;
    if (cw.status != PHX_CHAIN_WORKER_ACTIVE) {
        err = phx_fail(e, PHX_ERR_VERIFY, "%s: the signer is not an active worker", peer);
        goto out;
    }
    memcpy(o->operator_, cw.operator_, 20);
out:
    json_decref(res);
    return err;
}

/* Jobs.reportDissent with the quorum's k signatures and the dissenter's one. */
static phx_err_t report_dissent(phx_worker_t *w, const phx_job_t *j, const wk_quorum_t *q,
                                const observation_t *d, phx_error_t *e)
{
    uint8_t qhash[32], dhash[32];
    phx_keccak256(j->output.ptr, j->output.len, qhash);
    phx_keccak256(d->output.ptr, d->output.len, dhash);
    json_t *sigs = json_array();
    for (size_t i = 0; sigs && i < q->n; i++)
        if (json_array_append_new(sigs, phx_json_hex(q->sigs[i], 65))) {
            json_decref(sigs);
            sigs = NULL;
        }
    json_t *args = sigs ? json_pack("[I,b,o,o,b,o,o]", (json_int_t)j->request_id, j->ok,
                                    phx_json_hex(qhash, 32), sigs, d->ok, phx_json_hex(dhash, 32),
                                    phx_json_hex(d->sig, 65))
                        : NULL;
    if (!args) return phx_fail(e, PHX_ERR_NOMEM, "reportDissent calldata");
    phx_buf_t data = PHX_BUF_INIT;
    uint8_t tx[32];
    phx_err_t err = phx_chain_calldata(
        "reportDissent(uint256,bool,bytes32,bytes[],bool,bytes32,bytes)", args, &data, e);
    json_decref(args);
    if (!err) {
        phx_evm_send_t req = {.has_to = true, .data = data.ptr, .data_len = data.len};
        memcpy(req.to, w->dep.jobs, 20);
        err = phx_signer_send(w->signer, &req, tx, e);
    }
    phx_buf_free(&data);
    return err;
}

phx_err_t wk_round_gather(phx_worker_t *w, const phx_job_t *j, unsigned k, bool report,
                          wk_quorum_t *q, phx_error_t *e)
{
    if (k == 0 || k > WK_MAX_K) return phx_fail(e, PHX_ERR_INVALID, "k = %u", k);
    memset(q, 0, sizeof *q);
    uint8_t domain[32], mine[32];
    phx_chain_jobs_domain(w->dep.chain_id, w->dep.jobs, domain);
    phx_chain_result_digest(domain, j->request_id, j->contract_id, j->code_hash, j->ok,
                            j->output.ptr, j->output.len, mine);
    memcpy(q->sigs[0], j->signature, 65);
    memcpy(q->signers[0], w->address, 20);
    memcpy(q->operators[0], w->operator_addr, 20);
    q->n = 1;
    observation_t dissent[PHX_WORKER_MAX_PEERS];
    size_t ndissent = 0;
    for (size_t p = 0; p < w->npeers && !atomic_load(&w->stopping); p++) {
        observation_t o;
        memset(&o, 0, sizeof o);
        phx_error_t pe = {0};
        if (fetch_observation(w, w->peers[p], j, domain, &o, &pe)) {
            if (pe.code != PHX_ERR_NOT_FOUND && pe.code != PHX_ERR_IO)
                PHX_DEBUG("worker: request %llu: peer %s: %s", (unsigned long long)j->request_id,
                          w->peers[p], pe.message);
            phx_buf_free(&o.output);
            continue;
        }
        if (!memcmp(o.signer, w->address, 20)) {
            phx_buf_free(&o.output);
            continue;
        }
        q->answered++;
        if (memcmp(o.digest, mine, 32)) {
            if (ndissent < PHX_WORKER_MAX_PEERS) {
                dissent[ndissent++] = o;
                continue;
            }
            phx_buf_free(&o.output);
            continue;
        }
        bool dup = false;
        for (size_t i = 0; i < q->n; i++)
            dup |=
                !memcmp(q->operators[i], o.operator_, 20) || !memcmp(q->signers[i], o.signer, 20);
        if (!dup && q->n < k) {
            memcpy(q->sigs[q->n], o.sig, 65);
            memcpy(q->signers[q->n], o.signer, 20);
            memcpy(q->operators[q->n], o.operator_, 20);
            q->n++;
        }
        phx_buf_free(&o.output);
    }
    for (size_t i = 0; i < ndissent; i++) {
        if (report && q->n == k) {
            char who[43];
            phx_eth_address_checksum(dissent[i].signer, who);
            phx_error_t de = {0};
            if (report_dissent(w, j, q, &dissent[i], &de))
                PHX_WARN("worker: request %llu: reporting %s's dissent: %s",
                         (unsigned long long)j->request_id, who, de.message);
            else
                PHX_WARN("worker: request %llu: worker %s signed another output than the "
                         "quorum's; reported on chain (Jobs Dissent)",
                         (unsigned long long)j->request_id, who);
        }
        phx_buf_free(&dissent[i].output);
    }
    return PHX_OK;
}
