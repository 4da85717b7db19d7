/* Benchmark driver for the crypto layer: prints "name ops_per_second" lines for
 * our primitives and for in-process OpenSSL peers where OpenSSL has the same
 * thing (secp256k1 ECDSA; SHA3-256, which is Keccak-f[1600] with other padding).
 * bench/crypto/run.sh turns these into a ratio table. Never asserts timings. */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"

static double seconds_per_item = 1.0;

typedef void (*op_fn)(void *arg);

/* Run op in batches until the time budget is spent; return ops/s. */
static double measure(op_fn op, void *arg)
{
    for (int i = 0; i < 10; i++)
        op(arg); /* warm caches */
    uint64_t start = phx_monotonic_ns(), budget = (uint64_t)(seconds_per_item * 1e9), elapsed;
    uint64_t n = 0, batch = 16;
    do {
        for (uint64_t i = 0; i < batch; i++)
            op(arg);
        n += batch;
        elapsed = phx_monotonic_ns() - start;
    } while (elapsed < budget);
    return (double)n * 1e9 / (double)elapsed;
}

static uint8_t kib[1024];
static volatile uint8_t sink;

static void op_keccak(void *arg)
{
    (void)arg;
    uint8_t h[32];
    phx_keccak256(kib, sizeof kib, h);
    sink ^= h[0];
}

static void op_sha3_openssl(void *arg)
{
    uint8_t h[32];
    unsigned int n = 32;
    EVP_Digest(kib, sizeof kib, h, &n, (const EVP_MD *)arg, NULL);
    sink ^= h[0];
}

static uint8_t sk[32], digest[32], sig[65];

static void op_secp_sign(void *arg)
{
    (void)arg;
    uint8_t s[65];
    phx_secp256k1_sign(sk, digest, s);
    sink ^= s[0];
}

static void op_secp_recover(void *arg)
{
    (void)arg;
    uint8_t pub[64];
    phx_secp256k1_recover(digest, sig, pub);
    sink ^= pub[0];
}

/* OpenSSL's secp256k1 ECDSA over a prehashed digest (the same work as ours). */
typedef struct {
    EVP_PKEY *key;
    uint8_t der[80];
    size_t der_len;
} ossl_secp_t;

static void op_ossl_secp_sign(void *arg)
{
    ossl_secp_t *o = arg;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(o->key, NULL);
    uint8_t der[80];
    size_t n = sizeof der;
    EVP_PKEY_sign_init(c);
    EVP_PKEY_sign(c, der, &n, digest, 32);
    EVP_PKEY_CTX_free(c);
    sink ^= der[5];
}

static void op_ossl_secp_verify(void *arg)
{
    ossl_secp_t *o = arg;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(o->key, NULL);
    EVP_PKEY_verify_init(c);
    sink ^= (uint8_t)EVP_PKEY_verify(c, o->der, o->der_len, digest, 32);
    EVP_PKEY_CTX_free(c);
}

static uint8_t p256_pub[64], p256_sig[64];

static void op_p256_verify(void *arg)
{
    (void)arg;
    /* As attestation calls it: key and r||s as bytes, message hashed inside. */
    sink ^= (uint8_t)phx_ecdsa_verify_raw(PHX_CURVE_P256, p256_pub, 64, kib, 64, p256_sig, 64);
}

static uint8_t hpke_sk[32], hpke_pk[32], hpke_enc[32], hpke_ct[1024 + 16];

static void op_hpke_seal(void *arg)
{
    (void)arg;
    uint8_t enc[32];
    static uint8_t ct[1024 + 16];
    phx_hpke_seal(hpke_pk, "info", 4, NULL, 0, kib, sizeof kib, enc, ct);
    sink ^= ct[0];
}

static void op_hpke_open(void *arg)
{
    (void)arg;
    static uint8_t pt[1024];
    phx_hpke_open(hpke_sk, hpke_enc, "info", 4, NULL, 0, hpke_ct, sizeof hpke_ct, pt);
    sink ^= pt[0];
}

int main(int argc, char **argv)
{
    if (argc > 1) seconds_per_item = atof(argv[1]);
    if (seconds_per_item <= 0) seconds_per_item = 1.0;
    if (phx_crypto_init()) return 1;
    phx_random_bytes(kib, sizeof kib);
    phx_random_bytes(digest, sizeof digest);
    phx_secp256k1_keygen(sk);
    phx_secp256k1_sign(sk, digest, sig);
    {
        uint8_t psk[32];
        phx_p256_keygen(psk, p256_pub);
        phx_p256_sign(psk, kib, 64, p256_sig);
    }
    phx_x25519_keygen(hpke_sk, hpke_pk);
    phx_hpke_seal(hpke_pk, "info", 4, NULL, 0, kib, sizeof kib, hpke_enc, hpke_ct);

    ossl_secp_t o = {0};
    o.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
    if (o.key) {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(o.key, NULL);
        o.der_len = sizeof o.der;
        EVP_PKEY_sign_init(c);
        EVP_PKEY_sign(c, o.der, &o.der_len, digest, 32);
        EVP_PKEY_CTX_free(c);
    }
    EVP_MD *sha3 = EVP_MD_fetch(NULL, "SHA3-256", NULL);

    printf("keccak256_1k %.0f\n", measure(op_keccak, NULL));
    if (sha3) printf("openssl_sha3_256_1k %.0f\n", measure(op_sha3_openssl, sha3));
    printf("secp256k1_sign %.0f\n", measure(op_secp_sign, NULL));
    printf("secp256k1_recover %.0f\n", measure(op_secp_recover, NULL));
    if (o.key) {
        printf("openssl_secp256k1_sign %.0f\n", measure(op_ossl_secp_sign, &o));
        printf("openssl_secp256k1_verify %.0f\n", measure(op_ossl_secp_verify, &o));
    }
    printf("p256_verify %.0f\n", measure(op_p256_verify, NULL));
    printf("hpke_seal_1k %.0f\n", measure(op_hpke_seal, NULL));
    printf("hpke_open_1k %.0f\n", measure(op_hpke_open, NULL));
    EVP_MD_free(sha3);
    EVP_PKEY_free(o.key);
    return 0;
}
