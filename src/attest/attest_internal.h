/* Private to src/attest: parsed collateral (TCB Info, QE Identity) and the
 * X.509/CRL helpers the verifier uses. Not a public API. */
#ifndef PHX_ATTEST_INTERNAL_H
#define PHX_ATTEST_INTERNAL_H

#include <jansson.h>

#include "phx/attest.h"

typedef struct {
    const char **ids; /* views into the collateral's JSON documents */
    size_t n;
} advisories_t;

typedef struct {
    uint8_t sgx[16];
    uint16_t pcesvn;
    uint8_t tdx[16];
    bool has_tdx;
    int64_t tcb_date;
    phx_tcb_status_t status;
    advisories_t adv;
} tcb_level_t;

/* A level keyed by a single ISVSVN (QE Identity, TDX module identity). */
typedef struct {
    uint16_t isvsvn;
    int64_t tcb_date;
    phx_tcb_status_t status;
    advisories_t adv;
} isv_level_t;

typedef struct {
    char id[16];
    uint8_t mrsigner[48], attributes[8], attributes_mask[8];
    isv_level_t *levels;
    size_t n_levels;
} tdx_module_id_t;

typedef struct {
    char id[8]; /* "SGX" or "TDX" */
    int version;
    int64_t issue_date, next_update;
    uint8_t fmspc[6], pce_id[2];
    bool has_module;
    uint8_t module_mrsigner[48], module_attributes[8], module_attributes_mask[8];
    tdx_module_id_t *modules;
    size_t n_modules;
    tcb_level_t *levels;
    size_t n_levels;
} tcb_info_t;

typedef struct {
    char id[16]; /* "QE", "TD_QE", "QVE" */
    int version;
    int64_t issue_date, next_update;
    uint32_t miscselect, miscselect_mask;
    uint8_t attributes[16], attributes_mask[16];
    uint8_t mrsigner[32];
    uint16_t isvprodid;
    isv_level_t *levels;
    size_t n_levels;
} qe_identity_t;

struct phx_collateral {
    json_t *doc;     /* the outer object; strings below point into it */
    json_t *tcb_doc; /* parsed tcbInfo text */
    json_t *qe_doc;  /* parsed enclaveIdentity text */
    const char *pck_crl_issuer_chain, *tcb_info_issuer_chain, *qe_identity_issuer_chain;
    const char *tcb_info_text, *qe_identity_text;
    size_t tcb_info_len, qe_identity_len;
    phx_buf_t root_ca_crl, pck_crl; /* DER */
    uint8_t tcb_info_sig[64], qe_identity_sig[64];
    uint8_t hash[32]; /* SHA-256 of the JSON bytes: the cache key */
    tcb_info_t tcb;
    qe_identity_t qe;
};

/* "2025-06-19T10:16:03Z" (fraction allowed) -> unix seconds. */
phx_err_t attest_parse_time(const char *s, int64_t *out, phx_error_t *e);
void attest_sha256(const void *p, size_t n, uint8_t out[32]);

#endif
