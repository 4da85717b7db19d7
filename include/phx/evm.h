/* EVM client: RLP, the Solidity ABI, transactions (legacy/EIP-155, EIP-2930,
 * EIP-1559), EIP-712 typed data, a JSON-RPC client over HTTP (libcurl), a signer
 * with on-disk nonce tracking, receipts with confirmations, contract deployment
 * and a reorg-safe log follower. Specs: Ethereum yellow paper appendix B (RLP),
 * Solidity ABI spec, EIP-155/2718/2930/1559/712, Ethereum JSON-RPC API.
 * See docs/evm.md for how data flows through the module. */
#ifndef PHX_EVM_H
#define PHX_EVM_H

#include "phx/core.h"
#include "phx/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================
 * 256-bit unsigned integers: 32 bytes, big-endian (the EVM word as it is).
 * ========================================================================== */
typedef struct {
    uint8_t b[32];
} phx_u256_t;

phx_u256_t phx_u256_from_u64(uint64_t v);
/* Decimal ("12345") or 0x-hex ("0x3039", "0x" = 0) text. Overflow is PHX_ERR_RANGE. */
phx_err_t phx_u256_from_str(const char *s, phx_u256_t *out, phx_error_t *e);
/* Big-endian bytes, at most 32 (leading zeros allowed). */
phx_err_t phx_u256_from_be(const uint8_t *p, size_t len, phx_u256_t *out, phx_error_t *e);
/* PHX_ERR_RANGE when the value does not fit 64 bits. */
phx_err_t phx_u256_to_u64(const phx_u256_t *v, uint64_t *out, phx_error_t *e);
bool phx_u256_is_zero(const phx_u256_t *v);
int phx_u256_cmp(const phx_u256_t *a, const phx_u256_t *b); /* -1, 0, 1 */
/* Wrapping arithmetic mod 2^256 (callers check magnitudes where it matters). */
phx_u256_t phx_u256_add(const phx_u256_t *a, const phx_u256_t *b);
phx_u256_t phx_u256_mul_u64(const phx_u256_t *a, uint64_t m);
/* Decimal text into out (78 digits + NUL fit in 80). */
void phx_u256_to_dec(const phx_u256_t *v, char out[80]);
/* JSON-RPC quantity: "0x" + minimal lowercase hex ("0x0" for zero), into out[67]. */
void phx_u256_to_quantity(const phx_u256_t *v, char out[67]);
/* Minimal big-endian bytes (no leading zeros; zero has length 0): the RLP form. */
size_t phx_u256_minimal(const phx_u256_t *v, const uint8_t **start);

/* ============================================================================
 * RLP (yellow paper appendix B). Strict decoding: non-canonical lengths, a
 * single byte < 0x80 wrapped in a string header, leading zeros in lengths and
 * trailing bytes are all PHX_ERR_INVALID.
 * ========================================================================== */
typedef struct phx_rlp_item {
    bool is_list;
    const uint8_t *data; /* string payload, or the list's payload (points into input) */
    size_t len;
    struct phx_rlp_item *items; /* list children (owned by the tree) */
    size_t count;
} phx_rlp_item_t;

/* Decode exactly one item spanning the whole input. *out is a tree whose leaves
 * point into p (p must outlive it); free with phx_rlp_free. Nesting is limited
 * to PHX_RLP_MAX_DEPTH (PHX_ERR_LIMIT). */
#define PHX_RLP_MAX_DEPTH 64
phx_err_t phx_rlp_decode(const uint8_t *p, size_t len, phx_rlp_item_t **out, phx_error_t *e);
void phx_rlp_free(phx_rlp_item_t *item);
/* Decode a string item as an unsigned integer (canonical: no leading zero byte). */
phx_err_t phx_rlp_item_u64(const phx_rlp_item_t *it, uint64_t *out, phx_error_t *e);
phx_err_t phx_rlp_item_u256(const phx_rlp_item_t *it, phx_u256_t *out, phx_error_t *e);

