/* X.509 primitives of the verifier: the trusted root and a pool of certificates
 * by content, PEM chains, chain verification against Intel's fixed hierarchy,
 * CRL signatures and revocation, validity windows. Fields come from our DER
 * reader (der.c); OpenSSL does only the signature math, each key imported once
 * per certificate content. RFC 5280 section 6 (path validation), restricted
 * to the shape of the Intel SGX PCK Certificate and CRL Profile. */
#define _GNU_SOURCE              /* memmem */
#define OPENSSL_API_COMPAT 10101 /* EC_KEY/ECDSA_do_verify: the fastest raw-key path */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>

#include "attest_internal.h"
#include "x509.h"

bool attest_ec_verify(EC_KEY *key, const void *msg, size_t len, const uint8_t rs[64])
{
    uint8_t digest[32];
    if (!key) return false;
    attest_sha256(msg, len, digest);
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, 32, NULL), *s = BN_bin2bn(rs + 32, 32, NULL);
    bool ok = false;
    if (sig && r && s && ECDSA_SIG_set0(sig, r, s)) {
        r = s = NULL;
        ok = ECDSA_do_verify(digest, 32, sig, key) == 1;
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return ok;
}

/* Duplicating the group-only template is ~1 us, building the group ~12 us. */
static EC_KEY *key_from_sec1(const EC_KEY *p256, const uint8_t sec1[65])
{
    EC_KEY *k = EC_KEY_dup(p256);
    if (k && EC_KEY_oct2key(k, sec1, 65, NULL) != 1) { /* also checks the point */
        EC_KEY_free(k);
        k = NULL;
    }
    return k;
}

EC_KEY *attest_raw_key(const EC_KEY *p256, const uint8_t pub[64])
{
    uint8_t sec1[65];
    sec1[0] = 0x04;
    memcpy(sec1 + 1, pub, 64);
    return key_from_sec1(p256, sec1);
}

EC_KEY *attest_cert_key(const attest_store_t *s, attest_cert_t *c)
{
    PHX_ASSERT(c->x.pub[0] == 0x04); /* der.c only accepts uncompressed points */
    if (!c->key) c->key = key_from_sec1(s->p256, c->x.pub);
    return c->key;
}

static void cert_free(attest_cert_t *c)
{
    if (!c) return;
    EC_KEY_free(c->key);
    free(c->der);
    free(c);
}

/* Copy and read one DER certificate. */
static attest_cert_t *cert_new(const uint8_t *der, size_t len, const uint8_t hash[32])
{
    attest_cert_t *c = calloc(1, sizeof *c);
    if (!c || !(c->der = malloc(len ? len : 1))) {
        free(c);
        return NULL;
    }
    memcpy(c->der, der, len);
    c->der_len = len;
    memcpy(c->hash, hash, 32);
    if (x509_cert_parse(c->der, len, &c->x, NULL)) {
        cert_free(c);
        return NULL;
    }
    return c;
}

/* Intel's PCS hierarchy: issued by name (byte for byte: a name that only
 * canonicalises equal is refused, so revocation lookups by name can never
 * miss), the authority key identifier names the issuer's key when both say,
 * and the issuer's key usage allows certificate signing (X509_check_issued). */
static bool issued_by(const attest_cert_t *issuer, const attest_cert_t *c)
{
    if (!der_view_eq(issuer->x.subject, c->x.issuer)) return false;
    if (c->x.akid.len && issuer->x.skid.len && !der_view_eq(c->x.akid, issuer->x.skid))
        return false;
    return !issuer->x.has_key_usage || issuer->x.key_cert_sign;
}

static bool signed_by(const attest_store_t *s, const attest_cert_t *c, attest_cert_t *issuer)
{
    return attest_ec_verify(attest_cert_key(s, issuer), c->x.tbs.p, c->x.tbs.len, c->x.sig);
}

phx_err_t attest_store_init(attest_store_t *s, const uint8_t *root_der, size_t len, bool is_intel,
                            phx_error_t *e)
{
    memset(s, 0, sizeof *s);
    s->is_intel = is_intel;
    if (!(s->p256 = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1)) ||
        !(s->root.der = malloc(len ? len : 1)))
        return phx_fail(e, PHX_ERR_NOMEM, "verifier");
    memcpy(s->root.der, root_der, len);
    s->root.der_len = len;
    attest_sha256(root_der, len, s->root.hash);
    if (x509_cert_parse(s->root.der, len, &s->root.x, NULL))
        return phx_fail(e, PHX_ERR_INVALID, "trusted root is not one DER certificate");
    if (!issued_by(&s->root, &s->root) || !s->root.x.ca || !signed_by(s, &s->root, &s->root))
        return phx_fail(e, PHX_ERR_VERIFY, "trusted root is not a self-signed CA");
    return PHX_OK;
}

