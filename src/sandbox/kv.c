/* A contract's own persistent state: one SQLite file per contract id under the
 * kv directory, opened by the worker only for the contract being run. Rows are
 * encrypted under the contract's kv key: the row id is HMAC-SHA256 of the key,
 * key and value are XChaCha20-Poly1305 sealed with a random nonce and bound to
 * contract id + row id, so the file shows neither and rows cannot be moved. */
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
    phx_err_t derr = phx_dir_ensure(dir, 0700, e);
    if (derr) return derr;
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
                     /* kv_sealed, not kv: files written in clear by older builds
                      * are left unread rather than mistaken for sealed rows. */
                     "CREATE TABLE IF NOT EXISTS kv_sealed(id BLOB PRIMARY KEY, k BLOB NOT NULL,"
                     " v BLOB NOT NULL);",
                     NULL, NULL, &msg) != SQLITE_OK) {
        phx_fail(e, PHX_ERR_IO, "kv init: %s", msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);
        return PHX_ERR_IO;
    }
    h->kv_db = db;
    return PHX_OK;
}

/* Subkeys of the kv key, one per use, so the row-id MAC key is never an AEAD key. */
phx_err_t sbx_kv_keys(sbx_host_t *h, phx_error_t *e)
{
    if (h->kv_keys_ready) return PHX_OK;
    phx_err_t err = sbx_host_keys(h, e);
    if (err) return err;
    if (phx_hkdf_sha256("phx-kv-v1", 9, h->kv_key, 32, "row-id", 6, h->kv_id_key, 32) ||
        phx_hkdf_sha256("phx-kv-v1", 9, h->kv_key, 32, "aead", 4, h->kv_enc_key, 32))
        return phx_fail(e, PHX_ERR_CRYPTO, "kv: hkdf");
    h->kv_keys_ready = true;
    return PHX_OK;
}

void sbx_kv_row_id(sbx_host_t *h, const char *key, uint8_t id[32])
{
    phx_hmac_sha256(h->kv_id_key, 32, key, strlen(key), id);
}

/* aad = "phx-kv/" what NUL contract id NUL row id: a sealed key or value opens
 * only as the same field of the same row of the same contract. */
static phx_err_t make_aad(sbx_host_t *h, const char *what, const uint8_t id[32], phx_buf_t *aad,
                          phx_error_t *e)
{
    if (phx_buf_printf(aad, "phx-kv/%s", what) || phx_buf_append(aad, "", 1) ||
        phx_buf_append(aad, h->contract_id, strlen(h->contract_id) + 1) ||
        phx_buf_append(aad, id, 32))
        return phx_fail(e, PHX_ERR_NOMEM, "kv aad");
    return PHX_OK;
}

#define KV_NONCE 24

/* out = nonce(24) || ciphertext || tag(16) */
static phx_err_t seal(sbx_host_t *h, const char *what, const uint8_t id[32], const uint8_t *pt,
                      size_t len, phx_buf_t *out, phx_error_t *e)
{
    phx_buf_t aad = PHX_BUF_INIT;
    phx_err_t err = make_aad(h, what, id, &aad, e);
    if (err) goto out;
    uint8_t *ct = malloc(KV_NONCE + len + PHX_AEAD_TAG_LEN);
    if (!ct) {
        err = phx_fail(e, PHX_ERR_NOMEM, "kv seal");
        goto out;
    }
    if ((err = phx_random_bytes(ct, KV_NONCE)) ||
        (err = phx_aead_seal(PHX_AEAD_XCHACHA20_POLY1305, h->kv_enc_key, ct, KV_NONCE, aad.ptr,
                             aad.len, len ? pt : (const uint8_t *)"", len, ct + KV_NONCE)))
        phx_fail(e, err, "kv seal");
    else
        err = phx_buf_append(out, ct, KV_NONCE + len + PHX_AEAD_TAG_LEN);
    free(ct);
out:
    phx_buf_free(&aad);
    return err;
}

/* A row that does not authenticate was changed or moved outside the sandbox:
 * the invocation ends with kv_integrity rather than a catchable exception, so
 * no contract can mistake tampered state for an empty key. out is secret. */