/* Encoding appends to out. Lists are built by encoding the payload into a
 * separate buffer and wrapping it, or with begin/end which patch the header. */
phx_err_t phx_rlp_put_bytes(phx_buf_t *out, const uint8_t *p, size_t len);
phx_err_t phx_rlp_put_u64(phx_buf_t *out, uint64_t v);
phx_err_t phx_rlp_put_u256(phx_buf_t *out, const phx_u256_t *v);
phx_err_t phx_rlp_put_list_header(phx_buf_t *out, size_t payload_len);
/* begin returns a mark; end moves the payload written since the mark behind a
 * correct list header. Marks nest. */
size_t phx_rlp_list_begin(phx_buf_t *out);
phx_err_t phx_rlp_list_end(phx_buf_t *out, size_t mark);
/* Re-encode a decoded (or hand-built) tree. */
phx_err_t phx_rlp_encode_item(phx_buf_t *out, const phx_rlp_item_t *item);

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
 * Addresses
 * ========================================================================== */
/* Parse "0x" + 40 hex. Mixed case must carry a valid EIP-55 checksum
 * (all-lower and all-upper are accepted without one). */
phx_err_t phx_evm_address_parse(const char *s, uint8_t out[20], phx_error_t *e);
/* CREATE address = keccak256(rlp([sender, nonce]))[12:]. */
phx_err_t phx_evm_create_address(const uint8_t sender[20], uint64_t nonce, uint8_t out[20]);

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

/* ============================================================================
 * Transactions (EIP-2718 envelopes)
 * ========================================================================== */
#define PHX_TX_LEGACY 0
#define PHX_TX_EIP2930 1
#define PHX_TX_EIP1559 2

typedef struct {
    uint8_t address[20];
    uint8_t (*keys)[32];
    size_t key_count;
} phx_evm_access_t;

typedef struct {
    uint8_t type;      /* PHX_TX_* */
    uint64_t chain_id; /* legacy: 0 = pre-EIP-155 (v 27/28), else EIP-155 */
    uint64_t nonce;
    phx_u256_t gas_price;        /* legacy, 2930 */
    phx_u256_t max_priority_fee; /* 1559 */
    phx_u256_t max_fee;          /* 1559 */
    phx_u256_t gas_limit;
    bool has_to; /* false: contract creation */
    uint8_t to[20];
    phx_u256_t value;
    const uint8_t *data; /* borrowed, or owned by the tx after decode */
    size_t data_len;
    phx_evm_access_t *access_list; /* same ownership as data */
    size_t access_count;
    /* Signature; valid when is_signed. y_parity is the recovery id (0/1); for
     * legacy v = 27 + y_parity or chain_id * 2 + 35 + y_parity. */
    bool is_signed;
    uint8_t y_parity;
    uint8_t r[32], s[32];
    void *owned_; /* storage for decoded data/access list; freed by phx_evm_tx_clear */
} phx_evm_tx_t;

/* Release what a decoded tx owns; a hand-built tx needs no clearing. */
void phx_evm_tx_clear(phx_evm_tx_t *tx);
/* The bytes that are hashed for signing (legacy: rlp list; typed: type || rlp). */
phx_err_t phx_evm_tx_encode_unsigned(const phx_evm_tx_t *tx, phx_buf_t *out, phx_error_t *e);
phx_err_t phx_evm_tx_signing_hash(const phx_evm_tx_t *tx, uint8_t out[32], phx_error_t *e);
/* Sign in place (sets r, s, y_parity, is_signed). */
phx_err_t phx_evm_tx_sign(phx_evm_tx_t *tx, const uint8_t sk[32], phx_error_t *e);
/* The raw signed transaction (what eth_sendRawTransaction takes). */
phx_err_t phx_evm_tx_encode(const phx_evm_tx_t *tx, phx_buf_t *out, phx_error_t *e);
/* Transaction hash = keccak256(signed encoding). */
phx_err_t phx_evm_tx_hash(const phx_evm_tx_t *tx, uint8_t out[32], phx_error_t *e);
/* Decode a signed or unsigned raw transaction (strict RLP; typed or legacy).
 * Unsigned legacy with 9 fields [.., chainId, 0, 0] gives chain_id. */
