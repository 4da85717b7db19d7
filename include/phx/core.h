/* Core library: errors, byte buffers, hex/base64, secure zeroing, constant-time
 * compare, a bounds-checked reader and a small leveled logger. Every other module
 * builds on this one; it depends on nothing but libc (and jansson, in json.h). */
#ifndef PHX_CORE_H
#define PHX_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One error enum for the whole project, written once: X(code, name) makes the
 * enum and phx_strerror's table together, so a code without a name does not
 * compile. 0 is success; never reorder (the names are on the wire, in JSON
 * error bodies). */
#define PHX_ERR_LIST(X)                                                                            \
    X(PHX_OK, "ok")                                                                                \
    X(PHX_ERR_INVALID, "invalid")         /* malformed input: bad hex, length, encoding */         \
    X(PHX_ERR_TRUNCATED, "truncated")     /* input ended before a structure did */                 \
    X(PHX_ERR_RANGE, "range")             /* a value outside what is allowed */                    \
    X(PHX_ERR_NOMEM, "nomem")             /* allocation failed */                                  \
    X(PHX_ERR_IO, "io")                   /* file or socket error */                               \
    X(PHX_ERR_CRYPTO, "crypto")           /* a primitive failed or a check did not hold */         \
    X(PHX_ERR_VERIFY, "verify")           /* signature / MAC / tag / chain did not verify */       \
    X(PHX_ERR_NOT_FOUND, "not_found")     /* the thing asked for does not exist */                 \
    X(PHX_ERR_UNSUPPORTED, "unsupported") /* a valid input this build does not handle */           \
    X(PHX_ERR_POLICY, "policy")           /* refused by policy */                                  \
    X(PHX_ERR_LIMIT, "limit")             /* a resource limit was hit */                           \
    X(PHX_ERR_TIMEOUT, "timeout")         /* a deadline passed */                                  \
    X(PHX_ERR_REMOTE, "remote")           /* a peer answered with an error */                      \
    X(PHX_ERR_STATE, "state")             /* called in the wrong state */                          \
    X(PHX_ERR_INTERNAL, "internal")       /* a bug: an invariant did not hold */

#define PHX_ERR_ENUM_(code, name) code,
typedef enum { PHX_ERR_LIST(PHX_ERR_ENUM_) PHX_ERR__COUNT } phx_err_t;
#undef PHX_ERR_ENUM_

/* Caller-supplied error detail. A NULL phx_error_t * is allowed everywhere. */
typedef struct {
    phx_err_t code;
    char message[256];
} phx_error_t;

/* Stable short name of a code ("invalid", "truncated", ...). */
const char *phx_strerror(phx_err_t code);

/* ---- invariants -------------------------------------------------------------- */

/* PHX_ASSERT(cond) states an invariant of our own code, never a check of outside
 * input (bad input is an error return). It is live in the test build and stops
 * the process with file:line and the expression, so a broken invariant shows up
 * where it breaks rather than as corruption later. NDEBUG (the release build) or
 * PHX_NO_ASSERT compiles it away; cond must then have no side effects. */
void phx_assert_fail(const char *file, int line, const char *expr) __attribute__((noreturn));
#if defined(NDEBUG) || defined(PHX_NO_ASSERT)
#define PHX_ASSERT(cond) ((void)sizeof(!(cond)))
#else
#define PHX_ASSERT(cond) ((cond) ? (void)0 : phx_assert_fail(__FILE__, __LINE__, #cond))
#endif

