/* phx call: call a deployed contract through the gateway, optionally with the
 * input and output sealed end to end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd_net.h"
#include "phx/crypto.h"
#include "phx/net.h"
#include "phx/worker.h"

static const char call_help[] =
    "usage: phx call ID --input JSON [--encrypt | --k N] [options]\n\n"
    "Call a deployed contract through the gateway and print the signed result\n"
    "envelope (`phx verify` checks it). With --encrypt the input is sealed (HPKE) to\n"
    "the contract's KMS-signed key and the output comes back sealed to a key made\n"
    "for this call; the gateway sees neither.\n\n"
    "Options:\n"
    "  --input JSON        the input (default null); @FILE reads it from a file\n"
    "  --encrypt           confidential input and output\n"
    "  --gateway URL       the network (else $PHX_GATEWAY, else the devnet)\n"
    "  --kms-address 0x..  the KMS to trust for the contract key (else the devnet's)\n"
    "  --key-file FILE     the payer's key: signs this call's payment voucher, and\n"
    "                      the contract sees its address as ctx.caller (else the\n"
    "                      devnet's user key; with neither the call is unsigned and\n"
    "                      ctx.caller is zero, which only a free network serves)\n"
    "  --max-price WEI     the most one call may add to what the payer owes a worker's\n"
    "                      operator, in PHA wei (default 10^18, 1 PHA)\n"
    "  --affinity KEY      sticky routing: the gateway sends every call of this\n"
    "                      contract with the same KEY (1..255 bytes) to the same\n"
    "                      worker while it is healthy, and to the same next one\n"
    "                      when it is not (header X-Phx-Affinity). For contracts\n"
    "                      that want a warm worker, not shared state: that is\n"
    "                      phx.state (docs/js.md)\n"
    "  --k N               N signatures (1..16): the same call is made to N healthy\n"
    "                      workers of N distinct operators (from the gateway's\n"
    "                      network view) and answered only when they agree (same\n"
    "                      verdict and output bytes; one that differs is left out\n"
    "                      and another asked). --json prints {\"k\",\"output\",\n"
    "                      \"results\":[envelope, ...]}, which `phx verify` checks\n"
    "                      envelope by envelope. Not with --encrypt yet\n"
    "  --nonce HEX         this call's caller nonce, 32 bytes of 0x hex (default:\n"
    "                      random). The request id is derived from the input and\n"
    "                      the nonce, so two calls are two requests (two actions\n"
    "                      of phx.evm.send) however close in time, and a call made\n"
    "                      again with the same --nonce is the same request: its\n"
    "                      sends are not made twice (docs/js.md)\n"
    "  --json              print the result envelope as JSON\n\n"
    "Paying: each call carries an EIP-712 voucher for the running total the payer\n"
    "owes the operator of the worker that serves it (Payments contract; deposit\n"
    "with `phx pay deposit`). The totals are kept in $PHX_HOME/payments.json (else\n"
    "~/.phx/payments.json). A worker that wants more, or another operator's worker,\n"
    "answers 402 with its terms; phx call signs again for them, up to --max-price.\n\n"
    "The output is printed as the contract returned it: its JSON text unchanged, or\n"
    "0x hex for bytes that are not JSON.\n\n"
    "Exit status: 0 the contract returned a result, 1 the contract threw or did not\n"
    "compile (its signed error envelope is still printed) or the call failed, 2 bad\n"
    "usage or input.\n";

/* POST the call; a 402 comes back as status and body (its terms), any other
 * failure is printed. */
static int post_call(const char *prefix, const char *base, const char *path, const char *affinity,
                     const json_t *body, int *status, json_t **out)
{
    char hdr[300];
    const char *headers[] = {hdr, NULL};
    if (affinity) snprintf(hdr, sizeof hdr, "X-Phx-Affinity: %s", affinity);
    char url[1024];
    snprintf(url, sizeof url, "%s%s", base, path);
    char *text = phx_json_dump(body, false);
    if (!text) return cli_error(PHX_EXIT_FAIL, prefix, "out of memory");
    phx_http_client_opts_t co = {.timeout_ms = 60000, .headers = affinity ? headers : NULL};
    phx_buf_t resp = PHX_BUF_INIT;
    phx_error_t e = {0};
    int rc = 0;
    *status = 0;
    if (phx_http_fetch("POST", url, "application/json", text, strlen(text), &co, status, &resp,
                       &e)) {
        rc = cli_error(PHX_EXIT_FAIL, prefix, "%s: %s", base, e.message);
    } else if (phx_json_parse((const char *)resp.ptr, resp.len, out, &e)) {
        rc = cli_error(PHX_EXIT_FAIL, prefix, "the answer (HTTP %d) is not JSON", *status);
    } else if (*status != 402 && (*status < 200 || *status > 299)) {
        const json_t *err = json_object_get(*out, "error");
        const char *msg = json_string_value(json_object_get(err, "message"));
        rc = cli_error(PHX_EXIT_FAIL, prefix, "%s (HTTP %d)", msg ? msg : "the call failed",
                       *status);
    }
    phx_buf_free(&resp);
    free(text);
    return rc;
}

