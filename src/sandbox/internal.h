/* Sandbox internals shared by the zygote, the child and the worker side:
 * frame I/O over the socketpair and the host services. Not a public API. */
#ifndef PHX_SANDBOX_INTERNAL_H
#define PHX_SANDBOX_INTERNAL_H

#include <jansson.h>

#include "phx/js.h"
#include "phx/sandbox.h"
#include "wire.h"

/* ASan keeps freed memory in a quarantine, so RSS overstates what a contract
 * holds; RSS-based caps get this much slack in sanitizer builds (the GC budget
 * is unaffected). RLIMIT_AS is skipped there entirely (child.c). */
#if defined(__SANITIZE_ADDRESS__)
#define SBX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SBX_ASAN 1
#endif
#endif
#ifdef SBX_ASAN
#define SBX_RSS_SLACK_BYTES (64u << 20)
#else
#define SBX_RSS_SLACK_BYTES 0u
#endif

/* How a sandbox process (zygote or child) ends when it ends without a result,
 * so the worker can say why: X(exit, status, name). */
#define SBX_EXIT_LIST(X)                                                                           \
    X(SBX_EXIT_DONE, 0, "done")                   /* normal end, or the worker went away */        \
    X(SBX_EXIT_TEST_HOOK, 1, "test_hook")         /* a test hook could not do its part */          \
    X(SBX_EXIT_ZYGOTE_SETUP, 100, "zygote_setup") /* bad env, engine or seccomp build */           \
    X(SBX_EXIT_THREADS, 101, "threads")           /* engine helper or watchdog thread */           \
    X(SBX_EXIT_SECCOMP, 102, "seccomp")           /* the filter could not be installed */          \
    X(SBX_EXIT_BAD_JOB, 103, "bad_job")           /* the JOB frame did not parse */                \
    X(SBX_EXIT_PREPARE, 104, "prepare")           /* the contract realm could not be built */      \
    X(SBX_EXIT_EXEC, 127, "exec")                 /* the zygote's exec failed */

#define SBX_EXIT_ENUM_(exit, status, name) exit = status,
enum { SBX_EXIT_LIST(SBX_EXIT_ENUM_) };
#undef SBX_EXIT_ENUM_

/* The name of a sandbox exit status ("seccomp", ...), "unknown" for others. */
const char *sbx_exit_name(int status);

/* The JOB frame's flags word (pool.c build_job, child.c). */
#define SBX_JOB_WARM 1u /* warm isolation: stay bound to this contract after the result */

/* A warm process's hard RLIMIT_CPU covers this many invocations at their full
 * CPU budget (+1 s each); the pool recycles it before it could run out. */
#define SBX_WARM_CPU_LIFETIMES 8

/* Whether a warm process may serve again after an invocation that ended with
 * this engine status: only when the run ended by itself (a result, a thrown
 * error, nothing to run). After an abort (CPU, memory, output, host) the
 * process is recycled. The child and the worker apply the same rule. */
static inline bool sbx_status_reusable(int status)
{
    return status == PHX_JS_OK || status == PHX_JS_EXCEPTION || status == PHX_JS_COMPILE ||
           status == PHX_JS_NO_ENTRY || status == PHX_JS_PENDING;
}

/* Called between poll slices while waiting; a non-OK return stops the wait. */
typedef phx_err_t (*sbx_tick_fn)(void *ud, phx_error_t *e);

/* deadline_ms is a phx_monotonic_ms() value, 0 for none. */
phx_err_t sbx_write_frame(int fd, uint8_t type, const void *a, size_t alen, const void *b,
                          size_t blen, uint64_t deadline_ms, phx_error_t *e);
/* Reads one frame (type byte + payload) into out, which is reset first. */
phx_err_t sbx_read_frame(int fd, phx_buf_t *out, size_t max, uint64_t deadline_ms, sbx_tick_fn tick,
                         void *tick_ud, phx_error_t *e);

struct sock_fprog;
/* The seccomp program every child loads (built once, in the zygote). */
phx_err_t sbx_seccomp_build(struct sock_fprog *prog, phx_error_t *e);
/* The child: never returns. */
void sbx_child_main(int chan, const phx_sandbox_config_t *cfg, phx_js_engine_t *eng,
                    const struct sock_fprog *filter) __attribute__((noreturn));
