/* The user's verbs against a running network: phx deploy, call, logs, workers,
 * jobs. They talk to the gateway, found through --gateway, else $PHX_GATEWAY,
 * else "gateway" in $PHX_HOME/endpoints.json (default ~/.phx/devnet), which
 * `phx devnet` writes. Secrets and confidential inputs are HPKE-sealed here, to
 * the contract key the KMS signed, so the gateway never sees them in clear.
 * docs/gateway.md ("What the CLI sends") has the bodies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "phx/chain.h"
#include "phx/crypto.h"
#include "phx/kms.h"
#include "phx/net.h"
#include "phx/worker.h"

/* ---- finding the network ------------------------------------------------------ */

typedef struct {
    char gateway[512];
    json_t *endpoints; /* the devnet's endpoints.json when there is one; may be NULL */
} net_t;

static int net_find(const char *prefix, const char *given, net_t *n)
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

static void net_free(net_t *n)
{
    json_decref(n->endpoints);
}

/* GET or POST gateway + path. Errors are printed; returns the exit code. */
static int net_json(const char *prefix, const net_t *n, const char *method, const char *path,
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
    char path[128], hex[65];
    phx_hex_encode_to(hex, id, 32);
    snprintf(path, sizeof path, "/v1/contracts/0x%s/pubkey", hex);
    json_t *doc = NULL;
    int rc = net_json(prefix, n, "GET", path, NULL, &doc);
    if (rc) return rc;
    if (phx_kms_contract_pubkey_verify(doc, kms_addr, id, xpub, &e))
        rc = cli_error(PHX_EXIT_FAIL, prefix, "the contract key is not the KMS's: %s", e.message);
    json_decref(doc);
    return rc;
}

static int parse_id(const char *prefix, const char *s, uint8_t id[32])
{
    phx_error_t e = {0};
    if (phx_hex_decode_fixed(s, id, 32, &e))
        return cli_error(PHX_EXIT_USAGE, prefix, "contract id must be 32 bytes of 0x hex: %s",
                         e.message);
    return 0;
}

/* ---- phx deploy ---------------------------------------------------------------- */

static const char deploy_help[] =
    "usage: phx deploy CONTRACT.js [--secret K=V]... [options]\n\n"
    "Deploy a TEE contract. Its id is keccak256(abi.encode(owner, salt)) (Jobs.contractId),\n"
    "so it is known before anything is sent: secrets are sealed (HPKE) to that\n"
    "contract's key, which the KMS signs, and only a worker inside a TEE opens them.\n"
    "With a chain (a devnet, or --rpc/--deployment/--key-file) the contract is also\n"
    "recorded on chain (Jobs.deployContract with its code hash).\n\n"
    "Options:\n"
    "  --secret K=V        a secret the contract sees as ctx.secrets.K (repeatable)\n"
    "  --salt HEX          32-byte salt (default: random)\n"
    "  --key-file FILE     the owner's key (default: the devnet's user.key)\n"
    "  --no-chain          do not record the contract on chain\n"
    "  --gateway URL       the network (else $PHX_GATEWAY, else the devnet)\n"
    "  --kms-address 0x..  the KMS to trust for the contract key (else the devnet's)\n"
    "  --json              print {\"id\",\"code_hash\"}\n\n"
    "Exit status: 0 deployed, 1 refused or unreachable, 2 bad usage or input.\n";

