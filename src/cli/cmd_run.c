/* phx run: run a TEE contract once, locally, in the real sandbox (a fresh
 * process from the zygote, with the default or given limits), and print its
 * result. The same path the worker uses for every invocation (docs/js.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "phx/crypto.h"
#include "phx/infer.h"
#include "phx/js.h"
#include "phx/sandbox.h"

static const char help[] =
    "usage: phx run CONTRACT.js [--input JSON|@FILE] [--secret K=V]... [--allow-host "
    "HOST:PORT]...\n"
    "               [--cpu-ms N] [--mem-mb N] [--timeout-ms N] [--kv DIR] [--json]\n"
    "               [--ai-endpoint MODEL=URL]... [--ai-trust-sim-root DIR | --ai-collateral "
    "FILE]\n"
    "               [--ai-tokens N]\n"
    "               [--flavor phx|chainlink-functions]\n"
    "               [--chain-rpc NAME=URL]... [--spend-limit CHAIN=WEI/SECONDS]...\n"
    "               [--request-id ID]\n\n"
    "Run a contract (an ES module whose default export is async (input, ctx), or a\n"
    "Phat-style script / main(request, secrets)) in a sandbox process and print the result.\n"
    "With --flavor chainlink-functions the file is a Chainlink Functions source\n"
    "(top-level return and await; args and bytesArgs from --input, either an array\n"
    "of args or {\"args\":[…],\"bytesArgs\":[…]}; secrets from --secret; Functions.*);\n"
    "it runs wrapped exactly as `phx deploy --flavor chainlink-functions` deploys it,\n"
    "and the bytes it returns are the output (printed as 0x hex).\n"
    "A .ts file, or one with import statements, runs as its bundle (phx build).\n\n"
    "Options:\n"
    "  --input JSON|@FILE   the caller's input (JSON text, or @file holding it); default null\n"
    "  --secret K=V         a secret visible as ctx.secrets.K (repeatable)\n"
    "  --allow-host HOST:PORT  let fetch reach exactly this host and port even if it\n"
    "                       resolves to a private, loopback or link-local address\n"
    "                       (repeatable; IPv6 as [ADDR]:PORT; only that port is opened)\n"
    "  --cpu-ms N           CPU time limit (default 30000)\n"
    "  --mem-mb N           memory limit (default 128)\n"
    "  --timeout-ms N       wall-clock limit (default 60000)\n"
    "  --kv DIR             where the contract's kv state and the dev key live (default .phx-kv)\n"
    "  --contract-id ID     kv/key namespace (default: the code hash)\n"
    "  --no-jit             interpreter only\n"
    "  --ai-endpoint MODEL=URL  answer phx.ai.chat for MODEL with the `phx infer` endpoint\n"
    "                       at URL (repeatable); its attestation is checked on first use\n"
    "                       and every answer's signature against it\n"
    "  --ai-trust-sim-root DIR  endpoints' quotes verify to the sim platform in DIR (its\n"
    "                       collateral too); development only\n"
    "  --ai-collateral FILE collateral for the endpoints' quotes (Intel's root)\n"
    "  --ai-tokens N        completion tokens phx.ai.chat may use in the run (default 1024)\n"
    "  --flavor NAME        phx (default) or chainlink-functions (see above)\n"
    "  --chain-rpc NAME=URL a chain phx.evm reaches as NAME (repeatable); its chain id\n"
    "                       is read from the node now (NAME=URL#ID also checks it)\n"
    "  --spend-limit CHAIN=WEI/SECONDS  the contract's cap on value phx.evm.send may\n"
    "                       move on CHAIN in any SECONDS-long window, as the owner's\n"
    "                       signed limit does on a worker; without one, only value 0\n"
    "                       (kept in --kv DIR)\n"
    "  --request-id ID      ctx.requestId (default random); a run with the same ID\n"
    "                       is the same request: its phx.evm.send actions are not\n"
    "                       sent twice (the journal in --kv DIR rebroadcasts them)\n"
    "  --json               print {\"ok\":…,\"output\"|\"error\":…,\"logs\":[…],\"usage\":{…}}\n\n"
    "Exit status: 0 ok, 1 the contract failed (error code in --json), 2 bad usage.\n";

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || s[0] == '-' || v == 0) return -1;
    *out = v;
    return 0;
}

/* A contract's log line on the operator's terminal: control characters (escape
 * sequences could retitle, recolour or rewrite the terminal) are shown as \xNN. */
