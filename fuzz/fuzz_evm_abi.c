/* libFuzzer: ABI decoding. The first byte picks a type (or, 0xff, the rest is
 * type text to parse); the rest is decoded. Whatever decodes must re-encode to a
 * canonical form that decodes and re-encodes to itself, and print as JSON that
 * reads back to the same encoding. */
#include <stdlib.h>
#include <string.h>

#include "phx/evm.h"

static const char *const types[] = {
    "(uint256)",
    "(int8,bool,address)",
    "(bytes)",
    "(string)",
    "(bytes32[2],uint16[])",
    "(uint256[][],string[])",
    "((uint8,bytes)[],address)",
    "((string,(bytes,uint64[3]))[2])",
    "(bytes3,int256,bool[])",
    "(function)",
    "((),uint8[0])",
    "(string,bytes,uint256)",
};

static void check(const phx_abi_type_t *t, const uint8_t *p, size_t len)
{
    phx_abi_value_t *v = NULL, *v2 = NULL, *v3 = NULL;
    phx_buf_t a = PHX_BUF_INIT, b = PHX_BUF_INIT, c = PHX_BUF_INIT;
    json_t *j = NULL;
    if (phx_abi_decode(t, p, len, &v, NULL) != PHX_OK) return;
    if (phx_abi_encode(t, v, &a, NULL) != PHX_OK) abort();
    if (phx_abi_decode(t, a.ptr, a.len, &v2, NULL) != PHX_OK) abort();
    if (phx_abi_encode(t, v2, &b, NULL) != PHX_OK || a.len != b.len ||
        (a.len && memcmp(a.ptr, b.ptr, a.len)))
        abort();
    if (phx_abi_value_to_json(t, v, &j, NULL) != PHX_OK) abort();
    /* Strings that are not UTF-8 print as hex and cannot read back as-is. */
    if (phx_abi_value_from_json(t, j, &v3, NULL) == PHX_OK) {
        if (phx_abi_encode(t, v3, &c, NULL) != PHX_OK) abort();
    }
    json_decref(j);
    phx_abi_value_free(v);
    phx_abi_value_free(v2);
    phx_abi_value_free(v3);
    phx_buf_free(&a);
    phx_buf_free(&b);
    phx_buf_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
    if (len < 1) return 0;
    phx_abi_type_t *t = NULL;
    if (p[0] == 0xff) {
        char *text = malloc(len);
        if (!text) return 0;
        memcpy(text, p + 1, len - 1);
        text[len - 1] = 0;
        if (phx_abi_type_parse(text, &t, NULL) == PHX_OK) {
            phx_buf_t canon = PHX_BUF_INIT;
            if (phx_abi_type_canonical(t, &canon) != PHX_OK) abort();
            phx_buf_free(&canon);
            phx_abi_type_free(t);
        }
        uint8_t sel[4];
        (void)phx_abi_selector(text, sel, NULL);
        free(text);
        return 0;
    }
    if (phx_abi_type_parse(types[p[0] % (sizeof types / sizeof types[0])], &t, NULL) != PHX_OK)
        abort();
    check(t, p + 1, len - 1);
    phx_abi_type_free(t);
    return 0;
}
