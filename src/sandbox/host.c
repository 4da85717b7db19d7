/* Host services: one entry point for every CALL a sandbox sends. Requests are
 * untrusted JSON; budgets (requests, log bytes) and policy are applied here, and
 * a breach sets h->fatal so the worker ends the invocation with that failure.
 * Keys: the contract's secp256k1 and kv keys come with the job (the worker
 * derives them from its KMS contract root); only phx run, with no KMS, derives
 * them from a local dev root in the kv directory instead. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "phx/crypto.h"
#include "phx/json.h"

static void fatal(sbx_host_t *h, phx_sandbox_failure_t failure, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fatal(sbx_host_t *h, phx_sandbox_failure_t failure, const char *fmt, ...)
{
    h->fatal = failure;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->fatal_message, sizeof h->fatal_message, fmt, ap);
    va_end(ap);
}

/* The dev root: 32 random bytes in <kv_dir>/dev-root.key (hex, mode 0600). */
static phx_err_t dev_root(sbx_host_t *h, uint8_t root[32], phx_error_t *e)
{
    const char *dir = h->cfg->kv_dir;
    phx_err_t err = phx_dir_ensure(dir, 0700, e);
    if (err) return err;
    char path[4096];
    snprintf(path, sizeof path, "%s/dev-root.key", dir);
    phx_buf_t b = PHX_BUF_INIT;
    b.secret = true;
    err = phx_file_read(path, &b, NULL);
    if (!err) {
        while (b.len && (b.ptr[b.len - 1] == '\n' || b.ptr[b.len - 1] == ' '))
            b.ptr[--b.len] = 0;
        err = phx_hex_decode_fixed((const char *)b.ptr, root, 32, e);
        phx_buf_free(&b);
        return err ? phx_error_wrap(e, err, "%s", path) : PHX_OK;
    }
    phx_buf_free(&b);
    if ((err = phx_random_bytes(root, 32))) return phx_fail(e, err, "random");
    char hex[66];
    phx_hex_encode_to(hex, root, 32);
    hex[64] = '\n';
    err = phx_file_write_atomic(path, hex, 65, 0600, e);
    phx_secure_zero(hex, sizeof hex);
    /* Two workers racing to create it: whoever wrote last wins; re-read it. */
    if (!err) {
        phx_buf_t again = PHX_BUF_INIT;
        again.secret = true;
        if (!phx_file_read(path, &again, NULL) && again.len >= 64) {
            again.ptr[64] = 0;
            err = phx_hex_decode_fixed((const char *)again.ptr, root, 32, e);
        }
        phx_buf_free(&again);
    }
    return err;
}

static phx_err_t dev_derive(sbx_host_t *h, const char *label, uint8_t *out, size_t out_len,
                            phx_error_t *e)
{
    uint8_t root[32];
    phx_err_t err = dev_root(h, root, e);
    if (err) return err;
    phx_buf_t info = PHX_BUF_INIT;
    /* The id is length-prefixed (qa4's fix): ids are free-form, and this keeps
     * one contract's label from ever spelling another id's path. deriveSecret
     * no longer comes from here (it is under the kv key), but the dev root
     * still serves every contract phx run is given. */
    phx_buf_printf(&info, "contract/%zu:%s/%s", strlen(h->contract_id), h->contract_id, label);
    err = phx_hkdf_sha256("phx-dev-root", 12, root, 32, info.ptr, info.len, out, out_len);
    phx_buf_free(&info);
    phx_secure_zero(root, sizeof root);
    return err ? phx_fail(e, err, "hkdf") : PHX_OK;
}

phx_err_t sbx_host_keys(sbx_host_t *h, phx_error_t *e)
{
    if (h->have_keys) return PHX_OK;
    /* A worker always passes the contract's keys; a local root there would give
     * each worker its own contract address and kv key, so it is never made. */
    if (!h->cfg->dev_keys) {
        fatal(h, PHX_SBX_FAIL_NO_KEYS, "no contract keys were given for this invocation");
        return phx_fail(e, PHX_ERR_STATE, "%s", h->fatal_message);
    }
    phx_err_t err = dev_derive(h, "secp256k1", h->sk, 32, e);
    /* A derived value outside [1, n-1] has probability ~2^-128; re-hash if so. */
    while (!err && phx_secp256k1_seckey_verify(h->sk) != PHX_OK)
        phx_sha256(h->sk, 32, h->sk);
    if (!err) err = dev_derive(h, "kv", h->kv_key, 32, e);
    if (err) {
        phx_secure_zero(h->sk, sizeof h->sk);
        phx_secure_zero(h->kv_key, sizeof h->kv_key);
        return err;
    }
    h->have_keys = true;
    return PHX_OK;
}