phx_err_t phx_evm_tx_decode(const uint8_t *p, size_t len, phx_evm_tx_t *out, phx_error_t *e);
/* Recover the sender of a signed tx (high-S is rejected). */
phx_err_t phx_evm_tx_sender(const phx_evm_tx_t *tx, uint8_t addr[20], phx_error_t *e);

/* ============================================================================
 * EIP-712 typed structured data. typed is the standard JSON form
 * {"types": {...}, "primaryType": "...", "domain": {...}, "message": {...}};
 * the EIP712Domain type is inferred from the domain's keys when absent.
 * ========================================================================== */
phx_err_t phx_eip712_encode_type(const json_t *types, const char *primary, phx_buf_t *out,
                                 phx_error_t *e);
phx_err_t phx_eip712_hash_struct(const json_t *types, const char *primary, const json_t *data,
                                 uint8_t out[32], phx_error_t *e);
/* encodeData(s) = typeHash || enc(field)... (without hashing), appended to out. */
phx_err_t phx_eip712_encode_data(const json_t *types, const char *primary, const json_t *data,
                                 phx_buf_t *out, phx_error_t *e);
phx_err_t phx_eip712_domain_separator(const json_t *domain, const json_t *types, uint8_t out[32],
                                      phx_error_t *e);
/* digest = keccak256(0x19 0x01 || domainSeparator || hashStruct(message)). */
phx_err_t phx_eip712_digest(const json_t *typed, uint8_t out[32], phx_error_t *e);
/* sig = r||s||v with v = 27 + recid (what wallets return for eth_signTypedData_v4). */
phx_err_t phx_eip712_sign(const json_t *typed, const uint8_t sk[32], uint8_t sig[65],
                          phx_error_t *e);
phx_err_t phx_eip712_recover(const json_t *typed, const uint8_t sig[65], uint8_t addr[20],
                             phx_error_t *e);

/* ============================================================================
 * JSON-RPC client (HTTP POST via libcurl). Retries only on transport errors
 * (connect/timeout/5xx): a JSON-RPC error object is returned at once as
 * PHX_ERR_REMOTE with the node's message. Not thread-safe: one client per thread.
 * ========================================================================== */
typedef struct phx_rpc phx_rpc_t;

typedef struct {
    unsigned timeout_ms;     /* per HTTP request; 0 = 10000 */
    unsigned retries;        /* extra attempts on transport errors; default 2 */
    unsigned retry_delay_ms; /* doubles after each retry; 0 = 200 */
} phx_rpc_opts_t;

/* opts may be NULL for defaults. */
phx_err_t phx_rpc_open(const char *url, const phx_rpc_opts_t *opts, phx_rpc_t **out,
                       phx_error_t *e);
void phx_rpc_close(phx_rpc_t *rpc);

/* Generic call: params (a JSON array; reference stolen, may be NULL for [])
 * -> *result (new reference, caller json_decref()s). */
phx_err_t phx_rpc_call(phx_rpc_t *rpc, const char *method, json_t *params, json_t **result,
                       phx_error_t *e);
/* Parse one JSON-RPC 2.0 response body (exposed for fuzzing and tests). */
phx_err_t phx_rpc_parse_response(const uint8_t *body, size_t len, json_t **result, phx_error_t *e);
/* Parse a JSON-RPC quantity ("0x1a") / data string into numbers and bytes. */
phx_err_t phx_rpc_quantity_u64(const json_t *j, uint64_t *out, phx_error_t *e);
phx_err_t phx_rpc_quantity_u256(const json_t *j, phx_u256_t *out, phx_error_t *e);

