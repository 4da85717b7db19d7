/* JSON over jansson with errors that name the offending key or position. */
#include <stdlib.h>
#include <string.h>

#include "phx/json.h"

static phx_err_t parse(const char *text, size_t len, size_t flags, json_t **out, phx_error_t *e)
{
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | flags, &je);
    if (!v)
        return phx_fail(e, PHX_ERR_INVALID, "bad JSON at line %d column %d: %s", je.line, je.column,
                        je.text);
    *out = v;
    return PHX_OK;
}

phx_err_t phx_json_parse(const char *text, size_t len, json_t **out, phx_error_t *e)
{
    return parse(text, len, 0, out, e);
}

phx_err_t phx_json_parse_allow_nul(const char *text, size_t len, json_t **out, phx_error_t *e)
{
    return parse(text, len, JSON_ALLOW_NUL, out, e);
}

phx_err_t phx_json_load_file(const char *path, json_t **out, phx_error_t *e)
{
    phx_buf_t b = PHX_BUF_INIT;
    phx_err_t err = phx_file_read(path, &b, e);
    if (!err) {
        err = phx_json_parse((const char *)b.ptr, b.len, out, e);
        if (err) phx_error_wrap(e, err, "%s", path);
    }
    phx_buf_free(&b);
    return err;
}

char *phx_json_dump(const json_t *v, bool pretty)
{
    size_t flags = JSON_ENCODE_ANY | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
    return json_dumps(v, flags);
}

static phx_err_t get(const json_t *obj, const char *key, json_t **v, phx_error_t *e)
{
    if (!json_is_object(obj))
        return phx_fail(e, PHX_ERR_INVALID, "expected an object for \"%s\"", key);
    *v = json_object_get(obj, key);
    if (!*v) return phx_fail(e, PHX_ERR_INVALID, "missing \"%s\"", key);
    return PHX_OK;
}

phx_err_t phx_json_get_str(const json_t *obj, const char *key, const char **out, phx_error_t *e)
{
    json_t *v;
    if (get(obj, key, &v, e)) return PHX_ERR_INVALID;
    if (!json_is_string(v)) return phx_fail(e, PHX_ERR_INVALID, "\"%s\" must be a string", key);
    *out = json_string_value(v);
    return PHX_OK;
}

phx_err_t phx_json_get_int(const json_t *obj, const char *key, int64_t *out, phx_error_t *e)
{
    json_t *v;
    if (get(obj, key, &v, e)) return PHX_ERR_INVALID;
    if (!json_is_integer(v)) return phx_fail(e, PHX_ERR_INVALID, "\"%s\" must be an integer", key);
    *out = json_integer_value(v);
    return PHX_OK;
}

phx_err_t phx_json_get_bool(const json_t *obj, const char *key, bool *out, phx_error_t *e)
{
    json_t *v;
    if (get(obj, key, &v, e)) return PHX_ERR_INVALID;
    if (!json_is_boolean(v)) return phx_fail(e, PHX_ERR_INVALID, "\"%s\" must be a boolean", key);
    *out = json_is_true(v);
    return PHX_OK;
}

phx_err_t phx_json_get_hex(const json_t *obj, const char *key, phx_buf_t *out, phx_error_t *e)
{
    const char *s;
    if (phx_json_get_str(obj, key, &s, e)) return PHX_ERR_INVALID;
    phx_err_t err = phx_hex_decode(s, out, e);
    if (err) phx_error_wrap(e, err, "\"%s\"", key);
    return err;
}

phx_err_t phx_json_get_hex_fixed(const json_t *obj, const char *key, uint8_t *out, size_t n,
                                 phx_error_t *e)
{
    const char *s;
    if (phx_json_get_str(obj, key, &s, e)) return PHX_ERR_INVALID;
    phx_err_t err = phx_hex_decode_fixed(s, out, n, e);
    if (err) phx_error_wrap(e, err, "\"%s\"", key);
    return err;
}

json_t *phx_json_hex(const uint8_t *p, size_t n)
{
    char *s = phx_hex_encode(p, n);
    if (!s) return NULL;
    json_t *v = json_string(s);
    free(s);
    return v;
}
