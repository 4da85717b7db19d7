/* Slowloris against the daemons' HTTP server (issue 10 item 3), on real
 * loopback sockets: 1,000 connections send a request line and then trickle
 * one header line at a time without ever finishing their headers, from 40
 * source addresses (127.0.1.1 .. 127.0.1.40, 25 each, so a per-client limit
 * alone does not explain the result). While they are held open, a separate
 * client (127.0.0.1) asks GET /healthz five times with a 10 s client timeout;
 * each must answer 200. The latency is printed, not asserted: a working server
 * answers in milliseconds, a server whose connection slots are all held never
 * answers at all. The flood is bounded (fixed count, stops itself). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "phx/net.h"
#include "test.h"

#define SLOW_CONNS 1000
#define PER_SOURCE 25

static phx_err_t h_health(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    (void)ctx;
    (void)req;
    (void)e;
    resp->json = json_pack("{s:b}", "ok", 1);
    return PHX_OK;
}

typedef struct {
    uint16_t port;
    int fds[SLOW_CONNS];
    int nopen;
    atomic_bool stop;
    atomic_int closed_by_server;
} flood_t;

static int slow_connect(uint16_t port, int source)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7F000100u + 1 + (uint32_t)source); /* 127.0.1.x */
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) ||
        (connect(fd, (struct sockaddr *)&dst, sizeof dst) && errno != EINPROGRESS)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send s on every connection still open; a failed send means the server
 * closed it. */
static void send_all(flood_t *f, const char *s)
{
    for (int i = 0; i < SLOW_CONNS; i++) {
        if (f->fds[i] < 0) continue;
        ssize_t n = send(f->fds[i], s, strlen(s), MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN) {
            close(f->fds[i]);
            f->fds[i] = -1;
            atomic_fetch_add(&f->closed_by_server, 1);
        }
    }
}

/* Trickle one header line per connection every 500 ms until told to stop
 * (bounded by the caller; at most 60 rounds whatever happens). */
static void *trickle(void *arg)
{
    flood_t *f = arg;
    for (int round = 0; round < 60 && !atomic_load(&f->stop); round++) {
        char line[64];
        snprintf(line, sizeof line, "X-Slow-%d: %d\r\n", round, round);
        send_all(f, line);
        for (int t = 0; t < 10 && !atomic_load(&f->stop); t++)
            usleep(50 * 1000);
    }
    return NULL;
}

static void test_flood(const phx_http_server_opts_t *so, const char *what)
{
    phx_http_router_t *r = NULL;
    phx_error_t e = {0};
    CHECK(phx_http_router_new(&r, &e) == PHX_OK);
    CHECK(phx_http_router_add(r, "GET", "/healthz", h_health, NULL, 0, &e) == PHX_OK);
    phx_http_server_t *s = NULL;
    CHECK_MSG(phx_http_server_start(r, so, &s, &e) == PHX_OK, "%s", e.message);
    if (!s) {
        phx_http_router_free(r);
        return;
    }
    static flood_t f;
    memset(&f, 0, sizeof f);
    f.port = phx_http_server_port(s);
    for (int i = 0; i < SLOW_CONNS; i++) {
        f.fds[i] = slow_connect(f.port, i / PER_SOURCE);
        f.nopen += f.fds[i] >= 0;
    }
    CHECK_MSG(f.nopen == SLOW_CONNS, "opened %d of %d slow connections", f.nopen, SLOW_CONNS);
    usleep(200 * 1000); /* let the connects complete */
    send_all(&f, "GET /healthz HTTP/1.1\r\nHost: victim\r\n");
    pthread_t th;
    pthread_create(&th, NULL, trickle, &f);
    sleep(1); /* the flood is in place */

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/healthz", (unsigned)f.port);
    phx_http_client_opts_t co = {.timeout_ms = 10000, .connect_timeout_ms = 10000};
    int ok = 0;
    double worst_ms = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = phx_monotonic_ns();
        int status = 0;
        json_t *out = NULL;
        phx_error_t he = {0};
        phx_err_t err = phx_http_json("GET", url, NULL, &co, &status, &out, &he);
        double ms = (double)(phx_monotonic_ns() - t0) / 1e6;
        if (ms > worst_ms) worst_ms = ms;
        printf("  %s: /healthz %d under %d slow connections: %s, status %d, %.1f ms\n", what, i + 1,
               SLOW_CONNS, err ? he.message : "ok", status, ms);
        ok += err == PHX_OK && status == 200 && json_is_true(json_object_get(out, "ok"));
        json_decref(out);
    }
    atomic_store(&f.stop, true);
    pthread_join(th, NULL);
    printf("%s: /healthz answered %d of 5 (worst %.1f ms); %d slow connections still open\n", what,
           ok, worst_ms, f.nopen - atomic_load(&f.closed_by_server));
    CHECK_MSG(ok == 5, "%s: /healthz answered %d of 5 during the flood", what, ok);
    for (int i = 0; i < SLOW_CONNS; i++)
        if (f.fds[i] >= 0) close(f.fds[i]);
    phx_http_server_stop(s, 1000);
    phx_http_router_free(r);
}

