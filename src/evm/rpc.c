/* Ethereum JSON-RPC 2.0 over HTTP POST (libcurl): one easy handle per client,
 * keep-alive, per-request timeout, retries with backoff on transport errors
 * only. Typed wrappers for the eth_* methods the network uses, and parsers for
 * receipts and logs (every field read from the node is checked). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phx/evm.h"
#include "phx/net.h"

#define MAX_RESPONSE_BYTES (64u << 20)

struct phx_rpc {
    CURL *curl;
    struct curl_slist *headers;
    char *url;
    phx_rpc_opts_t opts;
    uint64_t next_id;
    bool unreachable; /* the last call got no answer (phx_rpc_unreachable) */
};

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

phx_err_t phx_rpc_open(const char *url, const phx_rpc_opts_t *opts, phx_rpc_t **out, phx_error_t *e)
{
    phx_err_t ierr = phx_net_curl_init(e);
    if (ierr) return phx_error_wrap(e, ierr, "rpc");
    phx_rpc_t *r = calloc(1, sizeof *r);
    if (!r) return phx_fail(e, PHX_ERR_NOMEM, "rpc: out of memory");
    r->opts.timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : 10000;
    r->opts.retries = opts ? opts->retries : 2;
    r->opts.retry_delay_ms = opts && opts->retry_delay_ms ? opts->retry_delay_ms : 200;
    r->next_id = 1;
    r->url = strdup(url);
    r->curl = curl_easy_init();
    r->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (!r->url || !r->curl || !r->headers) {
        phx_rpc_close(r);
        return phx_fail(e, PHX_ERR_NOMEM, "rpc: out of memory");
    }
    *out = r;
    return PHX_OK;
}

void phx_rpc_close(phx_rpc_t *rpc)
{
    if (!rpc) return;
    if (rpc->curl) curl_easy_cleanup(rpc->curl);
    curl_slist_free_all(rpc->headers);
    free(rpc->url);
    free(rpc);
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    phx_buf_t *b = ctx;
    size_t len = size * n;
    if (b->len + len > MAX_RESPONSE_BYTES || phx_buf_append(b, p, len)) return 0;
    return len;
}

/* One HTTP exchange; transport failures (worth a retry) are PHX_ERR_IO. */
static phx_err_t http_post(phx_rpc_t *rpc, const char *body, phx_buf_t *resp, phx_error_t *e)
{
    CURL *c = rpc->curl;
    long status = 0;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, rpc->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, rpc->headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)rpc->opts.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)rpc->opts.timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return phx_fail(e, PHX_ERR_TIMEOUT, "rpc: %s: timed out", rpc->url);
    if (rc == CURLE_WRITE_ERROR) return phx_fail(e, PHX_ERR_LIMIT, "rpc: response too large");
    if (rc != CURLE_OK)
        return phx_fail(e, PHX_ERR_IO, "rpc: %s: %s", rpc->url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 500 || status == 429) return phx_fail(e, PHX_ERR_IO, "rpc: HTTP %ld", status);
    return PHX_OK;
}

/* Parse the response; on a JSON-RPC error, *error_data gets error.data (if any). */
static phx_err_t parse_response(const uint8_t *body, size_t len, uint64_t want_id, json_t **result,
                                json_t **error_data, phx_error_t *e)
{
    json_t *root = NULL;
    /* anvil puts raw revert bytes, NULs included, into error messages. */
    phx_err_t err = phx_json_parse_allow_nul((const char *)body, len, &root, e);
    if (err) return phx_error_wrap(e, PHX_ERR_INVALID, "rpc: response");
    if (!json_is_object(root)) {
        err = phx_fail(e, PHX_ERR_INVALID, "rpc: response is not an object");
        goto out;
    }
    const json_t *id = json_object_get(root, "id");
    if (want_id && (!json_is_integer(id) || (uint64_t)json_integer_value(id) != want_id)) {
        err = phx_fail(e, PHX_ERR_INVALID, "rpc: response id does not match the request");
        goto out;
    }
    const json_t *error = json_object_get(root, "error");
    if (error && !json_is_null(error)) {
        const char *msg = json_string_value(json_object_get(error, "message"));
        json_int_t code = json_integer_value(json_object_get(error, "code"));
        err = phx_fail(e, PHX_ERR_REMOTE, "rpc error %lld: %s", (long long)code,
                       msg ? msg : "(no message)");
        if (error_data && json_object_get(error, "data"))
            *error_data = json_incref(json_object_get(error, "data"));
        goto out;
    }
    json_t *res = json_object_get(root, "result");
    if (!res) {
        err = phx_fail(e, PHX_ERR_INVALID, "rpc: response has neither result nor error");
        goto out;
    }
    *result = json_incref(res);
out:
    json_decref(root);
    return err;
}

