/* The one reader of the Jobs contract's on-chain requests (src/chain/requests.c):
 * follows Requested, Fulfilled, CallbackFailed and Refunded events with the
 * src/evm log follower, keeps every request by id with its state, blocks and
 * block timestamps, and undoes what a reorg voids. `phx jobs`, `phx logs` and
 * the console's Jobs and Contract pages all read requests through it.
 * Part of the chain module; see docs/chain.md. */
#ifndef PHX_CHAIN_REQUESTS_H
#define PHX_CHAIN_REQUESTS_H

#include "phx/chain.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct phx_chain_requests phx_chain_requests_t;

/* One request as its events tell it. */
typedef struct {
    uint64_t id;
    uint8_t status; /* PHX_CHAIN_REQ_PENDING, _FULFILLED, _CALLBACK_FAILED, _REFUNDED */
    uint8_t contract_id[32];
    uint8_t requester[20];
    phx_u256_t fee;
    uint8_t k;
    uint64_t deadline;
    uint64_t block, time;           /* the Requested event's block and its timestamp (s) */
    uint64_t done_block, done_time; /* the settling event's (Fulfilled or Refunded); 0 pending */
    uint8_t (*operators)[20];       /* Fulfilled: the operators paid (NULL in a copy from _get) */
    size_t operator_count;
} phx_chain_request_entry_t;

/* "pending", "fulfilled", "failed" (fulfilled and paid, the callback
 * reverted), "refunded"; "none" or "unknown" for other values. */
const char *phx_chain_request_status_name(uint8_t status);

/* One event of the request lifecycle decoded from a log of the Jobs contract
 * (what the reader applies; outside input, fuzzed in fuzz/fuzz_chain.c). */
enum {
    PHX_CHAIN_JOBS_EV_REQUESTED,
    PHX_CHAIN_JOBS_EV_FULFILLED,
    PHX_CHAIN_JOBS_EV_REFUNDED,
    PHX_CHAIN_JOBS_EV_CALLBACK_FAILED
};
typedef struct {
    int kind; /* PHX_CHAIN_JOBS_EV_* */
    uint64_t request_id;
    phx_chain_requested_t requested; /* REQUESTED only (owns its input) */
    bool run_ok;                     /* FULFILLED: false when the TEE contract failed */
    bool callback_ok;                /* FULFILLED */
    uint8_t (*operators)[20];        /* FULFILLED: malloc'ed, operator_count of them */
    size_t operator_count;
} phx_chain_jobs_event_t;

/* Decode log as one of the four; PHX_ERR_NOT_FOUND when its topic0 is none of
 * them, another error when it is malformed. Clear with _clear (also after an
 * error). */
phx_err_t phx_chain_parse_jobs_event(const phx_evm_log_t *log, phx_chain_jobs_event_t *out,
                                     phx_error_t *e);
void phx_chain_jobs_event_clear(phx_chain_jobs_event_t *ev);

/* A reader over rpc_url's Jobs contract of d, starting at d->block. Nothing is
 * read until phx_chain_requests_sync. Thread-safe: sync and reads lock. */
phx_err_t phx_chain_requests_open(const char *rpc_url, const phx_chain_deployment_t *d,
                                  phx_chain_requests_t **out, phx_error_t *e);
void phx_chain_requests_close(phx_chain_requests_t *r);

/* Read the events up to the chain head: roll back what a reorg voided (requests
 * from void blocks disappear; settlements in void blocks are pending again),
 * then apply the new ones. On error the cache stays as the last good sync left
 * it, and the next sync resumes. */
phx_err_t phx_chain_requests_sync(phx_chain_requests_t *r, phx_error_t *e);

/* How many requests are known, and the one with id (false when unknown). */
size_t phx_chain_requests_count(phx_chain_requests_t *r);
bool phx_chain_requests_get(phx_chain_requests_t *r, uint64_t id, phx_chain_request_entry_t *out);

/* Newest first, at most limit, only contract's when contract is not NULL:
 * [{"id","status","contract_id","requester","fee" (decimal wei),"k","deadline",
 *   "block","time","done_block","done_time","latency_blocks","latency_s",
 *   "operators"}] (the done_ and latency_ keys and operators only once settled;
 * operators only when fulfilled). A new reference; NULL on allocation failure. */
json_t *phx_chain_requests_json(phx_chain_requests_t *r, const uint8_t contract[32], size_t limit);

#ifdef __cplusplus
}
#endif
#endif
