/* The on-chain job loop: follow Jobs `Requested` events, journal each request
 * (jobdb.c) before any work, run it, sign the Jobs digest, send Jobs.fulfill
 * from the worker's identity key. Every step is committed before the next, so
 * kill -9 anywhere loses nothing; the chain's own state (Jobs.requests) is
 * read before running and before (re)submitting, and Jobs.fulfill refuses a
 * second fulfilment, so nothing is paid twice (docs/worker.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon_internal.h"
#include "phx/crypto.h"

#define LIVE_PER_ROUND 512
#define RESUBMIT_AFTER_MS WK_RESUBMIT_MS /* a fulfil tx not mined by then is sent again */
#define HANDOFF_MS WK_HANDOFF_MS         /* how long each rank waits for the ones before it */
#define ACTIVE_REFRESH_MS 10000
/* k-of-n: how long the submitter waits for every peer's observation, so that
 * one that disagrees is seen (and reported) rather than just outrun. */
#define OBSERVE_GRACE_MS 1500
#define MAX_ACTIVE 256

typedef struct {
    phx_worker_t *w;
    phx_evm_follower_t *follower;
    uint64_t submitted_ms[LIVE_PER_ROUND]; /* when this process last sent, by slot */
    uint64_t submitted_id[LIVE_PER_ROUND];
    uint64_t k_id[LIVE_PER_ROUND]; /* the k each request asks for, by slot */
    uint8_t k[LIVE_PER_ROUND];
    /* The Registry's active workers, to share requests out instead of every
     * worker racing for each one (the losers' transactions only revert). */
    uint8_t active[MAX_ACTIVE][20];
    size_t nactive;
    uint64_t active_ms;
    uint64_t active_gen; /* wk_peers_generation at the last read */
    /* A read list without this worker (invalidated, deregistered): it serves
     * nothing. self_idle: the Registry's activeOperatorOf said no at the last
     * run (that also covers a pool below the minimum stake). */
    bool self_unlisted, self_idle;
    /* The head (chain_head) self_idle was read at: one read a block. */
    uint64_t idle_head;
    bool idle_read;
} loop_t;

static void refresh_active(loop_t *L)
{
    phx_worker_t *w = L->w;
    uint64_t now = phx_monotonic_ms();
    /* An idle worker looks again sooner: it serves nothing until listed. A
     * Registry event the peers thread followed (a worker joined or left)
     * means a read now: ranked against a stale list, a worker that just
     * joined would be passed over, or every worker but a new one would
     * still think the request is its own, for up to ACTIVE_REFRESH_MS. */
    uint64_t gen = wk_peers_generation(w->peers);
    if (L->active_ms && gen == L->active_gen &&
        now - L->active_ms < (L->self_unlisted ? 1000 : ACTIVE_REFRESH_MS))
        return;
    L->active_ms = now;
    L->active_gen = gen;
    json_t *args = json_array(), *res = NULL;
    uint64_t count = 0;
    phx_u256_t c;
    if (args &&
        !phx_chain_read(w->job_rpc, w->dep.registry, "workerCount()", args, "(uint256)", &res,
                        NULL) &&
        json_string_value(json_array_get(res, 0)) &&
        !phx_u256_from_str(json_string_value(json_array_get(res, 0)), &c, NULL))
        phx_u256_to_u64(&c, &count, NULL);
    json_decref(res);
    json_decref(args);
    size_t n = 0;
    for (uint64_t i = 0; i < count && n < MAX_ACTIVE; i++) {
        char idx[24];
        snprintf(idx, sizeof idx, "%llu", (unsigned long long)i);
        json_t *a = json_pack("[s]", idx), *r = NULL;
        uint8_t addr[20];
        phx_chain_worker_t cw;
        const char *s;
        if (a &&
            !phx_chain_read(w->job_rpc, w->dep.registry, "workerList(uint256)", a, "(address)", &r,
                            NULL) &&
            (s = json_string_value(json_array_get(r, 0))) &&
            !phx_hex_decode_fixed(s, addr, 20, NULL) &&
            !phx_chain_worker_get(w->job_rpc, &w->dep, addr, &cw, NULL) &&
            cw.status == PHX_CHAIN_WORKER_ACTIVE)
            memcpy(L->active[n++], addr, 20);
        json_decref(r);
        json_decref(a);
    }
    if (count && n != L->nactive) PHX_INFO("worker: %zu active workers share the requests", n);
    if (count) L->nactive = n; /* a failed read keeps the last list */
    bool listed = false;
    for (size_t k = 0; k < L->nactive; k++)
        listed |= !memcmp(L->active[k], w->address, 20);
    if (count && !listed != L->self_unlisted)
        PHX_WARN("worker: %s", listed ? "listed as active in the Registry again"
                                      : "not listed as active in the Registry: serving nothing");
    if (count) L->self_unlisted = !listed;
}

