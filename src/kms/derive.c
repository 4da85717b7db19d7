/* Deterministic key derivation for the KMS and workers (DESIGN.md §5):
 * HKDF-SHA256 over labelled paths. Paths are text so they read like what
 * they name ("contract/0x…/kv"); contract ids are fixed-length hex, so no two
 * (id, label) pairs spell the same path. */
#include <stdio.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/kms.h"

static const char kms_salt[] = "phx-kms-v1";

phx_err_t phx_kms_derive(const uint8_t secret[32], const char *path, uint8_t *out, size_t out_len,
                         phx_error_t *e)
{
    if (!path || !*path) return phx_fail(e, PHX_ERR_INVALID, "empty derivation path");
    if (out_len == 0 || out_len > 255 * 32)
        return phx_fail(e, PHX_ERR_RANGE, "derived length %zu out of range", out_len);
    if (phx_hkdf_sha256(kms_salt, sizeof kms_salt - 1, secret, 32, path, strlen(path), out,
                        out_len))
        return phx_fail(e, PHX_ERR_CRYPTO, "HKDF failed for %s", path);
    return PHX_OK;
}

phx_err_t phx_kms_contract_root(const uint8_t root[32], uint8_t contract_root[32], phx_error_t *e)
{
    return phx_kms_derive(root, "contracts", contract_root, 32, e);
}

/* A secp256k1 key from a path: the derived bytes are a valid scalar with
 * probability 1 - 2^-128; on the rare miss, try "path#1", "path#2", ... so the
 * result stays deterministic. */
static phx_err_t derive_secp256k1(const uint8_t secret[32], const char *path, uint8_t sk[32],
                                  phx_error_t *e)
{
    char attempt[192];
    for (int i = 0; i < 16; i++) {
        if (i == 0)
            snprintf(attempt, sizeof attempt, "%s", path);
        else
            snprintf(attempt, sizeof attempt, "%s#%d", path, i);
        phx_err_t err = phx_kms_derive(secret, attempt, sk, 32, e);
        if (err) return err;
        if (phx_secp256k1_seckey_verify(sk) == PHX_OK) return PHX_OK;
    }
    phx_secure_zero(sk, 32);
    return phx_fail(e, PHX_ERR_CRYPTO, "no valid secp256k1 key for %s", path);
}

phx_err_t phx_kms_identity_key(const uint8_t root[32], uint8_t sk[32], uint8_t address[20],
                               phx_error_t *e)
{
    phx_err_t err = derive_secp256k1(root, "kms/secp256k1", sk, e);
    if (err) return err;
    if (phx_eth_address_from_seckey(sk, address)) {
        phx_secure_zero(sk, 32);
        return phx_fail(e, PHX_ERR_CRYPTO, "KMS address");
    }
    return PHX_OK;
}

phx_err_t phx_kms_contract_path(const uint8_t contract_id[PHX_CONTRACT_ID_LEN], const char *label,
                                char *out, size_t cap, phx_error_t *e)
{
    char hex[2 * PHX_CONTRACT_ID_LEN + 1];
    phx_hex_encode_to(hex, contract_id, PHX_CONTRACT_ID_LEN);
    int n = snprintf(out, cap, "contract/0x%s/%s", hex, label);
    if (n < 0 || (size_t)n >= cap) return phx_fail(e, PHX_ERR_RANGE, "derivation path too long");
    return PHX_OK;
}

phx_err_t phx_kms_contract_keys(const uint8_t contract_root[32],
                                const uint8_t contract_id[PHX_CONTRACT_ID_LEN],
                                phx_contract_keys_t *out, phx_error_t *e)
{
    char path[128];
    uint8_t ikm[32];
    phx_err_t err;
    memset(out, 0, sizeof *out);
    if ((err = phx_kms_contract_path(contract_id, "secp256k1", path, sizeof path, e))) goto out;
    if ((err = derive_secp256k1(contract_root, path, out->secp256k1_sk, e))) goto out;
    if (phx_eth_address_from_seckey(out->secp256k1_sk, out->address)) {
        err = phx_fail(e, PHX_ERR_CRYPTO, "contract address");
        goto out;
    }
    /* X25519 through HPKE's DeriveKeyPair, so any RFC 9180 library given the
     * same ikm agrees on the key pair. */
    if ((err = phx_kms_contract_path(contract_id, "x25519", path, sizeof path, e))) goto out;
    if ((err = phx_kms_derive(contract_root, path, ikm, sizeof ikm, e))) goto out;
    if (phx_hpke_derive_keypair(ikm, sizeof ikm, out->x25519_sk, out->x25519_pub)) {
        err = phx_fail(e, PHX_ERR_CRYPTO, "X25519 key pair");
        goto out;
    }
    if ((err = phx_kms_contract_path(contract_id, "kv", path, sizeof path, e))) goto out;
    err = phx_kms_derive(contract_root, path, out->kv_key, sizeof out->kv_key, e);
out:
    phx_secure_zero(ikm, sizeof ikm);
    if (err) phx_kms_contract_keys_clear(out);
    return err;
}

void phx_kms_contract_keys_clear(phx_contract_keys_t *k)
{
    if (k) phx_secure_zero(k, sizeof *k);
}
