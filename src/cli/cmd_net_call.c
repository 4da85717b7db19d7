/* phx call: call a deployed contract through the gateway, optionally with the
 * input and output sealed end to end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_net.h"
#include "phx/crypto.h"
#include "phx/worker.h"

static const char call_help[] =
    "usage: phx call ID --input JSON [--encrypt] [options]\n\n"
    "Call a deployed contract through the gateway and print the signed result\n"
    "envelope (`phx verify` checks it). With --encrypt the input is sealed (HPKE) to\n"
    "the contract's KMS-signed key and the output comes back sealed to a key made\n"
    "for this call; the gateway sees neither.\n\n"
    "Options:\n"
    "  --input JSON        the input (default null); @FILE reads it from a file\n"
    "  --encrypt           confidential input and output\n"
    "  --gateway URL       the network (else $PHX_GATEWAY, else the devnet)\n"
    "  --kms-address 0x..  the KMS to trust for the contract key (else the devnet's)\n"
    "  --json              print the result envelope as JSON\n\n"
    "Exit status: 0 a result came back, 1 the call failed, 2 bad usage or input.\n";

static int cmd_call(int argc, char **argv)
{
    const char *prefix = "phx call";
    if (cli_wants_help(argc, argv)) return cli_help(call_help);
    enum { INPUT, ENCRYPT, GATEWAY, KMS, JSON, NOPTS };
    cli_opt_t opts[NOPTS] = {
        [INPUT] = {.name = "input", .takes_value = true},
        [ENCRYPT] = {.name = "encrypt"},
        [GATEWAY] = {.name = "gateway", .takes_value = true},
        [KMS] = {.name = "kms-address", .takes_value = true},
        [JSON] = {.name = "json"},
    };
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, NOPTS, &args);
    if (rc) return rc;
    net_t n = {0};
    json_t *input = NULL, *body = NULL, *resp = NULL, *plain_out = NULL;
    phx_buf_t text = PHX_BUF_INIT, pt = PHX_BUF_INIT;
    pt.secret = text.secret = true;
    char *input_text = NULL;
    uint8_t id[32], reply_key[32] = {0};
    phx_error_t e = {0};
    if (args.npos != 1) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "wants one contract ID (see --help)");
        goto out;
    }
    if ((rc = net_parse_id(prefix, args.pos[0], id))) goto out;
    const char *in = opts[INPUT].value ? opts[INPUT].value : "null";
    if (in[0] == '@') {
        if (phx_file_read(in + 1, &text, &e)) {
            rc = cli_error_e(PHX_EXIT_USAGE, prefix, &e);
            goto out;
        }
    } else {
        phx_buf_append_str(&text, in);
    }
    if (phx_json_parse((const char *)text.ptr, text.len, &input, &e)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "--input is not JSON: %s", e.message);
        goto out;
    }
    if ((rc = net_find(prefix, opts[GATEWAY].value, &n))) goto out;
    if (opts[ENCRYPT].seen) {
        input_text = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
        json_t *sealed = NULL;
        if (!input_text) {
            rc = cli_error(PHX_EXIT_FAIL, prefix, "could not encode the input");
            goto out;
        }
        if ((rc = net_seal_to_contract(prefix, &n, opts[KMS].value, id, PHX_SEAL_INPUT, input_text,
                                       &sealed, reply_key)))
            goto out;
        body = json_pack("{s:o}", "sealed_input", sealed);
    } else {
        body = json_pack("{s:O}", "input", input);
    }
    char path[128];
    net_contract_path(path, sizeof path, id, "/call");
    if ((rc = net_json(prefix, &n, "POST", path, body, &resp))) goto out;
    /* For an encrypted call the signed output_bytes are the sealed reply
     * (docs/worker.md); only this call's reply key opens them. */
    if (opts[ENCRYPT].seen && json_object_get(resp, "output_bytes")) {
        phx_buf_t ct = PHX_BUF_INIT;
        if (phx_json_get_hex(resp, "output_bytes", &ct, &e) ||
            phx_confidential_open_reply(reply_key, id, ct.ptr, ct.len, &pt, &e) ||
            phx_json_parse((const char *)pt.ptr, pt.len, &plain_out, &e))
            rc = cli_error(PHX_EXIT_FAIL, prefix, "cannot open the sealed reply: %s", e.message);
        phx_buf_free(&ct);
        if (rc) goto out;
    }
    if (opts[JSON].seen) {
        /* The envelope as the worker signed it; an opened output goes beside it. */
        if (plain_out) json_object_set(resp, "output_plain", plain_out);
        cli_print_json(resp);
    } else {
        json_t *out = plain_out ? plain_out : json_object_get(resp, "output");
        char *s = out ? json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        printf("output     %s%s\n", s ? s : "(none)", plain_out ? "  (decrypted here)" : "");
        free(s);
        const char *w = json_string_value(json_object_get(resp, "worker"));
        if (w) printf("worker     %s\n", w);
        const char *sig = json_string_value(json_object_get(resp, "signature"));
        if (sig) printf("signature  %.20s...\n", sig);
    }
out:
    phx_secure_zero(reply_key, sizeof reply_key);
    if (input_text) phx_secure_zero(input_text, strlen(input_text));
    free(input_text);
    phx_buf_free(&text);
    phx_buf_free(&pt);
    json_decref(plain_out);
    json_decref(input);
    json_decref(body);
    json_decref(resp);
    net_free(&n);
    cli_opts_free(opts, NOPTS);
    return rc;
}
PHX_CLI_COMMAND(call, "call", 410, "call a deployed contract (optionally with encrypted input)",
                cmd_call)
