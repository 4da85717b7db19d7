/* What the user's verbs against a running network share (cmd_net.h). The
 * verbs themselves are cmd_net_<verb>.c. They talk to the gateway, found
 * through --gateway, else $PHX_GATEWAY, else "gateway" in
 * $PHX_HOME/endpoints.json (default ~/.phx/devnet), which `phx devnet` writes.
 * Secrets and confidential inputs are HPKE-sealed here, to the contract key
 * the KMS signed, so the gateway never sees them in clear. docs/gateway.md
 * ("What the CLI sends") has the bodies. */
#include "cmd_net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "phx/chain.h"
#include "phx/chain_owner.h"
#include "phx/chain_requests.h"
#include "phx/chain_triggers.h"
#include "phx/crypto.h"
#include "phx/js.h"
#include "phx/kms.h"
#include "phx/net.h"
#include "phx/worker.h"

int net_find(const char *prefix, const char *given, net_t *n)
{
    char path[1100];
    if (cli_endpoints_path(path, sizeof path)) snprintf(path, sizeof path, "./endpoints.json");
    phx_json_load_file(path, &n->endpoints, NULL); /* optional */
    const char *env = getenv("PHX_GATEWAY");
    const char *url = given          ? given
                      : env && *env  ? env
                      : n->endpoints ? json_string_value(json_object_get(n->endpoints, "gateway"))
                                     : NULL;
    if (!url)
        return cli_error(PHX_EXIT_USAGE, prefix,
                         "no network: give --gateway URL, set PHX_GATEWAY, or start `phx devnet` "
                         "(looked for %s)",
                         path);
    size_t len = strlen(url);
    while (len && url[len - 1] == '/')
        len--;
    if (len >= sizeof n->gateway) return cli_error(PHX_EXIT_USAGE, prefix, "gateway URL too long");
    memcpy(n->gateway, url, len);
    n->gateway[len] = '\0';
    return 0;
}

void net_free(net_t *n)
{
    json_decref(n->endpoints);
}

int net_json(const char *prefix, const net_t *n, const char *method, const char *path,
             const json_t *body, json_t **out)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", n->gateway, path);
    phx_error_t e = {0};
    phx_http_client_opts_t co = {.timeout_ms = 60000};
    int status = 0;
    if (phx_http_json(method, url, body, &co, &status, out, &e)) {
        if (status) return cli_error(PHX_EXIT_FAIL, prefix, "%s (HTTP %d)", e.message, status);
        return cli_error(PHX_EXIT_FAIL, prefix, "gateway %s: %s", n->gateway, e.message);
    }
    return 0;
}

int net_parse_id(const char *prefix, const char *s, uint8_t id[32])
{
    phx_error_t e = {0};
    if (phx_hex_decode_fixed(s, id, 32, &e))
        return cli_error(PHX_EXIT_USAGE, prefix, "contract id must be 32 bytes of 0x hex: %s",
                         e.message);
    return 0;
}

void net_contract_path(char *out, size_t cap, const uint8_t id[32], const char *suffix)
{
    char hex[65];
    phx_hex_encode_to(hex, id, 32);
    snprintf(out, cap, "/v1/contracts/0x%s%s", hex, suffix);
}

/* The contract's X25519 key, as signed by the KMS the network trusts. The
 * KMS address comes from --kms-address or the endpoints file, never from the
 * gateway's answer. */
static int contract_pubkey(const char *prefix, const net_t *n, const char *kms_given,
                           const uint8_t id[32], uint8_t xpub[32])
{
    const char *kms = kms_given;
    if (!kms && n->endpoints)
        kms = json_string_value(json_object_get(json_object_get(n->endpoints, "kms"), "address"));
    if (!kms)
        return cli_error(PHX_EXIT_USAGE, prefix,
                         "encrypting needs the KMS address: --kms-address 0x.. (or a devnet)");
    uint8_t kms_addr[20];
    phx_error_t e = {0};
    if (phx_hex_decode_fixed(kms, kms_addr, 20, &e))
        return cli_error(PHX_EXIT_USAGE, prefix, "KMS address: %s", e.message);
    char path[128];
    net_contract_path(path, sizeof path, id, "/pubkey");
    json_t *doc = NULL;
    int rc = net_json(prefix, n, "GET", path, NULL, &doc);
    if (rc) return rc;
    if (phx_kms_contract_pubkey_verify(doc, kms_addr, id, xpub, &e))
        rc = cli_error(PHX_EXIT_FAIL, prefix, "the contract key is not the KMS's: %s", e.message);
    json_decref(doc);
    return rc;
}

