/* The devnet: anvil, the contracts, a KMS, N workers and a gateway, each a
 * child process in its own process group (so the npm anvil wrapper and its
 * native binary are signalled together) that dies with us (PR_SET_PDEATHSIG).
 * Everything that must survive a restart lives in DIR: anvil's state file,
 * deployment.json, the KMS's sealed root, the sim platform, each worker's
 * directory and operator key. docs/devnet.md. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "phx/chain.h"
#include "phx/crypto.h"
#include "phx/devnet.h"
#include "phx/evm.h"
#include "phx/json.h"
#include "phx/kms_node.h"
#include "phx/net.h"
#include "phx/tee.h"

/* anvil's first well-known development account: deployer and governor. Public
 * knowledge, funded only on a development chain. */
static const char DEV_KEY[] = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

#define MAX_CHILDREN 70

typedef struct {
    char name[32];
    pid_t pid;
    int stop_signal;
    char **argv;      /* owned copy, NULL-terminated: what a restart runs again */
    bool restartable; /* the daemons are; anvil is not (its state would be lost) */
    unsigned restarts;
    int status; /* waitpid's, once it has exited */
} child_t;

struct phx_devnet {
    phx_devnet_opts_t opts;
    char dir[1024];
    child_t children[MAX_CHILDREN];
    size_t nchildren;
    json_t *endpoints;
    json_t *chains;                               /* endpoints' "chains" */
    char chain_args[PHX_DEVNET_MAX_CHAINS][1100]; /* the workers' --chain-rpc values */
};

/* ---- processes ------------------------------------------------------------------- */

/* Run c->argv with stdout to DIR/logs/<name>.out and stderr to .log. */
static phx_err_t launch(phx_devnet_t *dn, child_t *c, phx_error_t *e)
{
    char outp[1200], logp[1200];
    snprintf(outp, sizeof outp, "%s/logs/%s.out", dn->dir, c->name);
    snprintf(logp, sizeof logp, "%s/logs/%s.log", dn->dir, c->name);
    unlink(outp);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return phx_fail(e, PHX_ERR_IO, "fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        /* A devnet killed with SIGKILL must not leave its network running. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(127);
        int in = open("/dev/null", O_RDONLY);
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int l = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (in < 0 || o < 0 || l < 0) _exit(127);
        dup2(in, 0);
        dup2(o, 1);
        dup2(l, 2);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL); /* the CLI blocks signals for sigwait */
        execvp(c->argv[0], c->argv);
        _exit(127);
    }
    setpgid(pid, pid);
    c->pid = pid;
    return PHX_OK;
}

static void argv_free(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

static phx_err_t spawn(phx_devnet_t *dn, const char *name, char *const argv[], int stop_signal,
                       child_t **out, phx_error_t *e)
{
    if (dn->nchildren == MAX_CHILDREN) return phx_fail(e, PHX_ERR_LIMIT, "too many processes");
    size_t n = 0;
    while (argv[n])
        n++;
    char **copy = calloc(n + 1, sizeof *copy);
    for (size_t i = 0; copy && i < n; i++)
        if (!(copy[i] = strdup(argv[i]))) {
            argv_free(copy);
            copy = NULL;
        }
    if (!copy) return phx_fail(e, PHX_ERR_NOMEM, "argv");
    child_t *c = &dn->children[dn->nchildren];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->argv = copy;
    c->stop_signal = stop_signal;
    c->restartable = stop_signal == SIGTERM;
    phx_err_t err = launch(dn, c, e);
    if (err) {
        argv_free(copy);
        c->argv = NULL;
        return err;
    }
    dn->nchildren++;
    if (out) *out = c;
    return PHX_OK;
}

static bool alive(child_t *c)
{
    if (c->pid <= 0) return false;
    if (waitpid(c->pid, &c->status, WNOHANG) == c->pid) {
        c->pid = 0;
        return false;
    }
    return true;
}

/* How a child ended, for the log: "exit 2", "signal 9". */
static const char *how_ended(const child_t *c, char *buf, size_t cap)
{
    if (WIFSIGNALED(c->status))
        snprintf(buf, cap, "signal %d", WTERMSIG(c->status));
    else
        snprintf(buf, cap, "exit %d", WEXITSTATUS(c->status));
    return buf;
}

static void stop_child(child_t *c)
{
    pid_t pid = c->pid;
    c->pid = 0;
    if (pid <= 0) return;
    kill(-pid, c->stop_signal);
    for (int i = 0; i < 100; i++) { /* 10 s: anvil writes its state on the way out */
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            kill(-pid, SIGKILL); /* anything left in its group (the npm wrapper's child) */
            return;
        }
        usleep(100 * 1000);
    }
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Wait until the child's stdout holds one whole JSON document (its ready line). */
static phx_err_t wait_ready(phx_devnet_t *dn, child_t *c, json_t **ready, phx_error_t *e)
{
    char outp[1200];
    snprintf(outp, sizeof outp, "%s/logs/%s.out", dn->dir, c->name);
    uint64_t deadline = phx_monotonic_ms() + dn->opts.ready_timeout_ms;
    while (phx_monotonic_ms() < deadline) {
        char how[32];
        if (!alive(c))
            return phx_fail(e, PHX_ERR_STATE, "%s exited during start (%s); see %s/logs/%s.log",
                            c->name, how_ended(c, how, sizeof how), dn->dir, c->name);
        phx_buf_t b = PHX_BUF_INIT;
        if (!phx_file_read(outp, &b, NULL) && b.len &&
            !phx_json_parse((const char *)b.ptr, b.len, ready, NULL)) {
            phx_buf_free(&b);
            return PHX_OK;
        }
        phx_buf_free(&b);
        usleep(100 * 1000);
    }
    return phx_fail(e, PHX_ERR_TIMEOUT, "%s not ready in time; see %s/logs/%s.log", c->name,
                    dn->dir, c->name);
}

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

phx_err_t phx_devnet_find_anvil(const char *anvil, const char *node_modules, char *out, size_t cap,
                                phx_error_t *e)
{
    if (anvil && *anvil) {
        if (strchr(anvil, '/') && access(anvil, X_OK) != 0)
            return phx_fail(e, PHX_ERR_NOT_FOUND, "anvil %s is not executable", anvil);
        snprintf(out, cap, "%s", anvil);
        return PHX_OK;
    }
    if (node_modules && *node_modules) {
        /* The native binary first: signals reach it directly, so it writes its
         * state file on the way out. */
        const char *cands[] = {"@foundry-rs/anvil-linux-amd64/bin/anvil",
                               "@foundry-rs/anvil-linux-arm64/bin/anvil", ".bin/anvil"};
        for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
            snprintf(out, cap, "%s/%s", node_modules, cands[i]);
            if (access(out, X_OK) == 0) return PHX_OK;
        }
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(out, cap, "%.*s/anvil", (int)n, path);
        if (n && access(out, X_OK) == 0) return PHX_OK;
        path = colon ? colon + 1 : NULL;
    }
    return phx_fail(e, PHX_ERR_NOT_FOUND,
                    "anvil not found (run scripts/setup.sh, or give --anvil PATH)");
}