/* A worker's place for a 32-byte key among the active workers, ordered by
 * keccak256(key || address). For a request the key is its id as a uint256
 * word; for a trigger's firing (trigger.c) keccak256(contract || firing id).
 * Rank r starts after r * HANDOFF_MS, so normally one worker serves each and
 * the next steps in only when it does not (dead, or without the contract). */
static unsigned rank_in(const loop_t *L, const uint8_t key[32], const uint8_t addr[20])
{
    uint8_t buf[52], mine[32], other[32];
    memcpy(buf, key, 32);
    memcpy(buf + 32, addr, 20);
    phx_keccak256(buf, sizeof buf, mine);
    unsigned rank = 0;
    for (size_t k = 0; k < L->nactive; k++) {
        if (!memcmp(L->active[k], addr, 20)) continue;
        memcpy(buf + 32, L->active[k], 20);
        phx_keccak256(buf, sizeof buf, other);
        rank += memcmp(other, mine, 32) < 0;
    }
    return rank;
}

/* This worker's place for a key (trigger.c's ranking callback). */
static unsigned rank_of_key(void *ctx, const uint8_t key[32])
{
    const loop_t *L = ctx;
    return rank_in(L, key, L->w->address);
}

/* A worker's place for a request (k-of-n asks it of the other signers too). */
static unsigned rank_of_addr(const loop_t *L, uint64_t id, const uint8_t addr[20])
{
    uint8_t word[32];
    memset(word, 0, 32);
    for (int i = 0; i < 8; i++)
        word[31 - i] = (uint8_t)(id >> (8 * i));
    return rank_in(L, word, addr);
}

static unsigned rank_of(const loop_t *L, uint64_t id)
{
    return rank_of_addr(L, id, L->w->address);
}

static phx_err_t on_log(void *ctx, const phx_evm_log_t *log, phx_error_t *e)
{
    phx_worker_t *w = ctx;
    phx_chain_requested_t rq;
    phx_error_t pe = {0};
    if (phx_chain_parse_requested(log, &rq, &pe)) {
        /* Not ours to act on; a malformed log must not stall the follower. */
        PHX_WARN("worker: skipping a Requested log in block %llu: %s",
                 (unsigned long long)log->block_number, pe.message);
        return PHX_OK;
    }
    bool inserted = false;
    pthread_mutex_lock(&w->db_lock);
    phx_err_t err = phx_jobdb_record(w->db, rq.request_id, rq.contract_id, rq.code_hash, rq.input,
                                     rq.input_len, rq.deadline, log->block_number, &inserted, e);
    pthread_mutex_unlock(&w->db_lock);
    if (!err && inserted)
        PHX_INFO("worker: request %llu seen in block %llu", (unsigned long long)rq.request_id,
                 (unsigned long long)log->block_number);
    phx_chain_requested_clear(&rq);
    return err;
}

static phx_err_t on_rollback(void *ctx, uint64_t first_void_block, phx_error_t *e)
{
    (void)ctx, (void)e;
    /* A journaled request from a void block is checked against Jobs.requests
     * before it runs and before it is sent: one that no longer exists is
     * dropped there. */
    PHX_WARN("worker: chain reorganised from block %llu", (unsigned long long)first_void_block);
    return PHX_OK;
}

static void job_done(phx_worker_t *w, uint64_t id, const char *why)
{
    phx_error_t e = {0};
    pthread_mutex_lock(&w->db_lock);
    if (phx_jobdb_done(w->db, id, &e))
        PHX_WARN("worker: job %llu: %s", (unsigned long long)id, e.message);
    pthread_mutex_unlock(&w->db_lock);
    PHX_INFO("worker: request %llu done (%s)", (unsigned long long)id, why);
}

static void job_failed(phx_worker_t *w, uint64_t id, const char *why)
{
    phx_error_t e = {0};
    pthread_mutex_lock(&w->db_lock);
    if (phx_jobdb_failed(w->db, id, why, &e))
        PHX_WARN("worker: job %llu: %s", (unsigned long long)id, e.message);
    pthread_mutex_unlock(&w->db_lock);
    PHX_WARN("worker: request %llu not served: %s", (unsigned long long)id, why);
}

