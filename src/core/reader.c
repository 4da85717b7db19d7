/* Bounds-checked reader for binary formats: little-endian gets for quotes and
 * frames, big-endian gets for network-order formats (DER, RLP, ABI). A failed
 * get leaves the offset where it was. */
#include <string.h>

#include "phx/core.h"

static phx_err_t need(phx_reader_t *r, size_t n, phx_error_t *e)
{
    if (r->len - r->off < n)
        return phx_fail(e, PHX_ERR_TRUNCATED, "need %zu bytes at offset %zu, have %zu", n, r->off,
                        r->len - r->off);
    return PHX_OK;
}

phx_err_t phx_reader_u8(phx_reader_t *r, uint8_t *v, phx_error_t *e)
{
    if (need(r, 1, e)) return PHX_ERR_TRUNCATED;
    *v = r->p[r->off++];
    return PHX_OK;
}

phx_err_t phx_reader_u16le(phx_reader_t *r, uint16_t *v, phx_error_t *e)
{
    if (need(r, 2, e)) return PHX_ERR_TRUNCATED;
    *v = (uint16_t)(r->p[r->off] | r->p[r->off + 1] << 8);
    r->off += 2;
    return PHX_OK;
}

phx_err_t phx_reader_u32le(phx_reader_t *r, uint32_t *v, phx_error_t *e)
{
    if (need(r, 4, e)) return PHX_ERR_TRUNCATED;
    const uint8_t *p = r->p + r->off;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    r->off += 4;
    return PHX_OK;
}

phx_err_t phx_reader_u64le(phx_reader_t *r, uint64_t *v, phx_error_t *e)
{
    if (need(r, 8, e)) return PHX_ERR_TRUNCATED;
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = x << 8 | r->p[r->off + (size_t)i];
    *v = x;
    r->off += 8;
    return PHX_OK;
}

phx_err_t phx_reader_u16be(phx_reader_t *r, uint16_t *v, phx_error_t *e)
{
    if (need(r, 2, e)) return PHX_ERR_TRUNCATED;
    *v = (uint16_t)(r->p[r->off] << 8 | r->p[r->off + 1]);
    r->off += 2;
    return PHX_OK;
}

phx_err_t phx_reader_u32be(phx_reader_t *r, uint32_t *v, phx_error_t *e)
{
    if (need(r, 4, e)) return PHX_ERR_TRUNCATED;
    const uint8_t *p = r->p + r->off;
    *v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
    r->off += 4;
    return PHX_OK;
}

phx_err_t phx_reader_u64be(phx_reader_t *r, uint64_t *v, phx_error_t *e)
{
    if (need(r, 8, e)) return PHX_ERR_TRUNCATED;
    uint64_t x = 0;
    for (size_t i = 0; i < 8; i++)
        x = x << 8 | r->p[r->off + i];
    *v = x;
    r->off += 8;
    return PHX_OK;
}

phx_err_t phx_reader_copy(phx_reader_t *r, void *dst, size_t n, phx_error_t *e)
{
    if (need(r, n, e)) return PHX_ERR_TRUNCATED;
    if (n) memcpy(dst, r->p + r->off, n);
    r->off += n;
    return PHX_OK;
}

phx_err_t phx_reader_view(phx_reader_t *r, const uint8_t **out, size_t n, phx_error_t *e)
{
    if (need(r, n, e)) return PHX_ERR_TRUNCATED;
    *out = r->p + r->off;
    r->off += n;
    return PHX_OK;
}
