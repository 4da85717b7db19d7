/* Chain fixtures for the C tests that run the contracts on anvil: one
 * deployment with anvil's development key, one transaction helper, and the
 * Registry measurement id of a TEE (what test_gateway_chain, test_kms_network
 * and test_verify each need before a worker can register). */
#ifndef PHX_TEST_SUPPORT_CHAIN_FIXTURE_H
#define PHX_TEST_SUPPORT_CHAIN_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "phx/chain.h"
#include "phx/tee.h"
#include "support/anvil.h"

/* Open an RPC client on url, a signer with anvil's first development key (the
 * governor of the deployment) and deploy the contracts with params (NULL: the
 * defaults). On failure *rpc and *gov may be set; the caller closes them
 * either way. The tests' devnet and the bench/chain gas benchmarks use it. */
phx_err_t test_chain_deploy_dev(const char *url, const phx_chain_params_t *params, phx_rpc_t **rpc,
                                phx_signer_t **gov, phx_chain_deployment_t *dep, phx_error_t *e);

/* Set addr's ETH balance to wei_hex (0x-hex; anvil_setBalance): gas for a fresh key. */
phx_err_t test_chain_fund(phx_rpc_t *rpc, const uint8_t addr[20], const char *wei_hex,
                          phx_error_t *e);

/* A test's chain: an anvil node and the contracts deployed on it by anvil's
 * first development key (the governor, who is also the tests' operator). */
typedef struct {
    test_anvil_t node;
    phx_rpc_t *rpc;
    phx_signer_t *gov;
    uint8_t gov_addr[20];
    phx_chain_deployment_t dep;
} test_devnet_t;

/* Init the crypto library, make the scratch folder dir (a mkdtemp template;
 * NULL: none), start the node (stopped at exit; one devnet a process) and
 * deploy. On failure the parts made so far stay in d (d->gov NULL unless the
 * deployment was reached). */
phx_err_t test_devnet_start(test_devnet_t *d, char *dir, phx_error_t *e);

/* Close d's signer and RPC client; the node stops at exit. */
void test_devnet_close(test_devnet_t *d);

/* phx_chain_transact from s to `to`; takes ownership of args (a JSON array). */
phx_err_t test_chain_transact(phx_signer_t *s, const uint8_t to[20], const char *sig, json_t *args,
                              phx_error_t *e);

/* Governance sets whether the Registry allows measurement id mr. */
phx_err_t test_chain_allow_measurement(phx_signer_t *gov, const phx_chain_deployment_t *dep,
                                       const uint8_t mr[32], bool allowed, phx_error_t *e);

/* The devnet's governor, as the tests' operator, stakes amount (decimal wei)
 * into its StakePool pool (opened on first use; phx_chain_stake). */
phx_err_t test_chain_stake(test_devnet_t *d, const char *amount, phx_error_t *e);

/* The Registry's measurement id of the TEE t: keccak256(MRTD || RTMR0..3). */
phx_err_t test_tee_measurement_id(phx_tee_t *t, uint8_t id[32], phx_error_t *e);

#endif
