/* The gateway routes only to workers the chain lists as active. Real parts: anvil
 * with the Phalanx contracts, a KMS on the sim TEE signing a real registration
 * (real-format TDX quote), Registry.registerWorker; two worker HTTP servers on
 * loopback (stand-ins for `phx worker`'s API whose /healthz names an address):
 * one registered, one not. Shows: only the registered one gets calls and
 * appears as registered with its on-chain measurement; after
 * Registry.deregisterWorker it leaves the pool and calls get 503. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "phx/chain.h"
#include "phx/crypto.h"
#include "phx/gateway.h"
#include "phx/kms_node.h"
#include "phx/net.h"
#include "phx/tee.h"
#include "support/anvil.h"
#include "support/chain_fixture.h"
#include "support/kms_fixture.h"
#include "support/sim_quote.h"
#include "support/stand_in.h"
#include "test.h"

static test_devnet_t net;

typedef struct {
    test_stand_in_t http;
    int calls;
} stand_in_t;

static phx_err_t w_call(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    (void)req, (void)e;
    stand_in_t *w = ctx;
    __atomic_add_fetch(&w->calls, 1, __ATOMIC_SEQ_CST);
    resp->json = json_pack("{s:s,s:i}", "worker", w->http.address, "output", 1);
    return PHX_OK;
}

static int stand_in_start(stand_in_t *w, const uint8_t addr[20])
{
    static const test_route_t routes[] = {{"POST", "/v1/contracts/:id/call", w_call}};
    char *hex = phx_hex_encode(addr, 20);
    int rc = test_stand_in_start(&w->http, hex, routes, 1, w);
    free(hex);
    return rc;
}

static int call(const char *gw, int *status)
{
    char url[300];
    snprintf(url, sizeof url, "%s/v1/contracts/0x%064d/call", gw, 1);
    phx_buf_t out = PHX_BUF_INIT;
    phx_err_t err =
        phx_http_fetch("POST", url, "application/json", "{}", 2, NULL, status, &out, NULL);
    phx_buf_free(&out);
    return err ? -1 : 0;
}

/* What the cases share: the chain, the sim TEE, the KMS, worker A's keys, the
 * two stand-ins and the gateway in front of them. */
static char dir[] = "/tmp/phx-gw-chain-XXXXXX";
static phx_tee_t *tee;
static uint8_t mr[32], a_eth[20], b_eth[20];
static test_kms_service_t ks;
static stand_in_t wa, wb;
static phx_gateway_t *g;
static const char *gw;

/* Chain and governance: contracts, a KMS node, this code allowed, a bond. */
static void test_governance(void)
{
    phx_error_t e = {0};
    CHECK_MSG(test_devnet_start(&net, dir, &e) == PHX_OK, "devnet: %s", e.message);
    if (!net.gov) return;
    char sim_dir[300];
    snprintf(sim_dir, sizeof sim_dir, "%s/sim", dir);
    phx_tee_config_t tc = {.sim_dir = sim_dir};
    CHECK_MSG(phx_tee_open(PHX_TEE_SIM, &tc, &tee, &e) == PHX_OK, "%s", e.message);
    if (!tee) return;
    CHECK(test_tee_measurement_id(tee, mr, &e) == PHX_OK);
    CHECK_MSG(test_kms_service_start(&ks, tee, net.node.url, &net.dep, NULL, &e) == PHX_OK,
              "KMS: %s", e.message);
    if (!ks.server) return;
    const char amount[] = "1000000000000000000000";
    CHECK(test_chain_allow_measurement(net.gov, &net.dep, mr, true, &e) == PHX_OK);
    CHECK_MSG(test_kms_admit(net.gov, &net.dep, tee, ks.kms, &e) == PHX_OK, "admitKms: %s",
              e.message);
    CHECK(test_chain_stake(&net, amount, &e) == PHX_OK);
}

