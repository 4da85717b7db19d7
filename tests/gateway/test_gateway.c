/* Gateway groundwork with real loopback servers standing in for workers
 * (each a src/net server with /healthz and POST /v1/call that counts its
 * calls): round-robin, failover when a worker is unreachable or answers 503
 * or 402 (and which 402 is the answer when none takes the call),
 * no failover for a POST whose outcome is unknown (timeout, 500), failover for
 * GETs, health checks taking a dead worker out and bringing it back; and the
 * content-addressed blob store. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phx/crypto.h"
#include "phx/gateway.h"
#include "test.h"

typedef struct {
    int id;
    atomic_int calls; /* POST /v1/call handled */
    atomic_int mode;  /* 0 ok, 1 answer 503, 2 answer 500, 3 sleep 1500 ms, 4 unhealthy,
                         5 answer 402, 6 answer 402 naming a required amount */
    phx_http_router_t *router;
    phx_http_server_t *server;
    uint16_t port;
    char url[64];
} fake_worker_t;

static phx_err_t h_health(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    (void)req;
    fake_worker_t *w = ctx;
    if (atomic_load(&w->mode) == 4) return phx_fail(e, PHX_ERR_STATE, "draining");
    resp->json = json_pack("{s:b}", "ok", 1);
    return PHX_OK;
}

static phx_err_t h_call(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    fake_worker_t *w = ctx;
    int mode = atomic_load(&w->mode);
    if (mode == 1) {
        resp->status = 503;
        return phx_fail(e, PHX_ERR_LIMIT, "busy: did not run");
    }
    if (mode == 5 || mode == 6) { /* payment required: nothing ran */
        resp->status = 402;
        resp->json = json_pack("{s:{s:s,s:s},s:{s:i}}", "error", "code", "payment_required",
                               "message", "pay", "payment", "worker", w->id);
        if (mode == 6)
            json_object_set_new(json_object_get(resp->json, "payment"), "required_cumulative",
                                json_string("5"));
        return PHX_OK;
    }
    atomic_fetch_add(&w->calls, 1);
    if (mode == 2) return phx_fail(e, PHX_ERR_INTERNAL, "contract crashed");
    if (mode == 3) usleep(1500 * 1000);
    resp->json = json_pack("{s:i,s:O?}", "worker", w->id, "echo", req->json);
    return PHX_OK;
}

static phx_err_t h_contract_call(void *ctx, const phx_http_request_t *req,
                                 phx_http_response_t *resp, phx_error_t *e)
{
    (void)e;
    fake_worker_t *w = ctx;
    atomic_fetch_add(&w->calls, 1);
    resp->json = json_pack("{s:i,s:s,s:O?}", "worker", w->id, "contract", phx_http_param(req, "id"),
                           "echo", req->json);
    return PHX_OK;
}

static void worker_start(fake_worker_t *w, int id, uint16_t port)
{
    phx_error_t e = {0};
    w->id = id;
    atomic_init(&w->calls, 0);
    atomic_init(&w->mode, 0);
    CHECK(phx_http_router_new(&w->router, &e) == PHX_OK);
    CHECK(phx_http_router_add(w->router, "GET", "/healthz", h_health, w, 0, &e) == PHX_OK);
    CHECK(phx_http_router_add(w->router, "POST", "/v1/call", h_call, w, 0, &e) == PHX_OK);
    CHECK(phx_http_router_add(w->router, "GET", "/v1/call", h_call, w, 0, &e) == PHX_OK);
    CHECK(phx_http_router_add(w->router, "POST", "/v1/contracts/:id/call", h_contract_call, w, 0,
                              &e) == PHX_OK);
    phx_http_server_opts_t o = {.port = port};
    CHECK(phx_http_server_start(w->router, &o, &w->server, &e) == PHX_OK);
    w->port = phx_http_server_port(w->server);
    snprintf(w->url, sizeof w->url, "http://127.0.0.1:%u", (unsigned)w->port);
}

static void worker_stop(fake_worker_t *w)
{
    phx_http_server_stop(w->server, 2000);
    w->server = NULL;
}

static int forward(phx_gw_pool_t *p, const char *method, int *status, char *used)
{
    json_t *body = strcmp(method, "POST") == 0 ? json_pack("{s:s}", "input", "x") : NULL,
           *out = NULL;
    phx_error_t e = {0};
    phx_err_t err = phx_gw_pool_forward(p, method, "/v1/call", body, status, &out, used, 64, &e);
    int who = out ? (int)json_integer_value(json_object_get(out, "worker")) : -1;
    json_decref(out);
    json_decref(body);
    return err ? -(int)err - 100 : who;
}