int net_seal_to_contract(const char *prefix, const net_t *n, const char *kms_given,
                         const uint8_t id[32], const char *label, const char *text, json_t **sealed,
                         uint8_t reply_key[32])
{
    uint8_t xpub[32];
    int rc = contract_pubkey(prefix, n, kms_given, id, xpub);
    if (rc) return rc;
    phx_error_t e = {0};
    if (phx_confidential_seal(label, xpub, id, text, strlen(text), sealed, reply_key, &e))
        return cli_error(PHX_EXIT_FAIL, prefix, "could not seal: %s", e.message);
    return 0;
}

int net_seal_request(const char *prefix, const net_t *n, const char *kms_given,
                     const uint8_t id[32], const uint8_t *input, size_t len, phx_buf_t *out)
{
    uint8_t xpub[32];
    int rc = contract_pubkey(prefix, n, kms_given, id, xpub);
    if (rc) return rc;
    phx_error_t e = {0};
    if (phx_confidential_seal_request(xpub, id, input, len, out, &e))
        return cli_error(PHX_EXIT_FAIL, prefix, "could not seal the input: %s", e.message);
    return 0;
}

int net_seal_secrets(const char *prefix, const net_t *n, const char *kms_given,
                     const uint8_t id[32], const uint8_t code_hash[32], const char *text,
                     json_t **sealed)
{
    uint8_t xpub[32];
    int rc = contract_pubkey(prefix, n, kms_given, id, xpub);
    if (rc) return rc;
    phx_error_t e = {0};
    if (phx_confidential_seal_secrets(xpub, id, code_hash, text, strlen(text), sealed, &e))
        return cli_error(PHX_EXIT_FAIL, prefix, "could not seal the secrets: %s", e.message);
    return 0;
}

int net_owner_key(const char *prefix, const net_t *n, const char *key_file, uint8_t sk[32],
                  uint8_t owner[20])
{
    if (!key_file && n->endpoints)
        key_file =
            json_string_value(json_object_get(json_object_get(n->endpoints, "user"), "key_file"));
    if (!key_file)
        return cli_error(PHX_EXIT_USAGE, prefix,
                         "this needs the contract owner's key: --key-file FILE (a devnet "
                         "provides one)");
    phx_buf_t key = PHX_BUF_INIT;
    key.secret = true;
    phx_error_t e = {0};
    int rc = 0;
    if (phx_file_read(key_file, &key, &e)) {
        rc = cli_error_e(PHX_EXIT_USAGE, prefix, &e);
    } else {
        char *nl = strchr((char *)key.ptr, '\n');
        if (nl) *nl = '\0';
        if (phx_hex_decode_fixed((const char *)key.ptr, sk, 32, &e) ||
            phx_eth_address_from_seckey(sk, owner))
            rc = cli_error(PHX_EXIT_USAGE, prefix, "%s: not a secp256k1 key", key_file);
    }
    phx_buf_free(&key);
    return rc;
}

int net_owner_post(const char *prefix, const net_t *n, const uint8_t sk[32], const uint8_t d[32],
                   uint64_t nonce, const uint8_t id[32], const char *suffix, json_t *body,
                   const char *what, json_t **resp)
{
    uint8_t sig[65], owner[20];
    phx_error_t e = {0};
    char path[160];
    int rc = 0;
    if (phx_eth_address_from_seckey(sk, owner) || phx_owner_sign(d, sk, sig, &e))
        rc = cli_error(PHX_EXIT_FAIL, prefix, "signing %s: %s", what,
                       e.message[0] ? e.message : "not a secp256k1 key");
    else if (!body || json_object_set_new(body, "owner", phx_json_hex(owner, 20)) ||
             json_object_set_new(body, "nonce", json_integer((json_int_t)nonce)) ||
             json_object_set_new(body, "signature", phx_json_hex(sig, 65)))
        rc = cli_error(PHX_EXIT_FAIL, prefix, "out of memory");
    if (!rc) {
        net_contract_path(path, sizeof path, id, suffix);
        rc = net_json(prefix, n, "POST", path, body, resp);
    }
    json_decref(body);
    return rc;
}

int net_owner_query(const char *prefix, const uint8_t sk[32], const char *action,
                    const uint8_t subject[32], char *out, size_t cap)
{
    uint8_t d[32], sig[65], owner[20];
    uint64_t expires = (uint64_t)time(NULL) + 300;
    phx_error_t e = {0};
    if (phx_eth_address_from_seckey(sk, owner) ||
        phx_owner_request_digest(action, subject, expires, d, &e) || phx_owner_sign(d, sk, sig, &e))
        return cli_error(PHX_EXIT_FAIL, prefix, "signing as the owner: %s", e.message);
    char oh[41], sh[131];
    phx_hex_encode_to(oh, owner, 20);
    phx_hex_encode_to(sh, sig, 65);
    snprintf(out, cap, "owner=0x%s&expires=%llu&signature=0x%s", oh, (unsigned long long)expires,
             sh);
    return 0;
}

