/* A whole KMS node: TEE backend, the root (sealed on disk; or, without a
 * sealing key, only in memory and fetched from a peer KMS on every start),
 * quote verifier, the chain or allowlist check, and the HTTP server. `phx
 * kms` is this plus signals; tests and the devnet can run it in-process. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "phx/crypto.h"
#include "phx/kms_node.h"

struct phx_kms_node {
    phx_tee_t *tee;
    phx_attest_verifier_t *verifier;
    phx_kms_attest_t attest;
    phx_kms_registry_t *registry;
    phx_kms_allowlist_t allowlist;
    uint8_t (*allowed)[32]; /* owned copy: the given list plus our own measurement */
    phx_kms_t *kms;
    phx_http_router_t *router;
    phx_http_server_t *server;
    uint8_t measurement[32];
    bool created_root;
    const char *root_origin;
    char url[96];
};

/* Our own quotes: the TEE's quote, plus collateral where we can produce it
 * offline (the sim platform); real platforms' collateral comes from PCS. */
static phx_err_t self_quote(void *ctx, const uint8_t report_data[64], phx_buf_t *quote,
                            phx_buf_t *collateral, phx_error_t *e)
{
    phx_tee_t *t = ctx;
    phx_err_t err = phx_tee_quote(t, report_data, quote, e);
    if (err) return err;
    if (phx_tee_kind(t) == PHX_TEE_SIM) return phx_tee_sim_collateral(t, collateral, e);
    return PHX_OK;
}

static phx_err_t own_measurement(phx_tee_t *t, uint8_t id[32], phx_error_t *e)
{
    phx_tee_measurement_t m;
    phx_err_t err = phx_tee_measurement(t, &m, e);
    if (err) return err;
    phx_kms_quote_info_t info = {0};
    if (m.type == PHX_REPORT_SGX) {
        memcpy(info.measurement, m.mr_enclave, 32);
        memcpy(info.measurement + 32, m.mr_signer, 32);
        info.measurement_len = 64;
    } else {
        memcpy(info.measurement, m.mr_td, 48);
        for (int i = 0; i < 4; i++)
            memcpy(info.measurement + 48 + 48 * i, m.rt_mr[i], 48);
        info.measurement_len = 240;
    }
    phx_kms_measurement_id(&info, id);
    return PHX_OK;
}

/* A replica's onboarding key admitted by a quorum of one: the running KMS
 * verifies our quote in its TEE and signs Registry.kmsAdmitDigest; we send
 * Registry.admitKmsByQuorum with it. */
static phx_err_t admit_by_quorum(const phx_kms_node_opts_t *o, const phx_kms_requester_t *rq,
                                 phx_error_t *e)
{
    json_t *v = NULL;
    phx_rpc_t *rpc = NULL;
    phx_signer_t *sender = NULL;
    phx_buf_t quote = PHX_BUF_INIT;
    uint8_t x25519[32], nonce[32], coll_hash[32], sig[65];
    phx_err_t err;
    if ((err = phx_kms_request_vouch(rq, &v, e))) goto out;
    if ((err = phx_json_get_hex_fixed(v, "x25519", x25519, 32, e)) ||
        (err = phx_json_get_hex_fixed(v, "nonce", nonce, 32, e)) ||
        (err = phx_json_get_hex_fixed(v, "collateral_hash", coll_hash, 32, e)) ||
        (err = phx_json_get_hex_fixed(v, "signature", sig, 65, e)) ||
        (err = phx_json_get_hex(v, "quote", &quote, e)))
        goto out;
    if ((err = phx_rpc_open(o->rpc_url, NULL, &rpc, e)) ||
        (err = phx_signer_open(rpc, o->quorum_sender_sk, NULL, &sender, e)))
        goto out;
    const uint8_t(*sigs)[65] = (const uint8_t(*)[65])sig;
    err = phx_chain_admit_kms_by_quorum(sender, o->deployment, rq->eth_address, x25519, nonce,
                                        quote.ptr, quote.len, coll_hash, sigs, 1, e);
    if (err) phx_error_wrap(e, err, "admitKmsByQuorum");
out:
    phx_signer_close(sender);
    phx_rpc_close(rpc);
    phx_buf_free(&quote);
    json_decref(v);
    return err;
}

