/* Differential test of our DER reader (src/attest/der.c) against OpenSSL's
 * parse, on every certificate and CRL in the testdata: dcap/certs, the CRLs in
 * dcap/pcs-raw, every PEM chain and hex CRL in the collateral of dcap/ and
 * dcap-more/, the PCK chain in every quote of both sets, and the sim PCS
 * hierarchy src/tee makes (its root, collateral and a quote). Each field the
 * verifier uses must be identical; CRL revocation answers, issued-by and
 * signature verdicts for every pair must agree too. Prints the counts. */
#define _GNU_SOURCE
#define OPENSSL_API_COMPAT 10101 /* EC_KEY, as src/attest uses it */
#include <dirent.h>
#include <time.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "phx/attest.h"
#include "phx/json.h"
#include "phx/tee.h"
#include "test.h"
#include "x509.h"

#define MAX_ITEMS 512

typedef struct {
    uint8_t *der;
    size_t len;
    char origin[160];
} item_t;

static item_t certs[MAX_ITEMS], crls[MAX_ITEMS];
static size_t n_certs, n_crls, n_cert_refs, n_crl_refs;

/* Keep one copy per distinct DER; count every reference. */
static void add(item_t *set, size_t *n, size_t *refs, const uint8_t *der, size_t len,
                const char *origin)
{
    (*refs)++;
    for (size_t i = 0; i < *n; i++)
        if (set[i].len == len && memcmp(set[i].der, der, len) == 0) return;
    if (*n == MAX_ITEMS) return;
    item_t *it = &set[(*n)++];
    it->der = malloc(len);
    memcpy(it->der, der, len);
    it->len = len;
    snprintf(it->origin, sizeof it->origin, "%s", origin);
}

static void add_pem_chain(const char *pem, size_t len, const char *origin)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    const char *at = pem, *stop = pem + len;
    int k = 0;
    while ((at = memmem(at, (size_t)(stop - at), begin, sizeof begin - 1)) != NULL) {
        const char *body = at + sizeof begin - 1;
        const char *fin = memmem(body, (size_t)(stop - body), end, sizeof end - 1);
        CHECK_MSG(fin != NULL, "%s: PEM block without END", origin);
        if (!fin) return;
        phx_buf_t der = PHX_BUF_INIT;
        CHECK(phx_base64_decode(body, (size_t)(fin - body), &der, NULL) == PHX_OK);
        char o[160];
        snprintf(o, sizeof o, "%s#%d", origin, k++);
        add(certs, &n_certs, &n_cert_refs, der.ptr, der.len, o);
        phx_buf_free(&der);
        at = fin + sizeof end - 1;
    }
    CHECK_MSG(k > 0, "%s: no certificate", origin);
}

static void add_collateral(const uint8_t *p, size_t len, const char *origin)
{
    json_t *doc = NULL;
    phx_error_t e = {0};
    CHECK_MSG(phx_json_parse((const char *)p, len, &doc, &e) == PHX_OK, "%s: %s", origin,
              e.message);
    if (!doc) return;
    static const char *const chains[] = {"pck_crl_issuer_chain", "tcb_info_issuer_chain",
                                         "qe_identity_issuer_chain"};
    for (int i = 0; i < 3; i++) {
        const char *s = json_string_value(json_object_get(doc, chains[i]));
        CHECK_MSG(s != NULL, "%s: %s", origin, chains[i]);
        char o[160];
        snprintf(o, sizeof o, "%s:%s", origin, chains[i]);
        if (s) add_pem_chain(s, strlen(s), o);
    }
    static const char *const lists[] = {"root_ca_crl", "pck_crl"};
    for (int i = 0; i < 2; i++) {
        const char *s = json_string_value(json_object_get(doc, lists[i]));
        phx_buf_t der = PHX_BUF_INIT;
        CHECK_MSG(s && phx_hex_decode(s, &der, &e) == PHX_OK, "%s: %s", origin, lists[i]);
        char o[160];
        snprintf(o, sizeof o, "%s:%s", origin, lists[i]);
        if (der.len) add(crls, &n_crls, &n_crl_refs, der.ptr, der.len, o);
        phx_buf_free(&der);
    }
    json_decref(doc);
}

