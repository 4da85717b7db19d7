/* Crypto layer start-up and randomness. libsodium needs sodium_init() once
 * before use; OpenSSL 3 and libsecp256k1 initialise themselves. Random bytes
 * come from libsodium (getrandom(2) underneath). */
#include <sodium.h>

#include "phx/crypto.h"

phx_err_t phx_crypto_init(void)
{
    /* sodium_init is itself idempotent and thread-safe: 0 first time, 1 after. */
    return sodium_init() < 0 ? PHX_ERR_CRYPTO : PHX_OK;
}

phx_err_t phx_random_bytes(void *out, size_t n)
{
    if (phx_crypto_init() != PHX_OK) return PHX_ERR_CRYPTO;
    randombytes_buf(out, n);
    return PHX_OK;
}
