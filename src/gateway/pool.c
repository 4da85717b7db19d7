/* The gateway's worker pool: health checks in the background, round-robin
 * over healthy workers, and failover that never runs a call twice. The retry
 * rule rests on the net client's errors: PHX_ERR_IO means nothing reached the
 * worker, so any request may go elsewhere; after that only safe methods do. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phx/crypto.h"
#include "phx/gateway.h"

typedef struct {
    char url[256];
    bool healthy;
    unsigned failures; /* consecutive */
    uint64_t checks, served, last_ok_ms;
    uint32_t latency_ms;
} member_t;

struct phx_gw_pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    phx_gw_pool_opts_t o;
    member_t *m;
    size_t n, cap, rr;
    pthread_t thread;
    bool running, stop;
    /* Kept-alive connections to the workers, shared by every request thread
     * (a TCP handshake per call was most of the gateway's added latency). */
    phx_http_conns_t *conns;
};

phx_err_t phx_gw_pool_new(const phx_gw_pool_opts_t *opts, phx_gw_pool_t **out, phx_error_t *e)
{
    phx_gw_pool_t *p = calloc(1, sizeof *p);
    if (!p) return phx_fail(e, PHX_ERR_NOMEM, "pool");
    if (opts) p->o = *opts;
    if (!p->o.health_interval_ms) p->o.health_interval_ms = 2000;
    if (!p->o.health_timeout_ms) p->o.health_timeout_ms = 1000;
    if (!p->o.down_after) p->o.down_after = 2;
    if (!p->o.request_timeout_ms) p->o.request_timeout_ms = 30000;
    if (!p->o.max_attempts) p->o.max_attempts = 3;
    if (!p->o.max_response_bytes) p->o.max_response_bytes = 4u << 20;
    phx_err_t err = phx_http_conns_new(&p->conns, e);
    if (err) {
        free(p);
        return err;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    *out = p;
    return PHX_OK;
}

void phx_gw_pool_free(phx_gw_pool_t *p)
{
    if (!p) return;
    if (p->running) {
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
    }
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    phx_http_conns_free(p->conns);
    free(p->m);
    free(p);
}

phx_err_t phx_gw_pool_add(phx_gw_pool_t *p, const char *base_url, phx_error_t *e)
{
    size_t len = strlen(base_url);
    while (len && base_url[len - 1] == '/')
        len--;
    if (len == 0 || len >= sizeof p->m[0].url)
        return phx_fail(e, PHX_ERR_INVALID, "worker URL empty or too long");
    if (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)
        return phx_fail(e, PHX_ERR_INVALID, "worker URL must be http(s): %.64s", base_url);
    phx_err_t err = PHX_OK;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n; i++)
        if (strlen(p->m[i].url) == len && strncmp(p->m[i].url, base_url, len) == 0) goto out;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 8;
        member_t *m = realloc(p->m, cap * sizeof *m);
        if (!m) {
            err = phx_fail(e, PHX_ERR_NOMEM, "pool");
            goto out;
        }
        p->m = m;
        p->cap = cap;
    }
    memset(&p->m[p->n], 0, sizeof p->m[p->n]);
    memcpy(p->m[p->n].url, base_url, len);
    p->m[p->n].healthy = true;
    p->n++;
out:
    pthread_mutex_unlock(&p->lock);
    return err;
}

/* Record a failure against url (by name: the array may have grown meanwhile). */
static void note(phx_gw_pool_t *p, const char *url, bool ok, bool is_check, uint32_t latency_ms,
                 bool hard_down)
{
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n; i++) {
        member_t *m = &p->m[i];
        if (strcmp(m->url, url) != 0) continue;
        if (is_check) m->checks++;
        if (ok) {
            m->failures = 0;
            m->healthy = true;
            m->last_ok_ms = phx_now_ms();
            if (is_check) m->latency_ms = latency_ms;
        } else {
            m->failures++;
            /* An unreachable worker is down at once; a failing check needs
             * down_after in a row, so one slow answer does not drop it. */
            if (hard_down || m->failures >= p->o.down_after) m->healthy = false;
        }
        break;
    }
    pthread_mutex_unlock(&p->lock);
}

