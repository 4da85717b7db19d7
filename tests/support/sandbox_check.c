/* See sandbox_check.h. */
#include "sandbox_check.h"

#include <stdio.h>
#include <string.h>

#include "phx/json.h"

bool test_sandbox_output_is(const phx_sandbox_result_t *r, const char *json_text)
{
    if (!r->ok) {
        fprintf(stderr, "  not ok: %s: %s\n", r->code, r->message);
        return false;
    }
    json_t *a = NULL, *b = NULL;
    phx_json_parse((const char *)r->output.ptr, r->output.len, &a, NULL);
    phx_json_parse(json_text, strlen(json_text), &b, NULL);
    bool eq = a && b && json_equal(a, b);
    if (!eq)
        fprintf(stderr, "  got %.*s\n  want %s\n", (int)r->output.len, r->output.ptr, json_text);
    json_decref(a);
    json_decref(b);
    return eq;
}

bool test_sandbox_failure_report(const phx_sandbox_result_t *r, const char *code, bool ok,
                                 const char *label, int width)
{
    if (!ok)
        fprintf(stderr, "  want %s, got %s: %s (output %.*s)\n", code, r->ok ? "ok" : r->code,
                r->message, (int)r->output.len, r->output.ptr ? (char *)r->output.ptr : "");
    else
        printf("  %s: %-*s %s\n", label, width, r->code, r->message);
    return ok;
}
