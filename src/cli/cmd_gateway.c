/* phx gateway: run the gateway (src/gateway/service.c) in front of the given
 * workers until SIGINT/SIGTERM. Worker discovery from the Registry comes with
 * the devnet; for now workers are named with --worker. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "phx/gateway.h"

static const char help[] =
    "usage: phx gateway --worker URL [--worker URL]... [options]\n\n"
    "Serve the network's HTTP entry point: calls and deploys go to healthy workers\n"
    "(health-checked in the background; a call fails over only when that cannot run\n"
    "it twice), code blobs are kept by keccak256, GET /v1/network shows the workers.\n\n"
    "Options:\n"
    "  --worker URL        a worker's base URL (repeatable)\n"
    "  --listen HOST:PORT  where to serve (default 127.0.0.1:8600; port 0 = any free)\n"
    "  --dir DIR           state directory for code blobs (default $PHX_HOME/gateway)\n"
    "  --rate N            per-client requests per second (default: no limit)\n"
    "  --health-ms N       interval between worker health checks (default 2000)\n"
    "  --json              print the ready line as JSON\n\n"
    "Exit status: 0 after a clean stop, 1 when it cannot start, 2 bad usage.\n";

static int cmd_gateway(int argc, char **argv)
{
    const char *prefix = "phx gateway";
    if (cli_wants_help(argc, argv)) return cli_help(help);
    enum { WORKER, LISTEN, DIR_, RATE, HEALTH, JSON, NOPTS };
    cli_opt_t opts[NOPTS] = {
        [WORKER] = {.name = "worker", .takes_value = true, .repeatable = true},
        [LISTEN] = {.name = "listen", .takes_value = true},
        [DIR_] = {.name = "dir", .takes_value = true},
        [RATE] = {.name = "rate", .takes_value = true},
        [HEALTH] = {.name = "health-ms", .takes_value = true},
        [JSON] = {.name = "json"},
    };
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, NOPTS, &args);
    if (rc) return rc;
    phx_error_t e = {0};
    char host[256] = "127.0.0.1", dir[1024], blobs[1100];
    unsigned long port = 8600;
    phx_gateway_t *g = NULL;
    rc = PHX_EXIT_USAGE;
    if (args.npos || !opts[WORKER].nvalues) {
        cli_error(rc, prefix, "needs at least one --worker URL and no arguments (see --help)");
        goto out;
    }
    if (opts[LISTEN].value) {
        const char *colon = strrchr(opts[LISTEN].value, ':');
        char *end = NULL;
        if (colon) port = strtoul(colon + 1, &end, 10);
        if (!colon || colon == opts[LISTEN].value || !end || *end || end == colon + 1 ||
            port > 65535 || (size_t)(colon - opts[LISTEN].value) >= sizeof host) {
            cli_error(rc, prefix, "--listen wants HOST:PORT, got '%s'", opts[LISTEN].value);
            goto out;
        }
        memcpy(host, opts[LISTEN].value, (size_t)(colon - opts[LISTEN].value));
        host[colon - opts[LISTEN].value] = '\0';
    }
    const char *home = getenv("PHX_HOME");
    if (opts[DIR_].value)
        snprintf(dir, sizeof dir, "%s", opts[DIR_].value);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/gateway", home);
    else if (getenv("HOME"))
        snprintf(dir, sizeof dir, "%s/.phx/gateway", getenv("HOME"));
    else {
        cli_error(rc, prefix, "no --dir, and neither PHX_HOME nor HOME is set");
        goto out;
    }
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s", dir);
    for (char *p = cmd + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(cmd, 0755);
            *p = '/';
        }
    mkdir(cmd, 0755);
    snprintf(blobs, sizeof blobs, "%s/blobs", dir);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    phx_log_set_component("gateway");
    phx_gw_pool_opts_t po = {
        .health_interval_ms =
            opts[HEALTH].value ? (uint32_t)strtoul(opts[HEALTH].value, NULL, 10) : 0};
    phx_gateway_opts_t go = {.host = host,
                             .port = (uint16_t)port,
                             .blob_dir = blobs,
                             .pool = &po,
                             .rate_per_s = opts[RATE].value ? atof(opts[RATE].value) : 0};
    rc = PHX_EXIT_FAIL;
    if (phx_gateway_start(&go, &g, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    for (int i = 0; i < opts[WORKER].nvalues; i++)
        if (phx_gateway_add_worker(g, opts[WORKER].values[i], &e)) {
            cli_error_e(PHX_EXIT_USAGE, prefix, &e);
            rc = PHX_EXIT_USAGE;
            goto out;
        }
    if (opts[JSON].seen) {
        json_t *o = json_pack("{s:s,s:i,s:i}", "url", phx_gateway_url(g), "workers",
                              opts[WORKER].nvalues, "pid", (int)getpid());
        cli_print_json(o);
        json_decref(o);
    } else {
        printf("gateway listening on %s, %d worker(s)\n", phx_gateway_url(g), opts[WORKER].nvalues);
    }
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    PHX_INFO("gateway: signal %d, stopping", sig);
    phx_gateway_stop(g, 5000);
    g = NULL;
    rc = PHX_EXIT_OK;
out:
    phx_gateway_stop(g, 0);
    cli_opts_free(opts, NOPTS);
    return rc;
}
PHX_CLI_COMMAND(gateway, "gateway", 320, "run the HTTP gateway in front of workers", cmd_gateway)
