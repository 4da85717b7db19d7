/* The job journal (jobdb.h): SQLite in WAL mode with
 * synchronous=FULL, so a step reported done survives kill -9 and power loss.
 * Every write runs in a SAVEPOINT, which nests: phx_jobdb_atomically can group
 * several writes (a page of requests plus the follower cursor) into one commit. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobdb.h"
#include "phx/worker.h"

struct phx_jobdb {
    sqlite3 *db;
};

static const char *state_names[] = {"?",         "pending", "running", "signed",
                                    "submitted", "done",    "failed"};

const char *phx_job_state_name(phx_job_state_t s)
{
    return (unsigned)s <= PHX_JOB_FAILED ? state_names[s] : "?";
}

void phx_job_clear(phx_job_t *j)
{
    if (!j) return;
    phx_buf_free(&j->input);
    phx_buf_free(&j->output);
    memset(j, 0, sizeof *j);
}

static phx_err_t sql_fail(phx_jobdb_t *d, phx_error_t *e, const char *what)
{
    return phx_fail(e, PHX_ERR_IO, "%s: %s", what, sqlite3_errmsg(d->db));
}

static phx_err_t exec(phx_jobdb_t *d, const char *sql, phx_error_t *e)
{
    char *msg = NULL;
    if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        phx_err_t err = phx_fail(e, PHX_ERR_IO, "%s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return err;
    }
    return PHX_OK;
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS jobs ("
    " request_id INTEGER PRIMARY KEY,"
    " contract_id BLOB NOT NULL, code_hash BLOB NOT NULL, input BLOB NOT NULL,"
    " deadline INTEGER NOT NULL, block INTEGER NOT NULL,"
    " state INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " output BLOB, signature BLOB, tx_hash BLOB, error TEXT,"
    " updated_ms INTEGER NOT NULL, ok INTEGER NOT NULL DEFAULT 1);"
    "CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, request_id);"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    /* The latest accepted voucher per payer and operator; amounts are 32-byte
     * big-endian blobs, which SQLite orders as numbers (memcmp, same length). */
    "CREATE TABLE IF NOT EXISTS vouchers ("
    " payer BLOB NOT NULL, operator BLOB NOT NULL,"
    " cumulative BLOB NOT NULL, call_hash BLOB NOT NULL, signature BLOB NOT NULL,"
    " charged BLOB NOT NULL, redeemed BLOB NOT NULL, updated_ms INTEGER NOT NULL,"
    " PRIMARY KEY (payer, operator));"
    /* Trigger firings (issue 15): the same states as jobs, keyed by the
     * firing's deterministic id; detail is ctx.trigger's JSON text. */
    "CREATE TABLE IF NOT EXISTS firings ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " contract_id BLOB NOT NULL, firing_id BLOB NOT NULL, detail TEXT NOT NULL,"
    " state INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, ok INTEGER NOT NULL DEFAULT 1,"
    " code_hash BLOB, output BLOB, signature BLOB, tx_hash BLOB, error TEXT,"
    " updated_ms INTEGER NOT NULL, UNIQUE (contract_id, firing_id));"
    "CREATE INDEX IF NOT EXISTS firings_state ON firings(state, id);"
    /* Per (contract, trigger): the next tick or block not yet journaled. */
    "CREATE TABLE IF NOT EXISTS trigger_cursors ("
    " contract_id BLOB NOT NULL, name TEXT NOT NULL, next INTEGER NOT NULL,"
    " PRIMARY KEY (contract_id, name));"
    /* k-of-n reports (median, aggregate): the one report this worker signed
     * for a request, with the observation set it was computed from. Written
     * once: a worker never signs two reports for one request. */
    "CREATE TABLE IF NOT EXISTS reports ("
    " request_id INTEGER PRIMARY KEY, ok INTEGER NOT NULL, output BLOB NOT NULL,"
    " signature BLOB NOT NULL, observations TEXT NOT NULL);";