int net_simple_verb(int argc, char **argv, const char *prefix, const char *help, int want_pos,
                    bool *as_json, const char **key_file, net_t *n, cli_args_t *args)
{
    if (cli_wants_help(argc, argv)) return cli_help(help), -1;
    enum { GATEWAY, JSON, KEYFILE, NOPTS };
    cli_opt_t opts[NOPTS] = {
        [GATEWAY] = {.name = "gateway", .takes_value = true},
        [JSON] = {.name = "json"},
        [KEYFILE] = {.name = "key-file", .takes_value = true},
    };
    int rc = cli_parse(prefix, argc, argv, opts, key_file ? NOPTS : NOPTS - 1, args);
    if (rc) return rc;
    *as_json = opts[JSON].seen;
    if (key_file) *key_file = opts[KEYFILE].value;
    if (want_pos >= 0 ? args->npos != want_pos : args->npos > -want_pos)
        rc = cli_error(PHX_EXIT_USAGE, prefix, "wrong number of arguments (see --help)");
    else
        rc = net_find(prefix, opts[GATEWAY].value, n);
    cli_opts_free(opts, NOPTS);
    return rc;
}

static void print_time(uint64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    printf("%s", buf);
}

void net_print_requests(const json_t *requests, const char *who)
{
    bool contract = !strcmp(who, "contract_id");
    printf("\non-chain requests (Jobs):\n");
    if (!json_array_size(requests)) printf("(none yet)\n");
    for (size_t i = 0; i < json_array_size(requests); i++) {
        const json_t *r = json_array_get(requests, i);
        printf(contract ? "#%-6lld %-9s contract %.18s…  fee %s wei  block %lld"
                        : "#%-6lld %-9s requester %s  fee %s wei  block %lld",
               (long long)json_integer_value(json_object_get(r, "id")),
               json_string_value(json_object_get(r, "status")),
               json_string_value(json_object_get(r, who)),
               json_string_value(json_object_get(r, "fee")),
               (long long)json_integer_value(json_object_get(r, "block")));
        if (json_object_get(r, "done_block"))
            printf(" -> %lld (%lld blocks, %lld s)",
                   (long long)json_integer_value(json_object_get(r, "done_block")),
                   (long long)json_integer_value(json_object_get(r, "latency_blocks")),
                   (long long)json_integer_value(json_object_get(r, "latency_s")));
        printf("\n");
    }
}

void net_print_jobs(const json_t *jobs, bool with_logs)
{
    if (!json_array_size(jobs)) printf("(no jobs yet)\n");
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        const json_t *j = json_array_get(jobs, i);
        print_time((uint64_t)json_integer_value(json_object_get(j, "time_ms")));
        printf("  %3lld  %5lld ms  %.18s…  %s\n",
               (long long)json_integer_value(json_object_get(j, "status")),
               (long long)json_integer_value(json_object_get(j, "latency_ms")),
               json_string_value(json_object_get(j, "contract_id")),
               json_string_value(json_object_get(j, "worker")));
        const json_t *logs = json_object_get(j, "logs");
        for (size_t k = 0; with_logs && k < json_array_size(logs); k++) {
            const json_t *l = json_array_get(logs, k);
            char *s = json_is_string(l) ? NULL : json_dumps(l, JSON_COMPACT | JSON_ENCODE_ANY);
            printf("          | %s\n", s ? s : json_string_value(l));
            free(s);
        }
    }
}