static phx_err_t open_sealed(sbx_host_t *h, const char *what, const uint8_t id[32],
                             const void *blob, size_t n, phx_buf_t *out, phx_error_t *e)
{
    out->secret = true;
    if (!blob && n) return phx_fail(e, PHX_ERR_NOMEM, "kv read");
    phx_err_t err = PHX_OK;
    phx_buf_t aad = PHX_BUF_INIT;
    if (n < KV_NONCE + PHX_AEAD_TAG_LEN) {
        err = PHX_ERR_VERIFY;
    } else if (!(err = make_aad(h, what, id, &aad, e))) {
        size_t plen = n - KV_NONCE - PHX_AEAD_TAG_LEN;
        if ((err = phx_buf_reserve(out, plen + 1))) {
            phx_fail(e, err, "kv read");
            goto done;
        }
        const uint8_t *b = blob;
        if (phx_aead_open(PHX_AEAD_XCHACHA20_POLY1305, h->kv_enc_key, b, KV_NONCE, aad.ptr, aad.len,
                          b + KV_NONCE, n - KV_NONCE, out->ptr))
            err = PHX_ERR_VERIFY;
        else
            out->len = plen;
    }
    if (err == PHX_ERR_VERIFY) {
        h->fatal = PHX_SBX_FAIL_KV_INTEGRITY;
        snprintf(h->fatal_message, sizeof h->fatal_message,
                 "a kv row (%s) failed to authenticate: the file was changed or rows were moved",
                 what);
        phx_fail(e, err, "%s", h->fatal_message);
    }
done:
    phx_buf_free(&aad);
    return err;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* kv.list: every key is sealed, so the prefix match and the order (bytewise,
 * as before) happen here after opening each row's key. */
static phx_err_t kv_list(sbx_host_t *h, sqlite3 *db, const char *prefix, json_t **out,
                         phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    char **keys = NULL;
    size_t n = 0, cap = 0;
    phx_err_t err = PHX_OK;
    size_t plen = strlen(prefix);
    sqlite3_prepare_v2(db, "SELECT id, k FROM kv_sealed", -1, &st, NULL);
    int rc = SQLITE_DONE;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint8_t id[32] = {0};
        bool id_ok = sqlite3_column_bytes(st, 0) == 32;
        if (id_ok) memcpy(id, sqlite3_column_blob(st, 0), 32);
        phx_buf_t k = PHX_BUF_INIT;
        /* A malformed id opens as an empty blob would: an integrity failure. */
        err = open_sealed(h, "key", id, id_ok ? sqlite3_column_blob(st, 1) : NULL,
                          id_ok ? (size_t)sqlite3_column_bytes(st, 1) : 0, &k, e);
        if (!err &&
            (k.len < plen || memcmp(k.ptr, prefix, plen) != 0 || memchr(k.ptr, 0, k.len) != NULL)) {
            phx_buf_free(&k);
            continue;
        }
        if (!err && n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nk = realloc(keys, nc * sizeof *nk);
            if (!nk)
                err = phx_fail(e, PHX_ERR_NOMEM, "kv list");
            else
                keys = nk, cap = nc;
        }
        if (!err) {
            keys[n] = strndup((const char *)k.ptr, k.len);
            if (!keys[n])
                err = phx_fail(e, PHX_ERR_NOMEM, "kv list");
            else
                n++;
        }
        phx_buf_free(&k);
        if (err) break;
    }
    if (!err && rc != SQLITE_DONE) err = phx_fail(e, PHX_ERR_IO, "kv list: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (!err) {
        if (n) qsort(keys, n, sizeof *keys, cmp_str);
        json_t *arr = json_array();
        for (size_t i = 0; i < n && i < KV_MAX_LIST; i++)
            json_array_append_new(arr, json_string(keys[i]));
        *out = json_pack("{s:o}", "keys", arr);
    }
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    return err;
}

