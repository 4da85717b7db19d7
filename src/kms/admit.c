/* Governance's side of KMS admission (DESIGN.md §2, docs/chain.md "Admitting a
 * KMS"): ask the KMS for a fresh quote over a nonce we choose, verify it
 * ourselves to the trusted root under the TCB policy, check it binds the KMS's
 * key in the KMS domain, and only then send Registry.admitKms with the quote
 * and the hash of the collateral it verified with, so anyone can re-check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phx/crypto.h"
#include "phx/kms_node.h"

phx_err_t phx_kms_admit(const phx_kms_admit_opts_t *o, phx_kms_admission_t *out, phx_error_t *e)
{
    uint8_t nonce[32], want_rd[64];
    char url[600], nonce_hex[67] = "0x";
    json_t *doc = NULL;
    char *coll_text = NULL;
    phx_buf_t quote = PHX_BUF_INIT;
    phx_kms_quote_info_t info;
    phx_chain_kms_t rec;
    phx_err_t err;
    memset(out, 0, sizeof *out);
    if (!o->kms_url || !o->governor || !o->rpc || !o->deployment || !o->verify_quote)
        return phx_fail(e, PHX_ERR_INVALID,
                        "admission needs a KMS URL, governor, chain and verifier");
    if (phx_random_bytes(nonce, sizeof nonce)) return phx_fail(e, PHX_ERR_CRYPTO, "nonce");
    phx_hex_encode_to(nonce_hex + 2, nonce, 32);
    snprintf(url, sizeof url, "%s/v1/attestation?nonce=%s", o->kms_url, nonce_hex);
    if ((err = phx_http_json("GET", url, NULL, o->http, NULL, &doc, e))) goto out;
    if ((err = phx_json_get_hex_fixed(doc, "kms_address", out->kms, 20, e)) ||
        (err = phx_json_get_hex_fixed(doc, "x25519_pub", out->x25519, 32, e)) ||
        (err = phx_json_get_hex(doc, "quote", &quote, e)))
        goto out;
    json_t *coll = json_object_get(doc, "collateral");
    if (!json_is_object(coll)) {
        err = phx_fail(e, PHX_ERR_INVALID,
                       "the KMS gave no collateral with its quote (real platforms: from PCS)");
        goto out;
    }
    /* The same text a KMS hashes when it vouches (an object, dumped compactly). */
    if (!(coll_text = phx_json_dump(coll, false))) {
        err = phx_fail(e, PHX_ERR_NOMEM, "collateral");
        goto out;
    }
    phx_keccak256((const uint8_t *)coll_text, strlen(coll_text), out->collateral_hash);
    if (o->expect_kms && memcmp(o->expect_kms, out->kms, 20) != 0) {
        err = phx_fail(e, PHX_ERR_VERIFY, "the KMS at %s is not the expected key", o->kms_url);
        goto out;
    }

    /* Our own verification: this is what the chain relies on. */
    int64_t now = o->now ? o->now : (int64_t)time(NULL);
    if ((err = o->verify_quote(o->verify_ctx, quote.ptr, quote.len, (const uint8_t *)coll_text,
                               strlen(coll_text), now, &info, e))) {
        phx_error_wrap(e, err, "the KMS's quote");
        goto out;
    }
    phx_chain_kms_report_data(out->kms, out->x25519, nonce, want_rd);
    if (!phx_ct_eq(want_rd, info.report_data, 64)) {
        err = phx_fail(e, PHX_ERR_VERIFY,
                       "the KMS's quote does not bind its key and our nonce in the KMS domain");
        goto out;
    }
    phx_kms_measurement_id(&info, out->measurement);
    snprintf(out->tcb_status, sizeof out->tcb_status, "%s", info.tcb_status);

    if ((err = phx_chain_kms_get(o->rpc, o->deployment, out->kms, &rec, e))) goto out;
    if (rec.status == PHX_CHAIN_KMS_ADMITTED) goto out; /* already in: nothing to send */
    if (rec.status == PHX_CHAIN_KMS_REVOKED) {
        err = phx_fail(e, PHX_ERR_POLICY, "this KMS key was revoked; it cannot be admitted again");
        goto out;
    }
    if ((err = phx_chain_admit_kms(o->governor, o->deployment, out->kms, out->x25519, nonce,
                                   quote.ptr, quote.len, out->collateral_hash, e)))
        goto out;
    out->admitted_now = true;
out:
    free(coll_text);
    phx_buf_free(&quote);
    json_decref(doc);
    return err;
}
