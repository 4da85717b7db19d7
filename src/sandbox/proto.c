/* The host-call wire format: length-prefixed frames over a SOCK_STREAM socketpair.
 * The worker parses what a (possibly compromised) child sends with
 * phx_sandbox_msg_parse, which is fuzzed (fuzz/sandbox.cmake). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

static phx_err_t wait_fd(int fd, short events, uint64_t deadline_ms, sbx_tick_fn tick, void *ud,
                         phx_error_t *e)
{
    for (;;) {
        int slice = 20;
        if (deadline_ms) {
            uint64_t now = phx_monotonic_ms();
            if (now >= deadline_ms) return phx_fail(e, PHX_ERR_TIMEOUT, "deadline passed");
            if (deadline_ms - now < (uint64_t)slice) slice = (int)(deadline_ms - now);
        } else if (!tick) {
            slice = -1;
        }
        struct pollfd pfd = {fd, events, 0};
        int n = poll(&pfd, 1, slice);
        if (n < 0 && errno != EINTR) return phx_fail(e, PHX_ERR_IO, "poll: %s", strerror(errno));
        if (n > 0) return PHX_OK;
        if (tick) {
            phx_err_t err = tick(ud, e);
            if (err) return err;
        }
    }
}

static phx_err_t write_all(int fd, const uint8_t *p, size_t n, uint64_t deadline_ms, phx_error_t *e)
{
    while (n) {
        /* send, not write: a child that died must not SIGPIPE the worker. */
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                phx_err_t err = wait_fd(fd, POLLOUT, deadline_ms, NULL, NULL, e);
                if (err) return err;
                continue;
            }
            return phx_fail(e, PHX_ERR_IO, "write: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return PHX_OK;
}

phx_err_t sbx_write_frame(int fd, uint8_t type, const void *a, size_t alen, const void *b,
                          size_t blen, uint64_t deadline_ms, phx_error_t *e)
{
    size_t total = 1 + alen + blen;
    if (total > PHX_SBX_MAX_FRAME) return phx_fail(e, PHX_ERR_LIMIT, "frame of %zu bytes", total);
    uint8_t hdr[5] = {(uint8_t)total, (uint8_t)(total >> 8), (uint8_t)(total >> 16),
                      (uint8_t)(total >> 24), type};
    phx_err_t err = write_all(fd, hdr, sizeof hdr, deadline_ms, e);
    if (!err && alen) err = write_all(fd, a, alen, deadline_ms, e);
    if (!err && blen) err = write_all(fd, b, blen, deadline_ms, e);
    return err;
}

static phx_err_t read_all(int fd, uint8_t *p, size_t n, uint64_t deadline_ms, sbx_tick_fn tick,
                          void *ud, phx_error_t *e)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r == 0) return phx_fail(e, PHX_ERR_IO, "peer closed the channel");
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                phx_err_t err = wait_fd(fd, POLLIN, deadline_ms, tick, ud, e);
                if (err) return err;
                continue;
            }
            return phx_fail(e, PHX_ERR_IO, "read: %s", strerror(errno));
        }
        p += r;
        n -= (size_t)r;
    }
    return PHX_OK;
}

phx_err_t sbx_read_frame(int fd, phx_buf_t *out, size_t max, uint64_t deadline_ms, sbx_tick_fn tick,
                         void *tick_ud, phx_error_t *e)
{
    uint8_t hdr[4];
    phx_buf_reset(out);
    phx_err_t err = read_all(fd, hdr, 4, deadline_ms, tick, tick_ud, e);
    if (err) return err;
    size_t len = (size_t)hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 24;
    if (len == 0) return phx_fail(e, PHX_ERR_INVALID, "empty frame");
    if (len > max) return phx_fail(e, PHX_ERR_LIMIT, "frame of %zu bytes exceeds %zu", len, max);
    if ((err = phx_buf_reserve(out, len))) return phx_fail(e, err, "frame buffer");
    if ((err = read_all(fd, out->ptr, len, deadline_ms, tick, tick_ud, e))) return err;
    out->len = len;
    out->ptr[len] = 0;
    return PHX_OK;
}

static bool op_char_ok(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_';
}

phx_err_t phx_sandbox_msg_parse(const uint8_t *p, size_t len, phx_sandbox_msg_t *m, phx_error_t *e)
{
    memset(m, 0, sizeof *m);
    phx_reader_t r = phx_reader(p, len);
    phx_err_t err = phx_reader_u8(&r, &m->type, e);
    if (err) return err;
    switch (m->type) {
    case PHX_SBX_CALL: {
        /* op: 1..32 chars of [A-Za-z0-9._], then NUL, then the JSON body. */
        size_t i = r.off, end = len < r.off + 33 ? len : r.off + 33;
        while (i < end && p[i] != 0) {
            if (!op_char_ok(p[i])) return phx_fail(e, PHX_ERR_INVALID, "bad op character");
            i++;
        }
        if (i == r.off || i == end || p[i] != 0)
            return phx_fail(e, PHX_ERR_INVALID, "op missing or too long");
        m->op = (const char *)p + r.off;
        m->body = p + i + 1;
        m->body_len = len - (i + 1);
        return PHX_OK;
    }
    case PHX_SBX_RESULT: {
        uint16_t mlen;
        if ((err = phx_reader_u8(&r, &m->status, e)) ||
            (err = phx_reader_u8(&r, &m->is_bytes, e)) ||
            (err = phx_reader_u32le(&r, &m->cpu_ms, e)) ||
            (err = phx_reader_u32le(&r, &m->peak_rss_kb, e)) ||
            (err = phx_reader_u16le(&r, &mlen, e)) ||
            (err = phx_reader_view(&r, &m->message, mlen, e)))
            return err;
        if (m->status > PHX_JS_HOST_ABORT) return phx_fail(e, PHX_ERR_INVALID, "bad status");
        if (m->is_bytes > 1) return phx_fail(e, PHX_ERR_INVALID, "bad is_bytes");
        m->message_len = mlen;
        m->body = p + r.off;
        m->body_len = phx_reader_left(&r);
        return PHX_OK;
    }
    case PHX_SBX_READY:
        if (phx_reader_left(&r)) return phx_fail(e, PHX_ERR_INVALID, "ready with a payload");
        return PHX_OK;
    default:
        return phx_fail(e, PHX_ERR_INVALID, "unexpected message type %u from a child", m->type);
    }
}
