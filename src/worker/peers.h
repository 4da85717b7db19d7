/* A worker's k-of-n peers (peers.c; docs/worker.md "k-of-n"): the --peer URLs,
 * then every worker the Registry's events leave active with an announced URL
 * but this one, followed on a thread of their own. Internal to src/worker. */
#ifndef PHX_WORKER_PEERS_H
#define PHX_WORKER_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include "phx/chain.h"
#include "phx/core.h"
#include "phx/worker.h"

#define WK_PEER_URL_MAX 300
typedef struct {
    size_t n;
    char url[PHX_WORKER_MAX_PEERS][WK_PEER_URL_MAX];
} wk_peer_list_t;
typedef struct wk_peers wk_peers_t;

/* The --peer URLs (checked: http(s), at most PHX_WORKER_MAX_PEERS; a trailing
 * slash dropped); nothing followed yet, the list is the flags. */
phx_err_t wk_peers_new(const char *const *urls, int n, wk_peers_t **out, phx_error_t *e);
/* Follow the Registry of dep at rpc_url every poll_ms (0: 1000), its list and
 * cursor in DIR/registry.json and DIR/registry.cursor, on a thread of its own;
 * self and self_url (the worker's address and the URL it announced) are left
 * out of the list. */
phx_err_t wk_peers_start(wk_peers_t *p, const char *rpc_url, const phx_chain_deployment_t *dep,
                         const char *dir, const uint8_t self[20], const char *self_url,
                         uint64_t poll_ms, phx_error_t *e);
/* A copy of the peer list now, for one round (any thread; NULL p: none). */
void wk_peers_get(wk_peers_t *p, wk_peer_list_t *out);
/* A count that moves whenever the followed Registry changed (a worker
 * registered, announced a URL, was deregistered, invalidated or slashed):
 * the job loop reads its hand-off list again then, not only every 10 s. */
uint64_t wk_peers_generation(wk_peers_t *p);
/* How many of the peers came from the Registry and from --peer. */
void wk_peers_counts(wk_peers_t *p, size_t *from_chain, size_t *from_flags);

/* Peer health (peers.c): a peer whose last ask failed in transport (could not
 * connect, or no answer in time) is backed off: left out of the rounds for
 * WK_PEER_BACKOFF_MS after its first failure in a row, doubling each further
 * failure up to WK_PEER_BACKOFF_MAX_MS, then asked again; any HTTP answer
 * (even a refusal, or an observation that does not verify) clears it. */
#define WK_PEER_BACKOFF_MS 1000
#define WK_PEER_BACKOFF_MAX_MS 8000
/* The peers to ask in a round now (any thread): the list without the ones
 * backed off; *down (may be NULL) gets how many were left out. */
void wk_peers_due(wk_peers_t *p, wk_peer_list_t *out, size_t *down);
/* GET peer's URL + path with a round's timeouts (1.5 s, 0.5 s to connect),
 * as phx_http_json, and its health recorded (NULL p: not recorded). *down
 * (may be NULL) is set when it failed in transport (PHX_ERR_IO or
 * PHX_ERR_TIMEOUT), so the round counts it as not asked. */
phx_err_t wk_peers_ask(wk_peers_t *p, const char *peer, const char *path, json_t **out, bool *down,
                       phx_error_t *e);
/* How many of the listed peers are backed off now (/metrics). */
size_t wk_peers_down(wk_peers_t *p);
/* Stop the thread, free p (NULL is fine). */
void wk_peers_free(wk_peers_t *p);

#endif
