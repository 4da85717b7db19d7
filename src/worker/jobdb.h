/* The worker's job journal (jobdb.c): module-internal, used by the job loop,
 * the API's status counts and tests/worker/test_jobdb.c. Not a public header:
 * nothing outside the worker has business with its journal. */
#ifndef PHX_WORKER_JOBDB_H
#define PHX_WORKER_JOBDB_H

#include <stdbool.h>
#include <stdint.h>

#include "phx/core.h"
#include "phx/evm_u256.h"

/* ---- the job journal (crash-safe record of on-chain requests) ------------------- */

/* Every Jobs request the worker sees is written here (SQLite, WAL,
 * synchronous=FULL) before any work starts, and every step is committed before
 * the next begins, so a crash or kill -9 at any moment loses nothing:
 *
 *   PENDING --run--> RUNNING --sign--> SIGNED --send tx--> SUBMITTED --> DONE
 *        \________________\_______________\__________________\--> FAILED
 *
 * On restart: PENDING and RUNNING jobs are run (again: nothing of theirs left
 * the TEE); SIGNED jobs are submitted with the stored output and signature,
 * never re-run; SUBMITTED jobs are checked on chain and resubmitted only if the
 * request is still pending (Jobs.fulfill rejects a second fulfilment, so a
 * duplicate can never be paid twice). States only move forward. */
typedef enum {
    PHX_JOB_PENDING = 1,
    PHX_JOB_RUNNING = 2,
    PHX_JOB_SIGNED = 3,
    PHX_JOB_SUBMITTED = 4,
    PHX_JOB_DONE = 5,
    PHX_JOB_FAILED = 6,
} phx_job_state_t;

const char *phx_job_state_name(phx_job_state_t s); /* "pending", ... */

typedef struct {
    uint64_t request_id;
    uint8_t contract_id[32];
    uint8_t code_hash[32];
    phx_buf_t input;
    uint64_t deadline; /* unix seconds (Jobs request deadline) */
    uint64_t block;    /* where the request was seen */
    phx_job_state_t state;
    int attempts;     /* times it entered RUNNING */
    bool ok;          /* from SIGNED on: the run succeeded (else output is its error) */
    phx_buf_t output; /* from SIGNED on */
    uint8_t signature[65];
    uint8_t tx_hash[32]; /* from SUBMITTED on */
    char error[256];     /* FAILED: why */
    uint64_t updated_ms; /* wall clock of the last step; for PENDING, when it was recorded */
} phx_job_t;

void phx_job_clear(phx_job_t *j); /* frees input and output */

typedef struct phx_jobdb phx_jobdb_t;

/* Open (creating) the journal at path. One handle per process; not for
 * concurrent use from several threads without the caller's lock. */
phx_err_t phx_jobdb_open(const char *path, phx_jobdb_t **out, phx_error_t *e);
void phx_jobdb_close(phx_jobdb_t *db); /* accepts NULL */

/* Record a request as PENDING; a request already recorded is left as it is
 * (*inserted false): following the chain twice never duplicates work. */
phx_err_t phx_jobdb_record(phx_jobdb_t *db, uint64_t request_id, const uint8_t contract_id[32],
                           const uint8_t code_hash[32], const uint8_t *input, size_t input_len,
                           uint64_t deadline, uint64_t block, bool *inserted, phx_error_t *e);
/* The job with this id (PHX_ERR_NOT_FOUND if none). Clear it after use. */
phx_err_t phx_jobdb_get(phx_jobdb_t *db, uint64_t request_id, phx_job_t *out, phx_error_t *e);
/* The oldest job in a state that needs action (PENDING, RUNNING, SIGNED,
 * SUBMITTED), lowest request id first; *found false when there is none. */
phx_err_t phx_jobdb_next(phx_jobdb_t *db, phx_job_t *out, bool *found, phx_error_t *e);

/* Up to cap ids of live jobs (PENDING..SUBMITTED), lowest first, so a loop can
 * work on several without one waiting job holding up the rest. */
