/* libFuzzer target: the PCK certificate SGX-extension DER walker (src/attest/pck.c),
 * reached the way the verifier reaches it but without the signature checks in
 * front: input is a quote; its PCK leaf certificate (PEM) is decoded and the
 * extension parsed. Seeds: $PHX_TESTDATA/dcap/quotes (mutations land in the
 * base64, i.e. in the certificate's DER). */
#define _GNU_SOURCE
#include <string.h>

#include <openssl/x509.h>

#include "../src/attest/pck.h"
#include "phx/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    phx_quote_t q;
    phx_error_t e;
    if (phx_quote_parse(data, size, &q, &e) != PHX_OK) return 0;
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    const char *pem = (const char *)q.cert_data;
    const char *b = memmem(pem, q.cert_data_len, begin, sizeof begin - 1);
    if (!b) return 0;
    b += sizeof begin - 1;
    const char *f = memmem(b, q.cert_data_len - (size_t)(b - pem), end, sizeof end - 1);
    if (!f) return 0;
    phx_buf_t der = PHX_BUF_INIT;
    if (phx_base64_decode(b, (size_t)(f - b), &der, &e) == PHX_OK) {
        const unsigned char *p = der.ptr;
        X509 *x = d2i_X509(NULL, &p, (long)der.len);
        size_t oid_len;
        const uint8_t *oid = pck_ext_oid(&oid_len);
        for (int i = 0; x && i < X509_get_ext_count(x); i++) {
            X509_EXTENSION *ext = X509_get_ext(x, i);
            const ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
            if (OBJ_length(obj) != oid_len || memcmp(OBJ_get0_data(obj), oid, oid_len)) continue;
            const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
            pck_ext_t out;
            pck_ext_parse(ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v), &out, &e);
        }
        X509_free(x);
    }
    phx_buf_free(&der);
    return 0;
}
