/* The HTTP/1.1 server over libmicrohttpd. Connections wait on epoll, so a
 * connection that is still sending its request costs a socket and a little
 * memory, never a thread; a complete request is suspended and handed to a
 * pool of handler threads (handlers may block on a worker or the chain), or,
 * with .threads, run on the event-loop thread itself (short handlers only).
 * Against slow clients (slowloris): a per-client connection cap, and header
 * and body deadlines counted from the start of each phase, which trickling
 * bytes does not extend (MHD's own timeout is an idle timeout, reset by every
 * byte); a sweeper thread shuts a late connection's socket down. Also a body
 * size limit enforced while the body arrives, per-client rate limiting before
 * any work, and a graceful stop that lets requests in flight finish. Routing
 * and responses live in router.c. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "phx/net.h"

#define STAT_SLOTS 65 /* one per route (the router holds at most 64) + unmatched */
#define UNMATCHED (STAT_SLOTS - 1)

typedef struct {
    atomic_uint_fast64_t by_class[6]; /* [1..5] = 1xx..5xx */
    atomic_uint_fast64_t duration_us, count;
} route_stats_t;

/* One open connection, from MHD's "started" notification to its "closed" one.
 * deadline_ms is when the sweeper shuts the socket down (0: none, while a
 * handler runs). MHD closes the fd only after the "closed" notification, which
 * takes the list lock, so the sweeper never touches a reused fd. */
typedef struct conn_track {
    struct conn_track *prev, *next;
    MHD_socket fd;
    uint64_t deadline_ms;
} conn_track_t;

/* Per-request state, created by the URI log callback (the first thing MHD calls
 * for a request) and freed when MHD reports the request complete. */
typedef struct request_state {
    struct request_state *next; /* handler queue */
    struct MHD_Connection *conn;
    char *target; /* the raw request target, with its query string */
    char method[16];
    char client[INET6_ADDRSTRLEN + 1];
    phx_buf_t body;
    size_t discarded; /* bytes dropped after the body went over the limit */
    uint64_t start_ns;
    bool started, too_large, dispatched, replied;
    phx_http_reply_t reply; /* filled by a handler thread, sent on resume */
} request_state_t;

struct phx_http_server {
    struct MHD_Daemon *daemon;
    route_stats_t stats[STAT_SLOTS];
    atomic_uint_fast64_t rate_limited, too_large, deadline;
    const phx_http_router_t *router;
    phx_ratelimit_t *ratelimit;
    size_t max_body_bytes;
    uint64_t header_ms, body_ms;
    uint16_t port;
    atomic_int inflight;
    atomic_int connections;
    atomic_int suspended; /* suspended and not yet back in on_request */
    /* open connections, for the sweeper */
    pthread_mutex_t conns_lock;
    conn_track_t *conns;
    pthread_t sweeper;
    bool sweeper_started;
    /* handler pool (0 threads with .threads set: handlers run inline) */
    pthread_mutex_t q_lock;
    pthread_cond_t q_cond;
    request_state_t *q_head, *q_tail;
    bool stopping;
    pthread_t *handlers;
    unsigned nhandlers;
};

static void set_deadline(phx_http_server_t *s, struct MHD_Connection *conn, uint64_t ms);

const char *phx_http_header(const phx_http_request_t *req, const char *name)
{
    if (!req->conn) return NULL;
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_HEADER_KIND, name);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)conn;
    phx_http_server_t *s = cls;
    request_state_t *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->target = strdup(uri ? uri : "");
    if (!st->target) {
        free(st);
        return NULL;
    }
    st->start_ns = phx_monotonic_ns();
    atomic_fetch_add(&s->inflight, 1);
    return st;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    phx_http_server_t *s = cls;
    request_state_t *st = *req_cls;
    /* A kept-alive connection has the header deadline for its next request. */
    set_deadline(s, conn, s->header_ms);
    if (!st) return;
    if (st->replied) phx_http_reply_free(&st->reply);
    phx_buf_free(&st->body);
    free(st->target);
    free(st);
    *req_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    phx_http_server_t *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_track_t *t = calloc(1, sizeof *t);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!t || !ci) { /* untracked: MHD's idle timeout still applies */
            free(t);
            return;
        }
        t->fd = ci->connect_fd;
        t->deadline_ms = phx_monotonic_ms() + s->header_ms;
        pthread_mutex_lock(&s->conns_lock);
        t->next = s->conns;
        if (s->conns) s->conns->prev = t;
        s->conns = t;
        pthread_mutex_unlock(&s->conns_lock);
        *socket_context = t;
        atomic_fetch_add(&s->connections, 1);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        conn_track_t *t = *socket_context;
        pthread_mutex_lock(&s->conns_lock);
        if (t->prev)
            t->prev->next = t->next;
        else
            s->conns = t->next;
        if (t->next) t->next->prev = t->prev;
        pthread_mutex_unlock(&s->conns_lock);
        free(t);
        *socket_context = NULL;
        atomic_fetch_sub(&s->connections, 1);
    }
}

