/* phx deploy: send a TEE contract to the network (and record it on chain). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_net.h"
#include "phx/chain.h"
#include "phx/chain_owner.h"
#include "phx/chain_triggers.h"
#include "phx/crypto.h"
#include "phx/js.h"
#include "phx/net.h"
#include "phx/sandbox.h"
#include "phx/worker.h"

static const char deploy_help[] =
    "usage: phx deploy CONTRACT.js [--secret K=V]... [options]\n\n"
    "Deploy a TEE contract, or update one (the same --salt again). Every contract\n"
    "has an owner, the address of --key-file (default: the devnet's user key),\n"
    "and its id is keccak256(abi.encode(owner, salt)) (Jobs.contractId), so no one\n"
    "else can claim it. The deploy is an EIP-712 ContractOp the owner signs\n"
    "(docs/worker.md, \"Owners\"); workers refuse one that is not the owner's.\n"
    "Secrets are sealed (HPKE) to the contract's key, which the KMS signs, and to\n"
    "this code's hash: only a worker inside a TEE running this code under this id\n"
    "opens them. An update re-seals the secrets given with it; an update without\n"
    "--secret leaves the contract with none.\n"
    "With a chain (a devnet's endpoints file) the contract is also recorded on\n"
    "chain (Jobs.deployContract, or Jobs.updateContract for an update).\n"
    "Before anything leaves this machine the contract is compiled (not run) with\n"
    "the engine the workers use; a syntax error is refused with its file and line.\n"
    "--flavor chainlink-functions deploys a Chainlink Functions source unchanged\n"
    "(docs/js.md): it is wrapped into a module on its first line (line numbers\n"
    "stay yours), and the wrapped text is what is hashed, recorded and run.\n"
    "A .ts file, or one with import statements, is bundled first as `phx build`\n"
    "does (npm imports included, errors at your file and line); the bundle is\n"
    "what is hashed, recorded and run.\n\n"
    "Options:\n"
    "  --secret K=V        a secret the contract sees as ctx.secrets.K (repeatable)\n"
    "  --salt HEX          32-byte salt (default: random; the same salt updates)\n"
    "  --key-file FILE     the owner's secp256k1 key, hex (default: the devnet's user.key)\n"
    "  --no-chain          do not record the contract on chain\n"
    "  --no-check          skip the local compile check (see above)\n"
    "  --isolation MODE    warm (the default: a process bound to this contract, a\n"
    "                      fresh realm per call) or process (a fresh process per\n"
    "                      call, docs/sandbox.md). process puts the directive\n"
    "                      \"use process isolation\"; at the head of the code sent,\n"
    "                      so the code hash and your signature cover the choice;\n"
    "                      warm refuses a file that holds the directive\n"
    "  --gateway URL       the network (else $PHX_GATEWAY, else the devnet)\n"
    "  --kms-address 0x..  the KMS to trust for the contract key (else the devnet's)\n"
    "  --flavor NAME       phx (default) or chainlink-functions (see above)\n"
    "  --affinity caller|input.FIELD\n"
    "                      sticky routing without a key from the caller: the\n"
    "                      gateway sends calls with the same payer (caller) or the\n"
    "                      same value of input member FIELD ([A-Za-z0-9_], 1..64) to\n"
    "                      the same worker, as phx call --affinity does. A routing\n"
    "                      hint kept by the gateway, not signed; an update without\n"
    "                      it keeps the one set\n"
    "  --triggers FILE     what starts the contract by itself: a JSON array of\n"
    "                      triggers, signed by the owner with the deploy (docs/worker.md\n"
    "                      \"Triggers\"): {\"name\":\"tick\",\"kind\":\"cron\",\n"
    "                      \"schedule\":\"@every 30s\"} (s, m or h; not 5-field crontab)\n"
    "                      or {\"name\":\"b\",\"kind\":\"block\",\"every\":5} or\n"
    "                      {\"name\":\"e\",\"kind\":\"evm_log\",\"address\":\"0x..\",\n"
    "                      \"topics\":[\"0x..\",null]} (the workers' chain; add\n"
    "                      \"chain\":\"NAME\" for a chain of their --chain-rpc, and\n"
    "                      \"confirmations\":N, 0..64, to wait N blocks) or\n"
    "                      {\"name\":\"h\",\"kind\":\"http\",\"secret_hash\":\"0x..\"}: a\n"
    "                      webhook, POST GATEWAY/v1/contracts/ID/hooks/h with a\n"
    "                      JSON body, X-Phx-Secret (keccak256 = secret_hash, if\n"
    "                      given) and X-Phx-Delivery (an id: one firing per id);\n"
    "                      at most 16.\n"
    "                      Each firing runs once network-wide with ctx.trigger set.\n"
    "                      A deploy or update without --triggers declares none\n"
    "  --json              print {\"id\",\"code_hash\",\"owner\",\"on_chain\",\"flavor\",\n"
    "                      \"bundled\",\"isolation\"}\n\n"
    "Exit status: 0 deployed, 1 refused or unreachable, 2 bad usage or input\n"
    "(no owner key, or a contract that does not compile, among them).\n";

/* What the sandbox will choose for this code (the pool's default is warm). */
static const char *isolation_of(const phx_buf_t *code)
{
    return phx_sandbox_source_isolation((const char *)code->ptr, code->len) ==
                   PHX_SANDBOX_ISOLATION_PROCESS
               ? "process"
               : "warm";
}

