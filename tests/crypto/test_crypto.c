/* Crypto layer unit tests: secp256k1 sign/recover/address against ethers'
 * transaction vectors (private key -> address), EIP-191 and EIP-55 known
 * answers, round trips and rejection of malformed inputs. */
#include <string.h>

#include "phx/crypto.h"
#include "phx/json.h"
#include "test.h"

static void hex_to(const char *hex, uint8_t *out, size_t n)
{
    phx_error_t e = {0};
    CHECK_MSG(phx_hex_decode_fixed(hex, out, n, &e) == PHX_OK, "%s", e.message);
}

/* ethers' transactions.json gives private keys and their addresses (1067 pairs). */
static void address_vectors(void)
{
    const char *path = test_data_path("ethereum/ethers-testcases/transactions.json");
    if (!path) return;
    json_t *root = NULL;
    phx_error_t e = {0};
    if (phx_json_load_file(path, &root, &e)) {
        CHECK_MSG(0, "%s", e.message);
        return;
    }
    size_t i;
    json_t *v;
    int n = 0, ok = 0;
    json_array_foreach(root, i, v)
    {
        const char *sk_hex = json_string_value(json_object_get(v, "privateKey"));
        const char *addr_hex = json_string_value(json_object_get(v, "accountAddress"));
        if (!sk_hex || !addr_hex) continue;
        uint8_t sk[32], want[20], got[20];
        hex_to(sk_hex, sk, 32);
        hex_to(addr_hex, want, 20);
        n++;
        int good = phx_eth_address_from_seckey(sk, got) == PHX_OK && memcmp(got, want, 20) == 0;
        ok += good;
        CHECK_MSG(good, "transactions.json #%zu: address mismatch", i);
    }
    printf("ethereum/ethers-testcases/transactions.json: %d key->address vectors, %d match\n", n,
           ok);
    json_decref(root);
}

