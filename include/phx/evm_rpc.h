/* The JSON-RPC client of the EVM client (src/evm/rpc.c): typed eth_* calls over
 * HTTP (libcurl), receipts and logs parsed with range checks, fee history, and
 * waiting for a receipt with confirmations. Spec: Ethereum JSON-RPC API.
 * Part of phx/evm.h (the umbrella); see docs/evm.md. */
#ifndef PHX_EVM_RPC_H
#define PHX_EVM_RPC_H

#include "phx/evm_abi.h"
#include "phx/evm_tx.h"
#include "phx/evm_u256.h"
#include "phx/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================
 * JSON-RPC client (HTTP POST via libcurl). Retries only on transport errors
 * (connect/timeout/5xx): a JSON-RPC error object is returned at once as
 * PHX_ERR_REMOTE with the node's message. Not thread-safe: one client per thread.
 * ========================================================================== */
typedef struct phx_rpc phx_rpc_t;

typedef struct {
    unsigned timeout_ms;     /* per HTTP request; 0 = 10000 */
    unsigned retries;        /* extra attempts on transport errors; default 2 */
    unsigned retry_delay_ms; /* doubles after each retry; 0 = 200 */
} phx_rpc_opts_t;

/* opts may be NULL for defaults. */
phx_err_t phx_rpc_open(const char *url, const phx_rpc_opts_t *opts, phx_rpc_t **out,
                       phx_error_t *e);
void phx_rpc_close(phx_rpc_t *rpc);

/* Whether the client's last call got no answer from the node at all: a
 * transport failure or a timeout on every attempt (a node that is down, or
 * stopped with its port still open), as opposed to an answer that was an
 * error. false before the first call. */
bool phx_rpc_unreachable(const phx_rpc_t *rpc);

/* Generic call: params (a JSON array; reference stolen, may be NULL for [])
 * -> *result (new reference, caller json_decref()s). */
phx_err_t phx_rpc_call(phx_rpc_t *rpc, const char *method, json_t *params, json_t **result,
                       phx_error_t *e);
/* Parse one JSON-RPC 2.0 response body (exposed for fuzzing and tests). */
phx_err_t phx_rpc_parse_response(const uint8_t *body, size_t len, json_t **result, phx_error_t *e);
/* Parse a JSON-RPC quantity ("0x1a") / data string into numbers and bytes. */
phx_err_t phx_rpc_quantity_u64(const json_t *j, uint64_t *out, phx_error_t *e);
phx_err_t phx_rpc_quantity_u256(const json_t *j, phx_u256_t *out, phx_error_t *e);

/* Block tags: NULL means "latest"; "pending", "earliest", "safe", "finalized",
 * or a number formatted with phx_evm_block_tag. */
void phx_evm_block_tag(uint64_t number, char out[24]);

typedef struct {
    bool has_from;
    uint8_t from[20];
    bool has_to;
    uint8_t to[20];
    const uint8_t *data;
    size_t data_len;
    phx_u256_t value;
    uint64_t gas; /* 0 = not given */
} phx_evm_call_t;

typedef struct {
    uint8_t tx_hash[32];
    uint64_t block_number;
    uint8_t block_hash[32];
    uint64_t tx_index;
    bool status; /* true = success (status 0x1) */
    uint64_t gas_used;
    uint64_t cumulative_gas_used;
    phx_u256_t effective_gas_price;
    uint8_t from[20];
    bool has_to;
    uint8_t to[20];
    bool has_contract_address;
    uint8_t contract_address[20];
    phx_evm_log_t *logs; /* owned */
    size_t log_count;
} phx_evm_receipt_t;

void phx_evm_receipt_clear(phx_evm_receipt_t *r);
phx_err_t phx_evm_receipt_from_json(const json_t *j, phx_evm_receipt_t *out, phx_error_t *e);

typedef struct {
    uint64_t from_block;
    uint64_t to_block;
    const uint8_t (*addresses)[20]; /* OR-ed; none = any address */
    size_t address_count;
    /* topics[i] matches any of topic_sets[i][0..topic_counts[i]); count 0 = any */
    const uint8_t (*topic_sets[4])[32];
    size_t topic_counts[4];
} phx_evm_filter_t;

typedef struct {
    uint64_t oldest_block;
    size_t block_count;
    phx_u256_t *base_fees;  /* block_count + 1 entries (the next block's too); owned */
    double *gas_used_ratio; /* block_count entries; owned */
    phx_u256_t *rewards;    /* block_count entries at the requested percentile; owned */
} phx_evm_fee_history_t;
void phx_evm_fee_history_clear(phx_evm_fee_history_t *h);

