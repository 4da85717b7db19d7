/* phx gov: PHA holders' governance through PhxGovernor and PhxTimelock
 * (docs/chain.md, "Governance"): propose one call to a governed contract, vote,
 * queue a passed proposal in the timelock, execute it after the delay, and show
 * a proposal's state. queue, execute and status find the proposal's action in
 * its ProposalCreated event, so only its id is needed. */
#include <stdlib.h>
#include <string.h>

#include "cmd_onchain.h"
#include "phx/crypto.h"

static const char help[] =
    "usage: phx gov propose --target CONTRACT --call SIGNATURE [--args JSON]\n"
    "                       --description TEXT [OPTIONS]\n"
    "       phx gov vote ID (for | against | abstain) [--reason TEXT] [OPTIONS]\n"
    "       phx gov queue ID [OPTIONS]\n"
    "       phx gov execute ID [OPTIONS]\n"
    "       phx gov status ID [OPTIONS]\n"
    "\n"
    "Govern Phalanx with PHA votes. The timelock (PhxTimelock) is the governor of\n"
    "PHA (minting), the Registry (measurements, KMS admission, minimum stake),\n"
    "Jobs (fees, timeouts) and StakePool (slash rates, unbonding, treasury); a\n"
    "change passes a vote in PhxGovernor, waits in the timelock, then anyone\n"
    "executes it. Votes are PHA delegated (ERC20Votes: a holder delegates to\n"
    "itself to vote) at the proposal's snapshot time; a proposal passes with more\n"
    "for than against and a quorum of the supply (4 %) for or abstaining.\n"
    "\n"
    "propose  one call: CONTRACT is PhxToken, Registry, Jobs, StakePool, PhxTimelock\n"
    "         or an address; SIGNATURE such as 'setMinStake(uint256)'; JSON the\n"
    "         arguments as an array (numbers as strings). Prints the proposal id.\n"
    "vote     cast the sender's votes once the voting delay is over.\n"
    "queue    put a succeeded proposal in the timelock (after the voting period).\n"
    "execute  run a queued proposal once the timelock's delay is over.\n"
    "status   state (Pending, Active, Canceled, Defeated, Succeeded, Queued,\n"
    "         Expired, Executed), votes, quorum, snapshot and deadline times, the\n"
    "         timelock's ETA, and the action.\n"
    "\n"
    "Options:\n" ONCHAIN_OPTS_HELP "  --target CONTRACT   the governed contract (propose)\n"
    "  --call SIGNATURE    the function (propose)\n"
    "  --args JSON         its arguments, a JSON array (default [])\n"
    "  --description TEXT  what and why; part of the proposal's id (propose)\n"
    "  --reason TEXT       recorded with the vote (vote)\n"
    "\n"
    "Exit status: 0 done, 1 the node refused or the call reverted (the Solidity\n"
    "error is named, e.g. GovernorUnexpectedProposalState(...)), 2 bad usage.\n"
    "\n"
    "Times are seconds (PHA's votes are checkpointed by timestamp): in production\n"
    "a day's voting delay, a week's voting, two days in the timelock.\n"
    "\n"
    "Example (a devnet: voting delay 1 s, period 4 s, timelock 2 s):\n"
    "  id=$(phx gov propose --target Registry --call 'setMinStake(uint256)' \\\n"
    "        --args '[\"2000000000000000000000\"]' --description 'min stake 2000 PHA')\n"
    "  sleep 2; phx gov vote $id for; sleep 4; phx gov queue $id; sleep 2\n"
    "  phx gov execute $id\n";

enum { TARGET = OC_NOPTS, CALL, ARGS, DESC, REASON, NOPTS };

static const char *const states[] = {"Pending",   "Active", "Canceled", "Defeated",
                                     "Succeeded", "Queued", "Expired",  "Executed"};

#define PROPOSAL_CREATED                                                                           \
    "ProposalCreated(uint256 proposalId,address proposer,address[] targets,uint256[] values,"      \
    "string[] signatures,bytes[] calldatas,uint256 voteStart,uint256 voteEnd,string description)"