void attest_store_clear(attest_store_t *s)
{
    for (size_t i = 0; i < s->n_pool; i++)
        cert_free(s->pool[i]);
    s->n_pool = 0;
}

void attest_store_free(attest_store_t *s)
{
    attest_store_clear(s);
    EC_KEY_free(s->root.key);
    free(s->root.der);
    EC_KEY_free(s->p256);
    memset(s, 0, sizeof *s);
}

/* The root (compared by bytes, never re-read), a pooled entry, or a fresh one
 * (pooled while there is room, else owned by the chain). */
static attest_cert_t *cert_get(attest_store_t *s, const uint8_t *der, size_t len)
{
    if (len == s->root.der_len && memcmp(der, s->root.der, len) == 0) return &s->root;
    uint8_t h[32];
    attest_sha256(der, len, h);
    for (size_t i = 0; i < s->n_pool; i++)
        if (memcmp(s->pool[i]->hash, h, 32) == 0) return s->pool[i];
    attest_cert_t *c = cert_new(der, len, h);
    PHX_ASSERT(s->n_pool <= ATTEST_POOL_SLOTS);
    if (c && s->n_pool < ATTEST_POOL_SLOTS) {
        c->pooled = true;
        s->pool[s->n_pool++] = c;
    }
    return c;
}

void attest_chain_free(attest_chain_t *c)
{
    PHX_ASSERT(c->n <= ATTEST_CHAIN_MAX);
    for (size_t i = 0; i < c->n; i++)
        if (c->owned[i]) cert_free(c->certs[i]);
    c->n = 0;
}

bool attest_pem_next(const char **at, const char *stop, phx_buf_t *der, bool *bad)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    *bad = false;
    const char *p = memmem(*at, (size_t)(stop - *at), begin, sizeof begin - 1);
    if (!p) return false;
    const char *body = p + sizeof begin - 1;
    const char *fin = memmem(body, (size_t)(stop - body), end, sizeof end - 1);
    phx_buf_reset(der);
    if (!fin || phx_base64_decode(body, (size_t)(fin - body), der, NULL) != PHX_OK) {
        *bad = true;
        *at = stop;
        return true;
    }
    *at = fin + sizeof end - 1;
    return true;
}

phx_err_t attest_chain_load_pem(attest_store_t *s, const char *pem, size_t len, attest_chain_t *out,
                                size_t min, const char *what, phx_error_t *e)
{
    phx_buf_t der = PHX_BUF_INIT;
    phx_err_t err = PHX_OK;
    const char *at = pem, *stop = pem + len;
    bool bad;
    memset(out, 0, sizeof *out);
    while (attest_pem_next(&at, stop, &der, &bad)) {
        if (out->n == ATTEST_CHAIN_MAX) {
            err = phx_fail(e, PHX_ERR_VERIFY, "%s: more than %d certificates", what,
                           ATTEST_CHAIN_MAX);
            goto out;
        }
        attest_cert_t *x = NULL;
        if (bad || !(x = cert_get(s, der.ptr, der.len))) {
            err = phx_fail(e, PHX_ERR_VERIFY, "%s: certificate %zu does not parse", what, out->n);
            goto out;
        }
        out->owned[out->n] = x != &s->root && !x->pooled;
        out->certs[out->n++] = x;
    }
    if (out->n < min)
        err = phx_fail(e, PHX_ERR_VERIFY, "%s: %zu certificate(s), need at least %zu", what, out->n,
                       min);
out:
    phx_buf_free(&der);
    if (err) attest_chain_free(out);
    return err;
}

void attest_window_add(window_t *w, size_t *n, size_t max, const char *what, int64_t nb, int64_t na,
                       int kind)
{
    if (*n < max) w[(*n)++] = (window_t){what, nb, na, kind};
}

phx_err_t attest_windows_check(const window_t *w, size_t n, int64_t now, phx_error_t *e)
{
    static const char *const start[] = {"notBefore", "thisUpdate", "issueDate"};
    static const char *const end[] = {"notAfter", "nextUpdate", "nextUpdate"};
    for (size_t i = 0; i < n; i++) {
        if (now < w[i].not_before)
            return phx_fail(e, PHX_ERR_VERIFY, "%s is not yet valid (%s %lld, now %lld)", w[i].what,
                            start[w[i].kind], (long long)w[i].not_before, (long long)now);
        if (now > w[i].not_after)
            return phx_fail(e, PHX_ERR_VERIFY, "%s expired (%s %lld, now %lld)", w[i].what,
                            end[w[i].kind], (long long)w[i].not_after, (long long)now);
    }
    return PHX_OK;
}