static phx_err_t contract_key(sbx_host_t *h, uint8_t sk[32], phx_error_t *e)
{
    phx_err_t err = sbx_host_keys(h, e);
    if (!err) memcpy(sk, h->sk, 32);
    return err;
}

static phx_err_t get_b64(const json_t *args, const char *key, phx_buf_t *out, phx_error_t *e)
{
    const char *s = json_string_value(json_object_get(args, key));
    if (!s) return phx_fail(e, PHX_ERR_INVALID, "%s missing", key);
    phx_err_t err = phx_base64_decode(s, strlen(s), out, e);
    if (err) phx_buf_free(out); /* a decode can fail half-way, after allocating */
    return err;
}

static json_t *b64_obj(const char *key, const uint8_t *p, size_t n)
{
    char *b = phx_base64_encode(p, n);
    json_t *o = b ? json_pack("{s:s}", key, b) : NULL;
    free(b);
    return o;
}

static phx_err_t op_log(sbx_host_t *h, const json_t *args, json_t **out, phx_error_t *e)
{
    const char *level = json_string_value(json_object_get(args, "level"));
    const char *msg = json_string_value(json_object_get(args, "msg"));
    if (!level || !msg) return phx_fail(e, PHX_ERR_INVALID, "log: level and msg");
    size_t n = strlen(msg) + strlen(level) + 2;
    if (h->log_bytes + n > h->limits->log_bytes) {
        fatal(h, PHX_SBX_FAIL_LOG_LIMIT, "log output exceeds %llu bytes",
              (unsigned long long)h->limits->log_bytes);
        return PHX_ERR_LIMIT;
    }
    char **nl = realloc(h->logs, (h->nlogs + 1) * sizeof *nl);
    if (!nl) return phx_fail(e, PHX_ERR_NOMEM, "log");
    h->logs = nl;
    char *line = malloc(n + 1);
    if (!line) return phx_fail(e, PHX_ERR_NOMEM, "log");
    snprintf(line, n + 1, "%s: %s", level, msg);
    h->logs[h->nlogs++] = line;
    h->log_bytes += n;
    *out = json_object();
    return PHX_OK;
}

void sbx_host_fatal(sbx_host_t *h, phx_sandbox_failure_t failure, const char *msg)
{
    fatal(h, failure, "%s", msg);
}

bool sbx_host_count_request(sbx_host_t *h)
{
    if (h->requests >= h->limits->max_requests) {
        fatal(h, PHX_SBX_FAIL_REQUEST_LIMIT, "more than %u outbound requests",
              h->limits->max_requests);
        return false;
    }
    h->requests++;
    return true;
}

static phx_err_t op_fetch(sbx_host_t *h, const json_t *args, json_t **out, phx_error_t *e)
{
    if (!sbx_host_count_request(h)) return PHX_ERR_LIMIT;
    uint64_t tmo = h->limits->request_timeout_ms;
    json_int_t t = json_integer_value(json_object_get(args, "timeout_ms"));
    if (t > 0 && (uint64_t)t < tmo) tmo = (uint64_t)t;
    phx_err_t err = sbx_fetch(h, args, tmo, out, e);
    /* A request that outlives its budget ends the invocation with its own code,
     * unless it was the invocation's wall clock that ran out first. */
    if (err == PHX_ERR_TIMEOUT && h->fatal == PHX_SBX_FAIL_NONE) {
        if (phx_monotonic_ms() >= h->deadline_ms)
            fatal(h, PHX_SBX_FAIL_WALL_LIMIT, "wall-clock limit reached during a fetch");
        else
            fatal(h, PHX_SBX_FAIL_REQUEST_TIMEOUT, "a request took longer than %llu ms",
                  (unsigned long long)tmo);
    }
    return err;
}

