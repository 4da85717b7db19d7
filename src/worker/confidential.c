/* Confidential inputs, secrets and replies (include/phx/worker.h): HPKE to the
 * contract's key for the way in, a key exported from the same HPKE context for
 * the way back, so a client that encrypted its input is the only one who can
 * read the output, and the worker needs no key of the client's. */
#include <string.h>

#include "phx/crypto.h"
#include "phx/worker.h"

static const char reply_label[] = "phx-reply-v1";

static phx_err_t make_info(const char *label, const uint8_t contract_id[32], uint8_t *info,
                           size_t cap, size_t *len, phx_error_t *e)
{
    size_t n = strlen(label);
    if (n == 0 || n + 32 > cap) return phx_fail(e, PHX_ERR_INVALID, "bad seal label");
    memcpy(info, label, n);
    memcpy(info + n, contract_id, 32);
    *len = n + 32;
    return PHX_OK;
}

/* aad binds what the info does not: the code hash, for secrets. */
static phx_err_t seal_aad(const char *label, const uint8_t contract_pub[32],
                          const uint8_t contract_id[32], const uint8_t *aad, size_t aad_len,
                          const void *plaintext, size_t len, json_t **sealed, uint8_t reply_key[32],
                          phx_error_t *e)
{
    uint8_t info[96], enc[32];
    size_t info_len;
    phx_hpke_ctx_t ctx;
    phx_buf_t ct = PHX_BUF_INIT;
    phx_err_t err;
    *sealed = NULL;
    if (len > PHX_SEAL_MAX_BYTES)
        return phx_fail(e, PHX_ERR_LIMIT, "plaintext over %u bytes", PHX_SEAL_MAX_BYTES);
    if ((err = make_info(label, contract_id, info, sizeof info, &info_len, e))) return err;
    if (phx_hpke_setup_sender(&ctx, PHX_HPKE_MODE_BASE, PHX_HPKE_AEAD_CHACHA20POLY1305,
                              contract_pub, info, info_len, NULL, NULL, enc))
        return phx_fail(e, PHX_ERR_CRYPTO, "HPKE setup to the contract key failed");
    if ((err = phx_buf_reserve(&ct, len + PHX_AEAD_TAG_LEN))) {
        phx_fail(e, err, "ciphertext");
        goto out;
    }
    if (phx_hpke_ctx_seal(&ctx, aad, aad_len, plaintext, len, ct.ptr)) {
        err = phx_fail(e, PHX_ERR_CRYPTO, "HPKE seal");
        goto out;
    }
    ct.len = len + PHX_AEAD_TAG_LEN;
    if (reply_key &&
        phx_hpke_ctx_export(&ctx, reply_label, sizeof reply_label - 1, reply_key, 32)) {
        err = phx_fail(e, PHX_ERR_CRYPTO, "HPKE export");
        goto out;
    }
    *sealed = json_pack("{s:o,s:o}", "enc", phx_json_hex(enc, 32), "ciphertext",
                        phx_json_hex(ct.ptr, ct.len));
    if (!*sealed) err = phx_fail(e, PHX_ERR_NOMEM, "sealed JSON");
out:
    phx_hpke_ctx_clear(&ctx);
    phx_buf_free(&ct);
    return err;
}

phx_err_t phx_confidential_seal(const char *label, const uint8_t contract_pub[32],
                                const uint8_t contract_id[32], const void *plaintext, size_t len,
                                json_t **sealed, uint8_t reply_key[32], phx_error_t *e)
{
    return seal_aad(label, contract_pub, contract_id, NULL, 0, plaintext, len, sealed, reply_key,
                    e);
}

phx_err_t phx_confidential_seal_secrets(const uint8_t contract_pub[32],
                                        const uint8_t contract_id[32], const uint8_t code_hash[32],
                                        const void *plaintext, size_t len, json_t **sealed,
                                        phx_error_t *e)
{
    return seal_aad(PHX_SEAL_SECRET, contract_pub, contract_id, code_hash, 32, plaintext, len,
                    sealed, NULL, e);
}

