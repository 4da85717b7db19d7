/* Ethereum transactions: legacy (with and without EIP-155 replay protection),
 * EIP-2930 (type 1) and EIP-1559 (type 2) in EIP-2718 envelopes. Encoding for
 * signing and sending, strict decoding, signing and sender recovery; plus
 * address parsing (EIP-55) and CREATE addresses. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/evm_rpc.h"
#include "phx/evm_tx.h"

/* ---- addresses ----------------------------------------------------------------- */

phx_err_t phx_evm_address_parse(const char *s, uint8_t out[20], phx_error_t *e)
{
    if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || strlen(s) != 42)
        return phx_fail(e, PHX_ERR_INVALID, "address must be 0x followed by 40 hex digits");
    bool lower = false, upper = false;
    for (size_t i = 2; i < 42; i++) {
        if (islower((unsigned char)s[i])) lower = true;
        if (isupper((unsigned char)s[i])) upper = true;
    }
    phx_err_t err = phx_hex_decode_fixed(s + 2, out, 20, e);
    if (err) return err;
    if (lower && upper) {
        /* Mixed case is a claim of an EIP-55 checksum: hold it to it. */
        char cs[43];
        phx_eth_address_checksum(out, cs);
        if (strcmp(cs + 2, s + 2) != 0)
            return phx_fail(e, PHX_ERR_VERIFY, "address has a bad EIP-55 checksum");
    }
    return PHX_OK;
}

phx_err_t phx_evm_create_address(const uint8_t sender[20], uint64_t nonce, uint8_t out[20])
{
    phx_buf_t b = PHX_BUF_INIT;
    uint8_t h[32];
    size_t mark = phx_rlp_list_begin(&b);
    phx_err_t err;
    if ((err = phx_rlp_put_bytes(&b, sender, 20)) || (err = phx_rlp_put_u64(&b, nonce)) ||
        (err = phx_rlp_list_end(&b, mark)))
        goto out;
    phx_keccak256(b.ptr, b.len, h);
    memcpy(out, h + 12, 20);
out:
    phx_buf_free(&b);
    return err;
}

/* ---- encoding ------------------------------------------------------------------ */

static phx_err_t put_access_list(phx_buf_t *b, const phx_evm_tx_t *tx)
{
    phx_err_t err;
    size_t outer = phx_rlp_list_begin(b);
    for (size_t i = 0; i < tx->access_count; i++) {
        const phx_evm_access_t *a = &tx->access_list[i];
        size_t entry = phx_rlp_list_begin(b);
        if ((err = phx_rlp_put_bytes(b, a->address, 20))) return err;
        size_t keys = phx_rlp_list_begin(b);
        for (size_t k = 0; k < a->key_count; k++)
            if ((err = phx_rlp_put_bytes(b, a->keys[k], 32))) return err;
        if ((err = phx_rlp_list_end(b, keys)) || (err = phx_rlp_list_end(b, entry))) return err;
    }
    return phx_rlp_list_end(b, outer);
}

static phx_err_t put_int32(phx_buf_t *b, const uint8_t v[32])
{
    phx_u256_t u;
    memcpy(u.b, v, 32);
    return phx_rlp_put_u256(b, &u);
}

/* Fields shared by every form, in the order each type lists them. */
static phx_err_t put_body(phx_buf_t *b, const phx_evm_tx_t *tx)
{
    phx_err_t err;
    if (tx->type != PHX_TX_LEGACY && (err = phx_rlp_put_u64(b, tx->chain_id))) return err;
    if ((err = phx_rlp_put_u64(b, tx->nonce))) return err;
    if (tx->type == PHX_TX_EIP1559) {
        if ((err = phx_rlp_put_u256(b, &tx->max_priority_fee))) return err;
        if ((err = phx_rlp_put_u256(b, &tx->max_fee))) return err;
    } else if ((err = phx_rlp_put_u256(b, &tx->gas_price))) {
        return err;
    }
    if ((err = phx_rlp_put_u256(b, &tx->gas_limit))) return err;
    if ((err = phx_rlp_put_bytes(b, tx->to, tx->has_to ? 20 : 0))) return err;
    if ((err = phx_rlp_put_u256(b, &tx->value))) return err;
    if ((err = phx_rlp_put_bytes(b, tx->data, tx->data_len))) return err;
    if (tx->type != PHX_TX_LEGACY && (err = put_access_list(b, tx))) return err;
    return PHX_OK;
}

