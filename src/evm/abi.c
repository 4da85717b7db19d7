/* Solidity ABI (docs.soliditylang.org, "Contract ABI Specification"): type
 * parsing from text, head/tail encoding, bounds-checked decoding, packed mode,
 * selectors and event topics, and decoding logs against an event signature. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/evm.h"

#define MAX_TYPE_DEPTH 32

/* ---- type parsing ------------------------------------------------------------- */

typedef struct {
    const char *s;
    size_t pos;
    phx_error_t *e;
} parser_t;

static void skip_ws(parser_t *p)
{
    while (isspace((unsigned char)p->s[p->pos]))
        p->pos++;
}

static bool is_ident(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '$';
}

static size_t ident_len(parser_t *p)
{
    size_t n = 0;
    while (is_ident(p->s[p->pos + n]))
        n++;
    return n;
}

static phx_abi_type_t *type_new(phx_abi_kind_t kind)
{
    phx_abi_type_t *t = calloc(1, sizeof *t);
    if (t) t->kind = kind;
    return t;
}

void phx_abi_type_free(phx_abi_type_t *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->count; i++)
        phx_abi_type_free(t->children[i]);
    free(t->children);
    free(t->name);
    free(t);
}

static phx_err_t add_child(phx_abi_type_t *t, phx_abi_type_t *c, phx_error_t *e)
{
    phx_abi_type_t **n = realloc(t->children, (t->count + 1) * sizeof *n);
    if (!n) return phx_fail(e, PHX_ERR_NOMEM, "abi: out of memory");
    t->children = n;
    t->children[t->count++] = c;
    return PHX_OK;
}

/* Parse a decimal size in [lo, hi] from text of length n. */
static bool parse_size(const char *s, size_t n, unsigned lo, unsigned hi, unsigned *out)
{
    if (n == 0 || n > 3 || s[0] == '0') return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v < lo || v > hi) return false;
    *out = v;
    return true;
}

static phx_err_t parse_elementary(parser_t *p, phx_abi_type_t **out)
{
    const char *w = p->s + p->pos;
    size_t n = ident_len(p);
    phx_abi_type_t *t = NULL;
    unsigned sz = 0;
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(w, lit, n) == 0)
#define PREFIX(lit) (n > sizeof(lit) - 1 && memcmp(w, lit, sizeof(lit) - 1) == 0)
    if (IS("uint") || IS("int")) {
        t = type_new(w[0] == 'u' ? PHX_ABI_UINT : PHX_ABI_INT);
        sz = 256;
    } else if (PREFIX("uint") && parse_size(w + 4, n - 4, 8, 256, &sz) && sz % 8 == 0) {
        t = type_new(PHX_ABI_UINT);
    } else if (PREFIX("int") && parse_size(w + 3, n - 3, 8, 256, &sz) && sz % 8 == 0) {
        t = type_new(PHX_ABI_INT);
    } else if (IS("address")) {
        t = type_new(PHX_ABI_ADDRESS);
    } else if (IS("bool")) {
        t = type_new(PHX_ABI_BOOL);
    } else if (IS("string")) {
        t = type_new(PHX_ABI_STRING);
    } else if (IS("bytes")) {
        t = type_new(PHX_ABI_BYTES);
    } else if (PREFIX("bytes") && parse_size(w + 5, n - 5, 1, 32, &sz)) {
        t = type_new(PHX_ABI_FIXED_BYTES);
    } else if (IS("function")) {
        t = type_new(PHX_ABI_FUNCTION);
        sz = 24;
    } else {
        return phx_fail(p->e, PHX_ERR_INVALID, "abi: unknown type '%.*s'", (int)(n > 40 ? 40 : n),
                        w);
    }
#undef IS
#undef PREFIX
    if (!t) return phx_fail(p->e, PHX_ERR_NOMEM, "abi: out of memory");
    t->size = sz;
    p->pos += n;
    *out = t;
    return PHX_OK;
}

static phx_err_t parse_param(parser_t *p, phx_abi_type_t **out, int depth, bool allow_name);

