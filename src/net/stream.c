/* Streamed response bodies (server-sent events). The producer writes on a
 * handler thread; libmicrohttpd pulls on its loop thread through a content
 * reader callback (server.c). When the reader finds nothing to send it parks
 * the connection (MHD_suspend_connection, which MHD allows from the reader) and
 * the next write wakes it, so a slow producer never busy-loops the server and
 * never blocks its thread. */
#include <microhttpd.h>
#include <stdlib.h>

#include "stream.h"

phx_http_stream_t *phx_http_stream_new(struct MHD_Connection *conn, atomic_int *suspended_count)
{
    phx_http_stream_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->conn = conn;
    s->suspended_count = suspended_count;
    s->refs = conn ? 2 : 1;
    /* Tokens of an answer are as private as the prompt. */
    s->buf.secret = true;
    return s;
}

void phx_http_stream_unref(phx_http_stream_t *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    int left = --s->refs;
    pthread_mutex_unlock(&s->lock);
    if (left) return;
    phx_buf_free(&s->buf);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Caller holds the lock. */
static void wake(phx_http_stream_t *s)
{
    if (!s->suspended) return;
    s->suspended = false;
    if (s->suspended_count) atomic_fetch_sub(s->suspended_count, 1);
    MHD_resume_connection(s->conn);
}

phx_err_t phx_http_stream_write(phx_http_stream_t *s, const void *data, size_t len, phx_error_t *e)
{
    phx_err_t err = PHX_OK;
    pthread_mutex_lock(&s->lock);
    if (s->gone || s->closed) {
        err = phx_fail(e, PHX_ERR_IO, "the client has gone away");
    } else if (phx_buf_append(&s->buf, data, len)) {
        err = phx_fail(e, PHX_ERR_NOMEM, "stream buffer");
    } else if (s->conn) {
        wake(s);
    }
    pthread_mutex_unlock(&s->lock);
    return err;
}

bool phx_http_stream_gone(phx_http_stream_t *s)
{
    pthread_mutex_lock(&s->lock);
    bool gone = s->gone;
    pthread_mutex_unlock(&s->lock);
    return gone;
}

void phx_http_stream_close(phx_http_stream_t *s)
{
    pthread_mutex_lock(&s->lock);
    s->closed = true;
    if (s->conn && !s->gone) wake(s);
    pthread_mutex_unlock(&s->lock);
    phx_http_stream_unref(s);
}
