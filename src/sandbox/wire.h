/* The sandbox's wire format between the worker and a child: frames over the
 * socketpair and the parsers of what a (possibly compromised) child sends.
 * Module-internal (proto.c, child.c, pool.c), and used by the fuzzers of
 * those parsers; not a public header. */
#ifndef PHX_SANDBOX_WIRE_H
#define PHX_SANDBOX_WIRE_H

#include <jansson.h>

#include "phx/sandbox.h"

/* Frame: u32le length (of what follows) | u8 type | payload. */
enum {
    PHX_SBX_JOB = 1,    /* worker -> child: the invocation, JSON */
    PHX_SBX_CALL = 2,   /* child -> worker: op NUL json */
    PHX_SBX_REPLY = 3,  /* worker -> child: u8 status (0 ok, 1 error, 2 abort) | text */
    PHX_SBX_RESULT = 4, /* child -> worker: see phx_sandbox_msg_t */
    PHX_SBX_READY = 5,  /* child -> worker, no payload: a warm process's next realm is built */
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

#endif