phx_err_t phx_rpc_parse_response(const uint8_t *body, size_t len, json_t **result, phx_error_t *e)
{
    return parse_response(body, len, 0, result, NULL, e);
}

static phx_err_t call_full(phx_rpc_t *rpc, const char *method, json_t *params, json_t **result,
                           json_t **error_data, phx_error_t *e)
{
    phx_buf_t resp = PHX_BUF_INIT;
    char *body = NULL;
    phx_err_t err;
    uint64_t id = rpc->next_id++;
    json_t *req = json_pack("{s:s,s:I,s:s,s:o}", "jsonrpc", "2.0", "id", (json_int_t)id, "method",
                            method, "params", params ? params : json_array());
    if (!req || !(body = phx_json_dump(req, false))) {
        err = phx_fail(e, PHX_ERR_NOMEM, "rpc: out of memory");
        goto out;
    }
    uint64_t delay = rpc->opts.retry_delay_ms;
    for (unsigned attempt = 0;; attempt++) {
        phx_buf_reset(&resp);
        err = http_post(rpc, body, &resp, e);
        if (err != PHX_ERR_IO && err != PHX_ERR_TIMEOUT) break;
        if (attempt >= rpc->opts.retries) break;
        sleep_ms(delay);
        delay *= 2;
    }
    rpc->unreachable = err == PHX_ERR_IO || err == PHX_ERR_TIMEOUT;
    if (err) goto out;
    err = parse_response(resp.ptr, resp.len, id, result, error_data, e);
    if (err) phx_error_wrap(e, err, "%s", method);
out:
    json_decref(req);
    free(body);
    phx_buf_free(&resp);
    return err;
}

bool phx_rpc_unreachable(const phx_rpc_t *rpc)
{
    return rpc && rpc->unreachable;
}

phx_err_t phx_rpc_call(phx_rpc_t *rpc, const char *method, json_t *params, json_t **result,
                       phx_error_t *e)
{
    return call_full(rpc, method, params, result, NULL, e);
}

/* ---- value parsing ------------------------------------------------------------- */

phx_err_t phx_rpc_quantity_u256(const json_t *j, phx_u256_t *out, phx_error_t *e)
{
    const char *s = json_string_value(j);
    if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || !s[2])
        return phx_fail(e, PHX_ERR_INVALID, "rpc: quantity must be a 0x hex string");
    return phx_u256_from_str(s, out, e);
}

phx_err_t phx_rpc_quantity_u64(const json_t *j, uint64_t *out, phx_error_t *e)
{
    phx_u256_t u;
    phx_err_t err = phx_rpc_quantity_u256(j, &u, e);
    return err ? err : phx_u256_to_u64(&u, out, e);
}

static phx_err_t get_data(const json_t *j, phx_buf_t *out, phx_error_t *e)
{
    const char *s = json_string_value(j);
    if (!s || s[0] != '0' || s[1] != 'x')
        return phx_fail(e, PHX_ERR_INVALID, "rpc: data must be a 0x hex string");
    return phx_hex_decode(s, out, e);
}

static phx_err_t get_fixed(const json_t *obj, const char *key, uint8_t *out, size_t n,
                           phx_error_t *e)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s) return phx_fail(e, PHX_ERR_INVALID, "rpc: '%s' missing", key);
    return phx_hex_decode_fixed(s, out, n, e);
}

/* A quantity member; null or absent gives 0 when optional. */
static phx_err_t get_u64(const json_t *obj, const char *key, bool optional, uint64_t *out,
                         phx_error_t *e)
{
    const json_t *v = json_object_get(obj, key);
    *out = 0;
    if ((!v || json_is_null(v)) && optional) return PHX_OK;
    phx_err_t err = phx_rpc_quantity_u64(v, out, e);
    return err ? phx_error_wrap(e, err, "'%s'", key) : PHX_OK;
}

