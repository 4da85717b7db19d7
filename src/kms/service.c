/* The KMS service: stateless nonces, the key-release decision for workers
 * (POST /v1/keys) and KMS replicas (POST /v1/replicas), and signed contract
 * public keys (GET /v1/contracts/:id/pubkey). The order of checks in
 * phx_kms_release is the security argument: fresh nonce, genuine quote,
 * quote binds the requester's keys, chain allows the requester; only then is
 * anything encrypted, and only to the key the quote bound. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phx/chain.h"
#include "phx/crypto.h"
#include "phx/kms.h"

#define MAX_QUOTE_BYTES (64u << 10)
#define MAX_COLLATERAL_BYTES (512u << 10)

/* A nonce is issued_at(8, big-endian unix seconds) || random(8) ||
 * HMAC-SHA256(nonce_key, NONCE_TAG || issued_at || random || requester)[0..16]:
 * the KMS keeps no table, so there is nothing for a flood to fill. */
#define NONCE_TAG "phx-kms-nonce-v1"
#define NONCE_MAC_LEN 16
#define NONCE_SKEW_S 5 /* an issue time this far ahead of our clock still counts */

struct phx_kms {
    uint8_t root[32];
    uint8_t contract_root[32];
    uint8_t sk[32];
    uint8_t address[20];
    uint8_t x25519_pub[32]; /* bound in the KMS's own attestation */
    uint8_t nonce_key[32];  /* "kms/nonce-mac": replicas share it, so do their nonces */
    phx_kms_config_t cfg;
    phx_kms_outbox_t *outbox; /* NULL without cfg.outbox_path */
    phx_kms_ledger_t *ledger; /* NULL without cfg.ledger_path */
};

static int64_t default_now(void)
{
    return (int64_t)time(NULL);
}

phx_err_t phx_kms_new(const phx_kms_config_t *cfg, phx_kms_t **out, phx_error_t *e)
{
    if (!cfg->verify_quote || !cfg->check_peer)
        return phx_fail(e, PHX_ERR_INVALID, "KMS needs a quote verifier and a chain check");
    phx_kms_t *k = calloc(1, sizeof *k);
    if (!k) return phx_fail(e, PHX_ERR_NOMEM, "kms");
    k->cfg = *cfg;
    memset(k->cfg.root, 0, sizeof k->cfg.root); /* keep one copy of the root, not two */
    if (!k->cfg.nonce_ttl_s) k->cfg.nonce_ttl_s = 120;
    if (!k->cfg.now_fn) k->cfg.now_fn = default_now;
    memcpy(k->root, cfg->root, 32);
    k->cfg.outbox_path = NULL; /* not kept: opened below */
    phx_err_t err;
    if (cfg->outbox_path && (err = phx_kms_outbox_open(cfg->outbox_path, &k->outbox, e))) goto fail;
    if (k->outbox)
        phx_kms_outbox_owner_source(k->outbox, cfg->contract_owner, cfg->contract_owner_ctx);
    k->cfg.ledger_path = NULL;
    if (cfg->ledger_path && (err = phx_kms_ledger_open(cfg->ledger_path, &k->ledger, e))) goto fail;
    if ((err = phx_kms_contract_root(k->root, k->contract_root, e))) goto fail;
    if ((err = phx_kms_derive(k->root, "kms/nonce-mac", k->nonce_key, 32, e))) goto fail;
    if ((err = phx_kms_identity_key(k->root, k->sk, k->address, e))) goto fail;
    {
        uint8_t ikm[32], xsk[32];
        err = phx_kms_derive(k->root, "kms/x25519", ikm, sizeof ikm, e);
        if (!err && phx_hpke_derive_keypair(ikm, sizeof ikm, xsk, k->x25519_pub))
            err = phx_fail(e, PHX_ERR_CRYPTO, "KMS X25519 key");
        phx_secure_zero(ikm, sizeof ikm);
        phx_secure_zero(xsk, sizeof xsk);
        if (err) goto fail;
    }
    *out = k;
    return PHX_OK;
fail:
    phx_kms_outbox_close(k->outbox);
    phx_kms_ledger_close(k->ledger);
    phx_secure_zero(k, sizeof *k);
    free(k);
    return err;
}

