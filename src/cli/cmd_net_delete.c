/* phx delete: the owner removes a contract from the network's workers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_net.h"
#include "phx/chain_owner.h"
#include "phx/crypto.h"

static const char delete_help[] =
    "usage: phx delete ID [--key-file FILE] [--gateway URL] [--json]\n\n"
    "Delete a TEE contract from the network: the owner signs an EIP-712\n"
    "ContractOp with action \"delete\" (docs/worker.md, \"Owners\") with --key-file\n"
    "(default: the devnet's user key); the gateway sends it to every worker, each\n"
    "checks it is the owner's and keeps only a tombstone (so the old deploy cannot\n"
    "be replayed), and calls are then 404. The on-chain Jobs record stays: the chain\n"
    "keeps history; deploying again needs a newer signed deploy.\n\n"
    "Exit status: 0 deleted, 1 refused or unreachable, 2 bad usage or input.\n";

static int cmd_delete(int argc, char **argv)
{
    const char *prefix = "phx delete";
    net_t n = {0};
    json_t *resp = NULL;
    bool as_json = false;
    cli_args_t args;
    const char *key_file = NULL;
    uint8_t sk[32] = {0}, owner[20], d[32];
    phx_error_t e = {0};
    phx_owner_op_t op = {.action = "delete", .nonce = phx_now_ms()};
    int rc = net_simple_verb(argc, argv, prefix, delete_help, 1, &as_json, &key_file, &n, &args);
    if (rc || (rc = net_parse_id(prefix, args.pos[0], op.contract_id)) ||
        (rc = net_owner_key(prefix, &n, key_file, sk, owner)))
        goto out;
    if (phx_owner_op_digest(&op, d, &e)) {
        rc = cli_error(PHX_EXIT_FAIL, prefix, "signing the delete: %s", e.message);
        goto out;
    }
    if ((rc = net_owner_post(prefix, &n, sk, d, op.nonce, op.contract_id, "/delete", json_object(),
                             "the delete", &resp)))
        goto out;
    if (as_json)
        cli_print_json(resp);
    else
        printf("deleted %s\n", args.pos[0]);
out:
    phx_secure_zero(sk, sizeof sk);
    json_decref(resp);
    net_free(&n);
    return rc < 0 ? 0 : rc;
}
PHX_CLI_COMMAND(delete, "delete", 420, "delete a contract (owner-signed)", cmd_delete)