/* Record the contract on chain from the owner's key. */
static int deploy_on_chain(const char *prefix, const net_t *n, const char *key_file,
                           const uint8_t salt[32], const uint8_t code_hash[32], uint8_t owner[20],
                           bool *done)
{
    *done = false;
    json_t *ep = n->endpoints;
    const char *rpc_url = ep ? json_string_value(json_object_get(ep, "rpc")) : NULL;
    json_t *depj = ep ? json_object_get(ep, "deployment") : NULL;
    if (!key_file && ep)
        key_file = json_string_value(json_object_get(json_object_get(ep, "user"), "key_file"));
    if (!rpc_url || !depj || !key_file) return 0; /* no chain known: off-chain only */
    phx_chain_deployment_t dep;
    phx_rpc_t *rpc = NULL;
    phx_signer_t *signer = NULL;
    phx_buf_t key = PHX_BUF_INIT;
    key.secret = true;
    uint8_t sk[32];
    phx_error_t e = {0};
    int rc = PHX_EXIT_FAIL;
    if (phx_file_read(key_file, &key, &e)) {
        rc = cli_error_e(PHX_EXIT_USAGE, prefix, &e);
        goto out;
    }
    char *nl = strchr((char *)key.ptr, '\n');
    if (nl) *nl = '\0';
    if (phx_hex_decode_fixed((const char *)key.ptr, sk, 32, &e) ||
        phx_eth_address_from_seckey(sk, owner)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "%s: not a secp256k1 key", key_file);
        goto out;
    }
    if (phx_chain_deployment_from_json(depj, &dep, &e) || phx_rpc_open(rpc_url, NULL, &rpc, &e) ||
        phx_signer_open(rpc, sk, NULL, &signer, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    char uri[80] = "phx://blob/0x";
    phx_hex_encode_to(uri + 13, code_hash, 32);
    json_t *args = json_pack("[o,o,s]", phx_json_hex(salt, 32), phx_json_hex(code_hash, 32), uri);
    phx_err_t err = phx_chain_transact(signer, dep.jobs, "deployContract(bytes32,bytes32,string)",
                                       args, NULL, &e);
    json_decref(args);
    if (err) {
        cli_error(rc, prefix, "Jobs.deployContract: %s", e.message);
        goto out;
    }
    *done = true;
    rc = 0;
out:
    phx_secure_zero(sk, sizeof sk);
    phx_signer_close(signer);
    phx_rpc_close(rpc);
    phx_buf_free(&key);
    return rc;
}

static int cmd_deploy(int argc, char **argv)
{
    const char *prefix = "phx deploy";
    if (cli_wants_help(argc, argv)) return cli_help(deploy_help);
    enum { SECRET, SALT, KEYFILE, NOCHAIN, GATEWAY, KMS, JSON, NOPTS };
    cli_opt_t opts[NOPTS] = {
        [SECRET] = {.name = "secret", .takes_value = true, .repeatable = true},
        [SALT] = {.name = "salt", .takes_value = true},
        [KEYFILE] = {.name = "key-file", .takes_value = true},
        [NOCHAIN] = {.name = "no-chain"},
        [GATEWAY] = {.name = "gateway", .takes_value = true},
        [KMS] = {.name = "kms-address", .takes_value = true},
        [JSON] = {.name = "json"},
    };
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, NOPTS, &args);
    if (rc) return rc;
    net_t n = {0};
    phx_buf_t code = PHX_BUF_INIT;
    json_t *body = NULL, *secrets = NULL, *resp = NULL;
    char *secrets_text = NULL;
    phx_error_t e = {0};
    uint8_t salt[32], owner[20] = {0}, id[32], code_hash[32];
    if (args.npos != 1) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "wants one CONTRACT.js (see --help)");
        goto out;
    }
    if ((rc = net_find(prefix, opts[GATEWAY].value, &n))) goto out;
    if (phx_file_read(args.pos[0], &code, &e)) {
        rc = cli_error_e(PHX_EXIT_USAGE, prefix, &e);
        goto out;
    }
    if (!code.len || memchr(code.ptr, 0, code.len)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "%s: empty or not text", args.pos[0]);
        goto out;
    }
    if (opts[SALT].value ? phx_hex_decode_fixed(opts[SALT].value, salt, 32, &e)
                         : phx_random_bytes(salt, 32)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "--salt: %s", e.message);
        goto out;
    }
    phx_keccak256(code.ptr, code.len, code_hash);

    bool on_chain = false;
    if (!opts[NOCHAIN].seen &&
        (rc = deploy_on_chain(prefix, &n, opts[KEYFILE].value, salt, code_hash, owner, &on_chain)))
        goto out;
    phx_chain_contract_id(owner, salt, id);

    body = json_pack("{s:o,s:o,s:o,s:s%,s:o}", "id", phx_json_hex(id, 32), "owner",
                     phx_json_hex(owner, 20), "salt", phx_json_hex(salt, 32), "code",
                     (const char *)code.ptr, code.len, "code_hash", phx_json_hex(code_hash, 32));
    if (!body) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "%s is not UTF-8 text", args.pos[0]);
        goto out;
    }
    if (opts[SECRET].nvalues) {
        secrets = json_object();
        for (int i = 0; i < opts[SECRET].nvalues; i++) {
            const char *kv = opts[SECRET].values[i], *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                rc = cli_error(PHX_EXIT_USAGE, prefix, "--secret wants K=V, got '%s'", kv);
                goto out;
            }
            char k[128];
            snprintf(k, sizeof k, "%.*s", (int)(eq - kv), kv);
            json_object_set_new(secrets, k, json_string(eq + 1));
        }
        uint8_t xpub[32];
        if ((rc = contract_pubkey(prefix, &n, opts[KMS].value, id, xpub))) goto out;
        secrets_text = phx_json_dump(secrets, false);
        json_t *sealed = NULL;
        if (!secrets_text || phx_confidential_seal(PHX_SEAL_SECRET, xpub, id, secrets_text,
                                                   strlen(secrets_text), &sealed, NULL, &e)) {
            rc = cli_error(PHX_EXIT_FAIL, prefix, "could not seal the secrets: %s", e.message);
            goto out;
        }
        json_object_set_new(body, "sealed_secrets", sealed);
    }
    if ((rc = net_json(prefix, &n, "POST", "/v1/contracts", body, &resp))) goto out;
    const char *got_id = json_string_value(json_object_get(resp, "id"));
    char *want_id = phx_hex_encode(id, 32), *want_hash = phx_hex_encode(code_hash, 32);
    const char *got_hash = json_string_value(json_object_get(resp, "code_hash"));
    /* The network must have taken exactly this code under exactly this id. */
    if (!got_id || strcasecmp(got_id, want_id) || !got_hash || strcasecmp(got_hash, want_hash)) {
        rc = cli_error(PHX_EXIT_FAIL, prefix, "the network answered id %s code_hash %s, want %s %s",
                       got_id ? got_id : "(none)", got_hash ? got_hash : "(none)", want_id,
                       want_hash);
    } else if (opts[JSON].seen) {
        json_t *o =
            json_pack("{s:s,s:s,s:b}", "id", want_id, "code_hash", want_hash, "on_chain", on_chain);
        cli_print_json(o);
        json_decref(o);
    } else {
        printf("deployed %s\n  id         %s\n  code hash  %s\n  on chain   %s\n", args.pos[0],
               want_id, want_hash, on_chain ? "yes (Jobs.deployContract)" : "no");
        if (opts[SECRET].nvalues)
            printf("  secrets    %d, sealed to the contract key\n", opts[SECRET].nvalues);
    }
    free(want_id);
    free(want_hash);
