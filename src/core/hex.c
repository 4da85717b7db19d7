/* Hex (0x-prefixed lowercase out, either case in) and base64 (RFC 4648 §4). */
#include <stdlib.h>
#include <string.h>

#include "phx/core.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

phx_err_t phx_hex_decode(const char *hex, phx_buf_t *out, phx_error_t *e)
{
    if (!hex) return phx_fail(e, PHX_ERR_INVALID, "missing hex");
    if (hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) hex += 2;
    size_t n = strlen(hex);
    if (n % 2) return phx_fail(e, PHX_ERR_INVALID, "odd-length hex (%zu digits)", n);
    phx_err_t err = phx_buf_reserve(out, n / 2);
    if (err) return phx_fail(e, err, "out of memory");
    size_t start = out->len;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval((unsigned char)hex[i]), lo = hexval((unsigned char)hex[i + 1]);
        if (hi < 0 || lo < 0) {
            size_t bad = hi < 0 ? i : i + 1;
            /* Leave out as it was: no half-decoded bytes (they may be key material). */
            phx_secure_zero(out->ptr + start, out->len - start);
            out->len = start;
            out->ptr[start] = 0;
            return phx_fail(e, PHX_ERR_INVALID, "not a hex digit at position %zu", bad);
        }
        out->ptr[out->len++] = (uint8_t)(hi << 4 | lo);
    }
    out->ptr[out->len] = 0;
    return PHX_OK;
}

phx_err_t phx_hex_decode_fixed(const char *hex, uint8_t *out, size_t n, phx_error_t *e)
{
    phx_buf_t b = PHX_BUF_INIT;
    b.secret = true; /* callers decode keys through here */
    phx_err_t err = phx_hex_decode(hex, &b, e);
    if (err) goto out;
    if (b.len != n) {
        err = phx_fail(e, PHX_ERR_INVALID, "expected %zu bytes, got %zu", n, b.len);
        goto out;
    }
    memcpy(out, b.ptr, n);
out:
    phx_buf_free(&b);
    return err;
}

void phx_hex_encode_to(char *dst, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = digits[p[i] >> 4];
        dst[2 * i + 1] = digits[p[i] & 15];
    }
    dst[2 * n] = 0;
}

char *phx_hex_encode(const uint8_t *p, size_t n)
{
    if (n > (SIZE_MAX - 3) / 2) return NULL;
    char *s = malloc(2 * n + 3);
    if (!s) return NULL;
    s[0] = '0';
    s[1] = 'x';
    phx_hex_encode_to(s + 2, p, n);
    return s;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *phx_base64_encode(const uint8_t *p, size_t n)
{
    size_t outlen = 4 * ((n + 2) / 3);
    char *s = malloc(outlen + 1), *o = s;
    if (!s) return NULL;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63];
        *o++ = b64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63];
        *o++ = '=';
    }
    *o = 0;
    return s;
}

/* On failure leave out as it was, as phx_hex_decode does. */
static void base64_rollback(phx_buf_t *out, size_t start)
{
    phx_secure_zero(out->ptr + start, out->len - start);
    out->len = start;
    out->ptr[start] = 0;
}

/* By ranges rather than strchr over the alphabet: PEM chains are decoded on
 * every cold attestation. */
int phx_base64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

phx_err_t phx_base64_decode(const char *s, size_t slen, phx_buf_t *out, phx_error_t *e)
{
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    phx_err_t err = phx_buf_reserve(out, slen / 4 * 3 + 3);
    if (err) return phx_fail(e, err, "out of memory");
    size_t start = out->len;
    for (size_t i = 0; i < slen; i++) {
        char c = s[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int value = phx_base64_value(c);
        if (value < 0 || pad) {
            base64_rollback(out, start);
            return phx_fail(e, PHX_ERR_INVALID, "bad base64 character at %zu", i);
        }
        acc = acc << 6 | (uint32_t)value;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->ptr[out->len++] = (uint8_t)(acc >> bits);
        }
    }
    /* Leftover bits must be zero padding of the last symbol, and at most 4. */
    if (bits >= 6 || pad > 2) {
        base64_rollback(out, start);
        return phx_fail(e, PHX_ERR_INVALID, "bad base64 length");
    }
    out->ptr[out->len] = 0;
    return PHX_OK;
}
