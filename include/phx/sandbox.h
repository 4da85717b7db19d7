/* The contract sandbox: invocations run in processes forked from a
 * zygote that already holds an initialised SpiderMonkey, with rlimits, a seccomp
 * filter, no keys and no sockets. Its only way out is framed host-call messages
 * over a socketpair; the worker side here applies policy and budgets, performs
 * fetch (libcurl, egress-checked), kv (SQLite per contract) and key operations,
 * and kills the process at the wall-clock deadline (DESIGN.md §4, docs/sandbox.md). */
#ifndef PHX_SANDBOX_H
#define PHX_SANDBOX_H

#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>

#include "phx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits of one invocation. Zero fields take the defaults below. */
typedef struct {
    uint64_t cpu_ms;             /* 30000 */
    uint64_t wall_ms;            /* 60000 */
    uint64_t mem_bytes;          /* 128 MiB: GC heap budget and RSS growth */
    uint64_t output_bytes;       /* 1 MiB */
    uint64_t log_bytes;          /* 64 KiB */
    uint32_t max_requests;       /* 16 outbound requests */
    uint64_t response_bytes;     /* 2 MiB per response body */
    uint64_t request_timeout_ms; /* 10000 per request */
    uint64_t kv_write_bytes;     /* 16 MiB of kv values written per invocation */
    uint64_t kv_total_bytes;     /* 64 MiB: a contract's whole kv file */
    uint32_t ai_tokens;          /* 1024 completion tokens over all phx.ai.chat calls */
} phx_sandbox_limits_t;

void phx_sandbox_limits_default(phx_sandbox_limits_t *l);

/* ---- egress policy ---------------------------------------------------------- */

/* Why an address is refused, or NULL when it is a public unicast address:
 * "loopback", "private", "link-local", "multicast", "metadata", "reserved", ... */
const char *phx_egress_classify(const struct sockaddr *sa, socklen_t len);

/* An egress allowance, "HOST:PORT": a DNS name or IPv4 address, or an IPv6
 * address in brackets ("[::1]:8080"), and a port 1..65535. Only a URL with
 * exactly that host (case-insensitive, as written, no name resolution) and
 * that port (explicit or the scheme's default) may reach a loopback or
 * private address, and then only that port. Splits s into host (brackets
 * removed, lower-cased) and port; PHX_ERR_INVALID with a message otherwise. */
phx_err_t phx_egress_allowance_parse(const char *s, char *host, size_t host_cap, uint16_t *port,
                                     phx_error_t *e);

/* ---- AI inference (phx.ai.chat) ----------------------------------------------- */

/* The service behind phx.ai.chat, supplied by whoever builds the pool (the
 * worker and phx run hand it an infer client, docs/infer.md "AI for
 * contracts"); the sandbox only applies the invocation's budgets. Called on the
 * worker side, from the thread serving the invocation; several at once.
 * request: {model, messages, max_tokens, temperature?, seed?}, already
 * checked. timeout_ms: the time the invocation has left. On success *out is
 * the object the contract receives (new reference); it must carry
 * usage.completion_tokens, which the sandbox counts against ai_tokens. A
 * deadline passed is PHX_ERR_TIMEOUT; anything else is a catchable error for
 * the contract with e's message. */
typedef phx_err_t (*phx_sandbox_ai_fn)(void *ctx, const json_t *request, uint64_t timeout_ms,
                                       json_t **out, phx_error_t *e);

/* ---- phx.state's anchor (docs/js.md "phx.state") ----------------------------- */

/* The worker's side of phx.state: the chain anchor holds per (contract id, key
 * id) a version and the keccak256 of the sealed value; the store serves the
 * sealed bytes. The sandbox seals and opens (under the contract's kv key) and
 * checks what the store served against the anchored hash, so whoever runs
 * these callbacks cannot hand an older value back undetected. */
