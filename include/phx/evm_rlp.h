/* RLP for the EVM client (src/evm/rlp.c): a strict decoder that accepts only
 * canonical encodings, and an encoder. Spec: yellow paper appendix B.
 * Part of phx/evm.h (the umbrella); see docs/evm.md. */
#ifndef PHX_EVM_RLP_H
#define PHX_EVM_RLP_H

#include "phx/evm_u256.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================
 * RLP (yellow paper appendix B). Strict decoding: non-canonical lengths, a
 * single byte < 0x80 wrapped in a string header, leading zeros in lengths and
 * trailing bytes are all PHX_ERR_INVALID.
 * ========================================================================== */
typedef struct phx_rlp_item {
    bool is_list;
    const uint8_t *data; /* string payload, or the list's payload (points into input) */
    size_t len;
    struct phx_rlp_item *items; /* list children (owned by the tree) */
    size_t count;
} phx_rlp_item_t;

/* Decode exactly one item spanning the whole input. *out is a tree whose leaves
 * point into p (p must outlive it); free with phx_rlp_free. Nesting is limited
 * to PHX_RLP_MAX_DEPTH (PHX_ERR_LIMIT). */
#define PHX_RLP_MAX_DEPTH 64
phx_err_t phx_rlp_decode(const uint8_t *p, size_t len, phx_rlp_item_t **out, phx_error_t *e);
void phx_rlp_free(phx_rlp_item_t *item);
/* Decode a string item as an unsigned integer (canonical: no leading zero byte). */
phx_err_t phx_rlp_item_u64(const phx_rlp_item_t *it, uint64_t *out, phx_error_t *e);
phx_err_t phx_rlp_item_u256(const phx_rlp_item_t *it, phx_u256_t *out, phx_error_t *e);

/* Encoding appends to out. Lists are built by encoding the payload into a
 * separate buffer and wrapping it, or with begin/end which patch the header. */
phx_err_t phx_rlp_put_bytes(phx_buf_t *out, const uint8_t *p, size_t len);
phx_err_t phx_rlp_put_u64(phx_buf_t *out, uint64_t v);
phx_err_t phx_rlp_put_u256(phx_buf_t *out, const phx_u256_t *v);
phx_err_t phx_rlp_put_list_header(phx_buf_t *out, size_t payload_len);
/* begin returns a mark; end moves the payload written since the mark behind a
 * correct list header. Marks nest. */
size_t phx_rlp_list_begin(phx_buf_t *out);
phx_err_t phx_rlp_list_end(phx_buf_t *out, size_t mark);
/* Re-encode a decoded (or hand-built) tree. */
phx_err_t phx_rlp_encode_item(phx_buf_t *out, const phx_rlp_item_t *item);

#ifdef __cplusplus
}
#endif
#endif
