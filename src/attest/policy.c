/* Acceptance policy: the built-in default and permissive policies, a policy
 * read from JSON (which TCB statuses, which advisories, debug and service-TD
 * opt-ins, a minimum TCB date; see phx/attest.h for the shape), and the last
 * steps of a verification that apply it: workload attributes, then the policy. */
#include <stdlib.h>
#include <string.h>

#include "phx/json.h"
#include "tcb.h"

struct phx_attest_policy_doc {
    phx_attest_policy_t policy;
    json_t *doc;
    const char **denied, **allowed; /* NULL-terminated views into doc */
};

static phx_err_t string_list(json_t *doc, const char *key, const char ***out, phx_error_t *e)
{
    json_t *a = json_object_get(doc, key);
    *out = NULL;
    if (!a) return PHX_OK;
    if (!json_is_array(a))
        return phx_fail(e, PHX_ERR_INVALID, "policy: \"%s\" must be an array", key);
    const char **list = calloc(json_array_size(a) + 1, sizeof *list);
    if (!list) return phx_fail(e, PHX_ERR_NOMEM, "policy");
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *s = json_array_get(a, i);
        if (!json_is_string(s)) {
            free(list);
            return phx_fail(e, PHX_ERR_INVALID, "policy: \"%s\"[%zu] must be a string", key, i);
        }
        list[i] = json_string_value(s);
    }
    *out = list;
    return PHX_OK;
}

void phx_attest_policy_free(phx_attest_policy_doc_t *d)
{
    if (!d) return;
    free(d->denied);
    free(d->allowed);
    json_decref(d->doc);
    free(d);
}

const phx_attest_policy_t *phx_attest_policy_doc_get(const phx_attest_policy_doc_t *d)
{
    return &d->policy;
}

phx_err_t phx_attest_policy_parse(const char *json, size_t len, phx_attest_policy_doc_t **out,
                                  phx_error_t *e)
{
    phx_err_t err;
    json_t *v;
    *out = NULL;
    phx_attest_policy_doc_t *d = calloc(1, sizeof *d);
    if (!d) return phx_fail(e, PHX_ERR_NOMEM, "policy");
    d->policy = phx_attest_policy_default();
    if ((err = phx_json_parse(json, len, &d->doc, e))) goto out;
    if (!json_is_object(d->doc)) {
        err = phx_fail(e, PHX_ERR_INVALID, "policy is not a JSON object");
        goto out;
    }
    const char *key;
    json_object_foreach(d->doc, key, v)
    {
        static const char *const known[] = {"accept_status",     "allow_debug",
                                            "allow_service_td",  "min_tcb_date",
                                            "denied_advisories", "allowed_advisories"};
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok |= !strcmp(key, known[i]);
        if (!ok) {
            err = phx_fail(e, PHX_ERR_INVALID, "policy: unknown key \"%.40s\"", key);
            goto out;
        }
    }
    if ((v = json_object_get(d->doc, "accept_status"))) {
        if (!json_is_array(v)) {
            err = phx_fail(e, PHX_ERR_INVALID, "policy: \"accept_status\" must be an array");
            goto out;
        }
        d->policy.accept_status_mask = 0;
        for (size_t i = 0; i < json_array_size(v); i++) {
            phx_tcb_status_t s;
            json_t *x = json_array_get(v, i);
            if (!json_is_string(x)) {
                err = phx_fail(e, PHX_ERR_INVALID, "policy: accept_status entries are strings");
                goto out;
            }
            if ((err = phx_tcb_status_parse(json_string_value(x), &s, e))) goto out;
            if (s == PHX_TCB_REVOKED) {
                err = phx_fail(e, PHX_ERR_INVALID, "policy: Revoked can never be accepted");
                goto out;
            }
            d->policy.accept_status_mask |= 1u << s;
        }
    }
    if (json_object_get(d->doc, "allow_debug") &&
        (err = phx_json_get_bool(d->doc, "allow_debug", &d->policy.allow_debug, e)))
        goto out;
    if (json_object_get(d->doc, "allow_service_td") &&
        (err = phx_json_get_bool(d->doc, "allow_service_td", &d->policy.allow_service_td, e)))
        goto out;
    if ((v = json_object_get(d->doc, "min_tcb_date"))) {
        if (json_is_integer(v)) {
            d->policy.min_tcb_date = json_integer_value(v);
        } else if (json_is_string(v)) {
            if ((err = attest_parse_time(json_string_value(v), &d->policy.min_tcb_date, e)))
                goto out;
        } else {
            err = phx_fail(e, PHX_ERR_INVALID, "policy: \"min_tcb_date\" is a date or unix time");
            goto out;
        }
    }
    if ((err = string_list(d->doc, "denied_advisories", &d->denied, e)) ||
        (err = string_list(d->doc, "allowed_advisories", &d->allowed, e)))
        goto out;
    d->policy.denied_advisories = d->denied;
    d->policy.allowed_advisories = d->allowed;
    *out = d;
    d = NULL;
out:
    phx_attest_policy_free(d);
    return err;
}

