/* TEE contracts end to end through the real sandbox: the zygote, seccomp'd
 * sandbox processes, host calls answered by the worker side, a real HTTP
 * server on 127.0.0.1 (libmicrohttpd, random port) for fetch, real SQLite files
 * for kv. The positive cases first, then the hostile suite: each hostile contract
 * must end with its own error code and the same pool must serve the next call;
 * then the leak probes. The whole suite runs once per isolation mode: `test_js`
 * (warm, the default) and `test_js_process` (argument "process"). */
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

#include "phx/crypto.h"
#include "phx/json.h"
#include "phx/sandbox.h"
#include "support/loopback.h"
#include "support/sandbox_check.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

static int port;
/* The isolation every pool of this run uses (argv[1]; warm by default). */
static phx_sandbox_isolation_t isolation = PHX_SANDBOX_ISOLATION_WARM;

/* ---- the local HTTP server ------------------------------------------------------ */

typedef struct {
    phx_buf_t body;
} conn_t;

static enum MHD_Result reply(struct MHD_Connection *c, int status, const char *ctype,
                             const void *body, size_t len, const char *location)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (ctype) MHD_add_response_header(r, "Content-Type", ctype);
    if (location) MHD_add_response_header(r, "Location", location);
    MHD_add_response_header(r, "X-Served-By", "phx-test");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **state)
{
    (void)cls;
    (void)version;
    conn_t *cs = *state;
    if (!cs) {
        cs = calloc(1, sizeof *cs);
        *state = cs;
        return MHD_YES;
    }
    if (*upload_size) {
        phx_buf_append(&cs->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    char loc[256];
    if (!strcmp(url, "/json")) {
        const char *b = "{\"price\":42.5,\"symbol\":\"PHA\",\"tags\":[\"a\",\"b\"]}";
        return reply(c, 200, "application/json", b, strlen(b), NULL);
    }
    if (!strcmp(url, "/echo")) {
        const char *xt = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test");
        json_t *o = json_pack("{s:s,s:s%,s:s}", "method", method, "body",
                              cs->body.ptr ? (const char *)cs->body.ptr : "", cs->body.len,
                              "x_test", xt ? xt : "");
        char *t = json_dumps(o, JSON_COMPACT);
        enum MHD_Result r = reply(c, 200, "application/json", t, strlen(t), NULL);
        free(t);
        json_decref(o);
        return r;
    }
    if (!strcmp(url, "/redirect-ok")) {
        snprintf(loc, sizeof loc, "http://127.0.0.1:%d/json", port);
        return reply(c, 302, "text/plain", "", 0, loc);
    }
    if (!strcmp(url, "/redirect-loopback")) {
        snprintf(loc, sizeof loc, "http://localhost:%d/json", port);
        return reply(c, 302, "text/plain", "", 0, loc);
    }
    if (!strcmp(url, "/redirect-metadata")) {
        return reply(c, 307, "text/plain", "", 0, "http://169.254.169.254/latest/meta-data/");
    }
    if (!strcmp(url, "/slow")) {
        usleep(1500 * 1000);
        return reply(c, 200, "text/plain", "late", 4, NULL);
    }
    if (!strcmp(url, "/redirect-ula")) /* IPv6 unique-local (private) */
        return reply(c, 302, "text/plain", "", 0, "http://[fd00::1]/x");
    if (!strcmp(url, "/redirect-ll6")) /* IPv6 link-local */
        return reply(c, 302, "text/plain", "", 0, "http://[fe80::1]/x");
    if (!strcmp(url, "/redirect-mapped")) /* IPv4-mapped private address */
        return reply(c, 301, "text/plain", "", 0, "http://[::ffff:10.0.0.1]/x");
    if (!strcmp(url, "/huge-headers")) {
        /* 40 headers of 64 KiB: 2.5 MiB of headers and an empty body. */
        struct MHD_Response *r =
            MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        char *v = malloc(64u << 10);
        memset(v, 'h', (64u << 10) - 1);
        v[(64u << 10) - 1] = 0;
        for (int i = 0; i < 40; i++) {
            char name[32];
            snprintf(name, sizeof name, "X-Big-%d", i);
            MHD_add_response_header(r, name, v);
        }
        free(v);
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (!strcmp(url, "/redirect-file"))
        return reply(c, 302, "text/plain", "", 0, "file:///etc/passwd");
    if (!strcmp(url, "/big")) {
        size_t n = 3u << 20;
        char *b = malloc(n);
        memset(b, 'z', n);
        enum MHD_Result r = reply(c, 200, "text/plain", b, n, NULL);
        free(b);
        return r;
    }
    return reply(c, 404, "text/plain", "not found", 9, NULL);
}

static void request_done(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode tc)
{
    (void)cls;
    (void)c;
    (void)tc;
    conn_t *cs = *state;
    if (cs) {
        phx_buf_free(&cs->body);
        free(cs);
    }
    *state = NULL;
}

/* ---- helpers ---------------------------------------------------------------------- */

static char kv_dir[256];

typedef struct {
    const char *input;
    const char *contract_id;
    const char **keys, **vals;
    int nsecrets;
} opts_t;

/* Run src (printf-style, %d is the server port) and return the result. */
static phx_sandbox_result_t run_with(phx_sandbox_pool_t *pool, const opts_t *o, const char *fmt,
                                     ...)
{
    char src[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(src, sizeof src, fmt, ap);
    va_end(ap);
    phx_sandbox_job_t job = {.source = src,
                             .source_len = strlen(src),
                             .filename = "test.js",
                             .input_json = o && o->input ? o->input : "null",
                             .contract_id = o ? o->contract_id : NULL,
                             .secret_keys = o ? o->keys : NULL,
                             .secret_values = o ? o->vals : NULL,
                             .nsecrets = o ? o->nsecrets : 0};
    phx_sandbox_result_t res;
    phx_error_t e = {0};
    phx_err_t err = phx_sandbox_invoke(pool, &job, &res, &e);
    CHECK_MSG(err == PHX_OK, "invoke: %s", e.message);
    return res;
}
#define run(pool, ...) run_with(pool, NULL, __VA_ARGS__)

static bool failed_with(const phx_sandbox_result_t *r, const char *code)
{
    /* The code users see is always the name of the failure the enum holds. */
    bool ok = !r->ok && !strcmp(r->code, code) && r->failure != PHX_SBX_FAIL_NONE &&
              !strcmp(phx_sandbox_failure_name(r->failure), code);
    return test_sandbox_failure_report(r, code, ok, "contained", 14);
}

/* The pool must still serve a normal call after whatever just happened. */
static void check_still_serving(phx_sandbox_pool_t *pool)
{
    phx_sandbox_result_t r = run(pool, "export default async (i) => ({alive: 1 + 1});");
    CHECK(test_sandbox_output_is(&r, "{\"alive\":2}"));
    phx_sandbox_result_free(&r);
}

/* ---- positive cases --------------------------------------------------------------- */

static void test_language(phx_sandbox_pool_t *pool)
{
    opts_t o = {.input = "{\"xs\":[1,2,3],\"k\":\"v\"}"};
    phx_sandbox_result_t r = run_with(
        pool, &o,
        "class Acc { #v = 0n; add(x) { this.#v += BigInt(x); return this; } get v() { return "
        "this.#v; } }\n"
        "const sleep = (v) => new Promise((res) => Promise.resolve().then(() => res(v)));\n"
        "export default async function (input, ctx) {\n"
        "  const a = new Acc();\n"
        "  for (const x of input.xs) a.add(await sleep(x));\n"
        "  const big = 2n ** 100n;\n"
        "  const { xs, ...rest } = input;\n"
        "  return { sum: a.v.toString(), big: big.toString(), rest, tpl: `n=${xs.length}`,\n"
        "           te: new TextDecoder().decode(new TextEncoder().encode('h\\u00e9\\u{1F600}')) "
        "};\n"
        "}\n");
    CHECK(test_sandbox_output_is(
        &r, "{\"sum\":\"6\",\"big\":\"1267650600228229401496703205376\","
            "\"rest\":{\"k\":\"v\"},\"tpl\":\"n=3\",\"te\":\"h\\u00e9\\ud83d\\ude00\"}"));
    phx_sandbox_result_free(&r);

    /* ctx fields, console capture, a Uint8Array result comes back as bytes */
    r = run(pool,
            "export default async (input, ctx) => { console.log('id', ctx.contractId.length,"
            " typeof ctx.now, ctx.requestId.slice(0,2)); return new Uint8Array([1,2,255]); };");
    CHECK(r.ok && r.output_is_bytes && r.output.len == 3 && r.output.ptr[2] == 255);
    CHECK(r.nlogs == 1 && r.logs && !strcmp(r.logs[0], "log: id 66 number 0x"));
    phx_sandbox_result_free(&r);

    /* whatever JSON.stringify produces is valid output: doubles past int64, U+0000 */
    r = run(
        pool,
        "export default async () => ({ big: 12345678901234567890, nul: 'a\\u0000b', neg: -0 });");
    CHECK(r.ok && r.output.len > 0 &&
          strstr((const char *)r.output.ptr, "\"big\":12345678901234567000") &&
          strstr((const char *)r.output.ptr, "a\\u0000b"));
    if (!r.ok) fprintf(stderr, "  big/nul output: %s: %s\n", r.code, r.message);
    phx_sandbox_result_free(&r);

    /* Children share the zygote's realm image, not its randomness: Math.random
     * and crypto.getRandomValues must differ between invocations. */
    const char *rnd = "export default async () => [Math.random(), phx.hex.encode("
                      "crypto.getRandomValues(new Uint8Array(16)))];";
    phx_sandbox_result_t r1 = run(pool, "%s", rnd), r2 = run(pool, "%s", rnd);
    CHECK(r1.ok && r2.ok && r1.output.len > 10 &&
          (r1.output.len != r2.output.len || memcmp(r1.output.ptr, r2.output.ptr, r1.output.len)));
    const char *c1 = r1.ok ? strchr((const char *)r1.output.ptr, ',') : NULL;
    const char *c2 = r2.ok ? strchr((const char *)r2.output.ptr, ',') : NULL;
    CHECK(c1 && c2 &&
          (c1 - (const char *)r1.output.ptr != c2 - (const char *)r2.output.ptr ||
           memcmp(r1.output.ptr, r2.output.ptr, (size_t)(c1 - (const char *)r1.output.ptr))));
    CHECK(c1 && c2 && strcmp(c1, c2) != 0);
    phx_sandbox_result_free(&r1);
    phx_sandbox_result_free(&r2);

    /* timers: in due order, cancellable, with the clock really moving. The
     * interval's three ticks are awaited, not assumed done within 80 ms: on a
     * loaded machine a late tick re-arms after the 80 ms timer is due. */
    r = run(pool,
            "export default async () => { const seen = []; const t0 = Date.now();\n"
            "  setTimeout(() => seen.push('b'), 60); setTimeout((x) => seen.push(x), 20, 'a');\n"
            "  const c = setTimeout(() => seen.push('never'), 30); clearTimeout(c);\n"
            "  let n = 0; const ticks = new Promise((res) => { const iv = setInterval(() => {\n"
            "    if (++n === 3) { clearInterval(iv); res(); } }, 5); });\n"
            "  await new Promise((res) => setTimeout(res, 80)); await ticks;\n"
            "  return { seen, n, waited: Date.now() - t0 >= 80 }; };");
    CHECK(test_sandbox_output_is(&r, "{\"seen\":[\"a\",\"b\"],\"n\":3,\"waited\":true}"));
    phx_sandbox_result_free(&r);

    /* a thrown error is the contract's exception, with its message */
    /* Three times: from the second call the zygote has it compiled; the location
     * still names the contract's file. */
    for (int i = 0; i < 3; i++) {
        r = run(pool, "export default async () => { throw new RangeError('bad input 7'); };");
        CHECK(failed_with(&r, "exception") && strstr(r.message, "bad input 7") &&
              strstr(r.message, "(test.js:1)"));
        phx_sandbox_result_free(&r);
    }
    /* Twice: the second sighting of a code hash compiles it in the zygote too,
     * which must survive a source that does not compile. */
    for (int i = 0; i < 2; i++) {
        r = run(pool, "export default async () => { return 1 +; };");
        CHECK(failed_with(&r, "compile_error"));
        phx_sandbox_result_free(&r);
    }
    check_still_serving(pool);
    r = run(pool, "export const x = 1;");
    CHECK(failed_with(&r, "no_entry"));
    phx_sandbox_result_free(&r);
    r = run(pool, "export default async () => ({ __phx_no_entry: true, noEntry: 1 });");
    CHECK(test_sandbox_output_is(&r, "{\"__phx_no_entry\":true,\"noEntry\":1}"));
    phx_sandbox_result_free(&r);
    r = run(pool, "import fs from 'fs'; export default async () => 1;");
    CHECK(failed_with(&r, "exception") && strstr(r.message, "not supported"));
    phx_sandbox_result_free(&r);
}

static void test_helpers(phx_sandbox_pool_t *pool)
{
    /* hashes against known answers; ABI round trip; key and signature */
    phx_sandbox_result_t r = run(
        pool,
        "export default async () => {\n"
        "  const h = phx.hex.encode;\n"
        "  const enc = "
        "phx.abi.encode(['uint256','int8','address','bool','bytes','string','uint16[]'],\n"
        "    [123n, -2, '0x00000000000000000000000000000000000000aa', true, '0x0102', 'hi', "
        "[1,2]]);\n"
        "  const dec = "
        "phx.abi.decode(['uint256','int8','address','bool','bytes','string','uint16[]'], enc);\n"
        "  const sig = await phx.crypto.sign(phx.crypto.keccak256('m'));\n"
        "  const r = new Uint8Array(8); crypto.getRandomValues(r);\n"
        "  return { sha: h(phx.crypto.sha256('abc')), kec: h(phx.crypto.keccak256('')),\n"
        "    word0: h(enc.subarray(0, 32)), dec: dec.map(String), len: enc.length,\n"
        "    addr: /^0x[0-9a-fA-F]{40}$/.test(await phx.crypto.address()), sigLen: sig.length,\n"
        "    v: sig[64] === 27 || sig[64] === 28, pub: (await phx.crypto.publicKey()).length,\n"
        "    blake: h(pink.hash('blake2b256', '')).slice(0, 10), rnd: r.some((x) => x !== 0) };\n"
        "};\n");
    CHECK(test_sandbox_output_is(
        &r, "{\"sha\":\"0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\","
            "\"kec\":\"0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470\","
            "\"word0\":\"0x000000000000000000000000000000000000000000000000000000000000007b\","
            "\"dec\":[\"123\",\"-2\",\"0x00000000000000000000000000000000000000aa\",\"true\","
            "\"0x0102\",\"hi\",\"1,2\"],"
            "\"len\":448,\"addr\":true,\"sigLen\":65,\"v\":true,\"pub\":64,\"blake\":"
            "\"0x0e5751c0\",\"rnd\":true}"));
    phx_sandbox_result_free(&r);
    /* The per-contract key: stable for one contract id, different for another. */
    opts_t a = {.contract_id = "contract-a"}, b = {.contract_id = "contract-b"};
    const char *src = "export default async () => phx.crypto.address();";
    phx_sandbox_result_t r1 = run_with(pool, &a, "%s", src), r2 = run_with(pool, &a, "%s", src),
                         r3 = run_with(pool, &b, "%s", src);
    CHECK(r1.ok && r2.ok && r3.ok && r1.output.len == 44);
    CHECK(r1.output.len == r2.output.len && !memcmp(r1.output.ptr, r2.output.ptr, r1.output.len));
    CHECK(r1.output.len == r3.output.len && memcmp(r1.output.ptr, r3.output.ptr, r1.output.len));
    phx_sandbox_result_free(&r1);
    phx_sandbox_result_free(&r2);
    phx_sandbox_result_free(&r3);

    /* No contract can derive another's key: contract "c1" asking for
     * deriveSecret("x/secp256k1") must not get the signing key of contract
     * "c1/derive/x" (the key derivation's input must be unambiguous). */
    opts_t thief = {.contract_id = "c1"}, victim = {.contract_id = "c1/derive/x"};
    r1 = run_with(pool, &thief, "%s",
                  "export default async () => phx.hex.encode(pink.deriveSecret('x/secp256k1'));");
    r2 = run_with(pool, &victim, "%s", src);
    CHECK(r1.ok && r2.ok && r2.output.len == 44);
    if (r1.ok && r2.ok && r1.output.len > 66) {
        uint8_t sk[32], pub[64], addr[20];
        char cs[43], quoted[46];
        phx_error_t he = {0};
        char hex[65];
        memcpy(hex, r1.output.ptr + 3, 64); /* "0x + 64 hex digits of the first 32 bytes */
        hex[64] = 0;
        CHECK(phx_hex_decode_fixed(hex, sk, 32, &he) == PHX_OK);
        bool derived = phx_secp256k1_pubkey(sk, pub) == PHX_OK;
        if (derived) {
            phx_eth_address_from_pubkey(pub, addr);
            phx_eth_address_checksum(addr, cs);
            snprintf(quoted, sizeof quoted, "\"%s\"", cs);
        }
        fprintf(stderr, "  victim address %.*s, from the thief's derived secret %s\n",
                (int)r2.output.len, (char *)r2.output.ptr, derived ? quoted : "(not a key)");
        CHECK(!derived || memcmp(quoted, r2.output.ptr, 44) != 0);
    }
    phx_sandbox_result_free(&r1);
    phx_sandbox_result_free(&r2);
}

static void test_fetch(phx_sandbox_pool_t *pool)
{
    phx_sandbox_result_t r =
        run(pool,
            "export default async () => {\n"
            "  const res = await fetch('http://127.0.0.1:%d/json');\n"
            "  const j = await res.json();\n"
            "  return { status: res.status, ok: res.ok, ct: res.headers.get('content-type'), "
            "price: j.price, tags: j.tags };\n"
            "};\n",
            port);
    CHECK(test_sandbox_output_is(&r, "{\"status\":200,\"ok\":true,\"ct\":\"application/"
                                     "json\",\"price\":42.5,\"tags\":[\"a\",\"b\"]}"));
    CHECK(r.requests == 1);
    phx_sandbox_result_free(&r);

    r = run(
        pool,
        "export default async () => {\n"
        "  const res = await fetch('http://127.0.0.1:%d/echo', { method: 'POST', headers: { "
        "'X-Test': 'yes' },\n"
        "                           body: JSON.stringify({ a: 1 }) });\n"
        "  const red = await fetch('http://127.0.0.1:%d/redirect-ok');\n"
        "  const miss = await fetch('http://127.0.0.1:%d/nope');\n"
        "  let netErr = 'none';\n"
        "  try { await fetch('http://127.0.0.1:1/'); } catch (e) { netErr = e.constructor.name; }\n"
        "  return { echo: await res.json(), redirected: red.redirected, rj: (await "
        "red.json()).symbol,\n"
        "           miss: miss.status, netErr, buf: (await miss.arrayBuffer()).byteLength };\n"
        "};\n",
        port, port, port);
    CHECK(test_sandbox_output_is(
        &r, "{\"echo\":{\"method\":\"POST\",\"body\":\"{\\\"a\\\":1}\",\"x_test\":\"yes\"},"
            "\"redirected\":true,\"rj\":\"PHA\",\"miss\":404,\"netErr\":\"Error\",\"buf\":9}"));
    phx_sandbox_result_free(&r);
}

static void test_kv(phx_sandbox_pool_t *pool)
{
    const char *counter =
        "export default async (input) => {\n"
        "  const n = (await phx.kv.get('count')) ?? 0;\n"
        "  await phx.kv.put('count', n + 1);\n"
        "  await phx.kv.put('blob', new Uint8Array([n]));\n"
        "  await phx.kv.put('name', 'c-' + n);\n"
        "  return { n: n + 1, keys: await phx.kv.list(), blob: (await phx.kv.get('blob'))[0] };\n"
        "};\n";
    opts_t a = {.contract_id = "kv-contract-a"}, b = {.contract_id = "kv-contract-b"};
    for (int i = 1; i <= 3; i++) {
        phx_sandbox_result_t r = run_with(pool, &a, "%s", counter);
        char want[128];
        snprintf(want, sizeof want, "{\"n\":%d,\"keys\":[\"blob\",\"count\",\"name\"],\"blob\":%d}",
                 i, i - 1);
        CHECK(test_sandbox_output_is(&r, want));
        phx_sandbox_result_free(&r);
    }
    /* another contract sees none of it, and its writes do not touch a's */
    phx_sandbox_result_t r = run_with(pool, &b,
                                      "export default async () => { const before = { c: await "
                                      "phx.kv.get('count'), l: await phx.kv.list() };\n"
                                      "  await phx.kv.put('count', 1000); return before; };");
    CHECK(test_sandbox_output_is(&r, "{\"c\":null,\"l\":[]}"));
    phx_sandbox_result_free(&r);
    r = run_with(pool, &a,
                 "export default async () => { const d = await phx.kv.delete('name');"
                 " return { c: await phx.kv.get('count'), d, l: await phx.kv.list('n') }; };");
    CHECK(test_sandbox_output_is(&r, "{\"c\":3,\"d\":true,\"l\":[]}"));
    phx_sandbox_result_free(&r);
}

/* The defaults the issue names: CPU 30 s, wall 60 s, memory 128 MiB, output
 * 1 MiB, log 64 KiB, 16 requests, 2 MiB per response, 10 s per request. */
static void test_defaults(void)
{
    phx_sandbox_limits_t l;
    memset(&l, 0xff, sizeof l);
    phx_sandbox_limits_default(&l);
    printf("defaults: cpu %llu ms, wall %llu ms, mem %llu B, output %llu B, log %llu B, "
           "%u requests, response %llu B, request %llu ms\n",
           (unsigned long long)l.cpu_ms, (unsigned long long)l.wall_ms,
           (unsigned long long)l.mem_bytes, (unsigned long long)l.output_bytes,
           (unsigned long long)l.log_bytes, (unsigned)l.max_requests,
           (unsigned long long)l.response_bytes, (unsigned long long)l.request_timeout_ms);
    CHECK(l.cpu_ms == 30000 && l.wall_ms == 60000 && l.mem_bytes == 128u << 20);
    CHECK(l.output_bytes == 1u << 20 && l.log_bytes == 64u << 10 && l.max_requests == 16);
    CHECK(l.response_bytes == 2u << 20 && l.request_timeout_ms == 10000);
}

static void test_secrets(phx_sandbox_pool_t *pool)
{
    const char *k[] = {"API_KEY"}, *v[] = {"s3cr3t-value"};
    opts_t a = {.contract_id = "secret-owner", .keys = k, .vals = v, .nsecrets = 1};
    phx_sandbox_result_t r = run_with(
        pool, &a,
        "export default async (i, ctx) => { globalThis.stash = ctx.secrets.API_KEY;"
        " Object.prototype.stolen = ctx.secrets.API_KEY; return ctx.secrets.API_KEY.length; };");
    CHECK(test_sandbox_output_is(&r, "12"));
    phx_sandbox_result_free(&r);
    /* another contract, next invocation: no trace of the secret anywhere it can look */
    opts_t b = {.contract_id = "secret-thief"};
    r = run_with(
        pool, &b,
        "export default async (i, ctx) => {\n"
        "  const seen = JSON.stringify([Object.keys(ctx.secrets), globalThis.stash, ({}).stolen,\n"
        "    Object.getOwnPropertyNames(globalThis).filter((n) => /stash|secret|phx_/i.test(n)), "
        "scriptArgs]);\n"
        "  return { leaked: seen.includes('s3cr3t'), seen };\n"
        "};\n");
    CHECK(r.ok && strstr((const char *)r.output.ptr, "\"leaked\":false"));
    phx_sandbox_result_free(&r);
}

static void test_phat(phx_sandbox_pool_t *pool)
{
    /* The Phat starter-kit form: export default function main(request, secrets),
     * pink.httpRequest / batchHttpRequest, hex string in and out. */
    const char *k[] = {"secrets"}, *v[] = {"{\"apiUrl\":\"x\"}"};
    opts_t o = {.input = "\"0x0000000000000000000000000000000000000000000000000000000000000007\"",
                .keys = k,
                .vals = v,
                .nsecrets = 1};
    phx_sandbox_result_t r = run_with(
        pool, &o,
        "function fetchPrice(url) {\n"
        "  const res = pink.httpRequest({ url, method: 'GET', returnTextBody: true });\n"
        "  if (res.statusCode !== 200) throw new Error('status ' + res.statusCode);\n"
        "  return JSON.parse(res.body).price;\n"
        "}\n"
        "export default function main(request, secrets) {\n"
        "  const id = BigInt(request);\n"
        "  const price = fetchPrice('http://127.0.0.1:%d/json');\n"
        "  const batch = pink.batchHttpRequest([{ url: 'http://127.0.0.1:%d/json', returnTextBody: "
        "true },\n"
        "                                      { url: 'http://127.0.0.1:%d/nope' }], 2000);\n"
        "  const cfg = JSON.parse(secrets);\n"
        "  const h = pink.hash('keccak256', 'x');\n"
        "  return "
        "phx.hex.encode(phx.abi.encode(['uint256','uint256','uint256','bytes32','string'],\n"
        "    [id, BigInt(price * 10), batch[1].statusCode, h, cfg.apiUrl]));\n"
        "}\n",
        port, port, port);
    CHECK_MSG(r.ok, "%s: %s", r.code, r.message);
    if (r.ok) {
        json_t *s = NULL;
        phx_json_parse((const char *)r.output.ptr, r.output.len, &s, NULL);
        const char *hex = json_string_value(s);
        CHECK(hex && strlen(hex) == 2 + 64 * 7);
        if (hex && strlen(hex) == 2 + 64 * 7) {
            CHECK(!strncmp(hex + 2 + 64 - 2, "07", 2));   /* id */
            CHECK(!strncmp(hex + 2 + 128 - 3, "1a9", 3)); /* 425 */
            CHECK(!strncmp(hex + 2 + 192 - 3, "194", 3)); /* 404 */
        }
        json_decref(s);
    }
    phx_sandbox_result_free(&r);

    /* The classic Phat script form: scriptArgs in, last expression out. */
    o.input = "\"ping\"";
    r = run_with(pool, &o,
                 "(function(){ return scriptArgs[0] + ':' + typeof pink.deriveSecret('s') + ':' +"
                 " pink.deriveSecret('s').length; })()");
    CHECK(test_sandbox_output_is(&r, "\"ping:object:64\""));
    phx_sandbox_result_free(&r);
    r = run_with(pool, &o,
                 "// import the request and export a count (a comment, not a module)\n"
                 "scriptOutput = scriptArgs.length;");
    CHECK(test_sandbox_output_is(&r, "2"));
    phx_sandbox_result_free(&r);
    /* and a named export main(request, secrets) in a module */
    r = run_with(pool, &o,
                 "export function main(req, secrets) { return req.toUpperCase() + "
                 "JSON.parse(secrets).apiUrl; }");
    CHECK(test_sandbox_output_is(&r, "\"PINGx\""));
    phx_sandbox_result_free(&r);
}

/* ---- the hostile suite ---------------------------------------------------------------- */

static void test_hostile(phx_sandbox_pool_t *pool, phx_sandbox_pool_t *strict)
{
    struct {
        const char *name, *code, *src;
        bool strict;
    } cases[] = {
        {"infinite loop", "cpu_limit", "export default async () => { while (true) {} };", false},
        {"loop in a promise job", "cpu_limit", "export default async () => { for (;;) await 0; };",
         false},
        {"catastrophic regex", "cpu_limit",
         "export default async () => /^(a+)+$/.test('a'.repeat(40) + 'b');", false},
        {"allocation bomb (objects)", "memory_limit",
         "export default async () => { const a = []; for (;;) a.push({ x: [1, 2, 3, 4, 5, 6, 7, 8] "
         "}); };",
         false},
        {"allocation bomb (buffers)", "memory_limit",
         "export default async () => { const a = []; for (;;) a.push(new Uint8Array(8 << "
         "20).fill(1)); };",
         false},
        {"allocation bomb (strings)", "memory_limit",
         "export default async () => { const s = 'x'.repeat(1 << 20), keep = []; for (;;) "
         "keep.push(s.toUpperCase()); };",
         false},
        {"giant string output", "output_limit", "export default async () => 'x'.repeat(2 << 20);",
         false},
        {"giant bytes output", "output_limit",
         "export default async () => new Uint8Array(3 << 20);", false},
        {"giant log", "log_limit",
         "export default async () => { for (;;) console.log('y'.repeat(1000)); };", false},
        {"10,000 fetches", "request_limit",
         "export default async () => { for (let i = 0; i < 10000; i++) await "
         "fetch('http://127.0.0.1:%d/json'); };",
         false},
        {"huge response", "response_limit",
         "export default async () => (await fetch('http://127.0.0.1:%d/big')).text();", false},
        {"fetch 127.0.0.1", "egress_denied",
         "export default async () => fetch('http://127.0.0.1:%d/json');", true},
        {"fetch 169.254.169.254", "egress_denied",
         "export default async () => fetch('http://169.254.169.254/latest/meta-data/');", true},
        {"fetch 10.0.0.1", "egress_denied", "export default async () => fetch('http://10.0.0.1/');",
         true},
        {"fetch [::ffff:127.0.0.1]", "egress_denied",
         "export default async () => fetch('http://[::ffff:127.0.0.1]:%d/json');", true},
        {"fetch 2130706433 (127.0.0.1 as a number)", "egress_denied",
         "export default async () => fetch('http://2130706433:%d/json');", true},
        {"fetch localhost", "egress_denied",
         "export default async () => fetch('http://localhost:%d/json');", true},
        {"DNS name pinned to loopback", "egress_denied",
         "export default async () => fetch('http://loopback.phx.test:%d/json');", true},
        {"redirect to loopback", "egress_denied",
         "export default async () => fetch('http://127.0.0.1:%d/redirect-loopback');", false},
        {"redirect to metadata", "egress_denied",
         "export default async () => fetch('http://127.0.0.1:%d/redirect-metadata');", false},
        {"file: URL", "egress_denied", "export default async () => fetch('file:///etc/passwd');",
         false},
        {"redirect to [fd00::1]", "egress_denied",
         "export default async () => fetch('http://127.0.0.1:%d/redirect-ula');", false},
        {"redirect to [fe80::1]", "egress_denied",
         "export default async () => fetch('http://127.0.0.1:%d/redirect-ll6');", false},
        {"redirect to [::ffff:10.0.0.1]", "egress_denied",
         "export default async () => fetch('http://127.0.0.1:%d/redirect-mapped');", false},
        /* curl itself refuses oversized response headers (a network error, like
         * a browser's): contained as the contract's exception, bounded memory. */
        {"2.5 MiB of response headers", "exception",
         "export default async () => (await fetch('http://127.0.0.1:%d/huge-headers')).status;",
         false},
        {"redirect to file:", "egress_denied",
         "export default async () => fetch('http://127.0.0.1:%d/redirect-file');", false},
        {"fetch 0.0.0.0", "egress_denied",
         "export default async () => fetch('http://0.0.0.0:%d/json');", true},
        {"fetch [::1]", "egress_denied",
         "export default async () => fetch('http://[::1]:%d/json');", true},

        {"pink.httpRequest to loopback", "egress_denied",
         "export default function main() { return pink.httpRequest({ url: "
         "'http://127.0.0.1:%d/json' }).statusCode; }",
         true},
        {"kv disk filler", "kv_limit",
         "export default async () => { const v = 'z'.repeat(200000);"
         " for (let i = 0; ; i++) await phx.kv.put('k' + i, v); };",
         false},
        {"segfault (test hook)", "crashed",
         "export default async () => { phx.__test.segfault(); };", false},
        {"awaits forever", "pending", "export default async () => new Promise(() => {});", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        printf("hostile: %s\n", cases[i].name);
        phx_sandbox_pool_t *p = cases[i].strict ? strict : pool;
        phx_sandbox_result_t r = run(p, cases[i].src, port);
        CHECK_MSG(failed_with(&r, cases[i].code), "%s", cases[i].name);
        phx_sandbox_result_free(&r);
        check_still_serving(p);
    }

    /* Seccomp: a process that tries to open a socket is killed; a file cannot be
     * read (killed in release builds; EPERM under ASan, whose error path needs open). */
    phx_sandbox_result_t r =
        run(pool, "export default async () => phx.__test.hostCall('test.socket');");
    CHECK(failed_with(&r, "crashed") && strstr(r.message, "signal 31"));
    phx_sandbox_result_free(&r);
    check_still_serving(pool);
    r = run(pool, "export default async () => phx.__test.hostCall('test.open');");
    CHECK(!r.ok && (!strcmp(r.code, "crashed") || (!strcmp(r.code, "exception") &&
                                                   strstr(r.message, "Operation not permitted"))));
    fprintf(stderr, "  open: %s %s: %s\n", r.ok ? "ok" : "failed", r.code,
            r.ok ? (char *)r.output.ptr : r.message);
    phx_sandbox_result_free(&r);
    check_still_serving(pool);

    /* A child taken over by a hostile contract must not reach the worker: no
     * signal to it (same uid), no prlimit on it. */
    r = run(pool, "export default async () => phx.__test.hostCall('test.signal');");
    fprintf(stderr, "  tgkill(worker): %s %s\n", r.code, r.message);
    CHECK(failed_with(&r, "crashed") && strstr(r.message, "signal 31"));
    phx_sandbox_result_free(&r);
    check_still_serving(pool);
    r = run(pool, "export default async () => phx.__test.hostCall('test.prlimit');");
    fprintf(stderr, "  prlimit(worker): %s %s\n", r.ok ? "ok" : r.code,
            r.ok ? (char *)r.output.ptr : r.message);
    CHECK(failed_with(&r, "exception") && strstr(r.message, "Operation not permitted"));
    phx_sandbox_result_free(&r);
    check_still_serving(pool);
    /* No descriptor of the worker's reaches a child: 0 and 1 are /dev/null, 3 the
     * channel, 2 /dev/null too except under ASan (its reports go there). */
    r = run(pool, "export default async () => phx.__test.hostCall('test.fds');");
    CHECK(r.ok);
    if (r.ok) {
        fprintf(stderr, "  fds: %s\n", (char *)r.output.ptr);
        json_t *fds = json_loadb((const char *)r.output.ptr, r.output.len, 0, NULL);
        CHECK(json_array_size(fds) == 4);
        for (size_t i = 0; i < json_array_size(fds); i++) {
            int fd = (int)json_integer_value(json_array_get(json_array_get(fds, i), 0));
            const char *kind = json_string_value(json_array_get(json_array_get(fds, i), 1));
            CHECK(fd <= 3 && kind);
            if (fd == 3) CHECK(!strcmp(kind, "sock"));
#ifdef TEST_ASAN
            if (fd < 2) CHECK(!strcmp(kind, "null"));
#else
            if (fd < 3) CHECK(!strcmp(kind, "null"));
#endif
        }
        json_decref(fds);
    }
    phx_sandbox_result_free(&r);
    check_still_serving(pool);

    r = run(pool, "export default async () => phx.__test.hostCall('test.env');");
    CHECK(r.ok && !strstr((char *)r.output.ptr, "PHX_TEST_WORKER_SECRET") &&
          !strstr((char *)r.output.ptr, "s3cret") && !strstr((char *)r.output.ptr, "PATH="));
    if (r.ok) fprintf(stderr, "  child environment: %s\n", (char *)r.output.ptr);
    phx_sandbox_result_free(&r);

    /* Frames a taken-over child forges: the worker's own checks, not the
     * engine's, must turn each into a failure, and keep serving. */
    static const struct {
        const char *hook, *code;
    } forged[] = {{"big", "output_limit"},
                  {"notjson", "protocol"},
                  {"type", "protocol"},
                  {"huge", "protocol"},
                  {"badop", "protocol"}};
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        r = run(pool, "export default async () => phx.__test.hostCall('test.forge.%s');",
                forged[i].hook);
        fprintf(stderr, "  forged %s: %s %s\n", forged[i].hook, r.ok ? "ok" : r.code, r.message);
        CHECK_MSG(failed_with(&r, forged[i].code), "forged %s", forged[i].hook);
        phx_sandbox_result_free(&r);
        check_still_serving(pool);
    }

    /* A child that vanishes while the worker is answering it. */
    for (int i = 0; i < 5; i++) {
        r = run(pool, "export default async () => phx.__test.hostCall('test.vanish');");
        CHECK(failed_with(&r, "crashed"));
        phx_sandbox_result_free(&r);
    }
    check_still_serving(pool);

    /* Deep recursion: the engine's stack limit, a clean exception, not a crash. */
    r = run(pool, "function f(n) { return f(n + 1) + 1; } export default async () => f(0);");
    CHECK(failed_with(&r, "exception") && strstr(r.message, "too much recursion"));
    phx_sandbox_result_free(&r);
    check_still_serving(pool);

    /* State leaks between invocations: globals, prototypes, built-ins. */
    r = run(
        pool,
        "export default async () => { globalThis.leak = 42; Object.prototype.polluted = 'yes';\n"
        " Array.prototype.map = () => 'hijacked'; JSON.stringify = () => '\"owned\"';\n"
        " Math.random = () => 4; return 'planted'; };");
    CHECK(test_sandbox_output_is(&r, "\"planted\""));
    phx_sandbox_result_free(&r);
    r = run(pool,
            "export default async () => [typeof globalThis.leak, ({}).polluted === undefined,\n"
            " [1].map((x) => x + 1)[0], JSON.stringify({a: 1}), Math.random() < 1];");
    CHECK(test_sandbox_output_is(&r, "[\"undefined\",true,2,\"{\\\"a\\\":1}\",true]"));
    phx_sandbox_result_free(&r);
}

/* ---- leak probes (both isolation modes) ----------------------------------------- */

/* One contract, three calls: probe, plant, probe. The planting call mutates
 * globals, prototypes, built-ins and the prelude's objects, registers symbols,
 * WeakRefs and a FinalizationRegistry, leaves timers, an interval and a promise
 * job behind, and keeps its secret input everywhere it can; the probes look
 * for any of it, including through what every realm's engine shares (Function
 * constructors, the Symbol registry, error objects). In warm isolation all three
 * must run in one process (else the probe proves nothing); the second probe must
 * see exactly what the first saw. Shown able to fail: with the engine changed to
 * reuse a realm once (the commit that added this says how), 21 of the fields
 * differ. */
static const char leak_probe_src[] =
    "let moduleRuns = 0;\n"
    "moduleRuns++;\n"
    "const cached = { n: 0 };\n"
    "export default async (input) => {\n"
    "  cached.n++;\n"
    "  const F = Function, AF = (async () => {}).constructor;\n"
    "  const GF = Object.getPrototypeOf(function* () {}).constructor;\n"
    "  if (input.phase === 'plant') {\n"
    "    const s = input.secret;\n"
    "    globalThis.leak = s; Object.prototype.polluted = s; Array.prototype.map = () => s;\n"
    "    JSON.stringify = () => s; Math.random = () => 4; Function.prototype.planted = s;\n"
    "    AF.prototype.planted = s; GF.prototype.planted = s; Error.prototype.toString = () => s;\n"
    "    Object.prototype[Symbol.for('phx.leak')] = s; Symbol.for('phx.leak.' + s);\n"
    "    phx.planted = s; phx.hex.encode = () => s; console.log = () => s;\n"
    "    if (typeof WeakRef === 'function') globalThis.wr = new WeakRef({ s });\n"
    "    if (typeof FinalizationRegistry === 'function') {\n"
    "      globalThis.fr = new FinalizationRegistry(() => { Object.prototype.finalized = s; });\n"
    "      globalThis.fr.register({ s }, s);\n"
    "    }\n"
    "    if (typeof SharedArrayBuffer === 'function') {\n"
    "      try { globalThis.sab = new SharedArrayBuffer(8); } catch (e) { globalThis.sab = e; }\n"
    "    }\n"
    "    setTimeout(() => { Object.prototype.fromTimer = s; }, 20);\n"
    "    setInterval(() => { Object.prototype.fromInterval = s; }, 5);\n"
    "    globalThis.err = new Error(s);\n"
    "    Promise.prototype.then = function () { return s; };\n"
    "    return { toJSON() { Promise.resolve().then(() => 0); Object.prototype.late = s; return "
    "'planted'; } };\n"
    "  }\n"
    "  await new Promise((r) => setTimeout(r, 40));\n"
    "  const inherited = [];\n"
    "  for (const k in {}) inherited.push(k);\n"
    "  return {\n"
    "    moduleRuns, cached: cached.n, inherited, leak: typeof globalThis.leak,\n"
    "    protoNames: Object.getOwnPropertyNames(Object.prototype).length,\n"
    "    symbolProp: typeof ({})[Symbol.for('phx.leak')], symbolKey: "
    "Symbol.keyFor(Symbol.for('phx.leak')),\n"
    "    map: [1].map((x) => x + 1)[0], json: JSON.stringify({ a: 1 }), random: Math.random() < "
    "1,\n"
    "    fnPlanted: typeof Function.prototype.planted, asyncPlanted: typeof AF.prototype.planted,\n"
    "    genPlanted: typeof GF.prototype.planted,\n"
    "    viaFunction: typeof F('return globalThis')().leak,\n"
    "    viaAsync: typeof (await AF('return globalThis')()).leak,\n"
    "    viaGenerator: typeof GF('yield globalThis')().next().value.leak,\n"
    "    viaConstructorChain: typeof ({}).constructor.constructor('return this')().leak,\n"
    "    error: String(new Error('x')), errorGlobal: typeof globalThis.err,\n"
    "    stackHasPlant: String(new Error('y').stack).includes('plant'),\n"
    "    phxPlanted: typeof phx.planted, hex: phx.hex.encode(new Uint8Array([1])),\n"
    "    consoleLog: String(console.log).length, then: typeof Promise.resolve(1).then(() => 1),\n"
    "    weakRef: typeof WeakRef, finalizationRegistry: typeof FinalizationRegistry,\n"
    "    wr: typeof globalThis.wr, fr: typeof globalThis.fr,\n"
    "    sharedArrayBuffer: typeof SharedArrayBuffer, sab: typeof globalThis.sab,\n"
    "    globals: Object.getOwnPropertyNames(globalThis).sort().join(','),\n"
    "  };\n"
    "};\n";

static void test_leaks(void)
{
    /* No pre-forked children: a call of a contract whose warm process is still
     * building its next realm waits for it rather than taking a fresh child
     * (pool.c), so the three calls land in one process. */
    phx_sandbox_config_t cfg = {0};
    cfg.kv_dir = kv_dir;
    cfg.dev_keys = true;
    cfg.jit = true;
    cfg.isolation = isolation;
    cfg.prefork = -1;
    phx_sandbox_pool_t *pool;
    phx_error_t e;
    CHECK(phx_sandbox_pool_new(&cfg, &pool, &e) == PHX_OK);
    opts_t probe = {.input = "{\"phase\":\"probe\"}", .contract_id = "leak-probe"};
    opts_t plant = {.input = "{\"phase\":\"plant\",\"secret\":\"s-7f3a\"}",
                    .contract_id = "leak-probe"};
    phx_sandbox_result_t before = run_with(pool, &probe, "%s", leak_probe_src);
    phx_sandbox_result_t planted = run_with(pool, &plant, "%s", leak_probe_src);
    phx_sandbox_result_t after = run_with(pool, &probe, "%s", leak_probe_src);
    CHECK(before.ok && after.ok && test_sandbox_output_is(&planted, "\"planted\""));
    printf("leak probe (%s): pids %d %d %d, uses %u %u %u\n", phx_sandbox_isolation_name(isolation),
           before.sandbox_pid, planted.sandbox_pid, after.sandbox_pid, before.sandbox_uses,
           planted.sandbox_uses, after.sandbox_uses);
    CHECK(before.isolation == isolation && after.isolation == isolation);
    if (isolation == PHX_SANDBOX_ISOLATION_WARM) {
        CHECK(before.sandbox_pid == planted.sandbox_pid &&
              planted.sandbox_pid == after.sandbox_pid);
        CHECK(planted.sandbox_uses == before.sandbox_uses + 1 &&
              after.sandbox_uses == planted.sandbox_uses + 1);
    } else {
        CHECK(before.sandbox_pid != planted.sandbox_pid &&
              planted.sandbox_pid != after.sandbox_pid);
        CHECK(before.sandbox_uses == 1 && after.sandbox_uses == 1);
    }
    if (before.ok && after.ok) {
        printf("  before: %.*s\n", (int)before.output.len, (const char *)before.output.ptr);
        json_t *a = json_loadb((const char *)before.output.ptr, before.output.len, 0, NULL);
        json_t *b = json_loadb((const char *)after.output.ptr, after.output.len, 0, NULL);
        CHECK(a && b);
        const char *k;
        json_t *v;
        int differ = 0;
        json_object_foreach(a, k, v)
        {
            if (json_equal(v, json_object_get(b, k))) continue;
            char *x = json_dumps(json_object_get(b, k), JSON_ENCODE_ANY | JSON_COMPACT);
            printf("  LEAK %s: %s\n", k, x ? x : "(missing)");
            free(x);
            differ++;
        }
        CHECK_MSG(differ == 0, "%d probe fields changed after the planting call", differ);
        CHECK(json_object_size(a) == json_object_size(b) && json_object_size(a) >= 30);
        /* A pristine realm, not merely the same twice. */
        CHECK(json_integer_value(json_object_get(a, "moduleRuns")) == 1);
        CHECK(json_integer_value(json_object_get(a, "cached")) == 1);
        CHECK(json_array_size(json_object_get(a, "inherited")) == 0);
        CHECK(!strstr((const char *)after.output.ptr, "s-7f3a"));
        json_decref(a);
        json_decref(b);
    }
    phx_sandbox_result_free(&before);
    phx_sandbox_result_free(&planted);
    phx_sandbox_result_free(&after);
    phx_sandbox_pool_free(pool);
}

/* The warm process's life (both modes run it; in process isolation every call
 * must get its own process): bound to one contract id and code, recycled after
 * warm_uses calls, when idle, and after an invocation that did not end by itself. */
static void test_lifecycle(void)
{
    phx_sandbox_config_t cfg = {0};
    cfg.limits.cpu_ms = 1500;
    cfg.kv_dir = kv_dir;
    cfg.dev_keys = true;
    cfg.jit = true;
    cfg.test_hooks = true;
    cfg.isolation = isolation;
    cfg.warm_uses = 3;
    cfg.warm_idle_ms = 300;
    cfg.prefork = -1; /* back to back calls wait for the warm process (see test_leaks) */
    phx_sandbox_pool_t *p;
    phx_error_t e;
    CHECK(phx_sandbox_pool_new(&cfg, &p, &e) == PHX_OK);
    const bool warm = isolation == PHX_SANDBOX_ISOLATION_WARM;
    opts_t a = {.contract_id = "life-a"}, b = {.contract_id = "life-b"};
    const char *echo = "export default async () => 'same code'; // %d";
    int pid[8];
    uint32_t uses[8];
    /* a, a, b (same code, other id), a with other code, a, a (fourth use: recycled) */
    const struct {
        const opts_t *o;
        int variant;
    } calls[] = {{&a, 0}, {&a, 0}, {&b, 0}, {&a, 1}, {&a, 0}, {&a, 0}};
    for (int i = 0; i < 6; i++) {
        phx_sandbox_result_t r = run_with(p, calls[i].o, echo, calls[i].variant);
        CHECK(test_sandbox_output_is(&r, "\"same code\""));
        pid[i] = r.sandbox_pid;
        uses[i] = r.sandbox_uses;
        phx_sandbox_result_free(&r);
    }
    printf("lifecycle (%s): pids %d %d %d %d %d %d, uses %u %u %u %u %u %u\n",
           phx_sandbox_isolation_name(isolation), pid[0], pid[1], pid[2], pid[3], pid[4], pid[5],
           uses[0], uses[1], uses[2], uses[3], uses[4], uses[5]);
    CHECK(pid[2] != pid[0] && pid[3] != pid[0] && pid[3] != pid[2]); /* one contract per process */
    if (warm) {
        CHECK(pid[1] == pid[0] && pid[4] == pid[0] && uses[4] == 3); /* served a's calls */
        CHECK(pid[5] != pid[0] && uses[5] == 1);                     /* recycled after 3 uses */
    } else {
        CHECK(pid[1] != pid[0] && pid[5] != pid[4] && uses[1] == 1 && uses[5] == 1);
    }
    /* Idle: the reaper recycles it after warm_idle_ms. */
    usleep(1000 * 1000);
    phx_sandbox_result_t r = run_with(p, &a, echo, 0);
    CHECK(test_sandbox_output_is(&r, "\"same code\"") && r.sandbox_pid != pid[5] &&
          r.sandbox_uses == 1);
    phx_sandbox_result_free(&r);
    CHECK(kill(pid[5], 0) != 0); /* killed and reaped, not merely forgotten */
    /* After an abort (cpu_limit) the process is gone; the contract's next call,
     * which ends by itself, gets a new one. */
    const char *spin = "export default async (i) => { if (i) for (;;); return 'ok'; };";
    opts_t quiet = {.contract_id = "life-spin", .input = "0"};
    opts_t loud = {.contract_id = "life-spin", .input = "1"};
    phx_sandbox_result_t r1 = run_with(p, &quiet, "%s", spin);
    phx_sandbox_result_t r2 = run_with(p, &loud, "%s", spin);
    phx_sandbox_result_t r3 = run_with(p, &quiet, "%s", spin);
    CHECK(test_sandbox_output_is(&r1, "\"ok\"") && failed_with(&r2, "cpu_limit") &&
          test_sandbox_output_is(&r3, "\"ok\""));
    if (warm) CHECK(r2.sandbox_pid == r1.sandbox_pid && r2.sandbox_uses == 2);
    CHECK(r3.sandbox_pid != r2.sandbox_pid && r3.sandbox_uses == 1);
    phx_sandbox_result_free(&r1);
    phx_sandbox_result_free(&r2);
    phx_sandbox_result_free(&r3);
    /* The source's own directive wins over the pool's warm default. */
    const char *strict = "'use process isolation';\nexport default async () => 1;";
    r1 = run_with(p, &a, "%s", strict);
    r2 = run_with(p, &a, "%s", strict);
    CHECK(r1.ok && r2.ok && r1.isolation == PHX_SANDBOX_ISOLATION_PROCESS &&
          r2.sandbox_pid != r1.sandbox_pid && r2.sandbox_uses == 1);
    phx_sandbox_result_free(&r1);
    phx_sandbox_result_free(&r2);
    phx_sandbox_pool_free(p);
}

static void test_request_timeout(void)
{
    char allow0[32];
    snprintf(allow0, sizeof allow0, "127.0.0.1:%d", port);
    const char *allow[] = {allow0};
    phx_sandbox_config_t cfg = {0};
    cfg.limits.request_timeout_ms = 300;
    cfg.isolation = isolation;
    cfg.limits.kv_total_bytes = 1u << 20;
    cfg.kv_dir = kv_dir;
    cfg.dev_keys = true;
    cfg.allow_hosts = allow;
    cfg.nallow_hosts = 1;
    cfg.jit = true;
    phx_sandbox_pool_t *p;
    phx_error_t e;
    CHECK(phx_sandbox_pool_new(&cfg, &p, &e) == PHX_OK);
    phx_sandbox_result_t r =
        run(p,
            "export default async () => { try { await fetch('http://127.0.0.1:%d/slow'); }"
            " catch (e) { return 'caught'; } return 'done'; };",
            port);
    CHECK(failed_with(&r, "request_timeout"));
    CHECK(r.wall_ms >= 300 && r.wall_ms < 1400);
    phx_sandbox_result_free(&r);
    /* In a Phat batch a timeout is that item's error, as in Phat. The other item
     * must still succeed, so this pool gives each request 1 s, not 300 ms: under
     * stress-ng the fast /json round trip (sandbox, curl, a server thread) once
     * took longer than 300 ms and came back as statusCode 0. /slow answers only
     * after 1.5 s, so its item still times out whatever the load. */
    phx_sandbox_config_t batch_cfg = cfg;
    batch_cfg.limits.request_timeout_ms = 1000;
    phx_sandbox_pool_t *bp = NULL;
    CHECK(phx_sandbox_pool_new(&batch_cfg, &bp, &e) == PHX_OK);
    if (bp) {
        r = run(bp,
                "export default function main() { const r = pink.batchHttpRequest([{ url:"
                " 'http://127.0.0.1:%d/slow' }, { url: 'http://127.0.0.1:%d/json' }], 5000);"
                " return [typeof r[0].error, r[1].statusCode]; }",
                port, port);
        CHECK(test_sandbox_output_is(&r, "[\"string\",200]"));
        phx_sandbox_result_free(&r);
        phx_sandbox_pool_free(bp);
    }
    /* The per-contract kv size cap holds across invocations. */
    opts_t big = {.contract_id = "kv-hoarder"};
    for (int i = 0; i < 3; i++) {
        r = run_with(p, &big,
                     "export default async () => { const v = 'q'.repeat(300000);"
                     " for (let i = 0; i < 2; i++) await phx.kv.put('k%d.' + i, v); return 1; };",
                     i);
        if (i < 1)
            CHECK(test_sandbox_output_is(&r, "1"));
        else if (i == 2)
            CHECK(failed_with(&r, "kv_limit") && strstr(r.message, "would exceed"));
        phx_sandbox_result_free(&r);
    }
    check_still_serving(p);
    phx_sandbox_pool_free(p);
}

static void test_zygote_dies(phx_sandbox_pool_t *pool)
{
    /* The zygote is killed: the pool replaces it and keeps serving. */
    int z = phx_sandbox_pool_zygote_pid(pool);
    CHECK(z > 0 && kill(z, SIGKILL) == 0);
    for (int i = 0; i < 6; i++) {
        /* A contract not seen before: in warm isolation too it needs a new child. */
        phx_sandbox_result_t r = run(pool, "export default async () => %d; // zygote %d", i, z);
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        CHECK(test_sandbox_output_is(&r, want));
        phx_sandbox_result_free(&r);
        check_still_serving(pool);
    }
    int z2 = phx_sandbox_pool_zygote_pid(pool);
    CHECK(z2 > 0 && z2 != z);
    printf("zygote %d killed, replaced by %d\n", z, z2);
}

static void test_wall(void)
{
    /* A contract that uses no CPU but never finishes: the worker's wall clock. */
    phx_sandbox_config_t cfg = {0};
    cfg.limits.wall_ms = 800;
    cfg.limits.cpu_ms = 5000;
    cfg.isolation = isolation;
    cfg.kv_dir = kv_dir;
    cfg.dev_keys = true;
    cfg.jit = true;
    cfg.test_hooks = true;
    phx_sandbox_pool_t *p;
    phx_error_t e;
    CHECK(phx_sandbox_pool_new(&cfg, &p, &e) == PHX_OK);
    /* A long blocking host call (a slow DNS-free connect to a port that drops
     * nothing) is not available offline; a tight loop with CPU above wall does it. */
    phx_sandbox_result_t r = run(p, "export default async () => { while (true) {} };");
    CHECK(failed_with(&r, "wall_limit"));
    /* Stopped, not merely slow: a generous upper bound (a loaded machine can
     * take seconds to deliver the kill), far below the contract's forever. */
    CHECK(r.wall_ms >= 800 && r.wall_ms < 30000);
    phx_sandbox_result_free(&r);
    check_still_serving(p);
    phx_sandbox_pool_free(p);
}

/* The pools the cases share: pool allows 127.0.0.1, strict allows no host. */
static phx_sandbox_pool_t *shared_pool, *strict_pool;

static void case_language(void)
{
    test_language(shared_pool);
}
static void case_helpers(void)
{
    test_helpers(shared_pool);
}
static void case_fetch(void)
{
    test_fetch(shared_pool);
}
static void case_kv(void)
{
    test_kv(shared_pool);
}
static void case_secrets(void)
{
    test_secrets(shared_pool);
}
static void case_phat(void)
{
    test_phat(shared_pool);
}
static void case_hostile(void)
{
    test_hostile(shared_pool, strict_pool);
}
static void case_zygote_dies(void)
{
    test_zygote_dies(shared_pool);
}

int main(int argc, char **argv)
{
    phx_error_t ie = {0};
    if (argc > 1 && phx_sandbox_isolation_parse(argv[1], &isolation, &ie)) {
        fprintf(stderr, "test_js: %s\n", ie.message);
        return 2;
    }
    printf("isolation: %s\n", phx_sandbox_isolation_name(isolation));
    snprintf(kv_dir, sizeof kv_dir, "/tmp/phx-test-js-%d", (int)getpid());
    /* Pools first: the zygote must fork before the HTTP server starts threads. */
    char pin[128], allow0[32];
    /* The test server (filled once its port is known), and a closed port for
     * the network-error case. */
    const char *allow[] = {allow0, "127.0.0.1:1"};
    phx_sandbox_config_t cfg = {0};
    cfg.limits.cpu_ms = 1500;
    /* The wall budget only stops a runaway test here; the hostile cases must hit
     * their own limit (cpu_limit, kv_limit) first. At 10 s a CPU burner that got
     * under 15% of a core (seen at load 40 on this 2-core machine) hit the wall
     * first and failed as wall_limit; test_wall covers the wall limit. */
    cfg.limits.wall_ms = 60000;
    cfg.limits.mem_bytes = 64u << 20;
    /* 4 MiB of kv writes per invocation: the disk filler reaches kv_limit in ~20
     * puts, well inside the 1.5 s of CPU even under ASan on a loaded machine. */
    cfg.limits.kv_write_bytes = 4u << 20;
    cfg.kv_dir = kv_dir;
    cfg.dev_keys = true;
    cfg.allow_hosts = allow;
    cfg.nallow_hosts = 2;
    cfg.prefork = 2;
    cfg.jit = true;
    cfg.test_hooks = true;
    cfg.isolation = isolation;

    /* Listen on 127.0.0.1 with a kernel-chosen port now; MHD serves it later. */
    int lfd = test_listen_loopback(&port);
    CHECK(lfd >= 0);
    snprintf(allow0, sizeof allow0, "127.0.0.1:%d", port);
    snprintf(pin, sizeof pin, "loopback.phx.test:%d:127.0.0.1", port);
    const char *pins[] = {pin};
    cfg.resolve = pins;
    cfg.nresolve = 1;

    /* A secret in the worker's environment must not reach the zygote or a child. */
    setenv("PHX_TEST_WORKER_SECRET", "s3cret", 1);
    phx_sandbox_pool_t *pool = NULL, *strict = NULL;
    phx_error_t e = {0};
    CHECK_MSG(phx_sandbox_pool_new(&cfg, &pool, &e) == PHX_OK, "%s", e.message);
    phx_sandbox_config_t scfg = cfg;
    scfg.allow_hosts = NULL;
    scfg.nallow_hosts = 0;
    CHECK_MSG(phx_sandbox_pool_new(&scfg, &strict, &e) == PHX_OK, "%s", e.message);
    if (!pool || !strict) return test_done("test_js");

    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler,
        NULL, MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL, MHD_OPTION_LISTEN_SOCKET, lfd,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(8u << 20), MHD_OPTION_END);
    CHECK(d != NULL);
    /* libmicrohttpd ignores SIGPIPE (and sends with MSG_NOSIGNAL); a worker may
     * not, so the default action is back for the tests of dying children. */
    signal(SIGPIPE, SIG_DFL);
    printf("http server on 127.0.0.1:%d\n", port);

    shared_pool = pool;
    strict_pool = strict;
    static const test_case_t cases[] = {
        TEST_CASE(test_defaults),
        TEST_CASE(case_language),
        TEST_CASE(case_helpers),
        TEST_CASE(case_fetch),
        TEST_CASE(case_kv),
        TEST_CASE(case_secrets),
        TEST_CASE(case_phat),
        TEST_CASE(case_hostile),
        TEST_CASE(test_leaks),
        TEST_CASE(test_lifecycle),
        TEST_CASE(case_zygote_dies),
        TEST_CASE(test_wall),
        TEST_CASE(test_request_timeout),
    };
    int rc = test_run(isolation == PHX_SANDBOX_ISOLATION_WARM ? "test_js" : "test_js_process",
                      cases, TEST_COUNT(cases));

    phx_sandbox_pool_free(pool);
    phx_sandbox_pool_free(strict);
    if (d) MHD_stop_daemon(d);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", kv_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", kv_dir);
    return rc;
}
