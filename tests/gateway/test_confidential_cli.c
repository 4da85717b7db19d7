/* `phx deploy --secret` and `phx call --encrypt` (the real binary) end to end
 * through a gateway, with a KMS serving signed contract keys from a known root
 * and a worker HTTP server (a stand-in for `phx worker`) that opens what it
 * gets with the contract key derived the KMS way (phx_confidential_open, the
 * worker library) and seals its reply with the call's reply key. Shows: the
 * secret and the input arrive sealed (never in clear on the wire) and open to
 * exactly what the user gave; the CLI opens the sealed reply; a reply sealed
 * under another key is refused by the CLI. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phx/crypto.h"
#include "phx/gateway.h"
#include "phx/kms.h"
#include "phx/net.h"
#include "phx/worker.h"
#include "test.h"

static uint8_t root[32];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char seen_secret[128]; /* what the worker opened */
static char seen_input[256];
static int plaintext_on_wire; /* the secret or input seen in a raw body */
static int corrupt_reply;

static const char SECRET[] = "sk-live-VERY-SECRET-42";
static const char CARD[] = "4111-PRIVATE-9999";

/* The KMS insists on a quote verifier; nothing here presents a quote. */
static phx_err_t no_quotes(void *ctx, const uint8_t *quote, size_t quote_len,
                           const uint8_t *collateral, size_t collateral_len, int64_t now,
                           phx_kms_quote_info_t *info, phx_error_t *e)
{
    (void)ctx, (void)quote, (void)quote_len, (void)collateral, (void)collateral_len, (void)now;
    (void)info;
    return phx_fail(e, PHX_ERR_POLICY, "no quotes in this test");
}

static phx_err_t contract_sk(const char *id_hex, uint8_t id[32], uint8_t sk[32], phx_error_t *e)
{
    uint8_t croot[32];
    phx_contract_keys_t k;
    phx_err_t err = phx_hex_decode_fixed(id_hex, id, 32, e);
    if (!err) err = phx_kms_contract_root(root, croot, e);
    if (!err) err = phx_kms_contract_keys(croot, id, &k, e);
    if (!err) memcpy(sk, k.x25519_sk, 32);
    phx_kms_contract_keys_clear(&k);
    phx_secure_zero(croot, 32);
    return err;
}

static void check_wire(const phx_http_request_t *req)
{
    pthread_mutex_lock(&lock);
    if (req->body &&
        (strstr((const char *)req->body, SECRET) || strstr((const char *)req->body, CARD)))
        plaintext_on_wire++;
    pthread_mutex_unlock(&lock);
}

static phx_err_t w_health(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    (void)ctx, (void)req, (void)e;
    resp->json = json_pack("{s:s}", "status", "ok");
    return PHX_OK;
}

static phx_err_t w_deploy(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    (void)ctx;
    check_wire(req);
    const char *id_hex, *code_hash;
    uint8_t id[32], sk[32];
    phx_err_t err = phx_json_get_str(req->json, "id", &id_hex, e);
    if (!err) err = phx_json_get_str(req->json, "code_hash", &code_hash, e);
    if (!err) err = contract_sk(id_hex, id, sk, e);
    if (err) return err;
    const json_t *sealed = json_object_get(req->json, "sealed_secrets");
    if (sealed) {
        phx_buf_t pt = PHX_BUF_INIT;
        json_t *secrets = NULL;
        uint8_t ch[32];
        err = phx_hex_decode_fixed(code_hash, ch, 32, e);
        /* Secrets are bound to the code hash too (the AAD). */
        if (!err) err = phx_confidential_open_secrets(sk, id, ch, sealed, &pt, e);
        if (!err) err = phx_json_parse((const char *)pt.ptr, pt.len, &secrets, e);
        pthread_mutex_lock(&lock);
        if (!err)
            snprintf(seen_secret, sizeof seen_secret, "%s",
                     json_string_value(json_object_get(secrets, "API_KEY")) ?: "");
        pthread_mutex_unlock(&lock);
        json_decref(secrets);
        phx_buf_free(&pt);
    }
    phx_secure_zero(sk, 32);
    if (err) return err;
    resp->json = json_pack("{s:s,s:s}", "id", id_hex, "code_hash", code_hash);
    return PHX_OK;
}

