/* libFuzzer: what phx.state's store and anchor hand the sandbox (src/sandbox/
 * state.c): a slot's version, anchored hash and the bytes served for it, as a
 * compromised host or chain node could make them. Byte 0 picks the op (get,
 * put, cas) and whether the hash is made to match the bytes (so the opening
 * and type checks are reached too); then 8 bytes of version, 32 of hash, and
 * the served bytes. Any input must give an answer, a catchable error or
 * state_integrity, never a crash; bytes never sealed under the key never
 * open. */
#include <stdlib.h>
#include <string.h>

#include "../src/sandbox/internal.h"
#include "phx/crypto.h"

static const uint8_t *g_data;
static size_t g_size;

static phx_err_t fz_read(void *ctx, const char *cid, const uint8_t key[32],
                         phx_sandbox_state_slot_t *out, phx_error_t *e)
{
    (void)ctx, (void)cid, (void)key, (void)e;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | g_data[1 + i];
    out->version = v;
    const uint8_t *sealed = g_data + 41;
    size_t n = g_size - 41;
    if (g_data[0] & 4)
        phx_keccak256(sealed, n, out->hash);
    else
        memcpy(out->hash, g_data + 9, 32);
    return n ? phx_buf_append(&out->sealed, sealed, n) : PHX_OK;
}

static phx_err_t fz_cas(void *ctx, const char *cid, const uint8_t key[32], uint64_t expected,
                        const uint8_t *sealed, size_t len, uint64_t *current, phx_error_t *e)
{
    (void)ctx, (void)cid, (void)key, (void)sealed, (void)len;
    if (g_data[0] & 8) return PHX_OK;
    *current = expected + 1;
    return phx_fail(e, PHX_ERR_STATE, "conflict");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 41) return 0;
    g_data = data, g_size = size;
    static const char *const ops[] = {"state.get", "state.put", "state.cas", "state.get"};
    static const char *const bodies[] = {
        "{\"key\":\"k\"}", "{\"key\":\"k\",\"type\":\"json\",\"value\":\"MQ==\"}",
        "{\"key\":\"k\",\"expected\":3,\"type\":\"string\",\"value\":\"\"}", "{\"key\":\"k\"}"};
    unsigned k = data[0] & 3;
    static phx_sandbox_config_t cfg;
    static phx_sandbox_limits_t limits;
    if (!limits.log_bytes) phx_sandbox_limits_default(&limits);
    cfg.limits = limits;
    cfg.kv_dir = "/nonexistent/phx-fuzz";
    cfg.state = (phx_sandbox_state_t){.read = fz_read, .cas = fz_cas};
    sbx_host_t h = {.cfg = &cfg, .limits = &limits, .contract_id = "0xfuzz", .have_keys = true};
    memset(h.kv_key, 0x5a, 32);
    phx_buf_t reply = PHX_BUF_INIT;
    phx_error_t e;
    phx_err_t err =
        sbx_host_dispatch(&h, ops[k], (const uint8_t *)bodies[k], strlen(bodies[k]), &reply, &e);
    /* Served bytes no one sealed under this key can only end in an error. */
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | data[1 + i];
    if (!err && k != 1 && k != 2 && v != 0) abort();
    if (h.fatal != PHX_SBX_FAIL_NONE && h.fatal != PHX_SBX_FAIL_STATE_INTEGRITY) abort();
    phx_buf_free(&reply);
    sbx_host_close(&h);
    return 0;
}
