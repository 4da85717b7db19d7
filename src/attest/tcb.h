/* Private to src/attest: TCB evaluation (tcb.c) and the workload/policy
 * decision (policy.c), the steps after every signature has been checked. */
#ifndef PHX_ATTEST_TCB_H
#define PHX_ATTEST_TCB_H

#include "attest_internal.h"
#include "pck.h"

/* QE Identity policy (Intel QVL, QE identity verification): MRSIGNER,
 * ISVPRODID, masked MISCSELECT and ATTRIBUTES, a production QE, then ISVSVN ->
 * its TCB level (*level points into qi). */
phx_err_t attest_qe_identity_check(const qe_identity_t *qi, const phx_sgx_report_t *qe,
                                   const isv_level_t **level, phx_error_t *e);

/* Platform TCB level (SGX components + PCESVN, TDX components), the TDX module
 * identity for TDX, then the merged status and advisory IDs (platform, module,
 * QE) into res. A merged Revoked is an error. */
phx_err_t attest_tcb_evaluate(const tcb_info_t *t, const pck_ext_t *pck, const phx_quote_t *q,
                              const isv_level_t *qe_level, phx_attest_result_t *res,
                              phx_error_t *e);

/* The workload itself: SGX DEBUG, TD attributes (DEBUG, reserved bits,
 * SEPT_VE_DISABLE), a v5 MR_SERVICE_TD, each unless the policy allows it. */
phx_err_t attest_workload_check(const phx_quote_t *q, const phx_attest_policy_t *p, phx_error_t *e);

/* Status, minimum TCB date and advisory lists of the policy against res. */
phx_err_t attest_policy_apply(const phx_attest_policy_t *p, const phx_attest_result_t *res,
                              phx_error_t *e);

#endif
