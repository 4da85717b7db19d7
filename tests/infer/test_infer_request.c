/* The request parser of phx infer (outside input), the UTF-8 splitter that
 * turns token bytes into JSON-safe text, and the SSE splitter of proxy mode.
 * No llama.cpp needed. */
#include <string.h>

#include "phx/infer.h"
#include "test.h"

static phx_err_t parse(phx_infer_kind_t kind, const char *body, phx_infer_request_t *r,
                       const char **param)
{
    phx_error_t e = {0};
    return phx_infer_request_parse(kind, (const uint8_t *)body, strlen(body), r, param, &e);
}

static void test_chat(void)
{
    phx_infer_request_t r;
    const char *param;
    CHECK(parse(PHX_INFER_CHAT,
                "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
                "{\"type\":\"text\",\"text\":\"b\"}]},{\"role\":\"assistant\",\"content\":null}],"
                "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_tokens\":1e3,"
                "\"temperature\":0,\"seed\":-1,\"stop\":[\"x\",\"\",\"yz\"],\"n\":1}",
                &r, &param) == PHX_OK);
    CHECK(r.nmessages == 3 && strcmp(r.messages[1].content, "ab") == 0);
    CHECK(strcmp(r.messages[2].content, "") == 0);
    CHECK(r.stream && r.include_usage && r.max_tokens == 1000 && r.temperature == 0);
    CHECK(r.has_seed && r.seed == 0xffffffffu);
    CHECK(r.nstop == 2 && strcmp(r.stop[1], "yz") == 0);
    phx_infer_request_free(&r);

    CHECK(parse(PHX_INFER_COMPLETION, "{\"model\":\"m\",\"prompt\":[\"hi\"]}", &r, &param) ==
          PHX_OK);
    CHECK(strcmp(r.prompt, "hi") == 0 && r.max_tokens == -1 && r.temperature == 1.0);
    phx_infer_request_free(&r);
}

static void test_bad(void)
{
    static const struct {
        phx_infer_kind_t kind;
        const char *body, *param;
        phx_err_t err;
    } cases[] = {
        {PHX_INFER_CHAT, "{\"model\":\"m\",\"messages\":[", NULL, PHX_ERR_INVALID},
        {PHX_INFER_CHAT, "[1,2]", NULL, PHX_ERR_INVALID},
        {PHX_INFER_CHAT, "{\"messages\":[]}", "model", PHX_ERR_INVALID},
        {PHX_INFER_CHAT, "{\"model\":\"m\",\"messages\":[]}", "messages", PHX_ERR_INVALID},
        {PHX_INFER_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"god\",\"content\":\"x\"}]}",
         "messages", PHX_ERR_INVALID},
        {PHX_INFER_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":5}]}",
         "messages", PHX_ERR_INVALID},
        {PHX_INFER_CHAT,
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}"
         "]}",
         "messages", PHX_ERR_UNSUPPORTED},
        {PHX_INFER_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"max_tokens\":0}",
         "max_tokens", PHX_ERR_RANGE},
        {PHX_INFER_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"max_tokens\":1.5}",
         "max_tokens", PHX_ERR_INVALID},
        {PHX_INFER_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"temperature\":2.5}",
         "temperature", PHX_ERR_RANGE},
        {PHX_INFER_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"top_p\":0}",
         "top_p", PHX_ERR_RANGE},
        {PHX_INFER_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"n\":2}", "n",
         PHX_ERR_UNSUPPORTED},
        {PHX_INFER_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"stream\":1}",
         "stream", PHX_ERR_INVALID},
        {PHX_INFER_CHAT,
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"stop\":[\"a\",\"b\",\"c\",\"d\","
         "\"e\"]}",
         "stop", PHX_ERR_INVALID},
        {PHX_INFER_COMPLETION, "{\"model\":\"m\",\"prompt\":7}", "prompt", PHX_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        phx_infer_request_t r;
        const char *param = "unset";
        phx_err_t err = parse(cases[i].kind, cases[i].body, &r, &param);
        CHECK_MSG(err == cases[i].err, "case %zu: got %d want %d", i, (int)err, (int)cases[i].err);
        CHECK_MSG(cases[i].param ? param && strcmp(param, cases[i].param) == 0 : param == NULL,
                  "case %zu: param %s", i, param ? param : "(null)");
        CHECK(r.model == NULL && r.messages == NULL); /* freed on failure */
    }
}

