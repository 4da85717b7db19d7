/* The CLI layer: the only place that prints to stdout or exits (STYLE.md).
 * Each verb lives in its own cmd_<verb>.c and registers itself with
 * PHX_CLI_COMMAND; main.c dispatches git-style. */
#ifndef PHX_CLI_H
#define PHX_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "phx/attest.h"
#include "phx/chain.h"
#include "phx/core.h"
#include "phx/json.h"

/* Exit codes, everywhere: 0 ok, 1 the checked thing failed, 2 usage or input. */
enum { PHX_EXIT_OK = 0, PHX_EXIT_FAIL = 1, PHX_EXIT_USAGE = 2 };

typedef int (*phx_cli_fn)(int argc, char **argv);

typedef struct {
    const char *name;    /* "util" */
    const char *summary; /* one line for `phx help` */
    phx_cli_fn fn;       /* gets argv[0] == name */
    int order;           /* position in `phx help` */
} phx_cli_command_t;

void phx_cli_register(const phx_cli_command_t *cmd);

#define PHX_CLI_COMMAND(ident, verb, order_, summary_, fn_)                                        \
    static const phx_cli_command_t cli_cmd_##ident = {verb, summary_, fn_, order_};                \
    __attribute__((constructor)) static void cli_register_##ident(void)                            \
    {                                                                                              \
        phx_cli_register(&cli_cmd_##ident);                                                        \
    }

/* "phx util: <message>" on stderr and return the code, for `return cli_error(...)`. */
int cli_error(int exit_code, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, from a phx_error_t. */
int cli_error_e(int exit_code, const char *prefix, const phx_error_t *e);

/* Print help text (to stdout) and return 0; for --help handling. */
int cli_help(const char *text);

/* True when argv[i] is --help or -h anywhere before a "--". */
bool cli_wants_help(int argc, char **argv);

/* Print a JSON value followed by a newline; steals nothing. */
void cli_print_json(const json_t *v);

/* Arguments of the developer verbs (rlp, abi, tx, eip712, ...). Each returns 0,
 * or prints "PREFIX: WHAT: reason" and returns PHX_EXIT_USAGE; `what` names the
 * argument in the message. */
/* JSON text, or "@FILE" for a file's content ("@-" = stdin); *out is a new reference. */
int cli_arg_json(const char *prefix, const char *what, const char *text, json_t **out);
/* 0x hex (or bare hex) appended to out; out is freed on failure. */
int cli_arg_hex(const char *prefix, const char *what, const char *text, phx_buf_t *out);
/* --key HEX, or "env" for $PHX_KEY: a valid secp256k1 secret key (caller zeroes sk). */
int cli_arg_key(const char *prefix, const char *text, uint8_t sk[32]);
/* One hex result: a line "0x..", or with as_json {"key": "0x..", ...extra}.
 * extra (may be NULL) is a JSON object whose reference is stolen. */
void cli_print_hex(bool as_json, const char *key, const uint8_t *p, size_t n, json_t *extra);

/* Tiny option parser. Options are "--name VALUE", "--name=VALUE" or flags.
 * Positional arguments are collected in order. Unknown options are errors. */
typedef struct {
    const char *name; /* without leading "--"; NULL: not offered (a gap in an array) */
    bool takes_value;
    bool repeatable; /* values collected into values[] */
    /* outputs */
    bool seen;
    const char *value;
    const char **values;
    int nvalues;
} cli_opt_t;

typedef struct {
    const char *pos[32];
    int npos;
} cli_args_t;

/* Returns 0, or prints a usage error naming the problem and returns 2. */
int cli_parse(const char *prefix, int argc, char **argv, cli_opt_t *opts, int nopts,
              cli_args_t *args);
cli_opt_t *cli_opt(cli_opt_t *opts, int nopts, const char *name);
void cli_opts_free(cli_opt_t *opts, int nopts);

/* "HOST:PORT" or "[V6]:PORT" (the --listen form of the daemons): 0 or -1. */
int cli_parse_hostport(const char *s, char *host, size_t cap, uint16_t *port);

/* The devnet's endpoints.json: $PHX_HOME/endpoints.json, else
 * ~/.phx/devnet/endpoints.json. 0, or -1 when no path can be formed. */
int cli_endpoints_path(char *out, size_t cap);

/* phx.ai.chat for the sandbox (phx run, phx worker): an infer client routing
 * from the chain (rpc_url and a deployment with an InferenceRegistry; NULL for
 * none) and over the "MODEL=URL" routes, trusting the sim platform in sim_dir
 * (its root and collateral) when given, else Intel's root with the collateral
 * file. Returns an exit code (0, or 2 with the message printed); *out stays
 * NULL when there is nothing to route to (no route and no registry) or no
 * trust was given for the chain's endpoints. */
struct phx_infer_client;
/* --chain-rpc NAME=URL[#CHAINID] (repeatable): the named chains phx.evm reaches,
 * each chain id read from its node now. *out stays NULL when none is given. */
struct phx_sandbox_chains;
int cli_chains(const char *prefix, const char **specs, int n, struct phx_sandbox_chains **out);
int cli_ai_client(const char *prefix, const char **routes, int nroutes, const char *sim_dir,
                  const char *collateral_file, const char *rpc_url,
                  const phx_chain_deployment_t *dep, struct phx_infer_client **out);

/* phx build (cmd_build.c): whether a contract needs bundling (a .ts file, or
 * an import statement), and the bundle of file written to out (an ES module
 * with an inline source map). Returns 0 or an exit code, the error printed. */
bool cli_build_wanted(const char *file, const uint8_t *src, size_t len);
int cli_build_bundle(const char *prefix, const char *file, const char *out);
/* The same into code (appended; the caller frees it), through a file beside
 * file that is removed again. */
int cli_build_to_buffer(const char *prefix, const char *file, phx_buf_t *code);

/* The trust of the verbs that verify quotes (verify, infer verify, chain
 * admit-kms): which root a quote must chain to (Intel's, or with
 * --trust-sim-root DIR the sim TEE platform's in DIR, for development
 * networks) and, with --policy FILE, the TCB policy to apply. The options sit
 * first in a verb's option array; its own enum continues from
 * CLI_TRUST_NOPTS. */
enum { CLI_TRUST_SIMROOT, CLI_TRUST_POLICY, CLI_TRUST_NOPTS };
typedef struct {
    phx_attest_verifier_t *verifier;
    phx_attest_policy_doc_t *policy; /* NULL: the verifier's defaults */
} cli_trust_t;
/* Name --trust-sim-root, and --policy when with_policy, in opts[0 .. CLI_TRUST_NOPTS). */
void cli_trust_opts(cli_opt_t *opts, bool with_policy);
/* Build the verifier for sim_dir's root (NULL: Intel's) and load policy_file
 * (NULL: none). Returns 0, or prints the problem and returns PHX_EXIT_USAGE;
 * cli_trust_close(t) in every case. */
int cli_trust_open(const char *prefix, const char *sim_dir, const char *policy_file,
                   cli_trust_t *t);
/* The policy to hand a check: NULL without --policy. */
const phx_attest_policy_t *cli_trust_policy(const cli_trust_t *t);
void cli_trust_close(cli_trust_t *t);

#endif
