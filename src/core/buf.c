/* Growable byte buffer, used everywhere instead of raw pointer juggling.
 * Invariant: when ptr != NULL, len < cap and ptr[len] == 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/core.h"

/* What every function here relies on (the header states it to callers): no
 * storage means an empty buffer, and storage always has room for the NUL. */
static void buf_check(const phx_buf_t *b)
{
    PHX_ASSERT(b->ptr ? b->len < b->cap : (b->len == 0 && b->cap == 0));
}

phx_err_t phx_buf_reserve(phx_buf_t *b, size_t extra)
{
    buf_check(b);
    if (extra > SIZE_MAX - b->len - 1) return PHX_ERR_NOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return PHX_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p;
    if (b->secret) {
        /* realloc could leave a copy of the secret behind; move it ourselves. */
        p = malloc(cap);
        if (!p) return PHX_ERR_NOMEM;
        if (b->ptr) {
            memcpy(p, b->ptr, b->len);
            phx_secure_zero(b->ptr, b->cap);
            free(b->ptr);
        }
    } else {
        p = realloc(b->ptr, cap);
        if (!p) return PHX_ERR_NOMEM;
    }
    b->ptr = p;
    b->cap = cap;
    b->ptr[b->len] = 0;
    return PHX_OK;
}

phx_err_t phx_buf_append(phx_buf_t *b, const void *data, size_t n)
{
    phx_err_t err = phx_buf_reserve(b, n);
    if (err) return err;
    if (n) memcpy(b->ptr + b->len, data, n);
    b->len += n;
    b->ptr[b->len] = 0;
    buf_check(b);
    return PHX_OK;
}

phx_err_t phx_buf_append_byte(phx_buf_t *b, uint8_t c)
{
    return phx_buf_append(b, &c, 1);
}

phx_err_t phx_buf_append_str(phx_buf_t *b, const char *s)
{
    return phx_buf_append(b, s, strlen(s));
}

phx_err_t phx_buf_printf(phx_buf_t *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    phx_err_t err = PHX_OK;
    if (n < 0) {
        err = PHX_ERR_INVALID;
        goto out;
    }
    if ((err = phx_buf_reserve(b, (size_t)n))) goto out;
    vsnprintf((char *)b->ptr + b->len, (size_t)n + 1, fmt, ap2);
    b->len += (size_t)n;
    buf_check(b);
    PHX_ASSERT(b->ptr[b->len] == 0);
out:
    va_end(ap2);
    return err;
}

void phx_buf_reset(phx_buf_t *b)
{
    buf_check(b);
    if (b->secret && b->ptr) phx_secure_zero(b->ptr, b->len);
    b->len = 0;
    if (b->ptr) b->ptr[0] = 0;
}

void phx_buf_free(phx_buf_t *b)
{
    if (!b) return;
    if (b->ptr && b->secret) phx_secure_zero(b->ptr, b->cap);
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

uint8_t *phx_buf_detach(phx_buf_t *b, size_t *len)
{
    uint8_t *p = b->ptr;
    if (len) *len = b->len;
    if (!p) p = calloc(1, 1);
    b->ptr = NULL;
    b->len = b->cap = 0;
    return p;
}
