/* The certificate chain a quote carries, for people to read (the console's
 * Attestation page): each certificate's names, serial and validity window as
 * the DER reader (der.c) reads them. Reading is not trusting: the verdict on
 * the chain is phx_attest_verify's. */
#include <stdlib.h>
#include <string.h>

#include "phx/attest.h"
#include "x509.h"

static json_t *cert_json(const x509_cert_t *c, size_t i, size_t n, int64_t now)
{
    char subject[512], issuer[512];
    x509_name_text(c->subject, subject, sizeof subject);
    x509_name_text(c->issuer, issuer, sizeof issuer);
    bool self_issued = der_view_eq(c->subject, c->issuer);
    const char *role = i == 0                      ? "PCK leaf"
                       : self_issued && i == n - 1 ? "root CA"
                                                   : "intermediate CA";
    const char *validity = now < c->not_before  ? "not yet valid"
                           : now > c->not_after ? "expired"
                                                : "valid";
    return json_pack("{s:s,s:s,s:s,s:o,s:I,s:I,s:s,s:b}", "role", role, "subject", subject,
                     "issuer", issuer, "serial", phx_json_hex(c->serial.p, c->serial.len),
                     "not_before", (json_int_t)c->not_before, "not_after", (json_int_t)c->not_after,
                     "validity", validity, "ca", c->ca);
}

phx_err_t phx_attest_quote_certs_json(const uint8_t *quote, size_t len, int64_t now, json_t **out,
                                      phx_error_t *e)
{
    phx_quote_t q;
    *out = NULL;
    phx_err_t err = phx_quote_parse(quote, len, &q, e);
    if (err) return err;
    if (q.cert_type != 5)
        return phx_fail(e, PHX_ERR_UNSUPPORTED,
                        "certification data type %u: only 5 (PCK chain in the quote) is shown",
                        q.cert_type);
    /* Read all first (the DER must outlive the parsed views), then render. */
    phx_buf_t ders[8];
    x509_cert_t certs[8];
    size_t n = 0;
    const char *at = (const char *)q.cert_data, *stop = at + q.cert_data_len;
    bool bad = false;
    phx_buf_t der = PHX_BUF_INIT;
    while (n < 8 && attest_pem_next(&at, stop, &der, &bad)) {
        if (bad || x509_cert_parse(der.ptr, der.len, &certs[n], e)) {
            if (bad) phx_fail(e, PHX_ERR_INVALID, "certificate %zu does not parse", n);
            err = PHX_ERR_INVALID;
            break;
        }
        ders[n++] = der; /* certs[n] views into it: keep it */
        der = (phx_buf_t)PHX_BUF_INIT;
    }
    phx_buf_free(&der);
    if (!err && !n) err = phx_fail(e, PHX_ERR_INVALID, "the quote carries no certificate");
    if (!err) {
        *out = json_array();
        for (size_t i = 0; *out && i < n; i++)
            if (json_array_append_new(*out, cert_json(&certs[i], i, n, now))) {
                json_decref(*out);
                *out = NULL;
            }
        if (!*out) err = phx_fail(e, PHX_ERR_NOMEM, "certificate chain");
    }
    for (size_t i = 0; i < n; i++)
        phx_buf_free(&ders[i]);
    return err;
}