/* ---- chain setup ---------------------------------------------------------------- */

static phx_err_t transact(phx_signer_t *s, const uint8_t to[20], const char *sig, json_t *args,
                          phx_error_t *e)
{
    phx_err_t err = phx_chain_transact(s, to, sig, args, NULL, e);
    json_decref(args);
    if (err) phx_error_wrap(e, err, "%s", sig);
    return err;
}

static phx_err_t wait_rpc(const char *url, child_t *c, uint64_t timeout_ms, phx_rpc_t **rpc,
                          phx_error_t *e)
{
    phx_rpc_opts_t ro = {.timeout_ms = 2000, .retries = 0};
    uint64_t deadline = phx_monotonic_ms() + timeout_ms;
    while (phx_monotonic_ms() < deadline) {
        if (!alive(c)) return phx_fail(e, PHX_ERR_STATE, "anvil exited during start");
        uint64_t id;
        if (!phx_rpc_open(url, &ro, rpc, NULL)) {
            if (!phx_rpc_chain_id(*rpc, &id, NULL)) return PHX_OK;
            phx_rpc_close(*rpc);
            *rpc = NULL;
        }
        usleep(100 * 1000);
    }
    return phx_fail(e, PHX_ERR_TIMEOUT, "anvil did not answer at %s", url);
}

/* phx.evm's chains (opts.chains): the devnet's own as "main", and one more
 * anvil per extra chain, "b", "c", "d", each with its own chain id and state
 * file (and main's block time, if any). dn->chain_args gets the workers' --chain-rpc values,
 * dn->chains the endpoints' "chains" object. */
static phx_err_t start_chains(phx_devnet_t *dn, const char *anvil, phx_rpc_t *main_rpc,
                              const char *main_url, json_t *pids, phx_error_t *e)
{
    unsigned n = dn->opts.chains ? dn->opts.chains : 1;
    if (n > PHX_DEVNET_MAX_CHAINS)
        return phx_fail(e, PHX_ERR_INVALID, "at most %d chains", PHX_DEVNET_MAX_CHAINS);
    uint64_t main_id;
    phx_err_t err = phx_rpc_chain_id(main_rpc, &main_id, e);
    if (err) return err;
    dn->chains = json_object();
    json_object_set_new(dn->chains, "main",
                        json_pack("{s:s,s:I}", "rpc", main_url, "chain_id", (json_int_t)main_id));
    snprintf(dn->chain_args[0], sizeof dn->chain_args[0], "main=%s", main_url);
    for (unsigned i = 1; i < n; i++) {
        char name[2] = {(char)('a' + i), 0}, port[16], id[24], state[1200], url[64], pname[16];
        int p = phx_net_port_pick();
        if (p <= 0) return phx_fail(e, PHX_ERR_IO, "no free port");
        snprintf(port, sizeof port, "%d", p);
        snprintf(url, sizeof url, "http://127.0.0.1:%d", p);
        snprintf(id, sizeof id, "%llu", (unsigned long long)(main_id + i));
        snprintf(state, sizeof state, "%s/chain/anvil-%s-state.json", dn->dir, name);
        snprintf(pname, sizeof pname, "anvil-%s", name);
        char *argv[16] = {(char *)anvil, "--host",           "127.0.0.1", "--port",
                          port,          "--chain-id",       id,          "--state",
                          state,         "--state-interval", "5",         "--silent"};
        char bt[16]; /* --block-time mines every chain on that period, not only main */
        snprintf(bt, sizeof bt, "%u", dn->opts.block_time_s);
        if (dn->opts.block_time_s) argv[12] = "--block-time", argv[13] = bt;
        child_t *c = NULL;
        phx_rpc_t *rpc = NULL;
        if ((err = spawn(dn, pname, argv, SIGINT, &c, e)) ||
            (err = wait_rpc(url, c, dn->opts.ready_timeout_ms, &rpc, e)))
            return err;
        phx_rpc_close(rpc);
        json_object_set_new(pids, pname, json_integer(c->pid));
        json_object_set_new(
            dn->chains, name,
            json_pack("{s:s,s:I}", "rpc", url, "chain_id", (json_int_t)(main_id + i)));
        snprintf(dn->chain_args[i], sizeof dn->chain_args[i], "%s=%s#%s", name, url, id);
    }
    return PHX_OK;
}

