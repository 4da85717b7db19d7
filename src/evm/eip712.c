/* EIP-712 typed structured data: encodeType (primary type then referenced types
 * sorted by name), encodeData, hashStruct, the domain separator and the
 * 0x1901-prefixed digest, with signing and recovery. Input is the JSON shape of
 * eth_signTypedData_v4. Spec: https://eips.ethereum.org/EIPS/eip-712 */
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/evm.h"

#define MAX_DEPTH 32

/* Base name of a type: "Person[][2]" -> "Person" (length in *n). */
static size_t base_len(const char *type)
{
    const char *b = strchr(type, '[');
    return b ? (size_t)(b - type) : strlen(type);
}

static const json_t *struct_fields(const json_t *types, const char *name, size_t n)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)types, key, v)
    {
        if (strlen(key) == n && memcmp(key, name, n) == 0 && json_is_array(v)) return v;
    }
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Collect the struct types reachable from name (excluding it) into deps. */
static phx_err_t collect_deps(const json_t *types, const char *name, size_t n, const char **deps,
                              size_t *count, size_t cap, int depth, phx_error_t *e)
{
    const json_t *fields = struct_fields(types, name, n);
    size_t i;
    json_t *f;
    if (depth > MAX_DEPTH) return phx_fail(e, PHX_ERR_LIMIT, "eip712: types nested too deep");
    if (!fields) return PHX_OK;
    json_array_foreach(fields, i, f)
    {
        const char *ft = json_string_value(json_object_get(f, "type"));
        if (!ft) return phx_fail(e, PHX_ERR_INVALID, "eip712: field without a type");
        size_t bl = base_len(ft);
        const char *key = NULL;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)types, k, v)
        {
            if (strlen(k) == bl && memcmp(k, ft, bl) == 0) key = k;
        }
        if (!key || (bl == n && memcmp(key, name, n) == 0)) continue;
        bool seen = false;
        for (size_t d = 0; d < *count; d++)
            if (strcmp(deps[d], key) == 0) seen = true;
        if (seen) continue;
        if (*count == cap) return phx_fail(e, PHX_ERR_LIMIT, "eip712: too many types");
        deps[(*count)++] = key;
        phx_err_t err = collect_deps(types, key, bl, deps, count, cap, depth + 1, e);
        if (err) return err;
    }
    return PHX_OK;
}

static phx_err_t append_struct_type(const json_t *types, const char *name, phx_buf_t *out,
                                    phx_error_t *e)
{
    const json_t *fields = struct_fields(types, name, strlen(name));
    size_t i;
    json_t *f;
    if (!fields) return phx_fail(e, PHX_ERR_NOT_FOUND, "eip712: unknown type %s", name);
    phx_buf_append_str(out, name);
    phx_buf_append_byte(out, '(');
    json_array_foreach(fields, i, f)
    {
        const char *ft = json_string_value(json_object_get(f, "type"));
        const char *fn = json_string_value(json_object_get(f, "name"));
        if (!ft || !fn) return phx_fail(e, PHX_ERR_INVALID, "eip712: field needs name and type");
        if (i) phx_buf_append_byte(out, ',');
        phx_buf_printf(out, "%s %s", ft, fn);
    }
    return phx_buf_append_byte(out, ')') ? phx_fail(e, PHX_ERR_NOMEM, "eip712: out of memory")
                                         : PHX_OK;
}

phx_err_t phx_eip712_encode_type(const json_t *types, const char *primary, phx_buf_t *out,
                                 phx_error_t *e)
{
    const char *deps[256];
    size_t count = 0;
    phx_err_t err;
    if ((err = collect_deps(types, primary, strlen(primary), deps, &count, 256, 0, e))) return err;
    qsort(deps, count, sizeof deps[0], cmp_str);
    if ((err = append_struct_type(types, primary, out, e))) return err;
    for (size_t i = 0; i < count; i++)
        if ((err = append_struct_type(types, deps[i], out, e))) return err;
    return PHX_OK;
}

static phx_err_t hash_struct(const json_t *types, const char *primary, const json_t *data,
                             uint8_t out[32], int depth, phx_error_t *e);