/* A replica's first start: a throwaway identity made in this TEE asks the
 * running KMS for the root. That identity must be admitted as a KMS node first
 * (by a quorum, below, or by governance), so keep asking until it is. */
static phx_err_t onboard(const phx_kms_node_opts_t *o, phx_tee_t *t, uint8_t root[32],
                         phx_error_t *e)
{
    uint8_t sk[32], xsk[32];
    phx_kms_requester_t rq = {
        .kms_url = o->onboard_url, .quote = self_quote, .quote_ctx = t, .x25519_sk = xsk};
    phx_err_t err;
    if (!o->onboard_kms_address)
        return phx_fail(e, PHX_ERR_INVALID, "onboarding needs the KMS address");
    memcpy(rq.kms_address, o->onboard_kms_address, 20);
    if (phx_secp256k1_keygen(sk) || phx_eth_address_from_seckey(sk, rq.eth_address) ||
        phx_x25519_keygen(xsk, rq.x25519_pub)) {
        err = phx_fail(e, PHX_ERR_CRYPTO, "replica identity");
        goto out;
    }
    char addr[43], path[1100];
    phx_eth_address_checksum(rq.eth_address, addr);
    /* Who governance (or a quorum of KMS nodes) must admit before we get the
     * root: public, for the operator and scripts, in DIR/onboarding.json. */
    json_t *doc = json_pack("{s:s,s:s}", "onboarding_address", addr, "from", o->onboard_url);
    char *text = doc ? phx_json_dump(doc, true) : NULL;
    snprintf(path, sizeof path, "%s/onboarding.json", o->dir);
    if (!text || phx_file_write_atomic(path, text, strlen(text), 0644, NULL))
        PHX_WARN("kms: could not write %s", path);
    free(text);
    json_decref(doc);
    PHX_INFO("kms: replica %s asks %s for the root", addr, o->onboard_url);
    uint64_t deadline =
        phx_monotonic_ms() + 1000ull * (o->onboard_timeout_s ? o->onboard_timeout_s : 60);
    if (o->quorum_sender_sk && o->rpc_url && o->deployment && (err = admit_by_quorum(o, &rq, e)))
        goto out;
    for (;;) {
        err = phx_kms_request_secret(&rq, PHX_KMS_ROLE_KMS, root, e);
        if (!err || !(err == PHX_ERR_REMOTE && e && strstr(e->message, "not a KMS node"))) break;
        if (phx_monotonic_ms() > deadline) break;
        PHX_WARN("kms: replica %s waits to be admitted as a KMS node (Registry.admitKms or "
                 "admitKmsByQuorum)",
                 addr);
        sleep(2);
    }
    if (!err) PHX_INFO("kms: replica %s received the root from %s", addr, o->onboard_url);
out:
    phx_secure_zero(sk, sizeof sk);
    phx_secure_zero(xsk, sizeof xsk);
    return err;
}

void phx_kms_node_stop(phx_kms_node_t *n, uint64_t grace_ms)
{
    if (!n) return;
    phx_http_server_stop(n->server, grace_ms);
    phx_http_router_free(n->router);
    phx_kms_free(n->kms);
    phx_kms_registry_close(n->registry);
    phx_attest_verifier_free(n->verifier);
    phx_tee_close(n->tee);
    free(n->allowed);
    free(n);
}

/* The KMS address a root gives (replicas of one root share it). */
static phx_err_t root_address(const uint8_t root[32], uint8_t address[20], phx_error_t *e)
{
    uint8_t sk[32];
    phx_err_t err = phx_kms_identity_key(root, sk, address, e);
    phx_secure_zero(sk, sizeof sk);
    return err;
}

/* No sealing key (TDX, sim-noseal; DESIGN.md §5): the root lives only in the
 * memory of running KMS nodes and passes between them over the attested
 * replica channel, as dstack's KMS does. DIR/kms-root.json records, in the
 * clear, which root this node served (its KMS address: public), so a restart
 * with no peer to ask fails loudly instead of quietly making a new root that
 * would change every contract's keys. */
