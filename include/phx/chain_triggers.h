/* A TEE contract's triggers (issue 15): what starts a contract by itself, as
 * its owner declares it, and the chain's record of each firing.
 *
 * The owner declares triggers with a deploy or an update: a JSON manifest
 * (below) whose canonical form's keccak256 the owner signs as an EIP-712
 * Triggers(bytes32 contractId,bytes32 codeHash,bytes32 triggersHash,uint64 nonce)
 * in the owner domain of chain_owner.h, with the same nonce as the ContractOp
 * it travels with. Each firing has a deterministic id, the same on every
 * worker: keccak256("<trigger name>/<position>") (position: the cron tick
 * number, the block number, the log's place), and Jobs.recordFiring keeps
 * the first signed run of it and refuses any other (docs/chain.md
 * "Triggers"). */
#ifndef PHX_CHAIN_TRIGGERS_H
#define PHX_CHAIN_TRIGGERS_H

#include <stdbool.h>
#include <stdint.h>

#include "phx/chain.h"
#include "phx/core.h"
#include "phx/json.h"

#define PHX_TRIGGERS_MAX 16             /* per contract */
#define PHX_TRIGGER_NAME_MAX 32         /* [a-z0-9_-], starting with a letter */
#define PHX_TRIGGER_EVERY_MIN_S 1       /* cron: "@every 1s" at the fastest */
#define PHX_TRIGGER_EVERY_MAX_S 2592000 /* 30 days */
#define PHX_TRIGGER_BLOCKS_MAX 1000000
#define PHX_TRIGGER_TOPICS_MAX 4
#define PHX_TRIGGER_CONFIRMATIONS_MAX 64 /* evm_log: blocks a log waits under the head */
#define PHX_TRIGGERS_TEXT_MAX 16384      /* a manifest's JSON text */
#define PHX_TRIGGER_POSITION_MAX 64      /* a firing's position text (an http delivery id) */
#define PHX_TRIGGER_HOOK_BODY_MAX 16384  /* an http trigger's JSON body, compact */

typedef enum {
    PHX_TRIGGER_CRON = 1,  /* {"kind":"cron","schedule":"@every 10s"} (s, m or h) */
    PHX_TRIGGER_BLOCK = 2, /* {"kind":"block","every":5}: blocks whose number is a multiple */
    /* {"kind":"evm_log","address":"0x..","topics":["0x..",null],"chain":"b","confirmations":2}
     * ("chain" and "confirmations" optional) */
    PHX_TRIGGER_EVM_LOG = 3,
    PHX_TRIGGER_HTTP = 4, /* {"kind":"http","secret_hash":"0x.."} (keccak256 of the secret) */
} phx_trigger_kind_t;

const char *phx_trigger_kind_name(phx_trigger_kind_t k); /* "cron", ... */

typedef struct {
    char name[PHX_TRIGGER_NAME_MAX + 1];
    phx_trigger_kind_t kind;
    uint64_t every_s;                     /* cron */
    uint64_t every_blocks;                /* block */
    char chain[PHX_TRIGGER_NAME_MAX + 1]; /* evm_log: a named chain; "" the worker's own */
    uint8_t address[20];                  /* evm_log */
    uint8_t topics[PHX_TRIGGER_TOPICS_MAX][32];
    bool topic_set[PHX_TRIGGER_TOPICS_MAX]; /* false: any value at that position */
    size_t ntopics;
    uint32_t confirmations; /* evm_log: a log is followed once this many blocks are on it */
    bool has_secret;        /* http */
    uint8_t secret_hash[32];
} phx_trigger_t;

typedef struct {
    phx_trigger_t t[PHX_TRIGGERS_MAX];
    size_t n;
} phx_triggers_t;

/* "@every N" + "s" | "m" | "h" -> seconds in [EVERY_MIN_S, EVERY_MAX_S]. Only
 * this form: not the 5-field crontab. */
phx_err_t phx_trigger_schedule_parse(const char *s, uint64_t *every_s, phx_error_t *e);

