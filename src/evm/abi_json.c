/* JSON bridge for the ABI: build value trees from JSON arguments (numbers as
 * integers, decimal or 0x strings; bytes as 0x hex) and print decoded values
 * back as JSON. Also the signature-string driven calldata encoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/evm.h"

static void negate(uint8_t w[32])
{
    unsigned carry = 1;
    for (int i = 31; i >= 0; i--) {
        unsigned s = (unsigned)(uint8_t)~w[i] + carry;
        w[i] = (uint8_t)s;
        carry = s >> 8;
    }
}

static phx_err_t number_from_json(const phx_abi_type_t *t, const json_t *j, uint8_t w[32],
                                  phx_error_t *e)
{
    phx_u256_t u;
    bool neg = false;
    phx_err_t err;
    if (json_is_integer(j)) {
        json_int_t x = json_integer_value(j);
        neg = x < 0;
        u = phx_u256_from_u64(neg ? (uint64_t)0 - (uint64_t)x : (uint64_t)x);
    } else if (json_is_string(j)) {
        const char *s = json_string_value(j);
        if (*s == '-') neg = true, s++;
        if ((err = phx_u256_from_str(s, &u, e))) return err;
    } else {
        return phx_fail(e, PHX_ERR_INVALID, "abi: number expected");
    }
    memcpy(w, u.b, 32);
    if (neg && phx_u256_is_zero(&u)) neg = false;
    if (neg) {
        if (t->kind != PHX_ABI_INT)
            return phx_fail(e, PHX_ERR_RANGE, "abi: negative value for uint%u", t->size);
        negate(w);
    }
    if (t->kind == PHX_ABI_INT) {
        /* The sign bit of the N-bit value must agree with the sign we parsed. */
        bool sign = (w[32 - t->size / 8] & 0x80) != 0;
        if (sign != neg)
            return phx_fail(e, PHX_ERR_RANGE, "abi: value out of range for int%u", t->size);
        uint8_t ext = neg ? 0xff : 0;
        for (size_t i = 0; i < 32 - t->size / 8; i++)
            if (w[i] != ext)
                return phx_fail(e, PHX_ERR_RANGE, "abi: value out of range for int%u", t->size);
    } else {
        for (size_t i = 0; i < 32 - t->size / 8; i++)
            if (w[i])
                return phx_fail(e, PHX_ERR_RANGE, "abi: value out of range for uint%u", t->size);
    }
    return PHX_OK;
}

