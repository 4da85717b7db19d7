/* The daemons' shared start-up and shutdown (daemon.h): one implementation of
 * the common options, the state directory lock, the operator key, the signal
 * mask, the ready file and the wait for a stop signal. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"

void cli_daemon_opts(const cli_daemon_spec_t *spec, cli_opt_t *opts)
{
    memset(opts, 0, sizeof *opts * CLI_DAEMON_NOPTS);
    opts[CLI_DAEMON_DIR] = (cli_opt_t){.name = "dir", .takes_value = true};
    opts[CLI_DAEMON_JSON] = (cli_opt_t){.name = "json"};
    if (spec->want & CLI_DAEMON_WANT_LISTEN)
        opts[CLI_DAEMON_LISTEN] = (cli_opt_t){.name = "listen", .takes_value = true};
    if (spec->want & CLI_DAEMON_WANT_TEE) {
        opts[CLI_DAEMON_TEE] = (cli_opt_t){.name = "tee", .takes_value = true};
        opts[CLI_DAEMON_SIMDIR] = (cli_opt_t){.name = "sim-dir", .takes_value = true};
        opts[CLI_DAEMON_PROD] = (cli_opt_t){.name = "production"};
    }
    if (spec->want & CLI_DAEMON_WANT_CHAIN) {
        opts[CLI_DAEMON_RPC] = (cli_opt_t){.name = "rpc", .takes_value = true};
        opts[CLI_DAEMON_DEPL] = (cli_opt_t){.name = "deployment", .takes_value = true};
    }
    if (spec->want & CLI_DAEMON_WANT_OPKEY)
        opts[CLI_DAEMON_OPKEY] = (cli_opt_t){.name = "operator-key-file", .takes_value = true};
}

static int state_dir(cli_daemon_t *d, const cli_opt_t *opts)
{
    const cli_daemon_spec_t *spec = d->spec;
    phx_error_t e = {0};
    const char *home = getenv("PHX_HOME");
    int n;
    if (opts[CLI_DAEMON_DIR].value) {
        n = snprintf(d->dir, sizeof d->dir, "%s", opts[CLI_DAEMON_DIR].value);
    } else if (spec->home_is_dir && home && *home) {
        n = snprintf(d->dir, sizeof d->dir, "%s", home);
    } else if (phx_home_dir(spec->home_sub, d->dir, sizeof d->dir, &e)) {
        return cli_error(PHX_EXIT_USAGE, d->prefix, "no --dir: %s", e.message);
    } else {
        n = 0;
    }
    if (n < 0 || (size_t)n >= sizeof d->dir)
        return cli_error(PHX_EXIT_USAGE, d->prefix, "--dir is too long");
    return 0;
}

/* The key file holds one 0x-hex secp256k1 key; a trailing newline is fine. */
static int operator_key(cli_daemon_t *d, const char *path)
{
    phx_error_t e = {0};
    phx_buf_t text = PHX_BUF_INIT;
    text.secret = true;
    int rc = 0;
    if (phx_file_read(path, &text, &e)) {
        rc = cli_error_e(PHX_EXIT_USAGE, d->prefix, &e);
        goto out;
    }
    char *nl = strpbrk((char *)text.ptr, "\r\n");
    if (nl) *nl = '\0';
    if (phx_hex_decode_fixed((const char *)text.ptr, d->operator_sk, 32, &e)) {
        rc = cli_error(PHX_EXIT_USAGE, d->prefix, "--operator-key-file: %s", e.message);
        goto out;
    }
    d->have_operator_key = true;
out:
    phx_buf_free(&text);
    return rc;
}