static int resolve_target(const char *prefix, const onchain_t *c, const char *s, uint8_t out[20])
{
    const struct {
        const char *name;
        const uint8_t *addr;
    } known[] = {{"PhxToken", c->dep.token},
                 {"Registry", c->dep.registry},
                 {"Jobs", c->dep.jobs},
                 {"StakePool", c->dep.stake_pool},
                 {"PhxTimelock", c->dep.timelock},
                 {"PhxGovernor", c->dep.governor},
                 {"Payments", c->dep.payments},
                 {"InferenceRegistry", c->dep.inference_registry}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(s, known[i].name) == 0) {
            memcpy(out, known[i].addr, 20);
            return 0;
        }
    phx_error_t e = {0};
    if (phx_evm_address_parse(s, out, &e))
        return cli_error(PHX_EXIT_USAGE, prefix,
                         "--target: a contract name (PhxToken, Registry, Jobs, StakePool, "
                         "Payments, InferenceRegistry, PhxTimelock, PhxGovernor) or an "
                         "address, got '%s'",
                         s);
    return 0;
}

/* The ProposalCreated event of id (decoded, a new reference) or an error. */
static int find_proposal(const char *prefix, onchain_t *c, const char *id, json_t **out)
{
    phx_error_t e = {0};
    uint8_t topic[32];
    uint64_t head = 0;
    phx_abi_event_topic(PROPOSAL_CREATED, topic, &e);
    if (phx_rpc_block_number(c->rpc, &head, &e)) return cli_error_e(PHX_EXIT_FAIL, prefix, &e);
    const uint8_t(*topics)[32] = (const uint8_t(*)[32])topic;
    phx_evm_filter_t f = {.from_block = c->dep.block,
                          .to_block = head,
                          .addresses = (const uint8_t(*)[20])c->dep.governor,
                          .address_count = 1,
                          .topic_sets = {topics},
                          .topic_counts = {1}};
    phx_evm_log_t *logs = NULL;
    size_t n = 0;
    if (phx_rpc_get_logs(c->rpc, &f, &logs, &n, &e)) return cli_error_e(PHX_EXIT_FAIL, prefix, &e);
    phx_u256_t want, got;
    phx_u256_from_str(id, &want, NULL);
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *j = NULL;
        if (!*out && !phx_abi_decode_log_json(PROPOSAL_CREATED, false, &logs[i], &j, NULL)) {
            got = onchain_u256(json_object_get(j, "proposalId"));
            if (phx_u256_cmp(&got, &want) == 0)
                *out = j;
            else
                json_decref(j);
        }
        phx_evm_log_clear(&logs[i]);
    }
    free(logs);
    if (!*out)
        return cli_error(PHX_EXIT_FAIL, prefix,
                         "no proposal %s on this Governor (since block %llu)", id,
                         (unsigned long long)c->dep.block);
    return 0;
}

/* The (targets, values, calldatas, descriptionHash) arguments of queue/execute. */
static json_t *action_args(const json_t *ev)
{
    const char *d = json_string_value(json_object_get(ev, "description"));
    uint8_t h[32];
    phx_keccak256((const uint8_t *)(d ? d : ""), d ? strlen(d) : 0, h);
    return json_pack("[O,O,O,o]", json_object_get(ev, "targets"), json_object_get(ev, "values"),
                     json_object_get(ev, "calldatas"), phx_json_hex(h, 32));
}

static int read_u(const char *prefix, onchain_t *c, const char *sig, const char *id,
                  phx_u256_t *out)
{
    json_t *r = NULL;
    int rc = onchain_read(prefix, c, c->dep.governor, sig, json_pack("[s]", id), "(uint256)", &r);
    if (!rc) *out = onchain_u256(json_array_get(r, 0));
    json_decref(r);
    return rc;
}

