/* EVM client against vectors written by others (../shared/testdata/ethereum):
 * ethereum/tests RLP (valid round-trip, invalid rejected), ethers' RLP coder,
 * legacy/EIP-155 and typed (EIP-2930/1559) transactions (serialisation, hash,
 * signature, sender), EIP-712 digests, ABI encodings (v1 and v2), selectors,
 * EIP-55 addresses, abi.encodePacked hashes, and the EIP-155 / EIP-712 examples.
 * Each file's name and counts are printed. */
#include <ctype.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/evm.h"
#include "test.h"

static json_t *load(const char *rel)
{
    const char *path = test_data_path(rel);
    if (!path) return NULL;
    json_error_t je;
    /* ALLOW_NUL: the RLP vectors hold strings with NUL bytes. */
    json_t *j = json_load_file(path, JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
    CHECK_MSG(j != NULL, "%s: %s", rel, je.text);
    return j;
}

static bool hex_eq(const uint8_t *p, size_t n, const char *hex)
{
    phx_buf_t b = PHX_BUF_INIT;
    bool eq = phx_hex_decode(hex, &b, NULL) == PHX_OK && b.len == n &&
              (n == 0 || memcmp(b.ptr, p, n) == 0);
    phx_buf_free(&b);
    return eq;
}

static phx_buf_t hexbuf(const char *hex)
{
    phx_buf_t b = PHX_BUF_INIT;
    phx_error_t e;
    if (!hex || phx_hex_decode(hex, &b, &e)) CHECK_MSG(0, "bad hex %s", hex ? hex : "(null)");
    return b;
}

static void report(const char *file, const char *what, int total, int pass)
{
    printf("%-48s %-28s %5d cases, %5d passed\n", file, what, total, pass);
    CHECK_MSG(total > 0, "%s: no cases", file);
}

/* ---- RLP -------------------------------------------------------------------- */

/* Encode the ethereum/tests "in" form: string bytes, integer, "#bignum", lists. */
static phx_err_t rlp_from_test_in(const json_t *in, phx_buf_t *out)
{
    phx_error_t e;
    if (json_is_array(in)) {
        size_t mark = phx_rlp_list_begin(out), i;
        json_t *v;
        json_array_foreach(in, i, v)
        {
            phx_err_t err = rlp_from_test_in(v, out);
            if (err) return err;
        }
        return phx_rlp_list_end(out, mark);
    }
    if (json_is_integer(in)) return phx_rlp_put_u64(out, (uint64_t)json_integer_value(in));
    const char *s = json_string_value(in);
    if (s && s[0] == '#') {
        /* Big integers may exceed 256 bits (ethereum/tests has 2^256): convert
         * the decimal to minimal big-endian bytes with schoolbook arithmetic. */
        uint8_t be[64] = {0};
        for (const char *d = s + 1; *d; d++) {
            unsigned carry = (unsigned)(*d - '0');
            for (int k = 63; k >= 0; k--) {
                unsigned v = be[k] * 10u + carry;
                be[k] = (uint8_t)v;
                carry = v >> 8;
            }
            if (carry) return PHX_ERR_RANGE;
        }
        size_t z = 0;
        while (z < 64 && be[z] == 0)
            z++;
        (void)e;
        return phx_rlp_put_bytes(out, be + z, 64 - z);
    }
    return phx_rlp_put_bytes(out, (const uint8_t *)s, json_string_length(in));
}

static void test_rlp_valid(void)
{
    const char *rel = "ethereum/ethereum-tests/rlptest.json";
    json_t *j = load(rel);
    if (!j) return;
    int total = 0, enc_ok = 0, rt_ok = 0;
    const char *name;
    json_t *c;
    json_object_foreach(j, name, c)
    {
        total++;
        phx_buf_t enc = PHX_BUF_INIT, re = PHX_BUF_INIT,
                  want = hexbuf(json_string_value(json_object_get(c, "out")));
        CHECK(rlp_from_test_in(json_object_get(c, "in"), &enc) == PHX_OK);
        bool ok = enc.len == want.len && memcmp(enc.ptr, want.ptr, want.len) == 0;
        CHECK_MSG(ok, "rlptest %s: encoding differs", name);
        enc_ok += ok;
        phx_rlp_item_t *it = NULL;
        phx_error_t e;
        phx_err_t err = phx_rlp_decode(want.ptr, want.len, &it, &e);
        CHECK_MSG(err == PHX_OK, "rlptest %s: decode: %s", name, e.message);
        if (!err) {
            CHECK(phx_rlp_encode_item(&re, it) == PHX_OK);
            ok = re.len == want.len && memcmp(re.ptr, want.ptr, want.len) == 0;
            CHECK_MSG(ok, "rlptest %s: round trip differs", name);
            rt_ok += ok;
        }
        phx_rlp_free(it);
        phx_buf_free(&enc);
        phx_buf_free(&re);
        phx_buf_free(&want);
    }
    report(rel, "encode", total, enc_ok);
    report(rel, "decode+re-encode", total, rt_ok);
    json_decref(j);
}

static void test_rlp_invalid(void)
{
    const char *rel = "ethereum/ethereum-tests/invalidRLPTest.json";
    json_t *j = load(rel);
    if (!j) return;
    int total = 0, rejected = 0;
    const char *name;
    json_t *c;
    json_object_foreach(j, name, c)
    {
        total++;
        phx_buf_t b = hexbuf(json_string_value(json_object_get(c, "out")));
        phx_rlp_item_t *it = NULL;
        phx_error_t e;
        phx_err_t err = phx_rlp_decode(b.ptr, b.len, &it, &e);
        CHECK_MSG(err != PHX_OK, "invalidRLP %s accepted", name);
        if (err) rejected++;
        phx_rlp_free(it);
        phx_buf_free(&b);
    }
    report(rel, "rejected", total, rejected);
    json_decref(j);
}

static phx_err_t rlp_from_hex_tree(const json_t *in, phx_buf_t *out)
{
    if (json_is_array(in)) {
        size_t mark = phx_rlp_list_begin(out), i;
        json_t *v;
        json_array_foreach(in, i, v)
        {
            phx_err_t err = rlp_from_hex_tree(v, out);
            if (err) return err;
        }
        return phx_rlp_list_end(out, mark);
    }
    phx_buf_t b = hexbuf(json_string_value(in));
    phx_err_t err = phx_rlp_put_bytes(out, b.ptr, b.len);
    phx_buf_free(&b);
    return err;
}

static bool tree_eq(const phx_rlp_item_t *it, const json_t *j)
{
    if (json_is_array(j)) {
        if (!it->is_list || it->count != json_array_size(j)) return false;
        for (size_t i = 0; i < it->count; i++)
            if (!tree_eq(&it->items[i], json_array_get(j, i))) return false;
        return true;
    }
    return !it->is_list && hex_eq(it->data, it->len, json_string_value(j));
}

static void test_rlp_ethers(void)
{
    const char *rel = "ethereum/ethers-testcases/rlp-coder.json";
    json_t *j = load(rel);
    if (!j) return;
    int total = 0, enc_ok = 0, dec_ok = 0;
    size_t i;
    json_t *c;
    json_array_foreach(j, i, c)
    {
        total++;
        phx_buf_t enc = PHX_BUF_INIT;
        const char *want = json_string_value(json_object_get(c, "encoded"));
        CHECK(rlp_from_hex_tree(json_object_get(c, "decoded"), &enc) == PHX_OK);
        bool ok = hex_eq(enc.ptr, enc.len, want);
        CHECK_MSG(ok, "rlp-coder %s: encoding differs",
                  json_string_value(json_object_get(c, "name")));
        enc_ok += ok;
        phx_buf_t w = hexbuf(want);
        phx_rlp_item_t *it = NULL;
        ok = phx_rlp_decode(w.ptr, w.len, &it, NULL) == PHX_OK &&
             tree_eq(it, json_object_get(c, "decoded"));
        CHECK_MSG(ok, "rlp-coder %s: decoding differs",
                  json_string_value(json_object_get(c, "name")));
        dec_ok += ok;
        phx_rlp_free(it);
        phx_buf_free(&w);
        phx_buf_free(&enc);
    }
    report(rel, "encode", total, enc_ok);
    report(rel, "decode", total, dec_ok);
    json_decref(j);
}

/* ---- transactions --------------------------------------------------------------- */

static phx_u256_t u256_field(const json_t *o, const char *key)
{
    phx_u256_t u = phx_u256_from_u64(0);
    const json_t *v = json_object_get(o, key);
    phx_error_t e;
    if (json_is_integer(v))
        u = phx_u256_from_u64((uint64_t)json_integer_value(v));
    else if (json_is_string(v))
        CHECK_MSG(phx_u256_from_str(json_string_value(v), &u, &e) == PHX_OK, "%s: %s", key,
                  e.message);
    return u;
}

static uint64_t u64_field(const json_t *o, const char *key)
{
    phx_u256_t u = u256_field(o, key);
    uint64_t v = 0;
    CHECK(phx_u256_to_u64(&u, &v, NULL) == PHX_OK);
    return v;
}

/* Fill tx from a JSON description; data and access list storage go to data and al. */
static void tx_from_json(const json_t *o, phx_evm_tx_t *tx, phx_buf_t *data, phx_evm_access_t **al)
{
    memset(tx, 0, sizeof *tx);
    tx->nonce = u64_field(o, "nonce");
    tx->gas_price = u256_field(o, "gasPrice");
    tx->gas_limit = u256_field(o, "gasLimit");
    tx->value = u256_field(o, "value");
    tx->max_fee = u256_field(o, "maxFeePerGas");
    tx->max_priority_fee = u256_field(o, "maxPriorityFeePerGas");
    tx->chain_id = u64_field(o, "chainId");
    const char *to = json_string_value(json_object_get(o, "to"));
    if (to && *to) {
        tx->has_to = true;
        CHECK(phx_hex_decode_fixed(to, tx->to, 20, NULL) == PHX_OK);
    }
    const char *d = json_string_value(json_object_get(o, "data"));
    if (d) CHECK(phx_hex_decode(d, data, NULL) == PHX_OK);
    tx->data = data->ptr;
    tx->data_len = data->len;
    const json_t *list = json_object_get(o, "accessList");
    *al = NULL;
    if (json_is_array(list) && json_array_size(list)) {
        *al = calloc(json_array_size(list), sizeof **al);
        for (size_t i = 0; i < json_array_size(list); i++) {
            const json_t *en = json_array_get(list, i);
            phx_evm_access_t *a = &(*al)[i];
            CHECK(phx_hex_decode_fixed(json_string_value(json_object_get(en, "address")),
                                       a->address, 20, NULL) == PHX_OK);
            const json_t *keys = json_object_get(en, "storageKeys");
            a->key_count = json_array_size(keys);
            a->keys = calloc(a->key_count + 1, 32);
            for (size_t k = 0; k < a->key_count; k++)
                CHECK(phx_hex_decode_fixed(json_string_value(json_array_get(keys, k)), a->keys[k],
                                           32, NULL) == PHX_OK);
        }
        tx->access_list = *al;
        tx->access_count = json_array_size(list);
    }
}

static void free_al(phx_evm_access_t *al, size_t n)
{
    for (size_t i = 0; al && i < n; i++)
        free(al[i].keys);
    free(al);
}

typedef struct {
    int ser, sig, hash, sender, decode;
    int wide_gas, wide_gas_rejected; /* gas limit over 64 bits: encodable, not decodable */
} tx_counts_t;

/* Check one transaction: unsigned serialisation, signature (deterministic, RFC
   6979, so the signed bytes must match), decode of the signed form, hash and
 * the recovered sender. */
static void check_tx(phx_evm_tx_t *tx, const uint8_t sk[32], const char *unsigned_hex,
                     const char *signed_hex, const char *address, const char *name, tx_counts_t *n)
{
    phx_buf_t u = PHX_BUF_INIT, s = PHX_BUF_INIT, want = hexbuf(signed_hex);
    phx_error_t e;
    CHECK(phx_evm_tx_encode_unsigned(tx, &u, &e) == PHX_OK);
    bool ok = hex_eq(u.ptr, u.len, unsigned_hex);
    CHECK_MSG(ok, "%s: unsigned serialisation differs", name);
    n->ser += ok;
    CHECK(phx_evm_tx_sign(tx, sk, &e) == PHX_OK);
    CHECK(phx_evm_tx_encode(tx, &s, &e) == PHX_OK);
    ok = hex_eq(s.ptr, s.len, signed_hex);
    CHECK_MSG(ok, "%s: signed serialisation differs", name);
    n->sig += ok;
    phx_evm_tx_t d;
    phx_err_t err = phx_evm_tx_decode(want.ptr, want.len, &d, &e);
    uint64_t gas;
    if (phx_u256_to_u64(&tx->gas_limit, &gas, NULL) != PHX_OK) {
        /* ethers builds any 256-bit gas limit; a node (and our decoder) holds
         * it in 64 bits, so the signed bytes must be refused, naming the field. */
        n->wide_gas++;
        ok = err == PHX_ERR_RANGE && strstr(e.message, "gasLimit") != NULL;
        CHECK_MSG(ok, "%s: gas limit over 64 bits decoded (%s)", name,
                  err ? e.message : "accepted");
        n->wide_gas_rejected += ok;
        if (!err) phx_evm_tx_clear(&d);
        goto out;
    }
    CHECK_MSG(err == PHX_OK, "%s: decode: %s", name, e.message);
    if (!err) {
        uint8_t h[32], h2[32], a[20], wa[20];
        phx_keccak256(want.ptr, want.len, h);
        ok = phx_evm_tx_hash(&d, h2, &e) == PHX_OK && memcmp(h, h2, 32) == 0;
        CHECK_MSG(ok, "%s: hash of the decoded tx differs", name);
        n->hash += ok;
        phx_buf_t re = PHX_BUF_INIT, ru = PHX_BUF_INIT;
        ok = phx_evm_tx_encode(&d, &re, &e) == PHX_OK && re.len == want.len &&
             memcmp(re.ptr, want.ptr, re.len) == 0 &&
             phx_evm_tx_encode_unsigned(&d, &ru, &e) == PHX_OK &&
             hex_eq(ru.ptr, ru.len, unsigned_hex);
        CHECK_MSG(ok, "%s: decode/re-encode differs", name);
        n->decode += ok;
        ok = phx_evm_tx_sender(&d, a, &e) == PHX_OK &&
             phx_hex_decode_fixed(address, wa, 20, NULL) == PHX_OK && memcmp(a, wa, 20) == 0;
        CHECK_MSG(ok, "%s: sender differs", name);
        n->sender += ok;
        phx_buf_free(&re);
        phx_buf_free(&ru);
        phx_evm_tx_clear(&d);
    }
out:
    phx_buf_free(&u);
    phx_buf_free(&s);
    phx_buf_free(&want);
}

static void report_tx(const char *rel, const char *what, int total, const tx_counts_t *n)
{
    char label[64];
    if (n->wide_gas) {
        snprintf(label, sizeof label, "%s gas>64bit refused", what);
        report(rel, label, n->wide_gas, n->wide_gas_rejected);
    }
    snprintf(label, sizeof label, "%s serialisation", what);
    report(rel, label, total, n->ser);
    snprintf(label, sizeof label, "%s signature", what);
    report(rel, label, total, n->sig);
    snprintf(label, sizeof label, "%s decode", what);
    report(rel, label, total - n->wide_gas, n->decode);
    snprintf(label, sizeof label, "%s hash", what);
    report(rel, label, total - n->wide_gas, n->hash);
    snprintf(label, sizeof label, "%s sender", what);
    report(rel, label, total - n->wide_gas, n->sender);
}

static void test_legacy_txs(void)
{
    const char *rel = "ethereum/ethers-testcases/transactions.json";
    json_t *j = load(rel);
    if (!j) return;
    int total = 0;
    tx_counts_t pre = {0}, eip155 = {0};
    size_t i;
    json_t *c;
    json_array_foreach(j, i, c)
    {
        total++;
        const char *name = json_string_value(json_object_get(c, "name"));
        uint8_t sk[32];
        CHECK(phx_hex_decode_fixed(json_string_value(json_object_get(c, "privateKey")), sk, 32,
                                   NULL) == PHX_OK);
        const char *addr = json_string_value(json_object_get(c, "accountAddress"));
        phx_evm_tx_t tx;
        phx_buf_t data = PHX_BUF_INIT;
        phx_evm_access_t *al;
        tx_from_json(c, &tx, &data, &al);
        tx.type = PHX_TX_LEGACY;
        tx.chain_id = 0;
        check_tx(&tx, sk, json_string_value(json_object_get(c, "unsignedTransaction")),
                 json_string_value(json_object_get(c, "signedTransaction")), addr, name, &pre);
        tx.chain_id = 5;
        tx.is_signed = false;
        check_tx(&tx, sk, json_string_value(json_object_get(c, "unsignedTransactionChainId5")),
                 json_string_value(json_object_get(c, "signedTransactionChainId5")), addr, name,
                 &eip155);
        phx_buf_free(&data);
    }
    report_tx(rel, "pre-155", total, &pre);
    report_tx(rel, "EIP-155 chain 5", total, &eip155);
    json_decref(j);
}

static void test_typed_txs(void)
{
    const char *rel = "ethereum/ethers-testcases/typed-transactions.json";
    json_t *j = load(rel);
    if (!j) return;
    int total[3] = {0};
    tx_counts_t n[3];
    memset(n, 0, sizeof n);
    size_t i;
    json_t *c;
    json_array_foreach(j, i, c)
    {
        const json_t *t = json_object_get(c, "tx");
        int type = (int)json_integer_value(json_object_get(t, "type"));
        CHECK(type == 1 || type == 2);
        if (type != 1 && type != 2) continue;
        total[type]++;
        uint8_t sk[32];
        CHECK(phx_hex_decode_fixed(json_string_value(json_object_get(c, "key")), sk, 32, NULL) ==
              PHX_OK);
        phx_evm_tx_t tx;
        phx_buf_t data = PHX_BUF_INIT;
        phx_evm_access_t *al;
        tx_from_json(t, &tx, &data, &al);
        tx.type = (uint8_t)type;
        check_tx(&tx, sk, json_string_value(json_object_get(c, "unsigned")),
                 json_string_value(json_object_get(c, "signed")),
                 json_string_value(json_object_get(c, "address")),
                 json_string_value(json_object_get(c, "name")), &n[type]);
        free_al(al, tx.access_count);
        phx_buf_free(&data);
    }
    report_tx(rel, "EIP-2930", total[1], &n[1]);
    report_tx(rel, "EIP-1559", total[2], &n[2]);
    json_decref(j);
}

static void test_eip155_example(void)
{
    const char *rel = "ethereum/eip155_example.json";
    json_t *j = load(rel);
    if (!j) return;
    const json_t *t = json_object_get(j, "tx");
    phx_evm_tx_t tx;
    phx_buf_t data = PHX_BUF_INIT, u = PHX_BUF_INIT, s = PHX_BUF_INIT;
    phx_evm_access_t *al;
    uint8_t sk[32], h[32], a[20], wa[20];
    int pass = 0;
    tx_from_json(t, &tx, &data, &al);
    tx.type = PHX_TX_LEGACY;
    CHECK(phx_hex_decode_fixed(json_string_value(json_object_get(j, "private_key")), sk, 32,
                               NULL) == PHX_OK);
    CHECK(phx_evm_tx_encode_unsigned(&tx, &u, NULL) == PHX_OK);
    bool ok = hex_eq(u.ptr, u.len, json_string_value(json_object_get(j, "signing_data")));
    CHECK(ok);
    pass += ok;
    CHECK(phx_evm_tx_signing_hash(&tx, h, NULL) == PHX_OK);
    ok = hex_eq(h, 32, json_string_value(json_object_get(j, "signing_hash")));
    CHECK(ok);
    pass += ok;
    CHECK(phx_evm_tx_sign(&tx, sk, NULL) == PHX_OK);
    phx_u256_t r, sv;
    memcpy(r.b, tx.r, 32);
    memcpy(sv.b, tx.s, 32);
    char dec[80];
    phx_u256_to_dec(&r, dec);
    ok = strcmp(dec, json_string_value(json_object_get(j, "r"))) == 0;
    CHECK(ok);
    pass += ok;
    phx_u256_to_dec(&sv, dec);
    ok = strcmp(dec, json_string_value(json_object_get(j, "s"))) == 0;
    CHECK(ok);
    pass += ok;
    ok =
        tx.chain_id * 2 + 35 + tx.y_parity == (uint64_t)json_integer_value(json_object_get(j, "v"));
    CHECK(ok);
    pass += ok;
    CHECK(phx_evm_tx_encode(&tx, &s, NULL) == PHX_OK);
    ok = hex_eq(s.ptr, s.len, json_string_value(json_object_get(j, "signed_tx")));
    CHECK(ok);
    pass += ok;
    CHECK(phx_evm_tx_hash(&tx, h, NULL) == PHX_OK);
    ok = hex_eq(h, 32, json_string_value(json_object_get(j, "tx_hash")));
    CHECK(ok);
    pass += ok;
    CHECK(phx_evm_tx_sender(&tx, a, NULL) == PHX_OK);
    CHECK(phx_evm_address_parse(json_string_value(json_object_get(j, "sender_address")), wa,
                                NULL) == PHX_OK);
    ok = memcmp(a, wa, 20) == 0;
    CHECK(ok);
    pass += ok;
    report(rel, "fields (data,hash,r,s,v,tx,txhash,sender)", 8, pass);
    CHECK(pass == 8);
    phx_buf_free(&data);
    phx_buf_free(&u);
    phx_buf_free(&s);
    json_decref(j);
}

/* ---- EIP-712 --------------------------------------------------------------------- */

static json_t *typed_from_case(const json_t *c)
{
    return json_pack("{s:O,s:O,s:O,s:O}", "types", json_object_get(c, "types"), "primaryType",
                     json_object_get(c, "primaryType"), "domain", json_object_get(c, "domain"),
                     "message", json_object_get(c, "data"));
}

static void test_eip712(void)
{
    const char *rel = "ethereum/ethers-testcases/eip712.json";
    json_t *j = load(rel);
    if (!j) return;
    int total = 0, enc_ok = 0, dig_ok = 0, sig_ok = 0, sig_total = 0;
    size_t i;
    json_t *c;
    json_array_foreach(j, i, c)
    {
        total++;
        const char *name = json_string_value(json_object_get(c, "name"));
        json_t *typed = typed_from_case(c);
        phx_buf_t enc = PHX_BUF_INIT;
        phx_error_t e;
        uint8_t d[32];
        phx_err_t err = phx_eip712_encode_data(json_object_get(c, "types"),
                                               json_string_value(json_object_get(c, "primaryType")),
                                               json_object_get(c, "data"), &enc, &e);
        bool ok = err == PHX_OK &&
                  hex_eq(enc.ptr, enc.len, json_string_value(json_object_get(c, "encoded")));
        CHECK_MSG(ok, "eip712 %s: encodeData differs (%s)", name, err ? e.message : "value");
        enc_ok += ok;
        err = phx_eip712_digest(typed, d, &e);
        ok = err == PHX_OK && hex_eq(d, 32, json_string_value(json_object_get(c, "digest")));
        CHECK_MSG(ok, "eip712 %s: digest differs (%s)", name, err ? e.message : "value");
        dig_ok += ok;
        if (json_object_get(c, "privateKey")) {
            uint8_t sk[32], sig[65];
            sig_total++;
            CHECK(phx_hex_decode_fixed(json_string_value(json_object_get(c, "privateKey")), sk, 32,
                                       NULL) == PHX_OK);
            ok = phx_eip712_sign(typed, sk, sig, &e) == PHX_OK &&
                 hex_eq(sig, 65, json_string_value(json_object_get(c, "signature")));
            CHECK_MSG(ok, "eip712 %s: signature differs", name);
            sig_ok += ok;
        }
        phx_buf_free(&enc);
        json_decref(typed);
    }
    report(rel, "encodeData", total, enc_ok);
    report(rel, "digest", total, dig_ok);
    report(rel, "signature", sig_total, sig_ok);
    json_decref(j);
}

static void test_eip712_mail(void)
{
    const char *rel = "ethereum/eip712_mail_example.json";
    json_t *c = load(rel);
    if (!c) return;
    json_t *typed = typed_from_case(c);
    const json_t *types = json_object_get(c, "types");
    phx_buf_t et = PHX_BUF_INIT, ep = PHX_BUF_INIT;
    uint8_t h[32], sig[65], sk[32], a[20], wa[20];
    int pass = 0;
    bool ok;
    CHECK(phx_eip712_encode_type(types, "Mail", &et, NULL) == PHX_OK);
    ok = strcmp((char *)et.ptr, json_string_value(json_object_get(c, "encodeType_Mail"))) == 0;
    CHECK(ok);
    pass += ok;
    CHECK(phx_eip712_encode_type(types, "Person", &ep, NULL) == PHX_OK);
    ok = strcmp((char *)ep.ptr, json_string_value(json_object_get(c, "encodeType_Person"))) == 0;
    CHECK(ok);
    pass += ok;
    phx_keccak256(et.ptr, et.len, h);
    ok = hex_eq(h, 32, json_string_value(json_object_get(c, "typeHash_Mail")));
    CHECK(ok);
    pass += ok;
    CHECK(phx_eip712_domain_separator(json_object_get(c, "domain"), types, h, NULL) == PHX_OK);
    ok = hex_eq(h, 32, json_string_value(json_object_get(c, "domainSeparator")));
    CHECK(ok);
    pass += ok;
    CHECK(phx_eip712_hash_struct(types, "Mail", json_object_get(c, "data"), h, NULL) == PHX_OK);
    ok = hex_eq(h, 32, json_string_value(json_object_get(c, "hashStruct_message")));
    CHECK(ok);
    pass += ok;
    CHECK(phx_eip712_digest(typed, h, NULL) == PHX_OK);
    ok = hex_eq(h, 32, json_string_value(json_object_get(c, "digest")));
    CHECK(ok);
    pass += ok;
    CHECK(phx_hex_decode_fixed(json_string_value(json_object_get(c, "privateKey")), sk, 32, NULL) ==
          PHX_OK);
    CHECK(phx_eip712_sign(typed, sk, sig, NULL) == PHX_OK);
    ok = hex_eq(sig, 65, json_string_value(json_object_get(c, "signature")));
    CHECK(ok);
    pass += ok;
    CHECK(phx_evm_address_parse(json_string_value(json_object_get(c, "signer_address")), wa,
                                NULL) == PHX_OK);
    ok = phx_eip712_recover(typed, sig, a, NULL) == PHX_OK && memcmp(a, wa, 20) == 0;
    CHECK(ok);
    pass += ok;
    report(rel, "steps (types,hashes,digest,sig,recover)", 8, pass);
    CHECK(pass == 8);
    phx_buf_free(&et);
    phx_buf_free(&ep);
    json_decref(typed);
    json_decref(c);
}

/* ---- ABI ----------------------------------------------------------------------- */

/* ethers' {type, value} wrappers -> plain JSON values for the ABI bridge. */
static json_t *unwrap(const json_t *v)
{
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, unwrap(x));
        return a;
    }
    if (json_is_object(v) && json_object_get(v, "type") && json_object_get(v, "value"))
        return unwrap(json_object_get(v, "value"));
    return json_incref((json_t *)v);
}

