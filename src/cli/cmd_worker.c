/* phx worker: run a worker (src/worker/daemon.c) until SIGINT/SIGTERM. Prints
 * one ready line (or JSON, which the devnet reads) and writes DIR/worker.json;
 * stops gracefully: the job in hand is finished and journaled, requests in
 * flight get 5 s. Built only when the JS sandbox is. */
#ifdef PHX_HAVE_WORKER_DAEMON
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "phx/crypto.h"
#include "phx/sandbox.h"
#include "phx/worker.h"

static const char help[] =
    "usage: phx worker --rpc URL --deployment FILE --kms URL --kms-address 0x..\n"
    "                  --operator-key-file FILE [options]\n\n"
    "Run a worker: the TEE runtime that runs contracts. On start it opens the TEE,\n"
    "loads (or makes and seals) its identity keys, registers on chain through the\n"
    "KMS with the operator's account, gets the contract key root from the KMS, then\n"
    "serves its HTTP API and fulfils Jobs requests from the chain. docs/worker.md.\n\n"
    "Options:\n"
    "  --dir DIR                 state directory (default $PHX_HOME/worker, else ~/.phx/worker)\n"
    "  --listen HOST:PORT        where to serve (default 127.0.0.1:8800; port 0 = any free)\n"
    "  --tee sim|sim-noseal|tdx|sgx\n"
    "                            TEE backend (default sim). Without a sealing key (tdx,\n"
    "                            and sim-noseal to try it) the worker's identity is new\n"
    "                            on every start: it registers again and the operator\n"
    "                            deregisters the one of the earlier start\n"
    "  --sim-dir DIR             the sim platform directory (default $PHX_HOME/sim)\n"
    "  --production              refuse the sim TEE\n"
    "  --rpc URL                 chain node\n"
    "  --deployment FILE         contract addresses (phx chain deployment file)\n"
    "  --kms URL                 the KMS to get keys from\n"
    "  --kms-address 0x..        its address, as the Registry lists it\n"
    "  --operator-key-file FILE  the operator's key (0x hex): registers this worker,\n"
    "                            pays its gas; must have bonded the Registry's stake\n"
    "  --allow-host HOST:PORT    let contracts reach exactly this host and port even\n"
    "                            if it is loopback or private, such as a local price\n"
    "                            API (repeatable; IPv6 as [ADDR]:PORT). Nothing on\n"
    "                            loopback or a private network is reachable otherwise,\n"
    "                            with any TEE; an allowance that reaches the chain RPC,\n"
    "                            the KMS or this worker's API is refused (exit 1)\n"
    "  --poll-ms N               chain poll interval (default 250)\n"
    "  --no-jobs                 serve the API only; do not follow Jobs requests\n"
    "  --json                    print the ready line as JSON\n\n"
    "Exit status: 0 after a clean stop, 1 when the worker cannot start, 2 bad usage.\n";

