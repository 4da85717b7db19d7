/* Fees and the signer of the EVM client (src/evm/signer.c): fee estimation from
 * eth_feeHistory, one key on one chain with its next nonce kept on disk, send,
 * transact (send + receipt) and deploy.
 * Part of phx/evm.h (the umbrella); see docs/evm.md. */
#ifndef PHX_EVM_SIGNER_H
#define PHX_EVM_SIGNER_H

#include "phx/evm_rpc.h"
#include "phx/evm_tx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================
 * Fees
 * ========================================================================== */
typedef struct {
    bool eip1559;         /* false: the node has no base fee; use gas_price */
    phx_u256_t gas_price; /* legacy price (eth_gasPrice) */
    phx_u256_t max_priority_fee;
    phx_u256_t max_fee; /* 2 * next base fee + priority fee */
} phx_evm_fees_t;

/* From eth_feeHistory: the next block's base fee and the median priority fee
 * of recent blocks (eth_maxPriorityFeePerGas when history has none, at least
 * 1 wei); eth_gasPrice for legacy. */
phx_err_t phx_rpc_estimate_fees(phx_rpc_t *rpc, phx_evm_fees_t *out, phx_error_t *e);

/* ============================================================================
 * Signer: one secp256k1 key, one chain. Nonces are tracked locally so several
 * transactions can be in flight; the next nonce is kept in nonce_path (a small
 * JSON file, written atomically) so a restart neither reuses nor skips one. On
 * open and on "nonce too low" the signer takes max(local, chain pending count).
 * ========================================================================== */
typedef struct phx_signer phx_signer_t;

/* The key is copied (and zeroed on close). nonce_path may be NULL (memory only).
 * The chain id is read from the node. The signer borrows rpc. */
phx_err_t phx_signer_open(phx_rpc_t *rpc, const uint8_t sk[32], const char *nonce_path,
                          phx_signer_t **out, phx_error_t *e);
void phx_signer_close(phx_signer_t *s);
void phx_signer_address(const phx_signer_t *s, uint8_t out[20]);
uint64_t phx_signer_chain_id(const phx_signer_t *s);
/* The nonce the next transaction will use. */
uint64_t phx_signer_next_nonce(const phx_signer_t *s);
/* Forget the local nonce and take the chain's pending count (after dropping txs). */
phx_err_t phx_signer_resync(phx_signer_t *s, phx_error_t *e);

typedef struct {
    bool has_to; /* false = create */
    uint8_t to[20];
    const uint8_t *data;
    size_t data_len;
    phx_u256_t value;
    uint64_t gas_limit;         /* 0 = eth_estimateGas * 1.2 */
    const phx_evm_fees_t *fees; /* NULL = phx_rpc_estimate_fees */
    bool legacy;                /* force a type-0 EIP-155 tx */
} phx_evm_send_t;

/* Build, sign and send; tx_hash receives the hash. The nonce advances (and is
 * saved) only when the node accepted the transaction. */
phx_err_t phx_signer_send(phx_signer_t *s, const phx_evm_send_t *req, uint8_t tx_hash[32],
                          phx_error_t *e);
/* send + wait_receipt. A mined but reverted tx is PHX_ERR_REMOTE ("reverted"),
 * with the receipt still filled in. receipt may be NULL. */
phx_err_t phx_signer_transact(phx_signer_t *s, const phx_evm_send_t *req, uint64_t confirmations,
                              uint64_t timeout_ms, phx_evm_receipt_t *receipt, phx_error_t *e);
/* Deploy: data = bytecode || ctor_args; address from the receipt.
 * receipt may be NULL. */
phx_err_t phx_signer_deploy(phx_signer_t *s, const uint8_t *bytecode, size_t bytecode_len,
                            const uint8_t *ctor_args, size_t ctor_args_len, uint64_t gas_limit,
                            uint64_t confirmations, uint64_t timeout_ms, uint8_t address[20],
                            phx_evm_receipt_t *receipt, phx_error_t *e);

#ifdef __cplusplus
}
#endif
#endif
