/* Triggers (issue 15): contracts started by a schedule, by blocks or by a
 * chain's logs, once per firing network-wide. On the job thread, each round:
 *
 *   1. every deployed contract's declared triggers are read from its record,
 *      and each firing now due (a cron tick, a block whose number is a
 *      multiple, a matching log of the worker's own chain or of a named chain,
 *      under the confirmations its trigger asks) is journaled (jobdb.h, table
 *      firings) under its deterministic id keccak256("<name>/<position>"); a
 *      cursor per trigger (and chain) keeps where journaling got to, so a
 *      restart catches up (a bounded window back, CATCHUP_*);
 *   2. every live firing moves one step, as requests do: the chain decides
 *      first (Jobs.firedBy: recorded, by anyone, means done); the worker of
 *      rank r among the active ones (the job loop's ranking, keyed by the
 *      firing) waits r * HANDOFF_MS from journaling; then run with
 *      ctx.trigger, sign Jobs.firingDigest, journal SIGNED, send
 *      Jobs.recordFiring, journal SUBMITTED; a transaction not mined in
 *      RESUBMIT_MS is sent again. Jobs.recordFiring keeps the first record
 *      and reverts every other, so whatever is killed when, one run per
 *      firing is the record (docs/worker.md "Triggers"). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon_internal.h"
#include "phx/chain_triggers.h"
#include "phx/crypto.h"

#define HANDOFF_MS WK_HANDOFF_MS
#define RESUBMIT_MS WK_RESUBMIT_MS
#define CATCHUP_TICKS 8   /* cron ticks journaled back after a stop */
#define CATCHUP_BLOCKS 64 /* blocks likewise */
#define LOG_BLOCKS 256    /* blocks of logs read per trigger per round */
#define LIVE_CAP 256
#define PRUNE_EVERY_MS 600000   /* settled firings are forgotten ... */
#define KEEP_SETTLED_MS 3600000 /* ... an hour after they settled */
#define MAX_CONTRACTS 1024
#define CHAIN_WAIT_MS 3000  /* runs wait this long after a run found a chain down */
#define CHAIN_WARN_MS 60000 /* ... and say so again this often while it stays down */

/* The index of the named chain in w->chains, -1 when the worker has none so
 * named. */
static int chain_index(const phx_worker_t *w, const char *name)
{
    int n = w->chains ? phx_sandbox_chains_count(w->chains) : 0;
    for (int i = 0; i < n && i < WK_CHAINS_MAX; i++)
        if (!strcmp(phx_sandbox_chains_name(w->chains, i), name)) return i;
    return -1;
}

phx_err_t wk_triggers_check(const phx_worker_t *w, const json_t *req, const phx_owner_op_t *op,
                            const uint8_t owner[20], json_t **canonical, phx_error_t *e)
{
    *canonical = NULL;
    const json_t *arr = json_object_get(req, "triggers");
    if (!arr || (json_is_array(arr) && !json_array_size(arr))) return PHX_OK;
    phx_triggers_t t;
    uint8_t hash[32], d[32], sig[65], signer[20];
    phx_err_t err = phx_triggers_from_json(arr, &t, e);
    if (err) return err;
    for (size_t i = 0; i < t.n; i++) {
        if (t.t[i].kind == PHX_TRIGGER_EVM_LOG && t.t[i].chain[0] &&
            chain_index(w, t.t[i].chain) < 0)
            return phx_fail(e, PHX_ERR_UNSUPPORTED,
                            "trigger \"%s\": this worker has no chain named \"%s\" (its "
                            "operator's --chain-rpc); leave \"chain\" out for the worker's own "
                            "chain",
                            t.t[i].name, t.t[i].chain);
    }
    if (!json_object_get(req, "triggers_signature"))
        return phx_fail(e, PHX_ERR_VERIFY, "triggers need the owner's triggers_signature");
    if ((err = phx_json_get_hex_fixed(req, "triggers_signature", sig, 65, e)) ||
        (err = phx_triggers_hash(&t, hash, e)) ||
        (err = phx_owner_triggers_digest(op->contract_id, op->code_hash, hash, op->nonce, d, e)) ||
        (err = phx_owner_recover(d, sig, signer, e)))
        return err;
    if (memcmp(signer, owner, 20))
        return phx_fail(e, PHX_ERR_VERIFY,
                        "the triggers are not signed by the contract's owner "
                        "(for this code and nonce)");
    *canonical = phx_triggers_to_json(&t);
    return *canonical ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "triggers");
}

