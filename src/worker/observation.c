/* A worker's signed observation of an on-chain request, as k-of-n peers
 * exchange it (round.c; docs/worker.md "k-of-n"): parsed from anyone, so
 * every field is checked, and fuzzed (fuzz/worker_observation.c). */
#include <string.h>

#include "phx/chain.h"
#include "phx/crypto.h"
#include "phx/worker.h"

phx_err_t phx_observation_parse(const json_t *j, phx_observation_t *o, phx_error_t *e)
{
    memset(o, 0, sizeof *o);
    if (!json_is_object(j)) return phx_fail(e, PHX_ERR_INVALID, "observation: not an object");
    json_t *rid = json_object_get(j, "request_id"), *okj = json_object_get(j, "ok");
    const char *out_s = json_string_value(json_object_get(j, "output"));
    const char *sig_s = json_string_value(json_object_get(j, "signature"));
    if (!json_is_integer(rid) || json_integer_value(rid) < 1)
        return phx_fail(e, PHX_ERR_INVALID, "observation: request_id must be a number above 0");
    if (!json_is_boolean(okj)) return phx_fail(e, PHX_ERR_INVALID, "observation: ok must be bool");
    if (!out_s || !sig_s)
        return phx_fail(e, PHX_ERR_INVALID,
                        "observation: output and signature must be hex strings");
    if (strlen(out_s) > 2 + 2 * (size_t)PHX_RESULT_MAX_OUTPUT)
        return phx_fail(e, PHX_ERR_INVALID, "observation: output above %u bytes",
                        PHX_RESULT_MAX_OUTPUT);
    o->request_id = (uint64_t)json_integer_value(rid);
    o->ok = json_is_true(okj);
    phx_err_t err;
    if ((err = phx_hex_decode(out_s, &o->output, e)) ||
        (err = phx_hex_decode_fixed(sig_s, o->signature, 65, e))) {
        phx_observation_clear(o);
        return phx_error_wrap(e, PHX_ERR_INVALID, "observation");
    }
    return PHX_OK;
}

json_t *phx_observation_to_json(const phx_observation_t *o, const uint8_t worker[20])
{
    return json_pack("{s:I,s:o,s:b,s:o,s:o}", "request_id", (json_int_t)o->request_id, "worker",
                     phx_json_hex(worker, 20), "ok", o->ok, "output",
                     phx_json_hex(o->output.ptr, o->output.len), "signature",
                     phx_json_hex(o->signature, 65));
}

void phx_observation_domain(uint8_t digest[32])
{
    static const char tag[] = "phx-observation-v1";
    uint8_t buf[sizeof tag - 1 + 32];
    memcpy(buf, tag, sizeof tag - 1);
    memcpy(buf + sizeof tag - 1, digest, 32);
    phx_keccak256(buf, sizeof buf, digest);
}

phx_err_t phx_observation_signer(const phx_observation_t *o, const uint8_t domain[32],
                                 const uint8_t contract_id[32], const uint8_t code_hash[32],
                                 bool observation_only, uint8_t signer[20], uint8_t digest[32],
                                 phx_error_t *e)
{
    phx_chain_result_digest(domain, o->request_id, contract_id, code_hash, o->ok, o->output.ptr,
                            o->output.len, digest);
    if (observation_only) phx_observation_domain(digest);
    uint8_t pub[64];
    if (phx_secp256k1_recover(digest, o->signature, pub))
        return phx_fail(e, PHX_ERR_VERIFY, "the observation's signature does not recover");
    phx_eth_address_from_pubkey(pub, signer);
    return PHX_OK;
}

void phx_observation_clear(phx_observation_t *o)
{
    if (o) phx_buf_free(&o->output);
}
