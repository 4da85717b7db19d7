/* phx stake: operators' pools and delegators' stake in StakePool (docs/chain.md,
 * "Staking"). Each subcommand sends one transaction (delegate: approve, then
 * delegate) and prints what changed; reverts are named. */
#include <stdlib.h>
#include <string.h>

#include "cmd_onchain.h"
#include "phx/crypto.h"
#include "phx/net.h"
#include "phx/worker.h"

static const char help[] =
    "usage: phx stake pool create [--commission PERCENT] [OPTIONS]\n"
    "       phx stake pool info [OPERATOR | --pid N] [--delegator ADDRESS] [OPTIONS]\n"
    "       phx stake pool set-commission PERCENT [OPTIONS]\n"
    "       phx stake delegate PID AMOUNT [OPTIONS]\n"
    "       phx stake undelegate PID (SHARES | --all) [OPTIONS]\n"
    "       phx stake withdraw PID [OPTIONS]\n"
    "       phx stake claim PID [OPTIONS]\n"
    "       phx stake report-equivocation EVIDENCE [EVIDENCE] [OPTIONS]\n"
    "\n"
    "Stake PHA in the operators' pools of the StakePool contract. A worker is\n"
    "eligible for jobs only while its operator's pool holds the Registry's minimum\n"
    "stake for each of its active workers. Job fees go to the pool: the operator's\n"
    "commission first, the rest to the pool's shares pro rata.\n"
    "\n"
    "pool create      open the sender's pool (one per operator) with a commission\n"
    "                 (default 10 %).\n"
    "pool info        the pool of OPERATOR (default: the sender), or pool N: its\n"
    "                 stake, shares, commission, rewards, and the Registry's view of\n"
    "                 it (stake, active workers, minimum); with --delegator, that\n"
    "                 holder's shares, value, queued withdrawal and claimable rewards.\n"
    "pool set-commission  the sender's pool's commission for fees from now on.\n"
    "delegate         stake AMOUNT PHA (decimals allowed) into pool PID for shares\n"
    "                 at the pool's price (approves the pool for AMOUNT first).\n"
    "undelegate       queue SHARES (in units of 1e-18, as PHA) or all active shares\n"
    "                 for withdrawal: they stop earning and leave the pool's stake\n"
    "                 at once, stay slashable, and can be withdrawn after the\n"
    "                 unbonding period (7 days; seconds on a devnet).\n"
    "withdraw         pay out the queued shares once their unbonding period is over.\n"
    "claim            pay out the sender's rewards (and an operator's commission),\n"
    "                 collecting the fees Jobs holds for the pool first.\n"
    "report-equivocation  prove that one worker signed two different results for\n"
    "                 one on-chain request, and have its operator's pool slashed:\n"
    "                 StakePool's governed share of the pool (10 % on a devnet), of\n"
    "                 which the sender (the reporter) gets its governed part (half)\n"
    "                 and the treasury the rest; the worker is taken out of service.\n"
    "                 EVIDENCE is a file or an http(s) URL holding one signed result\n"
    "                 (`phx call --json` style envelope of kind \"job\"), a JSON\n"
    "                 array of them, or a worker's {\"results\": [...]} from\n"
    "                 GET /v1/jobs/ID/results; two results in all. They are checked\n"
    "                 here first: both for this deployment's Jobs contract, the same\n"
    "                 request, contract and code, the same worker, both signatures\n"
    "                 valid, and different outcomes; anything else is refused\n"
    "                 (exit 1) with the reason, before any transaction; evidence\n"
    "                 that is not two readable signed results is bad usage (exit 2).\n"
    "\n"
    "Options:\n" ONCHAIN_OPTS_HELP "  --commission PERCENT  0 .. 100, two decimals (pool create)\n"
    "  --pid N               the pool by id (pool info)\n"
    "  --delegator ADDRESS   a holder's position (pool info)\n"
    "  --all                 every active share (undelegate)\n"
    "\n"
    "Exit status: 0 done, 1 the node refused or the transaction reverted (its\n"
    "Solidity error is named, e.g. NotReady(uint64)), 2 bad usage.\n"
    "\n"
    "Examples:\n"
    "  phx stake pool create --commission 12.5 --key-file op.key\n"
    "  phx stake delegate 1 2500\n"
    "  phx stake pool info --pid 1 --delegator 0x70997970C51812dc3A010C7d01b50e0d17dc79C8\n"
    "  phx stake claim 1 --json\n"
    "  phx stake report-equivocation http://127.0.0.1:8800/v1/jobs/7/results\n";

