/* The contract wallets' outbox (include/phx/kms.h, docs/kms.md "Outbox"): the
 * KMS arbitrates which transaction is an action's and which action a nonce of
 * a contract's wallet belongs to, so workers that run the same request, or
 * send for one contract at once, never put two transactions on chain for one
 * action and never two actions on one nonce. Being the one place every send
 * passes, it also holds the owner's spending cap network-wide: the value of
 * every action it holds counts against the owner's signed SpendLimit, whichever
 * worker posted it. SQLite, one writer at a time. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "phx/chain.h"
#include "phx/chain_owner.h"
#include "phx/crypto.h"
#include "phx/evm.h"
#include "phx/kms.h"

#define ACTION_MAX 256
#define CHAIN_MAX 32 /* as the worker's chain names (sandbox) */
#define RAW_MAX (128u << 10)
#define PERIOD_MAX (366ll * 86400)
#define SWEEP_MS (3600ull * 1000) /* how often every contract's old spend rows go */

struct phx_kms_outbox {
    sqlite3 *db;
    pthread_mutex_t lock;
    phx_kms_contract_owner_fn owner_fn; /* NULL: no chain (the id's derivation rules) */
    void *owner_ctx;
    uint64_t swept_ms; /* the last sweep of old spend rows (spend_prune) */
};

void phx_kms_outbox_owner_source(phx_kms_outbox_t *o, phx_kms_contract_owner_fn fn, void *ctx)
{
    o->owner_fn = fn;
    o->owner_ctx = ctx;
}

/* Columns added after the first release of spend_limit: the owner who signed
 * the held limit (so a post carrying it again needs no chain read) and keep_s,
 * the longest period any limit of the contract and chain had (how long its
 * spend rows are kept). */
static bool limit_columns(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT owner, keep_s FROM spend_limit LIMIT 0", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_finalize(st);
        return true;
    }
    return sqlite3_exec(db,
                        "ALTER TABLE spend_limit ADD COLUMN owner BLOB;"
                        "ALTER TABLE spend_limit ADD COLUMN keep_s INTEGER;",
                        NULL, NULL, NULL) == SQLITE_OK;
}

phx_err_t phx_kms_outbox_open(const char *path, phx_kms_outbox_t **out, phx_error_t *e)
{
    phx_kms_outbox_t *o = calloc(1, sizeof *o);
    if (!o) return phx_fail(e, PHX_ERR_NOMEM, "outbox");
    pthread_mutex_init(&o->lock, NULL);
    char *msg = NULL;
    if (sqlite3_open_v2(path, &o->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(
            o->db,
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
            "CREATE TABLE IF NOT EXISTS outbox("
            " contract BLOB NOT NULL, action TEXT NOT NULL, chain_id INTEGER NOT NULL,"
            " sender BLOB NOT NULL, nonce INTEGER NOT NULL, raw BLOB NOT NULL,"
            " hash BLOB NOT NULL, created_ms INTEGER NOT NULL,"
            " PRIMARY KEY(contract, action), UNIQUE(chain_id, sender, nonce));"
            /* the value of each action held, by the chain name the
             * owner's limit is signed for */
            "CREATE TABLE IF NOT EXISTS spend("
            " contract BLOB NOT NULL, action TEXT NOT NULL, chain TEXT NOT NULL,"
            " value TEXT NOT NULL, created_ms INTEGER NOT NULL,"
            " PRIMARY KEY(contract, action));"
            "CREATE INDEX IF NOT EXISTS spend_window ON spend(contract, chain, created_ms);"
            /* the newest owner-signed limit seen per contract and chain */
            "CREATE TABLE IF NOT EXISTS spend_limit("
            " contract BLOB NOT NULL, chain TEXT NOT NULL, cap TEXT NOT NULL,"
            " period_s INTEGER NOT NULL, nonce INTEGER NOT NULL,"
            " PRIMARY KEY(contract, chain));",
            NULL, NULL, &msg) != SQLITE_OK ||
        !limit_columns(o->db)) {
        phx_err_t err = phx_fail(e, PHX_ERR_IO, "outbox %s: %s", path,
                                 msg     ? msg
                                 : o->db ? sqlite3_errmsg(o->db)
                                         : "open");
        sqlite3_free(msg);
        phx_kms_outbox_close(o);
        return err;
    }
    sqlite3_busy_timeout(o->db, 5000);
    *out = o;
    return PHX_OK;
}

void phx_kms_outbox_close(phx_kms_outbox_t *o)
{
    if (!o) return;
    sqlite3_close(o->db);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

static json_t *held_answer(sqlite3_stmt *st, bool first)
{
    uint64_t nonce = (uint64_t)sqlite3_column_int64(st, 2);
    return json_pack("{s:o,s:o,s:I,s:b}", "raw",
                     phx_json_hex(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0)),
                     "hash", phx_json_hex(sqlite3_column_blob(st, 1), 32), "nonce",
                     (json_int_t)nonce, "first", first);
}

/* The owner's SpendLimit a worker forwards with a post, once its signature is
 * checked here (limit_check). */
typedef struct {
    bool given, has_salt;
    char cap[80]; /* decimal */
    int64_t period_s, nonce;
    uint8_t owner[20], salt[32]; /* the signer; the salt when given */
} limit_t;

/* Chain names as the worker's configuration has them: [a-z0-9_-], 1..32. */
static bool chain_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CHAIN_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return false;
    return true;
}

