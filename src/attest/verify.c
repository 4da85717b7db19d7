/* DCAP quote verification at a caller-given time: collateral signatures and chains
 * to one pinned root, CRLs, PCK chain, QE report and attestation-key binding, QE
 * identity policy, quote signature, TCB level matching and status merging, then
 * a policy decision. Intel SGX/TDX DCAP Quote Verification Library flow (QVL
 * sgx_qv_verify_quote). Verified collateral and verified platform material (PCK
 * chain + QE report) are cached by content hash; time checks are never cached. */
#define _GNU_SOURCE              /* memmem */
#define OPENSSL_API_COMPAT 10101 /* EC_KEY/ECDSA_do_verify: the fastest raw-key path */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tcb.h"

/* SHA-256 of the Intel SGX Root CA DER (testdata README, Intel's published value). */
static const uint8_t intel_root_fingerprint[32] = {
    0x44, 0xA0, 0x19, 0x6B, 0x2B, 0x99, 0xF8, 0x89, 0xB8, 0xE1, 0x49, 0xE9, 0x5B, 0x80, 0x7A, 0x35,
    0x0E, 0x74, 0x24, 0x96, 0x43, 0x99, 0xE8, 0x85, 0xA7, 0xCB, 0xB8, 0xCC, 0xFA, 0xB6, 0x74, 0xD3};

#define MAX_WINDOWS 16
enum { WIN_CERT, WIN_CRL, WIN_ISSUE };
#define CACHE_SLOTS 32

/* A validity interval that must contain `now`; checked on every call. */
typedef struct {
    const char *what;
    int64_t not_before, not_after;
    int kind; /* WIN_CERT notBefore/notAfter, WIN_CRL thisUpdate/nextUpdate, WIN_ISSUE */
} window_t;

typedef struct {
    bool used;
    uint8_t key[32]; /* SHA-256 of the collateral: names it in platform keys */
    uint8_t *bytes;  /* the collateral itself: lookups compare these exactly, */
    size_t len;      /* which is cheaper than hashing 15 KB on every call */
    phx_collateral_t *col;
    X509_CRL *root_crl, *pck_crl;
    window_t win[MAX_WINDOWS];
    size_t n_win;
    uint64_t stamp;
} col_entry_t;

typedef struct {
    bool used;
    uint8_t key[32];
    EC_KEY *att_key; /* parsed attestation key of the last quote seen here (a QE keeps
                        its key, so the next quote usually has the same one) */
    uint8_t att_pub[64];
    pck_ext_t pck;
    window_t win[4];
    size_t n_win;
    uint64_t stamp;
} plat_entry_t;

/* Parsed certificates by DER hash. OpenSSL 3 decodes a certificate's key through
 * its provider machinery (~100 us each), and one collateral names the same
 * Intel CA several times; each is parsed and each (cert, issuer) signature
 * checked once. Emptied with the cache, never while a call uses it. */
#define POOL_SLOTS 32
typedef struct {
    uint8_t hash[32];
    X509 *cert;
    const X509 *verified_issuer; /* X509_verify(cert, issuer key) held */
} pool_entry_t;

struct phx_attest_verifier {
    EC_KEY *p256; /* group only, see raw_key */
    X509 *root;
    uint8_t *root_der;
    size_t root_der_len;
    pool_entry_t pool[POOL_SLOTS];
    size_t n_pool;
    EVP_PKEY *root_key;
    bool is_intel;
    pthread_mutex_t lock;
    uint64_t clock;
    col_entry_t cols[CACHE_SLOTS];
    plat_entry_t plats[CACHE_SLOTS];
};

/* ---- primitives ------------------------------------------------------------------ */

static int64_t asn1_to_unix(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm)) return INT64_MIN;
    return (int64_t)timegm(&tm);
}