enum { COMMISSION = OC_NOPTS, PID, DELEGATOR, ALL, NOPTS };

static const char *prefix_of(const char *sub)
{
    static char p[64];
    snprintf(p, sizeof p, "phx stake %s", sub);
    return p;
}

static int parse_pid(const char *prefix, const char *s, uint64_t *pid)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || v == 0 || v > 1000000000ull)
        return cli_error(PHX_EXIT_USAGE, prefix, "PID: expected a pool id (1, 2, ...), got '%s'",
                         s);
    *pid = v;
    return 0;
}

static json_t *dec_json(uint64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)v);
    return json_string(s);
}

static json_t *pha_json(const phx_u256_t *v)
{
    char s[100];
    onchain_format_pha(v, s);
    return json_string(s);
}

/* a - b for a >= b (a balance after a payout minus the one before). */
static phx_u256_t u256_minus(const phx_u256_t *a, const phx_u256_t *b)
{
    phx_u256_t r;
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = (int)a->b[i] - (int)b->b[i] - borrow;
        borrow = d < 0;
        r.b[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
    return r;
}

static phx_u256_t balance(onchain_t *c, const uint8_t who[20])
{
    phx_u256_t v = {{0}};
    phx_chain_token_balance(c->rpc, &c->dep, who, &v, NULL);
    return v;
}

/* pool info */
static int pool_info(const char *prefix, onchain_t *c, cli_opt_t *opts, cli_args_t *args)
{
    uint8_t op[20], who[20];
    uint64_t pid = 0;
    phx_error_t e = {0};
    json_t *p = NULL, *r = NULL, *out = NULL;
    int rc;
    if (opts[PID].value) {
        if ((rc = parse_pid(prefix, opts[PID].value, &pid))) return rc;
    } else {
        if (args->npos > 1) return cli_error(PHX_EXIT_USAGE, prefix, "one OPERATOR at most");
        if (args->npos == 1) {
            if (phx_evm_address_parse(args->pos[0], op, &e))
                return cli_error(PHX_EXIT_USAGE, prefix, "OPERATOR: %s", e.message);
        } else {
            memcpy(op, c->me, 20);
        }
        if (phx_chain_pool_of(c->rpc, &c->dep, op, &pid, &e))
            return cli_error_e(PHX_EXIT_FAIL, prefix, &e);
        if (!pid) {
            char a[43];
            phx_eth_address_checksum(op, a);
            return cli_error(PHX_EXIT_FAIL, prefix, "%s has no pool (phx stake pool create)", a);
        }
    }
    if ((rc = onchain_read(prefix, c, c->dep.stake_pool, "pool(uint256)",
                           json_pack("[o]", dec_json(pid)),
                           "((address,uint16,uint256,uint256,uint256,uint256,uint256))", &p)))
        return rc;
    json_t *t = json_array_get(p, 0);
    const char *opaddr = json_string_value(json_array_get(t, 0));
    phx_evm_address_parse(opaddr, op, NULL);
    phx_u256_t total_shares = onchain_u256(json_array_get(t, 2)),
               unbonding = onchain_u256(json_array_get(t, 3)),
               total_stake = onchain_u256(json_array_get(t, 4)),
               op_rewards = onchain_u256(json_array_get(t, 6)), stake = {{0}}, min = {{0}},
               uncollected = {{0}};
    uint64_t commission = (uint64_t)json_integer_value(json_array_get(t, 1));
    if (!json_is_integer(json_array_get(t, 1)))
        commission = strtoull(json_string_value(json_array_get(t, 1)) ?: "0", NULL, 10);
    uint64_t active_workers = 0;
    json_t *x = NULL;
    if (!(rc = onchain_read(prefix, c, c->dep.registry, "stakeOf(address)",
                            json_pack("[o]", phx_json_hex(op, 20)), "(uint256)", &x))) {
        stake = onchain_u256(json_array_get(x, 0));
        json_decref(x);
        x = NULL;
    }
    if (!rc && !(rc = onchain_read(prefix, c, c->dep.registry, "minStake()", json_array(),
                                   "(uint256)", &x))) {
        min = onchain_u256(json_array_get(x, 0));
        json_decref(x);
        x = NULL;
    }
    if (!rc && !(rc = onchain_read(prefix, c, c->dep.registry, "activeWorkers(address)",
                                   json_pack("[o]", phx_json_hex(op, 20)), "(uint256)", &x))) {
        phx_u256_t v = onchain_u256(json_array_get(x, 0));
        phx_u256_to_u64(&v, &active_workers, NULL);
        json_decref(x);
        x = NULL;
    }
    if (!rc && !(rc = onchain_read(prefix, c, c->dep.stake_pool, "uncollectedFees(uint256)",
                                   json_pack("[o]", dec_json(pid)), "(uint256)", &x))) {
        uncollected = onchain_u256(json_array_get(x, 0));
        json_decref(x);
        x = NULL;
    }
    if (rc) goto out;
    phx_u256_t need = phx_u256_mul_u64(&min, active_workers);
    bool eligible = phx_u256_cmp(&stake, &need) >= 0;
    char opc[43];
    phx_eth_address_checksum(op, opc);
    out =
        json_pack("{s:I,s:s,s:f,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:o,s:b}", "pid", (json_int_t)pid,
                  "operator", opc, "commission_percent", (double)commission / 100.0, "total_stake",
                  pha_json(&total_stake), "total_shares", pha_json(&total_shares),
                  "unbonding_shares", pha_json(&unbonding), "operator_rewards",
                  pha_json(&op_rewards), "uncollected_fees", pha_json(&uncollected),
                  "registry_stake", pha_json(&stake), "active_workers", (json_int_t)active_workers,
                  "min_stake_per_worker", pha_json(&min), "workers_eligible", eligible);
    if (opts[DELEGATOR].value) {
        if (phx_evm_address_parse(opts[DELEGATOR].value, who, &e)) {
            rc = cli_error(PHX_EXIT_USAGE, prefix, "--delegator: %s", e.message);
            goto out;
        }
        if ((rc = onchain_read(prefix, c, c->dep.stake_pool, "delegations(uint256,address)",
                               json_pack("[o,o]", dec_json(pid), phx_json_hex(who, 20)),
                               "(uint256,uint256,uint256,uint256,uint64)", &r)))
            goto out;
        phx_u256_t shares = onchain_u256(json_array_get(r, 0)),
                   queued = onchain_u256(json_array_get(r, 3)), value = {{0}}, pending = {{0}};
        json_t *ready = json_array_get(r, 4);
        if ((rc = onchain_read(prefix, c, c->dep.stake_pool, "sharesValue(uint256,uint256)",
                               json_pack("[o,o]", dec_json(pid),
                                         json_string(json_string_value(json_array_get(r, 0)))),
                               "(uint256)", &x)))
            goto out;
        value = onchain_u256(json_array_get(x, 0));
        json_decref(x);
        x = NULL;
        if ((rc = onchain_read(prefix, c, c->dep.stake_pool, "pendingRewards(uint256,address)",
                               json_pack("[o,o]", dec_json(pid), phx_json_hex(who, 20)),
                               "(uint256)", &x)))
            goto out;
        pending = onchain_u256(json_array_get(x, 0));
        json_decref(x);
        x = NULL;
        char wc[43];
        phx_eth_address_checksum(who, wc);
        json_object_set_new(out, "delegator",
                            json_pack("{s:s,s:o,s:o,s:o,s:O,s:o}", "address", wc, "shares",
                                      pha_json(&shares), "value", pha_json(&value),
                                      "unbonding_shares", pha_json(&queued), "unbonding_ready_at",
                                      ready, "claimable", pha_json(&pending)));
    }
    if (opts[OC_JSON].seen) {
        cli_print_json(out);
    } else {
        json_t *d = json_object_get(out, "delegator");
        printf("pool %llu of %s, commission %.2f %%\n", (unsigned long long)pid, opc,
               (double)commission / 100.0);
        printf("  stake %s PHA for %s shares (%s queued for withdrawal)\n",
               json_string_value(json_object_get(out, "total_stake")),
               json_string_value(json_object_get(out, "total_shares")),
               json_string_value(json_object_get(out, "unbonding_shares")));
        printf("  operator's unclaimed commission %s PHA; fees not yet collected %s PHA\n",
               json_string_value(json_object_get(out, "operator_rewards")),
               json_string_value(json_object_get(out, "uncollected_fees")));
        printf("  Registry: stake %s PHA, %llu active worker(s) x %s PHA minimum: %s\n",
               json_string_value(json_object_get(out, "registry_stake")),
               (unsigned long long)active_workers,
               json_string_value(json_object_get(out, "min_stake_per_worker")),
               eligible ? "eligible" : "NOT eligible (below the minimum)");
        if (d)
            printf("  %s: %s shares worth %s PHA, %s queued, claimable %s PHA\n",
                   json_string_value(json_object_get(d, "address")),
                   json_string_value(json_object_get(d, "shares")),
                   json_string_value(json_object_get(d, "value")),
                   json_string_value(json_object_get(d, "unbonding_shares")),
                   json_string_value(json_object_get(d, "claimable")));
    }
    rc = 0;
out:
    json_decref(p);
    json_decref(r);
    json_decref(out);
    return rc;
}

/* Prints the outcome of a transaction verb: the fields of result (stolen). */
static int done(cli_opt_t *opts, json_t *result, const char *text)
{
    if (opts[OC_JSON].seen)
        cli_print_json(result);
    else
        printf("%s\n", text);
    json_decref(result);
    return 0;
}

/* ---- report-equivocation -------------------------------------------------------- */

/* The results one EVIDENCE argument holds, appended to list. */
static int evidence_load(const char *prefix, const char *src, json_t *list)
{
    phx_error_t e = {0};
    json_t *doc = NULL;
    if (!strncmp(src, "http://", 7) || !strncmp(src, "https://", 8)) {
        phx_http_client_opts_t co = {0};
        int status = 0;
        if (phx_net_curl_init(&e) || phx_http_json("GET", src, NULL, &co, &status, &doc, &e))
            return cli_error(PHX_EXIT_FAIL, prefix, "%s: %s", src, e.message);
    } else if (phx_json_load_file(src, &doc, &e)) {
        return cli_error(PHX_EXIT_USAGE, prefix, "%s", e.message); /* it names the file */
    }
    json_t *arr = json_is_array(doc) ? doc : json_object_get(doc, "results");
    if (json_is_array(arr)) {
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v) json_array_append(list, v);
    } else if (json_is_object(doc)) {
        json_array_append(list, doc);
    }
    json_decref(doc);
    return 0;
}

