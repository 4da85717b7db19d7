/* Tests for src/net: routing and error mapping without sockets, the token
 * buckets with a controlled clock, then the real server and client over
 * 127.0.0.1 on kernel-chosen ports: limits, rate limiting, timeouts, stop. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "phx/net.h"
#include "test.h"

/* ---- handlers --------------------------------------------------------------- */

static phx_err_t h_echo(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    (void)ctx;
    (void)e;
    const char *id = phx_http_param(req, "id");
    const char *nonce = phx_http_query(req, "nonce");
    resp->json = json_pack("{s:s,s:s,s:s?,s:s?,s:O?,s:s?}", "method", req->method, "path",
                           req->path, "id", id, "nonce", nonce, "body", req->json, "agent",
                           phx_http_header(req, "User-Agent"));
    return PHX_OK;
}

static phx_err_t h_fail(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    (void)ctx;
    (void)resp;
    const char *kind = phx_http_param(req, "kind");
    if (strcmp(kind, "verify") == 0) return phx_fail(e, PHX_ERR_VERIFY, "quote signature bad");
    if (strcmp(kind, "policy") == 0) return phx_fail(e, PHX_ERR_POLICY, "measurement not allowed");
    if (strcmp(kind, "missing") == 0) return phx_fail(e, PHX_ERR_NOT_FOUND, "no such contract");
    /* A handler's own size limit (code over 4 MiB, a blob too big): 413, not 429. */
    if (strcmp(kind, "toobig") == 0) return phx_fail(e, PHX_ERR_LIMIT, "code over 4 MiB");
    if (strcmp(kind, "teapot") == 0) {
        resp->status = 418;
        return phx_fail(e, PHX_ERR_STATE, "short and stout");
    }
    return phx_fail(e, PHX_ERR_INTERNAL, "boom");
}

static phx_err_t h_text(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    (void)e;
    (void)req;
    size_t n = ctx ? *(size_t *)ctx : 0;
    resp->content_type = "text/plain; version=0.0.4";
    for (size_t i = 0; i < n; i++)
        if (phx_buf_append_byte(&resp->text, 'a' + (char)(i % 26))) return PHX_ERR_NOMEM;
    if (!n && phx_buf_append_str(&resp->text, "phx_up 1\n")) return PHX_ERR_NOMEM;
    return PHX_OK;
}

static phx_err_t h_raw(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                       phx_error_t *e)
{
    (void)ctx;
    (void)e;
    resp->status = 201;
    resp->json =
        json_pack("{s:I,s:b}", "len", (json_int_t)req->body_len, "json", req->json != NULL);
    return PHX_OK;
}

static phx_err_t h_sleep(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                         phx_error_t *e)
{
    (void)ctx;
    (void)e;
    const char *ms = phx_http_query(req, "ms");
    usleep((useconds_t)(ms ? atoi(ms) : 100) * 1000);
    resp->json = json_pack("{s:b}", "slept", 1);
    return PHX_OK;
}

static phx_http_router_t *make_router(size_t *text_len)
{
    phx_http_router_t *r = NULL;
    phx_error_t e = {0};
    CHECK(phx_http_router_new(&r, &e) == PHX_OK);
    CHECK(phx_http_router_add(r, "GET", "/v1/contracts/:id/pubkey", h_echo, NULL, 0, &e) == 0);
    CHECK(phx_http_router_add(r, "POST", "/v1/contracts/:id/call", h_echo, NULL, 0, &e) == 0);
    CHECK(phx_http_router_add(r, "GET", "/v1/attestation", h_echo, NULL, 0, &e) == 0);
    CHECK(phx_http_router_add(r, "POST", "/v1/attestation", h_echo, NULL, 0, &e) == 0);
    CHECK(phx_http_router_add(r, "GET", "/fail/:kind", h_fail, NULL, 0, &e) == 0);
    CHECK(phx_http_router_add(r, "GET", "/metrics", h_text, text_len, 0, &e) == 0);
    CHECK(phx_http_router_add(r, "PUT", "/raw", h_raw, NULL, PHX_HTTP_RAW_BODY, &e) == 0);
    CHECK(phx_http_router_add(r, "GET", "/sleep", h_sleep, NULL, 0, &e) == 0);
    CHECK(phx_http_router_add(r, "GET", "/", h_echo, NULL, 0, &e) == 0);
    return r;
}

/* ---- routing without sockets ------------------------------------------------------- */

