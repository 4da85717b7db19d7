/* The transactions the network's daemons send, as typed C calls: governance
 * (KMS keys, measurements), operators (stake in their pool, register workers), contract owners
 * (deploy a TEE contract) and workers (fulfil). Each waits for its receipt. */
#include <stdio.h>
#include <string.h>

#include "phx/chain.h"
#include "phx/crypto.h"

phx_err_t phx_chain_sign(const uint8_t sk[32], const uint8_t digest[32], uint8_t sig[65])
{
    phx_err_t err = phx_secp256k1_sign(sk, digest, sig);
    if (!err) sig[64] = (uint8_t)(27 + sig[64]);
    return err;
}

static json_t *u256_json(const phx_u256_t *v)
{
    char dec[80];
    phx_u256_to_dec(v, dec);
    return json_string(dec);
}

/* Transact sig(args) and release args, which may be NULL after an allocation failure. */
static phx_err_t run(phx_signer_t *s, const uint8_t to[20], const char *sig, json_t *args,
                     phx_evm_receipt_t *receipt, phx_error_t *e)
{
    if (!args) return phx_fail(e, PHX_ERR_NOMEM, "%s: arguments", sig);
    phx_err_t err = phx_chain_transact(s, to, sig, args, receipt, e);
    json_decref(args);
    return err;
}

phx_err_t phx_chain_admit_kms(phx_signer_t *governor, const phx_chain_deployment_t *d,
                              const uint8_t kms[20], const uint8_t x25519[32],
                              const uint8_t nonce[32], const uint8_t *quote, size_t quote_len,
                              const uint8_t collateral_hash[32], phx_error_t *e)
{
    return run(governor, d->registry, "admitKms(address,bytes32,bytes32,bytes,bytes32)",
               json_pack("[o,o,o,o,o]", phx_json_hex(kms, 20), phx_json_hex(x25519, 32),
                         phx_json_hex(nonce, 32), phx_json_hex(quote, quote_len),
                         phx_json_hex(collateral_hash, 32)),
               NULL, e);
}

phx_err_t phx_chain_admit_kms_by_quorum(phx_signer_t *sender, const phx_chain_deployment_t *d,
                                        const uint8_t kms[20], const uint8_t x25519[32],
                                        const uint8_t nonce[32], const uint8_t *quote,
                                        size_t quote_len, const uint8_t collateral_hash[32],
                                        const uint8_t (*sigs)[65], size_t n, phx_error_t *e)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        if (json_array_append_new(list, phx_json_hex(sigs[i], 65))) {
            json_decref(list);
            list = NULL;
        }
    if (!list) return phx_fail(e, PHX_ERR_NOMEM, "admitKmsByQuorum: signatures");
    return run(sender, d->registry,
               "admitKmsByQuorum(address,bytes32,bytes32,bytes,bytes32,bytes[])",
               json_pack("[o,o,o,o,o,o]", phx_json_hex(kms, 20), phx_json_hex(x25519, 32),
                         phx_json_hex(nonce, 32), phx_json_hex(quote, quote_len),
                         phx_json_hex(collateral_hash, 32), list),
               NULL, e);
}

phx_err_t phx_chain_revoke_kms(phx_signer_t *governor, const phx_chain_deployment_t *d,
                               const uint8_t kms[20], phx_error_t *e)
{
    return run(governor, d->registry, "revokeKms(address)", json_pack("[o]", phx_json_hex(kms, 20)),
               NULL, e);
}

phx_err_t phx_chain_is_kms(phx_rpc_t *rpc, const phx_chain_deployment_t *d, const uint8_t kms[20],
                           bool *out, phx_error_t *e)
{
    const phx_chain_ret_t rets[] = {PHX_CHAIN_BOOL(*out)};
    return phx_chain_read_into(rpc, d->registry, "isKms(address)",
                               json_pack("[o]", phx_json_hex(kms, 20)), "(bool)", rets, 1, e);
}

phx_err_t phx_chain_set_measurement(phx_signer_t *governor, const phx_chain_deployment_t *d,
                                    const uint8_t measurement[32], bool allowed, phx_error_t *e)
{
    return run(governor, d->registry, "setMeasurement(bytes32,bool)",
               json_pack("[o,b]", phx_json_hex(measurement, 32), allowed), NULL, e);
}

