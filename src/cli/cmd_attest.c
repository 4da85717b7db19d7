/* phx attest: verify DCAP quotes against collateral (to Intel's root, or to a sim
 * TEE's root when asked), and make quotes, collateral and measurements with a
 * TEE backend. The library work is in src/attest and src/tee; this file parses
 * options, reads files and prints. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "phx/attest.h"
#include "phx/tee.h"

static const char help[] =
    "usage: phx attest <verify|quote|collateral|measurement> [options]\n\n"
    "  phx attest verify QUOTE --collateral FILE [--now UNIX] [--policy FILE]\n"
    "                    [--trust-sim-root DIR] [--json]\n"
    "      Verify a DCAP quote (SGX v3, TDX v4/v5; raw bytes or hex) against PCS collateral\n"
    "      (dcap-qvl QuoteCollateralV3 JSON) at time NOW (default: the current time).\n"
    "      The root is Intel's SGX Root CA, pinned; --trust-sim-root DIR trusts the root of\n"
    "      the sim TEE in DIR instead (development only). The default policy accepts\n"
    "      UpToDate and SWHardeningNeeded; --policy FILE reads another (see docs/attest.md).\n"
    "      Exit 0 accepted, 1 rejected (the reason is printed), 2 unreadable input.\n\n"
    "  phx attest quote --tee sim|sim-sgx|tdx|sgx --report-data HEX [--out FILE]\n"
    "                   [--sim-dir DIR] [--json]\n"
    "      Make a quote over 64 bytes of report data (shorter HEX is zero-padded on the\n"
    "      right). Writes raw bytes to FILE, or hex to stdout (--json: {quote, ...}).\n"
    "      sim makes TDX quotes v4, sim-sgx SGX quotes v3 (MRENCLAVE over the binary\n"
    "      and its configuration) on the same sim platform.\n\n"
    "  phx attest collateral --tee sim|sim-sgx [--out FILE] [--sim-dir DIR]\n"
    "      Print (or write) the sim platform's collateral JSON for `attest verify`:\n"
    "      TCB Info \"TDX\" and QE Identity \"TD_QE\" for sim, \"SGX\" and \"QE\" for\n"
    "      sim-sgx. A quote verifies only with the collateral of its kind.\n\n"
    "  phx attest measurement --tee sim|sim-sgx|tdx|sgx [--sim-dir DIR] [--json]\n"
    "      Print this TEE's measurement (MRTD/RTMRs or MRENCLAVE/MRSIGNER).\n\n"
    "The sim TEE keeps its simulated PCS hierarchy in --sim-dir (default $PHX_HOME/sim,\n"
    "else ~/.phx/sim), made on first use and reused. Options: --json for JSON output.\n";

/* A quote file holds raw bytes, or hex text (as many tools print quotes). */
static int read_quote(const char *path, phx_buf_t *out)
{
    phx_buf_t raw = PHX_BUF_INIT;
    phx_error_t e = {0};
    if (phx_file_read(path, &raw, &e)) return cli_error_e(PHX_EXIT_USAGE, "phx attest verify", &e);
    size_t n = raw.len;
    while (n && isspace(raw.ptr[n - 1]))
        n--;
    bool hex = n >= 2;
    for (size_t i = 0; i < n && hex; i++)
        hex = isxdigit(raw.ptr[i]) ||
              (i == 1 && (raw.ptr[i] == 'x' || raw.ptr[i] == 'X') && raw.ptr[0] == '0');
    if (hex) {
        raw.ptr[n] = 0;
        if (phx_hex_decode((const char *)raw.ptr, out, &e) == PHX_OK) {
            phx_buf_free(&raw);
            return 0;
        }
        phx_buf_reset(out);
    }
    phx_buf_append(out, raw.ptr, raw.len);
    phx_buf_free(&raw);
    return 0;
}

