/* Contract keys in the sandbox: keys passed per invocation (as a worker passes
 * the KMS-derived ones) give every "worker" (pool with its own kv dir) the same
 * contract address and kv key; without keys a worker-style pool refuses key and
 * kv operations and never makes a dev root; kv rows are sealed (no key or value
 * in clear on disk) and a row moved onto another key or contract fails. */
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../test.h"
#include "phx/crypto.h"
#include "phx/sandbox.h"

static phx_sandbox_result_t run(phx_sandbox_pool_t *pool, const phx_sandbox_keys_t *keys,
                                const char *cid, const char *src)
{
    phx_sandbox_job_t job = {.source = src,
                             .source_len = strlen(src),
                             .filename = "keys.js",
                             .contract_id = cid,
                             .keys = keys};
    phx_sandbox_result_t res;
    phx_error_t e = {0};
    CHECK_MSG(phx_sandbox_invoke(pool, &job, &res, &e) == PHX_OK, "invoke: %s", e.message);
    if (!res.ok) printf("  %s: %s: %s\n", cid, res.code, res.message);
    return res;
}

static bool out_is(const phx_sandbox_result_t *r, const char *want)
{
    bool ok = r->ok && r->output.len == strlen(want) && !memcmp(r->output.ptr, want, r->output.len);
    if (!ok)
        fprintf(stderr, "  got %s %.*s, want %s\n", r->ok ? "ok" : r->code, (int)r->output.len,
                r->output.ptr ? (const char *)r->output.ptr : "", want);
    return ok;
}

static bool failed_with(const phx_sandbox_result_t *r, const char *code)
{
    bool ok = !r->ok && !strcmp(r->code, code);
    if (!ok) fprintf(stderr, "  want %s, got %s: %s\n", code, r->ok ? "ok" : r->code, r->message);
    return ok;
}

static bool exists(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

/* How many times needle occurs in all files of dir (the kv file, its WAL, ...). */
static int occurrences(const char *dir, const char *needle)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t nl = strlen(needle);
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        phx_buf_t b = PHX_BUF_INIT;
        if (phx_file_read(p, &b, NULL) == PHX_OK)
            for (size_t i = 0; i + nl <= b.len; i++)
                n += !memcmp(b.ptr + i, needle, nl);
        phx_buf_free(&b);
    }
    if (d) closedir(d);
    return n;
}

static void kv_path(const char *dir, const char *cid, char *out, size_t cap)
{
    uint8_t d[32];
    phx_sha256(cid, strlen(cid), d);
    char hex[65];
    phx_hex_encode_to(hex, d, 32);
    snprintf(out, cap, "%s/kv-%.32s.sqlite", dir, hex);
}

static int sql(const char *path, const char *stmt)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, stmt, NULL, NULL, NULL);
    int changes = rc == SQLITE_OK ? sqlite3_changes(db) : -1;
    sqlite3_close(db);
    return changes;
}

static phx_sandbox_pool_t *pool_for(const char *dir, bool dev_keys)
{
    phx_sandbox_config_t cfg = {0};
    cfg.kv_dir = dir;
    cfg.dev_keys = dev_keys;
    cfg.prefork = 1;
    cfg.limits.wall_ms = 20000;
    phx_sandbox_pool_t *p = NULL;
    phx_error_t e = {0};
    CHECK_MSG(phx_sandbox_pool_new(&cfg, &p, &e) == PHX_OK, "pool: %s", e.message);
    return p;
}

/* What the cases share: two worker-style pools and a dev-keys pool, the
 * contract keys both workers hold, and the sealed kv file of contract 0xc2. */
static char base[128], w1[160], w2[160], dev[160];
static phx_sandbox_pool_t *p1, *p2, *pd;
static phx_sandbox_keys_t k;
static const char addr_src[] = "export default async () => phx.crypto.address();";
static char f1[512];

static void test_pools(void)
{
    snprintf(base, sizeof base, "/tmp/phx-test-keys-%d", (int)getpid());
    snprintf(w1, sizeof w1, "%s/w1", base);
    snprintf(w2, sizeof w2, "%s/w2", base);
    snprintf(dev, sizeof dev, "%s/dev", base);
    mkdir(base, 0700);
    p1 = pool_for(w1, false);
    p2 = pool_for(w2, false);
    pd = pool_for(dev, true);
}

