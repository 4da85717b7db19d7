/* libFuzzer target for phx infer's request bodies (src/infer/request.c): the
 * first byte picks chat or completion, the rest is the body as the server
 * hands it over. Parsed requests also go through the UTF-8 splitter, as
 * generated token bytes would, and the bytes through the SSE event splitter,
 * as an upstream engine's stream would (proxy mode). */
#include <string.h>

#include "phx/infer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    phx_infer_kind_t kind = (data[0] & 1) ? PHX_INFER_CHAT : PHX_INFER_COMPLETION;
    phx_infer_request_t r;
    phx_error_t e = {0};
    const char *param = NULL;
    if (phx_infer_request_parse(kind, data + 1, size - 1, &r, &param, &e) == PHX_OK)
        phx_infer_request_free(&r);
    /* Arbitrary bytes through the splitter: the output must be valid UTF-8. */
    phx_buf_t pending = PHX_BUF_INIT, out = PHX_BUF_INIT;
    if (!phx_buf_append(&pending, data + 1, size - 1) &&
        !phx_infer_utf8_take(&pending, (data[0] & 2) != 0, &out)) {
        json_t *s = json_stringn(out.len ? (const char *)out.ptr : "", out.len);
        if (!s) __builtin_trap();
        json_decref(s);
    }
    phx_buf_free(&pending);
    phx_buf_free(&out);
    /* Upstream SSE bytes: every event taken shrinks pending, data never
     * holds more than was there. */
    phx_buf_t sse = PHX_BUF_INIT, ev = PHX_BUF_INIT;
    if (!phx_buf_append(&sse, data + 1, size - 1)) {
        size_t before = sse.len;
        while (phx_infer_sse_take(&sse, &ev)) {
            if (sse.len + 2 > before || ev.len > size) __builtin_trap();
            before = sse.len;
        }
        if (sse.len != before) __builtin_trap();
    }
    phx_buf_free(&sse);
    phx_buf_free(&ev);
    return 0;
}
