/* The client side of sealed requests (docs/infer.md, "Sealed requests"): seal
 * an OpenAI request body with HPKE to an endpoint's attested X25519 key, and
 * open the sealed answer, or one sealed stream event, with the reply key the
 * HPKE context exports. The endpoint's side is in daemon.c. Needs no
 * llama.cpp: phx.ai.chat's client and `phx infer verify` use it. */
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/infer.h"

phx_err_t phx_infer_seal_request(const uint8_t x25519_pub[32], const uint8_t model_sha256[32],
                                 const void *plain, size_t len, phx_buf_t *body,
                                 uint8_t reply_key[32], phx_error_t *e)
{
    uint8_t info[sizeof PHX_INFER_SEAL_INFO - 1 + 32], enc[32];
    memcpy(info, PHX_INFER_SEAL_INFO, sizeof PHX_INFER_SEAL_INFO - 1);
    memcpy(info + sizeof PHX_INFER_SEAL_INFO - 1, model_sha256, 32);
    phx_hpke_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    uint8_t *ct = malloc(len + PHX_AEAD_TAG_LEN);
    phx_err_t err = ct ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "sealing the request");
    if (!err && (phx_hpke_setup_sender(&ctx, PHX_HPKE_MODE_BASE, PHX_HPKE_AEAD_CHACHA20POLY1305,
                                       x25519_pub, info, sizeof info, NULL, NULL, enc) ||
                 phx_hpke_ctx_seal(&ctx, NULL, 0, plain, len, ct) ||
                 phx_hpke_ctx_export(&ctx, PHX_INFER_REPLY_LABEL, sizeof PHX_INFER_REPLY_LABEL - 1,
                                     reply_key, 32)))
        err = phx_fail(e, PHX_ERR_CRYPTO, "sealing the request to the endpoint's key");
    phx_hpke_ctx_clear(&ctx);
    if (!err) {
        json_t *w = json_pack("{s:{s:o,s:o}}", "sealed", "enc", phx_json_hex(enc, 32), "ciphertext",
                              phx_json_hex(ct, len + PHX_AEAD_TAG_LEN));
        char *s = w ? phx_json_dump(w, false) : NULL;
        json_decref(w);
        if (!s || phx_buf_append_str(body, s)) err = phx_fail(e, PHX_ERR_NOMEM, "sealed request");
        free(s);
    }
    if (err) phx_secure_zero(reply_key, 32);
    free(ct);
    return err;
}

phx_err_t phx_infer_open_reply(const uint8_t reply_key[32], const void *body, size_t len,
                               phx_buf_t *plain, phx_error_t *e)
{
    json_t *root = NULL;
    phx_error_t pe = {0};
    if (phx_json_parse(body, len, &root, &pe))
        return phx_fail(e, PHX_ERR_INVALID, "the sealed answer is not JSON");
    const char *id = json_string_value(json_object_get(root, "id"));
    const json_t *env = json_object_get(root, "sealed");
    uint8_t nonce[12];
    phx_buf_t ct = PHX_BUF_INIT;
    phx_err_t err = PHX_OK;
    if (!id || !json_is_object(env) || phx_json_get_hex_fixed(env, "nonce", nonce, 12, &pe) ||
        phx_json_get_hex(env, "ciphertext", &ct, &pe) || ct.len < PHX_AEAD_TAG_LEN)
        err = phx_fail(e, PHX_ERR_INVALID,
                       "the answer is not sealed ({id, sealed: {nonce, ciphertext}})");
    size_t n = ct.len - PHX_AEAD_TAG_LEN;
    if (!err && phx_buf_reserve(plain, n + 1)) err = phx_fail(e, PHX_ERR_NOMEM, "sealed answer");
    if (!err && phx_aead_open(PHX_AEAD_CHACHA20_POLY1305, reply_key, nonce, sizeof nonce, id,
                              strlen(id), ct.ptr, ct.len, plain->ptr + plain->len))
        err = phx_fail(e, PHX_ERR_VERIFY, "the sealed answer does not open with the reply key");
    if (!err) {
        plain->len += n;
        plain->ptr[plain->len] = 0;
    }
    phx_buf_free(&ct);
    json_decref(root);
    return err;
}
