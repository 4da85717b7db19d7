/* Crypto layer: every primitive Phalanx uses, behind one small API.
 * Hashes/HMAC/HKDF/AES-GCM/P-256/P-384 from OpenSSL 3, Ed25519/X25519/
 * ChaCha20-Poly1305 from libsodium, secp256k1 from libsecp256k1, Keccak-256 our own
 * (OpenSSL 3.0 lacks it), HPKE (RFC 9180) built on these.
 * All functions return phx_err_t (0 ok); PHX_ERR_VERIFY means a check failed. */
#ifndef PHX_CRYPTO_H
#define PHX_CRYPTO_H

#include "phx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Call once before using the layer (idempotent, thread-safe). */
phx_err_t phx_crypto_init(void);

/* Cryptographically secure random bytes. */
phx_err_t phx_random_bytes(void *out, size_t n);

/* ---- hashes ------------------------------------------------------------------ */
#define PHX_SHA256_LEN 32
#define PHX_SHA384_LEN 48
#define PHX_SHA512_LEN 64
#define PHX_KECCAK256_LEN 32

void phx_sha256(const void *data, size_t len, uint8_t out[32]);
void phx_sha384(const void *data, size_t len, uint8_t out[48]);
void phx_sha512(const void *data, size_t len, uint8_t out[64]);
/* BLAKE2b (RFC 7693), unkeyed, with an out_len of 16..64 bytes. */
phx_err_t phx_blake2b(const void *data, size_t len, uint8_t *out, size_t out_len);

/* Keccak-256 as Ethereum uses it (original Keccak padding 0x01, not SHA3's 0x06). */
typedef struct {
    uint64_t state[25];
    size_t pos; /* bytes absorbed into the current block */
} phx_keccak_t;
void phx_keccak256_init(phx_keccak_t *k);
void phx_keccak256_update(phx_keccak_t *k, const void *data, size_t len);
void phx_keccak256_final(phx_keccak_t *k, uint8_t out[32]);
void phx_keccak256(const void *data, size_t len, uint8_t out[32]);

void phx_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                     uint8_t out[32]);
/* RFC 5869. salt may be NULL (then HashLen zeros). out_len <= 255*32. */
phx_err_t phx_hkdf_sha256_extract(const void *salt, size_t salt_len, const void *ikm,
                                  size_t ikm_len, uint8_t prk[32]);
phx_err_t phx_hkdf_sha256_expand(const uint8_t *prk, size_t prk_len, const void *info,
                                 size_t info_len, uint8_t *out, size_t out_len);
phx_err_t phx_hkdf_sha256(const void *salt, size_t salt_len, const void *ikm, size_t ikm_len,
                          const void *info, size_t info_len, uint8_t *out, size_t out_len);

/* ---- secp256k1 (Ethereum) -------------------------------------------------- */
/* Secret keys are 32 bytes big-endian in [1, n-1]. Signatures are r||s||v (65
 * bytes) with v in {0,1} (recovery id) and s normalised low (EIP-2). */
phx_err_t phx_secp256k1_seckey_verify(const uint8_t sk[32]);
phx_err_t phx_secp256k1_keygen(uint8_t sk[32]);
/* Uncompressed public key without the 0x04 prefix: x||y, 64 bytes. */
phx_err_t phx_secp256k1_pubkey(const uint8_t sk[32], uint8_t pub[64]);
/* Sign a 32-byte digest (RFC 6979 nonce). sig = r||s||recid. */
phx_err_t phx_secp256k1_sign(const uint8_t sk[32], const uint8_t digest[32], uint8_t sig[65]);
/* Recover the 64-byte public key from r||s||recid (recid 0..3; 27/28 accepted).
 * High-S signatures are rejected (PHX_ERR_VERIFY), as Ethereum does for tx. */
phx_err_t phx_secp256k1_recover(const uint8_t digest[32], const uint8_t sig[65], uint8_t pub[64]);
/* Verify a DER or raw (r||s, 64 bytes) signature over a digest with a public key given
 * as 33/65-byte SEC1. Low-S is not required here (Wycheproof semantics: strict DER). */
phx_err_t phx_secp256k1_verify_der(const uint8_t *pub, size_t pub_len, const uint8_t digest[32],
                                   const uint8_t *der, size_t der_len);
/* As phx_secp256k1_verify_der, but a high-S signature is PHX_ERR_VERIFY (the
 * Bitcoin/Ethereum malleability rule, BIP-62 / EIP-2). */
