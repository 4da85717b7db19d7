/* phx tx: decode a raw Ethereum transaction (with every range check a node
 * applies and its sender recovered) or sign one from JSON, like foundry's
 * `cast decode-tx`/`mktx`. See docs/evm.md. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "phx/crypto.h"
#include "phx/evm_tx.h"

static const char tx_help[] =
    "usage: phx tx decode [--unsigned] [--json] HEX\n"
    "       phx tx sign --key HEX|env [--json] TX_JSON\n"
    "\n"
    "decode HEX\n"
    "    Decode a signed raw transaction (legacy with or without EIP-155, EIP-2930,\n"
    "    EIP-1559; what eth_sendRawTransaction takes) and print it as JSON with its\n"
    "    hash and its sender. Every value is checked as a node checks it: canonical\n"
    "    RLP; nonce, gas limit and chain id within 64 bits (chain id at most\n"
    "    9223372036854775771, EIP-2294); fees and value within 256 bits; legacy v\n"
    "    27/28 or chainId*2+35/36, typed y parity 0/1; 1 <= r < n and\n"
    "    1 <= s <= n/2 (EIP-2 low-s); and the signature must recover a sender.\n"
    "    Any failure exits 1 and names the reason; a transaction is never printed\n"
    "    without its sender.\n"
    "    It does not judge what needs chain state or a fork's rules: intrinsic gas,\n"
    "    fees against the base fee, priority fee above max fee, gas limit x price\n"
    "    overflow, initcode size, nonce 2^64-1 (EIP-2681), and whether the chain id\n"
    "    is the one you expect (compare \"chainId\" yourself).\n"
    "\n"
    "  --unsigned\n"
    "    HEX is instead the payload that gets signed (the bytes whose keccak256 a\n"
    "    wallet signs):\n"
    "    typed or legacy fields without a signature, or a legacy EIP-155 payload\n"
    "    [..., chainId, 0, 0]. Prints the fields and \"signingHash\". Without this\n"
    "    flag such input is refused: a legacy list ending in [x, 0, 0] is a\n"
    "    signature with r = s = 0, which is invalid.\n"
    "\n"
    "sign --key HEX|env TX_JSON\n"
    "    TX_JSON (or @FILE) is {type, chainId, nonce, gasPrice | maxFeePerGas +\n"
    "    maxPriorityFeePerGas, gasLimit, to, value, data}, numbers as JSON integers or\n"
    "    decimal/0x strings. Prints the fields plus {raw, hash, from}. --key env\n"
    "    reads the key from $PHX_KEY, keeping it off the command line.\n"
    "\n"
    "Output is always JSON (--json is accepted and changes nothing). Fees, value and\n"
    "gas limit are decimal strings; nonce and chainId are JSON integers up to\n"
    "2^63 - 1 and decimal strings above.\n"
    "\n"
    "Exit status: 0 decoded or signed; 1 the transaction is invalid (the reason is\n"
    "on stderr); 2 bad usage or input (odd hex, bad JSON, bad key).\n";

/* An integer JSON readers keep exactly when it fits json_int_t, else decimal text. */
static json_t *u64_json(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX) return json_integer((json_int_t)v);
    char d[24];
    snprintf(d, sizeof d, "%llu", (unsigned long long)v);
    return json_string(d);
}

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

static json_t *tx_json(const phx_evm_tx_t *tx)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_integer(tx->type));
    if (tx->chain_id || tx->type) json_object_set_new(o, "chainId", u64_json(tx->chain_id));
    json_object_set_new(o, "nonce", u64_json(tx->nonce));
    if (tx->type == PHX_TX_EIP1559) {
        json_object_set_new(o, "maxPriorityFeePerGas", u256_json(&tx->max_priority_fee));
        json_object_set_new(o, "maxFeePerGas", u256_json(&tx->max_fee));
    } else {
        json_object_set_new(o, "gasPrice", u256_json(&tx->gas_price));
    }
    json_object_set_new(o, "gasLimit", u256_json(&tx->gas_limit));
    json_object_set_new(o, "to", tx->has_to ? phx_json_hex(tx->to, 20) : json_null());
    json_object_set_new(o, "value", u256_json(&tx->value));
    json_object_set_new(o, "data", phx_json_hex(tx->data, tx->data_len));
    if (tx->type != PHX_TX_LEGACY)
        json_object_set_new(o, "accessListEntries", json_integer((json_int_t)tx->access_count));
    json_object_set_new(o, "signed", json_boolean(tx->is_signed));
    return o;
}

