/* The worker daemon (`phx worker`): start-up (TEE, sealed identity, quote,
 * on-chain registration through the KMS, contract root from the KMS), the
 * contract store (code by keccak256, deploy records with sealed secrets) and
 * running a contract in the sandbox with its KMS-derived keys. The HTTP API
 * is in api.c, the on-chain job loop in jobloop.c (docs/worker.md). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "daemon_internal.h"
#include "phx/crypto.h"
#include "phx/sandbox.h"

#define IDENTITY_LABEL "phx-worker-identity-v1"

/* The worker's state is its own: 0700 on everything it creates. */
static phx_err_t state_dir_ensure(const char *dir, const char *sub, phx_error_t *e)
{
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", dir, sub);
    return phx_dir_ensure(p, 0700, e);
}

phx_err_t wk_quote(void *ctx, const uint8_t report_data[64], phx_buf_t *quote,
                   phx_buf_t *collateral, phx_error_t *e)
{
    phx_tee_t *t = ctx;
    phx_err_t err = phx_tee_quote(t, report_data, quote, e);
    if (err) return err;
    if (collateral && phx_tee_kind(t) == PHX_TEE_SIM)
        return phx_tee_sim_collateral(t, collateral, e);
    return PHX_OK;
}

/* The identity (secp256k1 sk || x25519 sk) is made in the TEE on first start
 * and only ever written sealed to this measurement on this platform. A TEE
 * without a sealing key (TDX, sim-noseal) makes a fresh one on every boot and
 * writes nothing of it (DESIGN.md §5; the old one is retired on chain, see
 * retire_earlier_identities). */
static phx_err_t load_identity(phx_worker_t *w, phx_error_t *e)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/identity.sealed", w->dir);
    phx_buf_t blob = PHX_BUF_INIT, clear = PHX_BUF_INIT;
    uint8_t keys[64];
    phx_err_t err = PHX_OK;
    w->fresh_identity = !phx_tee_can_seal(w->tee);
    if (w->fresh_identity) {
        uint8_t pub[32];
        if ((err = phx_secp256k1_keygen(keys)) || (err = phx_x25519_keygen(keys + 32, pub))) {
            phx_fail(e, err, "identity keys");
            goto out;
        }
    } else if (phx_file_read(path, &blob, NULL) == PHX_OK) {
        if ((err = phx_tee_unseal(phx_tee_sealing_key, w->tee, IDENTITY_LABEL, blob.ptr, blob.len,
                                  &clear, e)))
            goto out;
        if (clear.len != 64) {
            err = phx_fail(e, PHX_ERR_INVALID, "sealed identity has %zu bytes", clear.len);
            goto out;
        }
        memcpy(keys, clear.ptr, 64);
    } else {
        uint8_t pub[32];
        if ((err = phx_secp256k1_keygen(keys)) || (err = phx_x25519_keygen(keys + 32, pub))) {
            phx_fail(e, err, "identity keys");
            goto out;
        }
        if ((err = phx_tee_seal(phx_tee_sealing_key, w->tee, IDENTITY_LABEL, keys, 64, &blob, e)) ||
            (err = phx_file_write_atomic(path, blob.ptr, blob.len, 0600, e)))
            goto out;
    }
    memcpy(w->sk, keys, 32);
    memcpy(w->x25519_sk, keys + 32, 32);
    if ((err = phx_eth_address_from_seckey(w->sk, w->address)) ||
        (err = phx_x25519_public(w->x25519_sk, w->x25519_pub)))
        phx_fail(e, err, "identity public keys");
out:
    phx_secure_zero(keys, sizeof keys);
    phx_buf_free(&clear);
    phx_buf_free(&blob);
    return err;
}

/* The Registry's measurement id, read the way Registry.parseQuote reads it. */
static phx_err_t own_measurement(phx_worker_t *w, phx_error_t *e)
{
    uint8_t rd[64] = {0};
    phx_buf_t q = PHX_BUF_INIT;
    uint32_t tee_type;
    phx_err_t err = phx_tee_quote(w->tee, rd, &q, e);
    if (!err) err = phx_chain_quote_fields(q.ptr, q.len, &tee_type, w->measurement, rd, e);
    phx_buf_free(&q);
    return err;
}

/* Gas money for the identity key, which sends Jobs.fulfill itself (the
 * contract wants msg.sender to be a registered worker). */
static phx_err_t fund_identity(phx_worker_t *w, phx_error_t *e)
{
    phx_u256_t bal, min = phx_u256_from_u64(1000000000000000000ull);
    phx_err_t err = phx_rpc_get_balance(w->rpc, w->address, NULL, &bal, e);
    if (err || phx_u256_cmp(&bal, &min) >= 0) return err;
    phx_evm_send_t tx = {.has_to = true, .value = phx_u256_mul_u64(&min, 10)};
    memcpy(tx.to, w->address, 20);
    phx_evm_receipt_t receipt = {0};
    err = phx_signer_transact(w->operator_, &tx, 1, 30000, &receipt, e);
    phx_evm_receipt_clear(&receipt);
    return err;
}

/* Registry.<fn>(address) -> uint256 (or minStake() with who NULL). */
static phx_err_t read_u256(phx_worker_t *w, const char *fn, const uint8_t *who, phx_u256_t *out,
                           phx_error_t *e)
{
    json_t *args = who ? json_pack("[o]", phx_json_hex(who, 20)) : json_array(), *res = NULL;
    phx_err_t err = args ? phx_chain_read(w->rpc, w->dep.registry, fn, args, "(uint256)", &res, e)
                         : phx_fail(e, PHX_ERR_NOMEM, "args");
    const char *v = err ? NULL : json_string_value(json_array_get(res, 0));
    if (!err) err = v ? phx_u256_from_str(v, out, e) : phx_fail(e, PHX_ERR_REMOTE, "%s", fn);
    json_decref(res);
    json_decref(args);
    return err;
}

