/* Key management (DESIGN.md §2, §5): deterministic HKDF-SHA256 key derivation
 * over labelled paths, the KMS root secret (made in the TEE, sealed with
 * tee.h's phx_tee_seal, never on disk in clear), and the attested key release
 * a worker goes through: nonce -> quote over report data binding its keys ->
 * verify -> allowlist -> key material HPKE-sealed to its attested X25519 key,
 * signed by the KMS. Both sides of that exchange live here (the service and
 * the requester), so a worker links this header and never the daemon's
 * (kms_node.h: the chain seam over the Registry and a whole `phx kms` node).
 * The attestation and the chain are reached through the small seams below. */
#ifndef PHX_KMS_H
#define PHX_KMS_H

#include "phx/attest.h"
#include "phx/core.h"
#include "phx/evm_u256.h"
#include "phx/json.h"
#include "phx/net.h"
#include "phx/tee.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PHX_KMS_SECRET_LEN 32
#define PHX_KMS_NONCE_LEN 32
#define PHX_CONTRACT_ID_LEN 32

/* ---- derivation (DESIGN.md §5) ----------------------------------------------- */

/* HKDF-SHA256 with salt "phx-kms-v1", ikm = secret, info = path (a label such
 * as "contract/0x<64 hex>/kv"). Deterministic: every holder of the same secret
 * derives the same bytes; distinct paths give independent keys. */
phx_err_t phx_kms_derive(const uint8_t secret[32], const char *path, uint8_t *out, size_t out_len,
                         phx_error_t *e);

/* The root's subtree handed to attested workers: contract keys come from this,
 * never from the root itself, so a worker never holds what a KMS replica holds. */
phx_err_t phx_kms_contract_root(const uint8_t root[32], uint8_t contract_root[32], phx_error_t *e);

/* The KMS's own secp256k1 signing key (path "kms/secp256k1"); replicas sharing
 * the root share it, so clients trust one KMS address. */
phx_err_t phx_kms_identity_key(const uint8_t root[32], uint8_t sk[32], uint8_t address[20],
                               phx_error_t *e);

/* One contract's keys, from the contract root and the contract's 32-byte id:
 *   contract/0x<id>/secp256k1  its wallet / signing key (+ address)
 *   contract/0x<id>/x25519     its HPKE key pair (RFC 9180 DeriveKeyPair)
 *   contract/0x<id>/kv         the key of its encrypted KV state
 * Zero with phx_kms_contract_keys_clear after use. */
typedef struct {
    uint8_t secp256k1_sk[32];
    uint8_t address[20];
    uint8_t x25519_sk[32];
    uint8_t x25519_pub[32];
    uint8_t kv_key[32];
} phx_contract_keys_t;

phx_err_t phx_kms_contract_keys(const uint8_t contract_root[32],
                                const uint8_t contract_id[PHX_CONTRACT_ID_LEN],
                                phx_contract_keys_t *out, phx_error_t *e);
void phx_kms_contract_keys_clear(phx_contract_keys_t *k);

/* ---- the contract wallets' outbox (docs/kms.md "Outbox") --------------------------
 *
 * One writer per contract wallet across workers: before a worker broadcasts a
 * transaction phx.evm.send signed for a contract, it posts it here under its
 * action (contract id, request id, send index, chain). The KMS accepts only a
 * transaction signed by the contract's own key (derived here, so only a holder
 * of the contract root can make one), keeps the first transaction of each
 * action, and each (chain id, sender, nonce) for one action only. A new
 * action that moves value counts against the owner's spending cap across all
 * workers (docs/kms.md "Spending caps"). Answers:
 *   {"raw","hash","nonce","first":bool}   the action's transaction (this one
 *                                          when first, else the one held)
 *   {"taken":true,"next_nonce":N}         another action holds this nonce
 *   {"refused":"spend_limit","message"}   a new action over the owner's cap
 *                                          (or with value and no limit held)
 *   {"released":bool}                      for {"release":true}: the node
 *                                          refused the held transaction, so
 *                                          the action is forgotten (hash must match)
 * request: {"contract_id":"0x…32 bytes","action":"…","raw":"0x…"[,"release":true]
 *           [,"chain":"name"][,"limit":{"owner","salt","cap_wei","period_s","nonce",
 *           "signature"}]}: chain names the chain the owner's limit is signed for;
 * limit is the owner's EIP-712 SpendLimit, checked here (signature, and the
 * signer is the contract's owner: the one Jobs records for the id, or for a
 * contract Jobs does not know, id = Jobs.contractId(owner, salt); salt may be
 * left out for a contract on Jobs) and kept when newer than the one held. */