static void hex32s(const uint8_t b[32], char out[67])
{
    out[0] = '0', out[1] = 'x';
    phx_hex_encode_to(out + 2, b, 32);
}

static void journal(phx_worker_t *w, const uint8_t cid[32], const char *name, const char *pos,
                    json_t *detail)
{
    uint8_t fid[32];
    char fh[67];
    phx_chain_firing_id(name, pos, fid);
    hex32s(fid, fh);
    json_object_set_new(detail, "name", json_string(name));
    json_object_set_new(detail, "id", json_string(fh));
    char *text = phx_json_dump(detail, false);
    bool inserted = false;
    phx_error_t e = {0};
    pthread_mutex_lock(&w->db_lock);
    phx_err_t err = text ? phx_jobdb_firing_record(w->db, cid, fid, text, &inserted, &e)
                         : phx_fail(&e, PHX_ERR_NOMEM, "firing");
    pthread_mutex_unlock(&w->db_lock);
    free(text);
    if (err)
        PHX_WARN("worker: trigger %s/%s: %s", name, pos, e.message);
    else if (inserted)
        PHX_INFO("worker: trigger %s firing %s due", name, pos);
}

/* The chain an evm_log trigger follows, read once a round: the worker's own
 * (the job thread's client) or a named one (its own client, opened when first
 * needed). state: 0 not read this round, 1 read, 2 unreadable this round. */
typedef struct {
    uint64_t own;
    int own_state;
    uint64_t named[WK_CHAINS_MAX];
    int named_state[WK_CHAINS_MAX];
} heads_t;

static bool named_head(phx_worker_t *w, heads_t *h, int ci, phx_error_t *e)
{
    if (h->named_state[ci]) return h->named_state[ci] == 1;
    h->named_state[ci] = 2;
    phx_rpc_opts_t o = {.timeout_ms = 5000, .retries = 1};
    phx_err_t err = w->chain_rpc[ci] ? PHX_OK
                                     : phx_rpc_open(phx_sandbox_chains_url(w->chains, ci), &o,
                                                    &w->chain_rpc[ci], e);
    if (!err) err = phx_rpc_block_number(w->chain_rpc[ci], &h->named[ci], e);
    if (err) return false;
    h->named_state[ci] = 1;
    return true;
}

/* An evm_log trigger: the matching logs of blocks from its cursor to the
 * head less its confirmations (at most LOG_BLOCKS a round), one firing each.
 * On a named chain the cursor is its own ("<name>@<chain>") and the position
 * carries the chain id. */
