/* Request bodies of /v1/chat/completions and /v1/completions: outside input,
 * parsed strictly with an error naming the field (OpenAI's `param`), and
 * fuzzed (fuzz/infer_request.c). Nothing here touches llama.cpp. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "phx/infer.h"

static phx_err_t bad(phx_error_t *e, const char **param, const char *name, phx_err_t code,
                     const char *what)
{
    if (param) *param = name;
    return phx_fail(e, code, "'%s' %s", name, what);
}

static char *dup_str(const json_t *v)
{
    size_t n = json_string_length(v);
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, json_string_value(v), n);
    s[n] = '\0';
    return s;
}

static void free_secret(char *s)
{
    if (!s) return;
    phx_secure_zero(s, strlen(s));
    free(s);
}

/* content: a string, null, or an array of {"type":"text","text":...} parts. */
static phx_err_t message_content(const json_t *c, char **out)
{
    if (!c || json_is_null(c)) {
        *out = strdup("");
        return *out ? PHX_OK : PHX_ERR_NOMEM;
    }
    if (json_is_string(c)) {
        *out = dup_str(c);
        return *out ? PHX_OK : PHX_ERR_NOMEM;
    }
    if (!json_is_array(c)) return PHX_ERR_INVALID;
    phx_buf_t b = PHX_BUF_INIT;
    b.secret = true;
    size_t i;
    const json_t *part;
    json_array_foreach(c, i, part)
    {
        const json_t *type = json_object_get(part, "type");
        const json_t *text = json_object_get(part, "text");
        if (!json_is_string(type) || strcmp(json_string_value(type), "text") != 0 ||
            !json_is_string(text)) {
            phx_buf_free(&b);
            return PHX_ERR_UNSUPPORTED;
        }
        if (phx_buf_append(&b, json_string_value(text), json_string_length(text))) {
            phx_buf_free(&b);
            return PHX_ERR_NOMEM;
        }
    }
    *out = malloc(b.len + 1);
    if (!*out) {
        phx_buf_free(&b);
        return PHX_ERR_NOMEM;
    }
    if (b.len) memcpy(*out, b.ptr, b.len);
    (*out)[b.len] = '\0';
    phx_buf_free(&b);
    return PHX_OK;
}

/* An integer, also written as an integral real ("1e9" parses as a real). */
static bool get_integer(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!isfinite(d) || d != floor(d) || fabs(d) > 9.0e15) return false;
        *out = (int64_t)d;
        return true;
    }
    return false;
}

