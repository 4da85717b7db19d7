/* Gateway groundwork: a pool of workers with background health checks and
 * forwarding that fails over to another worker only when that cannot run a
 * call twice, and a content-addressed store for contract code blobs. The
 * `phx gateway` daemon (routes, network view) builds on these. */
#ifndef PHX_GATEWAY_H
#define PHX_GATEWAY_H

#include "phx/core.h"
#include "phx/json.h"
#include "phx/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- worker pool ----------------------------------------------------------------- */

typedef struct {
    uint32_t health_interval_ms; /* between rounds of GET /healthz; default 2000 */
    uint32_t health_timeout_ms;  /* per check; default 1000 */
    unsigned down_after;         /* consecutive failed checks to mark a worker down; default 2 */
    long request_timeout_ms;     /* per forwarded request; default 30000 */
    unsigned max_attempts;       /* workers tried per request; default 3 */
    size_t max_response_bytes;   /* default 4 MiB */
} phx_gw_pool_opts_t;

typedef struct phx_gw_pool phx_gw_pool_t;

/* A pool with no workers; opts may be NULL. Thread-safe. */
phx_err_t phx_gw_pool_new(const phx_gw_pool_opts_t *opts, phx_gw_pool_t **out, phx_error_t *e);
/* Stops the health thread (if started) and frees. Accepts NULL. */
void phx_gw_pool_free(phx_gw_pool_t *p);
/* Add a worker by base URL ("http://127.0.0.1:8801"). It starts healthy
 * (unknown) until a check says otherwise. Adding a URL twice is a no-op. */
phx_err_t phx_gw_pool_add(phx_gw_pool_t *p, const char *base_url, phx_error_t *e);
/* One round of health checks now, synchronously (the thread runs the same). */
void phx_gw_pool_check(phx_gw_pool_t *p);
/* Check in the background every health_interval_ms. */
phx_err_t phx_gw_pool_start(phx_gw_pool_t *p, phx_error_t *e);
size_t phx_gw_pool_healthy(phx_gw_pool_t *p);

/* Forward method + path (with query) + JSON body to a healthy worker, chosen
 * round-robin. Another worker is tried (up to max_attempts) when the first
 * could not be reached (nothing was sent), answered 503 (it did not run the
 * call), or - for GET/HEAD only, which are safe to repeat - when the exchange
 * broke, timed out or answered 5xx. A POST whose outcome is unknown is not
 * retried: the caller gets that error, never a contract run twice. Any 4xx is
 * the answer (another worker would say the same). On a completed exchange
 * *status and *out (new reference, may be NULL for an empty body) are set and
 * the result is PHX_OK, whatever the status; used (if not NULL, cap bytes)
 * gets the worker's URL. No healthy worker: PHX_ERR_STATE. */
phx_err_t phx_gw_pool_forward(phx_gw_pool_t *p, const char *method, const char *path,
                              const json_t *body, int *status, json_t **out, char *used, size_t cap,
                              phx_error_t *e);

/* [{"url","healthy","failures","checks","last_ok_ms","latency_ms","served"}]
 * for GET /v1/network. New reference. */
json_t *phx_gw_pool_status(phx_gw_pool_t *p);

/* ---- code blobs -------------------------------------------------------------------- */

/* Blobs are stored by keccak256 of their bytes under dir/<2 hex>/<62 hex>,
 * written atomically; reading re-hashes, so a corrupted or swapped file is
 * PHX_ERR_VERIFY, never served. */
#define PHX_BLOB_MAX_BYTES (4u << 20)

phx_err_t phx_blob_put(const char *dir, const uint8_t *data, size_t len, uint8_t hash[32],
                       phx_error_t *e);
/* PHX_ERR_NOT_FOUND when absent. Appends to out. */
phx_err_t phx_blob_get(const char *dir, const uint8_t hash[32], phx_buf_t *out, phx_error_t *e);

/* ---- the gateway service ------------------------------------------------------ */

typedef struct {
    const char *host;     /* default 127.0.0.1 */
    uint16_t port;        /* 0 = any free port */
    const char *blob_dir; /* code blobs; NULL = no blob routes */
    double rate_per_s;    /* per-client limit; 0 = none */
    double rate_burst;
    const phx_gw_pool_opts_t *pool; /* NULL = defaults */
} phx_gateway_opts_t;

typedef struct phx_gateway phx_gateway_t;

/* Serve, forwarding to the workers added with phx_gateway_add_worker:
 *   POST /v1/contracts/:id/call     -> a healthy worker (see phx_gw_pool_forward)
 *   POST /v1/contracts              -> a healthy worker; "code" is also stored as a blob
 *   GET  /v1/contracts/:id          -> a healthy worker
 *   PUT  /v1/blobs (raw body)       -> {"code_hash"}; GET /v1/blobs/:hash -> the bytes
 *   GET  /v1/network                -> {"workers":[...]}
 *   GET  /healthz, GET /metrics
 * A worker's answer is passed through with its status; no healthy worker is
 * 503 "unavailable". Health checks run in the background. */
phx_err_t phx_gateway_start(const phx_gateway_opts_t *opts, phx_gateway_t **out, phx_error_t *e);
phx_err_t phx_gateway_add_worker(phx_gateway_t *g, const char *url, phx_error_t *e);
const char *phx_gateway_url(const phx_gateway_t *g);
phx_gw_pool_t *phx_gateway_pool(phx_gateway_t *g);
void phx_gateway_stop(phx_gateway_t *g, uint64_t grace_ms); /* accepts NULL */

#ifdef __cplusplus
}
#endif
#endif
