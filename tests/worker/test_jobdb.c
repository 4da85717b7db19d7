/* The job journal: the state machine (forward only, re-run after a crash
 * allowed, duplicates ignored), persistence, grouped commits, and a crash
 * test: a child process works through jobs and is killed with SIGKILL at
 * random moments, over and over; every step it reported committed is still
 * there after each kill, and in the end every job is done exactly once; and
 * the table of accepted payment vouchers. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../src/worker/jobdb.h"
#include "phx/worker.h"
#include "test.h"

static char dir[] = "/tmp/phx-jobdb-XXXXXX";
static char path[300], crash_path[300];

static void ids(uint64_t n, uint8_t cid[32], uint8_t code[32])
{
    memset(cid, 0, 32);
    memset(code, 0xcc, 32);
    for (int i = 0; i < 8; i++)
        cid[31 - i] = (uint8_t)(n >> (8 * i));
}

static void test_states(void)
{
    phx_error_t e = {0};
    phx_jobdb_t *db = NULL;
    uint8_t cid[32], code[32], sig[65], tx[32];
    bool inserted = false, found = false;
    phx_job_t j;
    memset(sig, 0x5, 65);
    memset(tx, 0x7, 32);
    CHECK(phx_jobdb_open(path, &db, &e) == PHX_OK);
    ids(1, cid, code);
    CHECK(phx_jobdb_record(db, 2, cid, code, (const uint8_t *)"{\"b\":2}", 7, 2000, 11, &inserted,
                           &e) == PHX_OK &&
          inserted);
    CHECK(phx_jobdb_record(db, 1, cid, code, (const uint8_t *)"{\"a\":1}", 7, 1000, 10, &inserted,
                           &e) == PHX_OK &&
          inserted);
    /* Seeing the same request again changes nothing. */
    CHECK(phx_jobdb_record(db, 1, cid, code, (const uint8_t *)"other", 5, 1, 1, &inserted, &e) ==
              PHX_OK &&
          !inserted);
    CHECK(phx_jobdb_next(db, &j, &found, &e) == PHX_OK && found && j.request_id == 1);
    CHECK(j.state == PHX_JOB_PENDING && j.input.len == 7 &&
          memcmp(j.input.ptr, "{\"a\":1}", 7) == 0);
    CHECK(j.deadline == 1000 && j.block == 10 && memcmp(j.contract_id, cid, 32) == 0);
    phx_job_clear(&j);

    CHECK(phx_jobdb_start(db, 1, &e) == PHX_OK);
    CHECK(phx_jobdb_start(db, 1, &e) == PHX_OK); /* re-run after a crash */
    CHECK(phx_jobdb_signed(db, 1, true, (const uint8_t *)"{\"p\":3}", 7, sig, &e) == PHX_OK);
    CHECK(phx_jobdb_start(db, 1, &e) == PHX_ERR_STATE); /* never re-run a signed job */
    CHECK(strstr(e.message, "signed") != NULL);
    CHECK(phx_jobdb_signed(db, 2, true, (const uint8_t *)"x", 1, sig, &e) ==
          PHX_ERR_STATE); /* not running */
    CHECK(phx_jobdb_submitted(db, 1, tx, &e) == PHX_OK);
    tx[0] = 9;
    CHECK(phx_jobdb_submitted(db, 1, tx, &e) == PHX_OK); /* a resubmission's hash */
    /* Signed by a key that is gone (a no-seal worker's earlier boot): back to
     * RUNNING, to be signed again; a pending job has nothing to re-sign. */
    CHECK(phx_jobdb_resign(db, 1, &e) == PHX_OK);
    CHECK(phx_jobdb_resign(db, 2, &e) == PHX_ERR_STATE);
    CHECK(phx_jobdb_get(db, 1, &j, &e) == PHX_OK && j.ok); /* the first run succeeded */
    phx_job_clear(&j);
    /* This run failed: the journal keeps that it is an error (signed as one). */
    CHECK(phx_jobdb_signed(db, 1, false, (const uint8_t *)"{\"p\":3}", 7, sig, &e) == PHX_OK);
    CHECK(phx_jobdb_submitted(db, 1, tx, &e) == PHX_OK);
    CHECK(phx_jobdb_get(db, 1, &j, &e) == PHX_OK);
    CHECK(j.state == PHX_JOB_SUBMITTED && j.attempts == 3 && j.tx_hash[0] == 9 && !j.ok);
    CHECK(j.output.len == 7 && memcmp(j.signature, sig, 65) == 0);
    phx_job_clear(&j);
    CHECK(phx_jobdb_done(db, 1, &e) == PHX_OK);
    CHECK(phx_jobdb_failed(db, 1, "late", &e) == PHX_ERR_STATE);
    CHECK(phx_jobdb_failed(db, 2, "request expired", &e) == PHX_OK);
    CHECK(phx_jobdb_next(db, &j, &found, &e) == PHX_OK && !found);
    CHECK(phx_jobdb_done(db, 99, &e) == PHX_ERR_NOT_FOUND);
    CHECK(phx_jobdb_get(db, 99, &j, &e) == PHX_ERR_NOT_FOUND);
    phx_jobdb_close(db);

    /* Reopened: all of it is there. */
    CHECK(phx_jobdb_open(path, &db, &e) == PHX_OK);
    uint64_t counts[7];
    CHECK(phx_jobdb_counts(db, counts, &e) == PHX_OK);
    CHECK(counts[PHX_JOB_DONE] == 1 && counts[PHX_JOB_FAILED] == 1 && counts[PHX_JOB_PENDING] == 0);
    CHECK(phx_jobdb_get(db, 2, &j, &e) == PHX_OK && strcmp(j.error, "request expired") == 0);
    phx_job_clear(&j);
    phx_jobdb_close(db);
}