phx_err_t phx_secp256k1_verify_der_low_s(const uint8_t *pub, size_t pub_len,
                                         const uint8_t digest[32], const uint8_t *der,
                                         size_t der_len);
phx_err_t phx_secp256k1_verify_raw(const uint8_t *pub, size_t pub_len, const uint8_t digest[32],
                                   const uint8_t rs[64]);

/* Ethereum address = last 20 bytes of keccak256(x||y). */
void phx_eth_address_from_pubkey(const uint8_t pub[64], uint8_t addr[20]);
phx_err_t phx_eth_address_from_seckey(const uint8_t sk[32], uint8_t addr[20]);
/* EIP-55 mixed-case checksum form "0xAbC..." into out[43]. */
void phx_eth_address_checksum(const uint8_t addr[20], char out[43]);
/* EIP-191 personal_sign digest: keccak256("\x19Ethereum Signed Message:\n" || len || msg). */
void phx_eip191_digest(const void *msg, size_t len, uint8_t digest[32]);
/* personal_sign: sig is r||s||v with v = 27 + recid (the form wallets produce). */
phx_err_t phx_eip191_sign(const uint8_t sk[32], const void *msg, size_t len, uint8_t sig[65]);
/* Recover the signer's address from a personal_sign signature (v 27/28 or 0/1). */
phx_err_t phx_eip191_recover(const void *msg, size_t len, const uint8_t sig[65], uint8_t addr[20]);

/* ---- NIST curves (attestation) --------------------------------------------- */
typedef enum { PHX_CURVE_P256 = 1, PHX_CURVE_P384 = 2 } phx_curve_t;
/* Verify ECDSA over the message (hashed inside with SHA-256 for P-256, SHA-384 for
 * P-384). pub is SEC1 uncompressed (0x04||x||y), compressed, or raw x||y (64/96 bytes). */
phx_err_t phx_ecdsa_verify_raw(phx_curve_t curve, const uint8_t *pub, size_t pub_len,
                               const void *msg, size_t msg_len, const uint8_t *rs, size_t rs_len);
phx_err_t phx_ecdsa_verify_der(phx_curve_t curve, const uint8_t *pub, size_t pub_len,
                               const void *msg, size_t msg_len, const uint8_t *der, size_t der_len);
/* P-256 key generation and signing (the sim TEE's PCS hierarchy and QE). sk is 32
 * bytes, pub is x||y (64 bytes), sig is r||s (64 bytes) over SHA-256(msg). */
phx_err_t phx_p256_keygen(uint8_t sk[32], uint8_t pub[64]);
phx_err_t phx_p256_sign(const uint8_t sk[32], const void *msg, size_t msg_len, uint8_t rs[64]);

/* ---- Ed25519 / X25519 (libsodium) ------------------------------------------- */
phx_err_t phx_ed25519_keygen(uint8_t pk[32], uint8_t sk[64]);
phx_err_t phx_ed25519_sign(const uint8_t sk[64], const void *msg, size_t len, uint8_t sig[64]);
phx_err_t phx_ed25519_verify(const uint8_t pk[32], const void *msg, size_t len,
                             const uint8_t sig[64]);
phx_err_t phx_x25519_keygen(uint8_t sk[32], uint8_t pk[32]);
phx_err_t phx_x25519_public(const uint8_t sk[32], uint8_t pk[32]);
/* Shared secret; an all-zero result (low-order point) is PHX_ERR_CRYPTO. */
phx_err_t phx_x25519(const uint8_t sk[32], const uint8_t pk[32], uint8_t shared[32]);

/* ---- AEADs ------------------------------------------------------------------- */
/* Seal writes ct of pt_len + 16 bytes (ciphertext || tag); open takes ct_len >= 16
 * (shorter is PHX_ERR_TRUNCATED) and writes ct_len - 16 bytes. A bad tag is
 * PHX_ERR_VERIFY and the output is zeroed. Nonces: 12 bytes for ChaCha20-Poly1305,
 * 24 for XChaCha20-Poly1305 (other sizes PHX_ERR_INVALID); AES-GCM takes 1..128
 * bytes (12 recommended; longer is PHX_ERR_UNSUPPORTED, OpenSSL's limit). */
