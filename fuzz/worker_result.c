/* libFuzzer target for result envelopes as `phx verify` reads them from a
 * user's file: JSON parse, envelope parse, signature verification. */
#include <stdlib.h>

#include "phx/crypto.h"
#include "phx/worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (phx_crypto_init()) abort();
        ready = 1;
    }
    json_t *j = NULL;
    if (phx_json_parse((const char *)data, size, &j, NULL)) return 0;
    phx_result_t r;
    if (phx_result_from_json(j, &r, NULL) == PHX_OK) {
        phx_result_verify(&r, NULL);
        json_t *back = NULL;
        if (phx_result_to_json(&r, &back, NULL) == PHX_OK) json_decref(back);
        phx_result_free(&r);
    }
    json_decref(j);
    return 0;
}