/* enc(value) of one field: a 32-byte word. */
static phx_err_t encode_field(const json_t *types, const char *type, const json_t *value,
                              uint8_t out[32], int depth, phx_error_t *e)
{
    phx_err_t err = PHX_OK;
    size_t tl = strlen(type);
    if (depth > MAX_DEPTH) return phx_fail(e, PHX_ERR_LIMIT, "eip712: value nested too deep");
    if (tl && type[tl - 1] == ']') {
        /* Arrays: keccak256 of the concatenated encodings of the elements. */
        const char *open = strrchr(type, '[');
        if (!open) return phx_fail(e, PHX_ERR_INVALID, "eip712: bad type %s", type);
        char *elem = strndup(type, (size_t)(open - type));
        if (!elem) return phx_fail(e, PHX_ERR_NOMEM, "eip712: out of memory");
        if (!json_is_array(value)) {
            free(elem);
            return phx_fail(e, PHX_ERR_INVALID, "eip712: %s needs an array", type);
        }
        if (open[1] != ']' && (size_t)strtoul(open + 1, NULL, 10) != json_array_size(value)) {
            free(elem);
            return phx_fail(e, PHX_ERR_INVALID, "eip712: %s has the wrong length", type);
        }
        phx_keccak_t k;
        phx_keccak256_init(&k);
        size_t i;
        json_t *v;
        json_array_foreach(value, i, v)
        {
            uint8_t w[32];
            if ((err = encode_field(types, elem, v, w, depth + 1, e))) break;
            phx_keccak256_update(&k, w, 32);
        }
        free(elem);
        if (!err) phx_keccak256_final(&k, out);
        return err;
    }
    if (struct_fields(types, type, tl)) return hash_struct(types, type, value, out, depth + 1, e);
    if (strcmp(type, "string") == 0) {
        if (!json_is_string(value)) return phx_fail(e, PHX_ERR_INVALID, "eip712: string expected");
        phx_keccak256(json_string_value(value), json_string_length(value), out);
        return PHX_OK;
    }
    if (strcmp(type, "bytes") == 0) {
        phx_buf_t b = PHX_BUF_INIT;
        if (!json_is_string(value))
            return phx_fail(e, PHX_ERR_INVALID, "eip712: hex bytes expected");
        if (!(err = phx_hex_decode(json_string_value(value), &b, e)))
            phx_keccak256(b.ptr, b.len, out);
        phx_buf_free(&b);
        return err;
    }
    /* Atomic types encode as their ABI word. */
    phx_abi_type_t *t = NULL;
    phx_abi_value_t *v = NULL;
    if ((err = phx_abi_type_parse(type, &t, e))) return err;
    if (t->kind == PHX_ABI_TUPLE || t->kind == PHX_ABI_FUNCTION || t->kind == PHX_ABI_STRING) {
        phx_abi_type_free(t);
        return phx_fail(e, PHX_ERR_INVALID, "eip712: unknown type %s", type);
    }
    if (!(err = phx_abi_value_from_json(t, value, &v, e))) memcpy(out, v->word, 32);
    phx_abi_value_free(v);
    phx_abi_type_free(t);
    return err;
}

static phx_err_t encode_data(const json_t *types, const char *primary, const json_t *data,
                             phx_buf_t *out, int depth, phx_error_t *e)
{
    phx_buf_t et = PHX_BUF_INIT;
    uint8_t h[32];
    phx_err_t err;
    const json_t *fields = struct_fields(types, primary, strlen(primary));
    if (!fields) return phx_fail(e, PHX_ERR_NOT_FOUND, "eip712: unknown type %s", primary);
    if (!json_is_object(data))
        return phx_fail(e, PHX_ERR_INVALID, "eip712: %s value must be an object", primary);
    if ((err = phx_eip712_encode_type(types, primary, &et, e))) goto out;
    phx_keccak256(et.ptr, et.len, h);
    if ((err = phx_buf_append(out, h, 32))) goto out;
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        const char *fn = json_string_value(json_object_get(f, "name"));
        const char *ft = json_string_value(json_object_get(f, "type"));
        const json_t *v = fn ? json_object_get(data, fn) : NULL;
        if (!ft) {
            err = phx_fail(e, PHX_ERR_INVALID, "eip712: %s field without a type", primary);
            goto out;
        }
        if (!v) {
            err = phx_fail(e, PHX_ERR_INVALID, "eip712: %s.%s missing", primary, fn ? fn : "?");
            goto out;
        }
        if ((err = encode_field(types, ft, v, h, depth, e))) goto out;
        if ((err = phx_buf_append(out, h, 32))) goto out;
    }