/* A Phat Contract's function answers with a 0x hex string of the bytes it
 * means (ABI-encoded, for its consumer to decode); on chain that string is
 * delivered as those bytes, as Phala delivers it. Output that is a JSON string
 * of 0x and an even number of hex digits is replaced by the bytes it spells;
 * anything else stays the JSON text it is. Direct calls are not touched. */
static phx_err_t hex_string_output_to_bytes(phx_buf_t *output, phx_error_t *e)
{
    const char *p = (const char *)output->ptr;
    size_t n = output->len;
    if (n < 4 || p[0] != '"' || p[n - 1] != '"' || p[1] != '0' || (p[2] != 'x' && p[2] != 'X') ||
        (n - 4) % 2)
        return PHX_OK;
    for (size_t i = 3; i < n - 1; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f') ||
              (p[i] >= 'A' && p[i] <= 'F')))
            return PHX_OK;
    char *hex = strndup(p + 1, n - 2);
    phx_buf_t raw = PHX_BUF_INIT;
    phx_err_t err = hex ? phx_hex_decode(hex, &raw, e) : phx_fail(e, PHX_ERR_NOMEM, "output");
    free(hex);
    if (!err) {
        phx_buf_free(output);
        *output = raw;
    } else {
        phx_buf_free(&raw);
    }
    return err;
}

/* PENDING/RUNNING -> SIGNED: run the contract on the request's input and sign
 * the Jobs digest over its output. */
static phx_err_t run_and_sign(phx_worker_t *w, const phx_job_t *j, unsigned k, phx_error_t *e)
{
    wk_contract_t c;
    phx_err_t err = wk_contract_load(w, j->contract_id, &c, e);
    if (err) return err;
    /* k-of-n median/aggregate: this run is an observation, signed on the
     * observation domain; the report is signed in a later round (round.c). */
    wk_mode_t mode = {.mode = WK_COMBINE_IDENTICAL};
    if (k > 1 && !memcmp(c.code_hash, j->code_hash, 32) && (err = wk_round_mode(w, &c, &mode, e))) {
        wk_contract_clear(&c);
        return err;
    }
    phx_buf_t output = PHX_BUF_INIT, plain = PHX_BUF_INIT;
    plain.secret = true;
    char *input = NULL, rid[67];
    if (memcmp(c.code_hash, j->code_hash, 32)) {
        err = phx_fail(e, PHX_ERR_VERIFY, "the request names another code hash");
        goto out;
    }
    /* An input sealed to the contract (PHX_SEALED_REQUEST_MAGIC) is opened
     * here, in the TEE, and the contract sees the clear bytes; they are never
     * logged or journaled (the journal keeps the sealed bytes, as on chain).
     * One that does not open is answered, signed, as an error the consumer
     * receives, not left to expire. */
    const uint8_t *in = j->input.ptr;
    size_t in_len = j->input.len;
    bool sealed_ok = true;
    if (phx_confidential_is_sealed_request(in, in_len)) {
        phx_contract_keys_t keys;
        phx_error_t oe = {0};
        if ((err = phx_kms_contract_keys(w->contract_root, j->contract_id, &keys, e))) goto out;
        if (phx_confidential_open_request(keys.x25519_sk, j->contract_id, in, in_len, &plain,
                                          &oe)) {
            json_t *ej =
                json_pack("{s:{s:s,s:s+}}", "error", "code", "sealed_input", "message",
                          "the sealed input does not open for this contract: ", oe.message);
            char *t = ej ? phx_json_dump(ej, false) : NULL;
            json_decref(ej);
            err = t ? phx_buf_append_str(&output, t) : phx_fail(e, PHX_ERR_NOMEM, "error output");
            free(t);
            sealed_ok = false;
        }
        phx_kms_contract_keys_clear(&keys);
        if (err) goto out;
        in = sealed_ok ? plain.ptr : (const uint8_t *)"", in_len = plain.len;
    }
    /* The input is bytes on chain; JSON text runs as it is, anything else is
     * given to the contract as a 0x hex string. */
    json_t *parsed = json_loadb((const char *)in, in_len, JSON_DECODE_ANY, NULL);
    if (parsed) {
        input = json_dumps(parsed, JSON_COMPACT | JSON_ENCODE_ANY);
    } else {
        char *hx = phx_hex_encode(in, in_len); /* "0x..." already */
        json_t *s = hx ? json_string(hx) : NULL;
        input = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
        json_decref(s);
        free(hx);
    }
    json_decref(parsed);
    if (!input) {
        err = phx_fail(e, PHX_ERR_NOMEM, "input");
        goto out;
    }
    /* ctx.requestId: the uint256 as 0x + 64 hex, the form a direct call's
     * (its envelope's request_id) has too. */
    snprintf(rid, sizeof rid, "0x%064llx", (unsigned long long)j->request_id);
    pthread_mutex_lock(&w->db_lock);
    err = phx_jobdb_start(w->db, j->request_id, e);
    pthread_mutex_unlock(&w->db_lock);
    if (err) goto out;
    bool ok = false;
    if (sealed_ok && (err = wk_run(w, &c, input, rid, NULL, true, &output, NULL, &ok, NULL, e)))
        goto out;
    if (ok && (err = hex_string_output_to_bytes(&output, e))) goto out;
    wk_misbehave_corrupt(w, &ok, &output); /* tests only: nothing unless asked */
    uint8_t domain[32], digest[32], sig[65];
    phx_chain_jobs_domain(w->dep.chain_id, w->dep.jobs, domain);
    phx_chain_result_digest(domain, j->request_id, j->contract_id, c.code_hash, ok, output.ptr,
                            output.len, digest);
    if (mode.mode != WK_COMBINE_IDENTICAL) phx_observation_domain(digest);
    if ((err = phx_chain_sign(w->sk, digest, sig))) {
        phx_fail(e, err, "sign");
        goto out;
    }
    pthread_mutex_lock(&w->db_lock);
    err = phx_jobdb_signed(w->db, j->request_id, ok, output.ptr, output.len, sig, e);
    pthread_mutex_unlock(&w->db_lock);
    if (!err) err = wk_misbehave_equivocate(w, j, c.code_hash, ok, output.ptr, output.len, e);
out:
    if (input) phx_secure_zero(input, strlen(input));
    free(input);
    phx_buf_free(&plain);
    phx_buf_free(&output);
    wk_contract_clear(&c);
    return err;
}