static int gov_status(const char *prefix, onchain_t *c, const char *id, bool as_json)
{
    json_t *ev = NULL, *st = NULL, *votes = NULL, *q = NULL, *out = NULL;
    phx_u256_t snap, deadline, eta;
    uint64_t head = 0, snap64 = 0, dl64 = 0, eta64 = 0, now = 0;
    phx_error_t e = {0};
    int rc;
    if ((rc = find_proposal(prefix, c, id, &ev)) ||
        (rc = onchain_read(prefix, c, c->dep.governor, "state(uint256)", json_pack("[s]", id),
                           "(uint8)", &st)) ||
        (rc = onchain_read(prefix, c, c->dep.governor, "proposalVotes(uint256)",
                           json_pack("[s]", id), "(uint256,uint256,uint256)", &votes)) ||
        (rc = read_u(prefix, c, "proposalSnapshot(uint256)", id, &snap)) ||
        (rc = read_u(prefix, c, "proposalDeadline(uint256)", id, &deadline)) ||
        (rc = read_u(prefix, c, "proposalEta(uint256)", id, &eta)))
        goto out;
    json_t *clk = NULL;
    if (phx_rpc_block_number(c->rpc, &head, &e) ||
        (rc =
             onchain_read(prefix, c, c->dep.governor, "clock()", json_array(), "(uint48)", &clk))) {
        if (!rc) rc = cli_error_e(PHX_EXIT_FAIL, prefix, &e);
        goto out;
    }
    json_t *cv = json_array_get(clk, 0);
    now = json_is_integer(cv) ? (uint64_t)json_integer_value(cv)
                              : strtoull(json_string_value(cv) ?: "0", NULL, 10);
    json_decref(clk);
    phx_u256_to_u64(&snap, &snap64, NULL);
    phx_u256_to_u64(&deadline, &dl64, NULL);
    phx_u256_to_u64(&eta, &eta64, NULL);
    json_t *sv = json_array_get(st, 0);
    long s = json_is_integer(sv) ? (long)json_integer_value(sv)
                                 : strtol(json_string_value(sv) ?: "-1", NULL, 10);
    const char *state = s >= 0 && s < 8 ? states[s] : "unknown";
    /* The quorum is fixed at the snapshot, known once that time is past. */
    json_t *quorum = json_null();
    char qs[100] = "not yet known";
    if (now > snap64 &&
        !onchain_read(prefix, c, c->dep.governor, "quorum(uint256)",
                      json_pack("[o]", json_integer((json_int_t)snap64)), "(uint256)", &q)) {
        phx_u256_t qv = onchain_u256(json_array_get(q, 0));
        onchain_format_pha(&qv, qs);
        quorum = json_string(qs);
    }
    char against[100], forv[100], abstain[100];
    phx_u256_t a = onchain_u256(json_array_get(votes, 0)),
               f = onchain_u256(json_array_get(votes, 1)),
               ab = onchain_u256(json_array_get(votes, 2));
    onchain_format_pha(&a, against);
    onchain_format_pha(&f, forv);
    onchain_format_pha(&ab, abstain);
    out = json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:o,s:I,s:I,s:I,s:I,s:{s:O,s:O,s:O},s:O}", "id", id,
                    "state", state, "votes", "for", forv, "against", against, "abstain", abstain,
                    "quorum", quorum, "snapshot", (json_int_t)snap64, "deadline", (json_int_t)dl64,
                    "now", (json_int_t)now, "eta", (json_int_t)eta64, "action", "targets",
                    json_object_get(ev, "targets"), "signatures", json_object_get(ev, "signatures"),
                    "calldatas", json_object_get(ev, "calldatas"), "description",
                    json_object_get(ev, "description"));
    if (as_json) {
        cli_print_json(out);
    } else {
        printf("proposal %s: %s\n", id, state);
        printf("  \"%s\"\n", json_string_value(json_object_get(ev, "description")));
        printf("  votes: for %s, against %s, abstain %s PHA; quorum %s PHA\n", forv, against,
               abstain, qs);
        printf("  snapshot at unix time %llu, voting ends after %llu, now %llu (block %llu)\n",
               (unsigned long long)snap64, (unsigned long long)dl64, (unsigned long long)now,
               (unsigned long long)head);
        if (eta64) printf("  executable from unix time %llu\n", (unsigned long long)eta64);
    }
    rc = 0;
