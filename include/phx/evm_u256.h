/* 256-bit unsigned integers for the EVM client (src/evm/u256.c): the EVM word as
 * 32 big-endian bytes, decimal/0x text, compare, add, small multiply.
 * Part of phx/evm.h (the umbrella); see docs/evm.md. */
#ifndef PHX_EVM_U256_H
#define PHX_EVM_U256_H

#include "phx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================
 * 256-bit unsigned integers: 32 bytes, big-endian (the EVM word as it is).
 * ========================================================================== */
typedef struct {
    uint8_t b[32];
} phx_u256_t;

phx_u256_t phx_u256_from_u64(uint64_t v);
/* Decimal ("12345") or 0x-hex ("0x3039", "0x" = 0) text. Overflow is PHX_ERR_RANGE. */
phx_err_t phx_u256_from_str(const char *s, phx_u256_t *out, phx_error_t *e);
/* Big-endian bytes, at most 32 (leading zeros allowed). */
phx_err_t phx_u256_from_be(const uint8_t *p, size_t len, phx_u256_t *out, phx_error_t *e);
/* PHX_ERR_RANGE when the value does not fit 64 bits. */
phx_err_t phx_u256_to_u64(const phx_u256_t *v, uint64_t *out, phx_error_t *e);
bool phx_u256_is_zero(const phx_u256_t *v);
int phx_u256_cmp(const phx_u256_t *a, const phx_u256_t *b); /* -1, 0, 1 */
/* Wrapping arithmetic mod 2^256 (callers check magnitudes where it matters). */
phx_u256_t phx_u256_add(const phx_u256_t *a, const phx_u256_t *b);
phx_u256_t phx_u256_mul_u64(const phx_u256_t *a, uint64_t m);
/* Decimal text into out (78 digits + NUL fit in 80). */
void phx_u256_to_dec(const phx_u256_t *v, char out[80]);
/* JSON-RPC quantity: "0x" + minimal lowercase hex ("0x0" for zero), into out[67]. */
void phx_u256_to_quantity(const phx_u256_t *v, char out[67]);
/* Minimal big-endian bytes (no leading zeros; zero has length 0): the RLP form. */
size_t phx_u256_minimal(const phx_u256_t *v, const uint8_t **start);

#ifdef __cplusplus
}
#endif
#endif
