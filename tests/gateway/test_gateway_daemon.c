/* Gateway over real loopback sockets: three worker HTTP servers speaking the
 * worker API (a stand-in until `phx worker` exists; they run contracts as
 * "echo the input, name the worker"), a gateway in front of them, and a client.
 * Shows routing across workers, lazy re-deploy, retry when a worker dies,
 * health checks, 503 with none left, rate limiting, the content-addressed blob
 * store (and a damaged blob caught), and state surviving a restart. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phx/chain_owner.h"
#include "phx/crypto.h"
#include "phx/gateway.h"
#include "phx/net.h"
#include "support/stand_in.h"
#include "test.h"

#define NW 3

/* The contract owner's key: deploys, logs and blob puts are signed with it. */
static const uint8_t owner_sk[32] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
                                     7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};

/* A deploy the owner signed: the stand-ins name a contract keccak256(code). */
static char *signed_deploy(const char *code)
{
    phx_owner_op_t op = {.action = "deploy", .nonce = 1};
    uint8_t owner[20], d[32], sig[65];
    phx_keccak256(code, strlen(code), op.contract_id);
    phx_keccak256(code, strlen(code), op.code_hash);
    phx_eth_address_from_seckey(owner_sk, owner);
    if (phx_owner_op_digest(&op, d, NULL) || phx_owner_sign(d, owner_sk, sig, NULL)) return NULL;
    json_t *j = json_pack("{s:o,s:s,s:o,s:I,s:o}", "id", phx_json_hex(op.contract_id, 32), "code",
                          code, "owner", phx_json_hex(owner, 20), "nonce", (json_int_t)1,
                          "signature", phx_json_hex(sig, 65));
    char *text = j ? phx_json_dump(j, false) : NULL;
    json_decref(j);
    return text;
}

/* "owner=..&expires=..&signature=.." for an OwnerRequest of owner_sk. */
static void owner_query(const char *action, const uint8_t subject[32], char *out, size_t cap)
{
    uint8_t owner[20], d[32], sig[65];
    uint64_t exp = phx_now_ms() / 1000 + 300;
    phx_eth_address_from_seckey(owner_sk, owner);
    phx_owner_request_digest(action, subject, exp, d, NULL);
    phx_owner_sign(d, owner_sk, sig, NULL);
    char oh[41], sh[131];
    phx_hex_encode_to(oh, owner, 20);
    phx_hex_encode_to(sh, sig, 65);
    snprintf(out, cap, "owner=0x%s&expires=%llu&signature=0x%s", oh, (unsigned long long)exp, sh);
}

typedef struct {
    int index;
    pthread_mutex_t lock;
    char ids[16][67];
    int ncontracts;
    int calls, deploys;
    test_stand_in_t http;
} stand_in_t;

static phx_err_t w_deploy(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    stand_in_t *w = ctx;
    const char *code;
    if (phx_json_get_str(req->json, "code", &code, e)) return PHX_ERR_INVALID;
    uint8_t id[32];
    phx_keccak256(code, strlen(code), id); /* deterministic: every worker agrees */
    char *hex = phx_hex_encode(id, 32);
    pthread_mutex_lock(&w->lock);
    int known = 0;
    for (int i = 0; i < w->ncontracts; i++)
        known |= strcmp(w->ids[i], hex) == 0;
    if (!known && w->ncontracts < 16) snprintf(w->ids[w->ncontracts++], 67, "%s", hex);
    w->deploys++;
    pthread_mutex_unlock(&w->lock);
    resp->json = json_pack("{s:s}", "id", hex);
    free(hex);
    return PHX_OK;
}

static phx_err_t w_call(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    stand_in_t *w = ctx;
    const char *id = phx_http_param(req, "id");
    pthread_mutex_lock(&w->lock);
    int known = 0;
    for (int i = 0; i < w->ncontracts; i++)
        known |= strcmp(w->ids[i], id) == 0;
    if (known) w->calls++;
    pthread_mutex_unlock(&w->lock);
    if (!known) return phx_fail(e, PHX_ERR_NOT_FOUND, "no contract %s", id);
    json_t *input = json_object_get(req->json, "input");
    resp->json =
        json_pack("{s:{s:O,s:i},s:s,s:[s]}", "output", "input", input ? input : json_null(),
                  "worker", w->index, "request_id", "0x01", "logs", "ran");
    return PHX_OK;
}