out:
    if (secrets_text) phx_secure_zero(secrets_text, strlen(secrets_text));
    free(secrets_text);
    json_decref(secrets);
    json_decref(body);
    json_decref(resp);
    phx_buf_free(&code);
    net_free(&n);
    cli_opts_free(opts, NOPTS);
    return rc;
}
PHX_CLI_COMMAND(deploy, "deploy", 400, "deploy a TEE contract to the network", cmd_deploy)

/* ---- phx call ------------------------------------------------------------------ */

static const char call_help[] =
    "usage: phx call ID --input JSON [--encrypt] [options]\n\n"
    "Call a deployed contract through the gateway and print the signed result\n"
    "envelope (`phx verify` checks it). With --encrypt the input is sealed (HPKE) to\n"
    "the contract's KMS-signed key and the output comes back sealed to a key made\n"
    "for this call; the gateway sees neither.\n\n"
    "Options:\n"
    "  --input JSON        the input (default null); @FILE reads it from a file\n"
    "  --encrypt           confidential input and output\n"
    "  --gateway URL       the network (else $PHX_GATEWAY, else the devnet)\n"
    "  --kms-address 0x..  the KMS to trust for the contract key (else the devnet's)\n"
    "  --json              print the result envelope as JSON\n\n"
    "Exit status: 0 a result came back, 1 the call failed, 2 bad usage or input.\n";