/* Whether a and b prove an equivocation; prints why not. */
static int equivocation_check(const char *prefix, const onchain_t *c, const phx_result_t r[2])
{
    phx_error_t e = {0};
    for (int i = 0; i < 2; i++) {
        const char *which = i ? "the second result" : "the first result";
        if (r[i].kind != PHX_RESULT_JOB)
            return cli_error(PHX_EXIT_FAIL, prefix,
                             "%s is a direct call's (kind \"direct\"): only signed results of "
                             "on-chain requests (kind \"job\") can be reported",
                             which);
        if (r[i].chain_id != c->dep.chain_id || memcmp(r[i].jobs, c->dep.jobs, 20))
            return cli_error(PHX_EXIT_FAIL, prefix,
                             "%s was signed for another chain or Jobs contract than this "
                             "deployment's",
                             which);
        if (phx_result_verify(&r[i], &e))
            return cli_error(PHX_EXIT_FAIL, prefix, "%s: %s", which, e.message);
    }
    if (memcmp(r[0].request_id, r[1].request_id, 32))
        return cli_error(PHX_EXIT_FAIL, prefix,
                         "the results are for different requests: not an equivocation");
    if (memcmp(r[0].contract_id, r[1].contract_id, 32) ||
        memcmp(r[0].code_hash, r[1].code_hash, 32))
        return cli_error(PHX_EXIT_FAIL, prefix,
                         "the results name different contracts or code: not an equivocation");
    if (memcmp(r[0].worker, r[1].worker, 20)) {
        char a[43], b[43];
        phx_eth_address_checksum(r[0].worker, a);
        phx_eth_address_checksum(r[1].worker, b);
        return cli_error(PHX_EXIT_FAIL, prefix,
                         "the results are signed by different workers (%s and %s): not an "
                         "equivocation",
                         a, b);
    }
    if (r[0].ok == r[1].ok && r[0].output.len == r[1].output.len &&
        !memcmp(r[0].output.ptr, r[1].output.ptr, r[0].output.len))
        return cli_error(PHX_EXIT_FAIL, prefix,
                         "the two results have the same outcome: not an equivocation");
    return 0;
}

