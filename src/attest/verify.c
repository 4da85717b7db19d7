/* DCAP quote verification at a caller-given time: collateral signatures and chains
 * to one pinned root, CRLs, PCK chain, QE report and attestation-key binding, QE
 * identity policy, quote signature, then TCB evaluation (tcb.c) and the policy
 * (policy.c). Intel SGX/TDX DCAP Quote Verification Library flow (QVL
 * sgx_qv_verify_quote). Certificates and CRLs are read by our DER reader and
 * checked by x509.c. Verified collateral and verified platform material (PCK
 * chain + QE report) are cached by content hash; time checks are never cached. */
#define OPENSSL_API_COMPAT 10101 /* EC_KEY: keys kept parsed between calls */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/sha.h>

#include "tcb.h"
#include "x509.h"

/* SHA-256 of the Intel SGX Root CA DER (testdata README, Intel's published value). */
static const uint8_t intel_root_fingerprint[32] = {
    0x44, 0xA0, 0x19, 0x6B, 0x2B, 0x99, 0xF8, 0x89, 0xB8, 0xE1, 0x49, 0xE9, 0x5B, 0x80, 0x7A, 0x35,
    0x0E, 0x74, 0x24, 0x96, 0x43, 0x99, 0xE8, 0x85, 0xA7, 0xCB, 0xB8, 0xCC, 0xFA, 0xB6, 0x74, 0xD3};

#define MAX_WINDOWS 16
#define CACHE_SLOTS 32

