/* Chains as a capability (docs/js.md "Chains", docs/sandbox.md "phx.evm"):
 * phx.evm.call/getBalance/getLogs read a named chain, phx.evm.send writes from
 * the contract's own address through a journal, and phx.eth / phx.abi's
 * signature helpers sign and encode with the evm module's code. Everything
 * here runs on the worker side of the sandbox: the contract key never leaves
 * it, and the contract names a chain, never a URL or an RPC method.
 *
 * The send journal (<kv_dir>/evm-journal.sqlite) holds every signed raw
 * transaction before it is broadcast, keyed by the action that made it:
 * (contract, request id, index of the send in the run, chain). A run of the
 * same request again (the job loop re-runs an unfinished job after a crash)
 * finds its action journaled and broadcasts the same bytes; a new action
 * first rebroadcasts the sender's journaled but unconfirmed transactions, then
 * takes nonce = max(node's pending count, last journaled nonce + 1) under the
 * journal's write lock, so nonces have no gap and no action gets two. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "phx/crypto.h"
#include "phx/evm.h"
#include "phx/json.h"

#define CHAIN_NAME_MAX 32
#define LOGS_MAX 1000         /* logs one getLogs may return to a contract */
#define LOG_RANGE_MAX 100000  /* blocks one getLogs may span */
#define CONFIRMATIONS_MAX 64  /* what phx.evm.send may wait for */
#define SEND_RETRIES 5        /* new nonces tried when another writer took ours */
#define BUSY_TIMEOUT_MS 10000 /* waiting for the journal's write lock */
#define CHAIN_TIMEOUT_MS 5000 /* an RPC attempt to a named chain */

struct phx_sandbox_chains {
    int n;
    struct {
        char name[CHAIN_NAME_MAX + 1];
        char *url;
        uint64_t id;
    } c[];
};

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > CHAIN_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return false;
    return true;
}

phx_err_t phx_sandbox_chains_new(const char *const *specs, int n, phx_sandbox_chains_t **out,
                                 phx_error_t *e)
{
    *out = NULL;
    if (n < 0 || n > 64) return phx_fail(e, PHX_ERR_INVALID, "chains: 0..64 of them");
    phx_sandbox_chains_t *c = calloc(1, sizeof *c + (size_t)n * sizeof c->c[0]);
    if (!c) return phx_fail(e, PHX_ERR_NOMEM, "chains");
    phx_err_t err = PHX_OK;
    for (int i = 0; i < n && !err; i++) {
        const char *eq = strchr(specs[i], '=');
        if (!eq || !name_ok(specs[i], (size_t)(eq - specs[i]))) {
            err = phx_fail(e, PHX_ERR_INVALID,
                           "chain \"%.80s\": want NAME=URL, NAME 1..32 of a-z 0-9 _ -", specs[i]);
            break;
        }
        memcpy(c->c[i].name, specs[i], (size_t)(eq - specs[i]));
        for (int j = 0; j < i; j++)
            if (!strcmp(c->c[j].name, c->c[i].name))
                err = phx_fail(e, PHX_ERR_INVALID, "chain %s named twice", c->c[i].name);
        c->n = i + 1;
        if (err || !(c->c[i].url = strdup(eq + 1))) {
            if (!err) err = phx_fail(e, PHX_ERR_NOMEM, "chains");
            break;
        }
        uint64_t want = 0;
        char *hash = strrchr(c->c[i].url, '#');
        if (hash) {
            char *end;
            want = strtoull(hash + 1, &end, 10);
            if (!hash[1] || *end || !want) {
                err =
                    phx_fail(e, PHX_ERR_INVALID, "chain %s: #ID must be a chain id", c->c[i].name);
                break;
            }
            *hash = 0;
        }
        if (strncmp(c->c[i].url, "http://", 7) && strncmp(c->c[i].url, "https://", 8)) {
            err = phx_fail(e, PHX_ERR_INVALID, "chain %s: the URL must be http(s)", c->c[i].name);
            break;
        }
        phx_rpc_t *rpc = NULL;
        phx_rpc_opts_t o = {.timeout_ms = 5000, .retries = 1};
        err = phx_rpc_open(c->c[i].url, &o, &rpc, e);
        if (!err) err = phx_rpc_chain_id(rpc, &c->c[i].id, e);
        if (err && want && phx_rpc_unreachable(rpc)) {
            /* Down now (a worker restarting during an outage): the operator
             * named its id, so start; its sends and triggers wait for it. */
            PHX_WARN("chain %s (%s) does not answer (%s); starting with its given chain id "
                     "%llu",
                     c->c[i].name, c->c[i].url, e->message, (unsigned long long)want);
            c->c[i].id = want;
            err = PHX_OK;
        }
        phx_rpc_close(rpc);
        if (err) {
            phx_error_wrap(e, err, "chain %s (%s): cannot read its chain id", c->c[i].name,
                           c->c[i].url);
            break;
        }
        if (want && want != c->c[i].id)
            err = phx_fail(e, PHX_ERR_INVALID, "chain %s: the node's chain id is %llu, not %llu",
                           c->c[i].name, (unsigned long long)c->c[i].id, (unsigned long long)want);
    }
    if (err) {
        phx_sandbox_chains_free(c);
        return err;
    }
    c->n = n;
    *out = c;
    return PHX_OK;
}

void phx_sandbox_chains_free(phx_sandbox_chains_t *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++)
        free(c->c[i].url);
    free(c);
}

int phx_sandbox_chains_count(const phx_sandbox_chains_t *c)
{
    return c ? c->n : 0;
}
const char *phx_sandbox_chains_name(const phx_sandbox_chains_t *c, int i)
{
    return c && i >= 0 && i < c->n ? c->c[i].name : NULL;
}
const char *phx_sandbox_chains_url(const phx_sandbox_chains_t *c, int i)
{
    return c && i >= 0 && i < c->n ? c->c[i].url : NULL;
}
uint64_t phx_sandbox_chains_id(const phx_sandbox_chains_t *c, int i)
{
    return c && i >= 0 && i < c->n ? c->c[i].id : 0;
}

/* ---- arguments ------------------------------------------------------------------ */

/* The chain the call names, and an RPC client for it whose timeout is what
 * the invocation has left (at most the per-request timeout). */
static phx_err_t open_chain(sbx_host_t *h, const char *op, const json_t *args, int *idx,
                            phx_rpc_t **rpc, phx_error_t *e)
{
    const phx_sandbox_chains_t *c = h->cfg->chains;
    const char *name = json_string_value(json_object_get(args, "chain"));
    if (!c || !c->n) return phx_fail(e, PHX_ERR_UNSUPPORTED, "%s: no chains configured", op);
    if (!name) return phx_fail(e, PHX_ERR_INVALID, "%s: the first argument is a chain name", op);
    *idx = -1;
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->c[i].name, name)) *idx = i;
    if (*idx < 0) {
        phx_buf_t names = PHX_BUF_INIT;
        for (int i = 0; i < c->n; i++)
            phx_buf_printf(&names, "%s%s", i ? ", " : "", c->c[i].name);
        phx_fail(e, PHX_ERR_NOT_FOUND, "%s: no chain named \"%.32s\" (this worker has: %.*s)", op,
                 name, (int)names.len, names.ptr ? (const char *)names.ptr : "");
        phx_buf_free(&names);
        return PHX_ERR_NOT_FOUND;
    }
    if (!sbx_host_count_request(h)) return PHX_ERR_LIMIT;
    uint64_t now = phx_monotonic_ms();
    uint64_t left = h->deadline_ms > now ? h->deadline_ms - now : 1;
    if (left > h->limits->request_timeout_ms) left = h->limits->request_timeout_ms;
    if (left > CHAIN_TIMEOUT_MS) left = CHAIN_TIMEOUT_MS;
    phx_rpc_opts_t o = {.timeout_ms = (unsigned)left, .retries = 1, .retry_delay_ms = 100};
    return phx_rpc_open(c->c[*idx].url, &o, rpc, e);
}

