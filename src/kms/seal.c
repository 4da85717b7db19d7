/* Sealed storage of the KMS root (DESIGN.md §3 "Sealing"): the blob is
 * XChaCha20-Poly1305 under a key only the same measurement on the same
 * platform can derive (the TEE's sealing key, reached through a callback so
 * this file does not depend on which TEE backend runs). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "phx/crypto.h"
#include "phx/kms.h"

#define MAGIC "PHXSEAL1"
#define MAGIC_LEN 8
#define NONCE_LEN 24

static phx_err_t make_aad(const char *label, phx_buf_t *aad, phx_error_t *e)
{
    if (phx_buf_append(aad, MAGIC, MAGIC_LEN) || phx_buf_append_str(aad, label))
        return phx_fail(e, PHX_ERR_NOMEM, "seal aad");
    return PHX_OK;
}

phx_err_t phx_kms_seal(phx_kms_sealing_key_fn key_fn, void *key_ctx, const char *label,
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

phx_err_t phx_kms_unseal(phx_kms_sealing_key_fn key_fn, void *key_ctx, const char *label,
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

static const char root_label[] = "phx-kms-root";

phx_err_t phx_kms_root_load_or_create(const char *path, phx_kms_sealing_key_fn key_fn,
                                      void *key_ctx, uint8_t root[32], bool *created,
                                      phx_error_t *e)
{
    phx_buf_t blob = PHX_BUF_INIT, clear = PHX_BUF_INIT;
    phx_err_t err;
    struct stat st;
    *created = false;
    if (stat(path, &st) == 0) {
        if ((err = phx_file_read(path, &blob, e))) goto out;
        if ((err = phx_kms_unseal(key_fn, key_ctx, root_label, blob.ptr, blob.len, &clear, e))) {
            phx_error_wrap(e, err, "%s", path);
            goto out;
        }
        if (clear.len != 32) {
            err = phx_fail(e, PHX_ERR_INVALID, "%s: sealed root has %zu bytes", path, clear.len);
            goto out;
        }
        memcpy(root, clear.ptr, 32);
        goto out;
    }
    if (errno != ENOENT) {
        err = phx_fail(e, PHX_ERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    /* First start: the root is born here, inside the TEE, and leaves only sealed. */
    if (phx_random_bytes(root, 32)) {
        err = phx_fail(e, PHX_ERR_CRYPTO, "random");
        goto out;
    }
    if ((err = phx_kms_seal(key_fn, key_ctx, root_label, root, 32, &blob, e))) goto out;
    if ((err = phx_file_write_atomic(path, blob.ptr, blob.len, 0600, e))) goto out;
    *created = true;
out:
    if (err) phx_secure_zero(root, 32);
    phx_buf_free(&clear);
    phx_buf_free(&blob);
    return err;
}
