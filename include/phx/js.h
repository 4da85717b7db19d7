/* The JavaScript engine behind TEE contracts: SpiderMonkey 102 wrapped in one C++
 * file (src/js/engine.cpp) behind this small C API. One engine = one JSContext on
 * the thread that made it. The engine knows nothing about processes or policy:
 * every host capability goes through one callback (DESIGN.md §4). */
#ifndef PHX_JS_H
#define PHX_JS_H

#include "phx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a run ended. The sandbox maps these to the error codes users see. */
typedef enum {
    PHX_JS_OK = 0,
    PHX_JS_EXCEPTION,    /* the contract threw, or its promise rejected */
    PHX_JS_COMPILE,      /* syntax error */
    PHX_JS_NO_ENTRY,     /* no default export, main() or script result */
    PHX_JS_PENDING,      /* the returned promise never settled */
    PHX_JS_CPU_LIMIT,    /* aborted by phx_js_engine_abort */
    PHX_JS_MEMORY_LIMIT, /* GC heap budget or an engine out-of-memory */
    PHX_JS_OUTPUT_LIMIT, /* serialised result larger than output_max_bytes */
    PHX_JS_WALL_LIMIT,
    PHX_JS_HOST_ABORT, /* a host call said the run must end (policy, budget) */
} phx_js_status_t;

const char *phx_js_status_name(phx_js_status_t s);

typedef struct {
    size_t heap_max_bytes;   /* per-run GC heap budget (soft; checked after each GC) */
    size_t output_max_bytes; /* serialised result cap */
    bool jit;                /* baseline + Ion JIT; off = interpreter only */
} phx_js_config_t;

/* A host call: op names the capability ("fetch", "kv.get", "log", ...), req is
 * JSON text. On success the reply is JSON text appended to reply. On failure the
 * message becomes a JS exception; *abort_run set by the host ends the run with
 * PHX_JS_HOST_ABORT (the host decides the user-visible code). */
typedef phx_err_t (*phx_js_host_fn)(void *ud, const char *op, const char *req, size_t req_len,
                                    phx_buf_t *reply, bool *abort_run, phx_error_t *e);

typedef struct {
    const char *source; /* UTF-8 contract source */
    size_t source_len;
    const char *filename;   /* for error messages */
    const char *input_json; /* the caller's input, JSON text */
    const char *ctx_json;   /* {"contractId","codeHash","caller","requestId","now","secrets"} */
    phx_js_host_fn host;
    void *host_ud;
    bool test_hooks; /* expose phx.__test (tests only; never from the CLI) */
} phx_js_call_t;

typedef struct {
    phx_js_status_t status;
    bool output_is_bytes; /* output holds raw bytes (a returned Uint8Array) */
    phx_buf_t output;     /* JSON text of the result, or the bytes */
    char message[512];    /* error text for non-OK status */
} phx_js_result_t;

typedef struct phx_js_engine phx_js_engine_t;

/* Initialise SpiderMonkey (once per process) and make a context. The engine runs
 * no threads of its own until phx_js_engine_start_threads(), so the process can
 * fork safely (the sandbox zygote relies on this). */
phx_err_t phx_js_engine_new(const phx_js_config_t *cfg, phx_js_engine_t **out, phx_error_t *e);
/* Compile a contract ahead of time into the engine's cache (keyed by source and
 * filename, which error locations carry). Runs nothing. Code that does not
 * compile is PHX_ERR_INVALID with the engine's message and "(FILE:LINE)". */
phx_err_t phx_js_engine_precompile(phx_js_engine_t *eng, const char *source, size_t len,
                                   const char *filename, phx_error_t *e);
/* Run helper-thread work queued so far on this thread (before fork). */
void phx_js_engine_quiesce(phx_js_engine_t *eng);
/* Start the helper thread (after fork, in the process that will run code). */
phx_err_t phx_js_engine_start_threads(phx_js_engine_t *eng, phx_error_t *e);
/* Thread-safe: make the current run stop with the given status as soon as possible. */
void phx_js_engine_abort(phx_js_engine_t *eng, phx_js_status_t reason);
/* Bytes in the GC heap now. */
size_t phx_js_engine_heap_bytes(phx_js_engine_t *eng);

/* Build the next run's fresh global (standard classes, host natives, prelude)
 * ahead of time, so a pre-forked sandbox does it while it waits for work. The
 * prepared global is used by exactly one phx_js_run. */
phx_err_t phx_js_prepare(phx_js_engine_t *eng, bool test_hooks, phx_error_t *e);
/* The same for a process that runs again (a warm sandbox, after a result): a
 * lean realm, standard classes created on first use and no warm-up run. Its
 * realm is as fresh as phx_js_prepare's; building it costs ~4x less (measured
 * 1.3-2.5 ms against 6-10 ms on a 2-core box at load 14). */
phx_err_t phx_js_prepare_next(phx_js_engine_t *eng, bool test_hooks, phx_error_t *e);

/* Run one invocation in a fresh global. Returns PHX_OK when a result (of any
 * status) is in *res; an error only when the engine itself failed. */
phx_err_t phx_js_run(phx_js_engine_t *eng, const phx_js_call_t *call, phx_js_result_t *res,
                     phx_error_t *e);
void phx_js_result_free(phx_js_result_t *res);

/* Source flavors: code written for another runtime, run unchanged. "phx" (the
 * default) is the source as it is; "chainlink-functions" is a Chainlink
 * Functions source (top-level return and await; args, bytesArgs, secrets,
 * Functions.makeHttpRequest/encodeUint256/encodeInt256/encodeString; the
 * returned bytes are the output), wrapped into a module on the same first
 * line, so line numbers stay the user's. The wrapped text is what is hashed,
 * deployed and run. Appends to out (the caller frees it); PHX_ERR_INVALID for
 * an unknown flavor. */
/* The user's file and line of line:column (1-based line) of a bundle that
 * carries an inline source map (`phx build`); PHX_ERR_NOT_FOUND when it has
 * none or none for that line, PHX_ERR_INVALID for a malformed one. */
phx_err_t phx_js_sourcemap_lookup(const char *src, size_t len, unsigned line, unsigned column,
                                  char *file, size_t file_cap, unsigned *orig_line, phx_error_t *e);

bool phx_js_flavor_known(const char *flavor);
phx_err_t phx_js_flavor_wrap(const char *flavor, const uint8_t *src, size_t len, phx_buf_t *out,
                             phx_error_t *e);

#ifdef __cplusplus
}
#endif
#endif
