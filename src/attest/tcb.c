/* TCB evaluation: which TCB level of the collateral a verified platform, QE and
 * TDX module sit at, and the merged status with its advisory IDs. Pure
 * functions over parsed collateral and a parsed quote; no cryptography here
 * (verify.c has checked every signature before it asks). Intel SGX/TDX DCAP
 * Quote Verification Library: TCB level matching and convergeTcbStatus. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tcb.h"

/* Statuses as flags so that merging is a union (Intel QVL convergeTcbStatus:
 * an OutOfDate QE on a platform needing configuration is OutOfDateConfigurationNeeded). */
enum { F_SWH = 1, F_CONF = 2, F_OOD = 4, F_REV = 8 };
static unsigned status_flags(phx_tcb_status_t s)
{
    static const unsigned f[PHX_TCB__COUNT] = {0,     F_SWH,          F_CONF, F_CONF | F_SWH,
                                               F_OOD, F_OOD | F_CONF, F_REV};
    return f[s];
}
static phx_tcb_status_t status_from_flags(unsigned f)
{
    if (f & F_REV) return PHX_TCB_REVOKED;
    if (f & F_OOD)
        return f & F_CONF ? PHX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED : PHX_TCB_OUT_OF_DATE;
    if (f & F_CONF)
        return f & F_SWH ? PHX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED
                         : PHX_TCB_CONFIGURATION_NEEDED;
    return f & F_SWH ? PHX_TCB_SW_HARDENING_NEEDED : PHX_TCB_UP_TO_DATE;
}

static phx_err_t add_advisories(phx_attest_result_t *res, const advisories_t *adv, phx_error_t *e)
{
    for (size_t i = 0; i < adv->n; i++) {
        bool dup = false;
        for (size_t j = 0; j < res->n_advisory_ids && !dup; j++)
            dup = strcmp(res->advisory_ids[j], adv->ids[i]) == 0;
        if (dup) continue;
        if (res->n_advisory_ids >= PHX_ATTEST_MAX_ADVISORIES)
            return phx_fail(e, PHX_ERR_LIMIT, "more than %d advisory IDs",
                            PHX_ATTEST_MAX_ADVISORIES);
        snprintf(res->advisory_ids[res->n_advisory_ids++], PHX_ATTEST_ADVISORY_LEN, "%s",
                 adv->ids[i]);
    }
    return PHX_OK;
}

static bool svn_ge(const uint8_t *have, const uint8_t *want)
{
    for (int i = 0; i < 16; i++)
        if (have[i] < want[i]) return false;
    return true;
}

phx_err_t attest_qe_identity_check(const qe_identity_t *qi, const phx_sgx_report_t *qe,
                                   const isv_level_t **level, phx_error_t *e)
{
    if (memcmp(qe->mr_signer, qi->mrsigner, 32) != 0)
        return phx_fail(e, PHX_ERR_VERIFY, "QE MRSIGNER does not match the QE Identity");
    if (qe->isv_prod_id != qi->isvprodid)
        return phx_fail(e, PHX_ERR_VERIFY, "QE ISVPRODID %u, QE Identity wants %u", qe->isv_prod_id,
                        qi->isvprodid);
    if ((qe->misc_select & qi->miscselect_mask) != (qi->miscselect & qi->miscselect_mask))
        return phx_fail(e, PHX_ERR_VERIFY, "QE MISCSELECT does not match the QE Identity");
    for (int i = 0; i < 16; i++)
        if ((qe->attributes[i] & qi->attributes_mask[i]) !=
            (qi->attributes[i] & qi->attributes_mask[i]))
            return phx_fail(e, PHX_ERR_VERIFY, "QE ATTRIBUTES do not match the QE Identity");
    if (qe->attributes[0] & 0x02)
        return phx_fail(e, PHX_ERR_VERIFY, "the quoting enclave is a debug enclave");
    for (size_t i = 0; i < qi->n_levels; i++)
        if (qe->isv_svn >= qi->levels[i].isvsvn) {
            *level = &qi->levels[i];
            return PHX_OK;
        }
    return phx_fail(e, PHX_ERR_VERIFY, "QE ISVSVN %u is below every QE Identity TCB level",
                    qe->isv_svn);
}

