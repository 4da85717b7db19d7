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
    "requests in the Jobs contract with their status (public on chain anyway).\n"
    "--json: {\"jobs\":[gateway calls, with ID],\"requests\":[{\"id\",\"status\",\n"
    "\"requester\",\"contract_id\",\"fee\",\"deadline\"}]}.\n\n"
    "Exit status: 0 shown, 1 refused or unreachable, 2 bad usage or input.\n";

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
    requests = chain_requests(&n, 20);
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
    phx_secure_zero(sk, sizeof sk);
    json_decref(requests);
    json_decref(resp);
    net_free(&n);
    return rc < 0 ? 0 : rc;
}
PHX_CLI_COMMAND(jobs, "jobs", 450, "the network's recent calls and on-chain requests", cmd_jobs)