static phx_err_t root_without_sealing(const phx_kms_node_opts_t *o, phx_kms_node_t *n,
                                      uint8_t root[32], phx_error_t *e)
{
    char path[1100], had_hex[43] = "";
    uint8_t had[20], addr[20];
    json_t *doc = NULL;
    phx_err_t err;
    bool known = false;
    snprintf(path, sizeof path, "%s/kms-root.json", o->dir);
    if (phx_json_load_file(path, &doc, NULL) == PHX_OK)
        known = phx_json_get_hex_fixed(doc, "kms_address", had, 20, NULL) == PHX_OK;
    json_decref(doc);
    doc = NULL;
    if (known) phx_eth_address_checksum(had, had_hex);
    if (o->onboard_url) {
        if (known && o->onboard_kms_address && memcmp(had, o->onboard_kms_address, 20) != 0)
            return phx_fail(e, PHX_ERR_STATE,
                            "this KMS served the root of KMS %s; --kms-address names another",
                            had_hex);
        if ((err = onboard(o, n->tee, root, e))) return err;
        if ((err = root_address(root, addr, e))) goto out;
        /* The release was signed by that KMS; check it also sent its own root. */
        if (memcmp(addr, o->onboard_kms_address, 20) != 0) {
            err = phx_fail(e, PHX_ERR_VERIFY, "the peer KMS sent a root that is not its own");
            goto out;
        }
        n->root_origin = "received from a peer KMS (no sealing key: kept in memory only)";
    } else if (known) {
        return phx_fail(e, PHX_ERR_STATE,
                        "this TEE has no sealing key and this KMS served the root of KMS %s, "
                        "which lives only in running KMS nodes: start it with --onboard-from "
                        "URL --kms-address %s of a peer that holds it (a new root needs a new "
                        "--dir)",
                        had_hex, had_hex);
    } else {
        if (phx_random_bytes(root, 32)) return phx_fail(e, PHX_ERR_CRYPTO, "random");
        if ((err = root_address(root, addr, e))) goto out;
        n->created_root = true;
        n->root_origin = "created in memory (no sealing key: start a replica to keep it)";
        PHX_WARN("kms: no sealing key: the root lives only in this process and its replicas; "
                 "start a replica (--onboard-from) before this node is ever stopped");
    }
    char addr_hex[43];
    phx_eth_address_checksum(addr, addr_hex);
    doc = json_pack("{s:s,s:b}", "kms_address", addr_hex, "sealed", 0);
    char *text = doc ? phx_json_dump(doc, true) : NULL;
    err = text ? phx_file_write_atomic(path, text, strlen(text), 0644, e)
               : phx_fail(e, PHX_ERR_NOMEM, "kms-root.json");
    free(text);
out:
    json_decref(doc);
    if (err) phx_secure_zero(root, 32);
    return err;
}