static void logs_due(phx_worker_t *w, const uint8_t cid[32], const phx_trigger_t *t, heads_t *h)
{
    uint64_t next = 0, head, chain_id = 0;
    bool found = false;
    phx_error_t e = {0};
    phx_rpc_t *rpc = w->job_rpc;
    char key[2 * PHX_TRIGGER_NAME_MAX + 2];
    snprintf(key, sizeof key, "%s", t->name);
    if (t->chain[0]) {
        int ci = chain_index(w, t->chain);
        if (ci < 0) return; /* refused at deploy; the operator's chains changed since */
        if (!named_head(w, h, ci, &e)) {
            if (!w->chain_down[ci] && e.message[0])
                PHX_WARN("worker: triggers on chain %s wait: %s", t->chain, e.message);
            w->chain_down[ci] = true;
            return;
        }
        if (w->chain_down[ci]) PHX_INFO("worker: chain %s answers again", t->chain);
        w->chain_down[ci] = false;
        rpc = w->chain_rpc[ci];
        head = h->named[ci];
        chain_id = phx_sandbox_chains_id(w->chains, ci);
        snprintf(key, sizeof key, "%s@%s", t->name, t->chain);
    } else {
        if (h->own_state != 1) return;
        head = h->own;
    }
    if (head < t->confirmations) return;
    uint64_t tip = head - t->confirmations;
    pthread_mutex_lock(&w->db_lock);
    phx_err_t err = phx_jobdb_trigger_cursor(w->db, cid, key, &next, &found, &e);
    pthread_mutex_unlock(&w->db_lock);
    if (err) {
        PHX_WARN("worker: trigger %s: %s", t->name, e.message);
        return;
    }
    uint64_t from = found ? next : tip;
    if (!found)
        PHX_INFO("worker: trigger %s: following %s%s from block %llu", t->name,
                 t->chain[0] ? "chain " : "the worker's own chain", t->chain,
                 (unsigned long long)from);
    if (tip >= CATCHUP_BLOCKS && from < tip - CATCHUP_BLOCKS) from = tip - CATCHUP_BLOCKS;
    if (from > tip) return;
    uint64_t to = tip - from >= LOG_BLOCKS ? from + LOG_BLOCKS - 1 : tip;
    const uint8_t(*sets[4])[32] = {0};
    size_t counts[4] = {0};
    for (size_t k = 0; k < t->ntopics; k++)
        if (t->topic_set[k]) sets[k] = (const uint8_t(*)[32])t->topics[k], counts[k] = 1;
    phx_evm_filter_t f = {.from_block = from,
                          .to_block = to,
                          .addresses = (const uint8_t(*)[20])t->address,
                          .address_count = 1,
                          .topic_sets = {sets[0], sets[1], sets[2], sets[3]},
                          .topic_counts = {counts[0], counts[1], counts[2], counts[3]}};
    phx_evm_log_t *logs = NULL;
    size_t n = 0;
    if ((err = phx_rpc_get_logs(rpc, &f, &logs, &n, &e))) {
        PHX_WARN("worker: trigger %s: reading logs: %s", t->name, e.message);
        return;
    }
    for (size_t i = 0; i < n && !atomic_load(&w->stopping); i++) {
        const phx_evm_log_t *l = &logs[i];
        if (l->removed) continue;
        json_t *topics = json_array();
        for (size_t k = 0; topics && k < l->topic_count; k++)
            json_array_append_new(topics, phx_json_hex(l->topics[k], 32));
        json_t *d = topics
                        ? json_pack("{s:s,s:s,s:I,s:I,s:o,s:o,s:o,s:o}", "kind", "evm_log", "chain",
                                    t->chain, "block", (json_int_t)l->block_number, "log_index",
                                    (json_int_t)l->log_index, "tx", phx_json_hex(l->tx_hash, 32),
                                    "address", phx_json_hex(l->address, 20), "topics", topics,
                                    "data", phx_json_hex(l->data, l->data_len))
                        : NULL;
        char ps[PHX_TRIGGER_POSITION_MAX + 1];
        if (d && chain_id) {
            /* 20 + 1 + 20 + 1 + 20 digits at most: within the 64 of a position */
            snprintf(ps, sizeof ps, "%llu:%llu.%llu", (unsigned long long)chain_id,
                     (unsigned long long)l->block_number, (unsigned long long)l->log_index);
            json_object_set_new(d, "chain_id", json_integer((json_int_t)chain_id));
        } else {
            snprintf(ps, sizeof ps, "%llu.%llu", (unsigned long long)l->block_number,
                     (unsigned long long)l->log_index);
        }
        if (d) journal(w, cid, t->name, ps, d);
        json_decref(d);
    }
    for (size_t i = 0; i < n; i++)
        phx_evm_log_clear(&logs[i]);
    free(logs);
    pthread_mutex_lock(&w->db_lock);
    err = phx_jobdb_set_trigger_cursor(w->db, cid, key, to + 1, &e);
    pthread_mutex_unlock(&w->db_lock);
    if (err) PHX_WARN("worker: trigger %s: %s", t->name, e.message);
}

