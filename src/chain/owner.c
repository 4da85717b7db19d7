/* Owner signatures (include/phx/chain_owner.h): EIP-712 typed data over
 * src/evm/eip712.c, so any wallet's eth_signTypedData_v4 makes the same
 * signature. */
#include "phx/chain_owner.h"
#include "phx/chain_triggers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/evm.h"

static json_t *typed(const char *primary, json_t *fields, json_t *message)
{
    return json_pack("{s:{s:[{s:s,s:s},{s:s,s:s}],s:o},s:s,s:{s:s,s:s},s:o}", "types",
                     "EIP712Domain", "name", "name", "type", "string", "name", "version", "type",
                     "string", primary, fields, "primaryType", primary, "domain", "name",
                     PHX_OWNER_DOMAIN, "version", "1", "message", message);
}

static json_t *field(const char *name, const char *type)
{
    return json_pack("{s:s,s:s}", "name", name, "type", type);
}

static phx_err_t digest_of(json_t *t, uint8_t out[32], phx_error_t *e)
{
    if (!t) return phx_fail(e, PHX_ERR_NOMEM, "owner typed data");
    phx_err_t err = phx_eip712_digest(t, out, e);
    json_decref(t);
    return err;
}

phx_err_t phx_owner_secrets_hash(const json_t *sealed, uint8_t out[32], phx_error_t *e)
{
    memset(out, 0, 32);
    if (!sealed) return PHX_OK;
    phx_buf_t b = PHX_BUF_INIT;
    phx_err_t err;
    if (!(err = phx_json_get_hex(sealed, "enc", &b, e)) &&
        !(err = phx_json_get_hex(sealed, "ciphertext", &b, e)))
        phx_keccak256(b.ptr, b.len, out);
    phx_buf_free(&b);
    return err;
}

phx_err_t phx_owner_op_digest(const phx_owner_op_t *op, uint8_t out[32], phx_error_t *e)
{
    if (!op->action || (strcmp(op->action, "deploy") && strcmp(op->action, "delete")))
        return phx_fail(e, PHX_ERR_INVALID, "owner op: action must be deploy or delete");
    char nonce[24];
    snprintf(nonce, sizeof nonce, "%llu", (unsigned long long)op->nonce);
    json_t *fields = json_pack("[o,o,o,o,o]", field("contractId", "bytes32"),
                               field("action", "string"), field("codeHash", "bytes32"),
                               field("secretsHash", "bytes32"), field("nonce", "uint64"));
    json_t *msg =
        json_pack("{s:o,s:s,s:o,s:o,s:s}", "contractId", phx_json_hex(op->contract_id, 32),
                  "action", op->action, "codeHash", phx_json_hex(op->code_hash, 32), "secretsHash",
                  phx_json_hex(op->secrets_hash, 32), "nonce", nonce);
    return digest_of(fields && msg ? typed("ContractOp", fields, msg) : NULL, out, e);
}

phx_err_t phx_owner_limit_digest(const uint8_t contract_id[32], const char *chain,
                                 const char *cap_wei, uint64_t period_s, uint64_t nonce,
                                 uint8_t out[32], phx_error_t *e)
{
    phx_u256_t cap;
    phx_err_t err = phx_u256_from_str(cap_wei ? cap_wei : "", &cap, e);
    if (err) return phx_error_wrap(e, err, "spending limit: capWei");
    if (!chain || !*chain) return phx_fail(e, PHX_ERR_INVALID, "spending limit: chain");
    char cap_s[80], period[24], n[24];
    phx_u256_to_dec(&cap, cap_s);
    snprintf(period, sizeof period, "%llu", (unsigned long long)period_s);
    snprintf(n, sizeof n, "%llu", (unsigned long long)nonce);
    json_t *fields =
        json_pack("[o,o,o,o,o]", field("contractId", "bytes32"), field("chain", "string"),
                  field("capWei", "uint256"), field("periodS", "uint64"), field("nonce", "uint64"));
    json_t *msg = json_pack("{s:o,s:s,s:s,s:s,s:s}", "contractId", phx_json_hex(contract_id, 32),
                            "chain", chain, "capWei", cap_s, "periodS", period, "nonce", n);
    return digest_of(fields && msg ? typed("SpendLimit", fields, msg) : NULL, out, e);
}

