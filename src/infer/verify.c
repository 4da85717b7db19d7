/* Checking a saved phx infer answer (`phx infer verify`): the signed text
 * names the exact request and response bytes, the signature is the
 * endpoint's key, the report's quote verifies to the trusted root, its report
 * data binds that key, the other keys and the model's hash, and the model and
 * nonce are the ones the client expects. Needs no llama.cpp. */
#include <string.h>

#include "phx/crypto.h"
#include "phx/infer.h"

void phx_infer_report_data(const uint8_t address[20], const uint8_t ed25519_pub[32],
                           const uint8_t x25519_pub[32], const uint8_t model_sha256[32],
                           const uint8_t nonce[32], uint8_t report_data[64])
{
    uint8_t pre[12 + 20 + 32 + 32 + 32];
    memcpy(pre, "phx-infer-v1", 12);
    memcpy(pre + 12, address, 20);
    memcpy(pre + 32, ed25519_pub, 32);
    memcpy(pre + 64, x25519_pub, 32);
    memcpy(pre + 96, model_sha256, 32);
    phx_sha256(pre, sizeof pre, report_data);
    memcpy(report_data + 32, nonce, 32);
}

static phx_err_t hex_field(const json_t *o, const char *key, uint8_t *out, size_t n, phx_error_t *e)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) return phx_fail(e, PHX_ERR_INVALID, "report: no '%s'", key);
    phx_error_t he = {0};
    if (phx_hex_decode_fixed(json_string_value(v), out, n, &he))
        return phx_fail(e, PHX_ERR_INVALID, "report: '%s' is not %zu bytes of hex", key, n);
    return PHX_OK;
}

phx_err_t phx_infer_verify_answer(const phx_infer_evidence_t *ev, phx_error_t *e)
{
    const json_t *sig = ev->signature, *rep = ev->report;
    const char *text = json_string_value(json_object_get(sig, "text"));
    const char *sighex = json_string_value(json_object_get(sig, "signature"));
    const char *algo = json_string_value(json_object_get(sig, "signing_algo"));
    if (!text || !sighex || !algo)
        return phx_fail(e, PHX_ERR_INVALID, "signature: needs text, signature and signing_algo");
    /* 1. The signed text names exactly these bytes. */
    uint8_t h[32];
    char want[130];
    phx_sha256(ev->request, ev->request_len, h);
    phx_hex_encode_to(want, h, 32);
    want[64] = ':';
    phx_sha256(ev->response, ev->response_len, h);
    phx_hex_encode_to(want + 65, h, 32);
    if (strcmp(text, want) != 0)
        return phx_fail(e, PHX_ERR_VERIFY,
                        "the signed text is not sha256(request):sha256(response) of these files");
    /* 2. The signature is the report's key. */
    uint8_t addr[20], ed[32];
    phx_err_t err;
    if ((err = hex_field(rep, "ecdsa_address", addr, 20, e)) ||
        (err = hex_field(rep, "ed25519_public_key", ed, 32, e)))
        return err;
    phx_buf_t sb = PHX_BUF_INIT;
    phx_error_t he = {0};
    if (phx_hex_decode(sighex, &sb, &he)) {
        phx_buf_free(&sb);
        return phx_fail(e, PHX_ERR_INVALID, "signature: not hex");
    }
    if (strcmp(algo, "ecdsa") == 0) {
        uint8_t got[20];
        err = sb.len != 65 || phx_eip191_recover(text, strlen(text), sb.ptr, got) ||
                      memcmp(got, addr, 20) != 0
                  ? phx_fail(e, PHX_ERR_VERIFY,
                             "the ECDSA signature is not the attested endpoint's key")
                  : PHX_OK;
    } else if (strcmp(algo, "ed25519") == 0) {
        err = sb.len != 64 || phx_ed25519_verify(ed, text, strlen(text), sb.ptr)
                  ? phx_fail(e, PHX_ERR_VERIFY,
                             "the Ed25519 signature is not the attested endpoint's key")
                  : PHX_OK;
    } else {
        err = phx_fail(e, PHX_ERR_INVALID, "signature: unknown signing_algo");
    }
    phx_buf_free(&sb);
    return err;
}

