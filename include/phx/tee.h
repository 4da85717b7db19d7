/* The TEE interface: what a worker or KMS asks of the trusted environment it runs
 * in — a quote over 64 bytes of report data, its own measurement, and a sealing
 * key bound to that measurement. Backends: "sim" (software TEE with its own
 * simulated Intel PCS hierarchy, for development), "tdx" (Linux configfs-tsm) and
 * "sgx" (Gramine /dev/attestation). docs/tee.md describes each backend. */
#ifndef PHX_TEE_H
#define PHX_TEE_H

#include "phx/attest.h"
#include "phx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { PHX_TEE_SIM = 1, PHX_TEE_TDX = 2, PHX_TEE_SGX = 3 } phx_tee_kind_t;

/* "sim" | "tdx" | "sgx" and back. */
phx_err_t phx_tee_kind_parse(const char *name, phx_tee_kind_t *out, phx_error_t *e);
const char *phx_tee_kind_name(phx_tee_kind_t kind);

/* Every field is optional (NULL / false = the default shown). */
typedef struct {
    /* sim: state directory, created once and reused ($PHX_HOME/sim, else ~/.phx/sim). */
    const char *sim_dir;
    /* sim: the file whose bytes define MRTD (default /proc/self/exe, the phx binary)
     * and the configuration file measured into RTMR0 (default: none, empty). */
    const char *sim_binary;
    const char *sim_config;
    /* tdx: the configfs-tsm report directory (/sys/kernel/config/tsm/report) and
     * the entry to use under it (default "phx-<pid>"). */
    const char *tsm_dir;
    const char *tsm_entry;
    /* sgx: Gramine's attestation directory (/dev/attestation). */
    const char *sgx_dir;
    /* Production mode: the sim backend refuses to open. */
    bool production;
    /* sim: behave like TDX and have no sealing key (phx_tee_seal_key is
     * PHX_ERR_UNSUPPORTED), so the no-sealing paths run on any machine. */
    bool sim_no_seal;
    /* sim: the SGX flavour. Quotes are SGX DCAP quotes v3 (ISV enclave report:
     * MRENCLAVE = SHA-256(MRTD || RTMR0) of the TDX flavour, i.e. the binary and
     * its configuration; MRSIGNER fixed) from the sim SGX QE, verified with the
     * sim SGX collateral (TCB Info "SGX" v3, QE Identity "QE") under the same
     * sim root and PCK certificate. It seals, as SGX does. */
    bool sim_sgx;
} phx_tee_config_t;

/* The CLI's --tee value: a kind, "sim-noseal" (the sim backend without a
 * sealing key, as on TDX: sets config->sim_no_seal) or "sim-sgx" (the sim
 * backend's SGX flavour: sets config->sim_sgx). */
phx_err_t phx_tee_spec_parse(const char *name, phx_tee_kind_t *kind, phx_tee_config_t *config,
                             phx_error_t *e);

typedef struct phx_tee phx_tee_t;

/* Open a backend. sim creates its state directory (PCS hierarchy, QE key,
 * platform secret) on first use and reuses it after. Free with phx_tee_close. */
phx_err_t phx_tee_open(phx_tee_kind_t kind, const phx_tee_config_t *config, phx_tee_t **out,
                       phx_error_t *e);
void phx_tee_close(phx_tee_t *t);
phx_tee_kind_t phx_tee_kind(const phx_tee_t *t);
/* Whether phx_tee_seal_key works here: false on TDX (no hardware sealing key)
 * and on sim with sim_no_seal. Without it a worker's identity is fresh each
 * boot and a KMS gets its root from a peer (docs/tee.md, docs/kms.md). */
bool phx_tee_can_seal(const phx_tee_t *t);

/* A DCAP quote whose report data is exactly report_data (appended to quote).
 * sim and tdx produce TDX quotes, sgx an SGX quote v3. The backend checks the
 * quote it got back carries the requested report data. */
phx_err_t phx_tee_quote(phx_tee_t *t, const uint8_t report_data[64], phx_buf_t *quote,
                        phx_error_t *e);

