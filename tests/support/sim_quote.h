/* The sim-TEE quote fixture: a quote callback (the shape phx_kms_requester_t and
 * the worker take) answering with a quote of the sim TEE in ctx and that
 * platform's collateral. */
#ifndef PHX_TEST_SUPPORT_SIM_QUOTE_H
#define PHX_TEST_SUPPORT_SIM_QUOTE_H

#include <stdint.h>

#include "phx/core.h"

/* ctx is a phx_tee_t * of the sim backend. */
phx_err_t test_sim_quote(void *ctx, const uint8_t report_data[64], phx_buf_t *quote,
                         phx_buf_t *collateral, phx_error_t *e);

#endif