/* Move a connection's deadline: ms from now, or 0 for none. */
static void set_deadline(phx_http_server_t *s, struct MHD_Connection *conn, uint64_t ms)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (!ci || !ci->socket_context) return;
    conn_track_t *t = ci->socket_context;
    pthread_mutex_lock(&s->conns_lock);
    t->deadline_ms = ms ? phx_monotonic_ms() + ms : 0;
    pthread_mutex_unlock(&s->conns_lock);
}

/* Every 100 ms: shut down the sockets past their deadline. MHD then sees the
 * connection end and closes it as if the client had gone. */
static void *sweeper_main(void *arg)
{
    phx_http_server_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->q_lock);
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->q_lock);
        if (stop) break;
        uint64_t now = phx_monotonic_ms();
        pthread_mutex_lock(&s->conns_lock);
        for (conn_track_t *t = s->conns; t; t = t->next) {
            if (!t->deadline_ms || now < t->deadline_ms) continue;
            shutdown(t->fd, SHUT_RDWR);
            t->deadline_ms = 0;
            atomic_fetch_add(&s->deadline, 1);
        }
        pthread_mutex_unlock(&s->conns_lock);
        usleep(100 * 1000);
    }
    return NULL;
}

static enum MHD_Result send_bytes(struct MHD_Connection *conn, int status, const char *content_type,
                                  const void *body, size_t len, const char *allow,
                                  uint64_t retry_after_s)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (allow && allow[0]) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (retry_after_s) {
        char v[24];
        snprintf(v, sizeof v, "%llu", (unsigned long long)retry_after_s);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, int status, const char *code,
                                  const char *message, uint64_t retry_after_s)
{
    phx_buf_t b = PHX_BUF_INIT;
    if (phx_http_error_body(&b, code, message)) {
        phx_buf_free(&b);
        return MHD_NO;
    }
    enum MHD_Result ret =
        send_bytes(conn, status, "application/json", b.ptr, b.len, NULL, retry_after_s);
    phx_buf_free(&b);
    return ret;
}

static void client_address(struct MHD_Connection *conn, char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
}

static void run_handler(phx_http_server_t *s, request_state_t *st)
{
    phx_http_router_dispatch(s->router, st->method, st->target, st->body.ptr, st->body.len,
                             st->client, st->conn, &st->reply);
    st->replied = true;
}

