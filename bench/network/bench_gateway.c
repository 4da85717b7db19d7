/* bench/network driver, two modes.
 *
 * bench_gateway [SECONDS]: what the gateway's code adds to a call. A worker
 * HTTP server (a stand-in answering POST /v1/contracts/<id>/call with a small
 * envelope-sized JSON, since the point is the gateway's cost, not the
 * contract's) and a gateway in front of it, in one process on loopback. The
 * same client (ours, libcurl, a new connection per request) calls the worker
 * directly and through the gateway for SECONDS each, at 1 and 4 client
 * threads.
 *
 * bench_gateway e2e SECONDS GATEWAY_URL WORKER_URL CONTRACT_ID: end to end
 * on a running network (e2e.sh starts a 3-worker devnet): keep-alive clients
 * (one shared connection cache, so each client thread keeps its connection)
 * call the contract through the gateway at 1, 16 and 64 clients, and one
 * client calls one worker directly, beside one through the gateway, for the
 * gateway's added latency.
 *
 * Prints "mode clients rps p50_us p99_us failed busy" lines (busy: of the
 * failed, those answered 429). Not a test; never
 * fails. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phx/gateway.h"
#include "phx/net.h"

static const char ID[] = "0x1111111111111111111111111111111111111111111111111111111111111111";

static phx_err_t w_health(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    (void)ctx, (void)req, (void)e;
    resp->json = json_pack("{s:s}", "status", "ok");
    return PHX_OK;
}

static phx_err_t w_deploy(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    (void)ctx, (void)req, (void)e;
    resp->json = json_pack("{s:s}", "id", ID);
    return PHX_OK;
}

static phx_err_t w_call(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    (void)ctx, (void)e;
    json_t *in = req->json ? json_object_get(req->json, "input") : NULL;
    resp->json = json_pack("{s:s,s:O,s:s,s:s,s:I}", "kind", "direct", "output",
                           in ? in : json_null(), "contract_id", ID, "signature",
                           "0x"
                           "00000000000000000000000000000000000000000000000000000000000000000000"
                           "00000000000000000000000000000000000000000000000000000000000000",
                           "timestamp", (json_int_t)1764000000);
    return PHX_OK;
}

#define MAX_CLIENTS 64

typedef struct {
    const char *url;
    phx_http_conns_t *conns; /* NULL: a new connection per request */
    uint64_t until_ms;
    uint64_t *lat_us;
    size_t n, cap, failed, busy; /* busy: of the failed, answered 429 */
} runner_t;

static void *run(void *arg)
{
    runner_t *r = arg;
    const char body[] = "{\"input\":{\"pair\":\"ETH/USD\"}}";
    phx_http_client_opts_t co = {.conns = r->conns};
    while (phx_monotonic_ms() < r->until_ms && r->n < r->cap) {
        phx_buf_t out = PHX_BUF_INIT;
        int status = 0;
        uint64_t t0 = phx_monotonic_ns();
        phx_err_t err = phx_http_fetch("POST", r->url, "application/json", body, sizeof body - 1,
                                       &co, &status, &out, NULL);
        uint64_t dt = (phx_monotonic_ns() - t0) / 1000;
        phx_buf_free(&out);
        if (!err && status == 200)
            r->lat_us[r->n++] = dt;
        else
            r->failed++, r->busy += !err && status == 429; /* counted, not timed */
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void measure(const char *mode, const char *url, phx_http_conns_t *conns, int threads,
                    double secs)
{
    runner_t r[MAX_CLIENTS];
    pthread_t t[MAX_CLIENTS];
    if (threads > MAX_CLIENTS) threads = MAX_CLIENTS;
    uint64_t start = phx_monotonic_ms();
    for (int i = 0; i < threads; i++) {
        r[i] = (runner_t){.url = url,
                          .conns = conns,
                          .until_ms = start + (uint64_t)(secs * 1000),
                          .cap = 1u << 18};
        r[i].lat_us = malloc(r[i].cap * sizeof(uint64_t));
        pthread_create(&t[i], NULL, run, &r[i]);
    }
    size_t total = 0, failed = 0, busy = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += r[i].n;
        failed += r[i].failed;
        busy += r[i].busy;
    }
    double elapsed = (double)(phx_monotonic_ms() - start) / 1000.0;
    uint64_t *all = malloc((total ? total : 1) * sizeof(uint64_t));
    size_t k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, r[i].lat_us, r[i].n * sizeof(uint64_t));
        k += r[i].n;
        free(r[i].lat_us);
    }
    qsort(all, total, sizeof(uint64_t), cmp_u64);
    printf("%s %d %.0f %llu %llu %zu %zu\n", mode, threads, total / elapsed,
           total ? (unsigned long long)all[total / 2] : 0ull,
           total ? (unsigned long long)all[total * 99 / 100] : 0ull, failed, busy);
    fflush(stdout);
    free(all);
}

