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
/* How many of the peers came from the Registry and from --peer. */
void wk_peers_counts(wk_peers_t *p, size_t *from_chain, size_t *from_flags);
/* Stop the thread, free p (NULL is fine). */
void wk_peers_free(wk_peers_t *p);

#endif
