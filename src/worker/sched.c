/* The worker's invocation scheduler (sched.h). Waiters sit on the caller's
 * stack, each with its own condition variable: a release hands the slot to
 * one chosen waiter directly, so no woken thread races a newcomer for it. */
#include "sched.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct waiter {
    uint8_t key[32], owner[20];
    bool onchain, granted;
    pthread_cond_t cv;
    struct waiter *next;
} waiter_t;

typedef struct {
    uint8_t key[32], owner[20];
    bool used, onchain;
} slot_t;

struct wk_sched {
    pthread_mutex_t mu;
    wk_sched_limits_t lim;
    slot_t *slots; /* lim.max of them */
    waiter_t *head, *tail;
    unsigned running, running_onchain, queued_direct;
    uint64_t admitted, rejected, queue_ms_total, queue_ms_max;
};

void wk_sched_limits_default(unsigned max, unsigned per_contract, unsigned per_owner,
                             wk_sched_limits_t *out)
{
    if (!max) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        max = n > 0 ? (unsigned)n * 2 : 2;
    }
    if (max < 2) max = 2; /* one direct slot and the reserved one */
    out->max = max;
    out->reserved = max / 4 ? max / 4 : 1;
    unsigned direct = max - out->reserved;
    out->per_contract = per_contract ? per_contract : (direct / 2 ? direct / 2 : 1);
    if (out->per_contract > direct) out->per_contract = direct;
    out->per_owner = per_owner ? per_owner : out->per_contract + (direct - out->per_contract) / 2;
    if (out->per_owner > direct) out->per_owner = direct;
    if (out->per_owner < out->per_contract) out->per_owner = out->per_contract;
    out->max_queue = direct * 4;
    out->per_queue = out->max_queue / 4 ? out->max_queue / 4 : 1;
    out->owner_queue = out->max_queue / 2 ? out->max_queue / 2 : 1;
}

phx_err_t wk_sched_new(const wk_sched_limits_t *limits, wk_sched_t **out, phx_error_t *e)
{
    *out = NULL;
    if (!limits->max || limits->reserved >= limits->max || !limits->per_contract ||
        limits->max > 4096)
        return phx_fail(e, PHX_ERR_RANGE,
                        "concurrency limits: max %u (1..4096), reserved %u (< max), "
                        "per contract %u (>= 1)",
                        limits->max, limits->reserved, limits->per_contract);
    wk_sched_t *s = calloc(1, sizeof *s);
    if (s) s->slots = calloc(limits->max, sizeof *s->slots);
    if (!s || !s->slots) {
        free(s);
        return phx_fail(e, PHX_ERR_NOMEM, "scheduler");
    }
    s->lim = *limits;
    /* Zero: no cap by owner (only by contract). */
    if (!s->lim.per_owner) s->lim.per_owner = s->lim.max;
    if (!s->lim.owner_queue) s->lim.owner_queue = ~0u;
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return PHX_OK;
}

void wk_sched_free(wk_sched_t *s)
{
    if (!s) return;
    pthread_mutex_destroy(&s->mu);
    free(s->slots);
    free(s);
}

static unsigned running_of(const wk_sched_t *s, const uint8_t key[32])
{
    unsigned n = 0;
    for (unsigned i = 0; i < s->lim.max; i++)
        n += s->slots[i].used && !s->slots[i].onchain && !memcmp(s->slots[i].key, key, 32);
    return n;
}

static unsigned queued_of(const wk_sched_t *s, const uint8_t key[32])
{
    unsigned n = 0;
    for (const waiter_t *w = s->head; w; w = w->next)
        n += !w->onchain && !memcmp(w->key, key, 32);
    return n;
}

/* An unknown owner (all zero) groups nothing: such a contract counts as its
 * own owner, so it is capped by contract alone. */
static bool same_owner(const uint8_t a[20], const uint8_t a_key[32], const uint8_t b[20],
                       const uint8_t b_key[32])
{
    static const uint8_t zero[20];
    if (!memcmp(a, zero, 20) || !memcmp(b, zero, 20)) return !memcmp(a_key, b_key, 32);
    return !memcmp(a, b, 20);
}

/* Direct calls running for the owner of (key, owner), over all its contracts. */
static unsigned owner_running(const wk_sched_t *s, const uint8_t key[32], const uint8_t owner[20])
{
    unsigned n = 0;
    for (unsigned i = 0; i < s->lim.max; i++) {
        const slot_t *sl = &s->slots[i];
        n += sl->used && !sl->onchain && same_owner(sl->owner, sl->key, owner, key);
    }
    return n;
}

static unsigned owner_queued(const wk_sched_t *s, const uint8_t key[32], const uint8_t owner[20])
{
    unsigned n = 0;
    for (const waiter_t *w = s->head; w; w = w->next)
        n += !w->onchain && same_owner(w->owner, w->key, owner, key);
    return n;
}

/* Whether an invocation of this kind could start now. */
static bool can_start(const wk_sched_t *s, const uint8_t key[32], const uint8_t owner[20],
                      bool onchain)
{
    if (s->running >= s->lim.max) return false;
    if (onchain) return true; /* direct calls leave at least the reserved slots free */
    return s->running - s->running_onchain < s->lim.max - s->lim.reserved &&
           running_of(s, key) < s->lim.per_contract &&
           owner_running(s, key, owner) < s->lim.per_owner;
}

