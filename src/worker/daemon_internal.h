/* Shared inside the worker daemon (daemon.c, api.c, jobloop.c): the running
 * worker's state. Not a public header. */
#ifndef PHX_WORKER_DAEMON_INTERNAL_H
#define PHX_WORKER_DAEMON_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>

#include "jobdb.h"
#include "phx/chain_owner.h"
#include "phx/kms.h"
#include "phx/net.h"
#include "phx/sandbox.h"
#include "phx/worker.h"
#include "sched.h"

/* What direct calls' payment checks read from the chain, reused for a short
 * while (payment.c): the price, and per payer what the chain redeemed for this
 * operator and what the deposit covers. An entry counts only while younger
 * than the TTL and while the job loop has seen no new block since it was read
 * (chain_head), so it is never staler than one TTL. */
#define WK_PAY_CACHE_ACCOUNTS 64
typedef struct {
    pthread_mutex_t lock;
    uint64_t ttl_ms; /* 0: read on every call */
    phx_u256_t per_call, per_cpu_ms;
    uint64_t price_ms, price_head; /* when read (0: never), the head then */
    struct {
        uint8_t payer[20];
        phx_u256_t redeemed, coverable;
        uint64_t at_ms, head;
    } acct[WK_PAY_CACHE_ACCOUNTS];
    uint64_t hits, misses; /* /metrics */
} wk_pay_cache_t;

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
    phx_sandbox_pool_t *sandbox; /* thread-safe; sched decides how many run at once */
    wk_sched_t *sched;
    phx_rpc_t *rpc;            /* start-up */
    phx_rpc_t *job_rpc;        /* the job thread's */
    phx_signer_t *operator_;   /* registers the worker, funds its gas */
    uint8_t operator_addr[20]; /* the operator: vouchers pay it */
    uint64_t redeem_every_ms;  /* how often the job loop redeems vouchers */
    wk_pay_cache_t pay_cache;
    phx_signer_t *signer; /* the identity key: sends Jobs.fulfill */
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
    phx_worker_misbehave_t misbehave; /* tests on the sim TEE only */
    uint64_t runs_total, runs_failed, calls_total, deploys_total, fulfilled_total, chain_head;
    /* phx.state (state.c): one operation at a time; after start-up it owns
     * rpc and operator_. state_stale_file: the sim-only test fault, "" off. */
    pthread_mutex_t state_lock;
    char state_stale_file[1024];
};

typedef struct {
    uint8_t id[32];
    uint8_t code_hash[32];
    uint8_t owner[20]; /* who deployed it (the record's signed op); zero if unknown */
    phx_buf_t code;
    json_t *sealed_secrets; /* NULL when none */
    char filename[72];      /* the owner's file name, for error locations */
} wk_contract_t;

phx_err_t wk_quote(void *ctx, const uint8_t report_data[64], phx_buf_t *quote,
                   phx_buf_t *collateral, phx_error_t *e);
phx_err_t wk_contract_store(phx_worker_t *w, const json_t *req, uint8_t id[32],
                            uint8_t code_hash[32], phx_error_t *e);
/* POST /v1/contracts/:id/delete: the owner's signed delete ({"owner","nonce",
 * "signature"}); leaves a tombstone with the nonce. */
phx_err_t wk_contract_delete(phx_worker_t *w, const uint8_t id[32], const json_t *req,
                             phx_error_t *e);
/* wallet.c: the owner's signed SpendLimit for phx.evm.send (POST .../limits),
 * and the sandbox's outbox hook (phx_sandbox_outbox_fn; ctx is the worker). */
phx_err_t wk_contract_limit(phx_worker_t *w, const uint8_t id[32], const json_t *req,
                            phx_error_t *e);
phx_err_t wk_outbox(void *ctx, const char *contract_id, const char *action, const uint8_t *raw,
                    size_t len, bool release, json_t **answer, phx_error_t *e);
phx_err_t wk_contract_load(phx_worker_t *w, const uint8_t id[32], wk_contract_t *c, phx_error_t *e);
void wk_contract_clear(wk_contract_t *c);
/* What one run cost, for the answer's "usage" and /metrics. retry_after_s is
 * set when the run was refused because the worker is busy (PHX_ERR_LIMIT). */