static phx_err_t arg_address(const json_t *args, const char *key, const char *op, uint8_t out[20],
                             phx_error_t *e)
{
    const char *s = json_string_value(json_object_get(args, key));
    if (!s) return phx_fail(e, PHX_ERR_INVALID, "%s: %s must be an address (0x + 40 hex)", op, key);
    phx_err_t err = phx_evm_address_parse(s, out, e);
    return err ? phx_error_wrap(e, err, "%s: %s", op, key) : PHX_OK;
}

/* Optional hex bytes (0x…); absent is empty. */
static phx_err_t arg_hex(const json_t *args, const char *key, const char *op, phx_buf_t *out,
                         phx_error_t *e)
{
    const json_t *v = json_object_get(args, key);
    if (!v || json_is_null(v)) return PHX_OK;
    if (!json_is_string(v)) return phx_fail(e, PHX_ERR_INVALID, "%s: %s must be 0x hex", op, key);
    phx_err_t err = phx_hex_decode(json_string_value(v), out, e);
    return err ? phx_error_wrap(e, err, "%s: %s", op, key) : PHX_OK;
}

/* An unsigned amount: a decimal or 0x string (the prelude turns BigInts and
 * safe integers into decimal text). Absent is def. */
static phx_err_t arg_u256(const json_t *args, const char *key, const char *op, uint64_t def,
                          phx_u256_t *out, phx_error_t *e)
{
    const json_t *v = json_object_get(args, key);
    if (!v || json_is_null(v)) {
        *out = phx_u256_from_u64(def);
        return PHX_OK;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = phx_u256_from_u64((uint64_t)json_integer_value(v));
        return PHX_OK;
    }
    if (!json_is_string(v) || json_string_value(v)[0] == '-')
        return phx_fail(e, PHX_ERR_INVALID, "%s: %s must be a non-negative integer", op, key);
    phx_err_t err = phx_u256_from_str(json_string_value(v), out, e);
    return err ? phx_error_wrap(e, err, "%s: %s", op, key) : PHX_OK;
}

static phx_err_t arg_u64(const json_t *args, const char *key, const char *op, uint64_t def,
                         uint64_t *out, phx_error_t *e)
{
    phx_u256_t u;
    phx_err_t err = arg_u256(args, key, op, def, &u, e);
    if (!err && (err = phx_u256_to_u64(&u, out, e))) phx_error_wrap(e, err, "%s: %s", op, key);
    return err;
}

/* A block tag: "latest" (absent), "pending", "safe", "finalized", "earliest",
 * or a block number (integer, decimal or 0x text). */
static phx_err_t arg_block(const json_t *args, const char *key, const char *op, char out[24],
                           phx_error_t *e)
{
    const json_t *v = json_object_get(args, key);
    const char *s = json_string_value(v);
    static const char *const tags[] = {"latest", "pending", "safe", "finalized", "earliest"};
    if (!v || json_is_null(v)) s = "latest";
    for (size_t i = 0; s && i < sizeof tags / sizeof tags[0]; i++)
        if (!strcmp(s, tags[i])) {
            snprintf(out, 24, "%s", s);
            return PHX_OK;
        }
    uint64_t n;
    phx_err_t err = arg_u64(args, key, op, 0, &n, e);
    if (err)
        return phx_fail(e, PHX_ERR_INVALID,
                        "%s: %s is latest, pending, safe, finalized, earliest or a block number",
                        op, key);
    phx_evm_block_tag(n, out);
    return PHX_OK;
}

/* ---- shaping a node's answers for the contract (fuzzed: fuzz_sandbox_evm) -------- */

static json_t *u256_dec(const phx_u256_t *u)
{
    char d[80];
    phx_u256_to_dec(u, d);
    return json_string(d);
}

static json_t *hash_json(const uint8_t h[32])
{
    return phx_json_hex(h, 32);
}

static json_t *address_json(const uint8_t a[20])
{
    char s[43];
    phx_eth_address_checksum(a, s);
    return json_string(s);
}

static json_t *log_json(const phx_evm_log_t *l)
{
    json_t *topics = json_array();
    for (size_t i = 0; i < l->topic_count; i++)
        json_array_append_new(topics, hash_json(l->topics[i]));
    return json_pack("{s:o,s:o,s:o,s:I,s:o,s:o,s:I,s:I,s:b}", "address", address_json(l->address),
                     "topics", topics, "data", phx_json_hex(l->data, l->data_len), "blockNumber",
                     (json_int_t)l->block_number, "blockHash", hash_json(l->block_hash),
                     "transactionHash", hash_json(l->tx_hash), "transactionIndex",
                     (json_int_t)l->tx_index, "logIndex", (json_int_t)l->log_index, "removed",
                     l->removed);
}

phx_err_t phx_sandbox_evm_shape(const char *op, const json_t *result, json_t **out, phx_error_t *e)
{
    *out = NULL;
    if (!strcmp(op, "evm.call")) {
        phx_buf_t b = PHX_BUF_INIT;
        if (!json_is_string(result) || phx_hex_decode(json_string_value(result), &b, e)) {
            phx_buf_free(&b);
            return phx_fail(e, PHX_ERR_INVALID, "eth_call: the node's answer is not hex data");
        }
        *out = json_pack("{s:o}", "data", phx_json_hex(b.ptr, b.len));
        phx_buf_free(&b);
        return PHX_OK;
    }
    if (!strcmp(op, "evm.getBalance")) {
        phx_u256_t u;
        phx_err_t err = phx_rpc_quantity_u256(result, &u, e);
        if (err) return phx_error_wrap(e, err, "eth_getBalance");
        *out = json_pack("{s:o}", "wei", u256_dec(&u));
        return PHX_OK;
    }
    if (!strcmp(op, "evm.getLogs")) {
        if (!json_is_array(result))
            return phx_fail(e, PHX_ERR_INVALID, "eth_getLogs: the node's answer is not a list");
        if (json_array_size(result) > LOGS_MAX)
            return phx_fail(e, PHX_ERR_LIMIT,
                            "eth_getLogs: more than %d logs; ask for a narrower block range",
                            LOGS_MAX);
        json_t *logs = json_array();
        for (size_t i = 0; i < json_array_size(result); i++) {
            phx_evm_log_t l = {0};
            phx_err_t err = phx_evm_log_from_json(json_array_get(result, i), &l, e);
            if (err) {
                json_decref(logs);
                return phx_error_wrap(e, err, "eth_getLogs: log %zu", i);
            }
            json_array_append_new(logs, log_json(&l));
            phx_evm_log_clear(&l);
        }
        *out = json_pack("{s:o}", "logs", logs);
        return PHX_OK;
    }
    if (!strcmp(op, "evm.receipt")) {
        phx_evm_receipt_t r = {0};
        phx_err_t err = phx_evm_receipt_from_json(result, &r, e);
        if (err) return phx_error_wrap(e, err, "eth_getTransactionReceipt");
        json_t *logs = json_array();
        for (size_t i = 0; i < r.log_count; i++)
            json_array_append_new(logs, log_json(&r.logs[i]));
        *out = json_pack("{s:o,s:s,s:I,s:I,s:o}", "hash", hash_json(r.tx_hash), "status",
                         r.status ? "success" : "reverted", "block", (json_int_t)r.block_number,
                         "gasUsed", (json_int_t)r.gas_used, "logs", logs);
        phx_evm_receipt_clear(&r);
        return PHX_OK;
    }
    return phx_fail(e, PHX_ERR_INVALID, "unknown evm answer %.32s", op);
}

/* ---- reads ------------------------------------------------------------------------ */

static phx_err_t call_shaped(phx_rpc_t *rpc, const char *op, const char *method, json_t *params,
                             json_t **out, phx_error_t *e)
{
    json_t *res = NULL;
    phx_err_t err = phx_rpc_call(rpc, method, params, &res, e);
    if (!err) err = phx_sandbox_evm_shape(op, res, out, e);
    json_decref(res);
    return err;
}