static void add_quote(const uint8_t *p, size_t len, const char *origin)
{
    phx_quote_t q;
    phx_error_t e = {0};
    CHECK_MSG(phx_quote_parse(p, len, &q, &e) == PHX_OK && q.cert_type == 5, "%s: %s", origin,
              e.message);
    if (q.cert_type == 5) add_pem_chain((const char *)q.cert_data, q.cert_data_len, origin);
}

/* Every file of dir (sorted, for a stable order) through fn. */
static size_t each_file(const char *rel, void (*fn)(const uint8_t *, size_t, const char *))
{
    const char *path = test_data_path(rel);
    if (!path) return 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    size_t done = 0;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            char file[4600], origin[160];
            snprintf(file, sizeof file, "%s/%s", dir, names[i]->d_name);
            snprintf(origin, sizeof origin, "%s/%s", rel, names[i]->d_name);
            phx_buf_t b = PHX_BUF_INIT;
            phx_error_t e = {0};
            CHECK_MSG(phx_file_read(file, &b, &e) == PHX_OK, "%s: %s", file, e.message);
            fn(b.ptr, b.len, origin);
            phx_buf_free(&b);
            done++;
        }
        free(names[i]);
    }
    free(names);
    return done;
}

static void add_der_cert(const uint8_t *p, size_t len, const char *origin)
{
    if (strstr(origin, ".der")) add(certs, &n_certs, &n_cert_refs, p, len, origin);
}

static void add_der_crl(const uint8_t *p, size_t len, const char *origin)
{
    if (strstr(origin, ".der")) add(crls, &n_crls, &n_crl_refs, p, len, origin);
}

/* The sim PCS hierarchy, made in a temporary directory. */
static void add_sim(void)
{
    char tmpl[] = "/tmp/phx-test-der-XXXXXX";
    CHECK(mkdtemp(tmpl) != NULL);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/sim", tmpl);
    phx_tee_config_t cfg = {.sim_dir = dir};
    phx_tee_t *t = NULL;
    phx_error_t e = {0};
    CHECK_MSG(phx_tee_open(PHX_TEE_SIM, &cfg, &t, &e) == PHX_OK, "sim: %s", e.message);
    if (t) {
        phx_buf_t root = PHX_BUF_INIT, col = PHX_BUF_INIT, quote = PHX_BUF_INIT;
        uint8_t rd[64] = {1};
        CHECK(phx_tee_sim_root(t, &root, &e) == PHX_OK);
        CHECK(phx_tee_sim_collateral(t, &col, &e) == PHX_OK);
        CHECK(phx_tee_quote(t, rd, &quote, &e) == PHX_OK);
        add(certs, &n_certs, &n_cert_refs, root.ptr, root.len, "sim:root");
        add_collateral(col.ptr, col.len, "sim:collateral");
        add_quote(quote.ptr, quote.len, "sim:quote");
        phx_buf_free(&root);
        phx_buf_free(&col);
        phx_buf_free(&quote);
        phx_tee_close(t);
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    CHECK(system(cmd) == 0);
}

static int64_t ossl_time(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm)) return INT64_MIN;
    return (int64_t)timegm(&tm);
}

/* i2d of an OpenSSL object into a malloc'd buffer; compared with a view. */
#define SAME_I2D(fn, obj, view, what, origin)                                                      \
    do {                                                                                           \
        unsigned char *buf_ = NULL;                                                                \
        int n_ = fn(obj, &buf_);                                                                   \
        CHECK_MSG(n_ > 0 && (size_t)n_ == (view).len && memcmp(buf_, (view).p, (size_t)n_) == 0,   \
                  "%s: %s differs", origin, what);                                                 \
        OPENSSL_free(buf_);                                                                        \
    } while (0)

static bool same_sig(const ASN1_BIT_STRING *bits, const uint8_t ours[64])
{
    const unsigned char *p = bits->data;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, bits->length);
    if (!sig) return false;
    uint8_t rs[64];
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(sig, &r, &s);
    bool ok = BN_bn2binpad(r, rs, 32) == 32 && BN_bn2binpad(s, rs + 32, 32) == 32 &&
              memcmp(rs, ours, 64) == 0;
    ECDSA_SIG_free(sig);
    return ok;
}

