/* Payment vouchers (contracts/Payments.sol): the JSON form a direct call
 * carries, signing and checking. The worker's admission of a voucher (price,
 * deposit, journal) is payment.c; this part has no state, so the CLI signs
 * with it and a fuzzer drives the parser. */
#include <string.h>

#include "phx/crypto.h"
#include "phx/worker.h"

static phx_err_t get_addr(const json_t *j, const char *key, uint8_t out[20], phx_error_t *e)
{
    const char *s;
    phx_err_t err = phx_json_get_str(j, key, &s, e);
    if (err) return phx_error_wrap(e, err, "voucher");
    if (phx_hex_decode_fixed(s, out, 20, NULL))
        return phx_fail(e, PHX_ERR_INVALID, "voucher: \"%s\" must be a 0x + 40 hex address", key);
    return PHX_OK;
}

phx_err_t phx_voucher_parse(const json_t *j, phx_voucher_t *v, phx_error_t *e)
{
    memset(v, 0, sizeof *v);
    if (!json_is_object(j))
        return phx_fail(e, PHX_ERR_INVALID,
                        "voucher must be an object {\"payer\",\"operator\",\"cumulative\","
                        "\"signature\"}");
    phx_err_t err;
    if ((err = get_addr(j, "payer", v->payer, e)) ||
        (err = get_addr(j, "operator", v->operator_, e)))
        return err;
    const char *c;
    if ((err = phx_json_get_str(j, "cumulative", &c, e)))
        return phx_error_wrap(e, err, "voucher (\"cumulative\" is a decimal string of PHA wei)");
    if (!c[0] || phx_u256_from_str(c, &v->cumulative, NULL))
        return phx_fail(e, PHX_ERR_INVALID,
                        "voucher: \"cumulative\" must be a decimal or 0x amount of PHA wei below "
                        "2^256");
    const char *s;
    if ((err = phx_json_get_str(j, "signature", &s, e))) return phx_error_wrap(e, err, "voucher");
    if (phx_hex_decode_fixed(s, v->signature, 65, NULL))
        return phx_fail(e, PHX_ERR_INVALID,
                        "voucher: \"signature\" must be 0x + 130 hex (r||s||v)");
    if (v->signature[64] != 27 && v->signature[64] != 28)
        return phx_fail(e, PHX_ERR_INVALID, "voucher: signature v must be 27 or 28");
    return PHX_OK;
}

phx_err_t phx_voucher_to_json(const phx_voucher_t *v, json_t **out, phx_error_t *e)
{
    char dec[80];
    phx_u256_to_dec(&v->cumulative, dec);
    *out = json_pack("{s:o,s:o,s:s,s:o}", "payer", phx_json_hex(v->payer, 20), "operator",
                     phx_json_hex(v->operator_, 20), "cumulative", dec, "signature",
                     phx_json_hex(v->signature, 65));
    return *out ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "voucher");
}

phx_err_t phx_voucher_sign(phx_voucher_t *v, uint64_t chain_id, const uint8_t payments[20],
                           const uint8_t call_hash[32], const uint8_t sk[32], phx_error_t *e)
{
    uint8_t digest[32];
    phx_err_t err = phx_eth_address_from_seckey(sk, v->payer);
    if (err) return phx_fail(e, err, "voucher: bad key");
    phx_chain_voucher_digest(chain_id, payments, v->payer, v->operator_, &v->cumulative, call_hash,
                             digest);
    if ((err = phx_chain_sign(sk, digest, v->signature))) return phx_fail(e, err, "voucher: sign");
    return PHX_OK;
}

phx_err_t phx_voucher_verify(const phx_voucher_t *v, uint64_t chain_id, const uint8_t payments[20],
                             const uint8_t call_hash[32], phx_error_t *e)
{
    uint8_t digest[32], pub[64], who[20];
    phx_chain_voucher_digest(chain_id, payments, v->payer, v->operator_, &v->cumulative, call_hash,
                             digest);
    if (phx_secp256k1_recover(digest, v->signature, pub))
        return phx_fail(e, PHX_ERR_VERIFY, "voucher: the signature does not recover (high s?)");
    phx_eth_address_from_pubkey(pub, who);
    if (memcmp(who, v->payer, 20) != 0)
        return phx_fail(e, PHX_ERR_VERIFY,
                        "voucher: not signed by its payer, or for another call, operator, "
                        "amount or chain");
    return PHX_OK;
}