/* Whether a journaled signature is this boot's identity's. */
static bool signed_by_us(const phx_worker_t *w, const phx_job_t *j)
{
    uint8_t domain[32], digest[32], pub[64], addr[20];
    phx_chain_jobs_domain(w->dep.chain_id, w->dep.jobs, domain);
    phx_chain_result_digest(domain, j->request_id, j->contract_id, j->code_hash, j->ok,
                            j->output.ptr, j->output.len, digest);
    for (int observation = 0; observation < 2; observation++) { /* Jobs or observation domain */
        if (observation) phx_observation_domain(digest);
        if (phx_secp256k1_recover(digest, j->signature, pub)) continue;
        phx_eth_address_from_pubkey(pub, addr);
        if (!memcmp(addr, w->address, 20)) return true;
    }
    return false;
}

/* SIGNED (or a SUBMITTED one to send again) -> SUBMITTED, with n signatures
 * over the same report (k-of-n: the quorum round.c gathered). */
static phx_err_t submit(phx_worker_t *w, const phx_job_t *j, bool ok, const uint8_t *output,
                        size_t len, const uint8_t (*sigs)[65], size_t n, phx_error_t *e)
{
    phx_buf_t data = PHX_BUF_INIT;
    uint8_t tx[32];
    phx_err_t err = phx_chain_fulfill_calldata(j->request_id, ok, output, len, sigs, n, &data, e);
    if (!err) err = wk_jobs_send(w, &data, tx, e);
    phx_buf_free(&data);
    if (err) return err;
    pthread_mutex_lock(&w->db_lock);
    err = phx_jobdb_submitted(w->db, j->request_id, tx, e);
    pthread_mutex_unlock(&w->db_lock);
    return err;
}

phx_err_t wk_jobs_send(phx_worker_t *w, const phx_buf_t *data, uint8_t tx[32], phx_error_t *e)
{
    phx_evm_send_t req = {.has_to = true, .data = data->ptr, .data_len = data->len};
    memcpy(req.to, w->dep.jobs, 20);
    return phx_signer_send(w->signer, &req, tx, e);
}

/* Jobs.fulfill takes a signature only from a worker the Registry counts as
 * active (not invalidated, its pool at the minimum): asked before a run, so a
 * worker taken out of service signs nothing more, even before the next refresh
 * of the list. The answer can change only with a block, so it is read once per
 * head the job loop has seen (chain_head) and reused for the other runs of
 * that round; a new block reads it again. A failed read does not stop the run
 * and is not kept. */
