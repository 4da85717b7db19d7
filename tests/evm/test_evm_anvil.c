/* EVM client against a real anvil node started by the test: RPC methods, fee
 * estimation, legacy and EIP-1559 sends, contract deployment, eth_call and
 * receipts with confirmations, event decoding, the signer's on-disk nonce across
 * restarts and its recovery from a stale nonce, the log follower's cursor
 * across restarts and its rollback on a reorg (evm_snapshot / evm_revert), a send
 * whose answer is lost in transit executed once, and `cast` (foundry, npm)
 * reading back what C wrote. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "phx/crypto.h"
#include "phx/evm.h"
#include "phx/net.h"
#include "support/anvil.h"
#include "support/cast.h"
#include "test.h"

/* anvil's first well-known development account (public test key, no funds anywhere real). */
static const char *DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
static const char *NOTE_SIG = "Note(address indexed sender,uint256 value)";

static test_anvil_t node;
static char tmpdir[256];

static void cleanup(void)
{
    test_anvil_stop(&node);
}

/* A contract that logs Note(msg.sender, calldata word) on every call:
 * init copies the runtime out; runtime = CALLDATACOPY, LOG2(topic0, CALLER). */
static void emitter_code(phx_buf_t *out, phx_buf_t *runtime)
{
    uint8_t topic[32];
    CHECK(phx_abi_event_topic(NOTE_SIG, topic, NULL) == PHX_OK);
    static const uint8_t head[] = {0x36, 0x60, 0x00, 0x60, 0x00, 0x37, 0x33, 0x7f};
    static const uint8_t tail[] = {0x36, 0x60, 0x00, 0xa2, 0x00};
    phx_buf_append(runtime, head, sizeof head);
    phx_buf_append(runtime, topic, 32);
    phx_buf_append(runtime, tail, sizeof tail);
    uint8_t init[] = {0x60, (uint8_t)runtime->len, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00,
                      0xf3};
    phx_buf_append(out, init, sizeof init);
    phx_buf_append(out, runtime->ptr, runtime->len);
}

static void rpc_simple(phx_rpc_t *rpc, const char *method, json_t *params, json_t **res)
{
    json_t *r = NULL;
    phx_error_t e;
    phx_err_t err = phx_rpc_call(rpc, method, params, &r, &e);
    CHECK_MSG(err == PHX_OK, "%s: %s", method, e.message);
    if (res)
        *res = r;
    else
        json_decref(r);
}

/* Send Note(value) from the signer and return the receipt's block. */
static uint64_t note(phx_signer_t *s, const uint8_t emitter[20], uint64_t value)
{
    phx_u256_t v = phx_u256_from_u64(value);
    phx_evm_send_t req;
    phx_evm_receipt_t r;
    phx_error_t e;
    memset(&req, 0, sizeof req);
    req.has_to = true;
    memcpy(req.to, emitter, 20);
    req.data = v.b;
    req.data_len = 32;
    req.gas_limit = 100000;
    phx_err_t err = phx_signer_transact(s, &req, 1, 20000, &r, &e);
    CHECK_MSG(err == PHX_OK, "note %llu: %s", (unsigned long long)value, e.message);
    if (err) return 0;
    uint64_t block = r.block_number;
    phx_evm_receipt_clear(&r);
    return block;
}

/* ---- follower consumer: a list of (block, value) that honours rollbacks ---- */
typedef struct {
    uint64_t block[64], value[64];
    size_t n;
    int rollbacks;
    uint64_t last_void;
} notes_t;

static phx_err_t on_log(void *ctx, const phx_evm_log_t *log, phx_error_t *e)
{
    notes_t *c = ctx;
    phx_abi_value_t *v = NULL;
    phx_err_t err = phx_abi_decode_log(NOTE_SIG, false, log, &v, e);
    if (err) return err;
    if (c->n < 64) {
        phx_u256_t u;
        memcpy(u.b, v->items[1].word, 32);
        phx_u256_to_u64(&u, &c->value[c->n], NULL);
        c->block[c->n++] = log->block_number;
    }
    phx_abi_value_free(v);
    return PHX_OK;
}

