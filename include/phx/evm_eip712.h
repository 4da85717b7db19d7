/* EIP-712 typed structured data for the EVM client (src/evm/eip712.c):
 * encodeType, encodeData, hashStruct, domain separator, digest, sign, recover.
 * Part of phx/evm.h (the umbrella); see docs/evm.md. */
#ifndef PHX_EVM_EIP712_H
#define PHX_EVM_EIP712_H

#include "phx/core.h"
#include "phx/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================
 * EIP-712 typed structured data. typed is the standard JSON form
 * {"types": {...}, "primaryType": "...", "domain": {...}, "message": {...}};
 * the EIP712Domain type is inferred from the domain's keys when absent.
 * ========================================================================== */
phx_err_t phx_eip712_encode_type(const json_t *types, const char *primary, phx_buf_t *out,
                                 phx_error_t *e);
phx_err_t phx_eip712_hash_struct(const json_t *types, const char *primary, const json_t *data,
                                 uint8_t out[32], phx_error_t *e);
/* encodeData(s) = typeHash || enc(field)... (without hashing), appended to out. */
phx_err_t phx_eip712_encode_data(const json_t *types, const char *primary, const json_t *data,
                                 phx_buf_t *out, phx_error_t *e);
phx_err_t phx_eip712_domain_separator(const json_t *domain, const json_t *types, uint8_t out[32],
                                      phx_error_t *e);
/* digest = keccak256(0x19 0x01 || domainSeparator || hashStruct(message)). */
phx_err_t phx_eip712_digest(const json_t *typed, uint8_t out[32], phx_error_t *e);
/* sig = r||s||v with v = 27 + recid (what wallets return for eth_signTypedData_v4). */
phx_err_t phx_eip712_sign(const json_t *typed, const uint8_t sk[32], uint8_t sig[65],
                          phx_error_t *e);
phx_err_t phx_eip712_recover(const json_t *typed, const uint8_t sig[65], uint8_t addr[20],
                             phx_error_t *e);

#ifdef __cplusplus
}
#endif
#endif