/* "(" [param ("," param)*] ")" into a TUPLE. */
static phx_err_t parse_tuple(parser_t *p, phx_abi_type_t **out, int depth)
{
    phx_err_t err;
    phx_abi_type_t *t = type_new(PHX_ABI_TUPLE);
    if (!t) return phx_fail(p->e, PHX_ERR_NOMEM, "abi: out of memory");
    p->pos++; /* '(' */
    skip_ws(p);
    if (p->s[p->pos] == ')') {
        p->pos++;
        *out = t;
        return PHX_OK;
    }
    for (;;) {
        phx_abi_type_t *c = NULL;
        if ((err = parse_param(p, &c, depth + 1, true))) goto fail;
        if ((err = add_child(t, c, p->e))) {
            phx_abi_type_free(c);
            goto fail;
        }
        skip_ws(p);
        if (p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->s[p->pos] == ')') {
            p->pos++;
            break;
        }
        err = phx_fail(p->e, PHX_ERR_INVALID, "abi: expected ',' or ')' at %zu", p->pos);
        goto fail;
    }
    *out = t;
    return PHX_OK;
fail:
    phx_abi_type_free(t);
    return err;
}

static phx_err_t parse_type(parser_t *p, phx_abi_type_t **out, int depth)
{
    phx_err_t err;
    phx_abi_type_t *t = NULL;
    if (depth > MAX_TYPE_DEPTH) return phx_fail(p->e, PHX_ERR_LIMIT, "abi: type nested too deep");
    skip_ws(p);
    if (strncmp(p->s + p->pos, "tuple(", 6) == 0) p->pos += 5;
    if (p->s[p->pos] == '(')
        err = parse_tuple(p, &t, depth);
    else
        err = parse_elementary(p, &t);
    if (err) return err;
    /* Array suffixes bind left to right: T[2][] is a slice of T[2]. */
    while (p->s[p->pos] == '[') {
        size_t start = ++p->pos;
        while (isdigit((unsigned char)p->s[p->pos]))
            p->pos++;
        if (p->s[p->pos] != ']') {
            phx_abi_type_free(t);
            return phx_fail(p->e, PHX_ERR_INVALID, "abi: bad array suffix");
        }
        size_t digits = p->pos - start;
        p->pos++;
        phx_abi_type_t *a = type_new(digits ? PHX_ABI_ARRAY : PHX_ABI_SLICE);
        if (!a) {
            phx_abi_type_free(t);
            return phx_fail(p->e, PHX_ERR_NOMEM, "abi: out of memory");
        }
        if (digits) {
            if (digits > 9 || (digits > 1 && p->s[start] == '0')) {
                phx_abi_type_free(t);
                phx_abi_type_free(a);
                return phx_fail(p->e, PHX_ERR_RANGE, "abi: bad array length");
            }
            a->length = (size_t)strtoul(p->s + start, NULL, 10);
        }
        if ((err = add_child(a, t, p->e))) {
            phx_abi_type_free(t);
            phx_abi_type_free(a);
            return err;
        }
        t = a;
        if (++depth > MAX_TYPE_DEPTH) {
            phx_abi_type_free(t);
            return phx_fail(p->e, PHX_ERR_LIMIT, "abi: type nested too deep");
        }
    }
    *out = t;
    return PHX_OK;
}

/* A type, optionally followed by "indexed" and/or a parameter name. */
static phx_err_t parse_param(parser_t *p, phx_abi_type_t **out, int depth, bool allow_name)
{
    phx_abi_type_t *t = NULL;
    phx_err_t err = parse_type(p, &t, depth);
    if (err) return err;
    if (allow_name) {
        for (int words = 0; words < 3; words++) {
            skip_ws(p);
            size_t n = ident_len(p);
            if (!n) break;
            const char *w = p->s + p->pos;
            if (n == 7 && memcmp(w, "indexed", 7) == 0 && !t->indexed && !t->name) {
                t->indexed = true;
            } else if (!t->name && !((n == 6 && memcmp(w, "memory", 6) == 0) ||
                                     (n == 8 && memcmp(w, "calldata", 8) == 0))) {
                t->name = strndup(w, n);
                if (!t->name) {
                    phx_abi_type_free(t);
                    return phx_fail(p->e, PHX_ERR_NOMEM, "abi: out of memory");
                }
            }
            p->pos += n;
        }
    }
    *out = t;
    return PHX_OK;
}

phx_err_t phx_abi_type_parse(const char *text, phx_abi_type_t **out, phx_error_t *e)
{
    parser_t p = {text, 0, e};
    phx_abi_type_t *t = NULL;
    phx_err_t err = parse_param(&p, &t, 0, true);
    if (err) return err;
    skip_ws(&p);
    if (text[p.pos]) {
        phx_abi_type_free(t);
        return phx_fail(e, PHX_ERR_INVALID, "abi: unexpected text after type at %zu", p.pos);
    }
    *out = t;
    return PHX_OK;
}

