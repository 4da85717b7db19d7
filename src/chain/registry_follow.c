/* The Registry's workers as its events say (phx/chain_registry.h): the
 * Registry's worker events through the src/evm log follower (pages, a cursor
 * on disk, rollback on reorgs), kept by worker address with the URL each
 * announced. The list is written to DIR/registry.json after every change and
 * the follower's cursor to DIR/registry.cursor after every page, so a restart
 * resumes where it stopped; an event delivered twice (a crash between the two
 * writes) changes nothing the second time. Nothing here is trusted for
 * routing: the gateway still asks the chain whether each worker is eligible
 * and the server at its URL to sign with the worker key (docs/gateway.md
 * "Discovery"); a worker checks every peer answer's signer against the
 * Registry (docs/worker.md "k-of-n"). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phx/chain_registry.h"
#include "phx/json.h"

struct phx_chain_registry_follower {
    pthread_mutex_t lock;
    phx_rpc_t *rpc;
    phx_evm_follower_t *follower;
    phx_chain_deployment_t dep;
    char *state_path;
    phx_chain_registry_worker_t *items;
    size_t n, cap;
    bool changed; /* by the poll under way */
};

static phx_chain_registry_worker_t *find(phx_chain_registry_follower_t *d, const uint8_t addr[20])
{
    for (size_t i = 0; i < d->n; i++)
        if (!memcmp(d->items[i].address, addr, 20)) return &d->items[i];
    return NULL;
}

static phx_chain_registry_worker_t *find_or_add(phx_chain_registry_follower_t *d,
                                                const uint8_t addr[20], phx_error_t *e)
{
    phx_chain_registry_worker_t *w = find(d, addr);
    if (w) return w;
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 16;
        phx_chain_registry_worker_t *m = realloc(d->items, cap * sizeof *m);
        if (!m) {
            phx_fail(e, PHX_ERR_NOMEM, "Registry follower");
            return NULL;
        }
        d->items = m;
        d->cap = cap;
    }
    w = &d->items[d->n++];
    memset(w, 0, sizeof *w);
    memcpy(w->address, addr, 20);
    return w;
}

static phx_err_t save(phx_chain_registry_follower_t *d, phx_error_t *e)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < d->n; i++) {
        const phx_chain_registry_worker_t *w = &d->items[i];
        json_array_append_new(
            a,
            json_pack("{s:o,s:o,s:i,s:s,s:I,s:I,s:I}", "address", phx_json_hex(w->address, 20),
                      "operator", phx_json_hex(w->operator_, 20), "status", (int)w->status, "url",
                      w->url, "registered_block", (json_int_t)w->registered_block, "status_block",
                      (json_int_t)w->status_block, "url_block", (json_int_t)w->url_block));
    }
    json_t *doc = a ? json_pack("{s:o}", "workers", a) : NULL;
    char *text = doc ? phx_json_dump(doc, true) : NULL;
    json_decref(doc);
    if (!text) return phx_fail(e, PHX_ERR_NOMEM, "Registry follower state");
    phx_err_t err = phx_file_write_atomic(d->state_path, text, strlen(text), 0600, e);
    free(text);
    return err;
}

/* The list as saved; false when there is none or it does not read (then the
 * follower starts over from the deployment block). */
static bool load(phx_chain_registry_follower_t *d)
{
    json_t *doc = NULL, *a, *v;
    size_t i;
    if (phx_json_load_file(d->state_path, &doc, NULL)) return false;
    bool ok = json_is_array(a = json_object_get(doc, "workers"));
    json_array_foreach(a, i, v)
    {
        uint8_t addr[20];
        const char *url;
        int64_t st = 0, rb = 0, sb = 0, ub = 0;
        phx_chain_registry_worker_t *w;
        if (phx_json_get_hex_fixed(v, "address", addr, 20, NULL) ||
            phx_json_get_str(v, "url", &url, NULL) || phx_json_get_int(v, "status", &st, NULL) ||
            phx_json_get_int(v, "registered_block", &rb, NULL) ||
            phx_json_get_int(v, "status_block", &sb, NULL) ||
            phx_json_get_int(v, "url_block", &ub, NULL) ||
            (url[0] && phx_chain_endpoint_check(url, strlen(url), NULL)) || st < 0 || st > 3 ||
            !(w = find_or_add(d, addr, NULL)) ||
            phx_json_get_hex_fixed(v, "operator", w->operator_, 20, NULL)) {
            ok = false;
            break;
        }
        snprintf(w->url, sizeof w->url, "%s", url);
        w->status = (uint8_t)st;
        w->registered_block = (uint64_t)rb;
        w->status_block = (uint64_t)sb;
        w->url_block = (uint64_t)ub;
    }
    json_decref(doc);
    if (!ok) d->n = 0;
    return ok;
}

static phx_err_t on_log(void *ctx, const phx_evm_log_t *log, phx_error_t *e)
{
    phx_chain_registry_follower_t *d = ctx;
    phx_chain_registry_event_t ev;
    phx_error_t pe = {0};
    if (phx_chain_parse_registry_event(log, &ev, &pe)) {
        /* Not ours, or malformed: a bad log must not stall the follower. */
        PHX_WARN("Registry log at block %llu skipped: %s", (unsigned long long)log->block_number,
                 pe.message);
        return PHX_OK;
    }
    phx_chain_registry_worker_t *w = find_or_add(d, ev.worker, e);
    if (!w) return PHX_ERR_NOMEM;
    switch (ev.kind) {
    case PHX_CHAIN_REG_EV_REGISTERED:
        memcpy(w->operator_, ev.operator_, 20);
        w->status = PHX_CHAIN_WORKER_ACTIVE;
        w->registered_block = w->status_block = log->block_number;
        break;
    case PHX_CHAIN_REG_EV_DEREGISTERED:
    case PHX_CHAIN_REG_EV_INVALIDATED:
        w->status = ev.kind == PHX_CHAIN_REG_EV_DEREGISTERED ? PHX_CHAIN_WORKER_DEREGISTERED
                                                             : PHX_CHAIN_WORKER_INVALIDATED;
        w->status_block = log->block_number;
        break;
    case PHX_CHAIN_REG_EV_ENDPOINT:
        snprintf(w->url, sizeof w->url, "%s", ev.url);
        w->url_block = log->block_number;
        break;
    }
    d->changed = true;
    return save(d, e);
}

