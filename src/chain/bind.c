/* Typed bindings over the generic EVM client: calldata from a signature and
 * JSON arguments, send-and-wait, eth_call with decoding, and readers for the
 * contracts' storage getters and the Requested event. */
#include <stdlib.h>
#include <string.h>

#include "phx/chain.h"

#define TX_TIMEOUT_MS 120000

phx_err_t phx_chain_calldata(const char *sig, const json_t *args, phx_buf_t *out, phx_error_t *e)
{
    char *text = args ? phx_json_dump(args, false) : NULL;
    if (args && !text) return phx_fail(e, PHX_ERR_NOMEM, "encoding %s", sig);
    phx_err_t err = phx_abi_encode_call(sig, text ? text : "[]", out, e);
    if (err) phx_error_wrap(e, err, "encoding %s", sig);
    free(text);
    return err;
}

phx_err_t phx_chain_send(phx_signer_t *signer, const uint8_t to[20], const uint8_t *data,
                         size_t len, uint64_t gas_limit, phx_evm_receipt_t *receipt, phx_error_t *e)
{
    phx_evm_receipt_t local;
    memset(&local, 0, sizeof local);
    phx_evm_send_t req;
    memset(&req, 0, sizeof req);
    req.has_to = true;
    memcpy(req.to, to, 20);
    req.data = data;
    req.data_len = len;
    req.gas_limit = gas_limit;
    phx_err_t err =
        phx_signer_transact(signer, &req, 1, TX_TIMEOUT_MS, receipt ? receipt : &local, e);
    phx_evm_receipt_clear(&local);
    return err;
}

phx_err_t phx_chain_transact(phx_signer_t *signer, const uint8_t to[20], const char *sig,
                             const json_t *args, phx_evm_receipt_t *receipt, phx_error_t *e)
{
    phx_buf_t data = PHX_BUF_INIT;
    phx_err_t err = phx_chain_calldata(sig, args, &data, e);
    if (!err) {
        err = phx_chain_send(signer, to, data.ptr, data.len, 0, receipt, e);
        if (err) phx_error_wrap(e, err, "%s", sig);
    }
    phx_buf_free(&data);
    return err;
}

phx_err_t phx_chain_read(phx_rpc_t *rpc, const uint8_t to[20], const char *sig, const json_t *args,
                         const char *ret_types, json_t **out, phx_error_t *e)
{
    phx_buf_t data = PHX_BUF_INIT, ret = PHX_BUF_INIT;
    phx_err_t err = phx_chain_calldata(sig, args, &data, e);
    if (err) goto out;
    phx_evm_call_t call;
    memset(&call, 0, sizeof call);
    call.has_to = true;
    memcpy(call.to, to, 20);
    call.data = data.ptr;
    call.data_len = data.len;
    if ((err = phx_rpc_call_contract(rpc, &call, NULL, &ret, e))) {
        char what[512]; /* the revert in the contract's own words when we know them */
        if (err == PHX_ERR_REMOTE && phx_chain_revert_describe(ret.ptr, ret.len, what, sizeof what))
            phx_fail(e, err, "%s reverted: %s", sig, what);
        else
            phx_error_wrap(e, err, "%s", sig);
        goto out;
    }
    if (ret.len == 0) {
        err = phx_fail(e, PHX_ERR_NOT_FOUND, "%s: empty return (no contract at the address?)", sig);
        goto out;
    }
    if ((err = phx_abi_decode_json(ret_types, ret.ptr, ret.len, out, e)))
        phx_error_wrap(e, err, "decoding %s", sig);
out:
    phx_buf_free(&ret);
    phx_buf_free(&data);
    return err;
}

/* ---- decoding helpers over phx_abi_value_to_json's forms ------------------------ */

static phx_err_t item_u256(const json_t *arr, size_t i, phx_u256_t *out, phx_error_t *e)
{
    const char *s = json_string_value(json_array_get(arr, i));
    if (!s) return phx_fail(e, PHX_ERR_INVALID, "return value %zu: not a number", i);
    return phx_u256_from_str(s, out, e);
}

static phx_err_t item_u64(const json_t *arr, size_t i, uint64_t *out, phx_error_t *e)
{
    phx_u256_t v;
    phx_err_t err = item_u256(arr, i, &v, e);
    return err ? err : phx_u256_to_u64(&v, out, e);
}

static phx_err_t item_hex(const json_t *arr, size_t i, uint8_t *out, size_t n, phx_error_t *e)
{
    const char *s = json_string_value(json_array_get(arr, i));
    if (!s) return phx_fail(e, PHX_ERR_INVALID, "return value %zu: not hex", i);
    return phx_hex_decode_fixed(s, out, n, e);
}

static json_t *addr_json(const uint8_t a[20])
{
    return phx_json_hex(a, 20);
}