static int tx_decode(const char *p, const char *hex, bool unsigned_form)
{
    phx_error_t e = {0};
    phx_buf_t raw = PHX_BUF_INIT;
    phx_evm_tx_t tx;
    uint8_t h[32];
    int rc = cli_arg_hex(p, "HEX", hex, &raw);
    if (rc) return rc;
    phx_err_t err = unsigned_form ? phx_evm_tx_decode_unsigned(raw.ptr, raw.len, &tx, &e)
                                  : phx_evm_tx_decode(raw.ptr, raw.len, &tx, &e);
    if (err) {
        /* Say so when the bytes are the payload that gets signed, so that a user
         * who meant it finds the flag, and one who did not sees what they hold. */
        if (!unsigned_form && phx_evm_tx_decode_unsigned(raw.ptr, raw.len, &tx, NULL) == PHX_OK) {
            phx_evm_tx_clear(&tx);
            rc = cli_error(PHX_EXIT_FAIL, p,
                           "%s (the bytes decode as an unsigned payload: see --unsigned)",
                           e.message);
        } else {
            rc = cli_error_e(PHX_EXIT_FAIL, p, &e);
        }
        phx_buf_free(&raw);
        return rc;
    }
    json_t *o = tx_json(&tx);
    if (unsigned_form) {
        if ((err = phx_evm_tx_signing_hash(&tx, h, &e)) == PHX_OK)
            json_object_set_new(o, "signingHash", phx_json_hex(h, 32));
    } else if ((err = phx_evm_tx_hash(&tx, h, &e)) == PHX_OK) {
        json_object_set_new(o, "hash", phx_json_hex(h, 32));
        json_object_set_new(o, "from", phx_json_hex(tx.from, 20));
        json_object_set_new(o, "raw", phx_json_hex(raw.ptr, raw.len));
    }
    if (err)
        rc = cli_error_e(PHX_EXIT_FAIL, p, &e);
    else
        cli_print_json(o);
    json_decref(o);
    phx_evm_tx_clear(&tx);
    phx_buf_free(&raw);
    return rc;
}

static int tx_sign(const char *p, const char *key, const char *tx_text)
{
    phx_error_t e = {0};
    phx_evm_tx_t tx;
    phx_buf_t raw = PHX_BUF_INIT, data = PHX_BUF_INIT;
    json_t *j = NULL, *o = NULL;
    uint8_t sk[32], h[32], from[20];
    phx_u256_t n;
    memset(&tx, 0, sizeof tx);
    int rc = cli_arg_key(p, key, sk);
    if (rc || (rc = cli_arg_json(p, "TX_JSON", tx_text, &j))) goto out;
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
        rc = cli_error_e(PHX_EXIT_USAGE, p, &e);
        goto out;
    }
    tx.has_to = to != NULL;
    tx.data = data.ptr;
    tx.data_len = data.len;
    if (phx_evm_tx_sign(&tx, sk, &e) || phx_evm_tx_encode(&tx, &raw, &e) ||
        phx_evm_tx_hash(&tx, h, &e) || phx_evm_tx_sender(&tx, from, &e)) {
        rc = cli_error_e(PHX_EXIT_USAGE, p, &e);
        goto out;
    }
    o = tx_json(&tx);
    json_object_set_new(o, "hash", phx_json_hex(h, 32));
    json_object_set_new(o, "from", phx_json_hex(from, 20));
    json_object_set_new(o, "raw", phx_json_hex(raw.ptr, raw.len));
    cli_print_json(o);
out:
    phx_secure_zero(sk, sizeof sk);
    json_decref(o);
    json_decref(j);
    phx_buf_free(&raw);
    phx_buf_free(&data);
    return rc;
}

static int cmd_tx(int argc, char **argv)
{
    const char *p = "phx tx";
    if (cli_wants_help(argc, argv)) return cli_help(tx_help);
    if (argc < 3)
        return cli_error(PHX_EXIT_USAGE, p, "expected a subcommand and an argument (see --help)");
    cli_opt_t opts[] = {
        {.name = "json"}, {.name = "key", .takes_value = true}, {.name = "unsigned"}};
    cli_args_t args;
    int rc = cli_parse(p, argc - 1, argv + 1, opts, 3, &args);
    if (rc) return rc;
    if (args.npos != 1) return cli_error(PHX_EXIT_USAGE, p, "expected one argument (see --help)");
    bool is_decode = strcmp(argv[1], "decode") == 0, is_sign = strcmp(argv[1], "sign") == 0;
    if (!is_decode && !is_sign)
        return cli_error(PHX_EXIT_USAGE, p, "unknown subcommand '%s' (decode, sign)", argv[1]);
    if (is_sign && opts[2].seen)
        return cli_error(PHX_EXIT_USAGE, p, "--unsigned belongs to decode");
    if (is_decode && opts[1].seen) return cli_error(PHX_EXIT_USAGE, p, "--key belongs to sign");
    return is_decode ? tx_decode(p, args.pos[0], opts[2].seen)
                     : tx_sign(p, opts[1].value, args.pos[0]);
}
PHX_CLI_COMMAND(tx, "tx", 522, "decode or sign raw Ethereum transactions", cmd_tx)