static phx_err_t value_from_json(const phx_abi_type_t *t, const json_t *j, phx_abi_value_t *v,
                                 phx_error_t *e)
{
    phx_err_t err = PHX_OK;
    phx_buf_t b = PHX_BUF_INIT;
    memset(v, 0, sizeof *v);
    v->kind = t->kind;
    switch (t->kind) {
    case PHX_ABI_UINT:
    case PHX_ABI_INT:
        return number_from_json(t, j, v->word, e);
    case PHX_ABI_BOOL:
        if (!json_is_boolean(j)) return phx_fail(e, PHX_ERR_INVALID, "abi: bool expected");
        v->word[31] = json_is_true(j) ? 1 : 0;
        return PHX_OK;
    case PHX_ABI_ADDRESS:
        if (!json_is_string(j)) return phx_fail(e, PHX_ERR_INVALID, "abi: address string expected");
        return phx_evm_address_parse(json_string_value(j), v->word + 12, e);
    case PHX_ABI_FIXED_BYTES:
    case PHX_ABI_FUNCTION:
        if (!json_is_string(j)) return phx_fail(e, PHX_ERR_INVALID, "abi: hex string expected");
        return phx_hex_decode_fixed(json_string_value(j), v->word, t->size, e);
    case PHX_ABI_BYTES:
        if (!json_is_string(j)) return phx_fail(e, PHX_ERR_INVALID, "abi: hex string expected");
        if ((err = phx_hex_decode(json_string_value(j), &b, e))) break;
        v->bytes = phx_buf_detach(&b, &v->len);
        if (!v->bytes) v->bytes = calloc(1, 1);
        if (!v->bytes) err = phx_fail(e, PHX_ERR_NOMEM, "abi: out of memory");
        break;
    case PHX_ABI_STRING:
        if (!json_is_string(j)) return phx_fail(e, PHX_ERR_INVALID, "abi: string expected");
        v->len = json_string_length(j);
        v->bytes = malloc(v->len + 1);
        if (!v->bytes) return phx_fail(e, PHX_ERR_NOMEM, "abi: out of memory");
        memcpy(v->bytes, json_string_value(j), v->len + 1);
        break;
    case PHX_ABI_ARRAY:
    case PHX_ABI_SLICE:
    case PHX_ABI_TUPLE: {
        size_t n;
        bool by_name = t->kind == PHX_ABI_TUPLE && json_is_object(j);
        if (!json_is_array(j) && !by_name)
            return phx_fail(e, PHX_ERR_INVALID, "abi: JSON array expected");
        n = by_name ? t->count : json_array_size(j);
        if (t->kind == PHX_ABI_ARRAY && n != t->length)
            return phx_fail(e, PHX_ERR_INVALID, "abi: array needs %zu elements, got %zu", t->length,
                            n);
        if (t->kind == PHX_ABI_TUPLE && n != t->count)
            return phx_fail(e, PHX_ERR_INVALID, "abi: tuple needs %zu members, got %zu", t->count,
                            n);
        v->items = calloc(n ? n : 1, sizeof *v->items);
        if (!v->items) return phx_fail(e, PHX_ERR_NOMEM, "abi: out of memory");
        v->count = n;
        for (size_t i = 0; i < n && !err; i++) {
            const phx_abi_type_t *ct = t->kind == PHX_ABI_TUPLE ? t->children[i] : t->children[0];
            const json_t *cj;
            if (by_name) {
                cj = ct->name ? json_object_get(j, ct->name) : NULL;
                if (!cj)
                    return phx_fail(e, PHX_ERR_INVALID, "abi: tuple member '%s' missing",
                                    ct->name ? ct->name : "?");
            } else {
                cj = json_array_get(j, i);
            }
            err = value_from_json(ct, cj, &v->items[i], e);
        }
        break;
    }
    }
    phx_buf_free(&b);
    return err;
}

phx_err_t phx_abi_value_from_json(const phx_abi_type_t *t, const json_t *j, phx_abi_value_t **out,
                                  phx_error_t *e)
{
    phx_abi_value_t *v = calloc(1, sizeof *v);
    if (!v) return phx_fail(e, PHX_ERR_NOMEM, "abi: out of memory");
    phx_err_t err = value_from_json(t, j, v, e);
    if (err) {
        phx_abi_value_free(v);
        return err;
    }
    *out = v;
    return PHX_OK;
}

