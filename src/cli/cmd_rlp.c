/* phx rlp: RLP encode and decode between hex and a JSON form (byte strings as
 * 0x hex, lists as arrays), like foundry's `cast to-rlp`/`from-rlp`. Strict:
 * only canonical encodings decode. See docs/evm.md. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "phx/evm_rlp.h"

static json_t *rlp_to_json(const phx_rlp_item_t *it)
{
    if (!it->is_list) return phx_json_hex(it->data, it->len);
    json_t *a = json_array();
    for (size_t i = 0; a && i < it->count; i++)
        json_array_append_new(a, rlp_to_json(&it->items[i]));
    return a;
}

static phx_err_t rlp_from_json(const json_t *j, phx_buf_t *out, phx_error_t *e)
{
    if (json_is_array(j)) {
        size_t mark = phx_rlp_list_begin(out), i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            phx_err_t err = rlp_from_json(v, out, e);
            if (err) return err;
        }
        return phx_rlp_list_end(out, mark);
    }
    if (!json_is_string(j))
        return phx_fail(e, PHX_ERR_INVALID, "RLP JSON holds hex strings and arrays only");
    phx_buf_t b = PHX_BUF_INIT;
    phx_err_t err = phx_hex_decode(json_string_value(j), &b, e);
    if (!err) err = phx_rlp_put_bytes(out, b.ptr, b.len);
    phx_buf_free(&b);
    return err;
}

static const char rlp_help[] =
    "usage: phx rlp decode HEX\n"
    "       phx rlp encode [--json] JSON\n\n"
    "decode prints the item as JSON: byte strings as 0x hex, lists as arrays. Decoding\n"
    "is strict (canonical lengths only, no trailing bytes).\n"
    "encode takes that JSON form (or @FILE) and prints the encoding as hex;\n"
    "--json prints {\"encoded\": HEX} instead.\n";

static int cmd_rlp(int argc, char **argv)
{
    const char *p = "phx rlp";
    if (cli_wants_help(argc, argv)) return cli_help(rlp_help);
    if (argc < 3)
        return cli_error(PHX_EXIT_USAGE, p,
                         "expected decode or encode and an argument (see --help)");
    cli_opt_t opts[] = {{.name = "json"}};
    cli_args_t args;
    int rc = cli_parse(p, argc - 1, argv + 1, opts, 1, &args);
    if (rc) return rc;
    if (args.npos != 1) return cli_error(PHX_EXIT_USAGE, p, "expected one argument (see --help)");
    phx_error_t e = {0};
    phx_buf_t b = PHX_BUF_INIT;
    if (strcmp(argv[1], "decode") == 0) {
        phx_rlp_item_t *it = NULL;
        if ((rc = cli_arg_hex(p, "HEX", args.pos[0], &b))) return rc;
        if (phx_rlp_decode(b.ptr, b.len, &it, &e)) {
            phx_buf_free(&b);
            return cli_error_e(PHX_EXIT_FAIL, p, &e);
        }
        json_t *j = rlp_to_json(it);
        cli_print_json(j);
        json_decref(j);
        phx_rlp_free(it);
    } else if (strcmp(argv[1], "encode") == 0) {
        json_t *j = NULL;
        if ((rc = cli_arg_json(p, "JSON", args.pos[0], &j))) return rc;
        phx_err_t err = rlp_from_json(j, &b, &e);
        json_decref(j);
        if (err) {
            phx_buf_free(&b);
            return cli_error_e(PHX_EXIT_USAGE, p, &e);
        }
        cli_print_hex(opts[0].seen, "encoded", b.ptr, b.len, NULL);
    } else {
        return cli_error(PHX_EXIT_USAGE, p, "unknown subcommand '%s' (decode, encode)", argv[1]);
    }
    phx_buf_free(&b);
    return PHX_EXIT_OK;
}
PHX_CLI_COMMAND(rlp, "rlp", 520, "RLP encode/decode (hex <-> JSON)", cmd_rlp)
