/* libFuzzer target for the decoders every outside input passes through: hex,
 * base64 and JSON (core), plus the crypto layer's signature/ciphertext parsers
 * (strict DER for secp256k1 and P-256, HPKE open). The first byte picks the
 * decoder; round trips must be stable (decode(encode(decode(x))) == decode(x)). */
#include <stdlib.h>
#include <string.h>

#include "phx/core.h"
#include "phx/crypto.h"
#include "phx/json.h"

static void must(int cond)
{
    if (!cond) __builtin_trap();
}

static void fuzz_hex(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    phx_buf_t a = PHX_BUF_INIT, b = PHX_BUF_INIT;
    if (phx_hex_decode(s, &a, NULL) == PHX_OK) {
        char *enc = phx_hex_encode(a.ptr, a.len);
        must(enc && phx_hex_decode(enc, &b, NULL) == PHX_OK && a.len == b.len &&
             (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0));
        free(enc);
    } else {
        must(a.len == 0); /* a failed decode appends nothing */
    }
    phx_buf_free(&a);
    phx_buf_free(&b);
    free(s);
}

static void fuzz_base64(const uint8_t *p, size_t n)
{
    phx_buf_t a = PHX_BUF_INIT, b = PHX_BUF_INIT;
    if (phx_base64_decode((const char *)p, n, &a, NULL) == PHX_OK) {
        char *enc = phx_base64_encode(a.ptr, a.len);
        must(enc && phx_base64_decode(enc, strlen(enc), &b, NULL) == PHX_OK && a.len == b.len &&
             (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0));
        free(enc);
    } else {
        must(a.len == 0); /* a failed decode appends nothing */
    }
    phx_buf_free(&a);
    phx_buf_free(&b);
}

static void fuzz_json(const uint8_t *p, size_t n)
{
    json_t *v = NULL;
    phx_error_t e;
    if (phx_json_parse((const char *)p, n, &v, &e) != PHX_OK) return;
    const char *s;
    int64_t i;
    bool flag;
    phx_buf_t b = PHX_BUF_INIT;
    uint8_t fixed[32];
    (void)phx_json_get_str(v, "a", &s, &e);
    (void)phx_json_get_int(v, "b", &i, &e);
    (void)phx_json_get_bool(v, "c", &flag, &e);
    (void)phx_json_get_hex(v, "d", &b, &e);
    (void)phx_json_get_hex_fixed(v, "e", fixed, sizeof fixed, &e);
    char *dump = phx_json_dump(v, false);
    free(dump);
    phx_buf_free(&b);
    json_decref(v);
}

static void fuzz_signatures(const uint8_t *p, size_t n)
{
    /* A fixed valid key; the input is the signature (and the message). */
    static const uint8_t k1_pub[33] = {0x02, 0x79, 0xbe, 0x66, 0x7e, 0xf9, 0xdc, 0xbb, 0xac,
                                       0x55, 0xa0, 0x62, 0x95, 0xce, 0x87, 0x0b, 0x07, 0x02,
                                       0x9b, 0xfc, 0xdb, 0x2d, 0xce, 0x28, 0xd9, 0x59, 0xf2,
                                       0x81, 0x5b, 0x16, 0xf8, 0x17, 0x98};
    uint8_t digest[32] = {0}, pub[64];
    (void)phx_secp256k1_verify_der(k1_pub, sizeof k1_pub, digest, p, n);
    (void)phx_secp256k1_verify_der_low_s(k1_pub, sizeof k1_pub, digest, p, n);
    if (n >= 65) (void)phx_secp256k1_recover(digest, p, pub);
    if (n >= 65) (void)phx_ecdsa_verify_raw(PHX_CURVE_P256, p + 1, 64, p, n, p, 64);
    (void)phx_ecdsa_verify_der(PHX_CURVE_P256, pub, 64, p, n, p, n);
    /* HPKE open of attacker-chosen enc || ciphertext. */
    if (n >= 32) {
        static const uint8_t sk[32] = {1};
        uint8_t *pt = malloc(n);
        (void)phx_hpke_open(sk, p, NULL, 0, NULL, 0, p + 32, n - 32, pt);
        free(pt);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    phx_crypto_init();
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0:
        fuzz_hex(p, n);
        break;
    case 1:
        fuzz_base64(p, n);
        break;
    case 2:
        fuzz_json(p, n);
        break;
    case 3:
        fuzz_signatures(p, n);
        break;
    }
    return 0;
}