typedef struct {
    uint64_t queue_ms, wall_ms, cpu_ms, peak_mem_kb;
    uint32_t retry_after_s;
} wk_usage_t;

/* caller: ctx.caller ("0x" + 40 hex; NULL = zero). onchain: a paid Jobs request, which takes the
 * reserved lane and always queues; a direct call may be refused with PHX_ERR_LIMIT when the queues
 * are full. */
phx_err_t wk_run(phx_worker_t *w, const wk_contract_t *c, const char *input_json,
                 const char *request_id, const char *caller, bool onchain, phx_buf_t *output,
                 json_t **logs, bool *ok, wk_usage_t *usage, phx_error_t *e);
phx_err_t wk_api_start(phx_worker_t *w, const phx_worker_opts_t *o, phx_error_t *e);
/* PHX_ERR_POLICY when an --allow-host allowance reaches the endpoint of url
 * (the worker's chain RPC, KMS or own API); `what` names it in the message. */
phx_err_t wk_allowances_check(const phx_worker_opts_t *o, const char *what, const char *url,
                              phx_error_t *e);
/* A direct call's payment (payment.c). */
typedef struct {
    bool refused;  /* resp holds the 402 answer */
    bool accepted; /* a voucher was checked and journaled */
    uint8_t caller[20];
    uint8_t operator_[20];
    phx_u256_t cumulative, per_call, per_cpu_ms;
    phx_voucher_rec_t prev; /* the journal's entry before this voucher (zeros: none) */
} wk_pay_t;
/* Check a call's voucher (voucher_json may be NULL) before it runs: p->caller
 * is the payer on success; p->refused with resp set to 402 when the voucher is
 * missing or too small; an error for a bad or forged voucher. */
phx_err_t wk_pay_admit(phx_worker_t *w, const uint8_t contract_id[32], const uint8_t input_hash[32],
                       const json_t *voucher_json, wk_pay_t *p, phx_http_response_t *resp,
                       phx_error_t *e);
/* The call was refused busy (429) after its voucher was accepted: nothing
 * ran, so the journal goes back to the previous voucher (unless a newer one
 * came in meanwhile), and the payer owes nothing for it. */
void wk_pay_unwind(phx_worker_t *w, wk_pay_t *p);
/* After the run: add its CPU cost to what is owed; the answer's "payment"
 * object (NULL when no voucher was accepted). */
json_t *wk_pay_settle(phx_worker_t *w, const wk_pay_t *p, uint64_t cpu_ms);
/* Redeem the latest unredeemed vouchers on chain in one transaction, from the
 * job thread's signer (or after it stopped). */
phx_err_t wk_pay_redeem(phx_worker_t *w, size_t *redeemed, phx_error_t *e);
/* phx.state's callbacks (state.c; phx_sandbox_state_t, ctx the worker). */
phx_err_t wk_state_read(void *ctx, const char *contract_id, const uint8_t key[32],
                        phx_sandbox_state_slot_t *out, phx_error_t *e);
phx_err_t wk_state_cas(void *ctx, const char *contract_id, const uint8_t key[32], uint64_t expected,
                       const uint8_t *sealed, size_t len, uint64_t *current, phx_error_t *e);
/* misbehave.c. The signed results this worker published for on-chain
 * request id: {"request_id","state","results":[envelope, ...]}: the one it
 * journaled (if signed by this identity) and, under --test-misbehave
 * equivocate, the second one. PHX_ERR_NOT_FOUND for a request never seen. */
phx_err_t wk_job_results(phx_worker_t *w, uint64_t id, json_t **out, phx_error_t *e);
/* --test-misbehave corrupt: the run's output is replaced by a wrong one. */
void wk_misbehave_corrupt(const phx_worker_t *w, bool *ok, phx_buf_t *output);
/* --test-misbehave equivocate: sign a second, different output for j beside
 * the real one and keep it for GET /v1/jobs/:id/results. */
phx_err_t wk_misbehave_equivocate(phx_worker_t *w, const phx_job_t *j, const uint8_t code_hash[32],
                                  bool ok, const uint8_t *output, size_t len, phx_error_t *e);
phx_err_t wk_jobs_start(phx_worker_t *w, phx_error_t *e);
void wk_jobs_stop(phx_worker_t *w);

#endif
