/* secp256k1 for Ethereum over libsecp256k1: recoverable signing (RFC 6979,
 * always low-S), public-key recovery, strict-DER and raw verification, address
 * derivation (keccak256(x||y)[12:]), EIP-55 checksums and EIP-191 personal_sign.
 * One process-wide context, created once and blinded with fresh randomness. */
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <stdio.h>
#include <string.h>

#include "phx/crypto.h"

static secp256k1_context *ctx;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void ctx_create(void)
{
    secp256k1_context *c =
        secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
    uint8_t seed[32];
    /* Blinding only hardens signing against side channels; if it cannot be set
     * up the context still signs correctly, so a failure here is not fatal. */
    int blinded =
        c && phx_random_bytes(seed, sizeof seed) == PHX_OK && secp256k1_context_randomize(c, seed);
    (void)blinded;
    phx_secure_zero(seed, sizeof seed);
    ctx = c;
}

static secp256k1_context *get_ctx(void)
{
    pthread_once(&ctx_once, ctx_create);
    return ctx;
}

phx_err_t phx_secp256k1_seckey_verify(const uint8_t sk[32])
{
    secp256k1_context *c = get_ctx();
    if (!c) return PHX_ERR_CRYPTO;
    return secp256k1_ec_seckey_verify(c, sk) ? PHX_OK : PHX_ERR_INVALID;
}

phx_err_t phx_secp256k1_keygen(uint8_t sk[32])
{
    /* A random 32-byte string is outside [1, n-1] with probability ~2^-128. */
    for (int tries = 0; tries < 64; tries++) {
        if (phx_random_bytes(sk, 32)) return PHX_ERR_CRYPTO;
        if (phx_secp256k1_seckey_verify(sk) == PHX_OK) return PHX_OK;
    }
    phx_secure_zero(sk, 32);
    return PHX_ERR_CRYPTO;
}

static void serialize_xy(const secp256k1_pubkey *pk, uint8_t pub[64])
{
    uint8_t ser[65];
    size_t n = sizeof ser;
    secp256k1_ec_pubkey_serialize(get_ctx(), ser, &n, pk, SECP256K1_EC_UNCOMPRESSED);
    memcpy(pub, ser + 1, 64);
}

phx_err_t phx_secp256k1_pubkey(const uint8_t sk[32], uint8_t pub[64])
{
    secp256k1_context *c = get_ctx();
    secp256k1_pubkey pk;
    if (!c) return PHX_ERR_CRYPTO;
    if (!secp256k1_ec_pubkey_create(c, &pk, sk)) return PHX_ERR_INVALID;
    serialize_xy(&pk, pub);
    return PHX_OK;
}

phx_err_t phx_secp256k1_sign(const uint8_t sk[32], const uint8_t digest[32], uint8_t sig[65])
{
    secp256k1_context *c = get_ctx();
    secp256k1_ecdsa_recoverable_signature rs;
    int recid = 0;
    if (!c) return PHX_ERR_CRYPTO;
    /* NULL nonce function = RFC 6979; libsecp256k1 always emits low-S. */
    if (!secp256k1_ecdsa_sign_recoverable(c, &rs, digest, sk, NULL, NULL)) return PHX_ERR_INVALID;
    secp256k1_ecdsa_recoverable_signature_serialize_compact(c, sig, &recid, &rs);
    sig[64] = (uint8_t)recid;
    return PHX_OK;
}

phx_err_t phx_secp256k1_recover(const uint8_t digest[32], const uint8_t sig[65], uint8_t pub[64])
{
    secp256k1_context *c = get_ctx();
    if (!c) return PHX_ERR_CRYPTO;
    int recid = sig[64];
    if (recid >= 27) recid -= 27;
    if (recid < 0 || recid > 3) return PHX_ERR_INVALID;
    /* r, s must be in [1, n-1] (parse_compact rejects >= n) and s <= n/2 (EIP-2). */
    secp256k1_ecdsa_signature plain;
    if (!secp256k1_ecdsa_signature_parse_compact(c, &plain, sig)) return PHX_ERR_VERIFY;
    if (secp256k1_ecdsa_signature_normalize(c, NULL, &plain)) return PHX_ERR_VERIFY;
    secp256k1_ecdsa_recoverable_signature rs;
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(c, &rs, sig, recid))
        return PHX_ERR_VERIFY;
    secp256k1_pubkey pk;
    if (!secp256k1_ecdsa_recover(c, &pk, &rs, digest)) return PHX_ERR_VERIFY;
    serialize_xy(&pk, pub);
    return PHX_OK;
}

/* SEC1 compressed (02/03) or uncompressed (04) only; libsecp256k1 would also take
 * the "hybrid" 06/07 form, which nothing we talk to produces. Raw x||y is
 * accepted as a convenience. */
static int parse_pub(secp256k1_context *c, secp256k1_pubkey *pk, const uint8_t *pub, size_t len)
{
    uint8_t full[65];
    if (len == 64) {
        full[0] = 0x04;
        memcpy(full + 1, pub, 64);
        pub = full;
        len = 65;
    }
    if (!((len == 33 && (pub[0] == 2 || pub[0] == 3)) || (len == 65 && pub[0] == 4))) return 0;
    return secp256k1_ec_pubkey_parse(c, pk, pub, len);
}