static bool same_octets(const ASN1_OCTET_STRING *o, der_view_t v)
{
    if (!o) return v.len == 0;
    return (size_t)o->length == v.len && memcmp(o->data, v.p, v.len) == 0;
}

static X509 *ossl_certs[MAX_ITEMS];
static EC_KEY *p256;
static x509_cert_t ours[MAX_ITEMS];

/* A name as x509_name_text writes it, from OpenSSL's reading of it. */
static void ossl_name_text(const X509_NAME *name, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < X509_NAME_entry_count(name); i++) {
        const X509_NAME_ENTRY *ent = X509_NAME_get_entry(name, i);
        const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(ent);
        const ASN1_STRING *v = X509_NAME_ENTRY_get_data(ent);
        int nid = OBJ_obj2nid(obj);
        char label[32];
        if (nid == NID_commonName || nid == NID_countryName || nid == NID_localityName ||
            nid == NID_stateOrProvinceName || nid == NID_organizationName ||
            nid == NID_organizationalUnitName)
            snprintf(label, sizeof label, "%s", OBJ_nid2sn(nid));
        else
            snprintf(label, sizeof label, "OID(%zu bytes)", OBJ_length(obj));
        int w = snprintf(out + n, cap - n, "%s%s=%.*s", n ? ", " : "", label, ASN1_STRING_length(v),
                         (const char *)ASN1_STRING_get0_data(v));
        if (w < 0 || (size_t)w >= cap - n) return;
        n += (size_t)w;
    }
}

static void compare_cert(size_t i)
{
    const item_t *it = &certs[i];
    const char *o = it->origin;
    const unsigned char *p = it->der;
    X509 *x = d2i_X509(NULL, &p, (long)it->len);
    CHECK_MSG(x && p == it->der + it->len, "%s: OpenSSL does not read it", o);
    phx_error_t e = {0};
    x509_cert_t *c = &ours[i];
    CHECK_MSG(x509_cert_parse(it->der, it->len, c, &e) == PHX_OK, "%s: ours: %s", o, e.message);
    ossl_certs[i] = x;
    if (!x || e.message[0]) return;

    SAME_I2D(i2d_re_X509_tbs, x, c->tbs, "TBS bytes", o);
    unsigned char *sbuf = NULL;
    int sn = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &sbuf);
    /* tag, one length byte (serials are <= 21 bytes), then the content */
    CHECK_MSG(sn > 2 && (size_t)(sn - 2) == c->serial.len &&
                  memcmp(sbuf + 2, c->serial.p, c->serial.len) == 0,
              "%s: serial differs", o);
    OPENSSL_free(sbuf);
    SAME_I2D(i2d_X509_NAME, X509_get_issuer_name(x), c->issuer, "issuer", o);
    SAME_I2D(i2d_X509_NAME, X509_get_subject_name(x), c->subject, "subject", o);
    char cn[256] = "";
    int cn_len = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    CHECK_MSG(cn_len < 0 ? c->subject_cn.len == 0
                         : (size_t)cn_len == c->subject_cn.len &&
                               memcmp(cn, c->subject_cn.p, (size_t)cn_len) == 0,
              "%s: subject CN differs", o);
    char want[512], got[512];
    ossl_name_text(X509_get_subject_name(x), want, sizeof want);
    x509_name_text(c->subject, got, sizeof got);
    CHECK_MSG(!strcmp(want, got), "%s: subject text %s, OpenSSL's %s", o, got, want);
    ossl_name_text(X509_get_issuer_name(x), want, sizeof want);
    x509_name_text(c->issuer, got, sizeof got);
    CHECK_MSG(!strcmp(want, got), "%s: issuer text %s, OpenSSL's %s", o, got, want);
    CHECK_MSG(ossl_time(X509_get0_notBefore(x)) == c->not_before, "%s: notBefore differs", o);
    CHECK_MSG(ossl_time(X509_get0_notAfter(x)) == c->not_after, "%s: notAfter differs", o);
    ASN1_BIT_STRING *key_bits = X509_get0_pubkey_bitstr(x);
    CHECK_MSG(key_bits && key_bits->length == 65 && memcmp(key_bits->data, c->pub, 65) == 0,
              "%s: public key differs", o);
    EVP_PKEY *pk = X509_get0_pubkey(x);
    char group[32] = "";
    CHECK_MSG(pk && EVP_PKEY_get_group_name(pk, group, sizeof group, NULL) &&
                  strcmp(group, "prime256v1") == 0,
              "%s: OpenSSL key is not P-256 (%s)", o, group);
    CHECK_MSG(X509_get_signature_nid(x) == NID_ecdsa_with_SHA256, "%s: signature algorithm", o);
    const ASN1_BIT_STRING *sig_bits = NULL;
    X509_get0_signature(&sig_bits, NULL, x);
    CHECK_MSG(same_sig(sig_bits, c->sig), "%s: signature differs", o);
    CHECK_MSG((X509_check_ca(x) != 0) == c->ca, "%s: CA flag differs", o);
    uint32_t ku = X509_get_key_usage(x);
    CHECK_MSG((ku != UINT32_MAX) == c->has_key_usage, "%s: key usage presence differs", o);
    if (c->has_key_usage)
        CHECK_MSG(((ku & KU_KEY_CERT_SIGN) != 0) == c->key_cert_sign, "%s: keyCertSign differs", o);
    CHECK_MSG(same_octets(X509_get0_subject_key_id(x), c->skid), "%s: SKID differs", o);
    CHECK_MSG(same_octets(X509_get0_authority_key_id(x), c->akid), "%s: AKID differs", o);
    ASN1_OBJECT *sgx = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
    int at = X509_get_ext_by_OBJ(x, sgx, -1);
    const ASN1_OCTET_STRING *ext = at >= 0 ? X509_EXTENSION_get_data(X509_get_ext(x, at)) : NULL;
    CHECK_MSG(same_octets(ext, c->sgx_ext), "%s: SGX extension differs", o);
    ASN1_OBJECT_free(sgx);
}