static bool still_active(loop_t *L)
{
    phx_worker_t *w = L->w;
    uint64_t head = __atomic_load_n(&w->chain_head, __ATOMIC_RELAXED);
    if (L->idle_read && L->idle_head == head) {
        __atomic_add_fetch(&w->eligibility_cached, 1, __ATOMIC_RELAXED);
        return !L->self_idle;
    }
    json_t *args = json_pack("[o]", phx_json_hex(w->address, 20)), *res = NULL;
    uint8_t op[20];
    static const uint8_t zero[20];
    const char *s;
    bool active = true, read = false;
    __atomic_add_fetch(&w->eligibility_reads, 1, __ATOMIC_RELAXED);
    if (args &&
        !phx_chain_read(w->job_rpc, w->dep.registry, "activeOperatorOf(address)", args, "(address)",
                        &res, NULL) &&
        (s = json_string_value(json_array_get(res, 0))) && !phx_hex_decode_fixed(s, op, 20, NULL))
        active = memcmp(op, zero, 20) != 0, read = true;
    json_decref(res);
    json_decref(args);
    L->idle_read = read, L->idle_head = head;
    if (active == L->self_idle)
        PHX_WARN("worker: %s", active ? "eligible in the Registry again: serving requests"
                                      : "not eligible in the Registry (invalidated, or its pool "
                                        "below the minimum stake): serving no requests");
    if (!active && !L->self_idle) L->active_ms = 0; /* read the list again soon */
    L->self_idle = !active;
    return active;
}

static size_t slot_of(uint64_t id)
{
    return (size_t)(id % LIVE_PER_ROUND);
}

/* Whether a journaled PENDING request is not yet this worker's to run, from
 * when it was journaled (that survives a restart), wall clock. k = 1: rank r
 * waits r turns. k > 1: every active worker observes at once, as OCR's n
 * oracles do, so a dead or dissenting worker never stalls the round; only
 * the submission goes by rank. */
static bool waits(const phx_job_t *j, unsigned rank, unsigned k)
{
    unsigned turns = k <= 1 ? rank : 0;
    uint64_t wait_ms = (uint64_t)turns * HANDOFF_MS, now = phx_now_ms();
    return wait_ms && now >= j->updated_ms && now - j->updated_ms < wait_ms;
}

/* The combine mode of a job's contract (cached by code hash). */
static phx_err_t mode_of(phx_worker_t *w, const phx_job_t *j, wk_mode_t *m, phx_error_t *e)
{
    for (size_t i = 0; i < WK_MODE_CACHE; i++)
        if (w->modes[i].set && !memcmp(w->modes[i].code_hash, j->code_hash, 32)) {
            *m = w->modes[i].mode;
            return PHX_OK;
        }
    wk_contract_t c;
    phx_err_t err = wk_contract_load(w, j->contract_id, &c, e);
    if (err) return err;
    if (memcmp(c.code_hash, j->code_hash, 32))
        err = phx_fail(e, PHX_ERR_VERIFY, "the request names another code hash");
    else
        err = wk_round_mode(w, &c, m, e);
    wk_contract_clear(&c);
    return err;
}

/* A settled k > 1 request of an `identical` contract that this worker
 * observed: a peer's dissent the submitter did not report (signed after the
 * fulfilment, or the submitter died first) is reported now, by the agreeing
 * signer ranked first among those this worker sees, and only when Jobs has
 * no Dissent of that signer for the request yet (wk_round_dissent). */
static void late_dissent(loop_t *L, const phx_job_t *j, const phx_chain_request_t *cr)
{
    phx_worker_t *w = L->w;
    if (cr->k <= 1 || cr->k > WK_MAX_K ||
        (cr->status != PHX_CHAIN_REQ_FULFILLED && cr->status != PHX_CHAIN_REQ_CALLBACK_FAILED) ||
        (j->state != PHX_JOB_SIGNED && j->state != PHX_JOB_SUBMITTED) || !signed_by_us(w, j))
        return;
    phx_error_t e = {0};
    wk_mode_t m;
    if (mode_of(w, j, &m, &e) || m.mode != WK_COMBINE_IDENTICAL) return;
    wk_quorum_t q;
    if (wk_round_gather(w, j, cr->k, cr->min_tee_kinds, &q, &e) || !q.ndissent || q.n < cr->k)
        return;
    unsigned mine = rank_of(L, j->request_id);
    for (size_t i = 1; i < q.agreeing; i++)
        if (rank_of_addr(L, j->request_id, q.agree[i]) < mine) return;
    size_t reported = 0;
    if (wk_round_dissent(w, j, &q, &reported, &e))
        PHX_WARN("worker: request %llu: %s", (unsigned long long)j->request_id, e.message);
    else if (reported)
        PHX_INFO("worker: request %llu: reported %zu dissent(s) seen after it settled",
                 (unsigned long long)j->request_id, reported);
}