static int stand_in_start(stand_in_t *w, int index)
{
    static const test_route_t routes[] = {{"POST", "/v1/contracts", w_deploy},
                                          {"POST", "/v1/contracts/:id/call", w_call}};
    memset(w, 0, sizeof *w);
    w->index = index;
    pthread_mutex_init(&w->lock, NULL);
    char addr[43];
    snprintf(addr, sizeof addr, "0x%040d", index + 1);
    return test_stand_in_start(&w->http, addr, routes, 2, w);
}

/* One request to the gateway; returns the status, *out the parsed body. */
static int req(const char *method, const char *base, const char *path, const char *body,
               json_t **out)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", base, path);
    phx_buf_t resp = PHX_BUF_INIT;
    int status = 0;
    phx_error_t e = {0};
    if (out) *out = NULL;
    if (phx_http_fetch(method, url, body ? "application/json" : NULL, body, body ? strlen(body) : 0,
                       NULL, &status, &resp, &e)) {
        fprintf(stderr, "%s %s: %s\n", method, url, e.message);
        status = -1;
    } else if (out && resp.len) {
        phx_json_parse((const char *)resp.ptr, resp.len, out, NULL);
    }
    phx_buf_free(&resp);
    return status;
}

static const char code[] = "export default async function (input) { return input; }";

/* What the cases share: the state directory, the stand-ins, the gateway in
 * front of them, and the deployed contract. */
static char dir[] = "/tmp/phx-gw-test-XXXXXX";
static bool made_dir;
static stand_in_t w[NW];
static const char *urls[NW];
static phx_gateway_opts_t o;
static phx_gateway_t *g;
static const char *gw;
static char idbuf[67];
static uint8_t want[32];
static char *want_hex;

/* Three stand-in workers and a gateway in front of them. */
static void test_start(void)
{
    phx_error_t e = {0};
    made_dir = mkdtemp(dir) != NULL;
    CHECK(made_dir);
    if (!made_dir) return;
    for (int i = 0; i < NW; i++) {
        CHECK(stand_in_start(&w[i], i) == 0);
        urls[i] = w[i].http.url;
    }
    o = (phx_gateway_opts_t){.dir = dir,
                             .workers = urls,
                             .worker_count = NW,
                             .health_interval_ms = 200,
                             .worker_timeout_ms = 5000};
    CHECK_MSG(phx_gateway_start(&o, &g, &e) == PHX_OK, "%s", e.message);
    if (!g) return;
    gw = phx_gateway_url(g);
    CHECK(phx_gateway_healthy_count(g) == NW);
}

static void test_deploy(void)
{
    phx_error_t e = {0};
    /* Deploy: unsigned is refused; the owner's is stored under its keccak256,
     * and the answer says so. */
    json_t *j = NULL;
    char body[512];
    snprintf(body, sizeof body, "{\"code\":\"%s\"}", code);
    CHECK(req("POST", gw, "/v1/contracts", body, NULL) == 403);
    char *signed_body = signed_deploy(code);
    CHECK(signed_body && req("POST", gw, "/v1/contracts", signed_body, &j) == 200);
    free(signed_body);
    const char *id = NULL, *ch = NULL;
    CHECK(j && !phx_json_get_str(j, "id", &id, NULL) &&
          !phx_json_get_str(j, "code_hash", &ch, NULL));
    phx_keccak256(code, strlen(code), want);
    want_hex = phx_hex_encode(want, 32);
    CHECK(ch && strcmp(ch, want_hex) == 0);
    if (id) snprintf(idbuf, sizeof idbuf, "%s", id);
    json_decref(j);
    char path[640];
    snprintf(path, sizeof path, "/v1/blobs/%s", want_hex);
    {
        char url[512];
        snprintf(url, sizeof url, "%s%s", gw, path);
        phx_buf_t b = PHX_BUF_INIT;
        int st = 0;
        CHECK(phx_http_fetch("GET", url, NULL, NULL, 0, NULL, &st, &b, &e) == PHX_OK);
        CHECK(st == 200 && b.len == strlen(code) && memcmp(b.ptr, code, b.len) == 0);
        phx_buf_free(&b);
    }
}

static void test_calls_spread(void)
{
    /* The signed deploy went to every worker (the gateway keeps no sealed
     * secrets to hand out later); calls spread over all three. */
    char path[640];
    snprintf(path, sizeof path, "/v1/contracts/%s/call", idbuf);
    json_t *j = NULL;
    int ok = 0;
    for (int i = 0; i < 30; i++) {
        CHECK(req("POST", gw, path, "{\"input\":{\"n\":7}}", &j) == 200);
        json_t *out = json_object_get(j, "output");
        ok += json_integer_value(json_object_get(json_object_get(out, "input"), "n")) == 7;
        json_decref(j);
    }
    CHECK(ok == 30);
    int total = 0;
    for (int i = 0; i < NW; i++) {
        printf("worker %d: %d calls, %d deploys\n", i, w[i].calls, w[i].deploys);
        CHECK(w[i].calls >= 5);
        CHECK(w[i].deploys == 1);
        total += w[i].calls;
    }
    CHECK(total == 30);
}

