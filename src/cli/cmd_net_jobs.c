/* phx jobs: the network's recent calls and on-chain requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_net.h"
#include "phx/chain.h"
#include "phx/crypto.h"

static const char jobs_help[] =
    "usage: phx jobs [ID] [--key-file FILE] [--gateway URL] [--json]\n\n"
    "Recent work, newest first. With a contract ID: that contract's calls as the\n"
    "gateway routed them; only its owner may read them, so the request carries an\n"
    "EIP-712 OwnerRequest signed with --key-file (default: the devnet's user key).\n"
    "And, when the chain is known (a devnet's endpoints file), the last 20 on-chain\n"
    "requests in the Jobs contract, read from its events (public on chain anyway):\n"
    "status (pending, fulfilled, failed: paid but the callback reverted,\n"
    "refunded), the block requested and settled, and the latency in blocks and\n"
    "in seconds of block time.\n"
    "--json: {\"jobs\":[gateway calls, with ID],\"requests\":[{\"id\",\"status\",\n"
    "\"requester\",\"contract_id\",\"fee\",\"k\",\"deadline\",\"block\",\"time\",\n"
    "\"done_block\",\"done_time\",\"latency_blocks\",\"latency_s\",\"operators\"}]}\n"
    "(done_, latency_ and operators once settled).\n\n"
    "Exit status: 0 shown, 1 refused or unreachable, 2 bad usage or input.\n";

static int cmd_jobs(int argc, char **argv)
{
    const char *prefix = "phx jobs";
    net_t n = {0};
    json_t *resp = NULL, *requests = NULL;
    bool as_json = false;
    cli_args_t args;
    const char *key_file = NULL;
    uint8_t id[32], sk[32] = {0}, owner[20];
    int rc = net_simple_verb(argc, argv, prefix, jobs_help, -1, &as_json, &key_file, &n, &args);
    if (rc) goto out;
    if (args.npos == 1) {
        char q[300], path[512], hex[65];
        if ((rc = net_parse_id(prefix, args.pos[0], id)) ||
            (rc = net_owner_key(prefix, &n, key_file, sk, owner)) ||
            (rc = net_owner_query(prefix, sk, "jobs", id, q, sizeof q)))
            goto out;
        phx_hex_encode_to(hex, id, 32);
        snprintf(path, sizeof path, "/v1/jobs?contract=0x%s&%s", hex, q);
        if ((rc = net_json(prefix, &n, "GET", path, NULL, &resp))) goto out;
    } else {
        resp = json_object();
    }
    requests = net_chain_requests(&n, NULL, 20);
    if (as_json) {
        if (requests) json_object_set(resp, "requests", requests);
        cli_print_json(resp);
        goto out;
    }
    if (args.npos == 1) {
        printf("calls through the gateway:\n");
        net_print_jobs(json_object_get(resp, "jobs"), false);
    } else if (!requests) {
        printf("(no chain known; give a contract ID for its calls through the gateway)\n");
    }
    if (requests) net_print_requests(requests, "contract_id");
out:
    phx_secure_zero(sk, sizeof sk);
    json_decref(requests);
    json_decref(resp);
    net_free(&n);
    return rc < 0 ? 0 : rc;
}
PHX_CLI_COMMAND(jobs, "jobs", 450, "the network's recent calls and on-chain requests", cmd_jobs)