static int cmd_call(int argc, char **argv)
{
    const char *prefix = "phx call";
    if (cli_wants_help(argc, argv)) return cli_help(call_help);
    enum { INPUT, ENCRYPT, GATEWAY, KMS, JSON, NOPTS };
    cli_opt_t opts[NOPTS] = {
        [INPUT] = {.name = "input", .takes_value = true},
        [ENCRYPT] = {.name = "encrypt"},
        [GATEWAY] = {.name = "gateway", .takes_value = true},
        [KMS] = {.name = "kms-address", .takes_value = true},
        [JSON] = {.name = "json"},
    };
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, NOPTS, &args);
    if (rc) return rc;
    net_t n = {0};
    json_t *input = NULL, *body = NULL, *resp = NULL, *plain_out = NULL;
    phx_buf_t text = PHX_BUF_INIT, pt = PHX_BUF_INIT;
    pt.secret = text.secret = true;
    char *input_text = NULL;
    uint8_t id[32], reply_key[32] = {0};
    phx_error_t e = {0};
    if (args.npos != 1) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "wants one contract ID (see --help)");
        goto out;
    }
    if ((rc = parse_id(prefix, args.pos[0], id))) goto out;
    const char *in = opts[INPUT].value ? opts[INPUT].value : "null";
    if (in[0] == '@') {
        if (phx_file_read(in + 1, &text, &e)) {
            rc = cli_error_e(PHX_EXIT_USAGE, prefix, &e);
            goto out;
        }
    } else {
        phx_buf_append_str(&text, in);
    }
    if (phx_json_parse((const char *)text.ptr, text.len, &input, &e)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "--input is not JSON: %s", e.message);
        goto out;
    }
    if ((rc = net_find(prefix, opts[GATEWAY].value, &n))) goto out;
    if (opts[ENCRYPT].seen) {
        uint8_t xpub[32];
        if ((rc = contract_pubkey(prefix, &n, opts[KMS].value, id, xpub))) goto out;
        input_text = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
        json_t *sealed = NULL;
        if (!input_text || phx_confidential_seal(PHX_SEAL_INPUT, xpub, id, input_text,
                                                 strlen(input_text), &sealed, reply_key, &e)) {
            rc = cli_error(PHX_EXIT_FAIL, prefix, "could not seal the input: %s", e.message);
            goto out;
        }
        body = json_pack("{s:o}", "sealed_input", sealed);
    } else {
        body = json_pack("{s:O}", "input", input);
    }
    char path[128], hex[65];
    phx_hex_encode_to(hex, id, 32);
    snprintf(path, sizeof path, "/v1/contracts/0x%s/call", hex);
    if ((rc = net_json(prefix, &n, "POST", path, body, &resp))) goto out;
    /* For an encrypted call the signed output_bytes are the sealed reply
     * (docs/worker.md); only this call's reply key opens them. */
    if (opts[ENCRYPT].seen && json_object_get(resp, "output_bytes")) {
        phx_buf_t ct = PHX_BUF_INIT;
        if (phx_json_get_hex(resp, "output_bytes", &ct, &e) ||
            phx_confidential_open_reply(reply_key, id, ct.ptr, ct.len, &pt, &e) ||
            phx_json_parse((const char *)pt.ptr, pt.len, &plain_out, &e))
            rc = cli_error(PHX_EXIT_FAIL, prefix, "cannot open the sealed reply: %s", e.message);
        phx_buf_free(&ct);
        if (rc) goto out;
    }
    if (opts[JSON].seen) {
        /* The envelope as the worker signed it; an opened output goes beside it. */
        if (plain_out) json_object_set(resp, "output_plain", plain_out);
        cli_print_json(resp);
    } else {
        json_t *out = plain_out ? plain_out : json_object_get(resp, "output");
        char *s = out ? json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        printf("output     %s%s\n", s ? s : "(none)", plain_out ? "  (decrypted here)" : "");
        free(s);
        const char *w = json_string_value(json_object_get(resp, "worker"));
        if (w) printf("worker     %s\n", w);
        const char *sig = json_string_value(json_object_get(resp, "signature"));
        if (sig) printf("signature  %.20s...\n", sig);
    }
out:
    phx_secure_zero(reply_key, sizeof reply_key);
    if (input_text) phx_secure_zero(input_text, strlen(input_text));
    free(input_text);
    phx_buf_free(&text);
    phx_buf_free(&pt);
    json_decref(plain_out);
    json_decref(input);
    json_decref(body);
    json_decref(resp);
    net_free(&n);
    cli_opts_free(opts, NOPTS);
    return rc;
}
PHX_CLI_COMMAND(call, "call", 410, "call a deployed contract (optionally with encrypted input)",
                cmd_call)