/* ECDSA-P256 over SHA-256(msg) with a raw r||s signature and an EC_KEY. */
static bool ec_verify(EC_KEY *key, const void *msg, size_t len, const uint8_t rs[64])
{
    uint8_t digest[32];
    SHA256(msg, len, digest);
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

static bool pkey_verify_raw(EVP_PKEY *pk, const void *msg, size_t len, const uint8_t rs[64])
{
    EC_KEY *k = pk ? (EC_KEY *)EVP_PKEY_get0_EC_KEY(pk) : NULL;
    if (!k) return false;
    const EC_GROUP *g = EC_KEY_get0_group(k);
    if (!g || EC_GROUP_get_curve_name(g) != NID_X9_62_prime256v1) return false;
    return ec_verify(k, msg, len, rs);
}

/* template: an EC_KEY holding only the P-256 group; duplicating it is ~1 us,
 * building the group anew ~12 us. */
static EC_KEY *raw_key(const EC_KEY *template, const uint8_t pub[64])
{
    uint8_t sec1[65];
    sec1[0] = 0x04;
    memcpy(sec1 + 1, pub, 64);
    EC_KEY *k = EC_KEY_dup(template);
    if (k && EC_KEY_oct2key(k, sec1, sizeof sec1, NULL) != 1) { /* also checks the point */
        EC_KEY_free(k);
        k = NULL;
    }
    return k;
}

static pool_entry_t *pool_find(phx_attest_verifier_t *v, const X509 *x)
{
    for (size_t i = 0; i < v->n_pool; i++)
        if (v->pool[i].cert == x) return &v->pool[i];
    return NULL;
}

/* One DER certificate: the root (compared by bytes, never re-parsed), a pooled
 * parse, or a fresh parse added to the pool. Returns a new reference. */
static X509 *cert_from_der(phx_attest_verifier_t *v, const uint8_t *der, size_t len)
{
    if (len == v->root_der_len && memcmp(der, v->root_der, len) == 0) {
        X509_up_ref(v->root);
        return v->root;
    }
    uint8_t h[32];
    SHA256(der, len, h);
    for (size_t i = 0; i < v->n_pool; i++)
        if (memcmp(v->pool[i].hash, h, 32) == 0) {
            X509_up_ref(v->pool[i].cert);
            return v->pool[i].cert;
        }
    const unsigned char *p = der;
    if (len > INT32_MAX) return NULL;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x) return NULL;
    if (p != der + len) { /* trailing bytes: not exactly one certificate */
        X509_free(x);
        return NULL;
    }
    if (v->n_pool < POOL_SLOTS) {
        pool_entry_t *pe = &v->pool[v->n_pool++];
        memcpy(pe->hash, h, 32);
        pe->cert = x;
        pe->verified_issuer = NULL;
        X509_up_ref(x);
    }
    return x;
}

/* PEM certificates in order; every block must decode to exactly one certificate
 * (a damaged block, even the root's, makes the chain malformed); fewer than min
 * certificates is invalid. */
static phx_err_t load_pem_chain(phx_attest_verifier_t *v, const char *pem, size_t len,
                                STACK_OF(X509) * *out, size_t min, const char *what, phx_error_t *e)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    STACK_OF(X509) *sk = sk_X509_new_null();
    phx_buf_t der = PHX_BUF_INIT;
    phx_err_t err = PHX_OK;
    const char *at = pem, *stop = pem + len;
    if (!sk) return phx_fail(e, PHX_ERR_NOMEM, "%s", what);
    while ((at = memmem(at, (size_t)(stop - at), begin, sizeof begin - 1)) != NULL) {
        const char *body = at + sizeof begin - 1;
        const char *fin = memmem(body, (size_t)(stop - body), end, sizeof end - 1);
        if (!fin) {
            err = phx_fail(e, PHX_ERR_VERIFY, "%s: certificate %d has no END line", what,
                           sk_X509_num(sk));
            goto out;
        }
        phx_buf_reset(&der);
        X509 *x = NULL;
        if (phx_base64_decode(body, (size_t)(fin - body), &der, NULL) != PHX_OK ||
            !(x = cert_from_der(v, der.ptr, der.len))) {
            err = phx_fail(e, PHX_ERR_VERIFY, "%s: certificate %d does not parse", what,
                           sk_X509_num(sk));
            goto out;
        }
        if (!sk_X509_push(sk, x)) {
            X509_free(x);
            err = phx_fail(e, PHX_ERR_NOMEM, "%s", what);
            goto out;
        }
        at = fin + sizeof end - 1;
    }
    if ((size_t)sk_X509_num(sk) < min)
        err = phx_fail(e, PHX_ERR_VERIFY, "%s: %d certificate(s), need at least %zu", what,
                       sk_X509_num(sk), min);
out:
    phx_buf_free(&der);
    if (err) {
        sk_X509_pop_free(sk, X509_free);
        return err;
    }
    *out = sk;
    return PHX_OK;
}