void phx_kms_free(phx_kms_t *k)
{
    if (!k) return;
    phx_kms_outbox_close(k->outbox);
    phx_kms_ledger_close(k->ledger);
    phx_secure_zero(k, sizeof *k);
    free(k);
}

void phx_kms_address(const phx_kms_t *k, uint8_t address[20])
{
    memcpy(address, k->address, 20);
}

void phx_kms_x25519_pub(const phx_kms_t *k, uint8_t pub[32])
{
    memcpy(pub, k->x25519_pub, 32);
}

/* ---- nonces ------------------------------------------------------------------------ */

static void nonce_mac(const phx_kms_t *k, const uint8_t nonce[32], const uint8_t requester[20],
                      uint8_t mac[32])
{
    uint8_t msg[sizeof NONCE_TAG - 1 + 16 + 20];
    memcpy(msg, NONCE_TAG, sizeof NONCE_TAG - 1);
    memcpy(msg + sizeof NONCE_TAG - 1, nonce, 16);
    memcpy(msg + sizeof NONCE_TAG - 1 + 16, requester, 20);
    phx_hmac_sha256(k->nonce_key, sizeof k->nonce_key, msg, sizeof msg, mac);
}

phx_err_t phx_kms_nonce_issue(phx_kms_t *k, const uint8_t requester[20], uint8_t nonce[32],
                              int64_t *expires_at, phx_error_t *e)
{
    int64_t now = k->cfg.now_fn();
    uint8_t mac[32];
    for (int i = 0; i < 8; i++)
        nonce[i] = (uint8_t)((uint64_t)now >> (56 - 8 * i));
    if (phx_random_bytes(nonce + 8, 8)) return phx_fail(e, PHX_ERR_CRYPTO, "random");
    nonce_mac(k, nonce, requester, mac);
    memcpy(nonce + 16, mac, NONCE_MAC_LEN);
    *expires_at = now + k->cfg.nonce_ttl_s;
    return PHX_OK;
}

/* A nonce this KMS (or a replica with the same root) issued to this
 * requester, inside its window. Nothing is remembered: within the window the
 * same request can be sent again, which gives the sender nothing new
 * (docs/kms.md, "Nonces"). */
phx_err_t phx_kms_nonce_check(const phx_kms_t *k, const uint8_t requester[20],
                              const uint8_t nonce[32], phx_error_t *e)
{
    uint8_t mac[32];
    nonce_mac(k, nonce, requester, mac);
    if (!phx_ct_eq(mac, nonce + 16, NONCE_MAC_LEN))
        return phx_fail(e, PHX_ERR_POLICY, "nonce was not issued by this KMS to this requester");
    uint64_t issued = 0;
    for (int i = 0; i < 8; i++)
        issued = issued << 8 | nonce[i];
    int64_t now = k->cfg.now_fn();
    if ((int64_t)issued > now + NONCE_SKEW_S)
        return phx_fail(e, PHX_ERR_POLICY, "nonce issued in the future");
    if (now - (int64_t)issued >= (int64_t)k->cfg.nonce_ttl_s)
        return phx_fail(e, PHX_ERR_POLICY, "nonce expired");
    return PHX_OK;
}

/* ---- key release ------------------------------------------------------------------- */

static const char *release_label(phx_kms_role_t role)
{
    return role == PHX_KMS_ROLE_KMS ? "phx-kms-root-v1" : "phx-kms-keys-v1";
}

void phx_kms_release_digest(phx_kms_role_t role, const uint8_t eth_address[20],
                            const uint8_t nonce[32], const uint8_t enc[32], const uint8_t *ct,
                            size_t ct_len, uint8_t digest[32])
{
    const char *label = release_label(role);
    phx_keccak_t h;
    phx_keccak256_init(&h);
    phx_keccak256_update(&h, label, strlen(label));
    phx_keccak256_update(&h, eth_address, 20);
    phx_keccak256_update(&h, nonce, 32);
    phx_keccak256_update(&h, enc, 32);
    phx_keccak256_update(&h, ct, ct_len);
    phx_keccak256_final(&h, digest);
}