static void test_worker_dies(void)
{
    char path[640];
    snprintf(path, sizeof path, "/v1/contracts/%s/call", idbuf);
    /* A worker dies: the calls still succeed at once (retried on the next
     * worker), and the health round then takes it out of the rotation. */
    test_stand_in_stop(&w[1].http);
    int before = w[0].calls + w[2].calls;
    for (int i = 0; i < 10; i++)
        CHECK(req("POST", gw, path, "{\"input\":{\"n\":1}}", NULL) == 200);
    CHECK(w[0].calls + w[2].calls == before + 10);
    phx_gateway_check_workers(g);
    phx_gateway_check_workers(g);
    CHECK(phx_gateway_healthy_count(g) == NW - 1);
}

static void test_network_view(void)
{
    phx_error_t e = {0};
    json_t *j = NULL;
    /* The network view: workers with health, the contract, recent jobs. */
    CHECK(req("GET", gw, "/v1/network", NULL, &j) == 200);
    json_t *ws = json_object_get(j, "workers");
    CHECK(json_array_size(ws) == NW);
    CHECK(json_is_false(json_object_get(json_array_get(ws, 1), "healthy")));
    CHECK(json_is_true(json_object_get(json_array_get(ws, 0), "healthy")));
    CHECK(json_is_string(json_object_get(json_array_get(ws, 0), "address")));
    CHECK(json_array_size(json_object_get(j, "contracts")) == 1);
    /* Which contract was called when is its owner's: only a count here. */
    CHECK(json_object_get(j, "jobs") == NULL);
    CHECK(json_integer_value(json_object_get(j, "calls")) == 40);
    json_decref(j);
    /* Metrics: the server's per-route counters and ours. */
    {
        char url[300];
        snprintf(url, sizeof url, "%s/metrics", gw);
        phx_buf_t text = PHX_BUF_INIT;
        int st = 0;
        CHECK(phx_http_fetch("GET", url, NULL, NULL, 0, NULL, &st, &text, &e) == PHX_OK &&
              st == 200);
        CHECK(text.ptr && strstr((char *)text.ptr, "phx_gateway_workers_healthy 2\n"));
        CHECK(text.ptr && strstr((char *)text.ptr, "phx_gateway_calls_total 40\n"));
        CHECK(text.ptr &&
              strstr((char *)text.ptr, "route=\"POST /v1/contracts/:id/call\",code=\"2xx\"} 40\n"));
        phx_buf_free(&text);
    }
}

static void test_blob_put(void)
{
    phx_error_t e = {0};
    /* Any bytes by hash with PUT /v1/blobs, signed by a contract owner. */
    {
        char url[600], q[300];
        const char other[] = "export default () => 42;";
        uint8_t oh[32];
        phx_keccak256(other, sizeof other - 1, oh);
        owner_query("blob-put", oh, q, sizeof q);
        snprintf(url, sizeof url, "%s/v1/blobs?%s", gw, q);
        phx_buf_t text = PHX_BUF_INIT;
        int st = 0;
        CHECK(phx_http_fetch("PUT", url, "application/javascript", other, sizeof other - 1, NULL,
                             &st, &text, &e) == PHX_OK &&
              st == 201);
        uint8_t h[32];
        phx_keccak256(other, sizeof other - 1, h);
        char *hx = phx_hex_encode(h, 32);
        CHECK(text.ptr && strstr((char *)text.ptr, hx));
        free(hx);
        phx_buf_free(&text);
    }
}

static void test_logs(void)
{
    char path[640];
    json_t *j = NULL;
    /* Logs of a contract: its jobs with what the workers logged, for its owner. */
    snprintf(path, sizeof path, "/v1/contracts/%s/logs", idbuf);
    CHECK(req("GET", gw, path, NULL, NULL) == 403);
    {
        uint8_t idb[32] = {0};
        char q[300];
        phx_hex_decode_fixed(idbuf, idb, 32, NULL);
        owner_query("logs", idb, q, sizeof q);
        snprintf(path, sizeof path, "/v1/contracts/%s/logs?%s", idbuf, q);
    }
    CHECK(req("GET", gw, path, NULL, &j) == 200);
    json_t *jobs = json_object_get(j, "jobs");
    CHECK(json_array_size(jobs) == 40);
    CHECK(json_is_array(json_object_get(json_array_get(jobs, 0), "logs")));
    json_decref(j);
    /* An unknown contract is the workers' 404, passed through. */
    CHECK(req("POST", gw,
              "/v1/contracts/0x"
              "00000000000000000000000000000000"
              "00000000000000000000000000000000/call",
              "{}", NULL) == 404);
    CHECK(req("POST", gw, "/v1/contracts/nothex/call", "{}", NULL) == 400);
}

