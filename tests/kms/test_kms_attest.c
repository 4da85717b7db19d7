/* The KMS's attestation checks against real Intel DCAP quotes and collateral
 * from the shared test vectors: the attest seam reads the measurement the way
 * the Registry does, the allowlist seam refuses unknown measurements, and a
 * genuine quote that does not bind the requester's keys, or a tampered quote,
 * gets no keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/chain.h"
#include "phx/crypto.h"
#include "phx/kms.h"
#include "test.h"

static int64_t vector_now;
static int64_t now_at_vector(void)
{
    return vector_now;
}

static bool load(const char *rel, phx_buf_t *out)
{
    char rel_path[512];
    snprintf(rel_path, sizeof rel_path, "dcap/%s", rel);
    const char *p = test_data_path(rel_path);
    return p && phx_file_read(p, out, NULL) == PHX_OK;
}

/* keccak256 of the expected report's registers, from expected.json's hex:
 * independent of our quote parser. */
static bool expected_measurement(const json_t *report, uint8_t id[32])
{
    phx_buf_t m = PHX_BUF_INIT;
    const char *keys_td[] = {"mr_td", "rt_mr0", "rt_mr1", "rt_mr2", "rt_mr3"};
    const char *keys_sgx[] = {"mr_enclave", "mr_signer"};
    bool sgx = strcmp(json_string_value(json_object_get(report, "type")), "sgx") == 0;
    const char **keys = sgx ? keys_sgx : keys_td;
    size_t n = sgx ? 2 : 5;
    for (size_t i = 0; i < n; i++)
        if (phx_json_get_hex(report, keys[i], &m, NULL)) {
            phx_buf_free(&m);
            return false;
        }
    phx_keccak256(m.ptr, m.len, id);
    phx_buf_free(&m);
    return true;
}

