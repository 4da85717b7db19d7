/* See chain_fixture.h. */
#include "chain_fixture.h"

#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/json.h"
#include "support/anvil.h"

phx_err_t test_chain_deploy_dev(const char *url, const phx_chain_params_t *params, phx_rpc_t **rpc,
                                phx_signer_t **gov, phx_chain_deployment_t *dep, phx_error_t *e)
{
    uint8_t dev_sk[32];
    phx_err_t err;
    if ((err = phx_hex_decode_fixed(test_anvil_keys[0], dev_sk, 32, e)) ||
        (err = phx_rpc_open(url, NULL, rpc, e)) ||
        (err = phx_signer_open(*rpc, dev_sk, NULL, gov, e)))
        goto out;
    err = phx_chain_deploy(*gov, params, dep, e);
out:
    phx_secure_zero(dev_sk, sizeof dev_sk);
    return err;
}

phx_err_t test_chain_fund(phx_rpc_t *rpc, const uint8_t addr[20], const char *wei_hex,
                          phx_error_t *e)
{
    json_t *res = NULL;
    phx_err_t err = phx_rpc_call(rpc, "anvil_setBalance",
                                 json_pack("[o,s]", phx_json_hex(addr, 20), wei_hex), &res, e);
    json_decref(res);
    return err;
}

phx_err_t test_chain_transact(phx_signer_t *s, const uint8_t to[20], const char *sig, json_t *args,
                              phx_error_t *e)
{
    phx_err_t err = phx_chain_transact(s, to, sig, args, NULL, e);
    json_decref(args);
    return err;
}

phx_err_t test_tee_measurement_id(phx_tee_t *t, uint8_t id[32], phx_error_t *e)
{
    phx_tee_measurement_t m;
    phx_err_t err = phx_tee_measurement(t, &m, e);
    if (err) return err;
    uint8_t regs[240];
    memcpy(regs, m.mr_td, 48);
    for (int i = 0; i < 4; i++)
        memcpy(regs + 48 + 48 * i, m.rt_mr[i], 48);
    phx_keccak256(regs, sizeof regs, id);
    return PHX_OK;
}

phx_err_t test_chain_allow_measurement(phx_signer_t *gov, const phx_chain_deployment_t *dep,
                                       const uint8_t mr[32], bool allowed, phx_error_t *e)
{
    return test_chain_transact(gov, dep->registry, "setMeasurement(bytes32,bool)",
                               json_pack("[o,b]", phx_json_hex(mr, 32), allowed), e);
}

phx_err_t test_chain_stake(test_devnet_t *d, const char *amount, phx_error_t *e)
{
    phx_u256_t v;
    phx_err_t err = phx_u256_from_str(amount, &v, e);
    if (!err)
        err =
            phx_chain_stake(d->rpc, d->gov, &d->dep, &v, PHX_CHAIN_DEFAULT_COMMISSION_BPS, NULL, e);
    return err;
}

static test_anvil_t *devnet_node;

static void devnet_stop(void)
{
    test_anvil_stop(devnet_node);
}

phx_err_t test_devnet_start(test_devnet_t *d, char *dir, phx_error_t *e)
{
    if (phx_crypto_init()) return phx_fail(e, PHX_ERR_CRYPTO, "crypto init");
    if (dir && !mkdtemp(dir)) return phx_fail(e, PHX_ERR_IO, "mkdtemp %s", dir);
    if (devnet_node) return phx_fail(e, PHX_ERR_INVALID, "one devnet a process");
    devnet_node = &d->node;
    atexit(devnet_stop);
    if (test_anvil_start(&d->node, NULL) != 0)
        return phx_fail(e, PHX_ERR_IO, "could not start anvil");
    phx_err_t err = test_chain_deploy_dev(d->node.url, NULL, &d->rpc, &d->gov, &d->dep, e);
    if (!err) phx_signer_address(d->gov, d->gov_addr);
    return err;
}

void test_devnet_close(test_devnet_t *d)
{
    phx_signer_close(d->gov);
    phx_rpc_close(d->rpc);
    d->gov = NULL;
    d->rpc = NULL;
}