/* Block tags: NULL means "latest"; "pending", "earliest", "safe", "finalized",
 * or a number formatted with phx_evm_block_tag. */
void phx_evm_block_tag(uint64_t number, char out[24]);

typedef struct {
    bool has_from;
    uint8_t from[20];
    bool has_to;
    uint8_t to[20];
    const uint8_t *data;
    size_t data_len;
    phx_u256_t value;
    uint64_t gas; /* 0 = not given */
} phx_evm_call_t;

typedef struct {
    uint8_t tx_hash[32];
    uint64_t block_number;
    uint8_t block_hash[32];
    uint64_t tx_index;
    bool status; /* true = success (status 0x1) */
    uint64_t gas_used;
    uint64_t cumulative_gas_used;
    phx_u256_t effective_gas_price;
    uint8_t from[20];
    bool has_to;
    uint8_t to[20];
    bool has_contract_address;
    uint8_t contract_address[20];
    phx_evm_log_t *logs; /* owned */
    size_t log_count;
} phx_evm_receipt_t;

void phx_evm_receipt_clear(phx_evm_receipt_t *r);
phx_err_t phx_evm_receipt_from_json(const json_t *j, phx_evm_receipt_t *out, phx_error_t *e);

typedef struct {
    uint64_t from_block;
    uint64_t to_block;
    const uint8_t (*addresses)[20]; /* OR-ed; none = any address */
    size_t address_count;
    /* topics[i] matches any of topic_sets[i][0..topic_counts[i]); count 0 = any */
    const uint8_t (*topic_sets[4])[32];
    size_t topic_counts[4];
} phx_evm_filter_t;

typedef struct {
    uint64_t oldest_block;
    size_t block_count;
    phx_u256_t *base_fees;  /* block_count + 1 entries (the next block's too); owned */
    double *gas_used_ratio; /* block_count entries; owned */
    phx_u256_t *rewards;    /* block_count entries at the requested percentile; owned */
} phx_evm_fee_history_t;
void phx_evm_fee_history_clear(phx_evm_fee_history_t *h);

phx_err_t phx_rpc_chain_id(phx_rpc_t *rpc, uint64_t *out, phx_error_t *e);
phx_err_t phx_rpc_block_number(phx_rpc_t *rpc, uint64_t *out, phx_error_t *e);
phx_err_t phx_rpc_get_balance(phx_rpc_t *rpc, const uint8_t addr[20], const char *block,
                              phx_u256_t *out, phx_error_t *e);
phx_err_t phx_rpc_get_transaction_count(phx_rpc_t *rpc, const uint8_t addr[20], const char *block,
                                        uint64_t *out, phx_error_t *e);
phx_err_t phx_rpc_gas_price(phx_rpc_t *rpc, phx_u256_t *out, phx_error_t *e);
phx_err_t phx_rpc_max_priority_fee(phx_rpc_t *rpc, phx_u256_t *out, phx_error_t *e);
/* eth_feeHistory(block_count, newest, [percentile]). */
phx_err_t phx_rpc_fee_history(phx_rpc_t *rpc, uint64_t block_count, const char *newest,
                              double percentile, phx_evm_fee_history_t *out, phx_error_t *e);
phx_err_t phx_rpc_estimate_gas(phx_rpc_t *rpc, const phx_evm_call_t *call, uint64_t *out,
                               phx_error_t *e);
/* eth_call; return data appended to out. A revert is PHX_ERR_REMOTE and, when the
 * node includes revert data, it is appended to out as well. */
phx_err_t phx_rpc_call_contract(phx_rpc_t *rpc, const phx_evm_call_t *call, const char *block,
                                phx_buf_t *out, phx_error_t *e);
phx_err_t phx_rpc_send_raw_transaction(phx_rpc_t *rpc, const uint8_t *raw, size_t len,
                                       uint8_t tx_hash[32], phx_error_t *e);