phx_err_t phx_kms_node_start(const phx_kms_node_opts_t *o, phx_kms_node_t **out, phx_error_t *e)
{
    phx_kms_node_t *n = calloc(1, sizeof *n);
    phx_buf_t root_der = PHX_BUF_INIT;
    uint8_t root[32];
    char path[1024];
    phx_err_t err;
    *out = NULL;
    if (!n) return phx_fail(e, PHX_ERR_NOMEM, "kms node");
    if (!o->dir || !*o->dir) {
        err = phx_fail(e, PHX_ERR_INVALID, "a state directory is required");
        goto fail;
    }
    /* 0700 on what we create: the state is ours alone. */
    if ((err = phx_dir_ensure(o->dir, 0700, e))) goto fail;
    if ((err = phx_tee_open(o->tee ? o->tee : PHX_TEE_SIM, o->tee_config, &n->tee, e))) goto fail;
    if ((err = own_measurement(n->tee, n->measurement, e))) goto fail;

    /* Which quotes we believe. */
    const uint8_t *der = o->root_der;
    size_t der_len = o->root_der_len;
    if (!der && o->trust_own_sim_root && phx_tee_kind(n->tee) == PHX_TEE_SIM) {
        if ((err = phx_tee_sim_root(n->tee, &root_der, e))) goto fail;
        der = root_der.ptr;
        der_len = root_der.len;
    }
    if ((err = phx_attest_verifier_new(der, der_len, &n->verifier, e))) goto fail;
    n->attest.verifier = n->verifier;
    n->attest.policy = o->policy;

    /* Whom we release keys to. */
    phx_kms_config_t cfg = {.verify_quote = phx_kms_verify_quote_attest,
                            .verify_ctx = &n->attest,
                            .self_quote = self_quote,
                            .self_quote_ctx = n->tee};
    if (o->rpc_url && o->deployment) {
        if ((err = phx_kms_registry_open(o->rpc_url, o->deployment, &n->registry, e))) goto fail;
        cfg.check_peer = phx_kms_registry_check;
        cfg.check_ctx = n->registry;
        cfg.contract_owner = phx_kms_registry_contract_owner;
        cfg.contract_owner_ctx = n->registry;
        cfg.chain_id = o->deployment->chain_id;
        memcpy(cfg.registry, o->deployment->registry, 20);
    } else {
        size_t count = o->allow_count + (o->allow_own_measurement ? 1 : 0);
        n->allowed = calloc(count ? count : 1, 32);
        if (!n->allowed) {
            err = phx_fail(e, PHX_ERR_NOMEM, "allowlist");
            goto fail;
        }
        if (o->allow_count) memcpy(n->allowed, o->allow, 32 * o->allow_count);
        if (o->allow_own_measurement) memcpy(n->allowed[o->allow_count], n->measurement, 32);
        n->allowlist.measurements = (const uint8_t(*)[32])n->allowed;
        n->allowlist.count = count;
        cfg.check_peer = phx_kms_allowlist_check;
        cfg.check_ctx = &n->allowlist;
    }

    /* The root: sealed on disk, or born here, or fetched from a running KMS. */
    if (!phx_tee_can_seal(n->tee)) {
        if ((err = root_without_sealing(o, n, root, e))) goto fail;
    } else {
        snprintf(path, sizeof path, "%s/kms-root.sealed", o->dir);
        if (o->onboard_url && access(path, F_OK) != 0) {
            phx_buf_t sealed = PHX_BUF_INIT;
            if ((err = onboard(o, n->tee, root, e))) goto fail;
            err = phx_tee_seal(phx_tee_sealing_key, n->tee, "phx-kms-root", root, 32, &sealed, e);
            if (!err) err = phx_file_write_atomic(path, sealed.ptr, sealed.len, 0600, e);
            phx_buf_free(&sealed);
            if (err) goto fail;
            n->root_origin = "received from a peer KMS and sealed";
        } else if ((err = phx_kms_root_load_or_create(path, phx_tee_sealing_key, n->tee, root,
                                                      &n->created_root, e))) {
            goto fail;
        } else {
            n->root_origin = n->created_root ? "created and sealed" : "unsealed from disk";
        }
    }
    memcpy(cfg.root, root, 32);
    phx_secure_zero(root, sizeof root);
    char outbox[1200];
    snprintf(outbox, sizeof outbox, "%s/outbox.sqlite", o->dir);
    cfg.outbox_path = outbox;
    char ledger[1200];
    snprintf(ledger, sizeof ledger, "%s/ledger.sqlite", o->dir);
    cfg.ledger_path = ledger;
    err = phx_kms_new(&cfg, &n->kms, e);
    phx_secure_zero(cfg.root, sizeof cfg.root);
    if (err) goto fail;

    if ((err = phx_http_router_new(&n->router, e))) goto fail;
    if ((err = phx_kms_add_routes(n->kms, n->router, e))) goto fail;
    phx_http_server_opts_t so = {.host = o->host, .port = o->port, .rate_per_s = o->rate_per_s};
    if ((err = phx_http_server_start(n->router, &so, &n->server, e))) goto fail;
    const char *host = o->host ? o->host : "127.0.0.1";
    snprintf(n->url, sizeof n->url, strchr(host, ':') ? "http://[%s]:%u" : "http://%s:%u", host,
             (unsigned)phx_http_server_port(n->server));
    phx_buf_free(&root_der);
    *out = n;
    return PHX_OK;
fail:
    phx_secure_zero(root, sizeof root);
    phx_buf_free(&root_der);
    phx_kms_node_stop(n, 0);
    return err;
}

const char *phx_kms_node_url(const phx_kms_node_t *n)
{
    return n->url;
}
phx_kms_t *phx_kms_node_kms(phx_kms_node_t *n)
{
    return n->kms;
}
void phx_kms_node_measurement(const phx_kms_node_t *n, uint8_t id[32])
{
    memcpy(id, n->measurement, 32);
}
bool phx_kms_node_created_root(const phx_kms_node_t *n)
{
    return n->created_root;
}
const char *phx_kms_node_root_origin(const phx_kms_node_t *n)
{
    return n->root_origin ? n->root_origin : "?";
}