static phx_err_t op_call(sbx_host_t *h, const json_t *args, json_t **out, phx_error_t *e)
{
    const char *op = "phx.evm.call";
    uint8_t to[20], from[20];
    char block[24];
    phx_buf_t data = PHX_BUF_INIT;
    bool has_from = json_object_get(args, "from") != NULL;
    phx_err_t err = arg_address(args, "to", op, to, e);
    if (!err && has_from) err = arg_address(args, "from", op, from, e);
    if (!err) err = arg_hex(args, "data", op, &data, e);
    if (!err) err = arg_block(args, "blockTag", op, block, e);
    int idx;
    phx_rpc_t *rpc = NULL;
    if (!err) err = open_chain(h, op, args, &idx, &rpc, e);
    if (!err) {
        json_t *call = json_pack("{s:o,s:o}", "to", phx_json_hex(to, 20), "data",
                                 phx_json_hex(data.ptr, data.len));
        if (has_from) json_object_set_new(call, "from", phx_json_hex(from, 20));
        err = call_shaped(rpc, "evm.call", "eth_call", json_pack("[o,s]", call, block), out, e);
        if (err == PHX_ERR_REMOTE)
            phx_error_wrap(e, err, "%s on %s", op, h->cfg->chains->c[idx].name);
    }
    phx_rpc_close(rpc);
    phx_buf_free(&data);
    return err;
}

static phx_err_t op_balance(sbx_host_t *h, const json_t *args, json_t **out, phx_error_t *e)
{
    const char *op = "phx.evm.getBalance";
    uint8_t a[20];
    char block[24];
    phx_err_t err = arg_address(args, "address", op, a, e);
    if (!err) err = arg_block(args, "blockTag", op, block, e);
    int idx;
    phx_rpc_t *rpc = NULL;
    if (!err) err = open_chain(h, op, args, &idx, &rpc, e);
    if (!err)
        err = call_shaped(rpc, "evm.getBalance", "eth_getBalance",
                          json_pack("[o,s]", phx_json_hex(a, 20), block), out, e);
    phx_rpc_close(rpc);
    return err;
}

/* filter: {address?: addr | [addr], topics?: [null | topic | [topic]], fromBlock,
 * toBlock?, blockHash?}. Block numbers are bounded to LOG_RANGE_MAX apart. */
static phx_err_t op_logs(sbx_host_t *h, const json_t *args, json_t **out, phx_error_t *e)
{
    const char *op = "phx.evm.getLogs";
    const json_t *f = json_object_get(args, "filter");
    if (!json_is_object(f)) return phx_fail(e, PHX_ERR_INVALID, "%s: the filter is an object", op);
    json_t *q = json_object();
    phx_err_t err = PHX_OK;
    const json_t *addr = json_object_get(f, "address");
    if (addr && !json_is_null(addr)) {
        json_t *list = json_array();
        size_t n = json_is_array(addr) ? json_array_size(addr) : 1;
        for (size_t i = 0; i < n && !err && n <= 32; i++) {
            json_t *one =
                json_pack("{s:O}", "a", json_is_array(addr) ? json_array_get(addr, i) : addr);
            uint8_t a[20];
            err = arg_address(one, "a", op, a, e);
            if (!err) json_array_append_new(list, phx_json_hex(a, 20));
            json_decref(one);
        }
        if (!err && n > 32) err = phx_fail(e, PHX_ERR_INVALID, "%s: at most 32 addresses", op);
        json_object_set_new(q, "address", list);
    }
    const json_t *topics = json_object_get(f, "topics");
    if (!err && topics && !json_is_null(topics)) {
        if (!json_is_array(topics) || json_array_size(topics) > 4)
            err = phx_fail(e, PHX_ERR_INVALID, "%s: topics is a list of at most 4", op);
        json_t *tl = json_array();
        for (size_t i = 0; !err && i < json_array_size(topics); i++) {
            const json_t *t = json_array_get(topics, i);
            if (json_is_null(t)) {
                json_array_append_new(tl, json_null());
                continue;
            }
            json_t *alts = json_array();
            size_t n = json_is_array(t) ? json_array_size(t) : 1;
            for (size_t j = 0; j < n && !err; j++) {
                const char *s = json_string_value(json_is_array(t) ? json_array_get(t, j) : t);
                uint8_t w[32];
                if (!s || phx_hex_decode_fixed(s, w, 32, e))
                    err =
                        phx_fail(e, PHX_ERR_INVALID, "%s: topics[%zu] must be 32-byte hex", op, i);
                else
                    json_array_append_new(alts, hash_json(w));
            }
            json_array_append_new(tl,
                                  json_is_array(t) ? alts : json_incref(json_array_get(alts, 0)));
            if (!json_is_array(t)) json_decref(alts);
        }
        json_object_set_new(q, "topics", tl);
    }
    const json_t *bh = json_object_get(f, "blockHash");
    if (!err && bh) {
        uint8_t w[32];
        if (!json_is_string(bh) || phx_hex_decode_fixed(json_string_value(bh), w, 32, e))
            err = phx_fail(e, PHX_ERR_INVALID, "%s: blockHash must be 32-byte hex", op);
        else
            json_object_set_new(q, "blockHash", hash_json(w));
    }
    int idx;
    phx_rpc_t *rpc = NULL;
    if (!err) err = open_chain(h, op, args, &idx, &rpc, e);
    if (!err && !bh) {
        /* A range the node can answer without a contract asking it for the
         * whole chain: numbers resolved here, at most LOG_RANGE_MAX apart. */
        uint64_t head = 0, from = 0, to = 0;
        err = phx_rpc_block_number(rpc, &head, e);
        const json_t *tb = json_object_get(f, "toBlock");
        if (!err) err = arg_u64(f, "fromBlock", op, head, &from, e);
        if (!err)
            err = (!tb || json_is_null(tb) ||
                   (json_is_string(tb) && !strcmp(json_string_value(tb), "latest")))
                      ? (to = head, PHX_OK)
                      : arg_u64(f, "toBlock", op, head, &to, e);
        if (!err && (to < from || to - from > LOG_RANGE_MAX))
            err = phx_fail(e, PHX_ERR_INVALID,
                           "%s: fromBlock..toBlock must be ascending and at most %d blocks", op,
                           LOG_RANGE_MAX);
        char b1[24], b2[24];
        phx_evm_block_tag(from, b1);
        phx_evm_block_tag(to, b2);
        json_object_set_new(q, "fromBlock", json_string(b1));
        json_object_set_new(q, "toBlock", json_string(b2));
    }
    if (!err) {
        err = call_shaped(rpc, "evm.getLogs", "eth_getLogs", json_pack("[O]", q), out, e);
    }
    json_decref(q);
    phx_rpc_close(rpc);
    return err;
}

/* ---- the send journal ---------------------------------------------------------------- */

static const char journal_schema[] =
    "CREATE TABLE IF NOT EXISTS tx("
    " contract TEXT NOT NULL, request TEXT NOT NULL, seq INTEGER NOT NULL,"
    " chain TEXT NOT NULL, chain_id INTEGER NOT NULL, sender BLOB NOT NULL,"
    " nonce INTEGER NOT NULL, params BLOB NOT NULL, value TEXT NOT NULL,"
    " raw BLOB NOT NULL, hash BLOB NOT NULL,"
    " state TEXT NOT NULL," /* signed, sent, mined, rejected, replaced */
    " created_ms INTEGER NOT NULL,"
    " PRIMARY KEY(contract, request, seq, chain));"
    "CREATE INDEX IF NOT EXISTS tx_sender ON tx(chain_id, sender, nonce);"
    "CREATE TABLE IF NOT EXISTS spend_limit("
    " contract TEXT NOT NULL, chain TEXT NOT NULL, cap TEXT NOT NULL, period_s INTEGER NOT NULL,"
    " nonce INTEGER NOT NULL, proof TEXT, PRIMARY KEY(contract, chain));";

