/* Deploying the Phalanx contract set from C and the deployment file that the
 * other daemons and `phx chain status` read. Order matters: Registry needs the
 * token's address and Jobs needs both. */
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
}

bool phx_chain_has_payments(const phx_chain_deployment_t *d)
{
    static const uint8_t zero[20];
    return memcmp(d->payments, zero, 20) != 0;
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
    return deploy_one(signer, "Payments", &args[0][0], 128, out->payments, &out->block, e);
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
    *out =
        json_pack("{s:I,s:I,s:o,s:{s:o,s:o,s:o},s:s}", "chainId", (json_int_t)d->chain_id, "block",
                  (json_int_t)d->block, "deployer", checksum_json(d->deployer), "contracts",
                  "PhxToken", checksum_json(d->token), "Registry", checksum_json(d->registry),
                  "Jobs", checksum_json(d->jobs), "solc", phx_chain_solc_version);
    if (*out && phx_chain_has_payments(d))
        json_object_set_new(json_object_get(*out, "contracts"), "Payments",
                            checksum_json(d->payments));
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
    /* Optional: a deployment from before Payments has free direct calls. */
    if (json_object_get(c, "Payments")) return get_addr(c, "Payments", out->payments, e);
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
