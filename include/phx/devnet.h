/* Devnet: the whole network on one machine (DESIGN.md §1, `phx devnet`).
 * Starts anvil (its state kept in DIR so a second start resumes the same
 * chain), deploys the contracts once, starts one KMS, N workers and a gateway
 * as child processes of the given phx binary, all on loopback with the sim TEE,
 * does the governance a fresh chain needs (KMS listed, measurement allowed,
 * operators funded, each with a staked pool), and writes DIR/endpoints.json. */
#ifndef PHX_DEVNET_H
#define PHX_DEVNET_H

#include "phx/core.h"
#include "phx/json.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PHX_DEVNET_MAX_ALLOW 16

typedef struct {
    const char *dir;           /* state and logs; created */
    const char *phx_bin;       /* the phx binary to run kms/worker/gateway with */
    const char *anvil;         /* anvil binary; NULL = search (see docs/devnet.md) */
    const char *node_modules;  /* where to search for anvil first; may be NULL */
    unsigned workers;          /* default 3 */
    unsigned sgx_workers;      /* of them, the last N run the sim TEE's SGX flavour */
    unsigned operators;        /* 0: one per worker; else worker i runs under operator i % N */
    unsigned block_time_s;     /* 0 = mine on every transaction */
    bool no_handover;          /* keep the deployer as governor (no timelock hand-over) */
    uint64_t ready_timeout_ms; /* per process; default 60000 */
    bool restart;              /* phx_devnet_check restarts a KMS, worker or gateway that
                                  died (same arguments and port) instead of failing */
    /* Passed to every worker as --allow-host: the only loopback/private
     * HOST:PORT endpoints contracts may reach (a local price API). At most
     * PHX_DEVNET_MAX_ALLOW; the workers refuse one that reaches the chain RPC
     * or the KMS. */
    const char **allow_hosts;
    int nallow_hosts;
    /* One inference endpoint (`phx infer`) serving this GGUF file on the
     * devnet's sim TEE, NULL for none; every worker answers phx.ai.chat for
     * infer_name (default "tiny") with it. */
    const char *infer_model;
    const char *infer_name;
    /* Chains contracts reach with phx.evm: 1 (default) is the devnet's own
     * chain, named "main"; 2..PHX_DEVNET_MAX_CHAINS add an anvil each, named
     * "b", "c", "d", chain ids main's + 1, + 2, + 3. Every worker gets all of
     * them (--chain-rpc); endpoints.json lists them under "chains". Each
     * mines on block_time_s as main does. */
    unsigned chains;
    /* Tests only: "N=MODE" each, worker N started with --test-misbehave MODE
     * (equivocate or corrupt; the devnet's TEE is the sim). */
    const char **test_misbehave;
    int ntest_misbehave;
} phx_devnet_opts_t;
#define PHX_DEVNET_MAX_CHAINS 4

typedef struct phx_devnet phx_devnet_t;

/* Bring everything up; on failure, whatever started is stopped again. The
 * endpoints document is also written to DIR/endpoints.json:
 * {"dir","rpc","chain_id","deployment":{...},"kms":{"url","address"},
 *  "workers":[{"url","operator",...}],"gateway","pids":{...},
 *  "chains":{"main":{"rpc","chain_id"},"b":{...}}}, and with
 * infer_model "infer":{"url","model","model_sha256","address",...}. */
phx_err_t phx_devnet_start(const phx_devnet_opts_t *opts, phx_devnet_t **out, phx_error_t *e);
/* The endpoints document (owned by dn). */
const json_t *phx_devnet_endpoints(const phx_devnet_t *dn);
/* PHX_OK while every child runs; PHX_ERR_STATE naming the first that exited
 * (with opts.restart, only anvil's death is an error: the daemons are started
 * again). */
phx_err_t phx_devnet_check(phx_devnet_t *dn, phx_error_t *e);
/* Restarts made so far by phx_devnet_check. */
unsigned phx_devnet_restarts(const phx_devnet_t *dn);
/* Stop the children in reverse order (gateway, workers, KMS, anvil), each
 * with SIGTERM (SIGINT for anvil, which then writes its state) and SIGKILL after
 * a grace period, and free dn. Accepts NULL. */
void phx_devnet_stop(phx_devnet_t *dn);

/* Where anvil is: opts->anvil, else node_modules' native binary
 * (@foundry-rs/anvil-linux-amd64/bin/anvil) or .bin/anvil, else "anvil" on PATH.
 * out gets an absolute path or "anvil". */
phx_err_t phx_devnet_find_anvil(const char *anvil, const char *node_modules, char *out, size_t cap,
                                phx_error_t *e);

#ifdef __cplusplus
}
#endif
#endif
