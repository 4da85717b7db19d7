/* phx chain: deploy the Phalanx contracts (PhxToken, Registry, Jobs) to an EVM
 * node and show a deployment's state. The deployment file written here is what
 * the other daemons read to find the contracts. See docs/chain.md. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_onchain.h"
#include "phx/chain.h"
#include "phx/crypto.h"
#include "phx/kms_node.h"

#define DEFAULT_DEPLOYMENT "phx-deployment.json"

static const char help[] =
    "usage: phx chain deploy --rpc URL --key HEX [--out FILE] [--json]\n"
    "                        [--supply PHA] [--min-stake PHA] [--fee PHA] [--timeout SECONDS]\n"
    "       phx chain status [--deployment FILE] [--rpc URL] [--json]\n"
    "       phx chain admit-kms KMS_URL --key HEX [--trust-sim-root DIR] [--policy FILE]\n"
    "                           [--expect ADDRESS] [--deployment FILE] [--rpc URL] [--json]\n"
    "       phx chain revoke-kms ADDRESS --key HEX [--deployment FILE] [--rpc URL]\n"
    "       phx chain allow-measurement HASH [--remove] --key HEX [--deployment FILE] [--rpc "
    "URL]\n\n"
    "deploy   compiles nothing: the contracts were compiled with solc when phx was\n"
    "         built. Deploys PhxToken, Registry and Jobs from the key's account\n"
    "         (which becomes their governor and holds the initial PHA supply),\n"
    "         prints the addresses and writes them to the deployment file.\n"
    "status   reads the deployment file and asks the node about each contract.\n"
    "         Exit 1 when the node's chain id differs or a contract has no code.\n"
    "admit-kms\n"
    "         governance admits the KMS at KMS_URL: asks it for a quote over a fresh\n"
    "         random nonce (GET /v1/attestation), verifies that quote here to Intel's\n"
    "         root (or, on a devnet, the sim root given by --trust-sim-root) under the\n"
    "         TCB policy, checks it binds the KMS's key in the KMS domain and that its\n"
    "         measurement is allowed, then sends Registry.admitKms with the quote and\n"
    "         the hash of its collateral for anyone to re-check. Exit 1 when the quote\n"
    "         does not verify (nothing is sent); a KMS already admitted is left alone.\n"
    "revoke-kms\n"
    "         governance removes a KMS key for good (Registry.revokeKms).\n"
    "allow-measurement\n"
    "         governance (the deployer's key until a Governor exists): add or, with\n"
    "         --remove, remove a worker/KMS measurement (32-byte hash, see\n"
    "         docs/chain.md) on the Registry's allowlist.\n\n"
    "Options:\n"
    "  --rpc URL          JSON-RPC endpoint (default: $PHX_RPC; for status, the file's)\n"
    "  --key HEX          deployer secret key, 32 bytes hex (default: $PHX_KEY)\n"
    "  --out FILE         deployment file to write (default " DEFAULT_DEPLOYMENT ")\n"
    "  --deployment FILE  deployment file to read (default " DEFAULT_DEPLOYMENT ")\n"
    "  --supply PHA       initial PHA supply (default 1000000000)\n"
    "  --min-stake PHA    Registry: stake per active worker (default 1000)\n"
    "  --fee PHA          Jobs: fee paid to each signing worker's operator (default 1)\n"
    "  --timeout SECONDS  Jobs: request lifetime before refund (default 3600)\n"
    "  --remove           take the entry off the allowlist\n"
    "  --trust-sim-root DIR  admit-kms: trust the sim TEE platform in DIR (devnets only)\n"
    "  --policy FILE      admit-kms: TCB policy JSON (default: UpToDate, SWHardeningNeeded)\n"
    "  --expect ADDRESS   admit-kms: refuse unless the KMS's key is this address\n"
    "  --json             print JSON\n";

static const char *prefix_deploy = "phx chain deploy";
static const char *prefix_status = "phx chain status";

/* Whole PHA (decimal integer) -> wei. */
static int parse_pha(const char *prefix, const char *name, const char *text, phx_u256_t *out)
{
    phx_u256_t whole;
    phx_error_t e = {0};
    if (!text[0] || strspn(text, "0123456789") != strlen(text) ||
        phx_u256_from_str(text, &whole, &e))
        return cli_error(PHX_EXIT_USAGE, prefix, "--%s: expected a whole number of PHA", name);
    /* Below 2^196 so that whole * 10^18 cannot wrap. */
    for (int i = 0; i < 7; i++)
        if (whole.b[i]) return cli_error(PHX_EXIT_USAGE, prefix, "--%s: too large", name);
    if (whole.b[7] >= 0x10) return cli_error(PHX_EXIT_USAGE, prefix, "--%s: too large", name);
    *out = phx_u256_mul_u64(&whole, 1000000000000000000ull);
    return 0;
}