phx_err_t phx_rpc_chain_id(phx_rpc_t *rpc, uint64_t *out, phx_error_t *e);
phx_err_t phx_rpc_block_number(phx_rpc_t *rpc, uint64_t *out, phx_error_t *e);
phx_err_t phx_rpc_get_balance(phx_rpc_t *rpc, const uint8_t addr[20], const char *block,
                              phx_u256_t *out, phx_error_t *e);
phx_err_t phx_rpc_get_transaction_count(phx_rpc_t *rpc, const uint8_t addr[20], const char *block,
                                        uint64_t *out, phx_error_t *e);
phx_err_t phx_rpc_gas_price(phx_rpc_t *rpc, phx_u256_t *out, phx_error_t *e);
phx_err_t phx_rpc_max_priority_fee(phx_rpc_t *rpc, phx_u256_t *out, phx_error_t *e);
/* eth_feeHistory(block_count, newest, [percentile]). */
phx_err_t phx_rpc_fee_history(phx_rpc_t *rpc, uint64_t block_count, const char *newest,
                              double percentile, phx_evm_fee_history_t *out, phx_error_t *e);
phx_err_t phx_rpc_estimate_gas(phx_rpc_t *rpc, const phx_evm_call_t *call, uint64_t *out,
                               phx_error_t *e);
/* eth_call; return data appended to out. A revert is PHX_ERR_REMOTE and, when the
 * node includes revert data, it is appended to out as well. */
phx_err_t phx_rpc_call_contract(phx_rpc_t *rpc, const phx_evm_call_t *call, const char *block,
                                phx_buf_t *out, phx_error_t *e);
phx_err_t phx_rpc_send_raw_transaction(phx_rpc_t *rpc, const uint8_t *raw, size_t len,
                                       uint8_t tx_hash[32], phx_error_t *e);
/* *found is false (and PHX_OK) while the tx is not yet mined. The receipt is
 * checked (quantities within 64 bits, status 0 or 1) and must be for tx_hash. */
phx_err_t phx_rpc_get_transaction_receipt(phx_rpc_t *rpc, const uint8_t tx_hash[32],
                                          phx_evm_receipt_t *out, bool *found, phx_error_t *e);
/* eth_getTransactionByHash, read with phx_evm_tx_from_json's range checks and
 * held to the hash asked for; *found is false (and PHX_OK) when the node does
 * not know it. Clear *out with phx_evm_tx_clear when found. */
phx_err_t phx_rpc_get_transaction(phx_rpc_t *rpc, const uint8_t tx_hash[32], phx_evm_tx_t *out,
                                  bool *found, phx_error_t *e);
/* *logs is a malloc'd array (free each with phx_evm_log_clear, then free()). */
phx_err_t phx_rpc_get_logs(phx_rpc_t *rpc, const phx_evm_filter_t *filter, phx_evm_log_t **logs,
                           size_t *count, phx_error_t *e);
phx_err_t phx_rpc_get_code(phx_rpc_t *rpc, const uint8_t addr[20], const char *block,
                           phx_buf_t *out, phx_error_t *e);
phx_err_t phx_rpc_get_storage_at(phx_rpc_t *rpc, const uint8_t addr[20], const phx_u256_t *slot,
                                 const char *block, uint8_t out[32], phx_error_t *e);
/* Hash of block `number` (eth_getBlockByNumber); PHX_ERR_NOT_FOUND past the head. */
phx_err_t phx_rpc_get_block_hash(phx_rpc_t *rpc, uint64_t number, uint8_t out[32], phx_error_t *e);
/* Timestamp (unix seconds) of block `number`; PHX_ERR_NOT_FOUND past the head. */
phx_err_t phx_rpc_get_block_time(phx_rpc_t *rpc, uint64_t number, uint64_t *out, phx_error_t *e);

/* Wait until the receipt exists and the chain head is at least
 * receipt.block_number + confirmations - 1 (confirmations 0 and 1 both mean
 * "mined"). Polls every poll_ms (0 = 250); PHX_ERR_TIMEOUT after timeout_ms. If the
 * receipt disappears (reorg) the wait continues. */
phx_err_t phx_rpc_wait_receipt(phx_rpc_t *rpc, const uint8_t tx_hash[32], uint64_t confirmations,
                               uint64_t timeout_ms, uint64_t poll_ms, phx_evm_receipt_t *out,
                               phx_error_t *e);

#ifdef __cplusplus
}
#endif
#endif
