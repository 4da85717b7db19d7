/* HTTP routing without sockets: parse a raw request target, match it against a
 * table of method + path patterns, parse the JSON body, call the handler and
 * turn its result or error into response bytes. The server (server.c) calls
 * this per request; the fuzzer (fuzz/net_router.c) calls it directly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "phx/net.h"

#define MAX_ROUTES 64
#define MAX_SEGMENTS 32
#define MAX_TARGET_BYTES 4096
#define MAX_METHOD_BYTES 16

typedef struct {
    char name[160]; /* "METHOD /pattern", for metrics */
    char method[MAX_METHOD_BYTES + 1];
    char *segments[MAX_SEGMENTS]; /* owned; ":name" captures */
    size_t nsegments;
    phx_http_handler_fn fn;
    void *ctx;
    unsigned flags;
} route_t;

struct phx_http_router {
    route_t routes[MAX_ROUTES];
    size_t nroutes;
};

int phx_http_status_for(phx_err_t code)
{
    switch (code) {
    case PHX_OK:
        return 200;
    case PHX_ERR_INVALID:
    case PHX_ERR_TRUNCATED:
    case PHX_ERR_RANGE:
        return 400;
    case PHX_ERR_VERIFY:
    case PHX_ERR_POLICY:
        return 403;
    case PHX_ERR_NOT_FOUND:
        return 404;
    case PHX_ERR_STATE:
        return 409;
    case PHX_ERR_LIMIT: /* a size or count limit of the request: 413 Content Too Large.
                         * "Slow down" is 429 and the server's rate limiter says it. */
        return 413;
    case PHX_ERR_UNSUPPORTED:
        return 501;
    case PHX_ERR_REMOTE:
        return 502;
    case PHX_ERR_TIMEOUT:
        return 504;
    default:
        return 500;
    }
}

phx_err_t phx_http_router_new(phx_http_router_t **out, phx_error_t *e)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return phx_fail(e, PHX_ERR_NOMEM, "router");
    return PHX_OK;
}

void phx_http_router_free(phx_http_router_t *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->nroutes; i++)
        for (size_t j = 0; j < r->routes[i].nsegments; j++)
            free(r->routes[i].segments[j]);
    free(r);
}

/* An HTTP method is a token (RFC 9110 §9.1); we only need letters. */
static bool method_ok(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > MAX_METHOD_BYTES) return false;
    for (size_t i = 0; i < n; i++)
        if (m[i] < 'A' || m[i] > 'Z') return false;
    return true;
}

phx_err_t phx_http_router_add(phx_http_router_t *r, const char *method, const char *pattern,
                              phx_http_handler_fn fn, void *ctx, unsigned flags, phx_error_t *e)
{
    if (r->nroutes == MAX_ROUTES) return phx_fail(e, PHX_ERR_LIMIT, "route table full");
    if (!method_ok(method)) return phx_fail(e, PHX_ERR_INVALID, "bad method \"%s\"", method);
    if (!fn) return phx_fail(e, PHX_ERR_INVALID, "route %s without a handler", pattern);
    if (pattern[0] != '/') return phx_fail(e, PHX_ERR_INVALID, "pattern must start with /");
    route_t *rt = &r->routes[r->nroutes];
    memset(rt, 0, sizeof *rt);
    strcpy(rt->method, method);
    snprintf(rt->name, sizeof rt->name, "%s %s", method, pattern);
    rt->fn = fn;
    rt->ctx = ctx;
    rt->flags = flags;
    const char *p = pattern + 1;
    /* "/" alone is the route with no segments. */
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || (p[0] == ':' && n == 1) || rt->nsegments == MAX_SEGMENTS) goto bad;
        rt->segments[rt->nsegments] = strndup(p, n);
        if (!rt->segments[rt->nsegments]) goto bad;
        rt->nsegments++;
        if (!slash) break;
        p = slash + 1;
        if (!*p) goto bad; /* trailing slash */
    }
    r->nroutes++;
    return PHX_OK;
bad:
    for (size_t j = 0; j < rt->nsegments; j++)
        free(rt->segments[j]);
    memset(rt, 0, sizeof *rt);
    return phx_fail(e, PHX_ERR_INVALID, "bad route pattern \"%s\"", pattern);
}

const char *phx_http_router_route_name(const phx_http_router_t *r, int i)
{
    return i >= 0 && (size_t)i < r->nroutes ? r->routes[i].name : NULL;
}

size_t phx_http_router_count(const phx_http_router_t *r)
{
    return r->nroutes;
}

const char *phx_http_param(const phx_http_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].name, name) == 0) return req->params[i].value;
    return NULL;
}