static json_t *checksum_json(const uint8_t a[20])
{
    char s[43];
    phx_eth_address_checksum(a, s);
    return json_string(s);
}

static int write_deployment(const char *path, const phx_chain_deployment_t *d, const char *rpc_url,
                            json_t **json_out, phx_error_t *e)
{
    json_t *j = NULL;
    if (phx_chain_deployment_to_json(d, &j, e)) return -1;
    /* The file remembers the node it was made on, so `status` needs no --rpc. */
    json_object_set_new(j, "rpc", json_string(rpc_url));
    char *text = phx_json_dump(j, true);
    phx_buf_t b = PHX_BUF_INIT;
    int rc = -1;
    if (text && !phx_buf_append_str(&b, text) && !phx_buf_append_byte(&b, '\n') &&
        !phx_file_write_atomic(path, b.ptr, b.len, 0644, e))
        rc = 0;
    else if (!text)
        phx_fail(e, PHX_ERR_NOMEM, "deployment json");
    phx_buf_free(&b);
    free(text);
    *json_out = j;
    return rc;
}

static int chain_deploy(int argc, char **argv)
{
    cli_opt_t opts[] = {
        {.name = "rpc", .takes_value = true},    {.name = "key", .takes_value = true},
        {.name = "out", .takes_value = true},    {.name = "json"},
        {.name = "supply", .takes_value = true}, {.name = "min-stake", .takes_value = true},
        {.name = "fee", .takes_value = true},    {.name = "timeout", .takes_value = true},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    cli_args_t args;
    int rc = cli_parse(prefix_deploy, argc, argv, opts, nopts, &args);
    if (rc) return rc;
    if (args.npos) return cli_error(PHX_EXIT_USAGE, prefix_deploy, "takes no arguments");
    const char *url = opts[0].seen ? opts[0].value : getenv("PHX_RPC");
    const char *key_hex = opts[1].seen ? opts[1].value : getenv("PHX_KEY");
    const char *out_path = opts[2].seen ? opts[2].value : DEFAULT_DEPLOYMENT;
    bool as_json = opts[3].seen;
    if (!url || !*url) return cli_error(PHX_EXIT_USAGE, prefix_deploy, "--rpc URL is required");
    if (!key_hex || !*key_hex)
        return cli_error(PHX_EXIT_USAGE, prefix_deploy, "--key HEX is required");

    phx_chain_params_t params;
    phx_chain_params_default(&params);
    if (opts[4].seen &&
        (rc = parse_pha(prefix_deploy, "supply", opts[4].value, &params.initial_supply)))
        return rc;
    if (opts[5].seen &&
        (rc = parse_pha(prefix_deploy, "min-stake", opts[5].value, &params.min_stake)))
        return rc;
    if (opts[6].seen &&
        (rc = parse_pha(prefix_deploy, "fee", opts[6].value, &params.fee_per_worker)))
        return rc;
    if (opts[7].seen) {
        char *end = NULL;
        unsigned long long t = strtoull(opts[7].value, &end, 10);
        if (!opts[7].value[0] || *end || t == 0 || t > 10ull * 365 * 86400)
            return cli_error(PHX_EXIT_USAGE, prefix_deploy, "--timeout: seconds, 1 .. 10 years");
        params.request_timeout_s = t;
    }

    phx_error_t e = {0};
    uint8_t sk[32];
    if (phx_hex_decode_fixed(key_hex, sk, 32, &e)) {
        phx_secure_zero(sk, sizeof sk);
        return cli_error(PHX_EXIT_USAGE, prefix_deploy, "--key: expected 32 bytes of hex");
    }
    phx_rpc_t *rpc = NULL;
    phx_signer_t *signer = NULL;
    phx_chain_deployment_t dep;
    json_t *j = NULL;
    rc = PHX_EXIT_FAIL;
    if (phx_rpc_open(url, NULL, &rpc, &e) || phx_signer_open(rpc, sk, NULL, &signer, &e)) {
        cli_error_e(PHX_EXIT_FAIL, prefix_deploy, &e);
        goto out;
    }
    if (phx_chain_deploy(signer, &params, &dep, &e)) {
        cli_error_e(PHX_EXIT_FAIL, prefix_deploy, &e);
        goto out;
    }
    if (write_deployment(out_path, &dep, url, &j, &e)) {
        cli_error(PHX_EXIT_FAIL, prefix_deploy, "deployed, but writing %s failed: %s", out_path,
                  e.message);
        if (j) cli_print_json(j); /* the addresses must not be lost */
        goto out;
    }
    if (as_json) {
        json_object_set_new(j, "file", json_string(out_path));
        cli_print_json(j);
    } else {
        char a[43];
        printf("deployed on chain %llu at block %llu by ", (unsigned long long)dep.chain_id,
               (unsigned long long)dep.block);
        phx_eth_address_checksum(dep.deployer, a);
        printf("%s\n", a);
        phx_eth_address_checksum(dep.token, a);
        printf("  PhxToken  %s\n", a);
        phx_eth_address_checksum(dep.registry, a);
        printf("  Registry  %s\n", a);
        phx_eth_address_checksum(dep.jobs, a);
        printf("  Jobs      %s\n", a);
        phx_eth_address_checksum(dep.payments, a);
        printf("  Payments  %s\n", a);
        phx_eth_address_checksum(dep.inference_registry, a);
        printf("  InferenceRegistry  %s\n", a);
        printf("saved to %s\n", out_path);
    }
    rc = PHX_EXIT_OK;
out:
    json_decref(j);
    phx_secure_zero(sk, sizeof sk);
    phx_signer_close(signer);
    phx_rpc_close(rpc);
    return rc;
}

/* One uint256 getter; "?" when it cannot be read. */
static bool read_uint(phx_rpc_t *rpc, const uint8_t to[20], const char *sig, phx_u256_t *out)
{
    json_t *ret = NULL;
    phx_error_t e = {0};
    bool ok = phx_chain_read(rpc, to, sig, NULL, "(uint256)", &ret, &e) == PHX_OK &&
              phx_u256_from_str(json_string_value(json_array_get(ret, 0)), out, &e) == PHX_OK;
    json_decref(ret);
    return ok;
}

static int chain_status(int argc, char **argv)
{
    cli_opt_t opts[] = {
        {.name = "deployment", .takes_value = true},
        {.name = "rpc", .takes_value = true},
        {.name = "json"},
    };
    cli_args_t args;
    int rc = cli_parse(prefix_status, argc, argv, opts, 3, &args);
    if (rc) return rc;
    if (args.npos) return cli_error(PHX_EXIT_USAGE, prefix_status, "takes no arguments");
    const char *path = opts[0].seen ? opts[0].value : DEFAULT_DEPLOYMENT;
    bool as_json = opts[2].seen;

    phx_error_t e = {0};
    json_t *file = NULL, *report = NULL;
    phx_rpc_t *rpc = NULL;
    phx_chain_deployment_t dep;
    if (phx_json_load_file(path, &file, &e) || phx_chain_deployment_from_json(file, &dep, &e)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix_status, "%s: %s", path, e.message);
        goto out;
    }
    const char *url =
        opts[1].seen ? opts[1].value : json_string_value(json_object_get(file, "rpc"));
    if (!url) url = getenv("PHX_RPC");
    if (!url) {
        rc = cli_error(PHX_EXIT_USAGE, prefix_status, "no --rpc and none in %s", path);
        goto out;
    }
    uint64_t chain_id = 0;
    if (phx_rpc_open(url, NULL, &rpc, &e) || phx_rpc_chain_id(rpc, &chain_id, &e)) {
        rc = cli_error_e(PHX_EXIT_FAIL, prefix_status, &e);
        goto out;
    }
    bool healthy = chain_id == dep.chain_id;
    report = json_pack("{s:s,s:s,s:I,s:I,s:I,s:o}", "file", path, "rpc", url, "chainId",
                       (json_int_t)chain_id, "deployedChainId", (json_int_t)dep.chain_id, "block",
                       (json_int_t)dep.block, "deployer", checksum_json(dep.deployer));
    struct {
        const char *name;
        const uint8_t *addr;
        const char *getters[3];
        const char *keys[3];
    } contracts[] = {
        {"PhxToken", dep.token, {"totalSupply()"}, {"totalSupply"}},
        {"Registry", dep.registry, {"workerCount()", "minStake()"}, {"workers", "minStake"}},
        {"Jobs",
         dep.jobs,
         {"requestCount()", "feePerWorker()", "requestTimeout()"},
         {"requests", "feePerWorker", "requestTimeout"}},
        {"Payments",
         dep.payments,
         {"pricePerCall()", "pricePerCpuMs()", "noticePeriod()"},
         {"pricePerCall", "pricePerCpuMs", "noticePeriod"}},
        {"InferenceRegistry", dep.inference_registry, {"endpointCount()"}, {"endpoints"}},
    };
    json_t *list = json_object();
    json_object_set_new(report, "contracts", list);
    if (!as_json)
        printf("chain %llu via %s (deployment: chain %llu, block %llu)%s\n",
               (unsigned long long)chain_id, url, (unsigned long long)dep.chain_id,
               (unsigned long long)dep.block, healthy ? "" : "  CHAIN ID MISMATCH");
    for (size_t i = 0; i < sizeof contracts / sizeof contracts[0]; i++) {
        /* A deployment from before Payments has none: not a fault. */
        if (contracts[i].addr == dep.payments && !phx_chain_has_payments(&dep)) continue;
        if (contracts[i].addr == dep.inference_registry && !phx_chain_has_inference_registry(&dep))
            continue;
        phx_buf_t code = PHX_BUF_INIT;
        bool has_code =
            phx_rpc_get_code(rpc, contracts[i].addr, NULL, &code, &e) == PHX_OK && code.len > 0;
        phx_buf_free(&code);
        healthy = healthy && has_code;
        json_t *c =
            json_pack("{s:o,s:b}", "address", checksum_json(contracts[i].addr), "code", has_code);
        json_object_set_new(list, contracts[i].name, c);
        char a[43];
        phx_eth_address_checksum(contracts[i].addr, a);
        if (!as_json) printf("  %-9s %s  %s", contracts[i].name, a, has_code ? "" : "NO CODE");
        for (int g = 0; has_code && g < 3 && contracts[i].getters[g]; g++) {
            phx_u256_t v;
            if (!read_uint(rpc, contracts[i].addr, contracts[i].getters[g], &v)) continue;
            char dec[80], pha[100];
            phx_u256_to_dec(&v, dec);
            json_object_set_new(c, contracts[i].keys[g], json_string(dec));
            bool is_pha = strstr(contracts[i].keys[g], "Supply") ||
                          strstr(contracts[i].keys[g], "Stake") ||
                          strstr(contracts[i].keys[g], "fee");
            if (is_pha) onchain_format_pha(&v, pha);
            if (!as_json)
                printf("%s%s %s%s", g ? ", " : "", contracts[i].keys[g], is_pha ? pha : dec,
                       is_pha ? " PHA" : "");
        }
        if (!as_json) printf("\n");
    }
    json_object_set_new(report, "healthy", json_boolean(healthy));
    if (as_json) cli_print_json(report);
    rc = healthy ? PHX_EXIT_OK : PHX_EXIT_FAIL;
out:
    json_decref(report);
    json_decref(file);
    phx_rpc_close(rpc);
    return rc;
}