typedef struct phx_kms_outbox phx_kms_outbox_t;
phx_err_t phx_kms_outbox_open(const char *path, phx_kms_outbox_t **out, phx_error_t *e);
void phx_kms_outbox_close(phx_kms_outbox_t *o);
/* The owner Jobs records for contract id, all zero when Jobs has none (an
 * off-chain contract); an error when the chain cannot be read (the caller
 * refuses: fail closed). phx_kms_registry_contract_owner is one. */
typedef phx_err_t (*phx_kms_contract_owner_fn)(void *ctx, const uint8_t id[32], uint8_t owner[20],
                                               phx_error_t *e);
/* Where the outbox reads a contract's current owner when a limit it does not
 * hold yet arrives (not per send). fn NULL, the default: no chain, the id's
 * derivation is the rule. Set before the first post. */
void phx_kms_outbox_owner_source(phx_kms_outbox_t *o, phx_kms_contract_owner_fn fn, void *ctx);
phx_err_t phx_kms_outbox_post(phx_kms_outbox_t *o, const uint8_t contract_root[32],
                              const json_t *req, json_t **resp, phx_error_t *e);
/* The worker's side: POST kms_url/v1/outbox with that body (chain and limit
 * left out when NULL); *resp the answer. */
phx_err_t phx_kms_outbox_request(const char *kms_url, const char *contract_id, const char *action,
                                 const char *chain, const json_t *limit, const uint8_t *raw,
                                 size_t len, bool release, json_t **resp, phx_error_t *e);

/* ---- the voucher ledger (docs/kms.md "Voucher ledger") ----------------------------
 *
 * One arbiter of paid direct calls' cumulative totals across the workers of an
 * operator (docs/chain.md "Payments"): each worker checks a voucher against its
 * own journal and the chain, then claims its total here before the call runs.
 * Per (chain id, Payments, payer, operator) the KMS keeps the latest claimed
 * total and what is owed (that total plus the CPU charges reported since):
 *   claim   a = the voucher's total, b = the price per call: accepted when a is
 *           above the latest claim and at least owed + b, then owed = a;
 *           {"accepted":bool,"owed"[,"cumulative"]} (decimal strings)
 *   charge  a = the claimed total the call ran on, b = owed after its CPU time:
 *           owed rises to b (never falls); {"owed"}
 *   release a = a claim whose call never ran (the worker was busy): undone
 *           while it is the latest; {"released":bool}
 * request: {"op","chain_id","payments","payer","operator","a","b","mac"}, mac =
 * HMAC-SHA256 under a key derived from the contract root (phx_kms_ledger_mac):
 * only an admitted worker can post. */
typedef struct phx_kms_ledger phx_kms_ledger_t;
typedef enum {
    PHX_KMS_LEDGER_CLAIM,
    PHX_KMS_LEDGER_CHARGE,
    PHX_KMS_LEDGER_RELEASE
} phx_kms_ledger_op_t;
typedef struct {
    uint64_t chain_id;
    uint8_t payments[20], payer[20], operator_[20];
} phx_kms_ledger_key_t;
phx_err_t phx_kms_ledger_open(const char *path, phx_kms_ledger_t **out, phx_error_t *e);
void phx_kms_ledger_close(phx_kms_ledger_t *l);
phx_err_t phx_kms_ledger_post(phx_kms_ledger_t *l, const uint8_t contract_root[32],
                              const json_t *req, json_t **resp, phx_error_t *e);
