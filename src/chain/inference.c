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

phx_err_t phx_chain_endpoint_get(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                 const uint8_t signer[20], phx_chain_endpoint_t *out,
                                 phx_error_t *e)
{
    memset(out, 0, sizeof *out);
    phx_err_t err = need_registry(d, e);
    if (err) return err;
    const phx_chain_ret_t rets[] = {
        PHX_CHAIN_HEX(out->operator_),    PHX_CHAIN_UINT(out->status),
        PHX_CHAIN_UINT(out->tee_type),    PHX_CHAIN_UINT(out->registered_at),
        PHX_CHAIN_HEX(out->ed25519),      PHX_CHAIN_HEX(out->x25519),
        PHX_CHAIN_HEX(out->model_sha256), PHX_CHAIN_HEX(out->measurement),
        PHX_CHAIN_HEX(out->quote_hash),   PHX_CHAIN_STR(out->model),
        PHX_CHAIN_STR(out->url)};
    return phx_chain_read_into(
        rpc, d->inference_registry, "endpoints(address)",
        json_pack("[o]", phx_json_hex(signer, 20)),
        "(address,uint8,uint32,uint64,bytes32,bytes32,bytes32,bytes32,bytes32,string,string)", rets,
        PHX_CHAIN_NRETS(rets), e);
}

phx_err_t phx_chain_endpoint_active(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                    const uint8_t signer[20], bool *out, phx_error_t *e)
{
    *out = false;
    phx_err_t err = need_registry(d, e);
    if (err) return err;
    const phx_chain_ret_t rets[] = {PHX_CHAIN_BOOL(*out)};
    return phx_chain_read_into(rpc, d->inference_registry, "isActive(address)",
                               json_pack("[o]", phx_json_hex(signer, 20)), "(bool)", rets, 1, e);
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
    for (size_t i = 0; !err && i < count; i++) {
        const phx_chain_ret_t r = PHX_CHAIN_HEX(a[i]);
        err = phx_chain_ret_get(list, i, &r, e);
    }
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
    const phx_chain_ret_t rets[] = {{PHX_CHAIN_RET_HEX, nonce, 32}};
    return phx_chain_read_into(
        rpc, d->inference_registry, "registrationNonce(address,string,string)",
        json_pack("[o,s,s]", phx_json_hex(operator_, 20), model, url), "(bytes32)", rets, 1, e);
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
