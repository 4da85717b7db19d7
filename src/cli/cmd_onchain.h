/* Shared by the verbs that send transactions to the Phalanx contracts as a
 * holder, operator or voter (cmd_stake.c, cmd_gov.c): where the deployment,
 * the node and the key come from, sending with named reverts, and PHA amounts.
 * CLI-internal; not a library. */
#ifndef PHX_CLI_CMD_ONCHAIN_H
#define PHX_CLI_CMD_ONCHAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "phx/chain.h"

typedef struct {
    json_t *file; /* the deployment file or the devnet's endpoints.json */
    phx_chain_deployment_t dep;
    phx_rpc_t *rpc;
    phx_signer_t *signer; /* NULL for a read-only verb */
    uint8_t me[20];       /* the signer's address */
} onchain_t;

/* The options every such verb takes, in this order at the start of its table. */
enum { OC_DEPL, OC_RPC, OC_KEYFILE, OC_JSON, OC_NOPTS };
#define ONCHAIN_OPTS                                                                               \
    [OC_DEPL] = {.name = "deployment", .takes_value = true},                                       \
    [OC_RPC] = {.name = "rpc", .takes_value = true},                                               \
    [OC_KEYFILE] = {.name = "key-file", .takes_value = true}, [OC_JSON] = {.name = "json"}
#define ONCHAIN_OPTS_HELP                                                                          \
    "  --deployment FILE  contract addresses (default: the devnet's endpoints.json)\n"             \
    "  --rpc URL          chain node (default: the file's \"rpc\", else $PHX_RPC)\n"               \
    "  --key-file FILE    the sender's key, 0x hex (default: $PHX_KEY, else the\n"                 \
    "                     devnet's user key)\n"                                                    \
    "  --json             one JSON object on stdout\n"

/* Load the deployment, open the node and (need_key) the signer. Prints the
 * error; returns the exit code (0 ok). */
int onchain_open(const char *prefix, const cli_opt_t *opts, bool need_key, onchain_t *c);
void onchain_close(onchain_t *c);

/* sig(args) from the signer to `to`; args is stolen. A revert is printed by
 * its Solidity name ("reverted: NotGovernor()"). Returns the exit code. */
int onchain_send(const char *prefix, onchain_t *c, const uint8_t to[20], const char *sig,
                 json_t *args, phx_evm_receipt_t *receipt);

/* eth_call; args stolen; *out a new reference. Prints; returns the exit code. */
int onchain_read(const char *prefix, onchain_t *c, const uint8_t to[20], const char *sig,
                 json_t *args, const char *ret, json_t **out);

/* "12.5" PHA (up to 18 decimals) -> wei. Prints a usage error naming what. */
int onchain_parse_pha(const char *prefix, const char *what, const char *text, phx_u256_t *out);
/* wei -> "12.5" */
void onchain_format_pha(const phx_u256_t *wei, char out[100]);
/* A decimal uint256 from a JSON string (eth_call results). */
phx_u256_t onchain_u256(const json_t *v);
/* "PERCENT" with up to two decimals (0 .. 100) -> basis points. */
int onchain_parse_percent(const char *prefix, const char *what, const char *text, uint16_t *bps);

#endif