/* Journal one trigger's due firings from its cursor to now (or the head). */
static void due(phx_worker_t *w, const uint8_t cid[32], const phx_trigger_t *t, uint64_t now_s,
                heads_t *h)
{
    uint64_t head = h->own_state == 1 ? h->own : 0;
    uint64_t last, next = 0, window;
    bool found = false;
    phx_error_t e = {0};
    if (t->kind == PHX_TRIGGER_CRON) {
        last = now_s / t->every_s; /* the tick that began last */
        window = CATCHUP_TICKS;
    } else if (t->kind == PHX_TRIGGER_BLOCK && head) {
        last = head - head % t->every_blocks;
        window = CATCHUP_BLOCKS;
    } else if (t->kind == PHX_TRIGGER_EVM_LOG) {
        logs_due(w, cid, t, h);
        return;
    } else {
        return;
    }
    pthread_mutex_lock(&w->db_lock);
    phx_err_t err = phx_jobdb_trigger_cursor(w->db, cid, t->name, &next, &found, &e);
    pthread_mutex_unlock(&w->db_lock);
    if (err) {
        PHX_WARN("worker: trigger %s: %s", t->name, e.message);
        return;
    }
    /* First sight: from the firing due now. Otherwise from the cursor, but
     * never further back than the window (a long stop is not replayed). */
    uint64_t from = found ? next : last;
    if (last >= window && from < last - window) from = last - window;
    for (uint64_t pos = from; pos <= last && !atomic_load(&w->stopping); pos++) {
        json_t *d = NULL;
        if (t->kind == PHX_TRIGGER_CRON) {
            char sched[40];
            snprintf(sched, sizeof sched, "@every %llus", (unsigned long long)t->every_s);
            d = json_pack("{s:s,s:I,s:I,s:s}", "kind", "cron", "tick", (json_int_t)pos, "time",
                          (json_int_t)(pos * t->every_s), "schedule", sched);
        } else if (pos % t->every_blocks == 0) {
            d = json_pack("{s:s,s:I,s:I}", "kind", "block", "block", (json_int_t)pos, "every",
                          (json_int_t)t->every_blocks);
        } else {
            continue;
        }
        char ps[24];
        snprintf(ps, sizeof ps, "%llu", (unsigned long long)pos);
        if (d) journal(w, cid, t->name, ps, d);
        json_decref(d);
    }
    if (found && next > last) return;
    pthread_mutex_lock(&w->db_lock);
    err = phx_jobdb_set_trigger_cursor(w->db, cid, t->name, last + 1, &e);
    pthread_mutex_unlock(&w->db_lock);
    if (err) PHX_WARN("worker: trigger %s: %s", t->name, e.message);
}

/* Step 1 over every contract record with triggers. */
static void journal_due(phx_worker_t *w)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/contracts", w->dir);
    DIR *dh = opendir(dir);
    if (!dh) return;
    uint64_t now_s = (uint64_t)time(NULL);
    heads_t h = {0};
    struct dirent *de;
    size_t seen = 0;
    while ((de = readdir(dh)) && seen++ < MAX_CONTRACTS && !atomic_load(&w->stopping)) {
        size_t n = strlen(de->d_name);
        if (n != 64 + 5 || strcmp(de->d_name + 64, ".json")) continue;
        char path[1300];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        json_t *rec = NULL;
        phx_triggers_t t;
        uint8_t cid[32];
        if (phx_json_load_file(path, &rec, NULL)) continue;
        const json_t *arr = json_object_get(rec, "triggers");
        if (arr && !json_is_true(json_object_get(rec, "deleted")) &&
            !phx_json_get_hex_fixed(rec, "id", cid, 32, NULL) &&
            !phx_triggers_from_json(arr, &t, NULL)) {
            for (size_t i = 0; i < t.n; i++) {
                if ((t.t[i].kind == PHX_TRIGGER_BLOCK ||
                     (t.t[i].kind == PHX_TRIGGER_EVM_LOG && !t.t[i].chain[0])) &&
                    !h.own_state) {
                    phx_error_t e = {0};
                    h.own_state = 1;
                    if (phx_rpc_block_number(w->job_rpc, &h.own, &e))
                        PHX_WARN("worker: triggers: reading the head: %s", e.message),
                            h.own_state = 2;
                }
                due(w, cid, &t.t[i], now_s, &h);
            }
        }
        json_decref(rec);
    }
    closedir(dh);
}