static void add_window(window_t *w, size_t *n, size_t max, const char *what, int64_t nb, int64_t na,
                       int kind)
{
    if (*n < max) w[(*n)++] = (window_t){what, nb, na, kind};
}

static void add_cert_window(window_t *w, size_t *n, size_t max, const char *what, X509 *x)
{
    add_window(w, n, max, what, asn1_to_unix(X509_get0_notBefore(x)),
               asn1_to_unix(X509_get0_notAfter(x)), WIN_CERT);
}

static phx_err_t check_windows(const window_t *w, size_t n, int64_t now, phx_error_t *e)
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

/* Verify a chain [leaf, intermediates..., (root)] up to the verifier's root. The
 * chain's own root, if present, must be byte-identical to ours: a root that
 * comes with the input is never trusted. Records each certificate's window. */
/* Intel's PCS hierarchy is fixed: depth is how many certificates must sit below
 * the root (1: TCB Signing or a PCK CA, issued by the root itself; 2: PCK leaf,
 * PCK CA), and leaf_ca says whether the first must be a CA. Without this a key
 * anywhere under the root (say a PCK leaf key pulled out of a broken CPU) could
 * sign TCB Info or a CRL. */
static phx_err_t verify_chain(phx_attest_verifier_t *v, STACK_OF(X509) * sk, int depth,
                              bool leaf_ca, const char *what, window_t *w, size_t *n_win,
                              size_t max_win, phx_error_t *e)
{
    int n = sk_X509_num(sk);
    if (n >= 2 && sk_X509_value(sk, n - 1) == v->root) n--; /* byte-identical, see cert_from_der */
    if (n != depth)
        return phx_fail(e, PHX_ERR_VERIFY, "%s: %d certificate(s) below the root, want %d", what, n,
                        depth);
    if ((X509_check_ca(sk_X509_value(sk, 0)) != 0) != leaf_ca)
        return phx_fail(e, PHX_ERR_VERIFY, "%s: the first certificate %s a CA", what,
                        leaf_ca ? "is not" : "is");
    for (int i = 0; i < n; i++) {
        X509 *cert = sk_X509_value(sk, i);
        X509 *issuer = i + 1 < n ? sk_X509_value(sk, i + 1) : v->root;
        EVP_PKEY *ik = X509_get0_pubkey(issuer);
        if (X509_check_issued(issuer, cert) != X509_V_OK)
            return phx_fail(e, PHX_ERR_VERIFY, "%s: certificate %d is not issued by the next one%s",
                            what, i, i + 1 < n ? "" : " (the trusted root)");
        pool_entry_t *pe = pool_find(v, cert);
        if (!pe || pe->verified_issuer != issuer) {
            if (!ik || X509_verify(cert, ik) != 1)
                return phx_fail(e, PHX_ERR_VERIFY, "%s: certificate %d has a bad signature", what,
                                i);
            /* Remember only issuers that outlive the call (the root, pooled
             * certificates): a freed issuer's address could be reused. */
            if (pe && (issuer == v->root || pool_find(v, issuer))) pe->verified_issuer = issuer;
        }
        if (i > 0 && X509_check_ca(cert) == 0)
            return phx_fail(e, PHX_ERR_VERIFY, "%s: certificate %d is not a CA", what, i);
        add_cert_window(w, n_win, max_win, what, cert);
    }
    return PHX_OK;
}

/* With Intel's root, signers are also checked by name (Intel PCS certificate
 * profile): belt and braces over the hierarchy's shape. Other roots (the sim
 * TEE's) use their own names. */
static bool intel_cn_is(const phx_attest_verifier_t *v, X509 *cert, const char *a, const char *b)
{
    if (!v->is_intel) return true;
    char cn[128];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
    return n > 0 && (strcmp(cn, a) == 0 || (b && strcmp(cn, b) == 0));
}

static bool is_revoked(X509_CRL *crl, X509 *cert)
{
    X509_REVOKED *rev = NULL;
    return X509_CRL_get0_by_serial(crl, &rev, (ASN1_INTEGER *)X509_get0_serialNumber(cert)) == 1;
}