static json_t *reply_json(const phx_http_reply_t *rep)
{
    json_t *v = NULL;
    if (phx_json_parse((const char *)rep->body.ptr, rep->body.len, &v, NULL)) return NULL;
    return v;
}

static const char *error_code(json_t *v)
{
    return json_string_value(json_object_get(json_object_get(v, "error"), "code"));
}

static void test_router(void)
{
    phx_error_t e = {0};
    phx_http_router_t *r = make_router(NULL);
    phx_http_reply_t rep;
    json_t *v;

    /* Captures are decoded per segment, so %2F stays inside the id. */
    phx_http_router_dispatch(r, "GET", "/v1/contracts/0xab%2Fcd/pubkey?x=1&nonce=0x%41b+c", NULL, 0,
                             "1.2.3.4", NULL, &rep);
    CHECK(rep.status == 200);
    v = reply_json(&rep);
    CHECK(v && strcmp(json_string_value(json_object_get(v, "id")), "0xab/cd") == 0);
    CHECK(v && strcmp(json_string_value(json_object_get(v, "nonce")), "0xAb c") == 0);
    CHECK(v && strcmp(json_string_value(json_object_get(v, "path")),
                      "/v1/contracts/0xab/cd/pubkey") == 0);
    json_decref(v);
    phx_http_reply_free(&rep);

    /* JSON bodies are parsed for the handler. */
    const char *body = "{\"input\":{\"pair\":\"ETH/USD\"}}";
    phx_http_router_dispatch(r, "POST", "/v1/contracts/7/call", (const uint8_t *)body, strlen(body),
                             "c", NULL, &rep);
    v = reply_json(&rep);
    CHECK(rep.status == 200);
    CHECK(v && strcmp(json_string_value(json_object_get(
                          json_object_get(json_object_get(v, "body"), "input"), "pair")),
                      "ETH/USD") == 0);
    json_decref(v);
    phx_http_reply_free(&rep);

    /* Bad JSON: 400 with the parser's words. */
    phx_http_router_dispatch(r, "POST", "/v1/contracts/7/call", (const uint8_t *)"{\"a\":", 5, "c",
                             NULL, &rep);
    v = reply_json(&rep);
    CHECK(rep.status == 400 && v && strcmp(error_code(v), "invalid") == 0);
    json_decref(v);
    phx_http_reply_free(&rep);

    /* Unknown path 404, known path under another method 405 with Allow. */
    phx_http_router_dispatch(r, "GET", "/v1/nothing", NULL, 0, "c", NULL, &rep);
    v = reply_json(&rep);
    CHECK(rep.status == 404 && v && strcmp(error_code(v), "not_found") == 0);
    json_decref(v);
    phx_http_reply_free(&rep);
    phx_http_router_dispatch(r, "DELETE", "/v1/attestation", NULL, 0, "c", NULL, &rep);
    v = reply_json(&rep);
    CHECK(rep.status == 405 && v && strcmp(error_code(v), "method_not_allowed") == 0);
    CHECK_MSG(strcmp(rep.allow, "GET, POST") == 0, "allow=%s", rep.allow);
    json_decref(v);
    phx_http_reply_free(&rep);

    /* An empty segment or a trailing slash matches no capture. */
    phx_http_router_dispatch(r, "GET", "/v1/contracts//pubkey", NULL, 0, "c", NULL, &rep);
    CHECK(rep.status == 404);
    phx_http_reply_free(&rep);
    phx_http_router_dispatch(r, "GET", "/v1/attestation/", NULL, 0, "c", NULL, &rep);
    CHECK(rep.status == 404);
    phx_http_reply_free(&rep);
    phx_http_router_dispatch(r, "GET", "/", NULL, 0, "c", NULL, &rep);
    CHECK(rep.status == 200);
    phx_http_reply_free(&rep);

    /* Broken targets and methods are 400s, never crashes. */
    const char *bad_targets[] = {"", "v1/attestation", "/v1/%zz", "/v1/%4", "/a%00b", "/x?n=%0"};
    for (size_t i = 0; i < sizeof bad_targets / sizeof *bad_targets; i++) {
        phx_http_router_dispatch(r, "GET", bad_targets[i], NULL, 0, "c", NULL, &rep);
        CHECK_MSG(rep.status == 400, "%s -> %d", bad_targets[i], rep.status);
        phx_http_reply_free(&rep);
    }
    phx_http_router_dispatch(r, "get", "/", NULL, 0, "c", NULL, &rep);
    CHECK(rep.status == 400);
    phx_http_reply_free(&rep);

    /* Handler errors map to statuses and carry the code name and message. */
    struct {
        const char *kind;
        int status;
        const char *code;
        const char *msg;
    } cases[] = {
        {"verify", 403, "verify", "quote signature bad"},
        {"policy", 403, "policy", "measurement not allowed"},
        {"missing", 404, "not_found", "no such contract"},
        {"toobig", 413, "limit", "code over 4 MiB"},
        {"teapot", 418, "state", "short and stout"},
        {"other", 500, "internal", "boom"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char target[64];
        snprintf(target, sizeof target, "/fail/%s", cases[i].kind);
        phx_http_router_dispatch(r, "GET", target, NULL, 0, "c", NULL, &rep);
        v = reply_json(&rep);
        CHECK_MSG(rep.status == cases[i].status, "%s -> %d", cases[i].kind, rep.status);
        CHECK(v && strcmp(error_code(v), cases[i].code) == 0);
        CHECK(v &&
              strcmp(json_string_value(json_object_get(json_object_get(v, "error"), "message")),
                     cases[i].msg) == 0);
        json_decref(v);
        phx_http_reply_free(&rep);
    }

    /* Text responses keep their content type; raw routes see bytes, not JSON. */
    phx_http_router_dispatch(r, "GET", "/metrics", NULL, 0, "c", NULL, &rep);
    CHECK(rep.status == 200 && strcmp(rep.content_type, "text/plain; version=0.0.4") == 0);
    CHECK(rep.body.len == 9 && memcmp(rep.body.ptr, "phx_up 1\n", 9) == 0);
    phx_http_reply_free(&rep);
    phx_http_router_dispatch(r, "PUT", "/raw", (const uint8_t *)"not json", 8, "c", NULL, &rep);
    v = reply_json(&rep);
    CHECK(rep.status == 201 && v && json_integer_value(json_object_get(v, "len")) == 8);
    CHECK(v && json_is_false(json_object_get(v, "json")));
    json_decref(v);
    phx_http_reply_free(&rep);

    /* Malformed patterns are refused when added. */
    CHECK(phx_http_router_add(r, "GET", "no-slash", h_echo, NULL, 0, &e) == PHX_ERR_INVALID);
    CHECK(phx_http_router_add(r, "GET", "/a//b", h_echo, NULL, 0, &e) == PHX_ERR_INVALID);
    CHECK(phx_http_router_add(r, "GET", "/a/", h_echo, NULL, 0, &e) == PHX_ERR_INVALID);
    CHECK(phx_http_router_add(r, "GET", "/a/:", h_echo, NULL, 0, &e) == PHX_ERR_INVALID);
    CHECK(phx_http_router_add(r, "get", "/a", h_echo, NULL, 0, &e) == PHX_ERR_INVALID);
    phx_http_router_free(r);
}

/* ---- token buckets ---------------------------------------------------------------- */

static void test_ratelimit(void)
{
    phx_error_t e = {0};
    phx_ratelimit_t *rl = NULL;
    uint64_t retry = 0;
    CHECK(phx_ratelimit_new(2.0, 3.0, 64, &rl, &e) == PHX_OK);
    uint64_t t = 1000000;
    /* A burst of 3, then refusal with a retry hint of one token at 2/s. */
    CHECK(phx_ratelimit_take(rl, "10.0.0.1", t, &retry));
    CHECK(phx_ratelimit_take(rl, "10.0.0.1", t, &retry));
    CHECK(phx_ratelimit_take(rl, "10.0.0.1", t, &retry));
    CHECK(!phx_ratelimit_take(rl, "10.0.0.1", t, &retry));
    CHECK_MSG(retry == 500, "retry=%llu", (unsigned long long)retry);
    /* Another client is unaffected. */
    CHECK(phx_ratelimit_take(rl, "10.0.0.2", t, NULL));
    /* Half a second later one token is back, not two. */
    CHECK(phx_ratelimit_take(rl, "10.0.0.1", t + 500, NULL));
    CHECK(!phx_ratelimit_take(rl, "10.0.0.1", t + 500, NULL));
    /* A long pause refills to the burst, no more. */
    int ok = 0;
    for (int i = 0; i < 10; i++)
        ok += phx_ratelimit_take(rl, "10.0.0.1", t + 100000, NULL);
    CHECK(ok == 3);
    /* Long keys share a bucket by prefix rather than escaping the limit. */
    char long_a[200], long_b[200];
    memset(long_a, 'k', sizeof long_a - 1);
    long_a[sizeof long_a - 1] = '\0';
    memcpy(long_b, long_a, sizeof long_b);
    long_b[150] = 'z';
    ok = 0;
    for (int i = 0; i < 4; i++)
        ok += phx_ratelimit_take(rl, i % 2 ? long_a : long_b, t, NULL);
    CHECK(ok == 3);
    /* Many distinct clients fit in a bounded table; each still gets its burst. */
    for (int i = 0; i < 1000; i++) {
        char key[32];
        snprintf(key, sizeof key, "client-%d", i);
        CHECK(phx_ratelimit_take(rl, key, t + 200000 + (uint64_t)i, NULL));
    }
    CHECK(phx_ratelimit_new(0, 1, 8, &rl, &e) == PHX_ERR_RANGE);
    phx_ratelimit_free(rl);
}

/* ---- real server, real client ------------------------------------------------------ */

static char base_url[64];

static void url(char *out, size_t cap, const char *path)
{
    snprintf(out, cap, "%s%s", base_url, path);
}

typedef struct {
    char url[128];
    phx_err_t err;
    int status;
} bg_call_t;

static void *bg_get(void *arg)
{
    bg_call_t *c = arg;
    json_t *v = NULL;
    phx_http_client_opts_t o = {.timeout_ms = 10000};
    c->err = phx_http_json("GET", c->url, NULL, &o, &c->status, &v, NULL);
    json_decref(v);
    return NULL;
}

/* Send raw bytes and return the status line's code (or -1). */
static int raw_request(uint16_t port, const char *req, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += (size_t)n;
    }
    char buf[512] = {0};
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    close(fd);
    int code = -1;
    if (n > 12) sscanf(buf, "HTTP/1.%*d %d", &code);
    return code;
}

