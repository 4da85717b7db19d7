/* Collateral parser on every collateral file and every raw Intel PCS response in
 * the shared testdata: TCB Info v2 (SGX) and v3 (SGX, TDX), QE Identity v2 (QE,
 * TD_QE). Raw responses are spliced, byte for byte, into a collateral object. */
#include <dirent.h>

#include "phx/attest.h"
#include "test.h"

/* The exact text of the object after "key": in a PCS response body. */
static char *inner_object(const char *body, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "{\"%s\":", key);
    const char *start = strstr(body, pat);
    if (!start) return NULL;
    start += strlen(pat);
    int depth = 0;
    bool in_str = false;
    for (const char *p = start; *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_str = false;
        } else if (*p == '"') {
            in_str = true;
        } else if (*p == '{') {
            depth++;
        } else if (*p == '}' && --depth == 0) {
            return strndup(start, (size_t)(p - start + 1));
        }
    }
    return NULL;
}

static phx_err_t parse_with(json_t *base, const char *field, const char *text, phx_error_t *e)
{
    json_t *doc = json_deep_copy(base);
    json_object_set_new(doc, field, json_string(text));
    char *s = json_dumps(doc, JSON_COMPACT);
    phx_collateral_t *c = NULL;
    phx_err_t err = phx_collateral_parse((const uint8_t *)s, strlen(s), &c, e);
    phx_collateral_free(c);
    free(s);
    json_decref(doc);
    return err;
}

int main(void)
{
    const char *dir = test_data_path("dcap/collateral");
    if (!dir) return test_done("attest_collateral");
    char cdir[4096];
    snprintf(cdir, sizeof cdir, "%s", dir);
    phx_error_t e = {0};
    size_t n_col = 0, n_raw = 0;
    json_t *base = NULL;
    DIR *d = opendir(cdir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!strstr(de->d_name, ".json")) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", cdir, de->d_name);
        phx_buf_t b = PHX_BUF_INIT;
        CHECK(phx_file_read(path, &b, &e) == PHX_OK);
        phx_collateral_t *c = NULL;
        phx_err_t err = phx_collateral_parse(b.ptr, b.len, &c, &e);
        CHECK_MSG(err == PHX_OK, "%s: %s", de->d_name, e.message);
        printf("collateral %-40s %s\n", de->d_name, err ? e.message : "parsed");
        if (!base) phx_json_parse((const char *)b.ptr, b.len, &base, &e);
        /* Every strict prefix is refused, never crashes. */
        for (size_t cut = 0; cut < b.len; cut += 97) {
            phx_collateral_t *x = NULL;
            CHECK(phx_collateral_parse(b.ptr, cut, &x, &e) != PHX_OK && x == NULL);
        }
        phx_collateral_free(c);
        phx_buf_free(&b);
        n_col++;
    }
    if (d) closedir(d);
    CHECK(n_col >= 10 && base);

    const char *raw = test_data_path("dcap/pcs-raw");
    char rdir[4096];
    snprintf(rdir, sizeof rdir, "%s", raw ? raw : "");
    d = raw ? opendir(rdir) : NULL;
    while (d && base && (de = readdir(d))) {
        bool tcb = strstr(de->d_name, "tcbinfo") != NULL;
        bool qe = strstr(de->d_name, "qeidentity") != NULL;
        if (!tcb && !qe) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", rdir, de->d_name);
        phx_buf_t b = PHX_BUF_INIT;
        CHECK(phx_file_read(path, &b, &e) == PHX_OK);
        char *text = inner_object((const char *)b.ptr, tcb ? "tcbInfo" : "enclaveIdentity");
        CHECK_MSG(text != NULL, "%s: no signed object", de->d_name);
        if (text) {
            phx_err_t err = parse_with(base, tcb ? "tcb_info" : "qe_identity", text, &e);
            CHECK_MSG(err == PHX_OK, "%s: %s", de->d_name, e.message);
            printf("pcs-raw    %-40s %s\n", de->d_name, err ? e.message : "parsed");
            n_raw++;
            /* An unknown version is refused, not guessed at. */
            char *v = strstr(text, "\"version\":");
            if (v && tcb) {
                v[10] = '9';
                CHECK(parse_with(base, "tcb_info", text, &e) == PHX_ERR_UNSUPPORTED);
            }
            free(text);
        }
        phx_buf_free(&b);
    }
    if (d) closedir(d);
    CHECK(n_raw >= 10);
    printf("%zu collateral files, %zu raw PCS responses parsed\n", n_col, n_raw);
    json_decref(base);
    return test_done("attest_collateral");
}