/* Ethereum-style signature (v = 27 + recovery id) so Solidity's ecrecover and
 * wallets read it as they read any other. */
static phx_err_t sign_digest(const uint8_t sk[32], const uint8_t digest[32], uint8_t sig[65],
                             phx_error_t *e)
{
    if (phx_secp256k1_sign(sk, digest, sig)) return phx_fail(e, PHX_ERR_CRYPTO, "signing");
    sig[64] = (uint8_t)(sig[64] + 27);
    return PHX_OK;
}

static phx_err_t check_signer(const uint8_t digest[32], const uint8_t sig[65],
                              const uint8_t want[20], const char *what, phx_error_t *e)
{
    uint8_t pub[64], addr[20];
    if (phx_secp256k1_recover(digest, sig, pub))
        return phx_fail(e, PHX_ERR_VERIFY, "%s: signature does not recover", what);
    phx_eth_address_from_pubkey(pub, addr);
    if (memcmp(addr, want, 20) != 0)
        return phx_fail(e, PHX_ERR_VERIFY, "%s: signed by another key than the KMS's", what);
    return PHX_OK;
}

/* The collateral travels as a JSON object (dcap-qvl layout) or as its text. */
static phx_err_t collateral_text(const json_t *req, char **out, phx_error_t *e)
{
    const json_t *c = json_object_get(req, "collateral");
    if (json_is_string(c)) {
        *out = strdup(json_string_value(c));
    } else if (json_is_object(c)) {
        *out = phx_json_dump(c, false);
    } else {
        return phx_fail(e, PHX_ERR_INVALID, "\"collateral\" must be an object or a string");
    }
    if (!*out) return phx_fail(e, PHX_ERR_NOMEM, "collateral");
    if (strlen(*out) > MAX_COLLATERAL_BYTES) {
        free(*out);
        *out = NULL;
        return phx_fail(e, PHX_ERR_LIMIT, "collateral larger than %u bytes", MAX_COLLATERAL_BYTES);
    }
    return PHX_OK;
}

/* A requester that passed every check: what its request said, and its quote. */
typedef struct {
    uint8_t nonce[32], addr[20], xpub[32];
    phx_buf_t quote;
    phx_kms_quote_info_t info;
    uint8_t collateral_hash[32]; /* keccak256 of the collateral text verified */
    char addr_hex[43];
} admitted_t;

static const char *role_name(phx_kms_role_t role)
{
    switch (role) {
    case PHX_KMS_ROLE_WORKER:
        return "worker";
    case PHX_KMS_ROLE_KMS:
        return "replica";
    case PHX_KMS_ROLE_REGISTRATION:
        return "registration";
    case PHX_KMS_ROLE_KMS_ADMISSION:
        return "replica admission";
    }
    return "?";
}

