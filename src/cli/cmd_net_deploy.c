/* phx deploy: send a TEE contract to the network (and record it on chain). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_net.h"
#include "phx/chain.h"
#include "phx/chain_owner.h"
#include "phx/crypto.h"
#include "phx/net.h"
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
    "chain (Jobs.deployContract, or Jobs.updateContract for an update).\n\n"
    "Options:\n"
    "  --secret K=V        a secret the contract sees as ctx.secrets.K (repeatable)\n"
    "  --salt HEX          32-byte salt (default: random; the same salt updates)\n"
    "  --key-file FILE     the owner's secp256k1 key, hex (default: the devnet's user.key)\n"
    "  --no-chain          do not record the contract on chain\n"
    "  --gateway URL       the network (else $PHX_GATEWAY, else the devnet)\n"
    "  --kms-address 0x..  the KMS to trust for the contract key (else the devnet's)\n"
    "  --json              print {\"id\",\"code_hash\",\"owner\",\"on_chain\"}\n\n"
    "Exit status: 0 deployed, 1 refused or unreachable, 2 bad usage or input\n"
    "(no owner key among them).\n";

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
    uint8_t salt[32], owner[20] = {0}, id[32], code_hash[32], sk[32] = {0};
    if (args.npos != 1) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "wants one CONTRACT.js (see --help)");
        goto out;
    }
    if ((rc = net_find(prefix, opts[GATEWAY].value, &n)) ||
        (rc = net_owner_key(prefix, &n, opts[KEYFILE].value, sk, owner)))
        goto out;
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

    phx_chain_contract_id(owner, salt, id);
    bool on_chain = false;
    if (!opts[NOCHAIN].seen &&
        (rc = deploy_on_chain(prefix, &n, sk, id, salt, code_hash, &on_chain)))
        goto out;

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
        json_t *o = json_pack("{s:s,s:s,s:o,s:b}", "id", want_id, "code_hash", want_hash, "owner",
                              phx_json_hex(owner, 20), "on_chain", on_chain);
        cli_print_json(o);
        json_decref(o);
    } else {
        char oh[41];
        phx_hex_encode_to(oh, owner, 20);
        printf(
            "deployed %s\n  id         %s\n  code hash  %s\n  owner      0x%s\n  on chain   %s\n",
            args.pos[0], want_id, want_hash, oh, on_chain ? "yes (Jobs)" : "no");
        if (opts[SECRET].nvalues)
            printf("  secrets    %d, sealed to the contract key and this code\n",
                   opts[SECRET].nvalues);
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
PHX_CLI_COMMAND(deploy, "deploy", 400, "deploy a TEE contract to the network", cmd_deploy)