static void firing_done(phx_worker_t *w, const phx_firing_t *f, const char *why)
{
    phx_error_t e = {0};
    pthread_mutex_lock(&w->db_lock);
    phx_err_t err = phx_jobdb_firing_done(w->db, f->id, &e);
    pthread_mutex_unlock(&w->db_lock);
    if (err) PHX_WARN("worker: firing %llu: %s", (unsigned long long)f->id, e.message);
    PHX_INFO("worker: firing %s done (%s)", f->detail, why);
}

static void firing_failed(phx_worker_t *w, const phx_firing_t *f, const char *why)
{
    phx_error_t e = {0};
    pthread_mutex_lock(&w->db_lock);
    phx_err_t err = phx_jobdb_firing_failed(w->db, f->id, why, &e);
    pthread_mutex_unlock(&w->db_lock);
    if (err) PHX_WARN("worker: firing %llu: %s", (unsigned long long)f->id, e.message);
    PHX_WARN("worker: firing %s not run: %s", f->detail, why);
}

/* A run found a chain down (or ran out of time there): the firing stays
 * RUNNING, unsigned, and no firing runs for CHAIN_WAIT_MS, so an outage costs
 * the job thread one bounded probe per wait, not one per firing per round.
 * Warned once per outage, then once a minute while it lasts. */
static void runs_wait(phx_worker_t *w, const phx_firing_t *f, const char *why)
{
    uint64_t now = phx_now_ms();
    w->runs_wait_until_ms = now + CHAIN_WAIT_MS;
    if (w->runs_waiting && now - w->runs_warned_ms < CHAIN_WARN_MS) return;
    PHX_WARN("worker: firings wait%s (firing %llu not signed; it runs again): %s",
             w->runs_waiting ? ", still" : "", (unsigned long long)f->id, why);
    w->runs_waiting = true;
    w->runs_warned_ms = now;
}

/* PENDING/RUNNING -> SIGNED. */
static phx_err_t run_and_sign(phx_worker_t *w, const phx_firing_t *f, phx_error_t *e)
{
    wk_contract_t c;
    phx_err_t err = wk_contract_load(w, f->contract_id, &c, e);
    if (err) return err;
    phx_buf_t output = PHX_BUF_INIT;
    char rid[67];
    bool ok = false;
    uint8_t domain[32], digest[32], sig[65];
    hex32s(f->firing_id, rid);
    pthread_mutex_lock(&w->db_lock);
    err = phx_jobdb_firing_start(w->db, f->id, e);
    pthread_mutex_unlock(&w->db_lock);
    if (err) goto out;
    /* The trigger is the input too, so a contract written for calls sees it. */
    if ((err = wk_run_fired(w, &c, f->detail, rid, f->detail, true, &output, NULL, &ok, NULL, e)))
        goto out;
    phx_chain_jobs_domain(w->dep.chain_id, w->dep.jobs, domain);
    phx_chain_firing_digest(domain, f->contract_id, f->firing_id, c.code_hash, ok, output.ptr,
                            output.len, digest);
    if ((err = phx_chain_sign(w->sk, digest, sig))) {
        phx_fail(e, err, "sign");
        goto out;
    }
    pthread_mutex_lock(&w->db_lock);
    err = phx_jobdb_firing_signed(w->db, f->id, c.code_hash, ok, output.ptr, output.len, sig, e);
    pthread_mutex_unlock(&w->db_lock);
    if (!err)
        PHX_INFO("worker: firing %s ran (%s, %zu bytes of output)", f->detail, ok ? "ok" : "failed",
                 output.len);
out:
    phx_buf_free(&output);
    wk_contract_clear(&c);
    return err;
}