/* {"owner"[,"salt"],"cap_wei","period_s","nonce","signature"}: the owner's
 * EIP-712 SpendLimit for (id, chain). Here only its form and that it is
 * signed by the owner it names; whether that address owns the contract is
 * limit_owner's question. */
static phx_err_t limit_check(const uint8_t id[32], const char *chain, const json_t *j, limit_t *l,
                             phx_error_t *e)
{
    uint8_t sig[65], d[32], signer[20];
    const char *cap = json_string_value(json_object_get(j, "cap_wei"));
    phx_u256_t capv;
    phx_err_t err;
    if (!json_is_object(j) || !cap)
        return phx_fail(e, PHX_ERR_INVALID,
                        "outbox: limit is {owner, salt, cap_wei, period_s, nonce, signature}");
    if (!chain) return phx_fail(e, PHX_ERR_INVALID, "outbox: a limit needs the chain it is for");
    l->has_salt = json_object_get(j, "salt") != NULL;
    if ((err = phx_json_get_hex_fixed(j, "owner", l->owner, 20, e)) ||
        (l->has_salt && (err = phx_json_get_hex_fixed(j, "salt", l->salt, 32, e))) ||
        (err = phx_json_get_hex_fixed(j, "signature", sig, 65, e)) ||
        (err = phx_json_get_int(j, "period_s", &l->period_s, e)) ||
        (err = phx_json_get_int(j, "nonce", &l->nonce, e)))
        return phx_error_wrap(e, err, "outbox: limit");
    if (l->period_s <= 0 || l->period_s > PERIOD_MAX || l->nonce <= 0)
        return phx_fail(e, PHX_ERR_INVALID,
                        "outbox: limit period_s 1..366 days and nonce positive");
    if ((err = phx_u256_from_str(cap, &capv, e))) return phx_error_wrap(e, err, "outbox: cap_wei");
    phx_u256_to_dec(&capv, l->cap);
    if ((err = phx_owner_limit_digest(id, chain, cap, (uint64_t)l->period_s, (uint64_t)l->nonce, d,
                                      e)) ||
        (err = phx_owner_recover(d, sig, signer, e)))
        return phx_error_wrap(e, err == PHX_ERR_INVALID ? PHX_ERR_VERIFY : err, "outbox: limit");
    if (memcmp(signer, l->owner, 20))
        return phx_fail(e, PHX_ERR_VERIFY, "outbox: the limit is not signed by the owner it names");
    l->given = true;
    return PHX_OK;
}

static void addr_hex(const uint8_t a[20], char out[43])
{
    out[0] = '0', out[1] = 'x';
    phx_hex_encode_to(out + 2, a, 20);
}

/* Is the limit's signer the contract's owner now? The owner Jobs records for
 * the id when Jobs has the contract (so Jobs.transferContract moves who sets
 * the cap), else the address the id derives from. The chain is read only for
 * a limit the outbox does not hold yet: a post carrying the held limit again
 * (the same signer, a nonce not newer), which is every send after the first,
 * changes nothing and needs no read. A transfer takes effect with the next
 * limit; the one held stays until then. Not under o->lock: the read may wait
 * on the node. */