/* ---- phx logs / workers / jobs -------------------------------------------------------- */

static void print_time(uint64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    printf("%s", buf);
}

static void print_jobs(const json_t *jobs, bool with_logs)
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

static int simple_verb(int argc, char **argv, const char *prefix, const char *help, int want_pos,
                       json_t **resp, bool *as_json, net_t *n, cli_args_t *args)
{
    if (cli_wants_help(argc, argv)) return cli_help(help), -1;
    enum { GATEWAY, JSON, NOPTS };
    cli_opt_t opts[NOPTS] = {
        [GATEWAY] = {.name = "gateway", .takes_value = true},
        [JSON] = {.name = "json"},
    };
    int rc = cli_parse(prefix, argc, argv, opts, NOPTS, args);
    if (rc) return rc;
    *as_json = opts[JSON].seen;
    if (args->npos != want_pos)
        rc = cli_error(PHX_EXIT_USAGE, prefix, "wrong number of arguments (see --help)");
    else
        rc = net_find(prefix, opts[GATEWAY].value, n);
    (void)resp;
    cli_opts_free(opts, NOPTS);
    return rc;
}

static const char logs_help[] =
    "usage: phx logs ID [--gateway URL] [--json]\n\n"
    "The recent calls of a contract as the gateway saw them (time, status, latency,\n"
    "worker) with the console output its workers returned.\n";

static int cmd_logs(int argc, char **argv)
{
    const char *prefix = "phx logs";
    net_t n = {0};
    json_t *resp = NULL;
    bool as_json = false;
    cli_args_t args;
    uint8_t id[32];
    int rc = simple_verb(argc, argv, prefix, logs_help, 1, &resp, &as_json, &n, &args);
    if (rc) goto out;
    if ((rc = parse_id(prefix, args.pos[0], id))) goto out;
    char path[128], hex[65];
    phx_hex_encode_to(hex, id, 32);
    snprintf(path, sizeof path, "/v1/contracts/0x%s/logs", hex);
    if ((rc = net_json(prefix, &n, "GET", path, NULL, &resp))) goto out;
    if (as_json)
        cli_print_json(resp);
    else
        print_jobs(json_object_get(resp, "jobs"), true);
out:
    json_decref(resp);
    net_free(&n);
    return rc < 0 ? 0 : rc;
}
PHX_CLI_COMMAND(logs, "logs", 430, "a contract's recent calls and their logs", cmd_logs)

static const char workers_help[] =
    "usage: phx workers [--gateway URL] [--json]\n\n"
    "The workers the gateway knows: health, whether the Registry lists them,\n"
    "address, measurement, calls and failures.\n";

static int cmd_workers(int argc, char **argv)
{
    const char *prefix = "phx workers";
    net_t n = {0};
    json_t *resp = NULL;
    bool as_json = false;
    cli_args_t args;
    int rc = simple_verb(argc, argv, prefix, workers_help, 0, &resp, &as_json, &n, &args);
    if (rc || (rc = net_json(prefix, &n, "GET", "/v1/network", NULL, &resp))) goto out;
    json_t *ws = json_object_get(resp, "workers");
    if (as_json) {
        json_t *o = json_pack("{s:O,s:O}", "workers", ws, "measurements",
                              json_object_get(resp, "measurements"));
        cli_print_json(o);
        json_decref(o);
        goto out;
    }
    if (!json_array_size(ws)) printf("(no workers)\n");
    for (size_t i = 0; i < json_array_size(ws); i++) {
        const json_t *w = json_array_get(ws, i);
        const char *addr = json_string_value(json_object_get(w, "address"));
        const char *mr = json_string_value(json_object_get(w, "measurement"));
        printf("%-28s %-9s %-14s %s  mr %.18s…  calls %lld, failures %lld\n",
               json_string_value(json_object_get(w, "url")),
               json_is_true(json_object_get(w, "healthy")) ? "healthy" : "DOWN",
               json_is_true(json_object_get(w, "registered")) ? "registered" : "UNREGISTERED",
               addr ? addr : "(address unknown)", mr ? mr : "?",
               (long long)json_integer_value(json_object_get(w, "calls")),
               (long long)json_integer_value(json_object_get(w, "failures")));
    }
out:
    json_decref(resp);
    net_free(&n);
    return rc < 0 ? 0 : rc;
}
PHX_CLI_COMMAND(workers, "workers", 440, "list the network's workers and their health", cmd_workers)

