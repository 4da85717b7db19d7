/* phx limit: the owner sets a contract's spending limit for phx.evm.send. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_net.h"
#include "phx/chain_owner.h"
#include "phx/crypto.h"
#include "phx/evm.h"

static const char limit_help[] =
    "usage: phx limit ID CHAIN=WEI/SECONDS [--key-file FILE] [--gateway URL] [--json]\n\n"
    "Set the most value (wei) contract ID may send with phx.evm.send on the named\n"
    "chain in any window of SECONDS seconds (docs/js.md, \"Spending limits\"). The\n"
    "owner signs an EIP-712 SpendLimit with --key-file (default: the devnet's user\n"
    "key); the gateway sends it to every worker, each checks it is the owner's\n"
    "and that it is newer than the limit it holds. A contract with no limit on a\n"
    "chain may send no value there; CHAIN=0/1 takes value away again. A send over\n"
    "the cap ends the run with the error code spend_limit, and nothing is signed.\n\n"
    "Example: phx limit 0x1234… b=1000000000000000000/86400   (1 ETH a day on b)\n\n"
    "Exit status: 0 set, 1 refused or unreachable, 2 bad usage or input.\n";

static int cmd_limit(int argc, char **argv)
{
    const char *prefix = "phx limit";
    net_t n = {0};
    json_t *resp = NULL;
    bool as_json = false;
    cli_args_t args;
    const char *key_file = NULL;
    uint8_t sk[32] = {0}, owner[20], id[32], d[32];
    phx_error_t e = {0};
    uint64_t nonce = phx_now_ms();
    char chain[40], cap[80], cap_dec[80];
    unsigned long long period = 0;
    int used = 0;
    int rc = net_simple_verb(argc, argv, prefix, limit_help, 2, &as_json, &key_file, &n, &args);
    if (rc || (rc = net_parse_id(prefix, args.pos[0], id))) goto out;
    phx_u256_t capv;
    if (sscanf(args.pos[1], "%39[^=]=%79[^/]/%llu%n", chain, cap, &period, &used) != 3 ||
        args.pos[1][used] || period == 0 || phx_u256_from_str(cap, &capv, NULL)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "want CHAIN=WEI/SECONDS, not \"%s\"", args.pos[1]);
        goto out;
    }
    if ((rc = net_owner_key(prefix, &n, key_file, sk, owner))) goto out;
    if (phx_owner_limit_digest(id, chain, cap, period, nonce, d, &e)) {
        rc = cli_error(PHX_EXIT_FAIL, prefix, "signing the limit: %s", e.message);
        goto out;
    }
    phx_u256_to_dec(&capv, cap_dec);
    if ((rc = net_owner_post(prefix, &n, sk, d, nonce, id, "/limits",
                             json_pack("{s:s,s:s,s:I}", "chain", chain, "cap_wei", cap_dec,
                                       "period_s", (json_int_t)period),
                             "the limit", &resp)))
        goto out;
    if (as_json)
        cli_print_json(resp);
    else
        printf("limit on %s: %s wei per %llu s\n", chain, cap_dec, period);
out:
    phx_secure_zero(sk, sizeof sk);
    json_decref(resp);
    net_free(&n);
    return rc < 0 ? 0 : rc;
}
PHX_CLI_COMMAND(limit, "limit", 425, "set a contract's spending limit (owner-signed)", cmd_limit)
