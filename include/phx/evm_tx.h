/* Ethereum transactions for the EVM client (src/evm/tx.c): legacy (pre-EIP-155
 * and EIP-155), EIP-2930 and EIP-1559 in EIP-2718 envelopes: encode, sign,
 * decode with value-range checks, sender recovery; addresses (EIP-55), CREATE.
 * Part of phx/evm.h (the umbrella); see docs/evm.md. */
#ifndef PHX_EVM_TX_H
#define PHX_EVM_TX_H

#include "phx/evm_rlp.h"
#include "phx/json.h"

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

/* The largest chain id (EIP-2294): floor((2^64 - 1) / 2) - 36, so that a
 * legacy v = chainId * 2 + 35 + parity still fits 64 bits. */
#define PHX_EVM_CHAIN_ID_MAX 9223372036854775771ull

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
    phx_u256_t gas_limit;        /* 256 bits to build any tx; decoding requires 64 */
    bool has_to;                 /* false: contract creation */
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
    uint8_t from[20]; /* the recovered sender, set by phx_evm_tx_decode */
    void *owned_;     /* storage for decoded data/access list; freed by phx_evm_tx_clear */
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
/* Decode a signed raw transaction (strict RLP; typed or legacy), checking every
 * value's range as a node does at the newest fork:
 *   - nonce, gas limit and chain id fit 64 bits, the chain id at most
 *     PHX_EVM_CHAIN_ID_MAX (and at least 1 for legacy EIP-155, whose v has
 *     no form for 0); fee fields and value fit 256 bits;
 *   - legacy v is 27/28 or chainId * 2 + 35/36; typed y parity is 0 or 1;
 *   - 1 <= r < n and 1 <= s <= n/2 (EIP-2 low-s, which applies to every
 *     transaction type since Homestead);
 *   - the sender recovers (out->from); PHX_ERR_VERIFY otherwise.
 * An unsigned payload is PHX_ERR_INVALID here: a legacy list ending in
 * [x, 0, 0] is a signature with r = s = 0, never an EIP-155 payload. */
phx_err_t phx_evm_tx_decode(const uint8_t *p, size_t len, phx_evm_tx_t *out, phx_error_t *e);
/* Decode the payload that gets signed (phx_evm_tx_encode_unsigned's output):
 * typed or legacy without signature fields, or legacy EIP-155's
 * [..., chainId, 0, 0] (which sets chain_id). Same range checks on the fields. */
phx_err_t phx_evm_tx_decode_unsigned(const uint8_t *p, size_t len, phx_evm_tx_t *out,
                                     phx_error_t *e);
/* Recover the sender of a signed tx (the range checks above apply). */
phx_err_t phx_evm_tx_sender(const phx_evm_tx_t *tx, uint8_t addr[20], phx_error_t *e);
/* A transaction object as eth_getTransactionByHash returns it, read into *out
 * (phx_evm_tx_clear) with the same range checks as phx_evm_tx_decode, the
 * sender recovered, and the node's own "from" and "hash" (when present)
 * checked against what the fields make: PHX_ERR_VERIFY when they differ. */
phx_err_t phx_evm_tx_from_json(const json_t *j, phx_evm_tx_t *out, phx_error_t *e);
/* 1 <= r < n and 1 <= s <= n/2 for secp256k1 (PHX_ERR_VERIFY naming the fault). */
phx_err_t phx_evm_tx_check_signature(const uint8_t r[32], const uint8_t s[32], phx_error_t *e);
/* 1 <= chain_id <= PHX_EVM_CHAIN_ID_MAX: a chain id EIP-155 can carry in v. */
phx_err_t phx_evm_chain_id_check(uint64_t chain_id, phx_error_t *e);
/* A spending limit (the owner's cap of value per period_s seconds on chain):
 * would sending value, with spent already sent in the window, pass cap? When
 * it would (or the sum overflows), true, and why (n bytes) says so, naming
 * the amounts; `by` ends the "already sent" clause (e.g. " by the network's
 * workers", or ""). */
bool phx_evm_spend_over(const phx_u256_t *cap, const phx_u256_t *spent, const phx_u256_t *value,
                        const char *chain, uint64_t period_s, const char *by, char *why, size_t n);

#ifdef __cplusplus
}
#endif
#endif
