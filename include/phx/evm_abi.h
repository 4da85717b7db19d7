/* The Solidity ABI for the EVM client (src/evm/abi.c, abi_json.c): types from
 * text, values, head/tail encoding and bounds-checked decoding, packed mode,
 * selectors, topics, a JSON bridge, and event logs. Spec: Solidity ABI spec.
 * Part of phx/evm.h (the umbrella); see docs/evm.md. */
#ifndef PHX_EVM_ABI_H
#define PHX_EVM_ABI_H

#include "phx/evm_u256.h"
#include "phx/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================
 * Solidity ABI. Types are parsed from their text ("uint256", "bytes32[3]",
 * "(address,bytes)[]", "tuple(uint8,string)"); values form a tree that mirrors
 * the type. Encoding/decoding follow the ABI spec head/tail layout; decoding is
 * strict about bounds (every offset and length is checked against the input).
 * ========================================================================== */
typedef enum {
    PHX_ABI_UINT = 1, /* uintN, N = 8..256 step 8 */
    PHX_ABI_INT,      /* intN */
    PHX_ABI_ADDRESS,
    PHX_ABI_BOOL,
    PHX_ABI_FIXED_BYTES, /* bytesN, N = 1..32 */
    PHX_ABI_BYTES,
    PHX_ABI_STRING,
    PHX_ABI_ARRAY, /* T[k]: fixed length */
    PHX_ABI_SLICE, /* T[]: dynamic length */
    PHX_ABI_TUPLE,
    PHX_ABI_FUNCTION /* 24 bytes: address || selector, encoded like bytes24 */
} phx_abi_kind_t;

typedef struct phx_abi_type {
    phx_abi_kind_t kind;
    unsigned size;                  /* bits for UINT/INT, bytes for FIXED_BYTES */
    size_t length;                  /* element count for ARRAY */
    struct phx_abi_type **children; /* TUPLE members; ARRAY/SLICE element at [0] */
    size_t count;
    char *name;   /* parameter name when the text had one, else NULL */
    bool indexed; /* event parameter marked "indexed" */
} phx_abi_type_t;

/* Parse one type ("uint256", "(uint8,bytes)[2]", "address indexed from"). */
phx_err_t phx_abi_type_parse(const char *text, phx_abi_type_t **out, phx_error_t *e);
/* Parse a parameter list "(address,uint256)" or a signature "transfer(address,uint256)"
 * into a TUPLE type; name_out (may be NULL) receives the function/event name
 * (malloc'd, caller frees; "" when absent). */
phx_err_t phx_abi_signature_parse(const char *sig, char **name_out, phx_abi_type_t **params,
                                  phx_error_t *e);
void phx_abi_type_free(phx_abi_type_t *t);
/* Canonical text ("uint" -> "uint256", tuples as "(...)", names dropped) appended to out. */
phx_err_t phx_abi_type_canonical(const phx_abi_type_t *t, phx_buf_t *out);
bool phx_abi_type_is_dynamic(const phx_abi_type_t *t);

typedef struct phx_abi_value {
    phx_abi_kind_t kind;
    /* UINT/INT: two's complement big-endian word; ADDRESS: right-aligned (last 20
     * bytes); BOOL: word[31] is 0/1; FIXED_BYTES/FUNCTION: left-aligned. */
    uint8_t word[32];
    uint8_t *bytes; /* BYTES/STRING payload (owned; STRING is not NUL-terminated) */
    size_t len;
    struct phx_abi_value *items; /* ARRAY/SLICE/TUPLE elements (owned, contiguous) */
    size_t count;
} phx_abi_value_t;

/* Free what a value owns (not the struct itself), recursively; accepts NULL. */
void phx_abi_value_clear(phx_abi_value_t *v);
/* Free a heap value returned by decode/from_json (clears, then frees). */
void phx_abi_value_free(phx_abi_value_t *v);

/* Builders for values on the caller's side (no allocation except where noted). */
phx_abi_value_t phx_abi_uint(uint64_t v);
phx_abi_value_t phx_abi_u256(const phx_u256_t *v);
phx_abi_value_t phx_abi_int(int64_t v);
phx_abi_value_t phx_abi_bool(bool v);
phx_abi_value_t phx_abi_address(const uint8_t addr[20]);
phx_abi_value_t phx_abi_bytes32(const uint8_t b[32]);
/* BYTES/STRING values borrow p; never pass them to phx_abi_value_clear. Use
 * phx_abi_value_clear only on trees that decode/from_json built. */
