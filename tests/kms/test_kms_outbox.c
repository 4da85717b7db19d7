/* Issue 15: the KMS outbox holds the owner's spending cap across workers.
 * Every worker's send of a contract passes the outbox (docs/kms.md "Outbox"),
 * so it, not each worker over its own sends, sums the value of the actions it
 * holds per contract, chain and period, and refuses a new action over the
 * owner's signed SpendLimit. Real SQLite file, real keys and signatures: the
 * transactions are signed with the contract key the KMS derives, the limits
 * with an owner key whose address the contract id derives from, or, once the
 * contract is on Jobs (a real anvil) and transferred, with the new owner's. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phx/chain.h"
#include "phx/chain_owner.h"
#include "phx/crypto.h"
#include "phx/evm.h"
#include "phx/kms.h"
#include "phx/kms_node.h"
#include "support/chain_fixture.h"
#include "test.h"

static char dir[] = "/tmp/phx-kms-outbox-XXXXXX";
static uint8_t root[32], owner_sk[32], owner[20], salt[32], id[32], contract_sk[32];
static phx_kms_outbox_t *ob;
static uint64_t next_nonce = 1;

/* A transaction of the contract's wallet moving value wei, hex. */
static char *signed_tx(uint64_t value, uint64_t nonce)
{
    phx_evm_tx_t tx = {.type = PHX_TX_EIP1559, .chain_id = 31337, .nonce = nonce, .has_to = true};
    tx.max_fee = phx_u256_from_u64(2000000000);
    tx.max_priority_fee = phx_u256_from_u64(1);
    tx.gas_limit = phx_u256_from_u64(21000);
    tx.value = phx_u256_from_u64(value);
    memset(tx.to, 0xaa, 20);
    phx_buf_t raw = PHX_BUF_INIT;
    if (phx_evm_tx_sign(&tx, contract_sk, NULL) || phx_evm_tx_encode(&tx, &raw, NULL)) abort();
    char *hex = malloc(raw.len * 2 + 3);
    hex[0] = '0', hex[1] = 'x';
    phx_hex_encode_to(hex + 2, raw.ptr, raw.len);
    phx_buf_free(&raw);
    return hex;
}

/* The owner's SpendLimit for chain, signed with sk (the owner's key unless a
 * test forges it), naming claimed_owner and salt s (NULL: none). */
static json_t *limit(const char *chain, const char *cap, int64_t period, int64_t nonce,
                     const uint8_t sk[32], const uint8_t claimed_owner[20], const uint8_t s[32])
{
    uint8_t d[32], sig[65];
    if (phx_owner_limit_digest(id, chain, cap, (uint64_t)period, (uint64_t)nonce, d, NULL) ||
        phx_owner_sign(d, sk, sig, NULL))
        abort();
    json_t *l = json_pack("{s:o,s:s,s:I,s:I,s:o}", "owner", phx_json_hex(claimed_owner, 20),
                          "cap_wei", cap, "period_s", (json_int_t)period, "nonce",
                          (json_int_t)nonce, "signature", phx_json_hex(sig, 65));
    if (s) json_object_set_new(l, "salt", phx_json_hex(s, 32));
    return l;
}

/* Post raw for action on chain (NULL: none) with lim (stolen; NULL: none).
 * Returns the error, *resp the answer. */
static phx_err_t post(const char *action, const char *chain, json_t *lim, const char *raw,
                      bool release, json_t **resp, phx_error_t *e)
{
    json_t *req = json_pack("{s:o,s:s,s:s,s:b}", "contract_id", phx_json_hex(id, 32), "action",
                            action, "raw", raw, "release", release);
    if (chain) json_object_set_new(req, "chain", json_string(chain));
    if (lim) json_object_set_new(req, "limit", lim);
    phx_err_t err = phx_kms_outbox_post(ob, root, req, resp, e);
    json_decref(req);
    return err;
}

/* "first", "held" (not first), "spend_limit", "taken", or the error's code. */
static const char *outcome(const char *action, const char *chain, json_t *lim, const char *raw)
{
    static char out[64];
    json_t *r = NULL;
    phx_error_t e = {0};
    phx_err_t err = post(action, chain, lim, raw, false, &r, &e);
    if (err)
        snprintf(out, sizeof out, "error %d", (int)err);
    else if (json_string_value(json_object_get(r, "refused")))
        snprintf(out, sizeof out, "%s", json_string_value(json_object_get(r, "refused")));
    else if (json_is_true(json_object_get(r, "taken")))
        snprintf(out, sizeof out, "taken");
    else
        snprintf(out, sizeof out, "%s",
                 json_is_true(json_object_get(r, "first")) ? "first" : "held");
    json_decref(r);
    return out;
}

