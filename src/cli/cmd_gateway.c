/* phx gateway: run the network's HTTP ingress (src/gateway) until SIGINT or
 * SIGTERM. Prints one ready line (or JSON) and writes DIR/gateway.json so
 * scripts and the devnet can find it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "phx/gateway.h"

static const char help[] =
    "usage: phx gateway --rpc URL --deployment FILE [options]\n"
    "       phx gateway --worker URL... [options]     (tests: fixed workers)\n\n"
    "Route deploys and calls to healthy workers (health checks on /healthz, a\n"
    "retry on the next worker when one cannot be reached), keep code by its hash,\n"
    "and serve GET /v1/network. docs/gateway.md has the API; the web console\n"
    "(docs/console.md) is at the gateway's URL, /.\n\n"
    "Workers are found on chain: the gateway follows the Registry's events\n"
    "(registered, deregistered, invalidated, and the URL each worker announced),\n"
    "keeping its place in DIR/registry.cursor and what it read in\n"
    "DIR/registry.json, and every health interval routes only to workers that\n"
    "the Registry calls eligible (activeOperatorOf: active, measurement allowed,\n"
    "the operator's stake enough) and whose server signed a fresh challenge with\n"
    "the registered worker key. A URL alone is never trusted; redirects are not\n"
    "followed. A worker started later joins without a restart; a deregistered,\n"
    "invalidated or under-staked one leaves within a round or two.\n\n"
    "Options:\n"
    "  --dir DIR              state directory (default $PHX_HOME/gateway, else\n"
    "                         ~/.phx/gateway): blobs/ and contracts/\n"
    "  --listen HOST:PORT     where to serve (default 127.0.0.1:8600; port 0 = any)\n"
    "  --rpc URL              chain node, and\n"
    "  --deployment FILE      its contract addresses: discover workers there\n"
    "  --worker URL           a fixed worker base URL (repeatable), for tests and\n"
    "                         a gateway without a chain; with a chain it still\n"
    "                         gets traffic only while the Registry lists the\n"
    "                         address its /healthz names as active\n"
    "  --kms URL              relay GET /v1/contracts/<id>/pubkey to this KMS\n"
    "  --rate N               per-client requests per second (default: no limit)\n"
    "  --burst N              rate-limit bucket size (default max(1, rate))\n"
    "  --health-interval MS   health check period (default 2000)\n"
    "  --sim-dir DIR          a devnet's sim TEE directory: the console's Verify page\n"
    "                         offers its root and collateral, used only when the\n"
    "                         user chooses to trust the sim platform\n"
    "  --json                 print the ready line as JSON\n\n"
    "One process per state directory: DIR/lock holds the running one's pid, and a\n"
    "second start on the same DIR is refused (the lock goes with its holder, even\n"
    "after kill -9).\n\n"
    "Exit status: 0 after a clean stop, 1 when the gateway cannot start, 2 bad usage\n"
    "or DIR in use by another process (whose pid is named).\n";

static const cli_daemon_spec_t gateway_daemon = {
    .name = "gateway",
    .home_sub = "gateway",
    .ready_file = true,
    .default_port = 8600,
    .want = CLI_DAEMON_WANT_LISTEN | CLI_DAEMON_WANT_CHAIN,
};

static int cmd_gateway(int argc, char **argv)
{
    const char *prefix = "phx gateway";
    if (cli_wants_help(argc, argv)) return cli_help(help);
    enum { WORKER = CLI_DAEMON_NOPTS, KMS, RATE, BURST, INTERVAL, HEALTHMS, SIMDIR, NOPTS };
    cli_opt_t opts[NOPTS];
    cli_daemon_opts(&gateway_daemon, opts);
    opts[WORKER] = (cli_opt_t){.name = "worker", .takes_value = true, .repeatable = true};
    opts[KMS] = (cli_opt_t){.name = "kms", .takes_value = true};
    opts[RATE] = (cli_opt_t){.name = "rate", .takes_value = true};
    opts[BURST] = (cli_opt_t){.name = "burst", .takes_value = true};
    opts[INTERVAL] = (cli_opt_t){.name = "health-interval", .takes_value = true};
    opts[HEALTHMS] = (cli_opt_t){.name = "health-ms", .takes_value = true}; /* the same, shorter */
    opts[SIMDIR] = (cli_opt_t){.name = "sim-dir", .takes_value = true};
    cli_daemon_t d;
    phx_error_t e = {0};
    phx_gateway_opts_t o = {0};
    phx_gateway_t *g = NULL;
    json_t *ready = NULL;
    int rc = cli_daemon_parse(&gateway_daemon, prefix, argc, argv, opts, NOPTS, &d);
    if (rc) goto out;
    rc = PHX_EXIT_USAGE;
    if (d.have_chain) {
        o.rpc_url = d.rpc_url;
        o.deployment = &d.deployment;
    }
    o.dir = d.dir;
    o.host = d.host;
    o.port = d.port;
    o.workers = opts[WORKER].values;
    o.worker_count = (size_t)opts[WORKER].nvalues;
    o.kms_url = opts[KMS].value;
    o.sim_dir = opts[SIMDIR].value;
    if (opts[RATE].value) o.rate_per_s = atof(opts[RATE].value);
    if (opts[BURST].value) o.rate_burst = atof(opts[BURST].value);
    const char *interval = opts[INTERVAL].value ? opts[INTERVAL].value : opts[HEALTHMS].value;
    if (interval) o.health_interval_ms = strtoull(interval, NULL, 10);
    for (int i = 0; i < opts[WORKER].nvalues; i++) {
        const char *u = opts[WORKER].values[i];
        if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
            cli_error(rc, prefix, "--worker wants an http(s):// URL, got '%s'", u);
            goto out;
        }
    }

    if (!d.have_chain && !opts[WORKER].nvalues) {
        cli_error(rc, prefix,
                  "needs --rpc and --deployment (workers are found on chain), or --worker URL");
        goto out;
    }

    if ((rc = cli_daemon_begin(&d))) goto out;
    rc = PHX_EXIT_FAIL;
    if (phx_gateway_start(&o, &g, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    ready = json_pack("{s:s,s:I,s:I,s:i}", "url", phx_gateway_url(g), "workers",
                      (json_int_t)phx_gateway_worker_count(g), "healthy_workers",
                      (json_int_t)phx_gateway_healthy_count(g), "pid", (int)getpid());
    if (cli_daemon_ready(&d, ready))
        printf("gateway listening on %s (%zu of %zu workers healthy)\n", phx_gateway_url(g),
               phx_gateway_healthy_count(g), phx_gateway_worker_count(g));
    cli_daemon_wait(&d, 0);
    phx_gateway_stop(g, 5000);
    g = NULL;
    rc = PHX_EXIT_OK;
out:
    phx_gateway_stop(g, 0);
    json_decref(ready);
    cli_daemon_close(&d);
    cli_opts_free(opts, NOPTS);
    return rc;
}
PHX_CLI_COMMAND(gateway, "gateway", 320, "run the gateway: route calls to healthy workers",
                cmd_gateway)
