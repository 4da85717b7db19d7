/* phx pay: the payer's account in the Payments contract (paid direct calls,
 * docs/worker.md "Paid calls"): deposit PHA, read the balance, withdraw after
 * the notice period. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd_onchain.h"
#include "phx/chain.h"
#include "phx/crypto.h"
#include "phx/evm.h"

static const char pay_help[] =
    "usage: phx pay deposit PHA [options]\n"
    "       phx pay balance [ADDRESS] [options]\n"
    "       phx pay withdraw PHA|--finish [options]\n\n"
    "The payer's account in the Payments contract, from which the workers that\n"
    "served its direct calls are paid. `phx call` signs a voucher for each call: the\n"
    "running total the payer owes that worker's operator. The operator redeems the\n"
    "latest voucher on chain later, and the amount leaves the account then.\n"
    "The same account pays the trigger firings of the contracts the payer owns: each\n"
    "recorded firing takes the price of a call from it, with no voucher, and while\n"
    "it is short of that the workers run no firing (`phx triggers` says UNPAID);\n"
    "a deposit lets the next due firing run.\n\n"
    "  deposit PHA       approve and deposit PHA (a decimal, e.g. 10 or 0.5)\n"
    "  balance [ADDRESS] the account of ADDRESS (default: the key's): balance, a\n"
    "                    pending withdrawal and when it is ready, and the price of a\n"
    "                    call\n"
    "  withdraw PHA      ask to withdraw: it can leave after the notice period\n"
    "                    (a day by default; seconds on a devnet), while vouchers\n"
    "                    already given out can still be redeemed from the balance\n"
    "  withdraw --finish after the notice: take what was asked for (or what\n"
    "                    redemptions left of it)\n\n"
    "Options:\n"
    "  --key-file FILE     the payer's key (0x + 64 hex); default: the devnet's user\n"
    "  --rpc URL           the chain (default: the devnet's)\n"
    "  --deployment FILE   the deployment file (default: the devnet's)\n"
    "  --json              print JSON\n\n"
    "Exit status: 0 done, 1 the chain refused or could not be reached (the contract's\n"
    "reason is printed, e.g. NoticeNotOver), 2 bad usage.\n";

static const char *prefix = "phx pay";

/* "12.5" PHA -> wei; at most 18 decimals. */
static int parse_pha(const char *text, phx_u256_t *out)
{
    char digits[100];
    const char *dot = strchr(text, '.');
    size_t whole = dot ? (size_t)(dot - text) : strlen(text);
    size_t frac = dot ? strlen(dot + 1) : 0;
    if (!whole || whole > 40 || frac > 18 || strspn(text, "0123456789") != whole ||
        (dot && strspn(dot + 1, "0123456789") != frac))
        return cli_error(PHX_EXIT_USAGE, prefix,
                         "'%s': expected an amount of PHA such as 10 or 0.5", text);
    memcpy(digits, text, whole);
    memcpy(digits + whole, dot ? dot + 1 : "", frac);
    memset(digits + whole + frac, '0', 18 - frac);
    digits[whole + 18] = '\0';
    phx_error_t e = {0};
    if (phx_u256_from_str(digits, out, &e) || phx_u256_is_zero(out))
        return cli_error(PHX_EXIT_USAGE, prefix, "'%s': expected a positive amount of PHA", text);
    return 0;
}

static json_t *dec_json(const phx_u256_t *v)
{
    char d[80];
    phx_u256_to_dec(v, d);
    return json_string(d);
}

typedef struct {
    phx_rpc_t *rpc;
    phx_signer_t *signer;
    phx_chain_deployment_t dep;
    uint8_t sk[32], me[20];
    bool have_key;
} pay_ctx_t;