/* End to end on a running network: keep-alive clients through the gateway at
 * 1, 16 and 64; one client direct to a worker beside one through the gateway. */
static int e2e(double secs, const char *gateway, const char *worker, const char *id)
{
    phx_error_t e = {0};
    phx_http_conns_t *conns = NULL;
    if (phx_http_conns_new(&conns, &e)) {
        fprintf(stderr, "connections: %s\n", e.message);
        return 0;
    }
    char via[512], direct[512];
    snprintf(via, sizeof via, "%s/v1/contracts/%s/call", gateway, id);
    snprintf(direct, sizeof direct, "%s/v1/contracts/%s/call", worker, id);
    /* Warm up: each worker's warm sandbox for the contract, and the pools. */
    measure("warmup", via, conns, 4, secs / 3);
    measure("direct", direct, conns, 1, secs);
    int clients[] = {1, 16, 64};
    for (size_t i = 0; i < 3; i++)
        measure("gateway", via, conns, clients[i], secs);
    phx_http_conns_free(conns);
    return 0;
}

int main(int argc, char **argv)
{
    phx_log_set_level(PHX_LOG_ERROR);
    if (argc > 1 && !strcmp(argv[1], "e2e")) {
        if (argc != 6) {
            fprintf(stderr,
                    "usage: bench_gateway e2e SECONDS GATEWAY_URL WORKER_URL CONTRACT_ID\n");
            return 2;
        }
        return e2e(atof(argv[2]), argv[3], argv[4], argv[5]);
    }
    double secs = argc > 1 ? atof(argv[1]) : 3;
    phx_error_t e = {0};
    phx_http_router_t *router = NULL;
    phx_http_server_t *server = NULL;
    phx_http_server_opts_t so = {.max_connections = 256};
    if (phx_http_router_new(&router, &e) ||
        phx_http_router_add(router, "GET", "/healthz", w_health, NULL, 0, &e) ||
        phx_http_router_add(router, "POST", "/v1/contracts", w_deploy, NULL, 0, &e) ||
        phx_http_router_add(router, "POST", "/v1/contracts/:id/call", w_call, NULL, 0, &e) ||
        phx_http_server_start(router, &so, &server, &e)) {
        fprintf(stderr, "worker: %s\n", e.message);
        return 0;
    }
    char worker[64], dir[] = "/tmp/phx-bench-gw-XXXXXX";
    snprintf(worker, sizeof worker, "http://127.0.0.1:%u", phx_http_server_port(server));
    if (!mkdtemp(dir)) return 0;
    const char *workers[] = {worker};
    phx_gateway_opts_t go = {.dir = dir, .workers = workers, .worker_count = 1};
    phx_gateway_t *g = NULL;
    if (phx_gateway_start(&go, &g, &e)) {
        fprintf(stderr, "gateway: %s\n", e.message);
        return 0;
    }
    char direct[256], via[256];
    snprintf(direct, sizeof direct, "%s/v1/contracts/%s/call", worker, ID);
    snprintf(via, sizeof via, "%s/v1/contracts/%s/call", phx_gateway_url(g), ID);
    int threads[] = {1, 4};
    for (size_t i = 0; i < 2; i++) {
        measure("direct", direct, NULL, threads[i], secs);
        measure("gateway", via, NULL, threads[i], secs);
    }
    phx_gateway_stop(g, 0);
    phx_http_server_stop(server, 0);
    phx_http_router_free(router);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) return 0;
    return 0;
}