static int report_equivocation(const char *prefix, cli_opt_t *opts, const char **pos, int npos)
{
    json_t *list = json_array(), *args = NULL;
    phx_result_t r[2];
    memset(r, 0, sizeof r);
    onchain_t c;
    memset(&c, 0, sizeof c);
    phx_error_t e = {0};
    int rc = 0;
    for (int i = 0; i < npos && !rc; i++)
        rc = evidence_load(prefix, pos[i], list);
    if (rc) goto out;
    if (json_array_size(list) != 2) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "expected two signed results in all, found %zu",
                       json_array_size(list));
        goto out;
    }
    for (int i = 0; i < 2; i++)
        if (phx_result_from_json(json_array_get(list, (size_t)i), &r[i], &e)) {
            rc = cli_error(PHX_EXIT_USAGE, prefix, "%s result: %s", i ? "second" : "first",
                           e.message);
            goto out;
        }
    if ((rc = onchain_open(prefix, opts, true, &c))) goto out;
    if ((rc = equivocation_check(prefix, &c, r))) goto out;
    uint8_t h[2][32];
    for (int i = 0; i < 2; i++)
        phx_keccak256(r[i].output.ptr, r[i].output.len, h[i]);
    char id[80];
    phx_u256_t rid;
    memcpy(rid.b, r[0].request_id, 32);
    phx_u256_to_dec(&rid, id);
    args = json_pack("[o,s,o,o,b,o,o,b,o,o]", phx_json_hex(r[0].worker, 20), id,
                     phx_json_hex(r[0].contract_id, 32), phx_json_hex(r[0].code_hash, 32), r[0].ok,
                     phx_json_hex(h[0], 32), phx_json_hex(r[0].signature, 65), r[1].ok,
                     phx_json_hex(h[1], 32), phx_json_hex(r[1].signature, 65));
    phx_u256_t before = balance(&c, c.me);
    phx_evm_receipt_t receipt;
    memset(&receipt, 0, sizeof receipt);
    rc = onchain_send(prefix, &c, c.dep.stake_pool,
                      "reportEquivocation(address,uint256,bytes32,bytes32,bool,bytes32,bytes,bool,"
                      "bytes32,bytes)",
                      args, &receipt);
    args = NULL;
    phx_evm_receipt_clear(&receipt);
    if (rc) goto out;
    phx_u256_t after = balance(&c, c.me), got = u256_minus(&after, &before);
    uint8_t op[20];
    uint64_t pid = 0;
    phx_chain_worker_t cw;
    if (!phx_chain_worker_get(c.rpc, &c.dep, r[0].worker, &cw, NULL))
        memcpy(op, cw.operator_, 20);
    else
        memset(op, 0, 20);
    phx_chain_pool_of(c.rpc, &c.dep, op, &pid, NULL);
    char w[43], paid[100];
    phx_eth_address_checksum(r[0].worker, w);
    onchain_format_pha(&got, paid);
    char text[400];
    snprintf(text, sizeof text,
             "reported worker %s for request %s: pool %llu slashed, %s PHA paid to the reporter, "
             "the worker invalidated",
             w, id, (unsigned long long)pid, paid);
    rc = done(opts,
              json_pack("{s:s,s:s,s:I,s:s}", "worker", w, "request_id", id, "pid", (json_int_t)pid,
                        "reporter_reward", paid),
              text);