static void test_utf8(void)
{
    phx_buf_t pending = PHX_BUF_INIT, out = PHX_BUF_INIT;
    /* "é" split across two tokens: nothing until the second byte. */
    phx_buf_append(&pending, "a\xc3", 2);
    CHECK(phx_infer_utf8_take(&pending, false, &out) == PHX_OK);
    CHECK(out.len == 1 && out.ptr[0] == 'a' && pending.len == 1);
    phx_buf_append(&pending, "\xa9", 1);
    CHECK(phx_infer_utf8_take(&pending, false, &out) == PHX_OK);
    CHECK(out.len == 3 && memcmp(out.ptr, "a\xc3\xa9", 3) == 0 && pending.len == 0);
    /* Invalid bytes become U+FFFD: a lone continuation, an overlong, a surrogate. */
    phx_buf_reset(&out);
    phx_buf_append(&pending, "\x80\xc0\xaf\xed\xa0\x80z", 7);
    CHECK(phx_infer_utf8_take(&pending, false, &out) == PHX_OK);
    CHECK(pending.len == 0 && out.len == 6 * 3 + 1 && out.ptr[out.len - 1] == 'z');
    json_t *s = json_stringn((const char *)out.ptr, out.len);
    CHECK(s != NULL); /* jansson accepts it: valid UTF-8 */
    json_decref(s);
    /* An incomplete sequence at the end: kept, or U+FFFD when final. */
    phx_buf_reset(&out);
    phx_buf_append(&pending, "\xf0\x9f\x98", 3);
    CHECK(phx_infer_utf8_take(&pending, false, &out) == PHX_OK && out.len == 0 && pending.len == 3);
    CHECK(phx_infer_utf8_take(&pending, true, &out) == PHX_OK && pending.len == 0 && out.len == 9);
    phx_buf_free(&pending);
    phx_buf_free(&out);
}

/* An upstream engine's SSE stream, in pieces as the network delivers it. */
static void test_sse(void)
{
    phx_buf_t p = PHX_BUF_INIT, d = PHX_BUF_INIT;
    phx_buf_append_str(&p, "data: {\"a\":1}\n");
    CHECK(!phx_infer_sse_take(&p, &d) && p.len == 14 && d.len == 0); /* not whole yet */
    phx_buf_append_str(&p, "\n: keep-alive\r\n\r\nevent: x\ndata:two\r\ndata: lines\n\ndata: [DO");
    CHECK(phx_infer_sse_take(&p, &d) && strcmp((const char *)d.ptr, "{\"a\":1}") == 0);
    phx_buf_reset(&d);
    CHECK(phx_infer_sse_take(&p, &d) && d.len == 0); /* a comment: no data */
    CHECK(phx_infer_sse_take(&p, &d) && strcmp((const char *)d.ptr, "two\nlines") == 0);
    phx_buf_reset(&d);
    CHECK(!phx_infer_sse_take(&p, &d) && strcmp((const char *)p.ptr, "data: [DO") == 0);
    phx_buf_append_str(&p, "NE]\n\n");
    CHECK(phx_infer_sse_take(&p, &d) && strcmp((const char *)d.ptr, "[DONE]") == 0 && p.len == 0);
    phx_buf_free(&p);
    phx_buf_free(&d);
}

int main(void)
{
    test_chat();
    test_bad();
    test_utf8();
    test_sse();
    return test_done("test_infer_request");
}