typedef struct {
    phx_jobdb_t *db;
    int fail;
} batch_t;

static phx_err_t record_batch(void *ctx, phx_error_t *e)
{
    batch_t *b = ctx;
    uint8_t cid[32], code[32];
    for (uint64_t id = 100; id < 103; id++) {
        ids(id, cid, code);
        phx_err_t err = phx_jobdb_record(b->db, id, cid, code, NULL, 0, 1, 50, NULL, e);
        if (err) return err;
    }
    phx_err_t err = phx_jobdb_set_cursor(b->db, 51, e);
    if (err) return err;
    return b->fail ? phx_fail(e, PHX_ERR_REMOTE, "node went away mid-page") : PHX_OK;
}

static void test_atomic(void)
{
    phx_error_t e = {0};
    phx_jobdb_t *db = NULL;
    uint64_t cursor = 1;
    phx_job_t j;
    CHECK(phx_jobdb_open(path, &db, &e) == PHX_OK);
    CHECK(phx_jobdb_cursor(db, &cursor, &e) == PHX_OK && cursor == 0);
    batch_t b = {db, 1};
    CHECK(phx_jobdb_atomically(db, record_batch, &b, &e) == PHX_ERR_REMOTE);
    CHECK(phx_jobdb_cursor(db, &cursor, &e) == PHX_OK && cursor == 0);
    CHECK(phx_jobdb_get(db, 100, &j, &e) == PHX_ERR_NOT_FOUND);
    b.fail = 0;
    CHECK(phx_jobdb_atomically(db, record_batch, &b, &e) == PHX_OK);
    CHECK(phx_jobdb_cursor(db, &cursor, &e) == PHX_OK && cursor == 51);
    CHECK(phx_jobdb_get(db, 102, &j, &e) == PHX_OK && j.state == PHX_JOB_PENDING);
    phx_job_clear(&j);
    phx_jobdb_close(db);
}

/* ---- payment vouchers -------------------------------------------------------------- */

