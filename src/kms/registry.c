/* The KMS's chain check over the Registry contract: who may receive keys is
 * decided by governance on chain, read here through a JSON-RPC node. The node
 * is not trusted for secrecy (it learns nothing), only for liveness and for
 * reporting the chain's state; a production KMS would point at its own node. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "phx/kms_node.h"

struct phx_kms_registry {
    pthread_mutex_t lock; /* phx_rpc_t is one client per thread */
    phx_rpc_t *rpc;
    phx_chain_deployment_t d;
};

phx_err_t phx_kms_registry_open(const char *rpc_url, const phx_chain_deployment_t *deployment,
                                phx_kms_registry_t **out, phx_error_t *e)
{
    phx_kms_registry_t *r = calloc(1, sizeof *r);
    if (!r) return phx_fail(e, PHX_ERR_NOMEM, "registry");
    phx_rpc_opts_t o = {.timeout_ms = 5000, .retries = 2};
    phx_err_t err = phx_rpc_open(rpc_url, &o, &r->rpc, e);
    if (err) {
        free(r);
        return err;
    }
    r->d = *deployment;
    pthread_mutex_init(&r->lock, NULL);
    *out = r;
    return PHX_OK;
}

void phx_kms_registry_close(phx_kms_registry_t *r)
{
    if (!r) return;
    phx_rpc_close(r->rpc);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* A bool-returning Registry getter with one argument. */
static phx_err_t read_flag(phx_kms_registry_t *r, const char *sig, json_t *arg, bool *out,
                           phx_error_t *e)
{
    json_t *args = json_pack("[o]", arg), *ret = NULL;
    phx_err_t err = phx_chain_read(r->rpc, r->d.registry, sig, args, "(bool)", &ret, e);
    if (!err) {
        json_t *v = json_array_get(ret, 0);
        if (!json_is_boolean(v))
            err = phx_fail(e, PHX_ERR_REMOTE, "%s: not a bool", sig);
        else
            *out = json_is_true(v);
    }
    json_decref(ret);
    json_decref(args);
    return err;
}

static phx_err_t check_locked(phx_kms_registry_t *r, phx_kms_role_t role,
                              const phx_kms_peer_t *peer, phx_error_t *e)
{
    uint8_t mr[32];
    bool allowed = false;
    phx_err_t err;
    phx_kms_measurement_id(peer->quote, mr);
    if ((err = read_flag(r, "measurementAllowed(bytes32)", phx_json_hex(mr, 32), &allowed, e)))
        return err;
    if (!allowed) {
        char hex[65];
        phx_hex_encode_to(hex, mr, 32);
        return phx_fail(e, PHX_ERR_POLICY, "measurement 0x%s is not allowed by the Registry", hex);
    }
    if (role == PHX_KMS_ROLE_REGISTRATION || role == PHX_KMS_ROLE_KMS_ADMISSION) return PHX_OK;
    if (role == PHX_KMS_ROLE_KMS) {
        bool is_kms = false;
        if ((err = read_flag(r, "isKms(address)", phx_json_hex(peer->eth_address, 20), &is_kms, e)))
            return err;
        if (!is_kms) return phx_fail(e, PHX_ERR_POLICY, "not a KMS node on the Registry");
        /* The root goes only to the X25519 key whose quote was verified at
         * admission (by governance or the vouching quorum). */
        phx_chain_kms_t k;
        if ((err = phx_chain_kms_get(r->rpc, &r->d, peer->eth_address, &k, e))) return err;
        if (memcmp(k.x25519, peer->x25519_pub, 32) != 0)
            return phx_fail(e, PHX_ERR_POLICY, "X25519 key differs from the one admitted");
        if (memcmp(k.measurement, mr, 32) != 0)
            return phx_fail(e, PHX_ERR_POLICY, "measurement differs from the one admitted");
        return PHX_OK;
    }
    phx_chain_worker_t w;
    if ((err = phx_chain_worker_get(r->rpc, &r->d, peer->eth_address, &w, e))) return err;
    if (w.status != PHX_CHAIN_WORKER_ACTIVE)
        return phx_fail(e, PHX_ERR_POLICY, "worker is not registered and active (status %u)",
                        (unsigned)w.status);
    /* Keys go only to the X25519 key the chain recorded at registration: the
     * one clients were told about. */
    if (memcmp(w.x25519, peer->x25519_pub, 32) != 0)
        return phx_fail(e, PHX_ERR_POLICY, "X25519 key differs from the one registered");
    if (memcmp(w.measurement, mr, 32) != 0)
        return phx_fail(e, PHX_ERR_POLICY, "measurement differs from the one registered");
    return PHX_OK;
}

phx_err_t phx_kms_registry_check(void *ctx, phx_kms_role_t role, const phx_kms_peer_t *peer,
                                 phx_error_t *e)
{
    phx_kms_registry_t *r = ctx;
    pthread_mutex_lock(&r->lock);
    phx_err_t err = check_locked(r, role, peer, e);
    pthread_mutex_unlock(&r->lock);
    return err;
}

phx_err_t phx_kms_registry_contract_owner(void *ctx, const uint8_t id[32], uint8_t owner[20],
                                          phx_error_t *e)
{
    phx_kms_registry_t *r = ctx;
    pthread_mutex_lock(&r->lock);
    phx_err_t err = phx_chain_contract_get(r->rpc, &r->d, id, owner, NULL, e);
    pthread_mutex_unlock(&r->lock);
    return err;
}
