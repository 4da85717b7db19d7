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
 * sides and emits Dissent: evidence anyone can read. Of the signers that
 * agree, the k submitted are chosen (phx_quorum_choose) to be of distinct operators and
 * to cover the request's minTeeKinds, as Jobs.fulfill checks; with no such k
 * yet the round waits rather than send a fulfil that reverts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_internal.h"
#include "phx/crypto.h"

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
    uint32_t tee_type; /* the Registry's */
    uint8_t digest[32];
} observation_t;

/* Registry.workers(addr), read at most once per pass of the job loop: a
 * gather asks every peer each pass, and a pass may hold many requests. */
static phx_err_t registry_worker(phx_worker_t *w, const uint8_t addr[20], phx_chain_worker_t *out,
                                 phx_error_t *e)
{
    uint64_t pass = w->reg_pass + 1; /* never 0, the empty mark */
    for (size_t i = 0; i < WK_REG_CACHE; i++)
        if (w->reg_cache[i].pass == pass && !memcmp(w->reg_cache[i].worker, addr, 20)) {
            *out = w->reg_cache[i].rec;
            return PHX_OK;
        }
    phx_err_t err = phx_chain_worker_get(w->job_rpc, &w->dep, addr, out, e);
    if (err) return err;
    size_t slot = w->reg_next++ % WK_REG_CACHE;
    memcpy(w->reg_cache[slot].worker, addr, 20);
    w->reg_cache[slot].rec = *out;
    w->reg_cache[slot].pass = pass;
    return PHX_OK;
}

/* The signers over one report, this worker's first, each once: what a quorum
 * is chosen from. */
typedef struct {
    size_t n;
    phx_quorum_candidate_t c[PHX_WORKER_MAX_PEERS + 1];
    uint8_t sigs[PHX_WORKER_MAX_PEERS + 1][65];
    uint8_t signers[PHX_WORKER_MAX_PEERS + 1][20];
} pool_t;

static phx_err_t pool_start(phx_worker_t *w, pool_t *p, const uint8_t sig[65], phx_error_t *e)
{
    phx_chain_worker_t self;
    phx_err_t err = registry_worker(w, w->address, &self, e);
    if (err) return err;
    memcpy(p->sigs[0], sig, 65);
    memcpy(p->signers[0], w->address, 20);
    memcpy(p->c[0].operator_, w->operator_addr, 20);
    p->c[0].tee_type = self.tee_type;
    p->n = 1;
    return PHX_OK;
}

static void pool_add(pool_t *p, const observation_t *o)
{
    for (size_t i = 0; i < p->n; i++)
        if (!memcmp(p->signers[i], o->signer, 20)) return;
    if (p->n >= PHX_WORKER_MAX_PEERS + 1) return;
    memcpy(p->sigs[p->n], o->sig, 65);
    memcpy(p->signers[p->n], o->signer, 20);
    memcpy(p->c[p->n].operator_, o->operator_, 20);
    p->c[p->n].tee_type = o->tee_type;
    p->n++;
}

/* q: k of the pool that Jobs.fulfill takes (this worker's first), or this
 * worker's alone (q->n < k: wait) when no k of them do yet. */
static void pool_choose(const pool_t *p, const phx_job_t *j, unsigned k, unsigned min_kinds,
                        wk_quorum_t *q)
{
    size_t pick[WK_MAX_K];
    bool found = k <= WK_MAX_K && phx_quorum_choose(p->c, p->n, k, min_kinds, 1, pick);
    size_t n = found ? k : 1;
    if (!found) pick[0] = 0;
    if (!found && p->n >= k && min_kinds > 1)
        PHX_DEBUG("worker: request %llu: %zu signers agree, but no %u of distinct operators "
                  "cover %u TEE kinds yet",
                  (unsigned long long)j->request_id, p->n, k, min_kinds);
    for (size_t i = 0; i < n; i++) {
        memcpy(q->sigs[i], p->sigs[pick[i]], 65);
        memcpy(q->signers[i], p->signers[pick[i]], 20);
        memcpy(q->operators[i], p->c[pick[i]].operator_, 20);
    }
    q->n = n;
    q->agreeing = p->n;
    for (size_t i = 0; i < p->n; i++)
        memcpy(q->agree[i], p->signers[i], 20);
}