/* Record the contract on chain from the owner's key: Jobs.deployContract, or
 * Jobs.updateContract when the chain already has this id. */
static int deploy_on_chain(const char *prefix, const net_t *n, const uint8_t sk[32],
                           const uint8_t id[32], const uint8_t salt[32],
                           const uint8_t code_hash[32], bool *done)
{
    *done = false;
    json_t *ep = n->endpoints;
    const char *rpc_url = ep ? json_string_value(json_object_get(ep, "rpc")) : NULL;
    json_t *depj = ep ? json_object_get(ep, "deployment") : NULL;
    if (!rpc_url || !depj) return 0; /* no chain known: off-chain only */
    phx_chain_deployment_t dep;
    phx_rpc_t *rpc = NULL;
    phx_signer_t *signer = NULL;
    json_t *have = NULL, *idargs = json_pack("[o]", phx_json_hex(id, 32)), *args = NULL;
    phx_error_t e = {0};
    int rc = PHX_EXIT_FAIL;
    if (phx_chain_deployment_from_json(depj, &dep, &e) || phx_rpc_open(rpc_url, NULL, &rpc, &e) ||
        phx_signer_open(rpc, sk, NULL, &signer, &e) ||
        phx_chain_read(rpc, dep.jobs, "contracts(bytes32)", idargs,
                       "(address,uint32,bytes32,string)", &have, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    const char *o = json_string_value(json_array_get(have, 0));
    uint8_t owner[20] = {0}, zero[20] = {0};
    bool exists = o && !phx_hex_decode_fixed(o, owner, 20, NULL) && memcmp(owner, zero, 20);
    char uri[80] = "phx://blob/0x";
    phx_hex_encode_to(uri + 13, code_hash, 32);
    const char *fn = exists ? "updateContract(bytes32,bytes32,string)"
                            : "deployContract(bytes32,bytes32,string)";
    args = json_pack("[o,o,s]", phx_json_hex(exists ? id : salt, 32), phx_json_hex(code_hash, 32),
                     uri);
    if (phx_chain_transact(signer, dep.jobs, fn, args, NULL, &e)) {
        uint8_t from[20];
        phx_signer_address(signer, from);
        phx_chain_explain_revert(rpc, from, dep.jobs, fn, args, &e);
        cli_error(rc, prefix, "Jobs.%.*s: %s", (int)(strchr(fn, '(') - fn), fn, e.message);
        goto out;
    }
    *done = true;
    rc = 0;
out:
    json_decref(args);
    json_decref(idargs);
    json_decref(have);
    phx_signer_close(signer);
    phx_rpc_close(rpc);
    return rc;
}

/* The contract this id names, as the gateway keeps it: its salt (checked to
 * derive the id from this owner, so no answer can aim the op elsewhere) and,
 * when code is not NULL, its deployed code (checked against its hash). */
static int fetch_deployed(const char *prefix, const net_t *n, const uint8_t owner[20],
                          const uint8_t id[32], uint8_t salt[32], phx_buf_t *code)
{
    char path[128];
    json_t *rec = NULL;
    phx_error_t e = {0};
    uint8_t want[32], code_hash[32], got[32];
    net_contract_path(path, sizeof path, id, "");
    int rc = net_json(prefix, n, "GET", path, NULL, &rec);
    if (rc) return rc;
    if (phx_json_get_hex_fixed(rec, "salt", salt, 32, &e) ||
        phx_json_get_hex_fixed(rec, "code_hash", code_hash, 32, &e)) {
        rc =
            cli_error(PHX_EXIT_FAIL, prefix, "the gateway's record of the contract: %s", e.message);
        goto out;
    }
    phx_chain_contract_id(owner, salt, want);
    if (memcmp(want, id, 32)) {
        rc = cli_error(PHX_EXIT_FAIL, prefix,
                       "this contract's id is not derived from your key (--key-file): only its "
                       "owner may change it");
        goto out;
    }
    if (code) {
        char url[1200], hx[65];
        phx_hex_encode_to(hx, code_hash, 32);
        snprintf(url, sizeof url, "%s/v1/blobs/0x%s", n->gateway, hx);
        phx_http_client_opts_t co = {.timeout_ms = 60000};
        int status = 0;
        if (phx_http_fetch("GET", url, NULL, NULL, 0, &co, &status, code, &e) || status != 200) {
            rc = cli_error(PHX_EXIT_FAIL, prefix, "the deployed code: %s (HTTP %d)",
                           e.message[0] ? e.message : "not served", status);
            goto out;
        }
        phx_keccak256(code->ptr, code->len, got);
        if (memcmp(got, code_hash, 32)) {
            rc = cli_error(PHX_EXIT_FAIL, prefix, "the gateway served code that is not 0x%s", hx);
            goto out;
        }
    }
out:
    json_decref(rec);
    return rc;
}

int net_deploy_main(int argc, char **argv, net_deploy_mode_t mode)
{
    static const char *const prefixes[] = {"phx deploy", "phx update", "phx secrets"};
    const char *help = mode == NET_DEPLOY   ? deploy_help
                       : mode == NET_UPDATE ? net_update_help
                                            : net_secrets_help;
    const char *prefix = prefixes[mode];
    if (cli_wants_help(argc, argv)) return cli_help(help);
    enum {
        SECRET,
        SALT,
        KEYFILE,
        NOCHAIN,
        NOCHECK,
        GATEWAY,
        KMS,
        JSON,
        FLAVOR,
        ISOLATION,
        TRIGGERS,
        AFFINITY,
        NOPTS
    };
    cli_opt_t opts[NOPTS] = {
        [SECRET] = {.name = "secret", .takes_value = true, .repeatable = true},
        [SALT] = {.name = "salt", .takes_value = true},
        [KEYFILE] = {.name = "key-file", .takes_value = true},
        [NOCHAIN] = {.name = "no-chain"},
        [NOCHECK] = {.name = "no-check"},
        [GATEWAY] = {.name = "gateway", .takes_value = true},
        [KMS] = {.name = "kms-address", .takes_value = true},
        [JSON] = {.name = "json"},
        [FLAVOR] = {.name = "flavor", .takes_value = true},
        [ISOLATION] = {.name = "isolation", .takes_value = true},
        [TRIGGERS] = {.name = "triggers", .takes_value = true},
        [AFFINITY] = {.name = "affinity", .takes_value = true},
    };
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, NOPTS, &args);
    if (rc) return rc;
    if (opts[AFFINITY].value) { /* checked before anything leaves this machine */
        const char *a = opts[AFFINITY].value;
        size_t fl = strncmp(a, "input.", 6) ? 0 : strlen(a + 6);
        if (strcmp(a, "caller") &&
            (fl < 1 || fl > 64 ||
             strspn(a + 6, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
                 fl))
            return cli_error(PHX_EXIT_USAGE, prefix,
                             "--affinity wants caller or input.FIELD (FIELD 1..64 of "
                             "[A-Za-z0-9_])");
    }
    net_t n = {0};
    phx_buf_t code = PHX_BUF_INIT;
    json_t *body = NULL, *secrets = NULL, *resp = NULL;
    char *secrets_text = NULL;
    phx_error_t e = {0};
    uint8_t salt[32], owner[20] = {0}, id[32], code_hash[32], sk[32] = {0};
    /* deploy FILE | update ID FILE | secrets set|rotate ID K=V... */
    const char *file = NULL, *id_arg = NULL;
    bool built = false;
    const char **secret_kv = (const char **)opts[SECRET].values;
    int nsecret = opts[SECRET].nvalues;
    if (mode == NET_DEPLOY && args.npos == 1) {
        file = args.pos[0];
    } else if (mode == NET_UPDATE && args.npos == 2) {
        id_arg = args.pos[0];
        file = args.pos[1];
    } else if (mode == NET_SECRETS && args.npos >= 3 &&
               (!strcmp(args.pos[0], "set") || !strcmp(args.pos[0], "rotate"))) {
        id_arg = args.pos[1];
        secret_kv = (const char **)args.pos + 2;
        nsecret = args.npos - 2;
    } else {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "wrong arguments (see --help)");
        goto out;
    }
    const char *flavor = opts[FLAVOR].value ? opts[FLAVOR].value : "phx";
    if (!phx_js_flavor_known(flavor)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix,
                       "--flavor: unknown \"%s\" (phx, chainlink-functions)", flavor);
        goto out;
    }
    if (mode == NET_SECRETS && opts[FLAVOR].value) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "--flavor is for deploy and update");
        goto out;
    }
    const char *iso = opts[ISOLATION].value;
    if (iso && (mode == NET_SECRETS || (strcmp(iso, "warm") && strcmp(iso, "process")))) {
        rc = cli_error(PHX_EXIT_USAGE, prefix,
                       mode == NET_SECRETS ? "--isolation is for deploy and update"
                                           : "--isolation must be warm or process, not '%s'",
                       iso);
        goto out;
    }
    phx_triggers_t triggers = {0};
    if (opts[TRIGGERS].value) {
        phx_buf_t t = PHX_BUF_INIT;
        phx_err_t terr = phx_file_read(opts[TRIGGERS].value, &t, &e);
        if (!terr) terr = phx_triggers_parse((const char *)t.ptr, t.len, &triggers, &e);
        phx_buf_free(&t);
        if (terr) {
            rc = cli_error(PHX_EXIT_USAGE, prefix, "--triggers %s: %s", opts[TRIGGERS].value,
                           e.message);
            goto out;
        }
    }
    if (mode != NET_DEPLOY && opts[SALT].value) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "--salt is for deploy; the id fixes it here");
        goto out;
    }
    if (id_arg && (rc = net_parse_id(prefix, id_arg, id))) goto out;
    if ((rc = net_find(prefix, opts[GATEWAY].value, &n)) ||
        (rc = net_owner_key(prefix, &n, opts[KEYFILE].value, sk, owner)))
        goto out;
    if (mode == NET_SECRETS) {
        if ((rc = fetch_deployed(prefix, &n, owner, id, salt, &code))) goto out;
        file = "the deployed code";
    } else {
        phx_buf_t raw = PHX_BUF_INIT;
        phx_err_t err = phx_file_read(file, &raw, &e);
        /* A .ts file or one with imports is bundled first (phx build): the
         * bundle is the code that is hashed, recorded and sent. */
        if (!err && cli_build_wanted(file, raw.ptr, raw.len)) {
            phx_buf_free(&raw);
            if ((rc = cli_build_to_buffer(prefix, file, &raw))) goto out;
            built = true;
        }
        if (!err && raw.len && !memchr(raw.ptr, 0, raw.len))
            err = phx_js_flavor_wrap(flavor, raw.ptr, raw.len, &code, &e);
        phx_buf_free(&raw);
        if (err) {
            rc = cli_error_e(PHX_EXIT_USAGE, prefix, &e);
            goto out;
        }
    }
    if (!code.len || memchr(code.ptr, 0, code.len)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "%s: empty or not text", file);
        goto out;
    }
    /* The isolation choice lives in the code (docs/sandbox.md, "Isolation"),
     * where the code hash and the owner's signature cover it: process adds
     * the directive on the first line (line numbers stay the file's); warm
     * cannot loosen a file that asks for process. */
    if (iso) {
        bool has = phx_sandbox_source_isolation((const char *)code.ptr, code.len) ==
                   PHX_SANDBOX_ISOLATION_PROCESS;
        static const char directive[] = "\"use process isolation\"; ";
        if (!strcmp(iso, "warm") && has) {
            rc = cli_error(PHX_EXIT_USAGE, prefix,
                           "%s holds the directive \"use process isolation\" in its first 4 KiB: "
                           "--isolation warm cannot loosen it; remove the directive",
                           file);
            goto out;
        }
        if (!strcmp(iso, "process") && !has) {
            phx_buf_t with = PHX_BUF_INIT;
            if (phx_buf_append(&with, directive, sizeof directive - 1) ||
                phx_buf_append(&with, code.ptr, code.len)) {
                phx_buf_free(&with);
                rc = cli_error(PHX_EXIT_FAIL, prefix, "out of memory");
                goto out;
            }
            phx_buf_free(&code);
            code = with;
        }
    }
    /* Refuse code that cannot run before it is recorded anywhere, in the
     * user's words (file:line), not as a failed call later. */
    if (mode != NET_SECRETS && !opts[NOCHECK].seen &&
        (rc = net_compile_check(prefix, file, code.ptr, code.len)))
        goto out;
    if (mode == NET_UPDATE) {
        if ((rc = fetch_deployed(prefix, &n, owner, id, salt, NULL))) goto out;
    } else if (mode == NET_DEPLOY &&
               (opts[SALT].value ? phx_hex_decode_fixed(opts[SALT].value, salt, 32, &e)
                                 : phx_random_bytes(salt, 32))) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "--salt: %s", e.message);
        goto out;
    }
    phx_keccak256(code.ptr, code.len, code_hash);

    phx_chain_contract_id(owner, salt, id);
    bool on_chain = false;
    if (!opts[NOCHAIN].seen &&
        (rc = deploy_on_chain(prefix, &n, sk, id, salt, code_hash, &on_chain)))
        goto out;

    body = json_pack("{s:o,s:o,s:o,s:s%,s:o}", "id", phx_json_hex(id, 32), "owner",
                     phx_json_hex(owner, 20), "salt", phx_json_hex(salt, 32), "code",
                     (const char *)code.ptr, code.len, "code_hash", phx_json_hex(code_hash, 32));
    if (!body) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "%s is not UTF-8 text", file);
        goto out;
    }
    if (opts[AFFINITY].value)
        json_object_set_new(body, "affinity", json_string(opts[AFFINITY].value));
    /* The file's name (not its path) so the workers' error locations name it;
     * workers keep only a plain name. Not part of the signed op. */
    if (mode != NET_SECRETS) {
        const char *base = strrchr(file, '/');
        json_object_set_new(body, "filename", json_string(base ? base + 1 : file));
    }
    if (nsecret) {
        secrets = json_object();
        for (int i = 0; i < nsecret; i++) {
            const char *kv = secret_kv[i], *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                rc = cli_error(PHX_EXIT_USAGE, prefix, "a secret wants K=V, got '%s'", kv);
                goto out;
            }
            char k[128];
            snprintf(k, sizeof k, "%.*s", (int)(eq - kv), kv);
            json_object_set_new(secrets, k, json_string(eq + 1));
        }
        secrets_text = phx_json_dump(secrets, false);
        json_t *sealed = NULL;
        if (!secrets_text) {
            rc = cli_error(PHX_EXIT_FAIL, prefix, "could not encode the secrets");
            goto out;
        }
        if ((rc = net_seal_secrets(prefix, &n, opts[KMS].value, id, code_hash, secrets_text,
                                   &sealed)))
            goto out;
        json_object_set_new(body, "sealed_secrets", sealed);
    }
    /* The owner's signature over exactly what goes out: this code, these
     * sealed secrets (or none), this id, newer than any earlier op. */
    phx_owner_op_t op = {.action = "deploy", .nonce = phx_now_ms()};
    memcpy(op.contract_id, id, 32);
    memcpy(op.code_hash, code_hash, 32);
    uint8_t d[32], sig[65];
    if (phx_owner_secrets_hash(json_object_get(body, "sealed_secrets"), op.secrets_hash, &e) ||
        phx_owner_op_digest(&op, d, &e) || phx_owner_sign(d, sk, sig, &e)) {
        rc = cli_error(PHX_EXIT_FAIL, prefix, "signing the deploy: %s", e.message);
        goto out;
    }
    json_object_set_new(body, "nonce", json_integer((json_int_t)op.nonce));
    json_object_set_new(body, "signature", phx_json_hex(sig, 65));
    if (triggers.n) {
        /* The triggers travel beside the op, signed over the same id, code
         * and nonce (chain_triggers.h): the canonical form is what is signed. */
        uint8_t th[32], tsig[65];
        json_t *tj = phx_triggers_to_json(&triggers);
        if (!tj || phx_triggers_hash(&triggers, th, &e) ||
            phx_owner_triggers_digest(id, code_hash, th, op.nonce, d, &e) ||
            phx_owner_sign(d, sk, tsig, &e)) {
            json_decref(tj);
            rc = cli_error(PHX_EXIT_FAIL, prefix, "signing the triggers: %s",
                           e.message[0] ? e.message : "out of memory");
            goto out;
        }
        json_object_set_new(body, "triggers", tj);
        json_object_set_new(body, "triggers_signature", phx_json_hex(tsig, 65));
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
        json_t *o = json_pack("{s:s,s:s,s:o,s:b,s:s,s:b,s:s}", "id", want_id, "code_hash",
                              want_hash, "owner", phx_json_hex(owner, 20), "on_chain", on_chain,
                              "flavor", mode == NET_SECRETS ? "(unchanged)" : flavor, "bundled",
                              built, "isolation", isolation_of(&code));
        cli_print_json(o);
        json_decref(o);
    } else {
        char oh[41];
        phx_hex_encode_to(oh, owner, 20);
        static const char *const done[] = {"deployed", "updated", "secrets set for"};
        printf("%s %s%s\n  id         %s\n  code hash  %s\n  owner      0x%s\n  on chain   %s\n",
               done[mode], file, built ? " (bundled: phx build)" : "", want_id, want_hash, oh,
               on_chain ? "yes (Jobs)" : "no");
        if (nsecret) printf("  secrets    %d, sealed to the contract key and this code\n", nsecret);
        for (size_t i = 0; i < triggers.n; i++)
            printf("  trigger    %s (%s)\n", triggers.t[i].name,
                   phx_trigger_kind_name(triggers.t[i].kind));
    }
    free(want_id);
    free(want_hash);
out:
    phx_secure_zero(sk, sizeof sk);
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
static int cmd_deploy(int argc, char **argv)
{
    return net_deploy_main(argc, argv, NET_DEPLOY);
}
PHX_CLI_COMMAND(deploy, "deploy", 400, "deploy a TEE contract to the network", cmd_deploy)
