/* phx.state: the contract's state every worker shares (docs/js.md "phx.state").
 * A value is sealed here under a subkey of the contract's kv key, bound to the
 * contract id, the key's id (kv's row id: the name never leaves) and the
 * version it is written as; the worker's callbacks (cfg->state) anchor it on
 * chain with a compare-and-set and serve it back. Every read checks the bytes
 * served against the anchored keccak256 and opens them as that version, so a
 * store (or a host) that hands back an older value ends the invocation with
 * state_integrity instead of being believed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "phx/crypto.h"
#include "phx/json.h"

#define STATE_MAX_KEY 1024
#define STATE_NONCE 24
/* StateAnchor.MAX_SEALED: nonce, type byte and tag come out of it. */
#define STATE_MAX_SEALED 16384u
#define STATE_MAX_VALUE (STATE_MAX_SEALED - STATE_NONCE - PHX_AEAD_TAG_LEN - 1)
#define STATE_MAX_SEEN 256

static phx_err_t state_key(sbx_host_t *h, phx_error_t *e)
{
    if (h->state_key_ready) return PHX_OK;
    phx_err_t err = sbx_host_keys(h, e);
    if (err) return err;
    if (phx_hkdf_sha256("phx-state-v1", 12, h->kv_key, 32, "aead", 4, h->state_key, 32))
        return phx_fail(e, PHX_ERR_CRYPTO, "state: hkdf");
    h->state_key_ready = true;
    return PHX_OK;
}

/* aad = "phx-state/v1" NUL contract id NUL key id || version (8 bytes, big-endian). */
static phx_err_t make_aad(sbx_host_t *h, const uint8_t id[32], uint64_t version, phx_buf_t *aad,
                          phx_error_t *e)
{
    uint8_t v[8];
    for (int i = 0; i < 8; i++)
        v[i] = (uint8_t)(version >> (56 - 8 * i));
    if (phx_buf_append(aad, "phx-state/v1", 13) ||
        phx_buf_append(aad, h->contract_id, strlen(h->contract_id) + 1) ||
        phx_buf_append(aad, id, 32) || phx_buf_append(aad, v, 8))
        return phx_fail(e, PHX_ERR_NOMEM, "state aad");
    return PHX_OK;
}

static void remember(sbx_host_t *h, const uint8_t id[32], uint64_t version)
{
    for (size_t i = 0; i < h->nstate_seen; i++)
        if (!memcmp(h->state_seen[i].id, id, 32)) {
            h->state_seen[i].version = version;
            return;
        }
    if (h->nstate_seen >= STATE_MAX_SEEN) return; /* put then reads the anchor itself */
    struct sbx_state_seen *n = realloc(h->state_seen, (h->nstate_seen + 1) * sizeof *n);
    if (!n) return;
    h->state_seen = n;
    memcpy(n[h->nstate_seen].id, id, 32);
    n[h->nstate_seen++].version = version;
}

static bool seen(const sbx_host_t *h, const uint8_t id[32], uint64_t *version)
{
    for (size_t i = 0; i < h->nstate_seen; i++)
        if (!memcmp(h->state_seen[i].id, id, 32)) {
            *version = h->state_seen[i].version;
            return true;
        }
    return false;
}

static phx_err_t integrity(sbx_host_t *h, uint64_t version, const char *why, phx_error_t *e)
{
    h->fatal = PHX_SBX_FAIL_STATE_INTEGRITY;
    snprintf(h->fatal_message, sizeof h->fatal_message,
             "phx.state: the value served for version %llu is not the one anchored on chain (%s): "
             "a stale or altered copy was refused",
             (unsigned long long)version, why);
    return phx_fail(e, PHX_ERR_VERIFY, "%s", h->fatal_message);
}

/* Read the slot and check it: keccak256(sealed) is the anchored hash, and it
 * opens as that version of this key of this contract. pt (secret) gets the
 * plaintext (type byte + bytes); empty with version 0 for a key never written. */