/* Read until the server closes the connection or max_ms passes (a bound on
 * the test, not a timing claim); true when it closed. Sends one header byte
 * every 200 ms meanwhile when trickle is set, as a slowloris client does. */
static bool closed_by_server(int fd, bool trickle, int max_ms)
{
    for (int waited = 0; waited < max_ms; waited += 200) {
        if (trickle) send(fd, "x", 1, MSG_NOSIGNAL);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 200) > 0) {
            char buf[4096];
            ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
        }
    }
    return false;
}

static phx_http_server_t *health_server(const phx_http_server_opts_t *so, phx_http_router_t **r)
{
    phx_error_t e = {0};
    *r = NULL;
    CHECK(phx_http_router_new(r, &e) == PHX_OK);
    CHECK(phx_http_router_add(*r, "GET", "/healthz", h_health, NULL, 0, &e) == PHX_OK);
    phx_http_server_t *s = NULL;
    CHECK_MSG(phx_http_server_start(*r, so, &s, &e) == PHX_OK, "%s", e.message);
    return s;
}

static int healthz(uint16_t port)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/healthz", (unsigned)port);
    phx_http_client_opts_t co = {.timeout_ms = 10000};
    int status = 0;
    json_t *out = NULL;
    phx_error_t e = {0};
    phx_http_json("GET", url, NULL, &co, &status, &out, &e);
    json_decref(out);
    return status;
}

static void test_header_deadline(void)
{
    /* Headers trickled a byte every 200 ms never finish: the connection is
     * closed at the 1 s header deadline although it is never idle. So is a
     * body trickled the same way at the body deadline. */
    phx_http_server_opts_t so = {.header_timeout_s = 1, .body_timeout_s = 1};
    phx_http_router_t *r;
    phx_http_server_t *s = health_server(&so, &r);
    if (!s) return;
    int fd = slow_connect(phx_http_server_port(s), 100);
    usleep(100 * 1000);
    const char *start = "GET /healthz HTTP/1.1\r\nX-Slow: ";
    send(fd, start, strlen(start), MSG_NOSIGNAL);
    CHECK_MSG(closed_by_server(fd, true, 8000), "trickled headers not cut at their deadline");
    close(fd);
    fd = slow_connect(phx_http_server_port(s), 100);
    usleep(100 * 1000);
    const char *h = "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n";
    send(fd, h, strlen(h), MSG_NOSIGNAL);
    CHECK_MSG(closed_by_server(fd, true, 8000), "trickled body not cut at its deadline");
    close(fd);
    /* A request sent at once is unaffected. */
    CHECK(healthz(phx_http_server_port(s)) == 200);
    phx_buf_t m = PHX_BUF_INIT;
    phx_error_t e = {0};
    CHECK(phx_http_server_metrics(s, &m, &e) == PHX_OK);
    CHECK(m.ptr && strstr((char *)m.ptr, "phx_http_refused_total{reason=\"deadline\"} 2\n"));
    phx_buf_free(&m);
    phx_http_server_stop(s, 1000);
    phx_http_router_free(r);
}