static phx_err_t encode(const phx_evm_tx_t *tx, bool with_sig, phx_buf_t *out, phx_error_t *e)
{
    phx_err_t err;
    if (tx->type > PHX_TX_EIP1559) return phx_fail(e, PHX_ERR_UNSUPPORTED, "tx: type %u", tx->type);
    if (with_sig && !tx->is_signed) return phx_fail(e, PHX_ERR_STATE, "tx: not signed");
    if (tx->type != PHX_TX_LEGACY && (err = phx_buf_append_byte(out, tx->type))) goto nomem;
    size_t mark = phx_rlp_list_begin(out);
    if ((err = put_body(out, tx))) goto nomem;
    if (with_sig) {
        if (tx->type == PHX_TX_LEGACY) {
            /* EIP-155: v = chainId * 2 + 35 + parity; before it, 27 + parity. */
            phx_u256_t v = phx_u256_from_u64(tx->chain_id);
            phx_u256_t add =
                phx_u256_from_u64(tx->chain_id ? 35u + tx->y_parity : 27u + tx->y_parity);
            v = phx_u256_mul_u64(&v, 2);
            v = phx_u256_add(&v, &add);
            if ((err = phx_rlp_put_u256(out, &v))) goto nomem;
        } else if ((err = phx_rlp_put_u64(out, tx->y_parity))) {
            goto nomem;
        }
        if ((err = put_int32(out, tx->r)) || (err = put_int32(out, tx->s))) goto nomem;
    } else if (tx->type == PHX_TX_LEGACY && tx->chain_id) {
        if ((err = phx_rlp_put_u64(out, tx->chain_id)) || (err = phx_rlp_put_bytes(out, NULL, 0)) ||
            (err = phx_rlp_put_bytes(out, NULL, 0)))
            goto nomem;
    }
    if ((err = phx_rlp_list_end(out, mark))) goto nomem;
    return PHX_OK;
nomem:
    return phx_fail(e, err, "tx: out of memory");
}

phx_err_t phx_evm_tx_encode_unsigned(const phx_evm_tx_t *tx, phx_buf_t *out, phx_error_t *e)
{
    return encode(tx, false, out, e);
}

phx_err_t phx_evm_tx_encode(const phx_evm_tx_t *tx, phx_buf_t *out, phx_error_t *e)
{
    return encode(tx, true, out, e);
}

phx_err_t phx_evm_tx_signing_hash(const phx_evm_tx_t *tx, uint8_t out[32], phx_error_t *e)
{
    phx_buf_t b = PHX_BUF_INIT;
    phx_err_t err = encode(tx, false, &b, e);
    if (!err) phx_keccak256(b.ptr, b.len, out);
    phx_buf_free(&b);
    return err;
}

phx_err_t phx_evm_tx_hash(const phx_evm_tx_t *tx, uint8_t out[32], phx_error_t *e)
{
    phx_buf_t b = PHX_BUF_INIT;
    phx_err_t err = encode(tx, true, &b, e);
    if (!err) phx_keccak256(b.ptr, b.len, out);
    phx_buf_free(&b);
    return err;
}

phx_err_t phx_evm_tx_sign(phx_evm_tx_t *tx, const uint8_t sk[32], phx_error_t *e)
{
    uint8_t digest[32], sig[65];
    phx_err_t err = phx_evm_tx_signing_hash(tx, digest, e);
    if (err) return err;
    if ((err = phx_secp256k1_sign(sk, digest, sig))) return phx_fail(e, err, "tx: signing failed");
    memcpy(tx->r, sig, 32);
    memcpy(tx->s, sig + 32, 32);
    tx->y_parity = sig[64];
    tx->is_signed = true;
    phx_secure_zero(sig, sizeof sig);
    return PHX_OK;
}

