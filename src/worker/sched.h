/* Admission of invocations to the worker's sandbox slots (docs/worker.md,
 * "Concurrency"): up to max at once; on-chain jobs have a reserved lane that
 * direct calls never take; direct calls of one contract, and of all the
 * contracts of one owner, are capped; waiting direct calls are served fairly
 * (the owner with the fewest running goes first, then the contract with the
 * fewest running, oldest first among equals) and their queue is bounded, per
 * contract and per owner too, so a flood is refused (429) rather than queued
 * without end. Thread-safe. Not a public header. */
#ifndef PHX_WORKER_SCHED_H
#define PHX_WORKER_SCHED_H
#include <stdbool.h>
#include <stdint.h>

#include "phx/core.h"

typedef struct wk_sched wk_sched_t;

typedef struct {
    unsigned max;          /* slots in all */
    unsigned reserved;     /* of them, only for on-chain jobs */
    unsigned per_contract; /* direct calls of one contract running at once */
    unsigned per_owner;    /* direct calls of one owner's contracts running at once */
    unsigned max_queue;    /* direct calls waiting, in all */
    unsigned per_queue;    /* direct calls of one contract waiting */
    unsigned owner_queue;  /* direct calls of one owner's contracts waiting */
} wk_sched_limits_t;

typedef struct {
    wk_sched_limits_t limits;
    unsigned running, running_onchain, queued;
    uint64_t admitted_total, rejected_total, queue_ms_total, queue_ms_max;
} wk_sched_stats_t;

/* The defaults for max (0: twice the online cores), per_contract (0: half
 * the direct slots) and per_owner (0: per_contract plus half of what is left,
 * so an owner's many contracts leave other owners at least a quarter of the
 * direct slots when there are four or more); the queues hold four times the
 * direct slots, one contract a quarter of that, one owner half. */
void wk_sched_limits_default(unsigned max, unsigned per_contract, unsigned per_owner,
                             wk_sched_limits_t *out);
phx_err_t wk_sched_new(const wk_sched_limits_t *limits, wk_sched_t **out, phx_error_t *e);
void wk_sched_free(wk_sched_t *s); /* accepts NULL; no one may be waiting */
/* Wait for a slot for an invocation of contract key, deployed by owner (the
 * owner matters for direct calls only; all zero when unknown). On-chain jobs always
 * queue; a direct call whose queue is full is PHX_ERR_LIMIT at once, with
 * *retry_after_s a hint for the client. *queue_ms: the time it waited. */
phx_err_t wk_sched_acquire(wk_sched_t *s, const uint8_t key[32], const uint8_t owner[20],
                           bool onchain, uint64_t *queue_ms, uint32_t *retry_after_s,
                           phx_error_t *e);
void wk_sched_release(wk_sched_t *s, const uint8_t key[32], bool onchain);
void wk_sched_stats(wk_sched_t *s, wk_sched_stats_t *out);

#endif