static phx_err_t journal_open(const char *kv_dir, sqlite3 **db, phx_error_t *e)
{
    phx_err_t err = phx_dir_ensure(kv_dir, 0700, e);
    if (err) return err;
    char path[4096];
    snprintf(path, sizeof path, "%s/evm-journal.sqlite", kv_dir);
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        err = phx_fail(e, PHX_ERR_IO, "evm journal %s: %s", path, sqlite3_errmsg(*db));
        sqlite3_close(*db);
        *db = NULL;
        return err;
    }
    sqlite3_busy_timeout(*db, BUSY_TIMEOUT_MS);
    char *msg = NULL;
    if (sqlite3_exec(*db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(*db, journal_schema, NULL, NULL, &msg) != SQLITE_OK) {
        err = phx_fail(e, PHX_ERR_IO, "evm journal %s: %s", path, msg ? msg : sqlite3_errmsg(*db));
        sqlite3_free(msg);
        sqlite3_close(*db);
        *db = NULL;
        return err;
    }
    /* A journal from before limits kept the owner's proof: add the column. */
    sqlite3_stmt *probe = NULL;
    if (sqlite3_prepare_v2(*db, "SELECT proof FROM spend_limit LIMIT 0", -1, &probe, NULL) !=
            SQLITE_OK &&
        sqlite3_exec(*db, "ALTER TABLE spend_limit ADD COLUMN proof TEXT", NULL, NULL, NULL) !=
            SQLITE_OK) {
        err = phx_fail(e, PHX_ERR_IO, "evm journal %s: %s", path, sqlite3_errmsg(*db));
        sqlite3_close(*db);
        *db = NULL;
    }
    sqlite3_finalize(probe);
    return err;
}

static phx_err_t exec(sqlite3 *db, const char *sql, phx_error_t *e)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK
               ? PHX_OK
               : phx_fail(e, PHX_ERR_IO, "evm journal: %s", sqlite3_errmsg(db));
}

phx_err_t phx_sandbox_spend_limit_set(const char *kv_dir, const char *contract_id,
                                      const char *chain, const char *cap_wei, uint64_t period_s,
                                      uint64_t nonce, const char *proof, phx_error_t *e)
{
    phx_u256_t cap;
    phx_err_t err = phx_u256_from_str(cap_wei, &cap, e);
    if (err) return phx_error_wrap(e, err, "spending limit");
    if (nonce > INT64_MAX) return phx_fail(e, PHX_ERR_INVALID, "spending limit: nonce");
    if (!name_ok(chain, strlen(chain)) || period_s == 0 || period_s > 366ull * 86400)
        return phx_fail(e, PHX_ERR_INVALID,
                        "spending limit: a chain name and a period of 1 s .. 366 days");
    sqlite3 *db = NULL;
    if ((err = journal_open(kv_dir, &db, e))) return err;
    sqlite3_stmt *st = NULL;
    char dec[80];
    phx_u256_to_dec(&cap, dec);
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO spend_limit(contract, chain, cap, period_s, nonce, proof)"
                           " VALUES(?,?,?,?,?,?) ON CONFLICT(contract, chain) DO UPDATE SET"
                           " cap=excluded.cap, period_s=excluded.period_s, nonce=excluded.nonce,"
                           " proof=excluded.proof WHERE excluded.nonce > spend_limit.nonce",
                           -1, &st, NULL) != SQLITE_OK) {
        err = phx_fail(e, PHX_ERR_IO, "spending limit: %s", sqlite3_errmsg(db));
    } else {
        sqlite3_bind_text(st, 1, contract_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, chain, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, dec, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)period_s);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)nonce);
        if (proof)
            sqlite3_bind_text(st, 6, proof, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 6);
        if (sqlite3_step(st) != SQLITE_DONE)
            err = phx_fail(e, PHX_ERR_IO, "spending limit: %s", sqlite3_errmsg(db));
        else if (sqlite3_changes(db) == 0)
            err = phx_fail(e, PHX_ERR_VERIFY,
                           "spending limit: a limit with this nonce or a newer one is held for %s",
                           chain);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return err;
}

/* Over the owner's cap (or no cap set, for a value above 0): *over is set and
 * why says so. Counts every journaled send of the window except rejected and
 * replaced ones (a transaction that may still land is money that may move). */
