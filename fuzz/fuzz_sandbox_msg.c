/* libFuzzer: what a compromised sandbox child can send the worker. Every message
 * goes through phx_sandbox_msg_parse; host calls whose handling touches no files
 * or network (log, hash, key derivation inputs) then go through the real
 * dispatcher with its JSON parsing and budgets. */
#include <stdlib.h>
#include <string.h>

#include "../src/sandbox/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    phx_sandbox_msg_t m;
    if (phx_sandbox_msg_parse(data, size, &m, NULL)) return 0;
    if (m.type != PHX_SBX_CALL) return 0;
    /* The op points into the input: it must be NUL-terminated inside it. */
    if (memchr(m.op, 0, size - (size_t)((const uint8_t *)m.op - data)) == NULL) abort();
    if (strcmp(m.op, "log") && strcmp(m.op, "hash") && strcmp(m.op, "nope")) return 0;
    static phx_sandbox_config_t cfg;
    static phx_sandbox_limits_t limits;
    if (!limits.log_bytes) phx_sandbox_limits_default(&limits);
    cfg.limits = limits;
    cfg.kv_dir = "/nonexistent/phx-fuzz";
    sbx_host_t h = {.cfg = &cfg, .limits = &limits, .contract_id = "fuzz"};
    phx_buf_t reply = PHX_BUF_INIT;
    phx_error_t e;
    (void)sbx_host_dispatch(&h, m.op, m.body, m.body_len, &reply, &e);
    phx_buf_free(&reply);
    sbx_host_close(&h);
    return 0;
}
