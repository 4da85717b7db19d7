/* The voucher ledger (include/phx/kms.h, docs/kms.md "Voucher ledger"): the
 * KMS arbitrates the cumulative totals of paid direct calls per (chain,
 * Payments, payer, operator), so that the workers of one operator, each with
 * its own voucher journal, never all serve one total: the first worker to
 * present a total wins it, the others answer 402 with what is owed now. It is
 * to vouchers what the outbox is to contract-wallet nonces. SQLite, one writer
 * at a time. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/evm.h"
#include "phx/kms.h"

struct phx_kms_ledger {
    sqlite3 *db;
    pthread_mutex_t lock;
};

static const char *const op_names[] = {"claim", "charge", "release"};

phx_err_t phx_kms_ledger_open(const char *path, phx_kms_ledger_t **out, phx_error_t *e)
{
    phx_kms_ledger_t *l = calloc(1, sizeof *l);
    if (!l) return phx_fail(e, PHX_ERR_NOMEM, "ledger");
    pthread_mutex_init(&l->lock, NULL);
    char *msg = NULL;
    /* Amounts are 32-byte big-endian blobs (uint256), compared in C. prev_*
     * is what a release of the latest claim restores. */
    if (sqlite3_open_v2(path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(l->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE IF NOT EXISTS ledger("
                     " chain_id INTEGER NOT NULL, payments BLOB NOT NULL, payer BLOB NOT NULL,"
                     " operator BLOB NOT NULL, cumulative BLOB NOT NULL, owed BLOB NOT NULL,"
                     " prev_cumulative BLOB NOT NULL, prev_owed BLOB NOT NULL,"
                     " updated_ms INTEGER NOT NULL,"
                     " PRIMARY KEY(chain_id, payments, payer, operator));",
                     NULL, NULL, &msg) != SQLITE_OK) {
        phx_err_t err = phx_fail(e, PHX_ERR_IO, "ledger %s: %s", path,
                                 msg     ? msg
                                 : l->db ? sqlite3_errmsg(l->db)
                                         : "open");
        sqlite3_free(msg);
        phx_kms_ledger_close(l);
        return err;
    }
    sqlite3_busy_timeout(l->db, 5000);
    *out = l;
    return PHX_OK;
}

void phx_kms_ledger_close(phx_kms_ledger_t *l)
{
    if (!l) return;
    sqlite3_close(l->db);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

void phx_kms_ledger_mac(const uint8_t contract_root[32], phx_kms_ledger_op_t op,
                        const phx_kms_ledger_key_t *k, const phx_u256_t *a, const phx_u256_t *b,
                        uint8_t mac[32])
{
    static const char tag[] = "phx-ledger-v1";
    uint8_t key[32], msg[sizeof tag - 1 + 1 + 8 + 60 + 64];
    size_t n = 0;
    /* A derivation of the contract root: every admitted worker holds the
     * root, nobody else does, and the KMS derives the same key. */
    phx_kms_derive(contract_root, "kms/voucher-ledger", key, sizeof key, NULL);
    memcpy(msg, tag, sizeof tag - 1), n += sizeof tag - 1;
    msg[n++] = (uint8_t)op;
    for (int i = 7; i >= 0; i--)
        msg[n++] = (uint8_t)(k->chain_id >> (8 * i));
    memcpy(msg + n, k->payments, 20), n += 20;
    memcpy(msg + n, k->payer, 20), n += 20;
    memcpy(msg + n, k->operator_, 20), n += 20;
    memcpy(msg + n, a->b, 32), n += 32;
    memcpy(msg + n, b->b, 32), n += 32;
    phx_hmac_sha256(key, sizeof key, msg, n, mac);
    phx_secure_zero(key, sizeof key);
}

static phx_u256_t col_u256(sqlite3_stmt *st, int i)
{
    phx_u256_t v = {{0}};
    if (sqlite3_column_bytes(st, i) == 32) memcpy(v.b, sqlite3_column_blob(st, i), 32);
    return v;
}

static json_t *dec_json(const phx_u256_t *v)
{
    char dec[80];
    phx_u256_to_dec(v, dec);
    return json_string(dec);
}

static void bind_key(sqlite3_stmt *st, const phx_kms_ledger_key_t *k)
{
    sqlite3_bind_int64(st, 1, (sqlite3_int64)k->chain_id);
    sqlite3_bind_blob(st, 2, k->payments, 20, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, k->payer, 20, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, k->operator_, 20, SQLITE_STATIC);
}

/* Called under l->lock. */
static phx_err_t post_locked(phx_kms_ledger_t *l, phx_kms_ledger_op_t op,
                             const phx_kms_ledger_key_t *k, const phx_u256_t *a,
                             const phx_u256_t *b, json_t **resp, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    phx_u256_t cum = {{0}}, owed = {{0}}, prev_cum = {{0}}, prev_owed = {{0}};
    if (sqlite3_prepare_v2(l->db,
                           "SELECT cumulative, owed, prev_cumulative, prev_owed FROM ledger"
                           " WHERE chain_id=? AND payments=? AND payer=? AND operator=?",
                           -1, &st, NULL) != SQLITE_OK)
        return phx_fail(e, PHX_ERR_IO, "ledger: %s", sqlite3_errmsg(l->db));
    bind_key(st, k);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found)
        cum = col_u256(st, 0), owed = col_u256(st, 1), prev_cum = col_u256(st, 2),
        prev_owed = col_u256(st, 3);
    sqlite3_finalize(st);
    bool write = false;
    if (op == PHX_KMS_LEDGER_CLAIM) {
        /* a = the voucher's total, b = the least one call adds (the price per
         * call). New, and at least what is owed plus one call, or refused with
         * what is owed. */
        phx_u256_t need = phx_u256_add(&owed, b);
        bool ok = (!found || phx_u256_cmp(a, &cum) > 0) && phx_u256_cmp(a, &need) >= 0 &&
                  phx_u256_cmp(&need, &owed) >= 0;
        if (ok) {
            prev_cum = cum, prev_owed = owed, cum = *a, owed = *a;
            write = true;
            *resp = json_pack("{s:b,s:o}", "accepted", 1, "owed", dec_json(&owed));
        } else {
            *resp = json_pack("{s:b,s:o,s:o}", "accepted", 0, "cumulative", dec_json(&cum), "owed",
                              dec_json(&owed));
        }
    } else if (op == PHX_KMS_LEDGER_CHARGE) {
        /* a = the voucher's total the call ran on, b = what is owed after its
         * CPU time: only for a claimed total, and only ever up (a charge that
         * comes after a later claim, which already covers it, changes nothing). */
        if (found && phx_u256_cmp(a, &cum) <= 0 && phx_u256_cmp(b, &owed) > 0) {
            owed = *b;
            write = true;
        }
        *resp = json_pack("{s:o}", "owed", dec_json(&owed));
    } else {
        /* a = the total to release: only while it is the latest claim. */
        bool ok = found && phx_u256_cmp(a, &cum) == 0 && phx_u256_cmp(&prev_cum, &cum) < 0;
        if (ok) {
            cum = prev_cum, owed = prev_owed;
            write = true;
        }
        *resp = json_pack("{s:b}", "released", ok);
    }
    if (!*resp) return phx_fail(e, PHX_ERR_NOMEM, "ledger");
    if (!write) return PHX_OK;
    /* A claim or release is on disk before it is answered (fsync: it decides
     * what is served). A charge is not: it reaches the disk with the next
     * claim's commit (WAL), and a power loss before that loses one call's CPU
     * charge, not a served total; this saves an fsync per paid call. */
    sqlite3_exec(l->db,
                 op == PHX_KMS_LEDGER_CHARGE ? "PRAGMA synchronous=NORMAL"
                                             : "PRAGMA synchronous=FULL",
                 NULL, NULL, NULL);
    if (sqlite3_prepare_v2(l->db,
                           "INSERT OR REPLACE INTO ledger(chain_id, payments, payer, operator,"
                           " cumulative, owed, prev_cumulative, prev_owed, updated_ms)"
                           " VALUES(?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return phx_fail(e, PHX_ERR_IO, "ledger: %s", sqlite3_errmsg(l->db));
    bind_key(st, k);
    sqlite3_bind_blob(st, 5, cum.b, 32, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 6, owed.b, 32, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 7, prev_cum.b, 32, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 8, prev_owed.b, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)phx_now_ms());
    phx_err_t err = PHX_OK;
    if (sqlite3_step(st) != SQLITE_DONE)
        err = phx_fail(e, PHX_ERR_IO, "ledger: %s", sqlite3_errmsg(l->db));
    sqlite3_finalize(st);
    if (err) { /* not recorded: the answer must not say it was */
        json_decref(*resp);
        *resp = NULL;
    }
    return err;
}

static phx_err_t get_amount(const json_t *req, const char *key, phx_u256_t *out, phx_error_t *e)
{
    const char *s = json_string_value(json_object_get(req, key));
    if (!s || !*s || phx_u256_from_str(s, out, NULL))
        return phx_fail(e, PHX_ERR_INVALID, "ledger: \"%s\" must be a decimal amount below 2^256",
                        key);
    return PHX_OK;
}

phx_err_t phx_kms_ledger_post(phx_kms_ledger_t *l, const uint8_t contract_root[32],
                              const json_t *req, json_t **resp, phx_error_t *e)
{
    *resp = NULL;
    if (!l) return phx_fail(e, PHX_ERR_NOT_FOUND, "this KMS keeps no voucher ledger");
    static const char usage[] =
        "ledger: {op: claim|charge|release, chain_id, payments, payer, operator: 0x + 40 hex, "
        "a, b: decimal amounts, mac: 0x + 64 hex}";
    phx_kms_ledger_key_t k;
    uint8_t mac[32], want[32];
    phx_u256_t a, b;
    const char *ops = json_string_value(json_object_get(req, "op"));
    const json_t *cid = json_object_get(req, "chain_id");
    if (!json_is_object(req) || !ops || !json_is_integer(cid) || json_integer_value(cid) <= 0 ||
        phx_json_get_hex_fixed(req, "payments", k.payments, 20, NULL) ||
        phx_json_get_hex_fixed(req, "payer", k.payer, 20, NULL) ||
        phx_json_get_hex_fixed(req, "operator", k.operator_, 20, NULL) ||
        phx_json_get_hex_fixed(req, "mac", mac, 32, NULL))
        return phx_fail(e, PHX_ERR_INVALID, "%s", usage);
    k.chain_id = (uint64_t)json_integer_value(cid);
    int op = -1;
    for (int i = 0; i < 3; i++)
        if (!strcmp(ops, op_names[i])) op = i;
    if (op < 0) return phx_fail(e, PHX_ERR_INVALID, "%s", usage);
    phx_err_t err;
    if ((err = get_amount(req, "a", &a, e)) || (err = get_amount(req, "b", &b, e))) return err;
    /* The whole authentication: only a holder of the contract root (an
     * admitted worker) can make the MAC. A replay changes nothing: a claim
     * is refused unless new, a charge only raises to what it said, a
     * release only undoes the claim it names while it is the latest. */
    phx_kms_ledger_mac(contract_root, (phx_kms_ledger_op_t)op, &k, &a, &b, want);
    if (!phx_ct_eq(mac, want, 32))
        return phx_fail(e, PHX_ERR_VERIFY, "ledger: the MAC does not verify (not a worker's)");
    pthread_mutex_lock(&l->lock);
    err = post_locked(l, (phx_kms_ledger_op_t)op, &k, &a, &b, resp, e);
    pthread_mutex_unlock(&l->lock);
    return err;
}

phx_err_t phx_kms_ledger_request(const char *kms_url, phx_http_conns_t *conns,
                                 const uint8_t contract_root[32], phx_kms_ledger_op_t op,
                                 const phx_kms_ledger_key_t *k, const phx_u256_t *a,
                                 const phx_u256_t *b, json_t **resp, phx_error_t *e)
{
    char url[600];
    uint8_t mac[32];
    snprintf(url, sizeof url, "%s/v1/ledger", kms_url);
    phx_kms_ledger_mac(contract_root, op, k, a, b, mac);
    json_t *body =
        json_pack("{s:s,s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "op", op_names[op], "chain_id",
                  (json_int_t)k->chain_id, "payments", phx_json_hex(k->payments, 20), "payer",
                  phx_json_hex(k->payer, 20), "operator", phx_json_hex(k->operator_, 20), "a",
                  dec_json(a), "b", dec_json(b), "mac", phx_json_hex(mac, 32));
    if (!body) return phx_fail(e, PHX_ERR_NOMEM, "ledger");
    phx_http_client_opts_t opts = {0};
    opts.timeout_ms = 10000;
    opts.conns = conns;
    phx_err_t err = phx_http_json("POST", url, body, &opts, NULL, resp, e);
    json_decref(body);
    if (!err && !json_is_object(*resp)) {
        json_decref(*resp);
        *resp = NULL;
        err = phx_fail(e, PHX_ERR_REMOTE, "ledger: the KMS answered no object");
    }
    return err;
}
