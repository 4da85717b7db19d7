/* Trigger manifests and firing records (include/phx/chain_triggers.h). The
 * manifest is outside input (the owner's file, then every worker's deploy
 * body): bounded, every field checked, unknown fields refused; fuzzed by
 * fuzz/fuzz_triggers.c. */
#include "phx/chain_triggers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/evm.h"

static const char *kind_names[] = {"?", "cron", "block", "evm_log", "http"};

const char *phx_trigger_kind_name(phx_trigger_kind_t k)
{
    return (unsigned)k <= PHX_TRIGGER_HTTP ? kind_names[k] : "?";
}

phx_err_t phx_trigger_schedule_parse(const char *s, uint64_t *every_s, phx_error_t *e)
{
    static const char pre[] = "@every ";
    if (!s || strncmp(s, pre, sizeof pre - 1))
        return phx_fail(e, PHX_ERR_INVALID,
                        "schedule must be \"@every N\" with s, m or h (as \"@every 30s\"); "
                        "5-field crontab schedules are not supported");
    const char *p = s + sizeof pre - 1;
    uint64_t n = 0;
    size_t digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (digits >= 9) return phx_fail(e, PHX_ERR_INVALID, "schedule: the number is too long");
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (!digits || (digits > 1 && s[sizeof pre - 1] == '0'))
        return phx_fail(e, PHX_ERR_INVALID,
                        "schedule: \"@every\" needs a number without a "
                        "leading zero");
    uint64_t unit = 0;
    if (p[0] == 's') unit = 1;
    if (p[0] == 'm') unit = 60;
    if (p[0] == 'h') unit = 3600;
    if (!unit || p[1])
        return phx_fail(e, PHX_ERR_INVALID, "schedule: the unit must be s, m or h, and last");
    n *= unit;
    if (n < PHX_TRIGGER_EVERY_MIN_S || n > PHX_TRIGGER_EVERY_MAX_S)
        return phx_fail(e, PHX_ERR_INVALID, "schedule: between %ds and %ds",
                        PHX_TRIGGER_EVERY_MIN_S, PHX_TRIGGER_EVERY_MAX_S);
    *every_s = n;
    return PHX_OK;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > PHX_TRIGGER_NAME_MAX || s[0] < 'a' || s[0] > 'z') return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Only the fields of the kind (and name, kind) are allowed. */
static phx_err_t only_fields(const json_t *o, const char *const *allowed, const char *name,
                             phx_error_t *e)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = !strcmp(k, allowed[i]);
        if (!ok)
            return phx_fail(e, PHX_ERR_INVALID, "trigger \"%s\": unknown field \"%.40s\"", name, k);
    }
    return PHX_OK;
}

static phx_err_t hex_field(const json_t *o, const char *key, uint8_t *out, size_t n,
                           const char *name, phx_error_t *e)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s || phx_hex_decode_fixed(s, out, n, NULL))
        return phx_fail(e, PHX_ERR_INVALID, "trigger \"%s\": \"%s\" must be 0x and %zu hex bytes",
                        name, key, n);
    return PHX_OK;
}

