/* Shared CLI helpers: error lines, help, JSON and hex output, option parsing,
 * the JSON/hex/key arguments of the developer verbs, and the trust root of
 * the verifying verbs. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "phx/crypto.h"
#include "phx/infer.h"
#include "phx/sandbox.h"
#include "phx/tee.h"

int cli_error(int exit_code, const char *prefix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prefix);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return exit_code;
}

int cli_error_e(int exit_code, const char *prefix, const phx_error_t *e)
{
    const char *msg =
        e && e->message[0] ? e->message : phx_strerror(e ? e->code : PHX_ERR_INTERNAL);
    return cli_error(exit_code, prefix, "%s", msg);
}

int cli_help(const char *text)
{
    fputs(text, stdout);
    return PHX_EXIT_OK;
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return true;
    }
    return false;
}

void cli_print_json(const json_t *v)
{
    char *s = phx_json_dump(v, false);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
}

void cli_print_hex(bool as_json, const char *key, const uint8_t *p, size_t n, json_t *extra)
{
    if (as_json) {
        json_t *o = extra ? extra : json_object();
        json_object_set_new(o, key, phx_json_hex(p, n));
        cli_print_json(o);
        json_decref(o);
        return;
    }
    json_decref(extra);
    char *h = phx_hex_encode(p, n);
    printf("%s\n", h ? h : "");
    free(h);
}

int cli_arg_json(const char *prefix, const char *what, const char *text, json_t **out)
{
    phx_error_t e = {0};
    phx_err_t err;
    if (!text) return cli_error(PHX_EXIT_USAGE, prefix, "%s is required (see --help)", what);
    if (text[0] == '@')
        err = phx_json_load_file(text + 1, out, &e);
    else
        err = phx_json_parse(text, strlen(text), out, &e);
    return err ? cli_error(PHX_EXIT_USAGE, prefix, "%s: %s", what, e.message) : 0;
}

int cli_arg_hex(const char *prefix, const char *what, const char *text, phx_buf_t *out)
{
    phx_error_t e = {0};
    if (!text) return cli_error(PHX_EXIT_USAGE, prefix, "%s is required (see --help)", what);
    if (phx_hex_decode(text, out, &e)) {
        phx_buf_free(out); /* the decoder may have appended a partial result */
        return cli_error(PHX_EXIT_USAGE, prefix, "%s: %s", what, e.message);
    }
    return 0;
}

int cli_arg_key(const char *prefix, const char *text, uint8_t sk[32])
{
    phx_error_t e = {0};
    if (text && strcmp(text, "env") == 0) text = getenv("PHX_KEY");
    if (!text)
        return cli_error(PHX_EXIT_USAGE, prefix,
                         "--key HEX (or --key env with $PHX_KEY) is required");
    if (phx_hex_decode_fixed(text, sk, 32, &e) || phx_secp256k1_seckey_verify(sk))
        return cli_error(PHX_EXIT_USAGE, prefix, "--key: not a valid secp256k1 secret key");
    return 0;
}

cli_opt_t *cli_opt(cli_opt_t *opts, int nopts, const char *name)
{
    for (int i = 0; i < nopts; i++)
        if (opts[i].name && strcmp(opts[i].name, name) == 0) return &opts[i];
    return NULL;
}

void cli_opts_free(cli_opt_t *opts, int nopts)
{
    for (int i = 0; i < nopts; i++) {
        free(opts[i].values);
        opts[i].values = NULL;
        opts[i].nvalues = 0;
    }
}

int cli_parse(const char *prefix, int argc, char **argv, cli_opt_t *opts, int nopts,
              cli_args_t *args)
{
    args->npos = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-' && a[2]) {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            cli_opt_t *o = NULL;
            for (int k = 0; k < nopts; k++)
                if (opts[k].name && strlen(opts[k].name) == nlen &&
                    strncmp(opts[k].name, name, nlen) == 0)
                    o = &opts[k];
            if (!o)
                return cli_error(PHX_EXIT_USAGE, prefix, "unknown option '--%.*s' (see --help)",
                                 (int)nlen, name);
            const char *val = NULL;
            if (o->takes_value) {
                if (eq)
                    val = eq + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                else
                    return cli_error(PHX_EXIT_USAGE, prefix, "option '--%s' needs a value",
                                     o->name);
            } else if (eq) {
                return cli_error(PHX_EXIT_USAGE, prefix, "option '--%s' takes no value", o->name);
            }
            if (o->seen && !o->repeatable)
                return cli_error(PHX_EXIT_USAGE, prefix, "option '--%s' given twice", o->name);
            o->seen = true;
            o->value = val;
            if (o->repeatable && val) {
                const char **nv = realloc(o->values, sizeof *nv * (size_t)(o->nvalues + 1));
                if (!nv) return cli_error(PHX_EXIT_FAIL, prefix, "out of memory");
                nv[o->nvalues++] = val;
                o->values = nv;
            }
            continue;
        }
        if (args->npos >= (int)(sizeof args->pos / sizeof args->pos[0]))
            return cli_error(PHX_EXIT_USAGE, prefix, "too many arguments");
        args->pos[args->npos++] = a;
    }
    return 0;
}

/* "HOST:PORT" or "[V6]:PORT" into host (NUL-terminated, cap bytes) and port.
 * Returns 0, or -1 when the text is not of that form. */