phx_err_t phx_infer_request_parse(phx_infer_kind_t kind, const uint8_t *body, size_t len,
                                  phx_infer_request_t *out, const char **param, phx_error_t *e)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->max_tokens = -1;
    out->temperature = 1.0;
    out->top_p = 1.0;
    if (param) *param = NULL;
    json_t *root = NULL;
    phx_err_t err;
    phx_error_t pe = {0};
    if (phx_json_parse((const char *)body, len, &root, &pe)) {
        /* jansson's message quotes the text near the error: never echo a prompt. */
        err = phx_fail(e, PHX_ERR_INVALID, "the request body is not valid JSON");
        goto out;
    }
    if (!json_is_object(root)) {
        err = phx_fail(e, PHX_ERR_INVALID, "the request body must be a JSON object");
        goto out;
    }
    const json_t *v = json_object_get(root, "model");
    if (!json_is_string(v)) {
        err = bad(e, param, "model", PHX_ERR_INVALID, "is required and must be a string");
        goto out;
    }
    if (!(out->model = dup_str(v))) goto nomem;

    if (kind == PHX_INFER_CHAT) {
        v = json_object_get(root, "messages");
        if (!json_is_array(v) || json_array_size(v) == 0) {
            err = bad(e, param, "messages", PHX_ERR_INVALID, "must be a non-empty array");
            goto out;
        }
        if (json_array_size(v) > PHX_INFER_MAX_MESSAGES) {
            err = bad(e, param, "messages", PHX_ERR_RANGE, "has too many messages");
            goto out;
        }
        out->messages = calloc(json_array_size(v), sizeof *out->messages);
        if (!out->messages) goto nomem;
        size_t i;
        const json_t *m;
        json_array_foreach(v, i, m)
        {
            const json_t *role = json_object_get(m, "role");
            if (!json_is_object(m) || !json_is_string(role)) {
                err = bad(e, param, "messages", PHX_ERR_INVALID,
                          "must hold objects with a string 'role'");
                goto out;
            }
            const char *r = json_string_value(role);
            if (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant") &&
                strcmp(r, "developer") && strcmp(r, "tool")) {
                err = bad(e, param, "messages", PHX_ERR_INVALID, "has an unknown role");
                goto out;
            }
            out->nmessages = i + 1;
            if (!(out->messages[i].role = strdup(r))) goto nomem;
            err = message_content(json_object_get(m, "content"), &out->messages[i].content);
            if (err == PHX_ERR_NOMEM) goto nomem;
            if (err) {
                err = bad(e, param, "messages", err,
                          "content must be a string or an array of text parts");
                goto out;
            }
        }
    } else {
        v = json_object_get(root, "prompt");
        if (json_is_array(v) && json_array_size(v) == 1) v = json_array_get(v, 0);
        if (!json_is_string(v)) {
            err = bad(e, param, "prompt", PHX_ERR_INVALID, "must be a string");
            goto out;
        }
        if (!(out->prompt = dup_str(v))) goto nomem;
    }

    v = json_object_get(root, "stream");
    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            err = bad(e, param, "stream", PHX_ERR_INVALID, "must be a boolean");
            goto out;
        }
        out->stream = json_is_true(v);
    }
    v = json_object_get(root, "stream_options");
    if (v && !json_is_null(v)) {
        const json_t *u = json_object_get(v, "include_usage");
        if (!json_is_object(v) || (u && !json_is_boolean(u))) {
            err = bad(e, param, "stream_options", PHX_ERR_INVALID,
                      "must be an object with a boolean include_usage");
            goto out;
        }
        out->include_usage = json_is_true(u);
    }
    v = json_object_get(root, "return_token_ids");
    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            err = bad(e, param, "return_token_ids", PHX_ERR_INVALID, "must be a boolean");
            goto out;
        }
        out->return_token_ids = json_is_true(v);
    }
    static const char *const max_names[] = {"max_completion_tokens", "max_tokens"};
    for (size_t k = 0; k < 2; k++) {
        v = json_object_get(root, max_names[k]);
        if (!v || json_is_null(v)) continue;
        int64_t n;
        if (!get_integer(v, &n)) {
            err = bad(e, param, max_names[k], PHX_ERR_INVALID, "must be an integer");
            goto out;
        }
        if (n < 1) {
            err = bad(e, param, max_names[k], PHX_ERR_RANGE, "must be at least 1");
            goto out;
        }
        out->max_tokens = n;
        break;
    }
    v = json_object_get(root, "temperature");
    if (v && !json_is_null(v)) {
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 2) {
            err = bad(e, param, "temperature", PHX_ERR_RANGE, "must be a number from 0 to 2");
            goto out;
        }
        out->temperature = json_number_value(v);
    }
    v = json_object_get(root, "top_p");
    if (v && !json_is_null(v)) {
        if (!json_is_number(v) || !(json_number_value(v) > 0) || json_number_value(v) > 1) {
            err = bad(e, param, "top_p", PHX_ERR_RANGE, "must be a number in (0, 1]");
            goto out;
        }
        out->top_p = json_number_value(v);
    }
    v = json_object_get(root, "seed");
    if (v && !json_is_null(v)) {
        int64_t n;
        if (!get_integer(v, &n)) {
            err = bad(e, param, "seed", PHX_ERR_INVALID, "must be an integer");
            goto out;
        }
        out->has_seed = true;
        out->seed = (uint32_t)((uint64_t)n & 0xffffffffu);
    }
    v = json_object_get(root, "n");
    if (v && !json_is_null(v)) {
        int64_t n;
        if (!get_integer(v, &n) || n != 1) {
            err = bad(e, param, "n", PHX_ERR_UNSUPPORTED, "must be 1 (one choice per request)");
            goto out;
        }
    }
    v = json_object_get(root, "stop");
    if (v && !json_is_null(v)) {
        if (json_is_string(v)) {
            if (json_string_length(v) && !(out->stop[out->nstop++] = dup_str(v))) goto nomem;
        } else if (json_is_array(v) && json_array_size(v) <= PHX_INFER_MAX_STOP) {
            size_t i;
            const json_t *s;
            json_array_foreach(v, i, s)
            {
                if (!json_is_string(s)) {
                    err = bad(e, param, "stop", PHX_ERR_INVALID, "must hold strings");
                    goto out;
                }
                if (!json_string_length(s)) continue;
                if (!(out->stop[out->nstop++] = dup_str(s))) goto nomem;
            }
        } else {
            err = bad(e, param, "stop", PHX_ERR_INVALID, "must be a string or up to 4 strings");
            goto out;
        }
    }
    err = PHX_OK;
    goto out;
