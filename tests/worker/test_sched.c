/* The worker's invocation scheduler (src/worker/sched.c), without a worker:
 * the reserved on-chain lane, the per-contract and per-owner caps, the bounded
 * queues that refuse at once, and which waiter a freed slot goes to. Waiters are real
 * threads blocked in wk_sched_acquire; every grant happens inside a release
 * call, so what a release decided is known when it returns (no timing). */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "../../src/worker/sched.h"
#include "test.h"

static wk_sched_t *s;

typedef struct {
    uint8_t key[32], owner[20];
    bool onchain;
    pthread_t t;
    atomic_bool done;
    phx_err_t err;
    uint64_t queue_ms;
} waiter_t;

static void key_of(char c, uint8_t key[32])
{
    memset(key, c, 32);
}

static void *wait_thread(void *arg)
{
    waiter_t *w = arg;
    phx_error_t e = {0};
    w->err = wk_sched_acquire(s, w->key, w->owner, w->onchain, &w->queue_ms, NULL, &e);
    atomic_store(&w->done, true);
    return NULL;
}

/* Start a waiter for contract c of owner o (0: unknown) and return once the
 * scheduler counts it as queued or it was granted. */
static void start_owned(waiter_t *w, char c, char o, bool onchain, unsigned queued_after)
{
    key_of(c, w->key);
    memset(w->owner, o, 20);
    w->onchain = onchain;
    atomic_store(&w->done, false);
    pthread_create(&w->t, NULL, wait_thread, w);
    wk_sched_stats_t st;
    do {
        sched_yield();
        wk_sched_stats(s, &st);
    } while (st.queued < queued_after && !atomic_load(&w->done));
}

static void start_waiter(waiter_t *w, char c, bool onchain, unsigned queued_after)
{
    start_owned(w, c, 0, onchain, queued_after);
}

static phx_err_t now_owned(char c, char o, bool onchain, uint32_t *retry)
{
    uint8_t k[32], owner[20];
    uint64_t q;
    phx_error_t e = {0};
    key_of(c, k);
    memset(owner, o, 20);
    return wk_sched_acquire(s, k, owner, onchain, &q, retry, &e);
}

static phx_err_t now(char c, bool onchain, uint32_t *retry)
{
    return now_owned(c, 0, onchain, retry);
}

static void release(char c, bool onchain)
{
    uint8_t k[32];
    key_of(c, k);
    wk_sched_release(s, k, onchain);
}

static void test_defaults(void)
{
    wk_sched_limits_t l;
    wk_sched_limits_default(4, 0, 0, &l);
    CHECK(l.max == 4 && l.reserved == 1 && l.per_contract == 1 && l.per_owner == 2);
    CHECK(l.max_queue == 12 && l.per_queue == 3 && l.owner_queue == 6);
    wk_sched_limits_default(16, 0, 0, &l);
    CHECK(l.max == 16 && l.reserved == 4 && l.per_contract == 6 && l.per_owner == 9);
    wk_sched_limits_default(1, 9, 9, &l); /* at least 2; the caps no more than the direct slots */
    CHECK(l.max == 2 && l.reserved == 1 && l.per_contract == 1 && l.per_owner == 1);
    wk_sched_limits_default(16, 6, 2, &l); /* an owner's cap is at least a contract's */
    CHECK(l.per_contract == 6 && l.per_owner == 6);
    wk_sched_limits_default(0, 0, 0, &l);
    CHECK(l.max >= 2 && l.reserved >= 1 && l.reserved < l.max);
    wk_sched_t *bad = NULL;
    phx_error_t e = {0};
    wk_sched_limits_t z = {.max = 2, .reserved = 2, .per_contract = 1};
    CHECK(wk_sched_new(&z, &bad, &e) == PHX_ERR_RANGE && !bad);
}

