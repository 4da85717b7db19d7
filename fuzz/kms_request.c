/* libFuzzer target for the KMS's outside input: request bodies of
 * POST /v1/keys, /v1/registrations, /v1/replicas, /v1/vouches and the contract id of
 * GET /v1/contracts/:id/pubkey, POST /v1/outbox (the contract wallets'
 * outbox, with its chain and owner-signed limit fields, the salt optional:
 * seeds/kms/outbox_limit and outbox_limit_nosalt; no chain is read here, as
 * without one the KMS under test, the id's derivation is the owner rule)
 * and POST /v1/ledger (the voucher ledger; both in in-memory SQLite
 * databases), through the real router and the
 * real attest seam (Intel root). Input: one byte picking the endpoint, then
 * the body. */
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/kms.h"

static phx_http_router_t *router;
static phx_kms_t *kms;
static phx_kms_attest_t attest;
static phx_kms_allowlist_t allow;

static void setup(void)
{
    uint8_t root[32] = {1, 2, 3};
    if (phx_crypto_init()) abort();
    if (phx_attest_verifier_new(NULL, 0, &attest.verifier, NULL)) abort();
    phx_kms_config_t cfg = {.verify_quote = phx_kms_verify_quote_attest,
                            .verify_ctx = &attest,
                            .check_peer = phx_kms_allowlist_check,
                            .check_ctx = &allow,
                            .outbox_path = ":memory:",
                            .ledger_path = ":memory:"};
    memcpy(cfg.root, root, 32);
    if (phx_kms_new(&cfg, &kms, NULL)) abort();
    if (phx_http_router_new(&router, NULL) || phx_kms_add_routes(kms, router, NULL)) abort();
    phx_log_set_level(PHX_LOG_OFF);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!router) setup();
    if (size < 1) return 0;
    static const char *targets[] = {"/v1/keys",   "/v1/registrations", "/v1/replicas",
                                    "/v1/nonces", "/v1/vouches",       NULL,
                                    "/v1/outbox", "/v1/ledger"};
    phx_http_reply_t reply;
    uint8_t pick = data[0] % 8;
    if (pick == 5) {
        /* The rest is a contract id in the path. */
        char target[300];
        size_t n = size - 1 > 200 ? 200 : size - 1;
        memcpy(target, "/v1/contracts/", 14);
        for (size_t i = 0; i < n; i++)
            target[14 + i] = data[1 + i] ? (char)data[1 + i] : 'x';
        memcpy(target + 14 + n, "/pubkey", 8);
        phx_http_router_dispatch(router, "GET", target, NULL, 0, "f", NULL, &reply);
    } else {
        /* A fresh nonce each time so a body can get past the nonce check when
         * it names it; the fuzzer cannot guess it, the seed shape still helps. */
        phx_http_router_dispatch(router, "POST", targets[pick], data + 1, size - 1, "f", NULL,
                                 &reply);
    }
    if (reply.status < 100 || reply.status > 599) abort();
    phx_http_reply_free(&reply);
    return 0;
}