/* pink.batchHttpRequest: each request counts; a failure is reported per item. */
static phx_err_t op_fetch_batch(sbx_host_t *h, const json_t *args, json_t **out, phx_error_t *e)
{
    json_t *reqs = json_object_get(args, "requests");
    if (!json_is_array(reqs)) return phx_fail(e, PHX_ERR_INVALID, "batch: requests");
    /* timeout_ms bounds the whole batch (Phat's meaning); each request is also
     * held to the per-request limit. Requests run one after another. */
    json_int_t t = json_integer_value(json_object_get(args, "timeout_ms"));
    uint64_t batch_ms = t > 0 ? (uint64_t)t : 10000;
    uint64_t batch_deadline = phx_monotonic_ms() + batch_ms;
    json_t *arr = json_array();
    for (size_t i = 0; i < json_array_size(reqs); i++) {
        if (!sbx_host_count_request(h)) {
            json_decref(arr);
            return PHX_ERR_LIMIT;
        }
        uint64_t now = phx_monotonic_ms();
        json_t *r = NULL;
        phx_error_t fe = {0};
        phx_err_t err = now >= batch_deadline
                            ? phx_fail(&fe, PHX_ERR_TIMEOUT, "batch deadline passed")
                            : sbx_fetch(h, json_array_get(reqs, i),
                                        batch_deadline - now < h->limits->request_timeout_ms
                                            ? batch_deadline - now
                                            : h->limits->request_timeout_ms,
                                        &r, &fe);
        if (h->fatal != PHX_SBX_FAIL_NONE) {
            json_decref(arr);
            return err;
        }
        json_array_append_new(arr, err ? json_pack("{s:s}", "error", fe.message) : r);
    }
    *out = arr;
    return PHX_OK;
}

/* phx.ai.chat: the request is checked and capped here, then answered by the
 * configured service (cfg->ai_chat). It counts as an outbound request, runs in
 * the invocation's wall time, and its completion tokens come out of
 * limits->ai_tokens: max_tokens above what is left is refused up front, so the
 * cap holds whatever the endpoint does. */
#define AI_MAX_MESSAGES 64
#define AI_MAX_TEXT (64u << 10)
static phx_err_t op_ai_chat(sbx_host_t *h, const json_t *args, json_t **out, phx_error_t *e)
{
    if (!h->cfg->ai_chat)
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "ai.chat: no AI endpoint configured");
    const char *model = json_string_value(json_object_get(args, "model"));
    if (!model || !*model || strlen(model) > 128)
        return phx_fail(e, PHX_ERR_INVALID, "ai.chat: model must be a name (1..128 characters)");
    const json_t *msgs = json_object_get(args, "messages");
    size_t nm = json_array_size(msgs), text = 0;
    if (!json_is_array(msgs) || nm == 0 || nm > AI_MAX_MESSAGES)
        return phx_fail(e, PHX_ERR_INVALID, "ai.chat: messages must be 1..%d {role, content}",
                        AI_MAX_MESSAGES);
    json_t *clean = json_array();
    for (size_t i = 0; i < nm; i++) {
        const json_t *m = json_array_get(msgs, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        const json_t *c = json_object_get(m, "content");
        if (!role || !json_is_string(c)) {
            json_decref(clean);
            return phx_fail(e, PHX_ERR_INVALID,
                            "ai.chat: messages[%zu] needs a string role and content", i);
        }
        text += json_string_length(c);
        json_array_append_new(clean, json_pack("{s:s,s:O}", "role", role, "content", c));
    }
    if (text > AI_MAX_TEXT) {
        json_decref(clean);
        return phx_fail(e, PHX_ERR_LIMIT, "ai.chat: messages over %u bytes", AI_MAX_TEXT);
    }
    uint32_t left = h->limits->ai_tokens - h->ai_tokens;
    const json_t *mt = json_object_get(args, "max_tokens");
    json_int_t want = mt ? json_integer_value(mt) : (left < 256 ? left : 256);
    phx_err_t err = PHX_OK;
    if (mt && (!json_is_integer(mt) || want < 1))
        err = phx_fail(e, PHX_ERR_INVALID, "ai.chat: max_tokens must be a positive integer");
    else if (left == 0 || want > (json_int_t)left)
        err = phx_fail(e, PHX_ERR_LIMIT,
                       "ai.chat: max_tokens %lld is over the %u completion tokens this invocation "
                       "has left (of %u)",
                       (long long)(want ? want : 1), left, h->limits->ai_tokens);
    const json_t *t = json_object_get(args, "temperature");
    if (!err && t && (!json_is_number(t) || json_number_value(t) < 0 || json_number_value(t) > 2))
        err = phx_fail(e, PHX_ERR_INVALID, "ai.chat: temperature must be a number in 0..2");
    const json_t *sd = json_object_get(args, "seed");
    if (!err && sd && (!json_is_integer(sd) || json_integer_value(sd) < 0))
        err = phx_fail(e, PHX_ERR_INVALID, "ai.chat: seed must be a non-negative integer");
    if (err) {
        json_decref(clean);
        return err;
    }
    json_t *req = json_pack("{s:s,s:o,s:I,s:f}", "model", model, "messages", clean, "max_tokens",
                            want, "temperature", t ? json_number_value(t) : 0.0);
    if (sd) json_object_set(req, "seed", (json_t *)sd);
    if (!sbx_host_count_request(h)) {
        json_decref(req);
        return PHX_ERR_LIMIT;
    }
    uint64_t now = phx_monotonic_ms();
    uint64_t left_ms = h->deadline_ms > now ? h->deadline_ms - now : 1;
    err = h->cfg->ai_chat(h->cfg->ai_ctx, req, left_ms, out, e);
    json_decref(req);
    if (err == PHX_ERR_TIMEOUT && h->fatal == PHX_SBX_FAIL_NONE) {
        fatal(h, PHX_SBX_FAIL_WALL_LIMIT, "wall-clock limit reached during ai.chat");
        return err;
    }
    if (err) return err;
    json_int_t used =
        json_integer_value(json_object_get(json_object_get(*out, "usage"), "completion_tokens"));
    /* The service reports what the endpoint's signed answer says; count at
     * least nothing and at most what was asked, so a bad count cannot refund. */
    if (used < 0) used = 0;
    if (used > want) used = want;
    h->ai_tokens += (uint32_t)used;
    return PHX_OK;
}