phx_abi_value_t phx_abi_bytes_ref(const uint8_t *p, size_t len);
phx_abi_value_t phx_abi_string_ref(const char *s);
/* A TUPLE/SLICE/ARRAY over a caller-owned element array. */
phx_abi_value_t phx_abi_list_ref(phx_abi_kind_t kind, phx_abi_value_t *items, size_t count);

/* abi.encode(value) for a value of type t (a TUPLE for argument lists). */
phx_err_t phx_abi_encode(const phx_abi_type_t *t, const phx_abi_value_t *v, phx_buf_t *out,
                         phx_error_t *e);
/* abi.decode: *out is a new heap tree (phx_abi_value_free). Bytes past the
 * encoding are allowed (return data may be padded); bad offsets are not. */
phx_err_t phx_abi_decode(const phx_abi_type_t *t, const uint8_t *p, size_t len,
                         phx_abi_value_t **out, phx_error_t *e);
/* abi.encodePacked (non-standard packed mode, as solidity-hashes uses). */
phx_err_t phx_abi_encode_packed(const phx_abi_type_t *t, const phx_abi_value_t *v, phx_buf_t *out,
                                phx_error_t *e);

/* JSON bridge. Numbers are JSON integers, decimal strings or 0x-hex strings
 * (negative allowed for intN); address/bytes are 0x-hex; bool true/false;
 * strings as strings; arrays and tuples are JSON arrays. to_json writes uints
 * and ints as decimal strings, bytes/addresses as 0x lowercase hex. */
phx_err_t phx_abi_value_from_json(const phx_abi_type_t *t, const json_t *j, phx_abi_value_t **out,
                                  phx_error_t *e);
phx_err_t phx_abi_value_to_json(const phx_abi_type_t *t, const phx_abi_value_t *v, json_t **out,
                                phx_error_t *e);

/* 4-byte selector = keccak256(canonical signature)[0:4]. The signature is
 * canonicalised first ("transfer(address to, uint amount)" works). */
phx_err_t phx_abi_selector(const char *sig, uint8_t out[4], phx_error_t *e);
/* Event topic0 = keccak256(canonical signature). */
phx_err_t phx_abi_event_topic(const char *sig, uint8_t out[32], phx_error_t *e);

/* Calldata = selector || abi.encode(args), the signature-string driven form:
 *   phx_abi_encode_call("transfer(address,uint256)", "[\"0xab..\", \"1000\"]", &buf, &e)
 * args_json is a JSON array with one element per parameter (see the JSON bridge). */
phx_err_t phx_abi_encode_call(const char *sig, const char *args_json, phx_buf_t *out,
                              phx_error_t *e);
/* Same with a value tree (a TUPLE of the arguments). */
phx_err_t phx_abi_encode_call_values(const char *sig, const phx_abi_value_t *args, phx_buf_t *out,
                                     phx_error_t *e);
/* Decode return data for a parameter list "(uint256,bool)" into JSON (an array). */
phx_err_t phx_abi_decode_json(const char *types, const uint8_t *p, size_t len, json_t **out,
                              phx_error_t *e);

/* ============================================================================
 * Logs and event decoding
 * ========================================================================== */
typedef struct {
    uint8_t address[20];
    uint8_t topics[4][32];
    size_t topic_count;
    uint8_t *data; /* owned */
    size_t data_len;
    uint64_t block_number;
    uint8_t block_hash[32];
    uint8_t tx_hash[32];
    uint64_t tx_index;
    uint64_t log_index;
    bool removed;
} phx_evm_log_t;

void phx_evm_log_clear(phx_evm_log_t *log);
/* Parse one log object as eth_getLogs / receipts return it. */
phx_err_t phx_evm_log_from_json(const json_t *j, phx_evm_log_t *out, phx_error_t *e);

/* Decode a log against an event signature with "indexed" markers, e.g.
 * "Transfer(address indexed from,address indexed to,uint256 value)". Checks
 * topic0 (unless the event is declared anonymous by passing anonymous=true).
 * *out is a TUPLE with every parameter in declaration order; an indexed
 * dynamic parameter (string, bytes, arrays, tuples) yields its topic as bytes32. */
phx_err_t phx_abi_decode_log(const char *event_sig, bool anonymous, const phx_evm_log_t *log,
                             phx_abi_value_t **out, phx_error_t *e);
/* The same, as a JSON object {name: value} (unnamed parameters are "0", "1", ...). */
phx_err_t phx_abi_decode_log_json(const char *event_sig, bool anonymous, const phx_evm_log_t *log,
                                  json_t **out, phx_error_t *e);

#ifdef __cplusplus
}
#endif
#endif
