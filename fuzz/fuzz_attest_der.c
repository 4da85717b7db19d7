/* Fuzz target for the DER certificate and CRL reader (src/attest/der.c), with
 * OpenSSL as the oracle: whatever our reader accepts, OpenSSL's d2i must
 * accept too (the whole input, nothing trailing) and read the same fields.
 * Anything else aborts. Seeds: the real certificates and CRLs of dcap/. */
#define OPENSSL_API_COMPAT 10101
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ecdsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "x509.h"

static void require(bool ok)
{
    if (!ok) abort();
}

static int64_t ossl_time(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm)) return INT64_MIN;
    return (int64_t)timegm(&tm);
}

static void same_i2d(int n, unsigned char *buf, der_view_t v)
{
    require(n > 0 && (size_t)n == v.len && memcmp(buf, v.p, v.len) == 0);
    OPENSSL_free(buf);
}

static void same_serial(const ASN1_INTEGER *s, der_view_t v)
{
    unsigned char *buf = NULL;
    int n = i2d_ASN1_INTEGER(s, &buf);
    require(n > 2 && (size_t)(n - 2) == v.len && memcmp(buf + 2, v.p, v.len) == 0);
    OPENSSL_free(buf);
}

static void same_sig(const ASN1_BIT_STRING *bits, const uint8_t ours[64])
{
    const unsigned char *p = bits->data;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, bits->length);
    require(sig != NULL && p == bits->data + bits->length);
    uint8_t rs[64];
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(sig, &r, &s);
    require(BN_bn2binpad(r, rs, 32) == 32 && BN_bn2binpad(s, rs + 32, 32) == 32 &&
            memcmp(rs, ours, 64) == 0);
    ECDSA_SIG_free(sig);
}

static void same_octets(const ASN1_OCTET_STRING *o, der_view_t v)
{
    if (!o)
        require(v.len == 0);
    else
        require((size_t)o->length == v.len && memcmp(o->data, v.p, v.len) == 0);
}

static void check_cert(const uint8_t *data, size_t size)
{
    x509_cert_t c;
    if (x509_cert_parse(data, size, &c, NULL) != PHX_OK) return;
    const unsigned char *p = data;
    X509 *x = d2i_X509(NULL, &p, (long)size);
    require(x != NULL && p == data + size);
    unsigned char *buf = NULL;
    same_i2d(i2d_X509_NAME(X509_get_issuer_name(x), &buf), buf, c.issuer);
    buf = NULL;
    same_i2d(i2d_X509_NAME(X509_get_subject_name(x), &buf), buf, c.subject);
    same_serial(X509_get0_serialNumber(x), c.serial);
    require(ossl_time(X509_get0_notBefore(x)) == c.not_before);
    require(ossl_time(X509_get0_notAfter(x)) == c.not_after);
    ASN1_BIT_STRING *key = X509_get0_pubkey_bitstr(x);
    require(key && key->length == 65 && memcmp(key->data, c.pub, 65) == 0);
    const ASN1_BIT_STRING *sig = NULL;
    X509_get0_signature(&sig, NULL, x);
    same_sig(sig, c.sig);
    require(X509_get_signature_nid(x) == NID_ecdsa_with_SHA256);
    /* OpenSSL answers "not a CA" for a certificate with any extension it finds
     * malformed, including ones our reader does not decode (it skips their
     * contents); the CA flag is compared whenever OpenSSL read them all. */
    if (!(X509_get_extension_flags(x) & EXFLAG_INVALID)) {
        require((X509_check_ca(x) != 0) == c.ca);
        uint32_t ku = X509_get_key_usage(x);
        require((ku != UINT32_MAX) == c.has_key_usage);
        if (c.has_key_usage) require(((ku & KU_KEY_CERT_SIGN) != 0) == c.key_cert_sign);
        same_octets(X509_get0_subject_key_id(x), c.skid);
        same_octets(X509_get0_authority_key_id(x), c.akid);
    }
    char cn[256];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    if (n < 0)
        require(c.subject_cn.len == 0);
    else if ((size_t)n < sizeof cn - 1)
        require((size_t)n == c.subject_cn.len && memcmp(cn, c.subject_cn.p, (size_t)n) == 0);
    ASN1_OBJECT *sgx = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
    int at = X509_get_ext_by_OBJ(x, sgx, -1);
    same_octets(at >= 0 ? X509_EXTENSION_get_data(X509_get_ext(x, at)) : NULL, c.sgx_ext);
    ASN1_OBJECT_free(sgx);
    /* Last: re-encoding marks x modified. */
    buf = NULL;
    same_i2d(i2d_re_X509_tbs(x, &buf), buf, c.tbs);
    X509_free(x);
}

static void check_crl(const uint8_t *data, size_t size)
{
    x509_crl_t c;
    if (x509_crl_parse(data, size, &c, NULL) != PHX_OK) return;
    const unsigned char *p = data;
    X509_CRL *x = d2i_X509_CRL(NULL, &p, (long)size);
    require(x != NULL && p == data + size);
    unsigned char *buf = NULL;
    same_i2d(i2d_X509_NAME(X509_CRL_get_issuer(x), &buf), buf, c.issuer);
    require(ossl_time(X509_CRL_get0_lastUpdate(x)) == c.this_update);
    const ASN1_TIME *nu = X509_CRL_get0_nextUpdate(x);
    require((nu ? ossl_time(nu) : INT64_MAX) == c.next_update);
    const ASN1_BIT_STRING *sig = NULL;
    X509_CRL_get0_signature(x, &sig, NULL);
    same_sig(sig, c.sig);
    STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(x);
    size_t n = rev ? (size_t)sk_X509_REVOKED_num(rev) : 0;
    require(n == c.n_revoked);
    for (size_t i = 0; i < n && i < 64; i++) {
        der_view_t mine = x509_crl_entry_serial(&c, i);
        same_serial(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rev, (int)i)), mine);
        require(x509_crl_lists(&c, mine));
    }
    buf = NULL;
    same_i2d(i2d_re_X509_CRL_tbs(x, &buf), buf, c.tbs);
    X509_CRL_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_cert(data, size);
    check_crl(data, size);
    return 0;
}
