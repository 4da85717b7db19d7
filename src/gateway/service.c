/* The gateway's HTTP face: forwards calls and deploys to healthy workers from
 * the pool, keeps code blobs by hash, shows the network. It holds no keys and
 * sees only what clients send (inputs meant to be private arrive HPKE-sealed
 * to the contract, so the gateway is outside the trust boundary). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/gateway.h"

struct phx_gateway {
    phx_gw_pool_t *pool;
    phx_http_router_t *router;
    phx_http_server_t *server;
    char blob_dir[512];
    bool blobs;
    char url[96];
};

static phx_err_t forward(phx_gateway_t *g, const char *method, const char *path,
                         const phx_http_request_t *req, phx_http_response_t *resp, phx_error_t *e)
{
    int status = 0;
    phx_err_t err =
        phx_gw_pool_forward(g->pool, method, path, req->json, &status, &resp->json, NULL, 0, e);
    if (err == PHX_ERR_STATE) {
        resp->status = 503;
        return phx_fail(e, PHX_ERR_STATE, "unavailable: no healthy worker");
    }
    if (err == PHX_ERR_IO) {
        resp->status = 503;
        return phx_fail(e, PHX_ERR_IO, "unavailable: no worker reachable");
    }
    if (err) return err; /* timeout 504, broken exchange 502 */
    resp->status = status;
    return PHX_OK;
}

/* Rebuild the worker path from the capture, percent-encoding anything but
 * unreserved characters: the decoded path must not turn into another route. */
static phx_err_t contract_path(const phx_http_request_t *req, const char *suffix, char *out,
                               size_t cap, phx_error_t *e)
{
    const char *id = phx_http_param(req, "id");
    size_t o = (size_t)snprintf(out, cap, "/v1/contracts/");
    for (const unsigned char *p = (const unsigned char *)id; p && *p; p++) {
        if (o + 4 >= cap) return phx_fail(e, PHX_ERR_RANGE, "contract id too long");
        if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~')
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", *p);
    }
    if (o + strlen(suffix) + 1 > cap) return phx_fail(e, PHX_ERR_RANGE, "contract id too long");
    snprintf(out + o, cap - o, "%s", suffix);
    return PHX_OK;
}

static phx_err_t h_call(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    char path[512];
    phx_err_t err = contract_path(req, "/call", path, sizeof path, e);
    return err ? err : forward(ctx, "POST", path, req, resp, e);
}

static phx_err_t h_contract(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                            phx_error_t *e)
{
    char path[512];
    phx_err_t err = contract_path(req, "", path, sizeof path, e);
    return err ? err : forward(ctx, "GET", path, req, resp, e);
}

static phx_err_t h_deploy(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    phx_gateway_t *g = ctx;
    const char *code = json_string_value(json_object_get(req->json, "code"));
    if (g->blobs && code) {
        uint8_t hash[32];
        phx_err_t err = phx_blob_put(g->blob_dir, (const uint8_t *)code, strlen(code), hash, e);
        if (err) return err;
    }
    return forward(g, "POST", "/v1/contracts", req, resp, e);
}

static phx_err_t h_blob_put(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                            phx_error_t *e)
{
    phx_gateway_t *g = ctx;
    uint8_t hash[32];
    phx_err_t err = phx_blob_put(g->blob_dir, req->body, req->body_len, hash, e);
    if (err) return err;
    resp->status = 201;
    resp->json = json_pack("{s:o}", "code_hash", phx_json_hex(hash, 32));
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "response");
}

static phx_err_t h_blob_get(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                            phx_error_t *e)
{
    phx_gateway_t *g = ctx;
    uint8_t hash[32];
    const char *hex = phx_http_param(req, "hash");
    if (!hex || phx_hex_decode_fixed(hex, hash, 32, e))
        return phx_fail(e, PHX_ERR_INVALID, "blob hash must be 32 bytes of hex");
    phx_err_t err = phx_blob_get(g->blob_dir, hash, &resp->text, e);
    if (err) return err;
    resp->content_type = "application/octet-stream";
    return PHX_OK;
}

static phx_err_t h_network(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                           phx_error_t *e)
{
    (void)req;
    phx_gateway_t *g = ctx;
    resp->json = json_pack("{s:o,s:I}", "workers", phx_gw_pool_status(g->pool), "healthy",
                           (json_int_t)phx_gw_pool_healthy(g->pool));
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "response");
}