phx_err_t sbx_kv_op(sbx_host_t *h, const char *op, const json_t *args, json_t **out, phx_error_t *e)
{
    phx_err_t err = sbx_kv_keys(h, e);
    if (err) return err;
    if ((err = kv_open(h, e))) return err;
    sqlite3 *db = h->kv_db;
    sqlite3_stmt *st = NULL;
    const char *key = json_string_value(json_object_get(args, "key"));
    uint8_t id[32];
    if (strcmp(op, "kv.list") != 0) {
        if (!key) return phx_fail(e, PHX_ERR_INVALID, "kv: key must be a string");
        if (strlen(key) > KV_MAX_KEY)
            return phx_fail(e, PHX_ERR_LIMIT, "kv: key longer than %d", KV_MAX_KEY);
        sbx_kv_row_id(h, key, id);
    }
    if (!strcmp(op, "kv.get")) {
        sqlite3_prepare_v2(db, "SELECT v FROM kv_sealed WHERE id = ?", -1, &st, NULL);
        sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            /* Value plaintext: type byte (s)tring, (b)ytes or (j)son, then the bytes. */
            phx_buf_t v = PHX_BUF_INIT;
            err = open_sealed(h, "value", id, sqlite3_column_blob(st, 0),
                              (size_t)sqlite3_column_bytes(st, 0), &v, e);
            if (!err && (v.len < 1 || !strchr("sbj", v.ptr[0]) || !v.ptr[0]))
                err = phx_fail(e, PHX_ERR_INVALID, "kv get: bad value type");
            if (!err) {
                const char *type = v.ptr[0] == 's' ? "string" : v.ptr[0] == 'b' ? "bytes" : "json";
                char *b64 = phx_base64_encode(v.ptr + 1, v.len - 1);
                *out = b64 ? json_pack("{s:s,s:s}", "type", type, "value", b64) : NULL;
                if (b64) phx_secure_zero(b64, strlen(b64));
                free(b64);
            }
            phx_buf_free(&v);
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
        phx_buf_t v = PHX_BUF_INIT, pt = PHX_BUF_INIT, sk = PHX_BUF_INIT, sv = PHX_BUF_INIT;
        pt.secret = true;
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
            h->fatal = PHX_SBX_FAIL_KV_LIMIT;
            snprintf(h->fatal_message, sizeof h->fatal_message,
                     "more than %llu bytes written to kv in one invocation",
                     (unsigned long long)h->limits->kv_write_bytes);
            return phx_fail(e, PHX_ERR_LIMIT, "%s", h->fatal_message);
        }
        sqlite3_int64 used = 0;
        if (sqlite3_prepare_v2(db, "SELECT COALESCE(SUM(length(k) + length(v)), 0) FROM kv_sealed",
                               -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            used = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        st = NULL;
        if ((uint64_t)used + v.len + strlen(key) > h->limits->kv_total_bytes) {
            phx_buf_free(&v);
            h->fatal = PHX_SBX_FAIL_KV_LIMIT;
            snprintf(h->fatal_message, sizeof h->fatal_message,
                     "the contract's kv state would exceed %llu bytes",
                     (unsigned long long)h->limits->kv_total_bytes);
            return phx_fail(e, PHX_ERR_LIMIT, "%s", h->fatal_message);
        }
        char tb = type[0] == 's' ? 's' : type[0] == 'b' ? 'b' : 'j';
        if (phx_buf_append(&pt, &tb, 1) || (v.len && phx_buf_append(&pt, v.ptr, v.len)))
            err = phx_fail(e, PHX_ERR_NOMEM, "kv put");
        if (!err) err = seal(h, "key", id, (const uint8_t *)key, strlen(key), &sk, e);
        if (!err) err = seal(h, "value", id, pt.ptr, pt.len, &sv, e);
        if (!err) {
            sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv_sealed(id, k, v) VALUES(?, ?, ?)", -1,
                               &st, NULL);
            sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
            sqlite3_bind_blob(st, 2, sk.ptr, (int)sk.len, SQLITE_STATIC);
            sqlite3_bind_blob(st, 3, sv.ptr, (int)sv.len, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE)
                err = phx_fail(e, PHX_ERR_IO, "kv put: %s", sqlite3_errmsg(db));
            else
                *out = json_object();
        }
        if (v.ptr) phx_secure_zero(v.ptr, v.len);
        phx_buf_free(&v);
        phx_buf_free(&pt);
        phx_buf_free(&sk);
        phx_buf_free(&sv);
    } else if (!strcmp(op, "kv.delete")) {
        sqlite3_prepare_v2(db, "DELETE FROM kv_sealed WHERE id = ?", -1, &st, NULL);
        sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            err = phx_fail(e, PHX_ERR_IO, "kv delete: %s", sqlite3_errmsg(db));
        else
            *out = json_pack("{s:b}", "deleted", sqlite3_changes(db) > 0);
    } else if (!strcmp(op, "kv.list")) {
        const char *prefix = json_string_value(json_object_get(args, "prefix"));
        err = kv_list(h, db, prefix ? prefix : "", out, e);
    } else {
        err = phx_fail(e, PHX_ERR_UNSUPPORTED, "unknown kv op");
    }
    sqlite3_finalize(st);
    if (!err && !*out) err = phx_fail(e, PHX_ERR_NOMEM, "kv");
    return err;
}