/* Worker A registers through the KMS (its quote binds its keys); B never does. */
static void test_register_a(void)
{
    phx_error_t e = {0};
    uint8_t a_sk[32], a_xsk[32], a_xpub[32];
    CHECK(phx_secp256k1_keygen(a_sk) == PHX_OK &&
          phx_eth_address_from_seckey(a_sk, a_eth) == PHX_OK);
    CHECK(phx_x25519_keygen(a_xsk, a_xpub) == PHX_OK);
    CHECK(phx_random_bytes(b_eth, 20) == PHX_OK);
    phx_kms_requester_t rq = {
        .kms_url = ks.url, .quote = test_sim_quote, .quote_ctx = tee, .x25519_sk = a_xsk};
    memcpy(rq.kms_address, ks.address, 20);
    memcpy(rq.eth_address, a_eth, 20);
    memcpy(rq.x25519_pub, a_xpub, 32);
    json_t *regdoc = NULL;
    CHECK_MSG(phx_kms_request_registration(&rq, net.gov_addr, &regdoc, &e) == PHX_OK, "%s",
              e.message);
    if (regdoc)
        CHECK_MSG(
            test_chain_transact(
                net.gov, net.dep.registry, "registerWorker(address,bytes32,bytes32,bytes,bytes)",
                json_pack("[O,O,O,O,O]", json_object_get(regdoc, "worker"),
                          json_object_get(regdoc, "x25519"), json_object_get(regdoc, "nonce"),
                          json_object_get(regdoc, "quote"), json_object_get(regdoc, "signature")),
                &e) == PHX_OK,
            "registerWorker: %s", e.message);
    json_decref(regdoc);
}

/* Only the registered worker is in the pool and gets calls. */
static void test_routes_to_registered(void)
{
    phx_error_t e = {0};
    CHECK(stand_in_start(&wa, a_eth) == 0 && stand_in_start(&wb, b_eth) == 0);
    const char *urls[] = {wb.http.url, wa.http.url};
    char gdir[300];
    snprintf(gdir, sizeof gdir, "%s/gw", dir);
    phx_gateway_opts_t o = {.dir = gdir,
                            .workers = urls,
                            .worker_count = 2,
                            .rpc_url = net.node.url,
                            .deployment = &net.dep,
                            .health_interval_ms = 60000};
    CHECK_MSG(phx_gateway_start(&o, &g, &e) == PHX_OK, "%s", e.message);
    if (!g) return;
    gw = phx_gateway_url(g);
    CHECK(phx_gateway_healthy_count(g) == 1);
    int ok = 0, status = 0;
    for (int i = 0; i < 10; i++)
        ok += call(gw, &status) == 0 && status == 200;
    printf("registered worker: %d calls, unregistered worker: %d calls\n", wa.calls, wb.calls);
    CHECK(ok == 10 && wa.calls == 10 && wb.calls == 0);
}

/* /v1/network shows both, only A registered, with its on-chain measurement. */
static void test_network_view(void)
{
    phx_error_t e = {0};
    char url[300];
    snprintf(url, sizeof url, "%s/v1/network", gw);
    json_t *netdoc = NULL;
    CHECK(phx_http_json("GET", url, NULL, NULL, NULL, &netdoc, &e) == PHX_OK);
    json_t *ws = json_object_get(netdoc, "workers");
    CHECK(json_array_size(ws) == 2);
    CHECK(json_is_false(json_object_get(json_array_get(ws, 0), "registered")));
    CHECK(json_is_false(json_object_get(json_array_get(ws, 0), "in_pool")));
    CHECK(json_is_true(json_object_get(json_array_get(ws, 1), "registered")));
    char *mr_hex = phx_hex_encode(mr, 32);
    const char *shown = json_string_value(json_object_get(json_array_get(ws, 1), "measurement"));
    CHECK(shown && strcmp(shown, mr_hex) == 0);
    CHECK(json_array_size(json_object_get(netdoc, "measurements")) == 1);
    free(mr_hex);
    json_decref(netdoc);
}

/* The operator deregisters A: it leaves the pool; nobody is left. */
static void test_deregistered_leaves(void)
{
    phx_error_t e = {0};
    int status = 0;
    CHECK(test_chain_transact(net.gov, net.dep.registry, "deregisterWorker(address)",
                              json_pack("[o]", phx_json_hex(a_eth, 20)), &e) == PHX_OK);
    phx_gateway_check_workers(g);
    CHECK(phx_gateway_healthy_count(g) == 0);
    CHECK(call(gw, &status) == 0 && status == 503);
    CHECK(wa.calls == 10);
}

int main(void)
{
    static const test_case_t cases[] = {
        TEST_CASE_REQUIRED(test_governance), TEST_CASE_REQUIRED(test_register_a),
        TEST_CASE_REQUIRED(test_routes_to_registered), TEST_CASE(test_network_view),
        TEST_CASE(test_deregistered_leaves)};
    int rc = test_run("test_gateway_chain", cases, TEST_COUNT(cases));
    if (g) phx_gateway_stop(g, 0);
    test_stand_in_stop(&wa.http);
    test_stand_in_stop(&wb.http);
    if (ks.server) test_kms_service_stop(&ks, 0);
    phx_tee_close(tee);
    test_devnet_close(&net);
    if (strcmp(dir + sizeof dir - 7, "XXXXXX") != 0) { /* mkdtemp made it */
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
    }
    return rc || test_failures ? 1 : 0;
}
