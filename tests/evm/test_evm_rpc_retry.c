/* The JSON-RPC client retries transport failures only (issue 5): a real HTTP
 * server on a random loopback port answers each scenario and counts the
 * requests it receives. A JSON-RPC error, a malformed body or a wrong id is the
 * node's answer and must be asked once; a dropped connection, HTTP 503/429 or a
 * timeout is retried opts.retries times; a retry that succeeds returns the result.
 * phx_rpc_unreachable says which calls got no answer at all (what
 * phx.evm.send's chain_unavailable rests on). */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "phx/evm.h"
#include "test.h"

typedef enum {
    ANSWER_RESULT,     /* 200, {"result":"0x7a69"} */
    ANSWER_RPC_ERROR,  /* 200, {"error":{...}} */
    ANSWER_GARBAGE,    /* 200, not JSON */
    ANSWER_WRONG_ID,   /* 200, a result for another request */
    ANSWER_HTTP_503,   /* 503, empty */
    ANSWER_HTTP_429,   /* 429, empty */
    ANSWER_CLOSE,      /* connection closed without a reply */
    ANSWER_SILENT,     /* no reply for longer than the client waits */
    ANSWER_CLOSE_ONCE, /* first request: closed; later ones: the result */
} answer_t;

static int listen_fd = -1;
static _Atomic int scenario;
static _Atomic int requests;

/* Read one HTTP request (headers + Content-Length body); returns the JSON-RPC id or -1. */
static long read_request(int fd)
{
    char buf[8192];
    size_t len = 0;
    char *body = NULL;
    size_t want = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0) return -1;
        len += (size_t)n;
        buf[len] = 0;
        if (!body) {
            char *end = strstr(buf, "\r\n\r\n");
            if (!end) continue;
            body = end + 4;
            const char *cl = strcasestr(buf, "content-length:");
            want = cl ? (size_t)atol(cl + 15) : 0;
        }
        if ((size_t)(buf + len - body) >= want) break;
        if (len >= sizeof buf - 1) return -1;
    }
    const char *id = strstr(body, "\"id\":");
    return id ? atol(id + 5) : -1;
}

static void reply(int fd, int status, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, strlen(body));
    if (write(fd, head, (size_t)n) < 0 || write(fd, body, strlen(body)) < 0) return;
}

static void *serve_one(void *arg)
{
    int fd = (int)(intptr_t)arg;
    long id = read_request(fd);
    int nth = ++requests; /* counted before answering: the client cannot return first */
    char body[256];
    switch ((answer_t)scenario) {
    case ANSWER_CLOSE_ONCE:
        if (nth == 1) break;
        /* fall through */
    case ANSWER_RESULT:
        snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"result\":\"0x7a69\"}", id);
        reply(fd, 200, body);
        break;
    case ANSWER_RPC_ERROR:
        snprintf(body, sizeof body,
                 "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"error\":{\"code\":-32000,\"message\":\"header "
                 "not found\"}}",
                 id);
        reply(fd, 200, body);
        break;
    case ANSWER_GARBAGE:
        reply(fd, 200, "<html>bad gateway page</html>");
        break;
    case ANSWER_WRONG_ID:
        snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"result\":\"0x1\"}", id + 1);
        reply(fd, 200, body);
        break;
    case ANSWER_HTTP_503:
        reply(fd, 503, "");
        break;
    case ANSWER_HTTP_429:
        reply(fd, 429, "");
        break;
    case ANSWER_CLOSE:
        break;
    case ANSWER_SILENT: {
        struct timespec ts = {0, 600 * 1000 * 1000}; /* the client gives up after 150 ms */
        nanosleep(&ts, NULL);
        break;
    }
    }
    close(fd);
    return NULL;
}

static void *serve(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) return NULL; /* listen socket shut down: the test is over */
        pthread_t t;
        if (pthread_create(&t, NULL, serve_one, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
}

static int start_server(char *url, size_t url_len)
{
    struct sockaddr_in a = {0};
    socklen_t alen = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof a) ||
        listen(listen_fd, 16) || getsockname(listen_fd, (struct sockaddr *)&a, &alen))
        return -1;
    snprintf(url, url_len, "http://127.0.0.1:%d", ntohs(a.sin_port));
    return 0;
}

/* Wait (bounded) for requests to reach want: a silent server counts a request
 * only when its thread has read it, which may be after the client gave up. */
static int settle(int want)
{
    for (int i = 0; i < 250 && requests < want; i++) { /* up to 5 s on a loaded machine */
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return requests;
}

static void run(const char *name, answer_t what, phx_err_t want_err, int want_requests,
                bool want_unreachable, const char *url)
{
    phx_rpc_opts_t o = {150, 2, 5}; /* 150 ms per attempt, 2 retries, 5 ms then 10 ms apart */
    phx_rpc_t *rpc = NULL;
    phx_error_t e = {0};
    uint64_t id = 0;
    scenario = what;
    requests = 0;
    CHECK(phx_rpc_open(url, &o, &rpc, &e) == PHX_OK);
    CHECK_MSG(!phx_rpc_unreachable(rpc), "%s: unreachable before any call", name);
    phx_err_t err = phx_rpc_chain_id(rpc, &id, &e);
    int got = what == ANSWER_SILENT ? settle(want_requests) : requests;
    CHECK_MSG(err == want_err, "%s: error %d (%s), want %d", name, err, err ? e.message : "ok",
              want_err);
    CHECK_MSG(got == want_requests, "%s: %d requests, want %d", name, got, want_requests);
    CHECK_MSG(phx_rpc_unreachable(rpc) == want_unreachable, "%s: unreachable %d, want %d", name,
              phx_rpc_unreachable(rpc), want_unreachable);
    if (want_err == PHX_OK)
        CHECK_MSG(id == 31337, "%s: chain id %llu", name, (unsigned long long)id);
    printf("%-34s -> %-24s after %d request(s)\n", name, err ? e.message : "ok", got);
    phx_rpc_close(rpc);
}

int main(void)
{
    char url[64];
    pthread_t server;
    if (start_server(url, sizeof url) || pthread_create(&server, NULL, serve, NULL)) {
        CHECK_MSG(0, "cannot start the HTTP server");
        return test_done("test_evm_rpc_retry");
    }
    /* The node's answers: asked once. */
    run("JSON-RPC error object", ANSWER_RPC_ERROR, PHX_ERR_REMOTE, 1, false, url);
    run("200 with a body that is not JSON", ANSWER_GARBAGE, PHX_ERR_INVALID, 1, false, url);
    run("200 answering another id", ANSWER_WRONG_ID, PHX_ERR_INVALID, 1, false, url);
    run("result", ANSWER_RESULT, PHX_OK, 1, false, url);
    /* Transport failures: 1 + retries attempts. */
    run("connection closed, no reply", ANSWER_CLOSE, PHX_ERR_IO, 3, true, url);
    run("HTTP 503", ANSWER_HTTP_503, PHX_ERR_IO, 3, true, url);
    run("HTTP 429", ANSWER_HTTP_429, PHX_ERR_IO, 3, true, url);
    run("no reply within the timeout", ANSWER_SILENT, PHX_ERR_TIMEOUT, 3, true, url);
    run("closed once, then the result", ANSWER_CLOSE_ONCE, PHX_OK, 2, false, url);
    shutdown(listen_fd, SHUT_RDWR);
    close(listen_fd);
    pthread_join(server, NULL);
    /* Let the silent handlers finish before exit so the leak checker sees no thread stacks. */
    struct timespec ts = {0, 700 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return test_done("test_evm_rpc_retry");
}