void phx_kms_ledger_mac(const uint8_t contract_root[32], phx_kms_ledger_op_t op,
                        const phx_kms_ledger_key_t *k, const phx_u256_t *a, const phx_u256_t *b,
                        uint8_t mac[32]);
/* The worker's side: POST kms_url/v1/ledger (over conns' kept-alive
 * connections; NULL: a connection per request); *resp the answer. */
phx_err_t phx_kms_ledger_request(const char *kms_url, phx_http_conns_t *conns,
                                 const uint8_t contract_root[32], phx_kms_ledger_op_t op,
                                 const phx_kms_ledger_key_t *k, const phx_u256_t *a,
                                 const phx_u256_t *b, json_t **resp, phx_error_t *e);

/* "contract/0x<64 lowercase hex>/<label>" into out (cap >= 128). */
phx_err_t phx_kms_contract_path(const uint8_t contract_id[PHX_CONTRACT_ID_LEN], const char *label,
                                char *out, size_t cap, phx_error_t *e);

/* The report data a requester's quote must carry (DESIGN.md §2) is
 * phx_chain_report_data in chain.h: the Registry checks the same bytes. */

/* ---- root secret ---------------------------------------------------------------- */

/* Load the root from the sealed file at path, or, when there is none, make 32
 * random bytes and write them sealed (phx_tee_seal, 0600, atomically) before
 * returning them.
 * *created says which happened. The clear root only ever lives in memory. */
phx_err_t phx_kms_root_load_or_create(const char *path, phx_tee_sealing_key_fn key_fn,
                                      void *key_ctx, uint8_t root[32], bool *created,
                                      phx_error_t *e);

/* ---- the service ---------------------------------------------------------------- */

/* What a verified quote says about its TEE, as the KMS needs it. */
typedef struct {
    uint8_t report_data[64];
    /* The measurement registers, concatenated as the chain's allowlist keys them
     * (TDX: MRTD || RTMR0..3, 240 bytes; SGX: MRENCLAVE || MRSIGNER, 64 bytes). */
    uint8_t measurement[240];
    size_t measurement_len;
    uint32_t tee_type;   /* quote header tee_type: 0 SGX, 0x81 TDX */
    char tcb_status[48]; /* "UpToDate", ... (informational; policy already applied) */
} phx_kms_quote_info_t;

/* The Registry's measurement id: keccak256 of the registers above
 * (contracts/Registry.sol parseQuote). */
void phx_kms_measurement_id(const phx_kms_quote_info_t *info, uint8_t id[32]);

/* The attestation seam: verify quote + collateral to the trusted root at now
 * (unix seconds) under the TCB policy, and fill info. PHX_OK only for an
 * accepted quote; PHX_ERR_VERIFY / PHX_ERR_POLICY otherwise. */
typedef phx_err_t (*phx_kms_verify_quote_fn)(void *ctx, const uint8_t *quote, size_t quote_len,
                                             const uint8_t *collateral, size_t collateral_len,
                                             int64_t now, phx_kms_quote_info_t *info,
                                             phx_error_t *e);

/* Who is asking for keys, after its quote verified and bound its keys. */
typedef struct {
    uint8_t eth_address[20];
    uint8_t x25519_pub[32];
    const phx_kms_quote_info_t *quote;
} phx_kms_peer_t;

/* The chain seam: PHX_OK when the Registry allows the peer's measurement and,
 * for WORKER, has it registered and active, for KMS, lists it as a KMS node,
 * for REGISTRATION (a worker not yet registered), allows its measurement;
 * PHX_ERR_POLICY with a reason otherwise. */
