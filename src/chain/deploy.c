/* Deploying the Phalanx contract set from C and the deployment file that the
 * other daemons and `phx chain status` read. Order matters: Registry needs the
 * token's address, Jobs both, the Governor the token and the timelock, the
 * StakePool all but the Governor (its treasury is the timelock). The hand-over
 * to the timelock is a separate step (phx_chain_handover) so that a devnet or
 * a test can do its bootstrap governance (measurements, the first KMS) first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/chain.h"
#include "phx/crypto.h"

#define DEPLOY_TIMEOUT_MS 120000

void phx_chain_params_default(phx_chain_params_t *p)
{
    static const phx_u256_t pha = {{[24] = 0x0d, 0xe0, 0xb6, 0xb3, 0xa7, 0x64, 0x00, 0x00}};
    memset(p, 0, sizeof *p);
    p->initial_supply = phx_u256_mul_u64(&pha, 1000000000ull);
    p->min_stake = phx_u256_mul_u64(&pha, 1000);
    p->fee_per_worker = pha;
    p->request_timeout_s = 3600;
    p->price_per_call = phx_u256_from_u64(1000000000000000ull); /* 0.001 PHA */
    p->price_per_cpu_ms = phx_u256_from_u64(1000000000000ull);  /* 0.000001 PHA */
    p->payment_notice_s = 86400;
    p->unbonding_s = 7 * 24 * 3600;
    p->slash_bps = 1000;
    p->reporter_bps = 5000;
    p->voting_delay = 24 * 3600;
    p->voting_period = 7 * 24 * 3600;
    p->timelock_delay_s = 2 * 24 * 3600;
    p->quorum_percent = 4;
}

void phx_chain_params_devnet(phx_chain_params_t *p)
{
    phx_chain_params_default(p);
    p->unbonding_s = 10;
    p->voting_delay = 1;
    p->voting_period = 4;
    p->timelock_delay_s = 2;
    /* Direct calls are free on a devnet until governance sets a price
     * (Payments.setPrice); a payer's withdrawal notice is seconds, not a day. */
    p->price_per_call = phx_u256_from_u64(0);
    p->price_per_cpu_ms = phx_u256_from_u64(0);
    p->payment_notice_s = 10;
}

bool phx_chain_has_payments(const phx_chain_deployment_t *d)
{
    static const uint8_t zero[20];
    return memcmp(d->payments, zero, 20) != 0;
}

bool phx_chain_has_state(const phx_chain_deployment_t *d)
{
    static const uint8_t zero[20];
    return memcmp(d->state, zero, 20) != 0;
}

bool phx_chain_has_inference_registry(const phx_chain_deployment_t *d)
{
    static const uint8_t zero[20];
    return memcmp(d->inference_registry, zero, 20) != 0;
}

static void word_addr(uint8_t w[32], const uint8_t a[20])
{
    memset(w, 0, 12);
    memcpy(w + 12, a, 20);
}

static phx_err_t deploy_one(phx_signer_t *signer, const char *name, const uint8_t *args,
                            size_t args_len, uint8_t address[20], uint64_t *block, phx_error_t *e)
{
    const phx_chain_artifact_t *a = phx_chain_artifact(name);
    if (!a) return phx_fail(e, PHX_ERR_NOT_FOUND, "no compiled contract %s", name);
    phx_buf_t code = PHX_BUF_INIT;
    phx_evm_receipt_t receipt;
    memset(&receipt, 0, sizeof receipt);
    phx_err_t err = phx_hex_decode(a->bytecode_hex, &code, e);
    if (err) goto out;
    err = phx_signer_deploy(signer, code.ptr, code.len, args, args_len, 0, 1, DEPLOY_TIMEOUT_MS,
                            address, &receipt, e);
    if (err) {
        phx_error_wrap(e, err, "deploying %s", name);
        goto out;
    }
    *block = receipt.block_number;
out:
    phx_evm_receipt_clear(&receipt);
    phx_buf_free(&code);
    return err;
}