phx_err_t phx_jobdb_open(const char *path, phx_jobdb_t **out, phx_error_t *e)
{
    phx_jobdb_t *d = calloc(1, sizeof *d);
    phx_err_t err;
    *out = NULL;
    if (!d) return phx_fail(e, PHX_ERR_NOMEM, "jobdb");
    if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        err =
            phx_fail(e, PHX_ERR_IO, "%s: %s", path, d->db ? sqlite3_errmsg(d->db) : "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(d->db, 5000);
    /* WAL + FULL: a commit is on disk when it returns, and readers never see
     * half a transaction, whatever kills the process. */
    if ((err = exec(d, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", e))) goto fail;
    if ((err = exec(d, schema, e))) goto fail;
    /* A journal from before the run's ok flag was signed: add the column. */
    char *msg = NULL;
    if (sqlite3_exec(d->db, "ALTER TABLE jobs ADD COLUMN ok INTEGER NOT NULL DEFAULT 1", NULL, NULL,
                     &msg) != SQLITE_OK &&
        !(msg && strstr(msg, "duplicate column"))) {
        err = phx_fail(e, PHX_ERR_IO, "%s: adding the ok column: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        goto fail;
    }
    sqlite3_free(msg);
    *out = d;
    return PHX_OK;
fail:
    sqlite3_close(d->db);
    free(d);
    return err;
}

void phx_jobdb_close(phx_jobdb_t *d)
{
    if (!d) return;
    sqlite3_close(d->db);
    free(d);
}

/* Run fn between SAVEPOINT and RELEASE (or ROLLBACK TO on failure). */
phx_err_t phx_jobdb_atomically(phx_jobdb_t *d, phx_err_t (*fn)(void *ctx, phx_error_t *e),
                               void *ctx, phx_error_t *e)
{
    phx_err_t err = exec(d, "SAVEPOINT phx", e);
    if (err) return err;
    err = fn(ctx, e);
    if (err) {
        exec(d, "ROLLBACK TO phx; RELEASE phx", NULL);
        return err;
    }
    return exec(d, "RELEASE phx", e);
}

phx_err_t phx_jobdb_record(phx_jobdb_t *d, uint64_t request_id, const uint8_t contract_id[32],
                           const uint8_t code_hash[32], const uint8_t *input, size_t input_len,
                           uint64_t deadline, uint64_t block, bool *inserted, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    phx_err_t err = PHX_OK;
    if (request_id > INT64_MAX || deadline > INT64_MAX || block > INT64_MAX)
        return phx_fail(e, PHX_ERR_RANGE, "request id, deadline or block out of range");
    if (sqlite3_prepare_v2(d->db,
                           "INSERT OR IGNORE INTO jobs (request_id, contract_id, code_hash, input,"
                           " deadline, block, state, updated_ms) VALUES (?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(d, e, "record");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)request_id);
    sqlite3_bind_blob(st, 2, contract_id, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, code_hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, input_len ? (const void *)input : "", (int)input_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)deadline);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)block);
    sqlite3_bind_int(st, 7, PHX_JOB_PENDING);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)phx_now_ms());
    if (sqlite3_step(st) != SQLITE_DONE)
        err = sql_fail(d, e, "record");
    else if (inserted)
        *inserted = sqlite3_changes(d->db) == 1;
    sqlite3_finalize(st);
    return err;
}

static const char select_cols[] =
    "SELECT request_id, contract_id, code_hash, input, deadline, block, state, attempts,"
    " output, signature, tx_hash, error, updated_ms, ok FROM jobs ";

static phx_err_t copy_blob(sqlite3_stmt *st, int col, uint8_t *dst, size_t n, phx_error_t *e)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL) return PHX_OK;
    if ((size_t)sqlite3_column_bytes(st, col) != n)
        return phx_fail(e, PHX_ERR_INVALID, "journal column %d has the wrong size", col);
    memcpy(dst, sqlite3_column_blob(st, col), n);
    return PHX_OK;
}

