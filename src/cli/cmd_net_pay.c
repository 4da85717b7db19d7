/* The payer side of paid direct calls (docs/worker.md "Paid calls"): `phx
 * call` signs a voucher for each call from the user's key, keeping the running
 * total per operator in $PHX_HOME/payments.json (else ~/.phx/payments.json).
 * The total is written (atomically) before a voucher carrying it leaves, so a
 * crash can only make the next voucher larger than needed, never reuse one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_net.h"
#include "phx/crypto.h"
#include "phx/worker.h"

static void state_path(char *out, size_t cap)
{
    const char *home = getenv("PHX_HOME");
    if (home && *home) {
        snprintf(out, cap, "%s/payments.json", home);
        return;
    }
    home = getenv("HOME");
    snprintf(out, cap, "%s/.phx/payments.json", home && *home ? home : ".");
}

static void hex20(const uint8_t a[20], char out[43])
{
    out[0] = '0', out[1] = 'x';
    phx_hex_encode_to(out + 2, a, 20);
}

/* The payer's entry: {"last_operator","operators":{OP:{"cumulative","charged",
 * "price_per_call"}}} under "<chainId>/<payments>/<payer>". Borrowed from
 * state (created when missing). */
static json_t *payer_entry(net_payer_t *p)
{
    char key[160], pay[43], who[43];
    hex20(p->payments, pay);
    hex20(p->payer, who);
    snprintf(key, sizeof key, "%llu/%s/%s", (unsigned long long)p->chain_id, pay, who);
    json_t *e = json_object_get(p->state, key);
    if (!json_is_object(e)) {
        e = json_pack("{s:{}}", "operators");
        json_object_set_new(p->state, key, e);
    }
    return e;
}

static json_t *op_entry(net_payer_t *p, const uint8_t op[20])
{
    char o[43];
    hex20(op, o);
    json_t *ops = json_object_get(payer_entry(p), "operators");
    if (!json_is_object(ops)) {
        ops = json_object();
        json_object_set_new(payer_entry(p), "operators", ops);
    }
    json_t *e = json_object_get(ops, o);
    if (!json_is_object(e)) {
        e = json_pack("{s:s,s:s}", "cumulative", "0", "charged", "0");
        json_object_set_new(ops, o, e);
    }
    return e;
}

static phx_u256_t get_amount(const json_t *o, const char *key)
{
    phx_u256_t v = {{0}};
    const char *s = json_string_value(json_object_get(o, key));
    if (s) phx_u256_from_str(s, &v, NULL);
    return v;
}

static json_t *dec_json(const phx_u256_t *v)
{
    char dec[80];
    phx_u256_to_dec(v, dec);
    return json_string(dec);
}

static int save(const char *prefix, net_payer_t *p)
{
    char *text = phx_json_dump(p->state, true);
    phx_error_t e = {0};
    int rc = 0;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", p->state_path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        phx_dir_ensure(dir, 0700, NULL); /* ~/.phx on a first paid call; a failure shows below */
    }
    if (!text || phx_file_write_atomic(p->state_path, text, strlen(text), 0600, &e))
        rc = cli_error(PHX_EXIT_FAIL, prefix, "cannot record the voucher total in %s: %s",
                       p->state_path, text ? e.message : "out of memory");
    free(text);
    return rc;
}