/* TDX module identity (TCB Info v3 tdxModule / tdxModuleIdentities): the SEAM
 * module's signer and attributes, and its ISVSVN (tee_tcb_svn[0]) -> TCB level
 * of the identity named TDX_<tee_tcb_svn[1]> when the major version is > 0. */
static phx_err_t check_tdx_module(const tcb_info_t *t, const phx_td_report_t *td,
                                  const isv_level_t **level, phx_error_t *e)
{
    const uint8_t *mrsigner = t->module_mrsigner, *attr = t->module_attributes,
                  *mask = t->module_attributes_mask;
    const tdx_module_id_t *mid = NULL;
    *level = NULL;
    if (!t->has_module) return phx_fail(e, PHX_ERR_VERIFY, "TDX TCB Info has no tdxModule");
    if (td->tee_tcb_svn[1] > 0 && t->n_modules > 0) {
        char want[16];
        snprintf(want, sizeof want, "TDX_%02X", td->tee_tcb_svn[1]);
        for (size_t i = 0; i < t->n_modules && !mid; i++)
            if (strcasecmp(t->modules[i].id, want) == 0) mid = &t->modules[i];
        if (!mid)
            return phx_fail(e, PHX_ERR_VERIFY, "TCB Info has no TDX module identity %s", want);
        mrsigner = mid->mrsigner;
        attr = mid->attributes;
        mask = mid->attributes_mask;
    }
    if (memcmp(td->mr_signer_seam, mrsigner, 48) != 0)
        return phx_fail(e, PHX_ERR_VERIFY, "TDX module MRSIGNER does not match the TCB Info");
    for (int i = 0; i < 8; i++)
        if ((td->seam_attributes[i] & mask[i]) != (attr[i] & mask[i]) ||
            (td->seam_attributes[i] & ~mask[i]))
            return phx_fail(e, PHX_ERR_VERIFY, "TDX module attributes do not match the TCB Info");
    if (!mid) return PHX_OK;
    for (size_t i = 0; i < mid->n_levels; i++)
        if (td->tee_tcb_svn[0] >= mid->levels[i].isvsvn) {
            *level = &mid->levels[i];
            return PHX_OK;
        }
    return phx_fail(e, PHX_ERR_VERIFY, "TDX module ISVSVN %u is below every TCB level of %s",
                    td->tee_tcb_svn[0], mid->id);
}

static const tcb_level_t *match_platform(const tcb_info_t *t, const pck_ext_t *pck,
                                         const phx_quote_t *q)
{
    for (size_t i = 0; i < t->n_levels; i++) {
        const tcb_level_t *l = &t->levels[i];
        if (pck->pce_svn < l->pcesvn || !svn_ge(pck->cpu_svn_components, l->sgx)) continue;
        if (q->header.tee_type == PHX_QUOTE_TEE_TDX &&
            (!l->has_tdx || !svn_ge(q->td.tee_tcb_svn, l->tdx)))
            continue;
        return l;
    }
    return NULL;
}

phx_err_t attest_tcb_evaluate(const tcb_info_t *t, const pck_ext_t *pck, const phx_quote_t *q,
                              const isv_level_t *qe_level, phx_attest_result_t *res, phx_error_t *e)
{
    phx_err_t err;
    const tcb_level_t *level = match_platform(t, pck, q);
    if (!level)
        return phx_fail(e, PHX_ERR_VERIFY,
                        "no TCB level in the TCB Info matches the platform (PCESVN %u)",
                        pck->pce_svn);
    unsigned flags = status_flags(level->status);
    res->tcb_date = level->tcb_date;
    if ((err = add_advisories(res, &level->adv, e))) return err;
    if (q->header.tee_type == PHX_QUOTE_TEE_TDX) {
        const isv_level_t *mod_level = NULL;
        if ((err = check_tdx_module(t, &q->td, &mod_level, e))) return err;
        if (mod_level) {
            flags |= status_flags(mod_level->status);
            if ((err = add_advisories(res, &mod_level->adv, e))) return err;
        }
    }
    flags |= status_flags(qe_level->status);
    if ((err = add_advisories(res, &qe_level->adv, e))) return err;
    res->status = status_from_flags(flags);
    if (res->status == PHX_TCB_REVOKED)
        return phx_fail(e, PHX_ERR_VERIFY, "the platform or QE TCB is revoked");
    return PHX_OK;
}