/* One call to base (a worker or the gateway), paying as asked (402). */
static int call_paid(const char *prefix, const char *base, const char *path, const char *affinity,
                     const uint8_t id[32], json_t *body, net_payer_t *payer, json_t **resp)
{
    int rc;
    for (;;) {
        int status = 0;
        if ((rc = net_payer_attach(prefix, payer, id, body))) return rc;
        if ((rc = post_call(prefix, base, path, affinity, body, &status, resp))) {
            if (status == 429) net_payer_unsent(prefix, payer);
            return rc;
        }
        if (status != 402) break;
        if ((rc = net_payer_on_402(prefix, payer, *resp))) return rc;
        json_decref(*resp);
        *resp = NULL;
    }
    return net_payer_done(prefix, payer, *resp);
}

/* --k N: the same call to healthy workers of distinct operators, in the
 * gateway's order, until N of them answer alike. */
static int call_k(const char *prefix, const net_t *n, const uint8_t id[32], json_t *body,
                  unsigned k, net_payer_t *payer, bool as_json)
{
    json_t *net = NULL, *results = json_array(), *first = NULL;
    char ops[64][43];
    size_t nops = 0;
    int rc = net_json(prefix, n, "GET", "/v1/network", NULL, &net);
    if (rc) goto out;
    char path[128];
    net_contract_path(path, sizeof path, id, "/call");
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(net, "workers"), i, w)
    {
        const char *url = json_string_value(json_object_get(w, "url"));
        const char *op = json_string_value(json_object_get(w, "operator"));
        if (json_array_size(results) >= k) break;
        if (!url || !op || !json_is_true(json_object_get(w, "healthy")) || nops >= 64) continue;
        bool seen = false;
        for (size_t j = 0; j < nops; j++)
            seen |= !strcasecmp(ops[j], op);
        if (seen) continue;
        json_t *resp = NULL;
        if (call_paid(prefix, url, path, NULL, id, body, payer, &resp)) {
            json_decref(resp);
            continue; /* said why; another worker may answer */
        }
        const char *ob = json_string_value(json_object_get(resp, "output_bytes"));
        if (!ob) {
            fprintf(stderr, "%s: %s: the answer is not a signed envelope; left out\n", prefix, url);
            json_decref(resp);
            continue;
        }
        if (first && (strcmp(ob, json_string_value(json_object_get(first, "output_bytes"))) ||
                      json_is_true(json_object_get(resp, "ok")) !=
                          json_is_true(json_object_get(first, "ok")))) {
            fprintf(stderr, "%s: worker %s answered otherwise than the first; left out\n", prefix,
                    json_string_value(json_object_get(resp, "worker")));
            json_decref(resp);
            continue;
        }
        snprintf(ops[nops++], sizeof ops[0], "%s", op);
        json_array_append_new(results, resp);
        if (!first) first = resp;
    }
    if (json_array_size(results) < k) {
        rc = cli_error(PHX_EXIT_FAIL, prefix,
                       "only %zu of the %u workers of distinct operators asked for answered alike",
                       json_array_size(results), k);
        goto out;
    }
    if (as_json) {
        json_t *o = json_pack("{s:I,s:O?,s:O}", "k", (json_int_t)k, "output",
                              json_object_get(first, "output"), "results", results);
        cli_print_json(o);
        json_decref(o);
    } else {
        json_t *o = json_object_get(first, "output");
        char *t = o ? json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        printf("output     %s\n",
               t ? t : json_string_value(json_object_get(first, "output_bytes")));
        free(t);
        json_array_foreach(results, i, w)
        {
            printf("worker     %s  operator %s\n", json_string_value(json_object_get(w, "worker")),
                   ops[i]);
            printf("signature  %.20s...\n", json_string_value(json_object_get(w, "signature")));
        }
    }
    if (json_is_false(json_object_get(first, "ok")))
        rc = cli_error(PHX_EXIT_FAIL, prefix, "the contract failed (its signed error is above)");
