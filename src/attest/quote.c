/* DCAP quote parser: SGX quote v3, TDX quote v4 and v5 (TD report 1.0/1.5), the
 * ECDSA-P256 signature data, QE report, QE auth data and certification data.
 * Layouts: Intel SGX ECDSA Quote Library API (A.4) and Intel TDX DCAP Quote
 * Library API (A.3). Every length read from the quote is checked before use. */
#include <string.h>

#include "phx/attest.h"

#define ATT_KEY_ECDSA_P256 2
#define CERT_TYPE_QE_REPORT 6 /* v4/v5: QE report certification data wrapper */

static phx_err_t read_sgx_report(phx_reader_t *r, phx_sgx_report_t *s, phx_error_t *e)
{
    phx_err_t err;
    uint8_t skip[96];
    if ((err = phx_reader_copy(r, s->cpu_svn, 16, e))) return err;
    if ((err = phx_reader_u32le(r, &s->misc_select, e))) return err;
    if ((err = phx_reader_copy(r, skip, 28, e))) return err;
    if ((err = phx_reader_copy(r, s->attributes, 16, e))) return err;
    if ((err = phx_reader_copy(r, s->mr_enclave, 32, e))) return err;
    if ((err = phx_reader_copy(r, skip, 32, e))) return err;
    if ((err = phx_reader_copy(r, s->mr_signer, 32, e))) return err;
    if ((err = phx_reader_copy(r, skip, 96, e))) return err;
    if ((err = phx_reader_u16le(r, &s->isv_prod_id, e))) return err;
    if ((err = phx_reader_u16le(r, &s->isv_svn, e))) return err;
    if ((err = phx_reader_copy(r, skip, 60, e))) return err;
    return phx_reader_copy(r, s->report_data, 64, e);
}

static phx_err_t read_td_report(phx_reader_t *r, bool v15, phx_td_report_t *t, phx_error_t *e)
{
    phx_err_t err;
    struct {
        void *dst;
        size_t n;
    } fields[] = {
        {t->tee_tcb_svn, 16},     {t->mr_seam, 48},       {t->mr_signer_seam, 48},
        {t->seam_attributes, 8},  {t->td_attributes, 8},  {t->xfam, 8},
        {t->mr_td, 48},           {t->mr_config_id, 48},  {t->mr_owner, 48},
        {t->mr_owner_config, 48}, {t->rt_mr[0], 48},      {t->rt_mr[1], 48},
        {t->rt_mr[2], 48},        {t->rt_mr[3], 48},      {t->report_data, 64},
        {t->tee_tcb_svn2, 16},    {t->mr_service_td, 48},
    };
    size_t n = sizeof fields / sizeof fields[0] - (v15 ? 0 : 2);
    for (size_t i = 0; i < n; i++)
        if ((err = phx_reader_copy(r, fields[i].dst, fields[i].n, e))) return err;
    return PHX_OK;
}

/* The certification data chain: ECDSA auth data (v3 directly; v4/v5 wrapped in
 * a type-6 block holding the QE report certification data). */
static phx_err_t read_qe_part(phx_reader_t *r, phx_quote_t *q, phx_error_t *e)
{
    phx_err_t err;
    uint32_t cert_len;
    phx_reader_t qr;
    if ((err = phx_reader_view(r, &q->qe_report, PHX_SGX_REPORT_LEN, e)))
        return phx_error_wrap(e, err, "QE report");
    qr = phx_reader(q->qe_report, PHX_SGX_REPORT_LEN);
    if ((err = read_sgx_report(&qr, &q->qe_report_body, e))) return err;
    if ((err = phx_reader_view(r, &q->qe_report_signature, 64, e)))
        return phx_error_wrap(e, err, "QE report signature");
    uint16_t auth_len;
    if ((err = phx_reader_u16le(r, &auth_len, e))) return phx_error_wrap(e, err, "QE auth data");
    q->qe_auth_data_len = auth_len;
    if ((err = phx_reader_view(r, &q->qe_auth_data, auth_len, e)))
        return phx_error_wrap(e, err, "QE auth data");
    if ((err = phx_reader_u16le(r, &q->cert_type, e)))
        return phx_error_wrap(e, err, "certification data type");
    if ((err = phx_reader_u32le(r, &cert_len, e)))
        return phx_error_wrap(e, err, "certification data size");
    q->cert_data_len = cert_len;
    if ((err = phx_reader_view(r, &q->cert_data, cert_len, e)))
        return phx_error_wrap(e, err, "certification data");
    return PHX_OK;
}