static phx_err_t limit_owner(phx_kms_outbox_t *o, const uint8_t id[32], const char *chain,
                             const limit_t *l, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    bool known = false;
    pthread_mutex_lock(&o->lock);
    if (sqlite3_prepare_v2(o->db,
                           "SELECT owner, nonce FROM spend_limit WHERE contract=? AND chain=?", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, chain, -1, SQLITE_STATIC);
        known = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 20 &&
                !memcmp(sqlite3_column_blob(st, 0), l->owner, 20) &&
                l->nonce <= sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&o->lock);
    if (known) return PHX_OK;
    static const uint8_t zero[20];
    uint8_t now_owner[20] = {0};
    char signer[43], holder[43];
    addr_hex(l->owner, signer);
    phx_err_t err = o->owner_fn ? o->owner_fn(o->owner_ctx, id, now_owner, e) : PHX_OK;
    if (err)
        return phx_error_wrap(e, err,
                              "outbox: the contract's owner on Jobs cannot be read, so the limit "
                              "signed by %s is refused",
                              signer);
    if (memcmp(now_owner, zero, 20)) {
        addr_hex(now_owner, holder);
        if (memcmp(now_owner, l->owner, 20))
            return phx_fail(e, PHX_ERR_VERIFY,
                            "outbox: the limit is signed by %s, but Jobs records %s as the "
                            "contract's owner",
                            signer, holder);
        return PHX_OK;
    }
    if (!l->has_salt)
        return phx_fail(e, PHX_ERR_VERIFY,
                        "outbox: Jobs does not have the contract, so the limit needs the salt its "
                        "id derives from");
    uint8_t want[32];
    phx_chain_contract_id(l->owner, l->salt, want);
    if (memcmp(want, id, 32))
        return phx_fail(e, PHX_ERR_VERIFY,
                        "outbox: the limit's owner %s is not the one the contract id derives from",
                        signer);
    return PHX_OK;
}

static phx_err_t db_fail(phx_kms_outbox_t *o, phx_error_t *e)
{
    return phx_fail(e, PHX_ERR_IO, "outbox: %s", sqlite3_errmsg(o->db));
}

/* Keep the newest limit (by the owner's nonce): an older signed limit, with
 * perhaps a higher cap, never replaces it. The held limit itself, checked
 * again, records its owner when a row from before the owner column has none,
 * so later posts of it need no chain read. Called under o->lock. */
static phx_err_t limit_store(phx_kms_outbox_t *o, const uint8_t id[32], const char *chain,
                             const limit_t *l, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(o->db,
                           "INSERT INTO spend_limit(contract, chain, cap, period_s, nonce, owner,"
                           " keep_s) VALUES(?1,?2,?3,?4,?5,?6,?4) ON CONFLICT(contract, chain) DO"
                           " UPDATE SET cap=excluded.cap, period_s=excluded.period_s,"
                           " nonce=excluded.nonce, owner=excluded.owner,"
                           " keep_s=max(coalesce(spend_limit.keep_s, 0), spend_limit.period_s,"
                           " excluded.period_s) WHERE excluded.nonce > spend_limit.nonce OR"
                           " (spend_limit.owner IS NULL AND excluded.nonce = spend_limit.nonce AND"
                           " excluded.cap = spend_limit.cap AND"
                           " excluded.period_s = spend_limit.period_s)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(o, e);
    sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, chain, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, l->cap, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, l->period_s);
    sqlite3_bind_int64(st, 5, l->nonce);
    sqlite3_bind_blob(st, 6, l->owner, 20, SQLITE_STATIC);
    phx_err_t err = sqlite3_step(st) == SQLITE_DONE ? PHX_OK : db_fail(o, e);
    sqlite3_finalize(st);
    return err;
}

/* Would a new action moving value on chain pass the cap? *why is set (and
 * the action refused) when not: no limit held, or the value held for the
 * contract and chain in the last period_s seconds (the KMS's clock) plus this
 * one is over the cap. Called under o->lock. */
