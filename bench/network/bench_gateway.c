/* bench/network driver: what the gateway adds to a call. A worker HTTP server
 * (a stand-in answering POST /v1/contracts/<id>/call with a small envelope-sized
 * JSON, since the point is the gateway's cost, not the contract's) and a
 * gateway in front of it, in one process on loopback. The same client (ours,
 * libcurl, a new connection per request) calls the worker directly and through
 * the gateway for SECONDS each, at 1 and 4 client threads; prints
 * "mode threads rps p50_us p99_us" lines. Not a test; never fails. */
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

typedef struct {
    const char *url;
    uint64_t until_ms;
    uint64_t *lat_us;
    size_t n, cap;
} runner_t;

static void *run(void *arg)
{
    runner_t *r = arg;
    const char body[] = "{\"input\":{\"pair\":\"ETH/USD\"}}";
    while (phx_monotonic_ms() < r->until_ms && r->n < r->cap) {
        phx_buf_t out = PHX_BUF_INIT;
        int status = 0;
        uint64_t t0 = phx_monotonic_ns();
        phx_err_t err = phx_http_fetch("POST", r->url, "application/json", body, sizeof body - 1,
                                       NULL, &status, &out, NULL);
        uint64_t dt = (phx_monotonic_ns() - t0) / 1000;
        phx_buf_free(&out);
        if (!err && status == 200) r->lat_us[r->n++] = dt;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void measure(const char *mode, const char *url, int threads, double secs)
{
    runner_t r[8];
    pthread_t t[8];
    uint64_t start = phx_monotonic_ms();
    for (int i = 0; i < threads; i++) {
        r[i] = (runner_t){.url = url, .until_ms = start + (uint64_t)(secs * 1000), .cap = 1u << 20};
        r[i].lat_us = malloc(r[i].cap * sizeof(uint64_t));
        pthread_create(&t[i], NULL, run, &r[i]);
    }
    size_t total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += r[i].n;
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
    printf("%s %d %.0f %llu %llu\n", mode, threads, total / elapsed,
           total ? (unsigned long long)all[total / 2] : 0ull,
           total ? (unsigned long long)all[total * 99 / 100] : 0ull);
    fflush(stdout);
    free(all);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 3;
    phx_log_set_level(PHX_LOG_ERROR);
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
        measure("direct", direct, threads[i], secs);
        measure("gateway", via, threads[i], secs);
    }
    phx_gateway_stop(g, 0);
    phx_http_server_stop(server, 0);
    phx_http_router_free(router);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) return 0;
    return 0;
}