int net_payer_open(const char *prefix, const net_t *n, const char *key_file, const char *max_price,
                   net_payer_t *p)
{
    memset(p, 0, sizeof *p);
    /* 1 PHA: more than any sane price of one call; a worker asking more is refused. */
    p->max_increment = phx_u256_from_u64(1000000000000000000ull);
    if (max_price) {
        phx_error_t e = {0};
        if (phx_u256_from_str(max_price, &p->max_increment, &e))
            return cli_error(PHX_EXIT_USAGE, prefix, "--max-price: PHA wei as a decimal: %s",
                             e.message);
    }
    if (!key_file && n->endpoints)
        key_file =
            json_string_value(json_object_get(json_object_get(n->endpoints, "user"), "key_file"));
    if (!key_file) return 0; /* no key: unsigned calls (free networks only) */
    int rc = net_owner_key(prefix, n, key_file, p->sk, p->payer);
    if (rc) return rc;
    p->enabled = true;
    /* The devnet's deployment says where Payments is; elsewhere a 402 does. */
    const json_t *dep = json_object_get(n->endpoints, "deployment");
    phx_chain_deployment_t d;
    if (dep && !phx_chain_deployment_from_json(dep, &d, NULL) && phx_chain_has_payments(&d)) {
        p->have_terms = true;
        p->chain_id = d.chain_id;
        memcpy(p->payments, d.payments, 20);
    }
    state_path(p->state_path, sizeof p->state_path);
    phx_error_t e = {0};
    if (phx_json_load_file(p->state_path, &p->state, &e) || !json_is_object(p->state)) {
        json_decref(p->state);
        p->state = json_object();
    }
    if (p->have_terms) {
        const char *last = json_string_value(json_object_get(payer_entry(p), "last_operator"));
        if (last) phx_hex_decode_fixed(last, p->operator_, 20, NULL);
    }
    return 0;
}

void net_payer_close(net_payer_t *p)
{
    phx_secure_zero(p->sk, sizeof p->sk);
    json_decref(p->state);
    p->state = NULL;
}

/* What the worker hashes as the call's input (worker/api.c): the compact JSON
 * of "input", or enc || ciphertext of "sealed_input". */
static int input_hash(const json_t *body, uint8_t out[32])
{
    const json_t *sealed = json_object_get(body, "sealed_input");
    if (sealed) {
        phx_buf_t b = PHX_BUF_INIT;
        int bad = phx_json_get_hex(sealed, "enc", &b, NULL) ||
                  phx_json_get_hex(sealed, "ciphertext", &b, NULL);
        if (!bad) phx_keccak256(b.ptr, b.len, out);
        phx_buf_free(&b);
        return bad;
    }
    const json_t *in = json_object_get(body, "input");
    char *t = json_dumps(in ? in : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t) return -1;
    phx_keccak256(t, strlen(t), out);
    free(t);
    return 0;
}

int net_payer_attach(const char *prefix, net_payer_t *p, const uint8_t id[32], json_t *body)
{
    json_object_del(body, "voucher");
    if (!p->enabled || !p->have_terms) return 0;
    json_t *oe = op_entry(p, p->operator_);
    phx_u256_t last = get_amount(oe, "cumulative"), charged = get_amount(oe, "charged");
    phx_u256_t price = get_amount(oe, "price_per_call");
    phx_u256_t base = phx_u256_cmp(&charged, &last) > 0 ? charged : last;
    phx_u256_t cum = phx_u256_add(&base, &price), one = phx_u256_from_u64(1);
    phx_u256_t fresh = phx_u256_add(&last, &one);
    if (phx_u256_cmp(&cum, &fresh) < 0) cum = fresh; /* every voucher is new, even when free */
    if (phx_u256_cmp(&p->required, &cum) > 0) cum = p->required;
    /* cum - last, checked against --max-price (both below 2^256; cum >= last). */
    phx_u256_t limit = phx_u256_add(&last, &p->max_increment);
    if (phx_u256_cmp(&cum, &limit) > 0) {
        char c[80], l[80];
        phx_u256_to_dec(&cum, c);
        phx_u256_to_dec(&last, l);
        return cli_error(PHX_EXIT_FAIL, prefix,
                         "the worker asks for a voucher of %s PHA wei where the last was %s: more "
                         "than --max-price for one call; not paying",
                         c, l);
    }
    p->prev_cumulative = last;
    json_object_set_new(oe, "cumulative", dec_json(&cum));
    int rc = save(prefix, p); /* before the voucher leaves */
    if (rc) return rc;
    uint8_t ih[32], ch[32];
    if (input_hash(body, ih)) return cli_error(PHX_EXIT_FAIL, prefix, "cannot hash the input");
    phx_chain_call_hash(id, ih, ch);
    phx_voucher_t v;
    memset(&v, 0, sizeof v);
    memcpy(v.operator_, p->operator_, 20);
    v.cumulative = cum;
    json_t *vj = NULL;
    phx_error_t e = {0};
    if (phx_voucher_sign(&v, p->chain_id, p->payments, ch, p->sk, &e) ||
        phx_voucher_to_json(&v, &vj, &e))
        return cli_error_e(PHX_EXIT_FAIL, prefix, &e);
    json_object_set_new(body, "voucher", vj);
    p->signed_cumulative = cum;
    return 0;
}

