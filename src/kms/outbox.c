/* The contract wallets' outbox (include/phx/kms.h, docs/kms.md "Outbox"): the
 * KMS arbitrates which transaction is an action's and which action a nonce of
 * a contract's wallet belongs to, so workers that run the same request, or
 * send for one contract at once, never put two transactions on chain for one
 * action and never two actions on one nonce. SQLite, one writer at a time. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/evm.h"
#include "phx/kms.h"

#define ACTION_MAX 256
#define RAW_MAX (128u << 10)

struct phx_kms_outbox {
    sqlite3 *db;
    pthread_mutex_t lock;
};

phx_err_t phx_kms_outbox_open(const char *path, phx_kms_outbox_t **out, phx_error_t *e)
{
    phx_kms_outbox_t *o = calloc(1, sizeof *o);
    if (!o) return phx_fail(e, PHX_ERR_NOMEM, "outbox");
    pthread_mutex_init(&o->lock, NULL);
    char *msg = NULL;
    if (sqlite3_open_v2(path, &o->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(o->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE IF NOT EXISTS outbox("
                     " contract BLOB NOT NULL, action TEXT NOT NULL, chain_id INTEGER NOT NULL,"
                     " sender BLOB NOT NULL, nonce INTEGER NOT NULL, raw BLOB NOT NULL,"
                     " hash BLOB NOT NULL, created_ms INTEGER NOT NULL,"
                     " PRIMARY KEY(contract, action), UNIQUE(chain_id, sender, nonce));",
                     NULL, NULL, &msg) != SQLITE_OK) {
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

/* Called under o->lock. */
static phx_err_t post_locked(phx_kms_outbox_t *o, const uint8_t id[32], const char *action,
                             const phx_evm_tx_t *tx, const phx_buf_t *raw, const uint8_t hash[32],
                             bool release, json_t **resp, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    phx_err_t err = PHX_OK;
    if (sqlite3_prepare_v2(o->db,
                           "SELECT raw, hash, nonce FROM outbox WHERE contract=? AND action=?", -1,
                           &st, NULL) != SQLITE_OK)
        return phx_fail(e, PHX_ERR_IO, "outbox: %s", sqlite3_errmsg(o->db));
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
            return phx_fail(e, PHX_ERR_IO, "outbox: %s", sqlite3_errmsg(o->db));
        sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            err = phx_fail(e, PHX_ERR_IO, "outbox: %s", sqlite3_errmsg(o->db));
        sqlite3_finalize(st);
        if (!err) *resp = json_pack("{s:b}", "released", 1);
        return err;
    }
    if (held) { /* the action's transaction is the first one posted */
        *resp = held_answer(st, same);
        sqlite3_finalize(st);
        return PHX_OK;
    }
    sqlite3_finalize(st);
    /* A nonce belongs to one action: another's is refused with the next free one. */
    if (sqlite3_prepare_v2(o->db,
                           "SELECT (SELECT count(*) FROM outbox WHERE chain_id=?1 AND sender=?2 AND"
                           " nonce=?3), (SELECT max(nonce) FROM outbox WHERE chain_id=?1 AND"
                           " sender=?2)",
                           -1, &st, NULL) != SQLITE_OK)
        return phx_fail(e, PHX_ERR_IO, "outbox: %s", sqlite3_errmsg(o->db));
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
        return phx_fail(e, PHX_ERR_IO, "outbox: %s", sqlite3_errmsg(o->db));
    sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)tx->chain_id);
    sqlite3_bind_blob(st, 4, tx->from, 20, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)tx->nonce);
    sqlite3_bind_blob(st, 6, raw->ptr, (int)raw->len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)phx_now_ms());
    if (sqlite3_step(st) != SQLITE_DONE)
        err = phx_fail(e, PHX_ERR_IO, "outbox: %s", sqlite3_errmsg(o->db));
    sqlite3_finalize(st);
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
    if (!json_is_object(req) || phx_json_get_hex_fixed(req, "contract_id", id, 32, NULL) ||
        !action || !*action || strlen(action) > ACTION_MAX)
        return phx_fail(e, PHX_ERR_INVALID,
                        "outbox: {contract_id: 32 bytes hex, action: 1..%d characters, raw}",
                        ACTION_MAX);
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
    if (!err) {
        pthread_mutex_lock(&o->lock);
        err = post_locked(o, id, action, &tx, &raw, hash,
                          json_is_true(json_object_get(req, "release")), resp, e);
        pthread_mutex_unlock(&o->lock);
    }
    phx_buf_free(&raw);
    phx_evm_tx_clear(&tx);
    if (!err && !*resp) err = phx_fail(e, PHX_ERR_NOMEM, "outbox");
    return err;
}

phx_err_t phx_kms_outbox_request(const char *kms_url, const char *contract_id, const char *action,
                                 const uint8_t *raw, size_t len, bool release, json_t **resp,
                                 phx_error_t *e)
{
    char url[600];
    snprintf(url, sizeof url, "%s/v1/outbox", kms_url);
    json_t *body = json_pack("{s:s,s:s,s:o,s:b}", "contract_id", contract_id, "action", action,
                             "raw", phx_json_hex(raw, len), "release", release);
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