phx_err_t phx_abi_value_to_json(const phx_abi_type_t *t, const phx_abi_value_t *v, json_t **out,
                                phx_error_t *e)
{
    json_t *j = NULL;
    char dec[82];
    phx_u256_t u;
    switch (t->kind) {
    case PHX_ABI_UINT:
        memcpy(u.b, v->word, 32);
        phx_u256_to_dec(&u, dec);
        j = json_string(dec);
        break;
    case PHX_ABI_INT:
        memcpy(u.b, v->word, 32);
        if (u.b[0] & 0x80) {
            negate(u.b);
            dec[0] = '-';
            phx_u256_to_dec(&u, dec + 1);
        } else {
            phx_u256_to_dec(&u, dec);
        }
        j = json_string(dec);
        break;
    case PHX_ABI_BOOL:
        j = json_boolean(v->word[31] != 0);
        break;
    case PHX_ABI_ADDRESS:
        j = phx_json_hex(v->word + 12, 20);
        break;
    case PHX_ABI_FIXED_BYTES:
    case PHX_ABI_FUNCTION:
        j = phx_json_hex(v->word, t->size);
        break;
    case PHX_ABI_BYTES:
        j = phx_json_hex(v->bytes, v->len);
        break;
    case PHX_ABI_STRING:
        j = json_stringn((const char *)v->bytes, v->len);
        if (!j) j = phx_json_hex(v->bytes, v->len); /* not UTF-8: show the bytes */
        break;
    case PHX_ABI_ARRAY:
    case PHX_ABI_SLICE:
    case PHX_ABI_TUPLE:
        j = json_array();
        if (!j) break;
        for (size_t i = 0; i < v->count; i++) {
            json_t *c = NULL;
            const phx_abi_type_t *ct = t->kind == PHX_ABI_TUPLE ? t->children[i] : t->children[0];
            phx_err_t err = phx_abi_value_to_json(ct, &v->items[i], &c, e);
            if (err) {
                json_decref(j);
                return err;
            }
            json_array_append_new(j, c);
        }
        break;
    }
    if (!j) return phx_fail(e, PHX_ERR_NOMEM, "abi: out of memory");
    *out = j;
    return PHX_OK;
}

phx_err_t phx_abi_encode_call(const char *sig, const char *args_json, phx_buf_t *out,
                              phx_error_t *e)
{
    json_t *args = NULL;
    phx_abi_type_t *params = NULL;
    phx_abi_value_t *v = NULL;
    phx_err_t err;
    if ((err = phx_abi_signature_parse(sig, NULL, &params, e))) goto out;
    if ((err = phx_json_parse(args_json ? args_json : "[]", strlen(args_json ? args_json : "[]"),
                              &args, e)))
        goto out;
    if ((err = phx_abi_value_from_json(params, args, &v, e))) goto out;
    err = phx_abi_encode_call_values(sig, v, out, e);
out:
    phx_abi_value_free(v);
    phx_abi_type_free(params);
    json_decref(args);
    return err;
}

phx_err_t phx_abi_decode_json(const char *types, const uint8_t *p, size_t len, json_t **out,
                              phx_error_t *e)
{
    phx_abi_type_t *t = NULL;
    phx_abi_value_t *v = NULL;
    phx_err_t err;
    if ((err = phx_abi_signature_parse(types, NULL, &t, e))) return err;
    if (!(err = phx_abi_decode(t, p, len, &v, e))) err = phx_abi_value_to_json(t, v, out, e);
    phx_abi_value_free(v);
    phx_abi_type_free(t);
    return err;
}

phx_err_t phx_abi_decode_log_json(const char *event_sig, bool anonymous, const phx_evm_log_t *log,
                                  json_t **out, phx_error_t *e)
{
    phx_abi_type_t *t = NULL;
    phx_abi_value_t *v = NULL;
    json_t *obj = NULL;
    phx_err_t err;
    if ((err = phx_abi_signature_parse(event_sig, NULL, &t, e))) return err;
    if ((err = phx_abi_decode_log(event_sig, anonymous, log, &v, e))) goto out;
    obj = json_object();
    if (!obj) {
        err = phx_fail(e, PHX_ERR_NOMEM, "abi: out of memory");
        goto out;
    }
    for (size_t i = 0; i < t->count; i++) {
        json_t *c = NULL;
        char key[24];
        const phx_abi_type_t *ct = t->children[i];
        /* Indexed values wider than a word (bytes, string, arrays, tuples) are
         * only their keccak256 in the topic. */
        if (ct->indexed && v->items[i].kind != ct->kind)
            c = phx_json_hex(v->items[i].word, 32);
        else if ((err = phx_abi_value_to_json(ct, &v->items[i], &c, e)))
            goto out;
        snprintf(key, sizeof key, "%zu", i);
        json_object_set_new(obj, ct->name ? ct->name : key, c);
    }
    *out = obj;
    obj = NULL;
out:
    json_decref(obj);
    phx_abi_value_free(v);
    phx_abi_type_free(t);
    return err;
}
