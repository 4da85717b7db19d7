/* Mutation test: each real quote that verifies is mutated (one flipped bit in the
 * signed body, the quote signature, the attestation key, the QE report, its
 * signature, the QE auth data, the PCK certificate chain; truncation at every
 * byte, which covers every structural boundary) and must be rejected with a
 * reason, never accepted and never crash. Collateral pieces are mutated too. */
#define _GNU_SOURCE /* memmem */
#include <string.h>

#include "phx/attest.h"
#include "test.h"

typedef struct {
    const char *name;
    size_t off, len;
} region_t;

static size_t n_rejected, n_mutations;

static void expect_reject(phx_attest_verifier_t *v, const uint8_t *q, size_t qlen,
                          const phx_buf_t *col, int64_t now, const char *what, size_t off)
{
    phx_attest_result_t r;
    phx_error_t e = {0};
    phx_attest_policy_t p = phx_attest_policy_permissive();
    phx_err_t err = phx_attest_verify(v, q, qlen, col->ptr, col->len, now, &p, &r, &e);
    n_mutations++;
    CHECK_MSG(err != PHX_OK && !r.accepted, "%s mutation at %zu was accepted", what, off);
    CHECK_MSG(err == PHX_OK || e.message[0], "%s mutation at %zu rejected without a reason", what,
              off);
    if (err != PHX_OK) n_rejected++;
}

static bool accepted(phx_attest_verifier_t *v, const uint8_t *q, size_t qlen, const phx_buf_t *col,
                     int64_t now)
{
    phx_attest_result_t r;
    phx_error_t e = {0};
    phx_attest_policy_t p = phx_attest_policy_permissive();
    phx_err_t err = phx_attest_verify(v, q, qlen, col->ptr, col->len, now, &p, &r, &e);
    if (err) fprintf(stderr, "  unexpected rejection: %s\n", e.message);
    return err == PHX_OK;
}

/* Byte offsets of the PEM base64 body characters, excluding each certificate's
 * last line (whose final characters may carry bits base64 ignores). */
static size_t pem_body_positions(const uint8_t *p, size_t len, size_t *pos, size_t max)
{
    size_t n = 0, i = 0;
    while (i < len && n < max) {
        const char *begin = memmem(p + i, len - i, "-----BEGIN CERTIFICATE-----\n", 28);
        if (!begin) break;
        size_t start = (size_t)((const uint8_t *)begin - p) + 28;
        const char *end = memmem(p + start, len - start, "-----END", 8);
        if (!end) break;
        size_t stop = (size_t)((const uint8_t *)end - p);
        /* Drop the last line of base64. */
        size_t last = stop - 1;
        while (last > start && p[last - 1] != '\n')
            last--;
        for (size_t k = start; k < last && n < max; k++)
            if (p[k] != '\n') pos[n++] = k;
        i = stop + 8;
    }
    return n;
}

static void mutate_quote(const char *name, const phx_buf_t *quote, const phx_buf_t *col,
                         int64_t now)
{
    phx_attest_verifier_t *v = NULL;
    phx_error_t e = {0};
    CHECK(phx_attest_verifier_new(NULL, 0, &v, &e) == PHX_OK);
    phx_quote_t q;
    CHECK(phx_quote_parse(quote->ptr, quote->len, &q, &e) == PHX_OK);
    if (!accepted(v, quote->ptr, quote->len, col, now)) {
        CHECK_MSG(0, "%s: the unmutated quote must verify", name);
        phx_attest_verifier_free(v);
        return;
    }
    size_t before = n_mutations;
    const uint8_t *base = quote->ptr;
    region_t regions[] = {
        {"body", 0, q.signed_len},
        {"signature", (size_t)(q.signature - base), 64},
        {"attestation key", (size_t)(q.attestation_key - base), 64},
        {"QE report", (size_t)(q.qe_report - base), PHX_SGX_REPORT_LEN},
        {"QE report signature", (size_t)(q.qe_report_signature - base), 64},
        {"QE auth data", (size_t)(q.qe_auth_data - base), q.qe_auth_data_len},
    };
    uint8_t *m = malloc(quote->len + 1);
    for (size_t ri = 0; ri < sizeof regions / sizeof regions[0]; ri++) {
        const region_t *rg = &regions[ri];
        /* Small regions: every byte; larger ones: a stride that still visits every field. */
        size_t stride = rg->len > 128 ? 3 : 1;
        for (size_t k = 0; k < rg->len; k += stride) {
            memcpy(m, base, quote->len);
            m[rg->off + k] ^= (uint8_t)(1u << (k % 8));
            expect_reject(v, m, quote->len, col, now, rg->name, rg->off + k);
        }
    }
    size_t pos[8192];
    size_t n_pos = pem_body_positions(q.cert_data, q.cert_data_len, pos, 8192);
    CHECK_MSG(n_pos > 1000, "%s: PEM chain found (%zu positions)", name, n_pos);
    size_t cert_off = (size_t)(q.cert_data - base);
    for (size_t k = 0; k < n_pos; k += 23) {
        memcpy(m, base, quote->len);
        m[cert_off + pos[k]] ^= (uint8_t)(1u << (k % 6)); /* may leave the base64 alphabet too */
        expect_reject(v, m, quote->len, col, now, "PCK chain", cert_off + pos[k]);
    }
    /* Truncation at every byte covers every structural boundary. */
    for (size_t cut = 0; cut < q.quote_len; cut++) {
        memcpy(m, base, cut);
        expect_reject(v, m, cut, col, now, "truncation", cut);
    }
    /* A length field made larger than the data it describes. */
    size_t siglen_off = q.signed_len;
    memcpy(m, base, quote->len);
    m[siglen_off + 1] ^= 0x40;
    expect_reject(v, m, q.quote_len, col, now, "signature length", siglen_off);
    /* Positive control: zero padding after the quote is fine. */
    phx_buf_t padded = PHX_BUF_INIT;
    phx_buf_append(&padded, base, q.quote_len);
    for (int i = 0; i < 1000; i++)
        phx_buf_append_byte(&padded, 0);
    CHECK_MSG(accepted(v, padded.ptr, padded.len, col, now), "%s: padded quote", name);
    phx_buf_free(&padded);
    free(m);
    printf("mutated %-28s %zu mutations, all rejected; truncations at %zu offsets\n", name,
           n_mutations - before, q.quote_len);
    phx_attest_verifier_free(v);
}

