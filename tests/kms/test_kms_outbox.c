/* Issue 15: the KMS outbox holds the owner's spending cap across workers.
 * Every worker's send of a contract passes the outbox (docs/kms.md "Outbox"),
 * so it, not each worker over its own sends, sums the value of the actions it
 * holds per contract, chain and period, and refuses a new action over the
 * owner's signed SpendLimit. Real SQLite file, real keys and signatures: the
 * transactions are signed with the contract key the KMS derives, the limits
 * with an owner key whose address the contract id derives from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phx/chain.h"
#include "phx/chain_owner.h"
#include "phx/crypto.h"
#include "phx/evm.h"
#include "phx/kms.h"
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
 * test forges it), naming claimed_owner and salt s. */
static json_t *limit(const char *chain, const char *cap, int64_t period, int64_t nonce,
                     const uint8_t sk[32], const uint8_t claimed_owner[20], const uint8_t s[32])
{
    uint8_t d[32], sig[65];
    if (phx_owner_limit_digest(id, chain, cap, (uint64_t)period, (uint64_t)nonce, d, NULL) ||
        phx_owner_sign(d, sk, sig, NULL))
        abort();
    return json_pack("{s:o,s:o,s:s,s:I,s:I,s:o}", "owner", phx_json_hex(claimed_owner, 20), "salt",
                     phx_json_hex(s, 32), "cap_wei", cap, "period_s", (json_int_t)period, "nonce",
                     (json_int_t)nonce, "signature", phx_json_hex(sig, 65));
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

/* What the outbox holds survives a restart of the KMS. */
static void test_restart(void)
{
    phx_kms_outbox_close(ob);
    char path[200];
    snprintf(path, sizeof path, "%s/outbox.sqlite", dir);
    if (phx_kms_outbox_open(path, &ob, NULL)) abort();
    CHECK(!strcmp(send("w4/0/main", "main", NULL, 1), "spend_limit"));
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
        TEST_CASE(test_restart),
    };
    int rc = test_run("kms_outbox", cases, TEST_COUNT(cases));
    phx_kms_outbox_close(ob);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
