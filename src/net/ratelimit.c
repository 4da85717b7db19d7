/* Per-client token buckets for the HTTP server and the gateway. A fixed slot
 * table bounds memory however many clients appear: an unknown key takes a free
 * slot or evicts the one idle longest (a fresh bucket is full anyway, so evicting
 * an idle client costs it nothing it would not have regained by waiting). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/net.h"

#define KEY_BYTES 64

typedef struct {
    char key[KEY_BYTES];
    double tokens;
    uint64_t last_ms;
    bool used;
} bucket_t;

struct phx_ratelimit {
    pthread_mutex_t lock;
    double rate_per_ms, burst;
    size_t nslots;
    bucket_t *slots;
};

phx_err_t phx_ratelimit_new(double rate_per_s, double burst, size_t slots, phx_ratelimit_t **out,
                            phx_error_t *e)
{
    if (!(rate_per_s > 0) || !(burst >= 1) || slots == 0 || slots > (1u << 20))
        return phx_fail(e, PHX_ERR_RANGE, "rate limit needs rate > 0, burst >= 1, 1..2^20 slots");
    phx_ratelimit_t *rl = calloc(1, sizeof *rl);
    if (!rl) return phx_fail(e, PHX_ERR_NOMEM, "rate limiter");
    rl->slots = calloc(slots, sizeof *rl->slots);
    if (!rl->slots) {
        free(rl);
        return phx_fail(e, PHX_ERR_NOMEM, "rate limiter slots");
    }
    pthread_mutex_init(&rl->lock, NULL);
    rl->rate_per_ms = rate_per_s / 1000.0;
    rl->burst = burst;
    rl->nslots = slots;
    *out = rl;
    return PHX_OK;
}

void phx_ratelimit_free(phx_ratelimit_t *rl)
{
    if (!rl) return;
    pthread_mutex_destroy(&rl->lock);
    free(rl->slots);
    free(rl);
}

static uint64_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* Find the key's bucket, or claim one. Linear probing over a short window keeps
 * lookups cheap; within the window the idlest slot is the one evicted. */
static bucket_t *find_bucket(phx_ratelimit_t *rl, const char *key, uint64_t now_ms)
{
    size_t window = rl->nslots < 16 ? rl->nslots : 16;
    size_t start = (size_t)(hash_key(key) % rl->nslots);
    bucket_t *victim = NULL;
    for (size_t i = 0; i < window; i++) {
        bucket_t *b = &rl->slots[(start + i) % rl->nslots];
        if (b->used && strcmp(b->key, key) == 0) return b;
        if (!b->used) {
            if (!victim || victim->used) victim = b;
        } else if (!victim || (victim->used && b->last_ms < victim->last_ms)) {
            victim = b;
        }
    }
    memset(victim, 0, sizeof *victim);
    victim->used = true;
    snprintf(victim->key, sizeof victim->key, "%s", key);
    victim->tokens = rl->burst;
    victim->last_ms = now_ms;
    return victim;
}

bool phx_ratelimit_take(phx_ratelimit_t *rl, const char *key, uint64_t now_ms,
                        uint64_t *retry_after_ms)
{
    /* Keys longer than a slot are cut; two such keys sharing a 63-byte prefix
     * share a bucket, which errs on the side of limiting. */
    char cut[KEY_BYTES];
    snprintf(cut, sizeof cut, "%s", key);
    pthread_mutex_lock(&rl->lock);
    bucket_t *b = find_bucket(rl, cut, now_ms);
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * rl->rate_per_ms;
        if (b->tokens > rl->burst) b->tokens = rl->burst;
        b->last_ms = now_ms;
    }
    bool ok = b->tokens >= 1.0;
    if (ok) {
        b->tokens -= 1.0;
    } else if (retry_after_ms) {
        *retry_after_ms = (uint64_t)ceil((1.0 - b->tokens) / rl->rate_per_ms);
    }
    pthread_mutex_unlock(&rl->lock);
    return ok;
}