phx_err_t phx_infer_verify(phx_attest_verifier_t *v, const phx_infer_evidence_t *ev,
                           phx_attest_result_t *ar, phx_error_t *e)
{
    memset(ar, 0, sizeof *ar);
    phx_err_t err = phx_infer_verify_answer(ev, e);
    if (!err && ev->reply_key) {
        /* 1b. A sealed answer opens with the receipt's reply key: the
         * answer it holds is the one the endpoint signed. */
        phx_buf_t plain = PHX_BUF_INIT;
        plain.secret = true;
        err = phx_infer_open_reply(ev->reply_key, ev->response, ev->response_len, &plain, e);
        phx_buf_free(&plain);
        if (err) return phx_error_wrap(e, PHX_ERR_VERIFY, "the receipt's reply key");
    }
    return err ? err : phx_infer_verify_report(v, ev, ar, e);
}

phx_err_t phx_infer_verify_report(phx_attest_verifier_t *v, const phx_infer_evidence_t *ev,
                                  phx_attest_result_t *ar, phx_error_t *e)
{
    memset(ar, 0, sizeof *ar);
    const json_t *rep = ev->report;
    phx_err_t err;
    uint8_t addr[20], ed[32], x[32], model[32], nonce[32], rd[64];
    if ((err = hex_field(rep, "ecdsa_address", addr, 20, e)) ||
        (err = hex_field(rep, "ed25519_public_key", ed, 32, e)) ||
        (err = hex_field(rep, "e2ee_public_key", x, 32, e)) ||
        (err = hex_field(rep, "model_sha256", model, 32, e)) ||
        (err = hex_field(rep, "request_nonce", nonce, 32, e)))
        return err;
    phx_error_t he = {0};
    /* 3. The quote verifies to the trusted root. */
    const char *qhex = json_string_value(json_object_get(rep, "intel_quote"));
    if (!qhex) return phx_fail(e, PHX_ERR_INVALID, "report: no intel_quote");
    phx_buf_t quote = PHX_BUF_INIT;
    if (phx_hex_decode(qhex, &quote, &he)) {
        phx_buf_free(&quote);
        return phx_fail(e, PHX_ERR_INVALID, "report: intel_quote is not hex");
    }
    err = phx_attest_verify(v, quote.ptr, quote.len, ev->collateral, ev->collateral_len, ev->now,
                            NULL, ar, e);
    phx_buf_free(&quote);
    if (err) return phx_error_wrap(e, err, "the quote");
    /* 4. Its report data binds the keys, the model and the nonce. */
    phx_infer_report_data(addr, ed, x, model, nonce, rd);
    const uint8_t *qrd =
        ar->report_type == PHX_REPORT_SGX ? ar->sgx.report_data : ar->td.report_data;
    if (memcmp(qrd, rd, 64) != 0)
        return phx_fail(e, PHX_ERR_VERIFY,
                        "the quote's report data does not bind the report's keys, model and nonce");
    /* 5. The model and the nonce are the ones the client expects. */
    if (ev->model_sha256 && memcmp(ev->model_sha256, model, 32) != 0)
        return phx_fail(e, PHX_ERR_VERIFY, "the endpoint attests another model (sha256 differs)");
    if (ev->nonce && memcmp(ev->nonce, nonce, 32) != 0)
        return phx_fail(e, PHX_ERR_VERIFY, "the report answers another nonce (not fresh)");
    return PHX_OK;
}

static const json_t *receipt_find(const json_t *j, int depth)
{
    if (depth > 32) return NULL;
    if (json_is_object(j)) {
        if (json_is_string(json_object_get(j, "request")) &&
            json_is_string(json_object_get(j, "response")) &&
            json_is_string(json_object_get(j, "signature")) &&
            json_is_object(json_object_get(j, "report")))
            return j;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            const json_t *r = receipt_find(v, depth + 1);
            if (r) return r;
        }
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            const json_t *r = receipt_find(json_array_get(j, i), depth + 1);
            if (r) return r;
        }
    }
    return NULL;
}

const json_t *phx_infer_receipt_find(const json_t *doc)
{
    return receipt_find(doc, 0);
}

bool phx_infer_receipt_reply_key(const json_t *receipt, uint8_t out[32])
{
    const char *k = json_string_value(json_object_get(receipt, "reply_key"));
    phx_error_t he = {0};
    return k && !phx_hex_decode_fixed(k, out, 32, &he);
}