static void take_slot(wk_sched_t *s, const uint8_t key[32], const uint8_t owner[20], bool onchain)
{
    for (unsigned i = 0; i < s->lim.max; i++) {
        if (s->slots[i].used) continue;
        s->slots[i].used = true;
        s->slots[i].onchain = onchain;
        memcpy(s->slots[i].key, key, 32);
        memcpy(s->slots[i].owner, owner, 20);
        break;
    }
    s->running++;
    if (onchain) s->running_onchain++;
}

static void unlink_waiter(wk_sched_t *s, waiter_t *w)
{
    waiter_t **pp = &s->head, *prev = NULL;
    while (*pp && *pp != w)
        prev = *pp, pp = &(*pp)->next;
    if (!*pp) return;
    *pp = w->next;
    if (s->tail == w) s->tail = prev;
    if (!w->onchain) s->queued_direct--;
}

/* Hand free slots to waiters: paid on-chain jobs first, in order; then the
 * direct call whose owner has the fewest running, then whose contract has the
 * fewest running (oldest among equals). Owners thus take turns however many
 * contracts each has waiting, and each owner's contracts take turns. */
static void dispatch(wk_sched_t *s)
{
    for (;;) {
        waiter_t *pick = NULL;
        unsigned best_owner = ~0u, best = ~0u;
        for (waiter_t *w = s->head; w; w = w->next) {
            if (!can_start(s, w->key, w->owner, w->onchain)) continue;
            if (w->onchain) {
                pick = w;
                break;
            }
            unsigned o = owner_running(s, w->key, w->owner), r = running_of(s, w->key);
            if (o < best_owner || (o == best_owner && r < best)) best_owner = o, best = r, pick = w;
        }
        if (!pick) return;
        unlink_waiter(s, pick);
        take_slot(s, pick->key, pick->owner, pick->onchain);
        pick->granted = true;
        pthread_cond_signal(&pick->cv);
    }
}

phx_err_t wk_sched_acquire(wk_sched_t *s, const uint8_t key[32], const uint8_t owner[20],
                           bool onchain, uint64_t *queue_ms, uint32_t *retry_after_s,
                           phx_error_t *e)
{
    *queue_ms = 0;
    if (retry_after_s) *retry_after_s = 0;
    uint64_t t0 = phx_monotonic_ms();
    pthread_mutex_lock(&s->mu);
    /* Nobody jumps a queue: a newcomer starts at once only when no one of
     * its kind is waiting for what it would take. */
    if (!s->head && can_start(s, key, owner, onchain)) {
        take_slot(s, key, owner, onchain);
        s->admitted++;
        pthread_mutex_unlock(&s->mu);
        return PHX_OK;
    }
    const char *full = NULL;
    if (onchain)
        ;
    else if (s->queued_direct >= s->lim.max_queue)
        full = "its queue of calls is full";
    else if (queued_of(s, key) >= s->lim.per_queue)
        full = "this contract has as many calls waiting as it may";
    else if (owner_queued(s, key, owner) >= s->lim.owner_queue)
        full = "this contract's owner has as many calls waiting as it may";
    if (full) {
        s->rejected++;
        pthread_mutex_unlock(&s->mu);
        /* A slot frees when a running invocation ends: a second is a fair
         * first guess for a client that backs off and retries. */
        if (retry_after_s) *retry_after_s = 1;
        return phx_fail(e, PHX_ERR_LIMIT, "the worker is busy: %s; retry later", full);
    }
    waiter_t w = {.onchain = onchain};
    memcpy(w.key, key, 32);
    memcpy(w.owner, owner, 20);
    pthread_cond_init(&w.cv, NULL);
    if (s->tail)
        s->tail->next = &w;
    else
        s->head = &w;
    s->tail = &w;
    if (!onchain) s->queued_direct++;
    dispatch(s); /* it may be startable now, behind waiters that are not */
    while (!w.granted)
        pthread_cond_wait(&w.cv, &s->mu);
    pthread_cond_destroy(&w.cv);
    *queue_ms = phx_monotonic_ms() - t0;
    s->admitted++;
    s->queue_ms_total += *queue_ms;
    if (*queue_ms > s->queue_ms_max) s->queue_ms_max = *queue_ms;
    pthread_mutex_unlock(&s->mu);
    return PHX_OK;
}

void wk_sched_release(wk_sched_t *s, const uint8_t key[32], bool onchain)
{
    pthread_mutex_lock(&s->mu);
    for (unsigned i = 0; i < s->lim.max; i++) {
        slot_t *sl = &s->slots[i];
        if (sl->used && sl->onchain == onchain && !memcmp(sl->key, key, 32)) {
            sl->used = false;
            s->running--;
            if (onchain) s->running_onchain--;
            break;
        }
    }
    dispatch(s);
    pthread_mutex_unlock(&s->mu);
}

void wk_sched_stats(wk_sched_t *s, wk_sched_stats_t *out)
{
    pthread_mutex_lock(&s->mu);
    out->limits = s->lim;
    out->running = s->running;
    out->running_onchain = s->running_onchain;
    out->queued = 0;
    for (const waiter_t *w = s->head; w; w = w->next)
        out->queued++;
    out->admitted_total = s->admitted;
    out->rejected_total = s->rejected;
    out->queue_ms_total = s->queue_ms_total;
    out->queue_ms_max = s->queue_ms_max;
    pthread_mutex_unlock(&s->mu);
}