/* The contracts are deployed once; later starts find them in the resumed state. */
static phx_err_t ensure_deployment(phx_devnet_t *dn, phx_rpc_t *rpc, phx_signer_t *gov,
                                   phx_chain_deployment_t *dep, bool *fresh, phx_error_t *e)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/deployment.json", dn->dir);
    *fresh = false;
    if (file_exists(path) && !phx_chain_deployment_load(path, dep, NULL)) {
        phx_buf_t code = PHX_BUF_INIT;
        bool has_code = !phx_rpc_get_code(rpc, dep->registry, NULL, &code, NULL) && code.len > 0;
        phx_buf_free(&code);
        /* A chain from before InferenceRegistry gets one (handed over with the rest). */
        if (has_code && !phx_chain_has_inference_registry(dep)) {
            phx_err_t err = phx_chain_deploy_inference_registry(gov, dep, e);
            return err ? err : phx_chain_deployment_save(dep, path, e);
        }
        if (has_code) return PHX_OK;
        PHX_WARN("devnet: %s names contracts the chain does not have; deploying again", path);
    }
    /* Short unbonding and voting so a devnet runs a whole vote in seconds. */
    phx_chain_params_t params;
    phx_chain_params_devnet(&params);
    phx_err_t err = phx_chain_deploy(gov, &params, dep, e);
    if (err) return err;
    *fresh = true;
    return phx_chain_deployment_save(dep, path, e);
}

/* Governance admits the devnet's KMS: phx_kms_admit with a verifier that
 * trusts only this devnet's sim platform root. */
static phx_err_t admit_kms(phx_rpc_t *rpc, phx_signer_t *gov, const phx_chain_deployment_t *dep,
                           const char *kms_url, const uint8_t kms_addr[20], const char *sim_dir,
                           phx_error_t *e)
{
    phx_buf_t root = PHX_BUF_INIT;
    phx_attest_verifier_t *verifier = NULL;
    phx_err_t err;
    if ((err = phx_tee_sim_read_root(sim_dir, &root, e)) ||
        (err = phx_attest_verifier_new(root.ptr, root.len, &verifier, e)))
        goto out;
    phx_kms_attest_t attest = {.verifier = verifier};
    phx_kms_admit_opts_t ao = {.kms_url = kms_url,
                               .expect_kms = kms_addr,
                               .governor = gov,
                               .rpc = rpc,
                               .deployment = dep,
                               .verify_quote = phx_kms_verify_quote_attest,
                               .verify_ctx = &attest};
    phx_kms_admission_t adm;
    if ((err = phx_kms_admit(&ao, &adm, e))) phx_error_wrap(e, err, "admitting the KMS");
out:
    phx_attest_verifier_free(verifier);
    phx_buf_free(&root);
    return err;
}

/* An account of the devnet: a key of its own kept in key_path, funded with gas
 * money and PHA by the deployer. A worker's operator (stake) opens its pool
 * and stakes the Registry's minimum; the user gets PHA to pay for requests. */
/* stake: 0 for the user; else how many workers the operator runs (it stakes
 * the default minimum for each). */
