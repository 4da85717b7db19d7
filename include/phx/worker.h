/* Worker: the TEE runtime. This part is the signed result envelope every call
 * returns, and the checks `phx verify` starts from. The signature is over the
 * same digest the Jobs contract checks on chain (contracts/Jobs.sol
 * resultDigest), so one signature serves a direct call and an on-chain job. */
#ifndef PHX_WORKER_H
#define PHX_WORKER_H

#include "phx/attest.h"
#include "phx/chain.h"
#include "phx/core.h"
#include "phx/evm.h"
#include "phx/json.h"
#include "phx/sandbox.h"
#include "phx/tee.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PHX_RESULT_MAX_OUTPUT (64u << 10) /* Jobs.MAX_OUTPUT */

/* Jobs.resultDigest with a full uint256 request id (chain.h's takes a
 * uint64, enough for Jobs, not for direct-call ids); domain from
 * phx_chain_jobs_domain: keccak256(abi.encode(domain, request_id, contract_id,
 * code_hash, ok, keccak256(output))). request_id is a uint256, big-endian. */
void phx_result_digest(const uint8_t domain[32], const uint8_t request_id[32],
                       const uint8_t contract_id[32], const uint8_t code_hash[32], bool ok,
                       const uint8_t *output, size_t output_len, uint8_t digest[32]);

/* A direct (off-chain) call has no Jobs request id; it uses
 * keccak256(abi.encode(keccak256("phx-direct-v1"), input_hash, timestamp)) so the
 * input and the time are covered by the same signature. */
void phx_result_direct_request_id(const uint8_t input_hash[32], uint64_t timestamp,
                                  uint8_t request_id[32]);
/* A direct call that names a caller nonce (32 bytes the caller chose: random
 * per intended call, the same on a retry) uses
 * keccak256(abi.encode(keccak256("phx-direct-v2"), input_hash, nonce)): two
 * calls are two requests however close in time, and a retry of one, on any
 * worker and at any later second, is the same request (docs/js.md). */
void phx_result_direct_request_id_nonce(const uint8_t input_hash[32], const uint8_t nonce[32],
                                        uint8_t request_id[32]);

typedef enum { PHX_RESULT_DIRECT = 1, PHX_RESULT_JOB = 2 } phx_result_kind_t;

/* The envelope. output holds the exact bytes that were hashed (for a JS
 * contract: its return value as compact JSON text). */
typedef struct {
    phx_result_kind_t kind;
    uint64_t chain_id;
    uint8_t jobs[20];
    uint8_t request_id[32];
    uint8_t contract_id[32];
    uint8_t code_hash[32];
    uint8_t input_hash[32]; /* keccak256 of the input bytes as the worker received them */
    bool ok;                /* the run succeeded; false: output is its error ({"error":...}) */
    phx_buf_t output;
    uint8_t worker[20];
    uint64_t timestamp;    /* unix seconds at signing */
    uint8_t signature[65]; /* r || s || v, v = 27/28, low s */
    bool has_nonce;        /* direct: the caller named a nonce (request id v2) */
    uint8_t nonce[32];
} phx_result_t;

void phx_result_free(phx_result_t *r); /* frees output; accepts NULL */

/* Sign: for PHX_RESULT_DIRECT, request_id is computed from input_hash and
 * timestamp (or, has_nonce, input_hash and nonce) first. Fills worker (from
 * sk) and signature. */
phx_err_t phx_result_sign(phx_result_t *r, const uint8_t sk[32], phx_error_t *e);

/* JSON form (DESIGN.md §7: bytes as 0x hex):
 * {"kind":"direct"|"job","chain_id":N,"jobs":"0x..","request_id":"0x..",
 *  "contract_id","code_hash","input_hash","output":<the value, when the output
 *  is JSON>,"output_bytes":"0x..","worker","timestamp":N,"signature"
 *  [,"nonce":"0x..32 bytes": a direct call's caller nonce]}. */
phx_err_t phx_result_to_json(const phx_result_t *r, json_t **out, phx_error_t *e);
/* Parse; when "output" is present it must equal what output_bytes parses to. */
phx_err_t phx_result_from_json(const json_t *j, phx_result_t *r, phx_error_t *e);

