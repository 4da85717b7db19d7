/* Private AI inference (issue 14): `phx infer`, an attested model endpoint in
 * the TEE with an OpenAI-compatible API whose every answer is signed with keys
 * made in the TEE, and whose attestation binds those keys, the SHA-256 of the
 * model file and the client's nonce. The engine is llama.cpp through its C
 * API (pinned prebuilt libraries; docs/infer.md). Service layer.
 *
 * Three parts: the request parser (pure, fuzzed), the engine (llama.cpp:
 * slots, sampling, token streaming) and the daemon (HTTP API, keys, quote). */
#ifndef PHX_INFER_H
#define PHX_INFER_H

#include "phx/attest.h"
#include "phx/chain.h"
#include "phx/core.h"
#include "phx/json.h"
#include "phx/tee.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- requests (src/infer/request.c; no llama.cpp needed) ------------------ */

#define PHX_INFER_MAX_MESSAGES 256
#define PHX_INFER_MAX_STOP 4

typedef enum { PHX_INFER_CHAT = 1, PHX_INFER_COMPLETION = 2 } phx_infer_kind_t;

typedef struct {
    char *role;    /* system | user | assistant | tool | developer */
    char *content; /* text; array-of-parts content is joined */
} phx_infer_message_t;

/* A parsed /v1/chat/completions or /v1/completions body. Strings are owned;
 * phx_infer_request_free zeroes them before freeing: they are the client's
 * prompt. */
typedef struct {
    phx_infer_kind_t kind;
    char *model;
    phx_infer_message_t *messages; /* chat */
    size_t nmessages;
    char *prompt; /* completion */
    bool stream;
    bool include_usage;    /* stream_options.include_usage */
    bool return_token_ids; /* vLLM's extension: prompt_token_ids and token_ids */
    int64_t max_tokens;    /* -1 = not given (the server's cap applies) */
    double temperature;    /* default 1.0; 0 = greedy */
    double top_p;          /* default 1.0 */
    bool has_seed;
    uint32_t seed;
    char *stop[PHX_INFER_MAX_STOP];
    size_t nstop;
} phx_infer_request_t;

/* Parse a request body. PHX_ERR_INVALID for malformed JSON or a field of the
 * wrong type, PHX_ERR_RANGE for a value out of range (the message names the
 * field, as OpenAI's `param`); *param (if not NULL) gets that field's name. */
phx_err_t phx_infer_request_parse(phx_infer_kind_t kind, const uint8_t *body, size_t len,
                                  phx_infer_request_t *out, const char **param, phx_error_t *e);
void phx_infer_request_free(phx_infer_request_t *r);

/* Keep the valid UTF-8 prefix of pending (in place: what is emitted is
 * removed) and append it to out; an incomplete sequence at the end stays
 * pending unless final, invalid bytes become U+FFFD. Token pieces are bytes,
 * and a character can span two tokens. */
phx_err_t phx_infer_utf8_take(phx_buf_t *pending, bool final, phx_buf_t *out);

/* Server-sent events as an upstream engine sends them (proxy mode): take the
 * next whole event (ended by a blank line, LF or CRLF) off the front of
 * pending, and append its data to data: the value of each `data:` line (one
 * leading space dropped), several joined by LF as the SSE spec says; other
 * fields and comments are skipped. false (pending untouched) when no whole
 * event is there yet. */
bool phx_infer_sse_take(phx_buf_t *pending, phx_buf_t *data);

/* ---- engine (src/infer/engine.c; llama.cpp) -------------------------------- */

typedef struct phx_infer_engine phx_infer_engine_t;

typedef struct {
    const char *model_path;
    const char *backend_dir; /* where libggml-cpu-*.so live; default: the build's */
    unsigned n_ctx;          /* tokens per sequence (prompt + answer); default 2048 */
    unsigned n_slots;        /* concurrent sequences; default 4 */
    unsigned n_threads;      /* default 2 */
    unsigned max_tokens;     /* cap on generated tokens per request; default 512 */
} phx_infer_engine_opts_t;

phx_err_t phx_infer_engine_open(const phx_infer_engine_opts_t *opts, phx_infer_engine_t **out,
                                phx_error_t *e);