/* Constructor arguments: ABI-encoded args of sig without the selector. */
static phx_err_t ctor_args(const char *sig, json_t *args, phx_buf_t *out, phx_error_t *e)
{
    phx_buf_t call = PHX_BUF_INIT;
    phx_err_t err = args ? phx_chain_calldata(sig, args, &call, e)
                         : phx_fail(e, PHX_ERR_NOMEM, "constructor arguments");
    json_decref(args);
    if (!err) err = phx_buf_append(out, call.ptr + 4, call.len - 4);
    phx_buf_free(&call);
    return err;
}

static json_t *u64_json(uint64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)v);
    return json_string(s);
}

static phx_err_t send(phx_signer_t *s, const uint8_t to[20], const char *sig, json_t *args,
                      phx_error_t *e)
{
    if (!args) return phx_fail(e, PHX_ERR_NOMEM, "%s: arguments", sig);
    phx_err_t err = phx_chain_transact(s, to, sig, args, NULL, e);
    json_decref(args);
    if (err) phx_error_wrap(e, err, "%s", sig);
    return err;
}

/* keccak256(name): an OpenZeppelin AccessControl role id. */
static json_t *role(const char *name)
{
    uint8_t h[32];
    phx_keccak256((const uint8_t *)name, strlen(name), h);
    return phx_json_hex(h, 32);
}

phx_err_t phx_chain_deploy_inference_registry(phx_signer_t *signer, phx_chain_deployment_t *d,
                                              phx_error_t *e)
{
    /* InferenceRegistry(registry): the endpoints share the Registry's allow-list.
     * d->block stays: followers read the other contracts' events from it. */
    uint8_t arg[32];
    uint64_t block;
    word_addr(arg, d->registry);
    return deploy_one(signer, "InferenceRegistry", arg, 32, d->inference_registry, &block, e);
}