phx_err_t phx_owner_request_digest(const char *action, const uint8_t subject[32], uint64_t expires,
                                   uint8_t out[32], phx_error_t *e)
{
    char exp[24];
    snprintf(exp, sizeof exp, "%llu", (unsigned long long)expires);
    json_t *fields = json_pack("[o,o,o]", field("action", "string"), field("subject", "bytes32"),
                               field("expires", "uint64"));
    json_t *msg = json_pack("{s:s,s:o,s:s}", "action", action, "subject", phx_json_hex(subject, 32),
                            "expires", exp);
    return digest_of(fields && msg ? typed("OwnerRequest", fields, msg) : NULL, out, e);
}

phx_err_t phx_owner_sign(const uint8_t digest[32], const uint8_t sk[32], uint8_t sig[65],
                         phx_error_t *e)
{
    if (phx_secp256k1_sign(sk, digest, sig)) return phx_fail(e, PHX_ERR_CRYPTO, "owner: signing");
    sig[64] += 27;
    return PHX_OK;
}

phx_err_t phx_owner_recover(const uint8_t digest[32], const uint8_t sig[65], uint8_t addr[20],
                            phx_error_t *e)
{
    uint8_t pub[64];
    if (phx_secp256k1_recover(digest, sig, pub))
        return phx_fail(e, PHX_ERR_VERIFY, "owner signature does not recover");
    phx_eth_address_from_pubkey(pub, addr);
    return PHX_OK;
}

phx_err_t phx_owner_request_check(const char *action, const uint8_t subject[32],
                                  const char *owner_hex, const char *expires_s, const char *sig_hex,
                                  uint64_t now_s, uint8_t owner[20], phx_error_t *e)
{
    uint8_t sig[65], d[32], got[20];
    char *end = NULL;
    if (!owner_hex || !expires_s || !sig_hex)
        return phx_fail(e, PHX_ERR_VERIFY,
                        "%s needs the owner's signature (owner, expires, signature)", action);
    unsigned long long exp = strtoull(expires_s, &end, 10);
    if (!*expires_s || *end || phx_hex_decode_fixed(owner_hex, owner, 20, NULL) ||
        phx_hex_decode_fixed(sig_hex, sig, 65, NULL))
        return phx_fail(e, PHX_ERR_VERIFY, "%s: malformed owner, expires or signature", action);
    if (exp <= now_s || exp > now_s + PHX_OWNER_REQUEST_MAX_S)
        return phx_fail(e, PHX_ERR_VERIFY, "%s: the owner's signature is expired or too long-lived",
                        action);
    phx_err_t err = phx_owner_request_digest(action, subject, exp, d, e);
    if (err) return err;
    if ((err = phx_owner_recover(d, sig, got, e))) return err;
    if (memcmp(got, owner, 20))
        return phx_fail(e, PHX_ERR_VERIFY, "%s: signed by another key than the owner's", action);
    return PHX_OK;
}

/* Declared in chain_triggers.h: the owner's signature over a trigger manifest. */
phx_err_t phx_owner_triggers_digest(const uint8_t contract_id[32], const uint8_t code_hash[32],
                                    const uint8_t triggers_hash[32], uint64_t nonce,
                                    uint8_t out[32], phx_error_t *e)
{
    char n[24];
    snprintf(n, sizeof n, "%llu", (unsigned long long)nonce);
    json_t *fields =
        json_pack("[o,o,o,o]", field("contractId", "bytes32"), field("codeHash", "bytes32"),
                  field("triggersHash", "bytes32"), field("nonce", "uint64"));
    json_t *msg = json_pack("{s:o,s:o,s:o,s:s}", "contractId", phx_json_hex(contract_id, 32),
                            "codeHash", phx_json_hex(code_hash, 32), "triggersHash",
                            phx_json_hex(triggers_hash, 32), "nonce", n);
    return digest_of(fields && msg ? typed("Triggers", fields, msg) : NULL, out, e);
}
