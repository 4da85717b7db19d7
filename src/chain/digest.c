/* The digests the contracts check, computed in C: report_data binding (DESIGN.md
 * §2), the KMS attestation digest (Registry.attestDigest), the result digest
 * (Jobs.resultDigest), contract ids and EIP-2612 permits. Each is abi.encode of
 * 32-byte words, so they are built word by word here; tests compare them with
 * the contracts' own view functions on a real node. */
#include <string.h>

#include "phx/chain.h"
#include "phx/crypto.h"

static void word_u64(uint8_t w[32], uint64_t v)
{
    memset(w, 0, 32);
    for (int i = 0; i < 8; i++)
        w[31 - i] = (uint8_t)(v >> (8 * i));
}

static void word_addr(uint8_t w[32], const uint8_t a[20])
{
    memset(w, 0, 12);
    memcpy(w + 12, a, 20);
}

static void tag_hash(const char *tag, uint8_t out[32])
{
    phx_keccak256(tag, strlen(tag), out);
}

static void report_data(const char *tag, size_t tag_len, const uint8_t who[20],
                        const uint8_t x25519[32], const uint8_t nonce[32], uint8_t out[64])
{
    phx_keccak_t k;
    phx_keccak256_init(&k);
    phx_keccak256_update(&k, tag, tag_len);
    phx_keccak256_update(&k, who, 20);
    phx_keccak256_update(&k, x25519, 32);
    phx_keccak256_update(&k, nonce, 32);
    phx_keccak256_final(&k, out);
    memcpy(out + 32, nonce, 32);
}

void phx_chain_kms_report_data(const uint8_t kms[20], const uint8_t x25519[32],
                               const uint8_t nonce[32], uint8_t out[64])
{
    static const char tag[] = "phx-kms-v1";
    report_data(tag, sizeof tag - 1, kms, x25519, nonce, out);
}

void phx_chain_report_data(const uint8_t worker[20], const uint8_t x25519[32],
                           const uint8_t nonce[32], uint8_t out[64])
{
    static const char tag[] = "phx-worker-v1";
    report_data(tag, sizeof tag - 1, worker, x25519, nonce, out);
}

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

phx_err_t phx_chain_quote_fields(const uint8_t *quote, size_t len, uint32_t *tee_type,
                                 uint8_t measurement[32], uint8_t report_data[64], phx_error_t *e)
{
    if (len < 48) return phx_fail(e, PHX_ERR_TRUNCATED, "quote: %zu bytes, header needs 48", len);
    uint32_t version = le16(quote);
    uint32_t tee = le16(quote + 4) | le16(quote + 6) << 16;
    size_t body;
    if (version == 3 || version == 4)
        body = 48;
    else if (version == 5)
        body = 54; /* v5: u16 body type and u32 body size follow the header */
    else
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "quote: version %u", version);
    phx_keccak_t k;
    phx_keccak256_init(&k);
    size_t rd;
    if (tee == PHX_CHAIN_TEE_TDX) {
        if (version == 3) return phx_fail(e, PHX_ERR_INVALID, "quote: TDX needs v4 or v5");
        rd = body + 520;
        if (len < rd + 64) return phx_fail(e, PHX_ERR_TRUNCATED, "quote: short TD report");
        phx_keccak256_update(&k, quote + body + 136, 48);  /* MRTD */
        phx_keccak256_update(&k, quote + body + 328, 192); /* RTMR0..3 */
    } else if (tee == PHX_CHAIN_TEE_SGX) {
        rd = body + 320;
        if (len < rd + 64) return phx_fail(e, PHX_ERR_TRUNCATED, "quote: short enclave report");
        phx_keccak256_update(&k, quote + body + 64, 32);  /* MRENCLAVE */
        phx_keccak256_update(&k, quote + body + 128, 32); /* MRSIGNER */
    } else {
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "quote: tee type 0x%x", tee);
    }
    phx_keccak256_final(&k, measurement);
    memcpy(report_data, quote + rd, 64);
    *tee_type = tee;
    return PHX_OK;
}