/* The self-contained part of `phx verify`: the digest is rebuilt from the
 * fields (for direct results the request id from input hash and timestamp,
 * or input hash and nonce),
 * the signature recovers to r->worker, s is low. PHX_ERR_VERIFY names the
 * failed check. Whether the worker is registered, its quote and measurement
 * are the chain's and attestation's checks, made by the caller next. */
phx_err_t phx_result_verify(const phx_result_t *r, phx_error_t *e);

/* ---- payment vouchers (contracts/Payments.sol; docs/worker.md "Paid calls") -------- */

/* A payer's signed running total for one operator. JSON (a direct call's
 * "voucher"): {"payer":"0x..","operator":"0x..","cumulative":"<decimal wei>",
 * "signature":"0x..(65 bytes, v 27/28)"}. The signature is over
 * phx_chain_voucher_digest with the call's phx_chain_call_hash, so it also
 * says who made this call (the worker's ctx.caller). */
typedef struct {
    uint8_t payer[20];
    uint8_t operator_[20];
    phx_u256_t cumulative;
    uint8_t signature[65];
} phx_voucher_t;

/* k-of-n (docs/worker.md "k-of-n"): one worker's signed observation of an
 * on-chain request, as GET /v1/jobs/:id/observation serves it to its peers:
 * {"request_id":N,"worker":"0x..","ok":bool,"output":"0x..","signature":"0x.."}.
 * The signature is over the Jobs result digest of (ok, output); "worker" is
 * informative only (the signer is what the signature recovers to). */
typedef struct {
    uint64_t request_id;
    bool ok;
    phx_buf_t output; /* at most PHX_RESULT_MAX_OUTPUT bytes */
    uint8_t signature[65];
} phx_observation_t;

/* Parse one from a peer (no signature check); PHX_ERR_INVALID names the field. */
phx_err_t phx_observation_parse(const json_t *j, phx_observation_t *o, phx_error_t *e);
/* The served form (worker: the server's identity address). NULL on no memory. */
json_t *phx_observation_to_json(const phx_observation_t *o, const uint8_t worker[20]);
/* Who signed it, for the request's contract id and code hash, on the Jobs
 * domain: PHX_ERR_VERIFY when the signature does not recover. With
 * observation_only (median and aggregate rounds) the signature is over
 * keccak256("phx-observation-v1" ‖ Jobs digest), which no Jobs function
 * accepts: an observation there is not a claim about the result, and a
 * worker that later signs the report has not signed two results. */
phx_err_t phx_observation_signer(const phx_observation_t *o, const uint8_t domain[32],
                                 const uint8_t contract_id[32], const uint8_t code_hash[32],
                                 bool observation_only, uint8_t signer[20], uint8_t digest[32],
                                 phx_error_t *e);
/* digest := keccak256("phx-observation-v1" ‖ digest). */
void phx_observation_domain(uint8_t digest[32]);
void phx_observation_clear(phx_observation_t *o);

/* Parse the JSON form (no signature check); PHX_ERR_INVALID names the field. */
phx_err_t phx_voucher_parse(const json_t *j, phx_voucher_t *v, phx_error_t *e);
phx_err_t phx_voucher_to_json(const phx_voucher_t *v, json_t **out, phx_error_t *e);
/* Fill payer (from sk) and signature; operator_ and cumulative are set. */
phx_err_t phx_voucher_sign(phx_voucher_t *v, uint64_t chain_id, const uint8_t payments[20],
                           const uint8_t call_hash[32], const uint8_t sk[32], phx_error_t *e);
/* PHX_ERR_VERIFY unless the signature recovers to v->payer for this call. */
phx_err_t phx_voucher_verify(const phx_voucher_t *v, uint64_t chain_id, const uint8_t payments[20],
                             const uint8_t call_hash[32], phx_error_t *e);

/* ---- confidential inputs, secrets and replies (DESIGN.md §5) ---------------------- */

