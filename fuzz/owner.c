/* libFuzzer target for what an owner-signed request brings from the network
 * (include/phx/chain_owner.h): the query of a read or a blob put (owner,
 * expires, signature, checked by phx_owner_request_check), a deploy's sealed
 * secrets (their hash, and opening them bound to a code hash), and the op's
 * action. The input is a JSON object with those fields. */
#include <stdlib.h>
#include <string.h>

#include "phx/chain_owner.h"
#include "phx/crypto.h"
#include "phx/kms.h"
#include "phx/worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static phx_contract_keys_t keys;
    static const uint8_t cid[32] = {0x11}, code_hash[32] = {0x44};
    static int ready;
    if (!ready) {
        uint8_t croot[32] = {1};
        if (phx_crypto_init() || phx_kms_contract_keys(croot, cid, &keys, NULL)) abort();
        ready = 1;
    }
    json_t *j = NULL;
    if (phx_json_parse((const char *)data, size, &j, NULL)) return 0;
    uint8_t owner[20], h[32];
    const char *action = json_string_value(json_object_get(j, "action"));
    phx_owner_request_check(
        action ? action : "logs", cid, json_string_value(json_object_get(j, "owner")),
        json_string_value(json_object_get(j, "expires")),
        json_string_value(json_object_get(j, "signature")), 1700000000, owner, NULL);
    const json_t *sealed = json_object_get(j, "sealed_secrets");
    phx_owner_secrets_hash(sealed, h, NULL);
    if (sealed) {
        phx_buf_t out = PHX_BUF_INIT;
        phx_confidential_open_secrets(keys.x25519_sk, cid, code_hash, sealed, &out, NULL);
        phx_buf_free(&out);
    }
    phx_owner_op_t op = {.action = action,
                         .nonce = (uint64_t)json_integer_value(json_object_get(j, "nonce"))};
    phx_owner_op_digest(&op, h, NULL);
    json_decref(j);
    return 0;
}
