/* Private to src/attest: the fields of the PCK certificate's SGX extension that
 * verification uses (src/tee writes the same extension for the sim PCK). */
#ifndef PHX_ATTEST_PCK_H
#define PHX_ATTEST_PCK_H

#include "phx/core.h"

typedef struct {
    uint8_t ppid[16];
    uint8_t cpu_svn_components[16];
    uint8_t cpu_svn[16];
    uint16_t pce_svn;
    uint8_t pce_id[2];
    uint8_t fmspc[6];
} pck_ext_t;

/* p/len: the DER content of the extension (the OCTET STRING's value). */
phx_err_t pck_ext_parse(const uint8_t *p, size_t len, pck_ext_t *x, phx_error_t *e);
/* The extension's OID content bytes (1.2.840.113741.1.13.1). */
const uint8_t *pck_ext_oid(size_t *len);

#endif