static phx_err_t on_rollback(void *ctx, uint64_t first_void, phx_error_t *e)
{
    (void)e;
    notes_t *c = ctx;
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->block[i] < first_void) c->block[k] = c->block[i], c->value[k++] = c->value[i];
    c->n = k;
    c->rollbacks++;
    c->last_void = first_void;
    return PHX_OK;
}

static bool values_are(const notes_t *c, const uint64_t *want, size_t n)
{
    if (c->n != n) return false;
    for (size_t i = 0; i < n; i++)
        if (c->value[i] != want[i]) return false;
    return true;
}

static void test_transport_errors(void)
{
    /* Nothing listens on a port we just freed: a transport error after the retries. */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", phx_net_port_pick());
    phx_rpc_opts_t o = {500, 2, 10};
    phx_rpc_t *rpc = NULL;
    uint64_t id;
    phx_error_t e;
    CHECK(phx_rpc_open(url, &o, &rpc, &e) == PHX_OK);
    uint64_t t0 = phx_monotonic_ms();
    CHECK(phx_rpc_chain_id(rpc, &id, &e) == PHX_ERR_IO);
    CHECK(phx_monotonic_ms() - t0 >= 30); /* waited 10 + 20 ms between the three attempts */
    phx_rpc_close(rpc);
}

/* Start `node SCRIPT UPSTREAM [ARG]` (a proxy in front of anvil) in its own process
 * group; returns its pid and the port it printed, or -1. */