/* Issued-by (name, key ids, key usage) and signature, ours against OpenSSL's
 * X509_check_issued and X509_verify, for every ordered pair. */
static size_t compare_pairs(void)
{
    size_t pairs = 0, issued = 0;
    for (size_t i = 0; i < n_certs; i++)
        for (size_t j = 0; j < n_certs; j++) {
            if (!ossl_certs[i] || !ossl_certs[j]) continue;
            const x509_cert_t *c = &ours[i], *is = &ours[j];
            bool ours_issued = der_view_eq(is->subject, c->issuer) &&
                               (!c->akid.len || !is->skid.len || der_view_eq(c->akid, is->skid)) &&
                               (!is->has_key_usage || is->key_cert_sign);
            bool ossl_issued = X509_check_issued(ossl_certs[j], ossl_certs[i]) == X509_V_OK;
            CHECK_MSG(ours_issued == ossl_issued, "%s issued by %s: ours %d, OpenSSL %d",
                      certs[i].origin, certs[j].origin, ours_issued, ossl_issued);
            pairs++;
            if (!ossl_issued) continue;
            issued++;
            EC_KEY *k = attest_raw_key(p256, is->pub + 1); /* our key import */
            bool ours_ok = attest_ec_verify(k, c->tbs.p, c->tbs.len, c->sig);
            EC_KEY_free(k);
            bool ossl_ok = X509_verify(ossl_certs[i], X509_get0_pubkey(ossl_certs[j])) == 1;
            CHECK_MSG(ours_ok == ossl_ok && ossl_ok, "%s signed by %s: ours %d, OpenSSL %d",
                      certs[i].origin, certs[j].origin, ours_ok, ossl_ok);
        }
    printf("issued-by pairs compared: %zu (%zu issued, each signature verified both ways)\n", pairs,
           issued);
    return issued;
}