const char *phx_http_query(const phx_http_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].name, name) == 0) return req->query[i].value;
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) into dst (which may alias s: decoding only shrinks),
 * NUL-terminate. A NUL byte or a broken escape is refused, so every decoded
 * piece is a clean C string. plus_is_space for query strings. */
static bool pct_decode(const char *s, size_t n, char *dst, bool plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (n - i < 3) return false;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) return false;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == '\0') return false;
        dst[o++] = c;
    }
    dst[o] = '\0';
    return true;
}

/* The parsed target: one allocation holds the decoded path and segments. */
typedef struct {
    char *store;
    char *path;
    char *segments[MAX_SEGMENTS];
    size_t nsegments;
    phx_http_kv_t query[PHX_HTTP_MAX_QUERY];
    size_t nquery;
} target_t;

static phx_err_t parse_target(const char *target, target_t *t, phx_error_t *e)
{
    memset(t, 0, sizeof *t);
    size_t len = strlen(target);
    if (len == 0 || target[0] != '/')
        return phx_fail(e, PHX_ERR_INVALID, "request target must start with /");
    if (len > MAX_TARGET_BYTES) return phx_fail(e, PHX_ERR_LIMIT, "request target too long");
    const char *q = strchr(target, '?');
    size_t path_len = q ? (size_t)(q - target) : len;
    /* Layout: decoded path | segments | query pieces; each fits in its raw size + 1. */
    t->store = malloc(2 * len + 4);
    if (!t->store) return phx_fail(e, PHX_ERR_NOMEM, "target");
    char *seg_store = t->store + path_len + 1;
    char *query_store = seg_store + path_len + 1;
    t->path = t->store;
    if (!pct_decode(target, path_len, t->path, false))
        return phx_fail(e, PHX_ERR_INVALID, "bad percent-encoding in path");
    /* Split the raw path so an encoded "/" (%2F) stays inside its segment. */
    const char *p = target + 1, *end = target + path_len;
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);
        if (t->nsegments == MAX_SEGMENTS) return phx_fail(e, PHX_ERR_LIMIT, "path too deep");
        if (!pct_decode(p, n, seg_store, false))
            return phx_fail(e, PHX_ERR_INVALID, "bad percent-encoding in path");
        t->segments[t->nsegments++] = seg_store;
        seg_store += strlen(seg_store) + 1;
        if (!slash) break;
        p = slash + 1;
        if (p == end) { /* trailing slash: an empty last segment, which matches nothing */
            if (t->nsegments == MAX_SEGMENTS) return phx_fail(e, PHX_ERR_LIMIT, "path too deep");
            *seg_store = '\0';
            t->segments[t->nsegments++] = seg_store++;
        }
    }
    if (!q) return PHX_OK;
    p = q + 1;
    end = target + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop > p) {
            if (t->nquery == PHX_HTTP_MAX_QUERY)
                return phx_fail(e, PHX_ERR_LIMIT, "too many query arguments");
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            const char *kend = eq ? eq : stop;
            char *name = query_store;
            if (!pct_decode(p, (size_t)(kend - p), name, true))
                return phx_fail(e, PHX_ERR_INVALID, "bad percent-encoding in query");
            query_store += strlen(name) + 1;
            char *value = query_store;
            if (eq) {
                if (!pct_decode(eq + 1, (size_t)(stop - eq - 1), value, true))
                    return phx_fail(e, PHX_ERR_INVALID, "bad percent-encoding in query");
            } else {
                *value = '\0';
            }
            query_store += strlen(value) + 1;
            t->query[t->nquery].name = name;
            t->query[t->nquery].value = value;
            t->nquery++;
        }
        if (!amp) break;
        p = amp + 1;
    }
    return PHX_OK;
}

static bool route_matches(const route_t *rt, const target_t *t, phx_http_request_t *req)
{
    if (rt->nsegments != t->nsegments) return false;
    size_t nparams = 0;
    for (size_t i = 0; i < rt->nsegments; i++) {
        const char *want = rt->segments[i], *got = t->segments[i];
        if (want[0] == ':') {
            if (got[0] == '\0' || nparams == PHX_HTTP_MAX_PARAMS) return false;
            if (req) {
                req->params[nparams].name = want + 1;
                req->params[nparams].value = got;
            }
            nparams++;
        } else if (strcmp(want, got) != 0) {
            return false;
        }
    }
    if (req) req->nparams = nparams;
    return true;
}