static phx_err_t read_row(sqlite3_stmt *st, phx_job_t *j, phx_error_t *e)
{
    phx_err_t err;
    memset(j, 0, sizeof *j);
    j->request_id = (uint64_t)sqlite3_column_int64(st, 0);
    if ((err = copy_blob(st, 1, j->contract_id, 32, e))) return err;
    if ((err = copy_blob(st, 2, j->code_hash, 32, e))) return err;
    if (phx_buf_append(&j->input, sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3)))
        return phx_fail(e, PHX_ERR_NOMEM, "job input");
    j->deadline = (uint64_t)sqlite3_column_int64(st, 4);
    j->block = (uint64_t)sqlite3_column_int64(st, 5);
    j->state = (phx_job_state_t)sqlite3_column_int(st, 6);
    j->attempts = sqlite3_column_int(st, 7);
    if (sqlite3_column_type(st, 8) != SQLITE_NULL &&
        phx_buf_append(&j->output, sqlite3_column_blob(st, 8), (size_t)sqlite3_column_bytes(st, 8)))
        return phx_fail(e, PHX_ERR_NOMEM, "job output");
    if ((err = copy_blob(st, 9, j->signature, 65, e))) return err;
    if ((err = copy_blob(st, 10, j->tx_hash, 32, e))) return err;
    const unsigned char *msg = sqlite3_column_text(st, 11);
    if (msg) snprintf(j->error, sizeof j->error, "%s", (const char *)msg);
    j->updated_ms = (uint64_t)sqlite3_column_int64(st, 12);
    j->ok = sqlite3_column_int(st, 13) != 0;
    return PHX_OK;
}

static phx_err_t select_one(phx_jobdb_t *d, const char *where, uint64_t id, bool bind_id,
                            phx_job_t *out, bool *found, phx_error_t *e)
{
    char sql[512];
    sqlite3_stmt *st = NULL;
    phx_err_t err = PHX_OK;
    snprintf(sql, sizeof sql, "%s%s", select_cols, where);
    if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK) return sql_fail(d, e, "select");
    if (bind_id) sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) {
        if ((err = read_row(st, out, e))) phx_job_clear(out);
    } else if (rc != SQLITE_DONE) {
        err = sql_fail(d, e, "select");
    }
    sqlite3_finalize(st);
    return err;
}

phx_err_t phx_jobdb_get(phx_jobdb_t *d, uint64_t request_id, phx_job_t *out, phx_error_t *e)
{
    bool found = false;
    phx_err_t err = select_one(d, "WHERE request_id = ?", request_id, true, out, &found, e);
    if (!err && !found)
        err = phx_fail(e, PHX_ERR_NOT_FOUND, "no job %llu", (unsigned long long)request_id);
    return err;
}

phx_err_t phx_jobdb_report_put(phx_jobdb_t *d, uint64_t request_id, bool ok, const uint8_t *output,
                               size_t output_len, const uint8_t signature[65],
                               const char *observations, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(d->db,
                           "INSERT INTO reports (request_id, ok, output, signature, observations) "
                           "VALUES (?, ?, ?, ?, ?) ON CONFLICT(request_id) DO NOTHING",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(d, e, "insert report");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)request_id);
    sqlite3_bind_int(st, 2, ok ? 1 : 0);
    sqlite3_bind_blob(st, 3, output_len ? (const void *)output : "", (int)output_len,
                      SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, signature, 65, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, observations, -1, SQLITE_STATIC);
    phx_err_t err = sqlite3_step(st) == SQLITE_DONE ? PHX_OK : sql_fail(d, e, "insert report");
    sqlite3_finalize(st);
    return err;
}

