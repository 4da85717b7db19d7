/* Contract fetch across origins and the egress allowances, through the real
 * sandbox and two real HTTP servers on 127.0.0.1 (two random ports, so two
 * origins):
 *   - a redirect to another origin drops Authorization, Cookie and
 *     Proxy-Authorization (the fetch standard's rule) and keeps other headers;
 *     a redirect within the origin keeps them;
 *   - an allowance names one host and one port: the other port on the same
 *     address, the same port under another name, and a redirect to either
 *     are refused; an allowance without a port is refused when the pool is made. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "phx/json.h"
#include "phx/sandbox.h"
#include "support/loopback.h"
#include "support/sandbox_check.h"
#include "test.h"

static int port_a, port_b;
static char kv_dir[256];

static enum MHD_Result reply(struct MHD_Connection *c, int status, const char *body,
                             const char *location)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (location) MHD_add_response_header(r, "Location", location);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static const char *hdr(struct MHD_Connection *c, const char *name)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    return v ? v : "";
}

/* GET /headers: the credential headers as received, and which server answered.
 * GET /to/PORT: a 302 to http://127.0.0.1:PORT/headers.
 * GET /to-localhost/PORT: a 302 to http://localhost:PORT/headers. */
static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **state)
{
    (void)method;
    (void)version;
    (void)upload;
    (void)upload_size;
    if (!*state) {
        *state = (void *)1;
        return MHD_YES;
    }
    const int *self = cls;
    char loc[128];
    if (!strncmp(url, "/to/", 4)) {
        snprintf(loc, sizeof loc, "http://127.0.0.1:%d/headers", atoi(url + 4));
        return reply(c, 302, "{}", loc);
    }
    if (!strncmp(url, "/to-localhost/", 14)) {
        snprintf(loc, sizeof loc, "http://localhost:%d/headers", atoi(url + 14));
        return reply(c, 302, "{}", loc);
    }
    if (!strcmp(url, "/headers")) {
        json_t *o =
            json_pack("{s:i,s:s,s:s,s:s,s:s}", "port", *self, "authorization",
                      hdr(c, "Authorization"), "cookie", hdr(c, "Cookie"), "proxy_authorization",
                      hdr(c, "Proxy-Authorization"), "x_test", hdr(c, "X-Test"));
        char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        enum MHD_Result r = reply(c, 200, t, NULL);
        free(t);
        json_decref(o);
        return r;
    }
    return reply(c, 404, "{}", NULL);
}