/* revoke-kms / allow-measurement: one governance transaction on the Registry. */
static int chain_allow(int argc, char **argv, bool kms)
{
    const char *prefix = kms ? "phx chain revoke-kms" : "phx chain allow-measurement";
    cli_opt_t opts[] = {
        {.name = "deployment", .takes_value = true},
        {.name = "rpc", .takes_value = true},
        {.name = "key", .takes_value = true},
        {.name = "remove"},
    };
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, kms ? 3 : 4, &args);
    if (rc) return rc;
    if (args.npos != 1)
        return cli_error(PHX_EXIT_USAGE, prefix, "expected one %s", kms ? "ADDRESS" : "HASH");
    const char *path = opts[0].seen ? opts[0].value : DEFAULT_DEPLOYMENT;
    const char *key_hex = opts[2].seen ? opts[2].value : getenv("PHX_KEY");
    bool allowed = !kms && !opts[3].seen;
    phx_error_t e = {0};
    uint8_t value[32], sk[32];
    if (kms ? phx_evm_address_parse(args.pos[0], value, &e)
            : phx_hex_decode_fixed(args.pos[0], value, 32, &e))
        return cli_error(PHX_EXIT_USAGE, prefix, "%s: %s", args.pos[0], e.message);
    if (!key_hex || phx_hex_decode_fixed(key_hex, sk, 32, &e)) {
        phx_secure_zero(sk, sizeof sk);
        return cli_error(PHX_EXIT_USAGE, prefix, "--key HEX (32 bytes) is required");
    }
    json_t *file = NULL;
    phx_rpc_t *rpc = NULL;
    phx_signer_t *signer = NULL;
    phx_chain_deployment_t dep;
    rc = PHX_EXIT_FAIL;
    if (phx_json_load_file(path, &file, &e) || phx_chain_deployment_from_json(file, &dep, &e)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "%s: %s", path, e.message);
        goto out;
    }
    const char *url =
        opts[1].seen ? opts[1].value : json_string_value(json_object_get(file, "rpc"));
    if (!url) url = getenv("PHX_RPC");
    if (!url) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "no --rpc and none in %s", path);
        goto out;
    }
    phx_err_t err = phx_rpc_open(url, NULL, &rpc, &e);
    if (!err) err = phx_signer_open(rpc, sk, NULL, &signer, &e);
    if (!err)
        err = kms ? phx_chain_revoke_kms(signer, &dep, value, &e)
                  : phx_chain_set_measurement(signer, &dep, value, allowed, &e);
    if (err) {
        cli_error_e(PHX_EXIT_FAIL, prefix, &e);
        goto out;
    }
    printf("%s %s\n", kms ? "revoked" : allowed ? "allowed" : "removed", args.pos[0]);
    rc = PHX_EXIT_OK;