typedef enum {
    PHX_KMS_ROLE_WORKER = 1,
    PHX_KMS_ROLE_KMS = 2,
    PHX_KMS_ROLE_REGISTRATION = 3,
    /* A replica KMS not yet admitted, asking this KMS to vouch for it
     * (Registry.admitKmsByQuorum): like REGISTRATION, the measurement only. */
    PHX_KMS_ROLE_KMS_ADMISSION = 4,
} phx_kms_role_t;
typedef phx_err_t (*phx_kms_check_peer_fn)(void *ctx, phx_kms_role_t role,
                                           const phx_kms_peer_t *peer, phx_error_t *e);

/* The attestation seam filled by src/attest: pass phx_kms_verify_quote_attest
 * with a phx_kms_attest_t as its ctx. Quotes verify to the verifier's root
 * (Intel's, or the sim root when explicitly trusted) under policy (NULL =
 * phx_attest_policy_default). */
typedef struct {
    phx_attest_verifier_t *verifier;
    const phx_attest_policy_t *policy;
} phx_kms_attest_t;
phx_err_t phx_kms_verify_quote_attest(void *ctx, const uint8_t *quote, size_t quote_len,
                                      const uint8_t *collateral, size_t collateral_len, int64_t now,
                                      phx_kms_quote_info_t *info, phx_error_t *e);

/* A fixed allowlist of measurement ids (phx_kms_measurement_id), for a KMS
 * run without a chain (development, or before the Registry is deployed): any
 * peer whose measurement is listed passes, for every role. Pass
 * phx_kms_allowlist_check with a phx_kms_allowlist_t as ctx. */
typedef struct {
    const uint8_t (*measurements)[32];
    size_t count;
} phx_kms_allowlist_t;
phx_err_t phx_kms_allowlist_check(void *ctx, phx_kms_role_t role, const phx_kms_peer_t *peer,
                                  phx_error_t *e);

/* Make a quote over report_data and fetch the collateral for it (tee.h:
 * phx_tee_quote, and the platform's collateral). Both are appended. */
typedef phx_err_t (*phx_kms_quote_fn)(void *ctx, const uint8_t report_data[64], phx_buf_t *quote,
                                      phx_buf_t *collateral, phx_error_t *e);

typedef struct {
    uint8_t root[32]; /* copied; the service zeroes its copy on free */
    phx_kms_verify_quote_fn verify_quote;
    void *verify_ctx;
    phx_kms_check_peer_fn check_peer;
    void *check_ctx;
    uint32_t nonce_ttl_s;    /* a nonce's window; default 120 */
    int64_t (*now_fn)(void); /* unix seconds; default time(NULL) (tests move time) */
    uint64_t chain_id;       /* for registration signatures */
    uint8_t registry[20];    /* the Registry contract's address */
    /* The KMS's own TEE, for GET /v1/attestation; NULL: that endpoint is 404. */
    phx_kms_quote_fn self_quote;
    void *self_quote_ctx;
    /* The contract wallets' outbox (POST /v1/outbox, src/kms/outbox.c): an
     * SQLite file this KMS keeps; NULL: no outbox (the route answers 404). */
    const char *outbox_path;
    /* The outbox's owner source (phx_kms_outbox_owner_source); NULL: none. */
    phx_kms_contract_owner_fn contract_owner;
    void *contract_owner_ctx;
    /* The voucher ledger (POST /v1/ledger, src/kms/ledger.c): an SQLite file;
     * NULL: no ledger (the route answers 404). */
    const char *ledger_path;
} phx_kms_config_t;

typedef struct phx_kms phx_kms_t;

phx_err_t phx_kms_new(const phx_kms_config_t *cfg, phx_kms_t **out, phx_error_t *e);
void phx_kms_free(phx_kms_t *k); /* accepts NULL; zeroes key material */
/* The KMS signing address (the one registered on chain). */
void phx_kms_address(const phx_kms_t *k, uint8_t address[20]);
/* The KMS's X25519 public key (path "kms/x25519"), bound in its attestation. */
void phx_kms_x25519_pub(const phx_kms_t *k, uint8_t pub[32]);

