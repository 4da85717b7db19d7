/* The signed result envelope (include/phx/worker.h). The digest is built
 * exactly as contracts/Jobs.sol resultDigest builds it: abi.encode of six
 * 32-byte words, so a signature made here passes Jobs.fulfill unchanged. */
#include <stdlib.h>
#include <string.h>

#include "phx/chain.h"
#include "phx/crypto.h"
#include "phx/worker.h"

static void word_u64(uint8_t w[32], uint64_t v)
{
    memset(w, 0, 32);
    for (int i = 0; i < 8; i++)
        w[31 - i] = (uint8_t)(v >> (8 * i));
}

void phx_result_digest(const uint8_t domain[32], const uint8_t request_id[32],
                       const uint8_t contract_id[32], const uint8_t code_hash[32], bool ok,
                       const uint8_t *output, size_t output_len, uint8_t digest[32])
{
    uint8_t words[192];
    memcpy(words, domain, 32);
    memcpy(words + 32, request_id, 32);
    memcpy(words + 64, contract_id, 32);
    memcpy(words + 96, code_hash, 32);
    word_u64(words + 128, ok ? 1 : 0);
    phx_keccak256(output, output_len, words + 160);
    phx_keccak256(words, sizeof words, digest);
}

void phx_result_direct_request_id(const uint8_t input_hash[32], uint64_t timestamp,
                                  uint8_t request_id[32])
{
    static const char tag_text[] = "phx-direct-v1";
    uint8_t words[96];
    phx_keccak256(tag_text, sizeof tag_text - 1, words);
    memcpy(words + 32, input_hash, 32);
    word_u64(words + 64, timestamp);
    phx_keccak256(words, sizeof words, request_id);
}

void phx_result_direct_request_id_nonce(const uint8_t input_hash[32], const uint8_t nonce[32],
                                        uint8_t request_id[32])
{
    static const char tag_text[] = "phx-direct-v2";
    uint8_t words[96];
    phx_keccak256(tag_text, sizeof tag_text - 1, words);
    memcpy(words + 32, input_hash, 32);
    memcpy(words + 64, nonce, 32);
    phx_keccak256(words, sizeof words, request_id);
}

static void direct_id(const phx_result_t *r, uint8_t out[32])
{
    if (r->has_nonce)
        phx_result_direct_request_id_nonce(r->input_hash, r->nonce, out);
    else
        phx_result_direct_request_id(r->input_hash, r->timestamp, out);
}

void phx_result_free(phx_result_t *r)
{
    if (r) phx_buf_free(&r->output);
}

static void result_digest(const phx_result_t *r, uint8_t digest[32])
{
    uint8_t domain[32];
    phx_chain_jobs_domain(r->chain_id, r->jobs, domain);
    phx_result_digest(domain, r->request_id, r->contract_id, r->code_hash, r->ok, r->output.ptr,
                      r->output.len, digest);
}

phx_err_t phx_result_sign(phx_result_t *r, const uint8_t sk[32], phx_error_t *e)
{
    uint8_t digest[32];
    if (r->kind != PHX_RESULT_DIRECT && r->kind != PHX_RESULT_JOB)
        return phx_fail(e, PHX_ERR_INVALID, "result kind unset");
    if (r->output.len > PHX_RESULT_MAX_OUTPUT)
        return phx_fail(e, PHX_ERR_LIMIT, "output of %zu bytes exceeds %u", r->output.len,
                        PHX_RESULT_MAX_OUTPUT);
    if (r->kind == PHX_RESULT_DIRECT) direct_id(r, r->request_id);
    if (phx_eth_address_from_seckey(sk, r->worker))
        return phx_fail(e, PHX_ERR_CRYPTO, "bad worker key");
    result_digest(r, digest);
    if (phx_secp256k1_sign(sk, digest, r->signature))
        return phx_fail(e, PHX_ERR_CRYPTO, "signing the result");
    r->signature[64] = (uint8_t)(r->signature[64] + 27);
    return PHX_OK;
}

phx_err_t phx_result_to_json(const phx_result_t *r, json_t **out, phx_error_t *e)
{
    json_t *value = NULL;
    /* The output is shown as a value when it is JSON; the bytes stay the truth. */
    if (r->output.len)
        value = json_loadb((const char *)r->output.ptr, r->output.len, JSON_DECODE_ANY, NULL);
    *out = json_pack(
        "{s:s,s:I,s:o,s:o,s:o,s:o,s:o,s:b,s:o*,s:o,s:o,s:I,s:o}", "kind",
        r->kind == PHX_RESULT_JOB ? "job" : "direct", "chain_id", (json_int_t)r->chain_id, "jobs",
        phx_json_hex(r->jobs, 20), "request_id", phx_json_hex(r->request_id, 32), "contract_id",
        phx_json_hex(r->contract_id, 32), "code_hash", phx_json_hex(r->code_hash, 32), "input_hash",
        phx_json_hex(r->input_hash, 32), "ok", r->ok, "output", value, "output_bytes",
        phx_json_hex(r->output.ptr, r->output.len), "worker", phx_json_hex(r->worker, 20),
        "timestamp", (json_int_t)r->timestamp, "signature", phx_json_hex(r->signature, 65));
    if (*out && r->has_nonce) json_object_set_new(*out, "nonce", phx_json_hex(r->nonce, 32));
    if (!*out) return phx_fail(e, PHX_ERR_NOMEM, "result JSON");
    return PHX_OK;
}

