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

/* ---- decoding over phx_abi_value_to_json's forms ------------------------------- */

phx_err_t phx_chain_ret_get(const json_t *arr, size_t i, const phx_chain_ret_t *r, phx_error_t *e)
{
    const json_t *v = json_array_get(arr, i);
    const char *s = json_string_value(v);
    phx_u256_t n;
    uint64_t u;
    phx_err_t err;
    switch (r->kind) {
    case PHX_CHAIN_RET_HEX:
        if (!s) return phx_fail(e, PHX_ERR_INVALID, "return value %zu: not hex", i);
        return phx_hex_decode_fixed(s, r->out, r->size, e);
    case PHX_CHAIN_RET_U256:
        if (!s) return phx_fail(e, PHX_ERR_INVALID, "return value %zu: not a number", i);
        return phx_u256_from_str(s, r->out, e);
    case PHX_CHAIN_RET_UINT:
        if (!s) return phx_fail(e, PHX_ERR_INVALID, "return value %zu: not a number", i);
        if ((err = phx_u256_from_str(s, &n, e)) || (err = phx_u256_to_u64(&n, &u, e))) return err;
        if (r->size < 8 && u >> (r->size * 8))
            return phx_fail(e, PHX_ERR_INVALID, "return value %zu: over %zu bytes", i, r->size);
        if (r->size == 1)
            *(uint8_t *)r->out = (uint8_t)u;
        else if (r->size == 2)
            *(uint16_t *)r->out = (uint16_t)u;
        else if (r->size == 4)
            *(uint32_t *)r->out = (uint32_t)u;
        else if (r->size == 8)
            *(uint64_t *)r->out = u;
        else
            return phx_fail(e, PHX_ERR_INTERNAL, "return value %zu: size %zu", i, r->size);
        return PHX_OK;
    case PHX_CHAIN_RET_BOOL:
        if (!json_is_boolean(v))
            return phx_fail(e, PHX_ERR_INVALID, "return value %zu: not a bool", i);
        *(bool *)r->out = json_is_true(v);
        return PHX_OK;
    case PHX_CHAIN_RET_STR:
        if (!s || json_string_length(v) >= r->size || strlen(s) != json_string_length(v))
            return phx_fail(e, PHX_ERR_INVALID, "return value %zu: not a string of < %zu bytes", i,
                            r->size);
        memcpy(r->out, s, json_string_length(v) + 1);
        return PHX_OK;
    }
    return phx_fail(e, PHX_ERR_INTERNAL, "return value %zu: kind %d", i, (int)r->kind);
}

phx_err_t phx_chain_read_into(phx_rpc_t *rpc, const uint8_t to[20], const char *sig, json_t *args,
                              const char *ret_types, const phx_chain_ret_t *rets, size_t n,
                              phx_error_t *e)
{
    json_t *ret = NULL;
    phx_err_t err = args ? phx_chain_read(rpc, to, sig, args, ret_types, &ret, e)
                         : phx_fail(e, PHX_ERR_NOMEM, "%s: arguments", sig);
    for (size_t i = 0; !err && i < n; i++)
        if ((err = phx_chain_ret_get(ret, i, &rets[i], e))) phx_error_wrap(e, err, "%s", sig);
    json_decref(ret);
    json_decref(args);
    return err;
}

phx_err_t phx_chain_token_balance(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                  const uint8_t who[20], phx_u256_t *out, phx_error_t *e)
{
    const phx_chain_ret_t rets[] = {PHX_CHAIN_U256(*out)};
    return phx_chain_read_into(rpc, d->token, "balanceOf(address)",
                               json_pack("[o]", phx_json_hex(who, 20)), "(uint256)", rets, 1, e);
}

