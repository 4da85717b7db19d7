/* libFuzzer target: the DCAP quote parser, the certificate chain read for
 * display (phx_attest_quote_certs_json, x509_name_text), then the full
 * verifier over the parsed quote against one real collateral file
 * (certificate chain PEM/X.509, PCK extension DER, QE report checks). Seeds:
 * $PHX_TESTDATA/dcap/quotes. Oracle: only the quote that collateral belongs to may be accepted, so
 * an accepted input must sign the same header and body. */
#include <stdlib.h>
#include <string.h>

#include "phx/attest.h"

static phx_attest_verifier_t *verifier;
static phx_buf_t collateral = PHX_BUF_INIT, good = PHX_BUF_INIT;
static size_t good_signed_len;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    phx_error_t e;
    const char *root = getenv("PHX_TESTDATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/dcap/collateral/phala_tdx_b0c06f_2506.json",
             root ? root : "../shared/testdata");
    phx_file_read(path, &collateral, &e); /* absent: only the parser is fuzzed */
    snprintf(path, sizeof path, "%s/dcap/quotes/phala_tdx_v4_b0c06f.bin",
             root ? root : "../shared/testdata");
    phx_quote_t q;
    if (phx_file_read(path, &good, &e) == PHX_OK &&
        phx_quote_parse(good.ptr, good.len, &q, &e) == PHX_OK)
        good_signed_len = q.signed_len;
    phx_attest_verifier_new(NULL, 0, &verifier, &e);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    phx_quote_t q;
    phx_error_t e;
    if (phx_quote_parse(data, size, &q, &e) != PHX_OK) return 0;
    /* Views must stay inside the input. */
    if (q.cert_data_len && (q.cert_data < data || q.cert_data + q.cert_data_len > data + size))
        abort();
    if (q.quote_len > size || q.signed_len > q.quote_len) abort();
    /* The chain as the console reads it for display. */
    json_t *certs = NULL;
    if (phx_attest_quote_certs_json(data, size, 1752919234, &certs, &e) == PHX_OK &&
        !json_array_size(certs))
        abort(); /* success means at least one certificate */
    json_decref(certs);
    if (collateral.len && verifier) {
        phx_attest_result_t r;
        phx_attest_policy_t p = phx_attest_policy_permissive();
        phx_err_t err = phx_attest_verify(verifier, data, size, collateral.ptr, collateral.len,
                                          1752919234, &p, &r, &e);
        if (err == PHX_OK && good_signed_len &&
            (q.signed_len != good_signed_len || memcmp(data, good.ptr, good_signed_len) != 0))
            abort(); /* accepted a header/body nobody signed */
    }
    return 0;
}