static void compare_crl(size_t i)
{
    const item_t *it = &crls[i];
    const char *o = it->origin;
    const unsigned char *p = it->der;
    X509_CRL *x = d2i_X509_CRL(NULL, &p, (long)it->len);
    CHECK_MSG(x && p == it->der + it->len, "%s: OpenSSL does not read it", o);
    x509_crl_t c;
    phx_error_t e = {0};
    CHECK_MSG(x509_crl_parse(it->der, it->len, &c, &e) == PHX_OK, "%s: ours: %s", o, e.message);
    if (!x || e.message[0]) {
        X509_CRL_free(x);
        return;
    }
    SAME_I2D(i2d_re_X509_CRL_tbs, x, c.tbs, "TBS bytes", o);
    SAME_I2D(i2d_X509_NAME, X509_CRL_get_issuer(x), c.issuer, "issuer", o);
    CHECK_MSG(ossl_time(X509_CRL_get0_lastUpdate(x)) == c.this_update, "%s: thisUpdate", o);
    const ASN1_TIME *nu = X509_CRL_get0_nextUpdate(x);
    CHECK_MSG((nu ? ossl_time(nu) : INT64_MAX) == c.next_update, "%s: nextUpdate", o);
    const ASN1_BIT_STRING *sig_bits = NULL;
    X509_CRL_get0_signature(x, &sig_bits, NULL);
    CHECK_MSG(same_sig(sig_bits, c.sig), "%s: signature differs", o);
    CHECK_MSG(X509_CRL_get_signature_nid(x) == NID_ecdsa_with_SHA256, "%s: sig alg", o);
    /* Entries in order, before any lookup (OpenSSL sorts them on the first). */
    STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(x);
    size_t n_rev = rev ? (size_t)sk_X509_REVOKED_num(rev) : 0;
    CHECK_MSG(n_rev == c.n_revoked, "%s: %d entries, ours %zu", o, sk_X509_REVOKED_num(rev),
              c.n_revoked);
    for (size_t k = 0; k < c.n_revoked && k < n_rev; k++) {
        const ASN1_INTEGER *s = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rev, (int)k));
        unsigned char *sbuf = NULL;
        int sn = i2d_ASN1_INTEGER(s, &sbuf);
        der_view_t mine = x509_crl_entry_serial(&c, k);
        CHECK_MSG(sn > 2 && (size_t)(sn - 2) == mine.len && memcmp(sbuf + 2, mine.p, mine.len) == 0,
                  "%s: entry %zu serial differs", o, k);
        OPENSSL_free(sbuf);
        CHECK_MSG(x509_crl_lists(&c, mine), "%s: entry %zu not found by lookup", o, k);
    }
    /* Revocation verdicts for every certificate, and the CRL signature under
     * every certificate that issued it. */
    /* i2d_re_X509_CRL_tbs above marked x for re-encoding, and lookups sort its
     * entries: signatures are checked on a freshly read copy. */
    p = it->der;
    X509_CRL *fresh = d2i_X509_CRL(NULL, &p, (long)it->len);
    size_t signers = 0;
    for (size_t j = 0; j < n_certs; j++) {
        if (!ossl_certs[j]) continue;
        X509_REVOKED *r = NULL;
        bool ossl_rev = X509_CRL_get0_by_serial(
                            x, &r, (ASN1_INTEGER *)X509_get0_serialNumber(ossl_certs[j])) == 1;
        CHECK_MSG(ossl_rev == x509_crl_lists(&c, ours[j].serial), "%s lists %s: OpenSSL %d", o,
                  certs[j].origin, ossl_rev);
        if (X509_NAME_cmp(X509_CRL_get_issuer(x), X509_get_subject_name(ossl_certs[j])) == 0) {
            CHECK_MSG(der_view_eq(c.issuer, ours[j].subject), "%s: issuer %s by bytes", o,
                      certs[j].origin);
            EC_KEY *k = attest_raw_key(p256, ours[j].pub + 1);
            bool ok = attest_ec_verify(k, c.tbs.p, c.tbs.len, c.sig);
            EC_KEY_free(k);
            /* Same name, other key (an older CA generation) fails both ways. */
            bool ossl_ok = X509_CRL_verify(fresh, X509_get0_pubkey(ossl_certs[j])) == 1;
            CHECK_MSG(ok == ossl_ok, "%s: signature by %s: ours %d, OpenSSL %d", o, certs[j].origin,
                      ok, ossl_ok);
            signers += ok;
        }
    }
    CHECK_MSG(signers > 0, "%s: no certificate in the testdata signed it", o);
    X509_CRL_free(fresh);
    X509_CRL_free(x);
}

/* Our reader is stricter than OpenSSL, never looser: inputs d2i takes but that
 * are not minimal DER or not in the profile are refused. Made from real DER. */
