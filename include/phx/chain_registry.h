/* The Registry's workers as its events say (src/chain/registry_follow.c): a
 * follower of WorkerRegistered, WorkerDeregistered, WorkerInvalidated and
 * WorkerEndpoint through the src/evm log follower (pages, a cursor on disk,
 * rollback on reorgs), kept by worker address with the URL each announced.
 * The gateway finds the workers it routes to with it (docs/gateway.md
 * "Discovery"), a worker its k-of-n peers (docs/worker.md "k-of-n"). Nothing
 * in the list is trusted for anything but where to knock: the gateway proves
 * each URL's key, a worker checks every peer answer's signature against the
 * Registry. */
#ifndef PHX_CHAIN_REGISTRY_H
#define PHX_CHAIN_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "phx/chain.h"
#include "phx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint8_t address[20];
    uint8_t operator_[20];
    uint8_t status;                       /* PHX_CHAIN_WORKER_* as the last event left it */
    char url[PHX_CHAIN_ENDPOINT_MAX + 1]; /* "" until the worker announced one */
    uint64_t registered_block, status_block, url_block;
} phx_chain_registry_worker_t;

typedef struct phx_chain_registry_follower phx_chain_registry_follower_t;

/* Follow the Registry of dep at rpc_url (its own connection). The list is
 * kept in DIR/registry.json, written after every change, and the follower's
 * cursor in DIR/registry.cursor after every page, so a restart resumes where
 * it stopped; a cursor without its list starts over from the deployment
 * block. One poll at a time and any number of list copies, from any threads. */
phx_err_t phx_chain_registry_follow_open(const char *rpc_url, const phx_chain_deployment_t *dep,
                                         const char *dir, phx_chain_registry_follower_t **out,
                                         phx_error_t *e);
void phx_chain_registry_follow_close(phx_chain_registry_follower_t *f);
/* Follow the events up to the chain head; *delivered (may be NULL) counts the
 * logs read. A rollback of void blocks counts as a change too: *changed (may
 * be NULL) says whether the list may differ from before the poll. */
phx_err_t phx_chain_registry_follow_poll(phx_chain_registry_follower_t *f, size_t *delivered,
                                         bool *changed, phx_error_t *e);
/* A copy of the list (free() it), in order of first appearance; its length. */
size_t phx_chain_registry_follow_list(phx_chain_registry_follower_t *f,
                                      phx_chain_registry_worker_t **out);

#ifdef __cplusplus
}
#endif
#endif