phx_err_t phx_evm_tx_sender(const phx_evm_tx_t *tx, uint8_t addr[20], phx_error_t *e)
{
    uint8_t digest[32], sig[65], pub[64];
    phx_err_t err;
    if (!tx->is_signed) return phx_fail(e, PHX_ERR_STATE, "tx: not signed");
    if ((err = phx_evm_tx_signing_hash(tx, digest, e))) return err;
    memcpy(sig, tx->r, 32);
    memcpy(sig + 32, tx->s, 32);
    sig[64] = tx->y_parity;
    if ((err = phx_evm_tx_check_signature(tx->r, tx->s, e))) return err;
    if ((err = phx_secp256k1_recover(digest, sig, pub)))
        return phx_fail(e, PHX_ERR_VERIFY, "tx: signature does not recover a key");
    phx_eth_address_from_pubkey(pub, addr);
    return PHX_OK;
}

/* ---- decoding ------------------------------------------------------------------ */

typedef struct {
    uint8_t *data;
    phx_evm_access_t *list;
    size_t count;
} owned_t;

void phx_evm_tx_clear(phx_evm_tx_t *tx)
{
    if (!tx) return;
    owned_t *o = tx->owned_;
    if (o) {
        for (size_t i = 0; i < o->count; i++)
            free(o->list[i].keys);
        free(o->list);
        free(o->data);
        free(o);
    }
    tx->owned_ = NULL;
    tx->data = NULL;
    tx->data_len = 0;
    tx->access_list = NULL;
    tx->access_count = 0;
}

static phx_err_t get_bytes32_int(const phx_rlp_item_t *it, uint8_t out[32], phx_error_t *e)
{
    phx_u256_t u;
    phx_err_t err = phx_rlp_item_u256(it, &u, e);
    if (!err) memcpy(out, u.b, 32);
    return err;
}

static phx_err_t get_access_list(const phx_rlp_item_t *it, owned_t *o, phx_error_t *e)
{
    if (!it->is_list) return phx_fail(e, PHX_ERR_INVALID, "tx: access list must be a list");
    o->list = calloc(it->count ? it->count : 1, sizeof *o->list);
    if (!o->list) return phx_fail(e, PHX_ERR_NOMEM, "tx: out of memory");
    for (size_t i = 0; i < it->count; i++) {
        const phx_rlp_item_t *en = &it->items[i];
        if (!en->is_list || en->count != 2 || en->items[0].is_list || en->items[0].len != 20 ||
            !en->items[1].is_list)
            return phx_fail(e, PHX_ERR_INVALID, "tx: bad access list entry %zu", i);
        phx_evm_access_t *a = &o->list[o->count++];
        memcpy(a->address, en->items[0].data, 20);
        const phx_rlp_item_t *keys = &en->items[1];
        a->keys = calloc(keys->count ? keys->count : 1, 32);
        if (!a->keys) return phx_fail(e, PHX_ERR_NOMEM, "tx: out of memory");
        for (size_t k = 0; k < keys->count; k++) {
            if (keys->items[k].is_list || keys->items[k].len != 32)
                return phx_fail(e, PHX_ERR_INVALID, "tx: access list key must be 32 bytes");
            memcpy(a->keys[k], keys->items[k].data, 32);
        }
        a->key_count = keys->count;
    }
    return PHX_OK;
}

/* secp256k1's group order n and n/2 (SEC 2, 2.4.1), big-endian. */
static const uint8_t secp256k1_n[32] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
static const uint8_t secp256k1_half_n[32] = {
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};

static bool is_zero32(const uint8_t v[32])
{
    uint8_t acc = 0;
    for (size_t i = 0; i < 32; i++)
        acc |= v[i];
    return acc == 0;
}

phx_err_t phx_evm_tx_check_signature(const uint8_t r[32], const uint8_t s[32], phx_error_t *e)
{
    if (is_zero32(r)) return phx_fail(e, PHX_ERR_VERIFY, "tx: signature r is zero");
    if (is_zero32(s)) return phx_fail(e, PHX_ERR_VERIFY, "tx: signature s is zero");
    if (memcmp(r, secp256k1_n, 32) >= 0)
        return phx_fail(e, PHX_ERR_VERIFY, "tx: signature r is not below the curve order");
    /* EIP-2 (Homestead on): s above n/2 is the malleable twin of a valid
     * signature, refused for every transaction type since. */
    if (memcmp(s, secp256k1_half_n, 32) > 0)
        return phx_fail(e, PHX_ERR_VERIFY, "tx: signature s is above n/2 (EIP-2 low-s rule)");
    return PHX_OK;
}