static phx_err_t cap_check(phx_kms_outbox_t *o, const uint8_t id[32], const char *chain,
                           const phx_u256_t *value, char why[240], phx_error_t *e)
{
    why[0] = 0;
    if (!chain) {
        snprintf(why, 240, "the post names no chain, so no spending limit can be applied");
        return PHX_OK;
    }
    sqlite3_stmt *st = NULL;
    phx_err_t err = PHX_OK;
    phx_u256_t cap = phx_u256_from_u64(0), spent = phx_u256_from_u64(0);
    int64_t period = 0;
    if (sqlite3_prepare_v2(o->db,
                           "SELECT cap, period_s FROM spend_limit WHERE contract=? AND chain=?", -1,
                           &st, NULL) != SQLITE_OK)
        return db_fail(o, e);
    sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, chain, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        err = phx_u256_from_str((const char *)sqlite3_column_text(st, 0), &cap, e);
        period = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (err) return err;
    if (period <= 0) {
        snprintf(why, 240,
                 "no spending limit signed by the owner reached the KMS for chain %s: only "
                 "value 0 may be sent",
                 chain);
        return PHX_OK;
    }
    if (sqlite3_prepare_v2(o->db,
                           "SELECT value FROM spend WHERE contract=? AND chain=? AND created_ms>=?",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(o, e);
    sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, chain, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)phx_now_ms() - period * 1000);
    while (!err && sqlite3_step(st) == SQLITE_ROW) {
        phx_u256_t v;
        if (!(err = phx_u256_from_str((const char *)sqlite3_column_text(st, 0), &v, e)))
            spent = phx_u256_add(&spent, &v);
    }
    sqlite3_finalize(st);
    if (err) return err;
    phx_evm_spend_over(&cap, &spent, value, chain, (uint64_t)period, " by the network's workers",
                       why, 240);
    return PHX_OK;
}

static phx_err_t exec_sql(phx_kms_outbox_t *o, const char *sql, phx_error_t *e)
{
    return sqlite3_exec(o->db, sql, NULL, NULL, NULL) == SQLITE_OK ? PHX_OK : db_fail(o, e);
}

/* Forget an action's spending (the node refused its transaction: it never
 * moves money). Called under o->lock. */
static phx_err_t spend_forget(phx_kms_outbox_t *o, const uint8_t id[32], const char *action,
                              phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(o->db, "DELETE FROM spend WHERE contract=? AND action=?", -1, &st,
                           NULL) != SQLITE_OK)
        return db_fail(o, e);
    sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
    phx_err_t err = sqlite3_step(st) == SQLITE_DONE ? PHX_OK : db_fail(o, e);
    sqlite3_finalize(st);
    return err;
}

/* Spend rows older than the longest period any limit of their contract and
 * chain had (keep_s; PERIOD_MAX when no limit is held) can never count again:
 * those of (id, chain) go with each insert, everyone's once an hour
 * (SWEEP_MS), so contracts that stopped sending do not keep theirs. Keeping
 * the longest period, not the newest, means a limit with a longer period
 * still sees every send of its window. Called under o->lock, inside the
 * insert's transaction. */