int cli_daemon_parse(const cli_daemon_spec_t *spec, const char *prefix, int argc, char **argv,
                     cli_opt_t *opts, int nopts, cli_daemon_t *d)
{
    memset(d, 0, sizeof *d);
    d->spec = spec;
    d->prefix = prefix;
    d->lock_fd = -1;
    d->tee = PHX_TEE_SIM;
    snprintf(d->host, sizeof d->host, "127.0.0.1");
    d->port = spec->default_port;
    sigemptyset(&d->signals);
    sigaddset(&d->signals, SIGINT);
    sigaddset(&d->signals, SIGTERM);
    sigaddset(&d->signals, SIGHUP);

    cli_args_t args;
    phx_error_t e = {0};
    int rc = cli_parse(prefix, argc, argv, opts, nopts, &args);
    if (rc) return rc;
    if (args.npos) return cli_error(PHX_EXIT_USAGE, prefix, "takes no arguments (see --help)");
    if ((rc = state_dir(d, opts))) return rc;
    const char *listen = opts[CLI_DAEMON_LISTEN].value;
    if (listen && cli_parse_hostport(listen, d->host, sizeof d->host, &d->port))
        return cli_error(PHX_EXIT_USAGE, prefix, "--listen wants HOST:PORT, got '%s'", listen);
    /* A kind, or sim-noseal (which also sets tee_config.sim_no_seal). */
    if (opts[CLI_DAEMON_TEE].value &&
        phx_tee_spec_parse(opts[CLI_DAEMON_TEE].value, &d->tee, &d->tee_config, &e))
        return cli_error_e(PHX_EXIT_USAGE, prefix, &e);
    d->tee_config.sim_dir = opts[CLI_DAEMON_SIMDIR].value;
    d->tee_config.production = opts[CLI_DAEMON_PROD].seen;
    if (opts[CLI_DAEMON_RPC].seen != opts[CLI_DAEMON_DEPL].seen)
        return cli_error(PHX_EXIT_USAGE, prefix, "--rpc and --deployment go together");
    if (opts[CLI_DAEMON_DEPL].value) {
        if (phx_chain_deployment_load(opts[CLI_DAEMON_DEPL].value, &d->deployment, &e))
            return cli_error_e(PHX_EXIT_USAGE, prefix, &e);
        d->rpc_url = opts[CLI_DAEMON_RPC].value;
        d->have_chain = true;
    }
    if (opts[CLI_DAEMON_OPKEY].value) {
        if (!d->have_chain)
            return cli_error(PHX_EXIT_USAGE, prefix,
                             "--operator-key-file needs --rpc and --deployment");
        if ((rc = operator_key(d, opts[CLI_DAEMON_OPKEY].value))) return rc;
    }
    d->json = opts[CLI_DAEMON_JSON].seen;
    return 0;
}

int cli_daemon_begin(cli_daemon_t *d)
{
    phx_error_t e = {0};
    pthread_sigmask(SIG_BLOCK, &d->signals, NULL);
    phx_log_set_component(d->spec->name);
    if (phx_dir_ensure(d->dir, 0700, &e)) return cli_error_e(PHX_EXIT_FAIL, d->prefix, &e);
    /* One process per state directory: two on the same files would overwrite
     * each other's keys, ready files and logs. */
    phx_err_t err = phx_dir_lock(d->dir, &d->lock_fd, NULL, &e);
    if (err == PHX_ERR_STATE) return cli_error_e(PHX_EXIT_USAGE, d->prefix, &e);
    if (err) return cli_error_e(PHX_EXIT_FAIL, d->prefix, &e);
    return 0;
}

bool cli_daemon_ready(cli_daemon_t *d, const json_t *ready)
{
    if (d->spec->ready_file) {
        char path[1100];
        phx_error_t e = {0};
        snprintf(path, sizeof path, "%s/%s.json", d->dir, d->spec->name);
        char *text = ready ? phx_json_dump(ready, true) : NULL;
        if (!text || phx_file_write_atomic(path, text, strlen(text), 0644, &e))
            PHX_WARN("could not write %s: %s", path, e.message);
        free(text);
    }
    if (d->json) cli_print_json(ready);
    return !d->json;
}

void cli_daemon_print_hex32(const uint8_t v[32])
{
    printf("0x");
    for (int i = 0; i < 32; i++)
        printf("%02x", v[i]);
}

int cli_daemon_wait(cli_daemon_t *d, uint64_t timeout_ms)
{
    fflush(stdout);
    int sig = 0;
    if (!timeout_ms) {
        sigwait(&d->signals, &sig);
    } else {
        struct timespec ts = {(time_t)(timeout_ms / 1000), (long)(timeout_ms % 1000) * 1000000L};
        sig = sigtimedwait(&d->signals, NULL, &ts);
        if (sig < 0) sig = 0;
    }
    if (sig) PHX_INFO("%s: signal %d, stopping", d->spec->name, sig);
    return sig;
}

void cli_daemon_close(cli_daemon_t *d)
{
    phx_secure_zero(d->operator_sk, sizeof d->operator_sk);
    phx_dir_unlock(d->lock_fd);
    d->lock_fd = -1;
}