/* zygote.c: the environment variable that turns an exec of the binary into the
 * zygote (referencing it also keeps zygote.o, and its constructor, linked in). */
extern const char sbx_zygote_env[];

/* ---- worker-side host services (host.c) ------------------------------------------- */

typedef struct {
    const phx_sandbox_config_t *cfg;
    const phx_sandbox_limits_t *limits;
    const char *contract_id;
    /* The contract's keys: copied from the job, or (phx run, cfg->dev_keys)
     * derived from the dev root on first use. Zeroed by sbx_host_close. */
    bool have_keys;
    uint8_t sk[32];
    uint8_t kv_key[32];
    bool kv_keys_ready; /* kv.c's subkeys below are derived */
    uint8_t kv_id_key[32], kv_enc_key[32];
    void *kv_db; /* sqlite3 *, opened lazily */
    uint32_t requests;
    size_t log_bytes;
    uint64_t kv_written;    /* value bytes put this invocation */
    uint32_t ai_tokens;     /* completion tokens phx.ai.chat used this invocation */
    uint32_t evm_sends;     /* phx.evm.send calls so far: the action's index in the journal */
    const char *request_id; /* the invocation's ctx.requestId: names its actions */
    /* phx.state: the version of each key last read or written in this
     * invocation (what put compares against), and the sealing key. */
    struct sbx_state_seen {
        uint8_t id[32];
        uint64_t version;
    } * state_seen;
    size_t nstate_seen;
    bool state_key_ready;
    uint8_t state_key[32];
    char **logs;
    size_t nlogs;
    uint64_t deadline_ms; /* wall deadline of the invocation */
    /* A fatal policy or budget breach: the invocation ends with this failure. */
    phx_sandbox_failure_t fatal;
    char fatal_message[256];
} sbx_host_t;

/* Handle one CALL. On success reply holds JSON. On failure e holds the message
 * for the contract (a catchable exception), unless h->fatal got set. */
phx_err_t sbx_host_dispatch(sbx_host_t *h, const char *op, const uint8_t *body, size_t len,
                            phx_buf_t *reply, phx_error_t *e);
void sbx_host_close(sbx_host_t *h);
/* Make h->sk and h->kv_key available (see have_keys); with neither job keys nor
 * dev keys this is a fatal "no_keys" for the invocation. */
phx_err_t sbx_host_keys(sbx_host_t *h, phx_error_t *e);

/* fetch.c: one request under the egress policy; spec and the returned object are
 * the JSON shapes the prelude uses. */
phx_err_t sbx_fetch(sbx_host_t *h, const json_t *spec, uint64_t timeout_ms, json_t **out,
                    phx_error_t *e);

/* evm.c: phx.evm.*, phx.eth.*, and phx.abi's signature helpers ("evm.", "eth.",
 * "abi." ops). */
phx_err_t sbx_evm_op(sbx_host_t *h, const char *op, const json_t *args, json_t **out,
                     phx_error_t *e);
/* Broadcasts the journal's signed-but-unsent transactions (pool start). */
phx_err_t sbx_evm_recover(const phx_sandbox_config_t *cfg, phx_error_t *e);
/* Ends the invocation with failure (host.c's fatal, for evm.c). */
void sbx_host_fatal(sbx_host_t *h, phx_sandbox_failure_t failure, const char *msg);
/* Counts one outbound request against the budget; false (and fatal) past it. */
bool sbx_host_count_request(sbx_host_t *h);

/* kv.c */
phx_err_t sbx_kv_op(sbx_host_t *h, const char *op, const json_t *args, json_t **out,
                    phx_error_t *e);
/* The kv subkeys (h->kv_id_key, h->kv_enc_key), derived once per invocation. */
phx_err_t sbx_kv_keys(sbx_host_t *h, phx_error_t *e);
/* A key's row id: HMAC-SHA256 under kv_id_key; phx.state's key id on chain too. */
void sbx_kv_row_id(sbx_host_t *h, const char *key, uint8_t id[32]);

/* state.c: phx.state (state.get, state.put, state.cas). */
phx_err_t sbx_state_op(sbx_host_t *h, const char *op, const json_t *args, json_t **out,
                       phx_error_t *e);

#endif