/* The chain's endpointOf(worker) now, for a URL whose event was voided. */
static void reread_url(phx_chain_registry_follower_t *d, phx_chain_registry_worker_t *w)
{
    json_t *args = json_pack("[o]", phx_json_hex(w->address, 20)), *res = NULL;
    const char *url = NULL;
    w->url[0] = '\0';
    if (args && !phx_chain_read(d->rpc, d->dep.registry, "endpointOf(address)", args, "(string)",
                                &res, NULL))
        url = json_string_value(json_array_get(res, 0));
    if (url && url[0] && !phx_chain_endpoint_check(url, strlen(url), NULL))
        snprintf(w->url, sizeof w->url, "%s", url);
    json_decref(res);
    json_decref(args);
}

/* Undo what the void blocks did: a registration there goes, a status change
 * there returns to active, a URL set there is read again from the chain (the
 * replacing blocks' logs come next and set whatever they set). */
static phx_err_t on_rollback(void *ctx, uint64_t first_void, phx_error_t *e)
{
    phx_chain_registry_follower_t *d = ctx;
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++) {
        phx_chain_registry_worker_t *w = &d->items[i];
        if (w->registered_block >= first_void) continue;
        if (w->status_block >= first_void) {
            w->status = PHX_CHAIN_WORKER_ACTIVE;
            w->status_block = w->registered_block;
        }
        if (w->url_block >= first_void) reread_url(d, w), w->url_block = w->registered_block;
        d->items[k++] = *w;
    }
    d->n = k;
    d->changed = true;
    return save(d, e);
}

phx_err_t phx_chain_registry_follow_open(const char *rpc_url, const phx_chain_deployment_t *dep,
                                         const char *dir, phx_chain_registry_follower_t **out,
                                         phx_error_t *e)
{
    *out = NULL;
    phx_chain_registry_follower_t *d = calloc(1, sizeof *d);
    if (!d) return phx_fail(e, PHX_ERR_NOMEM, "Registry follower");
    pthread_mutex_init(&d->lock, NULL);
    d->dep = *dep;
    size_t pl = strlen(dir) + sizeof "/registry.cursor";
    char *cursor = malloc(pl);
    d->state_path = malloc(pl);
    phx_err_t err = PHX_OK;
    uint8_t topics[4][32];
    if (!cursor || !d->state_path) {
        err = phx_fail(e, PHX_ERR_NOMEM, "Registry follower");
        goto out;
    }
    snprintf(cursor, pl, "%s/registry.cursor", dir);
    snprintf(d->state_path, pl, "%s/registry.json", dir);
    /* A cursor without the list it was written with would skip the events
     * that list came from: start over. */
    if (!load(d)) unlink(cursor);
    phx_rpc_opts_t ro = {.timeout_ms = 5000, .retries = 1};
    if ((err = phx_chain_registry_event_topics(topics, e)) ||
        (err = phx_rpc_open(rpc_url, &ro, &d->rpc, e)))
        goto out;
    phx_evm_follower_opts_t fo = {.cursor_path = cursor,
                                  .start_block = dep->block,
                                  .addresses = (const uint8_t(*)[20])dep->registry,
                                  .address_count = 1,
                                  .topic0 = (const uint8_t(*)[32])topics,
                                  .topic0_count = 4};
    err = phx_evm_follower_open(d->rpc, &fo, &d->follower, e);
out:
    free(cursor);
    if (err) {
        phx_chain_registry_follow_close(d);
        return err;
    }
    *out = d;
    return PHX_OK;
}

void phx_chain_registry_follow_close(phx_chain_registry_follower_t *d)
{
    if (!d) return;
    phx_evm_follower_close(d->follower);
    phx_rpc_close(d->rpc);
    pthread_mutex_destroy(&d->lock);
    free(d->items);
    free(d->state_path);
    free(d);
}

phx_err_t phx_chain_registry_follow_poll(phx_chain_registry_follower_t *d, size_t *delivered,
                                         bool *changed, phx_error_t *e)
{
    phx_evm_follower_cb_t cb = {on_log, on_rollback, d};
    pthread_mutex_lock(&d->lock);
    d->changed = false;
    phx_err_t err = phx_evm_follower_poll(d->follower, &cb, delivered, e);
    if (changed) *changed = d->changed;
    pthread_mutex_unlock(&d->lock);
    return err;
}

size_t phx_chain_registry_follow_list(phx_chain_registry_follower_t *d,
                                      phx_chain_registry_worker_t **out)
{
    pthread_mutex_lock(&d->lock);
    size_t n = d->n;
    *out = n ? malloc(n * sizeof **out) : NULL;
    if (*out)
        memcpy(*out, d->items, n * sizeof **out);
    else
        n = 0;
    pthread_mutex_unlock(&d->lock);
    return n;
}
