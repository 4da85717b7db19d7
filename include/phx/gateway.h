/* Gateway: the network's HTTP ingress (DESIGN.md §1). A pool of workers with
 * background health checks and forwarding that fails over to another worker
 * only when that cannot run a call twice, a content-addressed store for code
 * blobs, and the `phx gateway` daemon built from them: routes deploys and calls
 * to healthy registered workers, rate-limits per client, and serves the
 * network's state (GET /v1/network). docs/gateway.md has the API. */
#ifndef PHX_GATEWAY_H
#define PHX_GATEWAY_H

#include "phx/chain.h"
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
/* Take a worker out of the pool (deregistered on chain, say). PHX_ERR_NOT_FOUND
 * when it is not there. */
phx_err_t phx_gw_pool_remove(phx_gw_pool_t *p, const char *base_url, phx_error_t *e);
bool phx_gw_pool_has(phx_gw_pool_t *p, const char *base_url);
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

/* Sticky routing (docs/gateway.md "Sticky routing"): as phx_gw_pool_forward,
 * but with affinity (NULL: round-robin) the worker tried first is the healthy
 * one with the highest sha256(affinity NUL url), then the next-highest, so a
 * key stays on one worker while it is healthy and falls back when it is not.
 * PHX_ERR_INVALID for a key over PHX_GW_AFFINITY_MAX bytes. */
#define PHX_GW_AFFINITY_MAX 512
phx_err_t phx_gw_pool_forward_keyed(phx_gw_pool_t *p, const char *method, const char *path,
                                    const json_t *body, const char *affinity, int *status,
                                    json_t **out, char *used, size_t cap, phx_error_t *e);

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

/* ---- the gateway ------------------------------------------------------------ */

typedef struct {
    const char *dir;            /* state: blobs/, contracts/ (created) */
    const char *host;           /* default "127.0.0.1" */
    uint16_t port;              /* 0 = any free port */
    const char *const *workers; /* fixed worker base URLs (tests; else found on chain) */
    size_t worker_count;
    const char *rpc_url;                      /* with deployment: discover workers from the */
    const phx_chain_deployment_t *deployment; /* Registry; route only to eligible ones */
    const char *kms_url;                      /* GET /v1/contracts/:id/pubkey is relayed there */
    uint64_t health_interval_ms;              /* default 2000 */
    long worker_timeout_ms;                   /* per forwarded request; default 30000 */
    double rate_per_s;                        /* per-client requests/s; 0 = no limit */
    double rate_burst;                        /* default max(1, rate_per_s) */
    size_t max_body_bytes;                    /* default 6 MiB (a 4 MiB blob, a 413 above) */
    uint64_t owner_quota_bytes;               /* blob bytes per contract owner; default 8 MiB */
    uint64_t total_quota_bytes;               /* blob bytes in all; default 256 MiB */
    /* A devnet's sim TEE directory: the console offers its root and collateral
     * to the Verify page, which uses them only when the user chooses to trust
     * the sim platform. NULL: the console offers Intel's root only. */
    const char *sim_dir;
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
/* Number of workers it knows: given with --worker and found on chain. */
size_t phx_gateway_worker_count(phx_gateway_t *g);
/* Graceful stop: requests in flight get grace_ms, then everything is freed.
 * Accepts NULL. */
void phx_gateway_stop(phx_gateway_t *g, uint64_t grace_ms);

#ifdef __cplusplus
}
#endif
#endif