phx_err_t phx_evm_chain_id_check(uint64_t chain_id, phx_error_t *e)
{
    if (chain_id == 0) return phx_fail(e, PHX_ERR_INVALID, "tx: chain id 0 names no chain");
    if (chain_id > PHX_EVM_CHAIN_ID_MAX)
        return phx_fail(e, PHX_ERR_RANGE, "tx: chain id %llu above the EIP-2294 bound",
                        (unsigned long long)chain_id);
    return PHX_OK;
}

/* Legacy v: 27/28 before EIP-155, chainId * 2 + 35 + parity after it. */
static phx_err_t legacy_v_value(const phx_u256_t *v, phx_evm_tx_t *tx, phx_error_t *e)
{
    uint64_t v64;
    phx_err_t err;
    /* v fits 64 bits exactly when the chain id keeps the EIP-2294 bound. */
    if (phx_u256_to_u64(v, &v64, NULL))
        return phx_fail(e, PHX_ERR_RANGE, "tx: v wider than 64 bits (chain id out of range)");
    if (v64 == 27 || v64 == 28) {
        tx->chain_id = 0;
        tx->y_parity = (uint8_t)(v64 - 27);
        return PHX_OK;
    }
    if (v64 < 35)
        return phx_fail(e, PHX_ERR_INVALID, "tx: v %llu is neither 27/28 nor an EIP-155 value",
                        (unsigned long long)v64);
    tx->chain_id = (v64 - 35) / 2;
    tx->y_parity = (uint8_t)((v64 - 35) % 2);
    if ((err = phx_evm_chain_id_check(tx->chain_id, e)))
        return phx_error_wrap(e, err, "tx: v %llu", (unsigned long long)v64);
    return PHX_OK;
}

static phx_err_t legacy_v(const phx_rlp_item_t *it, phx_evm_tx_t *tx, phx_error_t *e)
{
    phx_u256_t v;
    phx_err_t err = phx_rlp_item_u256(it, &v, e);
    if (err) return phx_error_wrap(e, err, "tx: v");
    return legacy_v_value(&v, tx, e);
}

/* Decode p as a signed transaction (signed = true) or as the payload that is
 * signed (false). The two never overlap: an unsigned legacy payload
 * [..., chainId, 0, 0] has the shape of a signed one with r = s = 0, which
 * as a signature is invalid, so the caller's intent decides the reading. */