/* Whether the chain would pay for this firing now (Jobs.recordFiring charges
 * the owner's Payments deposit). false with why set: the deposit is short, so
 * the firing is not run (or, signed already, not recorded) and the journal
 * keeps it FAILED with why. A chain that cannot be read is an error: the
 * firing waits for the next round. */
static phx_err_t paid(phx_worker_t *w, const phx_firing_t *f, bool *ok, char *why, size_t cap,
                      phx_error_t *e)
{
    phx_firing_payment_t p;
    phx_err_t err = phx_chain_firing_payment(w->job_rpc, &w->dep, f->contract_id, &p, e);
    if (err) return err;
    *ok = p.covered;
    phx_chain_firing_unpaid_why(&p, why, cap);
    return PHX_OK;
}

/* SIGNED (or SUBMITTED, again) -> SUBMITTED. */
static phx_err_t submit(phx_worker_t *w, const phx_firing_t *f, phx_error_t *e)
{
    phx_buf_t data = PHX_BUF_INIT;
    uint8_t tx[32];
    phx_err_t err =
        phx_chain_record_firing_calldata(f->contract_id, f->firing_id, f->code_hash, f->ok,
                                         f->output.ptr, f->output.len, f->signature, &data, e);
    if (!err) err = wk_jobs_send(w, &data, tx, e);
    phx_buf_free(&data);
    if (err) return err;
    pthread_mutex_lock(&w->db_lock);
    err = phx_jobdb_firing_submitted(w->db, f->id, tx, e);
    pthread_mutex_unlock(&w->db_lock);
    if (!err) PHX_INFO("worker: firing %s record sent", f->detail);
    return err;
}

static void step(phx_worker_t *w, uint64_t id, unsigned (*rank)(void *, const uint8_t[32]),
                 void *rank_ctx)
{
    phx_firing_t f;
    phx_error_t e = {0};
    pthread_mutex_lock(&w->db_lock);
    phx_err_t err = phx_jobdb_firing_get(w->db, id, &f, &e);
    pthread_mutex_unlock(&w->db_lock);
    if (err) {
        PHX_WARN("worker: firing %llu: %s", (unsigned long long)id, e.message);
        return;
    }
    uint64_t now = phx_now_ms();
    if (f.state == PHX_JOB_PENDING) {
        uint8_t key[64];
        memcpy(key, f.contract_id, 32);
        memcpy(key + 32, f.firing_id, 32);
        uint8_t k[32];
        phx_keccak256(key, sizeof key, k);
        uint64_t wait_ms = (uint64_t)rank(rank_ctx, k) * HANDOFF_MS;
        if (wait_ms && now >= f.updated_ms && now - f.updated_ms < wait_ms) goto out;
    }
    /* Sent, and not long ago: give it time to be mined before reading. */
    if (f.state == PHX_JOB_SUBMITTED && now >= f.updated_ms && now - f.updated_ms < 1000) goto out;
    uint8_t by[20], zero[20] = {0};
    if ((err = phx_chain_fired_by(w->job_rpc, &w->dep, f.contract_id, f.firing_id, by, &e))) {
        PHX_WARN("worker: firing %llu: reading Jobs.firedBy: %s", (unsigned long long)id,
                 e.message);
        goto out;
    }
    if (memcmp(by, zero, 20)) {
        firing_done(w, &f,
                    memcmp(by, w->address, 20) ? "recorded by another worker"
                                               : "recorded with this worker's run");
        goto out;
    }
    bool covered = true;
    char why[300];
    if ((err = paid(w, &f, &covered, why, sizeof why, &e))) {
        PHX_WARN("worker: firing %llu: reading its payment: %s", (unsigned long long)id, e.message);
        goto out;
    }
    if (!covered) {
        /* Its own record may have been mined (and charged) since the read above. */
        if (!phx_chain_fired_by(w->job_rpc, &w->dep, f.contract_id, f.firing_id, by, &e) &&
            memcmp(by, zero, 20))
            firing_done(w, &f, "recorded");
        else
            firing_failed(w, &f, why);
        goto out;
    }
    if (f.state == PHX_JOB_PENDING || f.state == PHX_JOB_RUNNING) {
        if (now < w->runs_wait_until_ms) goto out; /* a chain is down: wait, then probe */
        if ((err = run_and_sign(w, &f, &e))) {
            if (err == PHX_ERR_NOT_FOUND)
                firing_failed(w, &f, e.message);
            else if (err == PHX_ERR_TIMEOUT)
                runs_wait(w, &f, e.message);
            else
                PHX_WARN("worker: firing %llu: %s", (unsigned long long)id, e.message);
            goto out;
        }
        if (w->runs_waiting)
            PHX_INFO("worker: firings run again (firing %llu ran)", (unsigned long long)id);
        w->runs_waiting = false;
        phx_firing_clear(&f);
        pthread_mutex_lock(&w->db_lock);
        err = phx_jobdb_firing_get(w->db, id, &f, &e);
        pthread_mutex_unlock(&w->db_lock);
        if (err) goto out;
    } else if (f.state == PHX_JOB_SUBMITTED) {
        /* Not recorded yet: resend only once the last send had its time (the
         * record reverts for a duplicate, so a resend costs gas, never a run). */
        if (now >= f.updated_ms && now - f.updated_ms < RESUBMIT_MS) goto out;
    }
    if ((err = submit(w, &f, &e)))
        PHX_WARN("worker: firing %llu: recordFiring: %s", (unsigned long long)id, e.message);
out:
    phx_firing_clear(&f);
}

