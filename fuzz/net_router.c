/* libFuzzer target for HTTP request handling without sockets: method, request
 * target (path, percent-encoding, query) and body (JSON or raw) go through
 * phx_http_router_dispatch exactly as the server passes them.
 * Input: "METHOD\nTARGET\nBODY...". */
#include <stdlib.h>
#include <string.h>

#include "phx/net.h"

static phx_err_t h_json(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    (void)ctx;
    const char *id = phx_http_param(req, "id");
    const char *nonce = phx_http_query(req, "nonce");
    if (nonce && strlen(nonce) > 66) return phx_fail(e, PHX_ERR_RANGE, "nonce too long: %s", nonce);
    /* Echo what was parsed so the serialiser sees fuzzed strings too. */
    resp->json = json_pack("{s:s?,s:s?,s:O?,s:s}", "id", id, "nonce", nonce, "body", req->json,
                           "path", req->path);
    if (!resp->json) return phx_fail(e, PHX_ERR_INVALID, "not UTF-8");
    return PHX_OK;
}

static phx_err_t h_raw(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                       phx_error_t *e)
{
    (void)ctx;
    (void)e;
    resp->content_type = "application/octet-stream";
    return phx_buf_append(&resp->text, req->body, req->body_len);
}

static phx_http_router_t *router;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!router) {
        if (phx_http_router_new(&router, NULL)) abort();
        phx_http_router_add(router, "GET", "/v1/contracts/:id/pubkey", h_json, NULL, 0, NULL);
        phx_http_router_add(router, "POST", "/v1/contracts/:id/call", h_json, NULL, 0, NULL);
        phx_http_router_add(router, "POST", "/v1/keys", h_json, NULL, 0, NULL);
        phx_http_router_add(router, "GET", "/v1/attestation", h_json, NULL, 0, NULL);
        phx_http_router_add(router, "PUT", "/v1/blobs/:hash", h_raw, NULL, PHX_HTTP_RAW_BODY, NULL);
        phx_http_router_add(router, "GET", "/", h_json, NULL, 0, NULL);
    }
    /* Split into method, target and body as the server would have them:
     * NUL-terminated strings and a body buffer of exact length. */
    const uint8_t *nl1 = memchr(data, '\n', size);
    if (!nl1) return 0;
    const uint8_t *rest = nl1 + 1;
    size_t rest_len = size - (size_t)(rest - data);
    const uint8_t *nl2 = memchr(rest, '\n', rest_len);
    if (!nl2) return 0;
    char *method = strndup((const char *)data, (size_t)(nl1 - data));
    char *target = strndup((const char *)rest, (size_t)(nl2 - rest));
    size_t body_len = rest_len - (size_t)(nl2 + 1 - rest);
    uint8_t *body = malloc(body_len + 1);
    if (method && target && body) {
        memcpy(body, nl2 + 1, body_len);
        body[body_len] = 0;
        phx_http_reply_t reply;
        phx_http_router_dispatch(router, method, target, body, body_len, "127.0.0.1", NULL, &reply);
        if (reply.status < 100 || reply.status > 599) abort();
        /* Every error reply must itself be valid JSON with the agreed shape. */
        if (reply.status >= 400) {
            json_t *v = NULL;
            if (phx_json_parse((const char *)reply.body.ptr, reply.body.len, &v, NULL)) abort();
            if (!json_is_string(json_object_get(json_object_get(v, "error"), "code"))) abort();
            json_decref(v);
        }
        phx_http_reply_free(&reply);
    }
    free(method);
    free(target);
    free(body);
    return 0;
}
