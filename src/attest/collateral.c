/* Collateral loader: the dcap-qvl QuoteCollateralV3 JSON object, with TCB Info
 * (v2, v3; SGX and TDX) and QE Identity (v2) parsed out of their signed texts.
 * Intel PCS API v4 defines the JSON shapes. The signed texts are kept verbatim:
 * signatures are checked over those bytes, never over a re-serialisation. */
#define OPENSSL_API_COMPAT 10101 /* SHA256_Init: no provider fetch per call */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "attest_internal.h"
#include "phx/json.h"

static const char *const status_names[PHX_TCB__COUNT] = {
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
    "Revoked",
};

const char *phx_tcb_status_name(phx_tcb_status_t s)
{
    return (unsigned)s < PHX_TCB__COUNT ? status_names[s] : "Unknown";
}

phx_err_t phx_tcb_status_parse(const char *name, phx_tcb_status_t *out, phx_error_t *e)
{
    for (int i = 0; i < PHX_TCB__COUNT; i++)
        if (strcmp(name, status_names[i]) == 0) {
            *out = (phx_tcb_status_t)i;
            return PHX_OK;
        }
    return phx_fail(e, PHX_ERR_INVALID, "unknown TCB status \"%.40s\"", name);
}

/* The low-level SHA-256 calls: OpenSSL 3's one-shot SHA256() fetches the
 * algorithm through the provider machinery on every call, and a cold
 * verification hashes a dozen small inputs. */
void attest_sha256(const void *p, size_t n, uint8_t out[32])
{
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, p, n);
    SHA256_Final(out, &ctx);
}

phx_err_t attest_parse_time(const char *s, int64_t *out, phx_error_t *e)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int used = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &used) != 6 ||
        used != 19)
        return phx_fail(e, PHX_ERR_INVALID, "bad date \"%.40s\"", s);
    const char *rest = s + used;
    if (*rest == '.') { /* fractional seconds: allowed, ignored (truncate) */
        rest++;
        while (*rest >= '0' && *rest <= '9')
            rest++;
    }
    if (strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0)
        return phx_fail(e, PHX_ERR_INVALID, "date \"%.40s\" is not UTC", s);
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return phx_fail(e, PHX_ERR_INVALID, "bad date \"%.40s\"", s);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (int64_t)timegm(&tm);
    return PHX_OK;
}

/* ---- small typed getters over jansson ------------------------------------------- */

static phx_err_t get_hex_n(const json_t *o, const char *key, uint8_t *dst, size_t n, phx_error_t *e)
{
    return phx_json_get_hex_fixed(o, key, dst, n, e);
}

static phx_err_t get_uint(const json_t *o, const char *key, int64_t max, int64_t *out,
                          phx_error_t *e)
{
    phx_err_t err = phx_json_get_int(o, key, out, e);
    if (err) return err;
    if (*out < 0 || *out > max)
        return phx_fail(e, PHX_ERR_RANGE, "\"%s\" = %lld out of range", key, (long long)*out);
    return PHX_OK;
}

static phx_err_t get_date(const json_t *o, const char *key, int64_t *out, phx_error_t *e)
{
    const char *s = NULL;
    phx_err_t err = phx_json_get_str(o, key, &s, e);
    if (err) return err;
    if ((err = attest_parse_time(s, out, e))) return phx_error_wrap(e, err, "\"%s\"", key);
    return PHX_OK;
}

static phx_err_t get_status(const json_t *o, const char *key, phx_tcb_status_t *out, phx_error_t *e)
{
    const char *s = NULL;
    phx_err_t err = phx_json_get_str(o, key, &s, e);
    if (err) return err;
    return phx_tcb_status_parse(s, out, e);
}

static phx_err_t get_advisories(const json_t *level, advisories_t *adv, phx_error_t *e)
{
    json_t *a = json_object_get(level, "advisoryIDs");
    adv->ids = NULL;
    adv->n = 0;
    if (!a) return PHX_OK;
    if (!json_is_array(a)) return phx_fail(e, PHX_ERR_INVALID, "\"advisoryIDs\" must be an array");
    size_t n = json_array_size(a);
    if (n == 0) return PHX_OK;
    adv->ids = calloc(n, sizeof *adv->ids);
    if (!adv->ids) return phx_fail(e, PHX_ERR_NOMEM, "advisory IDs");
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(a, i);
        if (!json_is_string(s) || json_string_length(s) >= PHX_ATTEST_ADVISORY_LEN)
            return phx_fail(e, PHX_ERR_INVALID, "advisory ID %zu is not a short string", i);
        adv->ids[adv->n++] = json_string_value(s);
    }
    return PHX_OK;
}

