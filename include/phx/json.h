/* JSON layer over jansson: parse with a clear error, typed getters that fail
 * with a message naming the key, and 0x-hex helpers for bytes in JSON
 * (DESIGN.md §7: bytes in JSON are 0x-prefixed lowercase hex). */
#ifndef PHX_JSON_H
#define PHX_JSON_H

#include <jansson.h>

#include "phx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parse text (len bytes, need not be NUL-terminated). *out is a new reference. */
phx_err_t phx_json_parse(const char *text, size_t len, json_t **out, phx_error_t *e);
/* Same, but strings may hold \u0000 (JSON-RPC nodes put raw revert bytes in error
 * messages). Readers of such values must use json_string_length, not strlen. */
phx_err_t phx_json_parse_allow_nul(const char *text, size_t len, json_t **out, phx_error_t *e);
phx_err_t phx_json_load_file(const char *path, json_t **out, phx_error_t *e);

/* Serialise compactly (or indented when pretty) into a malloc'd string. */
char *phx_json_dump(const json_t *v, bool pretty);

/* Typed getters: a missing key or wrong type is PHX_ERR_INVALID naming the key.
 * Returned strings are owned by the json object. */
phx_err_t phx_json_get_str(const json_t *obj, const char *key, const char **out, phx_error_t *e);
phx_err_t phx_json_get_int(const json_t *obj, const char *key, int64_t *out, phx_error_t *e);
phx_err_t phx_json_get_bool(const json_t *obj, const char *key, bool *out, phx_error_t *e);
/* A string holding hex (0x optional) decoded into out (appended). */
phx_err_t phx_json_get_hex(const json_t *obj, const char *key, phx_buf_t *out, phx_error_t *e);
phx_err_t phx_json_get_hex_fixed(const json_t *obj, const char *key, uint8_t *out, size_t n,
                                 phx_error_t *e);

/* A new JSON string "0x..." of the bytes (NULL on allocation failure). */
json_t *phx_json_hex(const uint8_t *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