/* One peer's observation of request id, its signature recovered and its signer
 * an active worker of the Registry. Anything else is PHX_ERR_* and ignored. */
/* An observation object's signer, checked as fetch_observation does. */
static phx_err_t check_observation(phx_worker_t *w, const char *peer, const json_t *res,
                                   const phx_job_t *j, const uint8_t domain[32], bool obs_only,
                                   observation_t *o, phx_error_t *e)
{
    phx_observation_t ob;
    phx_err_t err = phx_observation_parse(res, &ob, e);
    if (err) return err;
    if (ob.request_id != j->request_id) {
        phx_observation_clear(&ob);
        return phx_fail(e, PHX_ERR_INVALID, "%s: an observation of another request", peer);
    }
    o->ok = ob.ok;
    o->output = ob.output; /* moved */
    memcpy(o->sig, ob.signature, 65);
    if ((err = phx_observation_signer(&ob, domain, j->contract_id, j->code_hash, obs_only,
                                      o->signer, o->digest, e)))
        return err;
    phx_chain_worker_t cw;
    if ((err = registry_worker(w, o->signer, &cw, e))) return err;
    if (cw.status != PHX_CHAIN_WORKER_ACTIVE)
        return phx_fail(e, PHX_ERR_VERIFY, "%s: the signer is not an active worker", peer);
    memcpy(o->operator_, cw.operator_, 20);
    o->tee_type = cw.tee_type;
    return PHX_OK;
}

/* *down: the peer failed in transport (now backed off, peers.c). */
static phx_err_t fetch_observation(phx_worker_t *w, const char *peer, const phx_job_t *j,
                                   const uint8_t domain[32], bool obs_only, observation_t *o,
                                   bool *down, phx_error_t *e)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%llu/observation", (unsigned long long)j->request_id);
    json_t *res = NULL;
    phx_err_t err = wk_peers_ask(w->peers, peer, path, &res, down, e);
    if (err) return err;
    err = check_observation(w, peer, res, j, domain, obs_only, o, e);
    json_decref(res);
    return err;
}

/* Whether Jobs already logged a Dissent of signer for request j. */
static phx_err_t dissent_logged(phx_worker_t *w, const phx_job_t *j, const uint8_t signer[20],
                                bool *logged, phx_error_t *e)
{
    uint8_t topic0[32], topic1[32] = {0}, topic2[32] = {0};
    phx_err_t err = phx_abi_event_topic(
        "Dissent(uint256 indexed requestId,address indexed signer,address indexed operator,bool "
        "ok,bytes32 outputHash,bytes32 quorumOutputHash,bytes signature)",
        topic0, e);
    if (err) return err;
    for (int i = 0; i < 8; i++)
        topic1[31 - i] = (uint8_t)(j->request_id >> (8 * i));
    memcpy(topic2 + 12, signer, 20);
    phx_evm_filter_t f;
    memset(&f, 0, sizeof f);
    uint64_t head = 0;
    if ((err = phx_rpc_block_number(w->job_rpc, &head, e))) return err;
    f.from_block = j->block;
    f.to_block = head;
    f.addresses = (const uint8_t(*)[20])w->dep.jobs;
    f.address_count = 1;
    f.topic_sets[0] = (const uint8_t(*)[32])topic0;
    f.topic_counts[0] = 1;
    f.topic_sets[1] = (const uint8_t(*)[32])topic1;
    f.topic_counts[1] = 1;
    f.topic_sets[2] = (const uint8_t(*)[32])topic2;
    f.topic_counts[2] = 1;
    phx_evm_log_t *logs = NULL;
    size_t n = 0;
    if ((err = phx_rpc_get_logs(w->job_rpc, &f, &logs, &n, e))) return err;
    *logged = false;
    for (size_t i = 0; i < n; i++) {
        *logged |= !logs[i].removed;
        phx_evm_log_clear(&logs[i]);
    }
    free(logs);
    return PHX_OK;
}

