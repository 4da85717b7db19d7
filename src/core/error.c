/* Error codes and messages. Libraries fill a caller's phx_error_t; only the CLI
 * turns them into text for users. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/core.h"

static const char *const names[PHX_ERR__COUNT] = {
    [PHX_OK] = "ok",
    [PHX_ERR_INVALID] = "invalid",
    [PHX_ERR_TRUNCATED] = "truncated",
    [PHX_ERR_RANGE] = "range",
    [PHX_ERR_NOMEM] = "nomem",
    [PHX_ERR_IO] = "io",
    [PHX_ERR_CRYPTO] = "crypto",
    [PHX_ERR_VERIFY] = "verify",
    [PHX_ERR_NOT_FOUND] = "not_found",
    [PHX_ERR_UNSUPPORTED] = "unsupported",
    [PHX_ERR_POLICY] = "policy",
    [PHX_ERR_LIMIT] = "limit",
    [PHX_ERR_TIMEOUT] = "timeout",
    [PHX_ERR_REMOTE] = "remote",
    [PHX_ERR_STATE] = "state",
    [PHX_ERR_INTERNAL] = "internal",
};

void phx_assert_fail(const char *file, int line, const char *expr)
{
    /* A bug, not an error: say where and stop before the broken state spreads. */
    fprintf(stderr, "phx: assertion failed at %s:%d: %s\n", file, line, expr);
    fflush(stderr);
    abort();
}

const char *phx_strerror(phx_err_t code)
{
    if ((unsigned)code >= PHX_ERR__COUNT) return "unknown";
    return names[code];
}

phx_err_t phx_fail(phx_error_t *e, phx_err_t code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        e->code = code;
        vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

phx_err_t phx_error_wrap(phx_error_t *e, phx_err_t code, const char *fmt, ...)
{
    if (e) {
        char prefix[128], old[sizeof e->message];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, e->message, sizeof old);
        old[sizeof old - 1] = 0;
        e->code = code;
        /* "prefix: old", truncated to fit; truncation of a message is acceptable. */
        size_t n = strlen(prefix), cap = sizeof e->message - 1;
        if (n > cap) n = cap;
        memcpy(e->message, prefix, n);
        if (old[0] && n + 2 < cap) {
            memcpy(e->message + n, ": ", 2);
            n += 2;
            size_t m = strlen(old);
            if (m > cap - n) m = cap - n;
            memcpy(e->message + n, old, m);
            n += m;
        }
        e->message[n] = 0;
    }
    return code;
}
