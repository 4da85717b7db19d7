/* phx worker: run a worker (src/worker/daemon.c) until SIGINT/SIGTERM. Prints
 * one ready line (or JSON, which the devnet reads) and writes DIR/worker.json;
 * stops gracefully: the job in hand is finished and journaled, requests in
 * flight get 5 s. Built only when the JS sandbox is. */
#ifdef PHX_HAVE_WORKER_DAEMON
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "phx/crypto.h"
#include "phx/infer.h"
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
    "  --public-url URL          the URL announced on chain for gateways to find this\n"
    "                            worker by (Registry.setWorkerEndpoint; default the\n"
    "                            --listen address as http://HOST:PORT). http(s) only,\n"
    "                            at most 200 bytes, no userinfo, query or fragment.\n"
    "                            A gateway routes to it only after the server there\n"
    "                            signs its challenge with this worker's key\n"
    "  --tee sim|sim-sgx|sim-noseal|tdx|sgx\n"
    "                            TEE backend (default sim). Without a sealing key (tdx,\n"
    "                            and sim-noseal to try it) the worker's identity is new\n"
    "                            on every start: it registers again and the operator\n"
    "                            deregisters the one of the earlier start.\n"
    "                            sim-sgx: the sim platform's SGX flavour (SGX v3\n"
    "                            quotes; kind SGX in the Registry; docs/tee.md)\n"
    "  --sim-dir DIR             the sim platform directory (default $PHX_HOME/sim)\n"
    "  --production              refuse the sim TEE\n"
    "  --rpc URL                 chain node\n"
    "  --deployment FILE         contract addresses (phx chain deployment file)\n"
    "  --kms URL                 the KMS to get keys from\n"
    "  --kms-address 0x..        its address, as the Registry lists it\n"
    "  --operator-key-file FILE  the operator's key (0x hex): registers this worker,\n"
    "                            pays its gas; its pool must hold the Registry's minimum stake\n"
    "  --allow-host HOST:PORT    let contracts reach exactly this host and port even\n"
    "                            if it is loopback or private, such as a local price\n"
    "                            API (repeatable; IPv6 as [ADDR]:PORT). Nothing on\n"
    "                            loopback or a private network is reachable otherwise,\n"
    "                            with any TEE; an allowance that reaches the chain RPC,\n"
    "                            the KMS or this worker's API is refused (exit 1)\n"
    "  --poll-ms N               chain poll interval (default 250)\n"
    "  --redeem-every SECONDS    how often the payment vouchers of direct calls are\n"
    "                            redeemed on chain, many in one transaction (default\n"
    "                            600; and always at stop). Keep it well inside the\n"
    "                            Payments notice period, or a payer may withdraw first\n"
    "  --pay-cache-ms N          how long paid direct calls reuse the price and a\n"
    "                            payer's deposit read from Payments (default 2000;\n"
    "                            0 reads the chain on every call). Never past a new\n"
    "                            block the worker has seen, so a price change applies\n"
    "                            within one block and at most N ms; a voucher the\n"
    "                            cached deposit would refuse is checked again first\n"
    "  --no-jobs                 serve the API only; do not follow Jobs requests\n"
    "  --max-concurrent N        contract invocations at once, each its own sandbox\n"
    "                            process (1..4096; default twice the online cores, at\n"
    "                            least 2). A quarter of them (at least one) is kept\n"
    "                            for on-chain jobs, so direct calls never starve paid\n"
    "                            requests. Direct calls beyond the rest wait in a\n"
    "                            bounded, fair queue; when it is full the call is\n"
    "                            answered 429 with Retry-After\n"
    "  --max-per-contract N      direct calls of one contract at once (default half\n"
    "                            the direct slots, at least 1): one slow or flooded\n"
    "                            contract cannot hold every slot\n"
    "  --max-per-owner N         direct calls of all one owner's contracts at once\n"
    "                            (default the per-contract cap plus half the direct\n"
    "                            slots left over): an owner with many contracts\n"
    "                            cannot hold every slot either. Waiting calls are\n"
    "                            served owner by owner, the owner with the fewest\n"
    "                            running first, then its contracts in turn\n"
    "  --ai-endpoint MODEL=URL   answer contracts' phx.ai.chat for MODEL with the\n"
    "                            `phx infer` endpoint at URL (repeatable) when no\n"
    "                            endpoint for MODEL is registered on chain (a test\n"
    "                            override). Otherwise, with --ai-trust-sim-root or\n"
    "                            --ai-collateral, the newest active endpoint in the\n"
    "                            deployment's InferenceRegistry serves MODEL, and\n"
    "                            one whose live report differs from its on-chain\n"
    "                            record (keys, model hash, measurement) is refused.\n"
    "                            Attestation is checked on first use, and every\n"
    "                            answer's signature against it (docs/infer.md)\n"
    "  --ai-trust-sim-root DIR   endpoints' quotes verify to the sim platform in DIR\n"
    "                            (and its collateral); development networks only\n"
    "  --ai-collateral FILE      collateral for the endpoints' quotes (Intel's root)\n"
    "  --ai-tokens N             completion tokens per invocation (default 1024)\n"
    "  --peer URL                another worker's API to ask for its signed observations\n"
    "                            of on-chain requests that need k > 1 signatures, besides\n"
    "                            the peers found on chain: every active worker of the\n"
    "                            Registry at the URL it announced (repeatable, up to 32\n"
    "                            peers in all; docs/worker.md \"k-of-n\"). A peer is\n"
    "                            trusted for nothing: only observations signed by active\n"
    "                            workers of the Registry count\n"
    "  --test-misbehave corrupt  TEST ONLY, refused unless --tee is sim or sim-noseal:\n"
    "                            sign a wrong output instead of the real one for every\n"
    "                            on-chain request (to test that the other workers\n"
    "                            outvote it and report its dissent)\n"
    "  --chain-rpc NAME=URL      a chain contracts reach as NAME with phx.evm\n"
    "                            (repeatable; NAME=URL#ID checks the chain id, which\n"
    "                            is read from the node at start either way). The\n"
    "                            worker's own --rpc is not a phx.evm chain unless\n"
    "                            named here too (docs/js.md \"Chains\")\n"
    "  --json                    print the ready line as JSON\n"
    "  --test-misbehave MODE     FOR TESTS ONLY, and only with the sim TEE (exit 2\n"
    "                            otherwise): make this worker cheat the way the\n"
    "                            network must catch. equivocate: for every on-chain\n"
    "                            request it serves, also sign a second, different\n"
    "                            output and publish both signed results at\n"
    "                            GET /v1/jobs/ID/results (the proof `phx stake\n"
    "                            report-equivocation` takes). corrupt: sign and\n"
    "                            submit a wrong output instead of the real one\n\n"
    "One process per state directory: DIR/lock holds the running one's pid, and a\n"
    "second start on the same DIR is refused (the lock goes with its holder, even\n"
    "after kill -9).\n\n"
    "Exit status: 0 after a clean stop, 1 when the worker cannot start, 2 bad usage\n"
    "or DIR in use by another process (whose pid is named).\n";