static void test_per_client_limit(void)
{
    /* Four connections per client: the fifth from 127.0.1.200 is closed at
     * once, while another client (127.0.0.1) is still served. */
    phx_http_server_opts_t so = {.per_client_connections = 4};
    phx_http_router_t *r;
    phx_http_server_t *s = health_server(&so, &r);
    if (!s) return;
    int fds[5];
    for (int i = 0; i < 5; i++) {
        fds[i] = slow_connect(phx_http_server_port(s), 199);
        usleep(50 * 1000);
    }
    CHECK(fds[4] >= 0 && closed_by_server(fds[4], false, 5000));
    CHECK(fds[0] >= 0 && !closed_by_server(fds[0], false, 400));
    CHECK(healthz(phx_http_server_port(s)) == 200);
    for (int i = 0; i < 5; i++)
        if (fds[i] >= 0) close(fds[i]);
    phx_http_server_stop(s, 1000);
    phx_http_router_free(r);
}

static phx_err_t h_sleep(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                         phx_error_t *e)
{
    (void)ctx;
    (void)req;
    (void)e;
    usleep(400 * 1000);
    resp->json = json_pack("{s:b}", "slept", 1);
    return PHX_OK;
}

typedef struct {
    uint16_t port;
    int status;
} sleeper_t;

static void *sleeper(void *arg)
{
    sleeper_t *sl = arg;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/sleep", (unsigned)sl->port);
    phx_http_client_opts_t co = {.timeout_ms = 10000};
    json_t *out = NULL;
    phx_error_t e = {0};
    phx_http_json("GET", url, NULL, &co, &sl->status, &out, &e);
    json_decref(out);
    return NULL;
}

static void test_stop_with_queue(void)
{
    /* One handler thread, three slow requests: one runs, two wait in the
     * queue. A stop with no grace lets the running one finish (200) and
     * answers the queued ones 503 without running them. */
    phx_http_router_t *r = NULL;
    phx_error_t e = {0};
    CHECK(phx_http_router_new(&r, &e) == PHX_OK);
    CHECK(phx_http_router_add(r, "GET", "/sleep", h_sleep, NULL, 0, &e) == PHX_OK);
    phx_http_server_opts_t so = {.handler_threads = 1};
    phx_http_server_t *s = NULL;
    CHECK(phx_http_server_start(r, &so, &s, &e) == PHX_OK);
    if (!s) return;
    sleeper_t sl[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        sl[i] = (sleeper_t){.port = phx_http_server_port(s)};
        pthread_create(&th[i], NULL, sleeper, &sl[i]);
    }
    /* Stop once all three are in: a wait for that state (up to 120 s), not a
     * time. At 5 s it raced on a loaded machine (load 40 on 2 cores): the stop
     * came before the third request was in, and the counts were 1 and 1. */
    for (int i = 0; i < 12000; i++) {
        phx_buf_t m = PHX_BUF_INIT;
        phx_http_server_metrics(s, &m, &e);
        bool all_in = m.ptr && strstr((char *)m.ptr, "phx_http_in_flight 3\n");
        phx_buf_free(&m);
        if (all_in) break;
        usleep(10 * 1000);
    }
    phx_http_server_stop(s, 0);
    int ok = 0, unavailable = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        ok += sl[i].status == 200;
        unavailable += sl[i].status == 503;
    }
    printf("stop with a queue: %d answered 200, %d answered 503\n", ok, unavailable);
    CHECK(ok == 1 && unavailable == 2);
    phx_http_router_free(r);
}

int main(void)
{
    /* The test process holds both ends of every connection. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4 * SLOW_CONNS) {
        rl.rlim_cur = rl.rlim_max < 4 * SLOW_CONNS ? rl.rlim_max : 4 * SLOW_CONNS;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* The server as the KMS and workers start it (all defaults), as the
     * gateway does (more handler threads), and with handlers on a pool of
     * event-loop threads. */
    phx_http_server_opts_t defaults = {0};
    test_flood(&defaults, "defaults");
    phx_http_server_opts_t gateway = {.handler_threads = 256};
    test_flood(&gateway, "gateway");
    phx_http_server_opts_t pool = {.threads = 2};
    test_flood(&pool, "pool of 2");
    test_header_deadline();
    test_per_client_limit();
    test_stop_with_queue();
    return test_done("test_slowloris");
}