static phx_err_t get_array(const json_t *o, const char *key, json_t **out, phx_error_t *e)
{
    *out = json_object_get(o, key);
    if (!json_is_array(*out)) return phx_fail(e, PHX_ERR_INVALID, "\"%s\" must be an array", key);
    return PHX_OK;
}

/* tcbLevels of a QE Identity or a TDX module identity: {"tcb":{"isvsvn":N},...}. */
static phx_err_t parse_isv_levels(const json_t *arr, isv_level_t **out, size_t *n_out,
                                  phx_error_t *e)
{
    size_t n = json_array_size(arr);
    phx_err_t err;
    *out = NULL;
    *n_out = 0;
    if (n == 0) return phx_fail(e, PHX_ERR_INVALID, "empty tcbLevels");
    isv_level_t *levels = calloc(n, sizeof *levels);
    if (!levels) return phx_fail(e, PHX_ERR_NOMEM, "tcbLevels");
    *out = levels;
    for (size_t i = 0; i < n; i++) {
        json_t *l = json_array_get(arr, i), *tcb = json_object_get(l, "tcb");
        int64_t svn;
        *n_out = i + 1; /* level i owns its advisory list from here on, even on failure */
        if (!json_is_object(tcb)) return phx_fail(e, PHX_ERR_INVALID, "tcbLevels[%zu].tcb", i);
        if ((err = get_uint(tcb, "isvsvn", 65535, &svn, e)) ||
            (err = get_date(l, "tcbDate", &levels[i].tcb_date, e)) ||
            (err = get_status(l, "tcbStatus", &levels[i].status, e)) ||
            (err = get_advisories(l, &levels[i].adv, e)))
            return phx_error_wrap(e, err, "tcbLevels[%zu]", i);
        levels[i].isvsvn = (uint16_t)svn;
    }
    return PHX_OK;
}

static phx_err_t parse_components(const json_t *tcb, const char *key, uint8_t out[16],
                                  phx_error_t *e)
{
    json_t *arr;
    phx_err_t err = get_array(tcb, key, &arr, e);
    if (err) return err;
    if (json_array_size(arr) != 16)
        return phx_fail(e, PHX_ERR_INVALID, "\"%s\" has %zu entries, want 16", key,
                        json_array_size(arr));
    for (size_t i = 0; i < 16; i++) {
        int64_t svn;
        if ((err = get_uint(json_array_get(arr, i), "svn", 255, &svn, e)))
            return phx_error_wrap(e, err, "%s[%zu]", key, i);
        out[i] = (uint8_t)svn;
    }
    return PHX_OK;
}

static phx_err_t parse_tcb_level(const tcb_info_t *t, const json_t *l, tcb_level_t *lv,
                                 phx_error_t *e)
{
    json_t *tcb = json_object_get(l, "tcb");
    phx_err_t err;
    int64_t v;
    if (!json_is_object(tcb)) return phx_fail(e, PHX_ERR_INVALID, "missing \"tcb\"");
    if (t->version >= 3) {
        if ((err = parse_components(tcb, "sgxtcbcomponents", lv->sgx, e))) return err;
        if (strcmp(t->id, "TDX") == 0) {
            if ((err = parse_components(tcb, "tdxtcbcomponents", lv->tdx, e))) return err;
            lv->has_tdx = true;
        }
    } else {
        for (int i = 0; i < 16; i++) {
            char key[32];
            snprintf(key, sizeof key, "sgxtcbcomp%02dsvn", i + 1);
            if ((err = get_uint(tcb, key, 255, &v, e))) return err;
            lv->sgx[i] = (uint8_t)v;
        }
    }
    if ((err = get_uint(tcb, "pcesvn", 65535, &v, e))) return err;
    lv->pcesvn = (uint16_t)v;
    if ((err = get_date(l, "tcbDate", &lv->tcb_date, e)) ||
        (err = get_status(l, "tcbStatus", &lv->status, e)) ||
        (err = get_advisories(l, &lv->adv, e)))
        return err;
    return PHX_OK;
}

