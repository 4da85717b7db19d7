/* A TEE contract's owner and what only the owner may do (DESIGN.md §2). Every
 * contract has an owner, an Ethereum address. Deploying, updating the code,
 * setting or rotating secrets and deleting are an owner-signed ContractOp;
 * reading logs and job history and storing blobs at the gateway are an
 * owner-signed OwnerRequest. Both are EIP-712 typed data in the owner's own
 * domain {name: "phx-owner", version: "1"}, so a wallet shows what it signs
 * and no signature made for another role (a worker's result, a KMS's
 * registration) is accepted here. docs/chain.md ("Owner signatures"). */
#ifndef PHX_CHAIN_OWNER_H
#define PHX_CHAIN_OWNER_H

#include <stdint.h>

#include "phx/core.h"
#include "phx/json.h"

#define PHX_OWNER_DOMAIN "phx-owner"
/* An OwnerRequest may not be valid for longer than this from now. */
#define PHX_OWNER_REQUEST_MAX_S 3600

/* ContractOp(bytes32 contractId,string action,bytes32 codeHash,bytes32 secretsHash,uint64 nonce).
 * action "deploy" (also an update: new code, its secrets re-sealed by the
 * owner) or "delete". nonce grows with every op of a contract (the CLI uses
 * the time in ms): a worker refuses an op older than the one it holds, so an
 * old signed op cannot roll the code or the secrets back. */
typedef struct {
    uint8_t contract_id[32];
    const char *action;
    uint8_t code_hash[32];
    uint8_t secrets_hash[32]; /* phx_owner_secrets_hash; zero when none */
    uint64_t nonce;
} phx_owner_op_t;

/* keccak256(enc || ciphertext) of sealed secrets {"enc","ciphertext"}; 32 zero
 * bytes when sealed is NULL. */
phx_err_t phx_owner_secrets_hash(const json_t *sealed, uint8_t out[32], phx_error_t *e);

phx_err_t phx_owner_op_digest(const phx_owner_op_t *op, uint8_t out[32], phx_error_t *e);

/* SpendLimit(bytes32 contractId,string chain,uint256 capWei,uint64 periodS,uint64 nonce):
 * the owner's cap on the value a contract's phx.evm.send may move on the named
 * chain in any periodS-long window (docs/js.md "Spending limits"). cap_wei is
 * decimal or 0x text. nonce grows with every limit of a contract and chain
 * (the CLI uses the time in ms): a worker refuses one older than it holds, so
 * an old, higher cap cannot be replayed. */
phx_err_t phx_owner_limit_digest(const uint8_t contract_id[32], const char *chain,
                                 const char *cap_wei, uint64_t period_s, uint64_t nonce,
                                 uint8_t out[32], phx_error_t *e);

/* OwnerRequest(string action,bytes32 subject,uint64 expires): "logs" and
 * "jobs" (subject: the contract id), "blob-put" (subject: the blob's keccak256). */
phx_err_t phx_owner_request_digest(const char *action, const uint8_t subject[32], uint64_t expires,
                                   uint8_t out[32], phx_error_t *e);

/* 65-byte r||s||v (v = 27/28) over an EIP-712 digest, and its signer. */
phx_err_t phx_owner_sign(const uint8_t digest[32], const uint8_t sk[32], uint8_t sig[65],
                         phx_error_t *e);
phx_err_t phx_owner_recover(const uint8_t digest[32], const uint8_t sig[65], uint8_t addr[20],
                            phx_error_t *e);

/* An OwnerRequest as it arrives (the query's owner, expires, signature, all
 * text): PHX_OK when the signature is the named owner's over (action,
 * subject, expires) and now_s < expires <= now_s + PHX_OWNER_REQUEST_MAX_S;
 * owner gets the address. Missing or malformed parts are PHX_ERR_VERIFY too:
 * the answer to "who is asking" is then "nobody". */
phx_err_t phx_owner_request_check(const char *action, const uint8_t subject[32],
                                  const char *owner_hex, const char *expires_s, const char *sig_hex,
                                  uint64_t now_s, uint8_t owner[20], phx_error_t *e);

#endif
