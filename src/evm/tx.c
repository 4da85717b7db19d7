/* Ethereum transactions: legacy (with and without EIP-155 replay protection),
 * EIP-2930 (type 1) and EIP-1559 (type 2) in EIP-2718 envelopes. Encoding for
 * signing and sending, strict decoding, signing and sender recovery; plus
 * address parsing (EIP-55) and CREATE addresses. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/evm.h"

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

phx_err_t phx_evm_tx_decode(const uint8_t *p, size_t len, phx_evm_tx_t *out, phx_error_t *e)
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
    bool sig = n == body + 3;
    if (n != body && !sig) {
        err = phx_fail(e, PHX_ERR_INVALID, "tx: %zu fields for type %u", n, tx.type);
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
    if (tx.type != PHX_TX_LEGACY && (err = phx_rlp_item_u64(&f[i++], &tx.chain_id, e))) goto fail;
    if ((err = phx_rlp_item_u64(&f[i++], &tx.nonce, e))) goto fail;
    if (tx.type == PHX_TX_EIP1559) {
        if ((err = phx_rlp_item_u256(&f[i++], &tx.max_priority_fee, e))) goto fail;
        if ((err = phx_rlp_item_u256(&f[i++], &tx.max_fee, e))) goto fail;
    } else if ((err = phx_rlp_item_u256(&f[i++], &tx.gas_price, e))) {
        goto fail;
    }
    if ((err = phx_rlp_item_u256(&f[i++], &tx.gas_limit, e))) goto fail;
    if (f[i].len != 0 && f[i].len != 20) {
        err = phx_fail(e, PHX_ERR_INVALID, "tx: 'to' must be empty or 20 bytes");
        goto fail;
    }
    tx.has_to = f[i].len == 20;
    if (tx.has_to) memcpy(tx.to, f[i].data, 20);
    i++;
    if ((err = phx_rlp_item_u256(&f[i++], &tx.value, e))) goto fail;
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
    if (sig) {
        phx_u256_t v;
        if ((err = phx_rlp_item_u256(&f[i++], &v, e))) goto fail;
        if ((err = get_bytes32_int(&f[i++], tx.r, e)) || (err = get_bytes32_int(&f[i++], tx.s, e)))
            goto fail;
        uint64_t v64;
        if ((err = phx_u256_to_u64(&v, &v64, e))) goto fail;
        bool rs_zero = true;
        for (size_t k = 0; k < 32; k++)
            if (tx.r[k] || tx.s[k]) rs_zero = false;
        if (tx.type != PHX_TX_LEGACY) {
            if (v64 > 1) {
                err = phx_fail(e, PHX_ERR_INVALID, "tx: y parity must be 0 or 1");
                goto fail;
            }
            tx.y_parity = (uint8_t)v64;
            tx.is_signed = true;
        } else if (rs_zero && v64 != 0) {
            /* EIP-155 signing payload: [..., chainId, 0, 0]. */
            tx.chain_id = v64;
        } else if (v64 == 27 || v64 == 28) {
            tx.y_parity = (uint8_t)(v64 - 27);
            tx.is_signed = true;
        } else if (v64 >= 37) { /* 35/36 would mean chain id 0, which EIP-155 does not have */
            tx.chain_id = (v64 - 35) / 2;
            tx.y_parity = (uint8_t)((v64 - 35) % 2);
            tx.is_signed = true;
        } else {
            err = phx_fail(e, PHX_ERR_INVALID, "tx: bad v %llu", (unsigned long long)v64);
            goto fail;
        }
    }
    phx_rlp_free(root);
    *out = tx;
    return PHX_OK;
fail:
    phx_rlp_free(root);
    phx_evm_tx_clear(&tx);
    return err;
}
