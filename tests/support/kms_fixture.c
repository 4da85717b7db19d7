/* See kms_fixture.h. */
#include "kms_fixture.h"

#include <stdio.h>
#include <string.h>

#include "phx/crypto.h"
#include "support/chain_fixture.h"
#include "support/sim_quote.h"

phx_err_t test_kms_service_start(test_kms_service_t *s, phx_tee_t *tee, const char *rpc_url,
                                 const phx_chain_deployment_t *dep, const uint8_t root[32],
                                 phx_error_t *e)
{
    phx_err_t err;
    if ((err = phx_tee_sim_root(tee, &s->sim_root, e)) ||
        (err = phx_attest_verifier_new(s->sim_root.ptr, s->sim_root.len, &s->verifier, e)))
        return err;
    s->attest = (phx_kms_attest_t){s->verifier, NULL};
    if ((err = phx_kms_registry_open(rpc_url, dep, &s->registry, e))) return err;
    s->cfg = (phx_kms_config_t){.verify_quote = phx_kms_verify_quote_attest,
                                .verify_ctx = &s->attest,
                                .check_peer = phx_kms_registry_check,
                                .check_ctx = s->registry,
                                .chain_id = dep->chain_id};
    if (root)
        memcpy(s->cfg.root, root, 32);
    else if (phx_random_bytes(s->cfg.root, 32))
        return phx_fail(e, PHX_ERR_CRYPTO, "root");
    memcpy(s->cfg.registry, dep->registry, 20);
    if ((err = phx_kms_new(&s->cfg, &s->kms, e)) || (err = phx_http_router_new(&s->router, e)) ||
        (err = phx_kms_add_routes(s->kms, s->router, e)) ||
        (err = phx_http_server_start(s->router, NULL, &s->server, e)))
        return err;
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u",
             (unsigned)phx_http_server_port(s->server));
    phx_kms_address(s->kms, s->address);
    return PHX_OK;
}

void test_kms_service_stop(test_kms_service_t *s, uint64_t grace_ms)
{
    if (s->server) phx_http_server_stop(s->server, grace_ms);
    phx_http_router_free(s->router);
    phx_kms_free(s->kms);
    phx_kms_registry_close(s->registry);
    phx_attest_verifier_free(s->verifier);
    phx_buf_free(&s->sim_root);
    phx_secure_zero(s->cfg.root, 32);
    memset(s, 0, sizeof *s);
}

phx_err_t test_kms_admit(phx_signer_t *gov, const phx_chain_deployment_t *dep, phx_tee_t *t,
                         phx_kms_t *k, phx_error_t *e)
{
    uint8_t addr[20], x[32], nonce[32], rd[64], coll_hash[32] = {0};
    phx_buf_t q = PHX_BUF_INIT;
    phx_kms_address(k, addr);
    phx_kms_x25519_pub(k, x);
    if (phx_random_bytes(nonce, 32)) return phx_fail(e, PHX_ERR_CRYPTO, "nonce");
    phx_chain_kms_report_data(addr, x, nonce, rd);
    phx_err_t err = phx_tee_quote(t, rd, &q, e);
    if (!err) err = phx_chain_admit_kms(gov, dep, addr, x, nonce, q.ptr, q.len, coll_hash, e);
    phx_buf_free(&q);
    return err;
}

phx_err_t test_kms_register_worker(const test_kms_service_t *s, phx_tee_t *tee, phx_signer_t *op,
                                   const phx_chain_deployment_t *dep, uint8_t worker[20],
                                   phx_error_t *e)
{
    uint8_t sk[32], xsk[32], op_addr[20];
    phx_kms_requester_t rq = {
        .kms_url = s->url, .quote = test_sim_quote, .quote_ctx = tee, .x25519_sk = xsk};
    memcpy(rq.kms_address, s->address, 20);
    phx_err_t err;
    if ((err = phx_secp256k1_keygen(sk)) || (err = phx_eth_address_from_seckey(sk, worker)) ||
        (err = phx_x25519_keygen(xsk, rq.x25519_pub)))
        return phx_fail(e, err, "worker keys");
    memcpy(rq.eth_address, worker, 20);
    phx_signer_address(op, op_addr);
    json_t *reg = NULL;
    err = phx_kms_request_registration(&rq, op_addr, &reg, e);
    phx_secure_zero(sk, sizeof sk);
    phx_secure_zero(xsk, sizeof xsk);
    if (err) return err;
    err = test_chain_transact(
        op, dep->registry, "registerWorker(address,bytes32,bytes32,bytes,bytes)",
        json_pack("[O,O,O,O,O]", json_object_get(reg, "worker"), json_object_get(reg, "x25519"),
                  json_object_get(reg, "nonce"), json_object_get(reg, "quote"),
                  json_object_get(reg, "signature")),
        e);
    json_decref(reg);
    return err;
}