void wk_triggers_round(phx_worker_t *w, unsigned (*rank)(void *ctx, const uint8_t key[32]),
                       void *rank_ctx)
{
    static _Thread_local uint64_t pruned_ms;
    uint64_t now = phx_now_ms();
    if (now - pruned_ms > PRUNE_EVERY_MS) {
        /* Settled firings are the chain's to remember, not the journal's. */
        size_t gone = 0;
        phx_error_t pe = {0};
        pruned_ms = now;
        pthread_mutex_lock(&w->db_lock);
        phx_err_t perr = phx_jobdb_firings_prune(w->db, now - KEEP_SETTLED_MS, &gone, &pe);
        pthread_mutex_unlock(&w->db_lock);
        if (perr) PHX_WARN("worker: firings journal: %s", pe.message);
    }
    journal_due(w);
    uint64_t ids[LIVE_CAP];
    size_t n = 0;
    phx_error_t e = {0};
    pthread_mutex_lock(&w->db_lock);
    phx_err_t err = phx_jobdb_firing_live(w->db, ids, LIVE_CAP, &n, &e);
    pthread_mutex_unlock(&w->db_lock);
    if (err) PHX_WARN("worker: firings journal: %s", e.message);
    for (size_t i = 0; i < n && !atomic_load(&w->stopping); i++)
        step(w, ids[i], rank, rank_ctx);
}

phx_err_t wk_triggers_declared(phx_worker_t *w, const uint8_t id[32], json_t **out, phx_error_t *e)
{
    char hx[67], path[1300];
    hex32s(id, hx);
    snprintf(path, sizeof path, "%s/contracts/%s.json", w->dir, hx + 2);
    json_t *rec = NULL;
    if (phx_json_load_file(path, &rec, NULL) || json_is_true(json_object_get(rec, "deleted"))) {
        json_decref(rec);
        return phx_fail(e, PHX_ERR_NOT_FOUND, "contract %s is not deployed on this worker", hx);
    }
    json_t *t = json_object_get(rec, "triggers");
    *out =
        json_pack("{s:s,s:O,s:O,s:O,s:o}", "id", hx, "owner", json_object_get(rec, "owner"),
                  "nonce", json_object_get(rec, "nonce"), "code_hash",
                  json_object_get(rec, "code_hash"), "triggers", t ? json_incref(t) : json_array());
    if (*out && json_object_get(rec, "triggers_signature"))
        json_object_set(*out, "triggers_signature", json_object_get(rec, "triggers_signature"));
    json_decref(rec);
    return *out ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "triggers");
}