static const char jobs_help[] =
    "usage: phx jobs [--gateway URL] [--json]\n\n"
    "The network's recent work, newest first: calls as the gateway routed them\n"
    "and, when the chain is known (a devnet's endpoints file), the last 20\n"
    "on-chain requests in the Jobs contract with their status.\n"
    "--json: {\"jobs\":[gateway calls],\"requests\":[{\"id\",\"status\",\"requester\",\n"
    "\"contract_id\",\"fee\",\"deadline\"}]}.\n";

static const char *request_status(uint8_t s)
{
    static const char *names[] = {"none", "pending", "fulfilled", "callback_failed", "refunded"};
    return s < 5 ? names[s] : "unknown";
}

/* The last `limit` Jobs requests, newest first; NULL when no chain is known. */
static json_t *chain_requests(const net_t *n, size_t limit)
{
    json_t *ep = n->endpoints;
    const char *rpc_url = ep ? json_string_value(json_object_get(ep, "rpc")) : NULL;
    json_t *depj = ep ? json_object_get(ep, "deployment") : NULL;
    phx_chain_deployment_t dep;
    phx_rpc_t *rpc = NULL;
    json_t *count = NULL, *out = NULL, *no_args = json_array(); /* borrowed by phx_chain_read */
    uint64_t total = 0;
    if (!rpc_url || !depj || phx_chain_deployment_from_json(depj, &dep, NULL) ||
        phx_rpc_open(rpc_url, NULL, &rpc, NULL) ||
        phx_chain_read(rpc, dep.jobs, "requestCount()", no_args, "(uint256)", &count, NULL))
        goto out;
    const char *c = json_string_value(json_array_get(count, 0));
    total = c ? strtoull(c, NULL, 10) : 0;
    out = json_array();
    for (uint64_t id = total; id >= 1 && json_array_size(out) < limit; id--) {
        phx_chain_request_t r;
        if (phx_chain_request_get(rpc, &dep, id, &r, NULL)) break;
        char fee[80];
        phx_u256_to_dec(&r.fee, fee);
        json_array_append_new(out, json_pack("{s:I,s:s,s:o,s:o,s:s,s:I}", "id", (json_int_t)id,
                                             "status", request_status(r.status), "requester",
                                             phx_json_hex(r.requester, 20), "contract_id",
                                             phx_json_hex(r.contract_id, 32), "fee", fee,
                                             "deadline", (json_int_t)r.deadline));
    }
out:
    json_decref(no_args);
    json_decref(count);
    phx_rpc_close(rpc);
    return out;
}

static int cmd_jobs(int argc, char **argv)
{
    const char *prefix = "phx jobs";
    net_t n = {0};
    json_t *resp = NULL, *requests = NULL;
    bool as_json = false;
    cli_args_t args;
    int rc = simple_verb(argc, argv, prefix, jobs_help, 0, &resp, &as_json, &n, &args);
    if (rc || (rc = net_json(prefix, &n, "GET", "/v1/jobs", NULL, &resp))) goto out;
    requests = chain_requests(&n, 20);
    if (as_json) {
        if (requests) json_object_set(resp, "requests", requests);
        cli_print_json(resp);
        goto out;
    }
    printf("calls through the gateway:\n");
    print_jobs(json_object_get(resp, "jobs"), false);
    if (requests) {
        printf("\non-chain requests (Jobs):\n");
        if (!json_array_size(requests)) printf("(none yet)\n");
        for (size_t i = 0; i < json_array_size(requests); i++) {
            const json_t *r = json_array_get(requests, i);
            printf("#%-6lld %-16s contract %.18s…  fee %s wei\n",
                   (long long)json_integer_value(json_object_get(r, "id")),
                   json_string_value(json_object_get(r, "status")),
                   json_string_value(json_object_get(r, "contract_id")),
                   json_string_value(json_object_get(r, "fee")));
        }
    }
out:
    json_decref(requests);
    json_decref(resp);
    net_free(&n);
    return rc < 0 ? 0 : rc;
}
PHX_CLI_COMMAND(jobs, "jobs", 450, "the network's recent calls and on-chain requests", cmd_jobs)