/* *found is false (and PHX_OK) while the tx is not yet mined. */
phx_err_t phx_rpc_get_transaction_receipt(phx_rpc_t *rpc, const uint8_t tx_hash[32],
                                          phx_evm_receipt_t *out, bool *found, phx_error_t *e);
/* *logs is a malloc'd array (free each with phx_evm_log_clear, then free()). */
phx_err_t phx_rpc_get_logs(phx_rpc_t *rpc, const phx_evm_filter_t *filter, phx_evm_log_t **logs,
                           size_t *count, phx_error_t *e);
phx_err_t phx_rpc_get_code(phx_rpc_t *rpc, const uint8_t addr[20], const char *block,
                           phx_buf_t *out, phx_error_t *e);
phx_err_t phx_rpc_get_storage_at(phx_rpc_t *rpc, const uint8_t addr[20], const phx_u256_t *slot,
                                 const char *block, uint8_t out[32], phx_error_t *e);
/* Hash of block `number` (eth_getBlockByNumber); PHX_ERR_NOT_FOUND past the head. */
phx_err_t phx_rpc_get_block_hash(phx_rpc_t *rpc, uint64_t number, uint8_t out[32], phx_error_t *e);

/* Wait until the receipt exists and the chain head is at least
 * receipt.block_number + confirmations - 1 (confirmations 0 and 1 both mean
 * "mined"). Polls every poll_ms (0 = 250); PHX_ERR_TIMEOUT after timeout_ms. If the
 * receipt disappears (reorg) the wait continues. */
phx_err_t phx_rpc_wait_receipt(phx_rpc_t *rpc, const uint8_t tx_hash[32], uint64_t confirmations,
                               uint64_t timeout_ms, uint64_t poll_ms, phx_evm_receipt_t *out,
                               phx_error_t *e);

/* ============================================================================
 * Fees
 * ========================================================================== */
typedef struct {
    bool eip1559;         /* false: the node has no base fee; use gas_price */
    phx_u256_t gas_price; /* legacy price (eth_gasPrice) */
    phx_u256_t max_priority_fee;
    phx_u256_t max_fee; /* 2 * next base fee + priority fee */
} phx_evm_fees_t;

/* From eth_feeHistory: the next block's base fee and the median priority fee
 * of recent blocks (eth_maxPriorityFeePerGas when history has none, at least
 * 1 wei); eth_gasPrice for legacy. */
phx_err_t phx_rpc_estimate_fees(phx_rpc_t *rpc, phx_evm_fees_t *out, phx_error_t *e);

/* ============================================================================
 * Signer: one secp256k1 key, one chain. Nonces are tracked locally so several
 * transactions can be in flight; the next nonce is kept in nonce_path (a small
 * JSON file, written atomically) so a restart neither reuses nor skips one. On
 * open and on "nonce too low" the signer takes max(local, chain pending count).
 * ========================================================================== */
typedef struct phx_signer phx_signer_t;

/* The key is copied (and zeroed on close). nonce_path may be NULL (memory only).
 * The chain id is read from the node. The signer borrows rpc. */
phx_err_t phx_signer_open(phx_rpc_t *rpc, const uint8_t sk[32], const char *nonce_path,
                          phx_signer_t **out, phx_error_t *e);
void phx_signer_close(phx_signer_t *s);
void phx_signer_address(const phx_signer_t *s, uint8_t out[20]);
uint64_t phx_signer_chain_id(const phx_signer_t *s);
/* The nonce the next transaction will use. */
uint64_t phx_signer_next_nonce(const phx_signer_t *s);
/* Forget the local nonce and take the chain's pending count (after dropping txs). */
phx_err_t phx_signer_resync(phx_signer_t *s, phx_error_t *e);

