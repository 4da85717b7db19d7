/* Sealed storage (DESIGN.md §3 "Sealing") of what a worker or KMS keeps on
 * disk: the blob is XChaCha20-Poly1305 under a key only the same measurement
 * on the same platform can derive (the TEE's sealing key, reached through a
 * callback so this file does not depend on which TEE backend runs). */
#include <string.h>

#include "phx/crypto.h"
#include "phx/tee.h"

#define MAGIC "PHXSEAL1"
#define MAGIC_LEN 8
#define NONCE_LEN 24

phx_err_t phx_tee_sealing_key(void *tee, const char *label, uint8_t key[32], phx_error_t *e)
{
    return phx_tee_seal_key(tee, label, key, e);
}

static phx_err_t make_aad(const char *label, phx_buf_t *aad, phx_error_t *e)
{
    if (phx_buf_append(aad, MAGIC, MAGIC_LEN) || phx_buf_append_str(aad, label))
        return phx_fail(e, PHX_ERR_NOMEM, "seal aad");
    return PHX_OK;
}

phx_err_t phx_tee_seal(phx_tee_sealing_key_fn key_fn, void *key_ctx, const char *label,
                       const uint8_t *secret, size_t secret_len, phx_buf_t *out, phx_error_t *e)
{
    uint8_t key[32], nonce[NONCE_LEN];
    phx_buf_t aad = PHX_BUF_INIT;
    phx_err_t err;
    if ((err = key_fn(key_ctx, label, key, e))) goto out;
    if ((err = make_aad(label, &aad, e))) goto out;
    if (phx_random_bytes(nonce, sizeof nonce)) {
        err = phx_fail(e, PHX_ERR_CRYPTO, "random");
        goto out;
    }
    if ((err = phx_buf_reserve(out, MAGIC_LEN + NONCE_LEN + secret_len + PHX_AEAD_TAG_LEN))) {
        phx_fail(e, err, "seal buffer");
        goto out;
    }
    phx_buf_append(out, MAGIC, MAGIC_LEN);
    phx_buf_append(out, nonce, sizeof nonce);
    if (phx_aead_seal(PHX_AEAD_XCHACHA20_POLY1305, key, nonce, sizeof nonce, aad.ptr, aad.len,
                      secret, secret_len, out->ptr + out->len)) {
        err = phx_fail(e, PHX_ERR_CRYPTO, "seal");
        goto out;
    }
    out->len += secret_len + PHX_AEAD_TAG_LEN;
    out->ptr[out->len] = '\0';
out:
    phx_secure_zero(key, sizeof key);
    phx_buf_free(&aad);
    return err;
}

phx_err_t phx_tee_unseal(phx_tee_sealing_key_fn key_fn, void *key_ctx, const char *label,
                         const uint8_t *blob, size_t blob_len, phx_buf_t *out, phx_error_t *e)
{
    uint8_t key[32];
    phx_buf_t aad = PHX_BUF_INIT;
    phx_err_t err;
    out->secret = true;
    if (blob_len < MAGIC_LEN + NONCE_LEN + PHX_AEAD_TAG_LEN || memcmp(blob, MAGIC, MAGIC_LEN) != 0)
        return phx_fail(e, PHX_ERR_INVALID, "not a sealed blob");
    if ((err = key_fn(key_ctx, label, key, e))) goto out;
    if ((err = make_aad(label, &aad, e))) goto out;
    size_t ct_len = blob_len - MAGIC_LEN - NONCE_LEN;
    if ((err = phx_buf_reserve(out, ct_len))) {
        phx_fail(e, err, "unseal buffer");
        goto out;
    }
    if (phx_aead_open(PHX_AEAD_XCHACHA20_POLY1305, key, blob + MAGIC_LEN, NONCE_LEN, aad.ptr,
                      aad.len, blob + MAGIC_LEN + NONCE_LEN, ct_len, out->ptr + out->len)) {
        phx_secure_zero(out->ptr + out->len, ct_len - PHX_AEAD_TAG_LEN);
        err = phx_fail(
            e, PHX_ERR_VERIFY,
            "sealed blob does not open: another measurement, platform or label, or tampered");
        goto out;
    }
    out->len += ct_len - PHX_AEAD_TAG_LEN;
    out->ptr[out->len] = '\0';
out:
    phx_secure_zero(key, sizeof key);
    phx_buf_free(&aad);
    return err;
}