static phx_err_t parse_tcb_info(const json_t *o, tcb_info_t *t, phx_error_t *e)
{
    const char *id = "SGX", *s = NULL;
    int64_t v;
    phx_err_t err;
    json_t *arr;
    /* TCB Info v2 has no "id": it is SGX by definition. */
    if (json_object_get(o, "id") && (err = phx_json_get_str(o, "id", &id, e))) return err;
    if (strcmp(id, "SGX") != 0 && strcmp(id, "TDX") != 0)
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "TCB Info id \"%.20s\"", id);
    snprintf(t->id, sizeof t->id, "%s", id);
    if ((err = get_uint(o, "version", 100, &v, e))) return err;
    t->version = (int)v;
    if (t->version != 2 && t->version != 3)
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "TCB Info version %d", t->version);
    if (t->version == 2 && strcmp(t->id, "SGX") != 0)
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "TCB Info v2 is SGX only");
    if ((err = get_date(o, "issueDate", &t->issue_date, e)) ||
        (err = get_date(o, "nextUpdate", &t->next_update, e)) ||
        (err = get_hex_n(o, "fmspc", t->fmspc, 6, e)) ||
        (err = get_hex_n(o, "pceId", t->pce_id, 2, e)))
        return err;
    /* tcbType 0 is the only one defined: components compare one by one. */
    if (json_object_get(o, "tcbType") && ((err = get_uint(o, "tcbType", 255, &v, e)) || v != 0))
        return err ? err : phx_fail(e, PHX_ERR_UNSUPPORTED, "TCB Info tcbType %lld", (long long)v);
    json_t *mod = json_object_get(o, "tdxModule");
    if (mod) {
        if ((err = get_hex_n(mod, "mrsigner", t->module_mrsigner, 48, e)) ||
            (err = get_hex_n(mod, "attributes", t->module_attributes, 8, e)) ||
            (err = get_hex_n(mod, "attributesMask", t->module_attributes_mask, 8, e)))
            return phx_error_wrap(e, err, "tdxModule");
        t->has_module = true;
    }
    json_t *ids = json_object_get(o, "tdxModuleIdentities");
    if (ids) {
        if (!json_is_array(ids))
            return phx_fail(e, PHX_ERR_INVALID, "\"tdxModuleIdentities\" must be an array");
        size_t n = json_array_size(ids);
        t->modules = calloc(n ? n : 1, sizeof *t->modules);
        if (!t->modules) return phx_fail(e, PHX_ERR_NOMEM, "tdxModuleIdentities");
        for (size_t i = 0; i < n; i++) {
            json_t *m = json_array_get(ids, i);
            tdx_module_id_t *mi = &t->modules[i];
            t->n_modules = i + 1;
            if ((err = phx_json_get_str(m, "id", &s, e)) ||
                (err = get_hex_n(m, "mrsigner", mi->mrsigner, 48, e)) ||
                (err = get_hex_n(m, "attributes", mi->attributes, 8, e)) ||
                (err = get_hex_n(m, "attributesMask", mi->attributes_mask, 8, e)) ||
                (err = get_array(m, "tcbLevels", &arr, e)) ||
                (err = parse_isv_levels(arr, &mi->levels, &mi->n_levels, e)))
                return phx_error_wrap(e, err, "tdxModuleIdentities[%zu]", i);
            snprintf(mi->id, sizeof mi->id, "%s", s);
        }
    }
    if ((err = get_array(o, "tcbLevels", &arr, e))) return err;
    size_t n = json_array_size(arr);
    if (n == 0) return phx_fail(e, PHX_ERR_INVALID, "TCB Info has no tcbLevels");
    t->levels = calloc(n, sizeof *t->levels);
    if (!t->levels) return phx_fail(e, PHX_ERR_NOMEM, "tcbLevels");
    for (size_t i = 0; i < n; i++) {
        t->n_levels = i + 1;
        if ((err = parse_tcb_level(t, json_array_get(arr, i), &t->levels[i], e)))
            return phx_error_wrap(e, err, "tcbLevels[%zu]", i);
    }
    return PHX_OK;
}

static phx_err_t parse_qe_identity(const json_t *o, qe_identity_t *q, phx_error_t *e)
{
    const char *id;
    int64_t v;
    phx_err_t err;
    json_t *arr;
    uint8_t u32[4];
    if ((err = phx_json_get_str(o, "id", &id, e))) return err;
    snprintf(q->id, sizeof q->id, "%s", id);
    if ((err = get_uint(o, "version", 100, &v, e))) return err;
    q->version = (int)v;
    if ((err = get_date(o, "issueDate", &q->issue_date, e)) ||
        (err = get_date(o, "nextUpdate", &q->next_update, e)))
        return err;
    /* MISCSELECT is written as the 4 little-endian bytes of the report field. */
    if ((err = get_hex_n(o, "miscselect", u32, 4, e))) return err;
    q->miscselect =
        (uint32_t)u32[0] | (uint32_t)u32[1] << 8 | (uint32_t)u32[2] << 16 | (uint32_t)u32[3] << 24;
    if ((err = get_hex_n(o, "miscselectMask", u32, 4, e))) return err;
    q->miscselect_mask =
        (uint32_t)u32[0] | (uint32_t)u32[1] << 8 | (uint32_t)u32[2] << 16 | (uint32_t)u32[3] << 24;
    if ((err = get_hex_n(o, "attributes", q->attributes, 16, e)) ||
        (err = get_hex_n(o, "attributesMask", q->attributes_mask, 16, e)) ||
        (err = get_hex_n(o, "mrsigner", q->mrsigner, 32, e)) ||
        (err = get_uint(o, "isvprodid", 65535, &v, e)))
        return err;
    q->isvprodid = (uint16_t)v;
    if ((err = get_array(o, "tcbLevels", &arr, e)) ||
        (err = parse_isv_levels(arr, &q->levels, &q->n_levels, e)))
        return err;
    return PHX_OK;
}

