/* SHA-2, HMAC-SHA256 and HKDF-SHA256 (RFC 5869) over OpenSSL 3. HKDF is written
 * out over HMAC rather than EVP_KDF so the extract and expand halves can be
 * called separately, as HPKE's LabeledExtract/LabeledExpand need. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"

void phx_sha256(const void *data, size_t len, uint8_t out[32])
{
    SHA256(data, len, out);
}

void phx_sha384(const void *data, size_t len, uint8_t out[48])
{
    SHA384(data, len, out);
}

void phx_sha512(const void *data, size_t len, uint8_t out[64])
{
    SHA512(data, len, out);
}

void phx_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, uint8_t out[32])
{
    static const uint8_t empty[1];
    unsigned int out_len = 32;
    /* OpenSSL rejects a NULL key pointer even for length 0; HKDF uses empty salts. */
    if (!key) key = empty;
    if (!data) data = empty;
    HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len);
}

phx_err_t phx_hkdf_sha256_extract(const void *salt, size_t salt_len, const void *ikm,
                                  size_t ikm_len, uint8_t prk[32])
{
    static const uint8_t zeros[32];
    if (!salt || !salt_len) {
        salt = zeros;
        salt_len = sizeof zeros;
    }
    phx_hmac_sha256(salt, salt_len, ikm, ikm_len, prk);
    return PHX_OK;
}

phx_err_t phx_hkdf_sha256_expand(const uint8_t *prk, size_t prk_len, const void *info,
                                 size_t info_len, uint8_t *out, size_t out_len)
{
    if (out_len > 255 * 32) return PHX_ERR_RANGE;
    if (prk_len < 32) return PHX_ERR_INVALID; /* RFC 5869 §2.3: PRK is at least HashLen */
    if (!info) info_len = 0;
    /* T(i) = HMAC(PRK, T(i-1) || info || i): one message buffer, reused per block. */
    uint8_t stack[256];
    size_t msg_cap = 32 + info_len + 1;
    uint8_t *msg = msg_cap <= sizeof stack ? stack : malloc(msg_cap);
    if (!msg) return PHX_ERR_NOMEM;
    uint8_t t[32];
    size_t t_len = 0, done = 0;
    for (unsigned i = 1; done < out_len; i++) {
        memcpy(msg, t, t_len);
        if (info_len) memcpy(msg + t_len, info, info_len);
        msg[t_len + info_len] = (uint8_t)i;
        phx_hmac_sha256(prk, prk_len, msg, t_len + info_len + 1, t);
        t_len = 32;
        size_t n = out_len - done < 32 ? out_len - done : 32;
        memcpy(out + done, t, n);
        done += n;
    }
    phx_secure_zero(t, sizeof t);
    phx_secure_zero(msg, msg_cap);
    if (msg != stack) free(msg);
    return PHX_OK;
}

phx_err_t phx_hkdf_sha256(const void *salt, size_t salt_len, const void *ikm, size_t ikm_len,
                          const void *info, size_t info_len, uint8_t *out, size_t out_len)
{
    uint8_t prk[32];
    if (out_len > 255 * 32) return PHX_ERR_RANGE;
    phx_err_t err = phx_hkdf_sha256_extract(salt, salt_len, ikm, ikm_len, prk);
    if (!err) err = phx_hkdf_sha256_expand(prk, sizeof prk, info, info_len, out, out_len);
    phx_secure_zero(prk, sizeof prk);
    return err;
}