out:
    json_decref(args);
    json_decref(list);
    phx_result_free(&r[0]);
    phx_result_free(&r[1]);
    onchain_close(&c);
    return rc;
}

static int cmd_stake(int argc, char **argv)
{
    if (argc < 2) return fputs(help, stderr), PHX_EXIT_USAGE;
    if (cli_wants_help(argc, argv)) return cli_help(help);
    const char *sub = argv[1];
    bool pool = strcmp(sub, "pool") == 0;
    if (pool) {
        if (argc < 3)
            return cli_error(PHX_EXIT_USAGE, "phx stake pool", "create, info or set-commission?");
        sub = argv[2];
        if (strcmp(sub, "create") && strcmp(sub, "info") && strcmp(sub, "set-commission"))
            return cli_error(PHX_EXIT_USAGE, "phx stake pool",
                             "unknown subcommand '%s' (create, info, set-commission)", sub);
    } else if (strcmp(sub, "delegate") && strcmp(sub, "undelegate") && strcmp(sub, "withdraw") &&
               strcmp(sub, "claim") && strcmp(sub, "report-equivocation")) {
        return cli_error(PHX_EXIT_USAGE, "phx stake",
                         "unknown subcommand '%s' (pool, delegate, undelegate, withdraw, claim, "
                         "report-equivocation)",
                         sub);
    }
    char pfx[64];
    snprintf(pfx, sizeof pfx, "%s%s", pool ? "pool " : "", sub);
    const char *prefix = prefix_of(pfx);
    cli_opt_t opts[NOPTS] = {
        ONCHAIN_OPTS, [COMMISSION] = {.name = "commission", .takes_value = true},
        [PID] = {.name = "pid", .takes_value = true},
        [DELEGATOR] = {.name = "delegator", .takes_value = true}, [ALL] = {.name = "all"}};
    cli_args_t args;
    /* Parsed from the subcommand's name on, so pos[0] is its first argument. */
    int rc = cli_parse(prefix, argc - (pool ? 2 : 1), argv + (pool ? 2 : 1), opts, NOPTS, &args);
    if (rc) return rc;
    const char **pos = args.pos;
    int npos = args.npos;
    if (!strcmp(sub, "report-equivocation")) {
        if (args.npos < 1 || args.npos > 2)
            rc = cli_error(PHX_EXIT_USAGE, prefix,
                           "expected EVIDENCE [EVIDENCE]: two signed results");
        else
            rc = report_equivocation(prefix, opts, args.pos, args.npos);
        cli_opts_free(opts, NOPTS);
        return rc;
    }
    bool info = pool && strcmp(sub, "info") == 0;
    onchain_t c;
    uint64_t pid = 0;
    uint16_t bps = 1000;
    phx_u256_t amount = {{0}};
    bool create = pool && !strcmp(sub, "create"), setc = pool && !strcmp(sub, "set-commission");
    /* Arguments before the network: usage errors exit 2 without a node. */
    if (create) {
        if (npos != 0) return cli_error(PHX_EXIT_USAGE, prefix, "takes no arguments");
        if (opts[COMMISSION].value &&
            (rc = onchain_parse_percent(prefix, "--commission", opts[COMMISSION].value, &bps)))
            return rc;
    } else if (setc) {
        if (npos != 1) return cli_error(PHX_EXIT_USAGE, prefix, "expected PERCENT");
        if ((rc = onchain_parse_percent(prefix, "PERCENT", pos[0], &bps))) return rc;
    } else if (!info) {
        bool two = !strcmp(sub, "delegate") || (!strcmp(sub, "undelegate") && !opts[ALL].seen);
        if (npos != (two ? 2 : 1))
            return cli_error(PHX_EXIT_USAGE, prefix, "expected PID%s",
                             !strcmp(sub, "delegate")     ? " AMOUNT"
                             : !strcmp(sub, "undelegate") ? " (SHARES | --all)"
                                                          : "");
        if ((rc = parse_pid(prefix, pos[0], &pid))) return rc;
        if (two && (rc = onchain_parse_pha(prefix, !strcmp(sub, "delegate") ? "AMOUNT" : "SHARES",
                                           pos[1], &amount)))
            return rc;
    }
    (void)pos;
    if ((rc = onchain_open(prefix, opts, true, &c))) goto out;
    if (info) {
        cli_args_t shifted = {.npos = npos};
        for (int i = 0; i < npos; i++)
            shifted.pos[i] = pos[i];
        rc = pool_info(prefix, &c, opts, &shifted);
        goto out;
    }
    char text[400], a[100];
    phx_error_t e = {0};
    if (create) {
        if ((rc = onchain_send(prefix, &c, c.dep.stake_pool, "createPool(uint16)",
                               json_pack("[I]", (json_int_t)bps), NULL)))
            goto out;
        if (phx_chain_pool_of(c.rpc, &c.dep, c.me, &pid, &e)) {
            rc = cli_error_e(PHX_EXIT_FAIL, prefix, &e);
            goto out;
        }
        snprintf(text, sizeof text, "opened pool %llu, commission %.2f %%", (unsigned long long)pid,
                 bps / 100.0);
        rc = done(opts,
                  json_pack("{s:I,s:f}", "pid", (json_int_t)pid, "commission_percent", bps / 100.0),
                  text);
    } else if (setc) {
        if ((rc = onchain_send(prefix, &c, c.dep.stake_pool, "setCommission(uint16)",
                               json_pack("[I]", (json_int_t)bps), NULL)))
            goto out;
        snprintf(text, sizeof text, "commission set to %.2f %% for fees from now on", bps / 100.0);
        rc = done(opts, json_pack("{s:f}", "commission_percent", bps / 100.0), text);
    } else if (!strcmp(sub, "delegate")) {
        char dec[80];
        phx_u256_to_dec(&amount, dec);
        if ((rc =
                 onchain_send(prefix, &c, c.dep.token, "approve(address,uint256)",
                              json_pack("[o,s]", phx_json_hex(c.dep.stake_pool, 20), dec), NULL)) ||
            (rc = onchain_send(prefix, &c, c.dep.stake_pool, "delegate(uint256,uint256)",
                               json_pack("[o,s]", dec_json(pid), dec), NULL)))
            goto out;
        onchain_format_pha(&amount, a);
        snprintf(text, sizeof text, "delegated %s PHA to pool %llu", a, (unsigned long long)pid);
        rc = done(opts, json_pack("{s:I,s:s}", "pid", (json_int_t)pid, "amount", a), text);
    } else if (!strcmp(sub, "undelegate")) {
        json_t *d = NULL;
        if (opts[ALL].seen) {
            if ((rc = onchain_read(prefix, &c, c.dep.stake_pool, "delegations(uint256,address)",
                                   json_pack("[o,o]", dec_json(pid), phx_json_hex(c.me, 20)),
                                   "(uint256,uint256,uint256,uint256,uint64)", &d)))
                goto out;
            amount = onchain_u256(json_array_get(d, 0));
            json_decref(d);
            d = NULL;
        }
        char dec[80];
        phx_u256_to_dec(&amount, dec);
        if ((rc = onchain_send(prefix, &c, c.dep.stake_pool, "undelegate(uint256,uint256)",
                               json_pack("[o,s]", dec_json(pid), dec), NULL)) ||
            (rc = onchain_read(prefix, &c, c.dep.stake_pool, "delegations(uint256,address)",
                               json_pack("[o,o]", dec_json(pid), phx_json_hex(c.me, 20)),
                               "(uint256,uint256,uint256,uint256,uint64)", &d)))
            goto out;
        json_int_t ready =
            (json_int_t)strtoll(json_string_value(json_array_get(d, 4)) ?: "0", NULL, 10);
        if (json_is_integer(json_array_get(d, 4))) ready = json_integer_value(json_array_get(d, 4));
        json_decref(d);
        onchain_format_pha(&amount, a);
        snprintf(text, sizeof text, "queued %s shares of pool %llu; withdrawable at unix time %lld",
                 a, (unsigned long long)pid, (long long)ready);
        rc =
            done(opts,
                 json_pack("{s:I,s:s,s:I}", "pid", (json_int_t)pid, "shares", a, "ready_at", ready),
                 text);
    } else {
        bool withdraw = !strcmp(sub, "withdraw");
        phx_u256_t before = balance(&c, c.me);
        if ((rc = onchain_send(prefix, &c, c.dep.stake_pool,
                               withdraw ? "withdraw(uint256)" : "claim(uint256)",
                               json_pack("[o]", dec_json(pid)), NULL)))
            goto out;
        phx_u256_t after = balance(&c, c.me), got = u256_minus(&after, &before);
        onchain_format_pha(&got, a);
        snprintf(text, sizeof text, "%s %s PHA from pool %llu", withdraw ? "withdrew" : "claimed",
                 a, (unsigned long long)pid);
        rc = done(opts, json_pack("{s:I,s:s}", "pid", (json_int_t)pid, "amount", a), text);
    }
out:
    onchain_close(&c);
    cli_opts_free(opts, NOPTS);
    return rc;
}
PHX_CLI_COMMAND(stake, "stake", 62, "stake PHA in operators' pools: delegate, withdraw, claim",
                cmd_stake)