/* A manifest: a JSON array of trigger objects, each with "name" and "kind" and
 * the kind's fields, nothing else; names unique. Errors name the trigger and
 * the field. */
phx_err_t phx_triggers_from_json(const json_t *arr, phx_triggers_t *out, phx_error_t *e);
phx_err_t phx_triggers_parse(const char *text, size_t len, phx_triggers_t *out, phx_error_t *e);
/* The canonical form (fixed key order, lower-case hex, schedule as "@every Ns")
 * and its keccak256 over the compact text: what the owner signs. */
json_t *phx_triggers_to_json(const phx_triggers_t *t);
phx_err_t phx_triggers_hash(const phx_triggers_t *t, uint8_t out[32], phx_error_t *e);
/* The owner's EIP-712 Triggers digest. */
phx_err_t phx_owner_triggers_digest(const uint8_t contract_id[32], const uint8_t code_hash[32],
                                    const uint8_t triggers_hash[32], uint64_t nonce,
                                    uint8_t out[32], phx_error_t *e);

/* keccak256("<name>/<position>"): position is the tick or block number in
 * decimal, "<block>.<log index>" for an evm_log trigger on the worker's own
 * chain, "<chain id>:<block>.<log index>" on a named chain (so one place on
 * two chains is two firings), or an http delivery id (the sender's, else the
 * body's keccak256 in 64 hex digits). */
void phx_chain_firing_id(const char *name, const char *position, uint8_t out[32]);
/* What Jobs.firingDigest computes; domain is phx_chain_jobs_domain's. */
void phx_chain_firing_digest(const uint8_t domain[32], const uint8_t contract_id[32],
                             const uint8_t firing_id[32], const uint8_t code_hash[32], bool ok,
                             const uint8_t *output, size_t output_len, uint8_t out[32]);
phx_err_t phx_chain_record_firing_calldata(const uint8_t contract_id[32],
                                           const uint8_t firing_id[32], const uint8_t code_hash[32],
                                           bool ok, const uint8_t *output, size_t output_len,
                                           const uint8_t sig[65], phx_buf_t *out, phx_error_t *e);
/* Jobs.firedBy: the worker whose run is the record, zero when not fired yet. */
phx_err_t phx_chain_fired_by(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                             const uint8_t contract_id[32], const uint8_t firing_id[32],
                             uint8_t worker[20], phx_error_t *e);

/* Who pays a contract's next firing (issue 15): Jobs.recordFiring charges
 * Payments.pricePerCall to the deposit of the owner Jobs records for the
 * contract, and reverts (records nothing) when it is short. charged is false
 * when the deployment has no Payments, Jobs charges no Payments, or the price
 * is 0: firings are then free and covered. owner is zero for a contract the
 * chain does not know (no deposit can pay for it). */
typedef struct {
    bool charged;
    bool covered;
    uint8_t owner[20];
    phx_u256_t price, deposit;
} phx_firing_payment_t;

phx_err_t phx_chain_firing_payment(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                   const uint8_t contract_id[32], phx_firing_payment_t *out,
                                   phx_error_t *e);
/* Why a firing is unpaid, one line starting "unpaid: " (empty when covered). */
void phx_chain_firing_unpaid_why(const phx_firing_payment_t *p, char *out, size_t cap);
/* {"charged","covered","price","deposit","owner"} (decimal strings), plus
 * "status": "free", "paid" or "unpaid", and "reason" when unpaid. */
json_t *phx_chain_firing_payment_json(const phx_firing_payment_t *p);

#define PHX_CHAIN_EV_FIRED                                                                         \
    "Fired(bytes32 indexed contractId,bytes32 indexed firingId,address indexed worker,"            \
    "bytes32 codeHash,bool ok,bytes signature,bytes output)"

/* The newest `limit` Fired records of a contract from block from_block on,
 * newest first: [{"block","tx","firing_id","worker","code_hash","ok",
 * "signature","output"}] (output: the JSON it holds, else 0x hex). */
phx_err_t phx_chain_firings_json(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                 const uint8_t contract_id[32], size_t limit, json_t **out,
                                 phx_error_t *e);

#endif