typedef enum {
    PHX_AEAD_AES128_GCM = 1,
    PHX_AEAD_AES256_GCM = 2,
    PHX_AEAD_CHACHA20_POLY1305 = 3,  /* 12-byte nonce (IETF) */
    PHX_AEAD_XCHACHA20_POLY1305 = 4, /* 24-byte nonce */
} phx_aead_t;
size_t phx_aead_key_len(phx_aead_t alg);
size_t phx_aead_nonce_len(phx_aead_t alg);
#define PHX_AEAD_TAG_LEN 16
phx_err_t phx_aead_seal(phx_aead_t alg, const uint8_t *key, const uint8_t *nonce, size_t nonce_len,
                        const void *aad, size_t aad_len, const void *pt, size_t pt_len,
                        uint8_t *ct);
phx_err_t phx_aead_open(phx_aead_t alg, const uint8_t *key, const uint8_t *nonce, size_t nonce_len,
                        const void *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
                        uint8_t *pt);

/* ---- HPKE (RFC 9180) --------------------------------------------------------- */
/* KEM: DHKEM(X25519, HKDF-SHA256) (0x0020); KDF: HKDF-SHA256 (0x0001);
 * AEAD: AES-128-GCM (0x0001) or ChaCha20-Poly1305 (0x0003). Modes base and auth. */
#define PHX_HPKE_KEM_X25519_SHA256 0x0020
#define PHX_HPKE_KDF_SHA256 0x0001
#define PHX_HPKE_AEAD_AES128GCM 0x0001
#define PHX_HPKE_AEAD_CHACHA20POLY1305 0x0003
#define PHX_HPKE_MODE_BASE 0x00
#define PHX_HPKE_MODE_AUTH 0x02
#define PHX_HPKE_ENC_LEN 32

typedef struct {
    uint16_t aead_id;
    uint8_t mode;
    uint8_t key[32];
    size_t key_len;
    uint8_t base_nonce[12];
    uint8_t exporter_secret[32];
    uint64_t seq;
} phx_hpke_ctx_t;

/* Sender setup. skE may be NULL (fresh ephemeral key) or given (test vectors).
 * skS is the sender's static key for auth mode, NULL for base. */
phx_err_t phx_hpke_setup_sender(phx_hpke_ctx_t *ctx, uint8_t mode, uint16_t aead_id,
                                const uint8_t pkR[32], const void *info, size_t info_len,
                                const uint8_t *skE, const uint8_t *skS, uint8_t enc[32]);
/* Receiver setup. pkS is the sender's static public key for auth mode, NULL for base. */
phx_err_t phx_hpke_setup_receiver(phx_hpke_ctx_t *ctx, uint8_t mode, uint16_t aead_id,
                                  const uint8_t enc[32], const uint8_t skR[32], const uint8_t *pkS,
                                  const void *info, size_t info_len);
/* Context seal/open with the next sequence number; ct is pt_len + 16 bytes. */
phx_err_t phx_hpke_ctx_seal(phx_hpke_ctx_t *ctx, const void *aad, size_t aad_len, const void *pt,
                            size_t pt_len, uint8_t *ct);
phx_err_t phx_hpke_ctx_open(phx_hpke_ctx_t *ctx, const void *aad, size_t aad_len, const uint8_t *ct,
                            size_t ct_len, uint8_t *pt);
phx_err_t phx_hpke_ctx_export(const phx_hpke_ctx_t *ctx, const void *exporter_context,
                              size_t exporter_context_len, uint8_t *out, size_t out_len);
void phx_hpke_ctx_clear(phx_hpke_ctx_t *ctx); /* zeroes keys */

/* Single-shot, mode base, ChaCha20-Poly1305 (the Phalanx suite): ct is pt_len + 16. */
phx_err_t phx_hpke_seal(const uint8_t pkR[32], const void *info, size_t info_len, const void *aad,
                        size_t aad_len, const void *pt, size_t pt_len, uint8_t enc[32],
                        uint8_t *ct);
phx_err_t phx_hpke_open(const uint8_t skR[32], const uint8_t enc[32], const void *info,
                        size_t info_len, const void *aad, size_t aad_len, const uint8_t *ct,
                        size_t ct_len, uint8_t *pt);
/* DeriveKeyPair (RFC 9180 §7.1.3) for X25519 from ikm. */
phx_err_t phx_hpke_derive_keypair(const void *ikm, size_t ikm_len, uint8_t sk[32], uint8_t pk[32]);

#ifdef __cplusplus
}
#endif
#endif