nomem:
    err = phx_fail(e, PHX_ERR_NOMEM, "out of memory");
out:
    json_decref(root);
    if (err) phx_infer_request_free(out);
    return err;
}

void phx_infer_request_free(phx_infer_request_t *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->nmessages; i++) {
        free(r->messages[i].role);
        free_secret(r->messages[i].content);
    }
    free(r->messages);
    free(r->model);
    free_secret(r->prompt);
    for (size_t i = 0; i < r->nstop; i++)
        free_secret(r->stop[i]);
    memset(r, 0, sizeof *r);
}

/* Length of the valid UTF-8 sequence at p (n bytes available): >0 valid,
 * 0 incomplete (a valid prefix cut by the end), -1 invalid. Strict: no
 * overlongs, no surrogates, nothing above U+10FFFF (what jansson accepts). */
static int utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    int len;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return -1;
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) return 0;
        uint8_t lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xbf;
        if (p[i] < lo_i || p[i] > hi_i) return -1;
    }
    return len;
}

phx_err_t phx_infer_utf8_take(phx_buf_t *pending, bool final, phx_buf_t *out)
{
    static const uint8_t fffd[3] = {0xef, 0xbf, 0xbd};
    size_t i = 0;
    phx_err_t err = PHX_OK;
    while (i < pending->len && !err) {
        int k = utf8_seq(pending->ptr + i, pending->len - i);
        if (k > 0) {
            err = phx_buf_append(out, pending->ptr + i, (size_t)k);
            i += (size_t)k;
        } else if (k == 0 && !final) {
            break;
        } else {
            err = phx_buf_append(out, fffd, sizeof fffd);
            i++;
        }
    }
    if (err) return err;
    if (i) {
        memmove(pending->ptr, pending->ptr + i, pending->len - i);
        pending->len -= i;
    }
    return PHX_OK;
}

bool phx_infer_sse_take(phx_buf_t *pending, phx_buf_t *data)
{
    const uint8_t *p = pending->ptr;
    size_t n = pending->len, end = 0, body = 0;
    for (size_t i = 0; i + 1 < n && !end; i++) {
        if (p[i] == '\n' && p[i + 1] == '\n')
            body = i, end = i + 2;
        else if (i + 3 < n && memcmp(p + i, "\r\n\r\n", 4) == 0)
            body = i, end = i + 4;
    }
    if (!end) return false;
    bool first = true;
    for (size_t at = 0; at < body;) {
        const uint8_t *nl = memchr(p + at, '\n', body - at);
        size_t le = nl ? (size_t)(nl - p) : body, ll = le - at;
        if (ll && p[at + ll - 1] == '\r') ll--;
        if (ll >= 5 && memcmp(p + at, "data:", 5) == 0) {
            size_t v = at + 5;
            if (v < at + ll && p[v] == ' ') v++;
            if (!first) phx_buf_append_byte(data, '\n');
            phx_buf_append(data, p + v, at + ll - v);
            first = false;
        }
        at = le + 1;
    }
    memmove(pending->ptr, p + end, n - end);
    pending->len = n - end;
    pending->ptr[pending->len] = 0;
    return true;
}