static enum MHD_Result send_reply(phx_http_server_t *s, struct MHD_Connection *conn,
                                  request_state_t *st)
{
    phx_http_reply_t *reply = &st->reply;
    PHX_DEBUG("http %s %s -> %d", st->method, st->target, reply->status);
    route_stats_t *rs =
        &s->stats[reply->route >= 0 && reply->route < UNMATCHED ? reply->route : UNMATCHED];
    int status_class = reply->status / 100;
    atomic_fetch_add(&rs->by_class[status_class >= 1 && status_class <= 5 ? status_class : 0], 1);
    atomic_fetch_add(&rs->duration_us, (phx_monotonic_ns() - st->start_ns) / 1000);
    atomic_fetch_add(&rs->count, 1);
    /* A client reading the answer a byte at a time gets the body deadline. */
    set_deadline(s, conn, s->body_ms);
    return send_bytes(conn, reply->status, reply->content_type, reply->body.ptr, reply->body.len,
                      reply->allow, 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)url;
    (void)version;
    phx_http_server_t *s = cls;
    request_state_t *st = *req_cls;
    if (!st) return send_error(conn, 503, "nomem", "out of memory", 0);
    char client[INET6_ADDRSTRLEN + 1];

    if (st->dispatched) {
        /* Resumed: a handler thread has filled the reply. */
        atomic_fetch_sub(&s->suspended, 1);
        return st->replied ? send_reply(s, conn, st) : MHD_NO;
    }
    if (!st->started) {
        /* Headers are in: refuse cheaply before reading any body, which now
         * has its own deadline. */
        st->started = true;
        set_deadline(s, conn, s->body_ms);
        client_address(conn, client, sizeof client);
        uint64_t retry_ms = 0;
        if (s->ratelimit &&
            !phx_ratelimit_take(s->ratelimit, client, phx_monotonic_ms(), &retry_ms)) {
            atomic_fetch_add(&s->rate_limited, 1);
            return send_error(conn, 429, "rate_limited", "too many requests from this client",
                              retry_ms / 1000 + 1);
        }
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (end == cl || *end || n > s->max_body_bytes) {
                atomic_fetch_add(&s->too_large, 1);
                return send_error(conn, 413, "too_large", "request body too large", 0);
            }
        }
        if (*upload_data_size == 0) return MHD_YES;
    }
    if (*upload_data_size) {
        /* Chunked bodies have no length up front. MHD cannot answer while body
         * data is being handed over, so an oversize body is dropped as it comes
         * and answered at its end; one that goes on far past the limit gets the
         * connection closed instead. */
        if (st->too_large || *upload_data_size > s->max_body_bytes - st->body.len) {
            st->too_large = true;
            phx_buf_free(&st->body);
            st->discarded += *upload_data_size;
            if (st->discarded > 4 * s->max_body_bytes + (64u << 10)) return MHD_NO;
        } else if (phx_buf_append(&st->body, upload_data, *upload_data_size)) {
            return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (st->too_large) {
        atomic_fetch_add(&s->too_large, 1);
        return send_error(conn, 413, "too_large", "request body too large", 0);
    }

    if (strlen(method) >= sizeof st->method)
        return send_error(conn, 400, "invalid", "method too long", 0);
    /* The whole request is in: no deadline while the handler runs. */
    set_deadline(s, conn, 0);
    client_address(conn, st->client, sizeof st->client);
    /* HEAD is GET without the body; MHD drops the body for us. */
    snprintf(st->method, sizeof st->method, "%s", strcmp(method, "HEAD") == 0 ? "GET" : method);
    st->conn = conn;
    st->dispatched = true;
    if (!s->nhandlers) {
        run_handler(s, st);
        return send_reply(s, conn, st);
    }
    pthread_mutex_lock(&s->q_lock);
    if (s->stopping) { /* no handler thread is left to take it */
        pthread_mutex_unlock(&s->q_lock);
        st->dispatched = false;
        return send_error(conn, 503, "unavailable", "server stopping", 0);
    }
    /* Suspend before queueing, so the handler's resume cannot come first. */
    atomic_fetch_add(&s->suspended, 1);
    MHD_suspend_connection(conn);
    if (s->q_tail)
        s->q_tail->next = st;
    else
        s->q_head = st;
    s->q_tail = st;
    pthread_cond_signal(&s->q_cond);
    pthread_mutex_unlock(&s->q_lock);
    return MHD_YES;
}

static void *handler_main(void *arg)
{
    phx_http_server_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->q_lock);
        while (!s->q_head && !s->stopping)
            pthread_cond_wait(&s->q_cond, &s->q_lock);
        request_state_t *st = s->q_head;
        bool stopping = s->stopping;
        if (st) {
            s->q_head = st->next;
            if (!s->q_head) s->q_tail = NULL;
            st->next = NULL;
        }
        pthread_mutex_unlock(&s->q_lock);
        if (!st) break; /* stopping and nothing left */
        if (stopping) {
            /* Not started before the stop: do not start it now. */
            memset(&st->reply, 0, sizeof st->reply);
            st->reply.status = 503;
            st->reply.content_type = "application/json";
            st->reply.route = -1;
            if (phx_http_error_body(&st->reply.body, "unavailable", "server stopping"))
                phx_buf_reset(&st->reply.body);
            st->replied = true;
        } else {
            run_handler(s, st);
        }
        MHD_resume_connection(st->conn);
    }
    return NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    /* MHD's messages end in a newline; the logger adds its own. */
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    PHX_DEBUG("microhttpd: %s", line);
}

/* The connection budget needs a descriptor per connection: raise the soft
 * RLIMIT_NOFILE toward the hard one, and keep the budget under what we got. */
static unsigned fit_fd_limit(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl)) return want;
    rlim_t need = (rlim_t)want + 256;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        struct rlimit nl = {.rlim_cur = cur, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &nl) == 0) rl.rlim_cur = cur;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        return rl.rlim_cur > 512 ? (unsigned)(rl.rlim_cur - 256) : (unsigned)(rl.rlim_cur / 2);
    return want;
}

static void server_free(phx_http_server_t *s)
{
    phx_ratelimit_free(s->ratelimit);
    free(s->handlers);
    pthread_mutex_destroy(&s->conns_lock);
    pthread_mutex_destroy(&s->q_lock);
    pthread_cond_destroy(&s->q_cond);
    free(s);
}

