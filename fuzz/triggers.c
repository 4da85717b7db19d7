/* libFuzzer target for a contract's trigger manifest (include/phx/chain_triggers.h),
 * outside input from the owner's file and from every deploy a worker receives:
 * the manifest parser, and the cron schedule parser on the raw bytes. Oracle:
 * the canonical form of an accepted manifest parses back to the same
 * canonical form (what the owner signs is a fixed point), and a schedule that
 * parses is within its bounds (and an evm_log's confirmations too). */
#include <stdlib.h>
#include <string.h>

#include "phx/chain_triggers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    uint64_t every = 0;
    if (!phx_trigger_schedule_parse(s, &every, NULL) &&
        (every < PHX_TRIGGER_EVERY_MIN_S || every > PHX_TRIGGER_EVERY_MAX_S))
        abort();
    free(s);
    static phx_triggers_t t, back;
    if (phx_triggers_parse((const char *)data, size, &t, NULL)) return 0;
    if (t.n > PHX_TRIGGERS_MAX) abort();
    for (size_t i = 0; i < t.n; i++)
        if (t.t[i].confirmations > PHX_TRIGGER_CONFIRMATIONS_MAX) abort();
    uint8_t h1[32], h2[32];
    json_t *j = phx_triggers_to_json(&t);
    if (!j) return 0;
    if (phx_triggers_from_json(j, &back, NULL) || phx_triggers_hash(&t, h1, NULL) ||
        phx_triggers_hash(&back, h2, NULL) || memcmp(h1, h2, 32) || back.n != t.n)
        abort();
    json_decref(j);
    return 0;
}
