/* Ed25519 signatures, X25519 key agreement and BLAKE2b over libsodium. libsodium's
 * Ed25519 verification is strict (canonical S and A, small-order R and A
 * refused), which is what Wycheproof expects; X25519 refuses an all-zero shared
 * secret, the RFC 7748 §6.1 check against low-order public keys. */
#include <sodium.h>

#include "phx/crypto.h"

phx_err_t phx_blake2b(const void *data, size_t len, uint8_t *out, size_t out_len)
{
    if (out_len < crypto_generichash_BYTES_MIN || out_len > crypto_generichash_BYTES_MAX)
        return PHX_ERR_RANGE;
    if (phx_crypto_init()) return PHX_ERR_CRYPTO;
    return crypto_generichash(out, out_len, data, len, NULL, 0) == 0 ? PHX_OK : PHX_ERR_CRYPTO;
}

phx_err_t phx_ed25519_keygen(uint8_t pk[32], uint8_t sk[64])
{
    if (phx_crypto_init()) return PHX_ERR_CRYPTO;
    return crypto_sign_keypair(pk, sk) == 0 ? PHX_OK : PHX_ERR_CRYPTO;
}

phx_err_t phx_ed25519_sign(const uint8_t sk[64], const void *msg, size_t len, uint8_t sig[64])
{
    if (phx_crypto_init()) return PHX_ERR_CRYPTO;
    return crypto_sign_detached(sig, NULL, msg, len, sk) == 0 ? PHX_OK : PHX_ERR_CRYPTO;
}

phx_err_t phx_ed25519_verify(const uint8_t pk[32], const void *msg, size_t len,
                             const uint8_t sig[64])
{
    if (phx_crypto_init()) return PHX_ERR_CRYPTO;
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? PHX_OK : PHX_ERR_VERIFY;
}

phx_err_t phx_x25519_keygen(uint8_t sk[32], uint8_t pk[32])
{
    phx_err_t err = phx_random_bytes(sk, 32);
    if (!err) err = phx_x25519_public(sk, pk);
    if (err) phx_secure_zero(sk, 32);
    return err;
}

phx_err_t phx_x25519_public(const uint8_t sk[32], uint8_t pk[32])
{
    if (phx_crypto_init()) return PHX_ERR_CRYPTO;
    /* Clamping happens inside; any 32 bytes are a usable scalar. */
    return crypto_scalarmult_base(pk, sk) == 0 ? PHX_OK : PHX_ERR_CRYPTO;
}

phx_err_t phx_x25519(const uint8_t sk[32], const uint8_t pk[32], uint8_t shared[32])
{
    if (phx_crypto_init()) return PHX_ERR_CRYPTO;
    if (crypto_scalarmult(shared, sk, pk) != 0) {
        phx_secure_zero(shared, 32);
        return PHX_ERR_CRYPTO;
    }
    return PHX_OK;
}