static pid_t start_proxy(const char *name, const char *upstream, const char *arg, int *port)
{
    int out[2];
    *port = 0;
    if (pipe(out) != 0) return -1;
    const char *src = getenv("PHX_SOURCE_DIR");
    char script[1024];
    snprintf(script, sizeof script, "%s/tests/evm/%s", src && *src ? src : "..", name);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* gone with the test, however it ends */
        dup2(out[1], 1);
        close(out[0]);
        execlp("node", "node", script, upstream, arg, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    close(out[1]);
    char line[32] = {0};
    FILE *pf = fdopen(out[0], "r");
    if (!pf || !fgets(line, sizeof line, pf)) line[0] = 0;
    if (pf) fclose(pf);
    *port = atoi(line);
    return pid;
}

static void stop_proxy(pid_t pid)
{
    if (pid <= 0) return;
    kill(-pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* The node accepts a transaction but its answer is lost; the client's transport
 * retry then hears "nonce too low" / "already known". The signer must see that
 * its own transaction is the one the node has and not sign the request again
 * under the next nonce (which would execute it twice). */
static void test_lost_send_answer(const uint8_t sk[32], const uint8_t me[20], bool automine)
{
    phx_error_t e;
    int port = 0;
    pid_t proxy = start_proxy("lossy_proxy.mjs", node.url, NULL, &port);
    CHECK_MSG(proxy > 0 && port > 0, "lossy proxy did not start");
    if (proxy <= 0 || port <= 0) {
        stop_proxy(proxy);
        return;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    phx_rpc_opts_t o = {5000, 2, 10};
    phx_rpc_t *rpc = NULL;
    phx_signer_t *s = NULL;
    uint8_t to[20];
    memset(to, automine ? 0x77 : 0x78, 20);
    uint64_t n0 = 0, n1 = 0;
    phx_u256_t b0, b1;
    CHECK(phx_rpc_open(url, &o, &rpc, &e) == PHX_OK);
    CHECK(phx_rpc_get_transaction_count(rpc, me, "pending", &n0, &e) == PHX_OK);
    CHECK(phx_rpc_get_balance(rpc, to, NULL, &b0, &e) == PHX_OK);
    CHECK(phx_signer_open(rpc, sk, NULL, &s, &e) == PHX_OK);
    phx_evm_send_t pay;
    memset(&pay, 0, sizeof pay);
    pay.has_to = true;
    memcpy(pay.to, to, 20);
    pay.value = phx_u256_from_u64(777);
    pay.gas_limit = 21000;
    phx_evm_receipt_t rc;
    memset(&rc, 0, sizeof rc);
    /* Mined at once, the resent copy is "nonce too low" (or, if the retry wins the
     * race, still pending); with mining held back it is deterministically pending
     * ("transaction already imported" from anvil). */
    if (!automine) rpc_simple(rpc, "evm_setAutomine", json_pack("[b]", 0), NULL);
    uint8_t h[32];
    phx_err_t err = s ? phx_signer_send(s, &pay, h, &e) : PHX_ERR_STATE;
    CHECK_MSG(err == PHX_OK, "send with a lost answer (automine %d): %s", automine, e.message);
    if (!automine) {
        rpc_simple(rpc, "evm_mine", NULL, NULL);
        rpc_simple(rpc, "evm_setAutomine", json_pack("[b]", 1), NULL);
    }
    if (!err) {
        err = phx_rpc_wait_receipt(rpc, h, 1, 20000, 50, &rc, &e);
        CHECK_MSG(err == PHX_OK && rc.status, "receipt: %s", e.message);
        phx_evm_receipt_clear(&rc);
    }
    CHECK(phx_rpc_get_transaction_count(rpc, me, "pending", &n1, &e) == PHX_OK);
    CHECK(phx_rpc_get_balance(rpc, to, NULL, &b1, &e) == PHX_OK);
    char dec[80];
    phx_u256_to_dec(&b1, dec);
    CHECK_MSG(n1 == n0 + 1 && phx_u256_is_zero(&b0) && strcmp(dec, "777") == 0,
              "one payment of 777 became %llu transactions, balance %s",
              (unsigned long long)(n1 - n0), dec);
    CHECK(s && phx_signer_next_nonce(s) == n1);
    printf("lost sendRawTransaction answer (automine %d): %llu transaction(s), recipient "
           "holds %s wei\n",
           automine, (unsigned long long)(n1 - n0), dec);
    phx_signer_close(s);
    phx_rpc_close(rpc);
    stop_proxy(proxy);
}

/* What the cases share, in the order they build it: the node, the dev key's
 * signer, the Note emitter and the payments and note request it is sent, the
 * follower options and the notes the head-following follower saw. */
static phx_rpc_t *rpc;
static uint8_t sk[32], me[20];
static char nonce_path[512];
static phx_signer_t *s;
static phx_buf_t code = PHX_BUF_INIT, runtime = PHX_BUF_INIT, got = PHX_BUF_INIT;
static uint8_t emitter[20], friend_addr[20], topic[32];
static uint64_t deploy_block;
static phx_evm_send_t pay, req;
static phx_u256_t word;
static phx_evm_follower_opts_t fo;
static notes_t seen;

/* anvil answers: chain id, a JSON-RPC error as the node's answer, the dev
 * balance, EIP-1559 fees and their history. */
static void test_node(void)
{
    phx_error_t e;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/phx-evm-test-XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
    if (test_anvil_start(&node, NULL) != 0) {
        CHECK_MSG(0, "could not start anvil");
        return;
    }
    printf("anvil at %s\n", node.url);

    CHECK(phx_rpc_open(node.url, NULL, &rpc, &e) == PHX_OK);
    uint64_t chain_id = 0, head = 0;
    CHECK(phx_rpc_chain_id(rpc, &chain_id, &e) == PHX_OK && chain_id == 31337);
    CHECK(phx_rpc_block_number(rpc, &head, &e) == PHX_OK);

    /* A JSON-RPC error is the node's answer, not a transport failure. */
    json_t *res = NULL;
    CHECK(phx_rpc_call(rpc, "eth_noSuchMethod", NULL, &res, &e) == PHX_ERR_REMOTE);
    CHECK(strstr(e.message, "rpc error") != NULL);

    CHECK(phx_hex_decode_fixed(DEV_KEY, sk, 32, NULL) == PHX_OK);
    CHECK(phx_eth_address_from_seckey(sk, me) == PHX_OK);
    phx_u256_t bal;
    char dec[80];
    CHECK(phx_rpc_get_balance(rpc, me, NULL, &bal, &e) == PHX_OK);
    phx_u256_to_dec(&bal, dec);
    CHECK_MSG(strcmp(dec, "10000000000000000000000") == 0, "dev balance %s", dec);

    phx_evm_fees_t fees;
    CHECK(phx_rpc_estimate_fees(rpc, &fees, &e) == PHX_OK);
    CHECK(fees.eip1559);
    CHECK(!phx_u256_is_zero(&fees.max_fee) &&
          phx_u256_cmp(&fees.max_fee, &fees.max_priority_fee) > 0);
    phx_evm_fee_history_t fh;
    CHECK(phx_rpc_fee_history(rpc, 1, NULL, 50, &fh, &e) == PHX_OK);
    CHECK(fh.block_count == 1 && !phx_u256_is_zero(&fh.base_fees[0]));
    phx_evm_fee_history_clear(&fh);
}

/* The signer: deploy the emitter, legacy and EIP-1559 transfers read back
 * from the node, and cast sees the same balance. */
static void test_signer_deploy(void)
{
    phx_error_t e;
    phx_u256_t bal;
    char dec[80];
    snprintf(nonce_path, sizeof nonce_path, "%s/nonce.json", tmpdir);
    phx_err_t err = phx_signer_open(rpc, sk, nonce_path, &s, &e);
    CHECK_MSG(err == PHX_OK, "signer: %s", e.message);
    if (err) return;
    CHECK(phx_signer_next_nonce(s) == 0 && phx_signer_chain_id(s) == 31337);

    emitter_code(&code, &runtime);
    uint8_t expect_addr[20], ctor_arg[32] = {0};
    phx_evm_receipt_t rc;
    CHECK(phx_evm_create_address(me, 0, expect_addr) == PHX_OK);
    err = phx_signer_deploy(s, code.ptr, code.len, ctor_arg, 32, 0, 1, 20000, emitter, &rc, &e);
    CHECK_MSG(err == PHX_OK, "deploy: %s", e.message);
    CHECK(memcmp(emitter, expect_addr, 20) == 0);
    CHECK(rc.status && rc.has_contract_address && rc.gas_used > 21000);
    deploy_block = rc.block_number;
    phx_evm_receipt_clear(&rc);
    CHECK(phx_rpc_get_code(rpc, emitter, NULL, &got, &e) == PHX_OK);
    CHECK(got.len == runtime.len && memcmp(got.ptr, runtime.ptr, got.len) == 0);

    memset(friend_addr, 0x42, 20);
    memset(&pay, 0, sizeof pay);
    pay.has_to = true;
    memcpy(pay.to, friend_addr, 20);
    pay.value = phx_u256_from_u64(12345);
    pay.legacy = true;
    CHECK(phx_signer_transact(s, &pay, 1, 20000, &rc, &e) == PHX_OK && rc.status &&
          rc.gas_used == 21000);
    /* The node's view of the tx passes the decoder's range checks (issue 18):
     * anvil's JSON for a legacy and a 1559 tx reads back to the same sender. */
    uint8_t legacy_hash[32];
    memcpy(legacy_hash, rc.tx_hash, 32);
    phx_evm_receipt_clear(&rc);
    phx_evm_tx_t node_tx;
    bool found = false;
    CHECK(phx_rpc_get_transaction(rpc, legacy_hash, &node_tx, &found, &e) == PHX_OK && found);
    if (found) {
        CHECK(node_tx.type == PHX_TX_LEGACY && node_tx.chain_id == 31337 &&
              memcmp(node_tx.from, me, 20) == 0);
        phx_evm_tx_clear(&node_tx);
    }
    pay.legacy = false; /* EIP-1559 this time */
    CHECK(phx_signer_transact(s, &pay, 1, 20000, &rc, &e) == PHX_OK);
    found = false;
    CHECK(phx_rpc_get_transaction(rpc, rc.tx_hash, &node_tx, &found, &e) == PHX_OK && found);
    if (found) {
        CHECK(node_tx.type == PHX_TX_EIP1559 && memcmp(node_tx.from, me, 20) == 0);
        phx_evm_tx_clear(&node_tx);
    }
    phx_evm_receipt_clear(&rc);
    uint8_t unknown[32];
    memset(unknown, 0xab, 32);
    found = true;
    CHECK(phx_rpc_get_transaction(rpc, unknown, &node_tx, &found, &e) == PHX_OK && !found);
    CHECK(phx_rpc_get_balance(rpc, friend_addr, NULL, &bal, &e) == PHX_OK);
    phx_u256_to_dec(&bal, dec);
    CHECK_MSG(strcmp(dec, "24690") == 0, "friend balance %s", dec);
    uint64_t count = 0;
    CHECK(phx_rpc_get_transaction_count(rpc, me, NULL, &count, &e) == PHX_OK && count == 3);
    CHECK(phx_signer_next_nonce(s) == 3);

    /* Independent reader: foundry's cast sees the same balance. */
    {
        char cmd[5000], line[128] = {0};
        char *hex = phx_hex_encode(friend_addr, 20);
        snprintf(cmd, sizeof cmd, "'%s' balance --rpc-url %s %s 2>/dev/null", test_cast_path(),
                 node.url, hex);
        free(hex);
        CHECK(test_run_line(cmd, line, sizeof line));
        CHECK_MSG(strcmp(line, "24690") == 0, "cast balance says '%s'", line);
        printf("cast balance of the recipient: %s wei\n", line);
    }
}

static void test_call_storage_events(void)
{
    phx_error_t e;
    /* ---- eth_call, estimateGas, storage, events from a receipt ------------------- */
    phx_evm_call_t call;
    memset(&call, 0, sizeof call);
    call.has_from = true;
    memcpy(call.from, me, 20);
    call.has_to = true;
    memcpy(call.to, emitter, 20);
    word = phx_u256_from_u64(42);
    call.data = word.b;
    call.data_len = 32;
    phx_buf_reset(&got);
    CHECK(phx_rpc_call_contract(rpc, &call, NULL, &got, &e) == PHX_OK && got.len == 0);
    uint64_t gas = 0;
    CHECK(phx_rpc_estimate_gas(rpc, &call, &gas, &e) == PHX_OK && gas > 21000 && gas < 100000);
    uint8_t slot0[32];
    phx_u256_t zero = phx_u256_from_u64(0);
    CHECK(phx_rpc_get_storage_at(rpc, emitter, &zero, NULL, slot0, &e) == PHX_OK);
    {
        static const uint8_t z[32];
        CHECK(memcmp(slot0, z, 32) == 0);
    }
    memset(&req, 0, sizeof req);
    req.has_to = true;
    memcpy(req.to, emitter, 20);
    req.data = word.b;
    req.data_len = 32;
    phx_evm_receipt_t rc;
    CHECK(phx_signer_transact(s, &req, 1, 20000, &rc, &e) == PHX_OK);
    CHECK(rc.log_count == 1);
    if (rc.log_count == 1) {
        json_t *ev = NULL;
        CHECK(memcmp(rc.logs[0].address, emitter, 20) == 0);
        CHECK(phx_abi_decode_log_json(NOTE_SIG, false, &rc.logs[0], &ev, &e) == PHX_OK);
        char *mehex = phx_hex_encode(me, 20);
        CHECK(json_is_string(json_object_get(ev, "value")) &&
              strcmp(json_string_value(json_object_get(ev, "value")), "42") == 0);
        CHECK(json_is_string(json_object_get(ev, "sender")) &&
              strcmp(json_string_value(json_object_get(ev, "sender")), mehex) == 0);
        free(mehex);
        json_decref(ev);
        /* A different event signature must not decode this log. */
        phx_abi_value_t *v = NULL;
        CHECK(phx_abi_decode_log("Other(address indexed a,uint256 b)", false, &rc.logs[0], &v,
                                 &e) == PHX_ERR_INVALID);
    }
    phx_evm_receipt_clear(&rc);
}

static void test_confirmations(void)
{
    phx_error_t e;
    /* ---- confirmations ----------------------------------------------------------- */
    uint8_t h[32];
    phx_evm_receipt_t rc;
    CHECK(phx_signer_send(s, &req, h, &e) == PHX_OK);
    CHECK(phx_rpc_wait_receipt(rpc, h, 3, 600, 50, &rc, &e) == PHX_ERR_TIMEOUT);
    rpc_simple(rpc, "evm_mine", NULL, NULL);
    rpc_simple(rpc, "evm_mine", NULL, NULL);
    CHECK(phx_rpc_wait_receipt(rpc, h, 3, 5000, 50, &rc, &e) == PHX_OK && rc.status);
    phx_evm_receipt_clear(&rc);
}

static void test_nonce_restarts(void)
{
    phx_error_t e;
    /* ---- nonce across restarts ---------------------------------------------------- */
    uint8_t h[32];
    uint64_t count = 0;
    phx_evm_receipt_t rc;
    uint64_t before = phx_signer_next_nonce(s);
    phx_signer_close(s);
    CHECK(phx_signer_open(rpc, sk, nonce_path, &s, &e) == PHX_OK);
    CHECK(phx_signer_next_nonce(s) == before);
    /* Transactions in flight (no mining) and then dropped by the node: a restarted
     * signer must not hand out their nonces again. */
    rpc_simple(rpc, "evm_setAutomine", json_pack("[b]", 0), NULL);
    CHECK(phx_signer_send(s, &req, h, &e) == PHX_OK);
    CHECK(phx_signer_send(s, &req, h, &e) == PHX_OK);
    CHECK(phx_signer_next_nonce(s) == before + 2);
    rpc_simple(rpc, "anvil_dropAllTransactions", NULL, NULL);
    phx_signer_close(s);
    CHECK(phx_rpc_get_transaction_count(rpc, me, "pending", &count, &e) == PHX_OK &&
          count == before);
    CHECK(phx_signer_open(rpc, sk, nonce_path, &s, &e) == PHX_OK);
    CHECK_MSG(phx_signer_next_nonce(s) == before + 2, "reopened at %llu",
              (unsigned long long)phx_signer_next_nonce(s));
    /* A signer without the file only knows what the chain says. */
    phx_signer_t *mem = NULL;
    CHECK(phx_signer_open(rpc, sk, NULL, &mem, &e) == PHX_OK &&
          phx_signer_next_nonce(mem) == before);
    CHECK(phx_signer_resync(s, &e) == PHX_OK && phx_signer_next_nonce(s) == before);
    rpc_simple(rpc, "evm_setAutomine", json_pack("[b]", 1), NULL);
    /* Another user of the same key moves the nonce on: ours recovers. */
    CHECK(phx_signer_transact(mem, &pay, 1, 20000, &rc, &e) == PHX_OK);
    phx_evm_receipt_clear(&rc);
    phx_err_t err = phx_signer_transact(s, &pay, 1, 20000, &rc, &e);
    CHECK_MSG(err == PHX_OK, "stale nonce not recovered: %s", e.message);
    phx_evm_receipt_clear(&rc);
    CHECK(phx_signer_next_nonce(s) == before + 2);
    phx_signer_close(mem);
}

static void test_follower_reorg(void)
{
    phx_error_t e;
    /* ---- log follower with a reorg ------------------------------------------------- */
    char cursor_path[512];
    snprintf(cursor_path, sizeof cursor_path, "%s/cursor.json", tmpdir);
    CHECK(phx_abi_event_topic(NOTE_SIG, topic, NULL) == PHX_OK);
    memset(&fo, 0, sizeof fo);
    fo.cursor_path = cursor_path;
    fo.start_block = deploy_block;
    fo.page_blocks = 2; /* several pages per poll */
    fo.addresses = (const uint8_t(*)[20])emitter;
    fo.address_count = 1;
    fo.topic0 = (const uint8_t(*)[32])topic;
    fo.topic0_count = 1;
    memset(&seen, 0, sizeof seen);
    phx_evm_follower_cb_t cb = {on_log, on_rollback, &seen};
    phx_evm_follower_t *f = NULL;
    size_t delivered = 0;
    CHECK(phx_evm_follower_open(rpc, &fo, &f, &e) == PHX_OK);
    CHECK(phx_evm_follower_poll(f, &cb, &delivered, &e) == PHX_OK);
    /* Before: the 42 from the receipt test and the confirmed one (42), and the
     * two stale-nonce test transfers emit nothing. */
    uint64_t want0[] = {42, 42};
    CHECK_MSG(values_are(&seen, want0, 2), "initial notes: %zu", seen.n);
    note(s, emitter, 1);
    note(s, emitter, 2);
    note(s, emitter, 3);
    CHECK(phx_evm_follower_poll(f, &cb, &delivered, &e) == PHX_OK && delivered == 3);
    json_t *snap = NULL, *res = NULL;
    rpc_simple(rpc, "evm_snapshot", NULL, &snap);
    uint64_t b4 = note(s, emitter, 4);
    note(s, emitter, 5);
    CHECK(phx_evm_follower_poll(f, &cb, &delivered, &e) == PHX_OK && delivered == 2);
    uint64_t want1[] = {42, 42, 1, 2, 3, 4, 5};
    CHECK(values_are(&seen, want1, 7));
    /* Restart: the cursor on disk picks up where we were, nothing is re-read. */
    uint64_t next = phx_evm_follower_next_block(f);
    phx_evm_follower_close(f);
    CHECK(phx_evm_follower_open(rpc, &fo, &f, &e) == PHX_OK);
    CHECK(phx_evm_follower_next_block(f) == next);
    CHECK(phx_evm_follower_poll(f, &cb, &delivered, &e) == PHX_OK && delivered == 0);
    /* Reorg: drop the blocks of 4 and 5, mine a different history in their place. */
    rpc_simple(rpc, "evm_revert", json_pack("[O]", snap), &res);
    CHECK(json_is_true(res));
    json_decref(res);
    json_decref(snap);
    CHECK(phx_signer_resync(s, &e) == PHX_OK);
    uint64_t b6 = note(s, emitter, 6);
    CHECK(b6 == b4); /* same height, different block */
    rpc_simple(rpc, "evm_mine", NULL, NULL);
    CHECK(phx_evm_follower_poll(f, &cb, &delivered, &e) == PHX_OK);
    CHECK(seen.rollbacks == 1 && seen.last_void <= b4);
    uint64_t want2[] = {42, 42, 1, 2, 3, 6};
    CHECK_MSG(values_are(&seen, want2, 6), "after reorg: %zu notes", seen.n);
    printf("follower: %zu notes after a reorg at block %llu (rolled back from block %llu)\n",
           seen.n, (unsigned long long)b4, (unsigned long long)seen.last_void);
    phx_evm_follower_close(f);
}

static void test_follower_confirmations(void)
{
    phx_error_t e;
    phx_evm_follower_t *f = NULL;
    size_t delivered = 0;
    /* A follower that stays 3 blocks behind the head sees only settled notes. */
    notes_t lag;
    memset(&lag, 0, sizeof lag);
    phx_evm_follower_cb_t lcb = {on_log, on_rollback, &lag};
    phx_evm_follower_opts_t lo = fo;
    lo.cursor_path = NULL;
    lo.confirmations = 3;
    uint64_t head_now = 0;
    CHECK(phx_rpc_block_number(rpc, &head_now, &e) == PHX_OK);
    CHECK(phx_evm_follower_open(rpc, &lo, &f, &e) == PHX_OK);
    CHECK(phx_evm_follower_poll(f, &lcb, &delivered, &e) == PHX_OK);
    CHECK(phx_evm_follower_next_block(f) == head_now - 3 + 1);
    for (size_t i = 0; i < lag.n; i++)
        CHECK(lag.block[i] + 3 <= head_now);
    /* Exactly the settled prefix of what the head-following follower holds. */
    size_t settled = 0;
    for (size_t i = 0; i < seen.n; i++)
        settled += seen.block[i] + 3 <= head_now;
    CHECK_MSG(lag.n == settled && settled > 0 && settled < seen.n, "lag %zu settled %zu", lag.n,
              settled);
    for (size_t i = 0; i < lag.n && i < seen.n; i++)
        CHECK(lag.value[i] == seen.value[i]);
    phx_evm_follower_close(f);
}

static void test_follower_capped_provider(void)
{
    phx_error_t e;
    phx_evm_follower_t *f = NULL;
    size_t delivered = 0;
    phx_err_t err;
    /* Behind a provider that caps eth_getLogs at 3 blocks (a real node proxy in
     * front of anvil), the follower shrinks its pages and still sees every note. */
    int port = 0;
    pid_t proxy = start_proxy("limit_proxy.mjs", node.url, "3", &port);
    CHECK_MSG(proxy > 0 && port > 0, "proxy did not start");
    if (port > 0) {
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
        phx_rpc_t *capped = NULL;
        notes_t all;
        memset(&all, 0, sizeof all);
        phx_evm_follower_cb_t acb = {on_log, on_rollback, &all};
        phx_evm_follower_opts_t ao = fo;
        ao.cursor_path = NULL;
        ao.page_blocks = 0; /* default 1000: too wide for this provider */
        CHECK(phx_rpc_open(url, NULL, &capped, &e) == PHX_OK);
        CHECK(phx_evm_follower_open(capped, &ao, &f, &e) == PHX_OK);
        err = phx_evm_follower_poll(f, &acb, &delivered, &e);
        CHECK_MSG(err == PHX_OK, "capped follower: %s", e.message);
        CHECK_MSG(all.n == seen.n && all.n == delivered, "capped follower saw %zu of %zu", all.n,
                  seen.n);
        for (size_t i = 0; i < all.n && i < seen.n; i++)
            CHECK(all.value[i] == seen.value[i]);
        phx_evm_follower_close(f);
        phx_rpc_close(capped);
    }
    stop_proxy(proxy);
}

static void test_lost_send_answer_automine(void)
{
    test_lost_send_answer(sk, me, true);
}

static void test_lost_send_answer_no_mining(void)
{
    test_lost_send_answer(sk, me, false);
}

static void test_legacy_chain(void)
{
    phx_error_t e;
    /* A chain without EIP-1559 (pre-London): fees fall back to eth_gasPrice and
     * the signer sends a legacy EIP-155 transaction. */
    test_anvil_stop(&node);
    phx_evm_fees_t fees;
    phx_evm_receipt_t rc;
    phx_err_t err;
    if (test_anvil_start(&node, "--hardfork=berlin") == 0) {
        phx_rpc_t *old = NULL;
        phx_signer_t *os = NULL;
        CHECK(phx_rpc_open(node.url, NULL, &old, &e) == PHX_OK);
        CHECK(phx_rpc_estimate_fees(old, &fees, &e) == PHX_OK);
        CHECK(!fees.eip1559 && !phx_u256_is_zero(&fees.gas_price));
        CHECK(phx_signer_open(old, sk, NULL, &os, &e) == PHX_OK);
        err = os ? phx_signer_transact(os, &pay, 1, 20000, &rc, &e) : PHX_ERR_STATE;
        CHECK_MSG(err == PHX_OK, "legacy chain send: %s", e.message);
        if (!err) {
            json_t *txj = NULL;
            CHECK(phx_rpc_call(old, "eth_getTransactionByHash",
                               json_pack("[o]", phx_json_hex(rc.tx_hash, 32)), &txj, &e) == PHX_OK);
            const char *type = json_string_value(json_object_get(txj, "type"));
            CHECK_MSG(type && strcmp(type, "0x0") == 0, "tx type %s", type ? type : "(none)");
            json_decref(txj);
            phx_evm_receipt_clear(&rc);
        }
        phx_signer_close(os);
        phx_rpc_close(old);
    } else {
        CHECK_MSG(0, "could not start anvil --hardfork=berlin");
    }
}

int main(void)
{
    CHECK(phx_crypto_init() == PHX_OK);
    atexit(cleanup);
    static const test_case_t cases[] = {
        TEST_CASE(test_transport_errors),           TEST_CASE_REQUIRED(test_node),
        TEST_CASE_REQUIRED(test_signer_deploy),     TEST_CASE_REQUIRED(test_call_storage_events),
        TEST_CASE_REQUIRED(test_confirmations),     TEST_CASE_REQUIRED(test_nonce_restarts),
        TEST_CASE_REQUIRED(test_follower_reorg),    TEST_CASE(test_follower_confirmations),
        TEST_CASE(test_follower_capped_provider),   TEST_CASE(test_lost_send_answer_automine),
        TEST_CASE(test_lost_send_answer_no_mining), TEST_CASE(test_legacy_chain)};
    int rc = test_run("test_evm_anvil", cases, TEST_COUNT(cases));
    phx_buf_free(&code);
    phx_buf_free(&runtime);
    phx_buf_free(&got);
    phx_signer_close(s);
    phx_rpc_close(rpc);
    if (tmpdir[0] && strcmp(tmpdir + strlen(tmpdir) - 6, "XXXXXX") != 0) {
        char rm[300];
        snprintf(rm, sizeof rm, "rm -rf %s", tmpdir);
        if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    return rc;
}
