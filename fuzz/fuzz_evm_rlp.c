/* libFuzzer: strict RLP decoding and raw transaction decoding. Decoding is
 * canonical, so whatever decodes must re-encode to exactly the input. */
#include <stdlib.h>
#include <string.h>

#include "phx/evm.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
    phx_rlp_item_t *it = NULL;
    phx_buf_t out = PHX_BUF_INIT;
    if (phx_rlp_decode(p, len, &it, NULL) == PHX_OK) {
        if (phx_rlp_encode_item(&out, it) != PHX_OK || out.len != len ||
            memcmp(out.ptr, p, len) != 0)
            abort();
        phx_rlp_free(it);
    }
    phx_evm_tx_t tx;
    if (phx_evm_tx_decode(p, len, &tx, NULL) == PHX_OK) {
        phx_buf_reset(&out);
        phx_err_t err = tx.is_signed ? phx_evm_tx_encode(&tx, &out, NULL)
                                     : phx_evm_tx_encode_unsigned(&tx, &out, NULL);
        if (err || out.len != len || memcmp(out.ptr, p, len) != 0) abort();
        uint8_t addr[20];
        if (tx.is_signed) (void)phx_evm_tx_sender(&tx, addr, NULL);
        phx_evm_tx_clear(&tx);
    }
    phx_buf_free(&out);
    return 0;
}