typedef struct {
    bool used;
    uint8_t key[32]; /* SHA-256 of the collateral: names it in platform keys */
    uint8_t *bytes;  /* the collateral itself: lookups compare these exactly, */
    size_t len;      /* which is cheaper than hashing 15 KB on every call */
    phx_collateral_t *col;
    x509_crl_t root_crl, pck_crl; /* views into col's DER buffers */
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

struct phx_attest_verifier {
    attest_store_t store; /* the root and the certificate pool */
    pthread_mutex_t lock;
    uint64_t clock;
    col_entry_t cols[CACHE_SLOTS];
    plat_entry_t plats[CACHE_SLOTS];
};

/* ---- collateral: everything that does not depend on the quote --------------------- */

static void col_entry_clear(col_entry_t *c)
{
    free(c->bytes);
    phx_collateral_free(c->col);
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
                                  attest_chain_t *chain, phx_error_t *e)
{
    attest_store_t *s = &v->store;
    phx_err_t err;
    if ((err = attest_chain_load_pem(s, d->chain_pem, strlen(d->chain_pem), chain, 1, d->chain_name,
                                     e)) ||
        (err = attest_chain_verify(s, chain, 1, false, d->chain_name, ent->win, &ent->n_win,
                                   MAX_WINDOWS, e)) ||
        (err = attest_check_revocation(chain, &ent->root_crl, NULL, d->chain_name, e)))
        return err;
    attest_cert_t *signer = chain->certs[0];
    if (!attest_cn_is(s, signer, "Intel SGX TCB Signing", NULL))
        return phx_fail(e, PHX_ERR_VERIFY, "%s is not signed by Intel SGX TCB Signing", d->name);
    if (!attest_ec_verify(attest_cert_key(s, signer), d->text, d->text_len, d->sig))
        return phx_fail(e, PHX_ERR_VERIFY, "%s signature is invalid", d->name);
    attest_window_add(ent->win, &ent->n_win, MAX_WINDOWS, d->name, d->issue_date, d->next_update,
                      WIN_ISSUE);
    return PHX_OK;
}

static phx_err_t verify_collateral(phx_attest_verifier_t *v, const uint8_t *p, size_t len,
                                   col_entry_t *ent, phx_error_t *e)
{
    attest_store_t *s = &v->store;
    phx_err_t err;
    attest_chain_t crl_chain = {0}, tcb_chain = {0}, qe_chain = {0};
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

    if (x509_crl_parse(c->root_ca_crl.ptr, c->root_ca_crl.len, &ent->root_crl, NULL)) {
        err = phx_fail(e, PHX_ERR_INVALID, "collateral: root_ca_crl is not a DER CRL");
        goto out;
    }
    if (x509_crl_parse(c->pck_crl.ptr, c->pck_crl.len, &ent->pck_crl, NULL)) {
        err = phx_fail(e, PHX_ERR_INVALID, "collateral: pck_crl is not a DER CRL");
        goto out;
    }
    /* Root CA CRL: issued and signed by the trusted root. */
    if (!attest_crl_signed_by(s, &ent->root_crl, &s->root)) {
        err = phx_fail(e, PHX_ERR_VERIFY, "root CA CRL is not signed by the trusted root");
        goto out;
    }
    /* PCK CRL: signed by the PCK CA of its issuer chain, which chains to the root. */
    if ((err = attest_chain_load_pem(s, c->pck_crl_issuer_chain, strlen(c->pck_crl_issuer_chain),
                                     &crl_chain, 1, "PCK CRL issuer chain", e)) ||
        (err = attest_chain_verify(s, &crl_chain, 1, true, "PCK CRL issuer chain", ent->win,
                                   &ent->n_win, MAX_WINDOWS, e)))
        goto out;
    attest_cert_t *pck_ca = crl_chain.certs[0];
    if (!attest_cn_is(s, pck_ca, "Intel SGX PCK Platform CA", "Intel SGX PCK Processor CA")) {
        err = phx_fail(e, PHX_ERR_VERIFY, "PCK CRL issuer is not an Intel SGX PCK CA");
        goto out;
    }
    if (!attest_crl_signed_by(s, &ent->pck_crl, pck_ca)) {
        err = phx_fail(e, PHX_ERR_VERIFY, "PCK CRL is not signed by its issuer chain");
        goto out;
    }
    attest_window_add(ent->win, &ent->n_win, MAX_WINDOWS, "root CA CRL", ent->root_crl.this_update,
                      ent->root_crl.next_update, WIN_CRL);
    attest_window_add(ent->win, &ent->n_win, MAX_WINDOWS, "PCK CRL", ent->pck_crl.this_update,
                      ent->pck_crl.next_update, WIN_CRL);
    if ((err =
             attest_check_revocation(&crl_chain, &ent->root_crl, NULL, "PCK CRL issuer chain", e)))
        goto out;

    /* TCB Info and QE Identity: the same signed-document check each. */
    if ((err = check_signed_doc(v, ent, &tcb_doc, &tcb_chain, e)) ||
        (err = check_signed_doc(v, ent, &qe_doc, &qe_chain, e)))
        goto out;
    attest_window_add(ent->win, &ent->n_win, MAX_WINDOWS, "trusted root", s->root.x.not_before,
                      s->root.x.not_after, WIN_CERT);
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
    attest_chain_free(&crl_chain);
    attest_chain_free(&tcb_chain);
    attest_chain_free(&qe_chain);
    if (err) col_entry_clear(ent);
    return err;
}

/* ---- platform: PCK chain from the quote and the QE report it signs ----------------- */

static phx_err_t verify_platform(phx_attest_verifier_t *v, const col_entry_t *col,
                                 const phx_quote_t *q, plat_entry_t *ent, phx_error_t *e)
{
    attest_store_t *s = &v->store;
    phx_err_t err;
    attest_chain_t chain = {0};
    memset(ent, 0, sizeof *ent);
    if (q->cert_type != 5) {
        err = phx_fail(e, PHX_ERR_UNSUPPORTED,
                       "certification data type %u: only 5 (PCK chain in the quote) is supported",
                       q->cert_type);
        goto out;
    }
    if ((err = attest_chain_load_pem(s, (const char *)q->cert_data, q->cert_data_len, &chain, 2,
                                     "PCK certificate chain", e)) ||
        (err = attest_chain_verify(s, &chain, 2, false, "PCK certificate chain", ent->win,
                                   &ent->n_win, 4, e)))
        goto out;
    attest_cert_t *leaf = chain.certs[0];
    if (leaf->x.ca) {
        err = phx_fail(e, PHX_ERR_VERIFY, "PCK certificate is a CA certificate");
        goto out;
    }
    /* The leaf's CRL must be the collateral's PCK CRL (Platform vs Processor CA). */
    if (!der_view_eq(col->pck_crl.issuer, leaf->x.issuer)) {
        err = phx_fail(e, PHX_ERR_VERIFY, "PCK CRL is not from the PCK certificate's issuer");
        goto out;
    }
    if ((err = attest_check_revocation(&chain, &col->root_crl, &col->pck_crl,
                                       "PCK certificate chain", e)))
        goto out;
    if (!leaf->x.sgx_ext.len) {
        err = phx_fail(e, PHX_ERR_VERIFY, "PCK certificate has no SGX extension");
        goto out;
    }
    if ((err = pck_ext_parse(leaf->x.sgx_ext.p, leaf->x.sgx_ext.len, &ent->pck, e))) goto out;

    /* Intel QVL: the QE report is signed by the PCK key. */
    if (!attest_ec_verify(attest_cert_key(s, leaf), q->qe_report, PHX_SGX_REPORT_LEN,
                          q->qe_report_signature)) {
        err = phx_fail(e, PHX_ERR_VERIFY, "QE report signature is invalid (not by the PCK key)");
        goto out;
    }
    ent->used = true;
out:
    attest_chain_free(&chain);
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
    phx_attest_verifier_t *v = calloc(1, sizeof *v);
    if (!v) return phx_fail(e, PHX_ERR_NOMEM, "verifier");
    phx_err_t err = attest_store_init(&v->store, root_der, root_len, intel, e);
    if (err) {
        attest_store_free(&v->store);
        free(v);
        return err;
    }
    pthread_mutex_init(&v->lock, NULL);
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
    attest_store_clear(&v->store);
    pthread_mutex_unlock(&v->lock);
}

void phx_attest_verifier_free(phx_attest_verifier_t *v)
{
    if (!v) return;
    phx_attest_verifier_clear_cache(v);
    pthread_mutex_destroy(&v->lock);
    attest_store_free(&v->store);
    free(v);
}

bool phx_attest_verifier_is_intel(const phx_attest_verifier_t *v)
{
    return v && v->store.is_intel;
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

    if ((err = attest_windows_check(col->win, col->n_win, now, e)) ||
        (err = attest_windows_check(plat->win, plat->n_win, now, e)))
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
        if (!(plat->att_key = attest_raw_key(p256, q->attestation_key)))
            return phx_fail(e, PHX_ERR_VERIFY, "attestation key is not a P-256 point");
    }
    if (!attest_ec_verify(plat->att_key, raw, q->signed_len, q->signature))
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
    PHX_ASSERT(v->store.n_pool <= ATTEST_POOL_SLOTS);
    if (v->store.n_pool > ATTEST_POOL_SLOTS - 8) attest_store_clear(&v->store);
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
    /* A cache entry is whole: verified collateral for exactly these bytes, its
     * CRLs read, and every window recorded (the root's last). */
    PHX_ASSERT(col->used && col->col && col->len == collateral_len);
    PHX_ASSERT(col->n_win > 0 && col->n_win < MAX_WINDOWS);
    PHX_ASSERT(col->root_crl.tbs.len && col->pck_crl.tbs.len);
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
    /* A platform entry names this collateral and holds the PCK chain's windows. */
    PHX_ASSERT(plat->used && memcmp(plat->key, plat_key, 32) == 0);
    PHX_ASSERT(plat->n_win >= 2 && plat->n_win <= 4);
    plat->stamp = v->clock;
    err = verify_quote_with(v->store.p256, col, plat, &q, quote, now, policy, res, e);
out:
    pthread_mutex_unlock(&v->lock);
    return err;
}