/* The checks every request to the KMS passes, in the order that matters. */
static phx_err_t admit(phx_kms_t *k, phx_kms_role_t role, const json_t *request, admitted_t *a,
                       phx_error_t *e)
{
    char *collateral = NULL;
    uint8_t expected[64];
    phx_err_t err;
    snprintf(a->addr_hex, sizeof a->addr_hex, "?");
    if (!json_is_object(request)) return phx_fail(e, PHX_ERR_INVALID, "expected a JSON object");
    if ((err = phx_json_get_hex_fixed(request, "nonce", a->nonce, 32, e))) goto out;
    if ((err = phx_json_get_hex_fixed(request, "eth_address", a->addr, 20, e))) goto out;
    if ((err = phx_json_get_hex_fixed(request, "x25519_pub", a->xpub, 32, e))) goto out;
    const char *quote_hex;
    if ((err = phx_json_get_str(request, "quote", &quote_hex, e))) goto out;
    if (strlen(quote_hex) > 2 + 2 * MAX_QUOTE_BYTES) {
        err = phx_fail(e, PHX_ERR_LIMIT, "quote larger than %u bytes", MAX_QUOTE_BYTES);
        goto out;
    }
    if ((err = phx_json_get_hex(request, "quote", &a->quote, e))) goto out;
    if ((err = collateral_text(request, &collateral, e))) goto out;
    phx_keccak256((const uint8_t *)collateral, strlen(collateral), a->collateral_hash);
    phx_eth_address_checksum(a->addr, a->addr_hex);

    /* 1. Freshness: a nonce we issued to this requester, inside its window. */
    if ((err = phx_kms_nonce_check(k, a->addr, a->nonce, e))) goto out;
    /* 2. The quote is genuine and its TCB acceptable. */
    if ((err = k->cfg.verify_quote(k->cfg.verify_ctx, a->quote.ptr, a->quote.len,
                                   (const uint8_t *)collateral, strlen(collateral), k->cfg.now_fn(),
                                   &a->info, e))) {
        phx_error_wrap(e, err, "quote");
        goto out;
    }
    /* 3. The quote binds exactly these keys and this nonce (DESIGN.md §2), in
     * the requester's own role domain: a worker's quote never onboards a KMS
     * replica, nor a KMS quote a worker. */
    if (role == PHX_KMS_ROLE_KMS || role == PHX_KMS_ROLE_KMS_ADMISSION)
        phx_chain_kms_report_data(a->addr, a->xpub, a->nonce, expected);
    else
        phx_chain_report_data(a->addr, a->xpub, a->nonce, expected);
    if (!phx_ct_eq(expected, a->info.report_data, 64)) {
        err = phx_fail(e, PHX_ERR_VERIFY,
                       "quote report data does not bind this address, X25519 key and nonce");
        goto out;
    }
    /* 4. The chain allows this measurement and knows this requester. */
    phx_kms_peer_t peer;
    memcpy(peer.eth_address, a->addr, 20);
    memcpy(peer.x25519_pub, a->xpub, 32);
    peer.quote = &a->info;
    err = k->cfg.check_peer(k->cfg.check_ctx, role, &peer, e);
out:
    if (err)
        PHX_WARN("kms: refused %s %s: %s", role_name(role), a->addr_hex,
                 e ? e->message : phx_strerror(err));
    free(collateral);
    return err;
}

phx_err_t phx_kms_release(phx_kms_t *k, phx_kms_role_t role, const json_t *request,
                          json_t **response, phx_error_t *e)
{
    admitted_t a;
    uint8_t enc[32], ct[32 + PHX_AEAD_TAG_LEN], digest[32], sig[65], aad[52];
    phx_err_t err;
    *response = NULL;
    memset(&a, 0, sizeof a);
    if (role != PHX_KMS_ROLE_WORKER && role != PHX_KMS_ROLE_KMS)
        return phx_fail(e, PHX_ERR_INVALID, "unknown role");
    if ((err = admit(k, role, request, &a, e))) goto out;

    /* Seal the secret to the attested key; bind who and which nonce in the AAD. */
    const uint8_t *secret = role == PHX_KMS_ROLE_KMS ? k->root : k->contract_root;
    memcpy(aad, a.addr, 20);
    memcpy(aad + 20, a.nonce, 32);
    const char *label = release_label(role);
    if (phx_hpke_seal(a.xpub, label, strlen(label), aad, sizeof aad, secret, 32, enc, ct)) {
        err = phx_fail(e, PHX_ERR_CRYPTO, "HPKE seal to the requester's key failed");
        goto out;
    }
    phx_kms_release_digest(role, a.addr, a.nonce, enc, ct, sizeof ct, digest);
    if ((err = sign_digest(k->sk, digest, sig, e))) goto out;
    *response = json_pack("{s:o,s:o,s:o,s:o}", "enc", phx_json_hex(enc, 32), "ciphertext",
                          phx_json_hex(ct, sizeof ct), "kms_address", phx_json_hex(k->address, 20),
                          "signature", phx_json_hex(sig, 65));
    if (!*response) {
        err = phx_fail(e, PHX_ERR_NOMEM, "response");
        goto out;
    }
    PHX_INFO("kms: released %s to %s (tcb %s)",
             role == PHX_KMS_ROLE_KMS ? "root to replica" : "contract keys", a.addr_hex,
             a.info.tcb_status[0] ? a.info.tcb_status : "?");
out:
    phx_buf_free(&a.quote);
    return err;
}