/* Each non-root certificate in sk is checked against the CRL of its issuer. */
static phx_err_t check_revocation(STACK_OF(X509) * sk, X509_CRL *root_crl, X509_CRL *pck_crl,
                                  const char *what, phx_error_t *e)
{
    for (int i = 0; i < sk_X509_num(sk); i++) {
        X509 *c = sk_X509_value(sk, i);
        const X509_NAME *issuer = X509_get_issuer_name(c);
        X509_CRL *crls[2] = {root_crl, pck_crl};
        for (int j = 0; j < 2; j++) {
            if (!crls[j] || X509_NAME_cmp(X509_CRL_get_issuer(crls[j]), issuer) != 0) continue;
            if (is_revoked(crls[j], c))
                return phx_fail(e, PHX_ERR_VERIFY, "%s: certificate %d is revoked", what, i);
        }
    }
    return PHX_OK;
}

static X509_CRL *load_crl(const phx_buf_t *der)
{
    const unsigned char *p = der->ptr;
    if (der->len > INT32_MAX) return NULL;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)der->len);
    if (crl && p != der->ptr + der->len) { /* trailing bytes: not one DER CRL */
        X509_CRL_free(crl);
        return NULL;
    }
    return crl;
}

/* ---- collateral: everything that does not depend on the quote --------------------- */

static void col_entry_clear(col_entry_t *c)
{
    free(c->bytes);
    phx_collateral_free(c->col);
    X509_CRL_free(c->root_crl);
    X509_CRL_free(c->pck_crl);
    memset(c, 0, sizeof *c);
}

/* A document Intel signs with the TCB Signing key (TCB Info, QE Identity): its
 * issuer chain to the root, not revoked, named TCB Signing under Intel's root,
 * a signature over the exact text, and its issueDate/nextUpdate window. */
typedef struct {
    const char *name, *chain_name; /* static: windows keep them */
    const char *chain_pem, *text;
    size_t text_len;
    const uint8_t *sig;
    int64_t issue_date, next_update;
} signed_doc_t;

static phx_err_t check_signed_doc(phx_attest_verifier_t *v, col_entry_t *ent, const signed_doc_t *d,
                                  STACK_OF(X509) * *chain, phx_error_t *e)
{
    phx_err_t err;
    if ((err = load_pem_chain(v, d->chain_pem, strlen(d->chain_pem), chain, 1, d->chain_name, e)) ||
        (err = verify_chain(v, *chain, 1, false, d->chain_name, ent->win, &ent->n_win, MAX_WINDOWS,
                            e)) ||
        (err = check_revocation(*chain, ent->root_crl, NULL, d->chain_name, e)))
        return err;
    if (!intel_cn_is(v, sk_X509_value(*chain, 0), "Intel SGX TCB Signing", NULL))
        return phx_fail(e, PHX_ERR_VERIFY, "%s is not signed by Intel SGX TCB Signing", d->name);
    if (!pkey_verify_raw(X509_get0_pubkey(sk_X509_value(*chain, 0)), d->text, d->text_len, d->sig))
        return phx_fail(e, PHX_ERR_VERIFY, "%s signature is invalid", d->name);
    add_window(ent->win, &ent->n_win, MAX_WINDOWS, d->name, d->issue_date, d->next_update,
               WIN_ISSUE);
    return PHX_OK;
}