/* The code identity of this TEE, read from a quote over zero report data. */
typedef struct {
    phx_report_type_t type;
    uint8_t mr_td[48], rt_mr[4][48];       /* TDX */
    uint8_t mr_enclave[32], mr_signer[32]; /* SGX */
    /* SHA-256 over (TDX) mr_td || rt_mr0..3 or (SGX) mr_enclave || mr_signer:
     * one 32-byte value for allowlists and key derivation. */
    uint8_t digest[32];
} phx_tee_measurement_t;
phx_err_t phx_tee_measurement(phx_tee_t *t, phx_tee_measurement_t *m, phx_error_t *e);

/* A 32-byte key that only the same measurement on the same platform re-derives,
 * separated by label (e.g. "kms/root"). sim: HKDF over the sim platform secret and
 * the measurement; sgx: HKDF over Gramine's _sgx_mrenclave sealing key; tdx (and
 * sim with sim_no_seal) has no sealing key: PHX_ERR_UNSUPPORTED.
 * Zero the key after use. */
phx_err_t phx_tee_seal_key(phx_tee_t *t, const char *label, uint8_t key[32], phx_error_t *e);

/* Sealed storage (DESIGN.md §3 "Sealing"): a secret encrypted under a sealing
 * key, reached through a callback so callers and tests can choose its source
 * (phx_tee_sealing_key adapts phx_tee_seal_key, with the phx_tee_t as ctx).
 * Format: "PHXSEAL1" || nonce(24) || XChaCha20-Poly1305(key, nonce,
 * aad = "PHXSEAL1" || label, secret) — the label binds what the blob is for. */
typedef phx_err_t (*phx_tee_sealing_key_fn)(void *ctx, const char *label, uint8_t key[32],
                                            phx_error_t *e);
phx_err_t phx_tee_sealing_key(void *tee, const char *label, uint8_t key[32], phx_error_t *e);
phx_err_t phx_tee_seal(phx_tee_sealing_key_fn key_fn, void *key_ctx, const char *label,
                       const uint8_t *secret, size_t secret_len, phx_buf_t *out, phx_error_t *e);
/* A wrong key, a tampered blob or another label is PHX_ERR_VERIFY. out is marked
 * secret (zeroed on free). */
phx_err_t phx_tee_unseal(phx_tee_sealing_key_fn key_fn, void *key_ctx, const char *label,
                         const uint8_t *blob, size_t blob_len, phx_buf_t *out, phx_error_t *e);

/* sim only: the collateral (QuoteCollateralV3 JSON) for the sim platform (for
 * the flavour's quotes: TDX, or SGX with sim_sgx), and the DER root certificate
 * to pass to phx_attest_verifier_new (--trust-sim-root). */
phx_err_t phx_tee_sim_collateral(phx_tee_t *t, phx_buf_t *json, phx_error_t *e);
/* Whether this is the sim backend's SGX flavour. */
bool phx_tee_sim_is_sgx(const phx_tee_t *t);
/* A sim directory's collateral for quotes of tee_type (PHX_QUOTE_TEE_TDX or
 * PHX_QUOTE_TEE_SGX), read without opening (creating) it; for verifiers. */
phx_err_t phx_tee_sim_read_collateral(const char *dir, uint32_t tee_type, phx_buf_t *json,
                                      phx_error_t *e);
/* The tee_type of a quote's header (no other check; PHX_ERR_TRUNCATED when it
 * is shorter than a header): what a verifier holding both sim collaterals
 * picks by. */
phx_err_t phx_tee_quote_tee_type(const uint8_t *quote, size_t len, uint32_t *tee_type,
                                 phx_error_t *e);
phx_err_t phx_tee_sim_root(phx_tee_t *t, phx_buf_t *der, phx_error_t *e);

/* The default sim directory ($PHX_HOME/sim or $HOME/.phx/sim) into buf. */
phx_err_t phx_tee_sim_default_dir(char *buf, size_t len, phx_error_t *e);
/* Read a sim directory's root certificate without opening (creating) it; for
 * verifiers given --trust-sim-root DIR. */
phx_err_t phx_tee_sim_read_root(const char *dir, phx_buf_t *der, phx_error_t *e);

#ifdef __cplusplus
}
#endif
#endif