/* Jobs.reportDissent with the quorum's k signatures and dissenter d's one. */
static phx_err_t report_dissent(phx_worker_t *w, const phx_job_t *j, const wk_quorum_t *q, size_t d,
                                phx_error_t *e)
{
    uint8_t qhash[32];
    phx_keccak256(j->output.ptr, j->output.len, qhash);
    json_t *sigs = json_array();
    for (size_t i = 0; sigs && i < q->n; i++)
        if (json_array_append_new(sigs, phx_json_hex(q->sigs[i], 65))) {
            json_decref(sigs);
            sigs = NULL;
        }
    json_t *args = sigs ? json_pack("[I,b,o,o,b,o,o]", (json_int_t)j->request_id, j->ok,
                                    phx_json_hex(qhash, 32), sigs, q->dissent[d].ok,
                                    phx_json_hex(q->dissent[d].output_hash, 32),
                                    phx_json_hex(q->dissent[d].sig, 65))
                        : NULL;
    if (!args) return phx_fail(e, PHX_ERR_NOMEM, "reportDissent calldata");
    phx_buf_t data = PHX_BUF_INIT;
    uint8_t tx[32];
    phx_err_t err = phx_chain_calldata(
        "reportDissent(uint256,bool,bytes32,bytes[],bool,bytes32,bytes)", args, &data, e);
    json_decref(args);
    if (!err) err = wk_jobs_send(w, &data, tx, e);
    phx_buf_free(&data);
    return err;
}

phx_err_t wk_round_dissent(phx_worker_t *w, const phx_job_t *j, const wk_quorum_t *q,
                           size_t *reported, phx_error_t *e)
{
    *reported = 0;
    for (size_t i = 0; i < q->ndissent && q->n == q->k; i++) {
        bool logged = false;
        for (size_t s = 0; s < WK_REG_CACHE && !logged; s++)
            logged = w->dissent_sent[s].request_id == j->request_id &&
                     !memcmp(w->dissent_sent[s].signer, q->dissent[i].signer, 20);
        phx_err_t err = logged ? PHX_OK : dissent_logged(w, j, q->dissent[i].signer, &logged, e);
        if (err) return err;
        if (logged) continue;
        char who[43];
        phx_eth_address_checksum(q->dissent[i].signer, who);
        phx_error_t de = {0};
        if (report_dissent(w, j, q, i, &de)) {
            PHX_WARN("worker: request %llu: reporting %s's dissent: %s",
                     (unsigned long long)j->request_id, who, de.message);
            continue;
        }
        (*reported)++;
        size_t slot = w->dissent_next++ % WK_REG_CACHE;
        w->dissent_sent[slot].request_id = j->request_id;
        memcpy(w->dissent_sent[slot].signer, q->dissent[i].signer, 20);
        PHX_WARN("worker: request %llu: worker %s signed another output than the quorum's; "
                 "reported on chain (Jobs Dissent)",
                 (unsigned long long)j->request_id, who);
    }
    return PHX_OK;
}

phx_err_t wk_round_gather(phx_worker_t *w, const phx_job_t *j, unsigned k, unsigned min_kinds,
                          wk_quorum_t *q, phx_error_t *e)
{
    if (k == 0 || k > WK_MAX_K) return phx_fail(e, PHX_ERR_INVALID, "k = %u", k);
    memset(q, 0, sizeof *q);
    uint8_t domain[32], mine[32];
    phx_chain_jobs_domain(w->dep.chain_id, w->dep.jobs, domain);
    phx_chain_result_digest(domain, j->request_id, j->contract_id, j->code_hash, j->ok,
                            j->output.ptr, j->output.len, mine);
    pool_t pool;
    phx_err_t err = pool_start(w, &pool, j->signature, e);
    if (err) return err;
    q->k = k;
    /* A copy (the peers thread may change the list meanwhile) without the
     * peers backed off; one that is down now is not counted as asked. */
    wk_peer_list_t peers;
    wk_peers_due(w->peers, &peers, NULL);
    q->asked = peers.n;
    for (size_t p = 0; p < peers.n && !atomic_load(&w->stopping); p++) {
        observation_t o;
        memset(&o, 0, sizeof o);
        phx_error_t pe = {0};
        bool down = false;
        if (fetch_observation(w, peers.url[p], j, domain, false, &o, &down, &pe)) {
            q->asked -= down;
            if (!down && pe.code != PHX_ERR_NOT_FOUND)
                PHX_DEBUG("worker: request %llu: peer %s: %s", (unsigned long long)j->request_id,
                          peers.url[p], pe.message);
            phx_buf_free(&o.output);
            continue;
        }
        if (!memcmp(o.signer, w->address, 20)) {
            phx_buf_free(&o.output);
            continue;
        }
        q->answered++;
        if (memcmp(o.digest, mine, 32)) {
            if (q->ndissent < PHX_WORKER_MAX_PEERS) {
                memcpy(q->dissent[q->ndissent].signer, o.signer, 20);
                q->dissent[q->ndissent].ok = o.ok;
                phx_keccak256(o.output.ptr, o.output.len, q->dissent[q->ndissent].output_hash);
                memcpy(q->dissent[q->ndissent].sig, o.sig, 65);
                q->ndissent++;
            }
            phx_buf_free(&o.output);
            continue;
        }
        pool_add(&pool, &o);
        phx_buf_free(&o.output);
    }
    pool_choose(&pool, j, k, min_kinds, q);
    return PHX_OK;
}