/* A new action of value wei with a fresh nonce. */
static const char *send(const char *action, const char *chain, json_t *lim, uint64_t value)
{
    char *raw = signed_tx(value, next_nonce++);
    const char *o = outcome(action, chain, lim, raw);
    free(raw);
    return o;
}

static void setup(void)
{
    if (!mkdtemp(dir) || phx_crypto_init()) abort();
    phx_contract_keys_t k;
    if (phx_random_bytes(root, 32) || phx_random_bytes(salt, 32)) abort();
    do {
        if (phx_random_bytes(owner_sk, 32)) abort();
    } while (phx_eth_address_from_seckey(owner_sk, owner));
    phx_chain_contract_id(owner, salt, id);
    if (phx_kms_contract_keys(root, id, &k, NULL)) abort();
    memcpy(contract_sk, k.secp256k1_sk, 32);
    phx_kms_contract_keys_clear(&k);
    char path[200];
    snprintf(path, sizeof path, "%s/outbox.sqlite", dir);
    if (phx_kms_outbox_open(path, &ob, NULL)) abort();
}

/* Three workers' sends, each under a cap a worker alone would allow: the
 * outbox lets through only what the cap allows in sum. */
static void test_cap_across_workers(void)
{
    CHECK(!strcmp(send("w1/0/main", "main", NULL, 5), "spend_limit")); /* no limit held */
    CHECK(!strcmp(send("w1/0/main", "main", NULL, 0), "first"));       /* value 0 needs none */
    json_t *l = limit("main", "100", 3600, 10, owner_sk, owner, salt);
    CHECK(!strcmp(send("w1/1/main", "main", l, 60), "first"));
    /* worker 2 and 3 each have sent nothing: their own check would pass */
    l = limit("main", "100", 3600, 10, owner_sk, owner, salt);
    CHECK(!strcmp(send("w2/0/main", "main", l, 60), "spend_limit"));
    CHECK(!strcmp(send("w3/0/main", "main", NULL, 41), "spend_limit"));
    CHECK(!strcmp(send("w3/0/main", "main", NULL, 40), "first")); /* exactly the cap */
    CHECK(!strcmp(send("w3/1/main", "main", NULL, 1), "spend_limit"));
    /* another chain has its own limit (none) */
    CHECK(!strcmp(send("w3/2/b", "b", NULL, 1), "spend_limit"));
}

/* An action already held is never refused: a rebroadcast, or another
 * worker's run of the same request, is not new spending. */
static void test_held_not_refused(void)
{
    char *raw = signed_tx(30, next_nonce++);
    json_t *l = limit("held", "50", 3600, 10, owner_sk, owner, salt);
    CHECK(!strcmp(outcome("h/0/held", "held", l, raw), "first"));
    CHECK(!strcmp(send("h/1/held", "held", NULL, 30), "spend_limit")); /* 60 > 50 */
    CHECK(!strcmp(outcome("h/0/held", "held", NULL, raw), "first"));   /* the same bytes */
    CHECK(!strcmp(send("h/0/held", "held", NULL, 30), "held"));        /* another worker's */
    /* released (the node refused it): its value no longer counts */
    json_t *r = NULL;
    phx_error_t e = {0};
    CHECK(post("h/0/held", "held", NULL, raw, true, &r, &e) == PHX_OK &&
          json_is_true(json_object_get(r, "released")));
    json_decref(r);
    free(raw);
    CHECK(!strcmp(send("h/2/held", "held", NULL, 50), "first"));
}