static void print_log_line(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            fprintf(stderr, "\\x%02x", *p);
        else
            fputc(*p, stderr);
    }
    fputc('\n', stderr);
}

static int cmd_run(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) return cli_help(help);
    cli_opt_t opts[] = {
        {.name = "input", .takes_value = true},
        {.name = "secret", .takes_value = true, .repeatable = true},
        {.name = "allow-host", .takes_value = true, .repeatable = true},
        {.name = "cpu-ms", .takes_value = true},
        {.name = "mem-mb", .takes_value = true},
        {.name = "timeout-ms", .takes_value = true},
        {.name = "kv", .takes_value = true},
        {.name = "contract-id", .takes_value = true},
        {.name = "no-jit"},
        {.name = "json"},
        {.name = "ai-endpoint", .takes_value = true, .repeatable = true},
        {.name = "ai-trust-sim-root", .takes_value = true},
        {.name = "ai-collateral", .takes_value = true},
        {.name = "ai-tokens", .takes_value = true},
        {.name = "flavor", .takes_value = true},
        {.name = "chain-rpc", .takes_value = true, .repeatable = true},
        {.name = "spend-limit", .takes_value = true, .repeatable = true},
        {.name = "request-id", .takes_value = true},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *P = "phx run";
    cli_args_t args;
    int rc = cli_parse(P, argc, argv, opts, nopts, &args);
    if (rc) return rc;
    phx_buf_t src = PHX_BUF_INIT, input = PHX_BUF_INIT;
    const char **keys = NULL, **vals = NULL;
    char **kv_copies = NULL;
    phx_sandbox_pool_t *pool = NULL;
    phx_infer_client_t *ai = NULL;
    phx_sandbox_chains_t *chains = NULL;
    phx_sandbox_result_t res = {0};
    phx_error_t e = {0};
    int nsec = 0;
    bool as_json = cli_opt(opts, nopts, "json")->seen;

    if (args.npos != 1) {
        rc = cli_error(PHX_EXIT_USAGE, P, "expected one CONTRACT.js (see --help)");
        goto out;
    }
    const char *flavor = cli_opt(opts, nopts, "flavor")->value;
    if (flavor && !phx_js_flavor_known(flavor)) {
        rc = cli_error(PHX_EXIT_USAGE, P, "--flavor: unknown \"%s\" (phx, chainlink-functions)",
                       flavor);
        goto out;
    }
    {
        phx_buf_t raw = PHX_BUF_INIT;
        phx_err_t err = phx_file_read(args.pos[0], &raw, &e);
        /* A .ts file or one with imports runs as its bundle (phx build). */
        if (!err && cli_build_wanted(args.pos[0], raw.ptr, raw.len)) {
            phx_buf_free(&raw);
            if ((rc = cli_build_to_buffer(P, args.pos[0], &raw))) goto out;
        }
        if (!err) err = phx_js_flavor_wrap(flavor, raw.ptr, raw.len, &src, &e);
        phx_buf_free(&raw);
        if (err) {
            rc = cli_error_e(PHX_EXIT_USAGE, P, &e);
            goto out;
        }
    }
    const char *in = cli_opt(opts, nopts, "input")->value;
    if (in && in[0] == '@') {
        if (phx_file_read(in + 1, &input, &e)) {
            rc = cli_error_e(PHX_EXIT_USAGE, P, &e);
            goto out;
        }
    } else {
        phx_buf_append_str(&input, in ? in : "null");
    }
    json_t *chk;
    if (phx_json_parse((const char *)input.ptr, input.len, &chk, &e)) {
        rc = cli_error(PHX_EXIT_USAGE, P, "--input is not JSON: %s", e.message);
        goto out;
    }
    json_decref(chk);

    phx_sandbox_config_t cfg = {0};
    phx_sandbox_limits_default(&cfg.limits);
    uint64_t v;
    const char *s;
    if ((s = cli_opt(opts, nopts, "cpu-ms")->value)) {
        if (parse_u64(s, &v)) {
            rc = cli_error(PHX_EXIT_USAGE, P, "--cpu-ms: a positive integer");
            goto out;
        }
        cfg.limits.cpu_ms = v;
    }
    if ((s = cli_opt(opts, nopts, "mem-mb")->value)) {
        if (parse_u64(s, &v) || v > 65536) {
            rc = cli_error(PHX_EXIT_USAGE, P, "--mem-mb: 1..65536");
            goto out;
        }
        cfg.limits.mem_bytes = v << 20;
    }
    if ((s = cli_opt(opts, nopts, "timeout-ms")->value)) {
        if (parse_u64(s, &v)) {
            rc = cli_error(PHX_EXIT_USAGE, P, "--timeout-ms: a positive integer");
            goto out;
        }
        cfg.limits.wall_ms = v;
    }
    if ((s = cli_opt(opts, nopts, "ai-tokens")->value)) {
        if (parse_u64(s, &v) || v > 1000000) {
            rc = cli_error(PHX_EXIT_USAGE, P, "--ai-tokens: 1..1000000");
            goto out;
        }
        cfg.limits.ai_tokens = (uint32_t)v;
    }
    cli_opt_t *aie = cli_opt(opts, nopts, "ai-endpoint");
    if ((rc = cli_ai_client(P, aie->values, aie->nvalues,
                            cli_opt(opts, nopts, "ai-trust-sim-root")->value,
                            cli_opt(opts, nopts, "ai-collateral")->value, NULL, NULL, &ai)))
        goto out;
    if (ai) {
        cfg.ai_chat = phx_infer_client_chat;
        cfg.ai_ctx = ai;
    }
    cfg.kv_dir = cli_opt(opts, nopts, "kv")->value ? cli_opt(opts, nopts, "kv")->value : ".phx-kv";
    cli_opt_t *cr = cli_opt(opts, nopts, "chain-rpc");
    if ((rc = cli_chains(P, cr->values, cr->nvalues, &chains))) goto out;
    cfg.chains = chains;
    const char *rid = cli_opt(opts, nopts, "request-id")->value;
    if (rid && (!*rid || strlen(rid) > 66)) {
        rc = cli_error(PHX_EXIT_USAGE, P, "--request-id: 1..66 characters");
        goto out;
    }
    cli_opt_t *ah = cli_opt(opts, nopts, "allow-host");
    for (int i = 0; i < ah->nvalues; i++) {
        char h[256];
        uint16_t port;
        if (phx_egress_allowance_parse(ah->values[i], h, sizeof h, &port, &e)) {
            rc = cli_error(PHX_EXIT_USAGE, P, "--allow-host: %s", e.message);
            goto out;
        }
    }
    cfg.allow_hosts = ah->values;
    cfg.nallow_hosts = ah->nvalues;
    cfg.prefork = -1; /* one invocation: no replacement child */
    cfg.jit = !cli_opt(opts, nopts, "no-jit")->seen;
    cfg.dev_keys = true; /* no KMS here: keys from the local dev root */

    cli_opt_t *so = cli_opt(opts, nopts, "secret");
    keys = calloc((size_t)so->nvalues + 1, sizeof *keys);
    vals = calloc((size_t)so->nvalues + 1, sizeof *vals);
    kv_copies = calloc((size_t)so->nvalues + 1, sizeof *kv_copies);
    if (!keys || !vals || !kv_copies) {
        rc = cli_error(PHX_EXIT_FAIL, P, "out of memory");
        goto out;
    }
    for (int i = 0; i < so->nvalues; i++) {
        char *c = strdup(so->values[i]);
        char *eq = c ? strchr(c, '=') : NULL;
        kv_copies[i] = c;
        if (!eq || eq == c) {
            rc = cli_error(PHX_EXIT_USAGE, P, "--secret wants K=V");
            goto out;
        }
        *eq = 0;
        keys[nsec] = c;
        vals[nsec] = eq + 1;
        nsec++;
    }

    const char *cid = cli_opt(opts, nopts, "contract-id")->value;
    char hash_id[67];
    if (!cid) { /* the code hash, as the sandbox names the contract */
        uint8_t h[32];
        phx_keccak256(src.ptr, src.len, h);
        hash_id[0] = '0';
        hash_id[1] = 'x';
        phx_hex_encode_to(hash_id + 2, h, 32);
        cid = hash_id;
    }
    cli_opt_t *sl = cli_opt(opts, nopts, "spend-limit");
    for (int i = 0; i < sl->nvalues; i++) {
        char chain[40], cap[80];
        unsigned long long period;
        int used = 0;
        if (sscanf(sl->values[i], "%39[^=]=%79[^/]/%llu%n", chain, cap, &period, &used) != 3 ||
            sl->values[i][used]) {
            rc = cli_error(PHX_EXIT_USAGE, P, "--spend-limit wants CHAIN=WEI/SECONDS, not \"%s\"",
                           sl->values[i]);
            goto out;
        }
        if (phx_sandbox_spend_limit_set(cfg.kv_dir, cid, chain, cap, period, phx_now_ms(), NULL,
                                        &e)) {
            rc = cli_error(PHX_EXIT_USAGE, P, "--spend-limit: %s", e.message);
            goto out;
        }
    }

    if (phx_sandbox_pool_new(&cfg, &pool, &e)) {
        rc = cli_error_e(PHX_EXIT_FAIL, P, &e);
        goto out;
    }
    phx_sandbox_job_t job = {
        .source = (const char *)src.ptr,
        .source_len = src.len,
        .filename = args.pos[0],
        .contract_id = cli_opt(opts, nopts, "contract-id")->value,
        .request_id = rid,
        .input_json = (const char *)input.ptr,
        .secret_keys = keys,
        .secret_values = vals,
        .nsecrets = nsec,
    };
    if (phx_sandbox_invoke(pool, &job, &res, &e)) {
        rc = cli_error_e(e.code == PHX_ERR_INVALID ? PHX_EXIT_USAGE : PHX_EXIT_FAIL, P, &e);
        goto out;
    }
    rc = res.ok ? PHX_EXIT_OK : PHX_EXIT_FAIL;
    if (as_json) {
        json_t *o = json_object();
        json_object_set_new(o, "ok", json_boolean(res.ok));
        if (res.ok && res.output_is_bytes)
            json_object_set_new(o, "output", phx_json_hex(res.output.ptr, res.output.len));
        else if (!res.ok)
            json_object_set_new(o, "error",
                                json_pack("{s:s,s:s}", "code", res.code, "message", res.message));
        json_t *logs = json_array();
        for (size_t i = 0; i < res.nlogs; i++)
            json_array_append_new(logs, json_string(res.logs[i]));
        json_object_set_new(o, "logs", logs);
        json_object_set_new(o, "usage",
                            json_pack("{s:I,s:I,s:I,s:I}", "cpu_ms", (json_int_t)res.cpu_ms,
                                      "wall_ms", (json_int_t)res.wall_ms, "peak_mem_kb",
                                      (json_int_t)res.peak_mem_kb, "requests",
                                      (json_int_t)res.requests));
        json_object_set_new(o, "codeHash", json_string(res.code_hash));
        if (res.ok && !res.output_is_bytes) {
            /* The contract's JSON text goes out as it came (the sandbox checked it
             * is JSON): re-encoding would turn 12345678901234567890 into a real. */
            json_object_del(o, "ok");
            char *rest = json_dumps(o, JSON_COMPACT);
            printf("{\"ok\":true,\"output\":%.*s,%s\n", (int)res.output.len,
                   (const char *)res.output.ptr, rest ? rest + 1 : "}");
            free(rest);
        } else {
            cli_print_json(o);
        }
        json_decref(o);
    } else {
        for (size_t i = 0; i < res.nlogs; i++)
            print_log_line(res.logs[i]);
        if (res.ok) {
            if (res.output_is_bytes) {
                char *h = phx_hex_encode(res.output.ptr, res.output.len);
                printf("%s\n", h ? h : "");
                free(h);
            } else {
                printf("%.*s\n", (int)res.output.len, (const char *)res.output.ptr);
            }
        } else {
            fprintf(stderr, "phx run: %s: %s\n", res.code, res.message);
        }
    }
out:
    phx_sandbox_result_free(&res);
    phx_sandbox_pool_free(pool);
    phx_infer_client_free(ai);
    phx_sandbox_chains_free(chains);
    if (kv_copies) {
        for (int i = 0; kv_copies[i]; i++) {
            phx_secure_zero(kv_copies[i], strlen(kv_copies[i]));
            free(kv_copies[i]);
        }
    }
    free(kv_copies);
    free(keys);
    free(vals);
    phx_buf_free(&src);
    phx_buf_free(&input);
    cli_opts_free(opts, nopts);
    return rc;
}
PHX_CLI_COMMAND(run, "run", 200, "run a TEE contract locally in the sandbox", cmd_run)