phx_err_t phx_abi_signature_parse(const char *sig, char **name_out, phx_abi_type_t **params,
                                  phx_error_t *e)
{
    parser_t p = {sig, 0, e};
    skip_ws(&p);
    size_t n = ident_len(&p);
    const char *name = sig + p.pos;
    p.pos += n;
    skip_ws(&p);
    if (sig[p.pos] != '(') return phx_fail(e, PHX_ERR_INVALID, "abi: signature needs '(...)'");
    phx_abi_type_t *t = NULL;
    phx_err_t err = parse_tuple(&p, &t, 0);
    if (err) return err;
    skip_ws(&p);
    /* Tolerate Solidity-style trailing words ("external", "anonymous"). */
    while (ident_len(&p)) {
        p.pos += ident_len(&p);
        skip_ws(&p);
    }
    if (sig[p.pos]) {
        phx_abi_type_free(t);
        return phx_fail(e, PHX_ERR_INVALID, "abi: unexpected text after signature");
    }
    if (name_out) {
        *name_out = strndup(name, n);
        if (!*name_out) {
            phx_abi_type_free(t);
            return phx_fail(e, PHX_ERR_NOMEM, "abi: out of memory");
        }
    }
    *params = t;
    return PHX_OK;
}

phx_err_t phx_abi_type_canonical(const phx_abi_type_t *t, phx_buf_t *out)
{
    phx_err_t err = PHX_OK;
    switch (t->kind) {
    case PHX_ABI_UINT:
        return phx_buf_printf(out, "uint%u", t->size);
    case PHX_ABI_INT:
        return phx_buf_printf(out, "int%u", t->size);
    case PHX_ABI_ADDRESS:
        return phx_buf_append_str(out, "address");
    case PHX_ABI_BOOL:
        return phx_buf_append_str(out, "bool");
    case PHX_ABI_FIXED_BYTES:
        return phx_buf_printf(out, "bytes%u", t->size);
    case PHX_ABI_BYTES:
        return phx_buf_append_str(out, "bytes");
    case PHX_ABI_STRING:
        return phx_buf_append_str(out, "string");
    case PHX_ABI_FUNCTION:
        return phx_buf_append_str(out, "function");
    case PHX_ABI_ARRAY:
        if ((err = phx_abi_type_canonical(t->children[0], out))) return err;
        return phx_buf_printf(out, "[%zu]", t->length);
    case PHX_ABI_SLICE:
        if ((err = phx_abi_type_canonical(t->children[0], out))) return err;
        return phx_buf_append_str(out, "[]");
    case PHX_ABI_TUPLE:
        if ((err = phx_buf_append_byte(out, '('))) return err;
        for (size_t i = 0; i < t->count; i++) {
            if (i && (err = phx_buf_append_byte(out, ','))) return err;
            if ((err = phx_abi_type_canonical(t->children[i], out))) return err;
        }
        return phx_buf_append_byte(out, ')');
    }
    return PHX_ERR_INTERNAL;
}

bool phx_abi_type_is_dynamic(const phx_abi_type_t *t)
{
    switch (t->kind) {
    case PHX_ABI_BYTES:
    case PHX_ABI_STRING:
    case PHX_ABI_SLICE:
        return true;
    case PHX_ABI_ARRAY:
        return t->length > 0 && phx_abi_type_is_dynamic(t->children[0]);
    case PHX_ABI_TUPLE:
        for (size_t i = 0; i < t->count; i++)
            if (phx_abi_type_is_dynamic(t->children[i])) return true;
        return false;
    default:
        return false;
    }
}

/* Size of a static type's encoding (callers check it is static). Saturates. */
static size_t static_size(const phx_abi_type_t *t)
{
    switch (t->kind) {
    case PHX_ABI_ARRAY: {
        size_t s = static_size(t->children[0]);
        if (s && t->length > SIZE_MAX / 2 / s) return SIZE_MAX / 2;
        return s * t->length;
    }
    case PHX_ABI_TUPLE: {
        size_t s = 0;
        for (size_t i = 0; i < t->count; i++) {
            s += static_size(t->children[i]);
            if (s > SIZE_MAX / 2) return SIZE_MAX / 2;
        }
        return s;
    }
    default:
        return 32;
    }
}

/* Size of an element's head slot in its enclosing sequence. */
static size_t head_size(const phx_abi_type_t *t)
{
    return phx_abi_type_is_dynamic(t) ? 32 : static_size(t);
}

/* ---- values ------------------------------------------------------------------ */

void phx_abi_value_clear(phx_abi_value_t *v)
{
    if (!v) return;
    for (size_t i = 0; i < v->count; i++)
        phx_abi_value_clear(&v->items[i]);
    free(v->items);
    free(v->bytes);
    v->items = NULL;
    v->bytes = NULL;
    v->count = v->len = 0;
}