static void print_text(const phx_attest_result_t *r, const phx_error_t *e, phx_err_t err)
{
    if (r->verified) {
        printf("%s: %s", r->accepted ? "accepted" : "rejected by policy",
               phx_tcb_status_name(r->status));
        for (size_t i = 0; i < r->n_advisory_ids; i++)
            printf("%s%s", i ? " " : " [", r->advisory_ids[i]);
        printf("%s\n", r->n_advisory_ids ? "]" : "");
    }
    if (err) printf("error: %s\n", e->message);
    if (!r->parsed) return;
    char hex[129];
    printf("tee: %s, quote v%u\n", r->header.tee_type == PHX_QUOTE_TEE_TDX ? "TDX" : "SGX",
           r->header.version);
    if (r->report_type == PHX_REPORT_SGX) {
        phx_hex_encode_to(hex, r->sgx.mr_enclave, 32);
        printf("mr_enclave:  %s\n", hex);
        phx_hex_encode_to(hex, r->sgx.mr_signer, 32);
        printf("mr_signer:   %s\n", hex);
        printf("isv_prod_id: %u  isv_svn: %u\n", r->sgx.isv_prod_id, r->sgx.isv_svn);
        phx_hex_encode_to(hex, r->sgx.report_data, 64);
    } else {
        phx_hex_encode_to(hex, r->td.mr_td, 48);
        printf("mr_td:       %s\n", hex);
        for (int i = 0; i < 4; i++) {
            phx_hex_encode_to(hex, r->td.rt_mr[i], 48);
            printf("rt_mr%d:      %s\n", i, hex);
        }
        phx_hex_encode_to(hex, r->td.report_data, 64);
    }
    printf("report_data: %s\n", hex);
}

static int cmd_verify(int argc, char **argv)
{
    const char *prefix = "phx attest verify";
    cli_opt_t opts[] = {{.name = "collateral", .takes_value = true},
                        {.name = "now", .takes_value = true},
                        {.name = "policy", .takes_value = true},
                        {.name = "trust-sim-root", .takes_value = true},
                        {.name = "json"}};
    int nopts = sizeof opts / sizeof opts[0];
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, nopts, &args);
    if (rc) return rc;
    if (args.npos != 1)
        return cli_error(PHX_EXIT_USAGE, prefix, "give one QUOTE file (see --help)");
    if (!opts[0].seen) return cli_error(PHX_EXIT_USAGE, prefix, "--collateral FILE is required");
    bool json = opts[4].seen;
    int64_t now = (int64_t)(phx_now_ms() / 1000);
    if (opts[1].seen) {
        char *end;
        errno = 0;
        long long v = strtoll(opts[1].value, &end, 10);
        if (errno || *end || v < 0)
            return cli_error(PHX_EXIT_USAGE, prefix, "--now wants unix seconds, got '%s'",
                             opts[1].value);
        now = v;
    }
    phx_buf_t quote = PHX_BUF_INIT, col = PHX_BUF_INIT, root = PHX_BUF_INIT, pol = PHX_BUF_INIT;
    phx_attest_policy_doc_t *policy = NULL;
    phx_attest_verifier_t *v = NULL;
    phx_error_t e = {0};
    rc = PHX_EXIT_USAGE;
    if (read_quote(args.pos[0], &quote)) goto out;
    if (phx_file_read(opts[0].value, &col, &e)) {
        cli_error_e(PHX_EXIT_USAGE, prefix, &e);
        goto out;
    }
    if (opts[2].seen && (phx_file_read(opts[2].value, &pol, &e) ||
                         phx_attest_policy_parse((const char *)pol.ptr, pol.len, &policy, &e))) {
        cli_error_e(PHX_EXIT_USAGE, prefix, &e);
        goto out;
    }
    if (opts[3].seen && phx_tee_sim_read_root(opts[3].value, &root, &e)) {
        cli_error_e(PHX_EXIT_USAGE, prefix, &e);
        goto out;
    }
    /* Collateral that is not even well-formed is unreadable input, not a verdict. */
    phx_collateral_t *parsed = NULL;
    if (phx_collateral_parse(col.ptr, col.len, &parsed, &e)) {
        cli_error_e(PHX_EXIT_USAGE, prefix, &e);
        goto out;
    }
    phx_collateral_free(parsed);
    if (phx_attest_verifier_new(root.len ? root.ptr : NULL, root.len, &v, &e)) {
        cli_error_e(PHX_EXIT_USAGE, prefix, &e);
        goto out;
    }
    phx_attest_result_t r;
    phx_err_t err = phx_attest_verify(v, quote.ptr, quote.len, col.ptr, col.len, now,
                                      policy ? phx_attest_policy_doc_get(policy) : NULL, &r, &e);
    if (json) {
        json_t *o = phx_attest_result_json(&r);
        json_object_set_new(o, "root", json_string(root.len ? "sim" : "intel"));
        json_object_set_new(o, "now", json_integer(now));
        if (err) json_object_set_new(o, "error", json_string(e.message));
        cli_print_json(o);
        json_decref(o);
    } else {
        print_text(&r, &e, err);
    }
    rc = err == PHX_OK ? PHX_EXIT_OK : PHX_EXIT_FAIL;
