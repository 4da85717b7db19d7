/* Revert data in the words of the contracts that produced it: a custom error
 * found by its selector among every embedded artifact's ABI, or Solidity's
 * built-in Error(string) and Panic(uint256). Nodes only show "custom error
 * 0x32f66f19"; the user wrote `error ContractExists(bytes32 id)`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/chain.h"

/* "Name(type,type)" of an ABI error entry; tuples are not flattened (none of
 * the contracts' errors take one), so an entry with one is skipped. */
static bool error_signature(const json_t *entry, char *sig, size_t cap)
{
    const char *name = json_string_value(json_object_get(entry, "name"));
    const json_t *inputs = json_object_get(entry, "inputs");
    if (!name || !json_is_array(inputs)) return false;
    size_t n = (size_t)snprintf(sig, cap, "%s(", name);
    for (size_t i = 0; i < json_array_size(inputs) && n < cap; i++) {
        const char *t = json_string_value(json_object_get(json_array_get(inputs, i), "type"));
        if (!t || !strncmp(t, "tuple", 5)) return false;
        n += (size_t)snprintf(sig + n, cap - n, "%s%s", i ? "," : "", t);
    }
    if (n < cap) n += (size_t)snprintf(sig + n, cap - n, ")");
    return n < cap;
}

/* out = "Name(v1, v2)" with the values decoded from data after the selector. */
static bool format_call(const char *sig, const uint8_t *args, size_t len, char *out, size_t cap)
{
    const char *paren = strchr(sig, '(');
    json_t *vals = NULL;
    if (phx_abi_decode_json(paren, args, len, &vals, NULL)) return false;
    size_t n = (size_t)snprintf(out, cap, "%.*s(", (int)(paren - sig), sig);
    for (size_t i = 0; i < json_array_size(vals) && n < cap; i++) {
        const json_t *v = json_array_get(vals, i);
        char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "",
                              s                      ? s
                              : json_string_value(v) ? json_string_value(v)
                                                     : "?");
        free(s);
    }
    if (n < cap) snprintf(out + n, cap - n, ")");
    json_decref(vals);
    return true;
}

bool phx_chain_revert_describe(const uint8_t *data, size_t len, char *out, size_t cap)
{
    if (!cap) return false;
    out[0] = '\0';
    if (len < 4) return false;
    static const char *const builtin[] = {"Error(string)", "Panic(uint256)"};
    uint8_t sel[4];
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (!phx_abi_selector(builtin[i], sel, NULL) && !memcmp(sel, data, 4))
            return format_call(builtin[i], data + 4, len - 4, out, cap);
    bool found = false;
    for (const phx_chain_artifact_t *a = phx_chain_artifacts; a->name && !found; a++) {
        json_t *abi = json_loads(a->abi_json, 0, NULL);
        for (size_t i = 0; i < json_array_size(abi) && !found; i++) {
            const json_t *entry = json_array_get(abi, i);
            char sig[512];
            if (strcmp(json_string_value(json_object_get(entry, "type")) ?: "", "error") ||
                !error_signature(entry, sig, sizeof sig) || phx_abi_selector(sig, sel, NULL) ||
                memcmp(sel, data, 4))
                continue;
            found = format_call(sig, data + 4, len - 4, out, cap);
        }
        json_decref(abi);
    }
    return found;
}

phx_err_t phx_chain_explain_revert(phx_rpc_t *rpc, const uint8_t from[20], const uint8_t to[20],
                                   const char *sig, const json_t *args, phx_error_t *e)
{
    phx_buf_t data = PHX_BUF_INIT, ret = PHX_BUF_INIT;
    phx_error_t ce = {0};
    phx_err_t err = PHX_ERR_REMOTE;
    char what[512];
    if (phx_chain_calldata(sig, args, &data, &ce)) goto out;
    phx_evm_call_t call;
    memset(&call, 0, sizeof call);
    call.has_from = call.has_to = true;
    memcpy(call.from, from, 20);
    memcpy(call.to, to, 20);
    call.data = data.ptr;
    call.data_len = data.len;
    /* Only a replay that reverts again, with data we can name, replaces the
     * node's words; anything else leaves e as the caller's failure said. */
    if (phx_rpc_call_contract(rpc, &call, NULL, &ret, &ce) == PHX_ERR_REMOTE &&
        phx_chain_revert_describe(ret.ptr, ret.len, what, sizeof what)) {
        phx_fail(e, PHX_ERR_REMOTE, "reverted: %s", what);
        err = PHX_OK;
    }
out:
    phx_buf_free(&data);
    phx_buf_free(&ret);
    return err;
}
