/* ECDSA over the NIST curves P-256 and P-384 with OpenSSL 3 EVP, for attestation:
 * verification from raw r||s (IEEE P1363, as in DCAP quotes) or strict DER (as in
 * X.509), plus P-256 key generation and signing for the simulated TEE's PCS keys.
 * OpenSSL checks public points are on the curve and that DER re-encodes exactly. */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <string.h>

#include "phx/crypto.h"

typedef struct {
    const char *group;
    int nid;
    size_t field_len;
    const EVP_MD *(*md)(void);
} curve_info_t;

static const curve_info_t *curve_info(phx_curve_t curve)
{
    static const curve_info_t p256 = {"P-256", NID_X9_62_prime256v1, 32, EVP_sha256};
    static const curve_info_t p384 = {"P-384", NID_secp384r1, 48, EVP_sha384};
    switch (curve) {
    case PHX_CURVE_P256:
        return &p256;
    case PHX_CURVE_P384:
        return &p384;
    }
    return NULL;
}

/* Build an EVP_PKEY from a public point (SEC1 compressed/uncompressed or raw x||y)
 * and, when priv is given, a private scalar. NULL on any error. */
static EVP_PKEY *make_key(const curve_info_t *ci, const uint8_t *pub, size_t pub_len,
                          const uint8_t *priv)
{
    uint8_t full[1 + 2 * 48];
    size_t fl = ci->field_len;
    if (pub_len == 2 * fl) {
        full[0] = 0x04;
        memcpy(full + 1, pub, pub_len);
        pub = full;
        pub_len++;
    } else if (!((pub_len == 1 + 2 * fl && pub[0] == 0x04) ||
                 (pub_len == 1 + fl && (pub[0] == 0x02 || pub[0] == 0x03)))) {
        return NULL;
    }
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    BIGNUM *d = NULL;
    if (!bld) goto out;
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, ci->group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len))
        goto out;
    if (priv) {
        if (!(d = BN_secure_new()) || !BN_bin2bn(priv, (int)fl, d) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d))
            goto out;
    }
    if (!(params = OSSL_PARAM_BLD_to_param(bld))) goto out;
    if (!(pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL))) goto out;
    if (EVP_PKEY_fromdata_init(pctx) <= 0 ||
        EVP_PKEY_fromdata(pctx, &pkey, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
out:
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    return pkey;
}

static phx_err_t verify_der(const curve_info_t *ci, EVP_PKEY *pkey, const void *msg, size_t msg_len,
                            const uint8_t *der, size_t der_len)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    phx_err_t err = PHX_ERR_CRYPTO;
    static const uint8_t empty[1];
    if (!mctx) goto out;
    if (EVP_DigestVerifyInit_ex(mctx, NULL, EVP_MD_get0_name(ci->md()), NULL, NULL, pkey, NULL) <=
        0)
        goto out;
    /* 1 verified; 0 or negative (unparsable signature) are both a failed check. */
    err = EVP_DigestVerify(mctx, der, der_len, msg ? msg : empty, msg_len) == 1 ? PHX_OK
                                                                                : PHX_ERR_VERIFY;
out:
    EVP_MD_CTX_free(mctx);
    return err;
}

phx_err_t phx_ecdsa_verify_der(phx_curve_t curve, const uint8_t *pub, size_t pub_len,
                               const void *msg, size_t msg_len, const uint8_t *der, size_t der_len)
{
    const curve_info_t *ci = curve_info(curve);
    if (!ci || !pub) return PHX_ERR_INVALID;
    EVP_PKEY *pkey = make_key(ci, pub, pub_len, NULL);
    if (!pkey) return PHX_ERR_INVALID;
    phx_err_t err =
        der && der_len ? verify_der(ci, pkey, msg, msg_len, der, der_len) : PHX_ERR_VERIFY;
    EVP_PKEY_free(pkey);
    return err;
}