phx_err_t phx_quote_parse(const uint8_t *p, size_t len, phx_quote_t *q, phx_error_t *e)
{
    phx_reader_t r = phx_reader(p, len);
    phx_err_t err;
    memset(q, 0, sizeof *q);
    phx_quote_header_t *h = &q->header;
    if ((err = phx_reader_u16le(&r, &h->version, e)) ||
        (err = phx_reader_u16le(&r, &h->attestation_key_type, e)) ||
        (err = phx_reader_u32le(&r, &h->tee_type, e)) ||
        (err = phx_reader_u16le(&r, &h->qe_svn, e)) ||
        (err = phx_reader_u16le(&r, &h->pce_svn, e)) ||
        (err = phx_reader_copy(&r, h->qe_vendor_id, 16, e)) ||
        (err = phx_reader_copy(&r, h->user_data, 20, e)))
        return phx_error_wrap(e, err, "quote header");
    if (h->version < 3 || h->version > 5)
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "quote version %u is not 3, 4 or 5", h->version);
    if (h->attestation_key_type != ATT_KEY_ECDSA_P256)
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "attestation key type %u is not ECDSA-P256",
                        h->attestation_key_type);
    /* v3 predates the tee_type field (it was reserved, and zero for SGX). */
    if (h->version == 3 && h->tee_type != PHX_QUOTE_TEE_SGX)
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "quote v3 must be SGX (tee_type %#x)", h->tee_type);
    if (h->version == 4 && h->tee_type != PHX_QUOTE_TEE_TDX)
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "quote v4 must be TDX (tee_type %#x)", h->tee_type);
    if (h->tee_type != PHX_QUOTE_TEE_SGX && h->tee_type != PHX_QUOTE_TEE_TDX)
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "unknown tee_type %#x", h->tee_type);

    if (h->version == 3) {
        q->report_type = PHX_REPORT_SGX;
    } else if (h->version == 4) {
        q->report_type = PHX_REPORT_TD10;
    } else {
        uint16_t body_type;
        uint32_t body_size;
        if ((err = phx_reader_u16le(&r, &body_type, e)) ||
            (err = phx_reader_u32le(&r, &body_size, e)))
            return phx_error_wrap(e, err, "quote v5 body descriptor");
        static const uint32_t sizes[] = {0, PHX_SGX_REPORT_LEN, PHX_TD10_REPORT_LEN,
                                         PHX_TD15_REPORT_LEN};
        if (body_type < 1 || body_type > 3)
            return phx_fail(e, PHX_ERR_UNSUPPORTED, "quote v5 body type %u unknown", body_type);
        if (body_size != sizes[body_type])
            return phx_fail(e, PHX_ERR_INVALID, "quote v5 body type %u has size %u, want %u",
                            body_type, body_size, sizes[body_type]);
        q->report_type = (phx_report_type_t)body_type;
        if ((q->report_type == PHX_REPORT_SGX) != (h->tee_type == PHX_QUOTE_TEE_SGX))
            return phx_fail(e, PHX_ERR_INVALID, "quote v5 body type %u does not fit tee_type %#x",
                            body_type, h->tee_type);
    }
    if (q->report_type == PHX_REPORT_SGX)
        err = read_sgx_report(&r, &q->sgx, e);
    else
        err = read_td_report(&r, q->report_type == PHX_REPORT_TD15, &q->td, e);
    if (err) return phx_error_wrap(e, err, "report body");
    q->signed_len = r.off;

    uint32_t sig_len;
    if ((err = phx_reader_u32le(&r, &sig_len, e)))
        return phx_error_wrap(e, err, "signature data length");
    const uint8_t *sig_data;
    if ((err = phx_reader_view(&r, &sig_data, sig_len, e)))
        return phx_error_wrap(e, err, "signature data");
    q->quote_len = r.off;

    /* Everything below is inside the declared signature data: a length inside it
     * that runs past it is an error even if the buffer has padding after. */
    phx_reader_t s = phx_reader(sig_data, sig_len);
    if ((err = phx_reader_view(&s, &q->signature, 64, e)))
        return phx_error_wrap(e, err, "quote signature");
    if ((err = phx_reader_view(&s, &q->attestation_key, 64, e)))
        return phx_error_wrap(e, err, "attestation key");
    if (h->version == 3) {
        if ((err = read_qe_part(&s, q, e))) return err;
    } else {
        uint16_t outer_type;
        uint32_t outer_len;
        const uint8_t *outer;
        if ((err = phx_reader_u16le(&s, &outer_type, e)) ||
            (err = phx_reader_u32le(&s, &outer_len, e)))
            return phx_error_wrap(e, err, "QE certification data header");
        if (outer_type != CERT_TYPE_QE_REPORT)
            return phx_fail(e, PHX_ERR_UNSUPPORTED,
                            "certification data type %u, want 6 (QE report)", outer_type);
        if ((err = phx_reader_view(&s, &outer, outer_len, e)))
            return phx_error_wrap(e, err, "QE certification data");
        phx_reader_t o = phx_reader(outer, outer_len);
        if ((err = read_qe_part(&o, q, e))) return err;
    }
    return PHX_OK;
}