typedef struct {
    uint64_t version; /* 0: never written (hash and sealed empty) */
    uint8_t hash[32]; /* keccak256 of the sealed bytes, as anchored */
    phx_buf_t sealed; /* what the store served: unchecked until the sandbox checks it */
} phx_sandbox_state_slot_t;

typedef struct {
    /* The slot of key (32 bytes, already a MAC of the name) of contract_id. */
    phx_err_t (*read)(void *ctx, const char *contract_id, const uint8_t key[32],
                      phx_sandbox_state_slot_t *out, phx_error_t *e);
    /* Compare-and-set to expected + 1. When the anchor is not at expected:
     * PHX_ERR_STATE with *current set to the version it is at. */
    phx_err_t (*cas)(void *ctx, const char *contract_id, const uint8_t key[32], uint64_t expected,
                     const uint8_t *sealed, size_t len, uint64_t *current, phx_error_t *e);
    void *ctx;
} phx_sandbox_state_t;
/* ---- chains (phx.evm) ---------------------------------------------------------- */

/* The named chains a pool's contracts may read and write through phx.evm
 * (docs/js.md "Chains"): NAME=URL pairs given by the operator. Each chain's id
 * is read from its node (eth_chainId) when the set is made, so a worker does
 * not start against a node it cannot reach; the id is what every transaction
 * a contract sends there is signed for. Created before the pool and kept
 * alive, unchanged, as long as any pool uses it; shared by threads. */
typedef struct phx_sandbox_chains phx_sandbox_chains_t;
/* specs: n strings "NAME=URL" (NAME: 1..32 of [a-z0-9_-], unique; URL
 * http(s)). "NAME=URL#ID" also checks that the node's chain id is ID. */
phx_err_t phx_sandbox_chains_new(const char *const *specs, int n, phx_sandbox_chains_t **out,
                                 phx_error_t *e);
void phx_sandbox_chains_free(phx_sandbox_chains_t *c);
/* How many chains, and the i-th name, URL and chain id (for logs, --json). */
int phx_sandbox_chains_count(const phx_sandbox_chains_t *c);
const char *phx_sandbox_chains_name(const phx_sandbox_chains_t *c, int i);
const char *phx_sandbox_chains_url(const phx_sandbox_chains_t *c, int i);
uint64_t phx_sandbox_chains_id(const phx_sandbox_chains_t *c, int i);

/* The owner's spending limit for a contract on a chain (docs/js.md "Spending
 * limits"): at most cap_wei (decimal or 0x text) of value sent by phx.evm.send
 * in any window of period_s seconds. Kept in <kv_dir>/evm-journal.sqlite, the
 * file the send journal lives in; a contract with no limit on a chain may
 * send no value there (calls with value 0 only). nonce: the owner's op's;
 * PHX_ERR_VERIFY when the limit held has a nonce as high or higher (an old
 * signed limit cannot come back). proof (JSON text, or NULL): the owner's
 * signed limit as the worker was given it, forwarded with each send to the
 * outbox, which checks it itself and holds the cap across workers. */
phx_err_t phx_sandbox_spend_limit_set(const char *kv_dir, const char *contract_id,
                                      const char *chain, const char *cap_wei, uint64_t period_s,
                                      uint64_t nonce, const char *proof, phx_error_t *e);

/* What phx.evm answers a contract from a node's JSON-RPC result (exposed for
 * fuzzing): op is "evm.call", "evm.getBalance", "evm.getLogs" or
 * "evm.receipt"; result is the JSON-RPC result member. *out is a new reference. */
phx_err_t phx_sandbox_evm_shape(const char *op, const json_t *result, json_t **out, phx_error_t *e);