static void test_pool(void)
{
    phx_error_t e = {0};
    fake_worker_t w[3];
    for (int i = 0; i < 3; i++)
        worker_start(&w[i], i + 1, 0);
    phx_gw_pool_opts_t o = {.request_timeout_ms = 500, .down_after = 2};
    phx_gw_pool_t *p = NULL;
    CHECK(phx_gw_pool_new(&o, &p, &e) == PHX_OK);
    for (int i = 0; i < 3; i++)
        CHECK(phx_gw_pool_add(p, w[i].url, &e) == PHX_OK);
    CHECK(phx_gw_pool_add(p, w[0].url, &e) == PHX_OK); /* no duplicate */
    CHECK(phx_gw_pool_add(p, "ftp://x", &e) == PHX_ERR_INVALID);
    phx_gw_pool_check(p);
    CHECK(phx_gw_pool_healthy(p) == 3);

    /* Round-robin. */
    int status = 0;
    char used[64];
    for (int i = 0; i < 6; i++)
        CHECK(forward(p, "POST", &status, used) > 0 && status == 200);
    for (int i = 0; i < 3; i++)
        CHECK_MSG(atomic_load(&w[i].calls) == 2, "worker %d: %d calls", i,
                  atomic_load(&w[i].calls));

    /* Worker 2 goes away: calls fail over (nothing was sent to it), and it is
     * out of rotation at once. */
    uint16_t port2 = w[1].port;
    worker_stop(&w[1]);
    int before = atomic_load(&w[0].calls) + atomic_load(&w[2].calls);
    for (int i = 0; i < 4; i++)
        CHECK(forward(p, "POST", &status, used) > 0 && status == 200);
    CHECK(atomic_load(&w[0].calls) + atomic_load(&w[2].calls) == before + 4);
    CHECK(phx_gw_pool_healthy(p) == 2);

    /* 503 means the worker did not run it: try another. */
    atomic_store(&w[0].mode, 1);
    for (int i = 0; i < 3; i++)
        CHECK(forward(p, "POST", &status, used) == 3 && status == 200);
    atomic_store(&w[0].mode, 0);

    /* 402 (payment required) ran nothing either: another worker (one of the
     * operator the voucher pays) may take it. */
    atomic_store(&w[0].mode, 5);
    for (int i = 0; i < 3; i++)
        CHECK(forward(p, "POST", &status, used) == 3 && status == 200);
    /* When none takes it the caller gets a 402, the one naming the required
     * amount (the voucher's own operator's terms), whichever came first. */
    atomic_store(&w[2].mode, 6);
    for (int i = 0; i < 2; i++) {
        json_t *body = json_pack("{s:s}", "input", "x"), *out = NULL;
        CHECK(phx_gw_pool_forward(p, "POST", "/v1/call", body, &status, &out, used, 64, &e) ==
                  PHX_OK &&
              status == 402);
        const json_t *pay = json_object_get(out, "payment");
        CHECK_MSG(json_integer_value(json_object_get(pay, "worker")) == 3 &&
                      json_object_get(pay, "required_cumulative"),
                  "the 402 with the required amount is the answer");
        json_decref(out);
        json_decref(body);
    }
    atomic_store(&w[0].mode, 0);
    atomic_store(&w[2].mode, 0);

    /* A 500 from a POST is the answer: the contract ran, it is not re-run. */
    atomic_store(&w[2].mode, 2);
    int calls0 = atomic_load(&w[0].calls), calls2 = atomic_load(&w[2].calls);
    int got500 = 0;
    for (int i = 0; i < 2; i++) {
        status = 0;
        int who = forward(p, "POST", &status, used);
        if (who >= 0 && status == 500 && strcmp(used, w[2].url) == 0) got500++;
    }
    CHECK_MSG(got500 == 1, "one of two POSTs lands on worker 3 and returns its 500 (%d)", got500);
    CHECK(atomic_load(&w[0].calls) + atomic_load(&w[2].calls) == calls0 + calls2 + 2);
    /* A GET is safe to repeat: its 500 fails over. */
    for (int i = 0; i < 2; i++)
        CHECK(forward(p, "GET", &status, used) == 1 && status == 200);
    atomic_store(&w[2].mode, 0);

    /* A POST that times out is not retried elsewhere (it may have run). */
    atomic_store(&w[0].mode, 3);
    calls2 = atomic_load(&w[2].calls);
    int timeouts = 0;
    for (int i = 0; i < 2; i++) {
        int r = forward(p, "POST", &status, used);
        if (r == -(int)PHX_ERR_TIMEOUT - 100) timeouts++;
    }
    CHECK(timeouts == 1 && atomic_load(&w[2].calls) == calls2 + 1);
    atomic_store(&w[0].mode, 0);
    usleep(1200 * 1000); /* let the slow handler finish */

    /* Health checks: a worker failing /healthz goes down after down_after
     * rounds, and comes back once it answers again; worker 2 comes back too. */
    atomic_store(&w[2].mode, 4);
    phx_gw_pool_check(p);
    CHECK(phx_gw_pool_healthy(p) == 2); /* one failure is not enough */
    phx_gw_pool_check(p);
    CHECK(phx_gw_pool_healthy(p) == 1);
    atomic_store(&w[2].mode, 0);
    phx_http_router_free(w[1].router);
    worker_start(&w[1], 2, port2);
    phx_gw_pool_check(p);
    CHECK(phx_gw_pool_healthy(p) == 3);
    json_t *st = phx_gw_pool_status(p);
    CHECK(json_array_size(st) == 3);
    CHECK(json_is_true(json_object_get(json_array_get(st, 1), "healthy")));
    CHECK(json_integer_value(json_object_get(json_array_get(st, 0), "checks")) == 4);
    json_decref(st);

    /* Background checks notice a stop on their own. */
    phx_gw_pool_t *bg = NULL;
    phx_gw_pool_opts_t bo = {.health_interval_ms = 50, .down_after = 1};
    CHECK(phx_gw_pool_new(&bo, &bg, &e) == PHX_OK);
    CHECK(phx_gw_pool_add(bg, w[1].url, &e) == PHX_OK);
    CHECK(phx_gw_pool_start(bg, &e) == PHX_OK);
    worker_stop(&w[1]);
    int waited = 0;
    while (phx_gw_pool_healthy(bg) != 0 && waited++ < 100)
        usleep(20 * 1000);
    CHECK(phx_gw_pool_healthy(bg) == 0);
    phx_gw_pool_free(bg);

    /* Nobody healthy: a clear state error. */
    phx_gw_pool_t *empty = NULL;
    CHECK(phx_gw_pool_new(NULL, &empty, &e) == PHX_OK);
    json_t *out = NULL;
    CHECK(phx_gw_pool_forward(empty, "POST", "/v1/call", NULL, &status, &out, NULL, 0, &e) ==
          PHX_ERR_STATE);
    phx_gw_pool_free(empty);

    phx_gw_pool_free(p);
    worker_stop(&w[0]);
    worker_stop(&w[2]);
    for (int i = 0; i < 3; i++)
        phx_http_router_free(w[i].router);
}

