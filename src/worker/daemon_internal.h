/* Shared inside the worker daemon (daemon.c, api.c, jobloop.c): the running
 * worker's state. Not a public header. */
#ifndef PHX_WORKER_DAEMON_INTERNAL_H
#define PHX_WORKER_DAEMON_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>

#include "jobdb.h"
#include "peers.h"
#include "phx/chain_owner.h"
#include "phx/kms.h"
#include "phx/net.h"
#include "phx/sandbox.h"
#include "phx/worker.h"
#include "sched.h"

/* How a contract's k-of-n observations combine (its `combine` export). */
typedef enum { WK_COMBINE_IDENTICAL = 0, WK_COMBINE_MEDIAN, WK_COMBINE_AGGREGATE } wk_combine_t;
typedef struct {
    wk_combine_t mode;
    char field[64]; /* median: the numeric field of the output object */
} wk_mode_t;
#define WK_MODE_CACHE 16
#define WK_REG_CACHE 64 /* > PHX_WORKER_MAX_PEERS + 1 */
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

#define WK_CHAINS_MAX 64 /* phx_sandbox_chains_new's bound */

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
    /* Kept-alive connections to the KMS's voucher ledger (payment.c). */
    phx_http_conns_t *kms_conns;
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
    /* Registry.activeOperatorOf before runs (jobloop.c): read, or the head's */
    uint64_t eligibility_reads, eligibility_cached;
    /* phx.state (state.c): one operation at a time; after start-up it owns
     * rpc and operator_. state_stale_file: the sim-only test fault, "" off. */
    pthread_mutex_t state_lock;
    char state_stale_file[1024];
    wk_peers_t *peers; /* k-of-n: where other workers' observations are (peers.c) */
    /* phx.evm's named chains (the options', borrowed; NULL: none), and the
     * job thread's own client of each for evm_log triggers naming it
     * (trigger.c), opened when first needed, closed on stop */
    const phx_sandbox_chains_t *chains;
    phx_rpc_t *chain_rpc[WK_CHAINS_MAX];
    bool chain_down[WK_CHAINS_MAX]; /* last read failed: warned once until it answers */
    struct {                        /* combine modes by code hash; the job thread's only */
        uint8_t code_hash[32];
        wk_mode_t mode;
        bool set;
    } modes[WK_MODE_CACHE];
    size_t modes_next;
    /* A firing's run found a named chain down (chain_unavailable): no firing
     * runs before runs_wait_until_ms (ms, phx_now_ms), one warning per
     * outage and a reminder a minute (trigger.c); the job thread's only */
    uint64_t runs_wait_until_ms, runs_warned_ms;
    bool runs_waiting;
    /* k-of-n: Registry records of the signers round.c checked, read once per
     * pass of the job loop (reg_pass) however many requests and gathers the
     * pass holds; the job thread's only */
    struct {
        uint8_t worker[20];
        phx_chain_worker_t rec;
        uint64_t pass; /* 0: empty */
    } reg_cache[WK_REG_CACHE];
    size_t reg_next;
    uint64_t reg_pass;
    /* Dissent this worker reported (round.c): not sent again while its
     * transaction may not be mined yet; the job thread's only */
    struct {
        uint64_t request_id;
        uint8_t signer[20];
    } dissent_sent[WK_REG_CACHE];
    size_t dissent_next;
};

/* The job thread's pacing, the same for requests (jobloop.c) and trigger
 * firings (trigger.c): how long each rank waits for the ones before it, and
 * when a transaction not mined is sent again. */
#define WK_HANDOFF_MS 2000
#define WK_RESUBMIT_MS 20000