void net_payer_unsent(const char *prefix, net_payer_t *p)
{
    if (!p->enabled || !p->have_terms || phx_u256_is_zero(&p->signed_cumulative)) return;
    json_t *oe = op_entry(p, p->operator_);
    phx_u256_t now = get_amount(oe, "cumulative");
    if (phx_u256_cmp(&now, &p->signed_cumulative) != 0) return;
    json_object_set_new(oe, "cumulative", dec_json(&p->prev_cumulative));
    save(prefix, p);
}

int net_payer_on_402(const char *prefix, net_payer_t *p, const json_t *answer)
{
    const json_t *err = json_object_get(answer, "error");
    const char *msg = json_string_value(json_object_get(err, "message"));
    const json_t *t = json_object_get(answer, "payment");
    if (!p->enabled)
        return cli_error(PHX_EXIT_FAIL, prefix,
                         "payment required: %s (give --key-file with a key that has a deposit; "
                         "phx pay deposit)",
                         msg ? msg : "(no message)");
    uint8_t payments[20], op[20];
    const char *ps = json_string_value(json_object_get(t, "payments"));
    const char *os = json_string_value(json_object_get(t, "operator"));
    json_int_t cid = json_integer_value(json_object_get(t, "chain_id"));
    if (!ps || !os || cid <= 0 || phx_hex_decode_fixed(ps, payments, 20, NULL) ||
        phx_hex_decode_fixed(os, op, 20, NULL))
        return cli_error(PHX_EXIT_FAIL, prefix, "payment required: %s",
                         msg ? msg : "(the worker gave no terms)");
    if (p->have_terms && (memcmp(payments, p->payments, 20) != 0 || (uint64_t)cid != p->chain_id))
        return cli_error(PHX_EXIT_FAIL, prefix,
                         "the worker wants payment through another Payments contract (%s on "
                         "chain %lld) than this network's: not paying",
                         ps, (long long)cid);
    phx_u256_t required = get_amount(t, "required_cumulative");
    bool changed = !p->have_terms || memcmp(op, p->operator_, 20) != 0 ||
                   phx_u256_cmp(&required, &p->signed_cumulative) > 0;
    if (!changed || ++p->rounds > 4)
        return cli_error(PHX_EXIT_FAIL, prefix, "payment required: %s", msg ? msg : "(no message)");
    p->have_terms = true;
    p->chain_id = (uint64_t)cid;
    memcpy(p->payments, payments, 20);
    memcpy(p->operator_, op, 20);
    p->required = required;
    json_t *oe = op_entry(p, op);
    const json_t *price = json_object_get(t, "price_per_call");
    if (json_is_string(price)) json_object_set(oe, "price_per_call", (json_t *)price);
    return 0;
}

int net_payer_done(const char *prefix, net_payer_t *p, const json_t *answer)
{
    const json_t *paid = json_object_get(answer, "payment");
    if (!p->enabled || !p->have_terms || !json_is_object(paid)) return 0;
    uint8_t op[20];
    const char *os = json_string_value(json_object_get(paid, "operator"));
    if (!os || phx_hex_decode_fixed(os, op, 20, NULL)) return 0;
    json_t *oe = op_entry(p, op);
    phx_u256_t charged = get_amount(paid, "charged"), mine = get_amount(oe, "charged");
    if (phx_u256_cmp(&charged, &mine) > 0) json_object_set_new(oe, "charged", dec_json(&charged));
    const json_t *price = json_object_get(paid, "price_per_call");
    if (json_is_string(price)) json_object_set(oe, "price_per_call", (json_t *)price);
    char o[43];
    hex20(op, o);
    json_object_set_new(payer_entry(p), "last_operator", json_string(o));
    return save(prefix, p);
}