static phx_voucher_rec_t voucher(uint8_t payer, uint8_t op, uint64_t cum)
{
    phx_voucher_rec_t v;
    memset(&v, 0, sizeof v);
    memset(v.payer, payer, 20);
    memset(v.operator_, op, 20);
    v.cumulative = phx_u256_from_u64(cum);
    v.charged = v.cumulative;
    memset(v.call_hash, (int)cum, 32);
    memset(v.signature, 0x1b, 65);
    return v;
}

/* Accepted vouchers survive a reopen; only the latest per payer and operator
 * is kept; redeemed only grows (a late, lower mark does not undo a higher
 * one, a replace keeps it); the unredeemed list is per operator and empties
 * once the chain paid the latest. */
static void test_vouchers(void)
{
    char vpath[320];
    snprintf(vpath, sizeof vpath, "%s/vouchers.sqlite", dir);
    phx_error_t e = {0};
    phx_jobdb_t *db = NULL;
    phx_voucher_rec_t got, list[8];
    bool found = true;
    size_t n = 99;
    CHECK(phx_jobdb_open(vpath, &db, &e) == PHX_OK);
    phx_voucher_rec_t a = voucher(0xA1, 0x0E, 10);
    CHECK(phx_jobdb_voucher_get(db, a.payer, a.operator_, &got, &found, &e) == PHX_OK && !found);
    CHECK(phx_jobdb_voucher_put(db, &a, &e) == PHX_OK);
    phx_voucher_rec_t b = voucher(0xB2, 0x0E, 7), other = voucher(0xA1, 0x0F, 3);
    CHECK(phx_jobdb_voucher_put(db, &b, &e) == PHX_OK);
    CHECK(phx_jobdb_voucher_put(db, &other, &e) == PHX_OK);
    a = voucher(0xA1, 0x0E, 25); /* the payer's next voucher replaces the first */
    a.charged = phx_u256_from_u64(31);
    CHECK(phx_jobdb_voucher_put(db, &a, &e) == PHX_OK);
    phx_jobdb_close(db);
    db = NULL;

    CHECK(phx_jobdb_open(vpath, &db, &e) == PHX_OK);
    CHECK(phx_jobdb_voucher_get(db, a.payer, a.operator_, &got, &found, &e) == PHX_OK && found);
    CHECK(memcmp(&got, &a, sizeof got) == 0);
    phx_u256_t v31 = phx_u256_from_u64(31);
    CHECK(phx_u256_cmp(&got.charged, &v31) == 0);
    uint8_t op_e[20], op_f[20];
    memset(op_e, 0x0E, 20);
    memset(op_f, 0x0F, 20);
    CHECK(phx_jobdb_vouchers_unredeemed(db, op_e, list, 8, &n, &e) == PHX_OK && n == 2);
    CHECK(phx_jobdb_vouchers_unredeemed(db, op_f, list, 8, &n, &e) == PHX_OK && n == 1);
    CHECK(phx_jobdb_vouchers_unredeemed(db, op_e, list, 1, &n, &e) == PHX_OK && n == 1);

    /* The chain paid a's 25 and b's 7; a late mark of 10 for a changes nothing. */
    phx_u256_t v25 = phx_u256_from_u64(25), v7 = phx_u256_from_u64(7), v10 = phx_u256_from_u64(10);
    CHECK(phx_jobdb_voucher_redeemed(db, a.payer, op_e, &v25, &e) == PHX_OK);
    CHECK(phx_jobdb_voucher_redeemed(db, b.payer, op_e, &v7, &e) == PHX_OK);
    CHECK(phx_jobdb_voucher_redeemed(db, a.payer, op_e, &v10, &e) == PHX_OK);
    CHECK(phx_jobdb_vouchers_unredeemed(db, op_e, list, 8, &n, &e) == PHX_OK && n == 0);
    CHECK(phx_jobdb_voucher_get(db, a.payer, op_e, &got, &found, &e) == PHX_OK && found &&
          phx_u256_cmp(&got.redeemed, &v25) == 0);
    /* A newer voucher (redeemed not carried in the record) keeps the mark and
     * is due again. Amounts above 2^64 order as numbers. */
    phx_voucher_rec_t big = voucher(0xA1, 0x0E, 0);
    big.cumulative.b[23] = 1; /* 2^64 */
    CHECK(phx_jobdb_voucher_put(db, &big, &e) == PHX_OK);
    CHECK(phx_jobdb_vouchers_unredeemed(db, op_e, list, 8, &n, &e) == PHX_OK && n == 1 &&
          phx_u256_cmp(&list[0].redeemed, &v25) == 0 &&
          phx_u256_cmp(&list[0].cumulative, &big.cumulative) == 0);
    phx_jobdb_close(db);
}

