/* libFuzzer: a contract's result as the sandbox child reports it (status, usage,
 * message, output). The worker must turn any bytes into a bounded, printable
 * outcome whose output is JSON (or flagged bytes) within the output limit. */
#include <stdlib.h>
#include <string.h>

#include "../src/sandbox/wire.h"
#include "phx/json.h"
#include "phx/sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    phx_sandbox_limits_t limits = {0};
    limits.output_bytes = 4096; /* small, so the fuzzer reaches the limit */
    phx_sandbox_result_t res;
    if (phx_sandbox_result_parse(data, size, &limits, &res, NULL) == PHX_OK) {
        if (res.ok) {
            if (res.output.len > limits.output_bytes) abort();
            if (!res.output_is_bytes) {
                json_t *v = json_loadb((const char *)res.output.ptr, res.output.len,
                                       PHX_SANDBOX_OUTPUT_JSON_FLAGS, NULL);
                if (!v) abort();
                json_decref(v);
            }
        } else {
            if (!res.code[0] || strlen(res.message) >= sizeof res.message) abort();
            json_t *s = json_string(res.message); /* must be valid UTF-8 */
            if (!s) abort();
            json_decref(s);
            for (const char *c = res.message; *c; c++)
                if ((unsigned char)*c < 0x20) abort();
        }
        phx_sandbox_result_free(&res);
    }
    return 0;
}