static phx_err_t verify_collateral(phx_attest_verifier_t *v, const uint8_t *p, size_t len,
                                   col_entry_t *ent, phx_error_t *e)
{
    phx_err_t err;
    STACK_OF(X509) *crl_chain = NULL, *tcb_chain = NULL, *qe_chain = NULL;
    memset(ent, 0, sizeof *ent);
    if ((err = phx_collateral_parse(p, len, &ent->col, e))) goto out;
    phx_collateral_t *c = ent->col;
    const signed_doc_t tcb_doc = {
        "TCB Info",      "TCB Info issuer chain", c->tcb_info_issuer_chain, c->tcb_info_text,
        c->tcb_info_len, c->tcb_info_sig,         c->tcb.issue_date,        c->tcb.next_update};
    const signed_doc_t qe_doc = {
        "QE Identity",       "QE Identity issuer chain", c->qe_identity_issuer_chain,
        c->qe_identity_text, c->qe_identity_len,         c->qe_identity_sig,
        c->qe.issue_date,    c->qe.next_update};

    if (!(ent->root_crl = load_crl(&c->root_ca_crl))) {
        err = phx_fail(e, PHX_ERR_INVALID, "collateral: root_ca_crl is not a DER CRL");
        goto out;
    }
    if (!(ent->pck_crl = load_crl(&c->pck_crl))) {
        err = phx_fail(e, PHX_ERR_INVALID, "collateral: pck_crl is not a DER CRL");
        goto out;
    }
    /* Root CA CRL: issued and signed by the trusted root. */
    if (X509_NAME_cmp(X509_CRL_get_issuer(ent->root_crl), X509_get_subject_name(v->root)) != 0 ||
        X509_CRL_verify(ent->root_crl, v->root_key) != 1) {
        err = phx_fail(e, PHX_ERR_VERIFY, "root CA CRL is not signed by the trusted root");
        goto out;
    }
    /* PCK CRL: signed by the PCK CA of its issuer chain, which chains to the root. */
    if ((err = load_pem_chain(v, c->pck_crl_issuer_chain, strlen(c->pck_crl_issuer_chain),
                              &crl_chain, 1, "PCK CRL issuer chain", e)) ||
        (err = verify_chain(v, crl_chain, 1, true, "PCK CRL issuer chain", ent->win, &ent->n_win,
                            MAX_WINDOWS, e)))
        goto out;
    X509 *pck_ca = sk_X509_value(crl_chain, 0);
    if (!intel_cn_is(v, pck_ca, "Intel SGX PCK Platform CA", "Intel SGX PCK Processor CA")) {
        err = phx_fail(e, PHX_ERR_VERIFY, "PCK CRL issuer is not an Intel SGX PCK CA");
        goto out;
    }
    if (X509_NAME_cmp(X509_CRL_get_issuer(ent->pck_crl), X509_get_subject_name(pck_ca)) != 0 ||
        X509_CRL_verify(ent->pck_crl, X509_get0_pubkey(pck_ca)) != 1) {
        err = phx_fail(e, PHX_ERR_VERIFY, "PCK CRL is not signed by its issuer chain");
        goto out;
    }
    add_window(ent->win, &ent->n_win, MAX_WINDOWS, "root CA CRL",
               asn1_to_unix(X509_CRL_get0_lastUpdate(ent->root_crl)),
               X509_CRL_get0_nextUpdate(ent->root_crl)
                   ? asn1_to_unix(X509_CRL_get0_nextUpdate(ent->root_crl))
                   : INT64_MAX,
               WIN_CRL);
    add_window(ent->win, &ent->n_win, MAX_WINDOWS, "PCK CRL",
               asn1_to_unix(X509_CRL_get0_lastUpdate(ent->pck_crl)),
               X509_CRL_get0_nextUpdate(ent->pck_crl)
                   ? asn1_to_unix(X509_CRL_get0_nextUpdate(ent->pck_crl))
                   : INT64_MAX,
               WIN_CRL);
    if ((err = check_revocation(crl_chain, ent->root_crl, NULL, "PCK CRL issuer chain", e)))
        goto out;

    /* TCB Info and QE Identity: the same signed-document check each. */
    if ((err = check_signed_doc(v, ent, &tcb_doc, &tcb_chain, e)) ||
        (err = check_signed_doc(v, ent, &qe_doc, &qe_chain, e)))
        goto out;
    add_cert_window(ent->win, &ent->n_win, MAX_WINDOWS, "trusted root", v->root);
    if (ent->n_win >= MAX_WINDOWS) {
        err = phx_fail(e, PHX_ERR_VERIFY, "collateral: too many certificates");
        goto out;
    }
    memcpy(ent->key, c->hash, 32);
    if (!(ent->bytes = malloc(len ? len : 1))) {
        err = phx_fail(e, PHX_ERR_NOMEM, "collateral cache");
        goto out;
    }
    memcpy(ent->bytes, p, len);
    ent->len = len;
    ent->used = true;
out:
    sk_X509_pop_free(crl_chain, X509_free);
    sk_X509_pop_free(tcb_chain, X509_free);
    sk_X509_pop_free(qe_chain, X509_free);
    if (err) col_entry_clear(ent);
    return err;
}

/* ---- platform: PCK chain from the quote and the QE report it signs ----------------- */