/* The four examples of the EIP-55 specification. */
static void test_eip55(void)
{
    static const char *examples[] = {
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"};
    for (int i = 0; i < 4; i++) {
        uint8_t addr[20];
        char out[43];
        hex_to(examples[i], addr, 20);
        phx_eth_address_checksum(addr, out);
        CHECK_MSG(strcmp(out, examples[i]) == 0, "EIP-55 %s gave %s", examples[i], out);
    }
}

static void test_sign_recover(void)
{
    for (int round = 0; round < 32; round++) {
        uint8_t sk[32], pub[64], rec[64], digest[32], sig[65];
        CHECK(phx_secp256k1_keygen(sk) == PHX_OK);
        CHECK(phx_secp256k1_pubkey(sk, pub) == PHX_OK);
        CHECK(phx_random_bytes(digest, 32) == PHX_OK);
        CHECK(phx_secp256k1_sign(sk, digest, sig) == PHX_OK);
        CHECK(sig[64] <= 1);
        /* low-S: s <= n/2, whose top byte is 0x7f. */
        CHECK(sig[32] <= 0x7f);
        CHECK(phx_secp256k1_recover(digest, sig, rec) == PHX_OK && memcmp(rec, pub, 64) == 0);
        uint8_t pub65[65] = {0x04};
        memcpy(pub65 + 1, pub, 64);
        CHECK(phx_secp256k1_verify_raw(pub65, 65, digest, sig) == PHX_OK);
        /* Wrong digest: recovery yields another key, verification fails. */
        digest[0] ^= 1;
        CHECK(phx_secp256k1_verify_raw(pub65, 65, digest, sig) == PHX_ERR_VERIFY);
        CHECK(phx_secp256k1_recover(digest, sig, rec) != PHX_OK || memcmp(rec, pub, 64) != 0);
        digest[0] ^= 1;
        /* v = 27/28 form accepted; v = 4 rejected. */
        uint8_t sig27[65];
        memcpy(sig27, sig, 65);
        sig27[64] += 27;
        CHECK(phx_secp256k1_recover(digest, sig27, rec) == PHX_OK && memcmp(rec, pub, 64) == 0);
        sig27[64] = 4;
        CHECK(phx_secp256k1_recover(digest, sig27, rec) == PHX_ERR_INVALID);
    }
    /* High-S (s' = n - s) is rejected by recover, as Ethereum does. */
    static const uint8_t n_order[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                                        0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b,
                                        0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
    uint8_t sk[32], digest[32] = {1}, sig[65], pub[64];
    CHECK(phx_secp256k1_keygen(sk) == PHX_OK);
    CHECK(phx_secp256k1_sign(sk, digest, sig) == PHX_OK);
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = n_order[i] - sig[32 + i] - borrow;
        borrow = d < 0;
        sig[32 + i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
    sig[64] ^= 1;
    CHECK(phx_secp256k1_recover(digest, sig, pub) == PHX_ERR_VERIFY);
    /* Zero and out-of-range secret keys. */
    uint8_t zero[32] = {0};
    CHECK(phx_secp256k1_seckey_verify(zero) == PHX_ERR_INVALID);
    CHECK(phx_secp256k1_seckey_verify(n_order) == PHX_ERR_INVALID);
    CHECK(phx_secp256k1_pubkey(zero, pub) == PHX_ERR_INVALID);
}

static void test_eip191(void)
{
    /* Known answer: keccak256("\x19Ethereum Signed Message:\n11hello world"), as
     * ethers.hashMessage("hello world") gives. */
    uint8_t d[32], want[32];
    phx_eip191_digest("hello world", 11, d);
    hex_to("0xd9eba16ed0ecae432b71fe008c98cc872bb4cc214d3220a36f365326cf807d68", want, 32);
    CHECK(memcmp(d, want, 32) == 0);
    uint8_t sk[32], addr[20], rec[20], sig[65];
    CHECK(phx_secp256k1_keygen(sk) == PHX_OK);
    CHECK(phx_eth_address_from_seckey(sk, addr) == PHX_OK);
    CHECK(phx_eip191_sign(sk, "hello", 5, sig) == PHX_OK);
    CHECK(sig[64] == 27 || sig[64] == 28);
    CHECK(phx_eip191_recover("hello", 5, sig, rec) == PHX_OK && memcmp(rec, addr, 20) == 0);
    CHECK(phx_eip191_recover("hellO", 5, sig, rec) != PHX_OK || memcmp(rec, addr, 20) != 0);
    sig[64] = 29;
    CHECK(phx_eip191_recover("hello", 5, sig, rec) == PHX_ERR_INVALID);
    /* Empty message is allowed: "\x19Ethereum Signed Message:\n0". */
    CHECK(phx_eip191_sign(sk, NULL, 0, sig) == PHX_OK);
    CHECK(phx_eip191_recover(NULL, 0, sig, rec) == PHX_OK && memcmp(rec, addr, 20) == 0);
}

static void test_p256(void)
{
    uint8_t sk[32], pub[64], rs[64];
    CHECK(phx_p256_keygen(sk, pub) == PHX_OK);
    const char msg[] = "quote body";
    CHECK(phx_p256_sign(sk, msg, sizeof msg - 1, rs) == PHX_OK);
    CHECK(phx_ecdsa_verify_raw(PHX_CURVE_P256, pub, 64, msg, sizeof msg - 1, rs, 64) == PHX_OK);
    uint8_t pub65[65] = {0x04};
    memcpy(pub65 + 1, pub, 64);
    CHECK(phx_ecdsa_verify_raw(PHX_CURVE_P256, pub65, 65, msg, sizeof msg - 1, rs, 64) == PHX_OK);
    CHECK(phx_ecdsa_verify_raw(PHX_CURVE_P256, pub, 64, msg, sizeof msg - 2, rs, 64) ==
          PHX_ERR_VERIFY);
    CHECK(phx_ecdsa_verify_raw(PHX_CURVE_P256, pub, 64, msg, sizeof msg - 1, rs, 63) ==
          PHX_ERR_VERIFY);
    /* A point off the curve is refused as a key, not as a signature. */
    pub[63] ^= 1;
    CHECK(phx_ecdsa_verify_raw(PHX_CURVE_P256, pub, 64, msg, sizeof msg - 1, rs, 64) ==
          PHX_ERR_INVALID);
    CHECK(phx_ecdsa_verify_raw(PHX_CURVE_P384, pub, 64, msg, sizeof msg - 1, rs, 64) ==
          PHX_ERR_INVALID);
    /* Signing is randomised (OpenSSL's default nonce) yet always verifies. */
    uint8_t rs2[64];
    pub[63] ^= 1;
    CHECK(phx_p256_sign(sk, msg, sizeof msg - 1, rs2) == PHX_OK);
    CHECK(phx_ecdsa_verify_raw(PHX_CURVE_P256, pub, 64, msg, sizeof msg - 1, rs2, 64) == PHX_OK);
    uint8_t zero[32] = {0};
    CHECK(phx_p256_sign(zero, msg, 1, rs) == PHX_ERR_INVALID);
}

static void test_hashes(void)
{
    /* FIPS 180-2 "abc" examples. */
    uint8_t h[64], want[64];
    phx_sha256("abc", 3, h);
    hex_to("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
    CHECK(memcmp(h, want, 32) == 0);
    phx_sha384("abc", 3, h);
    hex_to("cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
           "8086072ba1e7cc2358baeca134c825a7",
           want, 48);
    CHECK(memcmp(h, want, 48) == 0);
    /* RFC 7693 Appendix A: BLAKE2b-512("abc"). */
    CHECK(phx_blake2b("abc", 3, h, 64) == PHX_OK);
    hex_to("ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
           "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
           want, 64);
    CHECK(memcmp(h, want, 64) == 0);
    CHECK(phx_blake2b("abc", 3, h, 15) == PHX_ERR_RANGE);
    CHECK(phx_blake2b("abc", 3, h, 65) == PHX_ERR_RANGE);
    /* RFC 5869 A.1 */
    uint8_t ikm[22], salt[13], info[10], okm[42];
    memset(ikm, 0x0b, sizeof ikm);
    for (int i = 0; i < 13; i++)
        salt[i] = (uint8_t)i;
    for (int i = 0; i < 10; i++)
        info[i] = (uint8_t)(0xf0 + i);
    CHECK(phx_hkdf_sha256(salt, 13, ikm, 22, info, 10, okm, 42) == PHX_OK);
    hex_to("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
           want, 42);
    CHECK(memcmp(okm, want, 42) == 0);
    CHECK(phx_hkdf_sha256(NULL, 0, ikm, 22, NULL, 0, okm, 255 * 32 + 1) == PHX_ERR_RANGE);
}

static void test_hpke_roundtrip(void)
{
    uint8_t skR[32], pkR[32], enc[32];
    CHECK(phx_x25519_keygen(skR, pkR) == PHX_OK);
    const char pt[] = "confidential input";
    const size_t n = sizeof pt - 1;
    uint8_t ct[sizeof pt - 1 + 16], out[sizeof pt];
    CHECK(phx_hpke_seal(pkR, "info", 4, "aad", 3, pt, n, enc, ct) == PHX_OK);
    CHECK(phx_hpke_open(skR, enc, "info", 4, "aad", 3, ct, n + 16, out) == PHX_OK);
    CHECK(memcmp(out, pt, n) == 0);
    /* Wrong info, wrong aad, tampered tag, tampered enc, truncated: all refused. */
    CHECK(phx_hpke_open(skR, enc, "inf0", 4, "aad", 3, ct, n + 16, out) == PHX_ERR_VERIFY);
    CHECK(phx_hpke_open(skR, enc, "info", 4, "aaa", 3, ct, n + 16, out) == PHX_ERR_VERIFY);
    ct[n + 15] ^= 1;
    CHECK(phx_hpke_open(skR, enc, "info", 4, "aad", 3, ct, n + 16, out) == PHX_ERR_VERIFY);
    ct[n + 15] ^= 1;
    enc[0] ^= 1;
    CHECK(phx_hpke_open(skR, enc, "info", 4, "aad", 3, ct, n + 16, out) == PHX_ERR_VERIFY);
    enc[0] ^= 1;
    CHECK(phx_hpke_open(skR, enc, "info", 4, "aad", 3, ct, 15, out) == PHX_ERR_TRUNCATED);
    /* A low-order enc (all zero) gives a zero DH output: refused. */
    uint8_t zero[32] = {0};
    CHECK(phx_hpke_open(skR, zero, NULL, 0, NULL, 0, ct, n + 16, out) == PHX_ERR_CRYPTO);

    /* Auth mode: the receiver must name the right sender key. */
    uint8_t skS[32], pkS[32], other_sk[32], other_pk[32];
    CHECK(phx_x25519_keygen(skS, pkS) == PHX_OK);
    CHECK(phx_x25519_keygen(other_sk, other_pk) == PHX_OK);
    phx_hpke_ctx_t s, r;
    CHECK(phx_hpke_setup_sender(&s, PHX_HPKE_MODE_AUTH, PHX_HPKE_AEAD_AES128GCM, pkR, NULL, 0, NULL,
                                skS, enc) == PHX_OK);
    CHECK(phx_hpke_ctx_seal(&s, NULL, 0, pt, n, ct) == PHX_OK);
    CHECK(phx_hpke_setup_receiver(&r, PHX_HPKE_MODE_AUTH, PHX_HPKE_AEAD_AES128GCM, enc, skR,
                                  other_pk, NULL, 0) == PHX_OK);
    CHECK(phx_hpke_ctx_open(&r, NULL, 0, ct, n + 16, out) == PHX_ERR_VERIFY);
    CHECK(phx_hpke_setup_receiver(&r, PHX_HPKE_MODE_AUTH, PHX_HPKE_AEAD_AES128GCM, enc, skR, pkS,
                                  NULL, 0) == PHX_OK);
    CHECK(phx_hpke_ctx_open(&r, NULL, 0, ct, n + 16, out) == PHX_OK && memcmp(out, pt, n) == 0);
    uint8_t e1[40], e2[40];
    CHECK(phx_hpke_ctx_export(&s, "ctx", 3, e1, sizeof e1) == PHX_OK);
    CHECK(phx_hpke_ctx_export(&r, "ctx", 3, e2, sizeof e2) == PHX_OK && memcmp(e1, e2, 40) == 0);
    /* Unsupported mode/suite are reported as such. */
    CHECK(phx_hpke_setup_sender(&s, 1, PHX_HPKE_AEAD_AES128GCM, pkR, NULL, 0, NULL, NULL, enc) ==
          PHX_ERR_UNSUPPORTED);
    CHECK(phx_hpke_setup_sender(&s, 0, 2, pkR, NULL, 0, NULL, NULL, enc) == PHX_ERR_UNSUPPORTED);
    phx_hpke_ctx_clear(&s);
    phx_hpke_ctx_clear(&r);
    CHECK(phx_hpke_ctx_seal(&s, NULL, 0, pt, n, ct) == PHX_ERR_STATE);
}

static void test_ed25519_aead(void)
{
    uint8_t pk[32], sk[64], sig[64];
    CHECK(phx_ed25519_keygen(pk, sk) == PHX_OK);
    CHECK(phx_ed25519_sign(sk, "m", 1, sig) == PHX_OK);
    CHECK(phx_ed25519_verify(pk, "m", 1, sig) == PHX_OK);
    CHECK(phx_ed25519_verify(pk, "n", 1, sig) == PHX_ERR_VERIFY);
    phx_aead_t algs[] = {PHX_AEAD_AES128_GCM, PHX_AEAD_AES256_GCM, PHX_AEAD_CHACHA20_POLY1305,
                         PHX_AEAD_XCHACHA20_POLY1305};
    for (int i = 0; i < 4; i++) {
        uint8_t key[32] = {1}, nonce[24] = {2}, ct[5 + 16], pt[5];
        size_t nl = phx_aead_nonce_len(algs[i]);
        CHECK(phx_aead_seal(algs[i], key, nonce, nl, "a", 1, "hello", 5, ct) == PHX_OK);
        CHECK(phx_aead_open(algs[i], key, nonce, nl, "a", 1, ct, sizeof ct, pt) == PHX_OK &&
              memcmp(pt, "hello", 5) == 0);
        ct[0] ^= 1;
        CHECK(phx_aead_open(algs[i], key, nonce, nl, "a", 1, ct, sizeof ct, pt) == PHX_ERR_VERIFY);
        /* Failed opens never leak the unauthenticated plaintext. */
        CHECK(pt[0] == 0 && pt[4] == 0);
        CHECK(phx_aead_open(algs[i], key, nonce, nl, "a", 1, ct, 15, pt) == PHX_ERR_TRUNCATED);
        /* An empty message still carries a tag. */
        CHECK(phx_aead_seal(algs[i], key, nonce, nl, NULL, 0, NULL, 0, ct) == PHX_OK);
        CHECK(phx_aead_open(algs[i], key, nonce, nl, NULL, 0, ct, 16, NULL) == PHX_OK);
    }
    uint8_t key[32] = {0}, nonce[24] = {0}, ct[16];
    CHECK(phx_aead_seal(PHX_AEAD_CHACHA20_POLY1305, key, nonce, 8, NULL, 0, NULL, 0, ct) ==
          PHX_ERR_INVALID);
}

int main(void)
{
    CHECK(phx_crypto_init() == PHX_OK);
    static const test_case_t cases[] = {
        TEST_CASE(test_hashes),         TEST_CASE(address_vectors),   TEST_CASE(test_eip55),
        TEST_CASE(test_sign_recover),   TEST_CASE(test_eip191),       TEST_CASE(test_p256),
        TEST_CASE(test_hpke_roundtrip), TEST_CASE(test_ed25519_aead),
    };
    return test_run("test_crypto", cases, TEST_COUNT(cases));
}
