/* libFuzzer target for the signed observation a k-of-n peer serves (a worker
 * reads it from any URL it was given): JSON parse, observation parse, signer
 * recovery on a fixed domain, and the round trip of what parsed: to_json then
 * parse again gives the same observation. */
#include <stdlib.h>
#include <string.h>

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
    phx_observation_t o, again;
    if (phx_observation_parse(j, &o, NULL) == PHX_OK) {
        static const uint8_t domain[32] = {0x11}, id[32] = {0x22}, code[32] = {0x33},
                             worker[20] = {0x44};
        uint8_t signer[20], digest[32];
        phx_observation_signer(&o, domain, id, code, false, signer, digest, NULL);
        phx_observation_signer(&o, domain, id, code, true, signer, digest, NULL);
        json_t *back = phx_observation_to_json(&o, worker);
        if (!back) abort();
        if (phx_observation_parse(back, &again, NULL) != PHX_OK ||
            again.request_id != o.request_id || again.ok != o.ok ||
            again.output.len != o.output.len ||
            (o.output.len && memcmp(again.output.ptr, o.output.ptr, o.output.len)) ||
            memcmp(again.signature, o.signature, 65))
            abort();
        phx_observation_clear(&again);
        json_decref(back);
        phx_observation_clear(&o);
    }
    json_decref(j);
    return 0;
}
