/* The whole chain of trust behind a result (DESIGN.md §2), as `phx verify`
 * checks it: the signature, the signer's registration on chain, the quote it
 * registered with (the Registry emits it whole; its hash is on record), that
 * quote's verification to the trusted root, its binding of the signer's keys,
 * the measurement still being allowed, and then the same for the KMS that
 * vouched for the worker: admitted (not revoked), its admission quote (from
 * KmsAdmitted) verifying to the root and binding its key in the KMS domain.
 * Nothing is taken from the worker or the KMS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phx/crypto.h"
#include "phx/worker.h"

/* The registration event (WorkerRegistered, or KmsAdmitted) for key whose
 * quote hashes to quote_hash: the quote, the nonce and the X25519 key it was
 * recorded with. */
static phx_err_t find_registration(const phx_result_check_t *c, const char *event,
                                   const uint8_t worker[20], const uint8_t quote_hash[32],
                                   phx_buf_t *quote, uint8_t nonce[32], uint8_t x25519[32],
                                   phx_error_t *e)
{
    uint8_t topic0[32], topic1[32] = {0}, head_addr[1][20];
    uint64_t head;
    phx_evm_log_t *logs = NULL;
    size_t count = 0;
    phx_err_t err;
    if ((err = phx_abi_event_topic(event, topic0, e))) return err;
    memcpy(topic1 + 12, worker, 20);
    memcpy(head_addr[0], c->deployment->registry, 20);
    if ((err = phx_rpc_block_number(c->rpc, &head, e))) return err;
    const uint8_t(*t0)[32] = (const uint8_t(*)[32])topic0;
    const uint8_t(*t1)[32] = (const uint8_t(*)[32])topic1;
    phx_evm_filter_t f = {.from_block = 0,
                          .to_block = head,
                          .addresses = (const uint8_t(*)[20])head_addr,
                          .address_count = 1,
                          .topic_sets = {t0, t1},
                          .topic_counts = {1, 1}};
    if ((err = phx_rpc_get_logs(c->rpc, &f, &logs, &count, e))) return err;
    err = phx_fail(e, PHX_ERR_VERIFY, "no %.*s event carries the recorded quote",
                   (int)strcspn(event, "("), event);
    for (size_t i = 0; i < count && err; i++) {
        json_t *ev = NULL;
        uint8_t h[32];
        if (logs[i].removed) continue;
        if (phx_abi_decode_log_json(event, false, &logs[i], &ev, NULL)) continue;
        phx_buf_reset(quote);
        if (!phx_json_get_hex(ev, "quote", quote, NULL) &&
            !phx_json_get_hex_fixed(ev, "nonce", nonce, 32, NULL) &&
            !phx_json_get_hex_fixed(ev, "x25519", x25519, 32, NULL)) {
            phx_keccak256(quote->ptr, quote->len, h);
            if (memcmp(h, quote_hash, 32) == 0) err = PHX_OK;
        }
        json_decref(ev);
    }
    if (!err && e) memset(e, 0, sizeof *e);
    for (size_t i = 0; i < count; i++)
        phx_evm_log_clear(&logs[i]);
    free(logs);
    return err;
}

static phx_err_t measurement_allowed(const phx_result_check_t *c, const uint8_t mr[32], bool *out,
                                     phx_error_t *e)
{
    json_t *args = json_pack("[o]", phx_json_hex(mr, 32)), *ret = NULL;
    phx_err_t err = phx_chain_read(c->rpc, c->deployment->registry, "measurementAllowed(bytes32)",
                                   args, "(bool)", &ret, e);
    if (!err) *out = json_is_true(json_array_get(ret, 0));
    json_decref(ret);
    json_decref(args);
    return err;
}

/* The KMS that vouched for a worker: admitted by governance or a quorum and
 * not revoked, and the quote on record for its admission verifies to the
 * trusted root, binds its key in the KMS domain, and shows the measurement the
 * Registry recorded, still allowed. */