phx_err_t phx_chain_contract_get(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                 const uint8_t id[32], uint8_t owner[20], uint8_t code_hash[32],
                                 phx_error_t *e)
{
    uint8_t hash[32];
    uint32_t version;
    const phx_chain_ret_t rets[] = {
        {PHX_CHAIN_RET_HEX, owner, 20}, PHX_CHAIN_UINT(version), PHX_CHAIN_HEX(hash)};
    phx_err_t err = phx_chain_read_into(
        rpc, d->jobs, "contracts(bytes32)", json_pack("[o]", phx_json_hex(id, 32)),
        "(address,uint32,bytes32,string)", rets, PHX_CHAIN_NRETS(rets), e);
    if (!err && code_hash) memcpy(code_hash, hash, 32);
    return err;
}

phx_err_t phx_chain_worker_get(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                               const uint8_t worker[20], phx_chain_worker_t *out, phx_error_t *e)
{
    memset(out, 0, sizeof *out);
    const phx_chain_ret_t rets[] = {
        PHX_CHAIN_HEX(out->operator_),  PHX_CHAIN_UINT(out->status),
        PHX_CHAIN_UINT(out->tee_type),  PHX_CHAIN_UINT(out->registered_at),
        PHX_CHAIN_HEX(out->x25519),     PHX_CHAIN_HEX(out->measurement),
        PHX_CHAIN_HEX(out->quote_hash), PHX_CHAIN_HEX(out->kms)};
    return phx_chain_read_into(rpc, d->registry, "workers(address)",
                               json_pack("[o]", phx_json_hex(worker, 20)),
                               "(address,uint8,uint32,uint64,bytes32,bytes32,bytes32,address)",
                               rets, PHX_CHAIN_NRETS(rets), e);
}

phx_err_t phx_chain_kms_get(phx_rpc_t *rpc, const phx_chain_deployment_t *d, const uint8_t kms[20],
                            phx_chain_kms_t *out, phx_error_t *e)
{
    memset(out, 0, sizeof *out);
    const phx_chain_ret_t rets[] = {
        PHX_CHAIN_UINT(out->status),      PHX_CHAIN_UINT(out->tee_type),
        PHX_CHAIN_UINT(out->admitted_at), PHX_CHAIN_HEX(out->admitted_by),
        PHX_CHAIN_HEX(out->x25519),       PHX_CHAIN_HEX(out->measurement),
        PHX_CHAIN_HEX(out->quote_hash),   PHX_CHAIN_HEX(out->collateral_hash)};
    return phx_chain_read_into(rpc, d->registry, "kmsNodes(address)",
                               json_pack("[o]", phx_json_hex(kms, 20)),
                               "(uint8,uint32,uint64,address,bytes32,bytes32,bytes32,bytes32)",
                               rets, PHX_CHAIN_NRETS(rets), e);
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
    const phx_chain_ret_t rets[] = {PHX_CHAIN_U256(*out)};
    return phx_chain_read_into(rpc, d->registry, "stakeOf(address)",
                               json_pack("[o]", phx_json_hex(operator_, 20)), "(uint256)", rets, 1,
                               e);
}

phx_err_t phx_chain_request_get(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                uint64_t request_id, phx_chain_request_t *out, phx_error_t *e)
{
    memset(out, 0, sizeof *out);
    const phx_chain_ret_t rets[] = {PHX_CHAIN_HEX(out->requester),
                                    PHX_CHAIN_UINT(out->status),
                                    PHX_CHAIN_UINT(out->k),
                                    PHX_CHAIN_UINT(out->callback_gas_limit),
                                    PHX_CHAIN_UINT(out->min_tee_kinds),
                                    PHX_CHAIN_UINT(out->deadline),
                                    PHX_CHAIN_HEX(out->contract_id),
                                    PHX_CHAIN_HEX(out->code_hash),
                                    PHX_CHAIN_U256(out->fee)};
    return phx_chain_read_into(rpc, d->jobs, "requests(uint256)",
                               json_pack("[I]", (json_int_t)request_id),
                               "(address,uint8,uint8,uint32,uint8,uint64,bytes32,bytes32,uint256)",
                               rets, PHX_CHAIN_NRETS(rets), e);
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
