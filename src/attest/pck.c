/* The Intel SGX PCK certificate extension (OID 1.2.840.113741.1.13.1): PPID, the
 * platform TCB (16 CPU SVN components + PCESVN), PCE-ID and FMSPC. Spec: Intel
 * SGX PCK Certificate and CRL Profile, section 3.5. Walked with der.c's
 * der_next: every tag and length is checked against the bytes that remain. */
#include <string.h>

#include "pck.h"
#include "x509.h"

/* 1.2.840.113741.1.13.1 in DER content bytes. */
static const uint8_t sgx_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D, 0x01, 0x0D, 0x01};

/* Is oid == sgx_oid || suffix (suffix_len bytes)? */
static bool oid_is(const der_t *oid, const uint8_t *suffix, size_t suffix_len)
{
    return oid->tag == 0x06 && oid->len == sizeof sgx_oid + suffix_len &&
           memcmp(oid->p, sgx_oid, sizeof sgx_oid) == 0 &&
           memcmp(oid->p + sizeof sgx_oid, suffix, suffix_len) == 0;
}

static phx_err_t der_uint(const der_t *v, uint32_t max, uint32_t *out, phx_error_t *e)
{
    if (v->tag != 0x02 || v->len == 0 || v->len > 3 || (v->p[0] & 0x80))
        return phx_fail(e, PHX_ERR_INVALID, "PCK extension: bad INTEGER");
    uint32_t x = 0;
    for (size_t i = 0; i < v->len; i++)
        x = x << 8 | v->p[i];
    if (x > max) return phx_fail(e, PHX_ERR_RANGE, "PCK extension: INTEGER %u too large", x);
    *out = x;
    return PHX_OK;
}

static phx_err_t der_octets(const der_t *v, uint8_t *dst, size_t n, const char *what,
                            phx_error_t *e)
{
    if (v->tag != 0x04 || v->len != n)
        return phx_fail(e, PHX_ERR_INVALID, "PCK extension: %s is not a %zu-byte OCTET STRING",
                        what, n);
    memcpy(dst, v->p, n);
    return PHX_OK;
}

static phx_err_t parse_tcb(const der_t *seq, pck_ext_t *x, phx_error_t *e)
{
    if (seq->tag != 0x30) return phx_fail(e, PHX_ERR_INVALID, "PCK extension: TCB not a SEQUENCE");
    phx_reader_t r = phx_reader(seq->p, seq->len);
    uint32_t seen = 0;
    while (phx_reader_left(&r)) {
        der_t item, oid, val;
        phx_err_t err;
        if ((err = der_next(&r, &item, e))) return err;
        if (item.tag != 0x30) return phx_fail(e, PHX_ERR_INVALID, "PCK extension: TCB item");
        phx_reader_t ir = phx_reader(item.p, item.len);
        if ((err = der_next(&ir, &oid, e)) || (err = der_next(&ir, &val, e))) return err;
        for (uint8_t i = 1; i <= 18; i++) {
            const uint8_t suffix[2] = {0x02, i};
            if (!oid_is(&oid, suffix, 2)) continue;
            uint32_t v;
            if (i <= 16) {
                if ((err = der_uint(&val, 255, &v, e))) return err;
                x->cpu_svn_components[i - 1] = (uint8_t)v;
            } else if (i == 17) {
                if ((err = der_uint(&val, 65535, &v, e))) return err;
                x->pce_svn = (uint16_t)v;
            } else {
                if ((err = der_octets(&val, x->cpu_svn, 16, "CPUSVN", e))) return err;
            }
            seen |= 1u << i;
        }
    }
    if ((seen & 0x3FFFEu) != 0x3FFFEu) /* bits 1..17: 16 components and PCESVN */
        return phx_fail(e, PHX_ERR_INVALID, "PCK extension: TCB is incomplete");
    return PHX_OK;
}

phx_err_t pck_ext_parse(const uint8_t *p, size_t len, pck_ext_t *x, phx_error_t *e)
{
    phx_reader_t top = phx_reader(p, len);
    der_t outer;
    phx_err_t err;
    memset(x, 0, sizeof *x);
    if ((err = der_next(&top, &outer, e))) return err;
    if (outer.tag != 0x30) return phx_fail(e, PHX_ERR_INVALID, "PCK extension: not a SEQUENCE");
    phx_reader_t r = phx_reader(outer.p, outer.len);
    bool have_tcb = false, have_fmspc = false, have_pceid = false;
    while (phx_reader_left(&r)) {
        der_t item, oid, val;
        if ((err = der_next(&r, &item, e))) return err;
        if (item.tag != 0x30) return phx_fail(e, PHX_ERR_INVALID, "PCK extension: item");
        phx_reader_t ir = phx_reader(item.p, item.len);
        if ((err = der_next(&ir, &oid, e)) || (err = der_next(&ir, &val, e))) return err;
        const uint8_t ppid[] = {0x01}, tcb[] = {0x02}, pceid[] = {0x03}, fmspc[] = {0x04};
        if (oid_is(&oid, ppid, 1)) {
            if ((err = der_octets(&val, x->ppid, 16, "PPID", e))) return err;
        } else if (oid_is(&oid, tcb, 1)) {
            if ((err = parse_tcb(&val, x, e))) return err;
            have_tcb = true;
        } else if (oid_is(&oid, pceid, 1)) {
            if ((err = der_octets(&val, x->pce_id, 2, "PCE-ID", e))) return err;
            have_pceid = true;
        } else if (oid_is(&oid, fmspc, 1)) {
            if ((err = der_octets(&val, x->fmspc, 6, "FMSPC", e))) return err;
            have_fmspc = true;
        }
    }
    if (!have_tcb || !have_fmspc || !have_pceid)
        return phx_fail(e, PHX_ERR_INVALID, "PCK extension lacks %s",
                        !have_tcb     ? "TCB"
                        : !have_fmspc ? "FMSPC"
                                      : "PCE-ID");
    return PHX_OK;
}

const uint8_t *pck_ext_oid(size_t *len)
{
    *len = sizeof sgx_oid;
    return sgx_oid;
}