/* ---- crash test ---------------------------------------------------------------- */

enum { CRASH_JOBS = 200 };

/* The child: record every job, then work through them as a worker would,
 * reporting each committed step on the pipe ("id state\n") after the commit. */
static void child_work(int fd)
{
    phx_jobdb_t *db = NULL;
    if (phx_jobdb_open(crash_path, &db, NULL)) _exit(3);
    uint8_t cid[32], code[32], sig[65] = {1}, tx[32] = {2};
    char line[64];
    for (uint64_t id = 1000; id < 1000 + CRASH_JOBS; id++) {
        bool ins = false;
        ids(id, cid, code);
        if (phx_jobdb_record(db, id, cid, code, (const uint8_t *)"{}", 2, 9, 9, &ins, NULL))
            _exit(4);
        if (ins) {
            int n =
                snprintf(line, sizeof line, "%llu %d\n", (unsigned long long)id, PHX_JOB_PENDING);
            if (write(fd, line, (size_t)n) != n) _exit(5);
        }
    }
    for (;;) {
        phx_job_t j;
        bool found = false;
        if (phx_jobdb_next(db, &j, &found, NULL)) _exit(6);
        if (!found) break;
        phx_job_state_t next;
        phx_err_t err;
        switch (j.state) {
        case PHX_JOB_PENDING:
        case PHX_JOB_RUNNING:
            err = phx_jobdb_start(db, j.request_id, NULL), next = PHX_JOB_RUNNING;
            if (!err) {
                int n = snprintf(line, sizeof line, "%llu %d\n", (unsigned long long)j.request_id,
                                 next);
                if (write(fd, line, (size_t)n) != n) _exit(5);
            }
            usleep(3000); /* "running the contract" */
            err = phx_jobdb_signed(db, j.request_id, true, (const uint8_t *)"{\"ok\":1}", 8, sig,
                                   NULL);
            next = PHX_JOB_SIGNED;
            break;
        case PHX_JOB_SIGNED:
            err = phx_jobdb_submitted(db, j.request_id, tx, NULL), next = PHX_JOB_SUBMITTED;
            break;
        default:
            err = phx_jobdb_done(db, j.request_id, NULL), next = PHX_JOB_DONE;
            break;
        }
        if (err) _exit(7);
        int n = snprintf(line, sizeof line, "%llu %d\n", (unsigned long long)j.request_id, next);
        if (write(fd, line, (size_t)n) != n) _exit(5);
        phx_job_clear(&j);
    }
    phx_jobdb_close(db);
    _exit(0);
}

