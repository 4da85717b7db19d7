/* A stand-in for `phx worker`'s HTTP API on loopback, for the gateway tests:
 * GET /healthz answers {"status":"ok","address":ADDRESS} (how the gateway
 * learns which worker it is); the test adds the routes it needs. */
#ifndef PHX_TEST_SUPPORT_STAND_IN_H
#define PHX_TEST_SUPPORT_STAND_IN_H

#include <stddef.h>

#include "phx/net.h"

typedef struct {
    const char *method, *pattern;
    phx_http_handler_fn fn;
} test_route_t;

typedef struct {
    char address[43]; /* what /healthz names */
    phx_http_router_t *router;
    phx_http_server_t *server;
    char url[64]; /* http://127.0.0.1:PORT; kept after test_stand_in_stop */
} test_stand_in_t;

/* Serve /healthz naming address and routes[0..n) (each called with ctx) on a
 * port the kernel picks. 0 when it listens; -1 with a message on stderr
 * otherwise. */
int test_stand_in_start(test_stand_in_t *w, const char *address, const test_route_t *routes,
                        size_t n, void *ctx);

/* The same on 127.0.0.1:port (0: a port the kernel picks), e.g. a peer that
 * comes back where it was. */
int test_stand_in_start_on(test_stand_in_t *w, unsigned port, const char *address,
                           const test_route_t *routes, size_t n, void *ctx);

/* Stop the server at once and free the router; safe to call twice. */
void test_stand_in_stop(test_stand_in_t *w);

#endif
