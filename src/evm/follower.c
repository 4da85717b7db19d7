/* Log follower: reads eth_getLogs in pages up to head - confirmations, keeps a
 * cursor (next block + the hashes of recently finished page ends) on disk, and
 * detects reorgs by re-checking those hashes: it rolls back to the newest block
 * whose hash still matches and tells the consumer before reading on. */
#include <stdlib.h>
#include <string.h>

#include "phx/evm.h"

typedef struct {
    uint64_t number;
    uint8_t hash[32];
} checkpoint_t;

struct phx_evm_follower {
    phx_rpc_t *rpc;
    phx_evm_follower_opts_t opts;
    char *cursor_path;
    uint8_t (*addresses)[20];
    uint8_t (*topic0)[32];
    uint64_t next_block;
    checkpoint_t *marks; /* ascending by number; at most opts.hash_window */
    size_t mark_count;
};

static phx_err_t save_cursor(phx_evm_follower_t *f, phx_error_t *e)
{
    if (!f->cursor_path) return PHX_OK;
    json_t *marks = json_array();
    for (size_t i = 0; marks && i < f->mark_count; i++)
        json_array_append_new(marks, json_pack("[I,o]", (json_int_t)f->marks[i].number,
                                               phx_json_hex(f->marks[i].hash, 32)));
    json_t *j = json_pack("{s:I,s:o}", "next_block", (json_int_t)f->next_block, "blocks", marks);
    char *text = j ? phx_json_dump(j, false) : NULL;
    json_decref(j);
    if (!text) return phx_fail(e, PHX_ERR_NOMEM, "follower: out of memory");
    phx_err_t err = phx_file_write_atomic(f->cursor_path, text, strlen(text), 0600, e);
    free(text);
    return err;
}

static phx_err_t load_cursor(phx_evm_follower_t *f, phx_error_t *e)
{
    json_t *j = NULL;
    phx_buf_t probe = PHX_BUF_INIT;
    phx_error_t ignore;
    if (!f->cursor_path) return PHX_OK;
    /* A missing file is a fresh start; a present but broken one is an error. */
    if (phx_file_read(f->cursor_path, &probe, &ignore)) return PHX_OK;
    phx_buf_free(&probe);
    phx_err_t err = phx_json_load_file(f->cursor_path, &j, e);
    if (err) return phx_error_wrap(e, err, "follower cursor %s", f->cursor_path);
    json_int_t next = json_integer_value(json_object_get(j, "next_block"));
    const json_t *blocks = json_object_get(j, "blocks");
    if (next < 0 || !json_is_array(blocks)) {
        err = phx_fail(e, PHX_ERR_INVALID, "follower cursor %s: malformed", f->cursor_path);
        goto out;
    }
    f->next_block = (uint64_t)next;
    size_t n = json_array_size(blocks);
    if (n > f->opts.hash_window) n = f->opts.hash_window;
    for (size_t i = json_array_size(blocks) - n; i < json_array_size(blocks); i++) {
        const json_t *b = json_array_get(blocks, i);
        checkpoint_t *m = &f->marks[f->mark_count];
        json_int_t num = json_integer_value(json_array_get(b, 0));
        const char *h = json_string_value(json_array_get(b, 1));
        if (num < 0 || !h || phx_hex_decode_fixed(h, m->hash, 32, e)) {
            err =
                phx_fail(e, PHX_ERR_INVALID, "follower cursor %s: bad block entry", f->cursor_path);
            goto out;
        }
        m->number = (uint64_t)num;
        f->mark_count++;
    }
out:
    json_decref(j);
    return err;
}

phx_err_t phx_evm_follower_open(phx_rpc_t *rpc, const phx_evm_follower_opts_t *opts,
                                phx_evm_follower_t **out, phx_error_t *e)
{
    phx_err_t err;
    phx_evm_follower_t *f = calloc(1, sizeof *f);
    if (!f) return phx_fail(e, PHX_ERR_NOMEM, "follower: out of memory");
    f->rpc = rpc;
    f->opts = *opts;
    if (!f->opts.page_blocks) f->opts.page_blocks = 1000;
    if (!f->opts.hash_window) f->opts.hash_window = 128;
    f->next_block = opts->start_block;
    f->marks = calloc(f->opts.hash_window, sizeof *f->marks);
    if (opts->cursor_path) f->cursor_path = strdup(opts->cursor_path);
    if (opts->address_count) f->addresses = malloc(opts->address_count * 20);
    if (opts->topic0_count) f->topic0 = malloc(opts->topic0_count * 32);
    if (!f->marks || (opts->cursor_path && !f->cursor_path) ||
        (opts->address_count && !f->addresses) || (opts->topic0_count && !f->topic0)) {
        err = phx_fail(e, PHX_ERR_NOMEM, "follower: out of memory");
        goto fail;
    }
    if (opts->address_count) memcpy(f->addresses, opts->addresses, opts->address_count * 20);
    if (opts->topic0_count) memcpy(f->topic0, opts->topic0, opts->topic0_count * 32);
    f->opts.cursor_path = f->cursor_path;
    f->opts.addresses = (const uint8_t(*)[20])f->addresses;
    f->opts.topic0 = (const uint8_t(*)[32])f->topic0;
    if ((err = load_cursor(f, e))) goto fail;
    *out = f;
    return PHX_OK;
fail:
    phx_evm_follower_close(f);
    return err;
}

