/* A contract's own persistent state: one SQLite file per contract id under the
 * kv directory, opened by the worker only for the contract being run, so one
 * contract can never name another's data. (Encrypted in the network issue.) */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "phx/crypto.h"
#include "phx/json.h"

#define KV_MAX_KEY 1024
#define KV_MAX_VALUE (1u << 20)
#define KV_MAX_LIST 1000

/* The file name is the sha256 of the contract id: any id maps to a safe, fixed
 * name, and ids that differ never share a file. */
static phx_err_t kv_open(sbx_host_t *h, phx_error_t *e)
{
    if (h->kv_db) return PHX_OK;
    const char *dir = h->cfg->kv_dir;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return phx_fail(e, PHX_ERR_IO, "kv dir %s: %s", dir, strerror(errno));
    uint8_t d[32];
    phx_sha256(h->contract_id, strlen(h->contract_id), d);
    char hex[65];
    phx_hex_encode_to(hex, d, 32);
    char path[4096];
    snprintf(path, sizeof path, "%s/kv-%.32s.sqlite", dir, hex);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        phx_fail(e, PHX_ERR_IO, "kv open: %s", db ? sqlite3_errmsg(db) : "no memory");
        sqlite3_close(db);
        return PHX_ERR_IO;
    }
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL;"
                     "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, type TEXT NOT NULL, v BLOB "
                     "NOT NULL);",
                     NULL, NULL, &msg) != SQLITE_OK) {
        phx_fail(e, PHX_ERR_IO, "kv init: %s", msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);
        return PHX_ERR_IO;
    }
    h->kv_db = db;
    return PHX_OK;
}

phx_err_t sbx_kv_op(sbx_host_t *h, const char *op, const json_t *args, json_t **out, phx_error_t *e)
{
    phx_err_t err = kv_open(h, e);
    if (err) return err;
    sqlite3 *db = h->kv_db;
    sqlite3_stmt *st = NULL;
    const char *key = json_string_value(json_object_get(args, "key"));
    if (strcmp(op, "kv.list") != 0) {
        if (!key) return phx_fail(e, PHX_ERR_INVALID, "kv: key must be a string");
        if (strlen(key) > KV_MAX_KEY)
            return phx_fail(e, PHX_ERR_LIMIT, "kv: key longer than %d", KV_MAX_KEY);
    }
    if (!strcmp(op, "kv.get")) {
        sqlite3_prepare_v2(db, "SELECT type, v FROM kv WHERE k = ?", -1, &st, NULL);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const char *type = (const char *)sqlite3_column_text(st, 0);
            char *b64 =
                phx_base64_encode(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
            *out =
                b64 ? json_pack("{s:s,s:s}", "type", type ? type : "string", "value", b64) : NULL;
            free(b64);
        } else if (rc == SQLITE_DONE) {
            *out = json_pack("{s:n}", "value");
        } else {
            err = phx_fail(e, PHX_ERR_IO, "kv get: %s", sqlite3_errmsg(db));
        }
    } else if (!strcmp(op, "kv.put")) {
        const char *type = json_string_value(json_object_get(args, "type"));
        const char *v64 = json_string_value(json_object_get(args, "value"));
        if (!type || !v64 ||
            (strcmp(type, "string") && strcmp(type, "bytes") && strcmp(type, "json")))
            return phx_fail(e, PHX_ERR_INVALID, "kv put: bad value");
        phx_buf_t v = PHX_BUF_INIT;
        if ((err = phx_base64_decode(v64, strlen(v64), &v, e))) {
            phx_buf_free(&v);
            return err;
        }
        if (v.len > KV_MAX_VALUE) {
            phx_buf_free(&v);
            return phx_fail(e, PHX_ERR_LIMIT, "kv: value larger than %u bytes", KV_MAX_VALUE);
        }
        /* Disk is a shared resource: a budget per invocation and per contract. */
        h->kv_written += v.len + strlen(key);
        if (h->kv_written > h->limits->kv_write_bytes) {
            phx_buf_free(&v);
            snprintf(h->fatal_code, sizeof h->fatal_code, "kv_limit");
            snprintf(h->fatal_message, sizeof h->fatal_message,
                     "more than %llu bytes written to kv in one invocation",
                     (unsigned long long)h->limits->kv_write_bytes);
            return phx_fail(e, PHX_ERR_LIMIT, "%s", h->fatal_message);
        }
        sqlite3_int64 used = 0;
        if (sqlite3_prepare_v2(db, "SELECT COALESCE(SUM(length(k) + length(v)), 0) FROM kv", -1,
                               &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            used = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        st = NULL;
        if ((uint64_t)used + v.len + strlen(key) > h->limits->kv_total_bytes) {
            phx_buf_free(&v);
            snprintf(h->fatal_code, sizeof h->fatal_code, "kv_limit");
            snprintf(h->fatal_message, sizeof h->fatal_message,
                     "the contract's kv state would exceed %llu bytes",
                     (unsigned long long)h->limits->kv_total_bytes);
            return phx_fail(e, PHX_ERR_LIMIT, "%s", h->fatal_message);
        }
        sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv(k, type, v) VALUES(?, ?, ?)", -1, &st,
                           NULL);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, v.ptr ? (const void *)v.ptr : "", (int)v.len, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            err = phx_fail(e, PHX_ERR_IO, "kv put: %s", sqlite3_errmsg(db));
        else
            *out = json_object();
        phx_buf_free(&v);
    } else if (!strcmp(op, "kv.delete")) {
        sqlite3_prepare_v2(db, "DELETE FROM kv WHERE k = ?", -1, &st, NULL);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            err = phx_fail(e, PHX_ERR_IO, "kv delete: %s", sqlite3_errmsg(db));
        else
            *out = json_pack("{s:b}", "deleted", sqlite3_changes(db) > 0);
    } else if (!strcmp(op, "kv.list")) {
        const char *prefix = json_string_value(json_object_get(args, "prefix"));
        if (!prefix) prefix = "";
        /* Prefix match without LIKE's wildcards: k >= prefix AND substr(k,1,n) = prefix. */
        sqlite3_prepare_v2(
            db,
            "SELECT k FROM kv WHERE k >= ?1 AND substr(k, 1, length(?1)) = ?1 ORDER BY k LIMIT ?2",
            -1, &st, NULL);
        sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, KV_MAX_LIST);
        json_t *keys = json_array();
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            json_array_append_new(keys, json_string((const char *)sqlite3_column_text(st, 0)));
        if (rc != SQLITE_DONE) {
            json_decref(keys);
            err = phx_fail(e, PHX_ERR_IO, "kv list: %s", sqlite3_errmsg(db));
        } else {
            *out = json_pack("{s:o}", "keys", keys);
        }
    } else {
        err = phx_fail(e, PHX_ERR_UNSUPPORTED, "unknown kv op");
    }
    sqlite3_finalize(st);
    if (!err && !*out) err = phx_fail(e, PHX_ERR_NOMEM, "kv");
    return err;
}