static phx_err_t decode(const uint8_t *p, size_t len, bool signed_form, phx_evm_tx_t *out,
                        phx_error_t *e)
{
    phx_rlp_item_t *root = NULL;
    phx_err_t err;
    phx_evm_tx_t tx;
    owned_t *o = calloc(1, sizeof *o);
    memset(&tx, 0, sizeof tx);
    if (!o) return phx_fail(e, PHX_ERR_NOMEM, "tx: out of memory");
    tx.owned_ = o;
    if (len == 0) {
        err = phx_fail(e, PHX_ERR_TRUNCATED, "tx: empty");
        goto fail;
    }
    /* EIP-2718: a first byte below 0x7f is a type; a list header means legacy. */
    if (p[0] <= 0x7f) {
        tx.type = p[0];
        if (tx.type != PHX_TX_EIP2930 && tx.type != PHX_TX_EIP1559) {
            err = phx_fail(e, PHX_ERR_UNSUPPORTED, "tx: type %u", tx.type);
            goto fail;
        }
        p++, len--;
    } else if (p[0] < 0xc0) {
        err = phx_fail(e, PHX_ERR_INVALID, "tx: neither a typed envelope nor an RLP list");
        goto fail;
    }
    if ((err = phx_rlp_decode(p, len, &root, e))) goto fail;
    if (!root->is_list) {
        err = phx_fail(e, PHX_ERR_INVALID, "tx: not an RLP list");
        goto fail;
    }
    size_t body = tx.type == PHX_TX_LEGACY ? 6 : tx.type == PHX_TX_EIP2930 ? 8 : 9;
    size_t n = root->count;
    const phx_rlp_item_t *f = root->items;
    /* The unsigned EIP-155 payload carries [chainId, 0, 0] in the signature's place. */
    bool eip155_payload = !signed_form && tx.type == PHX_TX_LEGACY && n == body + 3;
    if (signed_form && n == body) {
        err = phx_fail(e, PHX_ERR_INVALID,
                       "tx: %zu fields for type %u is an unsigned payload, not a signed "
                       "transaction",
                       n, tx.type);
        goto fail;
    }
    if (n != (signed_form || eip155_payload ? body + 3 : body)) {
        err = phx_fail(e, PHX_ERR_INVALID, "tx: %zu fields for type %u (%s has %zu)", n, tx.type,
                       signed_form ? "a signed one" : "its unsigned payload",
                       signed_form || eip155_payload ? body + 3 : body);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        bool want_list = tx.type != PHX_TX_LEGACY && i == body - 1;
        if (f[i].is_list != want_list) {
            err = phx_fail(e, PHX_ERR_INVALID, "tx: field %zu has the wrong shape", i);
            goto fail;
        }
    }
    size_t i = 0;
    if (tx.type != PHX_TX_LEGACY) {
        if ((err = phx_rlp_item_u64(&f[i++], &tx.chain_id, e))) {
            phx_error_wrap(e, err, "tx: chainId");
            goto fail;
        }
        /* A typed tx may name chain id 0 (no chain): well-formed, refused only
         * by a chain comparing it with its own; past EIP-2294 it is malformed. */
        if (tx.chain_id > PHX_EVM_CHAIN_ID_MAX) {
            err = phx_fail(e, PHX_ERR_RANGE, "tx: chain id %llu above the EIP-2294 bound",
                           (unsigned long long)tx.chain_id);
            goto fail;
        }
    }
    if ((err = phx_rlp_item_u64(&f[i++], &tx.nonce, e))) {
        phx_error_wrap(e, err, "tx: nonce");
        goto fail;
    }
    if (tx.type == PHX_TX_EIP1559) {
        if ((err = phx_rlp_item_u256(&f[i++], &tx.max_priority_fee, e))) {
            phx_error_wrap(e, err, "tx: maxPriorityFeePerGas");
            goto fail;
        }
        if ((err = phx_rlp_item_u256(&f[i++], &tx.max_fee, e))) {
            phx_error_wrap(e, err, "tx: maxFeePerGas");
            goto fail;
        }
    } else if ((err = phx_rlp_item_u256(&f[i++], &tx.gas_price, e))) {
        phx_error_wrap(e, err, "tx: gasPrice");
        goto fail;
    }
    /* Every client holds the gas limit in 64 bits; a wider one is no transaction. */
    uint64_t gas_limit;
    if ((err = phx_rlp_item_u64(&f[i++], &gas_limit, e))) {
        phx_error_wrap(e, err, "tx: gasLimit");
        goto fail;
    }
    tx.gas_limit = phx_u256_from_u64(gas_limit);
    if (f[i].len != 0 && f[i].len != 20) {
        err = phx_fail(e, PHX_ERR_INVALID, "tx: 'to' must be empty or 20 bytes, got %zu", f[i].len);
        goto fail;
    }
    tx.has_to = f[i].len == 20;
    if (tx.has_to) memcpy(tx.to, f[i].data, 20);
    i++;
    if ((err = phx_rlp_item_u256(&f[i++], &tx.value, e))) {
        phx_error_wrap(e, err, "tx: value");
        goto fail;
    }
    o->data = malloc(f[i].len ? f[i].len : 1);
    if (!o->data) {
        err = phx_fail(e, PHX_ERR_NOMEM, "tx: out of memory");
        goto fail;
    }
    if (f[i].len) memcpy(o->data, f[i].data, f[i].len);
    tx.data = o->data;
    tx.data_len = f[i].len;
    i++;
    if (tx.type != PHX_TX_LEGACY) {
        if ((err = get_access_list(&f[i++], o, e))) goto fail;
        tx.access_list = o->list;
        tx.access_count = o->count;
    }
    if (eip155_payload) {
        /* EIP-155 signing payload: [..., chainId, 0, 0], the zeros as empty strings. */
        if ((err = phx_rlp_item_u64(&f[i], &tx.chain_id, e))) {
            phx_error_wrap(e, err, "tx: chainId");
            goto fail;
        }
        if ((err = phx_evm_chain_id_check(tx.chain_id, e))) goto fail;
        if (f[i + 1].len != 0 || f[i + 2].len != 0) {
            err = phx_fail(e, PHX_ERR_INVALID, "tx: EIP-155 payload must end in [chainId, 0, 0]");
            goto fail;
        }
    } else if (signed_form) {
        if (tx.type == PHX_TX_LEGACY) {
            if ((err = legacy_v(&f[i++], &tx, e))) goto fail;
        } else {
            uint64_t parity;
            if ((err = phx_rlp_item_u64(&f[i++], &parity, e))) {
                phx_error_wrap(e, err, "tx: yParity");
                goto fail;
            }
            if (parity > 1) {
                err = phx_fail(e, PHX_ERR_INVALID, "tx: y parity must be 0 or 1");
                goto fail;
            }
            tx.y_parity = (uint8_t)parity;
        }
        if ((err = get_bytes32_int(&f[i++], tx.r, e))) {
            phx_error_wrap(e, err, "tx: r");
            goto fail;
        }
        if ((err = get_bytes32_int(&f[i++], tx.s, e))) {
            phx_error_wrap(e, err, "tx: s");
            goto fail;
        }
        if ((err = phx_evm_tx_check_signature(tx.r, tx.s, e))) goto fail;
        tx.is_signed = true;
        /* A signature in range may still name no point (r not an x on the
         * curve, or the key would be the point at infinity): no sender, no tx. */
        if ((err = phx_evm_tx_sender(&tx, tx.from, e))) goto fail;
    }
    phx_rlp_free(root);
    *out = tx;
    return PHX_OK;
fail:
    phx_rlp_free(root);
    phx_evm_tx_clear(&tx);
    return err;
}