void phx_gw_pool_check(phx_gw_pool_t *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->n;
    char(*urls)[256] = n ? malloc(n * sizeof *urls) : NULL;
    for (size_t i = 0; urls && i < n; i++)
        memcpy(urls[i], p->m[i].url, sizeof urls[i]);
    pthread_mutex_unlock(&p->lock);
    if (!urls) return;
    phx_http_client_opts_t co = {.timeout_ms = p->o.health_timeout_ms,
                                 .connect_timeout_ms = p->o.health_timeout_ms,
                                 .max_response_bytes = 64u << 10};
    for (size_t i = 0; i < n; i++) {
        char url[300];
        snprintf(url, sizeof url, "%s/healthz", urls[i]);
        phx_buf_t body = PHX_BUF_INIT;
        int status = 0;
        uint64_t t0 = phx_monotonic_ms();
        phx_err_t err = phx_http_fetch("GET", url, NULL, NULL, 0, &co, &status, &body, NULL);
        bool ok = !err && status >= 200 && status < 300;
        note(p, urls[i], ok, true, (uint32_t)(phx_monotonic_ms() - t0), false);
        phx_buf_free(&body);
    }
    free(urls);
}

static void *health_thread(void *arg)
{
    phx_gw_pool_t *p = arg;
    for (;;) {
        phx_gw_pool_check(p);
        pthread_mutex_lock(&p->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)p->o.health_interval_ms * 1000000ull;
        until.tv_sec += (time_t)(ns / 1000000000ull);
        until.tv_nsec = (long)(ns % 1000000000ull);
        while (!p->stop && pthread_cond_timedwait(&p->wake, &p->lock, &until) == 0) {
        }
        bool stop = p->stop;
        pthread_mutex_unlock(&p->lock);
        if (stop) return NULL;
    }
}

phx_err_t phx_gw_pool_start(phx_gw_pool_t *p, phx_error_t *e)
{
    if (p->running) return PHX_OK;
    if (pthread_create(&p->thread, NULL, health_thread, p) != 0)
        return phx_fail(e, PHX_ERR_INTERNAL, "cannot start the health thread");
    p->running = true;
    return PHX_OK;
}

size_t phx_gw_pool_healthy(phx_gw_pool_t *p)
{
    size_t k = 0;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n; i++)
        k += p->m[i].healthy;
    pthread_mutex_unlock(&p->lock);
    return k;
}

/* The next healthy worker not yet tried this request, round-robin. */
static bool pick(phx_gw_pool_t *p, char tried[][256], size_t ntried, char *url)
{
    bool found = false;
    pthread_mutex_lock(&p->lock);
    for (size_t k = 0; k < p->n && !found; k++) {
        member_t *m = &p->m[(p->rr + k) % p->n];
        if (!m->healthy) continue;
        bool seen = false;
        for (size_t t = 0; t < ntried && !seen; t++)
            seen = strcmp(tried[t], m->url) == 0;
        if (seen) continue;
        memcpy(url, m->url, 256);
        p->rr = (p->rr + k + 1) % p->n;
        found = true;
    }
    pthread_mutex_unlock(&p->lock);
    return found;
}

/* Sticky routing: the healthy worker not yet tried with the highest
 * sha256(key NUL url) (rendezvous hashing). Every gateway with the same pool
 * picks the same worker for a key; when it leaves, only its keys move, each to
 * its next-highest worker, and they come back when it does. */
