/* A worker's k-of-n peers (docs/worker.md "k-of-n"): the other workers it asks
 * for their signed observations and reports. They come from the chain: the
 * Registry's workers as its events say (phx/chain_registry.h, the follower the
 * gateway discovers workers with), kept while active and with an announced
 * URL, this worker left out; `--peer` URLs are added first (tests, or a peer
 * the chain does not list yet). A thread of its own follows the Registry every
 * poll_ms and, when an event changed the list, builds the peer list again
 * under the lock; the job thread copies it at the start of each round
 * (wk_peers_get), so a round reads no chain for it. A URL is trusted for
 * nothing: round.c counts an answer only when its signature recovers to an
 * active worker of the Registry.
 *
 * Health: the list follows the chain, not liveness, so a worker killed but
 * not deregistered stays listed. Each ask goes through wk_peers_ask, which
 * keeps, per URL and under the same lock, the peers whose last ask failed in
 * transport and until when they are backed off (1 s, doubling to 8 s); a
 * round (wk_peers_due) leaves those out, and does not wait for them. Only
 * the failing peers have an entry, so there are never more than listed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>
#include <stdatomic.h>

#include "peers.h"
#include "phx/chain_registry.h"
#include "phx/net.h"

#define PEER_TIMEOUT_MS 1500
#define PEER_CONNECT_MS 500

/* A peer whose last ask failed in transport. */
typedef struct {
    char url[WK_PEER_URL_MAX];
    unsigned fails;    /* in a row */
    uint64_t until_ms; /* phx_monotonic_ms: left out of rounds before this */
} health_t;

struct wk_peers {
    pthread_mutex_t lock; /* list, from_chain and health */
    wk_peer_list_t list;
    size_t from_chain;                     /* of list.n */
    health_t health[PHX_WORKER_MAX_PEERS]; /* listed peers only */
    size_t nhealth;
    char flags[PHX_WORKER_MAX_PEERS][WK_PEER_URL_MAX];
    size_t nflags;
    /* the peers thread's, set before it starts */
    phx_chain_registry_follower_t *registry;
    uint8_t self[20];
    char self_url[WK_PEER_URL_MAX];
    uint64_t poll_ms;
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    atomic_uint_fast64_t generation; /* Registry polls that changed something */
};

phx_err_t wk_peers_new(const char *const *urls, int n, wk_peers_t **out, phx_error_t *e)
{
    *out = NULL;
    if (n < 0 || n > PHX_WORKER_MAX_PEERS)
        return phx_fail(e, PHX_ERR_INVALID, "at most %d peers", PHX_WORKER_MAX_PEERS);
    wk_peers_t *p = calloc(1, sizeof *p);
    if (!p) return phx_fail(e, PHX_ERR_NOMEM, "peers");
    pthread_mutex_init(&p->lock, NULL);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(urls[i]);
        while (len && urls[i][len - 1] == '/')
            len--;
        if (len >= sizeof p->flags[0] ||
            (strncmp(urls[i], "http://", 7) && strncmp(urls[i], "https://", 8))) {
            wk_peers_free(p);
            return phx_fail(e, PHX_ERR_INVALID, "peer \"%.100s\" is not an http(s) URL", urls[i]);
        }
        snprintf(p->flags[p->nflags++], sizeof p->flags[0], "%.*s", (int)len, urls[i]);
    }
    memcpy(p->list.url, p->flags, sizeof p->flags);
    p->list.n = p->nflags;
    *out = p;
    return PHX_OK;
}

static bool listed(const wk_peer_list_t *l, const char *url)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->url[i], url)) return true;
    return false;
}

/* The flags, then every active worker of the Registry with a URL but this
 * one (by address, and by URL: an identity of an earlier boot that is not
 * deregistered yet may still name this server), each URL once. */
static void rebuild(wk_peers_t *p)
{
    phx_chain_registry_worker_t *all = NULL;
    size_t n = phx_chain_registry_follow_list(p->registry, &all);
    wk_peer_list_t *l = malloc(sizeof *l);
    if (!l) {
        free(all);
        return; /* the last list stands */
    }
    memcpy(l->url, p->flags, sizeof p->flags);
    l->n = p->nflags;
    size_t chain = 0, over = 0;
    for (size_t i = 0; i < n; i++) {
        const phx_chain_registry_worker_t *cw = &all[i];
        if (cw->status != PHX_CHAIN_WORKER_ACTIVE || !cw->url[0] ||
            !memcmp(cw->address, p->self, 20) || !strcmp(cw->url, p->self_url) ||
            listed(l, cw->url))
            continue;
        if (l->n == PHX_WORKER_MAX_PEERS) {
            over++;
            continue;
        }
        snprintf(l->url[l->n++], sizeof l->url[0], "%s", cw->url);
        chain++;
    }
    free(all);
    pthread_mutex_lock(&p->lock);
    bool moved = chain != p->from_chain;
    p->list = *l;
    p->from_chain = chain;
    size_t kept = 0; /* the health of peers no longer listed goes */
    for (size_t i = 0; i < p->nhealth; i++)
        if (listed(&p->list, p->health[i].url)) p->health[kept++] = p->health[i];
    p->nhealth = kept;
    pthread_mutex_unlock(&p->lock);
    free(l);
    if (moved)
        PHX_INFO("worker: %zu k-of-n peer(s) from the Registry, %zu from --peer", chain, p->nflags);
    if (over)
        PHX_WARN("worker: %zu active worker(s) of the Registry left out: at most %d peers", over,
                 PHX_WORKER_MAX_PEERS);
}