/* Each active worker needs minStake in its operator's pool; stake one more
 * worker's worth of the operator's PHA into the pool when it falls short. */
static phx_err_t ensure_stake(phx_worker_t *w, const uint8_t op[20], phx_error_t *e)
{
    phx_u256_t min, stake, active;
    phx_err_t err;
    if ((err = read_u256(w, "minStake()", NULL, &min, e)) ||
        (err = read_u256(w, "stakeOf(address)", op, &stake, e)) ||
        (err = read_u256(w, "activeWorkers(address)", op, &active, e)))
        return err;
    uint64_t n = 0;
    if (phx_u256_to_u64(&active, &n, NULL) || n > 1000000) n = 1000000;
    phx_u256_t need = phx_u256_mul_u64(&min, n + 1);
    if (phx_u256_cmp(&stake, &need) >= 0) return PHX_OK;
    PHX_INFO("worker: staking the Registry's minimum stake for one more worker");
    err = phx_chain_stake(w->rpc, w->operator_, &w->dep, &min, PHX_CHAIN_DEFAULT_COMMISSION_BPS,
                          NULL, e);
    if (err) phx_error_wrap(e, err, "stake (the operator needs PHA for the stake)");
    return err;
}

/* A worker without a sealing key has a new address each boot; the ones of
 * earlier boots died with their keys. DIR/identities.json lists every
 * address this directory registered (public data) until the operator has
 * deregistered it, so a dead identity neither holds a stake slot nor takes a
 * rank in the job hand-off. The new address is written down before it is
 * registered, so a crash in between leaves nothing unretired. */
static phx_err_t retire_earlier_identities(phx_worker_t *w, phx_error_t *e)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/identities.json", w->dir);
    json_t *doc = NULL, *keep = json_array(), *list;
    phx_err_t err = PHX_OK;
    if (!keep) return phx_fail(e, PHX_ERR_NOMEM, "identities");
    if (phx_json_load_file(path, &doc, NULL) == PHX_OK &&
        json_is_array(list = json_object_get(doc, "addresses"))) {
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
            uint8_t addr[20], op[20];
            phx_chain_worker_t cw;
            if (!json_is_string(v) || phx_hex_decode_fixed(json_string_value(v), addr, 20, NULL) ||
                !memcmp(addr, w->address, 20))
                continue;
            if ((err = phx_chain_worker_get(w->rpc, &w->dep, addr, &cw, e))) goto out;
            phx_signer_address(w->operator_, op);
            if (cw.status == PHX_CHAIN_WORKER_ACTIVE && !memcmp(cw.operator_, op, 20)) {
                json_t *args = json_pack("[o]", phx_json_hex(addr, 20));
                err = args ? phx_chain_transact(w->operator_, w->dep.registry,
                                                "deregisterWorker(address)", args, NULL, e)
                           : phx_fail(e, PHX_ERR_NOMEM, "args");
                json_decref(args);
                if (err) {
                    phx_error_wrap(e, err, "deregistering the identity of an earlier boot %s",
                                   json_string_value(v));
                    goto out;
                }
                PHX_INFO("worker: deregistered %s, the identity of an earlier boot",
                         json_string_value(v));
            }
        }
    }
    char hex[43];
    phx_eth_address_checksum(w->address, hex);
    json_array_append_new(keep, json_string(hex));
    json_decref(doc);
    doc = json_pack("{s:O}", "addresses", keep);
    char *text = doc ? phx_json_dump(doc, true) : NULL;
    err = text ? phx_file_write_atomic(path, text, strlen(text), 0644, e)
               : phx_fail(e, PHX_ERR_NOMEM, "identities");
    free(text);
out:
    json_decref(doc);
    json_decref(keep);
    return err;
}

static phx_err_t register_on_chain(phx_worker_t *w, phx_kms_requester_t *rq, phx_error_t *e)
{
    phx_chain_worker_t cw;
    phx_err_t err = phx_chain_worker_get(w->rpc, &w->dep, w->address, &cw, e);
    if (err) return err;
    if (cw.status == PHX_CHAIN_WORKER_ACTIVE) return PHX_OK;
    if (cw.status != PHX_CHAIN_WORKER_NONE)
        return phx_fail(e, PHX_ERR_STATE, "the Registry lists this worker as %s",
                        cw.status == PHX_CHAIN_WORKER_DEREGISTERED ? "deregistered"
                                                                   : "invalidated");
    uint8_t op[20];
    phx_signer_address(w->operator_, op);
    json_t *doc = NULL;
    if ((err = ensure_stake(w, op, e)) || (err = phx_kms_request_registration(rq, op, &doc, e)))
        return err;
    /* phx_chain_transact borrows its arguments. */
    json_t *args = json_pack("[O,O,O,O,O]", json_object_get(doc, "worker"),
                             json_object_get(doc, "x25519"), json_object_get(doc, "nonce"),
                             json_object_get(doc, "quote"), json_object_get(doc, "signature"));
    err = args ? phx_chain_transact(w->operator_, w->dep.registry,
                                    "registerWorker(address,bytes32,bytes32,bytes,bytes)", args,
                                    NULL, e)
               : phx_fail(e, PHX_ERR_INVALID, "the KMS's registration answer is incomplete");
    json_decref(args);
    json_decref(doc);
    if (err) phx_error_wrap(e, err, "registerWorker");
    return err;
}

