/* Differential test against the reference verifier (@phala/dcap-qvl, node): every
 * case of dcap/expected.json at every validity boundary of its collateral and PCK
 * chain (each certificate's notBefore/notAfter, each CRL's thisUpdate/nextUpdate,
 * TCB Info / QE Identity issueDate/nextUpdate; one second before, at, after).
 * We must never accept what the reference rejects; where we reject what it
 * accepts, the reason must be a check the reference does not make (CRL windows). */
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "phx/attest.h"
#include "test.h"

#define MAX_TIMES 128

typedef struct {
    int64_t t[MAX_TIMES];
    size_t n;
} times_t;

static void add_time(times_t *ts, const ASN1_TIME *a)
{
    struct tm tm;
    if (!a || !ASN1_TIME_to_tm(a, &tm)) return;
    int64_t t = (int64_t)timegm(&tm);
    for (int d = -1; d <= 1; d++) {
        bool dup = false;
        for (size_t i = 0; i < ts->n && !dup; i++)
            dup = ts->t[i] == t + d;
        if (!dup && ts->n < MAX_TIMES) ts->t[ts->n++] = t + d;
    }
}

static void add_iso(times_t *ts, const char *json_text, const char *key)
{
    json_t *o = NULL;
    phx_error_t e;
    if (phx_json_parse(json_text, strlen(json_text), &o, &e)) return;
    ASN1_TIME *a = ASN1_TIME_new();
    const char *s = json_string_value(json_object_get(o, key));
    /* "2025-07-18T10:00:35Z" -> GeneralizedTime "20250718100035Z" */
    char g[32];
    size_t k = 0;
    for (const char *p = s ? s : ""; *p && k < sizeof g - 2; p++)
        if (*p >= '0' && *p <= '9') g[k++] = *p;
    g[k++] = 'Z';
    g[k] = 0;
    if (a && k == 15 && ASN1_TIME_set_string(a, g)) add_time(ts, a);
    ASN1_TIME_free(a);
    json_decref(o);
}

static void add_pem_certs(times_t *ts, const void *pem, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509 *x;
    while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        add_time(ts, X509_get0_notBefore(x));
        add_time(ts, X509_get0_notAfter(x));
        X509_free(x);
    }
    BIO_free(b);
}

static void add_crl(times_t *ts, const char *hex)
{
    phx_buf_t der = PHX_BUF_INIT;
    if (phx_hex_decode(hex, &der, NULL) == PHX_OK) {
        const unsigned char *p = der.ptr;
        X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)der.len);
        if (crl) {
            add_time(ts, X509_CRL_get0_lastUpdate(crl));
            add_time(ts, X509_CRL_get0_nextUpdate(crl));
        }
        X509_CRL_free(crl);
    }
    phx_buf_free(&der);
}

/* Shared by the cases: the expected.json cases, the jobs built from them and
 * the reference's verdicts on those jobs. */
static char script[1024], dir[1024];
static json_t *exp, *jobs, *ref;

/* The jobs: every case at every boundary of its own collateral and chain. */
static void test_jobs(void)
{
    const char *exp_path = test_data_path("dcap/expected.json");
    CHECK(exp_path != NULL);
    if (!exp_path) return;
    snprintf(dir, sizeof dir, "%s", exp_path);
    *strrchr(dir, '/') = 0;
    phx_buf_t exp_text = PHX_BUF_INIT;
    phx_error_t e = {0};
    CHECK(phx_file_read(exp_path, &exp_text, &e) == PHX_OK);
    CHECK(phx_json_parse((const char *)exp_text.ptr, exp_text.len, &exp, &e) == PHX_OK);
    phx_buf_free(&exp_text);
    json_t *cases = json_object_get(exp, "cases");
    jobs = json_array();
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        char qpath[1200], cpath[1200];
        snprintf(qpath, sizeof qpath, "%s/%s", dir, json_string_value(json_object_get(c, "quote")));
        snprintf(cpath, sizeof cpath, "%s/%s", dir,
                 json_string_value(json_object_get(c, "collateral")));
        phx_buf_t qb = PHX_BUF_INIT, cb = PHX_BUF_INIT;
        json_t *col = NULL;
        CHECK(phx_file_read(qpath, &qb, &e) == PHX_OK && phx_file_read(cpath, &cb, &e) == PHX_OK);
        CHECK(phx_json_parse((const char *)cb.ptr, cb.len, &col, &e) == PHX_OK);
        if (!col) continue;
        times_t ts = {.n = 0};
        ts.t[ts.n++] = json_integer_value(json_object_get(c, "now"));
        static const char *const chains[] = {"pck_crl_issuer_chain", "tcb_info_issuer_chain",
                                             "qe_identity_issuer_chain"};
        for (int k = 0; k < 3; k++) {
            const char *s = json_string_value(json_object_get(col, chains[k]));
            if (s) add_pem_certs(&ts, s, strlen(s));
        }
        add_crl(&ts, json_string_value(json_object_get(col, "root_ca_crl")));
        add_crl(&ts, json_string_value(json_object_get(col, "pck_crl")));
        add_iso(&ts, json_string_value(json_object_get(col, "tcb_info")), "issueDate");
        add_iso(&ts, json_string_value(json_object_get(col, "tcb_info")), "nextUpdate");
        add_iso(&ts, json_string_value(json_object_get(col, "qe_identity")), "issueDate");
        add_iso(&ts, json_string_value(json_object_get(col, "qe_identity")), "nextUpdate");
        phx_quote_t q;
        if (phx_quote_parse(qb.ptr, qb.len, &q, &e) == PHX_OK)
            add_pem_certs(&ts, q.cert_data, q.cert_data_len);
        for (size_t k = 0; k < ts.n; k++)
            json_array_append_new(jobs, json_pack("{s:s,s:s,s:s,s:I}", "name",
                                                  json_string_value(json_object_get(c, "name")),
                                                  "quote", qpath, "collateral", cpath, "now",
                                                  (json_int_t)ts.t[k]));
        json_decref(col);
        phx_buf_free(&qb);
        phx_buf_free(&cb);
    }
}