static phx_err_t ensure_account(phx_rpc_t *rpc, phx_signer_t *gov,
                                const phx_chain_deployment_t *dep, const char *key_path,
                                unsigned stake, uint8_t addr[20], phx_error_t *e)
{
    uint8_t sk[32];
    phx_buf_t text = PHX_BUF_INIT;
    phx_signer_t *op = NULL;
    phx_err_t err = PHX_OK;
    if (!phx_file_read(key_path, &text, NULL)) {
        char *nl = strchr((char *)text.ptr, '\n');
        if (nl) *nl = '\0';
        if ((err = phx_hex_decode_fixed((const char *)text.ptr, sk, 32, e))) goto out;
    } else {
        char hex[67] = "0x";
        if ((err = phx_secp256k1_keygen(sk))) {
            phx_fail(e, err, "operator key");
            goto out;
        }
        phx_hex_encode_to(hex + 2, sk, 32);
        err = phx_file_write_atomic(key_path, hex, 66, 0600, e);
        phx_secure_zero(hex, sizeof hex);
        if (err) goto out;
    }
    if ((err = phx_eth_address_from_seckey(sk, addr))) goto out;

    phx_u256_t bal, min_eth = phx_u256_from_u64(1000000000000000000ull); /* 1 ETH */
    if ((err = phx_rpc_get_balance(rpc, addr, NULL, &bal, e))) goto out;
    if (phx_u256_cmp(&bal, &min_eth) < 0) {
        phx_evm_send_t tx = {.has_to = true, .value = phx_u256_mul_u64(&min_eth, 100)};
        memcpy(tx.to, addr, 20);
        phx_evm_receipt_t receipt = {0}; /* phx_signer_transact wants somewhere to put it */
        err = phx_signer_transact(gov, &tx, 1, 30000, &receipt, e);
        phx_evm_receipt_clear(&receipt);
        if (err) goto out;
    }
    json_t *have_j = NULL;
    if (!stake) {
        /* The devnet's user: PHA to pay for on-chain requests, and 1000 of
         * it deposited in Payments for direct calls. */
        phx_u256_t pha;
        if ((err = phx_chain_token_balance(rpc, dep, addr, &pha, e))) goto out;
        if (phx_u256_is_zero(&pha) &&
            (err = transact(gov, dep->token, "transfer(address,uint256)",
                            json_pack("[o,s]", phx_json_hex(addr, 20), "100000000000000000000000"),
                            e)))
            goto out;
        if (!phx_chain_has_payments(dep)) goto out;
        json_t *acct = NULL, *who = json_pack("[o]", phx_json_hex(addr, 20));
        err = phx_chain_read(rpc, dep->payments, "accounts(address)", who,
                             "(uint256,uint256,uint64)", &acct, e);
        json_decref(who);
        if (err) goto out;
        const char *deposited = json_string_value(json_array_get(acct, 0));
        bool funded = deposited && strcmp(deposited, "0") != 0;
        json_decref(acct);
        const char amount[] = "1000000000000000000000";
        if (!funded &&
            (!(err = phx_signer_open(rpc, sk, NULL, &op, e)) &&
             !(err = transact(op, dep->token, "approve(address,uint256)",
                              json_pack("[o,s]", phx_json_hex(dep->payments, 20), amount), e))))
            err = transact(op, dep->payments, "deposit(uint256)", json_pack("[s]", amount), e);
        goto out;
    }
    json_t *who = json_pack("[o]", phx_json_hex(addr, 20)); /* phx_chain_read borrows it */
    err = phx_chain_read(rpc, dep->registry, "stakeOf(address)", who, "(uint256)", &have_j, e);
    json_decref(who);
    if (err) goto out;
    const char *have = json_string_value(json_array_get(have_j, 0));
    /* 1000 PHA per worker, the default minimum stake (phx_chain_params_default),
     * into the operator's own pool (opened here with a 10 % commission). */
    phx_u256_t v, held = {0}, need = phx_u256_mul_u64(&min_eth, 1000ull * stake);
    if (have) phx_u256_from_str(have, &held, NULL);
    json_decref(have_j);
    /* One worker: any stake will do (as before); more: the sum for all of them. */
    if (stake <= 1 ? phx_u256_is_zero(&held) : phx_u256_cmp(&held, &need) < 0) {
        char amount[80]; /* all of it again: simpler than a difference, ample either way */
        v = need;
        phx_u256_to_dec(&v, amount);
        if ((err = transact(gov, dep->token, "transfer(address,uint256)",
                            json_pack("[o,s]", phx_json_hex(addr, 20), amount), e)) ||
            (err = phx_signer_open(rpc, sk, NULL, &op, e)) ||
            (err = phx_chain_stake(rpc, op, dep, &v, PHX_CHAIN_DEFAULT_COMMISSION_BPS, NULL, e)))
            goto out;
    }
out:
    phx_signer_close(op);
    phx_secure_zero(sk, sizeof sk);
    phx_buf_free(&text);
    return err;
}

/* Whether the deployer still governs the Registry (before the hand-over). */
static phx_err_t deployer_governs(phx_rpc_t *rpc, phx_signer_t *gov,
                                  const phx_chain_deployment_t *dep, bool *out, phx_error_t *e)
{
    json_t *args = json_array(), *ret = NULL;
    phx_err_t err = phx_chain_read(rpc, dep->registry, "governor()", args, "(address)", &ret, e);
    json_decref(args);
    uint8_t g[20], me[20];
    phx_signer_address(gov, me);
    const char *s = err ? NULL : json_string_value(json_array_get(ret, 0));
    if (!err && (!s || phx_hex_decode_fixed(s, g, 20, NULL)))
        err = phx_fail(e, PHX_ERR_REMOTE, "Registry.governor(): not an address");
    if (!err) *out = memcmp(g, me, 20) == 0;
    json_decref(ret);
    return err;
}

/* After the hand-over the devnet cannot allow its own code: a vote must. */
static phx_err_t require_allowed(phx_rpc_t *rpc, const phx_chain_deployment_t *dep,
                                 const uint8_t meas[32], phx_error_t *e)
{
    json_t *args = json_pack("[o]", phx_json_hex(meas, 32)), *ret = NULL;
    phx_err_t err =
        phx_chain_read(rpc, dep->registry, "measurementAllowed(bytes32)", args, "(bool)", &ret, e);
    json_decref(args);
    if (!err && !json_is_true(json_array_get(ret, 0)))
        err = phx_fail(e, PHX_ERR_STATE,
                       "this phx build's measurement is not allowed and the timelock governs: "
                       "allow it by a vote (phx gov propose), or start a fresh devnet");
    json_decref(ret);
    return err;
}

/* keccak256(MRENCLAVE || MRSIGNER) of phx_bin on the sim TEE's SGX flavour
 * (Registry.parseQuote's SGX measurement), set allowed like the TDX one. */
static phx_err_t allow_sgx_measurement(phx_rpc_t *rpc, phx_signer_t *gov,
                                       const phx_chain_deployment_t *dep, const char *phx_bin,
                                       const char *sim_dir, bool governs, phx_error_t *e)
{
    phx_tee_config_t tc = {.sim_dir = sim_dir, .sim_binary = phx_bin, .sim_sgx = true};
    phx_tee_t *t = NULL;
    phx_tee_measurement_t m;
    phx_err_t err = phx_tee_open(PHX_TEE_SIM, &tc, &t, e);
    if (!err) err = phx_tee_measurement(t, &m, e);
    phx_tee_close(t);
    if (err) return phx_error_wrap(e, err, "the SGX workers' measurement");
    uint8_t both[64], id[32];
    memcpy(both, m.mr_enclave, 32);
    memcpy(both + 32, m.mr_signer, 32);
    phx_keccak256(both, sizeof both, id);
    if (!governs) return require_allowed(rpc, dep, id, e);
    return transact(gov, dep->registry, "setMeasurement(bytes32,bool)",
                    json_pack("[o,b]", phx_json_hex(id, 32), 1), e);
}

