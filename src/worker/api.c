/* The worker's HTTP API (docs/worker.md): deploy, call (plain or HPKE-sealed
 * input; a sealed input gets a sealed reply), attestation over a caller's
 * nonce, health and Prometheus metrics. Every call answer is a signed result
 * envelope. Nothing here logs an input, a secret or an output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon_internal.h"
#include "phx/crypto.h"

/* The :id of a contract route (0x + 64 hex) into id, and, when body, a JSON
 * object body: the checks every contract route starts with. */
static phx_err_t contract_param(const phx_http_request_t *req, bool body, uint8_t id[32],
                                phx_error_t *e)
{
    const char *id_s = phx_http_param(req, "id");
    if (!id_s || phx_hex_decode_fixed(id_s, id, 32, NULL))
        return phx_fail(e, PHX_ERR_INVALID, "contract id must be 0x + 64 hex");
    if (body && !json_is_object(req->json))
        return phx_fail(e, PHX_ERR_INVALID, "body must be a JSON object");
    return PHX_OK;
}

static phx_err_t h_deploy(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    phx_worker_t *w = ctx;
    if (!json_is_object(req->json))
        return phx_fail(e, PHX_ERR_INVALID, "body must be a JSON object");
    uint8_t id[32], code_hash[32];
    phx_err_t err = wk_contract_store(w, req->json, id, code_hash, e);
    if (err) return err;
    __atomic_add_fetch(&w->deploys_total, 1, __ATOMIC_RELAXED);
    resp->json = json_pack("{s:o,s:o,s:o}", "id", phx_json_hex(id, 32), "code_hash",
                           phx_json_hex(code_hash, 32), "worker", phx_json_hex(w->address, 20));
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "answer");
}

static phx_err_t h_delete(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    phx_worker_t *w = ctx;
    uint8_t id[32];
    phx_err_t err = contract_param(req, true, id, e);
    if (err) return err;
    err = wk_contract_delete(w, id, req->json, e);
    if (err) return err;
    resp->json = json_pack("{s:o,s:b}", "id", phx_json_hex(id, 32), "deleted", 1);
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "answer");
}

/* GET /v1/contracts/:id/triggers: what the owner declared, with its signature. */
static phx_err_t h_triggers(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                            phx_error_t *e)
{
    uint8_t id[32];
    phx_err_t err = contract_param(req, false, id, e);
    if (err) return err;
    return wk_triggers_declared(ctx, id, &resp->json, e);
}

/* POST /v1/contracts/:id/hooks: a webhook's firing, from the gateway. */
static phx_err_t h_hook(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    uint8_t id[32];
    phx_err_t err = contract_param(req, true, id, e);
    if (err) return err;
    err = wk_triggers_hook(ctx, id, req->json, &resp->json, e);
    if (!err) resp->status = 202;
    return err;
}

/* POST /v1/contracts/:id/limits: the owner's signed spending limit (wallet.c). */
static phx_err_t h_limits(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    phx_worker_t *w = ctx;
    uint8_t id[32];
    phx_err_t err = contract_param(req, true, id, e);
    if (err) return err;
    err = wk_contract_limit(w, id, req->json, e);
    if (err) return err;
    resp->json = json_pack("{s:o,s:O,s:O,s:O}", "id", phx_json_hex(id, 32), "chain",
                           json_object_get(req->json, "chain"), "cap_wei",
                           json_object_get(req->json, "cap_wei"), "period_s",
                           json_object_get(req->json, "period_s"));
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "answer");
}