static phx_err_t open_aad(const char *label, const uint8_t contract_sk[32],
                          const uint8_t contract_id[32], const uint8_t *aad, size_t aad_len,
                          const json_t *sealed, phx_buf_t *out, uint8_t reply_key[32],
                          phx_error_t *e)
{
    uint8_t info[96], enc[32];
    size_t info_len;
    phx_hpke_ctx_t ctx;
    phx_buf_t ct = PHX_BUF_INIT;
    const char *ct_hex;
    phx_err_t err;
    out->secret = true;
    memset(&ctx, 0, sizeof ctx);
    if ((err = make_info(label, contract_id, info, sizeof info, &info_len, e))) return err;
    if ((err = phx_json_get_hex_fixed(sealed, "enc", enc, 32, e))) return err;
    if ((err = phx_json_get_str(sealed, "ciphertext", &ct_hex, e))) return err;
    if (strlen(ct_hex) > 2 + 2 * ((size_t)PHX_SEAL_MAX_BYTES + PHX_AEAD_TAG_LEN))
        return phx_fail(e, PHX_ERR_LIMIT, "ciphertext over %u bytes", PHX_SEAL_MAX_BYTES);
    if ((err = phx_json_get_hex(sealed, "ciphertext", &ct, e))) goto out;
    if (ct.len < PHX_AEAD_TAG_LEN) {
        err = phx_fail(e, PHX_ERR_TRUNCATED, "ciphertext shorter than its tag");
        goto out;
    }
    if (phx_hpke_setup_receiver(&ctx, PHX_HPKE_MODE_BASE, PHX_HPKE_AEAD_CHACHA20POLY1305, enc,
                                contract_sk, NULL, info, info_len)) {
        err = phx_fail(e, PHX_ERR_VERIFY, "HPKE setup failed (bad encapsulated key)");
        goto out;
    }
    size_t pt_len = ct.len - PHX_AEAD_TAG_LEN;
    if ((err = phx_buf_reserve(out, pt_len))) {
        phx_fail(e, err, "plaintext");
        goto out;
    }
    if (phx_hpke_ctx_open(&ctx, aad, aad_len, ct.ptr, ct.len, out->ptr + out->len)) {
        phx_secure_zero(out->ptr + out->len, pt_len);
        err = phx_fail(e, PHX_ERR_VERIFY,
                       "does not open: sealed to another key, contract or purpose, or altered");
        goto out;
    }
    out->len += pt_len;
    out->ptr[out->len] = '\0';
    if (reply_key && phx_hpke_ctx_export(&ctx, reply_label, sizeof reply_label - 1, reply_key, 32))
        err = phx_fail(e, PHX_ERR_CRYPTO, "HPKE export");
out:
    phx_hpke_ctx_clear(&ctx);
    phx_buf_free(&ct);
    return err;
}

phx_err_t phx_confidential_open(const char *label, const uint8_t contract_sk[32],
                                const uint8_t contract_id[32], const json_t *sealed, phx_buf_t *out,
                                uint8_t reply_key[32], phx_error_t *e)
{
    return open_aad(label, contract_sk, contract_id, NULL, 0, sealed, out, reply_key, e);
}

phx_err_t phx_confidential_open_secrets(const uint8_t contract_sk[32],
                                        const uint8_t contract_id[32], const uint8_t code_hash[32],
                                        const json_t *sealed, phx_buf_t *out, phx_error_t *e)
{
    return open_aad(PHX_SEAL_SECRET, contract_sk, contract_id, code_hash, 32, sealed, out, NULL, e);
}

phx_err_t phx_confidential_seal_reply(const uint8_t reply_key[32], const uint8_t contract_id[32],
                                      const void *plaintext, size_t len, phx_buf_t *out,
                                      phx_error_t *e)
{
    static const uint8_t nonce[12] = {0};
    phx_err_t err;
    if (len > PHX_SEAL_MAX_BYTES)
        return phx_fail(e, PHX_ERR_LIMIT, "reply over %u bytes", PHX_SEAL_MAX_BYTES);
    if ((err = phx_buf_reserve(out, len + PHX_AEAD_TAG_LEN))) return phx_fail(e, err, "reply");
    if (phx_aead_seal(PHX_AEAD_CHACHA20_POLY1305, reply_key, nonce, sizeof nonce, contract_id, 32,
                      plaintext, len, out->ptr + out->len))
        return phx_fail(e, PHX_ERR_CRYPTO, "sealing the reply");
    out->len += len + PHX_AEAD_TAG_LEN;
    out->ptr[out->len] = '\0';
    return PHX_OK;
}