static phx_err_t verify_platform(phx_attest_verifier_t *v, const col_entry_t *col,
                                 const phx_quote_t *q, plat_entry_t *ent, phx_error_t *e)
{
    phx_err_t err;
    STACK_OF(X509) *chain = NULL;
    memset(ent, 0, sizeof *ent);
    if (q->cert_type != 5) {
        err = phx_fail(e, PHX_ERR_UNSUPPORTED,
                       "certification data type %u: only 5 (PCK chain in the quote) is supported",
                       q->cert_type);
        goto out;
    }
    if ((err = load_pem_chain(v, (const char *)q->cert_data, q->cert_data_len, &chain, 2,
                              "PCK certificate chain", e)) ||
        (err = verify_chain(v, chain, 2, false, "PCK certificate chain", ent->win, &ent->n_win, 4,
                            e)))
        goto out;
    X509 *leaf = sk_X509_value(chain, 0);
    if (X509_check_ca(leaf) != 0) {
        err = phx_fail(e, PHX_ERR_VERIFY, "PCK certificate is a CA certificate");
        goto out;
    }
    /* The leaf's CRL must be the collateral's PCK CRL (Platform vs Processor CA). */
    if (X509_NAME_cmp(X509_CRL_get_issuer(col->pck_crl), X509_get_issuer_name(leaf)) != 0) {
        err = phx_fail(e, PHX_ERR_VERIFY, "PCK CRL is not from the PCK certificate's issuer");
        goto out;
    }
    if ((err = check_revocation(chain, col->root_crl, col->pck_crl, "PCK certificate chain", e)))
        goto out;

    size_t oid_len;
    const uint8_t *oid_bytes = pck_ext_oid(&oid_len);
    const X509_EXTENSION *found = NULL;
    for (int i = 0; i < X509_get_ext_count(leaf); i++) {
        const X509_EXTENSION *ext = X509_get_ext(leaf, i);
        const ASN1_OBJECT *obj = X509_EXTENSION_get_object((X509_EXTENSION *)ext);
        size_t olen = OBJ_length(obj);
        if (olen == oid_len && memcmp(OBJ_get0_data(obj), oid_bytes, oid_len) == 0) found = ext;
    }
    if (!found) {
        err = phx_fail(e, PHX_ERR_VERIFY, "PCK certificate has no SGX extension");
        goto out;
    }
    const ASN1_OCTET_STRING *data = X509_EXTENSION_get_data((X509_EXTENSION *)found);
    if ((err = pck_ext_parse(ASN1_STRING_get0_data(data), (size_t)ASN1_STRING_length(data),
                             &ent->pck, e)))
        goto out;

    /* Intel QVL: the QE report is signed by the PCK key. */
    if (!pkey_verify_raw(X509_get0_pubkey(leaf), q->qe_report, PHX_SGX_REPORT_LEN,
                         q->qe_report_signature)) {
        err = phx_fail(e, PHX_ERR_VERIFY, "QE report signature is invalid (not by the PCK key)");
        goto out;
    }
    ent->used = true;
out:
    sk_X509_pop_free(chain, X509_free);
    return err;
}

static void plat_entry_clear(plat_entry_t *p)
{
    EC_KEY_free(p->att_key);
    memset(p, 0, sizeof *p);
}

static void platform_key(const col_entry_t *col, const phx_quote_t *q, uint8_t out[32])
{
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, col->key, 32);
    SHA256_Update(&ctx, q->qe_report, PHX_SGX_REPORT_LEN);
    SHA256_Update(&ctx, q->qe_report_signature, 64);
    uint8_t type[2] = {(uint8_t)q->cert_type, (uint8_t)(q->cert_type >> 8)};
    SHA256_Update(&ctx, type, 2);
    SHA256_Update(&ctx, q->cert_data, q->cert_data_len);
    SHA256_Final(out, &ctx);
}

/* ---- the verifier --------------------------------------------------------------- */

phx_err_t phx_attest_verifier_new(const uint8_t *root_der, size_t root_len,
                                  phx_attest_verifier_t **out, phx_error_t *e)
{
    *out = NULL;
    bool intel = root_der == NULL;
    if (intel) root_der = phx_attest_intel_root_der(&root_len);
    uint8_t fp[32];
    SHA256(root_der, root_len, fp);
    if (intel && memcmp(fp, intel_root_fingerprint, 32) != 0)
        return phx_fail(e, PHX_ERR_INTERNAL, "built-in Intel root does not match its fingerprint");
    if (!intel && memcmp(fp, intel_root_fingerprint, 32) == 0) intel = true;
    const unsigned char *p = root_der;
    X509 *root = root_len <= INT32_MAX ? d2i_X509(NULL, &p, (long)root_len) : NULL;
    if (!root || p != root_der + root_len) {
        X509_free(root);
        return phx_fail(e, PHX_ERR_INVALID, "trusted root is not one DER certificate");
    }
    EVP_PKEY *key = X509_get0_pubkey(root);
    if (!key || X509_check_issued(root, root) != X509_V_OK || X509_verify(root, key) != 1) {
        X509_free(root);
        return phx_fail(e, PHX_ERR_VERIFY, "trusted root is not a self-signed CA");
    }
    phx_attest_verifier_t *v = calloc(1, sizeof *v);
    if (!v) {
        X509_free(root);
        return phx_fail(e, PHX_ERR_NOMEM, "verifier");
    }
    pthread_mutex_init(&v->lock, NULL);
    v->p256 = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    v->root = root;
    v->root_key = key;
    v->root_der = malloc(root_len);
    if (!v->root_der || !v->p256) {
        phx_attest_verifier_free(v);
        return phx_fail(e, PHX_ERR_NOMEM, "verifier");
    }
    memcpy(v->root_der, root_der, root_len);
    v->root_der_len = root_len;
    v->is_intel = intel;
    *out = v;
    return PHX_OK;
}