phx_err_t phx_chain_deploy(phx_signer_t *signer, const phx_chain_params_t *params,
                           phx_chain_deployment_t *out, phx_error_t *e)
{
    phx_chain_params_t defaults;
    if (!params) {
        phx_chain_params_default(&defaults);
        params = &defaults;
    }
    memset(out, 0, sizeof *out);
    out->chain_id = phx_signer_chain_id(signer);
    phx_signer_address(signer, out->deployer);

    uint8_t args[4][32];
    phx_err_t err;
    /* PhxToken(uint256 initialSupply, address holder) */
    memcpy(args[0], params->initial_supply.b, 32);
    word_addr(args[1], out->deployer);
    if ((err = deploy_one(signer, "PhxToken", &args[0][0], 64, out->token, &out->block, e)))
        return err;
    /* Registry(IERC20 token, uint256 minStake) */
    word_addr(args[0], out->token);
    memcpy(args[1], params->min_stake.b, 32);
    if ((err = deploy_one(signer, "Registry", &args[0][0], 64, out->registry, &out->block, e)))
        return err;
    /* Jobs(IERC20 token, IWorkerRegistry registry, uint256 feePerWorker, uint64 requestTimeout) */
    word_addr(args[0], out->token);
    word_addr(args[1], out->registry);
    memcpy(args[2], params->fee_per_worker.b, 32);
    phx_u256_t timeout = phx_u256_from_u64(params->request_timeout_s);
    memcpy(args[3], timeout.b, 32);
    if ((err = deploy_one(signer, "Jobs", &args[0][0], 128, out->jobs, &out->block, e))) return err;
    /* Payments(IERC20 token, uint256 pricePerCall, uint256 pricePerCpuMs, uint64 noticePeriod) */
    word_addr(args[0], out->token);
    memcpy(args[1], params->price_per_call.b, 32);
    memcpy(args[2], params->price_per_cpu_ms.b, 32);
    phx_u256_t notice = phx_u256_from_u64(params->payment_notice_s);
    memcpy(args[3], notice.b, 32);
    if ((err = deploy_one(signer, "Payments", &args[0][0], 128, out->payments, &out->block, e)))
        return err;
    /* StateAnchor(IWorkerRegistry registry): phx.state's compare-and-set anchor. */
    word_addr(args[0], out->registry);
    if ((err = deploy_one(signer, "StateAnchor", &args[0][0], 32, out->state, &out->block, e)))
        return err;

    phx_buf_t a = PHX_BUF_INIT;
    /* PhxTimelock(minDelay, proposers = [], executors = [0: anyone], admin = deployer):
     * the Governor becomes proposer below, once it exists. */
    if ((err = ctor_args("c(uint256,address[],address[],address)",
                         json_pack("[o,[],[s],o]", u64_json(params->timelock_delay_s),
                                   "0x0000000000000000000000000000000000000000",
                                   phx_json_hex(out->deployer, 20)),
                         &a, e)) ||
        (err = deploy_one(signer, "PhxTimelock", a.ptr, a.len, out->timelock, &out->block, e)))
        goto out;
    a.len = 0;
    /* PhxGovernor(token, timelock, votingDelay, votingPeriod (seconds: PHA's clock is the
     * timestamp), proposalThreshold 0, quorum %) */
    if ((err = ctor_args("c(address,address,uint48,uint32,uint256,uint256)",
                         json_pack("[o,o,o,o,s,o]", phx_json_hex(out->token, 20),
                                   phx_json_hex(out->timelock, 20), u64_json(params->voting_delay),
                                   u64_json(params->voting_period), "0",
                                   u64_json(params->quorum_percent)),
                         &a, e)) ||
        (err = deploy_one(signer, "PhxGovernor", a.ptr, a.len, out->governor, &out->block, e)))
        goto out;
    a.len = 0;
    /* StakePool(token, jobs, registry, treasury = timelock, unbonding, slashBps, reporterBps) */
    if ((err = ctor_args("c(address,address,address,address,uint64,uint16,uint16)",
                         json_pack("[o,o,o,o,o,o,o]", phx_json_hex(out->token, 20),
                                   phx_json_hex(out->jobs, 20), phx_json_hex(out->registry, 20),
                                   phx_json_hex(out->timelock, 20), u64_json(params->unbonding_s),
                                   u64_json(params->slash_bps), u64_json(params->reporter_bps)),
                         &a, e)) ||
        (err = deploy_one(signer, "StakePool", a.ptr, a.len, out->stake_pool, &out->block, e)))
        goto out;
    if ((err = phx_chain_deploy_inference_registry(signer, out, e))) goto out;
    /* Wiring: stake from the pool, fees to the pool, firings paid from the
     * owner's Payments deposit (issue 15), the Governor proposes. */
    if ((err = send(signer, out->registry, "setStaking(address)",
                    json_pack("[o]", phx_json_hex(out->stake_pool, 20)), e)) ||
        (err = send(signer, out->jobs, "setStakePool(address)",
                    json_pack("[o]", phx_json_hex(out->stake_pool, 20)), e)) ||
        (err = send(signer, out->jobs, "setPayments(address)",
                    json_pack("[o]", phx_json_hex(out->payments, 20)), e)) ||
        (err = send(signer, out->payments, "setJobs(address)",
                    json_pack("[o]", phx_json_hex(out->jobs, 20)), e)) ||
        (err =
             send(signer, out->timelock, "grantRole(bytes32,address)",
                  json_pack("[o,o]", role("PROPOSER_ROLE"), phx_json_hex(out->governor, 20)), e)) ||
        (err =
             send(signer, out->timelock, "grantRole(bytes32,address)",
                  json_pack("[o,o]", role("CANCELLER_ROLE"), phx_json_hex(out->governor, 20)), e)))
        goto out;
out:
    phx_buf_free(&a);
    return err;
}