void phx_evm_log_clear(phx_evm_log_t *log)
{
    if (!log) return;
    free(log->data);
    log->data = NULL;
    log->data_len = 0;
}

phx_err_t phx_evm_log_from_json(const json_t *j, phx_evm_log_t *out, phx_error_t *e)
{
    phx_evm_log_t log;
    phx_buf_t data = PHX_BUF_INIT;
    phx_err_t err;
    memset(&log, 0, sizeof log);
    if (!json_is_object(j)) return phx_fail(e, PHX_ERR_INVALID, "rpc: log must be an object");
    if ((err = get_fixed(j, "address", log.address, 20, e))) goto out;
    const json_t *topics = json_object_get(j, "topics");
    if (!json_is_array(topics) || json_array_size(topics) > 4) {
        err = phx_fail(e, PHX_ERR_INVALID, "rpc: log topics must be an array of at most 4");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(topics); i++) {
        const char *t = json_string_value(json_array_get(topics, i));
        if (!t) {
            err = phx_fail(e, PHX_ERR_INVALID, "rpc: topic must be a string");
            goto out;
        }
        if ((err = phx_hex_decode_fixed(t, log.topics[i], 32, e))) goto out;
    }
    log.topic_count = json_array_size(topics);
    if ((err = get_data(json_object_get(j, "data"), &data, e))) goto out;
    /* Pending logs carry nulls for their position. */
    if ((err = get_u64(j, "blockNumber", true, &log.block_number, e))) goto out;
    if ((err = get_u64(j, "transactionIndex", true, &log.tx_index, e))) goto out;
    if ((err = get_u64(j, "logIndex", true, &log.log_index, e))) goto out;
    if (json_is_string(json_object_get(j, "blockHash")) &&
        (err = get_fixed(j, "blockHash", log.block_hash, 32, e)))
        goto out;
    if (json_is_string(json_object_get(j, "transactionHash")) &&
        (err = get_fixed(j, "transactionHash", log.tx_hash, 32, e)))
        goto out;
    log.removed = json_is_true(json_object_get(j, "removed"));
    log.data = phx_buf_detach(&data, &log.data_len);
    *out = log;
out:
    phx_buf_free(&data);
    return err;
}

void phx_evm_receipt_clear(phx_evm_receipt_t *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->log_count; i++)
        phx_evm_log_clear(&r->logs[i]);
    free(r->logs);
    r->logs = NULL;
    r->log_count = 0;
}

