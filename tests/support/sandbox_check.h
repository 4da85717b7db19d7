/* Checks on sandbox results shared by the contract tests (test_js,
 * test_fetch_policy). Built into phx_test_support only where phx_sandbox is. */
#ifndef PHX_TEST_SUPPORT_SANDBOX_CHECK_H
#define PHX_TEST_SUPPORT_SANDBOX_CHECK_H

#include <stdbool.h>

#include "phx/sandbox.h"

/* true when r succeeded with output equal, as JSON, to json_text; otherwise
 * says on stderr what came instead. */
bool test_sandbox_output_is(const phx_sandbox_result_t *r, const char *json_text);

/* Says how a check that r failed with code came out, ok its verdict: when not
 * ok, on stderr what came instead; when ok, "  LABEL: CODE MESSAGE" on stdout
 * with CODE padded to width. Returns ok. */
bool test_sandbox_failure_report(const phx_sandbox_result_t *r, const char *code, bool ok,
                                 const char *label, int width);

#endif