static phx_err_t check_kms(const phx_result_check_t *c, const uint8_t kms[20], int64_t now,
                           phx_result_report_t *rep, phx_error_t *e)
{
    phx_chain_kms_t rec;
    phx_buf_t quote = PHX_BUF_INIT;
    phx_attest_result_t *ar = NULL;
    uint8_t nonce[32], x25519[32], want_rd[64], chain_mr[32], chain_rd[64];
    uint32_t tee_type;
    char addr[43];
    phx_err_t err;
    phx_eth_address_checksum(kms, addr);
    if ((err = phx_chain_kms_get(c->rpc, c->deployment, kms, &rec, e))) return err;
    memcpy(rep->kms_admitted_by, rec.admitted_by, 20);
    if (rec.status == PHX_CHAIN_KMS_NONE)
        return phx_fail(e, PHX_ERR_VERIFY,
                        "the KMS %s that admitted the worker was never admitted itself", addr);
    if (rec.status != PHX_CHAIN_KMS_ADMITTED)
        return phx_fail(e, PHX_ERR_VERIFY, "the KMS %s that admitted the worker was revoked", addr);
    if ((err = find_registration(c, PHX_CHAIN_EV_KMS_ADMITTED, kms, rec.quote_hash, &quote, nonce,
                                 x25519, e)))
        goto out;
    if (!(ar = calloc(1, sizeof *ar))) {
        err = phx_fail(e, PHX_ERR_NOMEM, "attest result");
        goto out;
    }
    const uint8_t *coll = c->kms_collateral ? c->kms_collateral : c->collateral;
    size_t coll_len = c->kms_collateral ? c->kms_collateral_len : c->collateral_len;
    if ((err = phx_attest_verify(c->verifier, quote.ptr, quote.len, coll, coll_len, now, c->policy,
                                 ar, e))) {
        phx_error_wrap(e, err, "the quote the KMS %s was admitted with", addr);
        goto out;
    }
    const uint8_t *rd =
        ar->report_type == PHX_REPORT_SGX ? ar->sgx.report_data : ar->td.report_data;
    phx_chain_kms_report_data(kms, x25519, nonce, want_rd);
    if (!phx_ct_eq(rd, want_rd, 64) || memcmp(x25519, rec.x25519, 32) != 0) {
        err =
            phx_fail(e, PHX_ERR_VERIFY,
                     "the KMS %s's admission quote does not bind its key in the KMS domain", addr);
        goto out;
    }
    if ((err = phx_chain_quote_fields(quote.ptr, quote.len, &tee_type, chain_mr, chain_rd, e)))
        goto out;
    if (memcmp(chain_mr, rec.measurement, 32) != 0) {
        err = phx_fail(e, PHX_ERR_VERIFY,
                       "the KMS %s's admission quote does not show its recorded measurement", addr);
        goto out;
    }
    bool allowed = false;
    if ((err = measurement_allowed(c, rec.measurement, &allowed, e))) goto out;
    if (!allowed) {
        err = phx_fail(e, PHX_ERR_VERIFY, "the KMS %s's measurement is no longer allowed", addr);
        goto out;
    }
out:
    free(ar);
    phx_buf_free(&quote);
    return err;
}