void phx_kms_measurement_id(const phx_kms_quote_info_t *info, uint8_t id[32])
{
    phx_keccak256(info->measurement, info->measurement_len, id);
}

phx_err_t phx_kms_sign_registration(phx_kms_t *k, const json_t *request, json_t **response,
                                    phx_error_t *e)
{
    admitted_t a;
    uint8_t op[20], measurement[32], quote_hash[32], digest[32], sig[65];
    phx_err_t err;
    *response = NULL;
    memset(&a, 0, sizeof a);
    /* The operator is read first: a malformed request must not spend a nonce. */
    if ((err = phx_json_get_hex_fixed(request, "operator", op, 20, e))) return err;
    if ((err = admit(k, PHX_KMS_ROLE_REGISTRATION, request, &a, e))) goto out;
    /* One key, one role: the KMS never vouches for its own key as a worker. */
    if (memcmp(a.addr, k->address, 20) == 0) {
        err = phx_fail(e, PHX_ERR_POLICY, "the KMS's own key is not a worker");
        goto out;
    }
    phx_kms_measurement_id(&a.info, measurement);
    phx_keccak256(a.quote.ptr, a.quote.len, quote_hash);
    phx_chain_attest_digest(k->cfg.chain_id, k->cfg.registry, op, a.addr, a.xpub, measurement,
                            a.info.tee_type, quote_hash, a.nonce, digest);
    if ((err = sign_digest(k->sk, digest, sig, e))) goto out;
    *response = json_pack(
        "{s:o,s:o,s:o,s:o,s:I,s:o,s:o,s:o,s:o}", "worker", phx_json_hex(a.addr, 20), "operator",
        phx_json_hex(op, 20), "x25519", phx_json_hex(a.xpub, 32), "measurement",
        phx_json_hex(measurement, 32), "tee_type", (json_int_t)a.info.tee_type, "quote_hash",
        phx_json_hex(quote_hash, 32), "nonce", phx_json_hex(a.nonce, 32), "kms_address",
        phx_json_hex(k->address, 20), "signature", phx_json_hex(sig, 65));
    if (!*response) {
        err = phx_fail(e, PHX_ERR_NOMEM, "response");
        goto out;
    }
    PHX_INFO("kms: signed registration of worker %s", a.addr_hex);
out:
    phx_buf_free(&a.quote);
    return err;
}

phx_err_t phx_kms_vouch_replica(phx_kms_t *k, const json_t *request, json_t **response,
                                phx_error_t *e)
{
    admitted_t a;
    uint8_t measurement[32], quote_hash[32], digest[32], sig[65];
    phx_err_t err;
    *response = NULL;
    memset(&a, 0, sizeof a);
    if ((err = admit(k, PHX_KMS_ROLE_KMS_ADMISSION, request, &a, e))) goto out;
    /* The Registry refuses it too; a KMS that vouched for itself would say
     * nothing a quorum needs to hear. */
    if (memcmp(a.addr, k->address, 20) == 0) {
        err = phx_fail(e, PHX_ERR_POLICY, "a KMS does not vouch for its own key");
        goto out;
    }
    phx_kms_measurement_id(&a.info, measurement);
    phx_keccak256(a.quote.ptr, a.quote.len, quote_hash);
    phx_chain_kms_admit_digest(k->cfg.chain_id, k->cfg.registry, a.addr, a.xpub, measurement,
                               a.info.tee_type, quote_hash, a.collateral_hash, a.nonce, digest);
    if ((err = sign_digest(k->sk, digest, sig, e))) goto out;
    *response = json_pack(
        "{s:o,s:o,s:o,s:I,s:o,s:o,s:o,s:o,s:o}", "kms", phx_json_hex(a.addr, 20), "x25519",
        phx_json_hex(a.xpub, 32), "measurement", phx_json_hex(measurement, 32), "tee_type",
        (json_int_t)a.info.tee_type, "quote_hash", phx_json_hex(quote_hash, 32), "collateral_hash",
        phx_json_hex(a.collateral_hash, 32), "nonce", phx_json_hex(a.nonce, 32), "kms_address",
        phx_json_hex(k->address, 20), "signature", phx_json_hex(sig, 65));
    if (!*response) {
        err = phx_fail(e, PHX_ERR_NOMEM, "response");
        goto out;
    }
    PHX_INFO("kms: vouched for replica %s", a.addr_hex);
out:
    phx_buf_free(&a.quote);
    return err;
}