phx_err_t phx_chain_token_balance(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                  const uint8_t who[20], phx_u256_t *out, phx_error_t *e)
{
    json_t *args = json_pack("[o]", addr_json(who)), *ret = NULL;
    phx_err_t err = phx_chain_read(rpc, d->token, "balanceOf(address)", args, "(uint256)", &ret, e);
    if (!err) err = item_u256(ret, 0, out, e);
    json_decref(ret);
    json_decref(args);
    return err;
}

phx_err_t phx_chain_worker_get(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                               const uint8_t worker[20], phx_chain_worker_t *out, phx_error_t *e)
{
    memset(out, 0, sizeof *out);
    json_t *args = json_pack("[o]", addr_json(worker)), *ret = NULL;
    uint64_t status, tee, at;
    phx_err_t err =
        phx_chain_read(rpc, d->registry, "workers(address)", args,
                       "(address,uint8,uint32,uint64,bytes32,bytes32,bytes32,address)", &ret, e);
    if (err) goto out;
    if ((err = item_hex(ret, 0, out->operator_, 20, e)) || (err = item_u64(ret, 1, &status, e)) ||
        (err = item_u64(ret, 2, &tee, e)) || (err = item_u64(ret, 3, &at, e)) ||
        (err = item_hex(ret, 4, out->x25519, 32, e)) ||
        (err = item_hex(ret, 5, out->measurement, 32, e)) ||
        (err = item_hex(ret, 6, out->quote_hash, 32, e)) ||
        (err = item_hex(ret, 7, out->kms, 20, e)))
        goto out;
    out->status = (uint8_t)status;
    out->tee_type = (uint32_t)tee;
    out->registered_at = at;
out:
    json_decref(ret);
    json_decref(args);
    return err;
}

phx_err_t phx_chain_kms_get(phx_rpc_t *rpc, const phx_chain_deployment_t *d, const uint8_t kms[20],
                            phx_chain_kms_t *out, phx_error_t *e)
{
    memset(out, 0, sizeof *out);
    json_t *args = json_pack("[o]", addr_json(kms)), *ret = NULL;
    uint64_t status, tee, at;
    phx_err_t err =
        phx_chain_read(rpc, d->registry, "kmsNodes(address)", args,
                       "(uint8,uint32,uint64,address,bytes32,bytes32,bytes32,bytes32)", &ret, e);
    if (err) goto out;
    if ((err = item_u64(ret, 0, &status, e)) || (err = item_u64(ret, 1, &tee, e)) ||
        (err = item_u64(ret, 2, &at, e)) || (err = item_hex(ret, 3, out->admitted_by, 20, e)) ||
        (err = item_hex(ret, 4, out->x25519, 32, e)) ||
        (err = item_hex(ret, 5, out->measurement, 32, e)) ||
        (err = item_hex(ret, 6, out->quote_hash, 32, e)) ||
        (err = item_hex(ret, 7, out->collateral_hash, 32, e)))
        goto out;
    out->status = (uint8_t)status;
    out->tee_type = (uint32_t)tee;
    out->admitted_at = at;
out:
    json_decref(ret);
    json_decref(args);
    return err;
}

phx_err_t phx_chain_kms_list(phx_rpc_t *rpc, const phx_chain_deployment_t *d, uint8_t (**out)[20],
                             size_t *count, phx_error_t *e)
{
    uint8_t topic[32];
    phx_evm_log_t *logs = NULL;
    size_t n = 0, got = 0;
    uint64_t head;
    *out = NULL;
    *count = 0;
    phx_err_t err = phx_abi_event_topic(PHX_CHAIN_EV_KMS_ADMITTED, topic, e);
    if (!err) err = phx_rpc_block_number(rpc, &head, e);
    if (err) return err;
    phx_evm_filter_t f = {.from_block = d->block,
                          .to_block = head,
                          .addresses = (const uint8_t(*)[20])d->registry,
                          .address_count = 1};
    f.topic_sets[0] = (const uint8_t(*)[32])topic;
    f.topic_counts[0] = 1;
    if ((err = phx_rpc_get_logs(rpc, &f, &logs, &n, e))) return err;
    uint8_t(*list)[20] = n ? malloc(n * 20) : NULL;
    if (n && !list) err = phx_fail(e, PHX_ERR_NOMEM, "KMS list");
    for (size_t i = 0; !err && i < n; i++) {
        if (logs[i].removed || logs[i].topic_count < 2) continue;
        const uint8_t *kms = logs[i].topics[1] + 12;
        bool seen = false;
        for (size_t k = 0; k < got && !seen; k++)
            seen = !memcmp(list[k], kms, 20);
        if (!seen) memcpy(list[got++], kms, 20);
    }
    for (size_t i = 0; i < n; i++)
        phx_evm_log_clear(&logs[i]);
    free(logs);
    if (err) {
        free(list);
        return err;
    }
    *out = list;
    *count = got;
    return PHX_OK;
}

