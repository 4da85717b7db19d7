/* Gateway: the network's HTTP ingress (DESIGN.md §1). Routes deploys and calls
 * to healthy registered workers with retries on another worker, rate-limits per
 * client, keeps code blobs content-addressed on disk, and serves the network's
 * state (GET /v1/network). Workers come from configuration; with a chain, only
 * those the Registry lists as active are used. docs/gateway.md has the API. */
#ifndef PHX_GATEWAY_H
#define PHX_GATEWAY_H

#include "phx/chain.h"
#include "phx/core.h"
#include "phx/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- content-addressed blobs ------------------------------------------------ */

/* Store bytes under DIR/blobs/<keccak256 hex>; *hash gets the hash. Writing is
 * atomic (temp file, fsync, rename), so a crash leaves the old state or the
 * whole blob, never half of one; storing an existing blob is a no-op. */
phx_err_t phx_blob_put(const char *dir, const uint8_t *p, size_t len, uint8_t hash[32],
                       phx_error_t *e);
/* Read a blob back (appended to out) and check it still hashes to its name:
 * a damaged file is PHX_ERR_VERIFY, a missing one PHX_ERR_NOT_FOUND. */
phx_err_t phx_blob_get(const char *dir, const uint8_t hash[32], phx_buf_t *out, phx_error_t *e);

/* ---- the gateway ------------------------------------------------------------ */

typedef struct {
    const char *dir;            /* state: blobs/, contracts/ (created) */
    const char *host;           /* default "127.0.0.1" */
    uint16_t port;              /* 0 = any free port */
    const char *const *workers; /* worker base URLs ("http://127.0.0.1:8801") */
    size_t worker_count;
    const char *rpc_url;                      /* with deployment: route only to workers the */
    const phx_chain_deployment_t *deployment; /* Registry lists as active */
    const char *kms_url;                      /* GET /v1/contracts/:id/pubkey is relayed there */
    uint64_t health_interval_ms;              /* default 2000 */
    long worker_timeout_ms;                   /* per forwarded request; default 30000 */
    double rate_per_s;                        /* per-client requests/s; 0 = no limit */
    double rate_burst;                        /* default max(1, rate_per_s) */
    size_t max_body_bytes;                    /* default 1 MiB */
} phx_gateway_opts_t;

typedef struct phx_gateway phx_gateway_t;

/* Load the state in dir, run one health round, start the health thread and
 * serve. Free with phx_gateway_stop. */
phx_err_t phx_gateway_start(const phx_gateway_opts_t *opts, phx_gateway_t **out, phx_error_t *e);
/* "http://127.0.0.1:PORT" (owned by g). */
const char *phx_gateway_url(const phx_gateway_t *g);
/* Add a worker URL at run time (a no-op when it is known). */
phx_err_t phx_gateway_add_worker(phx_gateway_t *g, const char *url, phx_error_t *e);
/* One health round now, synchronously (the thread does this every interval). */
void phx_gateway_check_workers(phx_gateway_t *g);
/* Number of workers the gateway would route to right now. */
size_t phx_gateway_healthy_count(phx_gateway_t *g);
/* Graceful stop: requests in flight get grace_ms, then everything is freed.
 * Accepts NULL. */
void phx_gateway_stop(phx_gateway_t *g, uint64_t grace_ms);

#ifdef __cplusplus
}
#endif
#endif