/* The deployer's PHA count as votes only once delegated (ERC20Votes): to itself. */
static phx_err_t delegate_votes(phx_rpc_t *rpc, phx_signer_t *gov,
                                const phx_chain_deployment_t *dep, phx_error_t *e)
{
    uint8_t me[20], d[20];
    phx_signer_address(gov, me);
    json_t *args = json_pack("[o]", phx_json_hex(me, 20)), *ret = NULL;
    phx_err_t err =
        phx_chain_read(rpc, dep->token, "delegates(address)", args, "(address)", &ret, e);
    json_decref(args);
    const char *s = err ? NULL : json_string_value(json_array_get(ret, 0));
    bool done = !err && s && !phx_hex_decode_fixed(s, d, 20, NULL) && memcmp(d, me, 20) == 0;
    json_decref(ret);
    if (err || done) return err;
    return transact(gov, dep->token, "delegate(address)", json_pack("[o]", phx_json_hex(me, 20)),
                    e);
}

/* Whether this phx binary has a verb (`phx VERB --help` exits 0). */
static bool has_verb(const char *bin, const char *verb)
{
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) dup2(null, 1), dup2(null, 2);
        execl(bin, bin, verb, "--help", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ---- start / stop ---------------------------------------------------------------- */

/* The devnet's state is its own: 0700 on everything it creates. */
static phx_err_t mkdirs(const char *dir, const char *sub, phx_error_t *e)
{
    char p[1200];
    snprintf(p, sizeof p, "%s%s%s", dir, sub ? "/" : "", sub ? sub : "");
    return phx_dir_ensure(p, 0700, e);
}

/* Whether pid is alive and one of ours for dir: its command line names dir
 * (the daemons' --dir, anvil's --state), so a reused pid is not waited for. */
static bool runs_in(pid_t pid, const char *dir)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
    phx_buf_t b = PHX_BUF_INIT;
    bool found = false;
    if (phx_file_read(path, &b, NULL) == PHX_OK)
        for (size_t i = 0; i < b.len && !found; i += strlen((char *)b.ptr + i) + 1)
            found = strstr((char *)b.ptr + i, dir) != NULL;
    phx_buf_free(&b);
    return found;
}

/* A devnet SIGKILLed a moment ago leaves its children stopping (their
 * PR_SET_PDEATHSIG is SIGTERM): anvil still writing its state file, daemons
 * still holding their directories' locks. Starting over them would race both,
 * so wait (up to 20 s) for those the last endpoints.json names to be gone. */
static phx_err_t wait_previous(phx_devnet_t *dn, phx_error_t *e)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/endpoints.json", dn->dir);
    json_t *ep = NULL;
    if (phx_json_load_file(path, &ep, NULL)) return PHX_OK; /* a first start */
    const char *name;
    json_t *v;
    uint64_t deadline = phx_monotonic_ms() + 20000;
    phx_err_t err = PHX_OK;
    json_object_foreach(json_object_get(ep, "pids"), name, v)
    {
        pid_t pid = (pid_t)json_integer_value(v);
        while (pid > 0 && runs_in(pid, dn->dir)) {
            if (phx_monotonic_ms() > deadline) {
                err = phx_fail(e, PHX_ERR_STATE,
                               "%s (pid %ld) of the previous network in %s is still running", name,
                               (long)pid, dn->dir);
                goto out;
            }
            usleep(100 * 1000);
        }
    }
out:
    json_decref(ep);
    return err;
}