static phx_err_t spend_check(sqlite3 *db, const char *contract, const char *chain,
                             const phx_u256_t *value, bool *over, char why[200], phx_error_t *e)
{
    *over = false;
    if (phx_u256_is_zero(value)) return PHX_OK;
    sqlite3_stmt *st = NULL;
    phx_err_t err = PHX_OK;
    phx_u256_t cap = phx_u256_from_u64(0);
    int64_t period = 0;
    if (sqlite3_prepare_v2(db, "SELECT cap, period_s FROM spend_limit WHERE contract=? AND chain=?",
                           -1, &st, NULL) != SQLITE_OK)
        return phx_fail(e, PHX_ERR_IO, "evm journal: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, contract, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, chain, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        err = phx_u256_from_str((const char *)sqlite3_column_text(st, 0), &cap, e);
        period = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (err) return err;
    if (period == 0) {
        *over = true;
        snprintf(why, 200, "no spending limit is set for chain %s: only value 0 may be sent",
                 chain);
        return PHX_OK;
    }
    phx_u256_t spent = phx_u256_from_u64(0);
    if (sqlite3_prepare_v2(db,
                           "SELECT value FROM tx WHERE contract=? AND chain=? AND created_ms>=?"
                           " AND state NOT IN ('rejected','replaced')",
                           -1, &st, NULL) != SQLITE_OK)
        return phx_fail(e, PHX_ERR_IO, "evm journal: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, contract, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, chain, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)(phx_now_ms() - (uint64_t)period * 1000));
    while (!err && sqlite3_step(st) == SQLITE_ROW) {
        phx_u256_t v;
        if (!(err = phx_u256_from_str((const char *)sqlite3_column_text(st, 0), &v, e)))
            spent = phx_u256_add(&spent, &v);
    }
    sqlite3_finalize(st);
    if (err) return err;
    *over = phx_evm_spend_over(&cap, &spent, value, chain, (uint64_t)period, "", why, 200);
    return PHX_OK;
}

/* The journaled action (contract, request, seq, chain), if any. */
typedef struct {
    bool found;
    uint8_t params[32], hash[32];
    phx_buf_t raw;
    char state[16];
    uint64_t nonce;
} row_t;

static phx_err_t row_get(sqlite3 *db, const char *contract, const char *request, uint32_t seq,
                         const char *chain, row_t *r, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT params, raw, hash, state, nonce FROM tx WHERE contract=? AND "
                           "request=? AND seq=? AND chain=?",
                           -1, &st, NULL) != SQLITE_OK)
        return phx_fail(e, PHX_ERR_IO, "evm journal: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, contract, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, request, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, seq);
    sqlite3_bind_text(st, 4, chain, -1, SQLITE_STATIC);
    r->found = false;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32 &&
        sqlite3_column_bytes(st, 2) == 32) {
        r->found = true;
        memcpy(r->params, sqlite3_column_blob(st, 0), 32);
        phx_buf_reset(&r->raw);
        phx_buf_append(&r->raw, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
        memcpy(r->hash, sqlite3_column_blob(st, 2), 32);
        snprintf(r->state, sizeof r->state, "%s", (const char *)sqlite3_column_text(st, 3));
        r->nonce = (uint64_t)sqlite3_column_int64(st, 4);
    }
    sqlite3_finalize(st);
    return PHX_OK;
}

static phx_err_t set_state(sqlite3 *db, const uint8_t hash[32], const char *state, phx_error_t *e)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "UPDATE tx SET state=? WHERE hash=?", -1, &st, NULL) != SQLITE_OK)
        return phx_fail(e, PHX_ERR_IO, "evm journal: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
    phx_err_t err = sqlite3_step(st) == SQLITE_DONE
                        ? PHX_OK
                        : phx_fail(e, PHX_ERR_IO, "evm journal: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return err;
}

/* Test hook (tests/js/test_evm_send.sh): die right after the journal commit
 * or right after the broadcast, as a worker killed there would. */
static void crash_point(const char *where)
{
    const char *w = getenv("PHX_TEST_EVM_CRASH");
    if (w && !strcmp(w, where)) _exit(137);
}

/* Broadcast raw bytes; a node that already has them (or has mined them) is
 * success. A node's definite refusal is PHX_ERR_REMOTE with its message. */
static phx_err_t broadcast(phx_rpc_t *rpc, const phx_buf_t *raw, const uint8_t hash[32],
                           phx_error_t *e)
{
    uint8_t got[32];
    phx_error_t se = {0};
    phx_err_t err = phx_rpc_send_raw_transaction(rpc, raw->ptr, raw->len, got, &se);
    if (!err) return PHX_OK;
    bool found = false;
    phx_evm_tx_t tx = {0};
    phx_error_t ge = {0};
    if (!phx_rpc_get_transaction(rpc, hash, &tx, &found, &ge) && found) {
        phx_evm_tx_clear(&tx);
        return PHX_OK;
    }
    *e = se;
    return err;
}

static void action_name(char *out, size_t cap, const char *request, uint32_t seq, const char *chain)
{
    snprintf(out, cap, "%s/%u/%s", request, seq, chain);
}

/* The owner's signed limit for contract on chain as the worker was given it
 * (phx_sandbox_spend_limit_set's proof), for the outbox to check itself; NULL
 * when none is held. */
static json_t *limit_proof(sqlite3 *db, const char *contract, const char *chain)
{
    sqlite3_stmt *st = NULL;
    json_t *j = NULL;
    if (sqlite3_prepare_v2(db, "SELECT proof FROM spend_limit WHERE contract=? AND chain=?", -1,
                           &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, contract, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, chain, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT)
        j = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_finalize(st);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* With an outbox (the KMS, across workers): the action's transaction is the
 * one it holds. Ours is replaced by it in the journal when another worker's
 * came first; PHX_ERR_STATE with *next when another action holds our nonce
 * (the row is then marked replaced); PHX_ERR_LIMIT when the action would pass
 * the owner's cap over what all workers sent (the row is marked replaced: it
 * is never broadcast). Without one: ours, as journaled. */
static phx_err_t agree(sbx_host_t *h, sqlite3 *db, const char *contract, const char *action,
                       const char *chain, phx_buf_t *raw, uint8_t hash[32], uint64_t *next,
                       phx_error_t *e)
{
    if (!h->cfg->outbox) return PHX_OK;
    json_t *a = NULL, *limit = limit_proof(db, contract, chain);
    phx_err_t err = h->cfg->outbox(h->cfg->outbox_ctx, contract, action, chain, limit, raw->ptr,
                                   raw->len, false, &a, e);
    json_decref(limit);
    if (err) return phx_error_wrap(e, err, "phx.evm.send: the outbox");
    const char *refused = json_string_value(json_object_get(a, "refused"));
    if (refused) {
        const char *why = json_string_value(json_object_get(a, "message"));
        err = !strcmp(refused, "spend_limit")
                  ? phx_fail(e, PHX_ERR_LIMIT, "%s", why ? why : "over the owner's spending cap")
                  : phx_fail(e, PHX_ERR_REMOTE, "phx.evm.send: the outbox refused it (%.60s)",
                             refused);
        json_decref(a);
        set_state(db, hash, "replaced", NULL);
        return err;
    }
    if (json_is_true(json_object_get(a, "taken"))) {
        json_int_t n = json_integer_value(json_object_get(a, "next_nonce"));
        *next = n > 0 ? (uint64_t)n : 0;
        json_decref(a);
        set_state(db, hash, "replaced", NULL);
        return phx_fail(e, PHX_ERR_STATE, "phx.evm.send: the nonce was taken by another action");
    }
    phx_buf_t canon = PHX_BUF_INIT;
    phx_evm_tx_t tx = {0};
    uint8_t ch[32];
    if ((err = phx_json_get_hex(a, "raw", &canon, e)) ||
        (err = phx_evm_tx_decode(canon.ptr, canon.len, &tx, e)) ||
        (err = phx_evm_tx_hash(&tx, ch, e))) {
        phx_error_wrap(e, err, "phx.evm.send: the outbox's answer");
    } else if (memcmp(ch, hash, 32)) {
        /* Another worker journaled this action first: broadcast its bytes. */
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "UPDATE tx SET raw=?, hash=?, nonce=? WHERE hash=?", -1, &st,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_blob(st, 1, canon.ptr, (int)canon.len, SQLITE_STATIC);
            sqlite3_bind_blob(st, 2, ch, 32, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, (sqlite3_int64)tx.nonce);
            sqlite3_bind_blob(st, 4, hash, 32, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE)
                err = phx_fail(e, PHX_ERR_IO, "evm journal: %s", sqlite3_errmsg(db));
        }
        sqlite3_finalize(st);
        if (!err) {
            phx_buf_reset(raw);
            phx_buf_append(raw, canon.ptr, canon.len);
            memcpy(hash, ch, 32);
        }
    }
    phx_evm_tx_clear(&tx);
    phx_buf_free(&canon);
    json_decref(a);
    return err;
}

/* Rebroadcast the sender's journaled transactions that were signed but not
 * seen sent (a crash between journal and broadcast), lowest nonce first,
 * each agreed with the outbox first when there is one. */
static void flush_unsent(sbx_host_t *h, sqlite3 *db, phx_rpc_t *rpc, uint64_t chain_id,
                         const uint8_t sender[20])
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT raw, hash, contract, request, seq, chain FROM tx WHERE"
                           " chain_id=? AND sender=? AND state='signed' ORDER BY nonce",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)chain_id);
    sqlite3_bind_blob(st, 2, sender, 20, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        phx_buf_t raw = PHX_BUF_INIT;
        uint8_t hash[32];
        uint64_t next = 0;
        if (sqlite3_column_bytes(st, 1) != 32) continue;
        memcpy(hash, sqlite3_column_blob(st, 1), 32);
        phx_buf_append(&raw, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        char action[400];
        action_name(action, sizeof action, (const char *)sqlite3_column_text(st, 3),
                    (uint32_t)sqlite3_column_int64(st, 4),
                    (const char *)sqlite3_column_text(st, 5));
        phx_error_t e = {0};
        if (!agree(h, db, (const char *)sqlite3_column_text(st, 2), action,
                   (const char *)sqlite3_column_text(st, 5), &raw, hash, &next, &e) &&
            !broadcast(rpc, &raw, hash, &e))
            set_state(db, hash, "sent", &e);
        phx_buf_free(&raw);
    }
    sqlite3_finalize(st);
}

/* At pool start (a worker or phx run starting again after a crash): every
 * sender's journaled transactions that were signed but never seen sent are
 * broadcast now, so they do not wait for their request to run again. */
phx_err_t sbx_evm_recover(const phx_sandbox_config_t *cfg, phx_error_t *e)
{
    const phx_sandbox_chains_t *c = cfg->chains;
    if (!c || !c->n) return PHX_OK;
    char path[4096];
    snprintf(path, sizeof path, "%s/evm-journal.sqlite", cfg->kv_dir);
    if (access(path, F_OK) != 0) return PHX_OK;
    sqlite3 *db = NULL;
    phx_err_t err = journal_open(cfg->kv_dir, &db, e);
    if (err) return err;
    sbx_host_t h = {.cfg = cfg};
    for (int i = 0; i < c->n; i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db,
                               "SELECT DISTINCT sender FROM tx WHERE chain_id=? AND chain=? AND"
                               " state='signed'",
                               -1, &st, NULL) != SQLITE_OK)
            continue;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)c->c[i].id);
        sqlite3_bind_text(st, 2, c->c[i].name, -1, SQLITE_STATIC);
        phx_rpc_t *rpc = NULL;
        phx_rpc_opts_t o = {.timeout_ms = 5000, .retries = 1};
        while (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 20) {
            uint8_t sender[20];
            memcpy(sender, sqlite3_column_blob(st, 0), 20);
            if (!rpc && phx_rpc_open(c->c[i].url, &o, &rpc, NULL)) break;
            if (exec(db, "BEGIN IMMEDIATE", NULL)) break;
            flush_unsent(&h, db, rpc, c->c[i].id, sender);
            exec(db, "COMMIT", NULL);
        }
        sqlite3_finalize(st);
        phx_rpc_close(rpc);
    }
    sqlite3_close(db);
    return PHX_OK;
}

