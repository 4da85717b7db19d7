/* The start-up and shutdown every long-running verb shares (phx kms, worker,
 * gateway, devnet): the common options, the state directory and its lock, the
 * operator key file, the signal mask, the ready file and line, and the
 * wait-for-a-signal loop. CLI-internal; each cmd_<verb>.c keeps only what is
 * its own. */
#ifndef PHX_CLI_DAEMON_H
#define PHX_CLI_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "phx/chain.h"
#include "phx/tee.h"

/* The common options sit first in a verb's option array, in this order; a
 * verb's own enum continues from CLI_DAEMON_NOPTS. An option a verb does not
 * offer is left without a name (cli_parse then treats it as unknown). */
enum {
    CLI_DAEMON_DIR,
    CLI_DAEMON_LISTEN,
    CLI_DAEMON_TEE,
    CLI_DAEMON_SIMDIR,
    CLI_DAEMON_PROD,
    CLI_DAEMON_RPC,
    CLI_DAEMON_DEPL,
    CLI_DAEMON_OPKEY,
    CLI_DAEMON_JSON,
    CLI_DAEMON_NOPTS
};

/* Which common options a verb offers. */
enum {
    CLI_DAEMON_WANT_LISTEN = 1 << 0, /* --listen HOST:PORT */
    CLI_DAEMON_WANT_TEE = 1 << 1,    /* --tee, --sim-dir, --production */
    CLI_DAEMON_WANT_CHAIN = 1 << 2,  /* --rpc with --deployment (both or neither) */
    CLI_DAEMON_WANT_OPKEY = 1 << 3,  /* --operator-key-file (needs the chain) */
};

typedef struct {
    const char *name;      /* "kms": log component, ready file DIR/<name>.json */
    const char *home_sub;  /* default --dir: $PHX_HOME/<home_sub>, else ~/.phx/<home_sub> */
    bool home_is_dir;      /* devnet: $PHX_HOME itself, else ~/.phx/<home_sub> */
    bool ready_file;       /* write DIR/<name>.json on ready */
    uint16_t default_port; /* --listen default on 127.0.0.1 */
    unsigned want;         /* CLI_DAEMON_WANT_* */
} cli_daemon_spec_t;

typedef struct {
    const cli_daemon_spec_t *spec;
    const char *prefix; /* "phx kms", for messages */
    char dir[1024];
    char host[256];
    uint16_t port;
    phx_tee_kind_t tee;
    phx_tee_config_t tee_config;
    bool have_chain; /* --rpc and --deployment given */
    const char *rpc_url;
    phx_chain_deployment_t deployment;
    bool have_operator_key;
    uint8_t operator_sk[32]; /* zeroed by cli_daemon_close */
    bool json;
    sigset_t signals; /* SIGINT, SIGTERM, SIGHUP: blocked, taken by sigwait */
    int lock_fd;
} cli_daemon_t;

/* Name the common options in opts[0 .. CLI_DAEMON_NOPTS) that spec offers. */
void cli_daemon_opts(const cli_daemon_spec_t *spec, cli_opt_t *opts);

/* Parse argv into opts and args (no positional arguments are allowed) and
 * read the common options into d. Prints the problem and returns 2 on bad
 * usage or input; 0 on success. Call cli_daemon_close(d) in every case. */
int cli_daemon_parse(const cli_daemon_spec_t *spec, const char *prefix, int argc, char **argv,
                     cli_opt_t *opts, int nopts, cli_daemon_t *d);

/* Block the stop signals (before any thread starts, so every thread inherits
 * the mask and only sigwait takes them), name the log component, create the
 * state directory and lock it. Returns 0, 2 when another process holds the
 * directory (its pid named), 1 on any other failure; prints the problem. */
int cli_daemon_begin(cli_daemon_t *d);

/* The service is up: write DIR/<name>.json (when the spec says so) from ready
 * and, with --json, print ready as the ready line. Returns true when the
 * caller should print its own human ready line instead (no --json). */
bool cli_daemon_ready(cli_daemon_t *d, const json_t *ready);

/* Print 32 bytes as "0x..." (the measurement on the human ready lines). */
void cli_daemon_print_hex32(const uint8_t v[32]);

/* Wait up to timeout_ms (0: no limit) for a stop signal: the signal number,
 * or 0 when the time passed first (a signal is logged as the reason to stop).
 * Stdout is flushed first. */
int cli_daemon_wait(cli_daemon_t *d, uint64_t timeout_ms);

/* Zero the operator key, release the lock. Accepts a d that never parsed. */
void cli_daemon_close(cli_daemon_t *d);

#endif