void phx_infer_engine_close(phx_infer_engine_t *eng); /* accepts NULL */
unsigned phx_infer_engine_n_ctx(const phx_infer_engine_t *eng);
unsigned phx_infer_engine_max_tokens(const phx_infer_engine_t *eng);
/* Slots in use now (for metrics and tests). */
unsigned phx_infer_engine_busy(phx_infer_engine_t *eng);

/* Called with each piece of valid UTF-8 text as it is made, and the token id
 * that finished it. Return false to stop (the client went away). */
typedef bool (*phx_infer_piece_fn)(void *ctx, const char *text, size_t len, int32_t token);

typedef struct {
    uint32_t prompt_tokens, completion_tokens;
    const char *finish_reason; /* "stop" | "length" */
    bool aborted;              /* the piece callback asked to stop */
} phx_infer_usage_t;

/* One request in the engine: its prompt tokenized and a sequence (slot) held.
 * Prepared before any answer is sent, so that overload and an oversize prompt
 * are plain HTTP errors even for a stream. */
typedef struct phx_infer_job phx_infer_job_t;

/* Render the chat template (or take the prompt), tokenize, check the prompt
 * fits the context (PHX_ERR_RANGE: context_length_exceeded) and take a free
 * sequence (PHX_ERR_LIMIT when all are busy: overload). */
phx_err_t phx_infer_job_prepare(phx_infer_engine_t *eng, const phx_infer_request_t *req,
                                phx_infer_job_t **out, phx_error_t *e);
/* The prompt's token ids. */
const int32_t *phx_infer_job_prompt(const phx_infer_job_t *job, size_t *n);
/* Generate, calling fn with each piece as it is made; stops at an
 * end-of-generation token, the token budget (the request's max_tokens, the
 * engine's cap, the room left in the context) or when fn returns false. */
phx_err_t phx_infer_job_run(phx_infer_job_t *job, phx_infer_piece_fn fn, void *ctx,
                            phx_infer_usage_t *usage, phx_error_t *e);
/* Frees the sequence at once (its KV cache cleared) and the job. Accepts NULL. */
void phx_infer_job_free(phx_infer_job_t *job);

/* ---- daemon (src/infer/daemon.c) ---------------------------------------------- */

typedef struct {
    const char *model_path;
    const char *model_name; /* served name; default the file's base name without .gguf */
    const char *host;       /* default 127.0.0.1 */
    uint16_t port;          /* 0 = any free */
    phx_tee_kind_t tee;
    const phx_tee_config_t *tee_config;
    phx_infer_engine_opts_t engine; /* model_path is filled from above */
    /* Proxy mode: forward to this OpenAI-compatible engine in the same TEE
     * (base URL) instead of loading a model; engine's max_tokens, n_slots and
     * n_ctx are the limits and the advertised context. The attested model
     * hash is model_sha256 when given, else the SHA-256 of model_path. */
    const char *upstream;
    const char *upstream_model; /* the name the upstream serves; default model_name */
    const uint8_t *model_sha256;
} phx_infer_opts_t;

typedef struct phx_infer phx_infer_t;

/* Hash the model file, load it, make the signing keys (secp256k1 and Ed25519,
 * in memory only: a fresh identity per start), open the TEE and serve. */
phx_err_t phx_infer_start(const phx_infer_opts_t *opts, phx_infer_t **out, phx_error_t *e);
void phx_infer_stop(phx_infer_t *d, uint64_t grace_ms); /* accepts NULL */
const char *phx_infer_url(const phx_infer_t *d);
/* The served model's name and SHA-256, the ECDSA address and Ed25519 key. */
void phx_infer_identity(const phx_infer_t *d, const char **model, uint8_t model_sha256[32],
                        uint8_t address[20], uint8_t ed25519_pub[32]);

/* The report data an endpoint's quote carries (docs/infer.md):
 * [0..32)  = SHA-256("phx-infer-v1" || address(20) || ed25519_pub(32) ||
 *                    x25519_pub(32) || model_sha256(32))
 * [32..64) = the client's nonce.
 * vllm-proxy puts the address itself in [0..32); we bind two signing keys,
 * the key requests are sealed to and the model, which do not fit, so the
 * first half is their hash. */
