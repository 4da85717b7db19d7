/* Every case of both DCAP sets (dcap/ and dcap-more/, each with its own
 * expected.json): same verdict as the reference verifier, and when accepted the
 * same status, advisory IDs, header and report fields. Each case runs cold
 * (fresh verifier) and warm (shared verifier with cached collateral) and both
 * must agree. Prints each name and verdict, and counts per set; each set is a
 * named case (PHX_TEST_CASE=test_dcap_more runs one). */
#include "phx/attest.h"
#include "test.h"

static int load(const char *set, const char *name, phx_buf_t *out)
{
    char rel[512];
    snprintf(rel, sizeof rel, "%s/%s", set, name);
    const char *path = test_data_path(rel);
    phx_error_t e = {0};
    if (!path) return -1;
    if (phx_file_read(path, out, &e)) {
        fprintf(stderr, "read %s: %s\n", rel, e.message);
        return -1;
    }
    return 0;
}

/* Every key of want must be in got with an equal value. */
static int subset_equal(const char *what, const char *name, json_t *want, json_t *got)
{
    const char *key;
    json_t *v;
    int bad = 0;
    json_object_foreach(want, key, v)
    {
        json_t *g = json_object_get(got, key);
        if (!g || !json_equal(g, v)) {
            char *a = json_dumps(v, JSON_ENCODE_ANY),
                 *b = g ? json_dumps(g, JSON_ENCODE_ANY) : NULL;
            fprintf(stderr, "  %s: %s.%s want %s got %s\n", name, what, key, a,
                    b ? b : "(missing)");
            free(a);
            free(b);
            bad++;
        }
    }
    return bad;
}

/* One set: set/expected.json. Returns the number of cases run (0 when the set
 * is absent, which main counts as a failure: a missing set must not pass). */
