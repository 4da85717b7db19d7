/* Shared inside the worker daemon (daemon.c, api.c, jobloop.c): the running
 * worker's state. Not a public header. */
#ifndef PHX_WORKER_DAEMON_INTERNAL_H
#define PHX_WORKER_DAEMON_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>

#include "phx/chain_owner.h"
#include "phx/kms.h"
#include "phx/net.h"
#include "phx/sandbox.h"
#include "phx/worker.h"

struct phx_worker {
    char dir[1024];
    char url[300];
    char rpc_url[512];
    char kms_url[512];
    uint8_t kms_address[20];
    phx_chain_deployment_t dep;
    /* identity, made in the TEE and sealed (or, with no sealing key, made
     * fresh this boot: fresh_identity); zeroed on stop */
    uint8_t sk[32], x25519_sk[32];
    bool fresh_identity;
    uint8_t address[20], x25519_pub[32], measurement[32];
    uint8_t contract_root[32]; /* from the KMS; every contract's keys derive from it */
    phx_tee_t *tee;
    phx_sandbox_pool_t *sandbox;
    pthread_mutex_t sandbox_lock; /* the pool is used by one thread at a time */
    phx_rpc_t *rpc;               /* start-up */
    phx_rpc_t *job_rpc;           /* the job thread's */
    phx_signer_t *operator_;      /* registers the worker, funds its gas */
    phx_signer_t *signer;         /* the identity key: sends Jobs.fulfill */
    phx_jobdb_t *db;
    pthread_mutex_t db_lock;
    phx_http_router_t *router;
    phx_http_server_t *server;
    pthread_t job_thread;
    bool job_thread_started;
    void *loop; /* jobloop.c's state */
    atomic_bool stopping;
    uint64_t poll_ms;
    uint64_t started_ms;
    uint64_t runs_total, runs_failed, calls_total, deploys_total, fulfilled_total, chain_head;
};

typedef struct {
    uint8_t id[32];
    uint8_t code_hash[32];
    phx_buf_t code;
    json_t *sealed_secrets; /* NULL when none */
} wk_contract_t;

phx_err_t wk_quote(void *ctx, const uint8_t report_data[64], phx_buf_t *quote,
                   phx_buf_t *collateral, phx_error_t *e);
phx_err_t wk_contract_store(phx_worker_t *w, const json_t *req, uint8_t id[32],
                            uint8_t code_hash[32], phx_error_t *e);
/* POST /v1/contracts/:id/delete: the owner's signed delete ({"owner","nonce",
 * "signature"}); leaves a tombstone with the nonce. */
phx_err_t wk_contract_delete(phx_worker_t *w, const uint8_t id[32], const json_t *req,
                             phx_error_t *e);
phx_err_t wk_contract_load(phx_worker_t *w, const uint8_t id[32], wk_contract_t *c, phx_error_t *e);
void wk_contract_clear(wk_contract_t *c);
phx_err_t wk_run(phx_worker_t *w, const wk_contract_t *c, const char *input_json,
                 const char *request_id, phx_buf_t *output, json_t **logs, bool *ok,
                 phx_error_t *e);
phx_err_t wk_api_start(phx_worker_t *w, const phx_worker_opts_t *o, phx_error_t *e);
/* PHX_ERR_POLICY when an --allow-host allowance reaches the endpoint of url
 * (the worker's chain RPC, KMS or own API); `what` names it in the message. */
phx_err_t wk_allowances_check(const phx_worker_opts_t *o, const char *what, const char *url,
                              phx_error_t *e);
phx_err_t wk_jobs_start(phx_worker_t *w, phx_error_t *e);
void wk_jobs_stop(phx_worker_t *w);

#endif