static void test_strict(void)
{
    const char *path = test_data_path("dcap/certs/intel_sgx_root_ca.der");
    const char *crl_path = path ? test_data_path("dcap/pcs-raw/automata_rootcrl_2503.der") : NULL;
    if (!path || !crl_path) return;
    phx_buf_t root = PHX_BUF_INIT, crl = PHX_BUF_INIT;
    phx_error_t e = {0};
    CHECK(phx_file_read(test_data_path("dcap/certs/intel_sgx_root_ca.der"), &root, &e) == 0);
    CHECK(phx_file_read(test_data_path("dcap/pcs-raw/automata_rootcrl_2503.der"), &crl, &e) == 0);
    x509_cert_t c;
    x509_crl_t l;
    CHECK(x509_cert_parse(root.ptr, root.len, &c, &e) == PHX_OK);
    CHECK(x509_crl_parse(crl.ptr, crl.len, &l, &e) == PHX_OK);

    /* Every proper prefix, and one byte more, is refused. */
    size_t refused = 0;
    for (size_t n = 0; n < root.len; n++)
        refused += x509_cert_parse(root.ptr, n, &c, NULL) != PHX_OK;
    for (size_t n = 0; n < crl.len; n++)
        refused += x509_crl_parse(crl.ptr, n, &l, NULL) != PHX_OK;
    CHECK_MSG(refused == root.len + crl.len, "%zu of %zu prefixes refused", refused,
              root.len + crl.len);
    uint8_t *more = malloc(root.len + 1);
    memcpy(more, root.ptr, root.len);
    more[root.len] = 0;
    CHECK(x509_cert_parse(more, root.len + 1, &c, &e) != PHX_OK);
    free(more);

    /* A non-minimal length (30 82 02 8f -> 30 83 00 02 8f): OpenSSL reads it. */
    CHECK(root.ptr[0] == 0x30 && root.ptr[1] == 0x82);
    uint8_t *wide = malloc(root.len + 1);
    wide[0] = 0x30;
    wide[1] = 0x83;
    wide[2] = 0x00;
    memcpy(wide + 3, root.ptr + 2, root.len - 2);
    const unsigned char *pp = wide;
    X509 *x = d2i_X509(NULL, &pp, (long)root.len + 1);
    CHECK_MSG(x != NULL, "OpenSSL reads a non-minimal length");
    X509_free(x);
    CHECK(x509_cert_parse(wide, root.len + 1, &c, &e) != PHX_OK && strstr(e.message, "bad length"));
    free(wide);

    /* A critical flag written 01 instead of DER's FF: OpenSSL takes it. */
    uint8_t *flag = malloc(root.len);
    memcpy(flag, root.ptr, root.len);
    uint8_t *at = memmem(flag, root.len, "\x01\x01\xff", 3);
    CHECK(at != NULL);
    if (at) {
        at[2] = 0x01;
        pp = flag;
        x = d2i_X509(NULL, &pp, (long)root.len);
        CHECK_MSG(x != NULL, "OpenSSL reads a BER boolean");
        X509_free(x);
        CHECK(x509_cert_parse(flag, root.len, &c, &e) != PHX_OK &&
              strstr(e.message, "not DER TRUE"));
    }
    free(flag);

    /* The version: v1 (INTEGER 0) is outside the profile. */
    uint8_t *v1 = malloc(root.len);
    memcpy(v1, root.ptr, root.len);
    uint8_t *ver = memmem(v1, root.len, "\xa0\x03\x02\x01\x02", 5);
    CHECK(ver != NULL);
    if (ver) {
        ver[4] = 0x00;
        CHECK(x509_cert_parse(v1, root.len, &c, &e) == PHX_ERR_UNSUPPORTED);
    }
    free(v1);
    phx_buf_free(&root);
    phx_buf_free(&crl);
    printf("strictness: every prefix of a certificate and a CRL refused, and a trailing byte, "
           "a non-minimal length, a BER boolean, a v1 version\n");
}

/* The chain a quote carries, as the console shows it: leaf, intermediate,
 * root, each issued by the next, windows judged at the time given. */
