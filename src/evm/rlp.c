/* RLP (Ethereum yellow paper, appendix B): a strict decoder that accepts only
 * the canonical encoding, and an encoder that appends to a phx_buf_t. Used by
 * transactions, CREATE addresses and the `phx rlp` helper. */
#include <stdlib.h>
#include <string.h>

#include "phx/evm.h"

/* Read one item header at p[0..len): sets payload offset/length and list flag. */
static phx_err_t read_header(const uint8_t *p, size_t len, bool *is_list, size_t *hdr,
                             size_t *payload, phx_error_t *e)
{
    if (len == 0) return phx_fail(e, PHX_ERR_TRUNCATED, "rlp: empty input");
    uint8_t b = p[0];
    if (b < 0x80) {
        *is_list = false, *hdr = 0, *payload = 1;
        return PHX_OK;
    }
    bool list = b >= 0xc0;
    uint8_t base = list ? 0xc0 : 0x80;
    if (b - base <= 55) {
        size_t n = (size_t)(b - base);
        if (n > len - 1) return phx_fail(e, PHX_ERR_TRUNCATED, "rlp: payload runs past the end");
        /* A single byte below 0x80 must encode as itself. */
        if (!list && n == 1 && p[1] < 0x80)
            return phx_fail(e, PHX_ERR_INVALID, "rlp: single byte wrapped in a string header");
        *is_list = list, *hdr = 1, *payload = n;
        return PHX_OK;
    }
    size_t lenlen = (size_t)(b - base - 55);
    if (lenlen > len - 1) return phx_fail(e, PHX_ERR_TRUNCATED, "rlp: length runs past the end");
    if (p[1] == 0) return phx_fail(e, PHX_ERR_INVALID, "rlp: leading zero in length");
    if (lenlen > sizeof(size_t)) return phx_fail(e, PHX_ERR_RANGE, "rlp: length too large");
    size_t n = 0;
    for (size_t i = 0; i < lenlen; i++)
        n = n << 8 | p[1 + i];
    if (n < 56) return phx_fail(e, PHX_ERR_INVALID, "rlp: long form for a short payload");
    if (n > len - 1 - lenlen)
        return phx_fail(e, PHX_ERR_TRUNCATED, "rlp: payload runs past the end");
    *is_list = list, *hdr = 1 + lenlen, *payload = n;
    return PHX_OK;
}

static void item_clear(phx_rlp_item_t *it)
{
    if (!it) return;
    for (size_t i = 0; i < it->count; i++)
        item_clear(&it->items[i]);
    free(it->items);
    it->items = NULL;
    it->count = 0;
}

/* Parse one item that spans exactly p[0..len). */
static phx_err_t parse_item(const uint8_t *p, size_t len, phx_rlp_item_t *it, int depth,
                            phx_error_t *e)
{
    bool is_list;
    size_t hdr, payload;
    phx_err_t err;
    memset(it, 0, sizeof *it);
    if (depth > PHX_RLP_MAX_DEPTH) return phx_fail(e, PHX_ERR_LIMIT, "rlp: nested too deep");
    if ((err = read_header(p, len, &is_list, &hdr, &payload, e))) return err;
    if (hdr + payload != len) return phx_fail(e, PHX_ERR_INVALID, "rlp: trailing bytes after item");
    it->is_list = is_list;
    it->data = p + hdr;
    it->len = payload;
    if (!is_list) return PHX_OK;
    size_t cap = 0, off = 0;
    while (off < payload) {
        bool cl;
        size_t ch, cp;
        if ((err = read_header(it->data + off, payload - off, &cl, &ch, &cp, e))) goto fail;
        if (it->count == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            phx_rlp_item_t *n = realloc(it->items, ncap * sizeof *n);
            if (!n) {
                err = phx_fail(e, PHX_ERR_NOMEM, "rlp: out of memory");
                goto fail;
            }
            it->items = n;
            cap = ncap;
        }
        if ((err = parse_item(it->data + off, ch + cp, &it->items[it->count], depth + 1, e))) {
            item_clear(&it->items[it->count]);
            goto fail;
        }
        it->count++;
        off += ch + cp;
    }
    return PHX_OK;
fail:
    item_clear(it);
    return err;
}

