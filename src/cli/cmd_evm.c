/* phx rlp | abi | tx | eip712: developer helpers over the EVM client, like
 * foundry's `cast`: RLP encode/decode, ABI calldata/decoding/selectors/topics/
 * event logs, raw transaction decode and sign, EIP-712 digest and sign.
 * Hex in and out (0x-prefixed), JSON for structures. Exit 0 ok, 1 the checked
 * thing failed, 2 usage or bad input. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "phx/crypto.h"
#include "phx/evm.h"

/* One hex result: a line, or {"key": "0x.."} (plus extra members) with --json. */
static void print_hex(bool as_json, const char *key, const uint8_t *p, size_t n, json_t *extra)
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

/* Argument as JSON text, or "@FILE" for a file's content ("@-" = stdin). */
static int arg_json(const char *prefix, const char *what, const char *text, json_t **out)
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

static int arg_hex(const char *prefix, const char *what, const char *text, phx_buf_t *out)
{
    phx_error_t e = {0};
    if (!text) return cli_error(PHX_EXIT_USAGE, prefix, "%s is required (see --help)", what);
    if (phx_hex_decode(text, out, &e)) {
        phx_buf_free(out); /* the decoder may have appended a partial result */
        return cli_error(PHX_EXIT_USAGE, prefix, "%s: %s", what, e.message);
    }
    return 0;
}

static int arg_key(const char *prefix, const char *text, uint8_t sk[32])
{
    phx_error_t e = {0};
    char *env = NULL;
    if (text && strcmp(text, "env") == 0) text = env = getenv("PHX_KEY");
    if (!text)
        return cli_error(PHX_EXIT_USAGE, prefix,
                         "--key HEX (or --key env with $PHX_KEY) is required");
    if (phx_hex_decode_fixed(text, sk, 32, &e) || phx_secp256k1_seckey_verify(sk))
        return cli_error(PHX_EXIT_USAGE, prefix, "--key: not a valid secp256k1 secret key");
    return 0;
}

/* ---- rlp --------------------------------------------------------------------------- */

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
        if ((rc = arg_hex(p, "HEX", args.pos[0], &b))) return rc;
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
        if ((rc = arg_json(p, "JSON", args.pos[0], &j))) return rc;
        phx_err_t err = rlp_from_json(j, &b, &e);
        json_decref(j);
        if (err) {
            phx_buf_free(&b);
            return cli_error_e(PHX_EXIT_USAGE, p, &e);
        }
        print_hex(opts[0].seen, "encoded", b.ptr, b.len, NULL);
    } else {
        return cli_error(PHX_EXIT_USAGE, p, "unknown subcommand '%s' (decode, encode)", argv[1]);
    }
    phx_buf_free(&b);
    return PHX_EXIT_OK;
}
PHX_CLI_COMMAND(rlp, "rlp", 520, "RLP encode/decode (hex <-> JSON)", cmd_rlp)