static phx_err_t h_call(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    phx_worker_t *w = ctx;
    uint8_t id[32], reply_key[32];
    wk_contract_t c;
    phx_contract_keys_t keys;
    phx_buf_t plain = PHX_BUF_INIT, output = PHX_BUF_INIT, sealed_out = PHX_BUF_INIT,
              sealed_bytes = PHX_BUF_INIT;
    char *input_text = NULL;
    json_t *logs = NULL, *env = NULL;
    phx_result_t r;
    wk_pay_t pay;
    memset(&r, 0, sizeof r);
    memset(&pay, 0, sizeof pay);
    memset(&keys, 0, sizeof keys);
    plain.secret = output.secret = true;
    phx_err_t err;
    if ((err = contract_param(req, true, id, e)) || (err = wk_contract_load(w, id, &c, e)))
        return err;
    const json_t *sealed = json_object_get(req->json, "sealed_input");
    bool encrypted = sealed != NULL;
    if (encrypted) {
        if ((err = phx_kms_contract_keys(w->contract_root, id, &keys, e)) ||
            (err = phx_confidential_open(PHX_SEAL_INPUT, keys.x25519_sk, id, sealed, &plain,
                                         reply_key, e)))
            goto out;
        /* The hash covers the sealed input as it arrived (enc || ciphertext),
         * so the envelope says nothing about the clear input. */
        if ((err = phx_json_get_hex(sealed, "enc", &sealed_bytes, e)) ||
            (err = phx_json_get_hex(sealed, "ciphertext", &sealed_bytes, e)))
            goto out;
        phx_keccak256(sealed_bytes.ptr, sealed_bytes.len, r.input_hash);
        if ((err = phx_buf_append_byte(&plain, 0))) goto out;
        plain.len--;
    } else {
        const json_t *in = json_object_get(req->json, "input");
        input_text = json_dumps(in ? in : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
        if (!input_text) {
            err = phx_fail(e, PHX_ERR_NOMEM, "input");
            goto out;
        }
        phx_keccak256(input_text, strlen(input_text), r.input_hash);
    }
    /* The caller's nonce, if any (checked before a voucher is journaled). */
    if (json_object_get(req->json, "nonce")) {
        if ((err = phx_json_get_hex_fixed(req->json, "nonce", r.nonce, 32, e))) {
            phx_error_wrap(e, err, "nonce: 32 bytes of 0x hex");
            goto out;
        }
        r.has_nonce = true;
    }
    /* Paid calls: the voucher is checked (and journaled) before anything
     * runs; its payer is ctx.caller. */
    if ((err = wk_pay_admit(w, id, r.input_hash, json_object_get(req->json, "voucher"), &pay, resp,
                            e)) ||
        pay.refused)
        goto out;
    char caller[43] = "0x", rid[67] = "0x";
    phx_hex_encode_to(caller + 2, pay.caller, 20);
    /* ctx.requestId is the envelope's request_id: the time is fixed first.
     * A caller nonce makes it the call's own (request id v2): a retry with the
     * same nonce is the same request, another call another. */
    r.timestamp = (uint64_t)time(NULL);
    if (r.has_nonce) {
        phx_result_direct_request_id_nonce(r.input_hash, r.nonce, r.request_id);
    } else {
        phx_result_direct_request_id(r.input_hash, r.timestamp, r.request_id);
    }
    phx_hex_encode_to(rid + 2, r.request_id, 32);
    bool ok = false;
    wk_usage_t usage;
    if ((err = wk_run(w, &c, encrypted ? (const char *)plain.ptr : input_text, rid, caller, false,
                      &output, encrypted ? NULL : &logs, &ok, &usage, e))) {
        if (usage.retry_after_s) { /* busy, not broken: back off and retry */
            resp->status = 429;
            resp->retry_after_s = usage.retry_after_s;
            wk_pay_unwind(w, &pay); /* nothing ran: nothing is owed */
        }
        goto out;
    }
    r.kind = PHX_RESULT_DIRECT;
    r.chain_id = w->dep.chain_id;
    memcpy(r.jobs, w->dep.jobs, 20);
    memcpy(r.contract_id, id, 32);
    memcpy(r.code_hash, c.code_hash, 32);
    r.ok = ok;
    if (encrypted) {
        if ((err = phx_confidential_seal_reply(reply_key, id, output.ptr, output.len, &sealed_out,
                                               e)) ||
            (err = phx_buf_append(&r.output, sealed_out.ptr, sealed_out.len)))
            goto out;
    } else if ((err = phx_buf_append(&r.output, output.ptr, output.len))) {
        goto out;
    }
    if ((err = phx_result_sign(&r, w->sk, e)) || (err = phx_result_to_json(&r, &env, e))) goto out;
    /* A sealed call's logs could repeat its input: they stay in the TEE. */
    json_object_set_new(env, "logs", logs ? logs : json_array());
    logs = NULL;
    /* What the call cost, beside the signed envelope (not part of it: the
     * same result is worth the same whether it waited or not). */
    json_object_set_new(env, "usage",
                        json_pack("{s:I,s:I,s:I,s:I}", "queue_ms", (json_int_t)usage.queue_ms,
                                  "wall_ms", (json_int_t)usage.wall_ms, "cpu_ms",
                                  (json_int_t)usage.cpu_ms, "peak_mem_kb",
                                  (json_int_t)usage.peak_mem_kb));
    /* What this call was paid with and what is owed now (beside the envelope,
     * like usage): the client's next voucher starts from "charged". */
    json_t *paid = wk_pay_settle(w, &pay, usage.cpu_ms);
    if (paid) json_object_set_new(env, "payment", paid);
    resp->json = env;
    env = NULL;
    __atomic_add_fetch(&w->calls_total, 1, __ATOMIC_RELAXED);
out:
    json_decref(env);
    json_decref(logs);
    free(input_text);
    phx_result_free(&r);
    phx_buf_free(&sealed_bytes);
    phx_buf_free(&sealed_out);
    phx_buf_free(&output);
    phx_buf_free(&plain);
    phx_kms_contract_keys_clear(&keys);
    phx_secure_zero(reply_key, sizeof reply_key);
    wk_contract_clear(&c);
    return err;
}

/* The signed results of an on-chain request this worker served: anyone can
 * hold the worker to what it signed (misbehave.c). */
static phx_err_t h_job_results(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                               phx_error_t *e)
{
    phx_worker_t *w = ctx;
    const char *id_s = phx_http_param(req, "id");
    char *end = NULL;
    unsigned long long id = id_s ? strtoull(id_s, &end, 10) : 0;
    if (!id_s || !*id_s || *end || id == 0)
        return phx_fail(e, PHX_ERR_INVALID, "request id must be a decimal number (1, 2, ...)");
    if (!w->db) return phx_fail(e, PHX_ERR_NOT_FOUND, "this worker follows no Jobs requests");
    phx_err_t err = wk_job_results(w, id, &resp->json, e);
    if (err == PHX_ERR_NOT_FOUND)
        return phx_fail(e, err, "request %llu: this worker has not seen it", id);
    return err;
}

/* A quote over DESIGN.md §2's report data for the caller's nonce: anyone can
 * check this worker's keys are bound to its TEE right now. */
static phx_err_t h_attestation(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                               phx_error_t *e)
{
    phx_worker_t *w = ctx;
    const char *n = phx_http_query(req, "nonce");
    uint8_t nonce[32], rd[64];
    if (!n || phx_hex_decode_fixed(n, nonce, 32, NULL))
        return phx_fail(e, PHX_ERR_INVALID, "nonce must be 32 bytes of hex");
    phx_chain_report_data(w->address, w->x25519_pub, nonce, rd);
    phx_buf_t quote = PHX_BUF_INIT, coll = PHX_BUF_INIT;
    phx_err_t err = wk_quote(w->tee, rd, &quote, &coll, e);
    if (!err) {
        json_t *cj = coll.len ? json_loadb((const char *)coll.ptr, coll.len, 0, NULL) : NULL;
        resp->json = json_pack(
            "{s:o,s:o,s:o,s:o,s:o,s:o,s:s}", "worker", phx_json_hex(w->address, 20), "x25519_pub",
            phx_json_hex(w->x25519_pub, 32), "nonce", phx_json_hex(nonce, 32), "measurement",
            phx_json_hex(w->measurement, 32), "quote", phx_json_hex(quote.ptr, quote.len),
            "collateral", cj ? cj : json_null(), "tee", phx_tee_kind_name(phx_tee_kind(w->tee)));
        if (!resp->json) err = phx_fail(e, PHX_ERR_NOMEM, "attestation");
    }
    phx_buf_free(&quote);
    phx_buf_free(&coll);
    return err;
}

/* GET /v1/identity?challenge=0x..: the worker key signs the caller's fresh
 * challenge (phx_chain_identity_digest), so a gateway that found this URL on
 * chain knows the server here holds the key the Registry lists for it. */
static phx_err_t h_identity(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                            phx_error_t *e)
{
    phx_worker_t *w = ctx;
    const char *c = phx_http_query(req, "challenge");
    uint8_t challenge[32], sig[65];
    if (!c || phx_hex_decode_fixed(c, challenge, 32, NULL))
        return phx_fail(e, PHX_ERR_INVALID, "challenge must be 32 bytes of hex");
    phx_err_t err =
        phx_chain_identity_sign(w->dep.chain_id, w->dep.registry, challenge, w->sk, sig, e);
    if (err) return err;
    resp->json = json_pack("{s:o,s:o,s:o}", "worker", phx_json_hex(w->address, 20), "challenge",
                           phx_json_hex(challenge, 32), "signature", phx_json_hex(sig, 65));
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "identity");
}