static phx_sandbox_result_t run(phx_sandbox_pool_t *pool, const char *fmt, ...)
{
    char src[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(src, sizeof src, fmt, ap);
    va_end(ap);
    phx_sandbox_job_t job = {
        .source = src, .source_len = strlen(src), .filename = "t.js", .input_json = "null"};
    phx_sandbox_result_t res;
    phx_error_t e = {0};
    CHECK_MSG(phx_sandbox_invoke(pool, &job, &res, &e) == PHX_OK, "invoke: %s", e.message);
    return res;
}

static bool failed_with(const phx_sandbox_result_t *r, const char *code)
{
    bool ok = !r->ok && !strcmp(r->code, code);
    return test_sandbox_failure_report(r, code, ok, "refused", 0);
}

/* A contract fetching PATH on port FROM with all three credential headers and
 * one ordinary header, returning what the answering server saw. */
#define CRED_FETCH                                                                                 \
    "export default async () => { const r = await fetch('http://127.0.0.1:%d%s', { headers: {"     \
    " authorization: 'Bearer s3cret', cookie: 'sid=42', 'proxy-authorization': 'Basic cHJveHk=',"  \
    " 'x-test': 'kept' } }); return { status: r.status, redirected: r.redirected, seen: await "    \
    "r.json() }; };"

static void test_redirect_credentials(phx_sandbox_pool_t *pool)
{
    char path[64], want[512];
    /* Cross-origin: 127.0.0.1:A -> 127.0.0.1:B (same host, another port). */
    snprintf(path, sizeof path, "/to/%d", port_b);
    phx_sandbox_result_t r = run(pool, CRED_FETCH, port_a, path);
    snprintf(want, sizeof want,
             "{\"status\":200,\"redirected\":true,\"seen\":{\"port\":%d,\"authorization\":\"\","
             "\"cookie\":\"\",\"proxy_authorization\":\"\",\"x_test\":\"kept\"}}",
             port_b);
    CHECK_MSG(test_sandbox_output_is(&r, want), "cross-origin redirect must drop the credentials");
    phx_sandbox_result_free(&r);

    /* Same origin: 127.0.0.1:A -> 127.0.0.1:A keeps them. */
    snprintf(path, sizeof path, "/to/%d", port_a);
    r = run(pool, CRED_FETCH, port_a, path);
    snprintf(want, sizeof want,
             "{\"status\":200,\"redirected\":true,\"seen\":{\"port\":%d,\"authorization\":"
             "\"Bearer s3cret\",\"cookie\":\"sid=42\",\"proxy_authorization\":\"Basic cHJveHk=\","
             "\"x_test\":\"kept\"}}",
             port_a);
    CHECK_MSG(test_sandbox_output_is(&r, want), "same-origin redirect keeps the credentials");
    phx_sandbox_result_free(&r);

    /* No redirect: sent as given. */
    r = run(pool, CRED_FETCH, port_b, "/headers");
    snprintf(want, sizeof want,
             "{\"status\":200,\"redirected\":false,\"seen\":{\"port\":%d,\"authorization\":"
             "\"Bearer s3cret\",\"cookie\":\"sid=42\",\"proxy_authorization\":\"Basic cHJveHk=\","
             "\"x_test\":\"kept\"}}",
             port_b);
    CHECK(test_sandbox_output_is(&r, want));
    phx_sandbox_result_free(&r);
}

static void test_exact_allowance(phx_sandbox_pool_t *narrow)
{
    /* The allowed host and port answer. */
    phx_sandbox_result_t r = run(narrow,
                                 "export default async () => (await fetch("
                                 "'http://127.0.0.1:%d/headers')).status;",
                                 port_a);
    CHECK(test_sandbox_output_is(&r, "200"));
    phx_sandbox_result_free(&r);
    /* Another port on the same address (a chain RPC next to the price API). */
    r = run(narrow,
            "export default async () => (await fetch('http://127.0.0.1:%d/headers')).status;",
            port_b);
    CHECK(failed_with(&r, "egress_denied"));
    phx_sandbox_result_free(&r);
    /* An allowed origin redirecting to the other port. */
    r = run(narrow, "export default async () => (await fetch('http://127.0.0.1:%d/to/%d')).status;",
            port_a, port_b);
    CHECK(failed_with(&r, "egress_denied"));
    phx_sandbox_result_free(&r);
    /* The same port under another name is another allowance. */
    r = run(narrow,
            "export default async () => (await fetch('http://localhost:%d/headers')).status;",
            port_a);
    CHECK(failed_with(&r, "egress_denied"));
    phx_sandbox_result_free(&r);
}

static void test_bad_allowances(void)
{
    static const char *bad[] = {"127.0.0.1",       "127.0.0.1:",    "127.0.0.1:0",
                                "127.0.0.1:65536", "127.0.0.1:80x", ":8080",
                                "[::1]",           "::1:8080",      "a b:80"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        phx_sandbox_config_t cfg = {0};
        cfg.kv_dir = kv_dir;
        cfg.allow_hosts = &bad[i];
        cfg.nallow_hosts = 1;
        cfg.prefork = -1;
        phx_sandbox_pool_t *p = NULL;
        phx_error_t e = {0};
        phx_err_t err = phx_sandbox_pool_new(&cfg, &p, &e);
        CHECK_MSG(err == PHX_ERR_INVALID, "allowance \"%s\" accepted", bad[i]);
        if (err == PHX_ERR_INVALID) printf("  allowance \"%s\": %s\n", bad[i], e.message);
        phx_sandbox_pool_free(p);
    }
    static const char *good[] = {"127.0.0.1:8080", "[::1]:8080", "Price.Example:443"};
    phx_sandbox_config_t cfg = {0};
    cfg.kv_dir = kv_dir;
    cfg.allow_hosts = good;
    cfg.nallow_hosts = 3;
    cfg.prefork = -1;
    phx_sandbox_pool_t *p = NULL;
    phx_error_t e = {0};
    CHECK_MSG(phx_sandbox_pool_new(&cfg, &p, &e) == PHX_OK, "%s", e.message);
    phx_sandbox_pool_free(p);
}

int main(void)
{
    snprintf(kv_dir, sizeof kv_dir, "/tmp/phx-test-fetch-%d", (int)getpid());
    int fd_a = test_listen_loopback(&port_a), fd_b = test_listen_loopback(&port_b);
    CHECK(fd_a >= 0 && fd_b >= 0);
    if (fd_a < 0 || fd_b < 0) return test_done("test_fetch_policy");
    char allow_a[64], allow_b[64];
    snprintf(allow_a, sizeof allow_a, "127.0.0.1:%d", port_a);
    snprintf(allow_b, sizeof allow_b, "127.0.0.1:%d", port_b);

    /* Pools before the servers' threads: the zygote forks first. */
    test_bad_allowances();
    const char *both[] = {allow_a, allow_b};
    phx_sandbox_config_t cfg = {0};
    cfg.kv_dir = kv_dir;
    cfg.dev_keys = true;
    cfg.allow_hosts = both;
    cfg.nallow_hosts = 2;
    cfg.prefork = 1;
    cfg.jit = true;
    phx_sandbox_pool_t *pool = NULL, *narrow = NULL;
    phx_error_t e = {0};
    CHECK_MSG(phx_sandbox_pool_new(&cfg, &pool, &e) == PHX_OK, "%s", e.message);
    cfg.nallow_hosts = 1; /* only A */
    CHECK_MSG(phx_sandbox_pool_new(&cfg, &narrow, &e) == PHX_OK, "%s", e.message);

    struct MHD_Daemon *da =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, &port_a,
                         MHD_OPTION_LISTEN_SOCKET, fd_a, MHD_OPTION_END);
    struct MHD_Daemon *db =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, &port_b,
                         MHD_OPTION_LISTEN_SOCKET, fd_b, MHD_OPTION_END);
    CHECK(da && db);
    signal(SIGPIPE, SIG_DFL);
    printf("origins 127.0.0.1:%d and 127.0.0.1:%d\n", port_a, port_b);
    if (pool && da && db) test_redirect_credentials(pool);
    if (narrow && da && db) test_exact_allowance(narrow);

    phx_sandbox_pool_free(pool);
    phx_sandbox_pool_free(narrow);
    if (da) MHD_stop_daemon(da);
    if (db) MHD_stop_daemon(db);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", kv_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", kv_dir);
    return test_done("test_fetch_policy");
}