static int open_ctx(const char *rpc_url, const char *dep_path, const char *key_file, bool need_key,
                    pay_ctx_t *c)
{
    memset(c, 0, sizeof *c);
    char ep_path[1100];
    json_t *ep = NULL, *file = NULL;
    phx_error_t e = {0};
    int rc = 0;
    if (!cli_endpoints_path(ep_path, sizeof ep_path)) phx_json_load_file(ep_path, &ep, NULL);
    if (!rpc_url) rpc_url = json_string_value(json_object_get(ep, "rpc"));
    if (!rpc_url) rpc_url = getenv("PHX_RPC");
    if (!key_file)
        key_file = json_string_value(json_object_get(json_object_get(ep, "user"), "key_file"));
    const json_t *dj = json_object_get(ep, "deployment");
    if (dep_path) {
        if (phx_json_load_file(dep_path, &file, &e)) {
            rc = cli_error(PHX_EXIT_USAGE, prefix, "%s: %s", dep_path, e.message);
            goto out;
        }
        dj = file;
        if (!rpc_url) rpc_url = json_string_value(json_object_get(file, "rpc"));
    }
    if (!rpc_url || !dj) {
        rc = cli_error(PHX_EXIT_USAGE, prefix,
                       "no chain: give --rpc and --deployment, or start `phx devnet`");
        goto out;
    }
    if (phx_chain_deployment_from_json(dj, &c->dep, &e)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "deployment: %s", e.message);
        goto out;
    }
    if (!phx_chain_has_payments(&c->dep)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix,
                       "this deployment has no Payments contract (deployed before it existed)");
        goto out;
    }
    if (key_file) {
        phx_buf_t k = PHX_BUF_INIT;
        k.secret = true;
        if (phx_file_read(key_file, &k, &e)) {
            rc = cli_error_e(PHX_EXIT_USAGE, prefix, &e);
        } else {
            char *nl = strchr((char *)k.ptr, '\n');
            if (nl) *nl = '\0';
            if (phx_hex_decode_fixed((const char *)k.ptr, c->sk, 32, NULL) ||
                phx_eth_address_from_seckey(c->sk, c->me))
                rc = cli_error(PHX_EXIT_USAGE, prefix, "%s: not a secp256k1 key", key_file);
            else
                c->have_key = true;
        }
        phx_buf_free(&k);
        if (rc) goto out;
    } else if (need_key) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "needs the payer's key: --key-file FILE");
        goto out;
    }
    if (phx_rpc_open(rpc_url, NULL, &c->rpc, &e) ||
        (c->have_key && need_key && phx_signer_open(c->rpc, c->sk, NULL, &c->signer, &e)))
        rc = cli_error(PHX_EXIT_FAIL, prefix, "%s: %s", rpc_url, e.message);
out:
    json_decref(file);
    json_decref(ep);
    return rc;
}

static void close_ctx(pay_ctx_t *c)
{
    phx_signer_close(c->signer);
    phx_rpc_close(c->rpc);
    phx_secure_zero(c->sk, sizeof c->sk);
}

static int transact(pay_ctx_t *c, const uint8_t to[20], const char *sig, json_t *args)
{
    phx_error_t e = {0};
    phx_err_t err = phx_chain_transact(c->signer, to, sig, args, NULL, &e);
    if (err) phx_chain_explain_revert(c->rpc, c->me, to, sig, args, &e);
    json_decref(args);
    return err ? cli_error(PHX_EXIT_FAIL, prefix, "%s: %s", sig, e.message) : 0;
}

static int read_account(pay_ctx_t *c, const uint8_t who[20], json_t **out)
{
    phx_error_t e = {0};
    json_t *acct = NULL, *args = json_pack("[o]", phx_json_hex(who, 20)), *p1 = NULL, *p2 = NULL,
           *np = NULL;
    phx_u256_t wallet;
    int rc = 0;
    if (phx_chain_read(c->rpc, c->dep.payments, "accounts(address)", args,
                       "(uint256,uint256,uint64)", &acct, &e) ||
        phx_chain_read(c->rpc, c->dep.payments, "pricePerCall()", NULL, "(uint256)", &p1, &e) ||
        phx_chain_read(c->rpc, c->dep.payments, "pricePerCpuMs()", NULL, "(uint256)", &p2, &e) ||
        phx_chain_read(c->rpc, c->dep.payments, "noticePeriod()", NULL, "(uint64)", &np, &e) ||
        phx_chain_token_balance(c->rpc, &c->dep, who, &wallet, &e)) {
        rc = cli_error(PHX_EXIT_FAIL, prefix, "reading the account: %s", e.message);
        goto out;
    }
    char a[43];
    phx_eth_address_checksum(who, a);
    *out = json_pack("{s:s,s:O,s:O,s:O,s:O,s:O,s:O,s:o}", "payer", a, "balance",
                     json_array_get(acct, 0), "pending_withdrawal", json_array_get(acct, 1),
                     "withdraw_ready_at", json_array_get(acct, 2), "price_per_call",
                     json_array_get(p1, 0), "price_per_cpu_ms", json_array_get(p2, 0),
                     "notice_period_s", json_array_get(np, 0), "wallet", dec_json(&wallet));
    if (!*out) rc = cli_error(PHX_EXIT_FAIL, prefix, "the chain's answer does not parse");
out:
    json_decref(args);
    json_decref(acct);
    json_decref(p1);
    json_decref(p2);
    json_decref(np);
    return rc;
}