void phx_infer_report_data(const uint8_t address[20], const uint8_t ed25519_pub[32],
                           const uint8_t x25519_pub[32], const uint8_t model_sha256[32],
                           const uint8_t nonce[32], uint8_t report_data[64]);

/* Sealed requests (end-to-end encryption to the attested X25519 key):
 * body {"sealed":{"enc":"0x..","ciphertext":"0x.."}}, HPKE base mode,
 * DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305,
 * info = PHX_INFER_SEAL_INFO || model_sha256, no aad; the plaintext is the
 * OpenAI request. The reply key is the context's export of
 * PHX_INFER_REPLY_LABEL (32 bytes); the response, and each stream event, is
 * {"id":..,"sealed":{"nonce":"0x..","ciphertext":"0x.."}}: ChaCha20-Poly1305
 * under the reply key, a random 12-byte nonce, aad = the id. */

/* The client's side (src/infer/seal.c; no llama.cpp needed). Seal plain, an
 * OpenAI request body, to the endpoint's attested x25519_pub for the weights
 * model_sha256: the envelope is appended to body and reply_key gets the key
 * the answer comes back under (secret: zero it when done). */
phx_err_t phx_infer_seal_request(const uint8_t x25519_pub[32], const uint8_t model_sha256[32],
                                 const void *plain, size_t len, phx_buf_t *body,
                                 uint8_t reply_key[32], phx_error_t *e);
/* Open a sealed answer, or one sealed stream event's JSON, with reply_key:
 * the plaintext is appended to plain (NUL-terminated; mark plain secret).
 * PHX_ERR_INVALID when body is not a sealed envelope, PHX_ERR_VERIFY when it
 * does not open (another key, a tampered body or id). */
phx_err_t phx_infer_open_reply(const uint8_t reply_key[32], const void *body, size_t len,
                               phx_buf_t *plain, phx_error_t *e);
/* ---- checking a saved answer (src/infer/verify.c) --------------------------- */

typedef struct {
    const uint8_t *request; /* the exact request body sent */
    size_t request_len;
    const uint8_t *response; /* the exact response body received */
    size_t response_len;
    const json_t *signature;     /* GET /v1/signature/{id} */
    const json_t *report;        /* GET /v1/attestation/report */
    const uint8_t *model_sha256; /* the weights expected, or NULL */
    const uint8_t *nonce;        /* the nonce the client sent, or NULL */
    const uint8_t *collateral;   /* for the report's quote */
    size_t collateral_len;
    int64_t now;              /* unix seconds */
    const uint8_t *reply_key; /* a sealed exchange's reply key (a receipt's), or NULL */
} phx_infer_evidence_t;

/* Check, in order: the signed text is sha256(request):sha256(response); with
 * a reply_key, the (sealed) response opens with it; the
 * signature (ECDSA or Ed25519) is the report's key; the quote verifies to v's
 * root (default policy); its report data is phx_infer_report_data of the
 * report's keys, model hash and nonce; the model hash and nonce equal the
 * expected ones when given. PHX_ERR_VERIFY (or the attest error) names the
 * first link that failed; PHX_ERR_INVALID for malformed evidence. ar gets the
 * quote's verification result. */
phx_err_t phx_infer_verify(phx_attest_verifier_t *v, const phx_infer_evidence_t *ev,
                           phx_attest_result_t *ar, phx_error_t *e);

/* Links 1 and 2 alone: the signed text names these bytes and the signature
 * is the key the report names (ev->report is not otherwise checked). For a
 * client that has checked the report once and caches it. */
phx_err_t phx_infer_verify_answer(const phx_infer_evidence_t *ev, phx_error_t *e);
/* Links 3 to 5 alone (request, response and signature unused): the report's
 * quote, its report data, and the expected model and nonce. */
phx_err_t phx_infer_verify_report(phx_attest_verifier_t *v, const phx_infer_evidence_t *ev,
                                  phx_attest_result_t *ar, phx_error_t *e);

/* A receipt as phx_infer_client_chat returns it, inside doc (a contract's
 * result, an on-chain output) or doc itself: the first object, depth first
 * (at most 32 deep), with string request, response and signature and an
 * object report; NULL when there is none. Borrowed from doc. */