static phx_err_t one(const json_t *o, phx_trigger_t *t, phx_error_t *e)
{
    memset(t, 0, sizeof *t);
    if (!json_is_object(o)) return phx_fail(e, PHX_ERR_INVALID, "each trigger is a JSON object");
    const char *name = json_string_value(json_object_get(o, "name"));
    if (!name || !name_ok(name))
        return phx_fail(e, PHX_ERR_INVALID,
                        "a trigger's \"name\" is 1..%d of a-z 0-9 _ -, starting with a letter",
                        PHX_TRIGGER_NAME_MAX);
    snprintf(t->name, sizeof t->name, "%s", name);
    const char *kind = json_string_value(json_object_get(o, "kind"));
    for (int k = PHX_TRIGGER_CRON; kind && k <= PHX_TRIGGER_HTTP; k++)
        if (!strcmp(kind, kind_names[k])) t->kind = (phx_trigger_kind_t)k;
    if (!t->kind)
        return phx_fail(e, PHX_ERR_INVALID,
                        "trigger \"%s\": \"kind\" must be cron, block, evm_log or http", name);
    phx_err_t err;
    switch (t->kind) {
    case PHX_TRIGGER_CRON: {
        static const char *const f[] = {"name", "kind", "schedule", NULL};
        if ((err = only_fields(o, f, name, e))) return err;
        const char *s = json_string_value(json_object_get(o, "schedule"));
        if ((err = phx_trigger_schedule_parse(s, &t->every_s, e)))
            return phx_error_wrap(e, err, "trigger \"%s\"", name);
        return PHX_OK;
    }
    case PHX_TRIGGER_BLOCK: {
        static const char *const f[] = {"name", "kind", "every", NULL};
        if ((err = only_fields(o, f, name, e))) return err;
        json_t *v = json_object_get(o, "every");
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > PHX_TRIGGER_BLOCKS_MAX)
            return phx_fail(e, PHX_ERR_INVALID,
                            "trigger \"%s\": \"every\" is a whole number of "
                            "blocks, 1..%d",
                            name, PHX_TRIGGER_BLOCKS_MAX);
        t->every_blocks = (uint64_t)json_integer_value(v);
        return PHX_OK;
    }
    case PHX_TRIGGER_EVM_LOG: {
        static const char *const f[] = {"name",  "kind",          "address", "topics",
                                        "chain", "confirmations", NULL};
        if ((err = only_fields(o, f, name, e)) ||
            (err = hex_field(o, "address", t->address, 20, name, e)))
            return err;
        json_t *c = json_object_get(o, "chain");
        if (c) {
            const char *cs = json_string_value(c);
            if (!cs || !name_ok(cs))
                return phx_fail(e, PHX_ERR_INVALID,
                                "trigger \"%s\": \"chain\" is a chain's name (a-z 0-9 _ -)", name);
            snprintf(t->chain, sizeof t->chain, "%s", cs);
        }
        json_t *cf = json_object_get(o, "confirmations");
        if (cf) {
            if (!json_is_integer(cf) || json_integer_value(cf) < 0 ||
                json_integer_value(cf) > PHX_TRIGGER_CONFIRMATIONS_MAX)
                return phx_fail(e, PHX_ERR_INVALID,
                                "trigger \"%s\": \"confirmations\" is a whole number of "
                                "blocks, 0..%d",
                                name, PHX_TRIGGER_CONFIRMATIONS_MAX);
            t->confirmations = (uint32_t)json_integer_value(cf);
        }
        json_t *tp = json_object_get(o, "topics");
        if (tp && (!json_is_array(tp) || json_array_size(tp) > PHX_TRIGGER_TOPICS_MAX))
            return phx_fail(e, PHX_ERR_INVALID,
                            "trigger \"%s\": \"topics\" is a list of at most %d", name,
                            PHX_TRIGGER_TOPICS_MAX);
        t->ntopics = tp ? json_array_size(tp) : 0;
        for (size_t i = 0; i < t->ntopics; i++) {
            json_t *x = json_array_get(tp, i);
            if (json_is_null(x)) continue;
            const char *s = json_string_value(x);
            if (!s || phx_hex_decode_fixed(s, t->topics[i], 32, NULL))
                return phx_fail(e, PHX_ERR_INVALID,
                                "trigger \"%s\": topic %zu must be null or 0x and 32 hex bytes",
                                name, i);
            t->topic_set[i] = true;
        }
        return PHX_OK;
    }
    case PHX_TRIGGER_HTTP: {
        static const char *const f[] = {"name", "kind", "secret_hash", NULL};
        if ((err = only_fields(o, f, name, e))) return err;
        if (json_object_get(o, "secret_hash")) {
            if ((err = hex_field(o, "secret_hash", t->secret_hash, 32, name, e))) return err;
            t->has_secret = true;
        }
        return PHX_OK;
    }
    }
    return phx_fail(e, PHX_ERR_INVALID, "trigger \"%s\": unknown kind", name);
}

phx_err_t phx_triggers_from_json(const json_t *arr, phx_triggers_t *out, phx_error_t *e)
{
    memset(out, 0, sizeof *out);
    if (!json_is_array(arr))
        return phx_fail(e, PHX_ERR_INVALID, "triggers must be a JSON array of trigger objects");
    if (json_array_size(arr) > PHX_TRIGGERS_MAX)
        return phx_fail(e, PHX_ERR_LIMIT, "at most %d triggers per contract (got %zu)",
                        PHX_TRIGGERS_MAX, json_array_size(arr));
    for (size_t i = 0; i < json_array_size(arr); i++) {
        phx_err_t err = one(json_array_get(arr, i), &out->t[i], e);
        if (err) return err;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(out->t[j].name, out->t[i].name))
                return phx_fail(e, PHX_ERR_INVALID, "two triggers are named \"%s\"",
                                out->t[i].name);
        out->n = i + 1;
    }
    return PHX_OK;
}