phx_err_t phx_kms_release_open(phx_kms_role_t role, const json_t *response,
                               const uint8_t kms_address[20], const uint8_t eth_address[20],
                               const uint8_t nonce[32], const uint8_t x25519_sk[32],
                               uint8_t secret[32], phx_error_t *e)
{
    uint8_t enc[32], ct[32 + PHX_AEAD_TAG_LEN], sig[65], claimed[20], digest[32], aad[52];
    phx_err_t err;
    if ((err = phx_json_get_hex_fixed(response, "enc", enc, 32, e))) return err;
    if ((err = phx_json_get_hex_fixed(response, "ciphertext", ct, sizeof ct, e))) return err;
    if ((err = phx_json_get_hex_fixed(response, "signature", sig, 65, e))) return err;
    if ((err = phx_json_get_hex_fixed(response, "kms_address", claimed, 20, e))) return err;
    if (memcmp(claimed, kms_address, 20) != 0)
        return phx_fail(e, PHX_ERR_VERIFY, "answer from another KMS than the one trusted");
    phx_kms_release_digest(role, eth_address, nonce, enc, ct, sizeof ct, digest);
    if ((err = check_signer(digest, sig, kms_address, "key release", e))) return err;
    memcpy(aad, eth_address, 20);
    memcpy(aad + 20, nonce, 32);
    const char *label = release_label(role);
    if (phx_hpke_open(x25519_sk, enc, label, strlen(label), aad, sizeof aad, ct, sizeof ct,
                      secret)) {
        phx_secure_zero(secret, 32);
        return phx_fail(e, PHX_ERR_VERIFY, "key release does not open with this X25519 key");
    }
    return PHX_OK;
}

/* ---- contract public keys ------------------------------------------------------------ */

void phx_kms_pubkey_digest(const uint8_t contract_id[32], const uint8_t x25519_pub[32],
                           const uint8_t address[20], uint8_t digest[32])
{
    static const char tag[] = "phx-contract-pubkey-v1";
    phx_keccak_t h;
    phx_keccak256_init(&h);
    phx_keccak256_update(&h, tag, sizeof tag - 1);
    phx_keccak256_update(&h, contract_id, 32);
    phx_keccak256_update(&h, x25519_pub, 32);
    phx_keccak256_update(&h, address, 20);
    phx_keccak256_final(&h, digest);
}

phx_err_t phx_kms_contract_pubkey(phx_kms_t *k, const uint8_t contract_id[32], json_t **out,
                                  phx_error_t *e)
{
    phx_contract_keys_t keys;
    uint8_t digest[32], sig[65];
    phx_err_t err = phx_kms_contract_keys(k->contract_root, contract_id, &keys, e);
    if (err) return err;
    phx_kms_pubkey_digest(contract_id, keys.x25519_pub, keys.address, digest);
    err = sign_digest(k->sk, digest, sig, e);
    if (!err) {
        *out = json_pack("{s:o,s:o,s:o,s:o,s:o}", "contract_id", phx_json_hex(contract_id, 32),
                         "x25519_pub", phx_json_hex(keys.x25519_pub, 32), "address",
                         phx_json_hex(keys.address, 20), "kms_address",
                         phx_json_hex(k->address, 20), "signature", phx_json_hex(sig, 65));
        if (!*out) err = phx_fail(e, PHX_ERR_NOMEM, "pubkey document");
    }
    phx_kms_contract_keys_clear(&keys);
    return err;
}