phx_err_t phx_jobdb_live(phx_jobdb_t *db, uint64_t *ids, size_t cap, size_t *n, phx_error_t *e);

/* Transitions. Each checks the current state (a job moves only forward;
 * anything else is PHX_ERR_STATE) and commits before returning. */
phx_err_t phx_jobdb_start(phx_jobdb_t *db, uint64_t request_id, phx_error_t *e); /* ->RUNNING */
/* SIGNED/SUBMITTED -> RUNNING, only when the signing key is gone (a worker
 * with no sealing key has a new identity each boot): run and sign again. */
phx_err_t phx_jobdb_resign(phx_jobdb_t *db, uint64_t request_id, phx_error_t *e);
/* RUNNING -> SIGNED with the run's outcome: ok false when it failed and
 * output is its error (both are signed and go on chain as they are). */
phx_err_t phx_jobdb_signed(phx_jobdb_t *db, uint64_t request_id, bool ok, const uint8_t *output,
                           size_t output_len, const uint8_t signature[65], phx_error_t *e);
phx_err_t phx_jobdb_submitted(phx_jobdb_t *db, uint64_t request_id, const uint8_t tx_hash[32],
                              phx_error_t *e);
phx_err_t phx_jobdb_done(phx_jobdb_t *db, uint64_t request_id, phx_error_t *e);
phx_err_t phx_jobdb_failed(phx_jobdb_t *db, uint64_t request_id, const char *reason,
                           phx_error_t *e);

/* The chain follower's position, kept in the same database so that "seen up
 * to block B" and "requests of blocks <= B recorded" commit together. */
phx_err_t phx_jobdb_cursor(phx_jobdb_t *db, uint64_t *next_block, phx_error_t *e);
phx_err_t phx_jobdb_set_cursor(phx_jobdb_t *db, uint64_t next_block, phx_error_t *e);
/* Run fn inside one transaction (record a page of requests + the cursor). */
phx_err_t phx_jobdb_atomically(phx_jobdb_t *db, phx_err_t (*fn)(void *ctx, phx_error_t *e),
                               void *ctx, phx_error_t *e);

/* k-of-n reports (round.c): the one report (ok, output, signature over its
 * Jobs digest) signed for a request and the observation set (JSON text) it
 * came from. put keeps the first one: a later put for the id does nothing,
 * so read it back. get: *found false when there is none. */
phx_err_t phx_jobdb_report_put(phx_jobdb_t *db, uint64_t request_id, bool ok, const uint8_t *output,
                               size_t output_len, const uint8_t signature[65],
                               const char *observations, phx_error_t *e);
phx_err_t phx_jobdb_report_get(phx_jobdb_t *db, uint64_t request_id, bool *ok, phx_buf_t *output,
                               uint8_t signature[65], char **observations, bool *found,
                               phx_error_t *e);

/* How many jobs are in each state (counts[state], index 0 unused). */
phx_err_t phx_jobdb_counts(phx_jobdb_t *db, uint64_t counts[7], phx_error_t *e);

/* ---- payment vouchers (Payments.sol; docs/worker.md "Paid calls") ------------------ */

/* The latest voucher this worker accepted from a payer for an operator (its
 * own, or the zero operator of an identity-only voucher on a free worker). A
 * voucher is written here, committed, before the call it pays for runs, so a
 * crash never loses a voucher whose call was served. */
typedef struct {
    uint8_t payer[20];
    uint8_t operator_[20];
    phx_u256_t cumulative; /* the payer's signed running total */
    uint8_t call_hash[32];
    uint8_t signature[65];
    phx_u256_t charged;  /* what this worker counts as owed: cumulative + CPU since */
    phx_u256_t redeemed; /* the highest cumulative redeemed on chain from here */
} phx_voucher_rec_t;

phx_err_t phx_jobdb_voucher_get(phx_jobdb_t *db, const uint8_t payer[20],
                                const uint8_t operator_[20], phx_voucher_rec_t *out, bool *found,
                                phx_error_t *e);