static phx_err_t h_health(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    (void)req;
    phx_worker_t *w = ctx;
    resp->json = json_pack(
        "{s:s,s:o,s:o,s:o,s:s,s:I}", "status", "ok", "address", phx_json_hex(w->address, 20),
        "measurement", phx_json_hex(w->measurement, 32), "x25519_pub",
        phx_json_hex(w->x25519_pub, 32), "tee", phx_tee_kind_name(phx_tee_kind(w->tee)), "uptime_s",
        (json_int_t)((phx_now_ms() - w->started_ms) / 1000));
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "health");
}

static phx_err_t h_metrics(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                           phx_error_t *e)
{
    (void)req;
    phx_worker_t *w = ctx;
    phx_err_t err = phx_http_server_metrics(w->server, &resp->text, e);
    if (err) return err;
    uint64_t counts[7] = {0};
    if (w->db) {
        pthread_mutex_lock(&w->db_lock);
        phx_jobdb_counts(w->db, counts, NULL);
        pthread_mutex_unlock(&w->db_lock);
    }
    phx_buf_printf(
        &resp->text,
        "# TYPE phx_worker_calls_total counter\nphx_worker_calls_total %llu\n"
        "# TYPE phx_worker_deploys_total counter\nphx_worker_deploys_total %llu\n"
        "# TYPE phx_worker_runs_total counter\nphx_worker_runs_total %llu\n"
        "# TYPE phx_worker_runs_failed_total counter\nphx_worker_runs_failed_total %llu\n"
        "# TYPE phx_worker_fulfilled_total counter\nphx_worker_fulfilled_total %llu\n"
        "# TYPE phx_worker_eligibility_checks_total counter\n"
        "phx_worker_eligibility_checks_total{source=\"chain\"} %llu\n"
        "phx_worker_eligibility_checks_total{source=\"cache\"} %llu\n"
        "# TYPE phx_worker_chain_next_block gauge\nphx_worker_chain_next_block %llu\n"
        "# TYPE phx_worker_jobs gauge\n",
        (unsigned long long)__atomic_load_n(&w->calls_total, __ATOMIC_RELAXED),
        (unsigned long long)__atomic_load_n(&w->deploys_total, __ATOMIC_RELAXED),
        (unsigned long long)__atomic_load_n(&w->runs_total, __ATOMIC_RELAXED),
        (unsigned long long)__atomic_load_n(&w->runs_failed, __ATOMIC_RELAXED),
        (unsigned long long)__atomic_load_n(&w->fulfilled_total, __ATOMIC_RELAXED),
        (unsigned long long)__atomic_load_n(&w->eligibility_reads, __ATOMIC_RELAXED),
        (unsigned long long)__atomic_load_n(&w->eligibility_cached, __ATOMIC_RELAXED),
        (unsigned long long)__atomic_load_n(&w->chain_head, __ATOMIC_RELAXED));
    for (int s = PHX_JOB_PENDING; s <= PHX_JOB_FAILED; s++)
        phx_buf_printf(&resp->text, "phx_worker_jobs{state=\"%s\"} %llu\n",
                       phx_job_state_name((phx_job_state_t)s), (unsigned long long)counts[s]);
    pthread_mutex_lock(&w->pay_cache.lock);
    uint64_t hits = w->pay_cache.hits, misses = w->pay_cache.misses;
    pthread_mutex_unlock(&w->pay_cache.lock);
    phx_buf_printf(&resp->text,
                   "# TYPE phx_worker_pay_cache_total counter\n"
                   "phx_worker_pay_cache_total{result=\"hit\"} %llu\n"
                   "phx_worker_pay_cache_total{result=\"miss\"} %llu\n",
                   (unsigned long long)hits, (unsigned long long)misses);
    size_t peers_chain, peers_flag;
    wk_peers_counts(w->peers, &peers_chain, &peers_flag);
    phx_buf_printf(&resp->text,
                   "# TYPE phx_worker_peers gauge\n"
                   "phx_worker_peers{source=\"chain\"} %zu\n"
                   "phx_worker_peers{source=\"flag\"} %zu\n"
                   "# TYPE phx_worker_peers_down gauge\n"
                   "phx_worker_peers_down %zu\n",
                   peers_chain, peers_flag, wk_peers_down(w->peers));
    wk_sched_stats_t ss;
    wk_sched_stats(w->sched, &ss);
    phx_buf_printf(
        &resp->text,
        "# TYPE phx_worker_invocations_running gauge\nphx_worker_invocations_running %u\n"
        "# TYPE phx_worker_invocations_running_onchain gauge\n"
        "phx_worker_invocations_running_onchain %u\n"
        "# TYPE phx_worker_invocations_queued gauge\nphx_worker_invocations_queued %u\n"
        "# TYPE phx_worker_invocations_admitted_total counter\n"
        "phx_worker_invocations_admitted_total %llu\n"
        "# TYPE phx_worker_invocations_rejected_total counter\n"
        "phx_worker_invocations_rejected_total %llu\n"
        "# TYPE phx_worker_queue_ms_total counter\nphx_worker_queue_ms_total %llu\n"
        "# TYPE phx_worker_queue_ms_max gauge\nphx_worker_queue_ms_max %llu\n"
        "# TYPE phx_worker_slots gauge\nphx_worker_slots{kind=\"all\"} %u\n"
        "phx_worker_slots{kind=\"reserved_onchain\"} %u\n"
        "phx_worker_slots{kind=\"per_contract\"} %u\nphx_worker_slots{kind=\"per_owner\"} %u\n"
        "phx_worker_slots{kind=\"queue\"} %u\nphx_worker_slots{kind=\"queue_per_contract\"} %u\n",
        ss.running, ss.running_onchain, ss.queued, (unsigned long long)ss.admitted_total,
        (unsigned long long)ss.rejected_total, (unsigned long long)ss.queue_ms_total,
        (unsigned long long)ss.queue_ms_max, ss.limits.max, ss.limits.reserved,
        ss.limits.per_contract, ss.limits.per_owner, ss.limits.max_queue, ss.limits.per_queue);
    resp->content_type = "text/plain; version=0.0.4";
    return PHX_OK;
}