phx_err_t phx_confidential_open_reply(const uint8_t reply_key[32], const uint8_t contract_id[32],
                                      const uint8_t *ciphertext, size_t len, phx_buf_t *out,
                                      phx_error_t *e)
{
    static const uint8_t nonce[12] = {0};
    phx_err_t err;
    if (len < PHX_AEAD_TAG_LEN) return phx_fail(e, PHX_ERR_TRUNCATED, "reply shorter than its tag");
    if ((err = phx_buf_reserve(out, len - PHX_AEAD_TAG_LEN))) return phx_fail(e, err, "reply");
    if (phx_aead_open(PHX_AEAD_CHACHA20_POLY1305, reply_key, nonce, sizeof nonce, contract_id, 32,
                      ciphertext, len, out->ptr + out->len)) {
        phx_secure_zero(out->ptr + out->len, len - PHX_AEAD_TAG_LEN);
        return phx_fail(e, PHX_ERR_VERIFY, "reply does not open with this call's key");
    }
    out->len += len - PHX_AEAD_TAG_LEN;
    out->ptr[out->len] = '\0';
    return PHX_OK;
}

bool phx_confidential_is_sealed_request(const uint8_t *input, size_t len)
{
    return len >= PHX_SEALED_REQUEST_MAGIC_LEN &&
           !memcmp(input, PHX_SEALED_REQUEST_MAGIC, PHX_SEALED_REQUEST_MAGIC_LEN);
}

phx_err_t phx_confidential_seal_request(const uint8_t contract_pub[32],
                                        const uint8_t contract_id[32], const void *plaintext,
                                        size_t len, phx_buf_t *out, phx_error_t *e)
{
    json_t *sealed = NULL;
    phx_err_t err = seal_aad(PHX_SEAL_REQUEST, contract_pub, contract_id, NULL, 0, plaintext, len,
                             &sealed, NULL, e);
    if (err) return err;
    if ((err = phx_buf_append(out, PHX_SEALED_REQUEST_MAGIC, PHX_SEALED_REQUEST_MAGIC_LEN)))
        phx_fail(e, err, "sealed request");
    else if (!(err = phx_json_get_hex(sealed, "enc", out, e)))
        err = phx_json_get_hex(sealed, "ciphertext", out, e);
    json_decref(sealed);
    return err;
}

phx_err_t phx_confidential_open_request(const uint8_t contract_sk[32],
                                        const uint8_t contract_id[32], const uint8_t *input,
                                        size_t len, phx_buf_t *out, phx_error_t *e)
{
    const size_t head = PHX_SEALED_REQUEST_MAGIC_LEN;
    if (!phx_confidential_is_sealed_request(input, len))
        return phx_fail(e, PHX_ERR_INVALID, "not a sealed request input");
    if (len < head + 32 + PHX_AEAD_TAG_LEN)
        return phx_fail(e, PHX_ERR_TRUNCATED, "sealed input shorter than its key and tag");
    if (len - head - 32 > (size_t)PHX_SEAL_MAX_BYTES + PHX_AEAD_TAG_LEN)
        return phx_fail(e, PHX_ERR_LIMIT, "sealed input over %u bytes", PHX_SEAL_MAX_BYTES);
    /* The same opening as a call's, from the two parts as JSON hex. */
    json_t *sealed = json_pack("{s:o,s:o}", "enc", phx_json_hex(input + head, 32), "ciphertext",
                               phx_json_hex(input + head + 32, len - head - 32));
    if (!sealed) return phx_fail(e, PHX_ERR_NOMEM, "sealed input");
    phx_err_t err =
        open_aad(PHX_SEAL_REQUEST, contract_sk, contract_id, NULL, 0, sealed, out, NULL, e);
    json_decref(sealed);
    return err;
}
