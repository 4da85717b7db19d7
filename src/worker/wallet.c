/* Contract wallets on the worker's side (docs/ARCHITECTURE.md "Contract
 * wallets"): the sandbox's outbox hook, which posts each transaction
 * phx.evm.send is about to broadcast to the KMS outbox, and the owner's
 * spending limits (docs/js.md "Spending limits", docs/worker.md "Owners").
 * POST /v1/contracts/:id/limits carries an
 * EIP-712 SpendLimit the contract's owner signed; the worker checks the
 * signer is the contract's owner now (the one Jobs records when the chain has
 * the contract, so Jobs.transferContract moves it; else the owner its deploy
 * record names, whose address the id derives from) and hands the limit to the
 * sandbox's send journal, which refuses a nonce not newer than the one held.
 * The signed limit itself is kept too (the proof), with the salt the contract
 * id derives from when known: it goes with every send to the KMS outbox,
 * which checks it itself and holds the cap over what all workers send
 * (docs/kms.md "Spending caps"). */
#include <stdlib.h>
#include <string.h>

#include "daemon_internal.h"
#include "phx/chain_owner.h"
#include "phx/json.h"
#include "phx/kms.h"
#include "phx/sandbox.h"

phx_err_t wk_contract_limit(phx_worker_t *w, const uint8_t id[32], const json_t *req,
                            phx_error_t *e)
{
    const char *chain = json_string_value(json_object_get(req, "chain"));
    const char *cap = json_string_value(json_object_get(req, "cap_wei"));
    int64_t period = 0, nonce = 0;
    uint8_t sig[65], d[32], signer[20], zero[20] = {0}, chain_owner[20], chain_hash[32];
    phx_err_t err;
    if (!chain || !cap)
        return phx_fail(e, PHX_ERR_INVALID,
                        "a limit is {chain, cap_wei, period_s, nonce, signature}");
    if ((err = phx_json_get_int(req, "period_s", &period, e)) ||
        (err = phx_json_get_int(req, "nonce", &nonce, e)) ||
        (err = phx_json_get_hex_fixed(req, "signature", sig, 65, e)))
        return err;
    if (period <= 0 || nonce <= 0)
        return phx_fail(e, PHX_ERR_INVALID, "period_s and nonce must be positive");
    wk_contract_t c;
    if ((err = wk_contract_load(w, id, &c, e))) return err;
    uint8_t owner[20], salt[32];
    bool has_salt = c.has_salt;
    memcpy(owner, c.owner, 20);
    memcpy(salt, c.salt, 32);
    wk_contract_clear(&c);
    /* One chain read per limit the owner sets, never per send. */
    if ((err = wk_chain_contract(w, id, chain_owner, chain_hash, e))) return err;
    bool on_chain = memcmp(chain_owner, zero, 20) != 0;
    if (on_chain) memcpy(owner, chain_owner, 20);
    if (!memcmp(owner, zero, 20))
        return phx_fail(e, PHX_ERR_VERIFY, "this worker holds no owner for the contract");
    if ((err = phx_owner_limit_digest(id, chain, cap, (uint64_t)period, (uint64_t)nonce, d, e)) ||
        (err = phx_owner_recover(d, sig, signer, e)))
        return err;
    if (memcmp(signer, owner, 20)) {
        char s_hex[43] = "0x", o_hex[43] = "0x";
        phx_hex_encode_to(s_hex + 2, signer, 20);
        phx_hex_encode_to(o_hex + 2, owner, 20);
        return phx_fail(e, PHX_ERR_VERIFY,
                        "the limit is not signed by the contract's owner: signed by %s, but %s "
                        "owns it (%s)",
                        s_hex, o_hex, on_chain ? "on Jobs" : "by its deploy");
    }
    char kv_dir[1100], idhex[67];
    snprintf(kv_dir, sizeof kv_dir, "%s/kv", w->dir);
    idhex[0] = '0';
    idhex[1] = 'x';
    phx_hex_encode_to(idhex + 2, id, 32);
    /* The KMS reads the owner from Jobs, or for an off-chain contract needs
     * the salt; without either (a record from before salts were kept) it
     * cannot tell the owner, so no proof: the outbox then refuses value. */
    json_t *proof = has_salt || on_chain
                        ? json_pack("{s:o,s:s,s:I,s:I,s:o}", "owner", phx_json_hex(owner, 20),
                                    "cap_wei", cap, "period_s", (json_int_t)period, "nonce",
                                    (json_int_t)nonce, "signature", phx_json_hex(sig, 65))
                        : NULL;
    if (proof && has_salt) json_object_set_new(proof, "salt", phx_json_hex(salt, 32));
    char *text = proof ? phx_json_dump(proof, false) : NULL;
    json_decref(proof);
    err = phx_sandbox_spend_limit_set(kv_dir, idhex, chain, cap, (uint64_t)period, (uint64_t)nonce,
                                      text, e);
    free(text);
    return err;
}

phx_err_t wk_outbox(void *ctx, const char *contract_id, const char *action, const char *chain,
                    const json_t *limit, const uint8_t *raw, size_t len, bool release,
                    json_t **answer, phx_error_t *e)
{
    phx_worker_t *w = ctx;
    return phx_kms_outbox_request(w->kms_url, contract_id, action, chain, limit, raw, len, release,
                                  answer, e);
}