/* Announce where this worker serves (Registry.setWorkerEndpoint, from the
 * worker key), unless the chain has that URL already: gateways discover
 * workers from it (docs/gateway.md, "Discovery"). */
static phx_err_t announce_endpoint(phx_worker_t *w, const char *url, phx_error_t *e)
{
    json_t *args = json_pack("[o]", phx_json_hex(w->address, 20)), *res = NULL;
    phx_err_t err = args ? phx_chain_read(w->rpc, w->dep.registry, "endpointOf(address)", args,
                                          "(string)", &res, e)
                         : phx_fail(e, PHX_ERR_NOMEM, "args");
    json_decref(args);
    const char *have = err ? NULL : json_string_value(json_array_get(res, 0));
    bool same = have && strcmp(have, url) == 0;
    json_decref(res);
    if (err || same) return err;
    args = json_pack("[o,s]", phx_json_hex(w->address, 20), url);
    err = args ? phx_chain_transact(w->signer, w->dep.registry, "setWorkerEndpoint(address,string)",
                                    args, NULL, e)
               : phx_fail(e, PHX_ERR_NOMEM, "args");
    json_decref(args);
    if (err) return phx_error_wrap(e, err, "announcing the endpoint %s", url);
    PHX_INFO("worker: announced %s on chain", url);
    return PHX_OK;
}

/* ---- contract store ---------------------------------------------------------------- */

static void hex32(const uint8_t b[32], char out[67])
{
    out[0] = '0', out[1] = 'x';
    phx_hex_encode_to(out + 2, b, 32);
}

/* The chain's deployment registry entry for id: owner (zero when the chain has
 * none: an off-chain contract) and code hash. The chain not answering is an
 * error, never "no entry": a check that needs the chain fails closed. */
phx_err_t wk_chain_contract(phx_worker_t *w, const uint8_t id[32], uint8_t owner[20],
                            uint8_t code_hash[32], phx_error_t *e)
{
    memset(owner, 0, 20);
    memset(code_hash, 0, 32);
    phx_rpc_t *rpc = NULL; /* one per request: handlers run on several threads */
    phx_rpc_opts_t ro = {.timeout_ms = 5000, .retries = 1};
    phx_error_t ce = {0};
    phx_err_t err = PHX_OK;
    if (phx_rpc_open(w->rpc_url, &ro, &rpc, &ce) ||
        phx_chain_contract_get(rpc, &w->dep, id, owner, code_hash, &ce))
        err = phx_fail(e, PHX_ERR_REMOTE,
                       "the chain cannot be read (%s): refusing, as the owner and code hash "
                       "it records cannot be checked",
                       ce.message[0] ? ce.message : "no answer");
    phx_rpc_close(rpc);
    return err;
}

static void contract_path(phx_worker_t *w, const uint8_t id[32], char *path, size_t cap)
{
    char hx[67];
    hex32(id, hx);
    snprintf(path, cap, "%s/contracts/%s.json", w->dir, hx + 2);
}

/* An owner-signed ContractOp as it arrives ({"id","owner","salt","nonce",
 * "signature",...}): the signer is the owner the chain records for id, or,
 * for a contract the chain does not know, the owner id is derived from
 * (Jobs.contractId(owner, salt)), so no one else can claim the id. The op must
 * not be older than the one this worker holds (no roll-back of code or
 * secrets by replaying an old op). */
static phx_err_t owner_op_check(phx_worker_t *w, const json_t *req, phx_owner_op_t *op,
                                uint8_t owner[20], phx_error_t *e)
{
    uint8_t sig[65], salt[32], d[32], signer[20], chain_owner[20], chain_hash[32], zero[32] = {0};
    int64_t nonce = 0;
    phx_err_t err;
    if (!json_object_get(req, "owner") || !json_object_get(req, "signature") ||
        !json_object_get(req, "nonce"))
        return phx_fail(e, PHX_ERR_VERIFY,
                        "%s needs the contract owner's signature (owner, nonce, signature)",
                        op->action);
    if ((err = phx_json_get_hex_fixed(req, "owner", owner, 20, e)) ||
        (err = phx_json_get_hex_fixed(req, "signature", sig, 65, e)) ||
        (err = phx_json_get_int(req, "nonce", &nonce, e)))
        return err;
    if (nonce <= 0) return phx_fail(e, PHX_ERR_INVALID, "nonce must be positive");
    op->nonce = (uint64_t)nonce;
    if ((err = phx_owner_op_digest(op, d, e)) || (err = phx_owner_recover(d, sig, signer, e)))
        return err;
    if (memcmp(signer, owner, 20))
        return phx_fail(e, PHX_ERR_VERIFY, "the %s is not signed by the owner it names",
                        op->action);
    if ((err = wk_chain_contract(w, op->contract_id, chain_owner, chain_hash, e))) return err;
    if (memcmp(chain_owner, zero, 20)) {
        if (memcmp(chain_owner, owner, 20))
            return phx_fail(e, PHX_ERR_VERIFY, "the chain records another owner for this id");
        if (!strcmp(op->action, "deploy") && memcmp(chain_hash, op->code_hash, 32))
            return phx_fail(e, PHX_ERR_VERIFY, "the chain records another code hash for this id");
    }
    /* What this worker holds for the id, if anything. */
    char path[1500];
    contract_path(w, op->contract_id, path, sizeof path);
    json_t *rec = NULL;
    int64_t held = 0;
    uint8_t held_hash[32] = {0}, held_secrets[32] = {0}, held_owner[20] = {0};
    bool have = phx_json_load_file(path, &rec, NULL) == PHX_OK, deleted = false;
    if (have) {
        phx_json_get_int(rec, "nonce", &held, NULL);
        if (json_object_get(rec, "code_hash"))
            phx_json_get_hex_fixed(rec, "code_hash", held_hash, 32, NULL);
        if (json_object_get(rec, "owner"))
            phx_json_get_hex_fixed(rec, "owner", held_owner, 20, NULL);
        phx_owner_secrets_hash(json_object_get(rec, "sealed_secrets"), held_secrets, NULL);
        deleted = json_is_true(json_object_get(rec, "deleted"));
        json_decref(rec);
    }
    if (!memcmp(chain_owner, zero, 20)) {
        /* Off chain: the id is the owner's own, by derivation. A delete may
         * name the owner this worker recorded instead of the salt. */
        if (json_object_get(req, "salt")) {
            uint8_t want[32];
            if ((err = phx_json_get_hex_fixed(req, "salt", salt, 32, e))) return err;
            phx_chain_contract_id(owner, salt, want);
            if (memcmp(want, op->contract_id, 32))
                return phx_fail(e, PHX_ERR_VERIFY, "id is not Jobs.contractId(owner, salt)");
        } else if (!have || memcmp(held_owner, owner, 20)) {
            return phx_fail(e, PHX_ERR_VERIFY,
                            "the %s names neither the salt the id derives from nor the owner "
                            "this worker recorded",
                            op->action);
        }
    }
    /* Against what this worker holds: only forward. */
    if (!have) return PHX_OK;
    if ((uint64_t)held > op->nonce)
        return phx_fail(e, PHX_ERR_VERIFY, "an older op than the one this worker holds");
    if ((uint64_t)held == op->nonce &&
        (deleted != !strcmp(op->action, "delete") || memcmp(held_hash, op->code_hash, 32) ||
         memcmp(held_secrets, op->secrets_hash, 32)))
        return phx_fail(e, PHX_ERR_VERIFY, "another op with the same nonce");
    return PHX_OK;
}