phx_err_t phx_kms_contract_pubkey_verify(const json_t *doc, const uint8_t kms_address[20],
                                         const uint8_t contract_id[32], uint8_t x25519_pub[32],
                                         phx_error_t *e)
{
    uint8_t id[32], xpub[32], addr[20], sig[65], digest[32];
    phx_err_t err;
    if ((err = phx_json_get_hex_fixed(doc, "contract_id", id, 32, e))) return err;
    if ((err = phx_json_get_hex_fixed(doc, "x25519_pub", xpub, 32, e))) return err;
    if ((err = phx_json_get_hex_fixed(doc, "address", addr, 20, e))) return err;
    if ((err = phx_json_get_hex_fixed(doc, "signature", sig, 65, e))) return err;
    if (memcmp(id, contract_id, 32) != 0)
        return phx_fail(e, PHX_ERR_VERIFY, "public key is for another contract");
    phx_kms_pubkey_digest(id, xpub, addr, digest);
    if ((err = check_signer(digest, sig, kms_address, "contract public key", e))) return err;
    memcpy(x25519_pub, xpub, 32);
    return PHX_OK;
}

/* ---- HTTP -------------------------------------------------------------------------- */

/* POST /v1/nonces {"eth_address":"0x.."}: the nonce is bound to the address
 * that will present it. */
static phx_err_t h_nonce(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                         phx_error_t *e)
{
    uint8_t nonce[32], requester[20];
    int64_t expires_at;
    if (!json_is_object(req->json))
        return phx_fail(e, PHX_ERR_INVALID, "expected {\"eth_address\":\"0x..\"}");
    phx_err_t err = phx_json_get_hex_fixed(req->json, "eth_address", requester, 20, e);
    if (err) return err;
    err = phx_kms_nonce_issue(ctx, requester, nonce, &expires_at, e);
    if (err) return err;
    resp->status = 201;
    resp->json = json_pack("{s:o,s:I}", "nonce", phx_json_hex(nonce, 32), "expires_at",
                           (json_int_t)expires_at);
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "response");
}

static phx_err_t h_release(phx_kms_t *k, phx_kms_role_t role, const phx_http_request_t *req,
                           phx_http_response_t *resp, phx_error_t *e)
{
    if (!req->json) return phx_fail(e, PHX_ERR_INVALID, "expected a JSON body");
    return phx_kms_release(k, role, req->json, &resp->json, e);
}

static phx_err_t h_keys(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    return h_release(ctx, PHX_KMS_ROLE_WORKER, req, resp, e);
}

static phx_err_t h_replicas(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                            phx_error_t *e)
{
    return h_release(ctx, PHX_KMS_ROLE_KMS, req, resp, e);
}

static phx_err_t h_registrations(void *ctx, const phx_http_request_t *req,
                                 phx_http_response_t *resp, phx_error_t *e)
{
    if (!req->json) return phx_fail(e, PHX_ERR_INVALID, "expected a JSON body");
    return phx_kms_sign_registration(ctx, req->json, &resp->json, e);
}

static phx_err_t h_vouches(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                           phx_error_t *e)
{
    if (!req->json) return phx_fail(e, PHX_ERR_INVALID, "expected a JSON body");
    return phx_kms_vouch_replica(ctx, req->json, &resp->json, e);
}

static phx_err_t h_pubkey(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    uint8_t id[32];
    const char *hex = phx_http_param(req, "id");
    if (!hex || phx_hex_decode_fixed(hex, id, sizeof id, e))
        return phx_fail(e, PHX_ERR_INVALID, "contract id must be 32 bytes of hex");
    return phx_kms_contract_pubkey(ctx, id, &resp->json, e);
}

/* POST /v1/outbox: the contract wallets' outbox (outbox.c). */
static phx_err_t h_outbox(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    phx_kms_t *k = ctx;
    return phx_kms_outbox_post(k->outbox, k->contract_root, req->json, &resp->json, e);
}

