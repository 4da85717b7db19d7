/* InferenceRegistry from C (include/phx/chain.h): the attested inference
 * endpoints by signing address, the active ones by model, the registration
 * nonce, and the operator's register and deregister transactions. */
#include <stdlib.h>
#include <string.h>

#include "phx/chain.h"

static phx_err_t need_registry(const phx_chain_deployment_t *d, phx_error_t *e)
{
    return phx_chain_has_inference_registry(d)
               ? PHX_OK
               : phx_fail(e, PHX_ERR_UNSUPPORTED, "the deployment has no InferenceRegistry");
}

static phx_err_t ret_hex(const json_t *ret, size_t i, uint8_t *out, size_t n, phx_error_t *e)
{
    const char *s = json_string_value(json_array_get(ret, i));
    if (!s) return phx_fail(e, PHX_ERR_INVALID, "return value %zu: not hex", i);
    return phx_hex_decode_fixed(s, out, n, e);
}

static phx_err_t ret_u64(const json_t *ret, size_t i, uint64_t *out, phx_error_t *e)
{
    const char *s = json_string_value(json_array_get(ret, i));
    phx_u256_t v;
    if (!s) return phx_fail(e, PHX_ERR_INVALID, "return value %zu: not a number", i);
    phx_err_t err = phx_u256_from_str(s, &v, e);
    return err ? err : phx_u256_to_u64(&v, out, e);
}

static phx_err_t ret_str(const json_t *ret, size_t i, char *out, size_t cap, phx_error_t *e)
{
    const json_t *v = json_array_get(ret, i);
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v))
        return phx_fail(e, PHX_ERR_INVALID, "return value %zu: not a string of < %zu bytes", i,
                        cap);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return PHX_OK;
}

phx_err_t phx_chain_endpoint_get(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                 const uint8_t signer[20], phx_chain_endpoint_t *out,
                                 phx_error_t *e)
{
    memset(out, 0, sizeof *out);
    phx_err_t err = need_registry(d, e);
    if (err) return err;
    json_t *args = json_pack("[o]", phx_json_hex(signer, 20)), *ret = NULL;
    uint64_t status, tee, at;
    err = phx_chain_read(
        rpc, d->inference_registry, "endpoints(address)", args,
        "(address,uint8,uint32,uint64,bytes32,bytes32,bytes32,bytes32,bytes32,string,string)", &ret,
        e);
    if (err) goto out;
    if ((err = ret_hex(ret, 0, out->operator_, 20, e)) || (err = ret_u64(ret, 1, &status, e)) ||
        (err = ret_u64(ret, 2, &tee, e)) || (err = ret_u64(ret, 3, &at, e)) ||
        (err = ret_hex(ret, 4, out->ed25519, 32, e)) ||
        (err = ret_hex(ret, 5, out->x25519, 32, e)) ||
        (err = ret_hex(ret, 6, out->model_sha256, 32, e)) ||
        (err = ret_hex(ret, 7, out->measurement, 32, e)) ||
        (err = ret_hex(ret, 8, out->quote_hash, 32, e)) ||
        (err = ret_str(ret, 9, out->model, sizeof out->model, e)) ||
        (err = ret_str(ret, 10, out->url, sizeof out->url, e)))
        goto out;
    out->status = (uint8_t)status;
    out->tee_type = (uint32_t)tee;
    out->registered_at = at;
out:
    json_decref(ret);
    json_decref(args);
    return err;
}

phx_err_t phx_chain_endpoint_active(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                    const uint8_t signer[20], bool *out, phx_error_t *e)
{
    *out = false;
    phx_err_t err = need_registry(d, e);
    if (err) return err;
    json_t *args = json_pack("[o]", phx_json_hex(signer, 20)), *ret = NULL;
    err = phx_chain_read(rpc, d->inference_registry, "isActive(address)", args, "(bool)", &ret, e);
    if (!err) *out = json_is_true(json_array_get(ret, 0));
    json_decref(ret);
    json_decref(args);
    return err;
}