/* Inputs and secrets are HPKE-sealed (base mode, DHKEM(X25519, HKDF-SHA256),
 * HKDF-SHA256, ChaCha20-Poly1305) to the contract's X25519 key (the one the KMS
 * signs, phx_kms_contract_pubkey) with info = label || contract_id, so a
 * ciphertext for one contract or purpose opens nowhere else. Any RFC 9180
 * library can produce them. An encrypted call gets an encrypted reply: both
 * sides export reply_key = Export("phx-reply-v1", 32) from the HPKE context and
 * the reply is ChaCha20-Poly1305(reply_key, nonce 0, aad = contract_id) — one
 * key per call, so the fixed nonce is never reused. */
#define PHX_SEAL_INPUT "phx-input-v1"
#define PHX_SEAL_SECRET "phx-secret-v2"
#define PHX_SEAL_MAX_BYTES (1u << 20)

/* An on-chain request's input sealed to the contract (issue 16): the bytes
 * Jobs.request carries are PHX_SEALED_REQUEST_MAGIC || enc (32) || ciphertext,
 * HPKE as above with label PHX_SEAL_REQUEST, so a sealed input meant for a
 * direct call (whose reply is sealed) never opens on chain, where the output is
 * public. No reply key: the output goes on chain as the contract returns it. */
#define PHX_SEAL_REQUEST "phx-request-v1"
#define PHX_SEALED_REQUEST_MAGIC "phx-sealed-v1"
#define PHX_SEALED_REQUEST_MAGIC_LEN 13
phx_err_t phx_confidential_seal_request(const uint8_t contract_pub[32],
                                        const uint8_t contract_id[32], const void *plaintext,
                                        size_t len, phx_buf_t *out, phx_error_t *e);
bool phx_confidential_is_sealed_request(const uint8_t *input, size_t len);
/* Appends the plaintext to out (marked secret); PHX_ERR_VERIFY when it does not open. */
phx_err_t phx_confidential_open_request(const uint8_t contract_sk[32],
                                        const uint8_t contract_id[32], const uint8_t *input,
                                        size_t len, phx_buf_t *out, phx_error_t *e);

/* Client: *sealed = {"enc":"0x..","ciphertext":"0x.."} (new reference);
 * reply_key (may be NULL) is kept to open the reply. */
phx_err_t phx_confidential_seal(const char *label, const uint8_t contract_pub[32],
                                const uint8_t contract_id[32], const void *plaintext, size_t len,
                                json_t **sealed, uint8_t reply_key[32], phx_error_t *e);
/* Worker: open with the contract's X25519 secret key; plaintext is appended
 * to out (marked secret: zeroed on free). A wrong key, contract, label or a
 * flipped bit is PHX_ERR_VERIFY. reply_key may be NULL. */
phx_err_t phx_confidential_open(const char *label, const uint8_t contract_sk[32],
                                const uint8_t contract_id[32], const json_t *sealed, phx_buf_t *out,
                                uint8_t reply_key[32], phx_error_t *e);
/* A contract's secrets: label PHX_SEAL_SECRET and, as the HPKE AAD, the code
 * hash they are for, so only this contract id running this code opens them
 * (an update re-seals them to the new code hash; the owner's client does it,
 * docs/worker.md "Owners"). */
phx_err_t phx_confidential_seal_secrets(const uint8_t contract_pub[32],
                                        const uint8_t contract_id[32], const uint8_t code_hash[32],
                                        const void *plaintext, size_t len, json_t **sealed,
                                        phx_error_t *e);
phx_err_t phx_confidential_open_secrets(const uint8_t contract_sk[32],
                                        const uint8_t contract_id[32], const uint8_t code_hash[32],
                                        const json_t *sealed, phx_buf_t *out, phx_error_t *e);
/* The reply: ciphertext (len + 16 bytes) appended to out, and back. */
phx_err_t phx_confidential_seal_reply(const uint8_t reply_key[32], const uint8_t contract_id[32],
                                      const void *plaintext, size_t len, phx_buf_t *out,
                                      phx_error_t *e);
