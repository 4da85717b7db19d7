/* phx tx: decode a raw Ethereum transaction with its hash and sender, or sign
 * one from JSON, like foundry's `cast decode-tx`/`mktx`. See docs/evm.md. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "phx/crypto.h"
#include "phx/evm_tx.h"

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
        if ((rc = cli_arg_hex(p, "HEX", args.pos[0], &raw))) goto out;
        if (phx_evm_tx_decode(raw.ptr, raw.len, &tx, &e)) {
            rc = cli_error_e(PHX_EXIT_FAIL, p, &e);
            goto out;
        }
        decoded = true;
    } else if (strcmp(argv[1], "sign") == 0) {
        json_t *j = NULL;
        if ((rc = cli_arg_key(p, cli_opt(opts, 2, "key")->value, sk))) goto out;
        if ((rc = cli_arg_json(p, "TX_JSON", args.pos[0], &j))) goto out;
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
