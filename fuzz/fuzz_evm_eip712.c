/* libFuzzer: EIP-712 typed data as a user or dApp would hand it to a worker
 * (JSON text): hashing must fail cleanly, never crash or loop. */
#include "phx/evm.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
    json_t *typed = NULL;
    uint8_t digest[32];
    if (phx_json_parse((const char *)p, len, &typed, NULL) != PHX_OK) return 0;
    (void)phx_eip712_digest(typed, digest, NULL);
    json_decref(typed);
    return 0;
}