/* Record code and a printf-style message in e (if not NULL); returns code. */
phx_err_t phx_fail(phx_error_t *e, phx_err_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix the message already in e with more context ("parsing quote: ..."). */
phx_err_t phx_error_wrap(phx_error_t *e, phx_err_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- memory ---------------------------------------------------------------- */

/* Zero memory in a way the compiler may not elide. */
void phx_secure_zero(void *p, size_t n);

/* Constant-time equality of two equal-length regions: 1 equal, 0 not. */
int phx_ct_eq(const void *a, const void *b, size_t n);

/* ---- growable byte buffer ---------------------------------------------------- */

/* Owns ptr. When secret is set the storage is zeroed on growth and free. The
 * buffer keeps one spare byte NUL so ptr can be read as a C string. */
typedef struct {
    uint8_t *ptr;
    size_t len, cap;
    bool secret;
} phx_buf_t;

#define PHX_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0, false                                                                          \
    }

phx_err_t phx_buf_reserve(phx_buf_t *b, size_t extra);
phx_err_t phx_buf_append(phx_buf_t *b, const void *data, size_t n);
phx_err_t phx_buf_append_byte(phx_buf_t *b, uint8_t c);
phx_err_t phx_buf_append_str(phx_buf_t *b, const char *s);
phx_err_t phx_buf_printf(phx_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void phx_buf_reset(phx_buf_t *b); /* len = 0, keeps storage */
void phx_buf_free(phx_buf_t *b);  /* accepts NULL; zeroes if secret */
/* Hand the storage to the caller (free() it); b is left empty. */
uint8_t *phx_buf_detach(phx_buf_t *b, size_t *len);

/* ---- files ------------------------------------------------------------------- */

/* Read a whole file ("-" is stdin) into out (appended). */
phx_err_t phx_file_read(const char *path, phx_buf_t *out, phx_error_t *e);
/* mkdir -p: create path and any missing parents with mode. A directory that is
 * already there is fine (its mode is left alone); a path that exists as anything
 * but a directory is PHX_ERR_IO. */
phx_err_t phx_dir_ensure(const char *path, int mode, phx_error_t *e);
/* Exclusive lock on a state directory: flock on DIR/lock, which then holds our
 * pid. The kernel drops it when the holder dies however it dies (SIGKILL too),
 * so a lock never outlives its process; the fd is close-on-exec, so children
 * do not carry it. On success *fd is the lock (release with phx_dir_unlock or
 * exit). PHX_ERR_STATE when another process holds it: *holder_pid is that pid
 * as written in the file (0 when not yet written). dir must exist. */
phx_err_t phx_dir_lock(const char *dir, int *fd, long *holder_pid, phx_error_t *e);
void phx_dir_unlock(int fd); /* accepts -1 */
/* Write atomically: temp file in the same directory, fsync, rename. */
phx_err_t phx_file_write_atomic(const char *path, const void *data, size_t len, int mode,
                                phx_error_t *e);

/* ---- hex and base64 ---------------------------------------------------------- */

/* Decode hex with an optional 0x/0X prefix, either case. Appends to out.
 * Odd length or a non-hex digit is PHX_ERR_INVALID. */
phx_err_t phx_hex_decode(const char *hex, phx_buf_t *out, phx_error_t *e);
/* Decode into a fixed-size array: the input must be exactly n bytes. */
phx_err_t phx_hex_decode_fixed(const char *hex, uint8_t *out, size_t n, phx_error_t *e);
/* Encode as "0x" + lowercase hex. Returns a malloc'd string (caller frees) or NULL. */
char *phx_hex_encode(const uint8_t *p, size_t n);
/* Encode lowercase hex (no prefix) into dst, which must hold 2n+1 bytes. */
void phx_hex_encode_to(char *dst, const uint8_t *p, size_t n);

/* Standard base64 (RFC 4648 §4) with padding. Decoding accepts missing padding
 * and ignores whitespace; anything else outside the alphabet is invalid. */
char *phx_base64_encode(const uint8_t *p, size_t n);
/* The value (0..63) of one symbol of the standard alphabet, or -1. */
int phx_base64_value(char c);
phx_err_t phx_base64_decode(const char *s, size_t slen, phx_buf_t *out, phx_error_t *e);

/* ---- bounds-checked reader --------------------------------------------------- */

/* A reader never reads past its end: each get checks and reports. */
typedef struct {
    const uint8_t *p;
    size_t len, off;
} phx_reader_t;

static inline phx_reader_t phx_reader(const uint8_t *p, size_t len)
{
    phx_reader_t r = {p, len, 0};
    return r;
}
static inline size_t phx_reader_left(const phx_reader_t *r)
{
    return r->len - r->off;
}
phx_err_t phx_reader_u8(phx_reader_t *r, uint8_t *v, phx_error_t *e);
phx_err_t phx_reader_u16le(phx_reader_t *r, uint16_t *v, phx_error_t *e);
phx_err_t phx_reader_u32le(phx_reader_t *r, uint32_t *v, phx_error_t *e);
phx_err_t phx_reader_u64le(phx_reader_t *r, uint64_t *v, phx_error_t *e);
/* Big-endian (network order: DER, RLP, ABI); same contract as the LE gets. */
phx_err_t phx_reader_u16be(phx_reader_t *r, uint16_t *v, phx_error_t *e);
phx_err_t phx_reader_u32be(phx_reader_t *r, uint32_t *v, phx_error_t *e);
phx_err_t phx_reader_u64be(phx_reader_t *r, uint64_t *v, phx_error_t *e);
phx_err_t phx_reader_copy(phx_reader_t *r, void *dst, size_t n, phx_error_t *e);
/* Point *out into the input (no copy) and advance n bytes. */
phx_err_t phx_reader_view(phx_reader_t *r, const uint8_t **out, size_t n, phx_error_t *e);

/* Where a daemon keeps its state by default: "$PHX_HOME/<sub>", else
 * "$HOME/.phx/<sub>". PHX_ERR_NOT_FOUND when neither is set, PHX_ERR_RANGE when
 * the path does not fit in cap bytes. */
phx_err_t phx_home_dir(const char *sub, char *out, size_t cap, phx_error_t *e);

/* ---- time -------------------------------------------------------------------- */

uint64_t phx_now_ms(void);       /* wall clock, ms since the epoch */
uint64_t phx_monotonic_ms(void); /* monotonic, for deadlines */
uint64_t phx_monotonic_ns(void);

/* ---- logger ------------------------------------------------------------------ */

typedef enum {
    PHX_LOG_DEBUG = 0,
    PHX_LOG_INFO,
    PHX_LOG_WARN,
    PHX_LOG_ERROR,
    PHX_LOG_OFF
} phx_log_level_t;

/* Logs go to stderr: human text when stderr is a TTY, JSON lines otherwise.
 * The level comes from $PHX_LOG (debug|info|warn|error|off), default info. */
void phx_log_set_level(phx_log_level_t level);
phx_log_level_t phx_log_get_level(void);
/* Force a format: 0 auto, 1 text, 2 json. */
void phx_log_set_format(int format);
void phx_log_set_component(const char *name); /* e.g. "worker"; copied */
void phx_log(phx_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void phx_logv(phx_log_level_t level, const char *fmt, va_list ap);

#define PHX_DEBUG(...) phx_log(PHX_LOG_DEBUG, __VA_ARGS__)
#define PHX_INFO(...) phx_log(PHX_LOG_INFO, __VA_ARGS__)
#define PHX_WARN(...) phx_log(PHX_LOG_WARN, __VA_ARGS__)
#define PHX_ERROR(...) phx_log(PHX_LOG_ERROR, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
