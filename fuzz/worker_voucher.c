/* libFuzzer target for the payment voucher a direct call carries (a worker
 * reads it from anyone): JSON parse, voucher parse, signature check against a
 * fixed call, and the round trip of what parsed: to_json then parse again
 * gives the same voucher. */
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
    /* A call body or the voucher object itself. */
    const json_t *vj = json_object_get(j, "voucher") ? json_object_get(j, "voucher") : j;
    phx_voucher_t v, again;
    if (phx_voucher_parse(vj, &v, NULL) == PHX_OK) {
        static const uint8_t payments[20] = {0x11}, call_hash[32] = {0x22};
        phx_voucher_verify(&v, 31337, payments, call_hash, NULL);
        json_t *back = NULL;
        if (phx_voucher_to_json(&v, &back, NULL) != PHX_OK) abort();
        if (phx_voucher_parse(back, &again, NULL) != PHX_OK || memcmp(&v, &again, sizeof v) != 0)
            abort();
        json_decref(back);
    }
    json_decref(j);
    return 0;
}
