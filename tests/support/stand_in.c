/* See stand_in.h. */
#include "stand_in.h"

#include <stdio.h>

static phx_err_t health(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    (void)req, (void)e;
    resp->json =
        json_pack("{s:s,s:s}", "status", "ok", "address", ((test_stand_in_t *)ctx)->address);
    return PHX_OK;
}

int test_stand_in_start(test_stand_in_t *w, const char *address, const test_route_t *routes,
                        size_t n, void *ctx)
{
    return test_stand_in_start_on(w, 0, address, routes, n, ctx);
}

int test_stand_in_start_on(test_stand_in_t *w, unsigned port, const char *address,
                           const test_route_t *routes, size_t n, void *ctx)
{
    phx_http_server_opts_t so = {.port = (uint16_t)port};
    snprintf(w->address, sizeof w->address, "%s", address);
    phx_error_t e = {0};
    phx_err_t err = phx_http_router_new(&w->router, &e);
    if (!err) err = phx_http_router_add(w->router, "GET", "/healthz", health, w, 0, &e);
    for (size_t i = 0; i < n && !err; i++)
        err = phx_http_router_add(w->router, routes[i].method, routes[i].pattern, routes[i].fn, ctx,
                                  0, &e);
    if (!err) err = phx_http_server_start(w->router, &so, &w->server, &e);
    if (err) {
        fprintf(stderr, "stand-in worker: %s\n", e.message);
        return -1;
    }
    snprintf(w->url, sizeof w->url, "http://127.0.0.1:%u", phx_http_server_port(w->server));
    return 0;
}

void test_stand_in_stop(test_stand_in_t *w)
{
    if (w->server) phx_http_server_stop(w->server, 0);
    w->server = NULL;
    phx_http_router_free(w->router);
    w->router = NULL;
}