void phx_abi_value_free(phx_abi_value_t *v)
{
    if (!v) return;
    phx_abi_value_clear(v);
    free(v);
}

phx_abi_value_t phx_abi_u256(const phx_u256_t *x)
{
    phx_abi_value_t v;
    memset(&v, 0, sizeof v);
    v.kind = PHX_ABI_UINT;
    memcpy(v.word, x->b, 32);
    return v;
}

phx_abi_value_t phx_abi_uint(uint64_t x)
{
    phx_u256_t u = phx_u256_from_u64(x);
    return phx_abi_u256(&u);
}

phx_abi_value_t phx_abi_int(int64_t x)
{
    phx_abi_value_t v = phx_abi_uint((uint64_t)x);
    v.kind = PHX_ABI_INT;
    if (x < 0) memset(v.word, 0xff, 24);
    return v;
}

phx_abi_value_t phx_abi_bool(bool x)
{
    phx_abi_value_t v = phx_abi_uint(x ? 1 : 0);
    v.kind = PHX_ABI_BOOL;
    return v;
}

phx_abi_value_t phx_abi_address(const uint8_t addr[20])
{
    phx_abi_value_t v;
    memset(&v, 0, sizeof v);
    v.kind = PHX_ABI_ADDRESS;
    memcpy(v.word + 12, addr, 20);
    return v;
}

phx_abi_value_t phx_abi_bytes32(const uint8_t b[32])
{
    phx_abi_value_t v;
    memset(&v, 0, sizeof v);
    v.kind = PHX_ABI_FIXED_BYTES;
    memcpy(v.word, b, 32);
    return v;
}

phx_abi_value_t phx_abi_bytes_ref(const uint8_t *p, size_t len)
{
    phx_abi_value_t v;
    memset(&v, 0, sizeof v);
    v.kind = PHX_ABI_BYTES;
    v.bytes = (uint8_t *)p; /* borrowed: the header says never clear such a value */
    v.len = len;
    return v;
}

phx_abi_value_t phx_abi_string_ref(const char *s)
{
    phx_abi_value_t v = phx_abi_bytes_ref((const uint8_t *)s, strlen(s));
    v.kind = PHX_ABI_STRING;
    return v;
}

phx_abi_value_t phx_abi_list_ref(phx_abi_kind_t kind, phx_abi_value_t *items, size_t count)
{
    phx_abi_value_t v;
    memset(&v, 0, sizeof v);
    v.kind = kind;
    v.items = items;
    v.count = count;
    return v;
}

/* Is the 32-byte word a valid value of the static elementary type t? */
static phx_err_t check_word(const phx_abi_type_t *t, const uint8_t w[32], phx_error_t *e)
{
    size_t nb;
    switch (t->kind) {
    case PHX_ABI_UINT:
        nb = t->size / 8;
        for (size_t i = 0; i < 32 - nb; i++)
            if (w[i])
                return phx_fail(e, PHX_ERR_RANGE, "abi: value out of range for uint%u", t->size);
        return PHX_OK;
    case PHX_ABI_INT: {
        nb = t->size / 8;
        uint8_t ext = (w[32 - nb] & 0x80) ? 0xff : 0x00;
        for (size_t i = 0; i < 32 - nb; i++)
            if (w[i] != ext)
                return phx_fail(e, PHX_ERR_RANGE, "abi: value out of range for int%u", t->size);
        return PHX_OK;
    }
    case PHX_ABI_ADDRESS:
        for (size_t i = 0; i < 12; i++)
            if (w[i]) return phx_fail(e, PHX_ERR_RANGE, "abi: address with high bits set");
        return PHX_OK;
    case PHX_ABI_BOOL:
        for (size_t i = 0; i < 31; i++)
            if (w[i]) return phx_fail(e, PHX_ERR_RANGE, "abi: bool is not 0 or 1");
        if (w[31] > 1) return phx_fail(e, PHX_ERR_RANGE, "abi: bool is not 0 or 1");
        return PHX_OK;
    case PHX_ABI_FIXED_BYTES:
    case PHX_ABI_FUNCTION:
        for (size_t i = t->size; i < 32; i++)
            if (w[i]) return phx_fail(e, PHX_ERR_RANGE, "abi: bytes%u with dirty padding", t->size);
        return PHX_OK;
    default:
        return phx_fail(e, PHX_ERR_INTERNAL, "abi: not a word type");
    }
}