phx_err_t phx_devnet_start(const phx_devnet_opts_t *opts, phx_devnet_t **out, phx_error_t *e)
{
    *out = NULL;
    if (!opts || !opts->dir || !opts->phx_bin)
        return phx_fail(e, PHX_ERR_INVALID, "devnet needs a directory and the phx binary");
    phx_devnet_t *dn = calloc(1, sizeof *dn);
    if (!dn) return phx_fail(e, PHX_ERR_NOMEM, "devnet");
    dn->opts = *opts;
    if (!dn->opts.workers) dn->opts.workers = 3;
    if (!dn->opts.ready_timeout_ms) dn->opts.ready_timeout_ms = 60000;
    snprintf(dn->dir, sizeof dn->dir, "%s", opts->dir);
    phx_rpc_t *rpc = NULL;
    phx_signer_t *gov = NULL;
    json_t *kms_ready = NULL, *gw_ready = NULL, *infer_ready = NULL, *workers = json_array(),
           *pids = json_object();
    phx_err_t err = PHX_OK;
    if (!workers || !pids) {
        err = phx_fail(e, PHX_ERR_NOMEM, "devnet");
        goto out;
    }
    if ((err = mkdirs(dn->dir, NULL, e)) || (err = mkdirs(dn->dir, "logs", e)) ||
        (err = mkdirs(dn->dir, "chain", e)) || (err = wait_previous(dn, e)))
        goto out;

    /* 1. anvil, resuming DIR/chain/anvil-state.json when it is there. */
    char anvil[1024], port[16], block_time[16], state[1200], rpc_url[64];
    if ((err = phx_devnet_find_anvil(opts->anvil, opts->node_modules, anvil, sizeof anvil, e)))
        goto out;
    int p = phx_net_port_pick();
    if (p <= 0) {
        err = phx_fail(e, PHX_ERR_IO, "no free port");
        goto out;
    }
    snprintf(port, sizeof port, "%d", p);
    snprintf(rpc_url, sizeof rpc_url, "http://127.0.0.1:%d", p);
    snprintf(state, sizeof state, "%s/chain/anvil-state.json", dn->dir);
    snprintf(block_time, sizeof block_time, "%u", opts->block_time_s);
    char *anvil_argv[16] = {anvil,     "--host", "127.0.0.1",        "--port", port,
                            "--state", state,    "--state-interval", "5",      "--silent"};
    if (opts->block_time_s) anvil_argv[10] = "--block-time", anvil_argv[11] = block_time;
    child_t *c = NULL;
    if ((err = spawn(dn, "anvil", anvil_argv, SIGINT, &c, e)) ||
        (err = wait_rpc(rpc_url, c, dn->opts.ready_timeout_ms, &rpc, e)))
        goto out;
    json_object_set_new(pids, "anvil", json_integer(c->pid));
    if ((err = start_chains(dn, anvil, rpc, rpc_url, pids, e))) goto out;

    /* 2. the contracts, once. */
    uint8_t dev_sk[32];
    phx_chain_deployment_t dep;
    bool fresh = false;
    phx_hex_decode_fixed(DEV_KEY, dev_sk, 32, NULL);
    err = phx_signer_open(rpc, dev_sk, NULL, &gov, e);
    phx_secure_zero(dev_sk, sizeof dev_sk);
    if (err || (err = ensure_deployment(dn, rpc, gov, &dep, &fresh, e))) goto out;
    char dep_path[1200];
    snprintf(dep_path, sizeof dep_path, "%s/deployment.json", dn->dir);

    /* 3. the KMS, on the sim TEE shared by the whole devnet. */
    char kms_dir[1200], sim_dir[1200];
    snprintf(kms_dir, sizeof kms_dir, "%s/kms", dn->dir);
    snprintf(sim_dir, sizeof sim_dir, "%s/sim", dn->dir);
    /* Daemons get a fixed port each, so a restarted one keeps its URL. */
    char kms_listen[32];
    snprintf(kms_listen, sizeof kms_listen, "127.0.0.1:%d", phx_net_port_pick());
    char *kms_argv[] = {(char *)opts->phx_bin,
                        "kms",
                        "--dir",
                        kms_dir,
                        "--sim-dir",
                        sim_dir,
                        "--listen",
                        kms_listen,
                        "--rpc",
                        rpc_url,
                        "--deployment",
                        dep_path,
                        "--json",
                        NULL};
    if ((err = spawn(dn, "kms", kms_argv, SIGTERM, &c, e)) ||
        (err = wait_ready(dn, c, &kms_ready, e)))
        goto out;
    json_object_set_new(pids, "kms", json_integer(c->pid));
    const char *kms_url = json_string_value(json_object_get(kms_ready, "url"));
    const char *kms_addr_s = json_string_value(json_object_get(kms_ready, "kms_address"));
    const char *meas_s = json_string_value(json_object_get(kms_ready, "measurement"));
    uint8_t kms_addr[20], meas[32];
    if (!kms_url || !kms_addr_s || !meas_s || phx_hex_decode_fixed(kms_addr_s, kms_addr, 20, e) ||
        phx_hex_decode_fixed(meas_s, meas, 32, e)) {
        err = phx_fail(e, PHX_ERR_INVALID, "the KMS ready line lacks url/kms_address/measurement");
        goto out;
    }

    /* 4. governance a fresh chain needs: the devnet's code (the same phx
     * binary on the same sim platform) is allowed (an idempotent setter, done
     * on every start), and the KMS is admitted the way governance admits any
     * KMS (DESIGN.md §2): its fresh quote over our nonce verified here, to the
     * sim root this devnet explicitly trusts, then Registry.admitKms with the
     * quote and its collateral hash on record. */
    bool governs = false;
    if ((err = deployer_governs(rpc, gov, &dep, &governs, e))) goto out;
    if (governs) {
        if ((err = transact(gov, dep.registry, "setMeasurement(bytes32,bool)",
                            json_pack("[o,b]", phx_json_hex(meas, 32), 1), e)))
            goto out;
    } else if ((err = require_allowed(rpc, &dep, meas, e))) {
        goto out;
    }
    /* The SGX flavour of the same code is another measurement: allowed too. */
    if (dn->opts.sgx_workers &&
        (err = allow_sgx_measurement(rpc, gov, &dep, opts->phx_bin, sim_dir, governs, e)))
        goto out;
    if ((err = admit_kms(rpc, gov, &dep, kms_url, kms_addr, sim_dir, e))) goto out;

    /* 5. a funded user account for `phx deploy` and on-chain requests. */
    char user_key[1200];
    uint8_t user[20];
    snprintf(user_key, sizeof user_key, "%s/user.key", dn->dir);
    if ((err = ensure_account(rpc, gov, &dep, user_key, 0, user, e))) goto out;

    /* 5b. governance takes over: the deployer votes with its PHA (delegated to
     * itself), and hands PHA, Registry, Jobs and StakePool to the timelock, so
     * from here on only a vote changes them (DESIGN.md; docs/devnet.md). */
    if ((err = delegate_votes(rpc, gov, &dep, e)) ||
        (!opts->no_handover && (err = phx_chain_handover(rpc, gov, &dep, NULL, 0, e)))) {
        phx_error_wrap(e, err, "handing governance to the timelock");
        goto out;
    }

    /* 5c. the inference endpoint, when asked for, on the devnet's sim TEE,
     * registered in the InferenceRegistry by an operator account of its own:
     * the workers route to it from the chain and check its quote against the
     * same sim root. */
    bool infer_on = false;
    if (opts->infer_model) {
        const char *mname = opts->infer_name ? opts->infer_name : "tiny";
        char i_listen[32], i_dir[1200], i_key[1300];
        snprintf(i_listen, sizeof i_listen, "127.0.0.1:%d", phx_net_port_pick());
        snprintf(i_dir, sizeof i_dir, "%s/infer", dn->dir);
        snprintf(i_key, sizeof i_key, "%s/operator.key", i_dir);
        uint8_t i_op[20];
        if ((err = mkdirs(i_dir, NULL, e)) ||
            (err = ensure_account(rpc, gov, &dep, i_key, false, i_op, e)))
            goto out;
        char *i_argv[] = {(char *)opts->phx_bin,
                          "infer",
                          "--model",
                          (char *)opts->infer_model,
                          "--model-name",
                          (char *)mname,
                          "--listen",
                          i_listen,
                          "--sim-dir",
                          sim_dir,
                          "--register",
                          "--rpc",
                          rpc_url,
                          "--deployment",
                          dep_path,
                          "--key-file",
                          i_key,
                          "--json",
                          NULL};
        if (!has_verb(opts->phx_bin, "infer")) {
            err = phx_fail(e, PHX_ERR_UNSUPPORTED,
                           "this phx has no `infer` verb (built without llama.cpp)");
            goto out;
        }
        if ((err = spawn(dn, "infer", i_argv, SIGTERM, &c, e)) ||
            (err = wait_ready(dn, c, &infer_ready, e)))
            goto out;
        json_object_set_new(pids, "infer", json_integer(c->pid));
        const char *iurl = json_string_value(json_object_get(infer_ready, "url"));
        if (!iurl) {
            err = phx_fail(e, PHX_ERR_INVALID, "the infer ready line has no url");
            goto out;
        }
        infer_on = true;
    }

    /* 6. workers, each with its own operator; only when this build has them. */
    if (!has_verb(opts->phx_bin, "worker")) {
        PHX_WARN("devnet: this phx has no `worker` verb; starting without workers");
    } else {
        unsigned nops = dn->opts.operators ? dn->opts.operators : dn->opts.workers;
        /* Every worker's port first. No --peer: each finds its k-of-n peers
         * on chain, at the URLs they announced (docs/worker.md "k-of-n"). */
        char(*w_listens)[32] = calloc(dn->opts.workers, sizeof *w_listens);
        if (!w_listens) {
            err = phx_fail(e, PHX_ERR_NOMEM, "worker ports");
            goto out;
        }
        for (unsigned i = 0; i < dn->opts.workers; i++)
            snprintf(w_listens[i], sizeof w_listens[i], "127.0.0.1:%d", phx_net_port_pick());
        for (unsigned i = 0; i < dn->opts.workers; i++) {
            char wdir[1200], key[1300], name[32];
            snprintf(name, sizeof name, "worker-%u", i);
            snprintf(wdir, sizeof wdir, "%s/%s", dn->dir, name);
            /* Operator i % nops: worker-<that>/operator.key, staked for all its workers. */
            unsigned opi = i % nops,
                     opw = dn->opts.workers / nops + (opi < dn->opts.workers % nops);
            snprintf(key, sizeof key, "%s/worker-%u/operator.key", dn->dir, opi);
            uint8_t op[20];
            if ((err = mkdirs(wdir, NULL, e)) ||
                (err = ensure_account(rpc, gov, &dep, key, opw, op, e)))
                break;
            char w_listen[32];
            snprintf(w_listen, sizeof w_listen, "%s", w_listens[i]);
            char *w_argv[32 + 2 * PHX_DEVNET_MAX_ALLOW + 2 * PHX_DEVNET_MAX_CHAINS] = {
                (char *)opts->phx_bin,
                "worker",
                "--dir",
                wdir,
                "--sim-dir",
                sim_dir,
                "--listen",
                w_listen,
                "--rpc",
                rpc_url,
                "--deployment",
                dep_path,
                "--kms",
                (char *)kms_url,
                "--kms-address",
                (char *)kms_addr_s,
                "--operator-key-file",
                key,
                "--redeem-every",
                "2",
                "--json"};
            int wa = 21;
            if (i >= dn->opts.workers - dn->opts.sgx_workers) {
                w_argv[wa++] = "--tee";
                w_argv[wa++] = "sim-sgx";
            }
            for (int k = 0; k < opts->nallow_hosts && k < PHX_DEVNET_MAX_ALLOW; k++) {
                w_argv[wa++] = "--allow-host";
                w_argv[wa++] = (char *)opts->allow_hosts[k];
            }
            for (unsigned k = 0; k < PHX_DEVNET_MAX_CHAINS && dn->chain_args[k][0]; k++) {
                w_argv[wa++] = "--chain-rpc";
                w_argv[wa++] = dn->chain_args[k];
            }
            if (infer_on) {
                w_argv[wa++] = "--ai-trust-sim-root";
                w_argv[wa++] = sim_dir;
            }
            char mis_for[16];
            snprintf(mis_for, sizeof mis_for, "%u=", i);
            for (int k = 0; k < opts->ntest_misbehave; k++)
                if (!strncmp(opts->test_misbehave[k], mis_for, strlen(mis_for))) {
                    w_argv[wa++] = "--test-misbehave";
                    w_argv[wa++] = (char *)opts->test_misbehave[k] + strlen(mis_for);
                    break;
                }
            w_argv[wa] = NULL;
            json_t *ready = NULL;
            if ((err = spawn(dn, name, w_argv, SIGTERM, &c, e)) ||
                (err = wait_ready(dn, c, &ready, e)))
                break;
            json_object_set_new(pids, name, json_integer(c->pid));
            if (!json_string_value(json_object_get(ready, "url"))) {
                json_decref(ready);
                err = phx_fail(e, PHX_ERR_INVALID, "%s ready line has no url", name);
                break;
            }
            json_object_set_new(ready, "operator", phx_json_hex(op, 20));
            json_array_append_new(workers, ready);
        }
        free(w_listens);
        if (err) goto out;
    }

    /* 7. the gateway in front of them. */
    char gw_dir[1200];
    snprintf(gw_dir, sizeof gw_dir, "%s/gateway", dn->dir);
    char gw_listen[32];
    snprintf(gw_listen, sizeof gw_listen, "127.0.0.1:%d", phx_net_port_pick());
    char *g_argv[24 + 2 * 64] = {(char *)opts->phx_bin,
                                 "gateway",
                                 "--dir",
                                 gw_dir,
                                 "--listen",
                                 gw_listen,
                                 "--rpc",
                                 rpc_url,
                                 "--deployment",
                                 dep_path,
                                 "--kms",
                                 (char *)kms_url,
                                 "--health-interval",
                                 "1000",
                                 "--sim-dir",
                                 sim_dir,
                                 "--json"};
    /* No --worker: the gateway finds the workers on chain, each at the URL it
     * announced (docs/gateway.md, "Discovery"), and so any started later. */
    if ((err = spawn(dn, "gateway", g_argv, SIGTERM, &c, e)) ||
        (err = wait_ready(dn, c, &gw_ready, e)))
        goto out;
    json_object_set_new(pids, "gateway", json_integer(c->pid));

    json_t *depj = NULL;
    if ((err = phx_chain_deployment_to_json(&dep, &depj, e))) goto out;
    dn->endpoints = json_pack(
        "{s:s,s:s,s:I,s:o,s:{s:s,s:s,s:s},s:O,s:O,s:O,s:b,s:s,s:{s:o,s:s}}", "dir", dn->dir, "rpc",
        rpc_url, "chain_id", (json_int_t)dep.chain_id, "deployment", depj, "kms", "url", kms_url,
        "address", kms_addr_s, "measurement", meas_s, "workers", workers, "gateway",
        json_object_get(gw_ready, "url"), "pids", pids, "fresh_chain", fresh, "sim_dir", sim_dir,
        "user", "address", phx_json_hex(user, 20), "key_file", user_key);
    if (!dn->endpoints) {
        err = phx_fail(e, PHX_ERR_NOMEM, "endpoints");
        goto out;
    }
    json_object_set(dn->endpoints, "chains", dn->chains);
    if (infer_ready) {
        json_object_del(infer_ready, "pid");
        json_object_set(dn->endpoints, "infer", infer_ready);
    }
    char ep_path[1200];
    snprintf(ep_path, sizeof ep_path, "%s/endpoints.json", dn->dir);
    char *text = phx_json_dump(dn->endpoints, true);
    err = text ? phx_file_write_atomic(ep_path, text, strlen(text), 0644, e)
               : phx_fail(e, PHX_ERR_NOMEM, "endpoints");
    free(text);
out:
    json_decref(kms_ready);
    json_decref(gw_ready);
    json_decref(infer_ready);
    json_decref(workers);
    json_decref(pids);
    phx_signer_close(gov);
    phx_rpc_close(rpc);
    if (err) {
        phx_devnet_stop(dn);
        return err;
    }
    *out = dn;
    return PHX_OK;
}

