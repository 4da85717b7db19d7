/* phx.ai.chat's routing from the chain (src/infer/client.c) against a real
 * anvil and InferenceRegistry: a model's endpointsFor is read once per block,
 * an endpoint refused (here one that answers its attestation fetch with 503)
 * is struck off until the list is read again, and a new block (a
 * registration, a deregistration) is seen by the very next chat. Counts the
 * node's eth_call lines over 100 chats, which the node logs one a request.
 * No llama.cpp: the endpoints never get as far as a chat
 * (e2e_ai_devnet serves real ones). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "phx/crypto.h"
#include "phx/infer.h"
#include "support/chain_fixture.h"
#include "support/stand_in.h"
#include "test.h"

static char dir[] = "/tmp/phx-ai-routes-XXXXXX";
static test_devnet_t net;
static phx_tee_t *tee;
static phx_buf_t root = PHX_BUF_INIT, coll = PHX_BUF_INIT;

/* An endpoint that is down for maintenance: it counts its attestation fetches. */
typedef struct {
    test_stand_in_t http;
    atomic_int fetches;
    uint8_t signer[20];
} endpoint_t;
static endpoint_t ep[2];

static phx_err_t report_503(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                            phx_error_t *e)
{
    (void)req, (void)e;
    atomic_fetch_add(&((endpoint_t *)ctx)->fetches, 1);
    resp->status = 503;
    resp->json = json_pack("{s:{s:s}}", "error", "message", "down for maintenance");
    return PHX_OK;
}

/* The node's requests of one method so far (anvil logs each method's name on a line). */
static int node_calls(const char *method)
{
    FILE *f = fopen(net.node.log_path, "r");
    char line[256];
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        n += strcmp(line, method) == 0;
    }
    if (f) fclose(f);
    return n;
}

/* Register endpoint p (fresh keys) for model "tiny" at its URL, as the governor. */
static phx_err_t register_endpoint(endpoint_t *p, phx_error_t *e)
{
    uint8_t sk[32], ed[32], x[32], model[32], nonce[32], rd[64];
    phx_buf_t quote = PHX_BUF_INIT;
    phx_err_t err;
    if ((err = phx_secp256k1_keygen(sk)) || (err = phx_eth_address_from_seckey(sk, p->signer)) ||
        (err = phx_random_bytes(ed, 32)) || (err = phx_random_bytes(x, 32)) ||
        (err = phx_random_bytes(model, 32)))
        return phx_fail(e, err, "keys");
    if (!(err = phx_chain_endpoint_nonce(net.rpc, &net.dep, net.gov_addr, "tiny", p->http.url,
                                         nonce, e))) {
        phx_infer_report_data(p->signer, ed, x, model, nonce, rd);
        err = phx_tee_quote(tee, rd, &quote, e);
    }
    if (!err)
        err = phx_chain_register_endpoint(net.rpc, net.gov, &net.dep, p->signer, ed, x, model,
                                          "tiny", p->http.url, quote.ptr, quote.len, e);
    phx_buf_free(&quote);
    phx_secure_zero(sk, sizeof sk);
    return err;
}

static phx_err_t chat(phx_infer_client_t *c, phx_error_t *e)
{
    json_t *req = json_pack("{s:s,s:[{s:s,s:s}]}", "model", "tiny", "messages", "role", "user",
                            "content", "hi"),
           *out = NULL;
    memset(e, 0, sizeof *e);
    phx_err_t err = phx_infer_client_chat(c, req, 5000, &out, e);
    json_decref(out);
    json_decref(req);
    return err;
}

static phx_infer_client_t *client(uint64_t ttl_ms)
{
    phx_infer_client_opts_t o = {.chain_rpc = net.node.url,
                                 .deployment = &net.dep,
                                 .root_der = root.ptr,
                                 .root_len = root.len,
                                 .collateral = coll.ptr,
                                 .collateral_len = coll.len,
                                 .route_ttl_ms = ttl_ms};
    phx_infer_client_t *c = NULL;
    phx_error_t e = {0};
    CHECK_MSG(phx_infer_client_new(&o, &c, &e) == PHX_OK, "%s", e.message);
    return c;
}

/* The chain, a sim TEE whose measurement governance allows, two endpoints'
 * HTTP servers; the first registered. */
static void test_setup(void)
{
    phx_error_t e = {0};
    CHECK_MSG(test_devnet_start(&net, dir, &e) == PHX_OK, "devnet: %s", e.message);
    if (!net.gov) return;
    char sim[sizeof dir + 8];
    snprintf(sim, sizeof sim, "%s/sim", dir);
    phx_tee_config_t tc = {.sim_dir = sim};
    uint8_t mr[32];
    CHECK_MSG(phx_tee_open(PHX_TEE_SIM, &tc, &tee, &e) == PHX_OK &&
                  phx_tee_sim_root(tee, &root, &e) == PHX_OK &&
                  phx_tee_sim_collateral(tee, &coll, &e) == PHX_OK &&
                  test_tee_measurement_id(tee, mr, &e) == PHX_OK &&
                  test_chain_allow_measurement(net.gov, &net.dep, mr, true, &e) == PHX_OK,
              "%s", e.message);
    static const test_route_t routes[] = {{"GET", "/v1/attestation/report", report_503}};
    for (int i = 0; i < 2; i++)
        CHECK(test_stand_in_start(&ep[i].http, "0x0", routes, 1, &ep[i]) == 0);
    CHECK_MSG(register_endpoint(&ep[0], &e) == PHX_OK, "register: %s", e.message);
}