static bool is_word_kind(phx_abi_kind_t k)
{
    return k == PHX_ABI_UINT || k == PHX_ABI_INT || k == PHX_ABI_ADDRESS || k == PHX_ABI_BOOL ||
           k == PHX_ABI_FIXED_BYTES || k == PHX_ABI_FUNCTION;
}

/* ---- encoding ---------------------------------------------------------------- */

static phx_err_t put_word_u64(phx_buf_t *out, uint64_t v)
{
    phx_u256_t u = phx_u256_from_u64(v);
    return phx_buf_append(out, u.b, 32);
}

static phx_err_t encode_value(const phx_abi_type_t *t, const phx_abi_value_t *v, phx_buf_t *out,
                              phx_error_t *e);

/* Encode a sequence (tuple members or array elements): heads, then tails. */
static phx_err_t encode_seq(const phx_abi_type_t *const *types, bool same,
                            const phx_abi_value_t *vals, size_t n, phx_buf_t *out, phx_error_t *e)
{
    phx_err_t err = PHX_OK;
    phx_buf_t tail = PHX_BUF_INIT;
    size_t heads = 0;
    for (size_t i = 0; i < n; i++)
        heads += head_size(same ? types[0] : types[i]);
    for (size_t i = 0; i < n; i++) {
        const phx_abi_type_t *t = same ? types[0] : types[i];
        if (phx_abi_type_is_dynamic(t)) {
            if ((err = put_word_u64(out, heads + tail.len))) goto out;
            if ((err = encode_value(t, &vals[i], &tail, e))) goto out;
        } else if ((err = encode_value(t, &vals[i], out, e))) {
            goto out;
        }
    }
    if (tail.len) err = phx_buf_append(out, tail.ptr, tail.len);
out:
    phx_buf_free(&tail);
    if (err == PHX_ERR_NOMEM) phx_fail(e, err, "abi: out of memory");
    return err;
}

static phx_err_t encode_value(const phx_abi_type_t *t, const phx_abi_value_t *v, phx_buf_t *out,
                              phx_error_t *e)
{
    phx_err_t err;
    static const uint8_t zeros[32];
    if (is_word_kind(t->kind)) {
        if (!is_word_kind(v->kind))
            return phx_fail(e, PHX_ERR_INVALID, "abi: value kind does not match type");
        if ((err = check_word(t, v->word, e))) return err;
        return phx_buf_append(out, v->word, 32);
    }
    switch (t->kind) {
    case PHX_ABI_BYTES:
    case PHX_ABI_STRING:
        if (v->kind != PHX_ABI_BYTES && v->kind != PHX_ABI_STRING)
            return phx_fail(e, PHX_ERR_INVALID, "abi: bytes/string value expected");
        if ((err = put_word_u64(out, v->len))) return err;
        if (v->len && (err = phx_buf_append(out, v->bytes, v->len))) return err;
        return phx_buf_append(out, zeros, (32 - v->len % 32) % 32);
    case PHX_ABI_ARRAY:
        if (v->count != t->length)
            return phx_fail(e, PHX_ERR_INVALID, "abi: array needs %zu elements, got %zu", t->length,
                            v->count);
        return encode_seq((const phx_abi_type_t *const *)t->children, true, v->items, v->count, out,
                          e);
    case PHX_ABI_SLICE:
        if ((err = put_word_u64(out, v->count))) return err;
        return encode_seq((const phx_abi_type_t *const *)t->children, true, v->items, v->count, out,
                          e);
    case PHX_ABI_TUPLE:
        if (v->count != t->count)
            return phx_fail(e, PHX_ERR_INVALID, "abi: tuple needs %zu members, got %zu", t->count,
                            v->count);
        return encode_seq((const phx_abi_type_t *const *)t->children, false, v->items, v->count,
                          out, e);
    default:
        return phx_fail(e, PHX_ERR_INTERNAL, "abi: unknown kind");
    }
}

phx_err_t phx_abi_encode(const phx_abi_type_t *t, const phx_abi_value_t *v, phx_buf_t *out,
                         phx_error_t *e)
{
    /* abi.encode(x) of a single dynamic value is the encoding of the 1-tuple (x). */
    if (t->kind != PHX_ABI_TUPLE && phx_abi_type_is_dynamic(t)) {
        const phx_abi_type_t *ts[1] = {t};
        return encode_seq(ts, false, v, 1, out, e);
    }
    return encode_value(t, v, out, e);
}