static phx_err_t op_hash(const json_t *args, json_t **out, phx_error_t *e)
{
    const char *alg = json_string_value(json_object_get(args, "alg"));
    phx_buf_t data = PHX_BUF_INIT;
    phx_err_t err = get_b64(args, "data", &data, e);
    if (err) return err;
    uint8_t d[32];
    size_t n = 32;
    const uint8_t *p = data.ptr ? data.ptr : (const uint8_t *)"";
    if (!alg)
        err = phx_fail(e, PHX_ERR_INVALID, "hash: alg");
    else if (!strcmp(alg, "sha256"))
        phx_sha256(p, data.len, d);
    else if (!strcmp(alg, "keccak256"))
        phx_keccak256(p, data.len, d);
    else if (!strcmp(alg, "blake2b256"))
        err =
            phx_blake2b(p, data.len, d, 32) ? phx_fail(e, PHX_ERR_CRYPTO, "hash: blake2b") : PHX_OK;
    else if (!strcmp(alg, "blake2b128"))
        err = phx_blake2b(p, data.len, d, n = 16) ? phx_fail(e, PHX_ERR_CRYPTO, "hash: blake2b")
                                                  : PHX_OK;
    else
        err = phx_fail(e, PHX_ERR_UNSUPPORTED, "hash: unknown algorithm %.32s", alg);
    phx_buf_free(&data);
    if (!err) *out = b64_obj("digest", d, n);
    return err;
}

static phx_err_t op_sign(sbx_host_t *h, const json_t *args, json_t **out, phx_error_t *e)
{
    uint8_t sk[32], sig[65];
    phx_buf_t in = PHX_BUF_INIT;
    bool message = json_object_get(args, "message") != NULL;
    phx_err_t err = get_b64(args, message ? "message" : "digest", &in, e);
    if (!err && !message && in.len != 32)
        err = phx_fail(e, PHX_ERR_INVALID, "sign: digest must be 32 bytes");
    if (!err) err = contract_key(h, sk, e);
    if (!err) {
        if (message) {
            err = phx_eip191_sign(sk, in.ptr ? in.ptr : (const uint8_t *)"", in.len, sig);
        } else {
            err = phx_secp256k1_sign(sk, in.ptr, sig);
            sig[64] = (uint8_t)(sig[64] + 27); /* the form ecrecover and wallets use */
        }
        if (err) phx_fail(e, err, "sign failed");
    }
    phx_secure_zero(sk, sizeof sk);
    phx_buf_free(&in);
    if (!err) *out = b64_obj("signature", sig, 65);
    return err;
}

