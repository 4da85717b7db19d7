/* phx devnet: the whole network on this machine (src/devnet) until Ctrl-C or
 * SIGTERM; a second start in the same directory resumes the same chain and
 * keys. Prints the endpoints (or the endpoints JSON with --json). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "phx/devnet.h"
#include "phx/sandbox.h"

static const char help[] =
    "usage: phx devnet [--workers N] [--dir DIR] [options]\n\n"
    "Start anvil, deploy the Phalanx contracts, one KMS, N workers and a gateway,\n"
    "all on 127.0.0.1 with the sim TEE, and keep them running until Ctrl-C. The\n"
    "directory keeps the chain state (anvil --state), the KMS's sealed root and\n"
    "every worker's keys, so starting again in it resumes the same network.\n"
    "DIR/endpoints.json tells `phx deploy`, `phx call` and friends where it is.\n\n"
    "Options:\n"
    "  --workers N       number of workers (default 3)\n"
    "  --sgx N           the last N of them run the sim TEE's SGX flavour (--tee\n"
    "                    sim-sgx: SGX v3 quotes, kind SGX in the Registry); the\n"
    "                    others are sim TDX (default 0)\n"
    "  --operators M     spread the workers over M operators, worker i under\n"
    "                    operator i mod M, each staked for all its workers\n"
    "                    (default: one operator per worker)\n"
    "  --dir DIR         state directory (default $PHX_HOME, else ~/.phx/devnet)\n"
    "  --anvil PATH      the anvil binary (default: node_modules, then PATH)\n"
    "  --block-time S    mine a block every S seconds, on every chain of --chains\n"
    "                    (default: on every tx)\n"
    "  --no-handover     keep anvil's first account as governor of every contract\n"
    "                    (tests that act as governance directly); by default the\n"
    "                    timelock governs and only a vote (phx gov) changes them\n"
    "  --restart         start a KMS, worker or gateway that dies again, on the same\n"
    "                    port (for crash tests); without it the devnet stops\n"
    "  --allow-host HOST:PORT\n"
    "                    let contracts reach exactly this loopback or private host\n"
    "                    and port, such as a local price API (repeatable, up to 16;\n"
    "                    passed to every worker). Nothing else on loopback is\n"
    "                    reachable: not the chain RPC, not the KMS, which the\n"
    "                    workers refuse as an allowance\n"
    "  --infer-model FILE.gguf\n"
    "                    also start one inference endpoint (`phx infer`) serving this\n"
    "                    model on the devnet's sim TEE; every worker answers\n"
    "                    contracts' phx.ai.chat for --infer-name with it, checking\n"
    "                    its attestation (docs/infer.md). Off by default: loading a\n"
    "                    model costs start-up time the other devnet uses do not need\n"
    "  --infer-name NAME the model name contracts ask for (default tiny)\n"
    "  --test-misbehave I=corrupt\n"
    "                    TEST ONLY: worker I (from 0) signs wrong outputs of on-chain\n"
    "                    requests (phx worker --test-misbehave), to see it outvoted\n"
    "  --chains N        chains contracts reach with phx.evm (default 1): the\n"
    "                    devnet's own chain is \"main\"; each more (up to 4) is\n"
    "                    another anvil, \"b\", \"c\", \"d\", with chain id main's + 1,\n"
    "                    + 2, + 3. Every worker is given all of them; endpoints.json\n"
    "                    lists them under \"chains\" (docs/devnet.md)\n"
    "  --test-misbehave N=MODE\n"
    "                    FOR TESTS ONLY: start worker N (0-based) with `phx worker\n"
    "                    --test-misbehave MODE` (equivocate or corrupt), so a test\n"
    "                    can show the network catching it (repeatable)\n"
    "  --json            print endpoints.json instead of the summary\n\n"
    "One network per directory: DIR/lock holds the running devnet's pid, and a\n"
    "second start on the same DIR is refused, leaving the running network (its\n"
    "endpoints.json, logs, processes) alone. The lock goes with its holder, even\n"
    "after kill -9; a start after that waits for the old network's processes.\n\n"
    "Exit status: 0 after a clean stop, 1 when the network cannot start or a\n"
    "process of it dies, 2 bad usage or DIR in use by another devnet (whose pid\n"
    "is named).\n";

/* The repo's node_modules for a phx in build/ or build-test/, unless given. */
static void node_modules_dir(const char *exe, char *out, size_t cap)
{
    const char *env = getenv("PHX_NODE_MODULES");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return;
    }
    snprintf(out, cap, "%s", exe);
    for (int up = 0; up < 2; up++) { /* strip "/phx", then "/build" */
        char *slash = strrchr(out, '/');
        if (slash) *slash = '\0';
    }
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "/node_modules");
}