/* ---- median and aggregate: a second, report-signing round ------------------------ */

phx_err_t wk_round_mode(phx_worker_t *w, const wk_contract_t *c, wk_mode_t *m, phx_error_t *e)
{
    for (size_t i = 0; i < WK_MODE_CACHE; i++)
        if (w->modes[i].set && !memcmp(w->modes[i].code_hash, c->code_hash, 32)) {
            *m = w->modes[i].mode;
            return PHX_OK;
        }
    memset(m, 0, sizeof *m);
    phx_buf_t out = PHX_BUF_INIT;
    bool ok = false;
    json_t *j = NULL;
    phx_err_t err = wk_run_phase(w, c, "null", NULL, "combine", &out, &ok, e);
    if (err) goto done;
    j = ok ? json_loadb((const char *)out.ptr, out.len, JSON_DECODE_ANY, NULL) : NULL;
    const char *s = json_string_value(j);
    const char *field = json_string_value(json_object_get(j, "median"));
    if (s && !strcmp(s, "identical")) {
        m->mode = WK_COMBINE_IDENTICAL;
    } else if (s && !strcmp(s, "aggregate")) {
        m->mode = WK_COMBINE_AGGREGATE;
    } else if (json_is_object(j) && json_object_size(j) == 1 && field && *field &&
               strlen(field) < sizeof m->field) {
        m->mode = WK_COMBINE_MEDIAN;
        snprintf(m->field, sizeof m->field, "%s", field);
    } else {
        err = phx_fail(e, PHX_ERR_INVALID,
                       "the contract's combine export must be \"identical\", \"aggregate\" or "
                       "{\"median\": \"FIELD\"}");
        goto done;
    }
    size_t slot = w->modes_next++ % WK_MODE_CACHE;
    memcpy(w->modes[slot].code_hash, c->code_hash, 32);
    w->modes[slot].mode = *m;
    w->modes[slot].set = true;
done:
    json_decref(j);
    phx_buf_free(&out);
    return err;
}

phx_err_t wk_round_report_get(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                              phx_error_t *e)
{
    phx_worker_t *w = ctx;
    const char *id_s = phx_http_param(req, "id");
    char *end = NULL;
    unsigned long long id = id_s ? strtoull(id_s, &end, 10) : 0;
    if (!id_s || !*id_s || !end || *end || id == 0)
        return phx_fail(e, PHX_ERR_INVALID, "request id must be a decimal number above 0");
    phx_observation_t r = {.request_id = (uint64_t)id};
    char *obs = NULL;
    bool found = false;
    pthread_mutex_lock(&w->db_lock);
    phx_err_t err =
        phx_jobdb_report_get(w->db, (uint64_t)id, &r.ok, &r.output, r.signature, &obs, &found, e);
    pthread_mutex_unlock(&w->db_lock);
    if (!err && !found) err = phx_fail(e, PHX_ERR_NOT_FOUND, "no report of request %llu", id);
    json_t *list = err ? NULL : json_loads(obs, 0, NULL);
    if (!err) {
        resp->json = phx_observation_to_json(&r, w->address);
        if (!resp->json || !list || json_object_set_new(resp->json, "observations", list))
            err = phx_fail(e, PHX_ERR_NOMEM, "report");
    }
    free(obs);
    phx_observation_clear(&r);
    return err;
}

