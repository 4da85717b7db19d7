/* Attestation: Intel DCAP quote parsing and verification (SGX quote v3, TDX quote
 * v4/v5) against PCS collateral, to a pinned root, at a caller-given time.
 * Specs: Intel SGX ECDSA Quote Library API (quote v3), Intel TDX DCAP Quote Library
 * API (v4/v5), Intel PCS API v4 (TCB Info v3, QE Identity v2). docs/attest.md says
 * how data flows; the verifier caches verified collateral by content hash. */
#ifndef PHX_ATTEST_H
#define PHX_ATTEST_H

#include "phx/core.h"
#include "phx/json.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PHX_QUOTE_TEE_SGX 0x00000000u
#define PHX_QUOTE_TEE_TDX 0x00000081u
#define PHX_QUOTE_HEADER_LEN 48
#define PHX_SGX_REPORT_LEN 384
#define PHX_TD10_REPORT_LEN 584
#define PHX_TD15_REPORT_LEN 648

typedef enum {
    PHX_REPORT_SGX = 1,  /* SGX enclave report body (quote v3, or v5 body type 1) */
    PHX_REPORT_TD10 = 2, /* TDX 1.0 TD report (quote v4, or v5 body type 2) */
    PHX_REPORT_TD15 = 3, /* TDX 1.5 TD report (quote v5 body type 3) */
} phx_report_type_t;

typedef struct {
    uint16_t version;
    uint16_t attestation_key_type; /* 2 = ECDSA-256 with P-256 */
    uint32_t tee_type;             /* PHX_QUOTE_TEE_SGX or PHX_QUOTE_TEE_TDX */
    uint16_t qe_svn, pce_svn;
    uint8_t qe_vendor_id[16];
    uint8_t user_data[20];
} phx_quote_header_t;

/* SGX REPORT body (Intel SDK sgx_report_body_t), also the QE report. */
typedef struct {
    uint8_t cpu_svn[16];
    uint32_t misc_select;
    uint8_t attributes[16];
    uint8_t mr_enclave[32];
    uint8_t mr_signer[32];
    uint16_t isv_prod_id, isv_svn;
    uint8_t report_data[64];
} phx_sgx_report_t;

/* TD report body; tee_tcb_svn2 and mr_service_td only for PHX_REPORT_TD15. */
typedef struct {
    uint8_t tee_tcb_svn[16];
    uint8_t mr_seam[48], mr_signer_seam[48];
    uint8_t seam_attributes[8], td_attributes[8], xfam[8];
    uint8_t mr_td[48], mr_config_id[48], mr_owner[48], mr_owner_config[48];
    uint8_t rt_mr[4][48];
    uint8_t report_data[64];
    uint8_t tee_tcb_svn2[16];
    uint8_t mr_service_td[48];
} phx_td_report_t;

/* A parsed quote. The pointers are views into the caller's buffer, which must
 * outlive the struct; nothing here is allocated and nothing needs freeing. */
typedef struct {
    phx_quote_header_t header;
    phx_report_type_t report_type;
    phx_sgx_report_t sgx;           /* when report_type == PHX_REPORT_SGX */
    phx_td_report_t td;             /* when report_type is TD10/TD15 */
    size_t signed_len;              /* header + body: the bytes the quote signature covers */
    const uint8_t *signature;       /* 64 bytes r||s */
    const uint8_t *attestation_key; /* 64 bytes x||y (P-256) */
    const uint8_t *qe_report;       /* 384 bytes, raw */
    phx_sgx_report_t qe_report_body;
    const uint8_t *qe_report_signature; /* 64 bytes r||s by the PCK key */
    const uint8_t *qe_auth_data;
    size_t qe_auth_data_len;
    uint16_t cert_type; /* 5 = PCK leaf || intermediate || root, PEM */
    const uint8_t *cert_data;
    size_t cert_data_len;
    size_t quote_len; /* bytes used; anything after (zero padding) is ignored */
} phx_quote_t;

/* Parse every field with bounds checks. Trailing bytes after the certification
 * data are allowed (a TDX guest hands out a fixed-size zero-padded buffer). */
phx_err_t phx_quote_parse(const uint8_t *p, size_t len, phx_quote_t *out, phx_error_t *e);

/* ---- TCB status ---------------------------------------------------------------- */

typedef enum {
    PHX_TCB_UP_TO_DATE = 0,
    PHX_TCB_SW_HARDENING_NEEDED,
    PHX_TCB_CONFIGURATION_NEEDED,
    PHX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
    PHX_TCB_OUT_OF_DATE,
    PHX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
    PHX_TCB_REVOKED,
    PHX_TCB__COUNT
} phx_tcb_status_t;

/* Intel's spelling ("UpToDate", ...); phx_tcb_status_parse is its inverse. */
const char *phx_tcb_status_name(phx_tcb_status_t s);
phx_err_t phx_tcb_status_parse(const char *name, phx_tcb_status_t *out, phx_error_t *e);

/* ---- collateral ---------------------------------------------------------------- */

/* Collateral in the dcap-qvl QuoteCollateralV3 JSON layout (nine string fields:
 * PEM issuer chains, hex DER CRLs, the exact signed tcbInfo/enclaveIdentity JSON
 * texts and raw r||s signatures). Opaque; owns copies of everything. */
typedef struct phx_collateral phx_collateral_t;

/* Parse (structure only; no signatures are checked here). Free with
 * phx_collateral_free. TCB Info v2 and v3 (SGX, TDX) and QE Identity v2 load. */
phx_err_t phx_collateral_parse(const uint8_t *json, size_t len, phx_collateral_t **out,
                               phx_error_t *e);