out:
    json_decref(ev);
    json_decref(st);
    json_decref(votes);
    json_decref(q);
    json_decref(out);
    return rc;
}

static int cmd_gov(int argc, char **argv)
{
    if (argc < 2) return fputs(help, stderr), PHX_EXIT_USAGE;
    if (cli_wants_help(argc, argv)) return cli_help(help);
    const char *sub = argv[1];
    if (strcmp(sub, "propose") && strcmp(sub, "vote") && strcmp(sub, "queue") &&
        strcmp(sub, "execute") && strcmp(sub, "status"))
        return cli_error(PHX_EXIT_USAGE, "phx gov",
                         "unknown subcommand '%s' (propose, vote, queue, execute, status)", sub);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "phx gov %s", sub);
    cli_opt_t opts[NOPTS] = {ONCHAIN_OPTS,
                             [TARGET] = {.name = "target", .takes_value = true},
                             [CALL] = {.name = "call", .takes_value = true},
                             [ARGS] = {.name = "args", .takes_value = true},
                             [DESC] = {.name = "description", .takes_value = true},
                             [REASON] = {.name = "reason", .takes_value = true}};
    cli_args_t args;
    int rc = cli_parse(prefix, argc - 1, argv + 1, opts, NOPTS, &args);
    if (rc) return rc;
    bool propose = !strcmp(sub, "propose"), vote = !strcmp(sub, "vote");
    onchain_t c;
    memset(&c, 0, sizeof c);
    json_t *cargs = NULL, *ev = NULL;
    phx_buf_t data = PHX_BUF_INIT;
    phx_error_t e = {0};
    uint8_t support = 0;
    char id[80] = "";
    bool as_json = opts[OC_JSON].seen;
    /* Usage first: no node needed to refuse bad arguments. */
    if (propose) {
        if (args.npos) {
            rc = cli_error(PHX_EXIT_USAGE, prefix, "takes no arguments (see --help)");
            goto out;
        }
        if (!opts[TARGET].value || !opts[CALL].value || !opts[DESC].value) {
            rc = cli_error(PHX_EXIT_USAGE, prefix,
                           "--target, --call and --description are required");
            goto out;
        }
        if ((rc = cli_arg_json(prefix, "--args", opts[ARGS].value ? opts[ARGS].value : "[]",
                               &cargs)))
            goto out;
        if (!json_is_array(cargs)) {
            rc = cli_error(PHX_EXIT_USAGE, prefix, "--args: expected a JSON array");
            goto out;
        }
        if (phx_chain_calldata(opts[CALL].value, cargs, &data, &e)) {
            rc = cli_error(PHX_EXIT_USAGE, prefix, "--call/--args: %s", e.message);
            goto out;
        }
    } else {
        if (args.npos != (vote ? 2 : 1)) {
            rc = cli_error(PHX_EXIT_USAGE, prefix,
                           vote ? "expected ID and for, against or abstain"
                                : "expected a proposal ID");
            goto out;
        }
        phx_u256_t v;
        if (phx_u256_from_str(args.pos[0], &v, NULL)) {
            rc = cli_error(PHX_EXIT_USAGE, prefix, "ID: expected a proposal id, got '%s'",
                           args.pos[0]);
            goto out;
        }
        phx_u256_to_dec(&v, id);
        if (vote) {
            const char *s = args.pos[1];
            if (!strcmp(s, "against"))
                support = 0;
            else if (!strcmp(s, "for"))
                support = 1;
            else if (!strcmp(s, "abstain"))
                support = 2;
            else {
                rc = cli_error(PHX_EXIT_USAGE, prefix, "expected for, against or abstain, got '%s'",
                               s);
                goto out;
            }
        }
    }
    if ((rc = onchain_open(prefix, opts, strcmp(sub, "status") != 0, &c))) goto out;

    if (!strcmp(sub, "status")) {
        rc = gov_status(prefix, &c, id, as_json);
    } else if (propose) {
        uint8_t target[20], h[32];
        if ((rc = resolve_target(prefix, &c, opts[TARGET].value, target))) goto out;
        const char *d = opts[DESC].value;
        phx_keccak256((const uint8_t *)d, strlen(d), h);
        json_t *targets = json_pack("[o]", phx_json_hex(target, 20)),
               *values = json_pack("[s]", "0"),
               *calls = json_pack("[o]", phx_json_hex(data.ptr, data.len)), *r = NULL;
        if ((rc = onchain_read(prefix, &c, c.dep.governor,
                               "hashProposal(address[],uint256[],bytes[],bytes32)",
                               json_pack("[O,O,O,o]", targets, values, calls, phx_json_hex(h, 32)),
                               "(uint256)", &r)) ||
            (rc = onchain_send(prefix, &c, c.dep.governor,
                               "propose(address[],uint256[],bytes[],string)",
                               json_pack("[O,O,O,s]", targets, values, calls, d), NULL))) {
            json_decref(targets), json_decref(values), json_decref(calls), json_decref(r);
            goto out;
        }
        snprintf(id, sizeof id, "%s", json_string_value(json_array_get(r, 0)));
        json_decref(targets), json_decref(values), json_decref(calls), json_decref(r);
        if (as_json) {
            json_t *o = json_pack("{s:s}", "id", id);
            cli_print_json(o);
            json_decref(o);
        } else {
            printf("%s\n", id);
        }
    } else if (vote) {
        const char *reason = opts[REASON].value;
        if ((rc = onchain_send(prefix, &c, c.dep.governor,
                               reason ? "castVoteWithReason(uint256,uint8,string)"
                                      : "castVote(uint256,uint8)",
                               reason ? json_pack("[s,i,s]", id, support, reason)
                                      : json_pack("[s,i]", id, support),
                               NULL)))
            goto out;
        json_t *r = NULL;
        if ((rc = onchain_read(prefix, &c, c.dep.governor, "proposalVotes(uint256)",
                               json_pack("[s]", id), "(uint256,uint256,uint256)", &r)))
            goto out;
        char f[100], a[100];
        phx_u256_t fv = onchain_u256(json_array_get(r, 1)), av = onchain_u256(json_array_get(r, 0));
        onchain_format_pha(&fv, f);
        onchain_format_pha(&av, a);
        json_decref(r);
        const char *names[] = {"against", "for", "abstain"};
        if (as_json) {
            json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "id", id, "support", names[support], "for",
                                  f, "against", a);
            cli_print_json(o);
            json_decref(o);
        } else {
            printf("voted %s on %s (now for %s, against %s PHA)\n", names[support], id, f, a);
        }
    } else {
        bool queue = !strcmp(sub, "queue");
        if ((rc = find_proposal(prefix, &c, id, &ev))) goto out;
        if ((rc = onchain_send(prefix, &c, c.dep.governor,
                               queue ? "queue(address[],uint256[],bytes[],bytes32)"
                                     : "execute(address[],uint256[],bytes[],bytes32)",
                               action_args(ev), NULL)))
            goto out;
        phx_u256_t eta = {{0}};
        uint64_t eta64 = 0;
        if (queue && !read_u(prefix, &c, "proposalEta(uint256)", id, &eta))
            phx_u256_to_u64(&eta, &eta64, NULL);
        if (as_json) {
            json_t *o = json_pack("{s:s,s:s,s:I}", "id", id, "state", queue ? "Queued" : "Executed",
                                  "eta", (json_int_t)eta64);
            cli_print_json(o);
            json_decref(o);
        } else if (queue) {
            printf("queued %s; executable from unix time %llu\n", id, (unsigned long long)eta64);
        } else {
            printf("executed %s\n", id);
        }
    }
out:
    json_decref(cargs);
    json_decref(ev);
    phx_buf_free(&data);
    onchain_close(&c);
    cli_opts_free(opts, NOPTS);
    return rc;
}
PHX_CLI_COMMAND(gov, "gov", 63, "govern with PHA votes: propose, vote, queue, execute, status",
                cmd_gov)
