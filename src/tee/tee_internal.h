/* Private to src/tee: the backend state and the sim PCS hierarchy builder. */
#ifndef PHX_TEE_INTERNAL_H
#define PHX_TEE_INTERNAL_H

#include <limits.h>
#include <openssl/evp.h>

#include "phx/tee.h"

/* Names inside a sim directory. */
#define SIM_ROOT_DER "root_ca.der"
#define SIM_COLLATERAL "collateral.json"
#define SIM_PCK_CHAIN "pck_chain.pem"
#define SIM_ATT_KEY "attestation_key.pem"
#define SIM_QE "qe_report.bin" /* QE report (384) || its signature by the PCK key (64) */
#define SIM_SECRET "platform.secret"
/* The SGX flavour: its QE (ISVPRODID 1, as Intel's SGX QE; the TD QE is 2),
 * that QE's attestation key, and collateral with TCB Info "SGX" and QE Identity
 * "QE" for the same platform (a TDX host's CPU runs SGX enclaves too). */
#define SIM_COLLATERAL_SGX "collateral_sgx.json"
#define SIM_ATT_KEY_SGX "attestation_key_sgx.pem"
#define SIM_QE_SGX "qe_report_sgx.bin"
#define SIM_QE_AUTH_LEN 32

struct phx_tee {
    phx_tee_kind_t kind;
    bool no_seal; /* sim_no_seal: no sealing key, like TDX */
    bool sgx;     /* sim_sgx: SGX v3 quotes */
    char dir[PATH_MAX];
    char entry[256];
    /* sim */
    EVP_PKEY *att_key;
    uint8_t att_pub[64];
    uint8_t qe[384 + 64];
    phx_buf_t pck_chain; /* PEM, NUL-terminated as a QE writes it */
    uint8_t secret[32];
    uint8_t mr_td[48], rt_mr0[48];
    uint8_t mr_enclave[32], mr_signer[32]; /* sgx flavour */
};

/* Build a fresh sim hierarchy in dir (which must not exist yet): root CA, PCK CA,
 * PCK leaf with the SGX extension, TCB signing cert, CRLs, TCB Info, QE Identity,
 * the collateral JSON, the QE attestation key and its QE report, and a platform
 * secret. Written to a temporary sibling and renamed, so concurrent first uses
 * see either nothing or a complete directory. */
phx_err_t sim_pcs_create(const char *dir, phx_error_t *e);

/* ECDSA-P256/SHA-256 signature as raw r||s. */
phx_err_t tee_sign_raw(EVP_PKEY *key, const void *msg, size_t len, uint8_t rs[64], phx_error_t *e);
/* x||y of a P-256 key. */
phx_err_t tee_pub_raw(EVP_PKEY *key, uint8_t pub[64], phx_error_t *e);

/* The sim QE's identity (what the sim QE Identity pins). */
#define SIM_QE_ISVPRODID 2
#define SIM_QE_SGX_ISVPRODID 1
#define SIM_QE_ISVSVN 4
void sim_qe_mrsigner(uint8_t out[32]);
/* The sim platform FMSPC and TDX module version. */
extern const uint8_t sim_fmspc[6];

phx_err_t tee_read_file_exact(const char *path, uint8_t *dst, size_t n, phx_error_t *e);

#endif