void phx_collateral_free(phx_collateral_t *c);

/* ---- policy ------------------------------------------------------------------ */

/* What a verified quote must satisfy to be accepted. */
typedef struct {
    uint32_t accept_status_mask; /* bit (1 << phx_tcb_status_t) per accepted status */
    bool allow_debug;            /* accept debug enclaves / TDs */
    bool allow_service_td;       /* accept a non-zero MR_SERVICE_TD (TDX 1.5) */
    int64_t min_tcb_date;        /* matched TCB level's tcbDate must be >= this; 0 = any */
    /* Advisory IDs that make a quote unacceptable (NULL-terminated, may be NULL). */
    const char *const *denied_advisories;
    /* When not NULL: every advisory ID must be in this NULL-terminated list. */
    const char *const *allowed_advisories;
} phx_attest_policy_t;

/* The default: UpToDate and SWHardeningNeeded only, no debug, no service TD. */
phx_attest_policy_t phx_attest_policy_default(void);
/* Every status except Revoked (what a pure verifier like dcap-qvl reports). */
phx_attest_policy_t phx_attest_policy_permissive(void);

/* A policy read from JSON: {"accept_status":["UpToDate",...], "allow_debug":false,
 * "allow_service_td":false, "min_tcb_date":"2024-03-13T00:00:00Z" | unix seconds,
 * "denied_advisories":[...], "allowed_advisories":[...]}. Missing keys keep the
 * defaults. The loaded policy owns its strings: free with phx_attest_policy_free. */
typedef struct phx_attest_policy_doc phx_attest_policy_doc_t;
phx_err_t phx_attest_policy_parse(const char *json, size_t len, phx_attest_policy_doc_t **out,
                                  phx_error_t *e);
const phx_attest_policy_t *phx_attest_policy_doc_get(const phx_attest_policy_doc_t *d);
void phx_attest_policy_free(phx_attest_policy_doc_t *d);

/* ---- verification ------------------------------------------------------------ */

#define PHX_ATTEST_MAX_ADVISORIES 64
#define PHX_ATTEST_ADVISORY_LEN 32

typedef struct {
    bool verified; /* every check held; status/advisories are meaningful */
    bool accepted; /* verified and the policy accepts it */
    phx_tcb_status_t status;
    char advisory_ids[PHX_ATTEST_MAX_ADVISORIES][PHX_ATTEST_ADVISORY_LEN];
    size_t n_advisory_ids;
    int64_t tcb_date; /* tcbDate of the matched platform TCB level */
    uint8_t fmspc[6];
    uint8_t ppid[16];
    phx_quote_header_t header;
    phx_report_type_t report_type;
    phx_sgx_report_t sgx;
    phx_td_report_t td;
    bool parsed;            /* header/report fields above are filled */
    bool collateral_cached; /* the collateral came from the verified cache */
    bool platform_cached;   /* PCK chain + QE report came from the cache */
} phx_attest_result_t;

typedef struct phx_attest_verifier phx_attest_verifier_t;

/* A verifier trusting exactly one root: root_der (a self-signed CA certificate),
 * or, when root_der is NULL, the built-in Intel SGX Root CA (pinned by its
 * SHA-256 fingerprint). Thread-safe; holds the collateral cache. */
phx_err_t phx_attest_verifier_new(const uint8_t *root_der, size_t root_len,
                                  phx_attest_verifier_t **out, phx_error_t *e);
void phx_attest_verifier_free(phx_attest_verifier_t *v);
void phx_attest_verifier_clear_cache(phx_attest_verifier_t *v);
/* True when the verifier's root is the pinned Intel SGX Root CA. */
bool phx_attest_verifier_is_intel(const phx_attest_verifier_t *v);

/* Verify quote against collateral (JSON text as above) at time now (unix
 * seconds) and decide acceptance with policy (NULL = default). Returns PHX_OK
 * only when accepted. A failed check returns PHX_ERR_VERIFY (or INVALID,
 * TRUNCATED, UNSUPPORTED for malformed input) with e naming the check; a
 * verified quote the policy refuses returns PHX_ERR_POLICY (res->verified set).
 * res is always written; its report fields are valid once res->parsed. */
phx_err_t phx_attest_verify(phx_attest_verifier_t *v, const uint8_t *quote, size_t quote_len,
                            const uint8_t *collateral, size_t collateral_len, int64_t now,
                            const phx_attest_policy_t *policy, phx_attest_result_t *res,
                            phx_error_t *e);

/* The result as JSON: {"ok", "verified", "status", "advisory_ids", "tee_type",
 * "fmspc", "header":{...}, "report":{...}} with lowercase hex fields named as in
 * the DCAP testdata's expected.json. A new reference (NULL on allocation failure). */
json_t *phx_attest_result_json(const phx_attest_result_t *res);

/* The certificate chain a quote carries (certification data type 5), leaf
 * first, read for display, not verified (phx_attest_verify does that):
 * [{"role":"PCK leaf"|"intermediate CA"|"root CA","subject","issuer" (as
 * "CN=..., O=..., C=..."),"serial" (0x hex),"not_before","not_after" (unix
 * seconds),"validity":"valid"|"expired"|"not yet valid" (at now),"ca"}]. */
phx_err_t phx_attest_quote_certs_json(const uint8_t *quote, size_t len, int64_t now, json_t **out,
                                      phx_error_t *e);

/* The built-in Intel SGX Root CA, DER. */
const uint8_t *phx_attest_intel_root_der(size_t *len);

#ifdef __cplusplus
}
#endif
#endif