phx_err_t phx_triggers_parse(const char *text, size_t len, phx_triggers_t *out, phx_error_t *e)
{
    memset(out, 0, sizeof *out);
    if (len > PHX_TRIGGERS_TEXT_MAX)
        return phx_fail(e, PHX_ERR_LIMIT, "a trigger manifest is at most %d bytes",
                        PHX_TRIGGERS_TEXT_MAX);
    json_t *arr = NULL;
    phx_err_t err = phx_json_parse(text, len, &arr, e);
    if (err) return phx_error_wrap(e, err, "triggers");
    err = phx_triggers_from_json(arr, out, e);
    json_decref(arr);
    return err;
}

json_t *phx_triggers_to_json(const phx_triggers_t *t)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < t->n; i++) {
        const phx_trigger_t *x = &t->t[i];
        json_t *o = json_pack("{s:s,s:s}", "name", x->name, "kind", phx_trigger_kind_name(x->kind));
        bool ok = o != NULL;
        if (ok && x->kind == PHX_TRIGGER_CRON) {
            char s[40];
            snprintf(s, sizeof s, "@every %llus", (unsigned long long)x->every_s);
            ok = !json_object_set_new(o, "schedule", json_string(s));
        } else if (ok && x->kind == PHX_TRIGGER_BLOCK) {
            ok = !json_object_set_new(o, "every", json_integer((json_int_t)x->every_blocks));
        } else if (ok && x->kind == PHX_TRIGGER_EVM_LOG) {
            json_t *tp = json_array();
            for (size_t k = 0; tp && k < x->ntopics; k++)
                if (json_array_append_new(tp, x->topic_set[k] ? phx_json_hex(x->topics[k], 32)
                                                              : json_null()))
                    json_decref(tp), tp = NULL;
            ok = tp && !json_object_set_new(o, "address", phx_json_hex(x->address, 20)) &&
                 !json_object_set_new(o, "topics", tp) &&
                 (!x->chain[0] || !json_object_set_new(o, "chain", json_string(x->chain))) &&
                 (!x->confirmations ||
                  !json_object_set_new(o, "confirmations",
                                       json_integer((json_int_t)x->confirmations)));
        } else if (ok && x->kind == PHX_TRIGGER_HTTP && x->has_secret) {
            ok = !json_object_set_new(o, "secret_hash", phx_json_hex(x->secret_hash, 32));
        }
        if (!ok || json_array_append_new(arr, o)) {
            if (ok) o = NULL;
            json_decref(o);
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

phx_err_t phx_triggers_hash(const phx_triggers_t *t, uint8_t out[32], phx_error_t *e)
{
    json_t *j = phx_triggers_to_json(t);
    char *text = j ? phx_json_dump(j, false) : NULL;
    json_decref(j);
    if (!text) return phx_fail(e, PHX_ERR_NOMEM, "triggers");
    phx_keccak256(text, strlen(text), out);
    free(text);
    return PHX_OK;
}

void phx_chain_firing_id(const char *name, const char *position, uint8_t out[32])
{
    char s[PHX_TRIGGER_NAME_MAX + 2 + PHX_TRIGGER_POSITION_MAX];
    int n = snprintf(s, sizeof s, "%.*s/%.*s", PHX_TRIGGER_NAME_MAX, name, PHX_TRIGGER_POSITION_MAX,
                     position);
    phx_keccak256(s, (size_t)n, out);
}

void phx_chain_firing_digest(const uint8_t domain[32], const uint8_t contract_id[32],
                             const uint8_t firing_id[32], const uint8_t code_hash[32], bool ok,
                             const uint8_t *output, size_t output_len, uint8_t out[32])
{
    uint8_t w[7][32];
    memcpy(w[0], domain, 32);
    phx_keccak256("phx-firing-v1", 13, w[1]);
    memcpy(w[2], contract_id, 32);
    memcpy(w[3], firing_id, 32);
    memcpy(w[4], code_hash, 32);
    memset(w[5], 0, 32);
    w[5][31] = ok ? 1 : 0;
    phx_keccak256(output, output_len, w[6]);
    phx_keccak256(w, sizeof w, out);
}

phx_err_t phx_chain_record_firing_calldata(const uint8_t contract_id[32],
                                           const uint8_t firing_id[32], const uint8_t code_hash[32],
                                           bool ok, const uint8_t *output, size_t output_len,
                                           const uint8_t sig[65], phx_buf_t *out, phx_error_t *e)
{
    json_t *args = json_pack("[o,o,o,b,o,o]", phx_json_hex(contract_id, 32),
                             phx_json_hex(firing_id, 32), phx_json_hex(code_hash, 32), ok,
                             phx_json_hex(output, output_len), phx_json_hex(sig, 65));
    if (!args) return phx_fail(e, PHX_ERR_NOMEM, "recordFiring calldata");
    phx_err_t err =
        phx_chain_calldata("recordFiring(bytes32,bytes32,bytes32,bool,bytes,bytes)", args, out, e);
    json_decref(args);
    return err;
}

phx_err_t phx_chain_fired_by(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                             const uint8_t contract_id[32], const uint8_t firing_id[32],
                             uint8_t worker[20], phx_error_t *e)
{
    json_t *args = json_pack("[o,o]", phx_json_hex(contract_id, 32), phx_json_hex(firing_id, 32));
    json_t *res = NULL;
    if (!args) return phx_fail(e, PHX_ERR_NOMEM, "firedBy");
    phx_err_t err =
        phx_chain_read(rpc, d->jobs, "firedBy(bytes32,bytes32)", args, "(address)", &res, e);
    json_decref(args);
    const char *s = err ? NULL : json_string_value(json_array_get(res, 0));
    if (!err && (!s || phx_hex_decode_fixed(s, worker, 20, NULL)))
        err = phx_fail(e, PHX_ERR_REMOTE, "Jobs.firedBy: an answer that is not an address");
    json_decref(res);
    return err;
}

phx_err_t phx_chain_firings_json(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                 const uint8_t contract_id[32], size_t limit, json_t **out,
                                 phx_error_t *e)
{
    uint8_t topic[32];
    phx_evm_log_t *logs = NULL;
    size_t n = 0;
    uint64_t head = 0;
    *out = NULL;
    phx_err_t err = phx_abi_event_topic(PHX_CHAIN_EV_FIRED, topic, e);
    if (!err) err = phx_rpc_block_number(rpc, &head, e);
    if (err) return err;
    const uint8_t(*t0)[32] = (const uint8_t(*)[32])topic;
    const uint8_t(*t1)[32] = (const uint8_t(*)[32])contract_id;
    phx_evm_filter_t f = {.from_block = d->block,
                          .to_block = head,
                          .addresses = (const uint8_t(*)[20])d->jobs,
                          .address_count = 1,
                          .topic_sets = {t0, t1},
                          .topic_counts = {1, 1}};
    if ((err = phx_rpc_get_logs(rpc, &f, &logs, &n, e))) return err;
    json_t *arr = json_array();
    for (size_t i = n; arr && i-- > 0 && json_array_size(arr) < limit;) {
        phx_abi_value_t *v = NULL;
        if (phx_abi_decode_log(PHX_CHAIN_EV_FIRED, false, &logs[i], &v, NULL) || v->count != 7) {
            phx_abi_value_free(v);
            continue;
        }
        json_t *output =
            json_loadb((const char *)v->items[6].bytes, v->items[6].len, JSON_DECODE_ANY, NULL);
        if (!output) output = phx_json_hex(v->items[6].bytes, v->items[6].len);
        json_t *o = json_pack(
            "{s:I,s:o,s:o,s:o,s:o,s:b,s:o,s:o}", "block", (json_int_t)logs[i].block_number, "tx",
            phx_json_hex(logs[i].tx_hash, 32), "firing_id", phx_json_hex(v->items[1].word, 32),
            "worker", phx_json_hex(v->items[2].word + 12, 20), "code_hash",
            phx_json_hex(v->items[3].word, 32), "ok", v->items[4].word[31] != 0, "signature",
            phx_json_hex(v->items[5].bytes, v->items[5].len), "output", output);
        if (!o || json_array_append_new(arr, o)) json_decref(arr), arr = NULL;
        phx_abi_value_free(v);
    }
    for (size_t i = 0; i < n; i++)
        phx_evm_log_clear(&logs[i]);
    free(logs);
    *out = arr;
    return arr ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "firings");
}

/* One uint256 or address result of a view call, as its decimal or hex string. */
static phx_err_t read_one(phx_rpc_t *rpc, const uint8_t to[20], const char *sig, json_t *args,
                          const char *ret_types, char *out, size_t cap, phx_error_t *e)
{
    json_t *res = NULL;
    phx_err_t err = args ? phx_chain_read(rpc, to, sig, args, ret_types, &res, e)
                         : phx_fail(e, PHX_ERR_NOMEM, "%s", sig);
    json_decref(args);
    const char *v = err ? NULL : json_string_value(json_array_get(res, 0));
    if (!err && (!v || strlen(v) >= cap)) err = phx_fail(e, PHX_ERR_REMOTE, "%s: no value", sig);
    if (!err) snprintf(out, cap, "%s", v);
    json_decref(res);
    return err;
}

phx_err_t phx_chain_firing_payment(phx_rpc_t *rpc, const phx_chain_deployment_t *d,
                                   const uint8_t contract_id[32], phx_firing_payment_t *out,
                                   phx_error_t *e)
{
    memset(out, 0, sizeof *out);
    out->covered = true;
    if (!phx_chain_has_payments(d)) return PHX_OK;
    char s[100];
    uint8_t pay[20];
    static const uint8_t zero[20];
    phx_err_t err = read_one(rpc, d->jobs, "payments()", json_array(), "(address)", s, sizeof s, e);
    if (!err && phx_hex_decode_fixed(s, pay, 20, NULL))
        err = phx_fail(e, PHX_ERR_REMOTE, "Jobs.payments: not an address");
    if (err || !memcmp(pay, zero, 20)) return err;
    if ((err = read_one(rpc, pay, "pricePerCall()", json_array(), "(uint256)", s, sizeof s, e)) ||
        (err = phx_u256_from_str(s, &out->price, e)))
        return err;
    if (phx_u256_is_zero(&out->price)) return PHX_OK;
    out->charged = true;
    if ((err = phx_chain_contract_get(rpc, d, contract_id, out->owner, NULL, e))) return err;
    /* Payments.accounts(owner).balance: what chargeFiring takes from. */
    json_t *res = NULL, *args = json_pack("[o]", phx_json_hex(out->owner, 20));
    err = args ? phx_chain_read(rpc, pay, "accounts(address)", args, "(uint256,uint256,uint64)",
                                &res, e)
               : phx_fail(e, PHX_ERR_NOMEM, "accounts");
    json_decref(args);
    const char *b = err ? NULL : json_string_value(json_array_get(res, 0));
    if (!err)
        err = b ? phx_u256_from_str(b, &out->deposit, e)
                : phx_fail(e, PHX_ERR_REMOTE, "Payments.accounts: no balance");
    json_decref(res);
    if (!err) out->covered = phx_u256_cmp(&out->deposit, &out->price) >= 0;
    return err;
}

void phx_chain_firing_unpaid_why(const phx_firing_payment_t *p, char *out, size_t cap)
{
    static const uint8_t zero[20];
    char price[80], dep[80], owner[43];
    if (!cap) return;
    out[0] = '\0';
    if (p->covered) return;
    phx_u256_to_dec(&p->price, price);
    phx_u256_to_dec(&p->deposit, dep);
    if (!memcmp(p->owner, zero, 20)) {
        snprintf(out, cap,
                 "unpaid: the contract is not deployed on chain, so no owner's deposit pays its "
                 "firings (price %s wei each)",
                 price);
        return;
    }
    owner[0] = '0', owner[1] = 'x';
    phx_hex_encode_to(owner + 2, p->owner, 20);
    snprintf(out, cap,
             "unpaid: the owner %s has %s wei deposited in Payments, short of the firing price %s "
             "wei; firings resume after `phx pay deposit`",
             owner, dep, price);
}

json_t *phx_chain_firing_payment_json(const phx_firing_payment_t *p)
{
    char price[80], dep[80], why[300];
    phx_u256_to_dec(&p->price, price);
    phx_u256_to_dec(&p->deposit, dep);
    json_t *o =
        json_pack("{s:b,s:b,s:s,s:s,s:o,s:s}", "charged", p->charged, "covered", p->covered,
                  "price", price, "deposit", dep, "owner", phx_json_hex(p->owner, 20), "status",
                  !p->charged  ? "free"
                  : p->covered ? "paid"
                               : "unpaid");
    phx_chain_firing_unpaid_why(p, why, sizeof why);
    if (o && why[0]) json_object_set_new(o, "reason", json_string(why));
    return o;
}
