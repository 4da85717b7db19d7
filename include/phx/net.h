/* Network layer: the JSON-over-HTTP/1.1 server every Phalanx daemon serves
 * (kms, worker, gateway) and the client they use to talk to each other.
 * Server over libmicrohttpd, client over libcurl; errors on the wire are
 * {"error":{"code","message"}} with a fitting status (DESIGN.md §7). */
#ifndef PHX_NET_H
#define PHX_NET_H

#include "phx/core.h"
#include "phx/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- requests and responses ------------------------------------------------- */

#define PHX_HTTP_MAX_PARAMS 8 /* ":name" captures per route */
#define PHX_HTTP_MAX_QUERY 16 /* query arguments kept per request */

typedef struct {
    const char *name;  /* owned by the request */
    const char *value; /* percent-decoded; owned by the request */
} phx_http_kv_t;

/* What a handler sees. Everything is owned by the server and valid only for the
 * duration of the handler call. */
typedef struct {
    const char *method;  /* "GET", "POST", ... */
    const char *path;    /* percent-decoded path without the query */
    const uint8_t *body; /* raw body (NUL-terminated for convenience) */
    size_t body_len;
    const json_t *json; /* parsed body when the route takes JSON and a body came */
    const char *client; /* client address ("127.0.0.1"), the rate-limit key */
    phx_http_kv_t params[PHX_HTTP_MAX_PARAMS]; /* path captures, by route order */
    size_t nparams;
    phx_http_kv_t query[PHX_HTTP_MAX_QUERY];
    size_t nquery;
    void *conn; /* the server connection for header lookups; NULL in dispatch tests */
} phx_http_request_t;

/* Path capture ":name" of the matched route, or NULL. */
const char *phx_http_param(const phx_http_request_t *req, const char *name);
/* Query argument ("?nonce=0x.."), or NULL. The first one wins if repeated. */
const char *phx_http_query(const phx_http_request_t *req, const char *name);
/* Request header (case-insensitive), or NULL. */
const char *phx_http_header(const phx_http_request_t *req, const char *name);

/* What a handler fills. status defaults to 200. Set json (the response takes
 * the reference) or text + content_type (e.g. Prometheus text); not both. */
typedef struct phx_http_stream phx_http_stream_t;

/* A streamed body (server-sent events): the server sends the status and
 * headers, then calls fn(ctx, stream) once on the handler thread, which writes
 * the body piece by piece with phx_http_stream_write and returns when done
 * (that ends the body). fn owns ctx and must free it. When the client goes away
 * a write fails, so fn can stop work at once. Outside a server (dispatch tests,
 * fuzzers) fn runs inside phx_http_router_dispatch into the reply body. */
typedef void (*phx_http_stream_fn)(void *ctx, phx_http_stream_t *stream);

typedef struct {
    int status;
    json_t *json;
    phx_buf_t text;
    const char *content_type; /* static string; default application/json */
    uint32_t retry_after_s;   /* non-zero: sent as Retry-After (a 429 or 503) */
    /* Extra response headers: static, NULL-terminated name, value, name, value…
     * (the console's Content-Security-Policy). May be NULL. */
    const char *const *headers;
    phx_http_stream_fn stream; /* set instead of json/text for a streamed body */
    void *stream_ctx;
} phx_http_response_t;

/* Send len bytes of a streamed body now. PHX_ERR_IO when the client has gone
 * (the stream is dead; stop producing). Thread-safe with the server loop. */
phx_err_t phx_http_stream_write(phx_http_stream_t *s, const void *data, size_t len, phx_error_t *e);
/* True once the client has gone away. */
bool phx_http_stream_gone(phx_http_stream_t *s);

/* A handler returns PHX_OK and fills resp, or an error code with a message in e;
 * the server then answers {"error":{"code":phx_strerror(code),"message":...}}
 * with the status phx_http_status_for() gives, unless the handler set
 * resp->status to a 4xx/5xx itself. Handlers run on server threads, several at
 * once: they must be thread-safe. */
typedef phx_err_t (*phx_http_handler_fn)(void *ctx, const phx_http_request_t *req,
                                         phx_http_response_t *resp, phx_error_t *e);

/* The status code an error maps to: invalid/truncated/range 400, verify/policy
 * 403, not_found 404, state 409, limit 413, unsupported 501, remote 502,
 * timeout 504, anything else 500. */
int phx_http_status_for(phx_err_t code);

/* ---- router ---------------------------------------------------------------------- */

/* Route flags. */
#define PHX_HTTP_RAW_BODY 1u /* hand the body over as bytes; do not parse JSON */

/* A route table: method + path pattern -> handler. Patterns are literal
 * segments and ":name" segments that capture exactly one non-empty segment, e.g.
 * "/v1/contracts/:id/pubkey". The first matching route wins. A path that matches
 * a route under another method is 405 (with Allow), no match at all 404. */