phx_err_t phx_confidential_open_reply(const uint8_t reply_key[32], const uint8_t contract_id[32],
                                      const uint8_t *ciphertext, size_t len, phx_buf_t *out,
                                      phx_error_t *e);

/* ---- the whole chain of trust (`phx verify`) ---------------------------------- */

/* What to check a result against. */
typedef struct {
    phx_rpc_t *rpc;                           /* a node of the result's chain */
    const phx_chain_deployment_t *deployment; /* the Phalanx contracts on it */
    phx_attest_verifier_t *verifier;          /* Intel root, or the sim root when trusted */
    const phx_attest_policy_t *policy;        /* NULL = phx_attest_policy_default */
    const uint8_t *collateral;                /* for the worker's quote (dcap-qvl JSON) */
    size_t collateral_len;
    /* for a worker whose quote is SGX, when it differs (the sim platform has one
     * collateral per kind); NULL = collateral */
    const uint8_t *collateral_sgx;
    size_t collateral_sgx_len;
    /* for the quote of the KMS that admitted the worker; NULL = collateral */
    const uint8_t *kms_collateral;
    size_t kms_collateral_len;
    int64_t now; /* unix seconds; 0 = now */
} phx_result_check_t;

/* What the check found, step by step (each set once that step held). */
typedef struct {
    bool signature;   /* signed by r->worker over the Jobs digest */
    bool deployment;  /* chain id and Jobs address are the given deployment's */
    bool registered;  /* the Registry lists the worker as active */
    bool quote;       /* its registration quote verifies to the trusted root */
    bool binding;     /* that quote's report data binds the worker's key */
    bool measurement; /* the quote's measurement is still allowed */
    /* The KMS that vouched for the worker is admitted (by governance or a
     * quorum), not revoked, and the quote recorded at its admission verifies to
     * the trusted root, binds its key in the KMS domain, and has an allowed
     * measurement. */
    bool kms;
    uint8_t kms_address[20];
    uint8_t kms_admitted_by[20]; /* the governor, or the Registry (a quorum) */
    uint8_t operator_[20];
    uint8_t measurement_id[32];
    char tcb_status[48];
} phx_result_report_t;

/* Signature -> worker registered on chain -> its registration quote (from the
 * Registry's WorkerRegistered event, matched by quote hash) verifies with the
 * collateral -> report data binds the worker address and X25519 key -> the
 * measurement is allowed -> the KMS that vouched for it is admitted and its
 * admission quote (the KmsAdmitted event, matched by quote hash) verifies and
 * binds its key in the KMS domain. PHX_OK only when every step holds; otherwise
 * PHX_ERR_VERIFY (or POLICY for the TCB policy) naming the first failed step,
 * with report filled as far as it got. Chain access errors are IO/REMOTE. */
phx_err_t phx_result_verify_chain(const phx_result_t *r, const phx_result_check_t *check,
                                  phx_result_report_t *report, phx_error_t *e);

/* ---- the daemon (`phx worker`, docs/worker.md) ---------------------------------- */

#define PHX_WORKER_MAX_PEERS 32

/* Test-only misbehaviour of a worker on the sim TEE (`phx worker
 * --test-misbehave`), so that devnet tests can prove the network catches it:
 * EQUIVOCATE signs, for each on-chain request it serves, a second and
 * different output besides the real one and publishes both signed results
 * (GET /v1/jobs/:id/results); CORRUPT signs and submits a wrong output instead
 * of the real one. phx_worker_start refuses either with any other TEE. */
typedef enum {
    PHX_WORKER_HONEST = 0,
    PHX_WORKER_EQUIVOCATE = 1,
    PHX_WORKER_CORRUPT = 2,
} phx_worker_misbehave_t;

/* What a worker needs. Everything but dir, rpc_url, deployment, kms_url,
 * kms_address and operator_sk is optional. */
