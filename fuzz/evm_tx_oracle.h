/* The transaction oracle shared by fuzz_evm_rlp and fuzz_evm_tx (issue 18):
 * whatever the decoder accepts must be a transaction a node would take, so a
 * signed tx re-encodes to exactly the input, is signed, recovers a sender
 * (the one decode reported) and hashes to keccak256 of the input; an unsigned
 * payload re-encodes to exactly the input. Anything else aborts. */
#ifndef PHX_FUZZ_EVM_TX_ORACLE_H
#define PHX_FUZZ_EVM_TX_ORACLE_H

#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/evm_tx.h"

static void evm_tx_oracle(const uint8_t *p, size_t len)
{
    phx_evm_tx_t tx;
    phx_buf_t out = PHX_BUF_INIT;
    if (phx_evm_tx_decode(p, len, &tx, NULL) == PHX_OK) {
        uint8_t from[20], hash[32], want[32];
        if (!tx.is_signed) abort();
        if (phx_evm_tx_encode(&tx, &out, NULL) != PHX_OK || out.len != len ||
            memcmp(out.ptr, p, len) != 0)
            abort();
        if (phx_evm_tx_sender(&tx, from, NULL) != PHX_OK || memcmp(from, tx.from, 20) != 0) abort();
        phx_keccak256(p, len, want);
        if (phx_evm_tx_hash(&tx, hash, NULL) != PHX_OK || memcmp(hash, want, 32) != 0) abort();
        phx_evm_tx_clear(&tx);
    }
    if (phx_evm_tx_decode_unsigned(p, len, &tx, NULL) == PHX_OK) {
        phx_buf_reset(&out);
        if (tx.is_signed) abort();
        if (phx_evm_tx_encode_unsigned(&tx, &out, NULL) != PHX_OK || out.len != len ||
            memcmp(out.ptr, p, len) != 0)
            abort();
        phx_evm_tx_clear(&tx);
    }
    phx_buf_free(&out);
}

#endif
