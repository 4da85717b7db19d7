/* AEADs: ChaCha20-Poly1305 (IETF, 12-byte nonce) and XChaCha20-Poly1305 from
 * libsodium, AES-128/256-GCM from OpenSSL 3 EVP. Output is ciphertext || 16-byte
 * tag, the layout RFC 8439 and RFC 9180 use. Open never releases plaintext that
 * failed authentication: on a bad tag the output is zeroed. */
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

#include "phx/crypto.h"

size_t phx_aead_key_len(phx_aead_t alg)
{
    switch (alg) {
    case PHX_AEAD_AES128_GCM:
        return 16;
    case PHX_AEAD_AES256_GCM:
    case PHX_AEAD_CHACHA20_POLY1305:
    case PHX_AEAD_XCHACHA20_POLY1305:
        return 32;
    }
    return 0;
}

size_t phx_aead_nonce_len(phx_aead_t alg)
{
    switch (alg) {
    case PHX_AEAD_AES128_GCM:
    case PHX_AEAD_AES256_GCM:
    case PHX_AEAD_CHACHA20_POLY1305:
        return 12;
    case PHX_AEAD_XCHACHA20_POLY1305:
        return 24;
    }
    return 0;
}

static const uint8_t empty[1];

/* GCM accepts any non-empty nonce (NIST SP 800-38D §5.2.1.1); 12 bytes is the
 * fast, recommended size and the only one HPKE uses. OpenSSL 3 caps nonces at
 * 128 bytes; longer ones are PHX_ERR_UNSUPPORTED rather than a wrong answer. */
#define GCM_MAX_NONCE 128
static phx_err_t gcm(int enc, phx_aead_t alg, const uint8_t *key, const uint8_t *nonce,
                     size_t nonce_len, const void *aad, size_t aad_len, const uint8_t *in,
                     size_t in_len, uint8_t *out, uint8_t *tag)
{
    if (nonce_len == 0 || aad_len > INT32_MAX || in_len > INT32_MAX) return PHX_ERR_INVALID;
    if (nonce_len > GCM_MAX_NONCE) return PHX_ERR_UNSUPPORTED;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    const EVP_CIPHER *cipher = alg == PHX_AEAD_AES128_GCM ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
    phx_err_t err = PHX_ERR_CRYPTO;
    int n = 0;
    if (!c) return err;
    if (!EVP_CipherInit_ex(c, cipher, NULL, NULL, NULL, enc) ||
        !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, (int)nonce_len, NULL) ||
        !EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc))
        goto out;
    if (aad_len && !EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len)) goto out;
    if (in_len && !EVP_CipherUpdate(c, out, &n, in, (int)in_len)) goto out;
    if (enc) {
        if (!EVP_CipherFinal_ex(c, out + in_len, &n) ||
            !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, PHX_AEAD_TAG_LEN, tag))
            goto out;
    } else {
        if (!EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, PHX_AEAD_TAG_LEN, tag)) goto out;
        if (EVP_CipherFinal_ex(c, out + in_len, &n) != 1) {
            err = PHX_ERR_VERIFY;
            goto out;
        }
    }
    err = PHX_OK;
out:
    EVP_CIPHER_CTX_free(c);
    return err;
}

phx_err_t phx_aead_seal(phx_aead_t alg, const uint8_t *key, const uint8_t *nonce, size_t nonce_len,
                        const void *aad, size_t aad_len, const void *pt, size_t pt_len, uint8_t *ct)
{
    if (!key || !ct || (!pt && pt_len) || (!aad && aad_len)) return PHX_ERR_INVALID;
    if (!pt) pt = empty;
    if (!aad) aad = empty;
    if (phx_crypto_init()) return PHX_ERR_CRYPTO;
    switch (alg) {
    case PHX_AEAD_AES128_GCM:
    case PHX_AEAD_AES256_GCM:
        return gcm(1, alg, key, nonce, nonce_len, aad, aad_len, pt, pt_len, ct, ct + pt_len);
    case PHX_AEAD_CHACHA20_POLY1305:
        if (nonce_len != crypto_aead_chacha20poly1305_ietf_NPUBBYTES) return PHX_ERR_INVALID;
        crypto_aead_chacha20poly1305_ietf_encrypt(ct, NULL, pt, pt_len, aad, aad_len, NULL, nonce,
                                                  key);
        return PHX_OK;
    case PHX_AEAD_XCHACHA20_POLY1305:
        if (nonce_len != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES) return PHX_ERR_INVALID;
        crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, pt, pt_len, aad, aad_len, NULL, nonce,
                                                   key);
        return PHX_OK;
    }
    return PHX_ERR_UNSUPPORTED;
}

phx_err_t phx_aead_open(phx_aead_t alg, const uint8_t *key, const uint8_t *nonce, size_t nonce_len,
                        const void *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
                        uint8_t *pt)
{
    if (!key || !ct || (!aad && aad_len)) return PHX_ERR_INVALID;
    if (ct_len < PHX_AEAD_TAG_LEN) return PHX_ERR_TRUNCATED;
    if (!aad) aad = empty;
    if (phx_crypto_init()) return PHX_ERR_CRYPTO;
    size_t pt_len = ct_len - PHX_AEAD_TAG_LEN;
    /* libsodium wants somewhere to write even for an empty message. */
    uint8_t scratch[1];
    uint8_t *out = pt_len ? pt : scratch;
    phx_err_t err;
    switch (alg) {
    case PHX_AEAD_AES128_GCM:
    case PHX_AEAD_AES256_GCM: {
        uint8_t tag[PHX_AEAD_TAG_LEN];
        memcpy(tag, ct + pt_len, sizeof tag);
        err = gcm(0, alg, key, nonce, nonce_len, aad, aad_len, ct, pt_len, out, tag);
        break;
    }
    case PHX_AEAD_CHACHA20_POLY1305:
        if (nonce_len != crypto_aead_chacha20poly1305_ietf_NPUBBYTES) return PHX_ERR_INVALID;
        err = crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, ct_len, aad, aad_len,
                                                        nonce, key) == 0
                  ? PHX_OK
                  : PHX_ERR_VERIFY;
        break;
    case PHX_AEAD_XCHACHA20_POLY1305:
        if (nonce_len != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES) return PHX_ERR_INVALID;
        err = crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, ct_len, aad, aad_len,
                                                         nonce, key) == 0
                  ? PHX_OK
                  : PHX_ERR_VERIFY;
        break;
    default:
        return PHX_ERR_UNSUPPORTED;
    }
    if (err && pt_len) phx_secure_zero(pt, pt_len);
    return err;
}
