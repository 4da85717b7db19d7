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
 * allowed. KMS: isKms(addr) and the measurement allowed. REGISTRATION: the
 * measurement allowed. Pass phx_kms_registry_check with the handle as ctx;
 * calls are serialised (one RPC client). */
typedef struct phx_kms_registry phx_kms_registry_t;
phx_err_t phx_kms_registry_open(const char *rpc_url, const phx_chain_deployment_t *deployment,
                                phx_kms_registry_t **out, phx_error_t *e);
void phx_kms_registry_close(phx_kms_registry_t *r); /* accepts NULL */
phx_err_t phx_kms_registry_check(void *ctx, phx_kms_role_t role, const phx_kms_peer_t *peer,
                                 phx_error_t *e);

/* ---- a whole KMS node (what `phx kms` runs) ------------------------------------ */

/* Everything optional except dir. */
typedef struct {
    const char *dir;                    /* state: kms-root.sealed (created 0700) */
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
     * this replica, for up to onboard_timeout_s (default 60). */
    const char *onboard_url;
    const uint8_t *onboard_kms_address;
    uint32_t onboard_timeout_s;
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
/* List this node's identity key on the Registry with a quote whose report data
 * binds it (phx_chain_kms_report_data); operator_ pays the gas. A key already
 * listed is left alone (*registered_now false). Until governance allows this
 * node's measurement this fails with PHX_ERR_STATE (ask again later). */
phx_err_t phx_kms_node_register(phx_kms_node_t *n, phx_rpc_t *rpc, phx_signer_t *operator_,
                                const phx_chain_deployment_t *d, bool *registered_now,
                                phx_error_t *e);
/* Graceful: stop serving (requests in flight get grace_ms), free everything. */
void phx_kms_node_stop(phx_kms_node_t *n, uint64_t grace_ms);

#ifdef __cplusplus
}
#endif
#endif