phx_err_t phx_rlp_decode(const uint8_t *p, size_t len, phx_rlp_item_t **out, phx_error_t *e)
{
    phx_rlp_item_t *it = calloc(1, sizeof *it);
    if (!it) return phx_fail(e, PHX_ERR_NOMEM, "rlp: out of memory");
    phx_err_t err = parse_item(p, len, it, 0, e);
    if (err) {
        free(it);
        return err;
    }
    *out = it;
    return PHX_OK;
}

void phx_rlp_free(phx_rlp_item_t *item)
{
    if (!item) return;
    item_clear(item);
    free(item);
}

phx_err_t phx_rlp_item_u64(const phx_rlp_item_t *it, uint64_t *out, phx_error_t *e)
{
    phx_u256_t v;
    phx_err_t err = phx_rlp_item_u256(it, &v, e);
    if (err) return err;
    return phx_u256_to_u64(&v, out, e);
}

phx_err_t phx_rlp_item_u256(const phx_rlp_item_t *it, phx_u256_t *out, phx_error_t *e)
{
    if (it->is_list) return phx_fail(e, PHX_ERR_INVALID, "rlp: integer expected, got a list");
    if (it->len > 32) return phx_fail(e, PHX_ERR_RANGE, "rlp: integer wider than 256 bits");
    if (it->len > 0 && it->data[0] == 0)
        return phx_fail(e, PHX_ERR_INVALID, "rlp: integer with a leading zero");
    return phx_u256_from_be(it->data, it->len, out, e);
}

/* Header for a payload of n bytes with the given base (0x80 string, 0xc0 list). */
static size_t header(uint8_t *h, size_t n, uint8_t base)
{
    if (n <= 55) {
        h[0] = (uint8_t)(base + n);
        return 1;
    }
    size_t lenlen = 0;
    for (size_t t = n; t; t >>= 8)
        lenlen++;
    h[0] = (uint8_t)(base + 55 + lenlen);
    for (size_t i = 0; i < lenlen; i++)
        h[1 + i] = (uint8_t)(n >> (8 * (lenlen - 1 - i)));
    return 1 + lenlen;
}

phx_err_t phx_rlp_put_bytes(phx_buf_t *out, const uint8_t *p, size_t len)
{
    uint8_t h[9];
    phx_err_t err;
    if (len == 1 && p[0] < 0x80) return phx_buf_append_byte(out, p[0]);
    if ((err = phx_buf_reserve(out, len + 9))) return err;
    if ((err = phx_buf_append(out, h, header(h, len, 0x80)))) return err;
    return len ? phx_buf_append(out, p, len) : PHX_OK;
}

phx_err_t phx_rlp_put_u64(phx_buf_t *out, uint64_t v)
{
    phx_u256_t u = phx_u256_from_u64(v);
    return phx_rlp_put_u256(out, &u);
}

phx_err_t phx_rlp_put_u256(phx_buf_t *out, const phx_u256_t *v)
{
    const uint8_t *s;
    size_t n = phx_u256_minimal(v, &s);
    return phx_rlp_put_bytes(out, s, n);
}

phx_err_t phx_rlp_put_list_header(phx_buf_t *out, size_t payload_len)
{
    uint8_t h[9];
    return phx_buf_append(out, h, header(h, payload_len, 0xc0));
}

size_t phx_rlp_list_begin(phx_buf_t *out)
{
    return out->len;
}

phx_err_t phx_rlp_list_end(phx_buf_t *out, size_t mark)
{
    uint8_t h[9];
    size_t n = out->len - mark;
    size_t hl = header(h, n, 0xc0);
    phx_err_t err = phx_buf_reserve(out, hl);
    if (err) return err;
    memmove(out->ptr + mark + hl, out->ptr + mark, n);
    memcpy(out->ptr + mark, h, hl);
    out->len += hl;
    out->ptr[out->len] = 0;
    return PHX_OK;
}

phx_err_t phx_rlp_encode_item(phx_buf_t *out, const phx_rlp_item_t *item)
{
    if (!item->is_list) return phx_rlp_put_bytes(out, item->data, item->len);
    size_t mark = phx_rlp_list_begin(out);
    for (size_t i = 0; i < item->count; i++) {
        phx_err_t err = phx_rlp_encode_item(out, &item->items[i]);
        if (err) return err;
    }
    return phx_rlp_list_end(out, mark);
}
