/* phx kms: run a KMS node (src/kms/node.c) until SIGINT/SIGTERM. Prints one
 * ready line (or JSON) and writes DIR/kms.json so scripts and the devnet can
 * find it; stops gracefully, letting requests in flight finish. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "phx/crypto.h"
#include "phx/kms_node.h"

static const char help[] =
    "usage: phx kms [options]\n\n"
    "Run a key management node. The root secret is made inside the TEE on first\n"
    "start and kept only sealed to this TEE's measurement (DIR/kms-root.sealed),\n"
    "or, in a TEE without a sealing key, only in the memory of running KMS nodes.\n"
    "Workers get key material only with a quote that verifies, binds their keys,\n"
    "and whose measurement the chain (or the allowlist) allows. docs/kms.md has the API.\n\n"
    "Options:\n"
    "  --dir DIR                state directory (default $PHX_HOME/kms, else ~/.phx/kms)\n"
    "  --listen HOST:PORT       where to serve (default 127.0.0.1:8700; port 0 = any free)\n"
    "  --tee sim|sim-sgx|sim-noseal|tdx|sgx\n"
    "                           TEE backend (default sim). Without a sealing key (tdx,\n"
    "                           and sim-noseal to try it) the root is kept only in\n"
    "                           memory: a restart needs --onboard-from a running peer.\n"
    "                           sim-sgx: the sim platform's SGX flavour (SGX v3\n"
    "                           quotes; docs/tee.md)\n"
    "  --sim-dir DIR            the sim platform directory (default $PHX_HOME/sim)\n"
    "  --production             refuse the sim TEE\n"
    "  --rpc URL                chain node; with --deployment, the Registry decides who\n"
    "  --deployment FILE        contract addresses (phx chain deployment file)\n"
    "  --operator-key-file FILE a replica with --rpc: the account (0x hex key) that pays\n"
    "                           for Registry.admitKmsByQuorum after the KMS it onboards\n"
    "                           from vouched for its quote; without it governance must\n"
    "                           admit the replica's onboarding key. A first KMS is\n"
    "                           admitted by governance: `phx chain admit-kms URL`\n"
    "  --allow-measurement HEX  without a chain: allow this measurement id (repeatable)\n"
    "  --allow-own-measurement  without a chain: allow workers running this same binary\n"
    "  --trust-sim-root DIR     accept quotes from the sim platform in DIR (with the sim\n"
    "                           TEE and no --production, its own platform is trusted)\n"
    "  --policy FILE            TCB policy JSON (default: UpToDate, SWHardeningNeeded)\n"
    "  --onboard-from URL       replica: fetch the root from the KMS at URL on first start\n"
    "                           (every start without a sealing key); the address to\n"
    "                           admit as a KMS node first is in DIR/onboarding.json\n"
    "  --kms-address 0x..       the address of that KMS (as the chain lists it)\n"
    "  --rate N                 per-client requests per second (default: no limit)\n"
    "  --json                   print the ready line as JSON\n\n"
    "One process per state directory: DIR/lock holds the running one's pid, and a\n"
    "second start on the same DIR is refused (the lock goes with its holder, even\n"
    "after kill -9).\n\n"
    "Exit status: 0 after a clean stop, 1 when the node cannot start, 2 bad usage\n"
    "or DIR in use by another process (whose pid is named).\n";

static const cli_daemon_spec_t kms_daemon = {
    .name = "kms",
    .home_sub = "kms",
    .ready_file = true,
    .default_port = 8700,
    .want = CLI_DAEMON_WANT_LISTEN | CLI_DAEMON_WANT_TEE | CLI_DAEMON_WANT_CHAIN |
            CLI_DAEMON_WANT_OPKEY,
};

static int cmd_kms(int argc, char **argv)
{
    const char *prefix = "phx kms";
    if (cli_wants_help(argc, argv)) return cli_help(help);
    enum { ALLOW = CLI_DAEMON_NOPTS, ALLOWOWN, TRUST, POLICY, ONBOARD, KADDR, RATE, NOPTS };
    cli_opt_t opts[NOPTS];
    cli_daemon_opts(&kms_daemon, opts);
    opts[ALLOW] = (cli_opt_t){.name = "allow-measurement", .takes_value = true, .repeatable = true};
    opts[ALLOWOWN] = (cli_opt_t){.name = "allow-own-measurement"};
    opts[TRUST] = (cli_opt_t){.name = "trust-sim-root", .takes_value = true};
    opts[POLICY] = (cli_opt_t){.name = "policy", .takes_value = true};
    opts[ONBOARD] = (cli_opt_t){.name = "onboard-from", .takes_value = true};
    opts[KADDR] = (cli_opt_t){.name = "kms-address", .takes_value = true};
    opts[RATE] = (cli_opt_t){.name = "rate", .takes_value = true};
    cli_daemon_t d;
    phx_error_t e = {0};
    uint8_t(*allow)[32] = NULL, kms_address[20];
    phx_kms_node_opts_t o = {0};
    phx_attest_policy_doc_t *policy = NULL;
    phx_buf_t root_der = PHX_BUF_INIT, policy_text = PHX_BUF_INIT;
    phx_kms_node_t *node = NULL;
    json_t *ready = NULL;
    int rc = cli_daemon_parse(&kms_daemon, prefix, argc, argv, opts, NOPTS, &d);
    if (rc) goto out;
    rc = PHX_EXIT_USAGE;
    o.tee = d.tee;
    o.tee_config = &d.tee_config;
    o.dir = d.dir;
    o.host = d.host;
    o.port = d.port;
    if (opts[RATE].value) o.rate_per_s = atof(opts[RATE].value);
    if (d.have_chain) {
        o.rpc_url = d.rpc_url;
        o.deployment = &d.deployment;
    }
    if (opts[ALLOW].nvalues) {
        allow = calloc((size_t)opts[ALLOW].nvalues, 32);
        if (!allow) goto out;
        for (int i = 0; i < opts[ALLOW].nvalues; i++)
            if (phx_hex_decode_fixed(opts[ALLOW].values[i], allow[i], 32, &e)) {
                cli_error(rc, prefix, "--allow-measurement: %s", e.message);
                goto out;
            }
        o.allow = (const uint8_t(*)[32])allow;
        o.allow_count = (size_t)opts[ALLOW].nvalues;
    }
    o.allow_own_measurement = opts[ALLOWOWN].seen;
    if (o.deployment && (o.allow_count || o.allow_own_measurement)) {
        cli_error(rc, prefix, "with a chain the Registry decides; drop --allow-*");
        goto out;
    }
    if (opts[TRUST].value) {
        if (phx_tee_sim_read_root(opts[TRUST].value, &root_der, &e)) {
            cli_error_e(rc, prefix, &e);
            goto out;
        }
        o.root_der = root_der.ptr;
        o.root_der_len = root_der.len;
    } else if (o.tee == PHX_TEE_SIM && !d.tee_config.production) {
        o.trust_own_sim_root = true;
    }
    if (opts[POLICY].value) {
        if (phx_file_read(opts[POLICY].value, &policy_text, &e) ||
            phx_attest_policy_parse((const char *)policy_text.ptr, policy_text.len, &policy, &e)) {
            cli_error_e(rc, prefix, &e);
            goto out;
        }
        o.policy = phx_attest_policy_doc_get(policy);
    }
    if (opts[ONBOARD].seen != opts[KADDR].seen) {
        cli_error(rc, prefix, "--onboard-from and --kms-address go together");
        goto out;
    }
    if (d.have_operator_key && !opts[ONBOARD].value) {
        cli_error(rc, prefix,
                  "--operator-key-file pays a replica's quorum admission (with --onboard-from);"
                  " a first KMS is admitted by governance: phx chain admit-kms URL");
        goto out;
    }
    if (d.have_operator_key) o.quorum_sender_sk = d.operator_sk;
    if (opts[KADDR].value) {
        if (phx_hex_decode_fixed(opts[KADDR].value, kms_address, 20, &e)) {
            cli_error(rc, prefix, "--kms-address: %s", e.message);
            goto out;
        }
        o.onboard_url = opts[ONBOARD].value;
        o.onboard_kms_address = kms_address;
    }

    if ((rc = cli_daemon_begin(&d))) goto out;
    rc = PHX_EXIT_FAIL;
    if (phx_kms_node_start(&o, &node, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    uint8_t addr[20], xpub[32], mr[32];
    phx_kms_address(phx_kms_node_kms(node), addr);
    phx_kms_x25519_pub(phx_kms_node_kms(node), xpub);
    phx_kms_node_measurement(node, mr);
    char checksum[43];
    phx_eth_address_checksum(addr, checksum);
    ready = json_pack("{s:s,s:s,s:o,s:o,s:b,s:s,s:i}", "url", phx_kms_node_url(node), "kms_address",
                      checksum, "x25519_pub", phx_json_hex(xpub, 32), "measurement",
                      phx_json_hex(mr, 32), "created_root", phx_kms_node_created_root(node), "root",
                      phx_kms_node_root_origin(node), "pid", (int)getpid());
    if (cli_daemon_ready(&d, ready)) {
        printf("kms listening on %s\nkms address %s\nmeasurement ", phx_kms_node_url(node),
               checksum);
        cli_daemon_print_hex32(mr);
        printf("\nroot: %s\n", phx_kms_node_root_origin(node));
    }
    PHX_INFO("kms %s serving on %s", checksum, phx_kms_node_url(node));

    cli_daemon_wait(&d, 0);
    phx_kms_node_stop(node, 5000);
    node = NULL;
    rc = PHX_EXIT_OK;
out:
    phx_kms_node_stop(node, 0);
    json_decref(ready);
    phx_attest_policy_free(policy);
    phx_buf_free(&policy_text);
    phx_buf_free(&root_der);
    free(allow);
    cli_daemon_close(&d);
    cli_opts_free(opts, NOPTS);
    return rc;
}
PHX_CLI_COMMAND(kms, "kms", 300, "run a key management node (root secret sealed in its TEE)",
                cmd_kms)