typedef struct {
    uint8_t id[32];
    uint8_t code_hash[32];
    uint8_t owner[20]; /* who deployed it (the record's signed op); zero if unknown */
    uint8_t salt[32];  /* id = Jobs.contractId(owner, salt), when has_salt */
    bool has_salt;
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
/* Jobs.contracts(id): owner (zero when the chain has none: an off-chain
 * contract) and code hash; the chain not answering is an error (fail closed).
 * One RPC client per call: handlers run on several threads. */
phx_err_t wk_chain_contract(phx_worker_t *w, const uint8_t id[32], uint8_t owner[20],
                            uint8_t code_hash[32], phx_error_t *e);
/* wallet.c: the owner's signed SpendLimit for phx.evm.send (POST .../limits),
 * and the sandbox's outbox hook (phx_sandbox_outbox_fn; ctx is the worker). */
phx_err_t wk_contract_limit(phx_worker_t *w, const uint8_t id[32], const json_t *req,
                            phx_error_t *e);
phx_err_t wk_outbox(void *ctx, const char *contract_id, const char *action, const char *chain,
                    const json_t *limit, const uint8_t *raw, size_t len, bool release,
                    json_t **answer, phx_error_t *e);
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
/* wk_run for a trigger's firing: ctx.trigger is trigger_json (an object's
 * JSON text), the caller the zero address. */
phx_err_t wk_run_fired(phx_worker_t *w, const wk_contract_t *c, const char *input_json,
                       const char *request_id, const char *trigger_json, bool onchain,
                       phx_buf_t *output, json_t **logs, bool *ok, wk_usage_t *usage,
                       phx_error_t *e);
/* A deploy's "triggers" and "triggers_signature" (trigger.c): none is fine;
 * else the manifest must parse, name only chains this worker has (evm_log's
 * "chain"), and be signed by owner over (op's id, code hash, nonce).
 * *canonical: what to keep. */
phx_err_t wk_triggers_check(const phx_worker_t *w, const json_t *req, const phx_owner_op_t *op,
                            const uint8_t owner[20], json_t **canonical, phx_error_t *e);
/* The contract's declared triggers as this worker holds them: {"id","owner",
 * "nonce","code_hash","triggers","triggers_signature"} (an empty list when
 * none); PHX_ERR_NOT_FOUND for a contract it does not hold. */
phx_err_t wk_triggers_declared(phx_worker_t *w, const uint8_t id[32], json_t **out, phx_error_t *e);
/* POST /v1/contracts/:id/hooks ({"name","secret"?,"delivery"?,"body"}, from
 * the gateway's webhook): journal one firing of the http trigger name, after
 * checking its shared secret. *out: {"name","delivery","firing_id"}. */
phx_err_t wk_triggers_hook(phx_worker_t *w, const uint8_t id[32], const json_t *req, json_t **out,
                           phx_error_t *e);
/* One round of the trigger loop on the job thread: journal the firings now
 * due, then advance each live one a step. rank(ctx, key) is this worker's
 * place for a firing among the active workers (as for requests). */
void wk_triggers_round(phx_worker_t *w, unsigned (*rank)(void *ctx, const uint8_t key[32]),
                       void *rank_ctx);
/* The same run for a k-of-n phase (phx_sandbox_job_t.phase: "combine" or
 * "aggregate"), on the on-chain lane, no logs. */
phx_err_t wk_run_phase(phx_worker_t *w, const wk_contract_t *c, const char *input_json,
                       const char *request_id, const char *phase, phx_buf_t *output, bool *ok,
                       phx_error_t *e);
/* A transaction to the Jobs contract with calldata `data`, from the job
 * thread's signer (fulfil, dissent, firing records); *tx its hash. */
phx_err_t wk_jobs_send(phx_worker_t *w, const phx_buf_t *data, uint8_t tx[32], phx_error_t *e);
phx_err_t wk_api_start(phx_worker_t *w, const phx_worker_opts_t *o, phx_error_t *e);
/* PHX_ERR_POLICY when an --allow-host allowance reaches the endpoint of url
 * (the worker's chain RPC, KMS or own API); `what` names it in the message. */
phx_err_t wk_allowances_check(const phx_worker_opts_t *o, const char *what, const char *url,
                              phx_error_t *e);
/* A direct call's payment (payment.c). */
typedef struct {
    bool refused;  /* resp holds the 402 answer */
    bool accepted; /* a voucher was checked and journaled */
    bool claimed;  /* and its total won at the KMS's voucher ledger */
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

/* ---- k-of-n rounds (round.c; docs/worker.md "k-of-n") ---------------------------- */

#define WK_MAX_K 16 /* Jobs.MAX_K */

/* Signatures over one report (ok, output) of one request, by active workers of
 * distinct operators; this worker's own first. */
typedef struct {
    size_t n;
    size_t asked;    /* peers asked that were up: not backed off nor down now (peers.c) */
    unsigned k;      /* wk_round_gather: the k asked for */
    size_t answered; /* peers that had a valid signed observation, agreeing or not */
    uint8_t sigs[WK_MAX_K][65];
    uint8_t signers[WK_MAX_K][20];
    uint8_t operators[WK_MAX_K][20];
    /* every signer over the same report (this worker first) */
    size_t agreeing;
    uint8_t agree[PHX_WORKER_MAX_PEERS + 1][20];
    /* wk_round_gather only: every peer that signed another (ok, output) */
    size_t ndissent;
    struct {
        uint8_t signer[20];
        bool ok;
        uint8_t output_hash[32];
        uint8_t sig[65];
    } dissent[PHX_WORKER_MAX_PEERS];
} wk_quorum_t;

/* GET /v1/jobs/:id/observation: this worker's signed observation of an on-chain
 * request ({"request_id","worker","ok","output","signature"}); 404 before it
 * has signed one. */
phx_err_t wk_round_observation(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                               phx_error_t *e);
/* Ask every peer for its observation of j (which this worker has signed) and
 * keep k signatures over the same (ok, output) by active workers of distinct
 * operators that cover at least min_kinds TEE kinds (the request's
 * minTeeKinds; phx_quorum_choose), this worker's among them; q->n < k while
 * no such k agree yet. A peer that signed something else for the request is
 * a dissenter, kept in q->dissent. */
phx_err_t wk_round_gather(phx_worker_t *w, const phx_job_t *j, unsigned k, unsigned min_kinds,
                          wk_quorum_t *q, phx_error_t *e);
/* Report each dissenter of q (a full quorum of j) to Jobs.reportDissent from
 * the identity key, unless the chain already has its Dissent for j: evidence
 * is recorded once, whoever reports it. *reported: how many were sent. */
phx_err_t wk_round_dissent(phx_worker_t *w, const phx_job_t *j, const wk_quorum_t *q,
                           size_t *reported, phx_error_t *e);
/* The contract's combine mode (runs its "combine" phase once per code hash).
 * PHX_ERR_INVALID when it declares something else than "identical",
 * "aggregate" or {"median":"FIELD"}. */
phx_err_t wk_round_mode(phx_worker_t *w, const wk_contract_t *c, wk_mode_t *m, phx_error_t *e);
/* GET /v1/jobs/:id/report: the report this worker signed for a median or
 * aggregate request, with its observation set; 404 before it has one. */
phx_err_t wk_round_report_get(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                              phx_error_t *e);
/* One step of a median or aggregate round for j (this worker's observation
 * signed on the observation domain). With a report signed already: gather
 * peers' signatures over it into q (this worker's first) and give the report
 * in *ok, out. Else adopt a valid proposal a peer serves (lowest report
 * digest first), or, when may_propose, propose one from the observations
 * gathered (at least k of distinct operators, every peer that is up answered
 * or since_ms >= grace_ms). The k signers of q cover min_kinds TEE kinds, as in
 * wk_round_gather. q->n < k: not ready. */
phx_err_t wk_round_report(phx_worker_t *w, const phx_job_t *j, unsigned k, unsigned min_kinds,
                          const wk_mode_t *m, bool may_propose, uint64_t since_ms,
                          uint64_t grace_ms, wk_quorum_t *q, bool *ok, phx_buf_t *out,
                          phx_error_t *e);
void wk_jobs_stop(phx_worker_t *w);

#endif