/* 100 chats in one block: one endpointsFor and one record read in all (the
 * client before this cache read endpointsFor on every chat and fetched the
 * refused endpoint's report again each time), and each chat still fails
 * with the endpoint's own refusal. */
static void test_one_read_per_block(void)
{
    phx_infer_client_t *c = client(3600 * 1000);
    int calls0 = node_calls("eth_call"), heads0 = node_calls("eth_blockNumber");
    phx_error_t e;
    int refused = 0;
    for (int i = 0; i < 100; i++)
        refused +=
            chat(c, &e) != PHX_OK && strstr(e.message, ep[0].http.url) && strstr(e.message, "503");
    int calls = node_calls("eth_call") - calls0, heads = node_calls("eth_blockNumber") - heads0;
    printf("100 chats: %d eth_call, %d eth_blockNumber, %d attestation fetches\n", calls, heads,
           atomic_load(&ep[0].fetches));
    CHECK_MSG(refused == 100, "%d of 100 refused naming the endpoint; last: %s", refused,
              e.message);
    CHECK_MSG(calls == 2, "%d eth_calls: endpointsFor and the record, once", calls);
    CHECK(heads == 100);
    CHECK_MSG(atomic_load(&ep[0].fetches) == 1, "the refused endpoint was fetched %d times",
              atomic_load(&ep[0].fetches));
    phx_infer_client_free(c);
}

/* A registration is a new block: the very next chat reads the list again,
 * tries the newcomer first and the struck-off one again; a deregistration is
 * seen as promptly, down to "none registered". */
static void test_new_block_rereads(void)
{
    phx_infer_client_t *c = client(3600 * 1000);
    phx_error_t e;
    atomic_store(&ep[0].fetches, 0);
    CHECK(chat(c, &e) != PHX_OK && atomic_load(&ep[0].fetches) == 1);
    CHECK_MSG(register_endpoint(&ep[1], &e) == PHX_OK, "register: %s", e.message);
    int calls0 = node_calls("eth_call");
    for (int i = 0; i < 5; i++)
        CHECK(chat(c, &e) != PHX_OK);
    CHECK_MSG(node_calls("eth_call") - calls0 == 2, "endpointsFor and the newcomer's record: %d",
              node_calls("eth_call") - calls0);
    CHECK(atomic_load(&ep[1].fetches) == 1 && atomic_load(&ep[0].fetches) == 2);
    CHECK_MSG(strstr(e.message, ep[0].http.url) != NULL, "the oldest is refused last: %s",
              e.message);

    CHECK(phx_chain_deregister_endpoint(net.rpc, net.gov, &net.dep, ep[0].signer, &e) == PHX_OK);
    CHECK(chat(c, &e) != PHX_OK && strstr(e.message, ep[1].http.url));
    CHECK(atomic_load(&ep[1].fetches) == 2 && atomic_load(&ep[0].fetches) == 2);
    CHECK(phx_chain_deregister_endpoint(net.rpc, net.gov, &net.dep, ep[1].signer, &e) == PHX_OK);
    CHECK_MSG(chat(c, &e) == PHX_ERR_NOT_FOUND && strstr(e.message, "none registered on chain"),
              "%s", e.message);
    phx_infer_client_free(c);
}

/* Within a block the list, and a refusal in it, lasts route_ttl_ms. */
static void test_ttl(void)
{
    phx_error_t e;
    CHECK_MSG(register_endpoint(&ep[0], &e) == PHX_OK, "register: %s", e.message);
    phx_infer_client_t *c = client(1);
    atomic_store(&ep[0].fetches, 0);
    for (int i = 0; i < 3; i++) {
        CHECK(chat(c, &e) != PHX_OK);
        usleep(5 * 1000);
    }
    CHECK_MSG(atomic_load(&ep[0].fetches) == 3, "%d fetches", atomic_load(&ep[0].fetches));
    phx_infer_client_free(c);
}

int main(void)
{
    static const test_case_t cases[] = {
        TEST_CASE_REQUIRED(test_setup),
        TEST_CASE(test_one_read_per_block),
        TEST_CASE(test_new_block_rereads),
        TEST_CASE(test_ttl),
    };
    int rc = test_run("test_ai_routes", cases, TEST_COUNT(cases));
    for (int i = 0; i < 2; i++)
        test_stand_in_stop(&ep[i].http);
    phx_tee_close(tee);
    phx_buf_free(&root);
    phx_buf_free(&coll);
    test_devnet_close(&net);
    char cmd[sizeof dir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