phx_err_t phx_result_from_json(const json_t *j, phx_result_t *r, phx_error_t *e)
{
    phx_err_t err;
    const char *kind;
    int64_t chain_id, timestamp;
    memset(r, 0, sizeof *r);
    if ((err = phx_json_get_str(j, "kind", &kind, e))) goto out;
    if (strcmp(kind, "direct") == 0) {
        r->kind = PHX_RESULT_DIRECT;
    } else if (strcmp(kind, "job") == 0) {
        r->kind = PHX_RESULT_JOB;
    } else {
        err = phx_fail(e, PHX_ERR_INVALID, "\"kind\" must be \"direct\" or \"job\"");
        goto out;
    }
    if ((err = phx_json_get_int(j, "chain_id", &chain_id, e))) goto out;
    if ((err = phx_json_get_int(j, "timestamp", &timestamp, e))) goto out;
    /* Signed: a failed run's error cannot be shown as a result. */
    if ((err = phx_json_get_bool(j, "ok", &r->ok, e))) goto out;
    if (chain_id < 0 || timestamp < 0) {
        err = phx_fail(e, PHX_ERR_RANGE, "negative chain_id or timestamp");
        goto out;
    }
    r->chain_id = (uint64_t)chain_id;
    r->timestamp = (uint64_t)timestamp;
    if ((err = phx_json_get_hex_fixed(j, "jobs", r->jobs, 20, e))) goto out;
    if ((err = phx_json_get_hex_fixed(j, "request_id", r->request_id, 32, e))) goto out;
    if (json_object_get(j, "nonce")) {
        if (r->kind != PHX_RESULT_DIRECT) {
            err = phx_fail(e, PHX_ERR_INVALID, "only a direct result names a caller nonce");
            goto out;
        }
        if ((err = phx_json_get_hex_fixed(j, "nonce", r->nonce, 32, e))) goto out;
        r->has_nonce = true;
    }
    if ((err = phx_json_get_hex_fixed(j, "contract_id", r->contract_id, 32, e))) goto out;
    if ((err = phx_json_get_hex_fixed(j, "code_hash", r->code_hash, 32, e))) goto out;
    if ((err = phx_json_get_hex_fixed(j, "input_hash", r->input_hash, 32, e))) goto out;
    if ((err = phx_json_get_hex_fixed(j, "worker", r->worker, 20, e))) goto out;
    if ((err = phx_json_get_hex_fixed(j, "signature", r->signature, 65, e))) goto out;
    const char *hex;
    if ((err = phx_json_get_str(j, "output_bytes", &hex, e))) goto out;
    if (strlen(hex) > 2 + 2 * (size_t)PHX_RESULT_MAX_OUTPUT) {
        err = phx_fail(e, PHX_ERR_LIMIT, "output larger than %u bytes", PHX_RESULT_MAX_OUTPUT);
        goto out;
    }
    if ((err = phx_json_get_hex(j, "output_bytes", &r->output, e))) goto out;
    /* A shown value that differs from the signed bytes would mislead a reader. */
    const json_t *shown = json_object_get(j, "output");
    if (shown) {
        json_t *parsed =
            json_loadb((const char *)r->output.ptr, r->output.len, JSON_DECODE_ANY, NULL);
        bool same = parsed && json_equal(parsed, (json_t *)shown);
        json_decref(parsed);
        if (!same) {
            err = phx_fail(e, PHX_ERR_VERIFY, "\"output\" does not match the signed output_bytes");
            goto out;
        }
    }
out:
    if (err) phx_result_free(r);
    return err;
}

phx_err_t phx_result_verify(const phx_result_t *r, phx_error_t *e)
{
    uint8_t digest[32], pub[64], signer[20];
    if (r->output.len > PHX_RESULT_MAX_OUTPUT)
        return phx_fail(e, PHX_ERR_VERIFY, "output exceeds %u bytes", PHX_RESULT_MAX_OUTPUT);
    if (r->kind == PHX_RESULT_DIRECT) {
        uint8_t want[32];
        direct_id(r, want);
        if (memcmp(want, r->request_id, 32) != 0)
            return phx_fail(e, PHX_ERR_VERIFY,
                            "request_id does not commit to the input hash and %s",
                            r->has_nonce ? "nonce" : "timestamp");
    }
    result_digest(r, digest);
    if (phx_secp256k1_recover(digest, r->signature, pub))
        return phx_fail(e, PHX_ERR_VERIFY, "signature does not recover (malformed or high s)");
    phx_eth_address_from_pubkey(pub, signer);
    if (memcmp(signer, r->worker, 20) != 0)
        return phx_fail(e, PHX_ERR_VERIFY, "signature is not by the worker the result names");
    return PHX_OK;
}