const json_t *phx_infer_receipt_find(const json_t *doc);
/* A receipt's reply_key (a sealed exchange: it opens the answer) into out;
 * false when it has none. */
bool phx_infer_receipt_reply_key(const json_t *receipt, uint8_t out[32]);

/* ---- on chain (src/infer/registry.c; contracts/InferenceRegistry.sol) -------- */

/* The operator registers the endpoint serving at url (its public base URL):
 * the model name from GET url/v1/models, the registration nonce for (this
 * operator, that name, url) from the chain, the endpoint's report for that
 * nonce (its quote binds the keys, the model hash and the nonce), checked
 * here, then InferenceRegistry.registerEndpoint. signer_out (may be NULL)
 * gets the endpoint's signing address. */
phx_err_t phx_infer_register(phx_rpc_t *rpc, phx_signer_t *operator_,
                             const phx_chain_deployment_t *d, const char *url, uint64_t timeout_ms,
                             uint8_t signer_out[20], phx_error_t *e);

/* The chain link of an endpoint's report (GET /v1/attestation/report): its
 * signing address is in d's InferenceRegistry, not invalidated (and active
 * when require_active: routing; a saved receipt may outlive a clean
 * deregistration), registered with the report's Ed25519 and X25519 keys and
 * model hash, with the measurement and TEE type the report's quote shows,
 * which governance still allows. PHX_ERR_VERIFY with a message beginning
 * "registered on chain:" names the link that failed; PHX_ERR_UNSUPPORTED for
 * a deployment without an InferenceRegistry. rec (may be NULL) gets the
 * record. The quote itself is not checked here (phx_infer_verify_report). */
phx_err_t phx_infer_check_registered(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                     const json_t *report, bool require_active,
                                     phx_chain_endpoint_t *rec, phx_error_t *e);

/* ---- client: phx.ai.chat's worker side (src/infer/client.c) ---------------- */

typedef struct {
    /* Routing from the chain: a model's endpoint is the newest active one in
     * the deployment's InferenceRegistry whose live report matches its record
     * (phx_infer_check_registered). NULL: configured routes only. */
    const char *chain_rpc;
    const phx_chain_deployment_t *deployment; /* copied */
    /* "MODEL=URL" routes: the endpoint that serves MODEL (its base URL), used
     * when the chain has none registered for MODEL (a test override). */
    const char *const *endpoints;
    int nendpoints;
    const uint8_t *root_der; /* trusted root (the sim root); NULL: Intel's */
    size_t root_len;
    const uint8_t *collateral; /* for the endpoints' quotes */
    size_t collateral_len;
    /* Routing from the chain reads a model's endpointsFor once per block and
     * keeps it, less the endpoints refused, for at most this long within one
     * block (0: PHX_INFER_ROUTE_TTL_MS). */
    uint64_t route_ttl_ms;
} phx_infer_client_opts_t;
#define PHX_INFER_ROUTE_TTL_MS 5000

typedef struct phx_infer_client phx_infer_client_t;

phx_err_t phx_infer_client_new(const phx_infer_client_opts_t *opts, phx_infer_client_t **out,
                               phx_error_t *e);
void phx_infer_client_free(phx_infer_client_t *c); /* accepts NULL */

/* One chat completion for a contract (the shape of phx_sandbox_ai_fn; ctx is
 * the client). Routes by request.model (the chain first, see above); the endpoint's report is
 * fetched with a fresh nonce and checked (quote to the root, report data over its keys, model hash
 * and the nonce) the first time, then cached; every answer's signature record is fetched and
 * checked against the cached keys. *out: {text, finish_reason, model, id, usage, receipt}, where
 * receipt holds the exact request and response bodies, the ECDSA signature record and the
 * endpoint's report: what `phx infer verify --receipt` checks. */
phx_err_t phx_infer_client_chat(void *ctx, const json_t *request, uint64_t timeout_ms, json_t **out,
                                phx_error_t *e);

#define PHX_INFER_SEAL_INFO "phx-infer-request-v1"
#define PHX_INFER_REPLY_LABEL "phx-infer-reply-v1"

#ifdef __cplusplus
}
#endif
#endif
