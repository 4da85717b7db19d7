/* phx jobs: the network's recent calls and on-chain requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_net.h"
#include "phx/chain.h"

static const char jobs_help[] =
    "usage: phx jobs [--gateway URL] [--json]\n\n"
    "The network's recent work, newest first: calls as the gateway routed them\n"
    "and, when the chain is known (a devnet's endpoints file), the last 20\n"
    "on-chain requests in the Jobs contract with their status.\n"
    "--json: {\"jobs\":[gateway calls],\"requests\":[{\"id\",\"status\",\"requester\",\n"
    "\"contract_id\",\"fee\",\"deadline\"}]}.\n";

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
    int rc = net_simple_verb(argc, argv, prefix, jobs_help, 0, &as_json, &n, &args);
    if (rc || (rc = net_json(prefix, &n, "GET", "/v1/jobs", NULL, &resp))) goto out;
    requests = chain_requests(&n, 20);
    if (as_json) {
        if (requests) json_object_set(resp, "requests", requests);
        cli_print_json(resp);
        goto out;
    }
    printf("calls through the gateway:\n");
    net_print_jobs(json_object_get(resp, "jobs"), false);
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
    json_decref(requests);
    json_decref(resp);
    net_free(&n);
    return rc < 0 ? 0 : rc;
}
PHX_CLI_COMMAND(jobs, "jobs", 450, "the network's recent calls and on-chain requests", cmd_jobs)