/* Observations sorted by signer: the canonical order of a set. */
static int by_signer(const void *a, const void *b)
{
    return memcmp(((const observation_t *)a)->signer, ((const observation_t *)b)->signer, 20);
}

typedef struct {
    double v;
    size_t i;
} valued_t;

static int by_value(const void *a, const void *b)
{
    const valued_t *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v ? 1 : x->i < y->i ? -1 : x->i > y->i;
}

/* The report of a set (sorted by signer): median, the observation at the lower
 * median of the field (ties in signer order), as it was observed; aggregate,
 * the contract's aggregate(observations) over the outputs (as JSON values;
 * output that is not JSON as a 0x string), run here. */
static phx_err_t combine(phx_worker_t *w, const phx_job_t *j, const wk_mode_t *m,
                         const observation_t *set, size_t n, unsigned k, bool *ok, phx_buf_t *out,
                         phx_error_t *e)
{
    if (m->mode == WK_COMBINE_MEDIAN) {
        valued_t v[PHX_WORKER_MAX_PEERS + 1];
        size_t nv = 0;
        for (size_t i = 0; i < n; i++) {
            if (!set[i].ok) continue;
            json_t *o = json_loadb((const char *)set[i].output.ptr, set[i].output.len, 0, NULL);
            json_t *f = json_object_get(o, m->field);
            if (json_is_number(f)) v[nv].v = json_number_value(f), v[nv++].i = i;
            json_decref(o);
        }
        if (nv < k)
            return phx_fail(e, PHX_ERR_STATE, "%zu of %zu observations have a numeric \"%s\"", nv,
                            n, m->field);
        qsort(v, nv, sizeof *v, by_value);
        const observation_t *med = &set[v[(nv - 1) / 2].i];
        *ok = true;
        return phx_buf_append(out, med->output.ptr, med->output.len);
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *o = set[i].ok ? json_loadb((const char *)set[i].output.ptr, set[i].output.len,
                                           JSON_DECODE_ANY, NULL)
                              : NULL;
        if (!o) {
            char *hx = phx_hex_encode(set[i].output.ptr, set[i].output.len);
            o = hx ? json_string(hx) : NULL;
            free(hx);
        }
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            arr = NULL;
        }
    }
    char *input = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (!input) return phx_fail(e, PHX_ERR_NOMEM, "observations");
    wk_contract_t c;
    phx_err_t err = wk_contract_load(w, j->contract_id, &c, e);
    if (!err) {
        char rid[67];
        snprintf(rid, sizeof rid, "0x%064llx", (unsigned long long)j->request_id);
        err = wk_run_phase(w, &c, input, rid, "aggregate", out, ok, e);
        wk_contract_clear(&c);
    }
    free(input);
    return err;
}

static void set_free(observation_t *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        phx_buf_free(&set[i].output);
}

/* Add o to set unless its operator (or signer) is there; frees it if not added. */
static void set_add(observation_t *set, size_t *n, size_t cap, observation_t *o)
{
    bool dup = false;
    for (size_t i = 0; i < *n; i++)
        dup |= !memcmp(set[i].operator_, o->operator_, 20) || !memcmp(set[i].signer, o->signer, 20);
    if (dup || *n >= cap) {
        phx_buf_free(&o->output);
        return;
    }
    set[(*n)++] = *o;
}

/* Sign (ok, out) as this worker's one report of j, with its set, journaled. */
static phx_err_t sign_report(phx_worker_t *w, const phx_job_t *j, bool ok, const phx_buf_t *out,
                             const observation_t *set, size_t n, phx_error_t *e)
{
    uint8_t domain[32], digest[32], sig[65];
    phx_chain_jobs_domain(w->dep.chain_id, w->dep.jobs, domain);
    phx_chain_result_digest(domain, j->request_id, j->contract_id, j->code_hash, ok, out->ptr,
                            out->len, digest);
    phx_err_t err = phx_chain_sign(w->sk, digest, sig);
    if (err) return phx_fail(e, err, "sign");
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        phx_observation_t o = {
            .request_id = j->request_id, .ok = set[i].ok, .output = set[i].output};
        memcpy(o.signature, set[i].sig, 65);
        if (json_array_append_new(list, phx_observation_to_json(&o, set[i].signer))) {
            json_decref(list);
            list = NULL;
        }
    }
    char *text = list ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    if (!text) return phx_fail(e, PHX_ERR_NOMEM, "report");
    pthread_mutex_lock(&w->db_lock);
    err = phx_jobdb_report_put(w->db, j->request_id, ok, out->ptr, out->len, sig, text, e);
    pthread_mutex_unlock(&w->db_lock);
    free(text);
    return err;
}