/* Routes served (thread-safe handlers):
 *   POST /v1/nonces {"eth_address"}   -> {"nonce","expires_at"}
 *   POST /v1/keys                      worker key release (see phx_kms_keys_request)
 *   POST /v1/replicas                  root secret to an attested KMS replica
 *   POST /v1/registrations             KMS signature for Registry.registerWorker
 *   POST /v1/vouches                   KMS signature admitting a replica (quorum)
 *   POST /v1/outbox                    the contract wallets' outbox
 *   POST /v1/ledger                    the voucher ledger (paid calls)
 *   GET  /v1/contracts/:id/pubkey      signed contract public keys
 *   GET  /v1/info                      {"kms_address","x25519_pub","nonce_ttl_s"}
 *   GET  /v1/attestation?nonce=0x..    the KMS's own quote over
 *        phx_chain_report_data(kms_address, x25519_pub, nonce):
 *        {"kms_address","x25519_pub","nonce","quote","collateral"}
 * k must outlive the router's server. */
phx_err_t phx_kms_add_routes(phx_kms_t *k, phx_http_router_t *r, phx_error_t *e);

/* Nonces are stateless (nothing is stored, so no flood can use them up):
 * issued_at(8) || random(8) || HMAC-SHA256 under a key derived from the root
 * over them and the requester's address, cut to 16 bytes. A nonce is good
 * for nonce_ttl_s after issue, only with the address it was issued to, on
 * this KMS and its replicas (same root). Within that window it can be used
 * more than once; docs/kms.md says why that is safe. */
phx_err_t phx_kms_nonce_issue(phx_kms_t *k, const uint8_t requester[20], uint8_t nonce[32],
                              int64_t *expires_at, phx_error_t *e);
/* PHX_OK for a nonce this KMS issued to requester and still inside its
 * window; PHX_ERR_POLICY (forged, another requester, expired) otherwise. */
phx_err_t phx_kms_nonce_check(const phx_kms_t *k, const uint8_t requester[20],
                              const uint8_t nonce[32], phx_error_t *e);

/* The key-release decision without HTTP. request is the JSON body of
 * POST /v1/keys: {"quote":"0x..","collateral":<object or string>,
 * "eth_address":"0x..","x25519_pub":"0x..","nonce":"0x.."}. Checks, in order:
 * nonce issued to eth_address and inside its window;
 * quote verifies (verify seam); report data binds eth_address, x25519_pub and
 * nonce; peer allowed (chain seam). Then *response (new reference) is
 * {"enc","ciphertext","kms_address","signature"}: the payload HPKE-sealed to
 * x25519_pub and signed by the KMS (see phx_kms_release_digest). role
 * WORKER releases the contract root, KMS the root itself. */
phx_err_t phx_kms_release(phx_kms_t *k, phx_kms_role_t role, const json_t *request,
                          json_t **response, phx_error_t *e);

/* keccak256(label || eth_address || nonce || enc || ciphertext) where label is
 * "phx-kms-keys-v1" (worker) or "phx-kms-root-v1" (replica). */
void phx_kms_release_digest(phx_kms_role_t role, const uint8_t eth_address[20],
                            const uint8_t nonce[32], const uint8_t enc[32], const uint8_t *ct,
                            size_t ct_len, uint8_t digest[32]);

/* The requester's side: check the KMS signature against the KMS address it
 * trusts (from the chain), then open the payload with its X25519 secret key.
 * secret gets the 32-byte contract root (or root, for replicas). */
phx_err_t phx_kms_release_open(phx_kms_role_t role, const json_t *response,
                               const uint8_t kms_address[20], const uint8_t eth_address[20],
                               const uint8_t nonce[32], const uint8_t x25519_sk[32],
                               uint8_t secret[32], phx_error_t *e);

/* POST /v1/registrations without HTTP: the body of POST /v1/keys plus
 * "operator":"0x.." (the account that will call registerWorker). Same checks,
 * with the chain asked only whether the measurement is allowed; then
 * *response = {"worker","operator","x25519","measurement","tee_type",
 * "quote_hash","nonce","kms_address","signature"} with signature over
 * phx_chain_attest_digest, as Registry.registerWorker requires. */
