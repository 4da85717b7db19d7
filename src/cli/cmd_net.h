/* Shared by the user's verbs against a running network (cmd_net_*.c: deploy,
 * call, logs, workers, jobs): finding the gateway, talking JSON to it, the
 * KMS-signed contract key, and sealing to it. CLI-internal; not a library. */
#ifndef PHX_CLI_CMD_NET_H
#define PHX_CLI_CMD_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "phx/evm.h"

typedef struct {
    char gateway[512];
    json_t *endpoints; /* the devnet's endpoints.json when there is one; may be NULL */
} net_t;

/* The gateway: `given` (--gateway), else $PHX_GATEWAY, else the devnet's
 * endpoints file. Prints the error; returns the exit code. */
int net_find(const char *prefix, const char *given, net_t *n);
void net_free(net_t *n);

/* GET or POST gateway + path. Errors are printed; returns the exit code. */
int net_json(const char *prefix, const net_t *n, const char *method, const char *path,
             const json_t *body, json_t **out);

/* A 0x-hex 32-byte contract id; prints a usage error. */
int net_parse_id(const char *prefix, const char *s, uint8_t id[32]);

/* "/v1/contracts/0x<id><suffix>" into out. */
void net_contract_path(char *out, size_t cap, const uint8_t id[32], const char *suffix);

/* Seal `text` under `label` (PHX_SEAL_*) to the contract's X25519 key, as
 * signed by the KMS the network trusts (--kms-address, else the devnet's; never
 * the gateway's say-so). reply_key as phx_confidential_seal. */
int net_seal_to_contract(const char *prefix, const net_t *n, const char *kms_given,
                         const uint8_t id[32], const char *label, const char *text, json_t **sealed,
                         uint8_t reply_key[32]);
/* An on-chain request's input bytes, sealed to the same key
 * (phx_confidential_seal_request); appended to out. */
int net_seal_request(const char *prefix, const net_t *n, const char *kms_given,
                     const uint8_t id[32], const uint8_t *input, size_t len, phx_buf_t *out);
/* The same for a contract's secrets, bound to the code hash they are for. */
int net_seal_secrets(const char *prefix, const net_t *n, const char *kms_given,
                     const uint8_t id[32], const uint8_t code_hash[32], const char *text,
                     json_t **sealed);

/* The contract owner's key: --key-file, else the devnet's user key
 * (endpoints.json "user"."key_file"). Prints a usage error when there is none. */
int net_owner_key(const char *prefix, const net_t *n, const char *key_file, uint8_t sk[32],
                  uint8_t owner[20]);

/* An owner-signed write to one contract (delete, limit): sign digest d with
 * sk, add "owner", "nonce" and "signature" to body (released; NULL is out of
 * memory) and POST it to /v1/contracts/0x<id><suffix>. `what` names the signed
 * thing in errors ("the delete"). Returns the exit code; *resp on 0. */
int net_owner_post(const char *prefix, const net_t *n, const uint8_t sk[32], const uint8_t d[32],
                   uint64_t nonce, const uint8_t id[32], const char *suffix, json_t *body,
                   const char *what, json_t **resp);

/* "owner=0x..&expires=N&signature=0x.." for an owner-signed read (logs, jobs):
 * an EIP-712 OwnerRequest(action, subject, now + 5 min). */
int net_owner_query(const char *prefix, const uint8_t sk[32], const char *action,
                    const uint8_t subject[32], char *out, size_t cap);

/* Common options of the read-only verbs (--gateway, --json, and --key-file
 * when key_file is not NULL) and the check of the positional count (want_pos
 * < 0: at most -want_pos). Returns -1
 * after printing --help (exit 0). */
int net_simple_verb(int argc, char **argv, const char *prefix, const char *help, int want_pos,
                    bool *as_json, const char **key_file, net_t *n, cli_args_t *args);