void phx_chain_attest_digest(uint64_t chain_id, const uint8_t registry[20],
                             const uint8_t operator_[20], const uint8_t worker[20],
                             const uint8_t x25519[32], const uint8_t measurement[32],
                             uint32_t tee_type, const uint8_t quote_hash[32],
                             const uint8_t nonce[32], uint8_t out[32])
{
    uint8_t w[10][32];
    tag_hash("phx-kms-worker-v1", w[0]);
    word_u64(w[1], chain_id);
    word_addr(w[2], registry);
    word_addr(w[3], operator_);
    word_addr(w[4], worker);
    memcpy(w[5], x25519, 32);
    memcpy(w[6], measurement, 32);
    word_u64(w[7], tee_type);
    memcpy(w[8], quote_hash, 32);
    memcpy(w[9], nonce, 32);
    phx_keccak256(w, sizeof w, out);
}

void phx_chain_kms_admit_digest(uint64_t chain_id, const uint8_t registry[20],
                                const uint8_t kms[20], const uint8_t x25519[32],
                                const uint8_t measurement[32], uint32_t tee_type,
                                const uint8_t quote_hash[32], const uint8_t collateral_hash[32],
                                const uint8_t nonce[32], uint8_t out[32])
{
    uint8_t w[10][32];
    tag_hash("phx-kms-admit-v1", w[0]);
    word_u64(w[1], chain_id);
    word_addr(w[2], registry);
    word_addr(w[3], kms);
    memcpy(w[4], x25519, 32);
    memcpy(w[5], measurement, 32);
    word_u64(w[6], tee_type);
    memcpy(w[7], quote_hash, 32);
    memcpy(w[8], collateral_hash, 32);
    memcpy(w[9], nonce, 32);
    phx_keccak256(w, sizeof w, out);
}

void phx_chain_jobs_domain(uint64_t chain_id, const uint8_t jobs[20], uint8_t out[32])
{
    uint8_t w[3][32];
    tag_hash("phx-result-v1", w[0]);
    word_u64(w[1], chain_id);
    word_addr(w[2], jobs);
    phx_keccak256(w, sizeof w, out);
}

void phx_chain_result_digest(const uint8_t domain[32], uint64_t request_id,
                             const uint8_t contract_id[32], const uint8_t code_hash[32], bool ok,
                             const uint8_t *output, size_t output_len, uint8_t out[32])
{
    uint8_t w[6][32];
    memcpy(w[0], domain, 32);
    word_u64(w[1], request_id);
    memcpy(w[2], contract_id, 32);
    memcpy(w[3], code_hash, 32);
    word_u64(w[4], ok ? 1 : 0);
    phx_keccak256(output, output_len, w[5]);
    phx_keccak256(w, sizeof w, out);
}

void phx_chain_contract_id(const uint8_t owner[20], const uint8_t salt[32], uint8_t out[32])
{
    uint8_t w[2][32];
    word_addr(w[0], owner);
    memcpy(w[1], salt, 32);
    phx_keccak256(w, sizeof w, out);
}

void phx_chain_permit_digest(uint64_t chain_id, const uint8_t token[20], const uint8_t owner[20],
                             const uint8_t spender[20], const phx_u256_t *value,
                             const phx_u256_t *nonce, uint64_t deadline, uint8_t out[32])
{
    uint8_t domain[5][32], permit[6][32], msg[66];
    tag_hash("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
             domain[0]);
    tag_hash("Phala Token", domain[1]);
    tag_hash("1", domain[2]);
    word_u64(domain[3], chain_id);
    word_addr(domain[4], token);
    tag_hash("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)",
             permit[0]);
    word_addr(permit[1], owner);
    word_addr(permit[2], spender);
    memcpy(permit[3], value->b, 32);
    memcpy(permit[4], nonce->b, 32);
    word_u64(permit[5], deadline);
    msg[0] = 0x19;
    msg[1] = 0x01;
    phx_keccak256(domain, sizeof domain, msg + 2);
    phx_keccak256(permit, sizeof permit, msg + 34);
    phx_keccak256(msg, sizeof msg, out);
}

void phx_chain_voucher_digest(uint64_t chain_id, const uint8_t payments[20],
                              const uint8_t payer[20], const uint8_t operator_[20],
                              const phx_u256_t *cumulative, const uint8_t call_hash[32],
                              uint8_t out[32])
{
    uint8_t domain[5][32], voucher[5][32], msg[66];
    tag_hash("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
             domain[0]);
    tag_hash("Phalanx Payments", domain[1]);
    tag_hash("1", domain[2]);
    word_u64(domain[3], chain_id);
    word_addr(domain[4], payments);
    tag_hash("Voucher(address payer,address operator,uint256 cumulative,bytes32 callHash)",
             voucher[0]);
    word_addr(voucher[1], payer);
    word_addr(voucher[2], operator_);
    memcpy(voucher[3], cumulative->b, 32);
    memcpy(voucher[4], call_hash, 32);
    msg[0] = 0x19;
    msg[1] = 0x01;
    phx_keccak256(domain, sizeof domain, msg + 2);
    phx_keccak256(voucher, sizeof voucher, msg + 34);
    phx_keccak256(msg, sizeof msg, out);
}

