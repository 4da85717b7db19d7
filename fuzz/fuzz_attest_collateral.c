/* libFuzzer target: the collateral JSON loader (TCB Info v2/v3, QE Identity,
 * hex CRLs and signatures) and the policy parser. Seeds:
 * $PHX_TESTDATA/dcap/collateral. */
#include "phx/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    phx_collateral_t *c = NULL;
    phx_error_t e;
    if (phx_collateral_parse(data, size, &c, &e) == PHX_OK) phx_collateral_free(c);
    phx_attest_policy_doc_t *p = NULL;
    if (phx_attest_policy_parse((const char *)data, size, &p, &e) == PHX_OK)
        phx_attest_policy_free(p);
    return 0;
}