static int cmd_worker(int argc, char **argv)
{
    const char *prefix = "phx worker";
    if (cli_wants_help(argc, argv)) return cli_help(help);
    enum {
        DIR_,
        LISTEN,
        TEE,
        SIMDIR,
        PROD,
        RPC,
        DEPL,
        KMS,
        KADDR,
        OPKEY,
        ALLOW,
        POLL,
        NOJOBS,
        JSON,
        NOPTS
    };
    cli_opt_t opts[NOPTS] = {
        [DIR_] = {.name = "dir", .takes_value = true},
        [LISTEN] = {.name = "listen", .takes_value = true},
        [TEE] = {.name = "tee", .takes_value = true},
        [SIMDIR] = {.name = "sim-dir", .takes_value = true},
        [PROD] = {.name = "production"},
        [RPC] = {.name = "rpc", .takes_value = true},
        [DEPL] = {.name = "deployment", .takes_value = true},
        [KMS] = {.name = "kms", .takes_value = true},
        [KADDR] = {.name = "kms-address", .takes_value = true},
        [OPKEY] = {.name = "operator-key-file", .takes_value = true},
        [ALLOW] = {.name = "allow-host", .takes_value = true, .repeatable = true},
        [POLL] = {.name = "poll-ms", .takes_value = true},
        [NOJOBS] = {.name = "no-jobs"},
        [JSON] = {.name = "json"},
    };
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, NOPTS, &args);
    if (rc) return rc;
    phx_error_t e = {0};
    char dir[1024], host[256] = "127.0.0.1";
    uint16_t port = 8800;
    uint8_t op_sk[32];
    phx_chain_deployment_t dep;
    phx_tee_config_t tc = {0};
    phx_worker_opts_t o = {0};
    phx_buf_t key_text = PHX_BUF_INIT;
    key_text.secret = true;
    const char **allow = NULL;
    phx_worker_t *w = NULL;
    json_t *ready = NULL;
    rc = PHX_EXIT_USAGE;
    if (args.npos) {
        cli_error(rc, prefix, "takes no arguments (see --help)");
        goto out;
    }
    if (opts[DIR_].value) {
        snprintf(dir, sizeof dir, "%s", opts[DIR_].value);
    } else if (phx_home_dir("worker", dir, sizeof dir, &e)) {
        cli_error(rc, prefix, "no --dir: %s", e.message);
        goto out;
    }
    if (opts[LISTEN].value && cli_parse_hostport(opts[LISTEN].value, host, sizeof host, &port)) {
        cli_error(rc, prefix, "--listen wants HOST:PORT, got '%s'", opts[LISTEN].value);
        goto out;
    }
    o.tee = PHX_TEE_SIM;
    if (opts[TEE].value && phx_tee_spec_parse(opts[TEE].value, &o.tee, &tc, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    if (!opts[RPC].value || !opts[DEPL].value || !opts[KMS].value || !opts[KADDR].value ||
        !opts[OPKEY].value) {
        cli_error(rc, prefix,
                  "needs --rpc, --deployment, --kms, --kms-address and --operator-key-file");
        goto out;
    }
    if (phx_hex_decode_fixed(opts[KADDR].value, o.kms_address, 20, &e)) {
        cli_error(rc, prefix, "--kms-address: %s", e.message);
        goto out;
    }
    if (opts[POLL].value) o.poll_ms = strtoull(opts[POLL].value, NULL, 10);
    if (phx_chain_deployment_load(opts[DEPL].value, &dep, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    if (phx_file_read(opts[OPKEY].value, &key_text, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    char *nl = strpbrk((char *)key_text.ptr, "\r\n");
    if (nl) *nl = '\0';
    if (phx_hex_decode_fixed((const char *)key_text.ptr, op_sk, 32, &e)) {
        cli_error(rc, prefix, "--operator-key-file: %s", e.message);
        goto out;
    }
    int nallow = opts[ALLOW].nvalues;
    allow = calloc((size_t)nallow + 1, sizeof *allow);
    if (!allow) goto out;
    /* No blanket loopback exemption, not even on a devnet: its chain RPC and
     * KMS live on loopback too. Only what the operator names, host and port. */
    for (int i = 0; i < nallow; i++) {
        char h[256];
        uint16_t p;
        if (phx_egress_allowance_parse(opts[ALLOW].values[i], h, sizeof h, &p, &e)) {
            cli_error(rc, prefix, "--allow-host: %s", e.message);
            goto out;
        }
        allow[i] = opts[ALLOW].values[i];
    }
    tc.sim_dir = opts[SIMDIR].value;
    tc.production = opts[PROD].seen;
    o.dir = dir;
    o.tee_config = &tc;
    o.host = host;
    o.port = port;
    o.rpc_url = opts[RPC].value;
    o.deployment = &dep;
    o.kms_url = opts[KMS].value;
    o.operator_sk = op_sk;
    o.allow_hosts = allow;
    o.nallow_hosts = nallow;
    o.no_jobs = opts[NOJOBS].seen;

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    phx_log_set_component("worker");
    rc = PHX_EXIT_FAIL;
    if (phx_worker_start(&o, &w, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    phx_secure_zero(op_sk, sizeof op_sk);
    uint8_t addr[20], xpub[32], mr[32];
    phx_worker_identity(w, addr, xpub, mr);
    char checksum[43];
    phx_eth_address_checksum(addr, checksum);
    ready = json_pack("{s:s,s:s,s:o,s:o,s:s,s:i}", "url", phx_worker_url(w), "address", checksum,
                      "x25519_pub", phx_json_hex(xpub, 32), "measurement", phx_json_hex(mr, 32),
                      "tee", phx_tee_kind_name(o.tee), "pid", (int)getpid());
    char path[1100];
    snprintf(path, sizeof path, "%s/worker.json", dir);
    char *text = ready ? phx_json_dump(ready, true) : NULL;
    if (!text || phx_file_write_atomic(path, text, strlen(text), 0644, &e))
        PHX_WARN("could not write %s: %s", path, e.message);
    free(text);
    if (opts[JSON].seen) {
        cli_print_json(ready);
    } else {
        printf("worker listening on %s\nworker address %s\nmeasurement 0x", phx_worker_url(w),
               checksum);
        for (int i = 0; i < 32; i++)
            printf("%02x", mr[i]);
        printf("\n");
    }
    fflush(stdout);
    PHX_INFO("worker %s serving on %s", checksum, phx_worker_url(w));
    int sig = 0;
    sigwait(&sigs, &sig);
    PHX_INFO("worker: signal %d, stopping", sig);
    phx_worker_stop(w, 5000);
    w = NULL;
    rc = PHX_EXIT_OK;
out:
    phx_worker_stop(w, 0);
    phx_secure_zero(op_sk, sizeof op_sk);
    json_decref(ready);
    free(allow);
    phx_buf_free(&key_text);
    cli_opts_free(opts, NOPTS);
    return rc;
}

PHX_CLI_COMMAND(worker, "worker", 310, "run a worker: TEE runtime, contracts, on-chain jobs",
                cmd_worker)
#else
/* Without the JS sandbox this build has no worker verb (ISO C wants something here). */
typedef int phx_cmd_worker_unavailable_t;
#endif