static phx_err_t next_nonce(sqlite3 *db, phx_rpc_t *rpc, uint64_t chain_id,
                            const uint8_t sender[20], uint64_t floor, uint64_t *out, phx_error_t *e)
{
    uint64_t pending;
    phx_err_t err = phx_rpc_get_transaction_count(rpc, sender, "pending", &pending, e);
    if (err) return err;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT max(nonce) FROM tx WHERE chain_id=? AND sender=? AND state NOT"
                           " IN ('rejected','replaced')",
                           -1, &st, NULL) != SQLITE_OK)
        return phx_fail(e, PHX_ERR_IO, "evm journal: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, (sqlite3_int64)chain_id);
    sqlite3_bind_blob(st, 2, sender, 20, SQLITE_STATIC);
    *out = pending > floor ? pending : floor;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        uint64_t j = (uint64_t)sqlite3_column_int64(st, 0) + 1;
        if (j > *out) *out = j;
    }
    sqlite3_finalize(st);
    return PHX_OK;
}

/* Fees for a new EIP-1559 transaction: tip = eth_maxPriorityFeePerGas, cap =
 * 2 x eth_gasPrice + tip (room for the base fee to double before it lands). */
static phx_err_t fees(phx_rpc_t *rpc, phx_u256_t *tip, phx_u256_t *cap, phx_error_t *e)
{
    phx_u256_t gp;
    phx_err_t err = phx_rpc_gas_price(rpc, &gp, e);
    if (!err && phx_rpc_max_priority_fee(rpc, tip, NULL)) *tip = phx_u256_from_u64(1000000000);
    if (!err) {
        phx_u256_t two = phx_u256_mul_u64(&gp, 2);
        *cap = phx_u256_add(&two, tip);
    }
    return err;
}

static phx_err_t op_send(sbx_host_t *h, const json_t *args, json_t **out, phx_error_t *e)
{
    const char *op = "phx.evm.send";
    uint8_t to[20], sk[32], sender[20], params[32];
    phx_buf_t data = PHX_BUF_INIT;
    phx_u256_t value;
    uint64_t gas = 0, confirmations = 1;
    uint32_t seq = h->evm_sends++;
    phx_err_t err = arg_address(args, "to", op, to, e);
    if (!err) err = arg_hex(args, "data", op, &data, e);
    if (!err) err = arg_u256(args, "value", op, 0, &value, e);
    if (!err) err = arg_u64(args, "gas", op, 0, &gas, e);
    if (!err) err = arg_u64(args, "confirmations", op, 1, &confirmations, e);
    if (!err && (confirmations > CONFIRMATIONS_MAX || gas > 30000000))
        err = phx_fail(e, PHX_ERR_INVALID, "%s: confirmations 0..%d, gas at most 30000000", op,
                       CONFIRMATIONS_MAX);
    int idx = -1;
    phx_rpc_t *rpc = NULL;
    sqlite3 *db = NULL;
    row_t row = {.raw = PHX_BUF_INIT};
    if (!err) err = open_chain(h, op, args, &idx, &rpc, e);
    if (!err) err = sbx_host_keys(h, e);
    if (err) goto out;
    memcpy(sk, h->sk, 32);
    if ((err = phx_eth_address_from_seckey(sk, sender))) {
        phx_fail(e, err, "%s: the contract key", op);
        goto out;
    }
    const char *chain = h->cfg->chains->c[idx].name;
    uint64_t chain_id = h->cfg->chains->c[idx].id;
    {
        /* What the action asks for: the same action run again must ask the same. */
        phx_buf_t p = PHX_BUF_INIT;
        char v[80];
        phx_u256_to_dec(&value, v);
        phx_buf_printf(&p, "%s|%llu|%s|%llu|", chain, (unsigned long long)chain_id, v,
                       (unsigned long long)gas);
        phx_buf_append(&p, to, 20);
        if (data.len) phx_buf_append(&p, data.ptr, data.len);
        phx_keccak256(p.ptr, p.len, params);
        phx_buf_free(&p);
    }
    if ((err = journal_open(h->cfg->kv_dir, &db, e))) goto out;
    char action[400];
    action_name(action, sizeof action, h->request_id, seq, chain);
    uint64_t floor = 0; /* the outbox's next free nonce after ours was taken */
    for (int attempt = 0;; attempt++) {
        /* BEGIN IMMEDIATE: one writer of this journal at a time, across the
         * worker's threads and processes. */
        if ((err = exec(db, "BEGIN IMMEDIATE", e))) goto out;
        if ((err = row_get(db, h->contract_id, h->request_id, seq, chain, &row, e))) break;
        if (row.found && !strcmp(row.state, "replaced")) {
            /* Another writer took this action's nonce before it was sent: the
             * action gets a new transaction (the old one can never land). */
            sqlite3_stmt *st = NULL;
            if (sqlite3_prepare_v2(db,
                                   "DELETE FROM tx WHERE contract=? AND request=? AND seq=? AND "
                                   "chain=? AND state='replaced'",
                                   -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, h->contract_id, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, h->request_id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 3, seq);
                sqlite3_bind_text(st, 4, chain, -1, SQLITE_STATIC);
                sqlite3_step(st);
            }
            sqlite3_finalize(st);
            row.found = false;
        }
        if (row.found) {
            if (memcmp(row.params, params, 32)) {
                err = phx_fail(e, PHX_ERR_STATE,
                               "%s: send #%u of request %s was journaled with other parameters "
                               "(a contract must ask for the same transactions when run again)",
                               op, seq, h->request_id);
                break;
            }
            if (!strcmp(row.state, "rejected")) {
                err =
                    phx_fail(e, PHX_ERR_REMOTE, "%s: the node refused this transaction before", op);
                break;
            }
            exec(db, "COMMIT", e);
        } else {
            bool over = false;
            char why[200];
            if ((err = spend_check(db, h->contract_id, chain, &value, &over, why, e))) break;
            if (over) {
                exec(db, "ROLLBACK", e);
                sbx_host_fatal(h, PHX_SBX_FAIL_SPEND_LIMIT, why);
                err = phx_fail(e, PHX_ERR_LIMIT, "%s", why);
                goto out;
            }
            flush_unsent(h, db, rpc, chain_id, sender);
            phx_evm_tx_t tx = {.type = PHX_TX_EIP1559,
                               .chain_id = chain_id,
                               .has_to = true,
                               .value = value,
                               .data = data.ptr,
                               .data_len = data.len};
            memcpy(tx.to, to, 20);
            if ((err = next_nonce(db, rpc, chain_id, sender, floor, &tx.nonce, e))) break;
            if ((err = fees(rpc, &tx.max_priority_fee, &tx.max_fee, e))) break;
            if (!gas) {
                phx_evm_call_t c = {.has_from = true,
                                    .has_to = true,
                                    .data = data.ptr,
                                    .data_len = data.len,
                                    .value = value};
                memcpy(c.from, sender, 20);
                memcpy(c.to, to, 20);
                if ((err = phx_rpc_estimate_gas(rpc, &c, &gas, e))) {
                    phx_error_wrap(e, err, "%s: estimating gas (give gas to skip)", op);
                    break;
                }
                gas += gas / 4;
            }
            tx.gas_limit = phx_u256_from_u64(gas);
            phx_buf_reset(&row.raw);
            if ((err = phx_evm_tx_sign(&tx, sk, e)) ||
                (err = phx_evm_tx_encode(&tx, &row.raw, e)) ||
                (err = phx_evm_tx_hash(&tx, row.hash, e)))
                break;
            sqlite3_stmt *st = NULL;
            char v[80];
            phx_u256_to_dec(&value, v);
            if (sqlite3_prepare_v2(db,
                                   "INSERT INTO tx(contract, request, seq, chain, chain_id, sender,"
                                   " nonce, params, value, raw, hash, state, created_ms)"
                                   " VALUES(?,?,?,?,?,?,?,?,?,?,?,'signed',?)",
                                   -1, &st, NULL) != SQLITE_OK) {
                err = phx_fail(e, PHX_ERR_IO, "evm journal: %s", sqlite3_errmsg(db));
                break;
            }
            sqlite3_bind_text(st, 1, h->contract_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, h->request_id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, seq);
            sqlite3_bind_text(st, 4, chain, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 5, (sqlite3_int64)chain_id);
            sqlite3_bind_blob(st, 6, sender, 20, SQLITE_STATIC);
            sqlite3_bind_int64(st, 7, (sqlite3_int64)tx.nonce);
            sqlite3_bind_blob(st, 8, params, 32, SQLITE_STATIC);
            sqlite3_bind_text(st, 9, v, -1, SQLITE_STATIC);
            sqlite3_bind_blob(st, 10, row.raw.ptr, (int)row.raw.len, SQLITE_STATIC);
            sqlite3_bind_blob(st, 11, row.hash, 32, SQLITE_STATIC);
            sqlite3_bind_int64(st, 12, (sqlite3_int64)phx_now_ms());
            int rc = sqlite3_step(st);
            sqlite3_finalize(st);
            if (rc != SQLITE_DONE) {
                err = phx_fail(e, PHX_ERR_IO, "evm journal: %s", sqlite3_errmsg(db));
                break;
            }
            if ((err = exec(db, "COMMIT", e))) goto out;
            snprintf(row.state, sizeof row.state, "signed");
            crash_point("journal");
        }
        if (!strcmp(row.state, "signed")) {
            uint64_t next = 0;
            err = agree(h, db, h->contract_id, action, chain, &row.raw, row.hash, &next, e);
            if (err == PHX_ERR_STATE && attempt + 1 < SEND_RETRIES) {
                floor = next; /* another action holds our nonce: sign again above it */
                err = PHX_OK;
                continue;
            }
            if (err == PHX_ERR_LIMIT) /* over the cap, counted across all workers */
                sbx_host_fatal(h, PHX_SBX_FAIL_SPEND_LIMIT, e->message);
            if (err) goto out;
            phx_error_t be = {0};
            err = broadcast(rpc, &row.raw, row.hash, &be);
            if (err == PHX_ERR_REMOTE && h->cfg->outbox) {
                /* The node refused what the outbox holds: it can never land,
                 * so the action is forgotten there too and may sign again. */
                json_t *a = NULL;
                phx_error_t re = {0};
                if (!h->cfg->outbox(h->cfg->outbox_ctx, h->contract_id, action, chain, NULL,
                                    row.raw.ptr, row.raw.len, true, &a, &re))
                    json_decref(a);
            }
            if (err == PHX_ERR_REMOTE && strstr(be.message, "nonce too low") &&
                attempt + 1 < SEND_RETRIES) {
                /* Another writer used the nonce (a worker on another host): this
                 * transaction can never land; sign the action again. */
                set_state(db, row.hash, "replaced", e);
                err = PHX_OK;
                continue;
            }
            if (err == PHX_ERR_REMOTE) {
                set_state(db, row.hash, "rejected", e);
                *e = be;
                phx_error_wrap(e, err, "%s on %s: the node refused the transaction", op, chain);
                goto out;
            }
            if (err) { /* not reached: stays journaled, sent again later */
                *e = be;
                goto out;
            }
            crash_point("broadcast");
            if ((err = set_state(db, row.hash, "sent", e))) goto out;
        }
        break;
    }
    if (err) {
        exec(db, "ROLLBACK", NULL);
        goto out;
    }
    {
        uint64_t now = phx_monotonic_ms();
        uint64_t left = h->deadline_ms > now + 200 ? h->deadline_ms - now - 200 : 1;
        phx_evm_receipt_t r = {0};
        err = phx_rpc_wait_receipt(rpc, row.hash, confirmations, left, 100, &r, e);
        if (err == PHX_ERR_TIMEOUT) {
            char hx[67];
            hx[0] = '0', hx[1] = 'x';
            phx_hex_encode_to(hx + 2, row.hash, 32);
            phx_fail(e, PHX_ERR_TIMEOUT,
                     "%s: %s was sent but not confirmed within the invocation's time; it stays "
                     "journaled and a run of the same request waits for it again",
                     op, hx);
            goto out;
        }
        if (err) goto out;
        set_state(db, row.hash, "mined", NULL);
        char from[43];
        phx_eth_address_checksum(sender, from);
        *out = json_pack("{s:o,s:s,s:I,s:s,s:I}", "hash", hash_json(row.hash), "status",
                         r.status ? "success" : "reverted", "block", (json_int_t)r.block_number,
                         "from", from, "gasUsed", (json_int_t)r.gas_used);
        phx_evm_receipt_clear(&r);
    }
out:
    if (err && idx >= 0 && phx_rpc_unreachable(rpc)) {
        /* The chain did not answer: whether the action is on it is unknown
         * (it stays journaled), so the run must not end as if it had failed
         * there; it ends as chain_unavailable, which a trigger's firing waits
         * out and runs again (docs/js.md "Chains"). */
        char why[400];
        snprintf(why, sizeof why, "%s: chain %s does not answer: %s", op,
                 h->cfg->chains->c[idx].name, e->message);
        sbx_host_fatal(h, PHX_SBX_FAIL_CHAIN_UNAVAILABLE, why);
    }
    phx_secure_zero(sk, sizeof sk);
    phx_buf_free(&row.raw);
    phx_buf_free(&data);
    if (db) sqlite3_close(db);
    phx_rpc_close(rpc);
    return err;
}

