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
#include "support/sim_quote.h"
#include "test.h"

static test_anvil_t node;
static void cleanup(void)
{
    test_anvil_stop(&node);
}

typedef struct {
    char address[43];
    int calls;
    phx_http_router_t *router;
    phx_http_server_t *server;
    char url[64];
} stand_in_t;

static phx_err_t w_health(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    (void)req, (void)e;
    resp->json = json_pack("{s:s,s:s}", "status", "ok", "address", ((stand_in_t *)ctx)->address);
    return PHX_OK;
}

static phx_err_t w_call(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    (void)req, (void)e;
    stand_in_t *w = ctx;
    __atomic_add_fetch(&w->calls, 1, __ATOMIC_SEQ_CST);
    resp->json = json_pack("{s:s,s:i}", "worker", w->address, "output", 1);
    return PHX_OK;
}

static int stand_in_start(stand_in_t *w, const uint8_t addr[20])
{
    char *hex = phx_hex_encode(addr, 20);
    snprintf(w->address, sizeof w->address, "%s", hex);
    free(hex);
    phx_error_t e = {0};
    if (phx_http_router_new(&w->router, &e) ||
        phx_http_router_add(w->router, "GET", "/healthz", w_health, w, 0, &e) ||
        phx_http_router_add(w->router, "POST", "/v1/contracts/:id/call", w_call, w, 0, &e) ||
        phx_http_server_start(w->router, NULL, &w->server, &e))
        return -1;
    snprintf(w->url, sizeof w->url, "http://127.0.0.1:%u", phx_http_server_port(w->server));
    return 0;
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

/* Governance admits the KMS with a genuine sim quote of its key in the KMS
 * domain (what `phx chain admit-kms` sends after verifying it). */
static phx_err_t admit_kms(phx_signer_t *gov, const phx_chain_deployment_t *dep, phx_tee_t *t,
                           phx_kms_t *k, phx_error_t *e)
{
    uint8_t addr[20], x[32], nonce[32], rd[64], coll_hash[32] = {0};
    phx_buf_t q = PHX_BUF_INIT;
    phx_kms_address(k, addr);
    phx_kms_x25519_pub(k, x);
    if (phx_random_bytes(nonce, 32)) return phx_fail(e, PHX_ERR_CRYPTO, "nonce");
    phx_chain_kms_report_data(addr, x, nonce, rd);
    phx_err_t err = phx_tee_quote(t, rd, &q, e);
    if (!err) err = phx_chain_admit_kms(gov, dep, addr, x, nonce, q.ptr, q.len, coll_hash, e);
    phx_buf_free(&q);
    return err;
}

int main(void)
{
    phx_error_t e = {0};
    char dir[] = "/tmp/phx-gw-chain-XXXXXX";
    if (phx_crypto_init() || !mkdtemp(dir)) return 1;
    atexit(cleanup);
    if (test_anvil_start(&node, NULL) != 0) {
        CHECK_MSG(0, "could not start anvil");
        return test_done("test_gateway_chain");
    }
    /* Chain and governance: contracts, a KMS node, this code allowed, a bond. */
    phx_rpc_t *rpc = NULL;
    phx_signer_t *gov = NULL;
    uint8_t gov_addr[20];
    phx_chain_deployment_t dep;
    CHECK_MSG(test_chain_deploy_dev(node.url, &rpc, &gov, &dep, &e) == PHX_OK, "%s", e.message);
    phx_signer_address(gov, gov_addr);

    char sim_dir[300];
    snprintf(sim_dir, sizeof sim_dir, "%s/sim", dir);
    phx_tee_config_t tc = {.sim_dir = sim_dir};
    phx_tee_t *tee = NULL;
    CHECK_MSG(phx_tee_open(PHX_TEE_SIM, &tc, &tee, &e) == PHX_OK, "%s", e.message);
    if (!tee || !gov) return test_done("test_gateway_chain");
    uint8_t mr[32];
    CHECK(test_tee_measurement_id(tee, mr, &e) == PHX_OK);

    phx_buf_t sim_root = PHX_BUF_INIT;
    phx_attest_verifier_t *verifier = NULL;
    CHECK(phx_tee_sim_root(tee, &sim_root, &e) == PHX_OK);
    CHECK(phx_attest_verifier_new(sim_root.ptr, sim_root.len, &verifier, &e) == PHX_OK);
    phx_kms_attest_t at = {verifier, NULL};
    phx_kms_registry_t *reg = NULL;
    CHECK(phx_kms_registry_open(node.url, &dep, &reg, &e) == PHX_OK);
    phx_kms_config_t cfg = {.verify_quote = phx_kms_verify_quote_attest,
                            .verify_ctx = &at,
                            .check_peer = phx_kms_registry_check,
                            .check_ctx = reg,
                            .chain_id = dep.chain_id};
    CHECK(phx_random_bytes(cfg.root, 32) == PHX_OK);
    memcpy(cfg.registry, dep.registry, 20);
    phx_kms_t *kms = NULL;
    phx_http_router_t *kms_router = NULL;
    phx_http_server_t *kms_server = NULL;
    CHECK(phx_kms_new(&cfg, &kms, &e) == PHX_OK);
    CHECK(phx_http_router_new(&kms_router, &e) == PHX_OK);
    CHECK(phx_kms_add_routes(kms, kms_router, &e) == PHX_OK);
    CHECK(phx_http_server_start(kms_router, NULL, &kms_server, &e) == PHX_OK);
    if (!kms_server) return test_done("test_gateway_chain");
    char kms_url[64];
    snprintf(kms_url, sizeof kms_url, "http://127.0.0.1:%u", phx_http_server_port(kms_server));
    uint8_t kms_addr[20];
    phx_kms_address(kms, kms_addr);
    const char amount[] = "1000000000000000000000";
    CHECK(test_chain_transact(gov, dep.registry, "setMeasurement(bytes32,bool)",
                              json_pack("[o,b]", phx_json_hex(mr, 32), 1), &e) == PHX_OK);
    CHECK_MSG(admit_kms(gov, &dep, tee, kms, &e) == PHX_OK, "admitKms: %s", e.message);
    CHECK(test_chain_transact(gov, dep.token, "approve(address,uint256)",
                              json_pack("[o,s]", phx_json_hex(dep.registry, 20), amount),
                              &e) == PHX_OK);
    CHECK(test_chain_transact(gov, dep.registry, "bond(uint256)", json_pack("[s]", amount), &e) ==
          PHX_OK);

    /* Worker A registers through the KMS (its quote binds its keys); B never does. */
    uint8_t a_sk[32], a_eth[20], a_xsk[32], a_xpub[32], b_eth[20];
    CHECK(phx_secp256k1_keygen(a_sk) == PHX_OK &&
          phx_eth_address_from_seckey(a_sk, a_eth) == PHX_OK);
    CHECK(phx_x25519_keygen(a_xsk, a_xpub) == PHX_OK);
    CHECK(phx_random_bytes(b_eth, 20) == PHX_OK);
    phx_kms_requester_t rq = {
        .kms_url = kms_url, .quote = test_sim_quote, .quote_ctx = tee, .x25519_sk = a_xsk};
    memcpy(rq.kms_address, kms_addr, 20);
    memcpy(rq.eth_address, a_eth, 20);
    memcpy(rq.x25519_pub, a_xpub, 32);
    json_t *regdoc = NULL;
    CHECK_MSG(phx_kms_request_registration(&rq, gov_addr, &regdoc, &e) == PHX_OK, "%s", e.message);
    if (regdoc)
        CHECK_MSG(
            test_chain_transact(
                gov, dep.registry, "registerWorker(address,bytes32,bytes32,bytes,bytes)",
                json_pack("[O,O,O,O,O]", json_object_get(regdoc, "worker"),
                          json_object_get(regdoc, "x25519"), json_object_get(regdoc, "nonce"),
                          json_object_get(regdoc, "quote"), json_object_get(regdoc, "signature")),
                &e) == PHX_OK,
            "registerWorker: %s", e.message);
    json_decref(regdoc);

    stand_in_t wa = {0}, wb = {0};
    CHECK(stand_in_start(&wa, a_eth) == 0 && stand_in_start(&wb, b_eth) == 0);
    const char *urls[] = {wb.url, wa.url};
    char gdir[300];
    snprintf(gdir, sizeof gdir, "%s/gw", dir);
    phx_gateway_opts_t o = {.dir = gdir,
                            .workers = urls,
                            .worker_count = 2,
                            .rpc_url = node.url,
                            .deployment = &dep,
                            .health_interval_ms = 60000};
    phx_gateway_t *g = NULL;
    CHECK_MSG(phx_gateway_start(&o, &g, &e) == PHX_OK, "%s", e.message);
    if (!g) return test_done("test_gateway_chain");
    const char *gw = phx_gateway_url(g);
    CHECK(phx_gateway_healthy_count(g) == 1);
    int ok = 0, status = 0;
    for (int i = 0; i < 10; i++)
        ok += call(gw, &status) == 0 && status == 200;
    printf("registered worker: %d calls, unregistered worker: %d calls\n", wa.calls, wb.calls);
    CHECK(ok == 10 && wa.calls == 10 && wb.calls == 0);

    char url[300];
    snprintf(url, sizeof url, "%s/v1/network", gw);
    json_t *net = NULL;
    CHECK(phx_http_json("GET", url, NULL, NULL, NULL, &net, &e) == PHX_OK);
    json_t *ws = json_object_get(net, "workers");
    CHECK(json_array_size(ws) == 2);
    CHECK(json_is_false(json_object_get(json_array_get(ws, 0), "registered")));
    CHECK(json_is_false(json_object_get(json_array_get(ws, 0), "in_pool")));
    CHECK(json_is_true(json_object_get(json_array_get(ws, 1), "registered")));
    char *mr_hex = phx_hex_encode(mr, 32);
    const char *shown = json_string_value(json_object_get(json_array_get(ws, 1), "measurement"));
    CHECK(shown && strcmp(shown, mr_hex) == 0);
    CHECK(json_array_size(json_object_get(net, "measurements")) == 1);
    free(mr_hex);
    json_decref(net);

    /* The operator deregisters A: it leaves the pool; nobody is left. */
    CHECK(test_chain_transact(gov, dep.registry, "deregisterWorker(address)",
                              json_pack("[o]", phx_json_hex(a_eth, 20)), &e) == PHX_OK);
    phx_gateway_check_workers(g);
    CHECK(phx_gateway_healthy_count(g) == 0);
    CHECK(call(gw, &status) == 0 && status == 503);
    CHECK(wa.calls == 10);

    phx_gateway_stop(g, 0);
    phx_http_server_stop(wa.server, 0);
    phx_http_server_stop(wb.server, 0);
    phx_http_router_free(wa.router);
    phx_http_router_free(wb.router);
    phx_http_server_stop(kms_server, 0);
    phx_http_router_free(kms_router);
    phx_kms_free(kms);
    phx_kms_registry_close(reg);
    phx_attest_verifier_free(verifier);
    phx_buf_free(&sim_root);
    phx_tee_close(tee);
    phx_signer_close(gov);
    phx_rpc_close(rpc);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return test_done("test_gateway_chain");
}