static size_t run_set(const char *set)
{
    char rel[256];
    snprintf(rel, sizeof rel, "%s/expected.json", set);
    const char *exp_path = test_data_path(rel);
    if (!exp_path) return 0;
    json_t *doc = NULL;
    phx_error_t e = {0};
    CHECK(phx_json_load_file(exp_path, &doc, &e) == PHX_OK);
    json_t *cases = json_object_get(doc, "cases");
    CHECK(json_array_size(cases) > 0);
    phx_attest_verifier_t *shared = NULL;
    CHECK(phx_attest_verifier_new(NULL, 0, &shared, &e) == PHX_OK);
    phx_attest_policy_t permissive = phx_attest_policy_permissive();
    size_t n_ok = 0, n_reject = 0, n_cases = 0;

    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        phx_buf_t quote = PHX_BUF_INIT, col = PHX_BUF_INIT;
        if (load(set, json_string_value(json_object_get(c, "quote")), &quote) ||
            load(set, json_string_value(json_object_get(c, "collateral")), &col)) {
            CHECK_MSG(0, "%s: inputs missing", name);
            continue;
        }
        int64_t now = json_integer_value(json_object_get(c, "now"));
        json_t *expected = json_object_get(c, "expected");
        bool want_ok = json_is_true(json_object_get(expected, "ok"));
        n_cases++;

        /* Cold: a fresh verifier. Warm: the shared one, run twice. */
        phx_attest_verifier_t *cold = NULL;
        CHECK(phx_attest_verifier_new(NULL, 0, &cold, &e) == PHX_OK);
        phx_attest_result_t r_cold, r_warm;
        phx_error_t e_cold = {0}, e_warm = {0};
        phx_err_t err_cold = phx_attest_verify(cold, quote.ptr, quote.len, col.ptr, col.len, now,
                                               &permissive, &r_cold, &e_cold);
        phx_attest_verify(shared, quote.ptr, quote.len, col.ptr, col.len, now, &permissive, &r_warm,
                          &e_warm);
        phx_err_t err_warm = phx_attest_verify(shared, quote.ptr, quote.len, col.ptr, col.len, now,
                                               &permissive, &r_warm, &e_warm);
        phx_attest_verifier_free(cold);

        bool got_ok = err_cold == PHX_OK && r_cold.accepted;
        if (got_ok) {
            n_ok++;
            printf("case %-32s accepted  %s [", name, phx_tcb_status_name(r_cold.status));
            for (size_t k = 0; k < r_cold.n_advisory_ids; k++)
                printf("%s%s", k ? " " : "", r_cold.advisory_ids[k]);
            printf("]\n");
        } else {
            n_reject++;
            printf("case %-32s rejected  %s (reference: %s)\n", name, e_cold.message,
                   json_string_value(json_object_get(expected, "reference_error")));
        }
        CHECK_MSG(got_ok == want_ok, "%s: ok=%d want %d (%s)", name, got_ok, want_ok,
                  e_cold.message);
        /* A rejection always says which check failed. */
        if (!got_ok) CHECK_MSG(e_cold.message[0] != 0, "%s: rejection without a reason", name);
        CHECK_MSG(err_cold == err_warm && r_cold.accepted == r_warm.accepted &&
                      strcmp(e_cold.message, e_warm.message) == 0,
                  "%s: warm verdict differs: %s / %s", name, e_cold.message, e_warm.message);
        CHECK_MSG(r_warm.collateral_cached, "%s: second run did not use the cache", name);

        if (got_ok && want_ok) {
            CHECK_MSG(strcmp(phx_tcb_status_name(r_cold.status),
                             json_string_value(json_object_get(expected, "status"))) == 0,
                      "%s: status %s", name, phx_tcb_status_name(r_cold.status));
            json_t *adv = json_object_get(expected, "advisory_ids");
            CHECK_MSG(json_array_size(adv) == r_cold.n_advisory_ids, "%s: advisory count", name);
            for (size_t k = 0; k < json_array_size(adv) && k < r_cold.n_advisory_ids; k++)
                CHECK_MSG(
                    strcmp(json_string_value(json_array_get(adv, k)), r_cold.advisory_ids[k]) == 0,
                    "%s: advisory %zu", name, k);
            CHECK(r_warm.status == r_cold.status && r_warm.n_advisory_ids == r_cold.n_advisory_ids);
        }
        /* Header and report fields parse the same whatever the verdict. */
        CHECK_MSG(r_cold.parsed, "%s: not parsed", name);
        json_t *got = phx_attest_result_json(&r_cold);
        CHECK(subset_equal("header", name, json_object_get(c, "header"),
                           json_object_get(got, "header")) == 0);
        CHECK(subset_equal("report", name, json_object_get(c, "report"),
                           json_object_get(got, "report")) == 0);
        char fmspc_hex[13];
        phx_hex_encode_to(fmspc_hex, r_cold.fmspc, 6);
        if (r_cold.verified)
            CHECK_MSG(strcmp(fmspc_hex, json_string_value(json_object_get(
                                            json_object_get(c, "quote_meta"), "fmspc"))) == 0,
                      "%s: fmspc %s", name, fmspc_hex);
        json_decref(got);

        /* Cached collateral is still checked against the time of each call. */
        if (want_ok) {
            int64_t end =
                json_integer_value(json_object_get(json_object_get(c, "collateral_window"), "end"));
            phx_attest_result_t r_late;
            phx_error_t e_late = {0};
            CHECK_MSG(phx_attest_verify(shared, quote.ptr, quote.len, col.ptr, col.len, end + 86400,
                                        &permissive, &r_late, &e_late) != PHX_OK &&
                          r_late.collateral_cached,
                      "%s: cached collateral accepted after its window", name);
        }
        /* The default policy accepts only UpToDate and SWHardeningNeeded. */
        phx_attest_result_t r_def;
        phx_error_t e_def = {0};
        phx_err_t err_def = phx_attest_verify(shared, quote.ptr, quote.len, col.ptr, col.len, now,
                                              NULL, &r_def, &e_def);
        bool def_expect = want_ok && (r_cold.status == PHX_TCB_UP_TO_DATE ||
                                      r_cold.status == PHX_TCB_SW_HARDENING_NEEDED);
        CHECK_MSG((err_def == PHX_OK) == def_expect, "%s: default policy verdict", name);
        if (want_ok && !def_expect) CHECK(err_def == PHX_ERR_POLICY && r_def.verified);

        phx_buf_free(&quote);
        phx_buf_free(&col);
    }
    printf("%s/expected.json: %zu cases, %zu accepted, %zu rejected\n", set, n_cases, n_ok,
           n_reject);
    CHECK_MSG(n_cases == json_array_size(cases), "%s: %zu of %zu cases ran", set, n_cases,
              json_array_size(cases));
    phx_attest_verifier_free(shared);
    json_decref(doc);
    return n_cases;
}

/* Each set is a case: a failure in one names its set. A set that is absent
 * while the shared data is there fails (it must not pass by running nothing). */
static void run_named_set(const char *set)
{
    size_t n = run_set(set);
    CHECK_MSG(n > 0, "set %s: no cases ran", set);
}

static void test_dcap(void)
{
    run_named_set("dcap");
}

static void test_dcap_more(void)
{
    run_named_set("dcap-more");
}

int main(void)
{
    /* Without the shared data at all the test skips (DESIGN.md §9); with it,
     * both sets must be there and non-empty. */
    if (!test_data_path("dcap")) return test_done("attest_vectors");
    static const test_case_t cases[] = {TEST_CASE(test_dcap), TEST_CASE(test_dcap_more)};
    return test_run("attest_vectors", cases, TEST_COUNT(cases));
}