/* The KMS takes no worker's word for the cap. */
static void test_limit_is_the_owners(void)
{
    uint8_t other_sk[32] = {7}, other[20], other_salt[32] = {9};
    if (phx_eth_address_from_seckey(other_sk, other)) abort();
    phx_error_t e = {0};
    json_t *r = NULL;
    char *raw = signed_tx(1, next_nonce++);
    /* signed by another key in the owner's name */
    CHECK(post("f/1/f", "f", limit("f", "1000", 3600, 5, other_sk, owner, salt), raw, false, &r,
               &e) == PHX_ERR_VERIFY);
    CHECK_MSG(strstr(e.message, "not signed by the owner"), "%s", e.message);
    /* a key that signs for itself, but the id is not derived from it */
    CHECK(post("f/1/f", "f", limit("f", "1000", 3600, 5, other_sk, other, other_salt), raw, false,
               &r, &e) == PHX_ERR_VERIFY);
    CHECK_MSG(strstr(e.message, "contract id derives"), "%s", e.message);
    /* a limit for another chain name than the post's */
    json_t *l = limit("g", "1000", 3600, 5, owner_sk, owner, salt);
    CHECK(post("f/1/f", "f", l, raw, false, &r, &e) == PHX_ERR_VERIFY);
    free(raw);
    /* nothing was kept: value is still refused */
    CHECK(!strcmp(send("f/2/f", "f", NULL, 1), "spend_limit"));
    /* an older limit with a higher cap does not replace a newer one */
    CHECK(!strcmp(send("f/3/f", "f", limit("f", "10", 3600, 20, owner_sk, owner, salt), 10),
                  "first"));
    CHECK(!strcmp(send("f/4/f", "f", limit("f", "1000", 3600, 19, owner_sk, owner, salt), 10),
                  "spend_limit"));
    CHECK(!strcmp(send("f/5/f", "f", limit("f", "1000", 3600, 21, owner_sk, owner, salt), 10),
                  "first"));
}

/* Windows slide: what was sent more than period_s ago (the KMS's clock)
 * no longer counts. */
static void test_window(void)
{
    json_t *l = limit("win", "100", 1, 5, owner_sk, owner, salt);
    CHECK(!strcmp(send("x/0/win", "win", l, 70), "first"));
    CHECK(!strcmp(send("x/1/win", "win", NULL, 70), "spend_limit"));
    usleep(1100 * 1000);
    CHECK(!strcmp(send("x/2/win", "win", NULL, 70), "first"));
}

/* The new request fields are parsed strictly. */
static void test_parse(void)
{
    phx_error_t e = {0};
    json_t *r = NULL;
    char *raw = signed_tx(1, next_nonce++);
    CHECK(post("p/0/B", "B", NULL, raw, false, &r, &e) == PHX_ERR_INVALID);
    CHECK(post("p/0/x", "a/b", NULL, raw, false, &r, &e) == PHX_ERR_INVALID);
    CHECK(post("p/0/x", NULL, limit("x", "1", 60, 1, owner_sk, owner, salt), raw, false, &r, &e) ==
          PHX_ERR_INVALID);
    CHECK(post("p/0/x", "x", limit("x", "1", 0, 1, owner_sk, owner, salt), raw, false, &r, &e) ==
          PHX_ERR_INVALID);
    json_t *l = limit("x", "1", 60, 1, owner_sk, owner, salt);
    json_object_set_new(l, "cap_wei", json_string("-1"));
    CHECK(post("p/0/x", "x", l, raw, false, &r, &e) == PHX_ERR_INVALID);
    CHECK(post("p/0/x", "x", json_pack("{s:s}", "cap_wei", "1"), raw, false, &r, &e) ==
          PHX_ERR_INVALID);
    free(raw);
}

/* The spend table keeps only what can still count: rows older than the
 * period go with the next insert, and the cap holds over the rest. */