static void print_account(const json_t *a)
{
    phx_u256_t v;
    char pha[100];
    const char *keys[] = {"balance", "pending_withdrawal", "wallet"};
    const char *labels[] = {"balance    ", "withdrawing", "wallet     "};
    printf("payer       %s\n", json_string_value(json_object_get(a, "payer")));
    for (int i = 0; i < 3; i++) {
        const char *s = json_string_value(json_object_get(a, keys[i]));
        if (!s || phx_u256_from_str(s, &v, NULL)) continue;
        onchain_format_pha(&v, pha);
        if (i == 1 && phx_u256_is_zero(&v)) continue;
        printf("%s %s PHA\n", labels[i], pha);
        if (i == 1) {
            const char *r = json_string_value(json_object_get(a, "withdraw_ready_at"));
            long long at = r ? atoll(r) : 0, now = (long long)time(NULL);
            printf("ready       %s\n", at <= now ? "now (phx pay withdraw --finish)" : "later");
            if (at > now) printf("            in %lld s\n", at - now);
        }
    }
    const char *pc = json_string_value(json_object_get(a, "price_per_call"));
    const char *pm = json_string_value(json_object_get(a, "price_per_cpu_ms"));
    printf("price       %s wei per call + %s wei per CPU-ms\n", pc ? pc : "?", pm ? pm : "?");
}

static int cmd_pay(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) return cli_help(pay_help);
    enum { KEY, RPC, DEP, FINISH, JSON, NOPTS };
    cli_opt_t opts[NOPTS] = {
        [KEY] = {.name = "key-file", .takes_value = true},
        [RPC] = {.name = "rpc", .takes_value = true},
        [DEP] = {.name = "deployment", .takes_value = true},
        [FINISH] = {.name = "finish"},
        [JSON] = {.name = "json"},
    };
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, NOPTS, &args);
    if (rc) return rc;
    pay_ctx_t c;
    memset(&c, 0, sizeof c);
    json_t *acct = NULL;
    const char *verb = args.npos ? args.pos[0] : NULL;
    bool as_json = opts[JSON].seen;
    phx_u256_t amount = {{0}};
    if (!verb || (strcmp(verb, "deposit") && strcmp(verb, "balance") && strcmp(verb, "withdraw"))) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "wants deposit, balance or withdraw (see --help)");
        goto out;
    }
    bool is_balance = !strcmp(verb, "balance"), finish = opts[FINISH].seen;
    if (!strcmp(verb, "deposit") || (!strcmp(verb, "withdraw") && !finish)) {
        if (args.npos != 2) {
            rc = cli_error(PHX_EXIT_USAGE, prefix, "%s wants an amount of PHA", verb);
            goto out;
        }
        if ((rc = parse_pha(args.pos[1], &amount))) goto out;
    } else if (args.npos > (is_balance ? 2 : 1) || (finish && strcmp(verb, "withdraw"))) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "%s: unexpected arguments (see --help)", verb);
        goto out;
    }
    uint8_t who[20];
    bool other = is_balance && args.npos == 2;
    if (other && phx_hex_decode_fixed(args.pos[1], who, 20, NULL)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "'%s' is not an address (0x + 40 hex)", args.pos[1]);
        goto out;
    }
    if ((rc = open_ctx(opts[RPC].value, opts[DEP].value, opts[KEY].value, !other, &c))) goto out;
    if (!other) memcpy(who, c.me, 20);
    char dec[80];
    phx_u256_to_dec(&amount, dec);
    if (!strcmp(verb, "deposit")) {
        if ((rc = transact(&c, c.dep.token, "approve(address,uint256)",
                           json_pack("[o,s]", phx_json_hex(c.dep.payments, 20), dec))) ||
            (rc = transact(&c, c.dep.payments, "deposit(uint256)", json_pack("[s]", dec))))
            goto out;
    } else if (!strcmp(verb, "withdraw") && !finish) {
        if ((rc = transact(&c, c.dep.payments, "requestWithdraw(uint256)", json_pack("[s]", dec))))
            goto out;
    } else if (finish) {
        if ((rc = transact(&c, c.dep.payments, "withdraw()", json_array()))) goto out;
    }
    if ((rc = read_account(&c, who, &acct))) goto out;
    json_object_set_new(acct, "action", json_string(finish ? "withdrawn" : verb));
    if (as_json)
        cli_print_json(acct);
    else
        print_account(acct);
out:
    json_decref(acct);
    close_ctx(&c);
    cli_opts_free(opts, NOPTS);
    return rc;
}
PHX_CLI_COMMAND(pay, "pay", 412,
                "the payer's deposit for paid direct calls: deposit, balance, "
                "withdraw",
                cmd_pay)