int cli_parse_hostport(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) return -1;
    size_t n = (size_t)(colon - s);
    if (s[0] == '[' && n >= 2 && s[n - 1] == ']') s++, n -= 2; /* [::1]:8700 */
    if (n >= cap) return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p > 65535) return -1;
    *port = (uint16_t)p;
    return 0;
}

int cli_endpoints_path(char *out, size_t cap)
{
    /* $PHX_HOME is the devnet directory (default ~/.phx/devnet), as phx devnet uses it. */
    const char *home = getenv("PHX_HOME");
    if (home && *home) return snprintf(out, cap, "%s/endpoints.json", home) >= (int)cap ? -1 : 0;
    home = getenv("HOME");
    if (!home || !*home) return -1;
    return snprintf(out, cap, "%s/.phx/devnet/endpoints.json", home) >= (int)cap ? -1 : 0;
}

void cli_trust_opts(cli_opt_t *opts, bool with_policy)
{
    opts[CLI_TRUST_SIMROOT] = (cli_opt_t){.name = "trust-sim-root", .takes_value = true};
    opts[CLI_TRUST_POLICY] =
        (cli_opt_t){.name = with_policy ? "policy" : NULL, .takes_value = true};
}

int cli_trust_open(const char *prefix, const char *sim_dir, const char *policy_file, cli_trust_t *t)
{
    t->verifier = NULL;
    t->policy = NULL;
    phx_error_t e = {0};
    phx_buf_t root = PHX_BUF_INIT, text = PHX_BUF_INIT;
    int rc = PHX_EXIT_OK;
    if ((sim_dir && phx_tee_sim_read_root(sim_dir, &root, &e)) ||
        phx_attest_verifier_new(root.len ? root.ptr : NULL, root.len, &t->verifier, &e) ||
        (policy_file &&
         (phx_file_read(policy_file, &text, &e) ||
          phx_attest_policy_parse((const char *)text.ptr, text.len, &t->policy, &e))))
        rc = cli_error_e(PHX_EXIT_USAGE, prefix, &e);
    phx_buf_free(&root);
    phx_buf_free(&text);
    return rc;
}

const phx_attest_policy_t *cli_trust_policy(const cli_trust_t *t)
{
    return t->policy ? phx_attest_policy_doc_get(t->policy) : NULL;
}

void cli_trust_close(cli_trust_t *t)
{
    phx_attest_verifier_free(t->verifier);
    phx_attest_policy_free(t->policy);
    t->verifier = NULL;
    t->policy = NULL;
}

int cli_ai_client(const char *prefix, const char **routes, int nroutes, const char *sim_dir,
                  const char *collateral_file, const char *rpc_url,
                  const phx_chain_deployment_t *dep, struct phx_infer_client **out)
{
    *out = NULL;
    bool chain = rpc_url && dep && phx_chain_has_inference_registry(dep);
    /* From the chain alone, only when told how to check the endpoints' quotes. */
    if (nroutes == 0 && !(chain && (sim_dir || collateral_file))) return PHX_EXIT_OK;
    phx_buf_t root = PHX_BUF_INIT, coll = PHX_BUF_INIT;
    phx_tee_t *sim = NULL;
    phx_error_t e = {0};
    int rc = PHX_EXIT_OK;
    if (sim_dir && phx_tee_sim_read_root(sim_dir, &root, &e)) {
        rc = cli_error_e(PHX_EXIT_USAGE, prefix, &e);
    } else if (collateral_file) {
        if (phx_file_read(collateral_file, &coll, &e)) rc = cli_error_e(PHX_EXIT_USAGE, prefix, &e);
    } else if (sim_dir) {
        phx_tee_config_t tc = {.sim_dir = sim_dir};
        if (phx_tee_open(PHX_TEE_SIM, &tc, &sim, &e) || phx_tee_sim_collateral(sim, &coll, &e))
            rc = cli_error_e(PHX_EXIT_USAGE, prefix, &e);
    } else {
        rc = cli_error(PHX_EXIT_USAGE, prefix,
                       "--ai-endpoint needs --ai-collateral FILE (or --ai-trust-sim-root DIR)");
    }
    if (!rc) {
        phx_infer_client_opts_t o = {.chain_rpc = chain ? rpc_url : NULL,
                                     .deployment = chain ? dep : NULL,
                                     .endpoints = routes,
                                     .nendpoints = nroutes,
                                     .root_der = root.len ? root.ptr : NULL,
                                     .root_len = root.len,
                                     .collateral = coll.ptr,
                                     .collateral_len = coll.len};
        if (phx_infer_client_new(&o, out, &e))
            rc = cli_error(PHX_EXIT_USAGE, prefix, "--ai-endpoint: %s", e.message);
    }
    phx_tee_close(sim);
    phx_buf_free(&root);
    phx_buf_free(&coll);
    return rc;
}

int cli_chains(const char *prefix, const char **specs, int n, struct phx_sandbox_chains **out)
{
    *out = NULL;
    if (n == 0) return PHX_EXIT_OK;
    for (int i = 0; i < n; i++)
        if (!strchr(specs[i], '='))
            return cli_error(PHX_EXIT_USAGE, prefix, "--chain-rpc wants NAME=URL, not \"%s\"",
                             specs[i]);
    phx_error_t e = {0};
    if (phx_sandbox_chains_new(specs, n, out, &e))
        return cli_error(e.code == PHX_ERR_INVALID ? PHX_EXIT_USAGE : PHX_EXIT_FAIL, prefix,
                         "--chain-rpc: %s", e.message);
    return PHX_EXIT_OK;
}
