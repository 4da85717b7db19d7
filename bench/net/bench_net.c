/* bench/net driver. `bench_net serve` runs our server with the routes the
 * benchmark calls (POST /v1/echo and POST /v1/contracts/:id/call return the
 * JSON body, as a stand-in worker; GET /healthz) and prints
 * its port; `bench_net load URL SECONDS THREADS` drives any such server with our
 * client and prints "rps N", "p50_us N", "p99_us N". */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phx/net.h"

static phx_err_t h_echo(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    (void)ctx;
    if (!req->json) return phx_fail(e, PHX_ERR_INVALID, "expected JSON");
    resp->json = json_deep_copy(req->json);
    return PHX_OK;
}

static phx_err_t h_health(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    (void)ctx, (void)req, (void)e;
    resp->json = json_pack("{s:b}", "ok", 1);
    return PHX_OK;
}

static int serve(unsigned threads)
{
    phx_http_router_t *r = NULL;
    phx_http_server_t *s = NULL;
    phx_error_t e = {0};
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    phx_log_set_level(PHX_LOG_WARN);
    if (phx_http_router_new(&r, &e) ||
        phx_http_router_add(r, "POST", "/v1/echo", h_echo, NULL, 0, &e) ||
        phx_http_router_add(r, "GET", "/healthz", h_health, NULL, 0, &e) ||
        phx_http_router_add(r, "POST", "/v1/contracts/:id/call", h_echo, NULL, 0, &e)) {
        fprintf(stderr, "bench_net: %s\n", e.message);
        return 1;
    }
    phx_http_server_opts_t o = {.max_connections = 256, .threads = threads};
    if (phx_http_server_start(r, &o, &s, &e)) {
        fprintf(stderr, "bench_net: %s\n", e.message);
        return 1;
    }
    printf("%u\n", (unsigned)phx_http_server_port(s));
    fflush(stdout);
    int sig;
    sigwait(&sigs, &sig);
    phx_http_server_stop(s, 1000);
    phx_http_router_free(r);
    return 0;
}

typedef struct {
    const char *url;
    uint64_t until_ms;
    uint64_t *lat_us;
    size_t n, cap;
    size_t errors;
} worker_t;

static void *load_thread(void *arg)
{
    worker_t *w = arg;
    json_t *body =
        json_pack("{s:s,s:s,s:i}", "contract_id",
                  "0x1111111111111111111111111111111111111111111111111111111111111111", "input",
                  "{\"pair\":\"ETH/USD\",\"source\":\"http://127.0.0.1/price\"}", "n", 42);
    while (phx_monotonic_ms() < w->until_ms) {
        uint64_t t0 = phx_monotonic_ns();
        json_t *out = NULL;
        int status = 0;
        if (phx_http_json("POST", w->url, body, NULL, &status, &out, NULL) != PHX_OK) w->errors++;
        json_decref(out);
        if (w->n == w->cap) {
            w->cap = w->cap ? 2 * w->cap : 4096;
            w->lat_us = realloc(w->lat_us, w->cap * sizeof *w->lat_us);
        }
        w->lat_us[w->n++] = (phx_monotonic_ns() - t0) / 1000;
    }
    json_decref(body);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int load(const char *url, double secs, int threads)
{
    worker_t *w = calloc((size_t)threads, sizeof *w);
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    uint64_t start = phx_monotonic_ms();
    for (int i = 0; i < threads; i++) {
        w[i].url = url;
        w[i].until_ms = start + (uint64_t)(secs * 1000);
        pthread_create(&th[i], NULL, load_thread, &w[i]);
    }
    size_t total = 0, errors = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += w[i].n;
        errors += w[i].errors;
    }
    double elapsed = (double)(phx_monotonic_ms() - start) / 1000.0;
    uint64_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, w[i].lat_us, w[i].n * sizeof *all);
        k += w[i].n;
        free(w[i].lat_us);
    }
    qsort(all, total, sizeof *all, cmp_u64);
    printf("rps %.0f\n", total / elapsed);
    printf("p50_us %llu\n", total ? (unsigned long long)all[total / 2] : 0ull);
    printf("p99_us %llu\n", total ? (unsigned long long)all[total * 99 / 100] : 0ull);
    printf("errors %zu\n", errors);
    free(all);
    free(w);
    free(th);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return serve(argc >= 3 ? (unsigned)atoi(argv[2]) : 0);
    if (argc >= 5 && strcmp(argv[1], "load") == 0)
        return load(argv[2], atof(argv[3]), atoi(argv[4]) > 0 ? atoi(argv[4]) : 1);
    fprintf(stderr, "usage: bench_net serve [POOL_THREADS] | bench_net load URL SECONDS THREADS\n");
    return 2;
}
