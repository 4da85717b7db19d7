/* An inference endpoint on chain (contracts/InferenceRegistry.sol): the
 * operator registers it with a quote made for the chain's registration nonce,
 * and a client checks that a report's key is registered with the same keys,
 * model hash and measurement (the link endpoint key -> registered, which
 * `phx verify`, `phx infer verify` and phx.ai.chat's routing check). Needs no
 * llama.cpp: it talks to the endpoint over HTTP. */
#include <stdio.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/infer.h"
#include "phx/net.h"

static phx_err_t field(const json_t *o, const char *key, uint8_t *out, size_t n, phx_error_t *e)
{
    const char *s = json_string_value(json_object_get(o, key));
    phx_error_t he = {0};
    if (!s || phx_hex_decode_fixed(s, out, n, &he))
        return phx_fail(e, PHX_ERR_INVALID, "report: '%s' is not %zu bytes of hex", key, n);
    return PHX_OK;
}

/* The report's keys and model hash, and its quote's measurement and report data. */
typedef struct {
    uint8_t address[20], ed[32], x[32], model[32], nonce[32];
    uint8_t measurement[32], report_data[64];
    uint32_t tee_type;
} report_keys_t;

static phx_err_t report_keys(const json_t *rep, report_keys_t *k, phx_error_t *e)
{
    phx_err_t err;
    if ((err = field(rep, "ecdsa_address", k->address, 20, e)) ||
        (err = field(rep, "ed25519_public_key", k->ed, 32, e)) ||
        (err = field(rep, "e2ee_public_key", k->x, 32, e)) ||
        (err = field(rep, "model_sha256", k->model, 32, e)) ||
        (err = field(rep, "request_nonce", k->nonce, 32, e)))
        return err;
    const char *qhex = json_string_value(json_object_get(rep, "intel_quote"));
    phx_buf_t quote = PHX_BUF_INIT;
    phx_error_t he = {0};
    if (!qhex || phx_hex_decode(qhex, &quote, &he))
        err = phx_fail(e, PHX_ERR_INVALID, "report: intel_quote is not hex");
    else
        err = phx_chain_quote_fields(quote.ptr, quote.len, &k->tee_type, k->measurement,
                                     k->report_data, e);
    phx_buf_free(&quote);
    return err;
}

phx_err_t phx_infer_register(phx_rpc_t *rpc, phx_signer_t *operator_,
                             const phx_chain_deployment_t *d, const char *url, uint64_t timeout_ms,
                             uint8_t signer_out[20], phx_error_t *e)
{
    phx_http_client_opts_t ho = {.timeout_ms = (long)timeout_ms};
    json_t *models = NULL, *rep = NULL;
    phx_buf_t u = PHX_BUF_INIT, quote = PHX_BUF_INIT;
    uint8_t op[20], nonce[32];
    char nhex[65];
    report_keys_t k;
    phx_signer_address(operator_, op);
    /* The model's name as the endpoint serves it: the nonce names it. */
    phx_buf_printf(&u, "%s/v1/models", url);
    phx_err_t err = phx_http_json("GET", (const char *)u.ptr, NULL, &ho, NULL, &models, e);
    if (err) {
        phx_error_wrap(e, err, "endpoint %s: /v1/models", url);
        goto out;
    }
    const char *model = json_string_value(
        json_object_get(json_array_get(json_object_get(models, "data"), 0), "id"));
    if (!model) {
        err = phx_fail(e, PHX_ERR_REMOTE, "endpoint %s: /v1/models names no model", url);
        goto out;
    }
    if ((err = phx_chain_endpoint_nonce(rpc, d, op, model, url, nonce, e))) goto out;
    phx_hex_encode_to(nhex, nonce, 32);
    nhex[64] = 0;
    phx_buf_reset(&u);
    phx_buf_printf(&u, "%s/v1/attestation/report?nonce=%s&signing_algo=ecdsa", url, nhex);
    if ((err = phx_http_json("GET", (const char *)u.ptr, NULL, &ho, NULL, &rep, e))) {
        phx_error_wrap(e, err, "endpoint %s: attestation report", url);
        goto out;
    }
    /* The chain checks these too; checked here first for a clear error. */
    if ((err = report_keys(rep, &k, e))) goto out;
    uint8_t rd[64];
    phx_infer_report_data(k.address, k.ed, k.x, k.model, nonce, rd);
    if (memcmp(rd, k.report_data, 64) != 0) {
        err = phx_fail(e, PHX_ERR_VERIFY,
                       "endpoint %s: the quote's report data does not bind its keys, model "
                       "and the registration nonce",
                       url);
        goto out;
    }
    phx_error_t he = {0};
    phx_hex_decode(json_string_value(json_object_get(rep, "intel_quote")), &quote, &he);
    if ((err = phx_chain_register_endpoint(rpc, operator_, d, k.address, k.ed, k.x, k.model, model,
                                           url, quote.ptr, quote.len, e))) {
        phx_error_wrap(e, err, "registering endpoint %s", url);
        goto out;
    }
    if (signer_out) memcpy(signer_out, k.address, 20);
out:
    json_decref(models);
    json_decref(rep);
    phx_buf_free(&u);
    phx_buf_free(&quote);
    return err;
}

