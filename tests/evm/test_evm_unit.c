/* EVM client unit tests for behaviour the shared vectors do not pin down:
 * u256 text, RLP strictness cases, ABI calldata from a signature string, strict
 * ABI decoding of hostile offsets, event decoding with indexed dynamic values,
 * transaction decode edge cases found by fuzzing, and JSON-RPC response parsing. */
#include <string.h>

#include "phx/crypto.h"
#include "phx/evm.h"
#include "test.h"

static phx_buf_t hx(const char *hex)
{
    phx_buf_t b = PHX_BUF_INIT;
    CHECK(phx_hex_decode(hex, &b, NULL) == PHX_OK);
    return b;
}

static void test_u256(void)
{
    phx_u256_t u;
    char dec[80], q[67];
    CHECK(phx_u256_from_str(
              "115792089237316195423570985008687907853269984665640564039457584007913129639935", &u,
              NULL) == PHX_OK);
    phx_u256_to_quantity(&u, q);
    CHECK(strcmp(q, "0x"
                    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff") == 0);
    CHECK(phx_u256_from_str(
              "115792089237316195423570985008687907853269984665640564039457584007913129639936", &u,
              NULL) == PHX_ERR_RANGE);
    CHECK(phx_u256_from_str("0x1"
                            "0000000000000000000000000000000000000000000000000000000000000000",
                            &u, NULL) == PHX_ERR_RANGE);
    CHECK(phx_u256_from_str("12a", &u, NULL) == PHX_ERR_INVALID);
    CHECK(phx_u256_from_str("0x00ff", &u, NULL) == PHX_OK);
    phx_u256_to_dec(&u, dec);
    CHECK(strcmp(dec, "255") == 0);
    u = phx_u256_from_u64(0);
    phx_u256_to_quantity(&u, q);
    CHECK(strcmp(q, "0x0") == 0);
    phx_u256_t a = phx_u256_from_u64(UINT64_MAX), b = phx_u256_add(&a, &a);
    phx_u256_to_dec(&b, dec);
    CHECK(strcmp(dec, "36893488147419103230") == 0);
    uint64_t v;
    CHECK(phx_u256_to_u64(&b, &v, NULL) == PHX_ERR_RANGE);
}

static void test_rlp_strict(void)
{
    static const char *bad[] = {
        "0x8100", /* single byte < 0x80 wrapped */
        "0xb800", /* long form, length 0 */
        "0xb837"
        "00",     /* long form for a short payload (truncated too) */
        "0xc180", /* fine by itself... with a trailing byte below */
        "0x",     /* empty */
        "0xc3808080"
        "80",       /* trailing byte after the list */
        "0xf90000", /* leading zero in length */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        phx_buf_t b = hx(bad[i]);
        phx_rlp_item_t *it = NULL;
        phx_err_t err = phx_rlp_decode(b.ptr, b.len, &it, NULL);
        if (i == 3)
            CHECK(err == PHX_OK); /* c180 is a list holding the empty string */
        else
            CHECK_MSG(err != PHX_OK, "%s accepted", bad[i]);
        phx_rlp_free(it);
        phx_buf_free(&b);
    }
    /* Depth is bounded (a stack of 100 nested lists). */
    phx_buf_t deep = PHX_BUF_INIT;
    size_t marks[100];
    for (int i = 0; i < 100; i++)
        marks[i] = phx_rlp_list_begin(&deep);
    for (int i = 99; i >= 0; i--)
        CHECK(phx_rlp_list_end(&deep, marks[i]) == PHX_OK);
    phx_rlp_item_t *it = NULL;
    CHECK(phx_rlp_decode(deep.ptr, deep.len, &it, NULL) == PHX_ERR_LIMIT);
    CHECK(phx_rlp_decode(deep.ptr + deep.len - 60, 60, &it, NULL) ==
          PHX_OK); /* the innermost 58 levels are fine */
    phx_rlp_free(it);
    phx_buf_free(&deep);
    /* list_begin/end produce the long form past 55 bytes. */
    phx_buf_t out = PHX_BUF_INIT;
    uint8_t sixty[60];
    memset(sixty, 'a', sizeof sixty);
    size_t m = phx_rlp_list_begin(&out);
    CHECK(phx_rlp_put_bytes(&out, sixty, sizeof sixty) == PHX_OK);
    CHECK(phx_rlp_list_end(&out, m) == PHX_OK);
    CHECK(out.len == 64 && out.ptr[0] == 0xf8 && out.ptr[1] == 62 && out.ptr[2] == 0xb8 &&
          out.ptr[3] == 60);
    phx_buf_free(&out);
}

static void test_abi_call(void)
{
    phx_buf_t cd = PHX_BUF_INIT;
    phx_error_t e;
    /* The ERC-20 transfer selector is a9059cbb; names and spacing are ignored. */
    CHECK(phx_abi_encode_call("transfer(address to, uint amount)",
                              "[\"0x00000000000000000000000000000000000000aa\", \"0x10\"]", &cd,
                              &e) == PHX_OK);
    CHECK(cd.len == 68 && cd.ptr[0] == 0xa9 && cd.ptr[1] == 0x05 && cd.ptr[2] == 0x9c &&
          cd.ptr[3] == 0xbb);
    CHECK(cd.ptr[4 + 31] == 0xaa && cd.ptr[4 + 63] == 0x10);
    phx_buf_reset(&cd);
    /* Out of range values and wrong arity are refused. */
    CHECK(phx_abi_encode_call("f(uint8)", "[256]", &cd, &e) == PHX_ERR_RANGE);
    CHECK(phx_abi_encode_call("f(int8)", "[\"-129\"]", &cd, &e) == PHX_ERR_RANGE);
    CHECK(phx_abi_encode_call("f(int8)", "[\"-128\"]", &cd, &e) == PHX_OK);
    CHECK(phx_abi_encode_call("f(uint8,bool)", "[1]", &cd, &e) == PHX_ERR_INVALID);
    CHECK(phx_abi_encode_call("f(address)", "[\"0x00000000000000000000000000000000000000aA\"]", &cd,
                              &e) == PHX_ERR_VERIFY);
    /* A value-tree call equals the JSON one. */
    phx_buf_t a = PHX_BUF_INIT, b = PHX_BUF_INIT;
    phx_abi_value_t items[2] = {phx_abi_string_ref("hi"), phx_abi_uint(7)};
    phx_abi_value_t args = phx_abi_list_ref(PHX_ABI_TUPLE, items, 2);
    CHECK(phx_abi_encode_call_values("g(string,uint64)", &args, &a, &e) == PHX_OK);
    CHECK(phx_abi_encode_call("g(string,uint64)", "[\"hi\", 7]", &b, &e) == PHX_OK);
    CHECK(a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0 && a.len == 4 + 32 * 4);
    /* Return data decodes to JSON. */
    json_t *j = NULL;
    CHECK(phx_abi_decode_json("(string,uint64)", a.ptr + 4, a.len - 4, &j, &e) == PHX_OK);
    char *text = j ? phx_json_dump(j, false) : NULL;
    CHECK(text && strcmp(text, "[\"hi\",\"7\"]") == 0);
    free(text);
    json_decref(j);
    phx_buf_free(&a);
    phx_buf_free(&b);
    phx_buf_free(&cd);
}

static void test_abi_hostile(void)
{
    phx_abi_type_t *t = NULL;
    phx_abi_value_t *v = NULL;
    CHECK(phx_abi_type_parse("(bytes)", &t, NULL) == PHX_OK);
    /* Offset pointing past the end; a length past the end; a huge length. */
    phx_buf_t b1 = hx("0x0000000000000000000000000000000000000000000000000000000000000040");
    CHECK(phx_abi_decode(t, b1.ptr, b1.len, &v, NULL) != PHX_OK);
    phx_buf_t b2 = hx("0x0000000000000000000000000000000000000000000000000000000000000020"
                      "0000000000000000000000000000000000000000000000000000000000000021");
    CHECK(phx_abi_decode(t, b2.ptr, b2.len, &v, NULL) != PHX_OK);
    phx_buf_t b3 = hx("0x0000000000000000000000000000000000000000000000000000000000000020"
                      "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    CHECK(phx_abi_decode(t, b3.ptr, b3.len, &v, NULL) != PHX_OK);
    phx_abi_type_free(t);
    /* Dirty high bits in a uint8 and a bool of 2 are not values of those types. */
    CHECK(phx_abi_type_parse("(uint8,bool)", &t, NULL) == PHX_OK);
    phx_buf_t b4 = hx("0x0000000000000000000000000000000000000000000000000000000000000100"
                      "0000000000000000000000000000000000000000000000000000000000000001");
    CHECK(phx_abi_decode(t, b4.ptr, b4.len, &v, NULL) == PHX_ERR_RANGE);
    phx_buf_t b5 = hx("0x0000000000000000000000000000000000000000000000000000000000000001"
                      "0000000000000000000000000000000000000000000000000000000000000002");
    CHECK(phx_abi_decode(t, b5.ptr, b5.len, &v, NULL) == PHX_ERR_RANGE);
    phx_abi_type_free(t);
    /* Types that are not types. */
    static const char *bad[] = {"uint7",    "uint264",  "bytes33", "bytes0",
                                "(uint256", "uint256[", "foo",     "uint256[01]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(phx_abi_type_parse(bad[i], &t, NULL) != PHX_OK, "%s parsed", bad[i]);
    }
    phx_buf_free(&b1);
    phx_buf_free(&b2);
    phx_buf_free(&b3);
    phx_buf_free(&b4);
    phx_buf_free(&b5);
}

static void test_event(void)
{
    /* Registered(string indexed name, address indexed owner, bytes data) */
    const char *sig = "Registered(string indexed name,address indexed owner,bytes data)";
    phx_evm_log_t log;
    memset(&log, 0, sizeof log);
    CHECK(phx_abi_event_topic(sig, log.topics[0], NULL) == PHX_OK);
    phx_keccak256("alice", 5, log.topics[1]);
    log.topics[2][31] = 0x77;
    log.topic_count = 3;
    phx_buf_t data = PHX_BUF_INIT;
    phx_abi_type_t *t = NULL;
    phx_abi_value_t item = phx_abi_bytes_ref((const uint8_t *)"xyz", 3);
    phx_abi_value_t tup = phx_abi_list_ref(PHX_ABI_TUPLE, &item, 1);
    CHECK(phx_abi_type_parse("(bytes)", &t, NULL) == PHX_OK);
    CHECK(phx_abi_encode(t, &tup, &data, NULL) == PHX_OK);
    log.data = data.ptr;
    log.data_len = data.len;
    json_t *j = NULL;
    phx_error_t e;
    CHECK(phx_abi_decode_log_json(sig, false, &log, &j, &e) == PHX_OK);
    char *name = phx_hex_encode(log.topics[1], 32);
    CHECK(j && strcmp(json_string_value(json_object_get(j, "name")), name) == 0);
    CHECK(j && strcmp(json_string_value(json_object_get(j, "owner")),
                      "0x0000000000000000000000000000000000000077") == 0);
    CHECK(j && strcmp(json_string_value(json_object_get(j, "data")), "0x78797a") == 0);
    free(name);
    json_decref(j);
    /* Wrong number of topics is refused. */
    log.topic_count = 2;
    phx_abi_value_t *v = NULL;
    CHECK(phx_abi_decode_log(sig, false, &log, &v, NULL) == PHX_ERR_INVALID);
    phx_abi_type_free(t);
    phx_buf_free(&data);
}

static void test_tx_edges(void)
{
    /* Found by fuzz_evm_rlp: legacy v = 35 would be EIP-155 with chain id 0. */
    phx_buf_t b = hx("0xcc83c88080798080802e236174");
    phx_evm_tx_t tx;
    CHECK(phx_evm_tx_decode(b.ptr, b.len, &tx, NULL) == PHX_ERR_INVALID);
    phx_buf_free(&b);
    /* Unknown envelope types and a 'to' of the wrong size. */
    b = hx("0x03c0");
    CHECK(phx_evm_tx_decode(b.ptr, b.len, &tx, NULL) == PHX_ERR_UNSUPPORTED);
    phx_buf_free(&b);
    b = hx("0xc7808080828080808080");
    CHECK(phx_evm_tx_decode(b.ptr, b.len, &tx, NULL) != PHX_OK);
    phx_buf_free(&b);
    /* Sign, then tamper with a field: the sender changes (or fails to recover). */
    uint8_t sk[32], me[20], other[20];
    memset(sk, 7, 32);
    CHECK(phx_eth_address_from_seckey(sk, me) == PHX_OK);
    memset(&tx, 0, sizeof tx);
    tx.type = PHX_TX_EIP1559;
    tx.chain_id = 1;
    tx.gas_limit = phx_u256_from_u64(21000);
    CHECK(phx_evm_tx_sign(&tx, sk, NULL) == PHX_OK);
    CHECK(phx_evm_tx_sender(&tx, other, NULL) == PHX_OK && memcmp(me, other, 20) == 0);
    tx.nonce = 1;
    CHECK(phx_evm_tx_sender(&tx, other, NULL) != PHX_OK || memcmp(me, other, 20) != 0);
    /* CREATE address of the well-known anvil deployer at nonce 0. */
    uint8_t dep[20], addr[20];
    CHECK(phx_hex_decode_fixed("f39fd6e51aad88f6f4ce6ab8827279cfffb92266", dep, 20, NULL) ==
          PHX_OK);
    CHECK(phx_evm_create_address(dep, 0, addr) == PHX_OK);
    char cs[43];
    phx_eth_address_checksum(addr, cs);
    CHECK(strcmp(cs, "0x5FbDB2315678afecb367f032d93F642f64180aa3") == 0);
}

/* Issue 18: value ranges while decoding. Each case starts from a valid signed
 * legacy tx and replaces one field, so only that field's check can refuse it. */
static phx_err_t decode_with(const phx_evm_tx_t *base, const uint8_t *v, size_t v_len,
                             const uint8_t r[32], const uint8_t s[32], phx_error_t *e)
{
    phx_buf_t b = PHX_BUF_INIT;
    size_t mark = phx_rlp_list_begin(&b);
    phx_u256_t gp = base->gas_price, gl = base->gas_limit, val = base->value;
    phx_rlp_put_u64(&b, base->nonce);
    phx_rlp_put_u256(&b, &gp);
    phx_rlp_put_u256(&b, &gl);
    phx_rlp_put_bytes(&b, base->to, 20);
    phx_rlp_put_u256(&b, &val);
    phx_rlp_put_bytes(&b, NULL, 0);
    phx_rlp_put_bytes(&b, v, v_len);
    phx_u256_t ru, su;
    memcpy(ru.b, r, 32);
    memcpy(su.b, s, 32);
    phx_rlp_put_u256(&b, &ru);
    phx_rlp_put_u256(&b, &su);
    phx_rlp_list_end(&b, mark);
    phx_evm_tx_t d;
    phx_err_t err = phx_evm_tx_decode(b.ptr, b.len, &d, e);
    if (!err) phx_evm_tx_clear(&d);
    phx_buf_free(&b);
    return err;
}

static void test_tx_ranges(void)
{
    uint8_t sk[32], me[20];
    memset(sk, 9, 32);
    CHECK(phx_eth_address_from_seckey(sk, me) == PHX_OK);
    phx_evm_tx_t tx;
    memset(&tx, 0, sizeof tx);
    tx.chain_id = 1;
    tx.gas_price = phx_u256_from_u64(1);
    tx.gas_limit = phx_u256_from_u64(21000);
    tx.has_to = true;
    memset(tx.to, 0x35, 20);
    CHECK(phx_evm_tx_sign(&tx, sk, NULL) == PHX_OK);
    uint8_t v37 = (uint8_t)(37 + tx.y_parity);
    phx_error_t e;
    /* The untouched tx decodes and names its signer. */
    phx_buf_t raw = PHX_BUF_INIT;
    CHECK(phx_evm_tx_encode(&tx, &raw, NULL) == PHX_OK);
    phx_evm_tx_t d;
    CHECK(phx_evm_tx_decode(raw.ptr, raw.len, &d, &e) == PHX_OK && memcmp(d.from, me, 20) == 0);
    phx_evm_tx_clear(&d);
    CHECK(decode_with(&tx, &v37, 1, tx.r, tx.s, &e) == PHX_OK);
    /* r = 0, s = 0, r >= n, s > n/2 (the malleable twin n - s). */
    uint8_t zero[32] = {0}, n[32], high_s[32];
    CHECK(phx_hex_decode_fixed("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
                               n, 32, NULL) == PHX_OK);
    CHECK(decode_with(&tx, &v37, 1, zero, tx.s, &e) == PHX_ERR_VERIFY &&
          strstr(e.message, "r is zero"));
    CHECK(decode_with(&tx, &v37, 1, tx.r, zero, &e) == PHX_ERR_VERIFY &&
          strstr(e.message, "s is zero"));
    CHECK(decode_with(&tx, &v37, 1, n, tx.s, &e) == PHX_ERR_VERIFY &&
          strstr(e.message, "curve order"));
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d8 = n[i] - tx.s[i] - borrow;
        borrow = d8 < 0;
        high_s[i] = (uint8_t)(d8 + (borrow ? 256 : 0));
    }
    uint8_t v_flip = (uint8_t)(38 - tx.y_parity);
    CHECK(decode_with(&tx, &v_flip, 1, tx.r, high_s, &e) == PHX_ERR_VERIFY &&
          strstr(e.message, "n/2"));
    /* v: 0..26, 29..34 and 35/36 (chain id 0) fit no chain; 2^64 + 27 is too wide. */
    const uint8_t bad_v[] = {1, 2, 26, 29, 34, 35, 36};
    for (size_t i = 0; i < sizeof bad_v; i++)
        CHECK(decode_with(&tx, &bad_v[i], 1, tx.r, tx.s, &e) == PHX_ERR_INVALID);
    const uint8_t v_wide[9] = {1, 0, 0, 0, 0, 0, 0, 0, 27};
    CHECK(decode_with(&tx, v_wide, 9, tx.r, tx.s, &e) == PHX_ERR_RANGE);
    /* r = s = 0 with v = chainId is an EIP-155 payload only when asked for. */
    uint8_t one = 1;
    CHECK(decode_with(&tx, &one, 1, zero, zero, &e) == PHX_ERR_INVALID);
    phx_buf_t u = PHX_BUF_INIT;
    CHECK(phx_evm_tx_encode_unsigned(&tx, &u, NULL) == PHX_OK);
    CHECK(phx_evm_tx_decode(u.ptr, u.len, &d, &e) == PHX_ERR_INVALID);
    CHECK(phx_evm_tx_decode_unsigned(u.ptr, u.len, &d, &e) == PHX_OK && d.chain_id == 1 &&
          !d.is_signed);
    phx_evm_tx_clear(&d);
    CHECK(phx_evm_tx_decode_unsigned(raw.ptr, raw.len, &d, &e) == PHX_ERR_INVALID);
    /* A gas limit of 2^64 is refused, 2^64 - 1 is not (a decoder's range, not a rule). */
    tx.gas_limit = phx_u256_from_u64(UINT64_MAX);
    phx_buf_reset(&raw);
    CHECK(phx_evm_tx_sign(&tx, sk, NULL) == PHX_OK && phx_evm_tx_encode(&tx, &raw, NULL) == PHX_OK);
    CHECK(phx_evm_tx_decode(raw.ptr, raw.len, &d, &e) == PHX_OK);
    phx_evm_tx_clear(&d);
    phx_u256_t one_u = phx_u256_from_u64(1);
    tx.gas_limit = phx_u256_add(&tx.gas_limit, &one_u);
    phx_buf_reset(&raw);
    CHECK(phx_evm_tx_sign(&tx, sk, NULL) == PHX_OK && phx_evm_tx_encode(&tx, &raw, NULL) == PHX_OK);
    CHECK(phx_evm_tx_decode(raw.ptr, raw.len, &d, &e) == PHX_ERR_RANGE &&
          strstr(e.message, "gasLimit"));
    phx_buf_free(&u);
    phx_buf_free(&raw);
}

/* A signed 1559 tx as a node lists it, with one member replaced. */
static phx_err_t tx_json_with(const phx_evm_tx_t *tx, const char *key, json_t *value,
                              phx_error_t *e)
{
    char q[67];
    phx_u256_t u;
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("0x2"));
    json_object_set_new(o, "chainId", json_string("0x1"));
    json_object_set_new(o, "nonce", json_string("0x5"));
    json_object_set_new(o, "gas", json_string("0x5208"));
    json_object_set_new(o, "maxFeePerGas", json_string("0x3b9aca00"));
    json_object_set_new(o, "maxPriorityFeePerGas", json_string("0x1"));
    json_object_set_new(o, "to", phx_json_hex(tx->to, 20));
    json_object_set_new(o, "value", json_string("0x0"));
    json_object_set_new(o, "input", json_string("0x"));
    json_object_set_new(o, "accessList", json_array());
    json_object_set_new(o, "yParity", json_string(tx->y_parity ? "0x1" : "0x0"));
    memcpy(u.b, tx->r, 32);
    phx_u256_to_quantity(&u, q);
    json_object_set_new(o, "r", json_string(q));
    memcpy(u.b, tx->s, 32);
    phx_u256_to_quantity(&u, q);
    json_object_set_new(o, "s", json_string(q));
    uint8_t h[32];
    phx_evm_tx_hash(tx, h, NULL);
    json_object_set_new(o, "hash", phx_json_hex(h, 32));
    json_object_set_new(o, "from", phx_json_hex(tx->from, 20));
    if (key) json_object_set_new(o, key, value);
    phx_evm_tx_t d;
    phx_err_t err = phx_evm_tx_from_json(o, &d, e);
    if (!err) {
        if (memcmp(d.from, tx->from, 20) != 0) err = PHX_ERR_INTERNAL;
        phx_evm_tx_clear(&d);
    }
    json_decref(o);
    return err;
}

static void test_tx_from_node(void)
{
    uint8_t sk[32];
    memset(sk, 11, 32);
    phx_evm_tx_t tx;
    memset(&tx, 0, sizeof tx);
    tx.type = PHX_TX_EIP1559;
    tx.chain_id = 1;
    tx.nonce = 5;
    tx.gas_limit = phx_u256_from_u64(21000);
    tx.max_fee = phx_u256_from_u64(1000000000);
    tx.max_priority_fee = phx_u256_from_u64(1);
    tx.has_to = true;
    memset(tx.to, 0x44, 20);
    CHECK(phx_evm_tx_sign(&tx, sk, NULL) == PHX_OK);
    CHECK(phx_eth_address_from_seckey(sk, tx.from) == PHX_OK);
    phx_error_t e;
    CHECK(tx_json_with(&tx, NULL, NULL, &e) == PHX_OK);
    /* The range checks of the decoder, on the node's JSON. */
    CHECK(tx_json_with(&tx, "s", json_string("0x0"), &e) == PHX_ERR_VERIFY);
    CHECK(tx_json_with(&tx, "r", json_string("0x0"), &e) == PHX_ERR_VERIFY);
    CHECK(tx_json_with(
              &tx, "s",
              json_string("0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a1"),
              &e) == PHX_ERR_VERIFY &&
          strstr(e.message, "n/2"));
    CHECK(tx_json_with(&tx, "gas", json_string("0x10000000000000000"), &e) == PHX_ERR_RANGE);
    CHECK(tx_json_with(&tx, "nonce", json_string("0x10000000000000000"), &e) == PHX_ERR_RANGE);
    CHECK(tx_json_with(&tx, "yParity", json_string("0x2"), &e) == PHX_ERR_INVALID);
    CHECK(tx_json_with(&tx, "type", json_string("0x3"), &e) == PHX_ERR_UNSUPPORTED);
    CHECK(tx_json_with(&tx, "maxFeePerGas",
                       json_string("0x1000000000000000000000000000000000000000000000000000000000000"
                                   "00000"),
                       &e) == PHX_ERR_RANGE);
    /* The node's claims must be what the fields make. */
    uint8_t other[20];
    memset(other, 0x99, 20);
    CHECK(tx_json_with(&tx, "from", phx_json_hex(other, 20), &e) == PHX_ERR_VERIFY);
    CHECK(tx_json_with(&tx, "hash", phx_json_hex(tx.r, 32), &e) == PHX_ERR_VERIFY);
    CHECK(tx_json_with(&tx, "nonce", json_string("0x6"), &e) == PHX_ERR_VERIFY);

    /* Receipts: status is 0 or 1 (EIP-658), never "something else = failed". */
    const char *rj = "{\"transactionHash\":\"0x%064x\",\"blockHash\":\"0x%064x\","
                     "\"blockNumber\":\"0x1\",\"status\":\"%s\",\"gasUsed\":\"0x5208\","
                     "\"logs\":[]}";
    const char *statuses[] = {"0x1", "0x0", "0x2"};
    for (int i = 0; i < 3; i++) {
        char text[512];
        snprintf(text, sizeof text, rj, 1, 2, statuses[i]);
        json_t *j = json_loads(text, 0, NULL);
        phx_evm_receipt_t r;
        phx_err_t err = phx_evm_receipt_from_json(j, &r, &e);
        CHECK_MSG(i < 2 ? err == PHX_OK && r.status == (i == 0) : err == PHX_ERR_INVALID,
                  "receipt status %s: %d", statuses[i], err);
        if (!err) phx_evm_receipt_clear(&r);
        json_decref(j);
    }
}

static void test_rpc_parse(void)
{
    json_t *r = NULL;
    phx_error_t e;
    const char *ok = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x10\"}";
    CHECK(phx_rpc_parse_response((const uint8_t *)ok, strlen(ok), &r, &e) == PHX_OK);
    uint64_t q;
    CHECK(phx_rpc_quantity_u64(r, &q, &e) == PHX_OK && q == 16);
    json_decref(r);
    const char *err =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32000,\"message\":\"nonce too low\"}}";
    CHECK(phx_rpc_parse_response((const uint8_t *)err, strlen(err), &r, &e) == PHX_ERR_REMOTE);
    CHECK(strstr(e.message, "nonce too low") != NULL);
    const char *neither = "{\"jsonrpc\":\"2.0\",\"id\":1}";
    CHECK(phx_rpc_parse_response((const uint8_t *)neither, strlen(neither), &r, &e) ==
          PHX_ERR_INVALID);
    const char *garbage = "{\"jsonrpc\":";
    CHECK(phx_rpc_parse_response((const uint8_t *)garbage, strlen(garbage), &r, &e) ==
          PHX_ERR_INVALID);
    json_t *bad = json_string("16");
    CHECK(phx_rpc_quantity_u64(bad, &q, &e) == PHX_ERR_INVALID);
    json_decref(bad);
    /* A receipt missing its status is refused rather than read as failure. */
    json_t *rc = json_pack("{s:s,s:s,s:s,s:s,s:[]}", "transactionHash",
                           "0x"
                           "0000000000000000000000000000000000000000000000000000000000000001",
                           "blockHash",
                           "0x"
                           "0000000000000000000000000000000000000000000000000000000000000002",
                           "blockNumber", "0x5", "gasUsed", "0x5208", "logs");
    phx_evm_receipt_t rec;
    CHECK(phx_evm_receipt_from_json(rc, &rec, &e) == PHX_ERR_INVALID);
    json_object_set_new(rc, "status", json_string("0x1"));
    CHECK(phx_evm_receipt_from_json(rc, &rec, &e) == PHX_OK && rec.status &&
          rec.block_number == 5 && rec.gas_used == 21000);
    phx_evm_receipt_clear(&rec);
    json_decref(rc);
}

static void test_eip712_bad(void)
{
    /* Found by fuzz_evm_eip712: a type ending in ']' with no '['. */
    const char *bad[] = {
        "{\"types\":{\"M\":[{\"name\":\"a\",\"type\":\"uint256]\"}]},\"primaryType\":\"M\","
        "\"domain\":{},\"message\":{\"a\":[]}}",
        "{\"types\":{\"M\":[{\"name\":\"a\"}]},\"primaryType\":\"M\",\"domain\":{},\"message\":{"
        "\"a\":1}}",
        "{\"types\":{\"M\":[{\"name\":\"a\",\"type\":\"uint8[2]\"}]},\"primaryType\":\"M\","
        "\"domain\":{},\"message\":{\"a\":[1]}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = NULL;
        uint8_t d[32];
        CHECK(phx_json_parse(bad[i], strlen(bad[i]), &j, NULL) == PHX_OK);
        CHECK_MSG(phx_eip712_digest(j, d, NULL) == PHX_ERR_INVALID, "case %zu", i);
        json_decref(j);
    }
}

int main(void)
{
    CHECK(phx_crypto_init() == PHX_OK);
    static const test_case_t cases[] = {
        TEST_CASE(test_u256),         TEST_CASE(test_rlp_strict), TEST_CASE(test_abi_call),
        TEST_CASE(test_abi_hostile),  TEST_CASE(test_event),      TEST_CASE(test_tx_edges),
        TEST_CASE(test_rpc_parse),    TEST_CASE(test_eip712_bad), TEST_CASE(test_tx_ranges),
        TEST_CASE(test_tx_from_node),
    };
    return test_run("test_evm_unit", cases, TEST_COUNT(cases));
}