phx_err_t phx_abi_encode_packed(const phx_abi_type_t *t, const phx_abi_value_t *v, phx_buf_t *out,
                                phx_error_t *e)
{
    phx_err_t err;
    switch (t->kind) {
    case PHX_ABI_UINT:
    case PHX_ABI_INT:
        if ((err = check_word(t, v->word, e))) return err;
        return phx_buf_append(out, v->word + 32 - t->size / 8, t->size / 8);
    case PHX_ABI_ADDRESS:
        if ((err = check_word(t, v->word, e))) return err;
        return phx_buf_append(out, v->word + 12, 20);
    case PHX_ABI_BOOL:
        if ((err = check_word(t, v->word, e))) return err;
        return phx_buf_append(out, v->word + 31, 1);
    case PHX_ABI_FIXED_BYTES:
    case PHX_ABI_FUNCTION:
        if ((err = check_word(t, v->word, e))) return err;
        return phx_buf_append(out, v->word, t->size);
    case PHX_ABI_BYTES:
    case PHX_ABI_STRING:
        return v->len ? phx_buf_append(out, v->bytes, v->len) : PHX_OK;
    case PHX_ABI_ARRAY:
    case PHX_ABI_SLICE:
        if (t->kind == PHX_ABI_ARRAY && v->count != t->length)
            return phx_fail(e, PHX_ERR_INVALID, "abi: array length mismatch");
        /* Solidity pads array elements to 32 bytes even in packed mode. */
        for (size_t i = 0; i < v->count; i++) {
            if (phx_abi_type_is_dynamic(t->children[0]))
                return phx_fail(e, PHX_ERR_UNSUPPORTED, "abi: packed arrays of dynamic types");
            if ((err = encode_value(t->children[0], &v->items[i], out, e))) return err;
        }
        return PHX_OK;
    case PHX_ABI_TUPLE:
        if (v->count != t->count) return phx_fail(e, PHX_ERR_INVALID, "abi: tuple size mismatch");
        for (size_t i = 0; i < v->count; i++)
            if ((err = phx_abi_encode_packed(t->children[i], &v->items[i], out, e))) return err;
        return PHX_OK;
    }
    return phx_fail(e, PHX_ERR_INTERNAL, "abi: unknown kind");
}

/* ---- decoding ---------------------------------------------------------------- */

typedef struct {
    size_t budget; /* bytes of output we still allow: stops offset-aliasing blowups */
    phx_error_t *e;
} dec_t;

static phx_err_t charge(dec_t *d, size_t n)
{
    if (n > d->budget) return phx_fail(d->e, PHX_ERR_LIMIT, "abi: decoded value too large");
    d->budget -= n;
    return PHX_OK;
}

/* Read a word at p[off] as a size (must fit and be <= limit). */
static phx_err_t read_size(dec_t *d, const uint8_t *p, size_t len, size_t off, size_t limit,
                           size_t *out, const char *what)
{
    if (off > len || len - off < 32)
        return phx_fail(d->e, PHX_ERR_TRUNCATED, "abi: %s past the end", what);
    for (size_t i = 0; i < 24; i++)
        if (p[off + i]) return phx_fail(d->e, PHX_ERR_RANGE, "abi: %s too large", what);
    uint64_t v = 0;
    for (size_t i = 24; i < 32; i++)
        v = v << 8 | p[off + i];
    if (v > limit) return phx_fail(d->e, PHX_ERR_RANGE, "abi: %s out of bounds", what);
    *out = (size_t)v;
    return PHX_OK;
}

static phx_err_t decode_value(dec_t *d, const phx_abi_type_t *t, const uint8_t *p, size_t len,
                              phx_abi_value_t *v, int depth);

/* Decode n elements whose heads start at p[0]; offsets are relative to p. */
static phx_err_t decode_seq(dec_t *d, const phx_abi_type_t *const *types, bool same,
                            const uint8_t *p, size_t len, size_t n, phx_abi_value_t *v, int depth)
{
    phx_err_t err;
    if ((err = charge(d, n * sizeof(phx_abi_value_t)))) return err;
    v->items = calloc(n ? n : 1, sizeof *v->items);
    if (!v->items) return phx_fail(d->e, PHX_ERR_NOMEM, "abi: out of memory");
    v->count = n;
    size_t head = 0;
    for (size_t i = 0; i < n; i++) {
        const phx_abi_type_t *t = same ? types[0] : types[i];
        if (phx_abi_type_is_dynamic(t)) {
            size_t off;
            if ((err = read_size(d, p, len, head, len, &off, "offset"))) return err;
            if ((err = decode_value(d, t, p + off, len - off, &v->items[i], depth + 1))) return err;
            head += 32;
        } else {
            size_t sz = static_size(t);
            if (head > len || len - head < sz)
                return phx_fail(d->e, PHX_ERR_TRUNCATED, "abi: value past the end");
            if ((err = decode_value(d, t, p + head, len - head, &v->items[i], depth + 1)))
                return err;
            head += sz;
        }
    }
    return PHX_OK;
}

