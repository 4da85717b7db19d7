/* What the console (console.c) reads of the gateway's state. Internal to
 * src/gateway: the console is a view over the same records the JSON API
 * serves, never a second copy of them. */
#ifndef PHX_GATEWAY_INTERNAL_H
#define PHX_GATEWAY_INTERNAL_H

#include "phx/chain.h"
#include "phx/chain_registry.h"
#include "phx/chain_requests.h"
#include "phx/gateway.h"
#include "phx/net.h"

/* The body of GET /v1/network (a new reference, NULL on allocation failure). */
json_t *gw_network_json(phx_gateway_t *g);
/* One contract: {"id","code_hash","owner","deployed_ms"}, or NULL when unknown. */
json_t *gw_contract_info(phx_gateway_t *g, const char *id);
/* The code blob of a contract by hash (re-hashed on read). */
phx_err_t gw_blob_get(phx_gateway_t *g, const uint8_t hash[32], phx_buf_t *out, phx_error_t *e);
/* The chain the gateway was given (rpc URL and deployment), or false. */
bool gw_chain(const phx_gateway_t *g, const char **rpc_url, const phx_chain_deployment_t **d);
/* The gateway's reader of the chain's requests, brought up to the chain head
 * (one reader for every page and thread; it locks itself). */
phx_err_t gw_requests(phx_gateway_t *g, phx_chain_requests_t **out, phx_error_t *e);
/* The sim TEE directory the gateway was given, or NULL. */
const char *gw_sim_dir(const phx_gateway_t *g);

/* Add the console's routes (/, /contracts/:id, /verify, /console/...). */
phx_err_t gw_console_routes(phx_http_router_t *r, phx_gateway_t *g, phx_error_t *e);

#endif