void phx_attest_verifier_clear_cache(phx_attest_verifier_t *v)
{
    if (!v) return;
    pthread_mutex_lock(&v->lock);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        col_entry_clear(&v->cols[i]);
        plat_entry_clear(&v->plats[i]);
    }
    for (size_t i = 0; i < v->n_pool; i++)
        X509_free(v->pool[i].cert);
    v->n_pool = 0;
    pthread_mutex_unlock(&v->lock);
}

void phx_attest_verifier_free(phx_attest_verifier_t *v)
{
    if (!v) return;
    phx_attest_verifier_clear_cache(v);
    pthread_mutex_destroy(&v->lock);
    X509_free(v->root);
    EC_KEY_free(v->p256);
    free(v->root_der);
    free(v);
}

bool phx_attest_verifier_is_intel(const phx_attest_verifier_t *v)
{
    return v && v->is_intel;
}

static int oldest_slot_col(phx_attest_verifier_t *v)
{
    int best = 0;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (!v->cols[i].used) return i;
        if (v->cols[i].stamp < v->cols[best].stamp) best = i;
    }
    return best;
}

static int oldest_slot_plat(phx_attest_verifier_t *v)
{
    int best = 0;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (!v->plats[i].used) return i;
        if (v->plats[i].stamp < v->plats[best].stamp) best = i;
    }
    return best;
}

static void fill_report(const phx_quote_t *q, phx_attest_result_t *res)
{
    res->header = q->header;
    res->report_type = q->report_type;
    res->sgx = q->sgx;
    res->td = q->td;
    res->parsed = true;
}

/* Everything after the collateral and platform material are known good. Called
 * with the lock held (entries stay valid). */