static void *peers_main(void *arg)
{
    wk_peers_t *p = arg;
    bool first = true, failing = false;
    while (!atomic_load(&p->stopping)) {
        phx_error_t e = {0};
        bool changed = false;
        phx_err_t err = phx_chain_registry_follow_poll(p->registry, NULL, &changed, &e);
        if (err && !failing) PHX_WARN("worker: following the Registry for peers: %s", e.message);
        if (!err && failing) PHX_INFO("worker: following the Registry for peers again");
        failing = err != PHX_OK;
        /* What it has, even when this poll fell short. */
        if (changed || first) rebuild(p);
        if (changed) atomic_fetch_add(&p->generation, 1);
        first = false;
        for (uint64_t slept = 0; slept < p->poll_ms && !atomic_load(&p->stopping); slept += 50)
            usleep(50 * 1000);
    }
    return NULL;
}

phx_err_t wk_peers_start(wk_peers_t *p, const char *rpc_url, const phx_chain_deployment_t *dep,
                         const char *dir, const uint8_t self[20], const char *self_url,
                         uint64_t poll_ms, phx_error_t *e)
{
    memcpy(p->self, self, 20);
    snprintf(p->self_url, sizeof p->self_url, "%s", self_url);
    p->poll_ms = poll_ms ? poll_ms : 1000;
    phx_err_t err = phx_chain_registry_follow_open(rpc_url, dep, dir, &p->registry, e);
    if (err) return phx_error_wrap(e, err, "following the Registry for k-of-n peers");
    if (pthread_create(&p->thread, NULL, peers_main, p) != 0)
        return phx_fail(e, PHX_ERR_INTERNAL, "peers thread");
    p->started = true;
    return PHX_OK;
}

uint64_t wk_peers_generation(wk_peers_t *p)
{
    return p ? (uint64_t)atomic_load(&p->generation) : 0;
}

void wk_peers_get(wk_peers_t *p, wk_peer_list_t *out)
{
    out->n = 0;
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    out->n = p->list.n;
    memcpy(out->url, p->list.url, p->list.n * sizeof p->list.url[0]);
    pthread_mutex_unlock(&p->lock);
}

/* The health entry of url, or NULL; under the lock. */
static health_t *health_of(wk_peers_t *p, const char *url)
{
    for (size_t i = 0; i < p->nhealth; i++)
        if (!strcmp(p->health[i].url, url)) return &p->health[i];
    return NULL;
}

void wk_peers_due(wk_peers_t *p, wk_peer_list_t *out, size_t *down)
{
    out->n = 0;
    if (down) *down = 0;
    if (!p) return;
    uint64_t now = phx_monotonic_ms();
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->list.n; i++) {
        const health_t *h = health_of(p, p->list.url[i]);
        if (h && now < h->until_ms) {
            if (down) (*down)++;
            continue;
        }
        memcpy(out->url[out->n++], p->list.url[i], sizeof out->url[0]);
    }
    pthread_mutex_unlock(&p->lock);
}

/* Record one ask of url: failed in transport, or answered. */
static void health_note(wk_peers_t *p, const char *url, bool failed)
{
    bool back = false;
    uint64_t ms = 0; /* the back-off of a first failure in a row, to log */
    pthread_mutex_lock(&p->lock);
    health_t *h = health_of(p, url);
    if (!failed && h) {
        *h = p->health[--p->nhealth];
        back = true;
    } else if (failed && listed(&p->list, url)) { /* one the list dropped meanwhile: no entry */
        if (!h && p->nhealth < PHX_WORKER_MAX_PEERS) {
            h = &p->health[p->nhealth++];
            snprintf(h->url, sizeof h->url, "%s", url);
            h->fails = 0;
        }
        if (h) {
            uint64_t b = WK_PEER_BACKOFF_MS;
            for (unsigned i = 0; i < h->fails && b < WK_PEER_BACKOFF_MAX_MS; i++)
                b *= 2;
            if (b > WK_PEER_BACKOFF_MAX_MS) b = WK_PEER_BACKOFF_MAX_MS;
            h->until_ms = phx_monotonic_ms() + b;
            if (h->fails++ == 0) ms = b;
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (back) PHX_INFO("worker: k-of-n peer %s answers again", url);
    if (ms)
        PHX_INFO("worker: k-of-n peer %s is down: left out of rounds for %llu ms, longer while "
                 "it stays down",
                 url, (unsigned long long)ms);
}

phx_err_t wk_peers_ask(wk_peers_t *p, const char *peer, const char *path, json_t **out, bool *down,
                       phx_error_t *e)
{
    char url[WK_PEER_URL_MAX + 128];
    snprintf(url, sizeof url, "%s%s", peer, path);
    phx_http_client_opts_t co = {.timeout_ms = PEER_TIMEOUT_MS,
                                 .connect_timeout_ms = PEER_CONNECT_MS};
    phx_err_t err = phx_http_json("GET", url, NULL, &co, NULL, out, e);
    bool failed = err == PHX_ERR_IO || err == PHX_ERR_TIMEOUT;
    if (down) *down = failed;
    if (p) health_note(p, peer, failed);
    return err;
}

size_t wk_peers_down(wk_peers_t *p)
{
    if (!p) return 0;
    uint64_t now = phx_monotonic_ms();
    size_t n = 0;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->nhealth; i++)
        n += now < p->health[i].until_ms;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void wk_peers_counts(wk_peers_t *p, size_t *from_chain, size_t *from_flags)
{
    *from_chain = *from_flags = 0;
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    *from_chain = p->from_chain;
    *from_flags = p->nflags;
    pthread_mutex_unlock(&p->lock);
}

void wk_peers_free(wk_peers_t *p)
{
    if (!p) return;
    if (p->started) {
        atomic_store(&p->stopping, true);
        pthread_join(p->thread, NULL);
    }
    phx_chain_registry_follow_close(p->registry);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