/* A plain file name: 1..64 of [A-Za-z0-9._-], not starting with a dot (no
 * path, and no control characters reach anyone's terminal through an error). */
static bool wk_filename_ok(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 64 || s[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

phx_err_t wk_contract_store(phx_worker_t *w, const json_t *req, uint8_t id[32],
                            uint8_t code_hash[32], phx_error_t *e)
{
    const char *code = NULL;
    phx_err_t err;
    if ((err = phx_json_get_str(req, "code", &code, e)) ||
        (err = phx_json_get_hex_fixed(req, "id", id, 32, e)))
        return err;
    size_t len = strlen(code);
    if (len > (4u << 20)) return phx_fail(e, PHX_ERR_LIMIT, "code over 4 MiB");
    phx_keccak256(code, len, code_hash);
    uint8_t claimed[32], owner[20];
    if (json_object_get(req, "code_hash")) {
        if ((err = phx_json_get_hex_fixed(req, "code_hash", claimed, 32, e))) return err;
        if (memcmp(claimed, code_hash, 32))
            return phx_fail(e, PHX_ERR_VERIFY, "code_hash is not keccak256 of the code");
    }
    const json_t *sealed = json_object_get(req, "sealed_secrets");
    phx_owner_op_t op = {.action = "deploy"};
    memcpy(op.contract_id, id, 32);
    memcpy(op.code_hash, code_hash, 32);
    if ((err = phx_owner_secrets_hash(sealed, op.secrets_hash, e)) ||
        (err = owner_op_check(w, req, &op, owner, e)))
        return err;
    json_t *triggers = NULL;
    if ((err = wk_triggers_check(w, req, &op, owner, &triggers, e))) return err;
    char hx[67], path[1500];
    hex32(code_hash, hx);
    snprintf(path, sizeof path, "%s/code/%s.js", w->dir, hx + 2);
    if ((err = phx_file_write_atomic(path, code, len, 0600, e))) return err;
    /* The record keeps the secrets sealed as they came (to this id and this
     * code hash): they are opened only in memory, for a call. It keeps the
     * owner's signed op too, so the worker can show who allowed this code. */
    json_t *rec = json_pack("{s:o,s:o,s:o,s:I,s:O}", "id", phx_json_hex(id, 32), "code_hash",
                            phx_json_hex(code_hash, 32), "owner", phx_json_hex(owner, 20), "nonce",
                            (json_int_t)op.nonce, "signature", json_object_get(req, "signature"));
    if (rec && sealed) json_object_set(rec, "sealed_secrets", (json_t *)sealed);
    /* The salt the id derives from (public): the KMS outbox checks the owner
     * of a spending limit by it. Kept only when it derives this id. */
    uint8_t salt[32], want[32];
    if (rec && json_object_get(req, "salt") &&
        !phx_json_get_hex_fixed(req, "salt", salt, 32, NULL)) {
        phx_chain_contract_id(owner, salt, want);
        if (!memcmp(want, id, 32)) json_object_set_new(rec, "salt", phx_json_hex(salt, 32));
    }
    if (rec && triggers) {
        json_object_set(rec, "triggers", triggers);
        json_object_set(rec, "triggers_signature", json_object_get(req, "triggers_signature"));
    }
    json_decref(triggers);
    /* The file name the owner's CLI sent, so errors name the user's file and
     * not "contract.js". Unsigned and cosmetic: only a plain name is kept. */
    const char *fname = json_string_value(json_object_get(req, "filename"));
    if (rec && fname && wk_filename_ok(fname))
        json_object_set_new(rec, "filename", json_string(fname));
    char *text = rec ? phx_json_dump(rec, false) : NULL;
    json_decref(rec);
    if (!text) return phx_fail(e, PHX_ERR_NOMEM, "contract record");
    contract_path(w, id, path, sizeof path);
    err = phx_file_write_atomic(path, text, strlen(text), 0600, e);
    free(text);
    return err;
}

phx_err_t wk_contract_delete(phx_worker_t *w, const uint8_t id[32], const json_t *req,
                             phx_error_t *e)
{
    uint8_t owner[20];
    phx_owner_op_t op = {.action = "delete"};
    memcpy(op.contract_id, id, 32);
    phx_err_t err = owner_op_check(w, req, &op, owner, e);
    if (err) return err;
    /* A tombstone, not nothing: it keeps the nonce, so the deploy it replaced
     * cannot be replayed. */
    json_t *rec = json_pack("{s:o,s:b,s:o,s:I}", "id", phx_json_hex(id, 32), "deleted", 1, "owner",
                            phx_json_hex(owner, 20), "nonce", (json_int_t)op.nonce);
    char *text = rec ? phx_json_dump(rec, false) : NULL;
    json_decref(rec);
    if (!text) return phx_fail(e, PHX_ERR_NOMEM, "contract record");
    char path[1500];
    contract_path(w, id, path, sizeof path);
    err = phx_file_write_atomic(path, text, strlen(text), 0600, e);
    free(text);
    return err;
}

phx_err_t wk_contract_load(phx_worker_t *w, const uint8_t id[32], wk_contract_t *c, phx_error_t *e)
{
    memset(c, 0, sizeof *c);
    char hx[67], path[1500];
    hex32(id, hx);
    snprintf(path, sizeof path, "%s/contracts/%s.json", w->dir, hx + 2);
    phx_buf_t text = PHX_BUF_INIT;
    if (phx_file_read(path, &text, NULL))
        return phx_fail(e, PHX_ERR_NOT_FOUND, "contract %s is not deployed on this worker", hx);
    json_error_t je;
    json_t *rec = json_loadb((const char *)text.ptr, text.len, 0, &je);
    phx_buf_free(&text);
    phx_err_t err = PHX_OK;
    if (!rec) return phx_fail(e, PHX_ERR_INVALID, "contract record %s: %s", path, je.text);
    if (json_is_true(json_object_get(rec, "deleted"))) {
        json_decref(rec);
        return phx_fail(e, PHX_ERR_NOT_FOUND, "contract %s was deleted by its owner", hx);
    }
    memcpy(c->id, id, 32);
    if ((err = phx_json_get_hex_fixed(rec, "code_hash", c->code_hash, 32, e))) goto out;
    /* The scheduler caps an owner's contracts together; a record without an
     * owner leaves it zero (capped by contract alone). */
    if (json_object_get(rec, "owner") &&
        (err = phx_json_get_hex_fixed(rec, "owner", c->owner, 20, e)))
        goto out;
    c->has_salt =
        json_object_get(rec, "salt") && !phx_json_get_hex_fixed(rec, "salt", c->salt, 32, NULL);
    c->sealed_secrets = json_incref(json_object_get(rec, "sealed_secrets"));
    const char *fname = json_string_value(json_object_get(rec, "filename"));
    snprintf(c->filename, sizeof c->filename, "%s",
             fname && wk_filename_ok(fname) ? fname : "contract.js");
    hex32(c->code_hash, hx);
    snprintf(path, sizeof path, "%s/code/%s.js", w->dir, hx + 2);
    if ((err = phx_file_read(path, &c->code, e))) goto out;
    uint8_t check[32];
    phx_keccak256(c->code.ptr, c->code.len, check);
    if (memcmp(check, c->code_hash, 32))
        err = phx_fail(e, PHX_ERR_VERIFY, "stored code does not hash to its name");
out:
    json_decref(rec);
    if (err) wk_contract_clear(c);
    return err;
}

void wk_contract_clear(wk_contract_t *c)
{
    phx_buf_free(&c->code);
    json_decref(c->sealed_secrets);
    c->sealed_secrets = NULL;
}

/* Run a contract: its keys from the KMS contract root, its secrets opened in
 * memory, one sandbox process. The outcome is the output bytes the result
 * signs: the return value as JSON text, or {"error":{...}} for a contract that
 * failed (still an answer a requester can act on). */
static phx_err_t run_contract(phx_worker_t *w, const wk_contract_t *c, const char *input_json,
                              const char *request_id, const char *caller, const char *trigger_json,
                              const char *phase, bool onchain, phx_buf_t *output, json_t **logs,
                              bool *ok, wk_usage_t *usage, phx_error_t *e);

phx_err_t wk_run(phx_worker_t *w, const wk_contract_t *c, const char *input_json,
                 const char *request_id, const char *caller, bool onchain, phx_buf_t *output,
                 json_t **logs, bool *ok, wk_usage_t *usage, phx_error_t *e)
{
    return run_contract(w, c, input_json, request_id, caller, NULL, NULL, onchain, output, logs, ok,
                        usage, e);
}

phx_err_t wk_run_fired(phx_worker_t *w, const wk_contract_t *c, const char *input_json,
                       const char *request_id, const char *trigger_json, bool onchain,
                       phx_buf_t *output, json_t **logs, bool *ok, wk_usage_t *usage,
                       phx_error_t *e)
{
    return run_contract(w, c, input_json, request_id, NULL, trigger_json, NULL, onchain, output,
                        logs, ok, usage, e);
}

phx_err_t wk_run_phase(phx_worker_t *w, const wk_contract_t *c, const char *input_json,
                       const char *request_id, const char *phase, phx_buf_t *output, bool *ok,
                       phx_error_t *e)
{
    return run_contract(w, c, input_json, request_id, NULL, NULL, phase, true, output, NULL, ok,
                        NULL, e);
}

static phx_err_t run_contract(phx_worker_t *w, const wk_contract_t *c, const char *input_json,
                              const char *request_id, const char *caller, const char *trigger_json,
                              const char *phase, bool onchain, phx_buf_t *output, json_t **logs,
                              bool *ok, wk_usage_t *usage, phx_error_t *e)
{
    wk_usage_t scratch;
    if (!usage) usage = &scratch;
    memset(usage, 0, sizeof *usage);
    phx_contract_keys_t keys;
    phx_sandbox_keys_t sbx_keys;
    memset(&sbx_keys, 0, sizeof sbx_keys);
    phx_buf_t secrets = PHX_BUF_INIT;
    json_t *sec = NULL;
    const char **sk = NULL, **sv = NULL;
    int nsec = 0;
    phx_sandbox_result_t res;
    memset(&res, 0, sizeof res);
    phx_err_t err = phx_kms_contract_keys(w->contract_root, c->id, &keys, e);
    if (err) return err;
    if (c->sealed_secrets) {
        if ((err = phx_confidential_open_secrets(keys.x25519_sk, c->id, c->code_hash,
                                                 c->sealed_secrets, &secrets, e)))
            goto out;
        json_error_t je;
        sec = json_loadb((const char *)secrets.ptr, secrets.len, 0, &je);
        if (!json_is_object(sec)) {
            err = phx_fail(e, PHX_ERR_INVALID, "secrets are not a JSON object");
            goto out;
        }
        size_t n = json_object_size(sec);
        sk = calloc(n + 1, sizeof *sk), sv = calloc(n + 1, sizeof *sv);
        if (!sk || !sv) {
            err = phx_fail(e, PHX_ERR_NOMEM, "secrets");
            goto out;
        }
        const char *k;
        json_t *v;
        json_object_foreach(sec, k, v)
        {
            if (!json_is_string(v)) continue;
            sk[nsec] = k, sv[nsec++] = json_string_value(v);
        }
    }
    char cid[67];
    hex32(c->id, cid);
    /* The contract's own keys, the same on every worker the KMS admitted: its
     * phx.crypto address and the key its kv state is sealed under. */
    memcpy(sbx_keys.secp256k1_sk, keys.secp256k1_sk, 32);
    memcpy(sbx_keys.kv_key, keys.kv_key, 32);
    phx_sandbox_job_t job = {.source = (const char *)c->code.ptr,
                             .source_len = c->code.len,
                             .filename = c->filename[0] ? c->filename : "contract.js",
                             .contract_id = cid,
                             .input_json = input_json,
                             .request_id = request_id,
                             .caller = caller,
                             .trigger_json = trigger_json,
                             .phase = phase,
                             .secret_keys = sk,
                             .secret_values = sv,
                             .nsecrets = nsec,
                             .keys = &sbx_keys};
    /* Queue for a slot before spending a process; the keys wait with us. */
    if ((err = wk_sched_acquire(w->sched, c->id, c->owner, onchain, &usage->queue_ms,
                                &usage->retry_after_s, e)))
        goto out;
    err = phx_sandbox_invoke(w->sandbox, &job, &res, e);
    wk_sched_release(w->sched, c->id, onchain);
    if (err) goto out;
    usage->wall_ms = res.wall_ms;
    usage->cpu_ms = res.cpu_ms;
    usage->peak_mem_kb = res.peak_mem_kb;
    if (!res.ok && res.failure == PHX_SBX_FAIL_CHAIN_UNAVAILABLE && trigger_json) {
        /* Not a result to sign: the chain a send went to did not answer, so
         * what the run did there is unknown. The firing waits and runs again
         * (the send journal gives the same transaction back). */
        err = phx_fail(e, PHX_ERR_TIMEOUT, "%s", res.message);
        goto out;
    }
    *ok = res.ok;
    if (res.ok && !res.output_is_bytes) {
        err = phx_buf_append(output, res.output.ptr, res.output.len);
    } else if (res.ok) {
        /* Bytes: signed as they are. */
        err = phx_buf_append(output, res.output.ptr, res.output.len);
    } else {
        json_t *ej = json_pack("{s:{s:s,s:s}}", "error", "code", res.code, "message", res.message);
        char *t = ej ? phx_json_dump(ej, false) : NULL;
        json_decref(ej);
        err = t ? phx_buf_append_str(output, t) : phx_fail(e, PHX_ERR_NOMEM, "error output");
        free(t);
    }
    if (!err && output->len > PHX_RESULT_MAX_OUTPUT)
        err = phx_fail(e, PHX_ERR_LIMIT, "output over %u bytes", PHX_RESULT_MAX_OUTPUT);
    if (logs) {
        *logs = json_array();
        for (size_t i = 0; *logs && i < res.nlogs; i++)
            json_array_append_new(*logs, json_string(res.logs[i]));
    }
    __atomic_add_fetch(&w->runs_total, 1, __ATOMIC_RELAXED);
    if (!res.ok) __atomic_add_fetch(&w->runs_failed, 1, __ATOMIC_RELAXED);
out:
    phx_sandbox_result_free(&res);
    free(sk);
    free(sv);
    json_decref(sec);
    phx_buf_free(&secrets);
    phx_kms_contract_keys_clear(&keys);
    phx_secure_zero(&sbx_keys, sizeof sbx_keys);
    return err;
}

/* ---- start / stop ------------------------------------------------------------------ */

static bool host_is_loopback(const char *h)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!strcasecmp(h, "localhost")) return true;
    if (inet_pton(AF_INET, h, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, h, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

static bool host_is_wildcard(const char *h)
{
    return !strcmp(h, "0.0.0.0") || !strcmp(h, "::") || !*h;
}

/* Whether a contract allowed to reach allow_host:allow_port would reach the
 * endpoint host:port: the same port, and the same host as written, or both
 * on loopback, or the endpoint listening on every address. */
static bool same_endpoint(const char *allow_host, uint16_t allow_port, const char *host,
                          uint16_t port)
{
    if (allow_port != port) return false;
    return !strcasecmp(allow_host, host) || host_is_wildcard(host) ||
           (host_is_loopback(allow_host) && host_is_loopback(host));
}

/* The worker's own services are never a contract's allowance: the chain RPC
 * (a devnet's anvil takes anvil_setBalance, anvil_impersonateAccount from
 * anyone who can reach it), the KMS, and the worker's own API. url is
 * http(s)://HOST[:PORT]/...; port_override (non-zero) replaces its port. */
phx_err_t wk_allowances_check(const phx_worker_opts_t *o, const char *what, const char *url,
                              phx_error_t *e)
{
    CURLU *u = curl_url();
    char *host = NULL, *port_s = NULL;
    phx_err_t err = PHX_OK;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port_s, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        err = phx_fail(e, PHX_ERR_INVALID, "%s URL \"%.200s\" has no host and port", what, url);
        goto out;
    }
    const char *h = host;
    char hb[256];
    size_t hl = strlen(h);
    if (hl > 2 && h[0] == '[' && h[hl - 1] == ']') { /* curl keeps IPv6 brackets */
        snprintf(hb, sizeof hb, "%.*s", (int)(hl - 2), h + 1);
        h = hb;
    }
    uint16_t port = (uint16_t)atoi(port_s);
    for (int i = 0; i < o->nallow_hosts; i++) {
        char ah[256];
        uint16_t ap;
        if ((err = phx_egress_allowance_parse(o->allow_hosts[i], ah, sizeof ah, &ap, e))) goto out;
        if (same_endpoint(ah, ap, h, port)) {
            err = phx_fail(e, PHX_ERR_POLICY,
                           "--allow-host %s would let contracts reach this worker's %s (%s:%u)",
                           o->allow_hosts[i], what, h, (unsigned)port);
            goto out;
        }
    }
out:
    curl_free(host);
    curl_free(port_s);
    curl_url_cleanup(u);
    return err;
}

phx_err_t phx_worker_start(const phx_worker_opts_t *o, phx_worker_t **out, phx_error_t *e)
{
    *out = NULL;
    if (!o || !o->dir || !o->rpc_url || !o->deployment || !o->kms_url || !o->operator_sk)
        return phx_fail(e, PHX_ERR_INVALID,
                        "a worker needs a directory, a chain, a KMS and an operator key");
    phx_err_t err;
    if (o->misbehave != PHX_WORKER_HONEST && o->tee != PHX_TEE_SIM && o->tee != 0)
        return phx_fail(e, PHX_ERR_POLICY, "misbehaviour is for tests on the sim TEE only");
    if ((err = wk_allowances_check(o, "chain RPC", o->rpc_url, e)) ||
        (err = wk_allowances_check(o, "KMS", o->kms_url, e)))
        return err;
    phx_worker_t *w = calloc(1, sizeof *w);
    if (!w) return phx_fail(e, PHX_ERR_NOMEM, "worker");
    pthread_mutex_init(&w->db_lock, NULL);
    pthread_mutex_init(&w->state_lock, NULL);
    pthread_mutex_init(&w->pay_cache.lock, NULL);
    w->pay_cache.ttl_ms = o->no_pay_cache ? 0 : o->pay_cache_ms ? o->pay_cache_ms : 2000;
    snprintf(w->dir, sizeof w->dir, "%s", o->dir);
    w->dep = *o->deployment;
    snprintf(w->kms_url, sizeof w->kms_url, "%s", o->kms_url);
    snprintf(w->rpc_url, sizeof w->rpc_url, "%s", o->rpc_url);
    memcpy(w->kms_address, o->kms_address, 20);
    w->poll_ms = o->poll_ms ? o->poll_ms : 250;
    w->chains = o->chains;
    w->redeem_every_ms = o->redeem_every_ms ? o->redeem_every_ms : 600000;
    w->started_ms = phx_now_ms();
    w->misbehave = o->misbehave;
    if ((err = wk_peers_new(o->peers, o->npeers, &w->peers, e))) goto out;
    if ((err = state_dir_ensure(w->dir, "code", e)) ||
        (err = state_dir_ensure(w->dir, "contracts", e)) ||
        (err = state_dir_ensure(w->dir, "kv", e)))
        goto out;

    /* The zygote forks here, before any thread of ours exists. */
    char kv_dir[1400];
    snprintf(kv_dir, sizeof kv_dir, "%s/kv", w->dir);
    phx_sandbox_config_t sc = {.kv_dir = kv_dir,
                               .allow_hosts = o->allow_hosts,
                               .nallow_hosts = o->nallow_hosts,
                               .jit = true,
                               .ai_chat = o->ai_chat,
                               .ai_ctx = o->ai_ctx,
                               .chains = o->chains,
                               .outbox = wk_outbox,
                               .outbox_ctx = w,
                               .state = {.read = wk_state_read, .cas = wk_state_cas, .ctx = w}};
    phx_sandbox_limits_default(&sc.limits);
    sc.limits.output_bytes = PHX_RESULT_MAX_OUTPUT;
    if (o->ai_tokens) sc.limits.ai_tokens = o->ai_tokens;
    if ((err = phx_sandbox_pool_new(&sc, &w->sandbox, e))) goto out;
    wk_sched_limits_t sl;
    wk_sched_limits_default(o->max_concurrent, o->max_per_contract, o->max_per_owner, &sl);
    if ((err = wk_sched_new(&sl, &w->sched, e))) goto out;
    PHX_INFO("worker: up to %u invocations at once (%u reserved for on-chain jobs, %u per "
             "contract, %u per owner)",
             sl.max, sl.reserved, sl.per_contract, sl.per_owner);

    /* phx.state's stale-copy fault (state.c): a test's, never a real TEE's. */
    const char *stale = getenv("PHX_TEST_STALE_STATE_FILE");
    if (stale && *stale) {
        if (o->tee && o->tee != PHX_TEE_SIM) {
            err = phx_fail(e, PHX_ERR_POLICY,
                           "PHX_TEST_STALE_STATE_FILE is a test fault: only with the sim TEE");
            goto out;
        }
        snprintf(w->state_stale_file, sizeof w->state_stale_file, "%s", stale);
    }
    if ((err = phx_tee_open(o->tee ? o->tee : PHX_TEE_SIM, o->tee_config, &w->tee, e)) ||
        (err = load_identity(w, e)) || (err = own_measurement(w, e)))
        goto out;

    char nonce_path[1400];
    snprintf(nonce_path, sizeof nonce_path, "%s/operator.nonce", w->dir);
    if ((err = phx_rpc_open(o->rpc_url, NULL, &w->rpc, e)) ||
        (err = phx_rpc_open(o->rpc_url, NULL, &w->job_rpc, e)) ||
        (err = phx_signer_open(w->rpc, o->operator_sk, nonce_path, &w->operator_, e)) ||
        (err = phx_eth_address_from_seckey(o->operator_sk, w->operator_addr)))
        goto out;
    snprintf(nonce_path, sizeof nonce_path, "%s/worker.nonce", w->dir);
    if ((err = phx_signer_open(w->job_rpc, w->sk, nonce_path, &w->signer, e))) goto out;
    if (phx_signer_chain_id(w->signer) != w->dep.chain_id) {
        err = phx_fail(e, PHX_ERR_STATE, "the node's chain id is not the deployment's");
        goto out;
    }

    phx_kms_requester_t rq = {
        .kms_url = w->kms_url, .quote = wk_quote, .quote_ctx = w->tee, .x25519_sk = w->x25519_sk};
    memcpy(rq.kms_address, w->kms_address, 20);
    memcpy(rq.eth_address, w->address, 20);
    memcpy(rq.x25519_pub, w->x25519_pub, 32);
    if (w->fresh_identity && (err = retire_earlier_identities(w, e))) goto out;
    if ((err = fund_identity(w, e)) || (err = register_on_chain(w, &rq, e))) goto out;
    /* Keys only after registration: the KMS releases them to active workers. */
    if ((err = phx_kms_request_secret(&rq, PHX_KMS_ROLE_WORKER, w->contract_root, e))) {
        phx_error_wrap(e, err, "KMS onboarding");
        goto out;
    }

    char db_path[1400];
    snprintf(db_path, sizeof db_path, "%s/jobs.db", w->dir);
    if ((err = phx_jobdb_open(db_path, &w->db, e))) goto out;
    if ((err = wk_api_start(w, o, e)) ||
        (err = announce_endpoint(w, o->public_url ? o->public_url : w->url, e)))
        goto out;
    if (!o->no_jobs && ((err = wk_peers_start(w->peers, w->rpc_url, &w->dep, w->dir, w->address,
                                              o->public_url ? o->public_url : w->url, 0, e)) ||
                        (err = wk_jobs_start(w, e))))
        goto out;
    *out = w;
    return PHX_OK;
out:
    phx_worker_stop(w, 0);
    return err;
}

const char *phx_worker_url(const phx_worker_t *w)
{
    return w->url;
}

void phx_worker_identity(const phx_worker_t *w, uint8_t address[20], uint8_t x25519_pub[32],
                         uint8_t measurement[32])
{
    if (address) memcpy(address, w->address, 20);
    if (x25519_pub) memcpy(x25519_pub, w->x25519_pub, 32);
    if (measurement) memcpy(measurement, w->measurement, 32);
}

void phx_worker_stop(phx_worker_t *w, uint64_t grace_ms)
{
    if (!w) return;
    wk_jobs_stop(w);
    for (int i = 0; i < WK_CHAINS_MAX; i++)
        phx_rpc_close(w->chain_rpc[i]);
    if (w->server) phx_http_server_stop(w->server, grace_ms);
    wk_peers_free(w->peers); /* after the server: /metrics reads it */
    phx_http_router_free(w->router);
    phx_jobdb_close(w->db);
    phx_signer_close(w->signer);
    phx_signer_close(w->operator_);
    phx_rpc_close(w->job_rpc);
    phx_rpc_close(w->rpc);
    phx_tee_close(w->tee);
    phx_sandbox_pool_free(w->sandbox);
    wk_sched_free(w->sched);
    pthread_mutex_destroy(&w->db_lock);
    pthread_mutex_destroy(&w->state_lock);
    pthread_mutex_destroy(&w->pay_cache.lock);
    phx_http_conns_free(w->kms_conns);
    phx_secure_zero(w, sizeof *w);
    free(w);
}