static void test_abi_file(const char *rel, const char *values_key)
{
    json_t *j = load(rel);
    if (!j) return;
    int total = 0, enc_ok = 0, dec_ok = 0, json_ok = 0;
    size_t i;
    json_t *c;
    json_array_foreach(j, i, c)
    {
        total++;
        const char *name = json_string_value(json_object_get(c, "name"));
        json_t *types = json_loads(json_string_value(json_object_get(c, "types")), 0, NULL);
        json_t *wrapped =
            json_loads(json_string_value(json_object_get(c, values_key)), JSON_ALLOW_NUL, NULL);
        json_t *values = unwrap(wrapped);
        phx_buf_t sig = PHX_BUF_INIT, enc = PHX_BUF_INIT, re = PHX_BUF_INIT;
        phx_abi_type_t *t = NULL;
        phx_abi_value_t *v = NULL, *d = NULL;
        phx_error_t e;
        phx_buf_append_byte(&sig, '(');
        for (size_t k = 0; k < json_array_size(types); k++) {
            if (k) phx_buf_append_byte(&sig, ',');
            phx_buf_append_str(&sig, json_string_value(json_array_get(types, k)));
        }
        phx_buf_append_byte(&sig, ')');
        phx_err_t err = phx_abi_type_parse((char *)sig.ptr, &t, &e);
        CHECK_MSG(err == PHX_OK, "abi %s: type %s: %s", name, sig.ptr, e.message);
        if (!err) err = phx_abi_value_from_json(t, values, &v, &e);
        CHECK_MSG(err == PHX_OK, "abi %s: values: %s", name, e.message);
        if (!err) err = phx_abi_encode(t, v, &enc, &e);
        const char *want = json_string_value(json_object_get(c, "result"));
        bool ok = err == PHX_OK && hex_eq(enc.ptr, enc.len, want);
        CHECK_MSG(ok, "abi %s: encoding differs (%s)", name, err ? e.message : "value");
        enc_ok += ok;
        phx_buf_t w = hexbuf(want);
        if (t) {
            err = phx_abi_decode(t, w.ptr, w.len, &d, &e);
            ok = err == PHX_OK && phx_abi_encode(t, d, &re, &e) == PHX_OK && re.len == w.len &&
                 memcmp(re.ptr, w.ptr, w.len) == 0;
            CHECK_MSG(ok, "abi %s: decode/re-encode differs (%s)", name, err ? e.message : "value");
            dec_ok += ok;
            /* The decoded tree printed as JSON must read back to the same encoding. */
            json_t *dj = NULL;
            phx_abi_value_t *back = NULL;
            phx_buf_t re2 = PHX_BUF_INIT;
            ok = d && phx_abi_value_to_json(t, d, &dj, &e) == PHX_OK &&
                 phx_abi_value_from_json(t, dj, &back, &e) == PHX_OK &&
                 phx_abi_encode(t, back, &re2, &e) == PHX_OK && re2.len == w.len &&
                 memcmp(re2.ptr, w.ptr, w.len) == 0;
            CHECK_MSG(ok, "abi %s: JSON round trip differs", name);
            json_ok += ok;
            json_decref(dj);
            phx_abi_value_free(back);
            phx_buf_free(&re2);
        }
        phx_buf_free(&w);
        phx_abi_value_free(v);
        phx_abi_value_free(d);
        phx_abi_type_free(t);
        phx_buf_free(&sig);
        phx_buf_free(&enc);
        phx_buf_free(&re);
        json_decref(types);
        json_decref(wrapped);
        json_decref(values);
    }
    report(rel, "encode", total, enc_ok);
    report(rel, "decode+re-encode", total, dec_ok);
    report(rel, "decode->JSON->encode", total, json_ok);
    json_decref(j);
}

