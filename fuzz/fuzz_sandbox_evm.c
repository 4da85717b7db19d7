/* libFuzzer: a chain node's JSON-RPC answer as phx.evm hands it to a contract
 * (src/sandbox/evm.c). The first byte picks the call (eth_call, eth_getBalance,
 * eth_getLogs, a receipt); the rest is the node's response body. Any bytes must
 * give an error or an answer of the documented shape, never a crash. */
#include <stdlib.h>
#include <string.h>

#include "phx/evm.h"
#include "phx/json.h"
#include "phx/sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const ops[] = {"evm.call", "evm.getBalance", "evm.getLogs", "evm.receipt"};
    static const char *const keys[] = {"data", "wei", "logs", "hash"};
    if (size < 1) return 0;
    unsigned k = data[0] % 4;
    json_t *result = NULL, *out = NULL;
    if (phx_rpc_parse_response(data + 1, size - 1, &result, NULL) != PHX_OK) return 0;
    if (phx_sandbox_evm_shape(ops[k], result, &out, NULL) == PHX_OK) {
        const json_t *v = json_object_get(out, keys[k]);
        if (!v) abort();
        if (k == 2 && !json_is_array(v)) abort();
        if (k != 2 && !json_is_string(v)) abort();
        char *text = json_dumps(out, JSON_COMPACT);
        if (!text) abort();
        free(text);
        json_decref(out);
    }
    json_decref(result);
    return 0;
}
