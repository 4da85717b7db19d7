/* libFuzzer: JSON-RPC responses as a node (untrusted, DESIGN.md §2) could send
 * them, and the receipts, transactions, logs and quantities inside a result. */
#include <stdlib.h>
#include <string.h>

#include "phx/evm.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
    json_t *res = NULL;
    if (phx_rpc_parse_response(p, len, &res, NULL) != PHX_OK) return 0;
    phx_evm_receipt_t r;
    if (phx_evm_receipt_from_json(res, &r, NULL) == PHX_OK) phx_evm_receipt_clear(&r);
    phx_evm_tx_t tx;
    if (phx_evm_tx_from_json(res, &tx, NULL) == PHX_OK) {
        /* What passes the node-side checks is a tx the decoder accepts too. */
        phx_buf_t raw = PHX_BUF_INIT;
        phx_evm_tx_t back;
        if (phx_evm_tx_encode(&tx, &raw, NULL) != PHX_OK ||
            phx_evm_tx_decode(raw.ptr, raw.len, &back, NULL) != PHX_OK ||
            memcmp(back.from, tx.from, 20) != 0)
            abort();
        phx_evm_tx_clear(&back);
        phx_buf_free(&raw);
        phx_evm_tx_clear(&tx);
    }
    phx_evm_log_t log;
    if (phx_evm_log_from_json(res, &log, NULL) == PHX_OK) phx_evm_log_clear(&log);
    if (json_is_array(res)) {
        for (size_t i = 0; i < json_array_size(res); i++)
            if (phx_evm_log_from_json(json_array_get(res, i), &log, NULL) == PHX_OK)
                phx_evm_log_clear(&log);
    }
    uint64_t q;
    phx_u256_t u;
    (void)phx_rpc_quantity_u64(res, &q, NULL);
    (void)phx_rpc_quantity_u256(res, &u, NULL);
    json_decref(res);
    return 0;
}