static void test_blobs(void)
{
    phx_error_t e = {0};
    char dir[] = "/tmp/phx-blobs-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char store[300];
    snprintf(store, sizeof store, "%s/blobs", dir);
    const char code[] = "export default async function (input) { return {price: 1}; }";
    uint8_t h[32], want[32], h2[32];
    CHECK(phx_blob_put(store, (const uint8_t *)code, sizeof code - 1, h, &e) == PHX_OK);
    phx_keccak256(code, sizeof code - 1, want);
    CHECK(memcmp(h, want, 32) == 0);
    CHECK(phx_blob_put(store, (const uint8_t *)code, sizeof code - 1, h2, &e) ==
          PHX_OK); /* idempotent */
    phx_buf_t got = PHX_BUF_INIT;
    CHECK(phx_blob_get(store, h, &got, &e) == PHX_OK);
    CHECK(got.len == sizeof code - 1 && memcmp(got.ptr, code, got.len) == 0);
    phx_buf_free(&got);
    /* A file altered on disk is refused, not served. */
    char hex[65], path[400];
    phx_hex_encode_to(hex, h, 32);
    snprintf(path, sizeof path, "%s/%.2s/%s", store, hex, hex + 2);
    CHECK(phx_file_write_atomic(path, "export default () => 'evil'", 27, 0644, &e) == PHX_OK);
    CHECK(phx_blob_get(store, h, &got, &e) == PHX_ERR_VERIFY && got.len == 0);
    phx_buf_free(&got);
    uint8_t none[32] = {0};
    CHECK(phx_blob_get(store, none, &got, &e) == PHX_ERR_NOT_FOUND);
    phx_buf_free(&got);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    if (phx_crypto_init()) return 1;
    phx_log_set_level(PHX_LOG_WARN);
    static const test_case_t cases[] = {
        TEST_CASE(test_pool),
        TEST_CASE(test_blobs),
    };
    return test_run("test_gateway", cases, TEST_COUNT(cases));
}