static phx_err_t op_key(sbx_host_t *h, json_t **out, phx_error_t *e)
{
    uint8_t sk[32], pub[64], addr[20];
    phx_err_t err = contract_key(h, sk, e);
    if (!err && (err = phx_secp256k1_pubkey(sk, pub))) phx_fail(e, err, "pubkey");
    phx_secure_zero(sk, sizeof sk);
    if (err) return err;
    phx_eth_address_from_pubkey(pub, addr);
    char cs[43];
    phx_eth_address_checksum(addr, cs);
    char *b = phx_base64_encode(pub, 64);
    *out = b ? json_pack("{s:s,s:s}", "publicKey", b, "address", cs) : NULL;
    free(b);
    return *out ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "key");
}

static phx_err_t op_derive(sbx_host_t *h, const json_t *args, json_t **out, phx_error_t *e)
{
    phx_buf_t salt = PHX_BUF_INIT;
    phx_err_t err = get_b64(args, "salt", &salt, e);
    uint8_t secret[64];
    if (!err) err = sbx_host_keys(h, e);
    /* Under the kv key with its own salt and label: independent of the kv
     * subkeys (kv.c), and the same on every worker holding the contract's keys. */
    if (!err) {
        phx_buf_t info = PHX_BUF_INIT;
        phx_buf_append_str(&info, "derive/");
        if (salt.len) phx_buf_append(&info, salt.ptr, salt.len);
        err = phx_hkdf_sha256("phx-contract-derive", 19, h->kv_key, 32, info.ptr, info.len, secret,
                              sizeof secret);
        phx_buf_free(&info);
        if (err) phx_fail(e, err, "hkdf");
    }
    phx_buf_free(&salt);
    if (!err) *out = b64_obj("secret", secret, sizeof secret);
    phx_secure_zero(secret, sizeof secret);
    return err;
}

phx_err_t sbx_host_dispatch(sbx_host_t *h, const char *op, const uint8_t *body, size_t len,
                            phx_buf_t *reply, phx_error_t *e)
{
    json_t *args = NULL, *out = NULL;
    phx_err_t err = phx_json_parse((const char *)body, len, &args, e);
    if (err) return err;
    if (!strcmp(op, "log"))
        err = op_log(h, args, &out, e);
    else if (!strcmp(op, "fetch"))
        err = op_fetch(h, args, &out, e);
    else if (!strcmp(op, "fetch.batch"))
        err = op_fetch_batch(h, args, &out, e);
    else if (!strncmp(op, "kv.", 3))
        err = sbx_kv_op(h, op, args, &out, e);
    else if (!strncmp(op, "state.", 6))
        err = sbx_state_op(h, op, args, &out, e);
    else if (!strcmp(op, "hash"))
        err = op_hash(args, &out, e);
    else if (!strcmp(op, "sign"))
        err = op_sign(h, args, &out, e);
    else if (!strcmp(op, "key"))
        err = op_key(h, &out, e);
    else if (!strcmp(op, "derive"))
        err = op_derive(h, args, &out, e);
    else if (!strcmp(op, "ai.chat"))
        err = op_ai_chat(h, args, &out, e);
    else if (!strncmp(op, "evm.", 4) || !strncmp(op, "eth.", 4) || !strncmp(op, "abi.", 4))
        err = sbx_evm_op(h, op, args, &out, e);
    else
        err = phx_fail(e, PHX_ERR_UNSUPPORTED, "unknown host call %.32s", op);
    json_decref(args);
    if (!err) {
        char *text = out ? json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (!text)
            err = phx_fail(e, PHX_ERR_NOMEM, "reply");
        else
            err = phx_buf_append_str(reply, text);
        free(text);
    }
    json_decref(out);
    return err;
}

void sbx_host_close(sbx_host_t *h)
{
    if (h->kv_db) sqlite3_close((sqlite3 *)h->kv_db);
    h->kv_db = NULL;
    phx_secure_zero(h->sk, sizeof h->sk);
    phx_secure_zero(h->kv_key, sizeof h->kv_key);
    phx_secure_zero(h->kv_id_key, sizeof h->kv_id_key);
    phx_secure_zero(h->kv_enc_key, sizeof h->kv_enc_key);
    phx_secure_zero(h->state_key, sizeof h->state_key);
    h->have_keys = h->kv_keys_ready = h->state_key_ready = false;
    free(h->state_seen);
    h->state_seen = NULL;
    h->nstate_seen = 0;
    for (size_t i = 0; i < h->nlogs; i++)
        free(h->logs[i]);
    free(h->logs);
    h->logs = NULL;
    h->nlogs = 0;
}