static void test_quote_certs(void)
{
    const char *path = test_data_path("dcap/quotes/phala_tdx_v4_b0c06f.bin");
    phx_buf_t q = PHX_BUF_INIT;
    phx_error_t e = {0};
    json_t *certs = NULL;
    if (!path || phx_file_read(path, &q, &e)) {
        CHECK_MSG(0, "quote: %s", e.message);
        return;
    }
    CHECK_MSG(phx_attest_quote_certs_json(q.ptr, q.len, 1752919234, &certs, &e) == PHX_OK, "%s",
              e.message);
    CHECK(json_array_size(certs) == 3);
    static const char *const roles[] = {"PCK leaf", "intermediate CA", "root CA"};
    for (size_t i = 0; i < json_array_size(certs); i++) {
        const json_t *c = json_array_get(certs, i), *up = json_array_get(certs, i + 1);
        const char *issuer = json_string_value(json_object_get(c, "issuer"));
        CHECK_MSG(!strcmp(json_string_value(json_object_get(c, "role")), roles[i < 3 ? i : 2]),
                  "certificate %zu", i);
        CHECK(!strcmp(json_string_value(json_object_get(c, "validity")), "valid"));
        CHECK_MSG(issuer &&
                      !strcmp(issuer, json_string_value(json_object_get(up ? up : c, "subject"))),
                  "certificate %zu is issued by the next (%s)", i, issuer);
        CHECK(json_integer_value(json_object_get(c, "not_before")) < 1752919234 &&
              json_integer_value(json_object_get(c, "not_after")) > 1752919234);
    }
    CHECK(strstr(json_string_value(json_object_get(json_array_get(certs, 2), "subject")),
                 "CN=Intel SGX Root CA") != NULL);
    json_decref(certs);
    /* The same chain in 1990 and in 2200. */
    CHECK(phx_attest_quote_certs_json(q.ptr, q.len, 631152000, &certs, &e) == PHX_OK &&
          !strcmp(json_string_value(json_object_get(json_array_get(certs, 0), "validity")),
                  "not yet valid"));
    json_decref(certs);
    CHECK(phx_attest_quote_certs_json(q.ptr, q.len, 7258118400, &certs, &e) == PHX_OK &&
          !strcmp(json_string_value(json_object_get(json_array_get(certs, 2), "validity")),
                  "expired"));
    json_decref(certs);
    /* Not a quote: refused with a reason. */
    certs = NULL;
    CHECK(phx_attest_quote_certs_json(q.ptr, 100, 0, &certs, &e) != PHX_OK && !certs &&
          e.message[0]);
    phx_buf_free(&q);
}

int main(void)
{
    if (!test_data_path("dcap")) return test_done("attest_der");
    p256 = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    size_t files = 0;
    files += each_file("dcap/certs", add_der_cert);
    files += each_file("dcap/pcs-raw", add_der_crl);
    files += each_file("dcap/collateral", add_collateral);
    files += each_file("dcap/quotes", add_quote);
    files += each_file("dcap-more/collateral", add_collateral);
    files += each_file("dcap-more/quotes", add_quote);
    add_sim();
    printf("read %zu files: %zu certificate references (%zu distinct), %zu CRL references (%zu "
           "distinct)\n",
           files, n_cert_refs, n_certs, n_crl_refs, n_crls);
    CHECK(n_certs >= 8 && n_crls >= 6);
    for (size_t i = 0; i < n_certs; i++)
        compare_cert(i);
    size_t revoked_entries = 0;
    for (size_t i = 0; i < n_crls; i++) {
        x509_crl_t c;
        if (x509_crl_parse(crls[i].der, crls[i].len, &c, NULL) == PHX_OK)
            revoked_entries += c.n_revoked;
        compare_crl(i);
    }
    size_t issued = compare_pairs();
    CHECK(issued >= n_certs - 1);
    printf("fields identical on %zu certificates and %zu CRLs (%zu revoked entries)\n", n_certs,
           n_crls, revoked_entries);
    for (size_t i = 0; i < n_certs; i++) {
        X509_free(ossl_certs[i]);
        free(certs[i].der);
    }
    for (size_t i = 0; i < n_crls; i++)
        free(crls[i].der);
    test_strict();
    test_quote_certs();
    EC_KEY_free(p256);
    return test_done("attest_der");
}
