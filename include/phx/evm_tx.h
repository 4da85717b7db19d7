/* Ethereum transactions for the EVM client (src/evm/tx.c): legacy (pre-EIP-155
 * and EIP-155), EIP-2930 and EIP-1559 in EIP-2718 envelopes: encode, sign,
 * decode, sender recovery; addresses (EIP-55), CREATE.
 * Part of phx/evm.h (the umbrella); see docs/evm.md. */
#ifndef PHX_EVM_TX_H
#define PHX_EVM_TX_H

#include "phx/evm_rlp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================
 * Addresses
 * ========================================================================== */
/* Parse "0x" + 40 hex. Mixed case must carry a valid EIP-55 checksum
 * (all-lower and all-upper are accepted without one). */
phx_err_t phx_evm_address_parse(const char *s, uint8_t out[20], phx_error_t *e);
/* CREATE address = keccak256(rlp([sender, nonce]))[12:]. */
phx_err_t phx_evm_create_address(const uint8_t sender[20], uint64_t nonce, uint8_t out[20]);

/* ============================================================================
 * Transactions (EIP-2718 envelopes)
 * ========================================================================== */
#define PHX_TX_LEGACY 0
#define PHX_TX_EIP2930 1
#define PHX_TX_EIP1559 2

typedef struct {
    uint8_t address[20];
    uint8_t (*keys)[32];
    size_t key_count;
} phx_evm_access_t;

typedef struct {
    uint8_t type;      /* PHX_TX_* */
    uint64_t chain_id; /* legacy: 0 = pre-EIP-155 (v 27/28), else EIP-155 */
    uint64_t nonce;
    phx_u256_t gas_price;        /* legacy, 2930 */
    phx_u256_t max_priority_fee; /* 1559 */
    phx_u256_t max_fee;          /* 1559 */
    phx_u256_t gas_limit;
    bool has_to; /* false: contract creation */
    uint8_t to[20];
    phx_u256_t value;
    const uint8_t *data; /* borrowed, or owned by the tx after decode */
    size_t data_len;
    phx_evm_access_t *access_list; /* same ownership as data */
    size_t access_count;
    /* Signature; valid when is_signed. y_parity is the recovery id (0/1); for
     * legacy v = 27 + y_parity or chain_id * 2 + 35 + y_parity. */
    bool is_signed;
    uint8_t y_parity;
    uint8_t r[32], s[32];
    void *owned_; /* storage for decoded data/access list; freed by phx_evm_tx_clear */
} phx_evm_tx_t;

/* Release what a decoded tx owns; a hand-built tx needs no clearing. */
void phx_evm_tx_clear(phx_evm_tx_t *tx);
/* The bytes that are hashed for signing (legacy: rlp list; typed: type || rlp). */
phx_err_t phx_evm_tx_encode_unsigned(const phx_evm_tx_t *tx, phx_buf_t *out, phx_error_t *e);
phx_err_t phx_evm_tx_signing_hash(const phx_evm_tx_t *tx, uint8_t out[32], phx_error_t *e);
/* Sign in place (sets r, s, y_parity, is_signed). */
phx_err_t phx_evm_tx_sign(phx_evm_tx_t *tx, const uint8_t sk[32], phx_error_t *e);
/* The raw signed transaction (what eth_sendRawTransaction takes). */
phx_err_t phx_evm_tx_encode(const phx_evm_tx_t *tx, phx_buf_t *out, phx_error_t *e);
/* Transaction hash = keccak256(signed encoding). */
phx_err_t phx_evm_tx_hash(const phx_evm_tx_t *tx, uint8_t out[32], phx_error_t *e);
/* Decode a signed or unsigned raw transaction (strict RLP; typed or legacy).
 * Unsigned legacy with 9 fields [.., chainId, 0, 0] gives chain_id. */
phx_err_t phx_evm_tx_decode(const uint8_t *p, size_t len, phx_evm_tx_t *out, phx_error_t *e);
/* Recover the sender of a signed tx (high-S is rejected). */
phx_err_t phx_evm_tx_sender(const phx_evm_tx_t *tx, uint8_t addr[20], phx_error_t *e);

#ifdef __cplusplus
}
#endif
#endif