phx_err_t phx_evm_tx_decode(const uint8_t *p, size_t len, phx_evm_tx_t *out, phx_error_t *e)
{
    return decode(p, len, true, out, e);
}

phx_err_t phx_evm_tx_decode_unsigned(const uint8_t *p, size_t len, phx_evm_tx_t *out,
                                     phx_error_t *e)
{
    return decode(p, len, false, out, e);
}

/* ---- transactions as a node describes them ------------------------------------ */

/* A quantity member: required, or absent/null giving *present = false. */
static phx_err_t json_u256(const json_t *o, const char *key, bool required, phx_u256_t *out,
                           bool *present, phx_error_t *e)
{
    const json_t *v = json_object_get(o, key);
    *out = phx_u256_from_u64(0);
    if (present) *present = v && !json_is_null(v);
    if (!v || json_is_null(v))
        return required ? phx_fail(e, PHX_ERR_INVALID, "tx: '%s' missing", key) : PHX_OK;
    phx_err_t err = phx_rpc_quantity_u256(v, out, e);
    return err ? phx_error_wrap(e, err, "tx: '%s'", key) : PHX_OK;
}

static phx_err_t json_u64(const json_t *o, const char *key, bool required, uint64_t *out,
                          bool *present, phx_error_t *e)
{
    phx_u256_t u;
    phx_err_t err = json_u256(o, key, required, &u, present, e);
    if (!err && (err = phx_u256_to_u64(&u, out, e))) phx_error_wrap(e, err, "tx: '%s'", key);
    return err;
}

static phx_err_t json_hex_fixed(const json_t *o, const char *key, uint8_t *out, size_t n,
                                phx_error_t *e)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s) return phx_fail(e, PHX_ERR_INVALID, "tx: '%s' missing", key);
    phx_err_t err = phx_hex_decode_fixed(s, out, n, e);
    return err ? phx_error_wrap(e, err, "tx: '%s'", key) : PHX_OK;
}