/* Insert or replace (redeemed only ever grows). */
phx_err_t phx_jobdb_voucher_put(phx_jobdb_t *db, const phx_voucher_rec_t *v, phx_error_t *e);
/* Up to cap vouchers for operator_ not yet redeemed, oldest first. */
phx_err_t phx_jobdb_vouchers_unredeemed(phx_jobdb_t *db, const uint8_t operator_[20],
                                        phx_voucher_rec_t *out, size_t cap, size_t *n,
                                        phx_error_t *e);
/* The chain paid up to cumulative for this payer and operator. */
phx_err_t phx_jobdb_voucher_redeemed(phx_jobdb_t *db, const uint8_t payer[20],
                                     const uint8_t operator_[20], const phx_u256_t *cumulative,
                                     phx_error_t *e);

/* ---- trigger firings (issue 15; docs/worker.md "Triggers") ---------------------- */

/* One firing of a contract's trigger, journaled by every worker that sees it
 * due, with the job states: PENDING (seen) -> RUNNING -> SIGNED -> SUBMITTED
 * (Jobs.recordFiring sent) -> DONE (the chain has a record, whoever's). */
typedef struct {
    uint64_t id; /* the journal's row */
    uint8_t contract_id[32];
    uint8_t firing_id[32];
    char *detail; /* ctx.trigger, JSON text */
    phx_job_state_t state;
    int attempts;
    bool ok;
    uint8_t code_hash[32]; /* from SIGNED on */
    phx_buf_t output;
    uint8_t signature[65];
    uint8_t tx_hash[32];
    uint64_t updated_ms; /* for PENDING: when it was journaled */
} phx_firing_t;

void phx_firing_clear(phx_firing_t *f);
/* PENDING, unless (contract, firing) is journaled already (*inserted false). */
phx_err_t phx_jobdb_firing_record(phx_jobdb_t *db, const uint8_t contract_id[32],
                                  const uint8_t firing_id[32], const char *detail, bool *inserted,
                                  phx_error_t *e);
phx_err_t phx_jobdb_firing_get(phx_jobdb_t *db, uint64_t id, phx_firing_t *out, phx_error_t *e);
phx_err_t phx_jobdb_firing_live(phx_jobdb_t *db, uint64_t *ids, size_t cap, size_t *n,
                                phx_error_t *e);
phx_err_t phx_jobdb_firing_start(phx_jobdb_t *db, uint64_t id, phx_error_t *e);
phx_err_t phx_jobdb_firing_signed(phx_jobdb_t *db, uint64_t id, const uint8_t code_hash[32],
                                  bool ok, const uint8_t *output, size_t output_len,
                                  const uint8_t signature[65], phx_error_t *e);
phx_err_t phx_jobdb_firing_submitted(phx_jobdb_t *db, uint64_t id, const uint8_t tx_hash[32],
                                     phx_error_t *e);
phx_err_t phx_jobdb_firing_done(phx_jobdb_t *db, uint64_t id, phx_error_t *e);
phx_err_t phx_jobdb_firing_failed(phx_jobdb_t *db, uint64_t id, const char *reason, phx_error_t *e);
/* Forget settled firings (DONE, FAILED) last touched before before_ms; *n
 * how many. Safe: a forgotten firing journaled again is found recorded on
 * chain first. */
phx_err_t phx_jobdb_firings_prune(phx_jobdb_t *db, uint64_t before_ms, size_t *n, phx_error_t *e);
/* The next tick or block of a contract's trigger not yet journaled. */
phx_err_t phx_jobdb_trigger_cursor(phx_jobdb_t *db, const uint8_t contract_id[32], const char *name,
                                   uint64_t *next, bool *found, phx_error_t *e);
phx_err_t phx_jobdb_set_trigger_cursor(phx_jobdb_t *db, const uint8_t contract_id[32],
                                       const char *name, uint64_t next, phx_error_t *e);

#endif