/* One writer per contract wallet across workers (docs/ARCHITECTURE.md
 * "Contract wallets"): before phx.evm.send broadcasts a journaled transaction
 * it is posted here under its action ("<request id>/<send index>/<chain>"),
 * and what is broadcast is what this answers: {"raw","hash","nonce","first"}
 * (the action's transaction, perhaps another worker's), or {"taken":true,
 * "next_nonce":N} (another action holds that nonce: sign again), or
 * {"refused":"spend_limit","message"} (a new action over the owner's cap,
 * counted over every worker's sends: the run fails with spend_limit), or for
 * release (the node refused it) {"released":bool}. chain: the chain's name;
 * limit: the owner's signed limit held for it (the proof given to
 * phx_sandbox_spend_limit_set) or NULL. The worker hands the KMS outbox
 * (phx_kms_outbox_request); NULL (phx run): the local journal alone. */
typedef phx_err_t (*phx_sandbox_outbox_fn)(void *ctx, const char *contract_id, const char *action,
                                           const char *chain, const json_t *limit,
                                           const uint8_t *raw, size_t len, bool release,
                                           json_t **answer, phx_error_t *e);

/* ---- pool ------------------------------------------------------------------- */

/* How invocations of a contract are isolated from each other (docs/sandbox.md
 * "Isolation"). WARM: a sandbox process bound to one contract (id, code hash,
 * filename) serves its invocations one after another, each in a fresh realm
 * (new global, prelude and contract instantiated from cached stencils); no
 * JavaScript state crosses invocations, the process is recycled after
 * warm_uses invocations, on memory growth and when idle. PROCESS: one process
 * per invocation, which then exits (the only mode before issue 11). A contract
 * whose source holds the directive "use process isolation" (in quotes, in its
 * first 4 KiB: part of the code its hash and the owner's signature cover)
 * always gets PROCESS. */
typedef enum {
    PHX_SANDBOX_ISOLATION_DEFAULT = 0, /* the pool's choice; the pool's default is WARM */
    PHX_SANDBOX_ISOLATION_WARM,
    PHX_SANDBOX_ISOLATION_PROCESS,
} phx_sandbox_isolation_t;

/* "warm", "process" ("default" for DEFAULT). */
const char *phx_sandbox_isolation_name(phx_sandbox_isolation_t iso);
/* Parses "warm" or "process"; PHX_ERR_INVALID otherwise. */
phx_err_t phx_sandbox_isolation_parse(const char *s, phx_sandbox_isolation_t *out, phx_error_t *e);
/* The isolation the source asks for itself: PROCESS with the directive, else DEFAULT. */
phx_sandbox_isolation_t phx_sandbox_source_isolation(const char *source, size_t len);

typedef struct {
    phx_sandbox_limits_t limits;
    const char *kv_dir; /* SQLite files and the dev key root live here */
    /* "HOST:PORT" allowances exempt from the address checks (see
     * phx_egress_allowance_parse); pool_new refuses a malformed one. */
    const char **allow_hosts;
    int nallow_hosts;
    /* Pinned DNS answers, curl's "HOST:PORT:ADDRESS" form (operators pinning
     * names; tests making a name resolve to loopback). Checked like any answer. */
    const char **resolve;
    int nresolve;
    int prefork; /* idle children kept ready: 0 means 2; negative means none (one-shot) */
    bool jit;    /* SpiderMonkey JIT on (default true in phx run) */
    /* phx run only: an invocation given no keys derives them from a local dev
     * root, <kv_dir>/dev-root.key (created on first use, in clear). Off (the
     * worker), such an invocation's key and kv operations fail instead. */
    bool dev_keys;
    bool test_hooks;                   /* expose phx.__test to contracts: tests only */
    phx_sandbox_isolation_t isolation; /* for jobs that do not choose: DEFAULT means WARM */
    int warm_max;                      /* idle warm processes kept, all contracts: 0 means 16 */
    uint32_t warm_uses;                /* invocations before a warm process is recycled: 0: 256 */
    uint32_t warm_idle_ms;             /* an idle warm process is recycled after: 0: 30000 */
    /* phx.ai.chat; NULL: the call fails with "no AI endpoint configured". */
    phx_sandbox_ai_fn ai_chat;
    void *ai_ctx;
    /* phx.state; read NULL: its calls fail with "no state anchor configured". */
    phx_sandbox_state_t state;
    /* phx.evm's chains (borrowed, must outlive the pool); NULL: phx.evm calls
     * fail with "no chains configured". */
    const phx_sandbox_chains_t *chains;
    phx_sandbox_outbox_fn outbox; /* see above; NULL: none */
    void *outbox_ctx;
} phx_sandbox_config_t;

