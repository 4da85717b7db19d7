/* libFuzzer target for JSON a worker or client receives from the network and
 * opens with its keys: sealed inputs/secrets (phx_confidential_open), the raw
 * input of an on-chain request as Jobs logs it (phx_confidential_open_request,
 * run on every input before it is parsed as JSON), KMS key
 * releases (phx_kms_release_open) and signed contract public keys
 * (phx_kms_contract_pubkey_verify). */
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/kms.h"
#include "phx/worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static phx_contract_keys_t keys;
    static const uint8_t cid[32] = {0x11}, addr[20] = {0x22}, nonce[32] = {0x33};
    static int ready;
    if (!ready) {
        uint8_t croot[32] = {1};
        if (phx_crypto_init() || phx_kms_contract_keys(croot, cid, &keys, NULL)) abort();
        ready = 1;
    }
    phx_buf_t out = PHX_BUF_INIT;
    if (phx_confidential_is_sealed_request(data, size))
        phx_confidential_open_request(keys.x25519_sk, cid, data, size, &out, NULL);
    phx_buf_free(&out);
    json_t *j = NULL;
    if (phx_json_parse((const char *)data, size, &j, NULL)) return 0;
    uint8_t key[32], secret[32], xpub[32];
    phx_confidential_open(PHX_SEAL_INPUT, keys.x25519_sk, cid, j, &out, key, NULL);
    phx_buf_free(&out);
    phx_kms_release_open(PHX_KMS_ROLE_WORKER, j, addr, addr, nonce, keys.x25519_sk, secret, NULL);
    phx_kms_contract_pubkey_verify(j, addr, cid, xpub, NULL);
    json_decref(j);
    return 0;
}