static phx_err_t h_health(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    (void)req;
    phx_gateway_t *g = ctx;
    size_t healthy = phx_gw_pool_healthy(g->pool);
    /* The gateway is healthy when it can route somewhere. */
    if (!healthy) {
        resp->status = 503;
        return phx_fail(e, PHX_ERR_STATE, "no healthy worker");
    }
    resp->json = json_pack("{s:b,s:I}", "ok", 1, "workers_healthy", (json_int_t)healthy);
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "response");
}

static phx_err_t h_metrics(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                           phx_error_t *e)
{
    (void)req;
    phx_gateway_t *g = ctx;
    resp->content_type = "text/plain; version=0.0.4";
    phx_err_t err = phx_http_server_metrics(g->server, &resp->text, e);
    if (!err)
        err = phx_buf_printf(&resp->text,
                             "# TYPE phx_gateway_workers_healthy gauge\n"
                             "phx_gateway_workers_healthy %zu\n",
                             phx_gw_pool_healthy(g->pool));
    return err;
}

void phx_gateway_stop(phx_gateway_t *g, uint64_t grace_ms)
{
    if (!g) return;
    phx_http_server_stop(g->server, grace_ms);
    phx_gw_pool_free(g->pool);
    phx_http_router_free(g->router);
    free(g);
}

phx_err_t phx_gateway_start(const phx_gateway_opts_t *o, phx_gateway_t **out, phx_error_t *e)
{
    phx_gateway_t *g = calloc(1, sizeof *g);
    phx_err_t err;
    *out = NULL;
    if (!g) return phx_fail(e, PHX_ERR_NOMEM, "gateway");
    if (o->blob_dir) {
        if (snprintf(g->blob_dir, sizeof g->blob_dir, "%s", o->blob_dir) >=
            (int)sizeof g->blob_dir) {
            err = phx_fail(e, PHX_ERR_RANGE, "blob directory path too long");
            goto fail;
        }
        g->blobs = true;
    }
    if ((err = phx_gw_pool_new(o->pool, &g->pool, e))) goto fail;
    if ((err = phx_http_router_new(&g->router, e))) goto fail;
    struct {
        const char *method, *pattern;
        phx_http_handler_fn fn;
        unsigned flags;
        bool needs_blobs;
    } routes[] = {
        {"POST", "/v1/contracts/:id/call", h_call, 0, false},
        {"GET", "/v1/contracts/:id", h_contract, 0, false},
        {"POST", "/v1/contracts", h_deploy, 0, false},
        {"PUT", "/v1/blobs", h_blob_put, PHX_HTTP_RAW_BODY, true},
        {"GET", "/v1/blobs/:hash", h_blob_get, 0, true},
        {"GET", "/v1/network", h_network, 0, false},
        {"GET", "/healthz", h_health, 0, false},
        {"GET", "/metrics", h_metrics, 0, false},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        if (routes[i].needs_blobs && !g->blobs) continue;
        if ((err = phx_http_router_add(g->router, routes[i].method, routes[i].pattern, routes[i].fn,
                                       g, routes[i].flags, e)))
            goto fail;
    }
    phx_http_server_opts_t so = {.host = o->host,
                                 .port = o->port,
                                 .rate_per_s = o->rate_per_s,
                                 .rate_burst = o->rate_burst,
                                 .max_body_bytes = PHX_BLOB_MAX_BYTES,
                                 .max_connections = 256};
    if ((err = phx_http_server_start(g->router, &so, &g->server, e))) goto fail;
    if ((err = phx_gw_pool_start(g->pool, e))) goto fail;
    const char *host = o->host ? o->host : "127.0.0.1";
    snprintf(g->url, sizeof g->url, strchr(host, ':') ? "http://[%s]:%u" : "http://%s:%u", host,
             (unsigned)phx_http_server_port(g->server));
    *out = g;
    return PHX_OK;
fail:
    phx_gateway_stop(g, 0);
    return err;
}

phx_err_t phx_gateway_add_worker(phx_gateway_t *g, const char *url, phx_error_t *e)
{
    return phx_gw_pool_add(g->pool, url, e);
}

const char *phx_gateway_url(const phx_gateway_t *g)
{
    return g->url;
}
phx_gw_pool_t *phx_gateway_pool(phx_gateway_t *g)
{
    return g->pool;
}
