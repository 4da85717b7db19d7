/* Core library: buffers, hex, base64, reader bounds, constant-time compare,
 * atomic file writes, JSON getters. */
#include <unistd.h>

#include "phx/core.h"
#include "phx/json.h"
#include "test.h"

static void test_hex(void)
{
    phx_buf_t b = PHX_BUF_INIT;
    phx_error_t e = {0};
    CHECK(phx_hex_decode("0xDEadBEef", &b, &e) == PHX_OK);
    CHECK(b.len == 4 && b.ptr[0] == 0xde && b.ptr[3] == 0xef);
    char *s = phx_hex_encode(b.ptr, b.len);
    CHECK(s && strcmp(s, "0xdeadbeef") == 0);
    free(s);
    phx_buf_reset(&b);
    CHECK(phx_hex_decode("abc", &b, &e) == PHX_ERR_INVALID);
    CHECK(strstr(e.message, "odd-length") != NULL);
    CHECK(phx_hex_decode("0xzz", &b, &e) == PHX_ERR_INVALID);
    CHECK(strstr(e.message, "position 0") != NULL);
    CHECK(phx_hex_decode("", &b, &e) == PHX_OK && b.len == 0);
    uint8_t k[4];
    CHECK(phx_hex_decode_fixed("0x01020304", k, 4, &e) == PHX_OK && k[3] == 4);
    CHECK(phx_hex_decode_fixed("0x010203", k, 4, &e) == PHX_ERR_INVALID);
    CHECK(strstr(e.message, "expected 4 bytes, got 3") != NULL);
    phx_buf_free(&b);
}

static void test_base64(void)
{
    /* RFC 4648 §10 vectors. */
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *s = phx_base64_encode((const uint8_t *)in[i], strlen(in[i]));
        CHECK(s && strcmp(s, out[i]) == 0);
        free(s);
        phx_buf_t b = PHX_BUF_INIT;
        CHECK(phx_base64_decode(out[i], strlen(out[i]), &b, NULL) == PHX_OK);
        CHECK(b.len == strlen(in[i]) && (b.len == 0 || memcmp(b.ptr, in[i], b.len) == 0));
        phx_buf_free(&b);
    }
    phx_buf_t b = PHX_BUF_INIT;
    CHECK(phx_base64_decode("Zm9v!", 5, &b, NULL) == PHX_ERR_INVALID);
    CHECK(phx_base64_decode("Z", 1, &b, NULL) == PHX_ERR_INVALID);
    phx_buf_free(&b);
}

static void test_buf(void)
{
    phx_buf_t b = PHX_BUF_INIT;
    b.secret = true;
    for (int i = 0; i < 1000; i++) CHECK(phx_buf_printf(&b, "%d,", i) == PHX_OK);
    CHECK(strncmp((char *)b.ptr, "0,1,2,", 6) == 0);
    CHECK(b.ptr[b.len] == 0);
    size_t n;
    uint8_t *p = phx_buf_detach(&b, &n);
    CHECK(p && n > 3000 && b.ptr == NULL);
    free(p);
    phx_buf_free(NULL);
}

static void test_reader(void)
{
    const uint8_t data[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    phx_reader_t r = phx_reader(data, sizeof data);
    uint16_t a;
    uint32_t b;
    uint64_t c;
    phx_error_t e = {0};
    CHECK(phx_reader_u16le(&r, &a, &e) == PHX_OK && a == 0x0201);
    CHECK(phx_reader_u32le(&r, &b, &e) == PHX_OK && b == 0x06050403);
    CHECK(phx_reader_u64le(&r, &c, &e) == PHX_ERR_TRUNCATED);
    CHECK(strstr(e.message, "offset 6") != NULL);
    CHECK(r.off == 6);
    const uint8_t *v;
    CHECK(phx_reader_view(&r, &v, 3, &e) == PHX_OK && v[0] == 7 && phx_reader_left(&r) == 0);
}

static void test_ct(void)
{
    uint8_t a[32] = {0}, b[32] = {0};
    CHECK(phx_ct_eq(a, b, 32) == 1);
    b[31] = 0x80;
    CHECK(phx_ct_eq(a, b, 32) == 0);
    b[31] = 0;
    b[0] = 1;
    CHECK(phx_ct_eq(a, b, 32) == 0);
    CHECK(phx_ct_eq(a, b, 0) == 1);
}

static void test_file_json(void)
{
    char dir[] = "/tmp/phx-test-core-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/x.json", dir);
    const char *text = "{\"a\":\"0xABCD\",\"n\":7,\"t\":true}";
    phx_error_t e = {0};
    CHECK(phx_file_write_atomic(path, text, strlen(text), 0600, &e) == PHX_OK);
    json_t *j = NULL;
    CHECK(phx_json_load_file(path, &j, &e) == PHX_OK);
    phx_buf_t b = PHX_BUF_INIT;
    CHECK(phx_json_get_hex(j, "a", &b, &e) == PHX_OK && b.len == 2 && b.ptr[0] == 0xab);
    int64_t n;
    bool t;
    CHECK(phx_json_get_int(j, "n", &n, &e) == PHX_OK && n == 7);
    CHECK(phx_json_get_bool(j, "t", &t, &e) == PHX_OK && t);
    CHECK(phx_json_get_int(j, "missing", &n, &e) == PHX_ERR_INVALID);
    CHECK(strstr(e.message, "\"missing\"") != NULL);
    const char *s;
    CHECK(phx_json_get_str(j, "n", &s, &e) == PHX_ERR_INVALID);
    json_decref(j);
    phx_buf_free(&b);
    CHECK(phx_json_parse("{\"a\":1,\"a\":2}", 13, &j, &e) == PHX_ERR_INVALID);
    CHECK(phx_json_parse("{", 1, &j, &e) == PHX_ERR_INVALID);
    /* Raw NULs in strings: refused by default, allowed for JSON-RPC bodies. */
    const char *nul = "{\"m\":\"a\\u0000b\"}";
    CHECK(phx_json_parse(nul, strlen(nul), &j, &e) == PHX_ERR_INVALID);
    CHECK(phx_json_parse_allow_nul(nul, strlen(nul), &j, &e) == PHX_OK);
    CHECK(json_string_length(json_object_get(j, "m")) == 3);
    json_decref(j);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_hex();
    test_base64();
    test_buf();
    test_reader();
    test_ct();
    test_file_json();
    return test_done("test_core");
}