static phx_err_t w_call(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    (void)ctx;
    check_wire(req);
    uint8_t id[32], sk[32], reply_key[32];
    phx_err_t err = contract_sk(phx_http_param(req, "id"), id, sk, e);
    if (err) return err;
    phx_buf_t pt = PHX_BUF_INIT, reply = PHX_BUF_INIT;
    json_t *input = NULL;
    err = phx_confidential_open(PHX_SEAL_INPUT, sk, id, json_object_get(req->json, "sealed_input"),
                                &pt, reply_key, e);
    if (!err) err = phx_json_parse((const char *)pt.ptr, pt.len, &input, e);
    if (!err) {
        pthread_mutex_lock(&lock);
        snprintf(seen_input, sizeof seen_input, "%s",
                 json_string_value(json_object_get(input, "card")) ?: "");
        pthread_mutex_unlock(&lock);
        /* The contract's answer: the last four digits. */
        char out[64];
        const char *card = json_string_value(json_object_get(input, "card"));
        snprintf(out, sizeof out, "{\"last4\":\"%s\"}",
                 card && strlen(card) >= 4 ? card + strlen(card) - 4 : "");
        if (corrupt_reply) reply_key[0] ^= 1;
        err = phx_confidential_seal_reply(reply_key, id, out, strlen(out), &reply, e);
    }
    if (!err)
        resp->json =
            json_pack("{s:s,s:o,s:o}", "kind", "direct", "contract_id", phx_json_hex(id, 32),
                      "output_bytes", phx_json_hex(reply.ptr, reply.len));
    json_decref(input);
    phx_buf_free(&pt);
    phx_buf_free(&reply);
    phx_secure_zero(sk, 32);
    phx_secure_zero(reply_key, 32);
    return err;
}