size_t phx_chain_governed(const phx_chain_deployment_t *d, const uint8_t *out[], size_t cap)
{
    const uint8_t *all[] = {d->token, d->registry, d->jobs, d->stake_pool};
    size_t n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0] && n < cap; i++)
        out[n++] = all[i];
    if (phx_chain_has_payments(d) && n < cap) out[n++] = d->payments;
    if (phx_chain_has_inference_registry(d) && n < cap) out[n++] = d->inference_registry;
    return n;
}

/* Whether `who` is still the governor of c (true: hand it over). */
static phx_err_t governed_by(phx_rpc_t *rpc, const uint8_t c[20], const uint8_t who[20], bool *out,
                             phx_error_t *e)
{
    json_t *args = json_array(), *ret = NULL;
    phx_err_t err = args ? phx_chain_read(rpc, c, "governor()", args, "(address)", &ret, e)
                         : phx_fail(e, PHX_ERR_NOMEM, "governor()");
    json_decref(args);
    uint8_t g[20];
    const char *s = err ? NULL : json_string_value(json_array_get(ret, 0));
    if (!err && (!s || phx_hex_decode_fixed(s, g, 20, NULL)))
        err = phx_fail(e, PHX_ERR_REMOTE, "governor(): not an address");
    if (!err) *out = memcmp(g, who, 20) == 0;
    json_decref(ret);
    return err;
}

phx_err_t phx_chain_handover(phx_rpc_t *rpc, phx_signer_t *deployer,
                             const phx_chain_deployment_t *d, const uint8_t (*extra)[20],
                             size_t nextra, phx_error_t *e)
{
    const uint8_t *list[16];
    size_t n = phx_chain_governed(d, list, 16);
    if (nextra > 16 - n) return phx_fail(e, PHX_ERR_LIMIT, "handover: too many governed contracts");
    for (size_t i = 0; i < nextra; i++)
        list[n++] = extra[i];
    uint8_t me[20];
    phx_signer_address(deployer, me);
    phx_err_t err = PHX_OK;
    for (size_t i = 0; i < n && !err; i++) {
        bool mine = false;
        if ((err = governed_by(rpc, list[i], me, &mine, e))) break;
        if (mine)
            err = send(deployer, list[i], "setGovernor(address)",
                       json_pack("[o]", phx_json_hex(d->timelock, 20)), e);
    }
    if (err) return err;
    /* DEFAULT_ADMIN_ROLE is bytes32(0); renouncing a role not held is a no-op. */
    static const uint8_t admin_role[32];
    return send(deployer, d->timelock, "renounceRole(bytes32,address)",
                json_pack("[o,o]", phx_json_hex(admin_role, 32), phx_json_hex(me, 20)), e);
}

static json_t *checksum_json(const uint8_t a[20])
{
    char s[43];
    phx_eth_address_checksum(a, s);
    return json_string(s);
}

phx_err_t phx_chain_deployment_to_json(const phx_chain_deployment_t *d, json_t **out,
                                       phx_error_t *e)
{
    *out = json_pack("{s:I,s:I,s:o,s:{s:o,s:o,s:o,s:o,s:o,s:o},s:s}", "chainId",
                     (json_int_t)d->chain_id, "block", (json_int_t)d->block, "deployer",
                     checksum_json(d->deployer), "contracts", "PhxToken", checksum_json(d->token),
                     "Registry", checksum_json(d->registry), "Jobs", checksum_json(d->jobs),
                     "StakePool", checksum_json(d->stake_pool), "PhxTimelock",
                     checksum_json(d->timelock), "PhxGovernor", checksum_json(d->governor), "solc",
                     phx_chain_solc_version);
    if (*out && phx_chain_has_payments(d))
        json_object_set_new(json_object_get(*out, "contracts"), "Payments",
                            checksum_json(d->payments));
    if (*out && phx_chain_has_state(d))
        json_object_set_new(json_object_get(*out, "contracts"), "StateAnchor",
                            checksum_json(d->state));
    if (*out && phx_chain_has_inference_registry(d))
        json_object_set_new(json_object_get(*out, "contracts"), "InferenceRegistry",
                            checksum_json(d->inference_registry));
    return *out ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "deployment json");
}