typedef struct phx_sandbox_pool phx_sandbox_pool_t;

/* Start the zygote (fork + SpiderMonkey init) and pre-fork children. Call before
 * the process starts threads. The pool copies what it needs from cfg. */
phx_err_t phx_sandbox_pool_new(const phx_sandbox_config_t *cfg, phx_sandbox_pool_t **out,
                               phx_error_t *e);
void phx_sandbox_pool_free(phx_sandbox_pool_t *p);
/* The zygote's pid, for monitoring (it is restarted if it dies). */
int phx_sandbox_pool_zygote_pid(const phx_sandbox_pool_t *p);
/* Compile a contract in the zygote so children forked later start with it. */
phx_err_t phx_sandbox_pool_precompile(phx_sandbox_pool_t *p, const char *source, size_t len,
                                      const char *filename, phx_error_t *e);

/* A contract's key material for one invocation (in the network: derived by the
 * worker from the KMS contract root, kms.h phx_kms_contract_keys). The pool
 * copies it and zeroes its copy when the invocation ends; it never reaches the
 * sandbox process. */
typedef struct {
    uint8_t secp256k1_sk[32]; /* phx.crypto.sign / publicKey / address */
    uint8_t kv_key[32];       /* encrypts the contract's kv; phx.crypto.derive */
} phx_sandbox_keys_t;

typedef struct {
    const char *source; /* contract source, UTF-8 */
    size_t source_len;
    const char *filename;
    const char *contract_id; /* kv and key namespace; default: the code hash */
    const char *input_json;  /* default "null" */
    const char *caller;      /* default "0x000…0" */
    const char *request_id;  /* default: random */
    /* ctx.trigger: what fired the run (a JSON object's text); NULL: none */
    const char *trigger_json;
    /* NULL: run the contract. "combine": answer the module's `combine`
     * export (how k-of-n observations combine; "identical" when absent).
     * "aggregate": call its `aggregate(observations, ctx)` export with
     * input_json the observations (docs/worker.md "k-of-n"). */
    const char *phase;
    const char **secret_keys, **secret_values;
    int nsecrets;
    const phx_sandbox_keys_t *keys; /* NULL: dev keys (cfg.dev_keys) or none */
    /* DEFAULT: the pool's; the source's "use process isolation" directive wins. */
    phx_sandbox_isolation_t isolation;
} phx_sandbox_job_t;

/* Why an invocation failed: a closed list, written once. X(failure, name)
 * makes the enum and the names (the "code" users see in results and JSON)
 * together, so a failure without a name does not compile. */