/* The reference's verdicts, in one node process. */
static void test_reference_runs(void)
{
    char jobs_path[] = "/tmp/phx-attest-ref-XXXXXX";
    int fd = mkstemp(jobs_path);
    CHECK(fd >= 0);
    char *jt = json_dumps(jobs, JSON_COMPACT);
    CHECK(jt && write(fd, jt, strlen(jt)) == (ssize_t)strlen(jt));
    close(fd);
    free(jt);
    char cmd[3200];
    snprintf(cmd, sizeof cmd, "node '%s' < '%s'", script, jobs_path);
    FILE *p = popen(cmd, "r");
    phx_buf_t out = PHX_BUF_INIT;
    char chunk[4096];
    size_t got;
    while (p && (got = fread(chunk, 1, sizeof chunk, p)) > 0)
        phx_buf_append(&out, chunk, got);
    CHECK(p && pclose(p) == 0);
    unlink(jobs_path);
    phx_error_t e = {0};
    CHECK(phx_json_parse((const char *)out.ptr, out.len, &ref, &e) == PHX_OK);
    CHECK(json_array_size(ref) == json_array_size(jobs));
    phx_buf_free(&out);
}

/* Ours, every status allowed (the reference has no policy), debug refused as
 * the reference does. */
static void test_same_verdicts(void)
{
    phx_error_t e = {0};
    phx_attest_verifier_t *v = NULL;
    CHECK(phx_attest_verifier_new(NULL, 0, &v, &e) == PHX_OK);
    phx_attest_policy_t pol = phx_attest_policy_permissive();
    size_t n = 0, both_ok = 0, both_reject = 0, stricter = 0;
    for (size_t i = 0; v && i < json_array_size(jobs) && i < json_array_size(ref); i++) {
        json_t *j = json_array_get(jobs, i), *r = json_array_get(ref, i);
        phx_buf_t qb = PHX_BUF_INIT, cb = PHX_BUF_INIT;
        phx_file_read(json_string_value(json_object_get(j, "quote")), &qb, &e);
        phx_file_read(json_string_value(json_object_get(j, "collateral")), &cb, &e);
        phx_attest_result_t res;
        phx_error_t ve = {0};
        int64_t now = json_integer_value(json_object_get(j, "now"));
        bool ours =
            phx_attest_verify(v, qb.ptr, qb.len, cb.ptr, cb.len, now, &pol, &res, &ve) == PHX_OK;
        bool theirs = json_is_true(json_object_get(r, "ok"));
        const char *name = json_string_value(json_object_get(j, "name"));
        n++;
        CHECK_MSG(!ours || theirs, "%s at %lld: we accept (%s), the reference rejects: %s", name,
                  (long long)now, phx_tcb_status_name(res.status),
                  json_string_value(json_object_get(r, "error")));
        if (ours && theirs) {
            both_ok++;
            /* Status: the same. (The merge rules differ only for an OutOfDate QE
             * on a platform needing configuration: Intel's QVL and we say
             * OutOfDateConfigurationNeeded, the reference OutOfDate; no case here
             * has it, test_tee pins ours.) */
            CHECK_MSG(strcmp(phx_tcb_status_name(res.status),
                             json_string_value(json_object_get(r, "status"))) == 0,
                      "%s at %lld: status %s, reference %s", name, (long long)now,
                      phx_tcb_status_name(res.status),
                      json_string_value(json_object_get(r, "status")));
        } else if (!ours && !theirs) {
            both_reject++;
        } else if (!ours && theirs) {
            stricter++;
            /* Only for a check the reference leaves out: the CRLs' windows. */
            CHECK_MSG(strstr(ve.message, "CRL expired") || strstr(ve.message, "CRL is not yet"),
                      "%s at %lld: we reject (%s), the reference accepts", name, (long long)now,
                      ve.message);
            printf("stricter %-30s at %lld: %s\n", name, (long long)now, ve.message);
        }
        phx_buf_free(&qb);
        phx_buf_free(&cb);
    }
    printf("reference differential: %zu cases x boundaries = %zu verdicts: %zu both accept, %zu "
           "both reject, %zu only we reject, 0 only we accept\n",
           json_array_size(json_object_get(exp, "cases")), n, both_ok, both_reject, stricter);
    CHECK(n > 100);
    phx_attest_verifier_free(v);
}

int main(void)
{
    const char *nm = getenv("PHX_NODE_MODULES"), *src = getenv("PHX_SOURCE_DIR");
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/@phala/dcap-qvl/package.json", nm ? nm : "node_modules");
    snprintf(script, sizeof script, "%s/tests/attest/ref_dcap_qvl.js", src ? src : ".");
    if (access(probe, R_OK) != 0 || system("node --version >/dev/null 2>&1") != 0) {
        printf("SKIP reference differential: %s or node not found (run scripts/setup.sh)\n", probe);
        return test_done("attest_reference");
    }
    if (!test_data_path("dcap/expected.json")) return test_done("attest_reference");
    static const test_case_t cases[] = {TEST_CASE_REQUIRED(test_jobs),
                                        TEST_CASE_REQUIRED(test_reference_runs),
                                        TEST_CASE(test_same_verdicts)};
    int rc = test_run("attest_reference", cases, TEST_COUNT(cases));
    json_decref(ref);
    json_decref(jobs);
    json_decref(exp);
    return rc;
}