static phx_err_t decode_value(dec_t *d, const phx_abi_type_t *t, const uint8_t *p, size_t len,
                              phx_abi_value_t *v, int depth)
{
    phx_err_t err;
    size_t n;
    memset(v, 0, sizeof *v);
    v->kind = t->kind;
    if (depth > 2 * MAX_TYPE_DEPTH + 2) return phx_fail(d->e, PHX_ERR_LIMIT, "abi: too deep");
    if (is_word_kind(t->kind)) {
        if (len < 32) return phx_fail(d->e, PHX_ERR_TRUNCATED, "abi: word past the end");
        if ((err = check_word(t, p, d->e))) return err;
        memcpy(v->word, p, 32);
        return PHX_OK;
    }
    switch (t->kind) {
    case PHX_ABI_BYTES:
    case PHX_ABI_STRING:
        if ((err = read_size(d, p, len, 0, len, &n, "length"))) return err;
        if (len - 32 < n) return phx_fail(d->e, PHX_ERR_TRUNCATED, "abi: bytes past the end");
        if ((err = charge(d, n))) return err;
        v->bytes = malloc(n ? n : 1);
        if (!v->bytes) return phx_fail(d->e, PHX_ERR_NOMEM, "abi: out of memory");
        if (n) memcpy(v->bytes, p + 32, n);
        v->len = n;
        return PHX_OK;
    case PHX_ABI_ARRAY:
        return decode_seq(d, (const phx_abi_type_t *const *)t->children, true, p, len, t->length, v,
                          depth);
    case PHX_ABI_SLICE: {
        /* Each element needs at least one head slot (or a byte, for empty types). */
        size_t hs = head_size(t->children[0]);
        if ((err = read_size(d, p, len, 0, len, &n, "array length"))) return err;
        if (hs && n > (len - 32) / hs)
            return phx_fail(d->e, PHX_ERR_TRUNCATED, "abi: array past the end");
        return decode_seq(d, (const phx_abi_type_t *const *)t->children, true, p + 32, len - 32, n,
                          v, depth);
    }
    case PHX_ABI_TUPLE:
        return decode_seq(d, (const phx_abi_type_t *const *)t->children, false, p, len, t->count, v,
                          depth);
    default:
        return phx_fail(d->e, PHX_ERR_INTERNAL, "abi: unknown kind");
    }
}

phx_err_t phx_abi_decode(const phx_abi_type_t *t, const uint8_t *p, size_t len,
                         phx_abi_value_t **out, phx_error_t *e)
{
    static const uint8_t empty[1];
    if (!p) p = empty; /* an empty encoding (e.g. of "()") may come as NULL */
    dec_t d = {64 * len + (1u << 20), e};
    phx_abi_value_t *v = calloc(1, sizeof *v);
    phx_err_t err;
    if (!v) return phx_fail(e, PHX_ERR_NOMEM, "abi: out of memory");
    if (t->kind != PHX_ABI_TUPLE && phx_abi_type_is_dynamic(t)) {
        /* Mirror of encode: a lone dynamic value sits behind one offset. */
        phx_abi_value_t wrap;
        memset(&wrap, 0, sizeof wrap);
        const phx_abi_type_t *ts[1] = {t};
        err = decode_seq(&d, ts, false, p, len, 1, &wrap, 0);
        if (!err) {
            *v = wrap.items[0];
            free(wrap.items);
        } else {
            phx_abi_value_clear(&wrap);
        }
    } else {
        err = decode_value(&d, t, p, len, v, 0);
    }
    if (err) {
        phx_abi_value_free(v);
        return err;
    }
    *out = v;
    return PHX_OK;
}

/* ---- selectors and topics ------------------------------------------------------ */

static phx_err_t canonical_signature(const char *sig, phx_buf_t *out, phx_abi_type_t **params_out,
                                     phx_error_t *e)
{
    char *name = NULL;
    phx_abi_type_t *params = NULL;
    phx_err_t err = phx_abi_signature_parse(sig, &name, &params, e);
    if (err) return err;
    if ((err = phx_buf_append_str(out, name)) || (err = phx_abi_type_canonical(params, out)))
        phx_fail(e, err, "abi: out of memory");
    free(name);
    if (!err && params_out)
        *params_out = params;
    else
        phx_abi_type_free(params);
    return err;
}