/* POST /v1/ledger: the voucher ledger (ledger.c). */
static phx_err_t h_ledger(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    phx_kms_t *k = ctx;
    return phx_kms_ledger_post(k->ledger, k->contract_root, req->json, &resp->json, e);
}

static phx_err_t h_info(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    (void)req;
    phx_kms_t *k = ctx;
    resp->json =
        json_pack("{s:o,s:o,s:I}", "kms_address", phx_json_hex(k->address, 20), "x25519_pub",
                  phx_json_hex(k->x25519_pub, 32), "nonce_ttl_s", (json_int_t)k->cfg.nonce_ttl_s);
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "response");
}

/* The KMS proves itself the way it asks workers to: a quote over report data
 * binding its address and X25519 key to the caller's nonce, in the KMS's own
 * domain ("phx-kms-v1"), which is what Registry.admitKms checks. */
static phx_err_t h_attestation(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                               phx_error_t *e)
{
    phx_kms_t *k = ctx;
    uint8_t nonce[32], report_data[64];
    phx_buf_t quote = PHX_BUF_INIT, coll = PHX_BUF_INIT;
    json_t *coll_json = NULL;
    phx_err_t err;
    if (!k->cfg.self_quote) return phx_fail(e, PHX_ERR_NOT_FOUND, "this KMS runs without a TEE");
    const char *hex = phx_http_query(req, "nonce");
    if (!hex || phx_hex_decode_fixed(hex, nonce, 32, e))
        return phx_fail(e, PHX_ERR_INVALID, "?nonce= must be 32 bytes of hex");
    phx_chain_kms_report_data(k->address, k->x25519_pub, nonce, report_data);
    if ((err = k->cfg.self_quote(k->cfg.self_quote_ctx, report_data, &quote, &coll, e))) goto out;
    if (coll.len && (err = phx_json_parse((const char *)coll.ptr, coll.len, &coll_json, e)))
        goto out;
    resp->json =
        json_pack("{s:o,s:o,s:o,s:o,s:o*}", "kms_address", phx_json_hex(k->address, 20),
                  "x25519_pub", phx_json_hex(k->x25519_pub, 32), "nonce", phx_json_hex(nonce, 32),
                  "quote", phx_json_hex(quote.ptr, quote.len), "collateral", coll_json);
    coll_json = NULL; /* the o* format steals the reference, also on failure */
    if (!resp->json) err = phx_fail(e, PHX_ERR_NOMEM, "response");
out:
    json_decref(coll_json);
    phx_buf_free(&quote);
    phx_buf_free(&coll);
    return err;
}

phx_err_t phx_kms_add_routes(phx_kms_t *k, phx_http_router_t *r, phx_error_t *e)
{
    phx_err_t err;
    if ((err = phx_http_router_add(r, "POST", "/v1/nonces", h_nonce, k, 0, e))) return err;
    if ((err = phx_http_router_add(r, "POST", "/v1/keys", h_keys, k, 0, e))) return err;
    if ((err = phx_http_router_add(r, "POST", "/v1/replicas", h_replicas, k, 0, e))) return err;
    if ((err = phx_http_router_add(r, "POST", "/v1/registrations", h_registrations, k, 0, e)))
        return err;
    if ((err = phx_http_router_add(r, "POST", "/v1/vouches", h_vouches, k, 0, e))) return err;
    if ((err = phx_http_router_add(r, "POST", "/v1/outbox", h_outbox, k, 0, e))) return err;
    if ((err = phx_http_router_add(r, "POST", "/v1/ledger", h_ledger, k, 0, e))) return err;
    if ((err = phx_http_router_add(r, "GET", "/v1/contracts/:id/pubkey", h_pubkey, k, 0, e)))
        return err;
    if ((err = phx_http_router_add(r, "GET", "/v1/attestation", h_attestation, k, 0, e)))
        return err;
    return phx_http_router_add(r, "GET", "/v1/info", h_info, k, 0, e);
}
