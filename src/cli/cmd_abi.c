/* phx abi: Solidity ABI helpers: calldata from a signature and JSON arguments,
 * return data to JSON, selectors, event topics and event log decoding, like
 * foundry's `cast calldata`/`abi-decode`/`sig`. See docs/evm.md. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "phx/evm_abi.h"

static const char abi_help[] =
    "usage: phx abi encode SIG [ARGS_JSON]     calldata: selector + arguments\n"
    "       phx abi encode '(TYPES)' ARGS_JSON  abi.encode without a selector\n"
    "       phx abi decode '(TYPES)' HEX        return data -> JSON array\n"
    "       phx abi selector SIG                4-byte function selector\n"
    "       phx abi topic SIG                   event topic0\n"
    "       phx abi decode-log EVENT_SIG --topic HEX... --data HEX\n\n"
    "SIG is a Solidity signature such as 'transfer(address,uint256)'; parameter names\n"
    "and 'indexed' are allowed. ARGS_JSON is a JSON array with one value per\n"
    "parameter: numbers as JSON integers or decimal/0x strings, addresses and bytes as\n"
    "0x hex, strings as strings, arrays and tuples as arrays (or @FILE).\n"
    "--json wraps results in an object; selector/topic add the canonical signature.\n";

static int cmd_abi(int argc, char **argv)
{
    const char *p = "phx abi";
    if (cli_wants_help(argc, argv)) return cli_help(abi_help);
    if (argc < 3)
        return cli_error(PHX_EXIT_USAGE, p, "expected a subcommand and a signature (see --help)");
    cli_opt_t opts[] = {{.name = "json"},
                        {.name = "topic", .takes_value = true, .repeatable = true},
                        {.name = "data", .takes_value = true}};
    cli_args_t args;
    int rc = cli_parse(p, argc - 1, argv + 1, opts, 3, &args);
    if (rc) return rc;
    const char *sub = argv[1], *sig = args.pos[0];
    phx_error_t e = {0};
    phx_buf_t out = PHX_BUF_INIT;
    json_t *j = NULL;
    if (strcmp(sub, "selector") == 0 || strcmp(sub, "topic") == 0) {
        uint8_t h[32];
        bool sel = sub[0] == 's';
        phx_err_t err = sel ? phx_abi_selector(sig, h, &e) : phx_abi_event_topic(sig, h, &e);
        if (err)
            rc = cli_error_e(PHX_EXIT_USAGE, p, &e);
        else {
            /* --json also shows the canonical signature that was hashed. */
            json_t *extra = NULL;
            phx_abi_type_t *t = NULL;
            char *name = NULL;
            if (opts[0].seen && phx_abi_signature_parse(sig, &name, &t, NULL) == PHX_OK) {
                phx_buf_t c = PHX_BUF_INIT;
                phx_buf_append_str(&c, name);
                phx_abi_type_canonical(t, &c);
                extra = json_pack("{s:s}", "signature", c.ptr ? (char *)c.ptr : "");
                phx_buf_free(&c);
            }
            free(name);
            phx_abi_type_free(t);
            cli_print_hex(opts[0].seen, sel ? "selector" : "topic", h, sel ? 4 : 32, extra);
        }
    } else if (strcmp(sub, "encode") == 0) {
        if (sig[0] == '(') {
            phx_abi_type_t *t = NULL;
            phx_abi_value_t *v = NULL;
            if (!(rc = cli_arg_json(p, "ARGS_JSON", args.npos > 1 ? args.pos[1] : "[]", &j))) {
                if (phx_abi_type_parse(sig, &t, &e) || phx_abi_value_from_json(t, j, &v, &e) ||
                    phx_abi_encode(t, v, &out, &e))
                    rc = cli_error_e(PHX_EXIT_USAGE, p, &e);
                else
                    cli_print_hex(opts[0].seen, "data", out.ptr, out.len, NULL);
            }
            phx_abi_value_free(v);
            phx_abi_type_free(t);
        } else {
            char *text = NULL;
            if (args.npos > 1 && args.pos[1][0] == '@') {
                if (!(rc = cli_arg_json(p, "ARGS_JSON", args.pos[1], &j)))
                    text = phx_json_dump(j, false);
            }
            if (!rc) {
                if (phx_abi_encode_call(sig, text ? text : (args.npos > 1 ? args.pos[1] : "[]"),
                                        &out, &e))
                    rc = cli_error_e(PHX_EXIT_USAGE, p, &e);
                else
                    cli_print_hex(opts[0].seen, "data", out.ptr, out.len, NULL);
            }
            free(text);
        }
    } else if (strcmp(sub, "decode") == 0) {
        phx_buf_t data = PHX_BUF_INIT;
        if (args.npos != 2)
            rc = cli_error(PHX_EXIT_USAGE, p, "decode needs '(TYPES)' and HEX");
        else if (!(rc = cli_arg_hex(p, "HEX", args.pos[1], &data))) {
            if (phx_abi_decode_json(sig, data.ptr, data.len, &j, &e))
                rc = cli_error_e(PHX_EXIT_FAIL, p, &e);
            else
                cli_print_json(j);
        }
        phx_buf_free(&data);
    } else if (strcmp(sub, "decode-log") == 0) {
        phx_evm_log_t log;
        phx_buf_t data = PHX_BUF_INIT;
        memset(&log, 0, sizeof log);
        cli_opt_t *topics = cli_opt(opts, 3, "topic");
        if (topics->nvalues > 4) rc = cli_error(PHX_EXIT_USAGE, p, "at most 4 --topic");
        for (int i = 0; !rc && i < topics->nvalues; i++)
            if (phx_hex_decode_fixed(topics->values[i], log.topics[i], 32, &e))
                rc = cli_error_e(PHX_EXIT_USAGE, p, &e);
        log.topic_count = (size_t)topics->nvalues;
        if (!rc)
            rc = cli_arg_hex(
                p, "--data",
                cli_opt(opts, 3, "data")->value ? cli_opt(opts, 3, "data")->value : "0x", &data);
        log.data = data.ptr;
        log.data_len = data.len;
        if (!rc) {
            if (phx_abi_decode_log_json(sig, false, &log, &j, &e))
                rc = cli_error_e(PHX_EXIT_FAIL, p, &e);
            else
                cli_print_json(j);
        }
        log.data = NULL;
        phx_buf_free(&data);
    } else {
        rc = cli_error(PHX_EXIT_USAGE, p, "unknown subcommand '%s' (see --help)", sub);
    }
    json_decref(j);
    phx_buf_free(&out);
    cli_opts_free(opts, 3);
    return rc;
}
PHX_CLI_COMMAND(abi, "abi", 521, "ABI calldata, decoding, selectors, event topics and logs",
                cmd_abi)