/* A delivery id: 1..64 of [A-Za-z0-9._-]. */
static bool delivery_ok(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > PHX_TRIGGER_POSITION_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

phx_err_t wk_triggers_hook(phx_worker_t *w, const uint8_t id[32], const json_t *req, json_t **out,
                           phx_error_t *e)
{
    char hx[67], path[1300];
    hex32s(id, hx);
    *out = NULL;
    const char *name = json_string_value(json_object_get(req, "name"));
    const char *secret = json_string_value(json_object_get(req, "secret"));
    const char *delivery = json_string_value(json_object_get(req, "delivery"));
    const json_t *body = json_object_get(req, "body");
    if (!name) return phx_fail(e, PHX_ERR_INVALID, "a hook names its trigger (\"name\")");
    if (json_object_get(req, "delivery") && (!delivery || !delivery_ok(delivery)))
        return phx_fail(e, PHX_ERR_INVALID,
                        "the delivery id is 1..%d of A-Z a-z 0-9 . _ - (X-Phx-Delivery)",
                        PHX_TRIGGER_POSITION_MAX);
    snprintf(path, sizeof path, "%s/contracts/%s.json", w->dir, hx + 2);
    json_t *rec = NULL;
    phx_triggers_t t;
    if (phx_json_load_file(path, &rec, NULL) || json_is_true(json_object_get(rec, "deleted"))) {
        json_decref(rec);
        return phx_fail(e, PHX_ERR_NOT_FOUND, "contract %s is not deployed on this worker", hx);
    }
    const json_t *arr = json_object_get(rec, "triggers");
    phx_err_t err = arr ? phx_triggers_from_json(arr, &t, e) : PHX_OK;
    json_decref(rec);
    if (err) return err;
    const phx_trigger_t *hook = NULL;
    for (size_t i = 0; arr && i < t.n && !hook; i++)
        if (t.t[i].kind == PHX_TRIGGER_HTTP && !strcmp(t.t[i].name, name)) hook = &t.t[i];
    if (!hook)
        return phx_fail(e, PHX_ERR_NOT_FOUND, "contract %s has no http trigger named \"%.32s\"", hx,
                        name);
    if (hook->has_secret) {
        /* Compared as hashes, in constant time: the worker keeps only the hash. */
        uint8_t h[32];
        phx_keccak256(secret ? secret : "", secret ? strlen(secret) : 0, h);
        if (!secret || !phx_ct_eq(h, hook->secret_hash, 32))
            return phx_fail(e, PHX_ERR_VERIFY,
                            "trigger \"%s\" needs its shared secret (X-Phx-Secret)", name);
    }
    char *text = phx_json_dump(body ? body : json_null(), false);
    if (!text) return phx_fail(e, PHX_ERR_NOMEM, "hook body");
    size_t len = strlen(text);
    char pos[PHX_TRIGGER_POSITION_MAX + 1];
    if (delivery) {
        snprintf(pos, sizeof pos, "%s", delivery);
    } else {
        uint8_t h[32];
        phx_keccak256(text, len, h);
        phx_hex_encode_to(pos, h, 32);
    }
    free(text);
    if (len > PHX_TRIGGER_HOOK_BODY_MAX)
        return phx_fail(e, PHX_ERR_LIMIT, "a hook's body is at most %d bytes of JSON",
                        PHX_TRIGGER_HOOK_BODY_MAX);
    json_t *d = json_pack("{s:s,s:s,s:O}", "kind", "http", "delivery", pos, "body",
                          body ? body : json_null());
    if (!d) return phx_fail(e, PHX_ERR_NOMEM, "hook");
    journal(w, id, name, pos, d);
    uint8_t fid[32];
    phx_chain_firing_id(name, pos, fid);
    json_decref(d);
    *out = json_pack("{s:s,s:s,s:o}", "name", name, "delivery", pos, "firing_id",
                     phx_json_hex(fid, 32));
    return *out ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "hook");
}