phx_err_t phx_jobdb_report_get(phx_jobdb_t *d, uint64_t request_id, bool *ok, phx_buf_t *output,
                               uint8_t signature[65], char **observations, bool *found,
                               phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    *found = false;
    if (sqlite3_prepare_v2(d->db,
                           "SELECT ok, output, signature, observations FROM reports "
                           "WHERE request_id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(d, e, "select report");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)request_id);
    phx_err_t err = PHX_OK;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *o = sqlite3_column_blob(st, 1);
        int on = sqlite3_column_bytes(st, 1);
        const void *s = sqlite3_column_blob(st, 2);
        const unsigned char *obs = sqlite3_column_text(st, 3);
        *ok = sqlite3_column_int(st, 0) != 0;
        if (!s || sqlite3_column_bytes(st, 2) != 65 || !obs) {
            err = phx_fail(e, PHX_ERR_STATE, "report %llu is damaged",
                           (unsigned long long)request_id);
        } else if ((on && (err = phx_buf_append(output, o, (size_t)on))) ||
                   (observations && !(*observations = strdup((const char *)obs)))) {
            err = phx_fail(e, PHX_ERR_NOMEM, "report");
        } else {
            memcpy(signature, s, 65);
            *found = true;
        }
    } else if (rc != SQLITE_DONE) {
        err = sql_fail(d, e, "select report");
    }
    sqlite3_finalize(st);
    return err;
}

phx_err_t phx_jobdb_next(phx_jobdb_t *d, phx_job_t *out, bool *found, phx_error_t *e)
{
    return select_one(d, "WHERE state IN (1,2,3,4) ORDER BY request_id LIMIT 1", 0, false, out,
                      found, e);
}

/* UPDATE ... WHERE request_id = ? AND state IN (allowed): the state check and
 * the write are one statement, so two callers cannot both move a job. */
static phx_err_t transition(phx_jobdb_t *d, uint64_t id, phx_job_state_t to, const char *allowed,
                            const char *extra_set, const void *b1, size_t n1, const void *b2,
                            size_t n2, const char *text, phx_error_t *e)
{
    char sql[512];
    sqlite3_stmt *st = NULL;
    phx_err_t err = PHX_OK;
    snprintf(sql, sizeof sql,
             "UPDATE jobs SET state = ?, updated_ms = ?%s%s WHERE request_id = ? AND state IN (%s)",
             extra_set ? ", " : "", extra_set ? extra_set : "", allowed);
    if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK) return sql_fail(d, e, "update");
    int i = 1;
    sqlite3_bind_int(st, i++, to);
    sqlite3_bind_int64(st, i++, (sqlite3_int64)phx_now_ms());
    if (b1) sqlite3_bind_blob(st, i++, n1 ? b1 : "", (int)n1, SQLITE_STATIC);
    if (b2) sqlite3_bind_blob(st, i++, b2, (int)n2, SQLITE_STATIC);
    if (text) sqlite3_bind_text(st, i++, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, i, (sqlite3_int64)id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        err = sql_fail(d, e, "update");
    } else if (sqlite3_changes(d->db) != 1) {
        /* Either no such job or a state it cannot move from: say which. */
        phx_job_t j;
        bool found = false;
        if (select_one(d, "WHERE request_id = ?", id, true, &j, &found, NULL) == PHX_OK && found) {
            err = phx_fail(e, PHX_ERR_STATE, "job %llu is %s; cannot become %s",
                           (unsigned long long)id, phx_job_state_name(j.state),
                           phx_job_state_name(to));
            phx_job_clear(&j);
        } else {
            err = phx_fail(e, PHX_ERR_NOT_FOUND, "no job %llu", (unsigned long long)id);
        }
    }
    sqlite3_finalize(st);
    return err;
}

phx_err_t phx_jobdb_start(phx_jobdb_t *d, uint64_t id, phx_error_t *e)
{
    /* RUNNING again after a crash is allowed: nothing of the run left the TEE. */
    return transition(d, id, PHX_JOB_RUNNING, "1,2", "attempts = attempts + 1", NULL, 0, NULL, 0,
                      NULL, e);
}

phx_err_t phx_jobdb_resign(phx_jobdb_t *d, uint64_t id, phx_error_t *e)
{
    /* Only for a signature by a key that no longer exists (an identity of an
     * earlier boot, without a sealing key): nothing of that run is usable. */
    return transition(d, id, PHX_JOB_RUNNING, "3,4", "attempts = attempts + 1", NULL, 0, NULL, 0,
                      NULL, e);
}

phx_err_t phx_jobdb_signed(phx_jobdb_t *d, uint64_t id, bool ok, const uint8_t *output,
                           size_t output_len, const uint8_t signature[65], phx_error_t *e)
{
    if (output_len > PHX_RESULT_MAX_OUTPUT)
        return phx_fail(e, PHX_ERR_LIMIT, "output over %u bytes", PHX_RESULT_MAX_OUTPUT);
    return transition(d, id, PHX_JOB_SIGNED, "2",
                      ok ? "output = ?, signature = ?, ok = 1"
                         : "output = ?, signature = ?, ok = 0",
                      output ? output : (const uint8_t *)"", output_len, signature, 65, NULL, e);
}

phx_err_t phx_jobdb_submitted(phx_jobdb_t *d, uint64_t id, const uint8_t tx_hash[32],
                              phx_error_t *e)
{
    /* SUBMITTED -> SUBMITTED records a resubmission's new hash. */
    return transition(d, id, PHX_JOB_SUBMITTED, "3,4", "tx_hash = ?", tx_hash, 32, NULL, 0, NULL,
                      e);
}

