/* phx triggers: a contract's declared triggers and its recorded firings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_net.h"
#include "phx/chain_triggers.h"
#include "phx/net.h"

static const char triggers_help[] =
    "usage: phx triggers ID [--gateway URL] [--json]\n\n"
    "What starts the contract ID by itself: the triggers its owner declared with\n"
    "the last deploy or update (signed with it; docs/worker.md \"Triggers\"), as\n"
    "the network's workers hold them, and, when the chain is known (a devnet's\n"
    "endpoints file), the last 20 firings Jobs recorded: each one run of the\n"
    "contract, signed by the worker that ran it over the firing id\n"
    "keccak256(\"<name>/<tick or block>\"), ok or failed, and its output.\n"
    "Each recorded firing costs the contract's owner the Payments price per call,\n"
    "taken from the owner's deposit (`phx pay deposit`) when Jobs records it. Also\n"
    "shown: whether the next firing is free, paid (the deposit left) or UNPAID: the\n"
    "deposit is short of the price, so the workers run no firing until it is\n"
    "topped up (those due meanwhile are skipped, not owed).\n"
    "--json: {\"id\",\"owner\",\"nonce\",\"code_hash\",\"triggers\",\"triggers_signature\",\n"
    "\"firings\",\"payment\"}; payment: {\"status\": \"free\"|\"paid\"|\"unpaid\",\"price\",\n"
    "\"deposit\",\"owner\",\"charged\",\"covered\",\"reason\" (when unpaid)}, null when\n"
    "the chain is not known.\n\n"
    "Exit status: 0 shown, 1 no worker holds it or unreachable, 2 bad usage.\n";

/* The declaration from the first worker of the gateway's pool that holds it. */
static int declared(const char *prefix, const net_t *n, const uint8_t id[32], json_t **out)
{
    json_t *net = NULL;
    int rc = net_json(prefix, n, "GET", "/v1/network", NULL, &net);
    if (rc) return rc;
    json_t *ws = json_object_get(net, "workers");
    char path[200], why[300] = "the gateway knows no worker";
    net_contract_path(path, sizeof path, id, "/triggers");
    for (size_t i = 0; i < json_array_size(ws) && !*out; i++) {
        const char *url = json_string_value(json_object_get(json_array_get(ws, i), "url"));
        char full[900];
        phx_error_t e = {0};
        if (!url) continue;
        snprintf(full, sizeof full, "%s%s", url, path);
        if (phx_http_json("GET", full, NULL, NULL, NULL, out, &e))
            snprintf(why, sizeof why, "%s", e.message), *out = NULL;
    }
    json_decref(net);
    return *out ? 0 : cli_error(PHX_EXIT_FAIL, prefix, "%s", why);
}

static int cmd_triggers(int argc, char **argv)
{
    const char *prefix = "phx triggers";
    net_t n = {0};
    json_t *d = NULL, *f = NULL, *pay = NULL;
    bool as_json = false;
    cli_args_t args;
    uint8_t id[32];
    int rc = net_simple_verb(argc, argv, prefix, triggers_help, 1, &as_json, NULL, &n, &args);
    if (rc || (rc = net_parse_id(prefix, args.pos[0], id)) || (rc = declared(prefix, &n, id, &d)))
        goto out;
    f = net_chain_firings(&n, id, 20);
    pay = net_chain_firing_payment(&n, id);
    if (as_json) {
        json_object_set(d, "firings", f ? f : json_null());
        json_object_set(d, "payment", pay ? pay : json_null());
        cli_print_json(d);
        goto out;
    }
    json_t *ts = json_object_get(d, "triggers");
    printf("contract %s\n", args.pos[0]);
    if (!json_array_size(ts)) printf("  (no triggers declared)\n");
    for (size_t i = 0; i < json_array_size(ts); i++) {
        const json_t *t = json_array_get(ts, i);
        const char *kind = json_string_value(json_object_get(t, "kind"));
        printf("  %-20s %-8s ", json_string_value(json_object_get(t, "name")), kind);
        if (kind && !strcmp(kind, "cron"))
            printf("%s\n", json_string_value(json_object_get(t, "schedule")));
        else if (kind && !strcmp(kind, "block"))
            printf("every %lld blocks\n",
                   (long long)json_integer_value(json_object_get(t, "every")));
        else if (kind && !strcmp(kind, "evm_log")) {
            const char *chain = json_string_value(json_object_get(t, "chain"));
            json_int_t conf = json_integer_value(json_object_get(t, "confirmations"));
            printf("logs of %s on %s%s%s", json_string_value(json_object_get(t, "address")),
                   chain ? "chain " : "the workers' chain", chain ? chain : "", conf ? "," : "\n");
            if (conf) printf(" %lld confirmations\n", (long long)conf);
        } else
            printf("\n");
    }
    if (!f) {
        printf("firings: (no chain known; give a devnet's endpoints file)\n");
        goto out;
    }
    net_print_firing_payment(pay);
    printf("firings recorded on chain (newest first):\n");
    if (!json_array_size(f)) printf("  (none yet)\n");
    for (size_t i = 0; i < json_array_size(f); i++)
        net_print_firing(json_array_get(f, i));
out:
    json_decref(d);
    json_decref(f);
    json_decref(pay);
    net_free(&n);
    return rc < 0 ? 0 : rc;
}
PHX_CLI_COMMAND(triggers, "triggers", 435, "a contract's triggers and recorded firings",
                cmd_triggers)