static phx_err_t get_text(const json_t *doc, const char *key, const char **s, size_t *len,
                          phx_error_t *e)
{
    json_t *v = json_object_get(doc, key);
    if (!json_is_string(v))
        return phx_fail(e, PHX_ERR_INVALID, "collateral: \"%s\" missing or not a string", key);
    *s = json_string_value(v);
    if (len) *len = json_string_length(v);
    return PHX_OK;
}

void phx_collateral_free(phx_collateral_t *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->tcb.n_levels; i++)
        free(c->tcb.levels[i].adv.ids);
    free(c->tcb.levels);
    for (size_t m = 0; m < c->tcb.n_modules; m++) {
        for (size_t i = 0; i < c->tcb.modules[m].n_levels; i++)
            free(c->tcb.modules[m].levels[i].adv.ids);
        free(c->tcb.modules[m].levels);
    }
    free(c->tcb.modules);
    for (size_t i = 0; i < c->qe.n_levels; i++)
        free(c->qe.levels[i].adv.ids);
    free(c->qe.levels);
    phx_buf_free(&c->root_ca_crl);
    phx_buf_free(&c->pck_crl);
    json_decref(c->tcb_doc);
    json_decref(c->qe_doc);
    json_decref(c->doc);
    free(c);
}

phx_err_t phx_collateral_parse(const uint8_t *p, size_t len, phx_collateral_t **out, phx_error_t *e)
{
    phx_err_t err;
    const char *s = NULL;
    *out = NULL;
    phx_collateral_t *c = calloc(1, sizeof *c);
    if (!c) return phx_fail(e, PHX_ERR_NOMEM, "collateral");
    attest_sha256(p, len, c->hash);
    if ((err = phx_json_parse((const char *)p, len, &c->doc, e))) goto out;
    if (!json_is_object(c->doc)) {
        err = phx_fail(e, PHX_ERR_INVALID, "collateral is not a JSON object");
        goto out;
    }
    if ((err = get_text(c->doc, "pck_crl_issuer_chain", &c->pck_crl_issuer_chain, NULL, e)) ||
        (err = get_text(c->doc, "tcb_info_issuer_chain", &c->tcb_info_issuer_chain, NULL, e)) ||
        (err =
             get_text(c->doc, "qe_identity_issuer_chain", &c->qe_identity_issuer_chain, NULL, e)) ||
        (err = get_text(c->doc, "tcb_info", &c->tcb_info_text, &c->tcb_info_len, e)) ||
        (err = get_text(c->doc, "qe_identity", &c->qe_identity_text, &c->qe_identity_len, e)))
        goto out;
    if ((err = get_text(c->doc, "root_ca_crl", &s, NULL, e)) ||
        (err = phx_hex_decode(s, &c->root_ca_crl, e))) {
        phx_error_wrap(e, err, "collateral: root_ca_crl");
        goto out;
    }
    if ((err = get_text(c->doc, "pck_crl", &s, NULL, e)) ||
        (err = phx_hex_decode(s, &c->pck_crl, e))) {
        phx_error_wrap(e, err, "collateral: pck_crl");
        goto out;
    }
    if ((err = phx_json_get_hex_fixed(c->doc, "tcb_info_signature", c->tcb_info_sig, 64, e)) ||
        (err =
             phx_json_get_hex_fixed(c->doc, "qe_identity_signature", c->qe_identity_sig, 64, e))) {
        phx_error_wrap(e, err, "collateral");
        goto out;
    }
    if ((err = phx_json_parse(c->tcb_info_text, c->tcb_info_len, &c->tcb_doc, e)) ||
        (err = parse_tcb_info(c->tcb_doc, &c->tcb, e))) {
        phx_error_wrap(e, err, "collateral: tcb_info");
        goto out;
    }
    if ((err = phx_json_parse(c->qe_identity_text, c->qe_identity_len, &c->qe_doc, e)) ||
        (err = parse_qe_identity(c->qe_doc, &c->qe, e))) {
        phx_error_wrap(e, err, "collateral: qe_identity");
        goto out;
    }
    *out = c;
    c = NULL;
out:
    phx_collateral_free(c);
    return err;
}