phx_err_t phx_jobdb_done(phx_jobdb_t *d, uint64_t id, phx_error_t *e)
{
    /* From any live state: the chain may show the request fulfilled by another
     * worker (or by our own earlier transaction) before we got further. */
    return transition(d, id, PHX_JOB_DONE, "1,2,3,4", NULL, NULL, 0, NULL, 0, NULL, e);
}

phx_err_t phx_jobdb_failed(phx_jobdb_t *d, uint64_t id, const char *reason, phx_error_t *e)
{
    return transition(d, id, PHX_JOB_FAILED, "1,2,3,4", "error = ?", NULL, 0, NULL, 0,
                      reason ? reason : "", e);
}

phx_err_t phx_jobdb_cursor(phx_jobdb_t *d, uint64_t *next_block, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    phx_err_t err = PHX_OK;
    if (sqlite3_prepare_v2(d->db, "SELECT value FROM meta WHERE key = 'cursor'", -1, &st, NULL) !=
        SQLITE_OK)
        return sql_fail(d, e, "cursor");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *next_block = (uint64_t)sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        *next_block = 0;
    else
        err = sql_fail(d, e, "cursor");
    sqlite3_finalize(st);
    return err;
}

phx_err_t phx_jobdb_set_cursor(phx_jobdb_t *d, uint64_t next_block, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    phx_err_t err = PHX_OK;
    if (next_block > INT64_MAX) return phx_fail(e, PHX_ERR_RANGE, "block out of range");
    if (sqlite3_prepare_v2(d->db, "INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor', ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(d, e, "set cursor");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)next_block);
    if (sqlite3_step(st) != SQLITE_DONE) err = sql_fail(d, e, "set cursor");
    sqlite3_finalize(st);
    return err;
}

phx_err_t phx_jobdb_counts(phx_jobdb_t *d, uint64_t counts[7], phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    memset(counts, 0, 7 * sizeof *counts);
    if (sqlite3_prepare_v2(d->db, "SELECT state, COUNT(*) FROM jobs GROUP BY state", -1, &st,
                           NULL) != SQLITE_OK)
        return sql_fail(d, e, "counts");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int s = sqlite3_column_int(st, 0);
        if (s >= 1 && s <= 6) counts[s] = (uint64_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? PHX_OK : sql_fail(d, e, "counts");
}

phx_err_t phx_jobdb_live(phx_jobdb_t *d, uint64_t *ids, size_t cap, size_t *n, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    phx_err_t err = PHX_OK;
    *n = 0;
    if (sqlite3_prepare_v2(d->db,
                           "SELECT request_id FROM jobs WHERE state IN (1,2,3,4) "
                           "ORDER BY request_id LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(d, e, "select live");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)cap);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < cap)
        ids[(*n)++] = (uint64_t)sqlite3_column_int64(st, 0);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) err = sql_fail(d, e, "select live");
    sqlite3_finalize(st);
    return err;
}

/* ---- vouchers ------------------------------------------------------------------ */

static void voucher_row(sqlite3_stmt *st, phx_voucher_rec_t *v)
{
    memset(v, 0, sizeof *v);
    const void *cols[7];
    for (int i = 0; i < 7; i++)
        cols[i] = sqlite3_column_blob(st, i);
    /* the schema's writers put exact lengths; a short column reads as zeros */
    if (cols[0] && sqlite3_column_bytes(st, 0) == 20) memcpy(v->payer, cols[0], 20);
    if (cols[1] && sqlite3_column_bytes(st, 1) == 20) memcpy(v->operator_, cols[1], 20);
    if (cols[2] && sqlite3_column_bytes(st, 2) == 32) memcpy(v->cumulative.b, cols[2], 32);
    if (cols[3] && sqlite3_column_bytes(st, 3) == 32) memcpy(v->call_hash, cols[3], 32);
    if (cols[4] && sqlite3_column_bytes(st, 4) == 65) memcpy(v->signature, cols[4], 65);
    if (cols[5] && sqlite3_column_bytes(st, 5) == 32) memcpy(v->charged.b, cols[5], 32);
    if (cols[6] && sqlite3_column_bytes(st, 6) == 32) memcpy(v->redeemed.b, cols[6], 32);
}

#define VOUCHER_COLS "payer, operator, cumulative, call_hash, signature, charged, redeemed"

phx_err_t phx_jobdb_voucher_get(phx_jobdb_t *d, const uint8_t payer[20],
                                const uint8_t operator_[20], phx_voucher_rec_t *out, bool *found,
                                phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    *found = false;
    if (sqlite3_prepare_v2(d->db,
                           "SELECT " VOUCHER_COLS " FROM vouchers WHERE payer = ? AND operator = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(d, e, "select voucher");
    sqlite3_bind_blob(st, 1, payer, 20, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, operator_, 20, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    phx_err_t err = PHX_OK;
    if (rc == SQLITE_ROW) {
        voucher_row(st, out);
        *found = true;
    } else if (rc != SQLITE_DONE) {
        err = sql_fail(d, e, "select voucher");
    }
    sqlite3_finalize(st);
    return err;
}

phx_err_t phx_jobdb_voucher_put(phx_jobdb_t *d, const phx_voucher_rec_t *v, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(d->db,
                           "INSERT INTO vouchers (" VOUCHER_COLS ", updated_ms)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                           " ON CONFLICT (payer, operator) DO UPDATE SET"
                           " cumulative = excluded.cumulative, call_hash = excluded.call_hash,"
                           " signature = excluded.signature, charged = excluded.charged,"
                           " redeemed = MAX(redeemed, excluded.redeemed),"
                           " updated_ms = excluded.updated_ms",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(d, e, "put voucher");
    sqlite3_bind_blob(st, 1, v->payer, 20, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, v->operator_, 20, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, v->cumulative.b, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, v->call_hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, v->signature, 65, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, v->charged.b, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, v->redeemed.b, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)phx_now_ms());
    phx_err_t err = sqlite3_step(st) == SQLITE_DONE ? PHX_OK : sql_fail(d, e, "put voucher");
    sqlite3_finalize(st);
    return err;
}

phx_err_t phx_jobdb_vouchers_unredeemed(phx_jobdb_t *d, const uint8_t operator_[20],
                                        phx_voucher_rec_t *out, size_t cap, size_t *n,
                                        phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(d->db,
                           "SELECT " VOUCHER_COLS " FROM vouchers"
                           " WHERE operator = ? AND cumulative > redeemed"
                           " ORDER BY updated_ms LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(d, e, "select unredeemed");
    sqlite3_bind_blob(st, 1, operator_, 20, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)cap);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < cap)
        voucher_row(st, &out[(*n)++]);
    phx_err_t err =
        rc == SQLITE_ROW || rc == SQLITE_DONE ? PHX_OK : sql_fail(d, e, "select unredeemed");
    sqlite3_finalize(st);
    return err;
}

phx_err_t phx_jobdb_voucher_redeemed(phx_jobdb_t *d, const uint8_t payer[20],
                                     const uint8_t operator_[20], const phx_u256_t *cumulative,
                                     phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(d->db,
                           "UPDATE vouchers SET redeemed = MAX(redeemed, ?)"
                           " WHERE payer = ? AND operator = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(d, e, "voucher redeemed");
    sqlite3_bind_blob(st, 1, cumulative->b, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, payer, 20, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, operator_, 20, SQLITE_STATIC);
    phx_err_t err = sqlite3_step(st) == SQLITE_DONE ? PHX_OK : sql_fail(d, e, "voucher redeemed");
    sqlite3_finalize(st);
    return err;
}

/* ---- trigger firings ------------------------------------------------------------ */

void phx_firing_clear(phx_firing_t *f)
{
    if (!f) return;
    free(f->detail);
    phx_buf_free(&f->output);
    memset(f, 0, sizeof *f);
}

phx_err_t phx_jobdb_firing_record(phx_jobdb_t *d, const uint8_t contract_id[32],
                                  const uint8_t firing_id[32], const char *detail, bool *inserted,
                                  phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    phx_err_t err = PHX_OK;
    if (sqlite3_prepare_v2(d->db,
                           "INSERT OR IGNORE INTO firings (contract_id, firing_id, detail, state,"
                           " updated_ms) VALUES (?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(d, e, "firing record");
    sqlite3_bind_blob(st, 1, contract_id, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, firing_id, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, detail, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, PHX_JOB_PENDING);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)phx_now_ms());
    if (sqlite3_step(st) != SQLITE_DONE)
        err = sql_fail(d, e, "firing record");
    else if (inserted)
        *inserted = sqlite3_changes(d->db) == 1;
    sqlite3_finalize(st);
    return err;
}

phx_err_t phx_jobdb_firing_get(phx_jobdb_t *d, uint64_t id, phx_firing_t *f, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    phx_err_t err = PHX_OK;
    memset(f, 0, sizeof *f);
    if (sqlite3_prepare_v2(d->db,
                           "SELECT id, contract_id, firing_id, detail, state, attempts, ok,"
                           " code_hash, output, signature, tx_hash, updated_ms FROM firings"
                           " WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(d, e, "firing get");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        err = rc == SQLITE_DONE
                  ? phx_fail(e, PHX_ERR_NOT_FOUND, "no firing %llu", (unsigned long long)id)
                  : sql_fail(d, e, "firing get");
        goto out;
    }
    f->id = (uint64_t)sqlite3_column_int64(st, 0);
    if ((err = copy_blob(st, 1, f->contract_id, 32, e)) ||
        (err = copy_blob(st, 2, f->firing_id, 32, e)))
        goto out;
    f->detail = strdup((const char *)sqlite3_column_text(st, 3));
    f->state = (phx_job_state_t)sqlite3_column_int(st, 4);
    f->attempts = sqlite3_column_int(st, 5);
    f->ok = sqlite3_column_int(st, 6) != 0;
    if ((err = copy_blob(st, 7, f->code_hash, 32, e))) goto out;
    if (sqlite3_column_type(st, 8) != SQLITE_NULL &&
        phx_buf_append(&f->output, sqlite3_column_blob(st, 8), (size_t)sqlite3_column_bytes(st, 8)))
        err = phx_fail(e, PHX_ERR_NOMEM, "firing output");
    if (!err) err = copy_blob(st, 9, f->signature, 65, e);
    if (!err) err = copy_blob(st, 10, f->tx_hash, 32, e);
    f->updated_ms = (uint64_t)sqlite3_column_int64(st, 11);
    if (!err && !f->detail) err = phx_fail(e, PHX_ERR_NOMEM, "firing detail");
out:
    sqlite3_finalize(st);
    if (err) phx_firing_clear(f);
    return err;
}

phx_err_t phx_jobdb_firing_live(phx_jobdb_t *d, uint64_t *ids, size_t cap, size_t *n,
                                phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(d->db,
                           "SELECT id FROM firings WHERE state IN (1,2,3,4) ORDER BY id LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(d, e, "firing live");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)cap);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < cap)
        ids[(*n)++] = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? PHX_OK : sql_fail(d, e, "firing live");
}

/* UPDATE firings ... WHERE id = ? AND state IN (allowed); PHX_ERR_STATE when
 * the firing is not in one of them. */
static phx_err_t firing_move(phx_jobdb_t *d, uint64_t id, phx_job_state_t to, const char *allowed,
                             const char *extra_set, const void *b1, size_t n1, const void *b2,
                             size_t n2, const void *b3, size_t n3, const char *text, phx_error_t *e)
{
    char sql[512];
    sqlite3_stmt *st = NULL;
    phx_err_t err = PHX_OK;
    snprintf(sql, sizeof sql,
             "UPDATE firings SET state = ?, updated_ms = ?%s%s WHERE id = ? AND state IN (%s)",
             extra_set ? ", " : "", extra_set ? extra_set : "", allowed);
    if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sql_fail(d, e, "firing update");
    int i = 1;
    sqlite3_bind_int(st, i++, to);
    sqlite3_bind_int64(st, i++, (sqlite3_int64)phx_now_ms());
    if (b1) sqlite3_bind_blob(st, i++, n1 ? b1 : "", (int)n1, SQLITE_STATIC);
    if (b2) sqlite3_bind_blob(st, i++, b2, (int)n2, SQLITE_STATIC);
    if (b3) sqlite3_bind_blob(st, i++, b3, (int)n3, SQLITE_STATIC);
    if (text) sqlite3_bind_text(st, i++, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, i, (sqlite3_int64)id);
    if (sqlite3_step(st) != SQLITE_DONE)
        err = sql_fail(d, e, "firing update");
    else if (sqlite3_changes(d->db) != 1)
        err = phx_fail(e, PHX_ERR_STATE, "firing %llu cannot become %s", (unsigned long long)id,
                       phx_job_state_name(to));
    sqlite3_finalize(st);
    return err;
}

phx_err_t phx_jobdb_firing_start(phx_jobdb_t *d, uint64_t id, phx_error_t *e)
{
    return firing_move(d, id, PHX_JOB_RUNNING, "1,2", "attempts = attempts + 1", NULL, 0, NULL, 0,
                       NULL, 0, NULL, e);
}

phx_err_t phx_jobdb_firing_signed(phx_jobdb_t *d, uint64_t id, const uint8_t code_hash[32], bool ok,
                                  const uint8_t *output, size_t output_len,
                                  const uint8_t signature[65], phx_error_t *e)
{
    if (output_len > PHX_RESULT_MAX_OUTPUT)
        return phx_fail(e, PHX_ERR_LIMIT, "output over %u bytes", PHX_RESULT_MAX_OUTPUT);
    return firing_move(d, id, PHX_JOB_SIGNED, "2",
                       ok ? "output = ?, signature = ?, code_hash = ?, ok = 1"
                          : "output = ?, signature = ?, code_hash = ?, ok = 0",
                       output ? output : (const uint8_t *)"", output_len, signature, 65, code_hash,
                       32, NULL, e);
}

phx_err_t phx_jobdb_firing_submitted(phx_jobdb_t *d, uint64_t id, const uint8_t tx_hash[32],
                                     phx_error_t *e)
{
    return firing_move(d, id, PHX_JOB_SUBMITTED, "3,4", "tx_hash = ?", tx_hash, 32, NULL, 0, NULL,
                       0, NULL, e);
}

phx_err_t phx_jobdb_firing_done(phx_jobdb_t *d, uint64_t id, phx_error_t *e)
{
    return firing_move(d, id, PHX_JOB_DONE, "1,2,3,4", NULL, NULL, 0, NULL, 0, NULL, 0, NULL, e);
}

phx_err_t phx_jobdb_firing_failed(phx_jobdb_t *d, uint64_t id, const char *reason, phx_error_t *e)
{
    return firing_move(d, id, PHX_JOB_FAILED, "1,2,3,4", "error = ?", NULL, 0, NULL, 0, NULL, 0,
                       reason ? reason : "", e);
}

phx_err_t phx_jobdb_trigger_cursor(phx_jobdb_t *d, const uint8_t contract_id[32], const char *name,
                                   uint64_t *next, bool *found, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    phx_err_t err = PHX_OK;
    *found = false;
    if (sqlite3_prepare_v2(d->db,
                           "SELECT next FROM trigger_cursors WHERE contract_id = ? AND name = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(d, e, "trigger cursor");
    sqlite3_bind_blob(st, 1, contract_id, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *next = (uint64_t)sqlite3_column_int64(st, 0), *found = true;
    else if (rc != SQLITE_DONE)
        err = sql_fail(d, e, "trigger cursor");
    sqlite3_finalize(st);
    return err;
}

phx_err_t phx_jobdb_set_trigger_cursor(phx_jobdb_t *d, const uint8_t contract_id[32],
                                       const char *name, uint64_t next, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    phx_err_t err = PHX_OK;
    if (next > INT64_MAX) return phx_fail(e, PHX_ERR_RANGE, "trigger cursor out of range");
    if (sqlite3_prepare_v2(d->db,
                           "INSERT OR REPLACE INTO trigger_cursors (contract_id, name, next)"
                           " VALUES (?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(d, e, "trigger cursor");
    sqlite3_bind_blob(st, 1, contract_id, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)next);
    if (sqlite3_step(st) != SQLITE_DONE) err = sql_fail(d, e, "trigger cursor");
    sqlite3_finalize(st);
    return err;
}

phx_err_t phx_jobdb_firings_prune(phx_jobdb_t *d, uint64_t before_ms, size_t *n, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    phx_err_t err = PHX_OK;
    *n = 0;
    if (before_ms > INT64_MAX) return phx_fail(e, PHX_ERR_RANGE, "prune time out of range");
    if (sqlite3_prepare_v2(d->db, "DELETE FROM firings WHERE state IN (5,6) AND updated_ms < ?", -1,
                           &st, NULL) != SQLITE_OK)
        return sql_fail(d, e, "firings prune");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)before_ms);
    if (sqlite3_step(st) != SQLITE_DONE)
        err = sql_fail(d, e, "firings prune");
    else
        *n = (size_t)sqlite3_changes(d->db);
    sqlite3_finalize(st);
    return err;
}