static phx_err_t spend_prune(phx_kms_outbox_t *o, const uint8_t id[32], const char *chain,
                             uint64_t now, phx_error_t *e)
{
    static const char keep[] = "(SELECT max(coalesce(keep_s, 0), period_s) FROM spend_limit l"
                               " WHERE l.contract=spend.contract AND l.chain=spend.chain)";
    char sql[400];
    bool all = now - o->swept_ms >= SWEEP_MS;
    snprintf(sql, sizeof sql,
             "DELETE FROM spend WHERE %s created_ms < ?3 - 1000 * coalesce(%s, %lld)",
             all ? "" : "contract=?1 AND chain=?2 AND", keep, PERIOD_MAX);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(o->db, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(o, e);
    if (!all) {
        sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, chain, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
    phx_err_t err = sqlite3_step(st) == SQLITE_DONE ? PHX_OK : db_fail(o, e);
    sqlite3_finalize(st);
    if (!err && all) o->swept_ms = now;
    return err;
}

/* Called under o->lock, inside a transaction. */
static phx_err_t post_locked(phx_kms_outbox_t *o, const uint8_t id[32], const char *action,
                             const char *chain, const limit_t *lim, const phx_evm_tx_t *tx,
                             const phx_buf_t *raw, const uint8_t hash[32], bool release,
                             json_t **resp, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    phx_err_t err = PHX_OK;
    if (lim->given && (err = limit_store(o, id, chain, lim, e))) return err;
    if (sqlite3_prepare_v2(o->db,
                           "SELECT raw, hash, nonce FROM outbox WHERE contract=? AND action=?", -1,
                           &st, NULL) != SQLITE_OK)
        return db_fail(o, e);
    sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
    bool held = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 1) == 32;
    bool same = held && !memcmp(sqlite3_column_blob(st, 1), hash, 32);
    if (release) {
        sqlite3_finalize(st);
        if (!same) {
            *resp = json_pack("{s:b}", "released", 0);
            return PHX_OK;
        }
        if (sqlite3_prepare_v2(o->db, "DELETE FROM outbox WHERE contract=? AND action=?", -1, &st,
                               NULL) != SQLITE_OK)
            return db_fail(o, e);
        sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) err = db_fail(o, e);
        sqlite3_finalize(st);
        if (!err) err = spend_forget(o, id, action, e);
        if (!err) *resp = json_pack("{s:b}", "released", 1);
        return err;
    }
    if (held) { /* the action's transaction is the first one posted; never refused */
        *resp = held_answer(st, same);
        sqlite3_finalize(st);
        return PHX_OK;
    }
    sqlite3_finalize(st);
    /* A new action: its value counts against the owner's cap, network-wide. */
    bool pays = !phx_u256_is_zero(&tx->value);
    if (pays) {
        char why[240];
        if ((err = cap_check(o, id, chain, &tx->value, why, e))) return err;
        if (why[0]) {
            *resp = json_pack("{s:s,s:s}", "refused", "spend_limit", "message", why);
            return PHX_OK;
        }
    }
    /* A nonce belongs to one action: another's is refused with the next free one. */
    if (sqlite3_prepare_v2(o->db,
                           "SELECT (SELECT count(*) FROM outbox WHERE chain_id=?1 AND sender=?2 AND"
                           " nonce=?3), (SELECT max(nonce) FROM outbox WHERE chain_id=?1 AND"
                           " sender=?2)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(o, e);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)tx->chain_id);
    sqlite3_bind_blob(st, 2, tx->from, 20, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)tx->nonce);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0) {
        *resp = json_pack("{s:b,s:I}", "taken", 1, "next_nonce",
                          (json_int_t)(sqlite3_column_int64(st, 1) + 1));
        sqlite3_finalize(st);
        return PHX_OK;
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(
            o->db,
            "INSERT INTO outbox(contract, action, chain_id, sender, nonce, raw, hash,"
            " created_ms) VALUES(?,?,?,?,?,?,?,?)",
            -1, &st, NULL) != SQLITE_OK)
        return db_fail(o, e);
    uint64_t now = phx_now_ms();
    sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)tx->chain_id);
    sqlite3_bind_blob(st, 4, tx->from, 20, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)tx->nonce);
    sqlite3_bind_blob(st, 6, raw->ptr, (int)raw->len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)now);
    if (sqlite3_step(st) != SQLITE_DONE) err = db_fail(o, e);
    sqlite3_finalize(st);
    if (!err && pays) {
        char v[80];
        phx_u256_to_dec(&tx->value, v);
        if (sqlite3_prepare_v2(o->db,
                               "INSERT OR REPLACE INTO spend(contract, action, chain, value,"
                               " created_ms) VALUES(?,?,?,?,?)",
                               -1, &st, NULL) != SQLITE_OK)
            return db_fail(o, e);
        sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, chain, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, v, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
        if (sqlite3_step(st) != SQLITE_DONE) err = db_fail(o, e);
        sqlite3_finalize(st);
        if (!err) err = spend_prune(o, id, chain, now, e);
    }
    if (!err)
        *resp = json_pack("{s:o,s:o,s:I,s:b}", "raw", phx_json_hex(raw->ptr, raw->len), "hash",
                          phx_json_hex(hash, 32), "nonce", (json_int_t)tx->nonce, "first", 1);
    return err;
}

