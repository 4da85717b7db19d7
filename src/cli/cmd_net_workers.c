/* phx workers: the workers the gateway knows and their health. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_net.h"

static const char workers_help[] =
    "usage: phx workers [--gateway URL] [--json]\n\n"
    "The workers the gateway knows: health, whether the Registry lists them,\n"
    "address, TEE kind (sgx or tdx, as the Registry recorded it from the worker's\n"
    "quote), measurement, calls and failures. A gateway with a chain finds them\n"
    "there (docs/gateway.md \"Discovery\"): such a worker gets calls only once the\n"
    "server at the URL it announced proved its key; when it has not, the line\n"
    "ends with KEY NOT PROVEN and why. --json has each worker's \"source\"\n"
    "(chain or flag), \"identity\" and \"why\".\n";

static int cmd_workers(int argc, char **argv)
{
    const char *prefix = "phx workers";
    net_t n = {0};
    json_t *resp = NULL;
    bool as_json = false;
    cli_args_t args;
    int rc = net_simple_verb(argc, argv, prefix, workers_help, 0, &as_json, NULL, &n, &args);
    if (rc || (rc = net_json(prefix, &n, "GET", "/v1/network", NULL, &resp))) goto out;
    json_t *ws = json_object_get(resp, "workers");
    if (as_json) {
        json_t *o = json_pack("{s:O,s:O}", "workers", ws, "measurements",
                              json_object_get(resp, "measurements"));
        cli_print_json(o);
        json_decref(o);
        goto out;
    }
    if (!json_array_size(ws)) printf("(no workers)\n");
    for (size_t i = 0; i < json_array_size(ws); i++) {
        const json_t *w = json_array_get(ws, i);
        const char *addr = json_string_value(json_object_get(w, "address"));
        const char *mr = json_string_value(json_object_get(w, "measurement"));
        const char *tee = json_string_value(json_object_get(w, "tee"));
        printf("%-28s %-9s %-14s %s  %-3s  mr %.18s…  calls %lld, failures %lld\n",
               json_string_value(json_object_get(w, "url")),
               json_is_true(json_object_get(w, "healthy")) ? "healthy" : "DOWN",
               json_is_true(json_object_get(w, "registered")) ? "registered" : "UNREGISTERED",
               addr ? addr : "(address unknown)", tee ? tee : "?", mr ? mr : "?",
               (long long)json_integer_value(json_object_get(w, "calls")),
               (long long)json_integer_value(json_object_get(w, "failures")));
        const char *id = json_string_value(json_object_get(w, "identity"));
        if (id && strcmp(id, "proven") != 0) {
            const char *why = json_string_value(json_object_get(w, "why"));
            printf("%-28s KEY NOT PROVEN: %s\n", "", why ? why : "not checked yet");
        }
    }
out:
    json_decref(resp);
    net_free(&n);
    return rc < 0 ? 0 : rc;
}
PHX_CLI_COMMAND(workers, "workers", 440, "list the network's workers and their health", cmd_workers)
