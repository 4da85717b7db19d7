/* The acceptance policy on real quotes: statuses, denied and allowed advisory
 * IDs, minimum TCB date, and the debug opt-in, from the JSON form `phx attest
 * verify --policy` reads. Verification itself is the same in every case. */
#include "phx/attest.h"
#include "test.h"

static phx_buf_t sgx_quote, sgx_col, debug_quote;
static const int64_t sgx_now = 1752919277; /* phala_sgx_v3 in expected.json */

static phx_err_t run(const phx_buf_t *quote, const char *policy_json, phx_attest_result_t *r,
                     phx_error_t *e)
{
    phx_attest_policy_doc_t *doc = NULL;
    phx_attest_verifier_t *v = NULL;
    phx_err_t err = phx_attest_policy_parse(policy_json, strlen(policy_json), &doc, e);
    if (err) return err;
    CHECK(phx_attest_verifier_new(NULL, 0, &v, e) == PHX_OK);
    err = phx_attest_verify(v, quote->ptr, quote->len, sgx_col.ptr, sgx_col.len, sgx_now,
                            phx_attest_policy_doc_get(doc), r, e);
    phx_attest_verifier_free(v);
    phx_attest_policy_free(doc);
    return err;
}

static void expect(const phx_buf_t *quote, const char *policy, phx_err_t want)
{
    phx_attest_result_t r;
    phx_error_t e = {0};
    phx_err_t got = run(quote, policy, &r, &e);
    printf("policy %-80s -> %s%s%s\n", policy, got ? "rejected" : "accepted", got ? ": " : "",
           got ? e.message : "");
    CHECK_MSG(got == want, "%s: got %s want %s (%s)", policy, phx_strerror(got), phx_strerror(want),
              e.message);
}

int main(void)
{
    /* test_data_path returns static storage: read each file before the next call. */
    static const char *const rel[] = {"dcap/quotes/phala_sgx_v3_00a067.bin",
                                      "dcap/collateral/phala_sgx_00a067_2506.json",
                                      "dcap/quotes/automata_sgx_v3_00a067_solana.bin"};
    phx_buf_t *dst[] = {&sgx_quote, &sgx_col, &debug_quote};
    phx_error_t e;
    for (int i = 0; i < 3; i++) {
        const char *path = test_data_path(rel[i]);
        if (!path) return test_done("attest_policy");
        CHECK(phx_file_read(path, dst[i], &e) == PHX_OK);
    }

    /* phala_sgx_v3 is ConfigurationAndSWHardeningNeeded [INTEL-SA-00289, INTEL-SA-00615],
     * matched TCB level dated 2024-03-13. */
    expect(&sgx_quote, "{}", PHX_ERR_POLICY); /* the default: UpToDate, SWHardeningNeeded */
    expect(&sgx_quote, "{\"accept_status\":[\"ConfigurationAndSWHardeningNeeded\"]}", PHX_OK);
    expect(&sgx_quote,
           "{\"accept_status\":[\"ConfigurationAndSWHardeningNeeded\"],"
           "\"denied_advisories\":[\"INTEL-SA-00289\"]}",
           PHX_ERR_POLICY);
    expect(&sgx_quote,
           "{\"accept_status\":[\"ConfigurationAndSWHardeningNeeded\"],"
           "\"allowed_advisories\":[\"INTEL-SA-00615\"]}",
           PHX_ERR_POLICY);
    expect(&sgx_quote,
           "{\"accept_status\":[\"ConfigurationAndSWHardeningNeeded\"],"
           "\"allowed_advisories\":[\"INTEL-SA-00615\",\"INTEL-SA-00289\"]}",
           PHX_OK);
    expect(&sgx_quote,
           "{\"accept_status\":[\"ConfigurationAndSWHardeningNeeded\"],"
           "\"min_tcb_date\":\"2024-03-13T00:00:00Z\"}",
           PHX_OK);
    expect(&sgx_quote,
           "{\"accept_status\":[\"ConfigurationAndSWHardeningNeeded\"],"
           "\"min_tcb_date\":\"2024-03-14T00:00:00Z\"}",
           PHX_ERR_POLICY);
    /* A debug enclave: rejected unless the policy opts in. */
    expect(&debug_quote, "{\"accept_status\":[\"ConfigurationAndSWHardeningNeeded\"]}",
           PHX_ERR_VERIFY);
    expect(&debug_quote,
           "{\"accept_status\":[\"ConfigurationAndSWHardeningNeeded\"],\"allow_debug\":true}",
           PHX_OK);
    /* Malformed policies are refused, Revoked can never be accepted. */
    expect(&sgx_quote, "{\"accept_status\":[\"Revoked\"]}", PHX_ERR_INVALID);
    expect(&sgx_quote, "{\"accept_status\":[\"Fine\"]}", PHX_ERR_INVALID);
    expect(&sgx_quote, "{\"allow_debugg\":true}", PHX_ERR_INVALID);
    expect(&sgx_quote, "[]", PHX_ERR_INVALID);
    phx_buf_free(&sgx_quote);
    phx_buf_free(&sgx_col);
    phx_buf_free(&debug_quote);
    return test_done("attest_policy");
}
