/* The contract sandbox: every invocation runs in its own process forked from a
 * zygote that already holds an initialised SpiderMonkey, with rlimits, a seccomp
 * filter, no keys and no sockets. Its only way out is framed host-call messages
 * over a socketpair; the worker side here applies policy and budgets, performs
 * fetch (libcurl, egress-checked), kv (SQLite per contract) and key operations,
 * and kills the process at the wall-clock deadline (DESIGN.md §4, docs/sandbox.md). */
#ifndef PHX_SANDBOX_H
#define PHX_SANDBOX_H

#include <netinet/in.h>
#include <sys/socket.h>

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

/* ---- pool ------------------------------------------------------------------- */

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
    bool test_hooks; /* expose phx.__test to contracts: tests only */
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
    const char **secret_keys, **secret_values;
    int nsecrets;
    const phx_sandbox_keys_t *keys; /* NULL: dev keys (cfg.dev_keys) or none */
} phx_sandbox_job_t;

typedef struct {
    bool ok;
    char code[32]; /* on failure: cpu_limit, memory_limit, wall_limit, output_limit,
                      log_limit, request_limit, egress_denied, exception,
                      compile_error, no_entry, crashed, kv_integrity (a kv row
                      failed to authenticate), no_keys, ... */
    char message[512];
    bool output_is_bytes;
    phx_buf_t output; /* JSON text, or raw bytes */
    char **logs;      /* "level: text" lines; nlogs of them */
    size_t nlogs;
    uint64_t cpu_ms, wall_ms, peak_mem_kb;
    uint32_t requests;
    char code_hash[67]; /* 0x + sha256 of the source */
} phx_sandbox_result_t;

/* Run one invocation in a fresh sandbox process. PHX_OK means *res holds an
 * outcome (ok or a contract failure); an error means the sandbox itself failed. */
phx_err_t phx_sandbox_invoke(phx_sandbox_pool_t *p, const phx_sandbox_job_t *job,
                             phx_sandbox_result_t *res, phx_error_t *e);
void phx_sandbox_result_free(phx_sandbox_result_t *res);

/* ---- the host-call wire format (exposed for the fuzzer and tests) ---------------- */

/* Frame: u32le length (of what follows) | u8 type | payload. */
enum {
    PHX_SBX_JOB = 1,    /* worker -> child: the invocation, JSON */
    PHX_SBX_CALL = 2,   /* child -> worker: op NUL json */
    PHX_SBX_REPLY = 3,  /* worker -> child: u8 status (0 ok, 1 error, 2 abort) | text */
    PHX_SBX_RESULT = 4, /* child -> worker: see phx_sandbox_msg_t */
};
#define PHX_SBX_MAX_FRAME (16u << 20)

typedef struct {
    uint8_t type;
    /* CALL */
    const char *op; /* points into the frame; NUL-terminated there */
    const uint8_t *body;
    size_t body_len;
    /* RESULT: u8 status | u8 is_bytes | u32le cpu_ms | u32le peak_rss_kb |
     * u16le message length | message | output (JSON text or bytes) */
    uint8_t status;
    uint8_t is_bytes;
    uint32_t cpu_ms, peak_rss_kb; /* self-reported: informational only */
    const uint8_t *message;
    size_t message_len;
} phx_sandbox_msg_t;

/* Parse one complete message (type byte + payload, without the length prefix)
 * sent by a child. Everything in it is untrusted: a child may be compromised. */
phx_err_t phx_sandbox_msg_parse(const uint8_t *p, size_t len, phx_sandbox_msg_t *m, phx_error_t *e);

/* jansson flags that accept any JSON.stringify output (doubles beyond int64,
 * U+0000 in strings); a result's JSON output always parses with these. */
#define PHX_SANDBOX_OUTPUT_JSON_FLAGS (JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL)

/* Decode a complete RESULT message (as phx_sandbox_msg_parse takes it) into the
 * outcome the worker reports, applying the output limit and the JSON check. */
phx_err_t phx_sandbox_result_parse(const uint8_t *p, size_t len, const phx_sandbox_limits_t *limits,
                                   phx_sandbox_result_t *res, phx_error_t *e);

#ifdef __cplusplus
}
#endif
#endif
