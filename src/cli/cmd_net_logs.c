/* phx logs: a contract's recent calls and their console output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_net.h"

static const char logs_help[] =
    "usage: phx logs ID [--gateway URL] [--json]\n\n"
    "The recent calls of a contract as the gateway saw them (time, status, latency,\n"
    "worker) with the console output its workers returned.\n";

static int cmd_logs(int argc, char **argv)
{
    const char *prefix = "phx logs";
    net_t n = {0};
    json_t *resp = NULL;
    bool as_json = false;
    cli_args_t args;
    uint8_t id[32];
    int rc = net_simple_verb(argc, argv, prefix, logs_help, 1, &as_json, &n, &args);
    if (rc) goto out;
    if ((rc = net_parse_id(prefix, args.pos[0], id))) goto out;
    char path[128];
    net_contract_path(path, sizeof path, id, "/logs");
    if ((rc = net_json(prefix, &n, "GET", path, NULL, &resp))) goto out;
    if (as_json)
        cli_print_json(resp);
    else
        net_print_jobs(json_object_get(resp, "jobs"), true);
out:
    json_decref(resp);
    net_free(&n);
    return rc < 0 ? 0 : rc;
}
PHX_CLI_COMMAND(logs, "logs", 430, "a contract's recent calls and their logs", cmd_logs)