/* A peer's proposal: its observations each signed on the observation domain
 * by active workers of distinct operators, at least k, and the report is
 * what this worker computes from them. *ok, out get the report. */
static phx_err_t check_proposal(phx_worker_t *w, const char *peer, const json_t *p,
                                const phx_job_t *j, unsigned k, const wk_mode_t *m,
                                const uint8_t domain[32], observation_t *set, size_t *n, bool *ok,
                                phx_buf_t *out, phx_error_t *e)
{
    *n = 0;
    const json_t *list = json_object_get(p, "observations");
    phx_observation_t r;
    phx_err_t err = phx_observation_parse(p, &r, e);
    if (err) return err;
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o)
    {
        observation_t ob;
        memset(&ob, 0, sizeof ob);
        if ((err = check_observation(w, peer, o, j, domain, true, &ob, e))) {
            phx_buf_free(&ob.output);
            goto out;
        }
        size_t before = *n;
        set_add(set, n, PHX_WORKER_MAX_PEERS + 1, &ob);
        if (*n == before) {
            err = phx_fail(e, PHX_ERR_VERIFY, "%s: a proposal with one operator twice", peer);
            goto out;
        }
    }
    if (*n < k) {
        err = phx_fail(e, PHX_ERR_VERIFY, "%s: a proposal of %zu observations", peer, *n);
        goto out;
    }
    qsort(set, *n, sizeof *set, by_signer);
    if ((err = combine(w, j, m, set, *n, k, ok, out, e))) goto out;
    if (*ok != r.ok || out->len != r.output.len ||
        (out->len && memcmp(out->ptr, r.output.ptr, out->len)))
        err = phx_fail(e, PHX_ERR_VERIFY, "%s: the proposed report is not its observations'", peer);
out:
    phx_observation_clear(&r);
    return err;
}