int net_compile_check(const char *prefix, const char *file, const uint8_t *src, size_t len)
{
    /* In a child process: the engine is process-wide and never torn down (the
     * sandbox zygote has the same life), and the check must leave nothing
     * behind in the CLI. The child only compiles; nothing of the code runs. */
    int fds[2];
    if (pipe(fds)) return cli_error(PHX_EXIT_FAIL, prefix, "compile check: pipe failed");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return cli_error(PHX_EXIT_FAIL, prefix, "compile check: fork failed");
    }
    if (pid == 0) {
        close(fds[0]);
        phx_js_config_t cfg = {.heap_max_bytes = 64u << 20, .output_max_bytes = 1u << 20};
        phx_js_engine_t *eng = NULL;
        phx_error_t e = {0};
        phx_err_t err = phx_js_engine_new(&cfg, &eng, &e);
        if (!err) err = phx_js_engine_precompile(eng, (const char *)src, len, file, &e);
        if (err) (void)!write(fds[1], e.message, strlen(e.message));
        _exit(err == PHX_ERR_INVALID ? 1 : err ? 3 : 0);
    }
    close(fds[1]);
    char msg[sizeof(((phx_error_t *)0)->message)] = {0};
    size_t got = 0;
    ssize_t n;
    while (got < sizeof msg - 1 && (n = read(fds[0], msg + got, sizeof msg - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (code == 0) return 0;
    if (code == 1) return cli_error(PHX_EXIT_USAGE, prefix, "%s does not compile: %s", file, msg);
    return cli_error(PHX_EXIT_FAIL, prefix, "could not check that %s compiles: %s", file,
                     got ? msg : "the checker died");
}

json_t *net_chain_firings(const net_t *n, const uint8_t id[32], size_t limit)
{
    json_t *ep = n->endpoints, *out = NULL;
    const char *rpc_url = ep ? json_string_value(json_object_get(ep, "rpc")) : NULL;
    json_t *depj = ep ? json_object_get(ep, "deployment") : NULL;
    phx_chain_deployment_t dep;
    phx_rpc_t *rpc = NULL;
    if (rpc_url && depj && !phx_chain_deployment_from_json(depj, &dep, NULL) &&
        !phx_rpc_open(rpc_url, NULL, &rpc, NULL))
        phx_chain_firings_json(rpc, &dep, id, limit, &out, NULL);
    phx_rpc_close(rpc);
    return out;
}

json_t *net_chain_firing_payment(const net_t *n, const uint8_t id[32])
{
    json_t *ep = n->endpoints, *out = NULL;
    const char *rpc_url = ep ? json_string_value(json_object_get(ep, "rpc")) : NULL;
    json_t *depj = ep ? json_object_get(ep, "deployment") : NULL;
    phx_chain_deployment_t dep;
    phx_firing_payment_t p;
    phx_rpc_t *rpc = NULL;
    if (rpc_url && depj && !phx_chain_deployment_from_json(depj, &dep, NULL) &&
        !phx_rpc_open(rpc_url, NULL, &rpc, NULL) &&
        !phx_chain_firing_payment(rpc, &dep, id, &p, NULL))
        out = phx_chain_firing_payment_json(&p);
    phx_rpc_close(rpc);
    return out;
}

void net_print_firing(const json_t *x)
{
    char *o = phx_json_dump(json_object_get(x, "output"), false);
    printf("  block %-8lld firing %s %s\n    worker %s signature %s\n    %s\n",
           (long long)json_integer_value(json_object_get(x, "block")),
           json_string_value(json_object_get(x, "firing_id")),
           json_is_true(json_object_get(x, "ok")) ? "ok" : "FAILED",
           json_string_value(json_object_get(x, "worker")),
           json_string_value(json_object_get(x, "signature")), o ? o : "?");
    free(o);
}

void net_print_firing_payment(const json_t *p)
{
    const char *status = json_string_value(json_object_get(p, "status"));
    if (!status) return;
    if (!strcmp(status, "free"))
        printf("firings: free (no price set in Payments)\n");
    else if (!strcmp(status, "paid"))
        printf("firings: paid from the owner %s's deposit, %s wei left, %s wei each\n",
               json_string_value(json_object_get(p, "owner")),
               json_string_value(json_object_get(p, "deposit")),
               json_string_value(json_object_get(p, "price")));
    else
        printf("firings: UNPAID, not run: %s\n",
               json_string_value(json_object_get(p, "reason")) + strlen("unpaid: "));
}

json_t *net_chain_requests(const net_t *n, const uint8_t contract[32], size_t limit)
{
    json_t *ep = n->endpoints;
    const char *rpc_url = ep ? json_string_value(json_object_get(ep, "rpc")) : NULL;
    json_t *depj = ep ? json_object_get(ep, "deployment") : NULL;
    phx_chain_deployment_t dep;
    phx_chain_requests_t *r = NULL;
    json_t *out = NULL;
    /* The chain's own record: the Jobs events from the deployment block, read
     * by the same reader the console uses. */
    if (!rpc_url || !depj || phx_chain_deployment_from_json(depj, &dep, NULL) ||
        phx_chain_requests_open(rpc_url, &dep, &r, NULL) || phx_chain_requests_sync(r, NULL))
        goto out;
    out = phx_chain_requests_json(r, contract, limit);
out:
    phx_chain_requests_close(r);
    return out;
}
