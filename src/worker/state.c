/* phx.state's chain side (docs/js.md "phx.state", contracts/StateAnchor.sol):
 * the sandbox seals and checks; this reads a slot (version, block, hash) and
 * the sealed bytes from the StateWritten event of that block, and writes a
 * compare-and-set the worker's identity key signs and its operator's account
 * sends (the identity key's nonce belongs to the job thread). One state
 * operation at a time per worker, under state_lock: it owns w->rpc and
 * w->operator_ after start-up.
 * The test fault PHX_TEST_STALE_STATE_FILE (sim TEE only, checked at start):
 * while that file exists and names this worker's address, reads serve the
 * sealed bytes of the version before the anchored one, as a host replaying
 * an old copy would; the sandbox must refuse them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon_internal.h"
#include "phx/crypto.h"
#include "phx/json.h"

#define STATE_WRITE_SIG "write(bytes32,bytes32,uint64,bytes,bytes)"
#define STATE_EVENT_SIG "StateWritten(bytes32,bytes32,uint64,bytes32,bytes)"

static phx_err_t parse_cid(const char *contract_id, uint8_t cid[32], phx_error_t *e)
{
    if (phx_hex_decode_fixed(contract_id, cid, 32, NULL))
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "phx.state needs a deployed contract's id");
    return PHX_OK;
}

static void word_u64(uint8_t w[32], uint64_t v)
{
    memset(w, 0, 32);
    for (int i = 0; i < 8; i++)
        w[31 - i] = (uint8_t)(v >> (8 * i));
}

static bool stale_fault(phx_worker_t *w)
{
    const char *path = w->state_stale_file[0] ? w->state_stale_file : NULL;
    if (!path) return false;
    phx_buf_t b = PHX_BUF_INIT;
    if (phx_file_read(path, &b, NULL)) return false;
    char me[43];
    me[0] = '0', me[1] = 'x';
    phx_hex_encode_to(me + 2, w->address, 20);
    bool hit = phx_buf_append_byte(&b, 0) == PHX_OK && strstr((const char *)b.ptr, me) != NULL;
    phx_buf_free(&b);
    return hit;
}

static phx_err_t read_slot(phx_worker_t *w, const uint8_t cid[32], const uint8_t key[32],
                           uint64_t *version, uint64_t *block, uint8_t hash[32], phx_error_t *e)
{
    json_t *args = json_pack("[o,o]", phx_json_hex(cid, 32), phx_json_hex(key, 32)), *res = NULL;
    phx_err_t err = args ? phx_chain_read(w->rpc, w->dep.state, "slots(bytes32,bytes32)", args,
                                          "(uint64,uint64,bytes32)", &res, e)
                         : phx_fail(e, PHX_ERR_NOMEM, "state read");
    json_decref(args);
    const char *v = err ? NULL : json_string_value(json_array_get(res, 0));
    const char *b = err ? NULL : json_string_value(json_array_get(res, 1));
    const char *h = err ? NULL : json_string_value(json_array_get(res, 2));
    phx_u256_t vu, bu;
    if (!err && (!v || !b || !h || phx_u256_from_str(v, &vu, NULL) ||
                 phx_u256_to_u64(&vu, version, NULL) || phx_u256_from_str(b, &bu, NULL) ||
                 phx_u256_to_u64(&bu, block, NULL) || phx_hex_decode_fixed(h, hash, 32, NULL)))
        err = phx_fail(e, PHX_ERR_REMOTE, "StateAnchor.slots: unexpected answer");
    json_decref(res);
    return err;
}

/* Wait (up to ~2 s) until the node's head is at block: a node can answer an
 * eth_call with state a block has just written before its eth_getLogs range
 * reaches that block (anvil, mid-mine; nodes behind one load balancer), and
 * the logs of a block past the head are refused, not empty. */
static phx_err_t wait_head(phx_worker_t *w, uint64_t block, phx_error_t *e)
{
    for (int i = 0;; i++) {
        uint64_t head = 0;
        phx_err_t err = phx_rpc_block_number(w->rpc, &head, e);
        if (err || head >= block) return err;
        if (i == 40)
            return phx_fail(e, PHX_ERR_REMOTE,
                            "the node's head %llu is behind block %llu of its own state",
                            (unsigned long long)head, (unsigned long long)block);
        usleep(50 * 1000);
    }
}

/* The sealed bytes of version `version` of the slot, from its StateWritten
 * event (in [from, to]); PHX_ERR_NOT_FOUND when the node has none. */
