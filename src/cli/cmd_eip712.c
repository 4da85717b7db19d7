/* phx eip712: the EIP-712 digest of typed data and its signature, as wallets'
 * eth_signTypedData_v4 computes them. See docs/evm.md. */
#include <string.h>

#include "cli.h"
#include "phx/crypto.h"
#include "phx/evm_eip712.h"

static const char eip712_help[] =
    "usage: phx eip712 hash [--json] TYPED_JSON\n"
    "       phx eip712 sign --key HEX|env [--json] TYPED_JSON\n\n"
    "TYPED_JSON (or @FILE) is eth_signTypedData_v4's {types, primaryType, domain,\n"
    "message}. hash prints the EIP-712 digest; sign prints r||s||v (v = 27/28).\n"
    "--json prints {\"digest\": HEX} or {\"signature\": HEX}.\n";

static int cmd_eip712(int argc, char **argv)
{
    const char *p = "phx eip712";
    if (cli_wants_help(argc, argv)) return cli_help(eip712_help);
    if (argc < 3)
        return cli_error(PHX_EXIT_USAGE, p, "expected a subcommand and typed data (see --help)");
    cli_opt_t opts[] = {{.name = "json"}, {.name = "key", .takes_value = true}};
    cli_args_t args;
    int rc = cli_parse(p, argc - 1, argv + 1, opts, 2, &args);
    if (rc) return rc;
    if (args.npos != 1) return cli_error(PHX_EXIT_USAGE, p, "expected one argument (see --help)");
    json_t *j = NULL;
    phx_error_t e = {0};
    uint8_t d[32], sk[32], sig[65];
    if ((rc = cli_arg_json(p, "TYPED_JSON", args.pos[0], &j))) return rc;
    if (strcmp(argv[1], "hash") == 0) {
        if (phx_eip712_digest(j, d, &e))
            rc = cli_error_e(PHX_EXIT_USAGE, p, &e);
        else
            cli_print_hex(opts[0].seen, "digest", d, 32, NULL);
    } else if (strcmp(argv[1], "sign") == 0) {
        if (!(rc = cli_arg_key(p, cli_opt(opts, 2, "key")->value, sk))) {
            if (phx_eip712_sign(j, sk, sig, &e))
                rc = cli_error_e(PHX_EXIT_USAGE, p, &e);
            else
                cli_print_hex(opts[0].seen, "signature", sig, 65, NULL);
        }
        phx_secure_zero(sk, sizeof sk);
    } else {
        rc = cli_error(PHX_EXIT_USAGE, p, "unknown subcommand '%s' (hash, sign)", argv[1]);
    }
    json_decref(j);
    return rc;
}
PHX_CLI_COMMAND(eip712, "eip712", 523, "EIP-712 typed-data digest and signature", cmd_eip712)