out:
    phx_attest_verifier_free(v);
    phx_attest_policy_free(policy);
    phx_buf_free(&quote);
    phx_buf_free(&col);
    phx_buf_free(&root);
    phx_buf_free(&pol);
    return rc;
}

/* --tee KIND [--sim-dir DIR] -> an open TEE, or an exit code. */
static int open_tee(const char *prefix, const char *kind_name, const char *sim_dir, phx_tee_t **t)
{
    phx_tee_kind_t kind;
    phx_error_t e = {0};
    if (!kind_name)
        return cli_error(PHX_EXIT_USAGE, prefix, "--tee sim|sim-sgx|tdx|sgx is required");
    phx_tee_config_t cfg = {.sim_dir = sim_dir};
    if (phx_tee_spec_parse(kind_name, &kind, &cfg, &e))
        return cli_error_e(PHX_EXIT_USAGE, prefix, &e);
    if (phx_tee_open(kind, &cfg, t, &e)) return cli_error_e(PHX_EXIT_FAIL, prefix, &e);
    return 0;
}

static int write_out(const char *prefix, const char *path, const phx_buf_t *data, bool hex)
{
    phx_error_t e = {0};
    if (path) {
        if (phx_file_write_atomic(path, data->ptr, data->len, 0644, &e))
            return cli_error_e(PHX_EXIT_FAIL, prefix, &e);
        return PHX_EXIT_OK;
    }
    if (hex) {
        char *h = phx_hex_encode(data->ptr, data->len);
        if (!h) return cli_error(PHX_EXIT_FAIL, prefix, "out of memory");
        printf("%s\n", h);
        free(h);
    } else {
        fwrite(data->ptr, 1, data->len, stdout);
    }
    return PHX_EXIT_OK;
}

static int cmd_quote(int argc, char **argv)
{
    const char *prefix = "phx attest quote";
    cli_opt_t opts[] = {{.name = "tee", .takes_value = true},
                        {.name = "report-data", .takes_value = true},
                        {.name = "out", .takes_value = true},
                        {.name = "sim-dir", .takes_value = true},
                        {.name = "json"}};
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, 5, &args);
    if (rc) return rc;
    if (args.npos) return cli_error(PHX_EXIT_USAGE, prefix, "takes no arguments (see --help)");
    if (!opts[1].seen) return cli_error(PHX_EXIT_USAGE, prefix, "--report-data HEX is required");
    phx_buf_t rd = PHX_BUF_INIT, quote = PHX_BUF_INIT;
    phx_error_t e = {0};
    uint8_t report_data[64] = {0};
    if (phx_hex_decode(opts[1].value, &rd, &e) || rd.len > 64) {
        phx_buf_free(&rd);
        return cli_error(PHX_EXIT_USAGE, prefix, "--report-data wants up to 64 bytes of hex");
    }
    memcpy(report_data, rd.ptr, rd.len);
    phx_buf_free(&rd);
    phx_tee_t *t = NULL;
    if ((rc = open_tee(prefix, opts[0].value, opts[3].value, &t))) return rc;
    if (phx_tee_quote(t, report_data, &quote, &e)) {
        rc = cli_error_e(PHX_EXIT_FAIL, prefix, &e);
    } else if (opts[4].seen) {
        rc = opts[2].value ? write_out(prefix, opts[2].value, &quote, false) : PHX_EXIT_OK;
        json_t *o = json_object();
        json_object_set_new(o, "tee", json_string(phx_tee_kind_name(phx_tee_kind(t))));
        json_object_set_new(o, "report_data", phx_json_hex(report_data, 64));
        json_object_set_new(o, "quote", phx_json_hex(quote.ptr, quote.len));
        if (opts[2].value) json_object_set_new(o, "out", json_string(opts[2].value));
        if (rc == PHX_EXIT_OK) cli_print_json(o);
        json_decref(o);
    } else {
        rc = write_out(prefix, opts[2].value, &quote, true);
    }
    phx_tee_close(t);
    phx_buf_free(&quote);
    return rc;
}

