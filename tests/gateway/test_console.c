/* The console's pages over a real gateway on loopback, without a browser:
 * markup in a contract's code comes back escaped, never as markup; every page
 * is HTML with the pages' links; without a chain the Jobs page says so; an
 * unknown worker's attestation is 404; the Verify bundle is built into the
 * binary; the sim root is offered only when the gateway has a sim platform.
 * (The browser test, console_browser, covers the pages on a devnet.) */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phx/crypto.h"
#include "phx/gateway.h"
#include "phx/net.h"
#include "test.h"

static int get(const char *base, const char *path, phx_buf_t *body)
{
    char url[512];
    int status = 0;
    phx_error_t e = {0};
    phx_buf_free(body);
    snprintf(url, sizeof url, "%s%s", base, path);
    if (phx_http_fetch("GET", url, NULL, NULL, 0, NULL, &status, body, &e)) return -1;
    phx_buf_append(body, "", 1); /* NUL-terminate for strstr */
    return status;
}

static bool has(const phx_buf_t *b, const char *s)
{
    return b->ptr && strstr((const char *)b->ptr, s) != NULL;
}

int main(void)
{
    char dir[] = "/tmp/phx-console-XXXXXX", path[256], blobs[256];
    phx_error_t e = {0};
    if (!mkdtemp(dir)) return 1;
    /* A contract the gateway knows, as it records one, with hostile code. */
    const char *code = "// </pre><script>alert('code')</script>\n"
                       "export default async () => \"<img src=x onerror=alert(1)>\";\n";
    uint8_t hash[32];
    char hex[65], id[67] = "0x";
    for (int i = 0; i < 64; i++)
        id[2 + i] = "0123456789abcdef"[i % 16];
    id[66] = 0;
    snprintf(blobs, sizeof blobs, "%s/blobs", dir);
    CHECK(phx_blob_put(blobs, (const uint8_t *)code, strlen(code), hash, &e) == PHX_OK);
    phx_hex_encode_to(hex, hash, 32);
    snprintf(path, sizeof path, "%s/contracts", dir);
    CHECK(phx_dir_ensure(path, 0700, &e) == PHX_OK);
    snprintf(path, sizeof path, "%s/contracts/%s.json", dir, id);
    char rec[1024];
    snprintf(rec, sizeof rec,
             "{\"id\":\"%s\",\"code_hash\":\"0x%s\",\"owner\":\"0x%040d\",\"salt\":\"0x%064d\","
             "\"secrets_hash\":\"0x%064d\",\"signature\":\"0x%0130d\",\"nonce\":1,"
             "\"deployed_ms\":1764000000000}",
             id, hex, 7, 0, 0, 0);
    CHECK(phx_file_write_atomic(path, rec, strlen(rec), 0600, &e) == PHX_OK);

    phx_gateway_t *g = NULL;
    phx_gateway_opts_t o = {.dir = dir, .health_interval_ms = 200};
    CHECK_MSG(phx_gateway_start(&o, &g, &e) == PHX_OK, "%s", e.message);
    if (!g) return test_done("test_console");
    const char *base = phx_gateway_url(g);
    phx_buf_t b = PHX_BUF_INIT;
    char p[128];

    CHECK(get(base, "/", &b) == 200);
    CHECK(has(&b, "<!DOCTYPE html>") && has(&b, "<h1>Network</h1>"));
    snprintf(p, sizeof p, "<a href=\"/contracts/%s\">", id);
    CHECK_MSG(has(&b, p), "the network page links the contract");
    CHECK(has(&b, "href=\"/jobs\"") && has(&b, "href=\"/verify\""));
    CHECK_MSG(!has(&b, "<script"), "the read-only pages carry no script");

    snprintf(p, sizeof p, "/contracts/%s", id);
    CHECK(get(base, p, &b) == 200);
    CHECK_MSG(has(&b, "// &lt;/pre&gt;&lt;script&gt;alert(&#39;code&#39;)&lt;/script&gt;"),
              "the code is escaped: %s", (const char *)b.ptr);
    CHECK(has(&b, "&quot;&lt;img src=x onerror=alert(1)&gt;&quot;"));
    CHECK_MSG(!has(&b, "<script>") && !has(&b, "<img"), "no markup from the code");
    /* The one script is the console's own (the owner's wallet sign-in). */
    CHECK(has(&b, "<script src=\"/console/verify.js\"></script>"));
    CHECK(strstr(strstr((const char *)b.ptr, "<script") + 1, "<script") == NULL);
    CHECK(has(&b, "id=\"owner-signin\""));
    CHECK(has(&b, "0x0000000000000000000000000000000000000007")); /* the owner */
    CHECK_MSG(has(&b, "this gateway has no chain"), "no chain: its requests cannot be read");
    CHECK(get(base, "/contracts/0x1234", &b) == 404);

    CHECK(get(base, "/jobs", &b) == 200);
    CHECK(has(&b, "id=\"jobs-error\"") && has(&b, "this gateway has no chain"));
    CHECK(has(&b, "http-equiv=\"refresh\""));

    CHECK(get(base, "/attestation/workers/0", &b) == 404);
    CHECK(get(base, "/attestation/workers/x", &b) == 404);
    CHECK(get(base, "/attestation/kms", &b) == 404);

    CHECK(get(base, "/verify", &b) == 200);
    CHECK(has(&b, "<script src=\"/console/verify.js\"></script>") && has(&b, "<noscript>"));
    CHECK_MSG(!has(&b, "value=\"sim\""), "no sim root offered without a sim platform");
    CHECK(get(base, "/console/verify.js", &b) == 200);
    CHECK_MSG(b.len > 500000 && has(&b, "phx-result-v1"), "the bundle (%zu bytes)", b.len);
    CHECK(get(base, "/console/style.css", &b) == 200 && has(&b, "font"));
    CHECK(get(base, "/console/sim/root", &b) == 404);
    CHECK(get(base, "/favicon.ico", &b) == 204);
    /* The JSON API is where it was. */
    CHECK(get(base, "/v1/network", &b) == 200 && has(&b, "\"contracts\""));

    phx_buf_free(&b);
    phx_gateway_stop(g, 1000);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return test_done("test_console");
}