void phx_evm_follower_close(phx_evm_follower_t *f)
{
    if (!f) return;
    free(f->marks);
    free(f->cursor_path);
    free(f->addresses);
    free(f->topic0);
    free(f);
}

uint64_t phx_evm_follower_next_block(const phx_evm_follower_t *f)
{
    return f->next_block;
}

/* Does the chain still have this block hash at this height? */
static phx_err_t still_canonical(phx_evm_follower_t *f, const checkpoint_t *m, bool *yes,
                                 phx_error_t *e)
{
    uint8_t h[32];
    phx_err_t err = phx_rpc_get_block_hash(f->rpc, m->number, h, e);
    if (err == PHX_ERR_NOT_FOUND) {
        *yes = false; /* the chain is now shorter than our mark */
        return PHX_OK;
    }
    if (err) return err;
    *yes = memcmp(h, m->hash, 32) == 0;
    return PHX_OK;
}

static phx_err_t check_reorg(phx_evm_follower_t *f, const phx_evm_follower_cb_t *cb, phx_error_t *e)
{
    phx_err_t err;
    bool ok = true;
    if (!f->mark_count) return PHX_OK;
    if ((err = still_canonical(f, &f->marks[f->mark_count - 1], &ok, e))) return err;
    if (ok) return PHX_OK;
    /* Walk back to the newest mark that survived; everything after it is void. */
    size_t keep = f->mark_count - 1;
    while (keep > 0) {
        if ((err = still_canonical(f, &f->marks[keep - 1], &ok, e))) return err;
        if (ok) break;
        keep--;
    }
    uint64_t first_void = keep ? f->marks[keep - 1].number + 1 : f->opts.start_block;
    if (cb->on_rollback && (err = cb->on_rollback(cb->ctx, first_void, e))) return err;
    f->mark_count = keep;
    f->next_block = first_void;
    return save_cursor(f, e);
}

static void add_mark(phx_evm_follower_t *f, uint64_t number, const uint8_t hash[32])
{
    if (f->mark_count == f->opts.hash_window) {
        memmove(f->marks, f->marks + 1, (f->mark_count - 1) * sizeof *f->marks);
        f->mark_count--;
    }
    f->marks[f->mark_count].number = number;
    memcpy(f->marks[f->mark_count].hash, hash, 32);
    f->mark_count++;
}

phx_err_t phx_evm_follower_poll(phx_evm_follower_t *f, const phx_evm_follower_cb_t *cb,
                                size_t *delivered, phx_error_t *e)
{
    phx_err_t err;
    uint64_t head;
    size_t count = 0;
    int reorgs_seen = 0;
    if (delivered) *delivered = 0;
again:
    if ((err = check_reorg(f, cb, e))) return err;
    if ((err = phx_rpc_block_number(f->rpc, &head, e))) return err;
    if (head < f->opts.confirmations) return PHX_OK;
    uint64_t safe = head - f->opts.confirmations;
    while (f->next_block <= safe) {
        uint64_t to = f->next_block + f->opts.page_blocks - 1;
        if (to > safe || to < f->next_block) to = safe;
        uint8_t before[32], after[32];
        phx_evm_log_t *logs = NULL;
        size_t n = 0;
        phx_evm_filter_t filter;
        memset(&filter, 0, sizeof filter);
        filter.from_block = f->next_block;
        filter.to_block = to;
        filter.addresses = f->opts.addresses;
        filter.address_count = f->opts.address_count;
        filter.topic_sets[0] = f->opts.topic0;
        filter.topic_counts[0] = f->opts.topic0_count;
        if ((err = phx_rpc_get_block_hash(f->rpc, to, before, e))) return err;
        err = phx_rpc_get_logs(f->rpc, &filter, &logs, &n, e);
        if (err == PHX_ERR_REMOTE && to > f->next_block) {
            /* Providers cap eth_getLogs by block range or result count and say
             * so in an error: halve the page (and keep it halved) and retry. */
            f->opts.page_blocks = (to - f->next_block + 1) / 2;
            continue;
        }
        if (err) return err;
        if ((err = phx_rpc_get_block_hash(f->rpc, to, after, e))) goto page_out;
        /* The page end changed under us: the logs may mix two forks. Re-check
         * from the top (bounded, so a flapping node cannot spin us forever). */
        if (memcmp(before, after, 32) != 0) {
            for (size_t i = 0; i < n; i++)
                phx_evm_log_clear(&logs[i]);
            free(logs);
            if (++reorgs_seen > 8)
                return phx_fail(e, PHX_ERR_STATE, "follower: chain keeps reorganising");
            goto again;
        }
        for (size_t i = 0; i < n && !err; i++) {
            if (logs[i].removed || logs[i].block_number < f->next_block ||
                logs[i].block_number > to)
                continue;
            if (cb->on_log && (err = cb->on_log(cb->ctx, &logs[i], e))) break;
            count++;
        }
        if (!err) {
            add_mark(f, to, after);
            f->next_block = to + 1;
            err = save_cursor(f, e);
        }
    page_out:
        for (size_t i = 0; i < n; i++)
            phx_evm_log_clear(&logs[i]);
        free(logs);
        if (delivered) *delivered = count;
        if (err) return err;
    }
    if (delivered) *delivered = count;
    return PHX_OK;
}
