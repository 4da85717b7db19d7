/* Source flavors (include/phx/js.h): a contract written for another runtime,
 * made into a Phalanx contract by a one-line wrapper before it is hashed,
 * deployed or run, so the code every worker runs and every verifier hashes is
 * exactly the wrapped text. The wrapper opens on the user's first line and adds
 * no line before it, so error locations keep the user's line numbers. What the
 * wrapper calls lives in the prelude (phx.flavors, src/js/prelude.js). */
#include <string.h>

#include "phx/js.h"

/* Chainlink Functions: the source is the body of an async function (top-level
 * return and await) that sees args, bytesArgs, secrets and Functions, and
 * returns the response bytes (a Uint8Array), which become the output. */
static const char chainlink_head[] =
    "export default async function (input, ctx) { const { args, bytesArgs, secrets, Functions, "
    "done } = phx.flavors.chainlinkFunctions(input, ctx); return done(await (async () => { ";
static const char chainlink_tail[] = "\n})()); }\n";

bool phx_js_flavor_known(const char *flavor)
{
    return flavor && (!strcmp(flavor, "phx") || !strcmp(flavor, "chainlink-functions"));
}

phx_err_t phx_js_flavor_wrap(const char *flavor, const uint8_t *src, size_t len, phx_buf_t *out,
                             phx_error_t *e)
{
    if (!flavor || !strcmp(flavor, "phx")) {
        if (phx_buf_append(out, src, len)) return phx_fail(e, PHX_ERR_NOMEM, "source");
        return PHX_OK;
    }
    if (strcmp(flavor, "chainlink-functions") != 0)
        return phx_fail(e, PHX_ERR_INVALID,
                        "unknown flavor \"%s\" (known: phx, chainlink-functions)", flavor);
    if (phx_buf_append_str(out, chainlink_head) || phx_buf_append(out, src, len) ||
        phx_buf_append_str(out, chainlink_tail))
        return phx_fail(e, PHX_ERR_NOMEM, "source");
    return PHX_OK;
}