static void test_none_healthy(void)
{
    char path[640];
    /* No healthy worker left: 503, not a hang. */
    test_stand_in_stop(&w[0].http);
    test_stand_in_stop(&w[2].http);
    phx_gateway_check_workers(g); /* the pool wants two failed checks in a row */
    phx_gateway_check_workers(g);
    CHECK(phx_gateway_healthy_count(g) == 0);
    snprintf(path, sizeof path, "/v1/contracts/%s/call", idbuf);
    CHECK(req("POST", gw, path, "{}", NULL) == 503);
    phx_gateway_stop(g, 1000);
    g = NULL;
}

static void test_restart_keeps_state(void)
{
    phx_error_t e = {0};
    /* Restart from the same directory: the contract and its code are still there. */
    char path[640];
    json_t *j = NULL;
    CHECK(phx_gateway_start(&o, &g, &e) == PHX_OK);
    if (g) {
        gw = phx_gateway_url(g);
        snprintf(path, sizeof path, "/v1/contracts/%s", idbuf);
        CHECK(req("GET", gw, path, NULL, &j) == 200);
        const char *ch2 = NULL;
        CHECK(j && !phx_json_get_str(j, "code_hash", &ch2, NULL) && strcmp(ch2, want_hex) == 0);
        json_decref(j);
        /* A damaged blob is refused, never served. */
        char file[512];
        snprintf(file, sizeof file, "%s/blobs/%.2s/%s", dir, want_hex + 2, want_hex + 4);
        FILE *f = fopen(file, "r+");
        CHECK(f != NULL);
        if (f) fputc('X', f), fclose(f);
        snprintf(path, sizeof path, "/v1/blobs/%s", want_hex);
        int st = req("GET", gw, path, NULL, NULL);
        CHECK(st != 200 && st > 0);
        phx_buf_t b = PHX_BUF_INIT;
        char blobs[300];
        snprintf(blobs, sizeof blobs, "%s/blobs", dir);
        CHECK(phx_blob_get(blobs, want, &b, &e) == PHX_ERR_VERIFY);
        /* Putting the code again repairs it. */
        uint8_t h2[32];
        CHECK(phx_blob_put(blobs, (const uint8_t *)code, strlen(code), h2, &e) == PHX_OK);
        CHECK(phx_blob_get(blobs, want, &b, &e) == PHX_OK && b.len == strlen(code));
        phx_buf_free(&b);
        phx_gateway_stop(g, 0);
        g = NULL;
    }
}

static void test_rate_limit(void)
{
    phx_error_t e = {0};
    /* Per-client rate limit: a burst of 3, then 429. */
    o.rate_per_s = 1;
    o.rate_burst = 3;
    CHECK(phx_gateway_start(&o, &g, &e) == PHX_OK);
    if (g) {
        int limited = 0, passed = 0;
        for (int i = 0; i < 8; i++) {
            int st = req("GET", phx_gateway_url(g), "/healthz", NULL, NULL);
            limited += st == 429;
            passed += st != 429 && st > 0; /* 503 without workers still passed the limit */
        }
        printf("rate limit: %d passed, %d limited\n", passed, limited);
        CHECK(passed >= 3 && passed <= 4 && limited >= 4);
        phx_gateway_stop(g, 0);
        g = NULL;
    }
}

int main(void)
{
    static const test_case_t cases[] = {TEST_CASE_REQUIRED(test_start),
                                        TEST_CASE_REQUIRED(test_deploy),
                                        TEST_CASE_REQUIRED(test_calls_spread),
                                        TEST_CASE_REQUIRED(test_worker_dies),
                                        TEST_CASE(test_network_view),
                                        TEST_CASE(test_blob_put),
                                        TEST_CASE(test_logs),
                                        TEST_CASE_REQUIRED(test_none_healthy),
                                        TEST_CASE(test_restart_keeps_state),
                                        TEST_CASE(test_rate_limit)};
    int rc = test_run("test_gateway_daemon", cases, TEST_COUNT(cases));
    if (g) phx_gateway_stop(g, 0);
    for (int i = 0; i < NW; i++)
        test_stand_in_stop(&w[i].http);
    free(want_hex);
    if (made_dir) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
    }
    return rc || test_failures ? 1 : 0;
}