typedef struct phx_http_router phx_http_router_t;

phx_err_t phx_http_router_new(phx_http_router_t **out, phx_error_t *e);
void phx_http_router_free(phx_http_router_t *r); /* accepts NULL */
/* method and pattern are copied. Fails on a malformed pattern or a full table. */
phx_err_t phx_http_router_add(phx_http_router_t *r, const char *method, const char *pattern,
                              phx_http_handler_fn fn, void *ctx, unsigned flags, phx_error_t *e);

/* Route one request and produce the response bytes, without any socket: what
 * the server does per request, exposed for tests and the fuzzer. target is the
 * raw request target ("/v1/x%20y?nonce=0x01"). The body is parsed as JSON unless
 * the route is RAW_BODY. Fills *status, the body (appended to out) and
 * content_type (a static string); allow is set for 405s. Never fails: every
 * problem becomes an error response. */
typedef struct {
    int status;
    const char *content_type;
    char allow[64]; /* "GET, POST" for a 405, else empty */
    phx_buf_t body;
    int route;              /* index of the matched route (phx_http_router_route_name), -1 none */
    uint32_t retry_after_s; /* the handler's Retry-After, 0 none */
    const char *const *headers; /* the handler's extra headers (static), or NULL */
    /* A streamed body still to produce (the server runs it after sending the
     * headers); NULL once run or when the body is all in `body`. */
    phx_http_stream_fn stream;
    void *stream_ctx;
} phx_http_reply_t;

/* "METHOD /pattern" of route index i (as added), or NULL. */
const char *phx_http_router_route_name(const phx_http_router_t *r, int i);
size_t phx_http_router_count(const phx_http_router_t *r);

void phx_http_router_dispatch(const phx_http_router_t *r, const char *method, const char *target,
                              const uint8_t *body, size_t body_len, const char *client, void *conn,
                              phx_http_reply_t *reply);
void phx_http_reply_free(phx_http_reply_t *reply);

/* Build an error body {"error":{"code","message"}} (appended to out). */
phx_err_t phx_http_error_body(phx_buf_t *out, const char *code, const char *message);

/* ---- per-client rate limiting ---------------------------------------------- */

/* Token buckets keyed by a string (client address or API key): each key gets
 * burst tokens, refilled at rate_per_s; a request takes one. A fixed number of
 * slots bounds memory whatever the number of clients: when full, the key idle
 * longest is forgotten. Thread-safe. */
typedef struct phx_ratelimit phx_ratelimit_t;

phx_err_t phx_ratelimit_new(double rate_per_s, double burst, size_t slots, phx_ratelimit_t **out,
                            phx_error_t *e);
void phx_ratelimit_free(phx_ratelimit_t *rl); /* accepts NULL */
/* True when the key may proceed now (and a token was taken). On refusal
 * *retry_after_ms (if not NULL) says when the next token comes. now_ms is a
 * monotonic clock reading (phx_monotonic_ms()), passed in so tests control time. */
bool phx_ratelimit_take(phx_ratelimit_t *rl, const char *key, uint64_t now_ms,
                        uint64_t *retry_after_ms);

/* ---- server ------------------------------------------------------------------------ */

#define PHX_HTTP_DEFAULT_MAX_CONNECTIONS 10000u
#define PHX_HTTP_DEFAULT_PER_CLIENT 256u

typedef struct {
    const char *host;      /* address to bind; default "127.0.0.1" */
    uint16_t port;         /* 0 = a free port chosen by the kernel */
    size_t max_body_bytes; /* larger bodies get 413; default 1 MiB */
    /* Open connections at once; default 10000. Each is a descriptor: the soft
     * RLIMIT_NOFILE is raised toward the hard limit, and the budget is cut to
     * fit under it. Connections wait on epoll, not on threads. */
    unsigned max_connections;
    /* Open connections per client address; default 256. Loopback clients
     * (tests, a devnet) all share 127.0.0.1: raise it there if needed. */
    unsigned per_client_connections;
    /* Deadlines that trickling bytes do not extend: a request's headers must
     * be complete header_timeout_s after the connection opened or the
     * previous answer was sent (default 10); its body body_timeout_s after
     * the headers (default 30), and an answer must be read within
     * body_timeout_s. Past a deadline the connection is closed. */
    unsigned header_timeout_s;
    unsigned body_timeout_s;
    unsigned timeout_s; /* idle connection timeout (reset by any byte); default 30 */
    double rate_per_s;  /* per-client requests/s; 0 = no limit */
    double rate_burst;  /* bucket size; default max(1, rate_per_s) */
    /* 0 (the default): complete requests run on handler_threads handler
     * threads (default 64), so handlers may block; more requests wait in a
     * queue. N: handlers run on the N event-loop threads themselves, cheaper
     * for short handlers, but one that blocks stalls its thread's connections. */
    unsigned threads;
    unsigned handler_threads;
} phx_http_server_opts_t;