phx_err_t phx_kms_sign_registration(phx_kms_t *k, const json_t *request, json_t **response,
                                    phx_error_t *e);

/* POST /v1/vouches without HTTP: the body of POST /v1/replicas (a quote in the
 * KMS domain, phx_chain_kms_report_data). Same checks, with the chain asked
 * only whether the measurement is allowed, and never for this KMS's own key;
 * then *response = {"kms","x25519","measurement","tee_type","quote_hash",
 * "collateral_hash","nonce","kms_address","signature"}: signature over
 * phx_chain_kms_admit_digest, collateral_hash = keccak256 of the collateral
 * JSON text verified (a string as sent, an object compactly dumped), one of
 * the signatures Registry.admitKmsByQuorum takes. */
phx_err_t phx_kms_vouch_replica(phx_kms_t *k, const json_t *request, json_t **response,
                                phx_error_t *e);

/* GET /v1/contracts/:id/pubkey without HTTP: {"contract_id","x25519_pub",
 * "address","kms_address","signature"}, signature = secp256k1 r||s||v (v 27/28)
 * by the KMS key over phx_kms_pubkey_digest. */
phx_err_t phx_kms_contract_pubkey(phx_kms_t *k, const uint8_t contract_id[32], json_t **out,
                                  phx_error_t *e);
/* keccak256("phx-contract-pubkey-v1" || contract_id || x25519_pub || address) */
void phx_kms_pubkey_digest(const uint8_t contract_id[32], const uint8_t x25519_pub[32],
                           const uint8_t address[20], uint8_t digest[32]);
/* A client's check of a pubkey document against the KMS address it trusts;
 * fills x25519_pub (the key to HPKE-encrypt inputs and secrets to). */
phx_err_t phx_kms_contract_pubkey_verify(const json_t *doc, const uint8_t kms_address[20],
                                         const uint8_t contract_id[32], uint8_t x25519_pub[32],
                                         phx_error_t *e);

/* ---- the requester's side (worker, new KMS replica) --------------------------- */

typedef struct {
    const char *kms_url;     /* "http://127.0.0.1:8700" */
    uint8_t kms_address[20]; /* the KMS key the chain lists */
    phx_kms_quote_fn quote;
    void *quote_ctx;
    uint8_t eth_address[20]; /* the requester's identity (in the TEE) */
    uint8_t x25519_pub[32];
    const uint8_t *x25519_sk;           /* 32 bytes; borrowed */
    const phx_http_client_opts_t *http; /* NULL for defaults */
} phx_kms_requester_t;

/* The whole exchange: POST /v1/nonces (for rq->eth_address), quote over phx_chain_report_data, POST
 * /v1/keys (WORKER: secret = the contract root) or /v1/replicas (KMS: secret =
 * the root), then phx_kms_release_open. A refusal is PHX_ERR_REMOTE with the
 * KMS's reason. */
phx_err_t phx_kms_request_secret(const phx_kms_requester_t *rq, phx_kms_role_t role,
                                 uint8_t secret[32], phx_error_t *e);

/* POST /v1/registrations for operator; *out is the KMS's answer (see
 * phx_kms_sign_registration), checked to come from rq->kms_address, plus
 * "quote": everything Registry.registerWorker takes. */
phx_err_t phx_kms_request_registration(const phx_kms_requester_t *rq,
                                       const uint8_t operator_address[20], json_t **out,
                                       phx_error_t *e);

/* POST /v1/vouches (a replica asking for one quorum signature); *out is the
 * KMS's answer (phx_kms_vouch_replica), checked to come from rq->kms_address,
 * plus "quote": everything Registry.admitKmsByQuorum takes with it. */
phx_err_t phx_kms_request_vouch(const phx_kms_requester_t *rq, json_t **out, phx_error_t *e);

#ifdef __cplusplus
}
#endif
#endif