static void test_same_address(void)
{
    /* Two "workers" holding the same contract keys (any 32 bytes stand in for
     * the KMS derivation here; the worker test covers that path). */
    phx_sandbox_keys_t other = {0};
    CHECK(phx_random_bytes(k.kv_key, 32) == PHX_OK);
    do
        CHECK(phx_random_bytes(k.secp256k1_sk, 32) == PHX_OK);
    while (phx_secp256k1_seckey_verify(k.secp256k1_sk) != PHX_OK);
    other = k;
    other.secp256k1_sk[31] ^= 1;
    uint8_t addr[20];
    char want[48], cs[43];
    CHECK(phx_eth_address_from_seckey(k.secp256k1_sk, addr) == PHX_OK);
    phx_eth_address_checksum(addr, cs);
    snprintf(want, sizeof want, "\"%s\"", cs);

    phx_sandbox_result_t a1 = run(p1, &k, "0xc1", addr_src), a2 = run(p2, &k, "0xc1", addr_src),
                         a3 = run(p1, &other, "0xc1", addr_src);
    printf("address on worker 1: %.*s, worker 2: %.*s, other key: %.*s\n", (int)a1.output.len,
           a1.output.ptr, (int)a2.output.len, a2.output.ptr, (int)a3.output.len, a3.output.ptr);
    CHECK(out_is(&a1, want) && out_is(&a2, want));
    CHECK(a3.ok && (a3.output.len != strlen(want) || memcmp(a3.output.ptr, want, strlen(want))));
    phx_sandbox_result_free(&a1);
    phx_sandbox_result_free(&a2);
    phx_sandbox_result_free(&a3);
}

static void test_same_derive(void)
{
    /* phx.crypto.derive: the same on both workers for the same keys and salt. */
    const char *der_src = "export default async () => phx.hex.encode(pink.deriveSecret('s'));";
    phx_sandbox_result_t d1 = run(p1, &k, "0xc1", der_src), d2 = run(p2, &k, "0xc1", der_src);
    CHECK(d1.ok && d2.ok && d1.output.len > 100 && d1.output.len == d2.output.len &&
          !memcmp(d1.output.ptr, d2.output.ptr, d1.output.len));
    phx_sandbox_result_free(&d1);
    phx_sandbox_result_free(&d2);
}

static void test_no_keys(void)
{
    /* A worker-style pool given no keys: no key, no kv, no dev root made. */
    const char *kv_src = "export default async () => phx.kv.get('x');";
    phx_sandbox_result_t n1 = run(p1, NULL, "0xc1", addr_src), n2 = run(p1, NULL, "0xc1", kv_src);
    CHECK(failed_with(&n1, "no_keys") && failed_with(&n2, "no_keys"));
    phx_sandbox_result_free(&n1);
    phx_sandbox_result_free(&n2);
    CHECK(!exists(w1, "dev-root.key") && !exists(w2, "dev-root.key"));
}

static void test_kv_sealed(void)
{
    /* KV sealed at rest: neither the key nor the value (string, bytes, json)
     * appears in any file of the kv directory, and all read back. */
    const char *put_src = "export default async () => {\n"
                          "  await phx.kv.put('key-marker-7f3a', 'value-marker-string-91');\n"
                          "  await phx.kv.put('bytes-key-marker-2b', new "
                          "TextEncoder().encode('value-marker-bytes-55'));\n"
                          "  await phx.kv.put('json-key-marker-c4', {v: 'value-marker-json-13'});\n"
                          "  return 1; };";
    phx_sandbox_result_t r = run(p1, &k, "0xc1", put_src);
    CHECK(out_is(&r, "1"));
    phx_sandbox_result_free(&r);
    const char *markers[] = {"key-marker-7f3a",
                             "value-marker-string-91",
                             "bytes-key-marker-2b",
                             "value-marker-bytes-55",
                             "json-key-marker-c4",
                             "value-marker-json-13",
                             "marker"};
    int total = 0;
    for (size_t i = 0; i < sizeof markers / sizeof *markers; i++)
        total += occurrences(w1, markers[i]);
    printf("kv dir %s: %d occurrences of the written keys/values in clear\n", w1, total);
    CHECK(total == 0);
    r = run(p1, &k, "0xc1",
            "export default async () => [await phx.kv.get('key-marker-7f3a'),"
            " new TextDecoder().decode(await phx.kv.get('bytes-key-marker-2b')),"
            " (await phx.kv.get('json-key-marker-c4')).v, await phx.kv.list('b'),"
            " (await phx.kv.list()).length, await phx.kv.get('absent')];");
    CHECK(out_is(&r,
                 "[\"value-marker-string-91\",\"value-marker-bytes-55\",\"value-marker-json-13\","
                 "[\"bytes-key-marker-2b\"],3,null]"));
    phx_sandbox_result_free(&r);
    /* Another kv key (a worker with the wrong keys) cannot read them. */
    phx_sandbox_keys_t wrong = k;
    wrong.kv_key[0] ^= 1;
    r = run(p1, &wrong, "0xc1", "export default async () => phx.kv.list();");
    CHECK(failed_with(&r, "kv_integrity"));
    phx_sandbox_result_free(&r);
}