static bool pick_affine(phx_gw_pool_t *p, const char *key, char tried[][256], size_t ntried,
                        char *url)
{
    bool found = false;
    uint8_t best[32] = {0};
    size_t klen = strlen(key);
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n; i++) {
        member_t *m = &p->m[i];
        if (!m->healthy) continue;
        bool seen = false;
        for (size_t t = 0; t < ntried && !seen; t++)
            seen = strcmp(tried[t], m->url) == 0;
        if (seen) continue;
        uint8_t in[PHX_GW_AFFINITY_MAX + 1 + 256], d[32];
        size_t ulen = strnlen(m->url, 256);
        memcpy(in, key, klen);
        in[klen] = 0;
        memcpy(in + klen + 1, m->url, ulen);
        phx_sha256(in, klen + 1 + ulen, d);
        if (!found || memcmp(d, best, 32) > 0) {
            memcpy(best, d, 32);
            memcpy(url, m->url, 256);
            found = true;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return found;
}

static void served(phx_gw_pool_t *p, const char *url)
{
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->m[i].url, url) == 0) p->m[i].served++;
    pthread_mutex_unlock(&p->lock);
}

phx_err_t phx_gw_pool_forward(phx_gw_pool_t *p, const char *method, const char *path,
                              const json_t *body, int *status, json_t **out, char *used, size_t cap,
                              phx_error_t *e)
{
    return phx_gw_pool_forward_keyed(p, method, path, body, NULL, status, out, used, cap, e);
}

phx_err_t phx_gw_pool_forward_keyed(phx_gw_pool_t *p, const char *method, const char *path,
                                    const json_t *body, const char *affinity, int *status,
                                    json_t **out, char *used, size_t cap, phx_error_t *e)
{
    if (affinity && strlen(affinity) > PHX_GW_AFFINITY_MAX)
        return phx_fail(e, PHX_ERR_INVALID, "affinity key longer than %d bytes",
                        PHX_GW_AFFINITY_MAX);
    char tried[8][256], url[256], full[1024];
    size_t ntried = 0;
    bool safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    char *text = NULL;
    json_t *busy = NULL;    /* the last 429: the answer when every worker is busy */
    json_t *paywall = NULL; /* a 402: the answer when no worker took the call unpaid */
    phx_err_t err = phx_fail(e, PHX_ERR_STATE, "no healthy worker");
    *out = NULL;
    if (path[0] != '/') return phx_fail(e, PHX_ERR_INVALID, "path must start with /");
    if (body && !(text = phx_json_dump(body, false))) return phx_fail(e, PHX_ERR_NOMEM, "body");
    phx_http_client_opts_t co = {.timeout_ms = p->o.request_timeout_ms,
                                 .max_response_bytes = p->o.max_response_bytes,
                                 .conns = p->conns};
    unsigned attempts = p->o.max_attempts < 8 ? p->o.max_attempts : 8;
    while (ntried < attempts && (affinity ? pick_affine(p, affinity, tried, ntried, url)
                                          : pick(p, tried, ntried, url))) {
        memcpy(tried[ntried++], url, 256);
        snprintf(full, sizeof full, "%s%s", url, path);
        phx_buf_t resp = PHX_BUF_INIT;
        int code = 0;
        err = phx_http_fetch(method, full, text ? "application/json" : NULL, text,
                             text ? strlen(text) : 0, &co, &code, &resp, e);
        if (err == PHX_ERR_IO) {
            note(p, url, false, false, 0, true); /* unreachable: out of rotation now */
            phx_buf_free(&resp);
            continue;
        }
        if (err) {
            phx_buf_free(&resp);
            if (safe) continue;
            goto out; /* the worker may have run it: do not run it again elsewhere */
        }
        if (code == 429) { /* busy: it refused before running anything; try another */
            err = phx_fail(e, PHX_ERR_REMOTE, "worker %s is busy (429)", url);
            json_decref(busy);
            busy = NULL;
            if (resp.len) phx_json_parse((const char *)resp.ptr, resp.len, &busy, NULL);
            phx_buf_free(&resp);
            continue;
        }
        if (code == 402) {
            /* Payment required: refused before running anything, so another
             * worker may take it (one of the operator the voucher pays). The
             * answer kept is the one that names a required amount, if any:
             * the voucher's own operator's terms. */
            json_t *pj = NULL;
            if (resp.len) phx_json_parse((const char *)resp.ptr, resp.len, &pj, NULL);
            phx_buf_free(&resp);
            err = phx_fail(e, PHX_ERR_REMOTE, "worker %s wants payment (402)", url);
            if (affinity && pj) {
                /* Sticky: the key's worker wants payment (its operator is not
                 * the one the voucher pays, or it wants more). Its terms are
                 * the answer: the client pays it and sends the key again.
                 * Moving on would land the key on whichever worker takes the
                 * voucher, not on its own (issue 15: at N=100 every key went
                 * to the worker of the operator the payer had paid last). */
                json_decref(paywall);
                paywall = pj;
                break;
            }
            bool better = pj && (!paywall || json_object_get(json_object_get(pj, "payment"),
                                                             "required_cumulative"));
            if (better) {
                json_decref(paywall);
                paywall = pj;
            } else {
                json_decref(pj);
            }
            continue;
        }
        if (code == 503 || (safe && code >= 500)) {
            err = phx_fail(e, PHX_ERR_REMOTE, "worker %s answered %d", url, code);
            phx_buf_free(&resp);
            continue;
        }
        served(p, url);
        *status = code;
        if (resp.len && phx_json_parse((const char *)resp.ptr, resp.len, out, e)) {
            err = phx_fail(e, PHX_ERR_REMOTE, "worker %s answered with non-JSON", url);
            phx_buf_free(&resp);
            goto out;
        }
        phx_buf_free(&resp);
        if (used && cap) snprintf(used, cap, "%s", url);
        err = PHX_OK;
        goto out;
    }
    if (err && paywall) { /* no worker took it unpaid: their terms are the answer */
        *status = 402;
        *out = paywall;
        paywall = NULL;
        err = PHX_OK;
    }
    if (err && busy) { /* every worker tried was busy: that is the answer */
        *status = 429;
        *out = busy;
        busy = NULL;
        err = PHX_OK;
    }
out:
    json_decref(busy);
    json_decref(paywall);
    free(text);
    return err;
}