phx_err_t phx_chain_stake_of(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                             const uint8_t operator_[20], phx_u256_t *out, phx_error_t *e)
{
    json_t *args = json_pack("[o]", addr_json(operator_)), *ret = NULL;
    phx_err_t err =
        phx_chain_read(rpc, d->registry, "stakeOf(address)", args, "(uint256)", &ret, e);
    if (!err) err = item_u256(ret, 0, out, e);
    json_decref(ret);
    json_decref(args);
    return err;
}

phx_err_t phx_chain_request_get(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                uint64_t request_id, phx_chain_request_t *out, phx_error_t *e)
{
    memset(out, 0, sizeof *out);
    json_t *args = json_pack("[I]", (json_int_t)request_id), *ret = NULL;
    uint64_t status, k, gas, kinds;
    phx_err_t err = phx_chain_read(
        rpc, d->jobs, "requests(uint256)", args,
        "(address,uint8,uint8,uint32,uint8,uint64,bytes32,bytes32,uint256)", &ret, e);
    if (err) goto out;
    if ((err = item_hex(ret, 0, out->requester, 20, e)) || (err = item_u64(ret, 1, &status, e)) ||
        (err = item_u64(ret, 2, &k, e)) || (err = item_u64(ret, 3, &gas, e)) ||
        (err = item_u64(ret, 4, &kinds, e)) || (err = item_u64(ret, 5, &out->deadline, e)) ||
        (err = item_hex(ret, 6, out->contract_id, 32, e)) ||
        (err = item_hex(ret, 7, out->code_hash, 32, e)) || (err = item_u256(ret, 8, &out->fee, e)))
        goto out;
    out->status = (uint8_t)status;
    out->k = (uint8_t)k;
    out->min_tee_kinds = (uint8_t)kinds;
    out->callback_gas_limit = (uint32_t)gas;
out:
    json_decref(ret);
    json_decref(args);
    return err;
}

phx_err_t phx_chain_parse_requested(const phx_evm_log_t *log, phx_chain_requested_t *out,
                                    phx_error_t *e)
{
    memset(out, 0, sizeof *out);
    phx_abi_value_t *v = NULL;
    phx_err_t err = phx_abi_decode_log(PHX_CHAIN_EV_REQUESTED, false, log, &v, e);
    if (err) return err;
    if (v->count != 10) {
        err = phx_fail(e, PHX_ERR_INTERNAL, "Requested: %zu fields", v->count);
        goto out;
    }
    phx_u256_t id;
    uint64_t n;
    memcpy(id.b, v->items[0].word, 32);
    if ((err = phx_u256_to_u64(&id, &out->request_id, e))) goto out;
    memcpy(out->contract_id, v->items[1].word, 32);
    memcpy(out->requester, v->items[2].word + 12, 20);
    memcpy(out->code_hash, v->items[3].word, 32);
    memcpy(out->fee.b, v->items[4].word, 32);
    memcpy(id.b, v->items[5].word, 32);
    if ((err = phx_u256_to_u64(&id, &n, e))) goto out;
    out->callback_gas_limit = (uint32_t)n;
    out->k = v->items[6].word[31];
    memcpy(id.b, v->items[7].word, 32);
    if ((err = phx_u256_to_u64(&id, &out->deadline, e))) goto out;
    out->input_len = v->items[8].len;
    out->input = malloc(out->input_len ? out->input_len : 1);
    if (!out->input) {
        err = phx_fail(e, PHX_ERR_NOMEM, "Requested input");
        goto out;
    }
    if (out->input_len) memcpy(out->input, v->items[8].bytes, out->input_len);
    out->min_tee_kinds = v->items[9].word[31];
out:
    phx_abi_value_free(v);
    if (err) phx_chain_requested_clear(out);
    return err;
}

void phx_chain_requested_clear(phx_chain_requested_t *r)
{
    if (!r) return;
    free(r->input);
    r->input = NULL;
    r->input_len = 0;
}

phx_err_t phx_chain_fulfill_calldata(uint64_t request_id, bool ok, const uint8_t *output,
                                     size_t output_len, const uint8_t (*sigs)[65], size_t n,
                                     phx_buf_t *out, phx_error_t *e)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        if (json_array_append_new(list, phx_json_hex(sigs[i], 65))) {
            json_decref(list);
            list = NULL;
        }
    json_t *args = list ? json_pack("[I,b,o,o]", (json_int_t)request_id, ok,
                                    phx_json_hex(output, output_len), list)
                        : NULL;
    if (!args) return phx_fail(e, PHX_ERR_NOMEM, "fulfill calldata");
    phx_err_t err = phx_chain_calldata("fulfill(uint256,bool,bytes,bytes[])", args, out, e);
    json_decref(args);
    return err;
}