/* ---- helpers: phx.eth.signTransaction / signTypedData, phx.abi by signature ------- */

static phx_err_t tx_field_u256(const json_t *tx, const char *key, bool need, phx_u256_t *out,
                               phx_error_t *e)
{
    if (need && !json_object_get(tx, key))
        return phx_fail(e, PHX_ERR_INVALID, "phx.eth.signTransaction: %s is required", key);
    return arg_u256(tx, key, "phx.eth.signTransaction", 0, out, e);
}

static phx_err_t op_sign_tx(sbx_host_t *h, const json_t *args, json_t **out, phx_error_t *e)
{
    const char *op = "phx.eth.signTransaction";
    const json_t *j = json_object_get(args, "tx");
    if (!json_is_object(j))
        return phx_fail(e, PHX_ERR_INVALID, "%s: the transaction is an object", op);
    phx_evm_tx_t tx = {0};
    phx_buf_t data = PHX_BUF_INIT, raw = PHX_BUF_INIT;
    phx_u256_t gas;
    uint64_t type = 0;
    bool legacy = json_object_get(j, "gasPrice") != NULL;
    phx_err_t err = arg_u64(j, "type", op, legacy ? 0 : 2, &type, e);
    if (!err && type != 0 && type != 2)
        err = phx_fail(e, PHX_ERR_UNSUPPORTED, "%s: type 0 (legacy) or 2 (EIP-1559)", op);
    tx.type = type == 2 ? PHX_TX_EIP1559 : PHX_TX_LEGACY;
    if (!err) err = arg_u64(j, "chainId", op, 0, &tx.chain_id, e);
    if (!err && !json_object_get(j, "chainId"))
        err = phx_fail(e, PHX_ERR_INVALID, "%s: chainId is required", op);
    if (!err) err = phx_evm_chain_id_check(tx.chain_id, e);
    if (!err && !json_object_get(j, "nonce"))
        err = phx_fail(e, PHX_ERR_INVALID, "%s: nonce is required", op);
    if (!err) err = arg_u64(j, "nonce", op, 0, &tx.nonce, e);
    const json_t *gl =
        json_object_get(j, "gasLimit") ? json_object_get(j, "gasLimit") : json_object_get(j, "gas");
    if (!err && !gl) err = phx_fail(e, PHX_ERR_INVALID, "%s: gasLimit (or gas) is required", op);
    if (!err) {
        json_t *g = json_pack("{s:O}", "gasLimit", gl);
        err = arg_u256(g, "gasLimit", op, 0, &gas, e);
        json_decref(g);
        tx.gas_limit = gas;
    }
    if (!err && tx.type == PHX_TX_LEGACY)
        err = tx_field_u256(j, "gasPrice", true, &tx.gas_price, e);
    if (!err && tx.type == PHX_TX_EIP1559) {
        err = tx_field_u256(j, "maxFeePerGas", true, &tx.max_fee, e);
        if (!err) err = tx_field_u256(j, "maxPriorityFeePerGas", true, &tx.max_priority_fee, e);
    }
    if (!err) err = arg_u256(j, "value", op, 0, &tx.value, e);
    if (!err) err = arg_hex(j, "data", op, &data, e);
    const json_t *al = json_object_get(j, "accessList");
    if (!err && al && json_array_size(al))
        err = phx_fail(e, PHX_ERR_UNSUPPORTED, "%s: access lists are not supported", op);
    const json_t *to = json_object_get(j, "to");
    if (!err && to && !json_is_null(to)) {
        tx.has_to = true;
        err = arg_address(j, "to", op, tx.to, e);
    }
    tx.data = data.ptr;
    tx.data_len = data.len;
    uint8_t hash[32];
    if (!err) err = sbx_host_keys(h, e);
    if (!err) err = phx_evm_tx_sign(&tx, h->sk, e);
    if (!err) err = phx_evm_tx_encode(&tx, &raw, e);
    if (!err) err = phx_evm_tx_hash(&tx, hash, e);
    if (!err)
        *out =
            json_pack("{s:o,s:o}", "raw", phx_json_hex(raw.ptr, raw.len), "hash", hash_json(hash));
    phx_buf_free(&raw);
    phx_buf_free(&data);
    return err;
}