/* Run the phx binary with args; stdout into out. Returns the exit status. */
static int run_phx(const char *args, phx_buf_t *out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>/dev/null", getenv("PHX_BIN"), args);
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        phx_buf_append(out, buf, n);
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* What the cases share: the KMS and stand-in worker servers, the gateway,
 * the user's directory with its contract file, and the deployed id. */
static char dir[] = "/tmp/phx-gw-conf-XXXXXX";
static bool made_dir;
static phx_kms_t *kms;
static phx_http_router_t *kr, *wr;
static phx_http_server_t *ks, *ws;
static phx_gateway_t *g;
static char path[400], id[80];

/* A KMS with the known root (only its pubkey route matters here), a stand-in
 * worker and a gateway in front of it. */
static void test_services(void)
{
    phx_error_t e = {0};
    CHECK(phx_random_bytes(root, 32) == PHX_OK);

    /* KMS with the known root (only its pubkey route matters here). */
    static const uint8_t none[1][32];
    phx_kms_allowlist_t allow = {none, 0};
    phx_kms_config_t cfg = {
        .verify_quote = no_quotes, .check_peer = phx_kms_allowlist_check, .check_ctx = &allow};
    memcpy(cfg.root, root, 32);
    CHECK_MSG(phx_kms_new(&cfg, &kms, &e) == PHX_OK, "%s", e.message);
    CHECK(phx_http_router_new(&kr, &e) == PHX_OK && phx_kms_add_routes(kms, kr, &e) == PHX_OK);
    CHECK(phx_http_server_start(kr, NULL, &ks, &e) == PHX_OK);
    CHECK(phx_http_router_new(&wr, &e) == PHX_OK);
    CHECK(phx_http_router_add(wr, "GET", "/healthz", w_health, NULL, 0, &e) == PHX_OK);
    CHECK(phx_http_router_add(wr, "POST", "/v1/contracts", w_deploy, NULL, 0, &e) == PHX_OK);
    CHECK(phx_http_router_add(wr, "POST", "/v1/contracts/:id/call", w_call, NULL, 0, &e) == PHX_OK);
    CHECK(phx_http_server_start(wr, NULL, &ws, &e) == PHX_OK);
    if (!ks || !ws) return;
    char kms_url[64], worker_url[64], gdir[300];
    snprintf(kms_url, sizeof kms_url, "http://127.0.0.1:%u", phx_http_server_port(ks));
    snprintf(worker_url, sizeof worker_url, "http://127.0.0.1:%u", phx_http_server_port(ws));
    snprintf(gdir, sizeof gdir, "%s/gw", dir);
    const char *workers[] = {worker_url};
    phx_gateway_opts_t go = {
        .dir = gdir, .workers = workers, .worker_count = 1, .kms_url = kms_url};
    CHECK_MSG(phx_gateway_start(&go, &g, &e) == PHX_OK, "%s", e.message);
}

static void test_user_side(void)
{
    phx_error_t e = {0};
    /* The user's side: an endpoints file naming the gateway and the KMS to trust. */
    uint8_t kms_addr[20];
    phx_kms_address(kms, kms_addr);
    char *kms_hex = phx_hex_encode(kms_addr, 20), text[1200], key_path[400];
    /* The owner's key, named the way a devnet names its user's. */
    snprintf(key_path, sizeof key_path, "%s/user.key", dir);
    const char user_key[] = "0x1111111111111111111111111111111111111111111111111111111111111111\n";
    CHECK(phx_file_write_atomic(key_path, user_key, sizeof user_key - 1, 0600, &e) == PHX_OK);
    snprintf(path, sizeof path, "%s/endpoints.json", dir);
    snprintf(text, sizeof text,
             "{\"gateway\":\"%s\",\"kms\":{\"address\":\"%s\"},\"user\":{\"key_file\":\"%s\"}}",
             phx_gateway_url(g), kms_hex, key_path);
    CHECK(phx_file_write_atomic(path, text, strlen(text), 0600, &e) == PHX_OK);
    setenv("PHX_HOME", dir, 1);
    unsetenv("PHX_GATEWAY");
    snprintf(path, sizeof path, "%s/c.js", dir);
    const char code[] = "export default async function (input, ctx) { return input; }\n";
    CHECK(phx_file_write_atomic(path, code, sizeof code - 1, 0600, &e) == PHX_OK);
    free(kms_hex);
}

/* phx deploy --secret: the worker opens the sealed secret. */
static void test_deploy_secret(void)
{
    phx_error_t e = {0};
    char args[1024];
    phx_buf_t out = PHX_BUF_INIT;
    snprintf(args, sizeof args, "deploy '%s' --no-chain --secret API_KEY=%s --json", path, SECRET);
    CHECK(run_phx(args, &out) == 0);
    json_t *d = NULL;
    CHECK(out.len && phx_json_parse((const char *)out.ptr, out.len, &d, &e) == PHX_OK);
    const char *idv = json_string_value(json_object_get(d, "id"));
    CHECK(idv != NULL);
    snprintf(id, sizeof id, "%s", idv ? idv : "0x");
    CHECK_MSG(strcmp(seen_secret, SECRET) == 0, "worker opened '%s'", seen_secret);
    printf("deploy: the worker opened the sealed secret to the value given\n");
    json_decref(d);
    phx_buf_free(&out);
}

/* phx call --encrypt: the worker opens the input, the CLI the reply, and
 * neither is on the wire in clear. */
static void test_call_encrypted(void)
{
    phx_error_t e = {0};
    char args[1024];
    snprintf(args, sizeof args, "call %s --input '{\"card\":\"%s\"}' --encrypt --json", id, CARD);
    phx_buf_t out = PHX_BUF_INIT;
    CHECK(run_phx(args, &out) == 0);
    json_t *r = NULL;
    CHECK(out.len && phx_json_parse((const char *)out.ptr, out.len, &r, &e) == PHX_OK);
    CHECK_MSG(strcmp(seen_input, CARD) == 0, "worker opened '%s'", seen_input);
    const char *last4 =
        json_string_value(json_object_get(json_object_get(r, "output_plain"), "last4"));
    CHECK_MSG(last4 && strcmp(last4, "9999") == 0, "output_plain: %s",
              out.ptr ? (char *)out.ptr : "");
    printf("call: the worker opened the sealed input; the CLI opened the sealed reply\n");
    CHECK(plaintext_on_wire == 0);
    json_decref(r);
    phx_buf_free(&out);
}

static void test_foreign_reply(void)
{
    char args[1024];
    snprintf(args, sizeof args, "call %s --input '{\"card\":\"%s\"}' --encrypt --json", id, CARD);
    phx_buf_t out = PHX_BUF_INIT;
    /* A reply sealed under another key does not open: exit 1. */
    corrupt_reply = 1;
    CHECK(run_phx(args, &out) == 1);
    corrupt_reply = 0;
    phx_buf_free(&out);
}

static void test_untrusted_kms(void)
{
    /* A KMS the user does not trust: the CLI refuses its key before sending anything. */
    char args[1024];
    phx_buf_t out = PHX_BUF_INIT;
    snprintf(args, sizeof args,
             "call %s --input 1 --encrypt --kms-address 0x00000000000000000000000000000000000000aa",
             id);
    CHECK(run_phx(args, &out) == 1);
    phx_buf_free(&out);
}

int main(void)
{
    if (phx_crypto_init() || !getenv("PHX_BIN")) return 1;
    made_dir = mkdtemp(dir) != NULL;
    if (!made_dir) return 1;
    static const test_case_t cases[] = {
        TEST_CASE_REQUIRED(test_services),      TEST_CASE_REQUIRED(test_user_side),
        TEST_CASE_REQUIRED(test_deploy_secret), TEST_CASE(test_call_encrypted),
        TEST_CASE(test_foreign_reply),          TEST_CASE(test_untrusted_kms)};
    int rc = test_run("test_confidential_cli", cases, TEST_COUNT(cases));
    if (g) phx_gateway_stop(g, 0);
    if (ws) phx_http_server_stop(ws, 0);
    if (ks) phx_http_server_stop(ks, 0);
    phx_http_router_free(wr);
    phx_http_router_free(kr);
    phx_kms_free(kms);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return rc || test_failures ? 1 : 0;
}
