/* Internal to src/net: the streamed-body object shared by the server loop (which
 * sends what is written) and the producer on a handler thread (which writes). */
#ifndef PHX_NET_STREAM_H
#define PHX_NET_STREAM_H

#include <pthread.h>
#include <stdatomic.h>

#include "phx/net.h"

struct MHD_Connection;

struct phx_http_stream {
    pthread_mutex_t lock;
    phx_buf_t buf;               /* written, not yet sent */
    size_t off;                  /* sent part of buf */
    bool closed;                 /* the producer is done */
    bool gone;                   /* the client went away (or the response was destroyed) */
    bool suspended;              /* the loop found nothing to send and parked the connection */
    int refs;                    /* producer + MHD response */
    struct MHD_Connection *conn; /* NULL: buffer-only (dispatch without a server) */
    atomic_int *suspended_count; /* the server's count of parked connections */
};

/* New stream with one reference per owner (2 with a connection, 1 without). */
phx_http_stream_t *phx_http_stream_new(struct MHD_Connection *conn, atomic_int *suspended_count);
/* Drop one reference; frees at zero. */
void phx_http_stream_unref(phx_http_stream_t *s);
/* The producer is done: the body ends once what is buffered is sent. */
void phx_http_stream_close(phx_http_stream_t *s);

#endif