typedef struct {
    size_t bytes;
    int calls, status, stop_after;
} stream_sink_t;

static bool stream_sink(void *ctx, int status, const uint8_t *data, size_t len)
{
    stream_sink_t *k = ctx;
    (void)data;
    if (!len) return true; /* the idle poll */
    k->bytes += len;
    k->status = status;
    return !(++k->calls == k->stop_after);
}

static void test_server(void)
{
    phx_error_t e = {0};
    size_t big = 100000;
    phx_http_router_t *r = make_router(&big);
    phx_http_server_t *s = NULL;
    phx_http_server_opts_t so = {.max_body_bytes = 4096};
    CHECK(phx_http_server_start(r, &so, &s, &e) == PHX_OK);
    if (!s) {
        phx_http_router_free(r);
        return;
    }
    uint16_t port = phx_http_server_port(s);
    CHECK(port != 0);
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%u", (unsigned)port);
    printf("server on %s\n", base_url);
    char u[256];
    json_t *v = NULL;
    int status = 0;

    /* JSON round trip with path capture and query. */
    json_t *body = json_pack("{s:s}", "input", "secret-free");
    url(u, sizeof u, "/v1/contracts/42/call?nonce=0x01");
    CHECK(phx_http_json("POST", u, body, NULL, &status, &v, &e) == PHX_OK);
    CHECK(status == 200);
    CHECK(v && strcmp(json_string_value(json_object_get(v, "id")), "42") == 0);
    CHECK(v && strcmp(json_string_value(json_object_get(json_object_get(v, "body"), "input")),
                      "secret-free") == 0);
    CHECK(v && strcmp(json_string_value(json_object_get(v, "agent")), "phalanx/0.1") == 0);
    json_decref(v);
    v = NULL;

    /* Errors come back as PHX_ERR_REMOTE carrying the server's code and message. */
    url(u, sizeof u, "/fail/policy");
    memset(&e, 0, sizeof e);
    CHECK(phx_http_json("GET", u, NULL, NULL, &status, &v, &e) == PHX_ERR_REMOTE);
    CHECK(status == 403 && v == NULL);
    CHECK_MSG(strstr(e.message, "policy: measurement not allowed") != NULL, "%s", e.message);
    url(u, sizeof u, "/v1/none");
    CHECK(phx_http_json("GET", u, NULL, NULL, &status, &v, &e) == PHX_ERR_REMOTE && status == 404);

    /* A body over the limit is 413, by Content-Length and by chunks. */
    phx_buf_t huge = PHX_BUF_INIT;
    CHECK(phx_buf_append_byte(&huge, '"') == 0);
    for (int i = 0; i < 5000; i++)
        phx_buf_append_byte(&huge, 'x');
    phx_buf_append_byte(&huge, '"');
    phx_buf_t out = PHX_BUF_INIT;
    url(u, sizeof u, "/v1/contracts/1/call");
    CHECK(phx_http_fetch("POST", u, "application/json", huge.ptr, huge.len, NULL, &status, &out,
                         &e) == PHX_OK);
    CHECK_MSG(status == 413, "status %d", status);
    CHECK(strstr((const char *)out.ptr, "\"too_large\"") != NULL);
    phx_buf_reset(&out);
    /* Just under the limit still works. */
    url(u, sizeof u, "/raw");
    CHECK(phx_http_fetch("PUT", u, "application/octet-stream", huge.ptr, 4096, NULL, &status, &out,
                         &e) == PHX_OK &&
          status == 201);
    phx_buf_reset(&out);
    phx_buf_t chunked = PHX_BUF_INIT;
    phx_buf_printf(&chunked, "PUT /raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        phx_buf_printf(&chunked, "800\r\n");
        phx_buf_append(&chunked, huge.ptr, 0x800);
        phx_buf_printf(&chunked, "\r\n");
    }
    phx_buf_printf(&chunked, "0\r\n\r\n");
    int code = raw_request(port, (const char *)chunked.ptr, chunked.len);
    CHECK_MSG(code == 413, "chunked over limit -> %d", code);
    phx_buf_free(&chunked);
    phx_buf_free(&huge);

    /* Text responses; the client caps what it accepts. */
    url(u, sizeof u, "/metrics");
    CHECK(phx_http_fetch("GET", u, NULL, NULL, 0, NULL, &status, &out, &e) == PHX_OK);
    CHECK(status == 200 && out.len == big);
    phx_buf_reset(&out);
    phx_http_client_opts_t small = {.max_response_bytes = 10000};
    CHECK(phx_http_fetch("GET", u, NULL, NULL, 0, &small, &status, &out, &e) == PHX_ERR_LIMIT);
    CHECK(out.len == 0);
    /* Streamed to a callback instead of into out; false aborts the transfer. */
    stream_sink_t sk = {0};
    phx_http_client_opts_t streamed = {.on_data = stream_sink, .on_data_ctx = &sk};
    CHECK(phx_http_fetch("GET", u, NULL, NULL, 0, &streamed, &status, &out, &e) == PHX_OK);
    CHECK_MSG(sk.bytes == big && sk.status == 200 && sk.calls >= 1 && out.len == 0,
              "on_data: %zu of %zu bytes in %d calls, status %d", sk.bytes, (size_t)big, sk.calls,
              sk.status);
    stream_sink_t stop = {.stop_after = 1};
    streamed.on_data_ctx = &stop;
    CHECK(phx_http_fetch("GET", u, NULL, NULL, 0, &streamed, &status, &out, &e) == PHX_ERR_STATE);
    CHECK(stop.calls == 1 && out.len == 0);

    /* Client timeout against a slow handler. */
    url(u, sizeof u, "/sleep?ms=1500");
    phx_http_client_opts_t quick = {.timeout_ms = 300};
    uint64_t t0 = phx_monotonic_ms();
    CHECK(phx_http_json("GET", u, NULL, &quick, &status, &v, &e) == PHX_ERR_TIMEOUT);
    CHECK(phx_monotonic_ms() - t0 < 1400);

    /* Only http(s) URLs. */
    CHECK(phx_http_json("GET", "file:///etc/passwd", NULL, NULL, &status, &v, &e) ==
          PHX_ERR_INVALID);

    /* Concurrent requests are served side by side (thread per connection):
     * four 400 ms requests take well under 4 x 400 ms. */
    pthread_t th[4];
    bg_call_t calls[4];
    t0 = phx_monotonic_ms();
    for (int i = 0; i < 4; i++) {
        memset(&calls[i], 0, sizeof calls[i]);
        url(calls[i].url, sizeof calls[i].url, "/sleep?ms=400");
        pthread_create(&th[i], NULL, bg_get, &calls[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(calls[i].err == PHX_OK && calls[i].status == 200);
    }
    uint64_t took = phx_monotonic_ms() - t0;
    printf("4 concurrent 400 ms requests took %llu ms\n", (unsigned long long)took);
    CHECK(took < 1500);

    /* The server's own metrics, in Prometheus text. */
    phx_buf_t m = PHX_BUF_INIT;
    CHECK(phx_http_server_metrics(s, &m, &e) == PHX_OK);
    const char *mt = (const char *)m.ptr;
    CHECK(
        mt &&
        strstr(mt,
               "phx_http_requests_total{route=\"POST /v1/contracts/:id/call\",code=\"2xx\"} 1\n"));
    CHECK(mt && strstr(mt, "phx_http_requests_total{route=\"GET /fail/:kind\",code=\"4xx\"} 1\n"));
    CHECK(mt && strstr(mt, "phx_http_requests_total{route=\"unmatched\",code=\"4xx\"} 1\n"));
    /* Four concurrent sleeps are done; the one the client gave up on may still run. */
    const char *sl =
        mt ? strstr(mt, "phx_http_request_duration_seconds_count{route=\"GET /sleep\"} ") : NULL;
    CHECK(sl &&
          atoi(sl + strlen("phx_http_request_duration_seconds_count{route=\"GET /sleep\"} ")) >= 4);
    CHECK(mt && strstr(mt, "phx_http_refused_total{reason=\"too_large\"} 2\n"));
    CHECK(mt && strstr(mt, "# TYPE phx_http_in_flight gauge\nphx_http_in_flight "));
    phx_buf_free(&m);

    /* Graceful stop: a request in flight finishes, new connections are refused. */
    bg_call_t slow = {0};
    url(slow.url, sizeof slow.url, "/sleep?ms=700");
    pthread_t sth;
    pthread_create(&sth, NULL, bg_get, &slow);
    usleep(200000);
    t0 = phx_monotonic_ms();
    phx_http_server_stop(s, 5000);
    took = phx_monotonic_ms() - t0;
    pthread_join(sth, NULL);
    CHECK_MSG(slow.err == PHX_OK && slow.status == 200, "in-flight request: err %d status %d",
              slow.err, slow.status);
    CHECK(took < 3000);
    url(u, sizeof u, "/");
    CHECK(phx_http_json("GET", u, NULL, NULL, &status, &v, &e) == PHX_ERR_IO);
    phx_buf_free(&out);
    json_decref(body);
    phx_http_router_free(r);
}

/* The same server with a pool of event-loop threads: the API behaves the same,
 * and blocking handlers share the pool (the documented trade-off). */
static void test_server_pool(void)
{
    phx_error_t e = {0};
    phx_http_router_t *r = make_router(NULL);
    phx_http_server_t *s = NULL;
    phx_http_server_opts_t so = {.max_body_bytes = 4096, .threads = 2};
    CHECK(phx_http_server_start(r, &so, &s, &e) == PHX_OK);
    if (!s) {
        phx_http_router_free(r);
        return;
    }
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%u", (unsigned)phx_http_server_port(s));
    char u[256];
    json_t *v = NULL, *body = json_pack("{s:s}", "input", "x");
    int status = 0;
    url(u, sizeof u, "/v1/contracts/7/call?nonce=0x02");
    CHECK(phx_http_json("POST", u, body, NULL, &status, &v, &e) == PHX_OK && status == 200);
    CHECK(v && strcmp(json_string_value(json_object_get(v, "nonce")), "0x02") == 0);
    json_decref(v);
    v = NULL;
    phx_buf_t big = PHX_BUF_INIT, out = PHX_BUF_INIT;
    for (int i = 0; i < 5000; i++)
        phx_buf_append_byte(&big, 'x');
    CHECK(phx_http_fetch("PUT", u, "application/octet-stream", big.ptr, big.len, NULL, &status,
                         &out, &e) == PHX_OK &&
          status == 413);
    phx_buf_free(&big);
    phx_buf_free(&out);
    /* Four 300 ms handlers on two threads take at least two rounds. */
    pthread_t th[4];
    bg_call_t calls[4];
    uint64_t t0 = phx_monotonic_ms();
    for (int i = 0; i < 4; i++) {
        memset(&calls[i], 0, sizeof calls[i]);
        url(calls[i].url, sizeof calls[i].url, "/sleep?ms=300");
        pthread_create(&th[i], NULL, bg_get, &calls[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(calls[i].err == PHX_OK && calls[i].status == 200);
    }
    uint64_t took = phx_monotonic_ms() - t0;
    printf("pool of 2: four 300 ms requests took %llu ms\n", (unsigned long long)took);
    CHECK(took >= 590);
    /* Graceful stop with a request in flight. */
    bg_call_t slow = {0};
    url(slow.url, sizeof slow.url, "/sleep?ms=400");
    pthread_t sth;
    pthread_create(&sth, NULL, bg_get, &slow);
    usleep(150000);
    phx_http_server_stop(s, 5000);
    pthread_join(sth, NULL);
    CHECK(slow.err == PHX_OK && slow.status == 200);
    url(u, sizeof u, "/");
    CHECK(phx_http_json("GET", u, NULL, NULL, &status, &v, &e) == PHX_ERR_IO);
    json_decref(body);
    phx_http_router_free(r);
}

/* A peer that accepts and hangs up without answering. */
static void *hang_up_once(void *arg)
{
    int lfd = *(int *)arg;
    int c = accept(lfd, NULL, NULL);
    if (c >= 0) {
        char buf[1024];
        (void)!recv(c, buf, sizeof buf, 0);
        close(c);
    }
    return NULL;
}

/* The client tells "nothing was sent" (IO: safe to retry elsewhere) from "the
 * exchange broke after connecting" (REMOTE: the peer may have acted). */
static void test_client_errors(void)
{
    phx_error_t e = {0};
    json_t *v = NULL;
    int status = 0;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(lfd, 1) == 0);
    CHECK(getsockname(lfd, (struct sockaddr *)&sa, &len) == 0);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%u/", (unsigned)ntohs(sa.sin_port));
    pthread_t th;
    pthread_create(&th, NULL, hang_up_once, &lfd);
    json_t *body = json_pack("{s:i}", "x", 1);
    CHECK_MSG(phx_http_json("POST", u, body, NULL, &status, &v, &e) == PHX_ERR_REMOTE, "%s",
              e.message);
    CHECK(strstr(e.message, "connection broke") != NULL);
    pthread_join(th, NULL);
    close(lfd);
    /* Now nothing listens there: could not connect. */
    CHECK(phx_http_json("POST", u, body, NULL, &status, &v, &e) == PHX_ERR_IO);
    json_decref(body);
}

static void test_server_ratelimit(void)
{
    phx_error_t e = {0};
    phx_http_router_t *r = make_router(NULL);
    phx_http_server_t *s = NULL;
    /* One request per 10 s after a burst of 3: the 4th and 5th are refused. */
    phx_http_server_opts_t so = {.rate_per_s = 0.1, .rate_burst = 3};
    CHECK(phx_http_server_start(r, &so, &s, &e) == PHX_OK);
    if (!s) {
        phx_http_router_free(r);
        return;
    }
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%u/", (unsigned)phx_http_server_port(s));
    int ok = 0, limited = 0;
    for (int i = 0; i < 5; i++) {
        json_t *v = NULL;
        int status = 0;
        phx_err_t err = phx_http_json("GET", u, NULL, NULL, &status, &v, &e);
        if (err == PHX_OK) ok++;
        if (err == PHX_ERR_REMOTE && status == 429 && strstr(e.message, "rate_limited")) limited++;
        json_decref(v);
    }
    CHECK_MSG(ok == 3 && limited == 2, "ok %d limited %d", ok, limited);
    phx_buf_t m = PHX_BUF_INIT;
    CHECK(phx_http_server_metrics(s, &m, &e) == PHX_OK);
    CHECK(m.ptr && strstr((char *)m.ptr, "phx_http_refused_total{reason=\"rate_limited\"} 2\n"));
    CHECK(m.ptr &&
          strstr((char *)m.ptr, "phx_http_requests_total{route=\"GET /\",code=\"2xx\"} 3\n"));
    phx_buf_free(&m);
    phx_http_server_stop(s, 1000);

    /* A listen address that is not an IP is refused up front. */
    phx_http_server_opts_t bad = {.host = "localhost"};
    CHECK(phx_http_server_start(r, &bad, &s, &e) == PHX_ERR_INVALID);
    phx_http_router_free(r);
}

int main(void)
{
    static const test_case_t cases[] = {
        TEST_CASE(test_router),      TEST_CASE(test_ratelimit),
        TEST_CASE(test_server),      TEST_CASE(test_server_ratelimit),
        TEST_CASE(test_server_pool), TEST_CASE(test_client_errors),
    };
    return test_run("test_net", cases, TEST_COUNT(cases));
}