phx_err_t phx_abi_selector(const char *sig, uint8_t out[4], phx_error_t *e)
{
    uint8_t h[32];
    phx_err_t err = phx_abi_event_topic(sig, h, e);
    if (!err) memcpy(out, h, 4);
    return err;
}

phx_err_t phx_abi_event_topic(const char *sig, uint8_t out[32], phx_error_t *e)
{
    phx_buf_t c = PHX_BUF_INIT;
    phx_err_t err = canonical_signature(sig, &c, NULL, e);
    if (!err) phx_keccak256(c.ptr, c.len, out);
    phx_buf_free(&c);
    return err;
}

phx_err_t phx_abi_encode_call_values(const char *sig, const phx_abi_value_t *args, phx_buf_t *out,
                                     phx_error_t *e)
{
    phx_buf_t c = PHX_BUF_INIT;
    phx_abi_type_t *params = NULL;
    uint8_t h[32];
    phx_err_t err = canonical_signature(sig, &c, &params, e);
    if (err) goto out;
    phx_keccak256(c.ptr, c.len, h);
    if ((err = phx_buf_append(out, h, 4))) goto out;
    err = phx_abi_encode(params, args, out, e);
out:
    phx_buf_free(&c);
    phx_abi_type_free(params);
    return err;
}

/* ---- logs -------------------------------------------------------------------- */

phx_err_t phx_abi_decode_log(const char *event_sig, bool anonymous, const phx_evm_log_t *log,
                             phx_abi_value_t **out, phx_error_t *e)
{
    phx_buf_t c = PHX_BUF_INIT;
    phx_abi_type_t *params = NULL, *data_t = NULL;
    phx_abi_value_t *data_v = NULL, *res = NULL;
    phx_err_t err = canonical_signature(event_sig, &c, &params, e);
    if (err) goto out;
    size_t topic = 0;
    if (!anonymous) {
        uint8_t h[32];
        phx_keccak256(c.ptr, c.len, h);
        if (log->topic_count < 1 || memcmp(log->topics[0], h, 32) != 0) {
            err = phx_fail(e, PHX_ERR_INVALID, "abi: log is not a %.*s event", (int)c.len,
                           (char *)c.ptr);
            goto out;
        }
        topic = 1;
    }
    /* The non-indexed parameters form a tuple encoded in data. */
    data_t = type_new(PHX_ABI_TUPLE);
    res = calloc(1, sizeof *res);
    if (!data_t || !res) {
        err = phx_fail(e, PHX_ERR_NOMEM, "abi: out of memory");
        goto out;
    }
    size_t indexed = 0;
    for (size_t i = 0; i < params->count; i++) {
        if (params->children[i]->indexed) {
            indexed++;
            continue;
        }
        if ((err = add_child(data_t, params->children[i], e))) goto out;
    }
    if (topic + indexed != log->topic_count) {
        err = phx_fail(e, PHX_ERR_INVALID,
                       "abi: event has %zu indexed parameters, log has %zu topics", indexed,
                       log->topic_count - topic);
        goto out;
    }
    if ((err = phx_abi_decode(data_t, log->data, log->data_len, &data_v, e))) goto out;
    res->kind = PHX_ABI_TUPLE;
    res->items = calloc(params->count ? params->count : 1, sizeof *res->items);
    if (!res->items) {
        err = phx_fail(e, PHX_ERR_NOMEM, "abi: out of memory");
        goto out;
    }
    res->count = params->count;
    size_t di = 0;
    for (size_t i = 0; i < params->count; i++) {
        const phx_abi_type_t *t = params->children[i];
        phx_abi_value_t *v = &res->items[i];
        if (!t->indexed) {
            *v = data_v->items[di];
            memset(&data_v->items[di], 0, sizeof data_v->items[di]);
            di++;
            continue;
        }
        const uint8_t *w = log->topics[topic++];
        if (is_word_kind(t->kind)) {
            if ((err = check_word(t, w, e))) goto out;
            v->kind = t->kind;
        } else {
            v->kind = PHX_ABI_FIXED_BYTES; /* dynamic indexed values are only their hash */
        }
        memcpy(v->word, w, 32);
    }
    *out = res;
    res = NULL;
out:
    if (data_t) data_t->count = 0; /* children are borrowed from params */
    phx_abi_type_free(data_t);
    phx_abi_type_free(params);
    phx_abi_value_free(data_v);
    phx_abi_value_free(res);
    phx_buf_free(&c);
    return err;
}