static const char *status_name(uint8_t s)
{
    switch (s) {
    case PHX_CHAIN_WORKER_ACTIVE:
        return "active";
    case PHX_CHAIN_WORKER_DEREGISTERED:
        return "deregistered";
    case PHX_CHAIN_WORKER_INVALIDATED:
        return "invalidated by governance";
    default:
        return "not registered";
    }
}

phx_err_t phx_infer_check_registered(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                     const json_t *report, bool require_active,
                                     phx_chain_endpoint_t *rec, phx_error_t *e)
{
    phx_chain_endpoint_t local;
    if (!rec) rec = &local;
    memset(rec, 0, sizeof *rec);
    report_keys_t k;
    phx_err_t err = report_keys(report, &k, e);
    if (err) return err;
    char addr[43];
    phx_eth_address_checksum(k.address, addr);
    if ((err = phx_chain_endpoint_get(rpc, d, k.address, rec, e))) return err;
    if (rec->status == PHX_CHAIN_WORKER_NONE)
        return phx_fail(e, PHX_ERR_VERIFY,
                        "registered on chain: endpoint key %s is not in the InferenceRegistry",
                        addr);
    if (rec->status == PHX_CHAIN_WORKER_INVALIDATED ||
        (require_active && rec->status != PHX_CHAIN_WORKER_ACTIVE))
        return phx_fail(e, PHX_ERR_VERIFY, "registered on chain: endpoint %s is %s", addr,
                        status_name(rec->status));
    if (memcmp(rec->model_sha256, k.model, 32) != 0)
        return phx_fail(e, PHX_ERR_VERIFY,
                        "registered on chain: endpoint %s was registered with another model "
                        "hash than its report attests",
                        addr);
    if (memcmp(rec->ed25519, k.ed, 32) != 0 || memcmp(rec->x25519, k.x, 32) != 0)
        return phx_fail(e, PHX_ERR_VERIFY,
                        "registered on chain: endpoint %s was registered with other keys", addr);
    if (memcmp(rec->measurement, k.measurement, 32) != 0 || rec->tee_type != k.tee_type)
        return phx_fail(e, PHX_ERR_VERIFY,
                        "registered on chain: the report's quote shows another measurement than "
                        "endpoint %s registered with",
                        addr);
    json_t *args = json_pack("[o]", phx_json_hex(rec->measurement, 32)), *ret = NULL;
    err = args ? phx_chain_read(rpc, d->registry, "measurementAllowed(bytes32)", args, "(bool)",
                                &ret, e)
               : phx_fail(e, PHX_ERR_NOMEM, "measurementAllowed");
    if (!err && !json_is_true(json_array_get(ret, 0)))
        err = phx_fail(e, PHX_ERR_VERIFY,
                       "registered on chain: endpoint %s runs a measurement governance no "
                       "longer allows",
                       addr);
    json_decref(ret);
    json_decref(args);
    return err;
}