static phx_err_t json_access_list(const json_t *list, owned_t *o, phx_error_t *e)
{
    if (!json_is_array(list))
        return phx_fail(e, PHX_ERR_INVALID, "tx: accessList must be an array");
    size_t n = json_array_size(list);
    o->list = calloc(n ? n : 1, sizeof *o->list);
    if (!o->list) return phx_fail(e, PHX_ERR_NOMEM, "tx: out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *en = json_array_get(list, i);
        const json_t *keys = json_object_get(en, "storageKeys");
        phx_evm_access_t *a = &o->list[o->count++];
        phx_err_t err = json_hex_fixed(en, "address", a->address, 20, e);
        if (err) return err;
        if (!json_is_array(keys))
            return phx_fail(e, PHX_ERR_INVALID, "tx: accessList[%zu].storageKeys", i);
        a->keys = calloc(json_array_size(keys) ? json_array_size(keys) : 1, 32);
        if (!a->keys) return phx_fail(e, PHX_ERR_NOMEM, "tx: out of memory");
        for (size_t k = 0; k < json_array_size(keys); k++) {
            const char *h = json_string_value(json_array_get(keys, k));
            if (!h || phx_hex_decode_fixed(h, a->keys[k], 32, e))
                return phx_fail(e, PHX_ERR_INVALID, "tx: accessList[%zu] key %zu", i, k);
            a->key_count++;
        }
    }
    return PHX_OK;
}