static void run_case(const json_t *c, phx_attest_verifier_t *verifier, int *cases)
{
    phx_error_t e = {0};
    const char *name = json_string_value(json_object_get(c, "name"));
    phx_buf_t quote = PHX_BUF_INIT, coll = PHX_BUF_INIT;
    if (!load(json_string_value(json_object_get(c, "quote")), &quote) ||
        !load(json_string_value(json_object_get(c, "collateral")), &coll)) {
        phx_buf_free(&quote);
        phx_buf_free(&coll);
        return;
    }
    vector_now = json_integer_value(json_object_get(c, "now"));
    phx_attest_policy_t policy = phx_attest_policy_permissive();
    phx_kms_attest_t at = {verifier, &policy};

    /* The attest seam: report data and the Registry's measurement id. */
    phx_kms_quote_info_t info;
    CHECK_MSG(phx_kms_verify_quote_attest(&at, quote.ptr, quote.len, coll.ptr, coll.len, vector_now,
                                          &info, &e) == PHX_OK,
              "%s: %s", name, e.message);
    const json_t *report = json_object_get(c, "report");
    uint8_t want_id[32], got_id[32], want_rd[64];
    CHECK(expected_measurement(report, want_id));
    phx_kms_measurement_id(&info, got_id);
    CHECK_MSG(memcmp(want_id, got_id, 32) == 0, "%s: measurement id", name);
    CHECK(phx_json_get_hex_fixed(report, "report_data", want_rd, 64, NULL) == PHX_OK);
    CHECK(memcmp(want_rd, info.report_data, 64) == 0);
    const char *status =
        json_string_value(json_object_get(json_object_get(c, "expected"), "status"));
    CHECK_MSG(status && strcmp(status, info.tcb_status) == 0, "%s: %s vs %s", name, status,
              info.tcb_status);

    /* The chain's own fixed-offset reader (what Registry.parseQuote does)
     * sees the same measurement and report data as the full verifier. */
    uint32_t chain_tee;
    uint8_t chain_mr[32], chain_rd[64];
    CHECK(phx_chain_quote_fields(quote.ptr, quote.len, &chain_tee, chain_mr, chain_rd, &e) ==
          PHX_OK);
    CHECK(chain_tee == info.tee_type && memcmp(chain_mr, got_id, 32) == 0);
    CHECK(memcmp(chain_rd, info.report_data, 64) == 0);

    /* The allowlist seam: listed passes, unlisted is a policy refusal. */
    phx_kms_peer_t peer = {.quote = &info};
    uint8_t other[1][32] = {{1}};
    phx_kms_allowlist_t allow = {(const uint8_t(*)[32]) & want_id, 1}, deny = {other, 1};
    CHECK(phx_kms_allowlist_check(&allow, PHX_KMS_ROLE_WORKER, &peer, &e) == PHX_OK);
    CHECK(phx_kms_allowlist_check(&deny, PHX_KMS_ROLE_WORKER, &peer, &e) == PHX_ERR_POLICY);
    CHECK(strstr(e.message, "not on the allowlist") != NULL);

    /* Through the KMS: a genuine quote whose report data binds someone else's
     * keys gets nothing, even with its measurement allowed. */
    uint8_t root[32];
    CHECK(phx_random_bytes(root, 32) == PHX_OK);
    phx_kms_config_t cfg = {.verify_quote = phx_kms_verify_quote_attest,
                            .verify_ctx = &at,
                            .check_peer = phx_kms_allowlist_check,
                            .check_ctx = &allow,
                            .now_fn = now_at_vector};
    memcpy(cfg.root, root, 32);
    phx_kms_t *k = NULL;
    CHECK(phx_kms_new(&cfg, &k, &e) == PHX_OK);
    uint8_t nonce[32], xsk[32], xpub[32];
    int64_t exp;
    CHECK(phx_x25519_keygen(xsk, xpub) == PHX_OK);
    json_t *coll_json = NULL;
    CHECK(phx_json_parse((const char *)coll.ptr, coll.len, &coll_json, &e) == PHX_OK);
    for (int variant = 0; variant < 2; variant++) {
        CHECK(phx_kms_nonce_issue(k, want_rd, nonce, &exp, &e) == PHX_OK);
        phx_buf_t q = PHX_BUF_INIT;
        phx_buf_append(&q, quote.ptr, quote.len);
        /* variant 1: flip one bit of the signed TD/enclave report. */
        if (variant == 1) q.ptr[48 + 100] ^= 0x01;
        json_t *req =
            json_pack("{s:o,s:O,s:o,s:o,s:o}", "quote", phx_json_hex(q.ptr, q.len), "collateral",
                      coll_json, "eth_address", phx_json_hex(want_rd, 20), "x25519_pub",
                      phx_json_hex(xpub, 32), "nonce", phx_json_hex(nonce, 32));
        json_t *resp = NULL;
        memset(&e, 0, sizeof e);
        phx_err_t err = phx_kms_release(k, PHX_KMS_ROLE_WORKER, req, &resp, &e);
        CHECK_MSG(err == PHX_ERR_VERIFY && resp == NULL, "%s variant %d: %d", name, variant, err);
        if (variant == 0)
            CHECK_MSG(strstr(e.message, "report data does not bind") != NULL, "%s", e.message);
        else
            CHECK_MSG(strncmp(e.message, "quote", 5) == 0, "%s", e.message);
        /* Registration signatures are refused the same way. */
        CHECK(phx_kms_nonce_issue(k, want_rd, nonce, &exp, &e) == PHX_OK);
        json_object_set_new(req, "nonce", phx_json_hex(nonce, 32));
        json_object_set_new(req, "operator", phx_json_hex(want_rd + 20, 20));
        CHECK(phx_kms_sign_registration(k, req, &resp, &e) == PHX_ERR_VERIFY && resp == NULL);
        json_decref(req);
        phx_buf_free(&q);
    }
    json_decref(coll_json);
    phx_kms_free(k);
    phx_buf_free(&quote);
    phx_buf_free(&coll);
    (*cases)++;
    printf("  %s (%s): attested fields match, binding and tamper refusals hold\n", name,
           info.tcb_status);
}

int main(void)
{
    if (phx_crypto_init()) return 1;
    const char *path = test_data_path("dcap/expected.json");
    if (!path) return test_done("test_kms_attest");
    json_t *all = NULL;
    phx_error_t e = {0};
    CHECK(phx_json_load_file(path, &all, &e) == PHX_OK);
    phx_attest_verifier_t *verifier = NULL;
    CHECK(phx_attest_verifier_new(NULL, 0, &verifier, &e) == PHX_OK);
    int cases = 0;
    size_t i;
    json_t *c;
    printf("%s:\n", path);
    json_array_foreach(json_object_get(all, "cases"), i, c)
    {
        /* Genuine, accepted pairs at their own time: the ones a KMS would take. */
        if (!json_is_true(json_object_get(json_object_get(c, "expected"), "ok"))) continue;
        if (json_is_true(json_object_get(c, "derived_time_case"))) continue;
        run_case(c, verifier, &cases);
    }
    printf("dcap vectors through the KMS: %d cases\n", cases);
    CHECK(cases >= 5);
    phx_attest_verifier_free(verifier);
    json_decref(all);
    return test_done("test_kms_attest");
}
