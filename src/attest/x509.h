/* Private to src/attest: X.509 certificates and CRLs read straight from their
 * DER (der.c), and the chain, revocation and signature primitives the verifier
 * builds on them (x509.c). Only what the DCAP checks need is read; everything
 * else must still be well-formed DER, or the input is refused. */
#ifndef PHX_ATTEST_X509_H
#define PHX_ATTEST_X509_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "phx/core.h"

typedef struct {
    const uint8_t *p;
    size_t len;
} der_view_t;

static inline bool der_view_eq(der_view_t a, der_view_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* One DER TLV: tlv covers tag, length and value; p/len the value. */
typedef struct {
    uint8_t tag;
    const uint8_t *p, *tlv;
    size_t len, tlv_len;
} der_t;

/* Next TLV of r: one-byte tags only (no high tag numbers), definite minimal
 * lengths up to 4 bytes, the value inside what remains; r advances past it.
 * The one TLV walker of src/attest (certificates, CRLs, the SGX extension). */
phx_err_t der_next(phx_reader_t *r, der_t *out, phx_error_t *e);

/* A certificate, as views into the DER it was read from (the caller keeps that
 * alive). Intel's PCK certificate profile: X.509 v3, ECDSA P-256 with SHA-256. */
typedef struct {
    der_view_t tbs;             /* TBSCertificate, tag and length included: the signed bytes */
    der_view_t serial;          /* INTEGER content octets (minimal, as DER requires) */
    der_view_t issuer, subject; /* Name, tag and length included; compared byte for byte */
    der_view_t subject_cn;      /* first commonName value of the subject, or empty */
    int64_t not_before, not_after;
    uint8_t pub[65]; /* SubjectPublicKeyInfo point, SEC1 uncompressed (0x04 X Y) */
    uint8_t sig[64]; /* signatureValue as r || s */
    bool ca;         /* what OpenSSL's X509_check_ca answers (nonzero) */
    bool has_key_usage, key_cert_sign;
    der_view_t skid;    /* subjectKeyIdentifier, or empty */
    der_view_t akid;    /* authorityKeyIdentifier keyIdentifier, or empty */
    der_view_t sgx_ext; /* SGX PCK extension (OCTET STRING content), or empty */
} x509_cert_t;

/* A CRL (v1 or v2), as views into its DER. */
typedef struct {
    der_view_t tbs;
    der_view_t issuer;
    int64_t this_update, next_update; /* next_update INT64_MAX when absent */
    uint8_t sig[64];
    der_view_t revoked; /* revokedCertificates content (entries), or empty */
    size_t n_revoked;
} x509_crl_t;

/* Exactly one certificate / CRL filling p..p+len. Refuses what the profile
 * does not allow (other algorithms, curves, versions, unknown critical
 * extensions) and any DER that is not minimal. */
phx_err_t x509_cert_parse(const uint8_t *p, size_t len, x509_cert_t *c, phx_error_t *e);
phx_err_t x509_crl_parse(const uint8_t *p, size_t len, x509_crl_t *crl, phx_error_t *e);
/* A Name (as x509_cert_parse validated it: tag and length included) as text,
 * "CN=..., O=..., C=..." in its own order; unknown attribute types are shown
 * by size. Cut to cap - 1 bytes; returns the length written. */
size_t x509_name_text(der_view_t name, char *out, size_t cap);
/* Does the CRL list this serial (INTEGER content octets)? */
bool x509_crl_lists(const x509_crl_t *crl, der_view_t serial);
/* Serial number of revoked entry i (i < n_revoked), for tests. */
der_view_t x509_crl_entry_serial(const x509_crl_t *crl, size_t i);

/* ---- chains, keys, CRLs (x509.c) ---------------------------------------------- */

#include <openssl/types.h>

/* A certificate the verifier holds: its DER (owned), the fields read from it,
 * and its public key imported into OpenSSL on first use, once per content. */
typedef struct attest_cert attest_cert_t;
struct attest_cert {
    uint8_t hash[32]; /* SHA-256 of der: the pool key */
    uint8_t *der;
    size_t der_len;
    x509_cert_t x;
    EC_KEY *key; /* NULL until first used */
    bool pooled;
    const attest_cert_t *verified_issuer; /* its signature by this issuer held */
};

/* A validity interval that must contain `now`; checked on every call. */
enum { WIN_CERT, WIN_CRL, WIN_ISSUE };
typedef struct {
    const char *what; /* static storage */
    int64_t not_before, not_after;
    int kind; /* WIN_CERT notBefore/notAfter, WIN_CRL thisUpdate/nextUpdate, WIN_ISSUE */
} window_t;

/* The trust root and a pool of certificates seen, by content. One collateral
 * names the same Intel CA several times; each is read, its key imported and
 * each (cert, issuer) signature checked once. Emptied between calls only. */
#define ATTEST_POOL_SLOTS 32
typedef struct {
    EC_KEY *p256; /* group only: a template keys are duplicated from */
    attest_cert_t root;
    bool is_intel;
    attest_cert_t *pool[ATTEST_POOL_SLOTS];
    size_t n_pool;
} attest_store_t;

/* Certificates of one chain, leaf first: the store's root, pooled entries, or
 * entries the chain owns (when the pool is full). */
#define ATTEST_CHAIN_MAX 8
typedef struct {
    attest_cert_t *certs[ATTEST_CHAIN_MAX];
    bool owned[ATTEST_CHAIN_MAX];
    size_t n;
} attest_chain_t;

/* root_der: one self-signed CA certificate (copied). */
phx_err_t attest_store_init(attest_store_t *s, const uint8_t *root_der, size_t len, bool is_intel,
                            phx_error_t *e);
void attest_store_free(attest_store_t *s);
/* Drop every pooled certificate (no chain may be alive). */
void attest_store_clear(attest_store_t *s);

/* The next PEM certificate block in *at..stop decoded into der (reset first):
 * false when there is none left; *at moves past it. A block without its END
 * line or with bad base64 sets *bad. */
bool attest_pem_next(const char **at, const char *stop, phx_buf_t *der, bool *bad);

/* PEM certificates in order; every block must read as exactly one
 * certificate; fewer than min is invalid. Free with attest_chain_free. */
phx_err_t attest_chain_load_pem(attest_store_t *s, const char *pem, size_t len, attest_chain_t *out,
                                size_t min, const char *what, phx_error_t *e);
void attest_chain_free(attest_chain_t *c);

/* The chain up to the store's root: exactly depth certificates below the root
 * (a copy of the root at the end is allowed only byte-identical), each issued
 * and signed by the next, intermediates CAs, the first a CA iff leaf_ca.
 * Records each certificate's window in w. */
phx_err_t attest_chain_verify(attest_store_t *s, const attest_chain_t *c, size_t depth,
                              bool leaf_ca, const char *what, window_t *w, size_t *n_win,
                              size_t max_win, phx_error_t *e);

/* The certificate's key (imported once; NULL if its point is not on P-256). */
EC_KEY *attest_cert_key(const attest_store_t *s, attest_cert_t *c);
/* ECDSA-P256 over SHA-256(msg) with a raw r||s signature. */
bool attest_ec_verify(EC_KEY *key, const void *msg, size_t len, const uint8_t rs[64]);
/* A key from a raw X||Y point, duplicated from the P-256 template. */
EC_KEY *attest_raw_key(const EC_KEY *p256, const uint8_t pub[64]);
/* CRL issued (by name) and signed by issuer. */
bool attest_crl_signed_by(const attest_store_t *s, const x509_crl_t *crl, attest_cert_t *issuer);
/* Each certificate checked against the CRL(s) of its issuer (by name). */
phx_err_t attest_check_revocation(const attest_chain_t *c, const x509_crl_t *root_crl,
                                  const x509_crl_t *pck_crl, const char *what, phx_error_t *e);
/* Under Intel's root, is the subject CN a (or b)? Always true for other roots. */
bool attest_cn_is(const attest_store_t *s, const attest_cert_t *c, const char *a, const char *b);

void attest_window_add(window_t *w, size_t *n, size_t max, const char *what, int64_t nb, int64_t na,
                       int kind);
phx_err_t attest_windows_check(const window_t *w, size_t n, int64_t now, phx_error_t *e);

#endif