phx_attest_policy_t phx_attest_policy_default(void)
{
    phx_attest_policy_t p = {0};
    p.accept_status_mask = 1u << PHX_TCB_UP_TO_DATE | 1u << PHX_TCB_SW_HARDENING_NEEDED;
    return p;
}

phx_attest_policy_t phx_attest_policy_permissive(void)
{
    phx_attest_policy_t p = {0};
    p.accept_status_mask = ((1u << PHX_TCB__COUNT) - 1) & ~(1u << PHX_TCB_REVOKED);
    return p;
}

/* TDATTRIBUTES (TDX module ABI, TDINFO_STRUCT): TUD byte 0 bit 0 is DEBUG, its
 * bits 7:1 reserved; SEC bits 27:8 and 29 reserved, bit 28 SEPT_VE_DISABLE;
 * OTHER bits 62:32 reserved. */
static phx_err_t check_td_attributes(const uint8_t a[8], bool allow_debug, phx_error_t *e)
{
    if (a[0] & 0xFE) return phx_fail(e, PHX_ERR_VERIFY, "reserved TD attribute bits are set");
    if ((a[0] & 0x01) && !allow_debug)
        return phx_fail(e, PHX_ERR_VERIFY, "the TD is in debug mode");
    if (a[1] || a[2] || (a[3] & 0x0F) || (a[3] & 0x20) || a[4] || a[5] || a[6] || (a[7] & 0x7F))
        return phx_fail(e, PHX_ERR_VERIFY, "reserved TD attribute bits are set");
    if (!(a[3] & 0x10)) return phx_fail(e, PHX_ERR_VERIFY, "the TD does not set SEPT_VE_DISABLE");
    return PHX_OK;
}

phx_err_t attest_workload_check(const phx_quote_t *q, const phx_attest_policy_t *policy,
                                phx_error_t *e)
{
    phx_err_t err;
    if (q->report_type == PHX_REPORT_SGX) {
        if ((q->sgx.attributes[0] & 0x02) && !policy->allow_debug)
            return phx_fail(e, PHX_ERR_VERIFY, "the enclave is in debug mode");
        return PHX_OK;
    }
    if ((err = check_td_attributes(q->td.td_attributes, policy->allow_debug, e))) return err;
    if (q->report_type == PHX_REPORT_TD15 && !policy->allow_service_td) {
        static const uint8_t zero[48];
        if (memcmp(q->td.mr_service_td, zero, 48) != 0)
            return phx_fail(e, PHX_ERR_VERIFY, "MR_SERVICE_TD is not zero");
    }
    return PHX_OK;
}

static bool in_list(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (strcmp(*list, s) == 0) return true;
    return false;
}

phx_err_t attest_policy_apply(const phx_attest_policy_t *p, const phx_attest_result_t *res,
                              phx_error_t *e)
{
    if (!(p->accept_status_mask & (1u << res->status)))
        return phx_fail(e, PHX_ERR_POLICY, "TCB status %s is not accepted by the policy",
                        phx_tcb_status_name(res->status));
    if (p->min_tcb_date && res->tcb_date < p->min_tcb_date)
        return phx_fail(e, PHX_ERR_POLICY, "TCB date %lld is older than the policy's minimum %lld",
                        (long long)res->tcb_date, (long long)p->min_tcb_date);
    for (size_t i = 0; i < res->n_advisory_ids; i++) {
        const char *id = res->advisory_ids[i];
        if (in_list(p->denied_advisories, id) ||
            (p->allowed_advisories && !in_list(p->allowed_advisories, id)))
            return phx_fail(e, PHX_ERR_POLICY, "advisory %s is not accepted by the policy", id);
    }
    return PHX_OK;
}
