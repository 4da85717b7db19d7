/* libFuzzer target for what a phx.ai.chat receipt, or an endpoint's answer,
 * report and signature record, put before the checks (src/infer/verify.c):
 * the input is a JSON document as `phx infer verify --receipt` reads it (and as
 * the client assembles it from what an endpoint sent). The receipt is found
 * in it, then both halves of the check run on it (with its reply key when it
 * has one), and the report parsing of the chain link (src/infer/registry.c;
 * a deployment without an InferenceRegistry stops it before any chain read):
 * they must fail cleanly on anything malformed, never crash. The input is
 * also opened as an endpoint's sealed answer (phx.ai.chat's client). */
#include <string.h>

#include "phx/infer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static phx_attest_verifier_t *v;
    phx_error_t e = {0};
    if (!v && phx_attest_verifier_new(NULL, 0, &v, &e)) __builtin_trap();
    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!doc) return 0;
    const json_t *r = phx_infer_receipt_find(doc);
    if (r) {
        const json_t *rq = json_object_get(r, "request"), *rs = json_object_get(r, "response");
        uint8_t nonce[32] = {0};
        phx_infer_evidence_t ev = {.request = (const uint8_t *)json_string_value(rq),
                                   .request_len = json_string_length(rq),
                                   .response = (const uint8_t *)json_string_value(rs),
                                   .response_len = json_string_length(rs),
                                   .signature = r,
                                   .report = json_object_get(r, "report"),
                                   .nonce = nonce,
                                   .collateral = data,
                                   .collateral_len = size,
                                   .now = 1700000000};
        phx_attest_result_t ar;
        uint8_t rk[32];
        if (phx_infer_receipt_reply_key(r, rk)) ev.reply_key = rk;
        (void)phx_infer_verify(v, &ev, &ar, &e);
        (void)phx_infer_verify_answer(&ev, &e);
        (void)phx_infer_verify_report(v, &ev, &ar, &e);
        static const phx_chain_deployment_t none;
        (void)phx_infer_check_registered(NULL, &none, ev.report, false, NULL, &e);
    }
    static const uint8_t key[32];
    phx_buf_t plain = PHX_BUF_INIT;
    (void)phx_infer_open_reply(key, data, size, &plain, &e);
    phx_buf_free(&plain);
    json_decref(doc);
    return 0;
}