static phx_err_t get_addr(const json_t *obj, const char *key, uint8_t out[20], phx_error_t *e)
{
    const char *s;
    phx_err_t err = phx_json_get_str(obj, key, &s, e);
    if (err) return err;
    if ((err = phx_evm_address_parse(s, out, e))) return phx_error_wrap(e, err, "%s", key);
    return PHX_OK;
}

phx_err_t phx_chain_deployment_from_json(const json_t *j, phx_chain_deployment_t *out,
                                         phx_error_t *e)
{
    memset(out, 0, sizeof *out);
    int64_t chain_id, block;
    phx_err_t err;
    if ((err = phx_json_get_int(j, "chainId", &chain_id, e))) return err;
    if ((err = phx_json_get_int(j, "block", &block, e))) return err;
    if (chain_id <= 0 || block < 0)
        return phx_fail(e, PHX_ERR_INVALID, "deployment: bad chainId/block");
    out->chain_id = (uint64_t)chain_id;
    out->block = (uint64_t)block;
    if ((err = get_addr(j, "deployer", out->deployer, e))) return err;
    const json_t *c = json_object_get(j, "contracts");
    if (!json_is_object(c))
        return phx_fail(e, PHX_ERR_INVALID, "deployment: no \"contracts\" object");
    if ((err = get_addr(c, "PhxToken", out->token, e))) return err;
    if ((err = get_addr(c, "Registry", out->registry, e))) return err;
    if ((err = get_addr(c, "Jobs", out->jobs, e))) return err;
    if ((err = get_addr(c, "StakePool", out->stake_pool, e))) return err;
    if ((err = get_addr(c, "PhxTimelock", out->timelock, e))) return err;
    if ((err = get_addr(c, "PhxGovernor", out->governor, e))) return err;
    /* Optional: a deployment from before Payments has free direct calls. */
    if (json_object_get(c, "Payments") && (err = get_addr(c, "Payments", out->payments, e)))
        return err;
    /* Optional: a deployment from before StateAnchor has no phx.state. */
    if (json_object_get(c, "StateAnchor") && (err = get_addr(c, "StateAnchor", out->state, e)))
        return err;
    /* Optional: a deployment from before InferenceRegistry has no endpoints on chain. */
    if (json_object_get(c, "InferenceRegistry"))
        return get_addr(c, "InferenceRegistry", out->inference_registry, e);
    return PHX_OK;
}

phx_err_t phx_chain_deployment_save(const phx_chain_deployment_t *d, const char *path,
                                    phx_error_t *e)
{
    json_t *j = NULL;
    phx_err_t err = phx_chain_deployment_to_json(d, &j, e);
    if (err) return err;
    char *text = phx_json_dump(j, true);
    json_decref(j);
    if (!text) return phx_fail(e, PHX_ERR_NOMEM, "deployment json");
    phx_buf_t b = PHX_BUF_INIT;
    if (!(err = phx_buf_append_str(&b, text)) && !(err = phx_buf_append_byte(&b, '\n')))
        err = phx_file_write_atomic(path, b.ptr, b.len, 0644, e);
    else
        phx_fail(e, err, "deployment json");
    phx_buf_free(&b);
    free(text);
    return err;
}

phx_err_t phx_chain_deployment_load(const char *path, phx_chain_deployment_t *out, phx_error_t *e)
{
    json_t *j = NULL;
    phx_err_t err = phx_json_load_file(path, &j, e);
    if (err) return err;
    err = phx_chain_deployment_from_json(j, out, e);
    json_decref(j);
    if (err) phx_error_wrap(e, err, "%s", path);
    return err;
}