static const cli_daemon_spec_t devnet_daemon = {
    .name = "devnet",
    .home_sub = "devnet",
    .home_is_dir = true,
};

static int cmd_devnet(int argc, char **argv)
{
    const char *prefix = "phx devnet";
    if (cli_wants_help(argc, argv)) return cli_help(help);
    enum {
        WORKERS = CLI_DAEMON_NOPTS,
        ANVIL,
        BLOCK,
        RESTART,
        ALLOW,
        NOHAND,
        IMODEL,
        INAME,
        SGX,
        OPERATORS,
        CHAINS,
        MISBEHAVE,
        NOPTS
    };
    cli_opt_t opts[NOPTS];
    cli_daemon_opts(&devnet_daemon, opts);
    opts[WORKERS] = (cli_opt_t){.name = "workers", .takes_value = true};
    opts[ANVIL] = (cli_opt_t){.name = "anvil", .takes_value = true};
    opts[BLOCK] = (cli_opt_t){.name = "block-time", .takes_value = true};
    opts[RESTART] = (cli_opt_t){.name = "restart"};
    opts[NOHAND] = (cli_opt_t){.name = "no-handover"};
    opts[ALLOW] = (cli_opt_t){.name = "allow-host", .takes_value = true, .repeatable = true};
    opts[IMODEL] = (cli_opt_t){.name = "infer-model", .takes_value = true};
    opts[INAME] = (cli_opt_t){.name = "infer-name", .takes_value = true};
    opts[SGX] = (cli_opt_t){.name = "sgx", .takes_value = true};
    opts[OPERATORS] = (cli_opt_t){.name = "operators", .takes_value = true};
    opts[CHAINS] = (cli_opt_t){.name = "chains", .takes_value = true};
    opts[MISBEHAVE] =
        (cli_opt_t){.name = "test-misbehave", .takes_value = true, .repeatable = true};
    cli_daemon_t d;
    char exe[PATH_MAX], nm[PATH_MAX + 32];
    phx_devnet_opts_t o = {.workers = 3};
    phx_devnet_t *dn = NULL;
    phx_error_t e = {0};
    int rc = cli_daemon_parse(&devnet_daemon, prefix, argc, argv, opts, NOPTS, &d);
    if (rc) goto out;
    rc = PHX_EXIT_USAGE;
    if (opts[WORKERS].value) {
        char *end;
        long n = strtol(opts[WORKERS].value, &end, 10);
        if (*end || n < 1 || n > 32) {
            cli_error(rc, prefix, "--workers wants 1..32, got '%s'", opts[WORKERS].value);
            goto out;
        }
        o.workers = (unsigned)n;
    }
    if (opts[SGX].value) {
        char *end;
        long n = strtol(opts[SGX].value, &end, 10);
        if (*end || n < 0 || n > (long)o.workers) {
            cli_error(rc, prefix, "--sgx wants 0..%u (at most --workers), got '%s'", o.workers,
                      opts[SGX].value);
            goto out;
        }
        o.sgx_workers = (unsigned)n;
    }
    if (opts[OPERATORS].value) {
        char *end;
        long n = strtol(opts[OPERATORS].value, &end, 10);
        if (*end || n < 1 || n > (long)o.workers) {
            cli_error(rc, prefix, "--operators wants 1..%u (at most --workers), got '%s'",
                      o.workers, opts[OPERATORS].value);
            goto out;
        }
        o.operators = (unsigned)n;
    }
    if (opts[CHAINS].value) {
        char *end;
        long n = strtol(opts[CHAINS].value, &end, 10);
        if (*end || n < 1 || n > PHX_DEVNET_MAX_CHAINS) {
            cli_error(rc, prefix, "--chains wants 1..%d, got '%s'", PHX_DEVNET_MAX_CHAINS,
                      opts[CHAINS].value);
            goto out;
        }
        o.chains = (unsigned)n;
    }
    if (opts[BLOCK].value) {
        char *end;
        long n = strtol(opts[BLOCK].value, &end, 10);
        if (*end || n < 0 || n > 3600) {
            cli_error(rc, prefix, "--block-time wants seconds, got '%s'", opts[BLOCK].value);
            goto out;
        }
        o.block_time_s = (unsigned)n;
    }
    if (opts[ALLOW].nvalues > PHX_DEVNET_MAX_ALLOW) {
        cli_error(rc, prefix, "at most %d --allow-host", PHX_DEVNET_MAX_ALLOW);
        goto out;
    }
#ifdef PHX_HAVE_WORKER_DAEMON /* the parser lives with the sandbox */
    for (int i = 0; i < opts[ALLOW].nvalues; i++) {
        char h[256];
        uint16_t p;
        if (phx_egress_allowance_parse(opts[ALLOW].values[i], h, sizeof h, &p, &e)) {
            cli_error(rc, prefix, "--allow-host: %s", e.message);
            goto out;
        }
    }
#endif
    for (int i = 0; i < opts[MISBEHAVE].nvalues; i++) {
        const char *v = opts[MISBEHAVE].values[i];
        char *end;
        long k = strtol(v, &end, 10);
        if (end == v || *end != '=' || k < 0 || k >= (long)o.workers ||
            (strcmp(end + 1, "equivocate") && strcmp(end + 1, "corrupt"))) {
            cli_error(rc, prefix,
                      "--test-misbehave wants N=equivocate or N=corrupt with N a worker "
                      "(0..%u), got '%s'",
                      o.workers - 1, v);
            goto out;
        }
    }
    o.test_misbehave = opts[MISBEHAVE].values;
    o.ntest_misbehave = opts[MISBEHAVE].nvalues;
    o.allow_hosts = opts[ALLOW].values;
    o.nallow_hosts = opts[ALLOW].nvalues;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        cli_error(PHX_EXIT_FAIL, prefix, "cannot find my own binary");
        rc = PHX_EXIT_FAIL;
        goto out;
    }
    exe[n] = '\0';
    node_modules_dir(exe, nm, sizeof nm);
    o.dir = d.dir;
    o.phx_bin = exe;
    o.anvil = opts[ANVIL].value;
    o.node_modules = nm;
    o.restart = opts[RESTART].seen;
    o.no_handover = opts[NOHAND].seen;
    char model[PATH_MAX];
    if (opts[IMODEL].value) {
        /* The children run elsewhere: give them the absolute path. */
        if (!realpath(opts[IMODEL].value, model)) {
            cli_error(PHX_EXIT_USAGE, prefix, "--infer-model %s: no such file", opts[IMODEL].value);
            rc = PHX_EXIT_USAGE;
            goto out;
        }
        o.infer_model = model;
        o.infer_name = opts[INAME].value;
    } else if (opts[INAME].value) {
        cli_error(PHX_EXIT_USAGE, prefix, "--infer-name needs --infer-model");
        rc = PHX_EXIT_USAGE;
        goto out;
    }

    /* The lock comes before anything touches DIR: a second devnet here must
     * leave the first one's endpoints.json and logs alone. */
    if ((rc = cli_daemon_begin(&d))) goto out;
    rc = PHX_EXIT_FAIL;
    if (phx_devnet_start(&o, &dn, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    const json_t *ep = phx_devnet_endpoints(dn);
    if (cli_daemon_ready(&d, ep)) {
        const json_t *ws = json_object_get(ep, "workers");
        printf("devnet up in %s (%s chain)\n", d.dir,
               json_is_true(json_object_get(ep, "fresh_chain")) ? "new" : "resumed");
        printf("  chain    %s (chain id %lld)\n", json_string_value(json_object_get(ep, "rpc")),
               (long long)json_integer_value(json_object_get(ep, "chain_id")));
        printf("  kms      %s\n",
               json_string_value(json_object_get(json_object_get(ep, "kms"), "url")));
        for (size_t i = 0; i < json_array_size(ws); i++)
            printf("  worker   %s\n",
                   json_string_value(json_object_get(json_array_get(ws, i), "url")));
        printf("  gateway  %s\n", json_string_value(json_object_get(ep, "gateway")));
        const json_t *inf = json_object_get(ep, "infer");
        if (inf)
            printf("  infer    %s (model %s)\n", json_string_value(json_object_get(inf, "url")),
                   json_string_value(json_object_get(inf, "model")));
        printf("endpoints: %s/endpoints.json; Ctrl-C stops everything\n", d.dir);
    }

    /* Wait for a signal, looking after the children once a second. */
    rc = PHX_EXIT_OK;
    for (;;) {
        if (cli_daemon_wait(&d, 1000)) break;
        if (phx_devnet_check(dn, &e)) {
            cli_error_e(PHX_EXIT_FAIL, prefix, &e);
            rc = PHX_EXIT_FAIL;
            break;
        }
    }
out:
    phx_devnet_stop(dn);
    cli_daemon_close(&d);
    cli_opts_free(opts, NOPTS);
    return rc;
}
PHX_CLI_COMMAND(devnet, "devnet", 330,
                "start the whole network locally (anvil, KMS, workers, gateway)", cmd_devnet)