static int cmd_collateral(int argc, char **argv)
{
    const char *prefix = "phx attest collateral";
    cli_opt_t opts[] = {{.name = "tee", .takes_value = true},
                        {.name = "out", .takes_value = true},
                        {.name = "sim-dir", .takes_value = true}};
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, 3, &args);
    if (rc) return rc;
    if (args.npos) return cli_error(PHX_EXIT_USAGE, prefix, "takes no arguments (see --help)");
    if (opts[0].value && strcmp(opts[0].value, "sim") != 0 && strcmp(opts[0].value, "sim-sgx") != 0)
        return cli_error(PHX_EXIT_USAGE, prefix,
                         "only --tee sim has local collateral; tdx/sgx collateral comes from "
                         "Intel PCS (or a PCCS)");
    phx_tee_t *t = NULL;
    if ((rc = open_tee(prefix, opts[0].value, opts[2].value, &t))) return rc;
    phx_buf_t col = PHX_BUF_INIT;
    phx_error_t e = {0};
    if (phx_tee_sim_collateral(t, &col, &e))
        rc = cli_error_e(PHX_EXIT_FAIL, prefix, &e);
    else
        rc = write_out(prefix, opts[1].value, &col, false);
    phx_tee_close(t);
    phx_buf_free(&col);
    return rc;
}

static int cmd_measurement(int argc, char **argv)
{
    const char *prefix = "phx attest measurement";
    cli_opt_t opts[] = {{.name = "tee", .takes_value = true},
                        {.name = "sim-dir", .takes_value = true},
                        {.name = "json"}};
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, 3, &args);
    if (rc) return rc;
    if (args.npos) return cli_error(PHX_EXIT_USAGE, prefix, "takes no arguments (see --help)");
    phx_tee_t *t = NULL;
    if ((rc = open_tee(prefix, opts[0].value, opts[1].value, &t))) return rc;
    phx_tee_measurement_t m;
    phx_error_t e = {0};
    if (phx_tee_measurement(t, &m, &e)) {
        rc = cli_error_e(PHX_EXIT_FAIL, prefix, &e);
        phx_tee_close(t);
        return rc;
    }
    json_t *o = json_object();
    char hex[97];
    json_object_set_new(o, "tee", json_string(phx_tee_kind_name(phx_tee_kind(t))));
    if (m.type == PHX_REPORT_SGX) {
        phx_hex_encode_to(hex, m.mr_enclave, 32);
        json_object_set_new(o, "mr_enclave", json_string(hex));
        phx_hex_encode_to(hex, m.mr_signer, 32);
        json_object_set_new(o, "mr_signer", json_string(hex));
    } else {
        phx_hex_encode_to(hex, m.mr_td, 48);
        json_object_set_new(o, "mr_td", json_string(hex));
        for (int i = 0; i < 4; i++) {
            char key[8];
            snprintf(key, sizeof key, "rt_mr%d", i);
            phx_hex_encode_to(hex, m.rt_mr[i], 48);
            json_object_set_new(o, key, json_string(hex));
        }
    }
    phx_hex_encode_to(hex, m.digest, 32);
    json_object_set_new(o, "digest", json_string(hex));
    if (opts[2].seen) {
        cli_print_json(o);
    } else {
        const char *key;
        json_t *val;
        json_object_foreach(o, key, val) printf("%-11s %s\n", key, json_string_value(val));
    }
    json_decref(o);
    phx_tee_close(t);
    return PHX_EXIT_OK;
}

static int cmd_attest(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        if (argc < 2) {
            fputs(help, stderr);
            return PHX_EXIT_USAGE;
        }
        return cli_help(help);
    }
    if (cli_wants_help(argc, argv)) return cli_help(help);
    const char *sub = argv[1];
    if (!strcmp(sub, "verify")) return cmd_verify(argc - 1, argv + 1);
    if (!strcmp(sub, "quote")) return cmd_quote(argc - 1, argv + 1);
    if (!strcmp(sub, "collateral")) return cmd_collateral(argc - 1, argv + 1);
    if (!strcmp(sub, "measurement")) return cmd_measurement(argc - 1, argv + 1);
    return cli_error(PHX_EXIT_USAGE, "phx attest", "unknown subcommand '%s' (see --help)", sub);
}
PHX_CLI_COMMAND(attest, "attest", 40, "verify DCAP quotes; make quotes with a TEE", cmd_attest)