static void test_crash(void)
{
    phx_error_t e = {0};
    int acked[CRASH_JOBS] = {0}; /* highest state the child reported committed */
    int kills = 0, lost = 0, finished = 0;
    srand((unsigned)time(NULL));
    for (int round = 0; round < 60 && !finished; round++) {
        int fds[2];
        CHECK(pipe(fds) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            child_work(fds[1]);
        }
        close(fds[1]);
        bool kill_it = round < 30;
        if (kill_it) {
            usleep((useconds_t)(5000 + rand() % 60000));
            kill(pid, SIGKILL);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (kill_it && WIFSIGNALED(status)) kills++;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) finished = 1;
        CHECK_MSG(!WIFEXITED(status) || WEXITSTATUS(status) == 0, "child failed with %d",
                  WEXITSTATUS(status));
        FILE *f = fdopen(fds[0], "r");
        unsigned long long id;
        int st;
        while (f && fscanf(f, "%llu %d", &id, &st) == 2)
            if (id >= 1000 && id < 1000 + CRASH_JOBS && st > acked[id - 1000])
                acked[id - 1000] = st;
        if (f) fclose(f);
        /* Durability: nothing acknowledged is missing after the kill. */
        phx_jobdb_t *db = NULL;
        CHECK(phx_jobdb_open(crash_path, &db, &e) == PHX_OK);
        for (int i = 0; i < CRASH_JOBS; i++) {
            phx_job_t j;
            if (!acked[i]) continue;
            if (phx_jobdb_get(db, 1000 + (uint64_t)i, &j, &e) != PHX_OK || (int)j.state < acked[i])
                lost++;
            phx_job_clear(&j);
        }
        phx_jobdb_close(db);
    }
    CHECK(finished);
    CHECK_MSG(lost == 0, "%d acknowledged steps lost", lost);
    /* Every job ends done exactly once: one row each, state done, one signed output. */
    phx_jobdb_t *db = NULL;
    uint64_t counts[7];
    CHECK(phx_jobdb_open(crash_path, &db, &e) == PHX_OK);
    int done = 0, max_attempts = 0;
    for (int i = 0; i < CRASH_JOBS; i++) {
        phx_job_t j;
        if (phx_jobdb_get(db, 1000 + (uint64_t)i, &j, &e) == PHX_OK && j.state == PHX_JOB_DONE &&
            j.output.len == 8)
            done++;
        if (j.attempts > max_attempts) max_attempts = j.attempts;
        phx_job_clear(&j);
    }
    CHECK(phx_jobdb_counts(db, counts, &e) == PHX_OK);
    phx_jobdb_close(db);
    printf("crash test: %d SIGKILLs, %d/%d jobs done, 0 acknowledged steps lost, at most %d runs "
           "of a job\n",
           kills, done, CRASH_JOBS, max_attempts);
    CHECK(kills >= 10);
    CHECK(done == CRASH_JOBS && counts[PHX_JOB_DONE] == CRASH_JOBS);
    for (int s = PHX_JOB_PENDING; s <= PHX_JOB_FAILED; s++)
        if (s != PHX_JOB_DONE) CHECK(counts[s] == 0);
}

/* Trigger firings: journaled once per (contract, firing id), forward-only
 * states, the per-trigger cursor, and pruning that never touches a live one. */