json_t *phx_gw_pool_status(phx_gw_pool_t *p)
{
    json_t *a = json_array();
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; a && i < p->n; i++) {
        member_t *m = &p->m[i];
        json_array_append_new(
            a, json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I}", "url", m->url, "healthy", m->healthy,
                         "failures", (json_int_t)m->failures, "checks", (json_int_t)m->checks,
                         "last_ok_ms", (json_int_t)m->last_ok_ms, "latency_ms",
                         (json_int_t)m->latency_ms, "served", (json_int_t)m->served));
    }
    pthread_mutex_unlock(&p->lock);
    return a;
}

phx_err_t phx_gw_pool_remove(phx_gw_pool_t *p, const char *base_url, phx_error_t *e)
{
    size_t len = strlen(base_url);
    while (len && base_url[len - 1] == '/')
        len--;
    phx_err_t err = phx_fail(e, PHX_ERR_NOT_FOUND, "no worker %.64s in the pool", base_url);
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n; i++) {
        if (strlen(p->m[i].url) != len || strncmp(p->m[i].url, base_url, len) != 0) continue;
        memmove(&p->m[i], &p->m[i + 1], (p->n - i - 1) * sizeof p->m[0]);
        p->n--;
        if (p->rr >= p->n) p->rr = 0;
        err = PHX_OK;
        break;
    }
    pthread_mutex_unlock(&p->lock);
    return err;
}

bool phx_gw_pool_has(phx_gw_pool_t *p, const char *base_url)
{
    bool found = false;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n && !found; i++)
        found = strcmp(p->m[i].url, base_url) == 0;
    pthread_mutex_unlock(&p->lock);
    return found;
}