phx_err_t phx_chain_pool_of(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                            const uint8_t operator_[20], uint64_t *pid, phx_error_t *e)
{
    const phx_chain_ret_t rets[] = {PHX_CHAIN_UINT(*pid)};
    return phx_chain_read_into(rpc, d->stake_pool, "poolOf(address)",
                               json_pack("[o]", phx_json_hex(operator_, 20)), "(uint256)", rets, 1,
                               e);
}

phx_err_t phx_chain_stake(phx_rpc_t *rpc, phx_signer_t *operator_, const phx_chain_deployment_t *d,
                          const phx_u256_t *amount, uint16_t commission_bps, uint64_t *pid,
                          phx_error_t *e)
{
    uint8_t me[20];
    uint64_t id = 0;
    phx_signer_address(operator_, me);
    phx_err_t err = phx_chain_pool_of(rpc, d, me, &id, e);
    if (!err && id == 0 &&
        !(err = run(operator_, d->stake_pool, "createPool(uint16)",
                    json_pack("[I]", (json_int_t)commission_bps), NULL, e)))
        err = phx_chain_pool_of(rpc, d, me, &id, e);
    if (err) return err;
    char pid_s[24];
    snprintf(pid_s, sizeof pid_s, "%llu", (unsigned long long)id);
    if ((err = run(operator_, d->token, "approve(address,uint256)",
                   json_pack("[o,o]", phx_json_hex(d->stake_pool, 20), u256_json(amount)), NULL,
                   e)) ||
        (err = run(operator_, d->stake_pool, "delegate(uint256,uint256)",
                   json_pack("[s,o]", pid_s, u256_json(amount)), NULL, e)))
        return err;
    if (pid) *pid = id;
    return PHX_OK;
}

phx_err_t phx_chain_register_worker(phx_signer_t *operator_, const phx_chain_deployment_t *d,
                                    const uint8_t worker[20], const uint8_t x25519[32],
                                    const uint8_t nonce[32], const uint8_t *quote, size_t quote_len,
                                    const uint8_t kms_sig[65], phx_error_t *e)
{
    return run(operator_, d->registry, "registerWorker(address,bytes32,bytes32,bytes,bytes)",
               json_pack("[o,o,o,o,o]", phx_json_hex(worker, 20), phx_json_hex(x25519, 32),
                         phx_json_hex(nonce, 32), phx_json_hex(quote, quote_len),
                         phx_json_hex(kms_sig, 65)),
               NULL, e);
}

phx_err_t phx_chain_deploy_contract(phx_signer_t *owner, const phx_chain_deployment_t *d,
                                    const uint8_t salt[32], const uint8_t code_hash[32],
                                    const char *code_uri, uint8_t id[32], phx_error_t *e)
{
    phx_err_t err =
        run(owner, d->jobs, "deployContract(bytes32,bytes32,string)",
            json_pack("[o,o,s]", phx_json_hex(salt, 32), phx_json_hex(code_hash, 32), code_uri),
            NULL, e);
    if (!err && id) {
        uint8_t addr[20];
        phx_signer_address(owner, addr);
        phx_chain_contract_id(addr, salt, id);
    }
    return err;
}

phx_err_t phx_chain_fulfill(phx_signer_t *worker, const phx_chain_deployment_t *d,
                            uint64_t request_id, bool ok, const uint8_t *output, size_t output_len,
                            const uint8_t (*sigs)[65], size_t n, phx_evm_receipt_t *receipt,
                            phx_error_t *e)
{
    phx_buf_t data = PHX_BUF_INIT;
    phx_err_t err =
        phx_chain_fulfill_calldata(request_id, ok, output, output_len, sigs, n, &data, e);
    if (!err) {
        err = phx_chain_send(worker, d->jobs, data.ptr, data.len, 0, receipt, e);
        if (err) phx_error_wrap(e, err, "fulfill(%llu)", (unsigned long long)request_id);
    }
    phx_buf_free(&data);
    return err;
}