phx_err_t phx_evm_receipt_from_json(const json_t *j, phx_evm_receipt_t *out, phx_error_t *e)
{
    phx_evm_receipt_t r;
    phx_err_t err;
    uint64_t status = 0;
    memset(&r, 0, sizeof r);
    if (!json_is_object(j)) return phx_fail(e, PHX_ERR_INVALID, "rpc: receipt must be an object");
    if ((err = get_fixed(j, "transactionHash", r.tx_hash, 32, e))) goto fail;
    if ((err = get_fixed(j, "blockHash", r.block_hash, 32, e))) goto fail;
    if ((err = get_u64(j, "blockNumber", false, &r.block_number, e))) goto fail;
    if ((err = get_u64(j, "transactionIndex", true, &r.tx_index, e))) goto fail;
    if ((err = get_u64(j, "status", false, &status, e))) goto fail;
    /* EIP-658: 1 success, 0 failure; anything else is no receipt we can read. */
    if (status > 1) {
        err = phx_fail(e, PHX_ERR_INVALID, "rpc: receipt status %llu is neither 0 nor 1",
                       (unsigned long long)status);
        goto fail;
    }
    r.status = status == 1;
    if ((err = get_u64(j, "gasUsed", false, &r.gas_used, e))) goto fail;
    if ((err = get_u64(j, "cumulativeGasUsed", true, &r.cumulative_gas_used, e))) goto fail;
    const json_t *egp = json_object_get(j, "effectiveGasPrice");
    if (egp && !json_is_null(egp) && (err = phx_rpc_quantity_u256(egp, &r.effective_gas_price, e)))
        goto fail;
    if (json_is_string(json_object_get(j, "from")) && (err = get_fixed(j, "from", r.from, 20, e)))
        goto fail;
    if (json_is_string(json_object_get(j, "to"))) {
        if ((err = get_fixed(j, "to", r.to, 20, e))) goto fail;
        r.has_to = true;
    }
    if (json_is_string(json_object_get(j, "contractAddress"))) {
        if ((err = get_fixed(j, "contractAddress", r.contract_address, 20, e))) goto fail;
        r.has_contract_address = true;
    }
    const json_t *logs = json_object_get(j, "logs");
    if (!json_is_array(logs)) {
        err = phx_fail(e, PHX_ERR_INVALID, "rpc: receipt logs must be an array");
        goto fail;
    }
    size_t n = json_array_size(logs);
    r.logs = calloc(n ? n : 1, sizeof *r.logs);
    if (!r.logs) {
        err = phx_fail(e, PHX_ERR_NOMEM, "rpc: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        if ((err = phx_evm_log_from_json(json_array_get(logs, i), &r.logs[i], e))) goto fail;
        r.log_count++;
    }
    *out = r;
    return PHX_OK;
fail:
    phx_evm_receipt_clear(&r);
    return err;
}

void phx_evm_fee_history_clear(phx_evm_fee_history_t *h)
{
    if (!h) return;
    free(h->base_fees);
    free(h->gas_used_ratio);
    free(h->rewards);
    memset(h, 0, sizeof *h);
}

/* ---- typed methods ---------------------------------------------------------- */

void phx_evm_block_tag(uint64_t number, char out[24])
{
    snprintf(out, 24, "0x%llx", (unsigned long long)number);
}

static json_t *quantity_json(uint64_t v)
{
    char tag[24];
    phx_evm_block_tag(v, tag);
    return json_string(tag);
}

static json_t *u256_json(const phx_u256_t *v)
{
    char q[67];
    phx_u256_to_quantity(v, q);
    return json_string(q);
}

static phx_err_t call_u64(phx_rpc_t *rpc, const char *method, json_t *params, uint64_t *out,
                          phx_error_t *e)
{
    json_t *res = NULL;
    phx_err_t err = phx_rpc_call(rpc, method, params, &res, e);
    if (!err && (err = phx_rpc_quantity_u64(res, out, e))) phx_error_wrap(e, err, "%s", method);
    json_decref(res);
    return err;
}

static phx_err_t call_u256(phx_rpc_t *rpc, const char *method, json_t *params, phx_u256_t *out,
                           phx_error_t *e)
{
    json_t *res = NULL;
    phx_err_t err = phx_rpc_call(rpc, method, params, &res, e);
    if (!err && (err = phx_rpc_quantity_u256(res, out, e))) phx_error_wrap(e, err, "%s", method);
    json_decref(res);
    return err;
}

phx_err_t phx_rpc_chain_id(phx_rpc_t *rpc, uint64_t *out, phx_error_t *e)
{
    return call_u64(rpc, "eth_chainId", NULL, out, e);
}

phx_err_t phx_rpc_block_number(phx_rpc_t *rpc, uint64_t *out, phx_error_t *e)
{
    return call_u64(rpc, "eth_blockNumber", NULL, out, e);
}

phx_err_t phx_rpc_get_balance(phx_rpc_t *rpc, const uint8_t addr[20], const char *block,
                              phx_u256_t *out, phx_error_t *e)
{
    return call_u256(rpc, "eth_getBalance",
                     json_pack("[o,s]", phx_json_hex(addr, 20), block ? block : "latest"), out, e);
}

phx_err_t phx_rpc_get_transaction_count(phx_rpc_t *rpc, const uint8_t addr[20], const char *block,
                                        uint64_t *out, phx_error_t *e)
{
    return call_u64(rpc, "eth_getTransactionCount",
                    json_pack("[o,s]", phx_json_hex(addr, 20), block ? block : "latest"), out, e);
}

phx_err_t phx_rpc_gas_price(phx_rpc_t *rpc, phx_u256_t *out, phx_error_t *e)
{
    return call_u256(rpc, "eth_gasPrice", NULL, out, e);
}

phx_err_t phx_rpc_max_priority_fee(phx_rpc_t *rpc, phx_u256_t *out, phx_error_t *e)
{
    return call_u256(rpc, "eth_maxPriorityFeePerGas", NULL, out, e);
}

phx_err_t phx_rpc_fee_history(phx_rpc_t *rpc, uint64_t block_count, const char *newest,
                              double percentile, phx_evm_fee_history_t *out, phx_error_t *e)
{
    json_t *res = NULL;
    phx_evm_fee_history_t h;
    phx_err_t err;
    memset(&h, 0, sizeof h);
    err = phx_rpc_call(
        rpc, "eth_feeHistory",
        json_pack("[o,s,[f]]", quantity_json(block_count), newest ? newest : "latest", percentile),
        &res, e);
    if (err) return err;
    const json_t *base = json_object_get(res, "baseFeePerGas");
    const json_t *ratio = json_object_get(res, "gasUsedRatio");
    const json_t *reward = json_object_get(res, "reward");
    if ((err = get_u64(res, "oldestBlock", false, &h.oldest_block, e))) goto fail;
    if (!json_is_array(ratio) || (base && !json_is_array(base))) {
        err = phx_fail(e, PHX_ERR_INVALID, "eth_feeHistory: malformed result");
        goto fail;
    }
    h.block_count = json_array_size(ratio);
    h.base_fees = calloc(h.block_count + 1, sizeof *h.base_fees);
    h.gas_used_ratio = calloc(h.block_count + 1, sizeof *h.gas_used_ratio);
    h.rewards = calloc(h.block_count + 1, sizeof *h.rewards);
    if (!h.base_fees || !h.gas_used_ratio || !h.rewards) {
        err = phx_fail(e, PHX_ERR_NOMEM, "rpc: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < h.block_count; i++)
        h.gas_used_ratio[i] = json_number_value(json_array_get(ratio, i));
    for (size_t i = 0; base && i < json_array_size(base) && i <= h.block_count; i++)
        if ((err = phx_rpc_quantity_u256(json_array_get(base, i), &h.base_fees[i], e))) goto fail;
    for (size_t i = 0; json_is_array(reward) && i < json_array_size(reward) && i < h.block_count;
         i++) {
        const json_t *row = json_array_get(reward, i);
        if (json_array_size(row) > 0 &&
            (err = phx_rpc_quantity_u256(json_array_get(row, 0), &h.rewards[i], e)))
            goto fail;
    }
    json_decref(res);
    *out = h;
    return PHX_OK;
fail:
    json_decref(res);
    phx_evm_fee_history_clear(&h);
    return phx_error_wrap(e, err, "eth_feeHistory");
}

static json_t *call_json(const phx_evm_call_t *c)
{
    json_t *o = json_object();
    if (!o) return NULL;
    if (c->has_from) json_object_set_new(o, "from", phx_json_hex(c->from, 20));
    if (c->has_to) json_object_set_new(o, "to", phx_json_hex(c->to, 20));
    if (c->data_len) json_object_set_new(o, "data", phx_json_hex(c->data, c->data_len));
    if (!phx_u256_is_zero(&c->value)) json_object_set_new(o, "value", u256_json(&c->value));
    if (c->gas) json_object_set_new(o, "gas", quantity_json(c->gas));
    return o;
}

phx_err_t phx_rpc_estimate_gas(phx_rpc_t *rpc, const phx_evm_call_t *call, uint64_t *out,
                               phx_error_t *e)
{
    return call_u64(rpc, "eth_estimateGas", json_pack("[o]", call_json(call)), out, e);
}

phx_err_t phx_rpc_call_contract(phx_rpc_t *rpc, const phx_evm_call_t *call, const char *block,
                                phx_buf_t *out, phx_error_t *e)
{
    json_t *res = NULL, *edata = NULL;
    phx_err_t err =
        call_full(rpc, "eth_call", json_pack("[o,s]", call_json(call), block ? block : "latest"),
                  &res, &edata, e);
    if (err == PHX_ERR_REMOTE && json_is_string(edata)) {
        phx_error_t ignore;
        get_data(edata, out, &ignore); /* revert data, best effort: err says what happened */
    } else if (!err && (err = get_data(res, out, e))) {
        phx_error_wrap(e, err, "eth_call");
    }
    json_decref(res);
    json_decref(edata);
    return err;
}

phx_err_t phx_rpc_send_raw_transaction(phx_rpc_t *rpc, const uint8_t *raw, size_t len,
                                       uint8_t tx_hash[32], phx_error_t *e)
{
    json_t *res = NULL;
    phx_err_t err = phx_rpc_call(rpc, "eth_sendRawTransaction",
                                 json_pack("[o]", phx_json_hex(raw, len)), &res, e);
    if (!err && (!json_is_string(res) ||
                 (err = phx_hex_decode_fixed(json_string_value(res), tx_hash, 32, e))))
        err = phx_fail(e, PHX_ERR_INVALID, "eth_sendRawTransaction: bad hash in result");
    json_decref(res);
    return err;
}

phx_err_t phx_rpc_get_transaction_receipt(phx_rpc_t *rpc, const uint8_t tx_hash[32],
                                          phx_evm_receipt_t *out, bool *found, phx_error_t *e)
{
    json_t *res = NULL;
    *found = false;
    phx_err_t err = phx_rpc_call(rpc, "eth_getTransactionReceipt",
                                 json_pack("[o]", phx_json_hex(tx_hash, 32)), &res, e);
    if (!err && !json_is_null(res)) {
        if ((err = phx_evm_receipt_from_json(res, out, e))) {
            phx_error_wrap(e, err, "eth_getTransactionReceipt");
        } else if (memcmp(out->tx_hash, tx_hash, 32) != 0) {
            /* The node is not trusted: a receipt for another tx proves nothing. */
            phx_evm_receipt_clear(out);
            err = phx_fail(e, PHX_ERR_VERIFY,
                           "eth_getTransactionReceipt: the receipt is for another transaction");
        } else {
            *found = true;
        }
    }
    json_decref(res);
    return err;
}

phx_err_t phx_rpc_get_transaction(phx_rpc_t *rpc, const uint8_t tx_hash[32], phx_evm_tx_t *out,
                                  bool *found, phx_error_t *e)
{
    json_t *res = NULL;
    uint8_t h[32];
    *found = false;
    phx_err_t err = phx_rpc_call(rpc, "eth_getTransactionByHash",
                                 json_pack("[o]", phx_json_hex(tx_hash, 32)), &res, e);
    if (!err && !json_is_null(res)) {
        if ((err = phx_evm_tx_from_json(res, out, e))) {
            phx_error_wrap(e, err, "eth_getTransactionByHash");
        } else if ((err = phx_evm_tx_hash(out, h, e)) || memcmp(h, tx_hash, 32) != 0) {
            phx_evm_tx_clear(out);
            if (!err)
                err = phx_fail(e, PHX_ERR_VERIFY,
                               "eth_getTransactionByHash: the node answered another transaction");
        } else {
            *found = true;
        }
    }
    json_decref(res);
    return err;
}

static json_t *filter_json(const phx_evm_filter_t *f)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "fromBlock", quantity_json(f->from_block));
    json_object_set_new(o, "toBlock", quantity_json(f->to_block));
    if (f->address_count) {
        json_t *a = json_array();
        for (size_t i = 0; i < f->address_count; i++)
            json_array_append_new(a, phx_json_hex(f->addresses[i], 20));
        json_object_set_new(o, "address", a);
    }
    size_t last = 0;
    for (size_t i = 0; i < 4; i++)
        if (f->topic_counts[i]) last = i + 1;
    if (last) {
        json_t *t = json_array();
        for (size_t i = 0; i < last; i++) {
            if (!f->topic_counts[i]) {
                json_array_append_new(t, json_null());
                continue;
            }
            json_t *set = json_array();
            for (size_t k = 0; k < f->topic_counts[i]; k++)
                json_array_append_new(set, phx_json_hex(f->topic_sets[i][k], 32));
            json_array_append_new(t, set);
        }
        json_object_set_new(o, "topics", t);
    }
    return o;
}

phx_err_t phx_rpc_get_logs(phx_rpc_t *rpc, const phx_evm_filter_t *filter, phx_evm_log_t **logs,
                           size_t *count, phx_error_t *e)
{
    json_t *res = NULL;
    phx_evm_log_t *out = NULL;
    size_t n = 0;
    *logs = NULL;
    *count = 0;
    phx_err_t err =
        phx_rpc_call(rpc, "eth_getLogs", json_pack("[o]", filter_json(filter)), &res, e);
    if (err) return err;
    if (!json_is_array(res)) {
        err = phx_fail(e, PHX_ERR_INVALID, "eth_getLogs: result is not an array");
        goto out;
    }
    out = calloc(json_array_size(res) + 1, sizeof *out);
    if (!out) {
        err = phx_fail(e, PHX_ERR_NOMEM, "rpc: out of memory");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(res); i++) {
        if ((err = phx_evm_log_from_json(json_array_get(res, i), &out[i], e))) {
            phx_error_wrap(e, err, "eth_getLogs");
            goto out;
        }
        n++;
    }
    *logs = out;
    *count = n;
    out = NULL;
out:
    for (size_t i = 0; out && i < n; i++)
        phx_evm_log_clear(&out[i]);
    free(out);
    json_decref(res);
    return err;
}

phx_err_t phx_rpc_get_code(phx_rpc_t *rpc, const uint8_t addr[20], const char *block,
                           phx_buf_t *out, phx_error_t *e)
{
    json_t *res = NULL;
    phx_err_t err =
        phx_rpc_call(rpc, "eth_getCode",
                     json_pack("[o,s]", phx_json_hex(addr, 20), block ? block : "latest"), &res, e);
    if (!err && (err = get_data(res, out, e))) phx_error_wrap(e, err, "eth_getCode");
    json_decref(res);
    return err;
}

phx_err_t phx_rpc_get_storage_at(phx_rpc_t *rpc, const uint8_t addr[20], const phx_u256_t *slot,
                                 const char *block, uint8_t out[32], phx_error_t *e)
{
    json_t *res = NULL;
    phx_buf_t b = PHX_BUF_INIT;
    phx_err_t err = phx_rpc_call(
        rpc, "eth_getStorageAt",
        json_pack("[o,o,s]", phx_json_hex(addr, 20), u256_json(slot), block ? block : "latest"),
        &res, e);
    if (!err && !(err = get_data(res, &b, e))) {
        phx_u256_t u;
        if (!(err = phx_u256_from_be(b.ptr, b.len, &u, e))) memcpy(out, u.b, 32);
    }
    json_decref(res);
    phx_buf_free(&b);
    return err;
}

phx_err_t phx_rpc_get_block_hash(phx_rpc_t *rpc, uint64_t number, uint8_t out[32], phx_error_t *e)
{
    json_t *res = NULL;
    phx_err_t err = phx_rpc_call(rpc, "eth_getBlockByNumber",
                                 json_pack("[o,b]", quantity_json(number), 0), &res, e);
    if (err) return err;
    if (json_is_null(res))
        err = phx_fail(e, PHX_ERR_NOT_FOUND, "block %llu not found", (unsigned long long)number);
    else if ((err = get_fixed(res, "hash", out, 32, e)))
        phx_error_wrap(e, err, "eth_getBlockByNumber");
    json_decref(res);
    return err;
}

phx_err_t phx_rpc_get_block_time(phx_rpc_t *rpc, uint64_t number, uint64_t *out, phx_error_t *e)
{
    json_t *res = NULL;
    phx_err_t err = phx_rpc_call(rpc, "eth_getBlockByNumber",
                                 json_pack("[o,b]", quantity_json(number), 0), &res, e);
    if (err) return err;
    if (json_is_null(res))
        err = phx_fail(e, PHX_ERR_NOT_FOUND, "block %llu not found", (unsigned long long)number);
    else if ((err = phx_rpc_quantity_u64(json_object_get(res, "timestamp"), out, e)))
        phx_error_wrap(e, err, "eth_getBlockByNumber: timestamp");
    json_decref(res);
    return err;
}

phx_err_t phx_rpc_wait_receipt(phx_rpc_t *rpc, const uint8_t tx_hash[32], uint64_t confirmations,
                               uint64_t timeout_ms, uint64_t poll_ms, phx_evm_receipt_t *out,
                               phx_error_t *e)
{
    uint64_t deadline = phx_monotonic_ms() + timeout_ms;
    if (!poll_ms) poll_ms = 250;
    for (;;) {
        phx_evm_receipt_t r;
        bool found = false;
        phx_err_t err = phx_rpc_get_transaction_receipt(rpc, tx_hash, &r, &found, e);
        if (err) return err;
        if (found) {
            uint64_t head = 0;
            if ((err = phx_rpc_block_number(rpc, &head, e))) {
                phx_evm_receipt_clear(&r);
                return err;
            }
            if (confirmations <= 1 || head + 1 >= r.block_number + confirmations) {
                *out = r;
                return PHX_OK;
            }
            phx_evm_receipt_clear(&r);
        }
        if (phx_monotonic_ms() >= deadline)
            return phx_fail(e, PHX_ERR_TIMEOUT, "receipt not %s within %llu ms",
                            found ? "confirmed" : "mined", (unsigned long long)timeout_ms);
        sleep_ms(poll_ms);
    }
}