const json_t *phx_devnet_endpoints(const phx_devnet_t *dn)
{
    return dn->endpoints;
}

phx_err_t phx_devnet_check(phx_devnet_t *dn, phx_error_t *e)
{
    for (size_t i = 0; i < dn->nchildren; i++) {
        child_t *c = &dn->children[i];
        if (alive(c)) continue;
        char how[32];
        how_ended(c, how, sizeof how);
        if (!dn->opts.restart || !c->restartable)
            return phx_fail(e, PHX_ERR_STATE, "%s exited (%s); see %s/logs/%s.log", c->name, how,
                            dn->dir, c->name);
        /* Same arguments, same port, same directory: it comes back as itself. */
        phx_err_t err = launch(dn, c, e);
        if (err) return err;
        c->restarts++;
        PHX_WARN("devnet: %s exited (%s); restarted (pid %d, restart %u)", c->name, how,
                 (int)c->pid, c->restarts);
    }
    return PHX_OK;
}

unsigned phx_devnet_restarts(const phx_devnet_t *dn)
{
    unsigned n = 0;
    for (size_t i = 0; i < dn->nchildren; i++)
        n += dn->children[i].restarts;
    return n;
}

void phx_devnet_stop(phx_devnet_t *dn)
{
    if (!dn) return;
    for (size_t i = dn->nchildren; i-- > 0;) {
        stop_child(&dn->children[i]);
        argv_free(dn->children[i].argv);
    }
    json_decref(dn->endpoints);
    json_decref(dn->chains);
    free(dn);
}