phx_err_t phx_evm_tx_from_json(const json_t *j, phx_evm_tx_t *out, phx_error_t *e)
{
    phx_evm_tx_t tx;
    phx_err_t err;
    phx_buf_t data = PHX_BUF_INIT;
    owned_t *o = calloc(1, sizeof *o);
    bool has_chain_id = false, has_parity = false, has_v = false;
    uint64_t type = 0, chain_id = 0, gas_limit = 0, parity = 0;
    phx_u256_t v, r, s;
    memset(&tx, 0, sizeof tx);
    if (!o) return phx_fail(e, PHX_ERR_NOMEM, "tx: out of memory");
    tx.owned_ = o;
    if (!json_is_object(j)) {
        err = phx_fail(e, PHX_ERR_INVALID, "tx: must be a JSON object");
        goto fail;
    }
    if ((err = json_u64(j, "type", false, &type, NULL, e))) goto fail;
    if (type != PHX_TX_LEGACY && type != PHX_TX_EIP2930 && type != PHX_TX_EIP1559) {
        err = phx_fail(e, PHX_ERR_UNSUPPORTED, "tx: type %llu", (unsigned long long)type);
        goto fail;
    }
    tx.type = (uint8_t)type;
    if ((err = json_u64(j, "chainId", tx.type != PHX_TX_LEGACY, &chain_id, &has_chain_id, e)) ||
        (err = json_u64(j, "nonce", true, &tx.nonce, NULL, e)) ||
        (err = json_u64(j, "gas", true, &gas_limit, NULL, e)))
        goto fail;
    tx.gas_limit = phx_u256_from_u64(gas_limit);
    if (tx.type == PHX_TX_EIP1559) {
        if ((err = json_u256(j, "maxPriorityFeePerGas", true, &tx.max_priority_fee, NULL, e)) ||
            (err = json_u256(j, "maxFeePerGas", true, &tx.max_fee, NULL, e)))
            goto fail;
    } else if ((err = json_u256(j, "gasPrice", true, &tx.gas_price, NULL, e))) {
        goto fail;
    }
    const json_t *to = json_object_get(j, "to");
    if (to && !json_is_null(to)) {
        if ((err = json_hex_fixed(j, "to", tx.to, 20, e))) goto fail;
        tx.has_to = true;
    }
    if ((err = json_u256(j, "value", true, &tx.value, NULL, e))) goto fail;
    const char *input = json_string_value(json_object_get(j, "input"));
    if (!input || (err = phx_hex_decode(input, &data, e))) {
        err = phx_fail(e, PHX_ERR_INVALID, "tx: 'input' must be 0x hex");
        goto fail;
    }
    o->data = phx_buf_detach(&data, &tx.data_len);
    tx.data = o->data;
    if (tx.type != PHX_TX_LEGACY) {
        if ((err = json_access_list(json_object_get(j, "accessList"), o, e))) goto fail;
        tx.access_list = o->list;
        tx.access_count = o->count;
    }
    if ((err = json_u256(j, "v", false, &v, &has_v, e)) ||
        (err = json_u64(j, "yParity", false, &parity, &has_parity, e)) ||
        (err = json_u256(j, "r", true, &r, NULL, e)) ||
        (err = json_u256(j, "s", true, &s, NULL, e)))
        goto fail;
    if (tx.type == PHX_TX_LEGACY) {
        if (!has_v) {
            err = phx_fail(e, PHX_ERR_INVALID, "tx: 'v' missing");
            goto fail;
        }
        if ((err = legacy_v_value(&v, &tx, e))) goto fail;
        /* A node may list chainId beside v; both must name the same chain. */
        if (has_chain_id && tx.chain_id && chain_id != tx.chain_id) {
            err = phx_fail(e, PHX_ERR_VERIFY, "tx: chainId disagrees with v");
            goto fail;
        }
    } else {
        uint64_t v64 = 0;
        if (has_v && phx_u256_to_u64(&v, &v64, NULL)) v64 = 2;
        if (!has_parity) parity = v64;
        if (!has_parity && !has_v) {
            err = phx_fail(e, PHX_ERR_INVALID, "tx: 'yParity' missing");
            goto fail;
        }
        if (parity > 1 || (has_v && has_parity && v64 != parity)) {
            err = phx_fail(e, PHX_ERR_INVALID, "tx: y parity must be 0 or 1 (and match v)");
            goto fail;
        }
        if (chain_id > PHX_EVM_CHAIN_ID_MAX) {
            err = phx_fail(e, PHX_ERR_RANGE, "tx: chain id above the EIP-2294 bound");
            goto fail;
        }
        tx.chain_id = chain_id;
        tx.y_parity = (uint8_t)parity;
    }
    memcpy(tx.r, r.b, 32);
    memcpy(tx.s, s.b, 32);
    if ((err = phx_evm_tx_check_signature(tx.r, tx.s, e))) goto fail;
    tx.is_signed = true;
    if ((err = phx_evm_tx_sender(&tx, tx.from, e))) goto fail;
    /* The node's own claims about the tx must be what its fields make. */
    uint8_t claimed[32], hash[32];
    if (json_is_string(json_object_get(j, "from"))) {
        if ((err = json_hex_fixed(j, "from", claimed, 20, e))) goto fail;
        if (memcmp(claimed, tx.from, 20) != 0) {
            err = phx_fail(e, PHX_ERR_VERIFY, "tx: 'from' is not the signature's sender");
            goto fail;
        }
    }
    if (json_is_string(json_object_get(j, "hash"))) {
        if ((err = json_hex_fixed(j, "hash", claimed, 32, e)) ||
            (err = phx_evm_tx_hash(&tx, hash, e)))
            goto fail;
        if (memcmp(claimed, hash, 32) != 0) {
            err = phx_fail(e, PHX_ERR_VERIFY, "tx: 'hash' is not the hash of its fields");
            goto fail;
        }
    }
    *out = tx;
    return PHX_OK;
fail:
    phx_buf_free(&data);
    phx_evm_tx_clear(&tx);
    return err;
}

bool phx_evm_spend_over(const phx_u256_t *cap, const phx_u256_t *spent, const phx_u256_t *value,
                        const char *chain, uint64_t period_s, const char *by, char *why, size_t n)
{
    phx_u256_t total = phx_u256_add(spent, value);
    if (phx_u256_cmp(&total, spent) >= 0 && phx_u256_cmp(&total, cap) <= 0) return false;
    char c[80], s[80], v[80];
    phx_u256_to_dec(cap, c);
    phx_u256_to_dec(spent, s);
    phx_u256_to_dec(value, v);
    snprintf(
        why, n,
        "sending %.40s wei on %s would pass the cap of %.40s wei per %llu s (%.40s already sent%s)",
        v, chain, c, (unsigned long long)period_s, s, by);
    return true;
}
