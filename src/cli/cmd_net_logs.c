/* phx logs: a contract's recent calls and their console output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_net.h"
#include "phx/chain_triggers.h"
#include "phx/crypto.h"

static const char logs_help[] =
    "usage: phx logs ID [--key-file FILE] [--gateway URL] [--json]\n\n"
    "The recent calls of a contract as the gateway saw them (time, status, latency,\n"
    "worker) with the console output its workers returned. Only the contract's\n"
    "owner may read them: the request carries an EIP-712 OwnerRequest signed with\n"
    "--key-file (default: the devnet's user key), valid for 5 minutes.\n"
    "On-chain runs do not pass the gateway: when the chain is known (a devnet's\n"
    "endpoints file) the contract's last 20 Jobs requests follow, with their status\n"
    "(--json: \"requests\"). Their console output stays on the worker.\n"
    "Then the contract's last 20 trigger firings recorded on chain (Jobs.Fired),\n"
    "each with its firing id, the worker that ran it, its signature over the\n"
    "firing and its output (--json: \"firings\"; docs/worker.md \"Triggers\"), and\n"
    "whether the next firing is free, paid from the owner's deposit or UNPAID (not\n"
    "run until `phx pay deposit`; --json: \"firing_payment\", as `phx triggers`).\n\n"
    "Exit status: 0 shown, 1 refused or unreachable, 2 bad usage or input.\n";

static int cmd_logs(int argc, char **argv)
{
    const char *prefix = "phx logs";
    net_t n = {0};
    json_t *resp = NULL, *requests = NULL, *firings = NULL, *pay = NULL;
    bool as_json = false;
    cli_args_t args;
    uint8_t id[32];
    const char *key_file = NULL;
    uint8_t sk[32] = {0}, owner[20];
    char q[300], path[512];
    int rc = net_simple_verb(argc, argv, prefix, logs_help, 1, &as_json, &key_file, &n, &args);
    if (rc || (rc = net_parse_id(prefix, args.pos[0], id)) ||
        (rc = net_owner_key(prefix, &n, key_file, sk, owner)) ||
        (rc = net_owner_query(prefix, sk, "logs", id, q, sizeof q)))
        goto out;
    net_contract_path(path, sizeof path, id, "/logs?");
    strncat(path, q, sizeof path - strlen(path) - 1);
    if ((rc = net_json(prefix, &n, "GET", path, NULL, &resp))) goto out;
    /* On-chain runs do not pass the gateway: they are read from Jobs. */
    requests = net_chain_requests(&n, id, 20);
    firings = net_chain_firings(&n, id, 20);
    pay = net_chain_firing_payment(&n, id);
    if (as_json) {
        if (requests) json_object_set(resp, "requests", requests);
        if (firings) json_object_set(resp, "firings", firings);
        if (pay) json_object_set(resp, "firing_payment", pay);
        cli_print_json(resp);
    } else {
        printf("calls through the gateway:\n");
        net_print_jobs(json_object_get(resp, "jobs"), true);
        if (requests) net_print_requests(requests, "requester");
        if (json_array_size(firings)) printf("trigger firings recorded on chain:\n");
        for (size_t i = 0; i < json_array_size(firings); i++)
            net_print_firing(json_array_get(firings, i));
        if (pay && strcmp(json_string_value(json_object_get(pay, "status")) ?: "", "free"))
            net_print_firing_payment(pay);
    }
out:
    phx_secure_zero(sk, sizeof sk);
    json_decref(requests);
    json_decref(firings);
    json_decref(pay);
    json_decref(resp);
    net_free(&n);
    return rc < 0 ? 0 : rc;
}
PHX_CLI_COMMAND(logs, "logs", 430, "a contract's recent calls and their logs", cmd_logs)