static phx_err_t read_blob(phx_worker_t *w, const uint8_t cid[32], const uint8_t key[32],
                           uint64_t version, uint64_t from, uint64_t to, phx_buf_t *out,
                           phx_error_t *e)
{
    uint8_t t0[32], tv[32];
    phx_keccak256((const uint8_t *)STATE_EVENT_SIG, strlen(STATE_EVENT_SIG), t0);
    word_u64(tv, version);
    phx_evm_filter_t f = {.from_block = from, .to_block = to, .address_count = 1};
    f.addresses = (const uint8_t(*)[20])w->dep.state;
    f.topic_sets[0] = (const uint8_t(*)[32])t0, f.topic_counts[0] = 1;
    f.topic_sets[1] = (const uint8_t(*)[32])cid, f.topic_counts[1] = 1;
    f.topic_sets[2] = (const uint8_t(*)[32])key, f.topic_counts[2] = 1;
    f.topic_sets[3] = (const uint8_t(*)[32])tv, f.topic_counts[3] = 1;
    phx_evm_log_t *logs = NULL;
    size_t n = 0;
    phx_err_t err = phx_rpc_get_logs(w->rpc, &f, &logs, &n, e);
    json_t *dec = NULL;
    if (!err && n == 0)
        err = phx_fail(e, PHX_ERR_NOT_FOUND, "StateWritten of version %llu not found",
                       (unsigned long long)version);
    /* data = abi.encode(bytes32 hash, bytes blob): decoded by the fuzzed ABI reader. */
    if (!err)
        err =
            phx_abi_decode_json("(bytes32,bytes)", logs[n - 1].data, logs[n - 1].data_len, &dec, e);
    const char *hex = err ? NULL : json_string_value(json_array_get(dec, 1));
    if (!err && (!hex || phx_hex_decode(hex, out, e)))
        err = phx_fail(e, PHX_ERR_REMOTE, "StateWritten: unexpected data");
    json_decref(dec);
    for (size_t i = 0; i < n; i++)
        phx_evm_log_clear(&logs[i]);
    free(logs);
    return err;
}

phx_err_t wk_state_read(void *ctx, const char *contract_id, const uint8_t key[32],
                        phx_sandbox_state_slot_t *out, phx_error_t *e)
{
    phx_worker_t *w = ctx;
    uint8_t cid[32];
    phx_err_t err = parse_cid(contract_id, cid, e);
    if (err) return err;
    if (!phx_chain_has_state(&w->dep))
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "this deployment has no StateAnchor");
    pthread_mutex_lock(&w->state_lock);
    uint64_t block = 0;
    err = read_slot(w, cid, key, &out->version, &block, out->hash, e);
    if (!err && out->version) err = wait_head(w, block, e);
    if (!err && out->version) {
        if (out->version > 1 && stale_fault(w))
            /* The fault: the copy of the version before, wherever it was mined. */
            err = read_blob(w, cid, key, out->version - 1, w->dep.block, block, &out->sealed, e);
        else
            err = read_blob(w, cid, key, out->version, block, block, &out->sealed, e);
    }
    pthread_mutex_unlock(&w->state_lock);
    return err;
}

phx_err_t wk_state_cas(void *ctx, const char *contract_id, const uint8_t key[32], uint64_t expected,
                       const uint8_t *sealed, size_t len, uint64_t *current, phx_error_t *e)
{
    phx_worker_t *w = ctx;
    uint8_t cid[32];
    phx_err_t err = parse_cid(contract_id, cid, e);
    if (err) return err;
    if (!phx_chain_has_state(&w->dep))
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "this deployment has no StateAnchor");
    uint8_t hash[32], digest[32], sig[65];
    phx_keccak256(sealed, len, hash);
    phx_chain_state_write_digest(w->dep.chain_id, w->dep.state, cid, key, expected, hash, digest);
    if ((err = phx_secp256k1_sign(w->sk, digest, sig))) return phx_fail(e, err, "state: sign");
    char ev[24];
    snprintf(ev, sizeof ev, "%llu", (unsigned long long)expected);
    json_t *args = json_pack("[o,o,s,o,o]", phx_json_hex(cid, 32), phx_json_hex(key, 32), ev,
                             phx_json_hex(sealed, len), phx_json_hex(sig, 65));
    if (!args) return phx_fail(e, PHX_ERR_NOMEM, "state write");
    pthread_mutex_lock(&w->state_lock);
    err = phx_chain_transact(w->operator_, w->dep.state, STATE_WRITE_SIG, args, NULL, e);
    if (err) {
        /* Lost the race (or was behind from the start): the anchor says where it is. */
        uint64_t v = 0, b = 0;
        uint8_t h[32];
        phx_error_t re = {0};
        if (!read_slot(w, cid, key, &v, &b, h, &re) && v != expected) {
            *current = v;
            err = phx_fail(e, PHX_ERR_STATE, "phx.state: version %llu, not %llu",
                           (unsigned long long)v, (unsigned long long)expected);
        }
    }
    pthread_mutex_unlock(&w->state_lock);
    json_decref(args);
    return err;
}