out:
    phx_secure_zero(sk, sizeof sk);
    phx_signer_close(signer);
    phx_rpc_close(rpc);
    json_decref(file);
    return rc;
}

/* admit-kms: governance verifies a KMS's quote itself, then admits it on chain. */
static int chain_admit_kms(int argc, char **argv)
{
    const char *prefix = "phx chain admit-kms";
    enum { DEPL = CLI_TRUST_NOPTS, RPC, KEY, EXPECT, JSON, NOPTS };
    cli_opt_t opts[NOPTS] = {
        [DEPL] = {.name = "deployment", .takes_value = true},
        [RPC] = {.name = "rpc", .takes_value = true},
        [KEY] = {.name = "key", .takes_value = true},
        [EXPECT] = {.name = "expect", .takes_value = true},
        [JSON] = {.name = "json"},
    };
    cli_trust_opts(opts, true);
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, NOPTS, &args);
    if (rc) return rc;
    if (args.npos != 1) return cli_error(PHX_EXIT_USAGE, prefix, "expected one KMS_URL");
    const char *path = opts[DEPL].seen ? opts[DEPL].value : DEFAULT_DEPLOYMENT;
    const char *key_hex = opts[KEY].seen ? opts[KEY].value : getenv("PHX_KEY");
    phx_error_t e = {0};
    uint8_t sk[32], expect[20];
    json_t *file = NULL;
    phx_rpc_t *rpc = NULL;
    phx_signer_t *signer = NULL;
    cli_trust_t trust = {0};
    phx_chain_deployment_t dep;
    rc = PHX_EXIT_USAGE;
    if (!key_hex || phx_hex_decode_fixed(key_hex, sk, 32, &e)) {
        cli_error(rc, prefix, "--key HEX (32 bytes) is required");
        goto out;
    }
    if (opts[EXPECT].value && phx_evm_address_parse(opts[EXPECT].value, expect, &e)) {
        cli_error(rc, prefix, "--expect: %s", e.message);
        goto out;
    }
    if (phx_json_load_file(path, &file, &e) || phx_chain_deployment_from_json(file, &dep, &e)) {
        cli_error(rc, prefix, "%s: %s", path, e.message);
        goto out;
    }
    const char *url =
        opts[RPC].seen ? opts[RPC].value : json_string_value(json_object_get(file, "rpc"));
    if (!url) url = getenv("PHX_RPC");
    if (!url) {
        cli_error(rc, prefix, "no --rpc and none in %s", path);
        goto out;
    }
    if (cli_trust_open(prefix, opts[CLI_TRUST_SIMROOT].value, opts[CLI_TRUST_POLICY].value, &trust))
        goto out;
    rc = PHX_EXIT_FAIL;
    if (phx_rpc_open(url, NULL, &rpc, &e) || phx_signer_open(rpc, sk, NULL, &signer, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    phx_kms_attest_t attest = {.verifier = trust.verifier, .policy = cli_trust_policy(&trust)};
    phx_kms_admit_opts_t ao = {.kms_url = args.pos[0],
                               .expect_kms = opts[EXPECT].value ? expect : NULL,
                               .governor = signer,
                               .rpc = rpc,
                               .deployment = &dep,
                               .verify_quote = phx_kms_verify_quote_attest,
                               .verify_ctx = &attest};
    phx_kms_admission_t adm;
    if (phx_kms_admit(&ao, &adm, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    char addr[43];
    phx_eth_address_checksum(adm.kms, addr);
    if (opts[JSON].seen) {
        json_t *o = json_pack("{s:s,s:o,s:o,s:s,s:b}", "kms", addr, "measurement",
                              phx_json_hex(adm.measurement, 32), "collateral_hash",
                              phx_json_hex(adm.collateral_hash, 32), "tcb_status", adm.tcb_status,
                              "admitted_now", adm.admitted_now);
        cli_print_json(o);
        json_decref(o);
    } else {
        printf("%s %s (quote verified, tcb %s)\n",
               adm.admitted_now ? "admitted" : "already admitted", addr, adm.tcb_status);
    }
    rc = PHX_EXIT_OK;
out:
    phx_secure_zero(sk, sizeof sk);
    phx_signer_close(signer);
    phx_rpc_close(rpc);
    cli_trust_close(&trust);
    json_decref(file);
    cli_opts_free(opts, NOPTS);
    return rc;
}

static int cmd_chain(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return argc < 2 ? (fputs(help, stderr), PHX_EXIT_USAGE) : cli_help(help);
    if (cli_wants_help(argc, argv)) return cli_help(help);
    if (strcmp(argv[1], "deploy") == 0) return chain_deploy(argc - 1, argv + 1);
    if (strcmp(argv[1], "status") == 0) return chain_status(argc - 1, argv + 1);
    if (strcmp(argv[1], "admit-kms") == 0) return chain_admit_kms(argc - 1, argv + 1);
    if (strcmp(argv[1], "revoke-kms") == 0) return chain_allow(argc - 1, argv + 1, true);
    if (strcmp(argv[1], "allow-measurement") == 0) return chain_allow(argc - 1, argv + 1, false);
    return cli_error(PHX_EXIT_USAGE, "phx chain",
                     "unknown subcommand '%s' (deploy, status, admit-kms, revoke-kms, "
                     "allow-measurement)",
                     argv[1]);
}
PHX_CLI_COMMAND(chain, "chain", 60, "deploy the Phalanx contracts and show their state", cmd_chain)