static const cli_daemon_spec_t worker_daemon = {
    .name = "worker",
    .home_sub = "worker",
    .ready_file = true,
    .default_port = 8800,
    .want = CLI_DAEMON_WANT_LISTEN | CLI_DAEMON_WANT_TEE | CLI_DAEMON_WANT_CHAIN |
            CLI_DAEMON_WANT_OPKEY,
};

static int cmd_worker(int argc, char **argv)
{
    const char *prefix = "phx worker";
    if (cli_wants_help(argc, argv)) return cli_help(help);
    enum {
        KMS = CLI_DAEMON_NOPTS,
        KADDR,
        ALLOW,
        POLL,
        REDEEM,
        NOJOBS,
        MAXC,
        MAXPC,
        MAXPO,
        AIEP,
        AIROOT,
        AICOLL,
        AITOK,
        PEER,
        CHAINS,
        MISBEHAVE,
        PAYCACHE,
        PUBURL,
        NOPTS
    };
    cli_opt_t opts[NOPTS];
    cli_daemon_opts(&worker_daemon, opts);
    opts[KMS] = (cli_opt_t){.name = "kms", .takes_value = true};
    opts[KADDR] = (cli_opt_t){.name = "kms-address", .takes_value = true};
    opts[ALLOW] = (cli_opt_t){.name = "allow-host", .takes_value = true, .repeatable = true};
    opts[POLL] = (cli_opt_t){.name = "poll-ms", .takes_value = true};
    opts[REDEEM] = (cli_opt_t){.name = "redeem-every", .takes_value = true};
    opts[NOJOBS] = (cli_opt_t){.name = "no-jobs"};
    opts[AIEP] = (cli_opt_t){.name = "ai-endpoint", .takes_value = true, .repeatable = true};
    opts[AIROOT] = (cli_opt_t){.name = "ai-trust-sim-root", .takes_value = true};
    opts[AICOLL] = (cli_opt_t){.name = "ai-collateral", .takes_value = true};
    opts[AITOK] = (cli_opt_t){.name = "ai-tokens", .takes_value = true};
    opts[CHAINS] = (cli_opt_t){.name = "chain-rpc", .takes_value = true, .repeatable = true};
    opts[PUBURL] = (cli_opt_t){.name = "public-url", .takes_value = true};
    opts[MAXC] = (cli_opt_t){.name = "max-concurrent", .takes_value = true};
    opts[MAXPC] = (cli_opt_t){.name = "max-per-contract", .takes_value = true};
    opts[MAXPO] = (cli_opt_t){.name = "max-per-owner", .takes_value = true};
    opts[PEER] = (cli_opt_t){.name = "peer", .takes_value = true, .repeatable = true};
    opts[MISBEHAVE] = (cli_opt_t){.name = "test-misbehave", .takes_value = true};
    opts[PAYCACHE] = (cli_opt_t){.name = "pay-cache-ms", .takes_value = true};
    cli_daemon_t d;
    phx_error_t e = {0};
    phx_worker_opts_t o = {0};
    const char **allow = NULL;
    phx_worker_t *w = NULL;
    phx_infer_client_t *ai = NULL;
    phx_sandbox_chains_t *chains = NULL;
    json_t *ready = NULL;
    int rc = cli_daemon_parse(&worker_daemon, prefix, argc, argv, opts, NOPTS, &d);
    if (rc) goto out;
    rc = PHX_EXIT_USAGE;
    if (!d.have_chain || !opts[KMS].value || !opts[KADDR].value || !d.have_operator_key) {
        cli_error(rc, prefix,
                  "needs --rpc, --deployment, --kms, --kms-address and --operator-key-file");
        goto out;
    }
    if (phx_hex_decode_fixed(opts[KADDR].value, o.kms_address, 20, &e)) {
        cli_error(rc, prefix, "--kms-address: %s", e.message);
        goto out;
    }
    if (opts[PUBURL].value &&
        phx_chain_endpoint_check(opts[PUBURL].value, strlen(opts[PUBURL].value), &e)) {
        cli_error(rc, prefix, "--public-url: %s", e.message);
        goto out;
    }
    o.public_url = opts[PUBURL].value;
    if (opts[POLL].value) o.poll_ms = strtoull(opts[POLL].value, NULL, 10);
    if (opts[REDEEM].value) {
        char *end = NULL;
        unsigned long long s = strtoull(opts[REDEEM].value, &end, 10);
        if (!end || *end || s < 1 || s > 86400 * 30) {
            rc = cli_error(PHX_EXIT_USAGE, prefix, "--redeem-every: seconds, 1 .. 30 days");
            goto out;
        }
        o.redeem_every_ms = s * 1000;
    }
    for (int i = MAXC; i <= MAXPO; i++) {
        if (!opts[i].value) continue;
        char *end;
        unsigned long v = strtoul(opts[i].value, &end, 10);
        if (end == opts[i].value || *end || v < 1 || v > 4096) {
            cli_error(rc, prefix, "--%s must be a number from 1 to 4096", opts[i].name);
            goto out;
        }
        if (i == MAXC)
            o.max_concurrent = (unsigned)(v < 2 ? 2 : v);
        else if (i == MAXPC)
            o.max_per_contract = (unsigned)v;
        else
            o.max_per_owner = (unsigned)v;
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
    o.tee = d.tee;
    o.dir = d.dir;
    o.tee_config = &d.tee_config;
    o.host = d.host;
    o.port = d.port;
    o.rpc_url = d.rpc_url;
    o.deployment = &d.deployment;
    o.kms_url = opts[KMS].value;
    o.operator_sk = d.operator_sk;
    o.allow_hosts = allow;
    o.nallow_hosts = nallow;
    o.no_jobs = opts[NOJOBS].seen;
    if (opts[PEER].nvalues > PHX_WORKER_MAX_PEERS) {
        cli_error(rc, prefix, "--peer: at most %d", PHX_WORKER_MAX_PEERS);
        goto out;
    }
    for (int i = 0; i < opts[PEER].nvalues; i++)
        if (strncmp(opts[PEER].values[i], "http://", 7) &&
            strncmp(opts[PEER].values[i], "https://", 8)) {
            cli_error(rc, prefix, "--peer %s: not an http:// or https:// URL",
                      opts[PEER].values[i]);
            goto out;
        }
    o.peers = opts[PEER].values;
    o.npeers = opts[PEER].nvalues;
    if (opts[PAYCACHE].value) {
        char *end;
        unsigned long v = strtoul(opts[PAYCACHE].value, &end, 10);
        if (end == opts[PAYCACHE].value || *end || v > 60000) {
            cli_error(rc, prefix, "--pay-cache-ms must be a number from 0 to 60000");
            goto out;
        }
        o.pay_cache_ms = v;
        o.no_pay_cache = v == 0;
    }
    if (opts[MISBEHAVE].value) {
        const char *m = opts[MISBEHAVE].value;
        if (!strcmp(m, "equivocate")) {
            o.misbehave = PHX_WORKER_EQUIVOCATE;
        } else if (!strcmp(m, "corrupt")) {
            o.misbehave = PHX_WORKER_CORRUPT;
        } else {
            cli_error(rc, prefix, "--test-misbehave: 'equivocate' or 'corrupt', not '%s'", m);
            goto out;
        }
        if (d.tee != PHX_TEE_SIM) {
            cli_error(rc, prefix, "--test-misbehave is for tests on the sim TEE only, not --tee %s",
                      phx_tee_kind_name(d.tee));
            goto out;
        }
    }
    if (opts[AITOK].value) {
        char *end;
        unsigned long v = strtoul(opts[AITOK].value, &end, 10);
        if (end == opts[AITOK].value || *end || v < 1 || v > 1000000) {
            cli_error(rc, prefix, "--ai-tokens must be a number from 1 to 1000000");
            goto out;
        }
        o.ai_tokens = (uint32_t)v;
    }
    if ((rc = cli_ai_client(prefix, opts[AIEP].values, opts[AIEP].nvalues, opts[AIROOT].value,
                            opts[AICOLL].value, d.rpc_url, &d.deployment, &ai)))
        goto out;
    if ((rc = cli_chains(prefix, opts[CHAINS].values, opts[CHAINS].nvalues, &chains))) goto out;
    o.chains = chains;
    rc = PHX_EXIT_USAGE;
    if (ai) {
        o.ai_chat = phx_infer_client_chat;
        o.ai_ctx = ai;
    }

    if ((rc = cli_daemon_begin(&d))) goto out;
    rc = PHX_EXIT_FAIL;
    if (phx_worker_start(&o, &w, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    /* The worker keeps what it needs; the key has no business here any more. */
    phx_secure_zero(d.operator_sk, sizeof d.operator_sk);
    uint8_t addr[20], xpub[32], mr[32];
    phx_worker_identity(w, addr, xpub, mr);
    char checksum[43];
    phx_eth_address_checksum(addr, checksum);
    ready = json_pack("{s:s,s:s,s:o,s:o,s:s,s:i}", "url", phx_worker_url(w), "address", checksum,
                      "x25519_pub", phx_json_hex(xpub, 32), "measurement", phx_json_hex(mr, 32),
                      "tee", phx_tee_kind_name(o.tee), "pid", (int)getpid());
    if (cli_daemon_ready(&d, ready)) {
        printf("worker listening on %s\nworker address %s\nmeasurement ", phx_worker_url(w),
               checksum);
        cli_daemon_print_hex32(mr);
        printf("\n");
    }
    PHX_INFO("worker %s serving on %s", checksum, phx_worker_url(w));
    cli_daemon_wait(&d, 0);
    phx_worker_stop(w, 5000);
    w = NULL;
    rc = PHX_EXIT_OK;
out:
    phx_worker_stop(w, 0);
    phx_infer_client_free(ai);
    phx_sandbox_chains_free(chains);
    json_decref(ready);
    free(allow);
    cli_daemon_close(&d);
    cli_opts_free(opts, NOPTS);
    return rc;
}

PHX_CLI_COMMAND(worker, "worker", 310, "run a worker: TEE runtime, contracts, on-chain jobs",
                cmd_worker)
#else
/* Without the JS sandbox this build has no worker verb (ISO C wants something here). */
typedef int phx_cmd_worker_unavailable_t;
#endif
