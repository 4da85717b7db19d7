/* Source maps (include/phx/js.h): a bundle made by `phx build` carries its map
 * inline (a last-line "//# sourceMappingURL=data:application/json;base64,"
 * comment), so it is part of the code that is hashed and deployed, and an
 * error in the bundle is reported at the user's file and line. Only what that
 * needs is read: "sources" and the "mappings" of one generated line (source
 * map v3, base64 VLQ). The map is outside input (it comes with the contract):
 * every length and index is checked (fuzz/fuzz_js_sourcemap.c). */
#include <string.h>

#include "phx/core.h"
#include "phx/js.h"
#include "phx/json.h"

static const char MARK[] = "//# sourceMappingURL=data:application/json;base64,";

/* One base64 VLQ value at *p (not past end); advances *p. */
static bool vlq(const char **p, const char *end, long *out)
{
    unsigned long v = 0;
    for (int shift = 0; *p < end && shift <= 30; shift += 5) {
        int d = phx_base64_value(*(*p)++);
        if (d < 0) return false;
        v |= (unsigned long)(d & 31) << shift;
        if (!(d & 32)) {
            *out = (v & 1) ? -(long)(v >> 1) : (long)(v >> 1);
            return true;
        }
    }
    return false;
}

phx_err_t phx_js_sourcemap_lookup(const char *src, size_t len, unsigned line, unsigned column,
                                  char *file, size_t file_cap, unsigned *orig_line, phx_error_t *e)
{
    /* The last mark in the source, on a line of its own to the end. */
    const char *at = NULL;
    for (size_t i = len >= sizeof MARK - 1 ? len - (sizeof MARK - 1) + 1 : 0; i-- > 0;)
        if (src[i] == '/' && !memcmp(src + i, MARK, sizeof MARK - 1)) {
            at = src + i;
            break;
        }
    if (!at) return phx_fail(e, PHX_ERR_NOT_FOUND, "no inline source map");
    const char *b64 = at + sizeof MARK - 1, *stop = b64;
    while ((size_t)(stop - src) < len && *stop != '\n' && *stop != '\r' && *stop != ' ')
        stop++;
    phx_buf_t raw = PHX_BUF_INIT;
    json_t *map = NULL;
    phx_err_t err = phx_base64_decode(b64, (size_t)(stop - b64), &raw, e);
    if (err) goto out;
    if ((err = phx_json_parse((const char *)raw.ptr, raw.len, &map, e))) goto out;
    const json_t *sources = json_object_get(map, "sources");
    const char *mappings = json_string_value(json_object_get(map, "mappings"));
    if (!json_is_array(sources) || !mappings) {
        err = phx_fail(e, PHX_ERR_INVALID, "source map without sources or mappings");
        goto out;
    }
    /* Fields are deltas that run on across lines (all but the generated
     * column, which restarts on each line): decode up to the line asked for. */
    const char *p = mappings, *end = mappings + strlen(mappings);
    long src_idx = 0, src_line = 0, best_idx = -1, best_line = -1;
    unsigned cur = 1;
    while (p < end && cur <= line) {
        long gen_col = 0;
        while (p < end && *p != ';') {
            long f[5] = {0};
            int n = 0;
            while (p < end && *p != ',' && *p != ';') {
                if (n == 5 || !vlq(&p, end, &f[n])) {
                    err = phx_fail(e, PHX_ERR_INVALID, "bad VLQ in source map mappings");
                    goto out;
                }
                n++;
            }
            if (n != 1 && n != 4 && n != 5) {
                err = phx_fail(e, PHX_ERR_INVALID, "a mapping segment of %d fields", n);
                goto out;
            }
            gen_col += f[0];
            if (n >= 4) {
                src_idx += f[1];
                src_line += f[2]; /* f[3], the source column, is not needed */
                /* The segment that covers the column: the last one starting at or before it. */
                if (cur == line && (best_idx < 0 || gen_col <= (long)column)) {
                    best_idx = src_idx;
                    best_line = src_line;
                }
            }
            if (p < end && *p == ',') p++;
        }
        if (p < end) p++; /* ';' */
        cur++;
    }
    if (best_idx < 0 || best_idx >= (long)json_array_size(sources) || best_line < 0) {
        err = phx_fail(e, PHX_ERR_NOT_FOUND, "no mapping for line %u", line);
        goto out;
    }
    const char *name = json_string_value(json_array_get(sources, (size_t)best_idx));
    if (!name) {
        err = phx_fail(e, PHX_ERR_INVALID, "source %ld has no name", best_idx);
        goto out;
    }
    /* Shown in error messages: a plain relative path, without the "../" that
     * leads from the bundle's directory back to the sources (nor a leading
     * "/": no absolute path of the builder's machine is shown). */
    for (;;) {
        if (!strncmp(name, "../", 3))
            name += 3;
        else if (!strncmp(name, "./", 2))
            name += 2;
        else if (*name == '/')
            name++;
        else
            break;
    }
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr("._-/@+", *c))) {
            err = phx_fail(e, PHX_ERR_INVALID, "source %ld has a name that is not plain", best_idx);
            goto out;
        }
    if (!*name) {
        err = phx_fail(e, PHX_ERR_INVALID, "source %ld has no name", best_idx);
        goto out;
    }
    snprintf(file, file_cap, "%s", name);
    *orig_line = (unsigned)best_line + 1;
out:
    json_decref(map);
    phx_buf_free(&raw);
    return err;
}