static phx_err_t read_checked(sbx_host_t *h, const uint8_t id[32], uint64_t *version, phx_buf_t *pt,
                              phx_error_t *e)
{
    phx_sandbox_state_slot_t slot = {0};
    phx_err_t err = h->cfg->state.read(h->cfg->state.ctx, h->contract_id, id, &slot, e);
    if (err) goto out;
    *version = slot.version;
    if (slot.version == 0) {
        if (slot.sealed.len) err = integrity(h, 0, "bytes for a key never written", e);
        goto out;
    }
    uint8_t d[32];
    phx_keccak256(slot.sealed.ptr ? slot.sealed.ptr : (const uint8_t *)"", slot.sealed.len, d);
    if (memcmp(d, slot.hash, 32)) {
        err = integrity(h, slot.version, "its keccak256 differs", e);
        goto out;
    }
    if (slot.sealed.len < STATE_NONCE + PHX_AEAD_TAG_LEN + 1) {
        err = integrity(h, slot.version, "too short", e);
        goto out;
    }
    phx_buf_t aad = PHX_BUF_INIT;
    pt->secret = true;
    size_t plen = slot.sealed.len - STATE_NONCE - PHX_AEAD_TAG_LEN;
    if (!(err = make_aad(h, id, slot.version, &aad, e)) && !(err = phx_buf_reserve(pt, plen + 1))) {
        const uint8_t *b = slot.sealed.ptr;
        if (phx_aead_open(PHX_AEAD_XCHACHA20_POLY1305, h->state_key, b, STATE_NONCE, aad.ptr,
                          aad.len, b + STATE_NONCE, slot.sealed.len - STATE_NONCE, pt->ptr))
            err = integrity(h, slot.version, "it does not open as this key and version", e);
        else
            pt->len = plen;
    }
    phx_buf_free(&aad);
out:
    phx_buf_free(&slot.sealed);
    return err;
}

/* The value in the shape kv.get answers: {type, value (base64), version}. */
static json_t *value_json(const phx_buf_t *pt, uint64_t version)
{
    if (!pt->len) return json_pack("{s:n,s:I}", "value", "version", (json_int_t)version);
    const char *type = pt->ptr[0] == 's' ? "string" : pt->ptr[0] == 'b' ? "bytes" : "json";
    char *b64 = phx_base64_encode(pt->ptr + 1, pt->len - 1);
    json_t *o =
        b64 ? json_pack("{s:s,s:s,s:I}", "type", type, "value", b64, "version", (json_int_t)version)
            : NULL;
    if (b64) phx_secure_zero(b64, strlen(b64));
    free(b64);
    return o;
}