phx_err_t phx_http_error_body(phx_buf_t *out, const char *code, const char *message)
{
    json_t *o =
        json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message ? message : "");
    if (!o) {
        /* Only when message is not valid UTF-8: say so rather than echo it. */
        o = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", "(unprintable message)");
        if (!o) return PHX_ERR_NOMEM;
    }
    char *s = phx_json_dump(o, false);
    json_decref(o);
    if (!s) return PHX_ERR_NOMEM;
    phx_err_t err = phx_buf_append_str(out, s);
    free(s);
    return err;
}

static void reply_error(phx_http_reply_t *reply, int status, const char *code, const char *message)
{
    reply->status = status;
    reply->content_type = "application/json";
    phx_buf_reset(&reply->body);
    if (phx_http_error_body(&reply->body, code, message)) reply->status = 500;
}

static void append_allow(char *allow, size_t cap, const char *method)
{
    if (strstr(allow, method)) return; /* methods are whole words; good enough for a header */
    size_t n = strlen(allow);
    snprintf(allow + n, cap - n, "%s%s", n ? ", " : "", method);
}

void phx_http_router_dispatch(const phx_http_router_t *r, const char *method, const char *target,
                              const uint8_t *body, size_t body_len, const char *client, void *conn,
                              phx_http_reply_t *reply)
{
    phx_error_t e = {0};
    target_t t;
    json_t *json = NULL;
    phx_http_response_t resp = {0};
    memset(reply, 0, sizeof *reply);
    reply->content_type = "application/json";
    reply->route = -1;

    if (!method_ok(method)) {
        reply_error(reply, 400, "invalid", "bad method");
        memset(&t, 0, sizeof t);
        goto out;
    }
    phx_err_t err = parse_target(target, &t, &e);
    if (err) {
        reply_error(reply, err == PHX_ERR_LIMIT ? 414 : 400, phx_strerror(err), e.message);
        goto out;
    }
    phx_http_request_t req;
    memset(&req, 0, sizeof req);
    const route_t *chosen = NULL;
    for (size_t i = 0; i < r->nroutes && !chosen; i++) {
        const route_t *rt = &r->routes[i];
        if (!route_matches(rt, &t, NULL)) continue;
        /* HEAD is answered by GET routes by the server, so it is not ours to refuse. */
        if (strcmp(rt->method, method) == 0) {
            chosen = rt;
            route_matches(rt, &t, &req);
        } else {
            append_allow(reply->allow, sizeof reply->allow, rt->method);
        }
    }
    if (!chosen) {
        if (reply->allow[0])
            reply_error(reply, 405, "method_not_allowed", "method not allowed for this path");
        else
            reply_error(reply, 404, "not_found", "no such endpoint");
        goto out;
    }
    reply->allow[0] = '\0';
    reply->route = (int)(chosen - r->routes);
    if (body_len && !(chosen->flags & PHX_HTTP_RAW_BODY)) {
        if ((err = phx_json_parse((const char *)body, body_len, &json, &e))) {
            reply_error(reply, 400, "invalid", e.message);
            goto out;
        }
    }
    req.method = method;
    req.path = t.path;
    req.body = body;
    req.body_len = body_len;
    req.json = json;
    req.client = client ? client : "";
    memcpy(req.query, t.query, sizeof t.query);
    req.nquery = t.nquery;
    req.conn = conn;
    err = chosen->fn(chosen->ctx, &req, &resp, &e);
    if (err) {
        int status =
            resp.status >= 400 && resp.status <= 599 ? resp.status : phx_http_status_for(err);
        reply_error(reply, status, phx_strerror(err), e.message[0] ? e.message : phx_strerror(err));
        goto out;
    }
    reply->status = resp.status ? resp.status : 200;
    if (reply->status < 100 || reply->status > 599) {
        reply_error(reply, 500, "internal", "handler set a bad status");
        goto out;
    }
    if (resp.json) {
        char *s = phx_json_dump(resp.json, false);
        if (!s || phx_buf_append_str(&reply->body, s)) {
            free(s);
            reply_error(reply, 500, "nomem", "serialising the response");
            goto out;
        }
        free(s);
    } else if (resp.text.len || resp.content_type) {
        if (phx_buf_append(&reply->body, resp.text.ptr, resp.text.len)) {
            reply_error(reply, 500, "nomem", "copying the response");
            goto out;
        }
        if (resp.content_type) reply->content_type = resp.content_type;
    }
out:
    json_decref(resp.json);
    phx_buf_free(&resp.text);
    json_decref(json);
    free(t.store);
}

void phx_http_reply_free(phx_http_reply_t *reply)
{
    if (reply) phx_buf_free(&reply->body);
}
