/* The KMS as the chain tests run it: the service on a loopback HTTP server,
 * checking quotes against a sim TEE's root and peers against the Registry, and
 * governance admitting it (what test_gateway_chain and test_kms_network each
 * need before a worker can register). */
#ifndef PHX_TEST_SUPPORT_KMS_FIXTURE_H
#define PHX_TEST_SUPPORT_KMS_FIXTURE_H

#include <stdint.h>

#include "phx/chain.h"
#include "phx/kms_node.h"
#include "phx/net.h"
#include "phx/tee.h"

typedef struct {
    phx_buf_t sim_root;
    phx_attest_verifier_t *verifier;
    phx_kms_attest_t attest; /* cfg.verify_ctx points here: do not copy the struct */
    phx_kms_registry_t *registry;
    phx_kms_config_t cfg; /* as given to phx_kms_new (a replica may copy it) */
    phx_kms_t *kms;
    phx_http_router_t *router;
    phx_http_server_t *server;
    char url[64];        /* http://127.0.0.1:PORT */
    uint8_t address[20]; /* the KMS's signing address */
} test_kms_service_t;

/* Start the KMS service on a port the kernel picks: quotes verified against the
 * sim root of tee, peers checked against the Registry of dep at rpc_url, with
 * root (NULL: a random one). On failure the parts made so far stay in s; call
 * test_kms_service_stop either way. s must start zeroed. */
phx_err_t test_kms_service_start(test_kms_service_t *s, phx_tee_t *tee, const char *rpc_url,
                                 const phx_chain_deployment_t *dep, const uint8_t root[32],
                                 phx_error_t *e);

/* Stop the server (grace_ms for requests under way) and free all of s. */
void test_kms_service_stop(test_kms_service_t *s, uint64_t grace_ms);

/* Governance admits the KMS k with a genuine quote from t of its key in the KMS
 * domain (what `phx chain admit-kms` sends after verifying it). */
phx_err_t test_kms_admit(phx_signer_t *gov, const phx_chain_deployment_t *dep, phx_tee_t *t,
                         phx_kms_t *k, phx_error_t *e);

/* A fresh worker key registered through the KMS s (quoted by the sim TEE tee)
 * under the operator op, who sends Registry.registerWorker (its pool must
 * hold the stake for one more worker). *worker: the new worker's address. */
phx_err_t test_kms_register_worker(const test_kms_service_t *s, phx_tee_t *tee, phx_signer_t *op,
                                   const phx_chain_deployment_t *dep, uint8_t worker[20],
                                   phx_error_t *e);

#endif