phx_err_t phx_result_verify_chain(const phx_result_t *r, const phx_result_check_t *c,
                                  phx_result_report_t *rep, phx_error_t *e)
{
    phx_buf_t quote = PHX_BUF_INIT;
    phx_attest_result_t *ar = NULL;
    uint8_t nonce[32], x25519[32], want_rd[64], chain_mr[32], chain_rd[64];
    uint32_t tee_type;
    phx_chain_worker_t w;
    phx_err_t err;
    memset(rep, 0, sizeof *rep);

    if ((err = phx_result_verify(r, e))) return err;
    rep->signature = true;

    if (r->chain_id != c->deployment->chain_id || memcmp(r->jobs, c->deployment->jobs, 20) != 0)
        return phx_fail(e, PHX_ERR_VERIFY, "result is for another chain or Jobs contract");
    if (r->kind == PHX_RESULT_JOB) {
        /* An on-chain job's result must be for the contract and code the
         * request named. */
        static const uint8_t zero[24] = {0};
        uint64_t id = 0;
        phx_chain_request_t req;
        if (memcmp(r->request_id, zero, 24) != 0)
            return phx_fail(e, PHX_ERR_VERIFY, "request id beyond what Jobs issues");
        for (int i = 24; i < 32; i++)
            id = id << 8 | r->request_id[i];
        if ((err = phx_chain_request_get(c->rpc, c->deployment, id, &req, e))) return err;
        if (req.status == PHX_CHAIN_REQ_NONE)
            return phx_fail(e, PHX_ERR_VERIFY, "no request %llu on chain", (unsigned long long)id);
        if (memcmp(req.contract_id, r->contract_id, 32) != 0 ||
            memcmp(req.code_hash, r->code_hash, 32) != 0)
            return phx_fail(e, PHX_ERR_VERIFY, "request %llu names another contract or code",
                            (unsigned long long)id);
    }
    rep->deployment = true;

    if ((err = phx_chain_worker_get(c->rpc, c->deployment, r->worker, &w, e))) return err;
    if (w.status != PHX_CHAIN_WORKER_ACTIVE)
        return phx_fail(e, PHX_ERR_VERIFY, "signer is not an active registered worker (status %u)",
                        (unsigned)w.status);
    memcpy(rep->operator_, w.operator_, 20);
    memcpy(rep->measurement_id, w.measurement, 32);
    rep->registered = true;

    if ((err = find_registration(c, PHX_CHAIN_EV_WORKER_REGISTERED, r->worker, w.quote_hash, &quote,
                                 nonce, x25519, e)))
        goto out;
    if (!(ar = calloc(1, sizeof *ar))) {
        err = phx_fail(e, PHX_ERR_NOMEM, "attest result");
        goto out;
    }
    int64_t now = c->now ? c->now : (int64_t)time(NULL);
    uint32_t kind = PHX_QUOTE_TEE_TDX;
    bool sgx =
        !phx_tee_quote_tee_type(quote.ptr, quote.len, &kind, NULL) && kind == PHX_QUOTE_TEE_SGX;
    const uint8_t *coll = sgx && c->collateral_sgx ? c->collateral_sgx : c->collateral;
    size_t coll_len = sgx && c->collateral_sgx ? c->collateral_sgx_len : c->collateral_len;
    if ((err = phx_attest_verify(c->verifier, quote.ptr, quote.len, coll, coll_len, now, c->policy,
                                 ar, e))) {
        phx_error_wrap(e, err, "worker's quote");
        goto out;
    }
    snprintf(rep->tcb_status, sizeof rep->tcb_status, "%s", phx_tcb_status_name(ar->status));
    snprintf(rep->tee, sizeof rep->tee, "%s", ar->report_type == PHX_REPORT_SGX ? "sgx" : "tdx");
    rep->quote_version = (unsigned)quote.ptr[0] | (unsigned)quote.ptr[1] << 8; /* le16 */
    rep->quote = true;

    /* The verified quote must say what the chain recorded: same report data
     * binding, same key, same measurement. */
    const uint8_t *rd =
        ar->report_type == PHX_REPORT_SGX ? ar->sgx.report_data : ar->td.report_data;
    phx_chain_report_data(r->worker, x25519, nonce, want_rd);
    if (!phx_ct_eq(rd, want_rd, 64) || memcmp(x25519, w.x25519, 32) != 0) {
        err =
            phx_fail(e, PHX_ERR_VERIFY, "the quote's report data does not bind the worker's keys");
        goto out;
    }
    if ((err = phx_chain_quote_fields(quote.ptr, quote.len, &tee_type, chain_mr, chain_rd, e)))
        goto out;
    if (memcmp(chain_mr, w.measurement, 32) != 0 || memcmp(chain_rd, rd, 64) != 0) {
        err = phx_fail(e, PHX_ERR_VERIFY, "the quote does not match the registered measurement");
        goto out;
    }
    rep->binding = true;

    bool allowed = false;
    if ((err = measurement_allowed(c, w.measurement, &allowed, e))) goto out;
    if (!allowed) {
        err = phx_fail(e, PHX_ERR_VERIFY, "the worker's measurement is no longer allowed");
        goto out;
    }
    rep->measurement = true;

    memcpy(rep->kms_address, w.kms, 20);
    if ((err = check_kms(c, w.kms, now, rep, e))) goto out;
    rep->kms = true;
out:
    free(ar);
    phx_buf_free(&quote);
    return err;
}
