/* phx gateway: run the network's HTTP ingress (src/gateway) until SIGINT or
 * SIGTERM. Prints one ready line (or JSON) and writes DIR/gateway.json so
 * scripts and the devnet can find it. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "phx/gateway.h"

static const char help[] =
    "usage: phx gateway --worker URL... [options]\n\n"
    "Route deploys and calls to healthy workers (health checks on /healthz, a\n"
    "retry on the next worker when one cannot be reached), keep code by its hash,\n"
    "and serve GET /v1/network. docs/gateway.md has the API.\n\n"
    "Options:\n"
    "  --dir DIR              state directory (default $PHX_HOME/gateway, else\n"
    "                         ~/.phx/gateway): blobs/ and contracts/\n"
    "  --listen HOST:PORT     where to serve (default 127.0.0.1:8600; port 0 = any)\n"
    "  --worker URL           a worker's base URL (repeatable)\n"
    "  --rpc URL              chain node; with --deployment only workers the\n"
    "  --deployment FILE      Registry lists as active get traffic\n"
    "  --kms URL              relay GET /v1/contracts/<id>/pubkey to this KMS\n"
    "  --rate N               per-client requests per second (default: no limit)\n"
    "  --burst N              rate-limit bucket size (default max(1, rate))\n"
    "  --health-interval MS   health check period (default 2000)\n"
    "  --json                 print the ready line as JSON\n\n"
    "Exit status: 0 after a clean stop, 1 when the gateway cannot start, 2 bad usage.\n";

static int cmd_gateway(int argc, char **argv)
{
    const char *prefix = "phx gateway";
    if (cli_wants_help(argc, argv)) return cli_help(help);
    enum { DIR_, LISTEN, WORKER, RPC, DEPL, KMS, RATE, BURST, INTERVAL, HEALTHMS, JSON, NOPTS };
    cli_opt_t opts[NOPTS] = {
        [DIR_] = {.name = "dir", .takes_value = true},
        [LISTEN] = {.name = "listen", .takes_value = true},
        [WORKER] = {.name = "worker", .takes_value = true, .repeatable = true},
        [RPC] = {.name = "rpc", .takes_value = true},
        [DEPL] = {.name = "deployment", .takes_value = true},
        [KMS] = {.name = "kms", .takes_value = true},
        [RATE] = {.name = "rate", .takes_value = true},
        [BURST] = {.name = "burst", .takes_value = true},
        [INTERVAL] = {.name = "health-interval", .takes_value = true},
        [HEALTHMS] = {.name = "health-ms", .takes_value = true}, /* the same, shorter */
        [JSON] = {.name = "json"},
    };
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, NOPTS, &args);
    if (rc) return rc;
    phx_error_t e = {0};
    char dir[1024], host[256] = "127.0.0.1";
    uint16_t port = 8600;
    phx_chain_deployment_t dep;
    phx_gateway_opts_t o = {0};
    phx_gateway_t *g = NULL;
    json_t *ready = NULL;
    rc = PHX_EXIT_USAGE;
    if (args.npos) {
        cli_error(rc, prefix, "takes no arguments (see --help)");
        goto out;
    }
    const char *home = getenv("PHX_HOME");
    if (opts[DIR_].value) {
        snprintf(dir, sizeof dir, "%s", opts[DIR_].value);
    } else if (home && *home) {
        snprintf(dir, sizeof dir, "%s/gateway", home);
    } else if ((home = getenv("HOME")) && *home) {
        snprintf(dir, sizeof dir, "%s/.phx/gateway", home);
    } else {
        cli_error(rc, prefix, "no --dir, and neither PHX_HOME nor HOME is set");
        goto out;
    }
    if (opts[LISTEN].value && cli_parse_hostport(opts[LISTEN].value, host, sizeof host, &port)) {
        cli_error(rc, prefix, "--listen wants HOST:PORT, got '%s'", opts[LISTEN].value);
        goto out;
    }
    if (opts[RPC].seen != opts[DEPL].seen) {
        cli_error(rc, prefix, "--rpc and --deployment go together");
        goto out;
    }
    if (opts[DEPL].value) {
        if (phx_chain_deployment_load(opts[DEPL].value, &dep, &e)) {
            cli_error_e(rc, prefix, &e);
            goto out;
        }
        o.rpc_url = opts[RPC].value;
        o.deployment = &dep;
    }
    o.dir = dir;
    o.host = host;
    o.port = port;
    o.workers = opts[WORKER].values;
    o.worker_count = (size_t)opts[WORKER].nvalues;
    o.kms_url = opts[KMS].value;
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

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* before any thread starts */
    phx_log_set_component("gateway");
    rc = PHX_EXIT_FAIL;
    if (phx_gateway_start(&o, &g, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    ready = json_pack("{s:s,s:I,s:I,s:i}", "url", phx_gateway_url(g), "workers",
                      (json_int_t)o.worker_count, "healthy_workers",
                      (json_int_t)phx_gateway_healthy_count(g), "pid", (int)getpid());
    char path[1100];
    snprintf(path, sizeof path, "%s/gateway.json", dir);
    char *text = ready ? phx_json_dump(ready, true) : NULL;
    if (!text || phx_file_write_atomic(path, text, strlen(text), 0644, &e))
        PHX_WARN("could not write %s: %s", path, e.message);
    free(text);
    if (opts[JSON].seen)
        cli_print_json(ready);
    else
        printf("gateway listening on %s (%zu of %zu workers healthy)\n", phx_gateway_url(g),
               phx_gateway_healthy_count(g), o.worker_count);
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    PHX_INFO("gateway: signal %d, stopping", sig);
    phx_gateway_stop(g, 5000);
    g = NULL;
    rc = PHX_EXIT_OK;
out:
    phx_gateway_stop(g, 0);
    json_decref(ready);
    cli_opts_free(opts, NOPTS);
    return rc;
}
PHX_CLI_COMMAND(gateway, "gateway", 320, "run the gateway: route calls to healthy workers",
                cmd_gateway)