out:
    phx_buf_free(&et);
    return err;
}

static phx_err_t hash_struct(const json_t *types, const char *primary, const json_t *data,
                             uint8_t out[32], int depth, phx_error_t *e)
{
    phx_buf_t b = PHX_BUF_INIT;
    phx_err_t err = encode_data(types, primary, data, &b, depth, e);
    if (!err) phx_keccak256(b.ptr, b.len, out);
    phx_buf_free(&b);
    return err;
}

phx_err_t phx_eip712_encode_data(const json_t *types, const char *primary, const json_t *data,
                                 phx_buf_t *out, phx_error_t *e)
{
    return encode_data(types, primary, data, out, 0, e);
}

phx_err_t phx_eip712_hash_struct(const json_t *types, const char *primary, const json_t *data,
                                 uint8_t out[32], phx_error_t *e)
{
    return hash_struct(types, primary, data, out, 0, e);
}

/* types with EIP712Domain present: the given one, or inferred from the domain's
 * keys in the order the EIP lists them. Returns a new reference. */
static json_t *types_with_domain(const json_t *types, const json_t *domain)
{
    json_t *t = json_is_object(types) ? json_deep_copy(types) : json_object();
    if (!t || json_object_get(t, "EIP712Domain")) return t;
    static const char *const names[] = {"name", "version", "chainId", "verifyingContract", "salt"};
    static const char *const kinds[] = {"string", "string", "uint256", "address", "bytes32"};
    json_t *fields = json_array();
    for (size_t i = 0; i < 5; i++)
        if (json_object_get(domain, names[i]))
            json_array_append_new(fields,
                                  json_pack("{s:s,s:s}", "name", names[i], "type", kinds[i]));
    json_object_set_new(t, "EIP712Domain", fields);
    return t;
}

phx_err_t phx_eip712_domain_separator(const json_t *domain, const json_t *types, uint8_t out[32],
                                      phx_error_t *e)
{
    json_t *t = types_with_domain(types, domain);
    if (!t) return phx_fail(e, PHX_ERR_NOMEM, "eip712: out of memory");
    phx_err_t err = hash_struct(t, "EIP712Domain", domain, out, 0, e);
    json_decref(t);
    return err;
}

phx_err_t phx_eip712_digest(const json_t *typed, uint8_t out[32], phx_error_t *e)
{
    const json_t *types = json_object_get(typed, "types");
    const json_t *domain = json_object_get(typed, "domain");
    const json_t *message = json_object_get(typed, "message");
    const char *primary = json_string_value(json_object_get(typed, "primaryType"));
    uint8_t buf[66];
    phx_err_t err;
    if (!types || !domain || !primary)
        return phx_fail(e, PHX_ERR_INVALID, "eip712: needs types, primaryType and domain");
    buf[0] = 0x19;
    buf[1] = 0x01;
    if ((err = phx_eip712_domain_separator(domain, types, buf + 2, e))) return err;
    if (strcmp(primary, "EIP712Domain") == 0) {
        phx_keccak256(buf, 34, out);
        return PHX_OK;
    }
    if (!message) return phx_fail(e, PHX_ERR_INVALID, "eip712: needs message");
    if ((err = hash_struct(types, primary, message, buf + 34, 0, e))) return err;
    phx_keccak256(buf, 66, out);
    return PHX_OK;
}

phx_err_t phx_eip712_sign(const json_t *typed, const uint8_t sk[32], uint8_t sig[65],
                          phx_error_t *e)
{
    uint8_t d[32];
    phx_err_t err = phx_eip712_digest(typed, d, e);
    if (err) return err;
    if ((err = phx_secp256k1_sign(sk, d, sig))) return phx_fail(e, err, "eip712: signing failed");
    sig[64] += 27;
    return PHX_OK;
}

phx_err_t phx_eip712_recover(const json_t *typed, const uint8_t sig[65], uint8_t addr[20],
                             phx_error_t *e)
{
    uint8_t d[32], pub[64];
    phx_err_t err = phx_eip712_digest(typed, d, e);
    if (err) return err;
    if ((err = phx_secp256k1_recover(d, sig, pub)))
        return phx_fail(e, PHX_ERR_VERIFY, "eip712: signature does not recover");
    phx_eth_address_from_pubkey(pub, addr);
    return PHX_OK;
}
