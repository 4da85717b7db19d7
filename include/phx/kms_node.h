/* A whole KMS node (what `phx kms` runs) and the chain seam it decides with:
 * the TEE backend, the sealed root (made here or fetched from a peer KMS),
 * the Registry read over JSON-RPC, and the KMS API on an HTTP server. Split
 * from kms.h so that clients of the KMS (workers, the CLI) need not see the
 * daemon, the chain or the TEE backend; docs/kms.md. */
#ifndef PHX_KMS_NODE_H
#define PHX_KMS_NODE_H

#include "phx/chain.h"
#include "phx/kms.h"
#include "phx/tee.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The chain seam over the Registry (contracts/Registry.sol), read through a
 * JSON-RPC node. WORKER: Registry.workers(addr) is active, its x25519 key and
 * measurement are the ones the quote shows, and the measurement is still
 * allowed. KMS: isKms(addr) (admitted, not revoked, measurement allowed) and
 * the X25519 key and measurement the Registry recorded at admission are the
 * quote's. REGISTRATION and KMS_ADMISSION: the measurement allowed. Pass phx_kms_registry_check
 * with the handle as ctx; calls are serialised (one RPC client). */
typedef struct phx_kms_registry phx_kms_registry_t;
phx_err_t phx_kms_registry_open(const char *rpc_url, const phx_chain_deployment_t *deployment,
                                phx_kms_registry_t **out, phx_error_t *e);
void phx_kms_registry_close(phx_kms_registry_t *r); /* accepts NULL */
phx_err_t phx_kms_registry_check(void *ctx, phx_kms_role_t role, const phx_kms_peer_t *peer,
                                 phx_error_t *e);
/* phx_kms_contract_owner_fn over Jobs.contracts(id).owner (ctx: the handle),
 * for the outbox's spending limits: the owner after Jobs.transferContract. */
phx_err_t phx_kms_registry_contract_owner(void *ctx, const uint8_t id[32], uint8_t owner[20],
                                          phx_error_t *e);

/* ---- a whole KMS node (what `phx kms` runs) ------------------------------------ */

/* Everything optional except dir. */
typedef struct {
    /* State (created 0700): kms-root.sealed; without a sealing key
     * kms-root.json (which root this node served: its KMS address, public);
     * onboarding.json while a replica asks for the root. */
    const char *dir;
    phx_tee_kind_t tee;                 /* default sim */
    const phx_tee_config_t *tee_config; /* NULL = defaults */
    const char *host;                   /* default 127.0.0.1 */
    uint16_t port;                      /* 0 = any free port */
    double rate_per_s;                  /* per-client limit; 0 = none */
    /* Who may receive keys: the Registry when rpc_url and deployment are set;
     * else the fixed allowlist (and, with allow_own_measurement, this KMS's own
     * measurement: workers built from the same binary, for development). */
    const char *rpc_url;
    const phx_chain_deployment_t *deployment;
    const uint8_t (*allow)[32];
    size_t allow_count;
    bool allow_own_measurement;
    /* Which quotes verify: root_der, else the sim TEE's own root when
     * trust_own_sim_root (sim only), else Intel's. policy NULL = default. */
    const uint8_t *root_der;
    size_t root_der_len;
    bool trust_own_sim_root;
    const phx_attest_policy_t *policy;
    /* Replica: with no sealed root yet, fetch it from this KMS (whose address
     * is onboard_kms_address), retrying while the Registry does not yet list
     * this replica, for up to onboard_timeout_s (default 60). The replica's
     * onboarding key must be admitted first: by governance, or, when
     * quorum_sender_sk is set (with rpc_url and deployment), by asking
     * onboard_url to vouch (POST /v1/vouches) and sending
     * Registry.admitKmsByQuorum from that key (enough when kmsQuorum is 1).
     * A TEE without a sealing key (TDX, sim-noseal) does this on every start:
     * its root lives only in memory (docs/kms.md, "No sealing key"); without
     * onboard_url it makes a new root only in a directory that never served
     * one. */
    const char *onboard_url;
    const uint8_t *onboard_kms_address;
    uint32_t onboard_timeout_s;
    const uint8_t *quorum_sender_sk;
} phx_kms_node_opts_t;

typedef struct phx_kms_node phx_kms_node_t;

/* Open the TEE, load or make (or fetch, as a replica) the sealed root, and
 * serve the KMS API. */
phx_err_t phx_kms_node_start(const phx_kms_node_opts_t *opts, phx_kms_node_t **out, phx_error_t *e);
/* "http://host:port" of the running node. */
const char *phx_kms_node_url(const phx_kms_node_t *n);
phx_kms_t *phx_kms_node_kms(phx_kms_node_t *n);
/* This node's measurement id (the Registry's form) and whether its root was
 * made on this start. */
void phx_kms_node_measurement(const phx_kms_node_t *n, uint8_t id[32]);
bool phx_kms_node_created_root(const phx_kms_node_t *n);
/* Where this start's root came from, for the operator: "created and
 * sealed", "unsealed from disk", "received from a peer KMS ...", ... */
const char *phx_kms_node_root_origin(const phx_kms_node_t *n);
/* Graceful: stop serving (requests in flight get grace_ms), free everything. */
void phx_kms_node_stop(phx_kms_node_t *n, uint64_t grace_ms);

/* ---- governance's side: admitting a KMS (docs/chain.md) ------------------------- */

typedef struct {
    const char *kms_url;       /* the KMS to admit: its GET /v1/attestation */
    const uint8_t *expect_kms; /* 20 bytes, or NULL: refuse another key */
    phx_signer_t *governor;    /* sends Registry.admitKms */
    phx_rpc_t *rpc;            /* reads Registry.kmsNodes */
    const phx_chain_deployment_t *deployment;
    phx_kms_verify_quote_fn verify_quote; /* governance's own verifier (root, policy) */
    void *verify_ctx;
    int64_t now;                        /* unix seconds; 0 = time(NULL) */
    const phx_http_client_opts_t *http; /* NULL for defaults */
} phx_kms_admit_opts_t;

typedef struct {
    uint8_t kms[20];
    uint8_t x25519[32];
    uint8_t measurement[32];
    uint8_t collateral_hash[32];
    char tcb_status[48];
    bool admitted_now; /* false: the Registry already had it admitted */
} phx_kms_admission_t;

/* Ask the KMS for a fresh quote over a random nonce, verify it with
 * verify_quote, check it binds the KMS's key in the KMS domain
 * (phx_chain_kms_report_data), then Registry.admitKms with the quote and the
 * collateral's hash. A key already admitted is left alone; a revoked one is
 * PHX_ERR_POLICY; a quote that does not verify or bind is PHX_ERR_VERIFY and
 * nothing is sent. */
phx_err_t phx_kms_admit(const phx_kms_admit_opts_t *o, phx_kms_admission_t *out, phx_error_t *e);

#ifdef __cplusplus
}
#endif
#endif