typedef struct {
    bool has_to; /* false = create */
    uint8_t to[20];
    const uint8_t *data;
    size_t data_len;
    phx_u256_t value;
    uint64_t gas_limit;         /* 0 = eth_estimateGas * 1.2 */
    const phx_evm_fees_t *fees; /* NULL = phx_rpc_estimate_fees */
    bool legacy;                /* force a type-0 EIP-155 tx */
} phx_evm_send_t;

/* Build, sign and send; tx_hash receives the hash. The nonce advances (and is
 * saved) only when the node accepted the transaction. */
phx_err_t phx_signer_send(phx_signer_t *s, const phx_evm_send_t *req, uint8_t tx_hash[32],
                          phx_error_t *e);
/* send + wait_receipt. A mined but reverted tx is PHX_ERR_REMOTE ("reverted"),
 * with the receipt still filled in. receipt may be NULL. */
phx_err_t phx_signer_transact(phx_signer_t *s, const phx_evm_send_t *req, uint64_t confirmations,
                              uint64_t timeout_ms, phx_evm_receipt_t *receipt, phx_error_t *e);
/* Deploy: data = bytecode || ctor_args; address from the receipt.
 * receipt may be NULL. */
phx_err_t phx_signer_deploy(phx_signer_t *s, const uint8_t *bytecode, size_t bytecode_len,
                            const uint8_t *ctor_args, size_t ctor_args_len, uint64_t gas_limit,
                            uint64_t confirmations, uint64_t timeout_ms, uint8_t address[20],
                            phx_evm_receipt_t *receipt, phx_error_t *e);

/* ============================================================================
 * Log follower: pages through eth_getLogs up to head - confirmations, keeps its
 * cursor (next block + recent block hashes) in cursor_path, and on a reorg rolls
 * back to the last block whose hash still matches, telling the consumer first.
 * ========================================================================== */
typedef struct phx_evm_follower phx_evm_follower_t;

typedef struct {
    const char *cursor_path; /* NULL = memory only */
    uint64_t start_block;    /* first block when there is no cursor yet */
    uint64_t confirmations;  /* stay this many blocks behind the head (0 = follow head) */
    uint64_t page_blocks;    /* blocks per eth_getLogs (0 = 1000); halved while the node refuses */
    size_t hash_window;      /* recent block hashes kept to detect reorgs (0 = 128) */
    const uint8_t (*addresses)[20];
    size_t address_count;
    const uint8_t (*topic0)[32]; /* OR-ed event topics; none = every event */
    size_t topic0_count;
} phx_evm_follower_opts_t;

typedef struct {
    /* A log in order (block, log index). Returning non-zero stops the poll
     * before the cursor moves past this log's page; the error is returned and
     * the page is delivered again next time (at-least-once delivery). */
    phx_err_t (*on_log)(void *ctx, const phx_evm_log_t *log, phx_error_t *e);
    /* Every log delivered from blocks >= first_void_block is void: undo them.
     * Called before any log of the replacing chain is delivered. */
    phx_err_t (*on_rollback)(void *ctx, uint64_t first_void_block, phx_error_t *e);
    void *ctx;
} phx_evm_follower_cb_t;

/* opts is copied (arrays too). The cursor file is read if present. */
phx_err_t phx_evm_follower_open(phx_rpc_t *rpc, const phx_evm_follower_opts_t *opts,
                                phx_evm_follower_t **out, phx_error_t *e);
void phx_evm_follower_close(phx_evm_follower_t *f);
/* One round: check for a reorg, then deliver pages up to the safe head, saving
 * the cursor after each page. *delivered (may be NULL) counts logs passed on. */
phx_err_t phx_evm_follower_poll(phx_evm_follower_t *f, const phx_evm_follower_cb_t *cb,
                                size_t *delivered, phx_error_t *e);
/* The next block the follower will read. */
uint64_t phx_evm_follower_next_block(const phx_evm_follower_t *f);

#ifdef __cplusplus
}
#endif
#endif