/* r||s (each exactly field_len bytes) to DER. */
static phx_err_t raw_to_der(const curve_info_t *ci, const uint8_t *rs, size_t rs_len, uint8_t **der,
                            size_t *der_len)
{
    if (rs_len != 2 * ci->field_len) return PHX_ERR_VERIFY;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, (int)ci->field_len, NULL);
    BIGNUM *s = BN_bin2bn(rs + ci->field_len, (int)ci->field_len, NULL);
    phx_err_t err = PHX_ERR_CRYPTO;
    if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
        BN_free(r);
        BN_free(s);
        goto out;
    }
    unsigned char *p = NULL;
    int n = i2d_ECDSA_SIG(sig, &p);
    if (n <= 0) goto out;
    *der = p;
    *der_len = (size_t)n;
    err = PHX_OK;
out:
    ECDSA_SIG_free(sig);
    return err;
}

phx_err_t phx_ecdsa_verify_raw(phx_curve_t curve, const uint8_t *pub, size_t pub_len,
                               const void *msg, size_t msg_len, const uint8_t *rs, size_t rs_len)
{
    const curve_info_t *ci = curve_info(curve);
    if (!ci || !pub) return PHX_ERR_INVALID;
    /* The key is checked first so a bad key is reported as such (PHX_ERR_INVALID). */
    EVP_PKEY *pkey = make_key(ci, pub, pub_len, NULL);
    if (!pkey) return PHX_ERR_INVALID;
    uint8_t *der = NULL;
    size_t der_len = 0;
    phx_err_t err = rs ? raw_to_der(ci, rs, rs_len, &der, &der_len) : PHX_ERR_VERIFY;
    if (!err) err = verify_der(ci, pkey, msg, msg_len, der, der_len);
    OPENSSL_free(der);
    EVP_PKEY_free(pkey);
    return err;
}

phx_err_t phx_p256_keygen(uint8_t sk[32], uint8_t pub[64])
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    BIGNUM *d = NULL;
    uint8_t ser[65];
    size_t ser_len = 0;
    phx_err_t err = PHX_ERR_CRYPTO;
    if (!pkey) return err;
    if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) || BN_bn2binpad(d, sk, 32) != 32)
        goto out;
    if (!EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, ser, sizeof ser,
                                         &ser_len) ||
        ser_len != 65 || ser[0] != 0x04)
        goto out;
    memcpy(pub, ser + 1, 64);
    err = PHX_OK;
out:
    if (err) phx_secure_zero(sk, 32);
    BN_clear_free(d);
    EVP_PKEY_free(pkey);
    return err;
}

/* Public point of a P-256 scalar, as 0x04||x||y; also checks sk is in [1, n-1]. */
static phx_err_t p256_public(const uint8_t sk[32], uint8_t ser[65])
{
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *point = NULL;
    BIGNUM *d = BN_secure_new();
    phx_err_t err = PHX_ERR_CRYPTO;
    if (!group || !d || !BN_bin2bn(sk, 32, d)) goto out;
    if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(group)) >= 0) {
        err = PHX_ERR_INVALID;
        goto out;
    }
    if (!(point = EC_POINT_new(group)) || !EC_POINT_mul(group, point, d, NULL, NULL, NULL))
        goto out;
    if (EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, ser, 65, NULL) != 65)
        goto out;
    err = PHX_OK;
out:
    EC_POINT_free(point);
    BN_clear_free(d);
    EC_GROUP_free(group);
    return err;
}

phx_err_t phx_p256_sign(const uint8_t sk[32], const void *msg, size_t msg_len, uint8_t rs[64])
{
    uint8_t ser[65];
    phx_err_t err = p256_public(sk, ser);
    if (err) return err;
    const curve_info_t *ci = curve_info(PHX_CURVE_P256);
    EVP_PKEY *pkey = make_key(ci, ser, sizeof ser, sk);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    ECDSA_SIG *sig = NULL;
    uint8_t der[80];
    size_t der_len = sizeof der;
    static const uint8_t empty[1];
    err = PHX_ERR_CRYPTO;
    if (!pkey || !mctx) goto out;
    if (EVP_DigestSignInit_ex(mctx, NULL, "SHA256", NULL, NULL, pkey, NULL) <= 0 ||
        EVP_DigestSign(mctx, der, &der_len, msg ? msg : empty, msg_len) <= 0)
        goto out;
    const unsigned char *p = der;
    if (!(sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len))) goto out;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_bn2binpad(r, rs, 32) != 32 || BN_bn2binpad(s, rs + 32, 32) != 32) goto out;
    err = PHX_OK;
out:
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_free(pkey);
    return err;
}
