/* libFuzzer: strict RLP decoding and raw transaction decoding. Decoding is
 * canonical, so whatever decodes must re-encode to exactly the input; an
 * accepted transaction must also recover a sender (evm_tx_oracle.h). */
#include <stdlib.h>
#include <string.h>

#include "evm_tx_oracle.h"
#include "phx/evm_rlp.h"

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
    phx_buf_free(&out);
    evm_tx_oracle(p, len);
    return 0;
}