static void process(loop_t *L, uint64_t id)
{
    phx_worker_t *w = L->w;
    phx_error_t e = {0};
    phx_buf_t rout = PHX_BUF_INIT;
    phx_job_t j;
    memset(&j, 0, sizeof j);
    pthread_mutex_lock(&w->db_lock);
    phx_err_t err = phx_jobdb_get(w->db, id, &j, &e);
    pthread_mutex_unlock(&w->db_lock);
    if (err) {
        PHX_WARN("worker: job %llu: %s", (unsigned long long)id, e.message);
        return;
    }
    /* Not listed (invalidated, or its pool below the minimum): Jobs would
     * refuse its signature; the active workers serve the request. */
    if (j.state == PHX_JOB_PENDING && L->self_unlisted) goto out;
    unsigned rank = rank_of(L, id);
    size_t s = slot_of(id);
    /* k is the chain's; known after the first read (kept by slot). */
    if (j.state == PHX_JOB_PENDING && L->k_id[s] == id && waits(&j, rank, L->k[s])) goto out;
    /* The chain decides first: a request fulfilled (by anyone, our own earlier
     * transaction included), refunded or gone needs nothing more. */
    phx_chain_request_t cr;
    if ((err = phx_chain_request_get(w->job_rpc, &w->dep, id, &cr, &e))) {
        PHX_WARN("worker: reading request %llu: %s", (unsigned long long)id, e.message);
        goto out;
    }
    if (cr.status != PHX_CHAIN_REQ_PENDING) {
        late_dissent(L, &j, &cr);
        job_done(w, id, cr.status == PHX_CHAIN_REQ_NONE ? "not on chain" : "settled on chain");
        goto out;
    }
    if ((uint64_t)time(NULL) > cr.deadline) {
        job_failed(w, id, "expired");
        goto out;
    }
    if (cr.k == 0 || cr.k > WK_MAX_K) {
        job_failed(w, id, "k out of range");
        goto out;
    }
    L->k_id[s] = id, L->k[s] = cr.k;
    if (j.state == PHX_JOB_PENDING && waits(&j, rank, cr.k)) goto out;
    if ((j.state == PHX_JOB_SIGNED || j.state == PHX_JOB_SUBMITTED) && !signed_by_us(w, &j)) {
        /* Signed by the identity of an earlier boot (no sealing key): that
         * key is gone and deregistered, so its signature and any transaction
         * it sent no longer count. The journal kept the request; run it again. */
        pthread_mutex_lock(&w->db_lock);
        err = phx_jobdb_resign(w->db, id, &e);
        pthread_mutex_unlock(&w->db_lock);
        if (err) {
            PHX_WARN("worker: job %llu: %s", (unsigned long long)id, e.message);
            goto out;
        }
        PHX_INFO("worker: request %llu was signed by an earlier identity; running it again",
                 (unsigned long long)id);
        j.state = PHX_JOB_RUNNING;
    }
    if ((j.state == PHX_JOB_PENDING || j.state == PHX_JOB_RUNNING) && !still_active(L)) goto out;
    if (j.state == PHX_JOB_PENDING || j.state == PHX_JOB_RUNNING) {
        if ((err = run_and_sign(w, &j, cr.k, &e))) {
            if (err == PHX_ERR_NOT_FOUND || err == PHX_ERR_VERIFY)
                job_failed(w, id, e.message);
            else
                PHX_WARN("worker: request %llu: %s", (unsigned long long)id, e.message);
            goto out;
        }
        phx_job_clear(&j);
        pthread_mutex_lock(&w->db_lock);
        err = phx_jobdb_get(w->db, id, &j, &e);
        pthread_mutex_unlock(&w->db_lock);
        if (err) goto out;
    }
    if (j.state == PHX_JOB_SUBMITTED) {
        /* Sent before (maybe by a process that was killed): wait for it to be
         * mined; send again only when it was mined and failed, or has not
         * been mined for a while (then the chain state above decides). */
        phx_evm_receipt_t rc;
        memset(&rc, 0, sizeof rc);
        bool found = false;
        if (phx_rpc_get_transaction_receipt(w->job_rpc, j.tx_hash, &rc, &found, &e)) goto out;
        bool failed = found && !rc.status;
        phx_evm_receipt_clear(&rc);
        if (found && !failed) goto out; /* mined fine: the next round sees it settled */
        uint64_t now = phx_monotonic_ms();
        if (!failed) {
            if (L->submitted_id[s] != id) {
                /* Sent by an earlier process: give it time from now. */
                L->submitted_id[s] = id, L->submitted_ms[s] = now;
                goto out;
            }
            if (now - L->submitted_ms[s] < RESUBMIT_AFTER_MS) goto out;
        }
    }
    wk_quorum_t q;
    memset(&q, 0, sizeof q);
    memcpy(q.sigs[0], j.signature, 65);
    q.n = 1;
    bool rok = j.ok;
    const uint8_t *sub_out = j.output.ptr;
    size_t sub_len = j.output.len;
    wk_mode_t m = {.mode = WK_COMBINE_IDENTICAL};
    if ((j.state == PHX_JOB_SIGNED || j.state == PHX_JOB_SUBMITTED) && cr.k > 1 &&
        (err = mode_of(w, &j, &m, &e))) {
        PHX_WARN("worker: request %llu: %s", (unsigned long long)id, e.message);
        goto out;
    }
    if ((j.state == PHX_JOB_SIGNED || j.state == PHX_JOB_SUBMITTED) && cr.k > 1 &&
        m.mode != WK_COMBINE_IDENTICAL) {
        /* median/aggregate: rank r may propose a report r turns after it
         * observed; anyone signs a valid proposal; then as below. */
        uint64_t now = phx_now_ms(), since = now >= j.updated_ms ? now - j.updated_ms : 0;
        if ((err = wk_round_report(w, &j, cr.k, cr.min_tee_kinds, &m,
                                   since >= (uint64_t)rank * HANDOFF_MS, since, OBSERVE_GRACE_MS,
                                   &q, &rok, &rout, &e))) {
            PHX_WARN("worker: request %llu: %s", (unsigned long long)id, e.message);
            goto out;
        }
        if (q.n < cr.k) goto out;
        unsigned before = 0;
        for (size_t i = 1; i < q.agreeing; i++)
            before += rank_of_addr(L, id, q.agree[i]) < rank;
        if (j.state == PHX_JOB_SIGNED && before && since < (uint64_t)before * HANDOFF_MS) goto out;
        sub_out = rout.ptr, sub_len = rout.len;
    } else if ((j.state == PHX_JOB_SIGNED || j.state == PHX_JOB_SUBMITTED) && cr.k > 1) {
        /* k-of-n: a quorum of signatures over our report, or wait for one. */
        if ((err = wk_round_gather(w, &j, cr.k, cr.min_tee_kinds, &q, &e))) {
            PHX_WARN("worker: request %llu: %s", (unsigned long long)id, e.message);
            goto out;
        }
        if (q.n < cr.k) goto out;
        /* The agreeing signer ranked first submits; each later one waits
         * its turn from when it signed, so one dead submitter is replaced.
         * Ranked among all that agree, not just the k each one chose: two
         * workers first in their own quorums would both submit (and both
         * report the same dissent). */
        unsigned before = 0;
        for (size_t i = 1; i < q.agreeing; i++)
            before += rank_of_addr(L, id, q.agree[i]) < rank;
        uint64_t now = phx_now_ms(), since = now >= j.updated_ms ? now - j.updated_ms : 0;
        if (j.state == PHX_JOB_SIGNED && ((before && since < (uint64_t)before * HANDOFF_MS) ||
                                          (q.answered < q.asked && since < OBSERVE_GRACE_MS)))
            goto out;
        size_t reported = 0;
        if (j.state == PHX_JOB_SIGNED && /* a fresh look, and report dissent */
            ((err = wk_round_gather(w, &j, cr.k, cr.min_tee_kinds, &q, &e)) ||
             (q.n == cr.k && (err = wk_round_dissent(w, &j, &q, &reported, &e))))) {
            PHX_WARN("worker: request %llu: %s", (unsigned long long)id, e.message);
            goto out;
        }
        if (q.n < cr.k) goto out;
    }
    if (j.state == PHX_JOB_SIGNED || j.state == PHX_JOB_SUBMITTED) {
        if ((err = submit(w, &j, rok, sub_out, sub_len, (const uint8_t(*)[65])q.sigs, q.n, &e))) {
            /* Estimation reverts once someone else's fulfilment is mined; the
             * next round reads the chain and closes the job. */
            PHX_WARN("worker: fulfil %llu: %s", (unsigned long long)id, e.message);
            goto out;
        }
        L->submitted_id[s] = id, L->submitted_ms[s] = phx_monotonic_ms();
        __atomic_add_fetch(&w->fulfilled_total, 1, __ATOMIC_RELAXED);
        PHX_INFO("worker: request %llu fulfilment sent", (unsigned long long)id);
    }
out:
    phx_buf_free(&rout);
    phx_job_clear(&j);
}