static void test_selectors(void)
{
    const char *rel = "ethereum/ethers-testcases/contract-signatures.json";
    json_t *j = load(rel);
    if (!j) return;
    int total = 0, pass = 0;
    size_t i;
    json_t *c;
    json_array_foreach(j, i, c)
    {
        total++;
        uint8_t sel[4];
        phx_error_t e;
        bool ok = phx_abi_selector(json_string_value(json_object_get(c, "signature")), sel, &e) ==
                      PHX_OK &&
                  hex_eq(sel, 4, json_string_value(json_object_get(c, "sigHash")));
        CHECK_MSG(ok, "selector %s differs", json_string_value(json_object_get(c, "signature")));
        pass += ok;
    }
    report(rel, "selector", total, pass);
    json_decref(j);
}

static void test_accounts(void)
{
    const char *rel = "ethereum/ethers-testcases/accounts.json";
    json_t *j = load(rel);
    if (!j) return;
    int total = 0, cs_ok = 0, parse_ok = 0, bad_rejected = 0, bad_total = 0, key_total = 0,
        key_ok = 0;
    size_t i;
    json_t *c;
    json_array_foreach(j, i, c)
    {
        total++;
        uint8_t a[20], b[20];
        char cs[43];
        const char *want = json_string_value(json_object_get(c, "checksumAddress"));
        CHECK(phx_hex_decode_fixed(json_string_value(json_object_get(c, "address")), a, 20, NULL) ==
              PHX_OK);
        phx_eth_address_checksum(a, cs);
        bool ok = strcmp(cs, want) == 0;
        CHECK_MSG(ok, "EIP-55 of %s", want);
        cs_ok += ok;
        ok = phx_evm_address_parse(want, b, NULL) == PHX_OK && memcmp(a, b, 20) == 0;
        CHECK_MSG(ok, "parse %s", want);
        parse_ok += ok;
        /* Flip the case of one letter: a mixed-case address must then fail. */
        char bad[43];
        strcpy(bad, want);
        for (size_t k = 2; k < 42; k++)
            if (isalpha((unsigned char)bad[k])) {
                bad[k] = (char)(isupper((unsigned char)bad[k]) ? tolower((unsigned char)bad[k])
                                                               : toupper((unsigned char)bad[k]));
                bool mixed = false, lo = false, up = false;
                for (size_t m = 2; m < 42; m++)
                    lo |= islower((unsigned char)bad[m]) != 0,
                        up |= isupper((unsigned char)bad[m]) != 0;
                mixed = lo && up;
                if (mixed) {
                    bad_total++;
                    ok = phx_evm_address_parse(bad, b, NULL) != PHX_OK;
                    CHECK_MSG(ok, "bad checksum %s accepted", bad);
                    bad_rejected += ok;
                }
                break;
            }
        if (json_object_get(c, "privateKey")) {
            uint8_t sk[32];
            key_total++;
            ok = phx_hex_decode_fixed(json_string_value(json_object_get(c, "privateKey")), sk, 32,
                                      NULL) == PHX_OK &&
                 phx_eth_address_from_seckey(sk, b) == PHX_OK && memcmp(a, b, 20) == 0;
            CHECK_MSG(ok, "address from key for %s", want);
            key_ok += ok;
        }
    }
    report(rel, "EIP-55 checksum", total, cs_ok);
    report(rel, "parse checksummed", total, parse_ok);
    report(rel, "bad checksum rejected", bad_total, bad_rejected);
    report(rel, "address from private key", key_total, key_ok);
    json_decref(j);
}