typedef struct {
    const char *dir;                    /* state: identity.sealed, contracts/, code/, jobs.db */
    phx_tee_kind_t tee;                 /* default sim */
    const phx_tee_config_t *tee_config; /* NULL = defaults (production refuses sim) */
    const char *host;                   /* default 127.0.0.1 */
    uint16_t port;                      /* 0 = any free port */
    /* The URL announced on chain for gateways to find (Registry.setWorkerEndpoint);
     * NULL: the API's own http://HOST:PORT. */
    const char *public_url;
    const char *rpc_url;
    const phx_chain_deployment_t *deployment;
    const char *kms_url;
    uint8_t kms_address[20];    /* the KMS key the Registry lists */
    const uint8_t *operator_sk; /* 32 bytes, borrowed: registers the worker, funds its gas */
    /* contract egress exemptions, "HOST:PORT" each (phx_egress_allowance_parse);
     * one that reaches the chain RPC, the KMS or the worker's own API is refused */
    const char **allow_hosts;
    int nallow_hosts;
    uint64_t poll_ms; /* job loop: chain poll interval; default 250 */
    /* How often accepted payment vouchers are redeemed on chain (and once at
     * stop); default 600000 (10 min): well inside Payments' notice period. */
    uint64_t redeem_every_ms;
    bool no_jobs; /* do not follow Jobs requests (tests of the HTTP API) */
    /* Invocations at once (0: twice the online cores). One slot in four (at
     * least one) is reserved for on-chain jobs; direct calls share the rest. */
    unsigned max_concurrent;
    /* Direct calls of one contract at once (0: half the direct slots, at
     * least one), so one contract cannot hold every slot. */
    unsigned max_per_contract;
    /* Direct calls of all one owner's contracts at once (0: max_per_contract
     * plus half the direct slots left), so an owner with many contracts
     * cannot hold every slot either. */
    unsigned max_per_owner;
    /* phx.ai.chat (sandbox.h): the service that answers it, NULL for none;
     * completion tokens per invocation (0: the sandbox default). */
    phx_sandbox_ai_fn ai_chat;
    void *ai_ctx;
    /* phx.evm's named chains (--chain-rpc NAME=URL; borrowed, outlives the
     * worker); NULL: contracts have no chains. */
    const phx_sandbox_chains_t *chains;
    uint32_t ai_tokens;
    /* Other workers' API URLs ("http://host:port"), asked for their signed
     * observations of k-of-n requests (docs/worker.md "k-of-n"). A URL is
     * trusted for nothing: what it answers counts only when signed by an
     * active worker of the Registry. At most PHX_WORKER_MAX_PEERS. */
    const char **peers;
    int npeers;
    /* How long a direct call's payment check reuses the price and a payer's
     * deposit read from the chain (never past a new block the job loop has
     * seen); default 2000 ms, and no_pay_cache reads on every call. */
    uint64_t pay_cache_ms;
    bool no_pay_cache;
    phx_worker_misbehave_t misbehave; /* tests only; sim TEE only */
} phx_worker_opts_t;

typedef struct phx_worker phx_worker_t;

/* Open the TEE, load or create the sealed identity (secp256k1 + X25519), quote,
 * register on chain through the KMS (operator's transaction), fetch the
 * contract root from the KMS, then serve the HTTP API and run the job loop:
 *   POST /v1/contracts (owner-signed), POST /v1/contracts/:id/call,
 *   POST /v1/contracts/:id/delete (owner-signed), GET /v1/attestation?nonce=,
 *   GET /v1/jobs/:id/observation, GET /v1/jobs/:id/report (k-of-n),
 *   GET /healthz, GET /metrics.
 * Starts the sandbox zygote first: call before the process has other threads. */
phx_err_t phx_worker_start(const phx_worker_opts_t *opts, phx_worker_t **out, phx_error_t *e);
const char *phx_worker_url(const phx_worker_t *w); /* "http://host:port" */
/* The worker's identity address, X25519 key and Registry measurement id. */
void phx_worker_identity(const phx_worker_t *w, uint8_t address[20], uint8_t x25519_pub[32],
                         uint8_t measurement[32]);
/* Graceful: stop the job loop after the job in hand, let requests in flight
 * finish for up to grace_ms, free everything (secrets zeroed). Accepts NULL. */
void phx_worker_stop(phx_worker_t *w, uint64_t grace_ms);

#ifdef __cplusplus
}
#endif
#endif