out:
    json_decref(net);
    json_decref(results);
    return rc;
}

static int cmd_call(int argc, char **argv)
{
    const char *prefix = "phx call";
    if (cli_wants_help(argc, argv)) return cli_help(call_help);
    enum { INPUT, ENCRYPT, GATEWAY, KMS, KEY, MAXPRICE, AFFINITY, JSON, K, NONCE, NOPTS };
    cli_opt_t opts[NOPTS] = {
        [INPUT] = {.name = "input", .takes_value = true},
        [ENCRYPT] = {.name = "encrypt"},
        [GATEWAY] = {.name = "gateway", .takes_value = true},
        [KMS] = {.name = "kms-address", .takes_value = true},
        [KEY] = {.name = "key-file", .takes_value = true},
        [MAXPRICE] = {.name = "max-price", .takes_value = true},
        [AFFINITY] = {.name = "affinity", .takes_value = true},
        [JSON] = {.name = "json"},
        [K] = {.name = "k", .takes_value = true},
        [NONCE] = {.name = "nonce", .takes_value = true},
    };
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, NOPTS, &args);
    if (rc) return rc;
    net_t n = {0};
    net_payer_t payer;
    memset(&payer, 0, sizeof payer);
    json_t *input = NULL, *body = NULL, *resp = NULL, *plain_out = NULL;
    phx_buf_t text = PHX_BUF_INIT, pt = PHX_BUF_INIT, raw = PHX_BUF_INIT;
    pt.secret = text.secret = true;
    char *input_text = NULL;
    uint8_t id[32], reply_key[32] = {0}, nonce[32];
    phx_error_t e = {0};
    if (args.npos != 1) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "wants one contract ID (see --help)");
        goto out;
    }
    if ((rc = net_parse_id(prefix, args.pos[0], id))) goto out;
    const char *aff = opts[AFFINITY].value;
    if (aff && (!*aff || strlen(aff) > 255 || strpbrk(aff, "\r\n"))) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "--affinity wants 1..255 bytes on one line");
        goto out;
    }
    if (opts[NONCE].value ? phx_hex_decode_fixed(opts[NONCE].value, nonce, 32, &e)
                          : phx_random_bytes(nonce, 32)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "--nonce wants 32 bytes of 0x hex");
        goto out;
    }
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
    unsigned k = 1;
    if (opts[K].value) {
        char *end;
        unsigned long v = strtoul(opts[K].value, &end, 10);
        if (end == opts[K].value || *end || v < 1 || v > 16) {
            rc = cli_error(PHX_EXIT_USAGE, prefix, "--k wants 1..16, got '%s'", opts[K].value);
            goto out;
        }
        k = (unsigned)v;
    }
    if (k > 1 && opts[ENCRYPT].seen) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "--k with --encrypt: not yet");
        goto out;
    }
    if ((rc = net_find(prefix, opts[GATEWAY].value, &n))) goto out;
    if (k > 1) { /* one nonce: the N workers run one request */
        body = json_pack("{s:O,s:o}", "input", input, "nonce", phx_json_hex(nonce, 32));
        if ((rc = net_payer_open(prefix, &n, opts[KEY].value, opts[MAXPRICE].value, &payer)))
            goto out;
        rc = call_k(prefix, &n, id, body, k, &payer, opts[JSON].seen);
        goto out;
    }
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
        body = json_pack("{s:o,s:o}", "sealed_input", sealed, "nonce", phx_json_hex(nonce, 32));
    } else {
        body = json_pack("{s:O,s:o}", "input", input, "nonce", phx_json_hex(nonce, 32));
    }
    char path[128];
    net_contract_path(path, sizeof path, id, "/call");
    if ((rc = net_payer_open(prefix, &n, opts[KEY].value, opts[MAXPRICE].value, &payer))) goto out;
    if ((rc = call_paid(prefix, n.gateway, path, aff, id, body, &payer, &resp))) goto out;
    /* The signed output_bytes are the truth: shown as the contract wrote them
     * (JSON text byte for byte, so 3456.78 stays 3456.78), or as 0x hex when
     * they are not JSON (a contract that returns bytes). For an encrypted call
     * they are the sealed reply (docs/worker.md); only this call's reply key
     * opens them. */
    bool is_signed = json_object_get(resp, "output_bytes") != NULL;
    /* The envelope must be for this call: a signed answer naming another
     * nonce is an old result replayed (an older worker names none). */
    const json_t *rn = json_object_get(resp, "nonce");
    uint8_t got[32];
    if (is_signed && rn &&
        (phx_json_get_hex_fixed(resp, "nonce", got, 32, NULL) || memcmp(got, nonce, 32))) {
        rc = cli_error(PHX_EXIT_FAIL, prefix, "the answer is for another call (its nonce differs)");
        goto out;
    }
    if (!is_signed) {
        /* Not a worker's envelope (a stand-in or an older network): show the
         * output it gives, and say nothing signed it. */
        const json_t *o = json_object_get(resp, "output");
        char *t = o ? json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (t) phx_buf_append_str(&raw, t);
        free(t);
    } else if (phx_json_get_hex(resp, "output_bytes", &raw, &e)) {
        rc = cli_error(PHX_EXIT_FAIL, prefix, "the answer's output_bytes: %s", e.message);
        goto out;
    }
    if (opts[ENCRYPT].seen && is_signed) {
        if (phx_confidential_open_reply(reply_key, id, raw.ptr, raw.len, &pt, &e)) {
            rc = cli_error(PHX_EXIT_FAIL, prefix, "cannot open the sealed reply: %s", e.message);
            goto out;
        }
    } else if (phx_buf_append(&pt, raw.ptr, raw.len)) {
        rc = cli_error(PHX_EXIT_FAIL, prefix, "out of memory");
        goto out;
    }
    bool is_json = !phx_json_parse((const char *)pt.ptr, pt.len, &plain_out, NULL);
    char *shown = is_json ? NULL : phx_hex_encode(pt.ptr, pt.len);
    bool ok = !json_is_false(json_object_get(resp, "ok"));
    if (opts[JSON].seen) {
        /* The envelope as the worker signed it; an opened output goes beside it. */
        if (opts[ENCRYPT].seen && is_signed)
            json_object_set_new(resp, "output_plain",
                                is_json ? json_incref(plain_out) : json_string(shown ? shown : ""));
        cli_print_json(resp);
    } else {
        if (!pt.len)
            printf("output     (empty)\n");
        else if (is_json)
            printf("output     %.*s", (int)pt.len, (const char *)pt.ptr);
        else
            printf("output     %s  (bytes)", shown ? shown : "");
        if (pt.len)
            printf("%s\n", !is_signed           ? "  (not signed)"
                           : opts[ENCRYPT].seen ? "  (decrypted here)"
                                                : "");
        const char *w = json_string_value(json_object_get(resp, "worker"));
        if (w) printf("worker     %s\n", w);
        const char *sig = json_string_value(json_object_get(resp, "signature"));
        if (sig) printf("signature  %.20s...\n", sig);
    }
    if (!ok) {
        /* The failure is signed too (so the envelope is still printed), but the
         * call did not do what was asked: say what the contract threw, exit 1. */
        const json_t *err = json_object_get(plain_out, "error");
        const char *code = json_string_value(json_object_get(err, "code"));
        const char *msg = json_string_value(json_object_get(err, "message"));
        rc = cli_error(PHX_EXIT_FAIL, prefix, "the contract failed: %s: %s", code ? code : "error",
                       msg ? msg : "(no message)");
    }
    free(shown);
out:
    phx_secure_zero(reply_key, sizeof reply_key);
    if (input_text) phx_secure_zero(input_text, strlen(input_text));
    free(input_text);
    phx_buf_free(&text);
    phx_buf_free(&pt);
    phx_buf_free(&raw);
    json_decref(plain_out);
    json_decref(input);
    json_decref(body);
    json_decref(resp);
    net_free(&n);
    net_payer_close(&payer);
    cli_opts_free(opts, NOPTS);
    return rc;
}
PHX_CLI_COMMAND(call, "call", 410, "call a deployed contract (optionally with encrypted input)",
                cmd_call)