phx_err_t wk_api_start(phx_worker_t *w, const phx_worker_opts_t *o, phx_error_t *e)
{
    phx_err_t err = phx_http_router_new(&w->router, e);
    if (err) return err;
    if ((err = phx_http_router_add(w->router, "POST", "/v1/contracts", h_deploy, w, 0, e)) ||
        (err = phx_http_router_add(w->router, "POST", "/v1/contracts/:id/call", h_call, w, 0, e)) ||
        (err = phx_http_router_add(w->router, "POST", "/v1/contracts/:id/delete", h_delete, w, 0,
                                   e)) ||
        (err = phx_http_router_add(w->router, "GET", "/v1/contracts/:id/triggers", h_triggers, w, 0,
                                   e)) ||
        (err =
             phx_http_router_add(w->router, "POST", "/v1/contracts/:id/hooks", h_hook, w, 0, e)) ||
        (err = phx_http_router_add(w->router, "POST", "/v1/contracts/:id/limits", h_limits, w, 0,
                                   e)) ||
        (err = phx_http_router_add(w->router, "GET", "/v1/jobs/:id/results", h_job_results, w, 0,
                                   e)) ||
        (err = phx_http_router_add(w->router, "GET", "/v1/attestation", h_attestation, w, 0, e)) ||
        (err = phx_http_router_add(w->router, "GET", "/v1/jobs/:id/observation",
                                   wk_round_observation, w, 0, e)) ||
        (err = phx_http_router_add(w->router, "GET", "/v1/jobs/:id/report", wk_round_report_get, w,
                                   0, e)) ||
        (err = phx_http_router_add(w->router, "GET", "/v1/identity", h_identity, w, 0, e)) ||
        (err = phx_http_router_add(w->router, "GET", "/healthz", h_health, w, 0, e)) ||
        (err = phx_http_router_add(w->router, "GET", "/metrics", h_metrics, w, 0, e)))
        return err;
    phx_http_server_opts_t so = {
        .host = o->host ? o->host : "127.0.0.1", .port = o->port, .max_body_bytes = 6u << 20};
    if ((err = phx_http_server_start(w->router, &so, &w->server, e))) return err;
    snprintf(w->url, sizeof w->url, "http://%s:%u", so.host, phx_http_server_port(w->server));
    /* Only now is a port 0 known. */
    char own[300];
    snprintf(own, sizeof own, "http://%s%s%s:%u/", strchr(so.host, ':') ? "[" : "", so.host,
             strchr(so.host, ':') ? "]" : "", phx_http_server_port(w->server));
    return wk_allowances_check(o, "own API", own, e);
}
