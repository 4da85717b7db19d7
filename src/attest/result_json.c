/* A verification result as JSON, the shape `phx attest verify --json` prints and
 * the DCAP testdata's expected.json uses for header and report fields. */
#include <stdio.h>

#include "phx/attest.h"

static int put_hex(json_t *o, const char *key, const uint8_t *p, size_t n)
{
    char buf[2 * 64 + 1];
    if (n > 64) return -1;
    phx_hex_encode_to(buf, p, n);
    return json_object_set_new(o, key, json_string(buf));
}

static json_t *header_json(const phx_quote_header_t *h)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "version", json_integer(h->version));
    json_object_set_new(o, "attestation_key_type", json_integer(h->attestation_key_type));
    json_object_set_new(o, "tee_type", json_integer(h->tee_type));
    json_object_set_new(o, "qe_svn", json_integer(h->qe_svn));
    json_object_set_new(o, "pce_svn", json_integer(h->pce_svn));
    put_hex(o, "qe_vendor_id", h->qe_vendor_id, 16);
    put_hex(o, "user_data", h->user_data, 20);
    return o;
}

static json_t *report_json(const phx_attest_result_t *r)
{
    json_t *o = json_object();
    if (!o) return NULL;
    if (r->report_type == PHX_REPORT_SGX) {
        const phx_sgx_report_t *s = &r->sgx;
        json_object_set_new(o, "type", json_string("sgx"));
        put_hex(o, "cpu_svn", s->cpu_svn, 16);
        json_object_set_new(o, "misc_select", json_integer(s->misc_select));
        put_hex(o, "attributes", s->attributes, 16);
        put_hex(o, "mr_enclave", s->mr_enclave, 32);
        put_hex(o, "mr_signer", s->mr_signer, 32);
        json_object_set_new(o, "isv_prod_id", json_integer(s->isv_prod_id));
        json_object_set_new(o, "isv_svn", json_integer(s->isv_svn));
        put_hex(o, "report_data", s->report_data, 64);
        return o;
    }
    const phx_td_report_t *t = &r->td;
    json_object_set_new(o, "type",
                        json_string(r->report_type == PHX_REPORT_TD15 ? "td15" : "td10"));
    put_hex(o, "tee_tcb_svn", t->tee_tcb_svn, 16);
    put_hex(o, "mr_seam", t->mr_seam, 48);
    put_hex(o, "mr_signer_seam", t->mr_signer_seam, 48);
    put_hex(o, "seam_attributes", t->seam_attributes, 8);
    put_hex(o, "td_attributes", t->td_attributes, 8);
    put_hex(o, "xfam", t->xfam, 8);
    put_hex(o, "mr_td", t->mr_td, 48);
    put_hex(o, "mr_config_id", t->mr_config_id, 48);
    put_hex(o, "mr_owner", t->mr_owner, 48);
    put_hex(o, "mr_owner_config", t->mr_owner_config, 48);
    for (int i = 0; i < 4; i++) {
        char key[8];
        snprintf(key, sizeof key, "rt_mr%d", i);
        put_hex(o, key, t->rt_mr[i], 48);
    }
    put_hex(o, "report_data", t->report_data, 64);
    if (r->report_type == PHX_REPORT_TD15) {
        put_hex(o, "tee_tcb_svn2", t->tee_tcb_svn2, 16);
        put_hex(o, "mr_service_td", t->mr_service_td, 48);
    }
    return o;
}

json_t *phx_attest_result_json(const phx_attest_result_t *r)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "ok", json_boolean(r->accepted));
    json_object_set_new(o, "verified", json_boolean(r->verified));
    if (r->verified) {
        json_object_set_new(o, "status", json_string(phx_tcb_status_name(r->status)));
        json_t *a = json_array();
        for (size_t i = 0; i < r->n_advisory_ids; i++)
            json_array_append_new(a, json_string(r->advisory_ids[i]));
        json_object_set_new(o, "advisory_ids", a);
        put_hex(o, "fmspc", r->fmspc, 6);
        json_object_set_new(o, "tcb_date", json_integer(r->tcb_date));
    }
    if (r->parsed) {
        json_object_set_new(o, "tee_type",
                            json_string(r->header.tee_type == PHX_QUOTE_TEE_TDX ? "TDX" : "SGX"));
        json_object_set_new(o, "header", header_json(&r->header));
        json_object_set_new(o, "report", report_json(r));
    }
    return o;
}
