/* See sim_quote.h. */
#include "sim_quote.h"

#include "phx/tee.h"

phx_err_t test_sim_quote(void *ctx, const uint8_t report_data[64], phx_buf_t *quote,
                         phx_buf_t *collateral, phx_error_t *e)
{
    phx_err_t err = phx_tee_quote(ctx, report_data, quote, e);
    return err ? err : phx_tee_sim_collateral(ctx, collateral, e);
}