/* Collateral: change one character of a signed text, a signature or a CRL. */
static void mutate_collateral(const char *name, const phx_buf_t *quote, const phx_buf_t *col,
                              int64_t now)
{
    static const char *const fields[] = {
        "tcb_info", "qe_identity", "tcb_info_signature", "qe_identity_signature",
        "pck_crl",  "root_ca_crl"};
    phx_attest_verifier_t *v = NULL;
    phx_error_t e = {0};
    CHECK(phx_attest_verifier_new(NULL, 0, &v, &e) == PHX_OK);
    json_t *doc = NULL;
    CHECK(phx_json_parse((const char *)col->ptr, col->len, &doc, &e) == PHX_OK);
    size_t count = 0;
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        const char *orig = json_string_value(json_object_get(doc, fields[f]));
        size_t len = strlen(orig);
        for (size_t at = 7; at < len; at += len / 9 + 1) {
            char *s = strdup(orig);
            /* Swap to a different character of the same class, so the text stays
             * well-formed JSON/hex and only the signature check can catch it. */
            char c = s[at];
            if (c >= '0' && c <= '8')
                s[at] = (char)(c + 1);
            else if (c == '9')
                s[at] = '0';
            else if (c >= 'a' && c <= 'e')
                s[at] = (char)(c + 1);
            else if (c >= 'A' && c <= 'E')
                s[at] = (char)(c + 1);
            else if (c == 'f' || c == 'F')
                s[at] = 'a';
            else {
                free(s);
                continue;
            }
            json_t *copy = json_deep_copy(doc);
            json_object_set_new(copy, fields[f], json_string(s));
            char *text = json_dumps(copy, JSON_COMPACT);
            phx_buf_t mcol = {(uint8_t *)text, strlen(text), strlen(text) + 1, false};
            expect_reject(v, quote->ptr, quote->len, &mcol, now, fields[f], at);
            free(text);
            json_decref(copy);
            free(s);
            count++;
        }
    }
    printf("mutated %-28s collateral: %zu mutations, all rejected\n", name, count);
    json_decref(doc);
    phx_attest_verifier_free(v);
}

int main(void)
{
    const char *exp_path = test_data_path("dcap/expected.json");
    if (!exp_path) return test_done("attest_mutation");
    json_t *doc = NULL;
    phx_error_t e = {0};
    CHECK(phx_json_load_file(exp_path, &doc, &e) == PHX_OK);
    json_t *cases = json_object_get(doc, "cases"), *c;
    size_t i, done = 0;
    const char *seen[64];
    size_t n_seen = 0;
    json_array_foreach(cases, i, c)
    {
        json_t *expected = json_object_get(c, "expected");
        const char *qname = json_string_value(json_object_get(c, "quote"));
        if (!json_is_true(json_object_get(expected, "ok"))) continue;
        bool dup = false;
        for (size_t k = 0; k < n_seen; k++)
            dup |= strcmp(seen[k], qname) == 0;
        if (dup || n_seen >= 64) continue;
        seen[n_seen++] = qname;
        char rel[512];
        phx_buf_t quote = PHX_BUF_INIT, col = PHX_BUF_INIT;
        snprintf(rel, sizeof rel, "dcap/%s", qname);
        const char *p = test_data_path(rel);
        CHECK(p && phx_file_read(p, &quote, &e) == PHX_OK);
        snprintf(rel, sizeof rel, "dcap/%s", json_string_value(json_object_get(c, "collateral")));
        p = test_data_path(rel);
        CHECK(p && phx_file_read(p, &col, &e) == PHX_OK);
        int64_t now = json_integer_value(json_object_get(c, "now"));
        const char *name = json_string_value(json_object_get(c, "name"));
        mutate_quote(name, &quote, &col, now);
        mutate_collateral(name, &quote, &col, now);
        done++;
        phx_buf_free(&quote);
        phx_buf_free(&col);
    }
    CHECK(done >= 3);
    printf("%zu quotes mutated, %zu mutations, %zu rejected\n", done, n_mutations, n_rejected);
    json_decref(doc);
    return test_done("attest_mutation");
}