static phx_err_t verify_quote_with(const EC_KEY *p256, const col_entry_t *col, plat_entry_t *plat,
                                   const phx_quote_t *q, const uint8_t *raw, int64_t now,
                                   const phx_attest_policy_t *policy, phx_attest_result_t *res,
                                   phx_error_t *e)
{
    const phx_collateral_t *c = col->col;
    const pck_ext_t *pck = &plat->pck;
    phx_err_t err;
    bool tdx = q->header.tee_type == PHX_QUOTE_TEE_TDX;
    memcpy(res->fmspc, pck->fmspc, 6);
    memcpy(res->ppid, pck->ppid, 16);

    if ((err = check_windows(col->win, col->n_win, now, e)) ||
        (err = check_windows(plat->win, plat->n_win, now, e)))
        return err;

    /* Collateral kind must fit the quote (Intel QVL: TCB Info id, QE Identity id). */
    if (strcmp(c->qe.id, tdx ? "TD_QE" : "QE") != 0 || c->qe.version != 2)
        return phx_fail(e, PHX_ERR_VERIFY, "QE Identity %s v%d does not fit a %s quote", c->qe.id,
                        c->qe.version, tdx ? "TDX" : "SGX");
    if (strcmp(c->tcb.id, tdx ? "TDX" : "SGX") != 0 || (tdx && c->tcb.version < 3))
        return phx_fail(e, PHX_ERR_VERIFY, "TCB Info %s v%d does not fit a %s quote", c->tcb.id,
                        c->tcb.version, tdx ? "TDX" : "SGX");
    if (memcmp(pck->fmspc, c->tcb.fmspc, 6) != 0)
        return phx_fail(e, PHX_ERR_VERIFY, "FMSPC of the PCK certificate is not the TCB Info's");
    if (memcmp(pck->pce_id, c->tcb.pce_id, 2) != 0)
        return phx_fail(e, PHX_ERR_VERIFY, "PCE ID of the PCK certificate is not the TCB Info's");

    /* Intel QVL: QE report data[0..32] = SHA-256(attestation key || QE auth data). */
    uint8_t binding[32];
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, q->attestation_key, 64);
    SHA256_Update(&ctx, q->qe_auth_data, q->qe_auth_data_len);
    SHA256_Final(binding, &ctx);
    if (memcmp(binding, q->qe_report_body.report_data, 32) != 0)
        return phx_fail(e, PHX_ERR_VERIFY,
                        "QE report data does not bind the attestation key and QE auth data");
    for (int i = 32; i < 64; i++)
        if (q->qe_report_body.report_data[i])
            return phx_fail(e, PHX_ERR_VERIFY, "QE report data is not zero-padded");

    const isv_level_t *qe_level = NULL;
    if ((err = attest_qe_identity_check(&c->qe, &q->qe_report_body, &qe_level, e))) return err;

    if (!plat->att_key || memcmp(plat->att_pub, q->attestation_key, 64) != 0) {
        EC_KEY_free(plat->att_key);
        memcpy(plat->att_pub, q->attestation_key, 64);
        if (!(plat->att_key = raw_key(p256, q->attestation_key)))
            return phx_fail(e, PHX_ERR_VERIFY, "attestation key is not a P-256 point");
    }
    if (!ec_verify(plat->att_key, raw, q->signed_len, q->signature))
        return phx_fail(e, PHX_ERR_VERIFY, "quote signature is invalid");

    if ((err = attest_tcb_evaluate(&c->tcb, pck, q, qe_level, res, e))) return err;
    if ((err = attest_workload_check(q, policy, e))) return err;
    res->verified = true;
    if ((err = attest_policy_apply(policy, res, e))) return err;
    res->accepted = true;
    return PHX_OK;
}

phx_err_t phx_attest_verify(phx_attest_verifier_t *v, const uint8_t *quote, size_t quote_len,
                            const uint8_t *collateral, size_t collateral_len, int64_t now,
                            const phx_attest_policy_t *policy, phx_attest_result_t *res,
                            phx_error_t *e)
{
    phx_attest_policy_t def = phx_attest_policy_default();
    phx_quote_t q;
    phx_err_t err;
    memset(res, 0, sizeof *res);
    if (!policy) policy = &def;
    if ((err = phx_quote_parse(quote, quote_len, &q, e))) return phx_error_wrap(e, err, "quote");
    fill_report(&q, res);

    uint8_t plat_key[32];
    pthread_mutex_lock(&v->lock);
    v->clock++;
    /* Between calls nothing points into the pool: refill it when nearly full. */
    if (v->n_pool > POOL_SLOTS - 8) {
        for (size_t i = 0; i < v->n_pool; i++)
            X509_free(v->pool[i].cert);
        v->n_pool = 0;
    }
    col_entry_t *col = NULL;
    for (int i = 0; i < CACHE_SLOTS && !col; i++)
        if (v->cols[i].used && v->cols[i].len == collateral_len &&
            memcmp(v->cols[i].bytes, collateral, collateral_len) == 0)
            col = &v->cols[i];
    if (col) {
        res->collateral_cached = true;
    } else {
        col_entry_t fresh;
        if ((err = verify_collateral(v, collateral, collateral_len, &fresh, e))) goto out;
        col = &v->cols[oldest_slot_col(v)];
        col_entry_clear(col);
        *col = fresh;
    }
    col->stamp = v->clock;

    platform_key(col, &q, plat_key);
    plat_entry_t *plat = NULL;
    for (int i = 0; i < CACHE_SLOTS && !plat; i++)
        if (v->plats[i].used && memcmp(v->plats[i].key, plat_key, 32) == 0) plat = &v->plats[i];
    if (plat) {
        res->platform_cached = true;
    } else {
        plat_entry_t fresh;
        if ((err = verify_platform(v, col, &q, &fresh, e))) goto out;
        memcpy(fresh.key, plat_key, 32);
        plat = &v->plats[oldest_slot_plat(v)];
        plat_entry_clear(plat);
        *plat = fresh;
    }
    plat->stamp = v->clock;
    err = verify_quote_with(v->p256, col, plat, &q, quote, now, policy, res, e);
out:
    pthread_mutex_unlock(&v->lock);
    return err;
}