phx_err_t phx_chain_endpoints_for(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                  const char *model, uint8_t (**out)[20], size_t *n, phx_error_t *e)
{
    *out = NULL;
    *n = 0;
    phx_err_t err = need_registry(d, e);
    if (err) return err;
    json_t *args = json_pack("[s]", model), *ret = NULL;
    err = args ? phx_chain_read(rpc, d->inference_registry, "endpointsFor(string)", args,
                                "(address[])", &ret, e)
               : phx_fail(e, PHX_ERR_NOMEM, "endpointsFor");
    const json_t *list = json_array_get(ret, 0);
    size_t count = json_array_size(list);
    uint8_t(*a)[20] = NULL;
    if (!err && count && !(a = calloc(count, sizeof *a)))
        err = phx_fail(e, PHX_ERR_NOMEM, "endpointsFor");
    for (size_t i = 0; !err && i < count; i++)
        err = ret_hex(list, i, a[i], 20, e);
    if (err) {
        free(a);
    } else {
        *out = a;
        *n = count;
    }
    json_decref(ret);
    json_decref(args);
    return err;
}

phx_err_t phx_chain_endpoint_nonce(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                   const uint8_t operator_[20], const char *model, const char *url,
                                   uint8_t nonce[32], phx_error_t *e)
{
    phx_err_t err = need_registry(d, e);
    if (err) return err;
    json_t *args = json_pack("[o,s,s]", phx_json_hex(operator_, 20), model, url), *ret = NULL;
    err = args ? phx_chain_read(rpc, d->inference_registry,
                                "registrationNonce(address,string,string)", args, "(bytes32)", &ret,
                                e)
               : phx_fail(e, PHX_ERR_NOMEM, "registrationNonce");
    if (!err) err = ret_hex(ret, 0, nonce, 32, e);
    json_decref(ret);
    json_decref(args);
    return err;
}

/* Transact sig(args) (released), naming a revert by replaying it. */
static phx_err_t run(phx_rpc_t *rpc, phx_signer_t *s, const phx_chain_deployment_t *d,
                     const char *sig, json_t *args, phx_error_t *e)
{
    phx_err_t err = need_registry(d, e);
    if (!err && !args) err = phx_fail(e, PHX_ERR_NOMEM, "%s: arguments", sig);
    if (!err && (err = phx_chain_transact(s, d->inference_registry, sig, args, NULL, e))) {
        uint8_t me[20];
        phx_signer_address(s, me);
        phx_chain_explain_revert(rpc, me, d->inference_registry, sig, args, e);
    }
    json_decref(args);
    return err;
}

phx_err_t phx_chain_register_endpoint(phx_rpc_t *rpc, phx_signer_t *operator_,
                                      const phx_chain_deployment_t *d, const uint8_t signer[20],
                                      const uint8_t ed25519[32], const uint8_t x25519[32],
                                      const uint8_t model_sha256[32], const char *model,
                                      const char *url, const uint8_t *quote, size_t quote_len,
                                      phx_error_t *e)
{
    return run(rpc, operator_, d,
               "registerEndpoint(address,bytes32,bytes32,bytes32,string,string,bytes)",
               json_pack("[o,o,o,o,s,s,o]", phx_json_hex(signer, 20), phx_json_hex(ed25519, 32),
                         phx_json_hex(x25519, 32), phx_json_hex(model_sha256, 32), model, url,
                         phx_json_hex(quote, quote_len)),
               e);
}

phx_err_t phx_chain_deregister_endpoint(phx_rpc_t *rpc, phx_signer_t *sender,
                                        const phx_chain_deployment_t *d, const uint8_t signer[20],
                                        phx_error_t *e)
{
    return run(rpc, sender, d, "deregisterEndpoint(address)",
               json_pack("[o]", phx_json_hex(signer, 20)), e);
}