typedef struct phx_http_server phx_http_server_t;

/* Start serving the router (borrowed: it must outlive the server). opts may be
 * NULL for defaults. */
phx_err_t phx_http_server_start(const phx_http_router_t *router, const phx_http_server_opts_t *opts,
                                phx_http_server_t **out, phx_error_t *e);
/* The server's own counters in Prometheus text format (appended to out), for a
 * daemon's GET /metrics:
 *   phx_http_requests_total{route="POST /v1/keys",code="2xx"}
 *   phx_http_request_duration_seconds_sum|_count{route="..."}
 *   phx_http_refused_total{reason="rate_limited"|"too_large"|"deadline"}
 *   phx_http_in_flight, phx_http_connections
 * Requests matching no route count under route="unmatched". */
phx_err_t phx_http_server_metrics(phx_http_server_t *s, phx_buf_t *out, phx_error_t *e);
/* The port actually bound (useful with port 0). */
uint16_t phx_http_server_port(const phx_http_server_t *s);
/* Graceful stop: stop accepting, let requests in flight finish for up to
 * grace_ms, then close everything and free s. Accepts NULL. */
void phx_http_server_stop(phx_http_server_t *s, uint64_t grace_ms);

/* ---- client ------------------------------------------------------------------------ */

/* libcurl's process-wide initialisation, done exactly once whoever asks first
 * (pthread_once: curl_global_init itself is not thread-safe). Every module that
 * makes a curl handle (this client, evm's JSON-RPC, the sandbox's fetch) calls
 * this first; the result of the one real call is returned every time. */
phx_err_t phx_net_curl_init(phx_error_t *e);

/* A connection cache that several threads share: requests made with it keep
 * their connections open and reuse them (HTTP/1.1 keep-alive) rather than a
 * new TCP connection per request. A connection found dead when it is picked
 * is replaced before anything is sent on it. Thread-safe. */
typedef struct phx_http_conns phx_http_conns_t;
phx_err_t phx_http_conns_new(phx_http_conns_t **out, phx_error_t *e);
/* After every request that used it has returned. Accepts NULL. */
void phx_http_conns_free(phx_http_conns_t *c);

typedef struct {
    long timeout_ms;            /* whole request; default 10000 */
    long connect_timeout_ms;    /* default 3000 */
    size_t max_response_bytes;  /* larger responses are PHX_ERR_LIMIT; default 4 MiB */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated; may be NULL */
    phx_http_conns_t *conns;    /* keep connections alive in this cache; NULL: one per request */
    /* Streamed responses (an upstream's SSE): when set, each piece of the body
     * goes to on_data as it arrives, with the response's status, instead of
     * into out (max_response_bytes still caps the total). Returning false
     * aborts the transfer at once (the connection is closed, not reused):
     * phx_http_fetch then returns PHX_ERR_STATE (the receiver stopped it).
     * While the peer is silent, on_data is also called with len 0 about once
     * a second (data NULL), so a stalled transfer can be stopped too. */
    bool (*on_data)(void *ctx, int status, const uint8_t *data, size_t len);
    void *on_data_ctx;
} phx_http_client_opts_t;

/* One request with a raw body (may be NULL/0) and content type. Any HTTP status
 * is success at this level: *status gets it, the body is appended to out.
 * Could not connect (nothing was sent) is PHX_ERR_IO; connected but the
 * exchange broke (the peer may have acted) PHX_ERR_REMOTE; a deadline passed
 * PHX_ERR_TIMEOUT; an oversize response PHX_ERR_LIMIT. The distinction is what
 * lets a caller retry a POST elsewhere only when that cannot run it twice.
 * Only http:// and https:// URLs; no redirects. */
phx_err_t phx_http_fetch(const char *method, const char *url, const char *content_type,
                         const void *body, size_t body_len, const phx_http_client_opts_t *opts,
                         int *status, phx_buf_t *out, phx_error_t *e);

/* JSON in, JSON out. body may be NULL (no body). On 2xx *out gets the parsed
 * response (new reference; NULL for an empty body). On any other status the
 * result is PHX_ERR_REMOTE with the server's error code and message in e, and
 * *status (if not NULL) says which. */
phx_err_t phx_http_json(const char *method, const char *url, const json_t *body,
                        const phx_http_client_opts_t *opts, int *status, json_t **out,
                        phx_error_t *e);

/* ---- ports -------------------------------------------------------------------- */

/* A TCP port on 127.0.0.1 that nothing was bound to when this ran, or -1. For
 * a child that must be given its port up front; racy by nature (another
 * process may bind it first), so callers retry or fail with a clear error. */
int phx_net_port_pick(void);

#ifdef __cplusplus
}
#endif
#endif