static phx_err_t op_sign_typed(sbx_host_t *h, const json_t *args, json_t **out, phx_error_t *e)
{
    const json_t *domain = json_object_get(args, "domain"), *types = json_object_get(args, "types"),
                 *msg = json_object_get(args, "message");
    if (!json_is_object(domain) || !json_is_object(types) || !json_is_object(msg))
        return phx_fail(e, PHX_ERR_INVALID,
                        "phx.eth.signTypedData: domain, types and message are objects");
    /* The primary type, as ethers finds it: the one type no other type uses. */
    const char *primary = json_string_value(json_object_get(args, "primaryType"));
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)types, k, v)
    {
        if (primary || !strcmp(k, "EIP712Domain")) continue;
        bool used = false;
        const char *k2;
        const json_t *v2;
        json_object_foreach((json_t *)types, k2, v2)
        {
            for (size_t i = 0; i < json_array_size(v2); i++) {
                const char *t = json_string_value(json_object_get(json_array_get(v2, i), "type"));
                size_t n = strlen(k);
                if (t && !strncmp(t, k, n) && (t[n] == 0 || t[n] == '[')) used = true;
            }
        }
        if (!used) primary = k;
    }
    if (!primary) return phx_fail(e, PHX_ERR_INVALID, "phx.eth.signTypedData: no primary type");
    json_t *typed = json_pack("{s:O,s:s,s:O,s:O}", "types", types, "primaryType", primary, "domain",
                              domain, "message", msg);
    uint8_t sig[65], digest[32];
    phx_err_t err = sbx_host_keys(h, e);
    if (!err) err = phx_eip712_digest(typed, digest, e);
    if (!err) err = phx_eip712_sign(typed, h->sk, sig, e);
    json_decref(typed);
    if (err) return phx_error_wrap(e, err, "phx.eth.signTypedData");
    *out = json_pack("{s:o,s:o}", "signature", phx_json_hex(sig, 65), "digest", hash_json(digest));
    return PHX_OK;
}

/* Decoded values for the prelude: integers as {"$big": "decimal"} so they
 * become BigInts, as phx.abi.decode gives them; the rest as the JSON bridge. */
static json_t *mark_ints(const phx_abi_type_t *t, json_t *j)
{
    if (t->kind == PHX_ABI_UINT || t->kind == PHX_ABI_INT) {
        json_t *m = json_pack("{s:O}", "$big", j);
        json_decref(j);
        return m;
    }
    if ((t->kind == PHX_ABI_TUPLE || t->kind == PHX_ABI_ARRAY || t->kind == PHX_ABI_SLICE) &&
        json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            const phx_abi_type_t *c = t->kind == PHX_ABI_TUPLE ? t->children[i] : t->children[0];
            json_array_set_new(j, i, mark_ints(c, json_incref(json_array_get(j, i))));
        }
    }
    return j;
}

static phx_err_t op_abi(const char *op, const json_t *args, json_t **out, phx_error_t *e)
{
    const char *sig = json_string_value(json_object_get(args, "sig"));
    if (!sig || strlen(sig) > 4096)
        return phx_fail(e, PHX_ERR_INVALID, "phx.abi: the signature is a string (at most 4096)");
    phx_err_t err;
    if (!strcmp(op, "abi.selector")) {
        uint8_t s[4];
        if ((err = phx_abi_selector(sig, s, e))) return phx_error_wrap(e, err, "phx.abi.selector");
        *out = json_pack("{s:o}", "selector", phx_json_hex(s, 4));
        return PHX_OK;
    }
    if (!strcmp(op, "abi.encodeCall")) {
        const json_t *a = json_object_get(args, "args");
        if (!json_is_array(a))
            return phx_fail(e, PHX_ERR_INVALID, "phx.abi.encodeCall: the arguments are a list");
        char *text = json_dumps(a, JSON_COMPACT);
        phx_buf_t b = PHX_BUF_INIT;
        err = text ? phx_abi_encode_call(sig, text, &b, e) : phx_fail(e, PHX_ERR_NOMEM, "abi");
        free(text);
        if (!err) *out = json_pack("{s:o}", "data", phx_json_hex(b.ptr, b.len));
        phx_buf_free(&b);
        return err ? phx_error_wrap(e, err, "phx.abi.encodeCall") : PHX_OK;
    }
    if (!strcmp(op, "abi.decodeResult")) {
        /* "f(address) returns (uint256,bool)" or a list "(uint256,bool)". */
        const char *r = strstr(sig, "returns");
        const char *list = r ? r + 7 : sig;
        while (*list == ' ')
            list++;
        phx_buf_t data = PHX_BUF_INIT;
        if ((err = arg_hex(args, "data", "phx.abi.decodeResult", &data, e))) return err;
        phx_abi_type_t *t = NULL;
        phx_abi_value_t *v = NULL;
        json_t *j = NULL;
        err = phx_abi_signature_parse(list, NULL, &t, e);
        if (!err)
            err = phx_abi_decode(t, data.ptr ? data.ptr : (const uint8_t *)"", data.len, &v, e);
        if (!err) err = phx_abi_value_to_json(t, v, &j, e);
        if (!err) *out = json_pack("{s:o}", "values", mark_ints(t, j));
        phx_abi_value_free(v);
        phx_abi_type_free(t);
        phx_buf_free(&data);
        return err ? phx_error_wrap(e, err, "phx.abi.decodeResult") : PHX_OK;
    }
    return phx_fail(e, PHX_ERR_UNSUPPORTED, "unknown host call %.32s", op);
}

phx_err_t sbx_evm_op(sbx_host_t *h, const char *op, const json_t *args, json_t **out,
                     phx_error_t *e)
{
    if (!json_is_object(args)) return phx_fail(e, PHX_ERR_INVALID, "%s: arguments", op);
    if (!strcmp(op, "evm.call")) return op_call(h, args, out, e);
    if (!strcmp(op, "evm.getBalance")) return op_balance(h, args, out, e);
    if (!strcmp(op, "evm.getLogs")) return op_logs(h, args, out, e);
    if (!strcmp(op, "evm.send")) return op_send(h, args, out, e);
    if (!strcmp(op, "eth.signTransaction")) return op_sign_tx(h, args, out, e);
    if (!strcmp(op, "eth.signTypedData")) return op_sign_typed(h, args, out, e);
    if (!strncmp(op, "abi.", 4)) return op_abi(op, args, out, e);
    return phx_fail(e, PHX_ERR_UNSUPPORTED, "unknown host call %.32s", op);
}