static void test_row_moved(void)
{
    /* Row moved onto another key: find each row's id by writing one at a time. */
    kv_path(w1, "0xc2", f1, sizeof f1);
    phx_sandbox_result_t r = run(
        p1, &k, "0xc2", "export default async () => { await phx.kv.put('a', 'AAA'); return 1; };");
    phx_sandbox_result_free(&r);
    CHECK(sql(f1, "CREATE TABLE ida AS SELECT id FROM kv_sealed") >= 0);
    r = run(p1, &k, "0xc2",
            "export default async () => { await phx.kv.put('b', 'BBB'); return 1; };");
    phx_sandbox_result_free(&r);
    CHECK(sql(f1, "UPDATE kv_sealed SET v = (SELECT v FROM kv_sealed WHERE id IN (SELECT id FROM "
                  "ida)) WHERE id NOT IN (SELECT id FROM ida)") == 1);
    r = run(p1, &k, "0xc2", "export default async () => phx.kv.get('b');");
    CHECK(failed_with(&r, "kv_integrity"));
    printf("value of 'a' copied onto 'b': %s: %s\n", r.code, r.message);
    phx_sandbox_result_free(&r);
    r = run(p1, &k, "0xc2", "export default async () => phx.kv.get('a');");
    CHECK(out_is(&r, "\"AAA\""));
    phx_sandbox_result_free(&r);
    /* The sealed key moved too: list fails the same way. */
    CHECK(sql(f1, "UPDATE kv_sealed SET k = (SELECT k FROM kv_sealed WHERE id IN (SELECT id FROM "
                  "ida)) WHERE id NOT IN (SELECT id FROM ida)") == 1);
    r = run(p1, &k, "0xc2", "export default async () => phx.kv.list();");
    CHECK(failed_with(&r, "kv_integrity"));
    phx_sandbox_result_free(&r);
}

static void test_row_other_contract(void)
{
    /* Row moved onto another contract with the same kv key (so the same row id):
     * the contract id in the associated data refuses it. */
    char f2[512], stmt[1024];
    kv_path(w1, "0xc3", f2, sizeof f2);
    phx_sandbox_result_t r = run(
        p1, &k, "0xc3", "export default async () => { await phx.kv.put('a', 'CCC'); return 1; };");
    phx_sandbox_result_free(&r);
    snprintf(stmt, sizeof stmt,
             "ATTACH '%s' AS src; UPDATE kv_sealed SET v = (SELECT v FROM src.kv_sealed WHERE "
             "src.kv_sealed.id = kv_sealed.id)",
             f1);
    CHECK(sql(f2, stmt) == 1);
    r = run(p1, &k, "0xc3", "export default async () => phx.kv.get('a');");
    CHECK(failed_with(&r, "kv_integrity"));
    printf("row of contract 0xc2 copied into 0xc3: %s\n", r.ok ? "opened" : r.code);
    phx_sandbox_result_free(&r);
}

static void test_dev_keys(void)
{
    /* phx run (dev keys): keys from the dev root, kv persists across pools. */
    phx_sandbox_result_t r =
        run(pd, NULL, "dev-c",
            "export default async () => { const n = (await phx.kv.get('n')) ?? 0;"
            " await phx.kv.put('n', n + 1); return [n + 1, await phx.crypto.address()]; };");
    CHECK(r.ok && exists(dev, "dev-root.key"));
    phx_sandbox_result_free(&r);
    phx_sandbox_pool_free(pd);
    pd = pool_for(dev, true);
    if (pd) {
        r = run(pd, NULL, "dev-c", "export default async () => phx.kv.get('n');");
        CHECK(out_is(&r, "1"));
        phx_sandbox_result_free(&r);
    }
}

int main(void)
{
    static const test_case_t cases[] = {
        TEST_CASE_REQUIRED(test_pools),     TEST_CASE_REQUIRED(test_same_address),
        TEST_CASE(test_same_derive),        TEST_CASE(test_no_keys),
        TEST_CASE(test_kv_sealed),          TEST_CASE_REQUIRED(test_row_moved),
        TEST_CASE(test_row_other_contract), TEST_CASE(test_dev_keys)};
    int rc = test_run("test_sandbox_keys", cases, TEST_COUNT(cases));
    phx_sandbox_pool_free(p1);
    phx_sandbox_pool_free(p2);
    phx_sandbox_pool_free(pd);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", base);
    return rc;
}
