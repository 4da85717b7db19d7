/* The requester's side of the KMS exchange, as a worker or a new KMS replica
 * runs it: fetch a nonce, quote over report data binding its keys and that
 * nonce, send quote + collateral, and open what comes back. */
#include <stdio.h>
#include <string.h>

#include "phx/chain.h"
#include "phx/crypto.h"
#include "phx/kms.h"

/* POST /v1/nonces, then build the request body every endpoint takes; the quote
 * binds the keys in the requester's role domain (a replica's is the KMS's). */
static phx_err_t prepare(const phx_kms_requester_t *rq, phx_kms_role_t role, uint8_t nonce[32],
                         json_t **body, phx_error_t *e)
{
    char url[512];
    json_t *resp = NULL, *coll_json = NULL, *who = NULL;
    phx_buf_t quote = PHX_BUF_INIT, coll = PHX_BUF_INIT;
    uint8_t report_data[64];
    phx_err_t err;
    *body = NULL;
    snprintf(url, sizeof url, "%s/v1/nonces", rq->kms_url);
    /* The nonce is bound to the address that will present it. */
    if (!(who = json_pack("{s:o}", "eth_address", phx_json_hex(rq->eth_address, 20)))) {
        err = phx_fail(e, PHX_ERR_NOMEM, "nonce request");
        goto out;
    }
    if ((err = phx_http_json("POST", url, who, rq->http, NULL, &resp, e))) goto out;
    if ((err = phx_json_get_hex_fixed(resp, "nonce", nonce, 32, e))) goto out;
    if (role == PHX_KMS_ROLE_KMS || role == PHX_KMS_ROLE_KMS_ADMISSION)
        phx_chain_kms_report_data(rq->eth_address, rq->x25519_pub, nonce, report_data);
    else
        phx_chain_report_data(rq->eth_address, rq->x25519_pub, nonce, report_data);
    if ((err = rq->quote(rq->quote_ctx, report_data, &quote, &coll, e))) goto out;
    if ((err = phx_json_parse((const char *)coll.ptr, coll.len, &coll_json, e))) {
        phx_error_wrap(e, err, "collateral");
        goto out;
    }
    *body =
        json_pack("{s:o,s:O,s:o,s:o,s:o}", "quote", phx_json_hex(quote.ptr, quote.len),
                  "collateral", coll_json, "eth_address", phx_json_hex(rq->eth_address, 20),
                  "x25519_pub", phx_json_hex(rq->x25519_pub, 32), "nonce", phx_json_hex(nonce, 32));
    if (!*body) err = phx_fail(e, PHX_ERR_NOMEM, "request");
out:
    json_decref(who);
    json_decref(resp);
    json_decref(coll_json);
    phx_buf_free(&quote);
    phx_buf_free(&coll);
    return err;
}

phx_err_t phx_kms_request_secret(const phx_kms_requester_t *rq, phx_kms_role_t role,
                                 uint8_t secret[32], phx_error_t *e)
{
    uint8_t nonce[32];
    json_t *body = NULL, *resp = NULL;
    char url[512];
    phx_err_t err;
    if (role != PHX_KMS_ROLE_WORKER && role != PHX_KMS_ROLE_KMS)
        return phx_fail(e, PHX_ERR_INVALID, "keys are released to workers and replicas only");
    if ((err = prepare(rq, role, nonce, &body, e))) goto out;
    snprintf(url, sizeof url, "%s%s", rq->kms_url,
             role == PHX_KMS_ROLE_KMS ? "/v1/replicas" : "/v1/keys");
    if ((err = phx_http_json("POST", url, body, rq->http, NULL, &resp, e))) goto out;
    err = phx_kms_release_open(role, resp, rq->kms_address, rq->eth_address, nonce, rq->x25519_sk,
                               secret, e);
out:
    json_decref(body);
    json_decref(resp);
    return err;
}

phx_err_t phx_kms_request_registration(const phx_kms_requester_t *rq,
                                       const uint8_t operator_address[20], json_t **out,
                                       phx_error_t *e)
{
    uint8_t nonce[32], from[20];
    json_t *body = NULL;
    char url[512];
    phx_err_t err;
    *out = NULL;
    if ((err = prepare(rq, PHX_KMS_ROLE_REGISTRATION, nonce, &body, e))) goto out;
    json_object_set_new(body, "operator", phx_json_hex(operator_address, 20));
    snprintf(url, sizeof url, "%s/v1/registrations", rq->kms_url);
    if ((err = phx_http_json("POST", url, body, rq->http, NULL, out, e))) goto out;
    /* The Registry checks the signature itself; here we only refuse an answer
     * from a KMS other than the one we meant to ask. */
    if ((err = phx_json_get_hex_fixed(*out, "kms_address", from, 20, e))) goto out;
    if (memcmp(from, rq->kms_address, 20) != 0) {
        err =
            phx_fail(e, PHX_ERR_VERIFY, "registration signed by another KMS than the one trusted");
        goto out;
    }
    /* registerWorker needs the very quote the KMS signed over. */
    json_object_set(*out, "quote", json_object_get(body, "quote"));
out:
    if (err) {
        json_decref(*out);
        *out = NULL;
    }
    json_decref(body);
    return err;
}

phx_err_t phx_kms_request_vouch(const phx_kms_requester_t *rq, json_t **out, phx_error_t *e)
{
    uint8_t nonce[32], from[20];
    json_t *body = NULL;
    char url[512];
    phx_err_t err;
    *out = NULL;
    if ((err = prepare(rq, PHX_KMS_ROLE_KMS_ADMISSION, nonce, &body, e))) goto out;
    snprintf(url, sizeof url, "%s/v1/vouches", rq->kms_url);
    if ((err = phx_http_json("POST", url, body, rq->http, NULL, out, e))) goto out;
    if ((err = phx_json_get_hex_fixed(*out, "kms_address", from, 20, e))) goto out;
    if (memcmp(from, rq->kms_address, 20) != 0) {
        err = phx_fail(e, PHX_ERR_VERIFY, "vouch signed by another KMS than the one trusted");
        goto out;
    }
    json_object_set(*out, "quote", json_object_get(body, "quote"));
out:
    if (err) {
        json_decref(*out);
        *out = NULL;
    }
    json_decref(body);
    return err;
}