static void *loop_main(void *arg)
{
    loop_t *L = arg;
    phx_worker_t *w = L->w;
    phx_evm_follower_cb_t cb = {.on_log = on_log, .on_rollback = on_rollback, .ctx = w};
    uint64_t ids[LIVE_PER_ROUND];
    uint64_t last_redeem = phx_monotonic_ms();
    while (!atomic_load(&w->stopping)) {
        phx_error_t e = {0};
        if (phx_monotonic_ms() - last_redeem >= w->redeem_every_ms) {
            size_t paid = 0;
            if (wk_pay_redeem(w, &paid, &e))
                PHX_WARN("worker: redeeming vouchers: %s", e.message);
            else if (paid)
                PHX_INFO("worker: redeemed %zu voucher(s) on chain", paid);
            last_redeem = phx_monotonic_ms();
            memset(&e, 0, sizeof e);
        }
        if (phx_evm_follower_poll(L->follower, &cb, NULL, &e))
            PHX_WARN("worker: following the chain: %s", e.message);
        __atomic_store_n(&w->chain_head, phx_evm_follower_next_block(L->follower),
                         __ATOMIC_RELAXED);
        refresh_active(L);
        w->reg_pass++; /* Registry records are read afresh (round.c) */
        size_t n = 0;
        pthread_mutex_lock(&w->db_lock);
        phx_err_t err = phx_jobdb_live(w->db, ids, LIVE_PER_ROUND, &n, &e);
        pthread_mutex_unlock(&w->db_lock);
        if (err) PHX_WARN("worker: journal: %s", e.message);
        for (size_t i = 0; i < n && !atomic_load(&w->stopping); i++)
            process(L, ids[i]);
        wk_triggers_round(w, rank_of_key, L);
        for (uint64_t slept = 0; slept < w->poll_ms && !atomic_load(&w->stopping); slept += 50)
            usleep(50 * 1000);
    }
    return NULL;
}

