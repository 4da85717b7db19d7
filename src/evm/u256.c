/* 256-bit unsigned integers as 32 big-endian bytes: the EVM word. Only what the
 * client needs: parsing decimal/hex text, printing, compare, add, small multiply. */
#include <string.h>

#include "phx/evm.h"

phx_u256_t phx_u256_from_u64(uint64_t v)
{
    phx_u256_t r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < 8; i++)
        r.b[31 - i] = (uint8_t)(v >> (8 * i));
    return r;
}

bool phx_u256_is_zero(const phx_u256_t *v)
{
    for (int i = 0; i < 32; i++)
        if (v->b[i]) return false;
    return true;
}

int phx_u256_cmp(const phx_u256_t *a, const phx_u256_t *b)
{
    int c = memcmp(a->b, b->b, 32);
    return c < 0 ? -1 : c > 0;
}

phx_u256_t phx_u256_add(const phx_u256_t *a, const phx_u256_t *b)
{
    phx_u256_t r;
    unsigned carry = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned s = (unsigned)a->b[i] + b->b[i] + carry;
        r.b[i] = (uint8_t)s;
        carry = s >> 8;
    }
    return r;
}

phx_u256_t phx_u256_mul_u64(const phx_u256_t *a, uint64_t m)
{
    phx_u256_t r;
    unsigned __int128 carry = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned __int128 p = (unsigned __int128)a->b[i] * m + carry;
        r.b[i] = (uint8_t)p;
        carry = p >> 8;
    }
    return r;
}

/* r = r * 10 + d; returns false on overflow past 2^256. */
static bool mul10_add(phx_u256_t *r, unsigned d)
{
    unsigned carry = d;
    for (int i = 31; i >= 0; i--) {
        unsigned p = (unsigned)r->b[i] * 10 + carry;
        r->b[i] = (uint8_t)p;
        carry = p >> 8;
    }
    return carry == 0;
}

phx_err_t phx_u256_from_str(const char *s, phx_u256_t *out, phx_error_t *e)
{
    phx_u256_t r;
    memset(&r, 0, sizeof r);
    if (!s) return phx_fail(e, PHX_ERR_INVALID, "missing number");
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        const char *h = s + 2;
        size_t n = strlen(h);
        while (n > 0 && *h == '0')
            h++, n--;
        if (n > 64) return phx_fail(e, PHX_ERR_RANGE, "hex number wider than 256 bits");
        for (size_t i = 0; i < n; i++) {
            char c = h[n - 1 - i];
            unsigned v;
            if (c >= '0' && c <= '9')
                v = (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v = (unsigned)(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v = (unsigned)(c - 'A' + 10);
            else
                return phx_fail(e, PHX_ERR_INVALID, "bad hex digit in number");
            r.b[31 - i / 2] |= (uint8_t)(v << (4 * (i % 2)));
        }
    } else {
        if (!*s) return phx_fail(e, PHX_ERR_INVALID, "empty number");
        for (const char *c = s; *c; c++) {
            if (*c < '0' || *c > '9') return phx_fail(e, PHX_ERR_INVALID, "bad decimal digit");
            if (!mul10_add(&r, (unsigned)(*c - '0')))
                return phx_fail(e, PHX_ERR_RANGE, "decimal number wider than 256 bits");
        }
    }
    *out = r;
    return PHX_OK;
}

phx_err_t phx_u256_from_be(const uint8_t *p, size_t len, phx_u256_t *out, phx_error_t *e)
{
    if (len > 32) {
        size_t extra = len - 32;
        for (size_t i = 0; i < extra; i++)
            if (p[i]) return phx_fail(e, PHX_ERR_RANGE, "integer wider than 256 bits");
        p += extra;
        len = 32;
    }
    memset(out->b, 0, 32);
    if (len) memcpy(out->b + 32 - len, p, len);
    return PHX_OK;
}

phx_err_t phx_u256_to_u64(const phx_u256_t *v, uint64_t *out, phx_error_t *e)
{
    for (int i = 0; i < 24; i++)
        if (v->b[i]) return phx_fail(e, PHX_ERR_RANGE, "integer does not fit 64 bits");
    uint64_t r = 0;
    for (int i = 24; i < 32; i++)
        r = r << 8 | v->b[i];
    *out = r;
    return PHX_OK;
}

void phx_u256_to_dec(const phx_u256_t *v, char out[80])
{
    uint8_t t[32];
    char digits[80];
    size_t n = 0;
    memcpy(t, v->b, 32);
    /* Repeated division by 10 of the big-endian number. */
    for (;;) {
        bool nonzero = false;
        unsigned rem = 0;
        for (int i = 0; i < 32; i++) {
            unsigned cur = rem << 8 | t[i];
            t[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
            if (t[i]) nonzero = true;
        }
        digits[n++] = (char)('0' + rem);
        if (!nonzero) break;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    out[n] = 0;
}

void phx_u256_to_quantity(const phx_u256_t *v, char out[67])
{
    static const char hx[] = "0123456789abcdef";
    size_t o = 0;
    out[o++] = '0';
    out[o++] = 'x';
    bool started = false;
    for (int i = 0; i < 64; i++) {
        unsigned nib = (v->b[i / 2] >> (i % 2 ? 0 : 4)) & 0xf;
        if (!started && nib == 0 && i != 63) continue;
        started = true;
        out[o++] = hx[nib];
    }
    out[o] = 0;
}

size_t phx_u256_minimal(const phx_u256_t *v, const uint8_t **start)
{
    size_t i = 0;
    while (i < 32 && v->b[i] == 0)
        i++;
    *start = v->b + i;
    return 32 - i;
}