/* Seal {type, value} as version expected + 1 and compare-and-set it. */
static phx_err_t write_cas(sbx_host_t *h, const uint8_t id[32], uint64_t expected,
                           const json_t *args, json_t **out, phx_error_t *e)
{
    const char *type = json_string_value(json_object_get(args, "type"));
    const char *v64 = json_string_value(json_object_get(args, "value"));
    if (!type || !v64 || (strcmp(type, "string") && strcmp(type, "bytes") && strcmp(type, "json")))
        return phx_fail(e, PHX_ERR_INVALID, "state: bad value");
    if (expected == UINT64_MAX) return phx_fail(e, PHX_ERR_RANGE, "state: version out of range");
    phx_buf_t v = PHX_BUF_INIT, pt = PHX_BUF_INIT, aad = PHX_BUF_INIT, sealed = PHX_BUF_INIT;
    pt.secret = v.secret = true;
    phx_err_t err = phx_base64_decode(v64, strlen(v64), &v, e);
    char tb = type[0] == 's' ? 's' : type[0] == 'b' ? 'b' : 'j';
    if (!err && v.len > STATE_MAX_VALUE)
        err = phx_fail(e, PHX_ERR_LIMIT, "state: value larger than %u bytes", STATE_MAX_VALUE);
    if (!err && (phx_buf_append(&pt, &tb, 1) || (v.len && phx_buf_append(&pt, v.ptr, v.len))))
        err = phx_fail(e, PHX_ERR_NOMEM, "state put");
    if (!err) err = make_aad(h, id, expected + 1, &aad, e);
    if (!err && (err = phx_buf_reserve(&sealed, STATE_NONCE + pt.len + PHX_AEAD_TAG_LEN)))
        phx_fail(e, err, "state put");
    if (!err &&
        ((err = phx_random_bytes(sealed.ptr, STATE_NONCE)) ||
         (err = phx_aead_seal(PHX_AEAD_XCHACHA20_POLY1305, h->state_key, sealed.ptr, STATE_NONCE,
                              aad.ptr, aad.len, pt.ptr, pt.len, sealed.ptr + STATE_NONCE))))
        phx_fail(e, err, "state seal");
    if (!err) {
        sealed.len = STATE_NONCE + pt.len + PHX_AEAD_TAG_LEN;
        uint64_t current = 0;
        err = h->cfg->state.cas(h->cfg->state.ctx, h->contract_id, id, expected, sealed.ptr,
                                sealed.len, &current, e);
        if (err == PHX_ERR_STATE) {
            /* A conflict is the contract's to handle: an answer, not an error. */
            remember(h, id, current);
            if (e) memset(e, 0, sizeof *e);
            err = PHX_OK;
            *out = json_pack("{s:b,s:b,s:I}", "ok", false, "conflict", true, "version",
                             (json_int_t)current);
        } else if (!err) {
            remember(h, id, expected + 1);
            *out = json_pack("{s:b,s:I}", "ok", true, "version", (json_int_t)(expected + 1));
        }
    }
    if (v.ptr) phx_secure_zero(v.ptr, v.len);
    phx_buf_free(&v);
    phx_buf_free(&pt);
    phx_buf_free(&aad);
    phx_buf_free(&sealed);
    return err;
}

phx_err_t sbx_state_op(sbx_host_t *h, const char *op, const json_t *args, json_t **out,
                       phx_error_t *e)
{
    if (!h->cfg->state.read || !h->cfg->state.cas)
        return phx_fail(e, PHX_ERR_UNSUPPORTED,
                        "phx.state: no state anchor configured (it needs a worker on a chain)");
    const char *key = json_string_value(json_object_get(args, "key"));
    if (!key) return phx_fail(e, PHX_ERR_INVALID, "state: key must be a string");
    if (strlen(key) > STATE_MAX_KEY)
        return phx_fail(e, PHX_ERR_LIMIT, "state: key longer than %d", STATE_MAX_KEY);
    phx_err_t err = sbx_kv_keys(h, e);
    if (!err) err = state_key(h, e);
    if (err) return err;
    uint8_t id[32];
    sbx_kv_row_id(h, key, id);
    if (!strcmp(op, "state.get")) {
        phx_buf_t pt = PHX_BUF_INIT;
        uint64_t version = 0;
        err = read_checked(h, id, &version, &pt, e);
        if (!err && pt.len && !strchr("sbj", pt.ptr[0]))
            err = integrity(h, version, "an unknown value type", e);
        if (!err) {
            remember(h, id, version);
            if (!(*out = value_json(&pt, version))) err = phx_fail(e, PHX_ERR_NOMEM, "state get");
        }
        phx_buf_free(&pt);
        return err;
    }
    if (!strcmp(op, "state.cas")) {
        const json_t *ev = json_object_get(args, "expected");
        if (!json_is_integer(ev) || json_integer_value(ev) < 0)
            return phx_fail(e, PHX_ERR_INVALID,
                            "state.cas: expectedVersion must be a non-negative integer");
        return write_cas(h, id, (uint64_t)json_integer_value(ev), args, out, e);
    }
    if (!strcmp(op, "state.put")) {
        /* put = cas on the version this invocation last saw; a key it has not
         * read yet is read first (a blind write: it still loses to a writer
         * that lands between that read and this write). */
        uint64_t version = 0;
        if (!seen(h, id, &version)) {
            phx_buf_t pt = PHX_BUF_INIT;
            err = read_checked(h, id, &version, &pt, e);
            phx_buf_free(&pt);
            if (err) return err;
        }
        return write_cas(h, id, version, args, out, e);
    }
    return phx_fail(e, PHX_ERR_UNSUPPORTED, "unknown state op");
}