phx_err_t wk_jobs_start(phx_worker_t *w, phx_error_t *e)
{
    loop_t *L = calloc(1, sizeof *L);
    if (!L) return phx_fail(e, PHX_ERR_NOMEM, "job loop");
    L->w = w;
    char cursor[1400];
    snprintf(cursor, sizeof cursor, "%s/follower.json", w->dir);
    uint8_t topic[32];
    phx_err_t err = phx_abi_event_topic(PHX_CHAIN_EV_REQUESTED, topic, e);
    if (err) goto fail;
    phx_evm_follower_opts_t fo = {.cursor_path = cursor,
                                  .start_block = w->dep.block,
                                  .addresses = (const uint8_t(*)[20])w->dep.jobs,
                                  .address_count = 1,
                                  .topic0 = (const uint8_t(*)[32])topic,
                                  .topic0_count = 1};
    if ((err = phx_evm_follower_open(w->job_rpc, &fo, &L->follower, e))) goto fail;
    if (pthread_create(&w->job_thread, NULL, loop_main, L) != 0) {
        err = phx_fail(e, PHX_ERR_INTERNAL, "job thread");
        goto fail;
    }
    w->job_thread_started = true;
    w->loop = L;
    return PHX_OK;
fail:
    phx_evm_follower_close(L->follower);
    free(L);
    return err;
}

void wk_jobs_stop(phx_worker_t *w)
{
    if (!w->job_thread_started) return;
    atomic_store(&w->stopping, true);
    pthread_join(w->job_thread, NULL);
    w->job_thread_started = false;
    /* The vouchers accepted since the last round: the job thread's signer is
     * free now. A failure leaves them journaled for the next start. */
    size_t paid = 0;
    phx_error_t e = {0};
    if (wk_pay_redeem(w, &paid, &e))
        PHX_WARN("worker: redeeming vouchers at stop: %s", e.message);
    else if (paid)
        PHX_INFO("worker: redeemed %zu voucher(s) on chain at stop", paid);
    loop_t *L = w->loop;
    if (L) phx_evm_follower_close(L->follower);
    free(L);
    w->loop = NULL;
}