static void test_packed(void)
{
    const char *rel = "ethereum/ethers-testcases/solidity-hashes.json";
    json_t *j = load(rel);
    if (!j) return;
    int total = 0, pass = 0;
    size_t i;
    json_t *c;
    json_array_foreach(j, i, c)
    {
        total++;
        const json_t *types = json_object_get(c, "types");
        phx_buf_t sig = PHX_BUF_INIT, enc = PHX_BUF_INIT;
        phx_abi_type_t *t = NULL;
        phx_abi_value_t *v = NULL;
        phx_error_t e;
        phx_buf_append_byte(&sig, '(');
        for (size_t k = 0; k < json_array_size(types); k++) {
            if (k) phx_buf_append_byte(&sig, ',');
            phx_buf_append_str(&sig, json_string_value(json_array_get(types, k)));
        }
        phx_buf_append_byte(&sig, ')');
        uint8_t h[32];
        phx_err_t err = phx_abi_type_parse((char *)sig.ptr, &t, &e);
        if (!err) err = phx_abi_value_from_json(t, json_object_get(c, "values"), &v, &e);
        if (!err) err = phx_abi_encode_packed(t, v, &enc, &e);
        if (!err) phx_keccak256(enc.ptr, enc.len, h);
        bool ok =
            err == PHX_OK && hex_eq(h, 32, json_string_value(json_object_get(c, "keccak256")));
        CHECK_MSG(ok, "packed %s differs (%s)", json_string_value(json_object_get(c, "name")),
                  err ? e.message : "value");
        pass += ok;
        phx_abi_value_free(v);
        phx_abi_type_free(t);
        phx_buf_free(&sig);
        phx_buf_free(&enc);
    }
    report(rel, "keccak(encodePacked)", total, pass);
    json_decref(j);
}

static void test_abi_contract_interface(void)
{
    test_abi_file("ethereum/ethers-testcases/contract-interface.stripped.json", "normalizedValues");
}

static void test_abi_contract_interface_abi2(void)
{
    test_abi_file("ethereum/ethers-testcases/contract-interface-abi2.stripped.json", "values");
}

int main(void)
{
    CHECK(phx_crypto_init() == PHX_OK);
    static const test_case_t cases[] = {
        TEST_CASE(test_rlp_valid),
        TEST_CASE(test_rlp_invalid),
        TEST_CASE(test_rlp_ethers),
        TEST_CASE(test_legacy_txs),
        TEST_CASE(test_typed_txs),
        TEST_CASE(test_eip155_example),
        TEST_CASE(test_eip712),
        TEST_CASE(test_eip712_mail),
        TEST_CASE(test_abi_contract_interface),
        TEST_CASE(test_abi_contract_interface_abi2),
        TEST_CASE(test_selectors),
        TEST_CASE(test_accounts),
        TEST_CASE(test_packed),
    };
    return test_run("test_evm_vectors", cases, TEST_COUNT(cases));
}