static void test_firings(void)
{
    phx_error_t e = {0};
    phx_jobdb_t *db = NULL;
    uint8_t cid[32], fid[32], other[32], code[32], sig[65], tx[32];
    bool inserted = false, found = true;
    uint64_t ids_[8], next = 0;
    size_t n = 0;
    phx_firing_t f;
    memset(cid, 0x11, 32), memset(fid, 0x22, 32), memset(other, 0x33, 32);
    memset(code, 0xcc, 32), memset(sig, 5, 65), memset(tx, 7, 32);
    CHECK(phx_jobdb_open(path, &db, &e) == PHX_OK);
    CHECK(!phx_jobdb_firing_record(db, cid, fid, "{\"kind\":\"cron\"}", &inserted, &e) && inserted);
    CHECK(!phx_jobdb_firing_record(db, cid, fid, "{}", &inserted, &e) && !inserted);
    CHECK(!phx_jobdb_firing_record(db, cid, other, "{}", &inserted, &e) && inserted);
    CHECK(!phx_jobdb_firing_live(db, ids_, 8, &n, &e) && n == 2);
    CHECK(phx_jobdb_firing_signed(db, ids_[0], code, true, (const uint8_t *)"1", 1, sig, &e) ==
          PHX_ERR_STATE);
    CHECK(!phx_jobdb_firing_start(db, ids_[0], &e));
    CHECK(!phx_jobdb_firing_signed(db, ids_[0], code, false, (const uint8_t *)"{}", 2, sig, &e));
    CHECK(!phx_jobdb_firing_submitted(db, ids_[0], tx, &e));
    CHECK(!phx_jobdb_firing_get(db, ids_[0], &f, &e));
    CHECK(f.state == PHX_JOB_SUBMITTED && !f.ok && f.output.len == 2 &&
          !strcmp(f.detail, "{\"kind\":\"cron\"}") && !memcmp(f.code_hash, code, 32) &&
          !memcmp(f.tx_hash, tx, 32));
    phx_firing_clear(&f);
    CHECK(!phx_jobdb_firing_done(db, ids_[0], &e));
    CHECK(phx_jobdb_firing_start(db, ids_[0], &e) == PHX_ERR_STATE);
    CHECK(!phx_jobdb_trigger_cursor(db, cid, "tick", &next, &found, &e) && !found);
    CHECK(!phx_jobdb_set_trigger_cursor(db, cid, "tick", 42, &e));
    CHECK(!phx_jobdb_trigger_cursor(db, cid, "tick", &next, &found, &e) && found && next == 42);
    /* Pruning takes the settled one only; journaled again, it is new. */
    CHECK(!phx_jobdb_firings_prune(db, phx_now_ms() + 1000, &n, &e) && n == 1);
    CHECK(!phx_jobdb_firing_live(db, ids_, 8, &n, &e) && n == 1);
    CHECK(!phx_jobdb_firing_record(db, cid, fid, "{}", &inserted, &e) && inserted);
    phx_jobdb_close(db);
}

/* k-of-n reports: written once (a worker never signs two reports for one
 * request), read back after a reopen, none for another request. */
static void test_reports(void)
{
    phx_error_t e = {0};
    phx_jobdb_t *db = NULL;
    uint8_t s1[65], s2[65], got[65];
    memset(s1, 0x11, 65);
    memset(s2, 0x22, 65);
    CHECK(phx_jobdb_open(path, &db, &e) == PHX_OK);
    CHECK(phx_jobdb_report_put(db, 9, true, (const uint8_t *)"{\"p\":2}", 7, s1, "[1]", &e) ==
          PHX_OK);
    CHECK(phx_jobdb_report_put(db, 9, false, (const uint8_t *)"other", 5, s2, "[2]", &e) == PHX_OK);
    phx_jobdb_close(db);
    CHECK(phx_jobdb_open(path, &db, &e) == PHX_OK);
    bool ok = false, found = false;
    phx_buf_t out = PHX_BUF_INIT;
    char *obs = NULL;
    CHECK(phx_jobdb_report_get(db, 9, &ok, &out, got, &obs, &found, &e) == PHX_OK);
    CHECK(found && ok && out.len == 7 && !memcmp(out.ptr, "{\"p\":2}", 7));
    CHECK(!memcmp(got, s1, 65) && obs && !strcmp(obs, "[1]"));
    free(obs);
    phx_buf_free(&out);
    CHECK(phx_jobdb_report_get(db, 10, &ok, &out, got, NULL, &found, &e) == PHX_OK && !found);
    phx_jobdb_close(db);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/jobs.sqlite", dir);
    snprintf(crash_path, sizeof crash_path, "%s/crash.sqlite", dir);
    static const test_case_t cases[] = {
        TEST_CASE(test_states),  TEST_CASE(test_atomic),  TEST_CASE(test_vouchers),
        TEST_CASE(test_firings), TEST_CASE(test_reports), TEST_CASE(test_crash),
    };
    int rc = test_run("test_jobdb", cases, TEST_COUNT(cases));
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