/* Wake the handler and sweeper threads to finish, and join them. */
static void threads_stop(phx_http_server_t *s)
{
    pthread_mutex_lock(&s->q_lock);
    s->stopping = true;
    pthread_cond_broadcast(&s->q_cond);
    pthread_mutex_unlock(&s->q_lock);
    for (unsigned i = 0; i < s->nhandlers; i++)
        pthread_join(s->handlers[i], NULL);
    s->nhandlers = 0;
    if (s->sweeper_started) pthread_join(s->sweeper, NULL);
    s->sweeper_started = false;
}

phx_err_t phx_http_server_start(const phx_http_router_t *router, const phx_http_server_opts_t *opts,
                                phx_http_server_t **out, phx_error_t *e)
{
    phx_http_server_opts_t o = {0};
    if (opts) o = *opts;
    if (!o.host) o.host = "127.0.0.1";
    if (!o.max_body_bytes) o.max_body_bytes = 1u << 20;
    if (!o.max_connections) o.max_connections = PHX_HTTP_DEFAULT_MAX_CONNECTIONS;
    if (!o.per_client_connections) o.per_client_connections = PHX_HTTP_DEFAULT_PER_CLIENT;
    if (!o.timeout_s) o.timeout_s = 30;
    if (!o.header_timeout_s) o.header_timeout_s = 10;
    if (!o.body_timeout_s) o.body_timeout_s = 30;
    if (!o.handler_threads) o.handler_threads = 64;
    unsigned budget = fit_fd_limit(o.max_connections);

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    /* Event loops on epoll either way. By default a complete request is
     * suspended and run on a handler thread, so handlers may block (a gateway
     * waiting on a worker); with .threads = N they run on the N event-loop
     * threads themselves, cheaper for short handlers, but a blocking handler
     * stalls the other connections of its thread (docs/net.md). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (o.threads ? 0 : MHD_ALLOW_SUSPEND_RESUME);
    if (inet_pton(AF_INET, o.host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(o.port);
    } else if (inet_pton(AF_INET6, o.host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(o.port);
        flags |= MHD_USE_IPv6;
    } else {
        return phx_fail(e, PHX_ERR_INVALID, "listen address \"%s\" is not an IP address", o.host);
    }

    phx_http_server_t *s = calloc(1, sizeof *s);
    if (!s) return phx_fail(e, PHX_ERR_NOMEM, "server");
    s->router = router;
    s->max_body_bytes = o.max_body_bytes;
    s->header_ms = 1000ull * o.header_timeout_s;
    s->body_ms = 1000ull * o.body_timeout_s;
    atomic_init(&s->inflight, 0);
    atomic_init(&s->connections, 0);
    atomic_init(&s->suspended, 0);
    pthread_mutex_init(&s->conns_lock, NULL);
    pthread_mutex_init(&s->q_lock, NULL);
    pthread_cond_init(&s->q_cond, NULL);
    phx_err_t err = PHX_OK;
    if (o.rate_per_s > 0) {
        double burst = o.rate_burst >= 1 ? o.rate_burst : (o.rate_per_s > 1 ? o.rate_per_s : 1);
        err = phx_ratelimit_new(o.rate_per_s, burst, 4096, &s->ratelimit, e);
        if (err) goto fail;
    }
    if (!o.threads) {
        s->handlers = calloc(o.handler_threads, sizeof *s->handlers);
        if (!s->handlers) {
            err = phx_fail(e, PHX_ERR_NOMEM, "server");
            goto fail;
        }
        for (; s->nhandlers < o.handler_threads; s->nhandlers++) {
            if (pthread_create(&s->handlers[s->nhandlers], NULL, handler_main, s)) {
                err = phx_fail(e, PHX_ERR_NOMEM, "cannot start handler threads");
                goto fail;
            }
        }
    }
    if (pthread_create(&s->sweeper, NULL, sweeper_main, s)) {
        err = phx_fail(e, PHX_ERR_NOMEM, "cannot start the deadline thread");
        goto fail;
    }
    s->sweeper_started = true;
    s->daemon = MHD_start_daemon(
        flags, o.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_CONNECTION_LIMIT, budget,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)o.per_client_connections,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o.timeout_s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        /* With no pool the list ends here; the pair after is then ignored. */
        o.threads ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (unsigned)o.threads,
        MHD_OPTION_END);
    if (!s->daemon) {
        err = phx_fail(e, PHX_ERR_IO, "cannot listen on %s:%u", o.host, (unsigned)o.port);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o.port;
    *out = s;
    return PHX_OK;
fail:
    threads_stop(s);
    server_free(s);
    return err;
}