phx_err_t phx_kms_outbox_post(phx_kms_outbox_t *o, const uint8_t contract_root[32],
                              const json_t *req, json_t **resp, phx_error_t *e)
{
    *resp = NULL;
    if (!o) return phx_fail(e, PHX_ERR_NOT_FOUND, "this KMS keeps no outbox");
    uint8_t id[32], hash[32];
    const char *action = json_string_value(json_object_get(req, "action"));
    const json_t *cj = json_object_get(req, "chain"), *lj = json_object_get(req, "limit");
    const char *chain = json_string_value(cj);
    if (!json_is_object(req) || phx_json_get_hex_fixed(req, "contract_id", id, 32, NULL) ||
        !action || !*action || strlen(action) > ACTION_MAX)
        return phx_fail(e, PHX_ERR_INVALID,
                        "outbox: {contract_id: 32 bytes hex, action: 1..%d characters, raw"
                        "[, chain, limit]}",
                        ACTION_MAX);
    if ((cj && !json_is_null(cj) && (!chain || !chain_ok(chain))))
        return phx_fail(e, PHX_ERR_INVALID, "outbox: chain is a name of [a-z0-9_-], 1..%d",
                        CHAIN_MAX);
    limit_t lim = {0};
    phx_err_t lerr = lj && !json_is_null(lj) ? limit_check(id, chain, lj, &lim, e) : PHX_OK;
    if (lerr) return lerr;
    phx_buf_t raw = PHX_BUF_INIT;
    phx_evm_tx_t tx = {0};
    phx_contract_keys_t keys;
    phx_err_t err = phx_json_get_hex(req, "raw", &raw, e);
    if (!err && (raw.len == 0 || raw.len > RAW_MAX))
        err = phx_fail(e, PHX_ERR_INVALID, "outbox: raw must be 1..%u bytes", RAW_MAX);
    if (!err) err = phx_evm_tx_decode(raw.ptr, raw.len, &tx, e);
    if (!err) err = phx_evm_tx_hash(&tx, hash, e);
    if (err) {
        phx_buf_free(&raw);
        phx_evm_tx_clear(&tx);
        return phx_error_wrap(e, err == PHX_ERR_VERIFY ? PHX_ERR_INVALID : err, "outbox");
    }
    /* Only the contract's own key signs for its wallet: a transaction from
     * any other sender is not this contract's to queue. */
    if (!(err = phx_kms_contract_keys(contract_root, id, &keys, e))) {
        if (memcmp(keys.address, tx.from, 20))
            err = phx_fail(e, PHX_ERR_VERIFY,
                           "outbox: the transaction is not signed by the contract's key");
        phx_kms_contract_keys_clear(&keys);
    }
    /* Only for a transaction of the contract's own key: no one else makes
     * the KMS read the chain. */
    if (!err && lim.given) err = limit_owner(o, id, chain, &lim, e);
    if (!err) {
        /* One transaction: an action held is always counted with its value. */
        pthread_mutex_lock(&o->lock);
        if (!(err = exec_sql(o, "BEGIN IMMEDIATE", e))) {
            err = post_locked(o, id, action, chain, &lim, &tx, &raw, hash,
                              json_is_true(json_object_get(req, "release")), resp, e);
            if (!err) err = exec_sql(o, "COMMIT", e);
            if (err) {
                exec_sql(o, "ROLLBACK", NULL);
                json_decref(*resp);
                *resp = NULL;
            }
        }
        pthread_mutex_unlock(&o->lock);
    }
    phx_buf_free(&raw);
    phx_evm_tx_clear(&tx);
    if (!err && !*resp) err = phx_fail(e, PHX_ERR_NOMEM, "outbox");
    return err;
}

phx_err_t phx_kms_outbox_request(const char *kms_url, const char *contract_id, const char *action,
                                 const char *chain, const json_t *limit, const uint8_t *raw,
                                 size_t len, bool release, json_t **resp, phx_error_t *e)
{
    char url[600];
    snprintf(url, sizeof url, "%s/v1/outbox", kms_url);
    json_t *body = json_pack("{s:s,s:s,s:o,s:b}", "contract_id", contract_id, "action", action,
                             "raw", phx_json_hex(raw, len), "release", release);
    if (body && chain) json_object_set_new(body, "chain", json_string(chain));
    if (body && limit) json_object_set(body, "limit", (json_t *)limit);
    if (!body) return phx_fail(e, PHX_ERR_NOMEM, "outbox");
    phx_http_client_opts_t opts = {0};
    opts.timeout_ms = 10000;
    phx_err_t err = phx_http_json("POST", url, body, &opts, NULL, resp, e);
    json_decref(body);
    if (!err && !json_is_object(*resp)) {
        json_decref(*resp);
        *resp = NULL;
        err = phx_fail(e, PHX_ERR_REMOTE, "outbox: the KMS answered no object");
    }
    return err;
}