void phx_chain_call_hash(const uint8_t contract_id[32], const uint8_t input_hash[32],
                         uint8_t out[32])
{
    static const char tag[] = "phx-call-v1";
    phx_keccak_t k;
    phx_keccak256_init(&k);
    phx_keccak256_update(&k, tag, sizeof tag - 1);
    phx_keccak256_update(&k, contract_id, 32);
    phx_keccak256_update(&k, input_hash, 32);
    phx_keccak256_final(&k, out);
}

void phx_chain_identity_digest(uint64_t chain_id, const uint8_t registry[20],
                               const uint8_t challenge[32], uint8_t out[32])
{
    uint8_t w[4][32];
    tag_hash("phx-worker-identity-v1", w[0]);
    word_u64(w[1], chain_id);
    word_addr(w[2], registry);
    memcpy(w[3], challenge, 32);
    phx_keccak256(w, sizeof w, out);
}

phx_err_t phx_chain_identity_sign(uint64_t chain_id, const uint8_t registry[20],
                                  const uint8_t challenge[32], const uint8_t sk[32],
                                  uint8_t sig[65], phx_error_t *e)
{
    uint8_t d[32];
    phx_chain_identity_digest(chain_id, registry, challenge, d);
    if (phx_secp256k1_sign(sk, d, sig)) return phx_fail(e, PHX_ERR_CRYPTO, "identity signature");
    sig[64] = (uint8_t)(sig[64] + 27);
    return PHX_OK;
}

phx_err_t phx_chain_identity_signer(uint64_t chain_id, const uint8_t registry[20],
                                    const uint8_t challenge[32], const uint8_t sig[65],
                                    uint8_t signer[20], phx_error_t *e)
{
    uint8_t d[32], pub[64];
    if (sig[64] != 27 && sig[64] != 28)
        return phx_fail(e, PHX_ERR_VERIFY, "identity signature: v must be 27 or 28");
    phx_chain_identity_digest(chain_id, registry, challenge, d);
    if (phx_secp256k1_recover(d, sig, pub))
        return phx_fail(e, PHX_ERR_VERIFY, "identity signature does not recover");
    phx_eth_address_from_pubkey(pub, signer);
    return PHX_OK;
}

phx_err_t phx_chain_endpoint_check(const char *url, size_t len, phx_error_t *e)
{
    if (len > PHX_CHAIN_ENDPOINT_MAX)
        return phx_fail(e, PHX_ERR_INVALID, "endpoint: longer than %d bytes",
                        PHX_CHAIN_ENDPOINT_MAX);
    size_t host = 0;
    if (len > 7 && memcmp(url, "http://", 7) == 0)
        host = 7;
    else if (len > 8 && memcmp(url, "https://", 8) == 0)
        host = 8;
    else
        return phx_fail(e, PHX_ERR_INVALID, "endpoint: must be http:// or https:// and a host");
    for (size_t i = host; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f || c == '@' || c == '?' || c == '#' || c == '\\')
            return phx_fail(e, PHX_ERR_INVALID,
                            "endpoint: byte %zu is not allowed (spaces, controls, non-ASCII, "
                            "'@', '?', '#', '\\')",
                            i);
    }
    return PHX_OK;
}

void phx_chain_state_write_digest(uint64_t chain_id, const uint8_t anchor[20],
                                  const uint8_t contract_id[32], const uint8_t key[32],
                                  uint64_t expected, const uint8_t hash[32], uint8_t out[32])
{
    uint8_t enc[6 * 32];
    word_addr(enc, anchor);
    word_u64(enc + 32, chain_id);
    memcpy(enc + 64, contract_id, 32);
    memcpy(enc + 96, key, 32);
    word_u64(enc + 128, expected);
    memcpy(enc + 160, hash, 32);
    phx_keccak256(enc, sizeof enc, out);
}