phx_err_t wk_round_report(phx_worker_t *w, const phx_job_t *j, unsigned k, unsigned min_kinds,
                          const wk_mode_t *m, bool may_propose, uint64_t since_ms,
                          uint64_t grace_ms, wk_quorum_t *q, bool *ok, phx_buf_t *out,
                          phx_error_t *e)
{
    memset(q, 0, sizeof *q);
    uint8_t domain[32], mine[32];
    phx_chain_jobs_domain(w->dep.chain_id, w->dep.jobs, domain);
    wk_peer_list_t peers; /* as in wk_round_gather: the peers not backed off */
    wk_peers_due(w->peers, &peers, NULL);
    q->asked = peers.n;
    bool found = false;
    uint8_t sig[65];
    pthread_mutex_lock(&w->db_lock);
    phx_err_t err = phx_jobdb_report_get(w->db, j->request_id, ok, out, sig, NULL, &found, e);
    pthread_mutex_unlock(&w->db_lock);
    if (err) return err;
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%llu/report", (unsigned long long)j->request_id);
    if (found) {
        /* Gather signatures over our report from the peers that signed it too. */
        phx_chain_result_digest(domain, j->request_id, j->contract_id, j->code_hash, *ok, out->ptr,
                                out->len, mine);
        pool_t pool;
        if ((err = pool_start(w, &pool, sig, e))) return err;
        for (size_t p = 0; p < peers.n && !atomic_load(&w->stopping); p++) {
            json_t *res = NULL;
            observation_t o;
            memset(&o, 0, sizeof o);
            phx_error_t pe = {0};
            bool down = false;
            if (!wk_peers_ask(w->peers, peers.url[p], path, &res, &down, &pe) &&
                !check_observation(w, peers.url[p], res, j, domain, false, &o, &pe) &&
                !memcmp(o.digest, mine, 32))
                pool_add(&pool, &o);
            q->asked -= down;
            phx_buf_free(&o.output);
            json_decref(res);
        }
        pool_choose(&pool, j, k, min_kinds, q);
        return PHX_OK;
    }
    /* No report yet: adopt a peer's valid proposal, the lowest digest first. */
    observation_t best[PHX_WORKER_MAX_PEERS + 1];
    size_t nbest = 0;
    bool have_best = false, best_ok = false;
    uint8_t best_digest[32];
    phx_buf_t best_out = PHX_BUF_INIT;
    bool gone[PHX_WORKER_MAX_PEERS] = {0}; /* down in this round: not asked again */
    for (size_t p = 0; p < peers.n && !atomic_load(&w->stopping); p++) {
        json_t *res = NULL;
        phx_error_t pe = {0};
        if (wk_peers_ask(w->peers, peers.url[p], path, &res, &gone[p], &pe)) {
            q->asked -= gone[p];
            continue;
        }
        observation_t set[PHX_WORKER_MAX_PEERS + 1];
        size_t n = 0;
        bool rok = false;
        phx_buf_t rout = PHX_BUF_INIT;
        if (check_proposal(w, peers.url[p], res, j, k, m, domain, set, &n, &rok, &rout, &pe)) {
            PHX_DEBUG("worker: request %llu: %s", (unsigned long long)j->request_id, pe.message);
            set_free(set, n);
            phx_buf_free(&rout);
            json_decref(res);
            continue;
        }
        uint8_t d[32];
        phx_chain_result_digest(domain, j->request_id, j->contract_id, j->code_hash, rok, rout.ptr,
                                rout.len, d);
        if (!have_best || memcmp(d, best_digest, 32) < 0) {
            set_free(best, nbest);
            phx_buf_free(&best_out);
            memcpy(best, set, n * sizeof *set);
            nbest = n, best_ok = rok, best_out = rout, have_best = true;
            memcpy(best_digest, d, 32);
        } else {
            set_free(set, n);
            phx_buf_free(&rout);
        }
        json_decref(res);
    }
    if (have_best) {
        err = sign_report(w, j, best_ok, &best_out, best, nbest, e);
        if (!err)
            PHX_INFO("worker: request %llu: signed a peer's report over %zu observations",
                     (unsigned long long)j->request_id, nbest);
        set_free(best, nbest);
        phx_buf_free(&best_out);
        return err; /* the next round gathers */
    }
    if (!may_propose) return PHX_OK;
    /* Propose: our observation and every peer's, at least k operators. */
    observation_t set[PHX_WORKER_MAX_PEERS + 1];
    size_t n = 0;
    memset(set, 0, sizeof set);
    set[0].ok = j->ok;
    memcpy(set[0].sig, j->signature, 65);
    memcpy(set[0].signer, w->address, 20);
    memcpy(set[0].operator_, w->operator_addr, 20);
    if ((err = phx_buf_append(&set[0].output, j->output.ptr, j->output.len))) return err;
    n = 1;
    size_t answered = 0;
    for (size_t p = 0; p < peers.n && !atomic_load(&w->stopping); p++) {
        if (gone[p]) continue;
        observation_t o;
        memset(&o, 0, sizeof o);
        phx_error_t pe = {0};
        bool down = false;
        if (fetch_observation(w, peers.url[p], j, domain, true, &o, &down, &pe)) {
            q->asked -= down;
            phx_buf_free(&o.output);
            continue;
        }
        answered++;
        set_add(set, &n, PHX_WORKER_MAX_PEERS + 1, &o);
    }
    /* Every peer that is up answered, or the grace is over: a peer down or
     * backed off is not waited for. */
    if (n < k || (answered < q->asked && since_ms < grace_ms)) {
        set_free(set, n);
        return PHX_OK;
    }
    qsort(set, n, sizeof *set, by_signer);
    bool rok = false;
    phx_buf_t rout = PHX_BUF_INIT;
    err = combine(w, j, m, set, n, k, &rok, &rout, e);
    if (!err) err = sign_report(w, j, rok, &rout, set, n, e);
    if (!err)
        PHX_INFO("worker: request %llu: proposed a report over %zu observations",
                 (unsigned long long)j->request_id, n);
    set_free(set, n);
    phx_buf_free(&rout);
    return err;
}