/* ---- abi --------------------------------------------------------------------------- */

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
            print_hex(opts[0].seen, sel ? "selector" : "topic", h, sel ? 4 : 32, extra);
        }
    } else if (strcmp(sub, "encode") == 0) {
        if (sig[0] == '(') {
            phx_abi_type_t *t = NULL;
            phx_abi_value_t *v = NULL;
            if (!(rc = arg_json(p, "ARGS_JSON", args.npos > 1 ? args.pos[1] : "[]", &j))) {
                if (phx_abi_type_parse(sig, &t, &e) || phx_abi_value_from_json(t, j, &v, &e) ||
                    phx_abi_encode(t, v, &out, &e))
                    rc = cli_error_e(PHX_EXIT_USAGE, p, &e);
                else
                    print_hex(opts[0].seen, "data", out.ptr, out.len, NULL);
            }
            phx_abi_value_free(v);
            phx_abi_type_free(t);
        } else {
            char *text = NULL;
            if (args.npos > 1 && args.pos[1][0] == '@') {
                if (!(rc = arg_json(p, "ARGS_JSON", args.pos[1], &j)))
                    text = phx_json_dump(j, false);
            }
            if (!rc) {
                if (phx_abi_encode_call(sig, text ? text : (args.npos > 1 ? args.pos[1] : "[]"),
                                        &out, &e))
                    rc = cli_error_e(PHX_EXIT_USAGE, p, &e);
                else
                    print_hex(opts[0].seen, "data", out.ptr, out.len, NULL);
            }
            free(text);
        }
    } else if (strcmp(sub, "decode") == 0) {
        phx_buf_t data = PHX_BUF_INIT;
        if (args.npos != 2)
            rc = cli_error(PHX_EXIT_USAGE, p, "decode needs '(TYPES)' and HEX");
        else if (!(rc = arg_hex(p, "HEX", args.pos[1], &data))) {
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
            rc = arg_hex(p, "--data",
                         cli_opt(opts, 3, "data")->value ? cli_opt(opts, 3, "data")->value : "0x",
                         &data);
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

/* ---- tx ---------------------------------------------------------------------------- */

static const char tx_help[] =
    "usage: phx tx decode HEX\n"
    "       phx tx sign --key HEX|env TX_JSON\n\n"
    "Both print JSON (--json is accepted and changes nothing).\n"
    "decode prints a raw transaction (legacy, EIP-2930, EIP-1559) as JSON with its\n"
    "hash and recovered sender. sign takes {type, chainId, nonce, gasPrice |\n"
    "maxFeePerGas + maxPriorityFeePerGas, gasLimit, to, value, data} (numbers as\n"
    "integers or strings) and prints {raw, hash, from}. --key env reads $PHX_KEY.\n";

static json_t *u256_json(const phx_u256_t *v)
{
    char d[80];
    phx_u256_to_dec(v, d);
    return json_string(d);
}

static phx_err_t get_u256(const json_t *o, const char *k, phx_u256_t *out, phx_error_t *e)
{
    const json_t *v = json_object_get(o, k);
    *out = phx_u256_from_u64(0);
    if (!v) return PHX_OK;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = phx_u256_from_u64((uint64_t)json_integer_value(v));
        return PHX_OK;
    }
    if (!json_is_string(v)) return phx_fail(e, PHX_ERR_INVALID, "%s: number expected", k);
    return phx_u256_from_str(json_string_value(v), out, e);
}

static int cmd_tx(int argc, char **argv)
{
    const char *p = "phx tx";
    if (cli_wants_help(argc, argv)) return cli_help(tx_help);
    if (argc < 3)
        return cli_error(PHX_EXIT_USAGE, p, "expected a subcommand and an argument (see --help)");
    cli_opt_t opts[] = {{.name = "json"}, {.name = "key", .takes_value = true}};
    cli_args_t args;
    int rc = cli_parse(p, argc - 1, argv + 1, opts, 2, &args);
    if (rc) return rc;
    if (args.npos != 1) return cli_error(PHX_EXIT_USAGE, p, "expected one argument (see --help)");
    phx_error_t e = {0};
    phx_evm_tx_t tx;
    phx_buf_t raw = PHX_BUF_INIT, data = PHX_BUF_INIT;
    memset(&tx, 0, sizeof tx);
    uint8_t sk[32], h[32], from[20];
    bool decoded = false;
    if (strcmp(argv[1], "decode") == 0) {
        if ((rc = arg_hex(p, "HEX", args.pos[0], &raw))) goto out;
        if (phx_evm_tx_decode(raw.ptr, raw.len, &tx, &e)) {
            rc = cli_error_e(PHX_EXIT_FAIL, p, &e);
            goto out;
        }
        decoded = true;
    } else if (strcmp(argv[1], "sign") == 0) {
        json_t *j = NULL;
        if ((rc = arg_key(p, cli_opt(opts, 2, "key")->value, sk))) goto out;
        if ((rc = arg_json(p, "TX_JSON", args.pos[0], &j))) goto out;
        phx_u256_t n;
        const char *to = json_string_value(json_object_get(j, "to"));
        const char *d = json_string_value(json_object_get(j, "data"));
        tx.type = (uint8_t)json_integer_value(json_object_get(j, "type"));
        if (get_u256(j, "chainId", &n, &e) || phx_u256_to_u64(&n, &tx.chain_id, &e) ||
            get_u256(j, "nonce", &n, &e) || phx_u256_to_u64(&n, &tx.nonce, &e) ||
            get_u256(j, "gasPrice", &tx.gas_price, &e) ||
            get_u256(j, "maxFeePerGas", &tx.max_fee, &e) ||
            get_u256(j, "maxPriorityFeePerGas", &tx.max_priority_fee, &e) ||
            get_u256(j, "gasLimit", &tx.gas_limit, &e) || get_u256(j, "value", &tx.value, &e) ||
            (to && phx_evm_address_parse(to, tx.to, &e)) || (d && phx_hex_decode(d, &data, &e))) {
            json_decref(j);
            rc = cli_error_e(PHX_EXIT_USAGE, p, &e);
            goto out;
        }
        json_decref(j);
        tx.has_to = to != NULL;
        tx.data = data.ptr;
        tx.data_len = data.len;
        if (phx_evm_tx_sign(&tx, sk, &e) || phx_evm_tx_encode(&tx, &raw, &e)) {
            rc = cli_error_e(PHX_EXIT_USAGE, p, &e);
            goto out;
        }
    } else {
        rc = cli_error(PHX_EXIT_USAGE, p, "unknown subcommand '%s' (decode, sign)", argv[1]);
        goto out;
    }
    json_t *o = json_object();
    json_object_set_new(o, "type", json_integer(tx.type));
    if (tx.chain_id || tx.type)
        json_object_set_new(o, "chainId", json_integer((json_int_t)tx.chain_id));
    json_object_set_new(o, "nonce", json_integer((json_int_t)tx.nonce));
    if (tx.type == PHX_TX_EIP1559) {
        json_object_set_new(o, "maxPriorityFeePerGas", u256_json(&tx.max_priority_fee));
        json_object_set_new(o, "maxFeePerGas", u256_json(&tx.max_fee));
    } else {
        json_object_set_new(o, "gasPrice", u256_json(&tx.gas_price));
    }
    json_object_set_new(o, "gasLimit", u256_json(&tx.gas_limit));
    json_object_set_new(o, "to", tx.has_to ? phx_json_hex(tx.to, 20) : json_null());
    json_object_set_new(o, "value", u256_json(&tx.value));
    json_object_set_new(o, "data", phx_json_hex(tx.data, tx.data_len));
    if (tx.type != PHX_TX_LEGACY)
        json_object_set_new(o, "accessListEntries", json_integer((json_int_t)tx.access_count));
    json_object_set_new(o, "signed", json_boolean(tx.is_signed));
    if (tx.is_signed) {
        phx_evm_tx_hash(&tx, h, NULL);
        json_object_set_new(o, "hash", phx_json_hex(h, 32));
        if (phx_evm_tx_sender(&tx, from, &e) == PHX_OK)
            json_object_set_new(o, "from", phx_json_hex(from, 20));
        else
            json_object_set_new(o, "from", json_null());
        json_object_set_new(o, "raw", phx_json_hex(raw.ptr, raw.len));
    }
    cli_print_json(o);
    json_decref(o);
out:
    phx_secure_zero(sk, sizeof sk);
    if (decoded) phx_evm_tx_clear(&tx);
    phx_buf_free(&raw);
    phx_buf_free(&data);
    return rc;
}
PHX_CLI_COMMAND(tx, "tx", 522, "decode or sign raw Ethereum transactions", cmd_tx)

/* ---- eip712 ------------------------------------------------------------------------ */

static const char eip712_help[] =
    "usage: phx eip712 hash [--json] TYPED_JSON\n"
    "       phx eip712 sign --key HEX|env [--json] TYPED_JSON\n\n"
    "TYPED_JSON (or @FILE) is eth_signTypedData_v4's {types, primaryType, domain,\n"
    "message}. hash prints the EIP-712 digest; sign prints r||s||v (v = 27/28).\n"
    "--json prints {\"digest\": HEX} or {\"signature\": HEX}.\n";

static int cmd_eip712(int argc, char **argv)
{
    const char *p = "phx eip712";
    if (cli_wants_help(argc, argv)) return cli_help(eip712_help);
    if (argc < 3)
        return cli_error(PHX_EXIT_USAGE, p, "expected a subcommand and typed data (see --help)");
    cli_opt_t opts[] = {{.name = "json"}, {.name = "key", .takes_value = true}};
    cli_args_t args;
    int rc = cli_parse(p, argc - 1, argv + 1, opts, 2, &args);
    if (rc) return rc;
    if (args.npos != 1) return cli_error(PHX_EXIT_USAGE, p, "expected one argument (see --help)");
    json_t *j = NULL;
    phx_error_t e = {0};
    uint8_t d[32], sk[32], sig[65];
    if ((rc = arg_json(p, "TYPED_JSON", args.pos[0], &j))) return rc;
    if (strcmp(argv[1], "hash") == 0) {
        if (phx_eip712_digest(j, d, &e))
            rc = cli_error_e(PHX_EXIT_USAGE, p, &e);
        else
            print_hex(opts[0].seen, "digest", d, 32, NULL);
    } else if (strcmp(argv[1], "sign") == 0) {
        if (!(rc = arg_key(p, cli_opt(opts, 2, "key")->value, sk))) {
            if (phx_eip712_sign(j, sk, sig, &e))
                rc = cli_error_e(PHX_EXIT_USAGE, p, &e);
            else
                print_hex(opts[0].seen, "signature", sig, 65, NULL);
        }
        phx_secure_zero(sk, sizeof sk);
    } else {
        rc = cli_error(PHX_EXIT_USAGE, p, "unknown subcommand '%s' (hash, sign)", argv[1]);
    }
    json_decref(j);
    return rc;
}
PHX_CLI_COMMAND(eip712, "eip712", 523, "EIP-712 typed-data digest and signature", cmd_eip712)