static void test_lanes_caps_queues(void)
{
    wk_sched_limits_t l = {
        .max = 4, .reserved = 1, .per_contract = 1, .max_queue = 2, .per_queue = 1};
    phx_error_t e = {0};
    CHECK(wk_sched_new(&l, &s, &e) == PHX_OK);
    uint32_t retry = 0;
    CHECK(now('A', false, &retry) == PHX_OK);
    CHECK(now('B', false, &retry) == PHX_OK);
    waiter_t wa, wd;
    start_waiter(&wa, 'A', false, 1); /* A's cap is 1: it waits */
    CHECK(!atomic_load(&wa.done));
    CHECK(now('A', false, &retry) == PHX_ERR_LIMIT && retry >= 1); /* A's queue is full */
    CHECK(now('C', false, &retry) == PHX_OK); /* the third and last direct slot */
    start_waiter(&wd, 'D', false, 2);         /* no direct slot left: waits */
    CHECK(!atomic_load(&wd.done));
    CHECK(now('E', false, &retry) == PHX_ERR_LIMIT); /* the whole queue is full */
    /* The reserved slot: an on-chain job starts although direct calls wait. */
    CHECK(now('E', true, NULL) == PHX_OK);
    wk_sched_stats_t st;
    wk_sched_stats(s, &st);
    CHECK(st.running == 4 && st.running_onchain == 1 && st.queued == 2 && st.rejected_total == 2);
    /* C's slot goes to D (its contract has none running), not to A, which
     * waited longer but is at its cap. */
    release('C', false);
    pthread_join(wd.t, NULL);
    CHECK(wd.err == PHX_OK);
    CHECK(!atomic_load(&wa.done));
    /* The on-chain slot freed does not go to a direct call. */
    release('E', true);
    wk_sched_stats(s, &st);
    CHECK(st.running == 3 && st.queued == 1 && !atomic_load(&wa.done));
    /* A's own running call ends: its waiter gets the slot. */
    release('A', false);
    pthread_join(wa.t, NULL);
    CHECK(wa.err == PHX_OK);
    wk_sched_stats(s, &st);
    CHECK(st.running == 3 && st.queued == 0 && st.admitted_total == 6);
    /* An on-chain job waits for a slot when all are taken, ahead of direct
     * waiters, and is never refused. */
    CHECK(now('F', true, NULL) == PHX_OK); /* 4 of 4 */
    waiter_t wg, wo;
    start_waiter(&wg, 'G', false, 1);
    start_waiter(&wo, 'O', true, 2);
    release('B', false);
    pthread_join(wo.t, NULL);
    CHECK(wo.err == PHX_OK && !atomic_load(&wg.done));
    release('O', true);
    pthread_join(wg.t, NULL);
    CHECK(wg.err == PHX_OK);
    release('A', false);
    release('D', false);
    release('F', true);
    release('G', false);
    wk_sched_stats(s, &st);
    CHECK(st.running == 0 && st.queued == 0);
    wk_sched_free(s);
    s = NULL;
}

/* Owner X floods the worker with ten contracts ('a'..'j'), one call each;
 * owner Y has one contract. X holds at most per_owner slots and owner_queue
 * places, so Y's call starts at once although six of X's calls waited longer;
 * and a freed slot goes to the owner with fewer running (Y's second call), not
 * to X's oldest waiter. Before the owner cap X took every direct slot and
 * queued ahead of Y, and Y waited behind all ten. */
static void test_owner_fairness(void)
{
    wk_sched_limits_t l = {.max = 5,
                           .reserved = 1,
                           .per_contract = 2,
                           .per_owner = 3,
                           .max_queue = 12,
                           .per_queue = 3,
                           .owner_queue = 6};
    phx_error_t e = {0};
    CHECK(wk_sched_new(&l, &s, &e) == PHX_OK);
    uint32_t retry = 0;
    for (char c = 'a'; c <= 'c'; c++)
        CHECK(now_owned(c, 'X', false, &retry) == PHX_OK);
    waiter_t wx[6], wy;
    for (int i = 0; i < 6; i++) { /* d..i: X is at its cap, they wait */
        start_owned(&wx[i], (char)('d' + i), 'X', false, (unsigned)i + 1);
        CHECK(!atomic_load(&wx[i].done));
    }
    /* X's seventh waiting call is refused, though the whole queue has room. */
    CHECK(now_owned('j', 'X', false, &retry) == PHX_ERR_LIMIT && retry >= 1);
    /* Y's one contract starts at once, ahead of X's six waiters. */
    start_owned(&wy, 'Y', 'y', false, 7);
    CHECK(atomic_load(&wy.done));
    pthread_join(wy.t, NULL);
    CHECK(wy.err == PHX_OK);
    wk_sched_stats_t st;
    wk_sched_stats(s, &st);
    CHECK(st.running == 4 && st.queued == 6 && st.rejected_total == 1);
    /* Y calls again: every direct slot is taken, it waits behind X's six. */
    start_owned(&wy, 'Y', 'y', false, 7);
    CHECK(!atomic_load(&wy.done));
    /* One of X's ends: X has 2 running, Y 1, so the slot is Y's. */
    release('a', false);
    pthread_join(wy.t, NULL);
    CHECK(wy.err == PHX_OK);
    CHECK(!atomic_load(&wx[0].done));
    /* Another of X's ends: X has 1, Y 2: X's oldest waiter gets it. */
    release('b', false);
    pthread_join(wx[0].t, NULL);
    CHECK(wx[0].err == PHX_OK);
    for (int i = 1; i < 6; i++)
        CHECK(!atomic_load(&wx[i].done));
    /* Y's calls end; X's waiters take turns up to X's cap, oldest first. */
    release('Y', false);
    pthread_join(wx[1].t, NULL); /* e: X runs c, d, e */
    release('Y', false);
    wk_sched_stats(s, &st);
    CHECK(st.running == 3 && st.queued == 4); /* X at its cap: a slot stays free */
    release('c', false);
    for (int i = 2; i < 6; i++) {
        pthread_join(wx[i].t, NULL);
        CHECK(wx[i].err == PHX_OK);
        release((char)('d' + i - 2), false);
    }
    for (int i = 4; i < 6; i++)
        release((char)('d' + i), false);
    wk_sched_stats(s, &st);
    CHECK(st.running == 0 && st.queued == 0);
    wk_sched_free(s);
    s = NULL;
}

int main(void)
{
    test_defaults();
    test_lanes_caps_queues();
    test_owner_fairness();
    return test_done("sched");
}