/* Intel's PCS hierarchy is fixed: depth is how many certificates must sit below
 * the root (1: TCB Signing or a PCK CA, issued by the root itself; 2: PCK leaf,
 * PCK CA), and leaf_ca says whether the first must be a CA. Without this a key
 * anywhere under the root (say a PCK leaf key pulled out of a broken CPU) could
 * sign TCB Info or a CRL. A root that comes with the input is never trusted: it
 * counts as the root only when byte-identical to ours. */
phx_err_t attest_chain_verify(attest_store_t *s, const attest_chain_t *c, size_t depth,
                              bool leaf_ca, const char *what, window_t *w, size_t *n_win,
                              size_t max_win, phx_error_t *e)
{
    size_t n = c->n;
    if (n >= 2 && c->certs[n - 1] == &s->root) n--;
    if (n != depth)
        return phx_fail(e, PHX_ERR_VERIFY, "%s: %zu certificate(s) below the root, want %zu", what,
                        n, depth);
    if (c->certs[0]->x.ca != leaf_ca)
        return phx_fail(e, PHX_ERR_VERIFY, "%s: the first certificate %s a CA", what,
                        leaf_ca ? "is not" : "is");
    PHX_ASSERT(c->n <= ATTEST_CHAIN_MAX);
    for (size_t i = 0; i < n; i++) {
        attest_cert_t *cert = c->certs[i];
        attest_cert_t *issuer = i + 1 < n ? c->certs[i + 1] : &s->root;
        /* A remembered issuer outlives the call: the root or a pooled entry. */
        PHX_ASSERT(!cert->verified_issuer || cert->pooled);
        PHX_ASSERT(c->owned[i] == (cert != &s->root && !cert->pooled));
        if (!issued_by(issuer, cert))
            return phx_fail(e, PHX_ERR_VERIFY,
                            "%s: certificate %zu is not issued by the next one%s", what, i,
                            i + 1 < n ? "" : " (the trusted root)");
        if (cert->verified_issuer != issuer) {
            if (!signed_by(s, cert, issuer))
                return phx_fail(e, PHX_ERR_VERIFY, "%s: certificate %zu has a bad signature", what,
                                i);
            /* Remember only issuers that outlive the call (the root, pooled
             * certificates): a freed issuer's address could be reused. */
            if (cert->pooled && (issuer == &s->root || issuer->pooled))
                cert->verified_issuer = issuer;
        }
        if (i > 0 && !cert->x.ca)
            return phx_fail(e, PHX_ERR_VERIFY, "%s: certificate %zu is not a CA", what, i);
        attest_window_add(w, n_win, max_win, what, cert->x.not_before, cert->x.not_after, WIN_CERT);
    }
    return PHX_OK;
}

bool attest_cn_is(const attest_store_t *s, const attest_cert_t *c, const char *a, const char *b)
{
    if (!s->is_intel) return true;
    der_view_t cn = c->x.subject_cn;
    der_view_t va = {(const uint8_t *)a, strlen(a)};
    return cn.len && (der_view_eq(cn, va) ||
                      (b && der_view_eq(cn, (der_view_t){(const uint8_t *)b, strlen(b)})));
}

bool attest_crl_signed_by(const attest_store_t *s, const x509_crl_t *crl, attest_cert_t *issuer)
{
    return der_view_eq(crl->issuer, issuer->x.subject) &&
           attest_ec_verify(attest_cert_key(s, issuer), crl->tbs.p, crl->tbs.len, crl->sig);
}

phx_err_t attest_check_revocation(const attest_chain_t *c, const x509_crl_t *root_crl,
                                  const x509_crl_t *pck_crl, const char *what, phx_error_t *e)
{
    const x509_crl_t *crls[2] = {root_crl, pck_crl};
    for (size_t i = 0; i < c->n; i++) {
        const x509_cert_t *x = &c->certs[i]->x;
        for (int j = 0; j < 2; j++) {
            if (!crls[j] || !der_view_eq(crls[j]->issuer, x->issuer)) continue;
            if (x509_crl_lists(crls[j], x->serial))
                return phx_fail(e, PHX_ERR_VERIFY, "%s: certificate %zu is revoked", what, i);
        }
    }
    return PHX_OK;
}
