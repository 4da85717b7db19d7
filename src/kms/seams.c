/* Ready-made fillings for the KMS seams: quote verification through
 * src/attest, and a fixed measurement allowlist for a KMS run without a
 * chain. The Registry-backed peer check lives with the chain bindings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/kms.h"

phx_err_t phx_kms_verify_quote_attest(void *ctx, const uint8_t *quote, size_t quote_len,
                                      const uint8_t *collateral, size_t collateral_len, int64_t now,
                                      phx_kms_quote_info_t *info, phx_error_t *e)
{
    const phx_kms_attest_t *a = ctx;
    phx_attest_result_t *res = calloc(1, sizeof *res); /* large: keep it off the stack */
    if (!res) return phx_fail(e, PHX_ERR_NOMEM, "attest result");
    phx_err_t err = phx_attest_verify(a->verifier, quote, quote_len, collateral, collateral_len,
                                      now, a->policy, res, e);
    if (err) goto out;
    memset(info, 0, sizeof *info);
    info->tee_type = res->header.tee_type;
    snprintf(info->tcb_status, sizeof info->tcb_status, "%s", phx_tcb_status_name(res->status));
    switch (res->report_type) {
    case PHX_REPORT_SGX:
        memcpy(info->report_data, res->sgx.report_data, 64);
        memcpy(info->measurement, res->sgx.mr_enclave, 32);
        memcpy(info->measurement + 32, res->sgx.mr_signer, 32);
        info->measurement_len = 64;
        break;
    case PHX_REPORT_TD10:
    case PHX_REPORT_TD15:
        /* Registry.parseQuote: MRTD || RTMR0..3, the registers that name the code. */
        memcpy(info->report_data, res->td.report_data, 64);
        memcpy(info->measurement, res->td.mr_td, 48);
        for (int i = 0; i < 4; i++)
            memcpy(info->measurement + 48 + 48 * i, res->td.rt_mr[i], 48);
        info->measurement_len = 240;
        break;
    default:
        err = phx_fail(e, PHX_ERR_UNSUPPORTED, "quote body type %d", (int)res->report_type);
    }
out:
    free(res);
    return err;
}

phx_err_t phx_kms_allowlist_check(void *ctx, phx_kms_role_t role, const phx_kms_peer_t *peer,
                                  phx_error_t *e)
{
    (void)role;
    const phx_kms_allowlist_t *list = ctx;
    uint8_t id[32];
    phx_kms_measurement_id(peer->quote, id);
    for (size_t i = 0; i < list->count; i++)
        if (memcmp(list->measurements[i], id, 32) == 0) return PHX_OK;
    char hex[65];
    phx_hex_encode_to(hex, id, 32);
    return phx_fail(e, PHX_ERR_POLICY, "measurement 0x%s is not on the allowlist", hex);
}