static int spend_rows(const char *chain)
{
    char path[200];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int n = -1;
    snprintf(path, sizeof path, "%s/outbox.sqlite", dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM spend WHERE chain=?", -1, &st, NULL) ==
            SQLITE_OK) {
        sqlite3_bind_text(st, 1, chain, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_prune(void)
{
    CHECK(!strcmp(send("pr/0/pr", "pr", limit("pr", "100", 1, 5, owner_sk, owner, salt), 30),
                  "first"));
    CHECK(!strcmp(send("pr/1/pr", "pr", NULL, 30), "first"));
    CHECK(!strcmp(send("pr/2/pr", "pr", NULL, 30), "first"));
    CHECK(spend_rows("pr") == 3);
    usleep(1100 * 1000);
    CHECK(!strcmp(send("pr/3/pr", "pr", NULL, 60), "first"));
    CHECK_MSG(spend_rows("pr") == 1, "%d rows", spend_rows("pr"));  /* the three went */
    CHECK(!strcmp(send("pr/4/pr", "pr", NULL, 41), "spend_limit")); /* 60 + 41 > 100 */
    CHECK(!strcmp(send("pr/5/pr", "pr", NULL, 40), "first"));
    CHECK(spend_rows("pr") == 2);
    /* a newer limit with a longer period: rows are kept for the longest, so
     * what was sent under the old one still counts in the new window */
    usleep(1100 * 1000);
    CHECK(!strcmp(send("pr/6/pr", "pr", limit("pr", "150", 3600, 6, owner_sk, owner, salt), 50),
                  "first"));
    CHECK(spend_rows("pr") == 3);
    CHECK(!strcmp(send("pr/7/pr", "pr", NULL, 1), "spend_limit")); /* 60 + 40 + 50 = 150 */
}

/* Jobs.transferContract moves who sets the cap. The contract goes on a real
 * Jobs (anvil) from the owner its id derives from and is transferred; the
 * outbox reads the owner through the KMS's chain reader. Before the fix the
 * old owner's new limit was accepted (the id still derives from it) and the
 * new owner's refused. */
typedef struct {
    phx_kms_registry_t *reg;
    int reads;
} owner_reads_t;

static phx_err_t counted_owner(void *ctx, const uint8_t cid[32], uint8_t out[20], phx_error_t *e)
{
    owner_reads_t *r = ctx;
    r->reads++;
    return phx_kms_registry_contract_owner(r->reg, cid, out, e);
}

static void test_owner_moved_on_chain(void)
{
    static char cdir[] = "/tmp/phx-kms-outbox-chain-XXXXXX";
    static test_devnet_t net; /* the fixture stops its node at exit: not on the stack */
    phx_error_t e = {0};
    CHECK_MSG(test_devnet_start(&net, cdir, &e) == PHX_OK, "devnet: %s", e.message);
    if (!net.gov) return;
    owner_reads_t reads = {0};
    CHECK_MSG(phx_kms_registry_open(net.node.url, &net.dep, &reads.reg, &e) == PHX_OK, "%s",
              e.message);
    phx_signer_t *as_owner = NULL;
    uint8_t new_sk[32] = {0x42}, new_owner[20], zero32[32] = {0};
    if (phx_eth_address_from_seckey(new_sk, new_owner)) abort();
    CHECK(test_chain_fund(net.rpc, owner, "0xde0b6b3a7640000", &e) == PHX_OK);
    CHECK_MSG(phx_signer_open(net.rpc, owner_sk, NULL, &as_owner, &e) == PHX_OK, "%s", e.message);
    if (!as_owner || !reads.reg) goto out;
    phx_kms_outbox_owner_source(ob, counted_owner, &reads);
    /* On Jobs, still the first owner's: its limit counts, without the salt too. */
    CHECK_MSG(test_chain_transact(as_owner, net.dep.jobs, "deployContract(bytes32,bytes32,string)",
                                  json_pack("[o,o,s]", phx_json_hex(salt, 32),
                                            phx_json_hex(zero32, 32), "ipfs://x"),
                                  &e) == PHX_OK,
              "%s", e.message);
    CHECK(!strcmp(send("t/0/tr", "tr", limit("tr", "100", 3600, 10, owner_sk, owner, NULL), 60),
                  "first"));
    CHECK(reads.reads == 1);
    /* The held limit again, with every later send: no chain read. */
    CHECK(!strcmp(send("t/1/tr", "tr", limit("tr", "100", 3600, 10, owner_sk, owner, NULL), 30),
                  "first"));
    CHECK(!strcmp(send("t/2/tr", "tr", limit("tr", "100", 3600, 10, owner_sk, owner, NULL), 30),
                  "spend_limit"));
    CHECK_MSG(reads.reads == 1, "%d reads", reads.reads);
    /* A held row from before the owner column (owner NULL) is read once, then
     * records its owner. */
    sqlite3 *db = NULL;
    char path[200];
    snprintf(path, sizeof path, "%s/outbox.sqlite", dir);
    CHECK(sqlite3_open(path, &db) == SQLITE_OK &&
          sqlite3_exec(db, "UPDATE spend_limit SET owner=NULL, keep_s=NULL WHERE chain='tr'", NULL,
                       NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    for (int i = 0; i < 2; i++)
        CHECK(!strcmp(send("t/2/tr", "tr", limit("tr", "100", 3600, 10, owner_sk, owner, NULL), 30),
                      "spend_limit"));
    CHECK_MSG(reads.reads == 2, "%d reads", reads.reads);
    CHECK_MSG(
        test_chain_transact(as_owner, net.dep.jobs, "transferContract(bytes32,address)",
                            json_pack("[o,o]", phx_json_hex(id, 32), phx_json_hex(new_owner, 20)),
                            &e) == PHX_OK,
        "%s", e.message);
    /* (a) the old owner's next limit is refused, naming both addresses */
    json_t *r = NULL;
    char *raw = signed_tx(1, next_nonce++);
    char want_old[43] = "0x", want_new[43] = "0x";
    phx_hex_encode_to(want_old + 2, owner, 20);
    phx_hex_encode_to(want_new + 2, new_owner, 20);
    e = (phx_error_t){0};
    CHECK(post("t/3/tr", "tr", limit("tr", "1000000", 3600, 11, owner_sk, owner, salt), raw, false,
               &r, &e) == PHX_ERR_VERIFY);
    CHECK_MSG(strstr(e.message, want_old) && strstr(e.message, want_new), "%s", e.message);
    free(raw);
    /* the limit held stays in force until the new owner sets one */
    CHECK(!strcmp(send("t/4/tr", "tr", NULL, 11), "spend_limit"));
    CHECK(!strcmp(send("t/5/tr", "tr", NULL, 10), "first"));
    /* (b) the new owner's is accepted (no salt: the id is not derived from it) */
    CHECK(!strcmp(send("t/6/tr", "tr", limit("tr", "200", 3600, 12, new_sk, new_owner, NULL), 90),
                  "first"));
    CHECK(!strcmp(send("t/7/tr", "tr", NULL, 11), "spend_limit")); /* 100 + 90 + 11 > 200 */
    /* the chain not answering: a new limit is refused, never taken on trust */
    int before = reads.reads;
    phx_kms_registry_close(reads.reg);
    CHECK(phx_kms_registry_open("http://127.0.0.1:1", &net.dep, &reads.reg, &e) == PHX_OK);
    raw = signed_tx(1, next_nonce++);
    CHECK(post("t/8/tr", "tr", limit("tr", "300", 3600, 13, new_sk, new_owner, NULL), raw, false,
               &r, &e) != PHX_OK);
    CHECK_MSG(strstr(e.message, "cannot be read"), "%s", e.message);
    CHECK(!strcmp(send("t/9/tr", "tr", NULL, 11), "spend_limit")); /* the cap of 200 holds */
    free(raw);
    CHECK(reads.reads == before + 1);
out:
    phx_kms_outbox_owner_source(ob, NULL, NULL);
    phx_kms_registry_close(reads.reg);
    phx_signer_close(as_owner);
    test_devnet_close(&net);
    test_anvil_stop(&net.node);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", cdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", cdir);
}

/* What the outbox holds survives a restart of the KMS. */
static void test_restart(void)
{
    phx_kms_outbox_close(ob);
    char path[200];
    snprintf(path, sizeof path, "%s/outbox.sqlite", dir);
    if (phx_kms_outbox_open(path, &ob, NULL)) abort();
    CHECK(!strcmp(send("w4/0/main", "main", NULL, 1), "spend_limit"));
    /* The first insert after the start sweeps every contract and chain: the
     * last "win" row (period 1 s, sent seconds ago) goes, the rows of limits
     * with an hour's period stay and still count. */
    int main_rows = spend_rows("main");
    CHECK_MSG(spend_rows("win") == 1 && main_rows == 2, "%d %d", spend_rows("win"), main_rows);
    CHECK(
        !strcmp(send("w4/1/rs", "rs", limit("rs", "5", 60, 1, owner_sk, owner, salt), 5), "first"));
    CHECK_MSG(spend_rows("win") == 0, "%d rows", spend_rows("win"));
    CHECK(spend_rows("main") == main_rows);
    CHECK(!strcmp(send("w4/2/main", "main", NULL, 1), "spend_limit"));
}

int main(void)
{
    setup();
    static const test_case_t cases[] = {
        TEST_CASE(test_cap_across_workers),
        TEST_CASE(test_held_not_refused),
        TEST_CASE(test_limit_is_the_owners),
        TEST_CASE(test_window),
        TEST_CASE(test_parse),
        TEST_CASE(test_prune),
        TEST_CASE(test_owner_moved_on_chain),
        TEST_CASE(test_restart),
    };
    int rc = test_run("kms_outbox", cases, TEST_COUNT(cases));
    phx_kms_outbox_close(ob);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
