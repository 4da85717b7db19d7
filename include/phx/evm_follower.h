/* The log follower of the EVM client (src/evm/follower.c): paged eth_getLogs
 * up to head - confirmations, a cursor on disk, rollback on reorgs.
 * Part of phx/evm.h (the umbrella); see docs/evm.md. */
#ifndef PHX_EVM_FOLLOWER_H
#define PHX_EVM_FOLLOWER_H

#include "phx/evm_rpc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================
 * Log follower: pages through eth_getLogs up to head - confirmations, keeps its
 * cursor (next block + recent block hashes) in cursor_path, and on a reorg rolls
 * back to the last block whose hash still matches, telling the consumer first.
 * ========================================================================== */
typedef struct phx_evm_follower phx_evm_follower_t;

typedef struct {
    const char *cursor_path; /* NULL = memory only */
    uint64_t start_block;    /* first block when there is no cursor yet */
    uint64_t confirmations;  /* stay this many blocks behind the head (0 = follow head) */
    uint64_t page_blocks;    /* blocks per eth_getLogs (0 = 1000); halved while the node refuses */
    size_t hash_window;      /* recent block hashes kept to detect reorgs (0 = 128) */
    const uint8_t (*addresses)[20];
    size_t address_count;
    const uint8_t (*topic0)[32]; /* OR-ed event topics; none = every event */
    size_t topic0_count;
} phx_evm_follower_opts_t;

typedef struct {
    /* A log in order (block, log index). Returning non-zero stops the poll
     * before the cursor moves past this log's page; the error is returned and
     * the page is delivered again next time (at-least-once delivery). */
    phx_err_t (*on_log)(void *ctx, const phx_evm_log_t *log, phx_error_t *e);
    /* Every log delivered from blocks >= first_void_block is void: undo them.
     * Called before any log of the replacing chain is delivered. */
    phx_err_t (*on_rollback)(void *ctx, uint64_t first_void_block, phx_error_t *e);
    void *ctx;
} phx_evm_follower_cb_t;

/* opts is copied (arrays too). The cursor file is read if present. */
phx_err_t phx_evm_follower_open(phx_rpc_t *rpc, const phx_evm_follower_opts_t *opts,
                                phx_evm_follower_t **out, phx_error_t *e);
void phx_evm_follower_close(phx_evm_follower_t *f);
/* One round: check for a reorg, then deliver pages up to the safe head, saving
 * the cursor after each page. *delivered (may be NULL) counts logs passed on. */
phx_err_t phx_evm_follower_poll(phx_evm_follower_t *f, const phx_evm_follower_cb_t *cb,
                                size_t *delivered, phx_error_t *e);
/* The next block the follower will read. */
uint64_t phx_evm_follower_next_block(const phx_evm_follower_t *f);

#ifdef __cplusplus
}
#endif
#endif