uint16_t phx_http_server_port(const phx_http_server_t *s)
{
    return s->port;
}

/* Label values are route names from code, but escape them as the format asks. */
static phx_err_t label(phx_buf_t *out, const char *v)
{
    for (; *v; v++) {
        phx_err_t err;
        if (*v == '"' || *v == '\\')
            err = phx_buf_printf(out, "\\%c", *v);
        else if (*v == '\n')
            err = phx_buf_append_str(out, "\\n");
        else
            err = phx_buf_append_byte(out, (uint8_t)*v);
        if (err) return err;
    }
    return PHX_OK;
}

static phx_err_t route_metrics(phx_buf_t *out, const char *name, route_stats_t *rs, int pass)
{
    phx_err_t err = PHX_OK;
    if (pass == 0) {
        for (int c = 1; c <= 5 && !err; c++) {
            uint64_t n = atomic_load(&rs->by_class[c]);
            if (!n) continue;
            err = phx_buf_append_str(out, "phx_http_requests_total{route=\"");
            if (!err) err = label(out, name);
            if (!err)
                err = phx_buf_printf(out, "\",code=\"%dxx\"} %llu\n", c, (unsigned long long)n);
        }
        return err;
    }
    uint64_t n = atomic_load(&rs->count);
    if (!n) return PHX_OK;
    double secs = (double)atomic_load(&rs->duration_us) / 1e6;
    if ((err = phx_buf_append_str(out, "phx_http_request_duration_seconds_sum{route=\"")) ||
        (err = label(out, name)) || (err = phx_buf_printf(out, "\"} %.6f\n", secs)) ||
        (err = phx_buf_append_str(out, "phx_http_request_duration_seconds_count{route=\"")) ||
        (err = label(out, name)) ||
        (err = phx_buf_printf(out, "\"} %llu\n", (unsigned long long)n)))
        return err;
    return PHX_OK;
}

phx_err_t phx_http_server_metrics(phx_http_server_t *s, phx_buf_t *out, phx_error_t *e)
{
    static const char *types[] = {"# TYPE phx_http_requests_total counter\n",
                                  "# TYPE phx_http_request_duration_seconds summary\n"};
    size_t nroutes = phx_http_router_count(s->router);
    phx_err_t err = PHX_OK;
    for (int pass = 0; pass < 2 && !err; pass++) {
        err = phx_buf_append_str(out, types[pass]);
        for (size_t i = 0; i < STAT_SLOTS && !err; i++) {
            if (i >= nroutes && i != UNMATCHED) continue;
            const char *name =
                i == UNMATCHED ? "unmatched" : phx_http_router_route_name(s->router, (int)i);
            err = route_metrics(out, name, &s->stats[i], pass);
        }
    }
    if (!err)
        err = phx_buf_printf(out,
                             "# TYPE phx_http_refused_total counter\n"
                             "phx_http_refused_total{reason=\"rate_limited\"} %llu\n"
                             "phx_http_refused_total{reason=\"too_large\"} %llu\n"
                             "phx_http_refused_total{reason=\"deadline\"} %llu\n"
                             "# TYPE phx_http_in_flight gauge\n"
                             "phx_http_in_flight %d\n"
                             "# TYPE phx_http_connections gauge\n"
                             "phx_http_connections %d\n",
                             (unsigned long long)atomic_load(&s->rate_limited),
                             (unsigned long long)atomic_load(&s->too_large),
                             (unsigned long long)atomic_load(&s->deadline),
                             atomic_load(&s->inflight), atomic_load(&s->connections));
    return err ? phx_fail(e, err, "metrics") : PHX_OK;
}

void phx_http_server_stop(phx_http_server_t *s, uint64_t grace_ms)
{
    if (!s) return;
    /* Stop accepting first, so the wait below only covers requests already
     * here; closing the returned socket makes new connects fail at once. */
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    uint64_t deadline = phx_monotonic_ms() + grace_ms;
    while (atomic_load(&s->inflight) > 0 && phx_monotonic_ms() < deadline)
        usleep(5000);
    /* Handlers still running finish and resume their connections; requests
     * still queued get 503 without running. Then MHD closes the rest. */
    threads_stop(s);
    /* libmicrohttpd aborts the process if it is stopped with a connection
     * still suspended: wait for its thread to take the resumed ones back. */
    for (int i = 0; i < 1000 && atomic_load(&s->suspended) > 0; i++)
        usleep(5000);
    MHD_stop_daemon(s->daemon);
    server_free(s);
}