#define PHX_SANDBOX_FAILURE_LIST(X)                                                                \
    X(PHX_SBX_FAIL_NONE, "")                                                                       \
    X(PHX_SBX_FAIL_EXCEPTION, "exception")   /* the contract threw or rejected */                  \
    X(PHX_SBX_FAIL_COMPILE, "compile_error") /* syntax error */                                    \
    X(PHX_SBX_FAIL_NO_ENTRY, "no_entry")     /* nothing to run */                                  \
    X(PHX_SBX_FAIL_PENDING, "pending")       /* its promise never settled */                       \
    X(PHX_SBX_FAIL_CPU_LIMIT, "cpu_limit")                                                         \
    X(PHX_SBX_FAIL_MEMORY_LIMIT, "memory_limit")                                                   \
    X(PHX_SBX_FAIL_OUTPUT_LIMIT, "output_limit")                                                   \
    X(PHX_SBX_FAIL_WALL_LIMIT, "wall_limit")                                                       \
    X(PHX_SBX_FAIL_HOST_ABORT, "host_abort") /* a host call ended the run */                       \
    X(PHX_SBX_FAIL_LOG_LIMIT, "log_limit")                                                         \
    X(PHX_SBX_FAIL_REQUEST_LIMIT, "request_limit")                                                 \
    X(PHX_SBX_FAIL_REQUEST_TIMEOUT, "request_timeout")                                             \
    X(PHX_SBX_FAIL_RESPONSE_LIMIT, "response_limit")                                               \
    X(PHX_SBX_FAIL_EGRESS_DENIED, "egress_denied")                                                 \
    X(PHX_SBX_FAIL_KV_LIMIT, "kv_limit")                                                           \
    X(PHX_SBX_FAIL_KV_INTEGRITY, "kv_integrity") /* a kv row failed to authenticate */             \
    X(PHX_SBX_FAIL_NO_KEYS, "no_keys")           /* no contract keys for this run */               \
    X(PHX_SBX_FAIL_SPEND_LIMIT, "spend_limit")   /* phx.evm.send over the owner's cap */           \
    X(PHX_SBX_FAIL_PROTOCOL, "protocol")         /* the child broke the wire format */             \
    X(PHX_SBX_FAIL_CRASHED, "crashed")           /* the child died without a result */             \
    X(PHX_SBX_FAIL_STATE_INTEGRITY, "state_integrity")                                             \
    X(PHX_SBX_FAIL_CHAIN_UNAVAILABLE, "chain_unavailable")                                         \
    X(PHX_SBX_FAIL_INTERNAL, "internal")

#define PHX_SBX_FAIL_ENUM_(failure, name) failure,
typedef enum {
    PHX_SANDBOX_FAILURE_LIST(PHX_SBX_FAIL_ENUM_) PHX_SBX_FAIL__COUNT
} phx_sandbox_failure_t;
#undef PHX_SBX_FAIL_ENUM_

/* The name of a failure ("cpu_limit", ...; "" for none, "unknown" out of range). */
const char *phx_sandbox_failure_name(phx_sandbox_failure_t failure);

typedef struct {
    bool ok;
    phx_sandbox_failure_t failure; /* PHX_SBX_FAIL_NONE when ok */
    char code[32];                 /* phx_sandbox_failure_name(failure) */
    char message[512];
    bool output_is_bytes;
    phx_buf_t output; /* JSON text, or raw bytes */
    char **logs;      /* "level: text" lines; nlogs of them */
    size_t nlogs;
    uint64_t cpu_ms, wall_ms, peak_mem_kb;
    uint32_t requests;
    char code_hash[67]; /* 0x + keccak256 of the source, as deploy and Jobs hash it */
    /* Which sandbox process ran it, and how many invocations that process has
     * served including this one (1 in PROCESS isolation): for tests, metrics. */
    phx_sandbox_isolation_t isolation; /* WARM or PROCESS, as applied */
    int sandbox_pid;
    uint32_t sandbox_uses;
} phx_sandbox_result_t;

/* Run one invocation (a fresh realm in a warm process bound to the contract, or
 * a fresh process: see phx_sandbox_isolation_t). PHX_OK means *res holds an
 * outcome (ok or a contract failure); an error means the sandbox itself failed.
 * Thread-safe: several invocations may run at once on one pool (how many is
 * the caller's policy; each holds one child process for its duration). */
phx_err_t phx_sandbox_invoke(phx_sandbox_pool_t *p, const phx_sandbox_job_t *job,
                             phx_sandbox_result_t *res, phx_error_t *e);
void phx_sandbox_result_free(phx_sandbox_result_t *res);

#ifdef __cplusplus
}
#endif
#endif