static phx_err_t verify_sig(secp256k1_context *c, const uint8_t *pub, size_t pub_len,
                            const uint8_t digest[32], secp256k1_ecdsa_signature *sig,
                            bool require_low_s)
{
    secp256k1_pubkey pk;
    if (!parse_pub(c, &pk, pub, pub_len)) return PHX_ERR_INVALID;
    /* libsecp256k1 verifies only low-S; plain ECDSA accepts either, so normalise
     * unless the caller wants the Bitcoin/Ethereum rule. */
    int was_high = secp256k1_ecdsa_signature_normalize(c, sig, sig);
    if (was_high && require_low_s) return PHX_ERR_VERIFY;
    return secp256k1_ecdsa_verify(c, sig, digest, &pk) ? PHX_OK : PHX_ERR_VERIFY;
}

static phx_err_t verify_der(const uint8_t *pub, size_t pub_len, const uint8_t digest[32],
                            const uint8_t *der, size_t der_len, bool require_low_s)
{
    secp256k1_context *c = get_ctx();
    secp256k1_ecdsa_signature sig;
    if (!c) return PHX_ERR_CRYPTO;
    /* The parser is strict DER: minimal lengths and integers, no trailing bytes. */
    if (!der || !secp256k1_ecdsa_signature_parse_der(c, &sig, der, der_len)) return PHX_ERR_VERIFY;
    return verify_sig(c, pub, pub_len, digest, &sig, require_low_s);
}

phx_err_t phx_secp256k1_verify_der(const uint8_t *pub, size_t pub_len, const uint8_t digest[32],
                                   const uint8_t *der, size_t der_len)
{
    return verify_der(pub, pub_len, digest, der, der_len, false);
}

phx_err_t phx_secp256k1_verify_der_low_s(const uint8_t *pub, size_t pub_len,
                                         const uint8_t digest[32], const uint8_t *der,
                                         size_t der_len)
{
    return verify_der(pub, pub_len, digest, der, der_len, true);
}

phx_err_t phx_secp256k1_verify_raw(const uint8_t *pub, size_t pub_len, const uint8_t digest[32],
                                   const uint8_t rs[64])
{
    secp256k1_context *c = get_ctx();
    secp256k1_ecdsa_signature sig;
    if (!c) return PHX_ERR_CRYPTO;
    /* Rejects r or s >= n; zero r or s then fails verification. */
    if (!secp256k1_ecdsa_signature_parse_compact(c, &sig, rs)) return PHX_ERR_VERIFY;
    return verify_sig(c, pub, pub_len, digest, &sig, false);
}

void phx_eth_address_from_pubkey(const uint8_t pub[64], uint8_t addr[20])
{
    uint8_t h[32];
    phx_keccak256(pub, 64, h);
    memcpy(addr, h + 12, 20);
}

phx_err_t phx_eth_address_from_seckey(const uint8_t sk[32], uint8_t addr[20])
{
    uint8_t pub[64];
    phx_err_t err = phx_secp256k1_pubkey(sk, pub);
    if (err) return err;
    phx_eth_address_from_pubkey(pub, addr);
    return PHX_OK;
}

void phx_eth_address_checksum(const uint8_t addr[20], char out[43])
{
    /* EIP-55: upper-case a hex letter when the matching nibble of
     * keccak256(lower-case hex) is >= 8. */
    char lower[41];
    uint8_t h[32];
    phx_hex_encode_to(lower, addr, 20);
    phx_keccak256(lower, 40, h);
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < 40; i++) {
        int nibble = (h[i / 2] >> (i % 2 ? 0 : 4)) & 0xf;
        char ch = lower[i];
        out[2 + i] = (ch >= 'a' && nibble >= 8) ? (char)(ch - 'a' + 'A') : ch;
    }
    out[42] = '\0';
}

void phx_eip191_digest(const void *msg, size_t len, uint8_t digest[32])
{
    static const char prefix[] = "\x19"
                                 "Ethereum Signed Message:\n";
    char len_dec[24];
    int n = snprintf(len_dec, sizeof len_dec, "%zu", len);
    phx_keccak_t k;
    phx_keccak256_init(&k);
    phx_keccak256_update(&k, prefix, sizeof prefix - 1);
    phx_keccak256_update(&k, len_dec, (size_t)n);
    if (len) phx_keccak256_update(&k, msg, len);
    phx_keccak256_final(&k, digest);
}

phx_err_t phx_eip191_sign(const uint8_t sk[32], const void *msg, size_t len, uint8_t sig[65])
{
    uint8_t digest[32];
    phx_eip191_digest(msg, len, digest);
    phx_err_t err = phx_secp256k1_sign(sk, digest, sig);
    if (!err) sig[64] = (uint8_t)(sig[64] + 27);
    return err;
}

phx_err_t phx_eip191_recover(const void *msg, size_t len, const uint8_t sig[65], uint8_t addr[20])
{
    uint8_t digest[32], pub[64];
    /* Wallets emit v = 27/28; some libraries 0/1. Anything else is not personal_sign. */
    if (!(sig[64] <= 1 || sig[64] == 27 || sig[64] == 28)) return PHX_ERR_INVALID;
    phx_eip191_digest(msg, len, digest);
    phx_err_t err = phx_secp256k1_recover(digest, sig, pub);
    if (err) return err;
    phx_eth_address_from_pubkey(pub, addr);
    return PHX_OK;
}