/* The payer of paid direct calls (cmd_net_pay.c; docs/worker.md "Paid calls"). */
typedef struct {
    bool enabled;    /* a payer key is known (--key-file, else the devnet's user) */
    bool have_terms; /* chain id and Payments address known */
    uint8_t sk[32], payer[20];
    uint64_t chain_id;
    uint8_t payments[20];
    uint8_t operator_[20]; /* whom the next voucher pays (zero: an identity-only voucher) */
    phx_u256_t required;   /* the last 402's required_cumulative */
    phx_u256_t signed_cumulative, prev_cumulative;
    phx_u256_t max_increment; /* --max-price */
    unsigned rounds;
    char state_path[1024];
    json_t *state;
} net_payer_t;
/* Load the key and the running totals. max_price: PHA wei (NULL: 1 PHA). */
int net_payer_open(const char *prefix, const net_t *n, const char *key_file, const char *max_price,
                   net_payer_t *p);
void net_payer_close(net_payer_t *p);
/* Sign the next voucher for this call into body["voucher"] (none without a
 * key or terms), after recording its total. */
int net_payer_attach(const char *prefix, net_payer_t *p, const uint8_t id[32], json_t *body);
/* The call was refused busy (429): nothing ran, the worker unwound the
 * voucher, so the recorded total goes back to the one before. */
void net_payer_unsent(const char *prefix, net_payer_t *p);
/* A 402 answer: 0 when a new voucher may succeed (terms learned), else the
 * printed error's exit code. */
int net_payer_on_402(const char *prefix, net_payer_t *p, const json_t *answer);
/* A served call: record what the worker now counts as owed. */
int net_payer_done(const char *prefix, net_payer_t *p, const json_t *answer);

/* Compile `src` (the contract in `file`) with the engine the workers run, in
 * a child process, running none of it. A syntax error is printed with the
 * user's file and line and is PHX_EXIT_USAGE. Returns the exit code. */
int net_compile_check(const char *prefix, const char *file, const uint8_t *src, size_t len);

/* deploy FILE, update ID FILE, secrets set|rotate ID K=V...: one owner-signed
 * ContractOp "deploy" each (docs/worker.md, "Owners"), in cmd_net_deploy.c.
 * update and secrets take the salt from the gateway's record and check it
 * derives the id from the owner's key; secrets re-deploys the code the gateway
 * serves after checking its hash. */
typedef enum { NET_DEPLOY, NET_UPDATE, NET_SECRETS } net_deploy_mode_t;
int net_deploy_main(int argc, char **argv, net_deploy_mode_t mode);
extern const char net_update_help[], net_secrets_help[];

/* The newest `limit` Jobs requests (of `contract` only, when not NULL), newest
 * first, from the chain's events by phx_chain_requests (the console's reader):
 * phx_chain_requests_json's objects. NULL when no chain is known (no endpoints
 * file) or it cannot be read. */
json_t *net_chain_requests(const net_t *n, const uint8_t contract[32], size_t limit);
/* The contract's newest `limit` recorded trigger firings (Jobs' Fired events,
 * phx_chain_firings_json's array); NULL when no chain is known or readable. */
json_t *net_chain_firings(const net_t *n, const uint8_t id[32], size_t limit);
/* Who pays the contract's next firing (phx_chain_firing_payment_json), NULL
 * when the chain is not known or cannot be read. */
json_t *net_chain_firing_payment(const net_t *n, const uint8_t id[32]);
/* One line on stdout for it: free, paid from whose deposit, or UNPAID and why. */
void net_print_firing_payment(const json_t *payment);
/* One recorded firing (an element of net_chain_firings), on stdout: its block,
 * firing id and outcome, the worker and signature in full, then its output. */
void net_print_firing(const json_t *firing);

/* Gateway job records, one line each, optionally with their console logs. */
void net_print_jobs(const json_t *jobs, bool with_logs);
/* Prints on-chain requests (net_chain_requests' array) under a heading, one line
 * each; `who` is the field named on each line ("contract_id" or "requester"). */
void net_print_requests(const json_t *requests, const char *who);

#endif
