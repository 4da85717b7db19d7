/* Integration test of the Phalanx contracts driven from C against a real anvil:
 * deploy the set, token transfer and permit, worker registration with and
 * without a KMS signature, request -> fulfil -> callback with PHA paid, refusals
 * (unregistered signer, k = 2 with one signature or one operator twice, expiry,
 * oversized output), a reverting callback recorded, expired requests refunded by
 * the sweep, and finally node + ethers reading back what C wrote. */
#include <stdlib.h>
#include <string.h>

#include "phx/chain.h"
#include "phx/chain_requests.h"
#include "phx/chain_triggers.h"
#include "phx/crypto.h"
#include "support/anvil.h"
#include "support/chain_fixture.h"
#include "test.h"

#define PHA(n) pha_amount(n)

typedef struct {
    uint8_t sk[32];
    uint8_t addr[20];
    phx_signer_t *signer;
} account_t;

static phx_rpc_t *rpc;
static phx_chain_deployment_t dep;
static uint8_t consumer[20];

static phx_u256_t pha_amount(uint64_t n)
{
    phx_u256_t one_e18;
    phx_error_t e;
    phx_u256_from_str("1000000000000000000", &one_e18, &e);
    return phx_u256_mul_u64(&one_e18, n);
}

static json_t *u256_json(const phx_u256_t *v)
{
    char dec[80];
    phx_u256_to_dec(v, dec);
    return json_string(dec);
}

static json_t *addr_json(const uint8_t a[20])
{
    return phx_json_hex(a, 20);
}

static void hexstr(const uint8_t *p, size_t n, char *out) /* out: 2n+3 */
{
    out[0] = '0';
    out[1] = 'x';
    phx_hex_encode_to(out + 2, p, n);
}

static int account_open(account_t *a, const uint8_t sk[32])
{
    phx_error_t e = {0};
    memcpy(a->sk, sk, 32);
    if (phx_eth_address_from_seckey(sk, a->addr)) return -1;
    if (phx_signer_open(rpc, sk, NULL, &a->signer, &e)) {
        fprintf(stderr, "signer: %s\n", e.message);
        return -1;
    }
    return 0;
}

static int account_dev(account_t *a, int index)
{
    uint8_t sk[32];
    phx_error_t e;
    if (phx_hex_decode_fixed(test_anvil_keys[index], sk, 32, &e)) return -1;
    return account_open(a, sk);
}

/* A fresh key with 100 ETH for gas (anvil_setBalance). */
static int account_fresh(account_t *a)
{
    uint8_t sk[32];
    phx_error_t e = {0};
    if (phx_secp256k1_keygen(sk)) return -1;
    if (account_open(a, sk)) return -1;
    return test_chain_fund(rpc, a->addr, "0x56bc75e2d63100000", &e) ? -1 : 0;
}

static void account_close(account_t *a)
{
    phx_signer_close(a->signer);
    phx_secure_zero(a->sk, sizeof a->sk);
}

/* Send sig(args) from a to `to`; args (stolen) built with json_pack. */
static phx_err_t tx(account_t *a, const uint8_t to[20], const char *sig, json_t *args,
                    phx_evm_receipt_t *receipt, phx_error_t *e)
{
    phx_err_t err = phx_chain_transact(a->signer, to, sig, args, receipt, e);
    json_decref(args);
    return err;
}

#define TX_OK(a, to, sig, args)                                                                    \
    do {                                                                                           \
        phx_error_t e_ = {0};                                                                      \
        phx_err_t err_ = tx(a, to, sig, args, NULL, &e_);                                          \
        CHECK_MSG(err_ == PHX_OK, "%s: %s", sig, e_.message);                                      \
    } while (0)

/* Revert data of a call through debug_traceCall (hex in "returnValue"). Used when
 * eth_call's error cannot be parsed: anvil puts the revert bytes into the error
 * message as text, NULs included, which a strict JSON parser refuses. */
static phx_err_t trace_revert_data(const phx_evm_call_t *call, phx_buf_t *out, phx_error_t *e)
{
    char from[43], to[43];
    hexstr(call->from, 20, from);
    hexstr(call->to, 20, to);
    json_t *params = json_pack("[{s:s,s:s,s:o},s,{s:b,s:b,s:b}]", "from", from, "to", to, "data",
                               phx_json_hex(call->data, call->data_len), "latest", "disableStack",
                               1, "disableMemory", 1, "disableStorage", 1);
    json_t *res = NULL;
    phx_err_t err = phx_rpc_call(rpc, "debug_traceCall", params, &res, e);
    if (!err) {
        if (!json_is_true(json_object_get(res, "failed")))
            err = phx_fail(e, PHX_ERR_STATE, "call did not revert");
        else
            err = phx_json_get_hex(res, "returnValue", out, e);
    }
    json_decref(res);
    return err;
}

/* The call must revert with the custom error `error_sig` (checked on its selector
 * through eth_call from `from`), and a real transaction must not be mined. */
static void expect_revert(account_t *from, const uint8_t to[20], const char *sig, json_t *args,
                          const char *error_sig, int line)
{
    phx_error_t e = {0};
    phx_buf_t data = PHX_BUF_INIT, ret = PHX_BUF_INIT;
    uint8_t want[4];
    phx_abi_selector(error_sig, want, &e);
    CHECK(phx_chain_calldata(sig, args, &data, &e) == PHX_OK);
    phx_evm_call_t call;
    memset(&call, 0, sizeof call);
    call.has_from = true;
    memcpy(call.from, from->addr, 20);
    call.has_to = true;
    memcpy(call.to, to, 20);
    call.data = data.ptr;
    call.data_len = data.len;
    phx_err_t err = phx_rpc_call_contract(rpc, &call, NULL, &ret, &e);
    if (err == PHX_ERR_INVALID) {
        phx_buf_reset(&ret);
        if (!trace_revert_data(&call, &ret, &e)) err = PHX_ERR_REMOTE;
    }
    CHECK_MSG(err == PHX_ERR_REMOTE && ret.len >= 4 && memcmp(ret.ptr, want, 4) == 0,
              "line %d: %s should revert with %s (err %d, %zu bytes of revert data: %s)", line, sig,
              error_sig, err, ret.len, e.message);
    err = phx_chain_send(from->signer, to, data.ptr, data.len, 0, NULL, &e);
    CHECK_MSG(err != PHX_OK, "line %d: %s was mined", line, sig);
    phx_buf_free(&ret);
    phx_buf_free(&data);
    json_decref(args);
}
/* A view call must revert with error_sig (eth_call only). */
static void expect_revert_read(const uint8_t to[20], const char *sig, json_t *args,
                               const char *error_sig, int line)
{
    phx_error_t e = {0};
    phx_buf_t data = PHX_BUF_INIT, ret = PHX_BUF_INIT;
    uint8_t want[4];
    phx_abi_selector(error_sig, want, &e);
    CHECK(phx_chain_calldata(sig, args, &data, &e) == PHX_OK);
    phx_evm_call_t call;
    memset(&call, 0, sizeof call);
    call.has_from = true;
    call.has_to = true;
    memcpy(call.to, to, 20);
    call.data = data.ptr;
    call.data_len = data.len;
    phx_err_t err = phx_rpc_call_contract(rpc, &call, NULL, &ret, &e);
    if (err == PHX_ERR_INVALID) {
        phx_buf_reset(&ret);
        if (!trace_revert_data(&call, &ret, &e)) err = PHX_ERR_REMOTE;
    }
    CHECK_MSG(err == PHX_ERR_REMOTE && ret.len >= 4 && memcmp(ret.ptr, want, 4) == 0,
              "line %d: %s should revert with %s (%s)", line, sig, error_sig, e.message);
    phx_buf_free(&ret);
    phx_buf_free(&data);
    json_decref(args);
}
#define EXPECT_REVERT_READ(to, sig, args, error_sig)                                               \
    expect_revert_read(to, sig, args, error_sig, __LINE__)
#define EXPECT_REVERT(from, to, sig, args, error_sig)                                              \
    expect_revert(from, to, sig, args, error_sig, __LINE__)

static phx_u256_t balance(const uint8_t who[20])
{
    phx_u256_t v = {{0}};
    phx_error_t e = {0};
    CHECK_MSG(phx_chain_token_balance(rpc, &dep, who, &v, &e) == PHX_OK, "%s", e.message);
    return v;
}

/* Fees Jobs owes who's StakePool pool (fulfilments credit them there). */
static phx_u256_t earned(const uint8_t who[20])
{
    phx_u256_t v = {{0}};
    phx_error_t e = {0};
    json_t *args = json_pack("[o]", phx_json_hex(who, 20)), *ret = NULL;
    CHECK_MSG(phx_chain_read(rpc, dep.jobs, "feesOwed(address)", args, "(uint256)", &ret, &e) ==
                      PHX_OK &&
                  phx_u256_from_str(json_string_value(json_array_get(ret, 0)), &v, &e) == PHX_OK,
              "%s", e.message);
    json_decref(ret);
    json_decref(args);
    return v;
}

static uint64_t read_u64(const uint8_t to[20], const char *sig, json_t *args)
{
    json_t *ret = NULL;
    phx_error_t e = {0};
    uint64_t v = UINT64_MAX;
    phx_u256_t u;
    if (phx_chain_read(rpc, to, sig, args, "(uint256)", &ret, &e) == PHX_OK &&
        phx_u256_from_str(json_string_value(json_array_get(ret, 0)), &u, &e) == PHX_OK)
        phx_u256_to_u64(&u, &v, &e);
    else
        fprintf(stderr, "read %s: %s\n", sig, e.message);
    json_decref(ret);
    json_decref(args);
    return v;
}

static int read_bytes32(const uint8_t to[20], const char *sig, json_t *args, uint8_t out[32])
{
    json_t *ret = NULL;
    phx_error_t e = {0};
    int rc = -1;
    if (phx_chain_read(rpc, to, sig, args, "(bytes32)", &ret, &e) == PHX_OK &&
        phx_hex_decode_fixed(json_string_value(json_array_get(ret, 0)), out, 32, &e) == PHX_OK)
        rc = 0;
    else
        fprintf(stderr, "read %s: %s\n", sig, e.message);
    json_decref(ret);
    json_decref(args);
    return rc;
}

static bool u256_eq_sum(const phx_u256_t *now, const phx_u256_t *before, const phx_u256_t *delta)
{
    phx_u256_t sum = phx_u256_add(before, delta);
    return phx_u256_cmp(now, &sum) == 0;
}

/* ---- quotes: a TDX v4 layout with the fields the Registry reads ---------------- */

#define QUOTE_LEN (48 + 584 + 68)

static void make_quote(uint8_t q[QUOTE_LEN], const uint8_t worker[20], const uint8_t x25519[32],
                       const uint8_t nonce[32], uint8_t mr_fill)
{
    memset(q, 0, QUOTE_LEN);
    q[0] = 4;                                  /* version */
    q[2] = 2;                                  /* attestation key type: ECDSA P-256 */
    q[4] = 0x81;                               /* TDX */
    memset(q + 48 + 136, mr_fill, 48);         /* MRTD */
    memset(q + 48 + 328, mr_fill ^ 0x5a, 192); /* RTMR0..3 */
    memset(q + 48 + 184, 0xee, 48);            /* MRCONFIGID: not part of the measurement */
    phx_chain_report_data(worker, x25519, nonce, q + 48 + 520);
}

typedef struct {
    account_t key;
    uint8_t x25519[32];
    account_t *operator_;
} worker_t;

/* registerWorker arguments for w under op, vouched for by kms_sk (which may not
 * be a registered KMS key; NULL = an empty signature). */
static json_t *register_args(worker_t *w, account_t *op, const uint8_t *kms_sk)
{
    uint8_t nonce[32], q[QUOTE_LEN], measurement[32], rd[64], qhash[32], digest[32], sig[65];
    uint32_t tee = 0;
    phx_error_t e = {0};
    phx_random_bytes(nonce, sizeof nonce);
    make_quote(q, w->key.addr, w->x25519, nonce, 0x11);
    CHECK(phx_chain_quote_fields(q, sizeof q, &tee, measurement, rd, &e) == PHX_OK);
    phx_keccak256(q, sizeof q, qhash);
    phx_chain_attest_digest(dep.chain_id, dep.registry, op->addr, w->key.addr, w->x25519,
                            measurement, tee, qhash, nonce, digest);
    if (kms_sk) {
        phx_secp256k1_sign(kms_sk, digest, sig);
        sig[64] += 27;
    }
    return json_pack("[o,o,o,o,o]", addr_json(w->key.addr), phx_json_hex(w->x25519, 32),
                     phx_json_hex(nonce, 32), phx_json_hex(q, sizeof q),
                     phx_json_hex(sig, kms_sk ? 65 : 0));
}

static const char REGISTER[] = "registerWorker(address,bytes32,bytes32,bytes,bytes)";

/* ---- sections --------------------------------------------------------------------- */

static const char ADMIT_KMS[] = "admitKms(address,bytes32,bytes32,bytes,bytes32)";
static const uint8_t COLLATERAL_HASH[32] = {0xc0, 0x11};

/* admitKms arguments: a quote with measurement fill mr_fill whose report data
 * is made for `bound` (the KMS itself, or another key) under the KMS tag, or the
 * worker tag when worker_tag. The chain does not check quote signatures: what
 * it relies on is governance having verified the quote (phx_kms_admit). */
static json_t *kms_args(const uint8_t kms[20], const uint8_t bound[20], const uint8_t x25519[32],
                        uint8_t mr_fill, bool worker_tag, uint8_t q[QUOTE_LEN])
{
    uint8_t nonce[32];
    phx_random_bytes(nonce, sizeof nonce);
    make_quote(q, bound, x25519, nonce, mr_fill);
    if (!worker_tag) phx_chain_kms_report_data(bound, x25519, nonce, q + 48 + 520);
    return json_pack("[o,o,o,o,o]", addr_json(kms), phx_json_hex(x25519, 32),
                     phx_json_hex(nonce, 32), phx_json_hex(q, QUOTE_LEN),
                     phx_json_hex(COLLATERAL_HASH, 32));
}

/* Governance admits kms with a quote of measurement fill 0x11, allowing that
 * measurement for the moment if it is not yet (and taking it back after). */
static void admit_kms(account_t *gov, const uint8_t kms[20])
{
    uint8_t x[32], q[QUOTE_LEN], mr[32], rd[64];
    uint32_t tee;
    phx_error_t e = {0};
    phx_random_bytes(x, sizeof x);
    json_t *args = kms_args(kms, kms, x, 0x11, false, q);
    phx_chain_quote_fields(q, sizeof q, &tee, mr, rd, &e);
    json_t *ret = NULL, *margs = json_pack("[o]", phx_json_hex(mr, 32));
    bool was = phx_chain_read(rpc, dep.registry, "measurementAllowed(bytes32)", margs, "(bool)",
                              &ret, &e) == 0 &&
               json_is_true(json_array_get(ret, 0));
    json_decref(ret);
    json_decref(margs);
    if (!was) CHECK(phx_chain_set_measurement(gov->signer, &dep, mr, true, &e) == PHX_OK);
    TX_OK(gov, dep.registry, ADMIT_KMS, args);
    if (!was) CHECK(phx_chain_set_measurement(gov->signer, &dep, mr, false, &e) == PHX_OK);
}

static bool is_kms(const uint8_t kms[20])
{
    bool listed = false;
    phx_error_t e = {0};
    CHECK_MSG(phx_chain_is_kms(rpc, &dep, kms, &listed, &e) == PHX_OK, "%s", e.message);
    return listed;
}

/* Governance admits a KMS key with its quote: only when the quote binds that
 * key under the KMS tag and its measurement is allowed; the quote and its
 * collateral hash are on record. The old permissionless paths are gone. */
static void test_kms_admit(account_t *gov, account_t *payer)
{
    uint8_t kms_sk[32], kms[20], other[20], x[32], q[QUOTE_LEN];
    phx_error_t e = {0};
    phx_secp256k1_keygen(kms_sk);
    phx_eth_address_from_seckey(kms_sk, kms);
    phx_secure_zero(kms_sk, sizeof kms_sk);
    phx_random_bytes(other, sizeof other);
    phx_random_bytes(x, sizeof x);
    CHECK(!is_kms(kms));

    /* Refused: anyone but the governor. */
    EXPECT_REVERT(payer, dep.registry, ADMIT_KMS, kms_args(kms, kms, x, 0x11, false, q),
                  "NotGovernor()");
    /* Refused: measurement not allowed (fill 0x33 was never allowed). */
    EXPECT_REVERT(gov, dep.registry, ADMIT_KMS, kms_args(kms, kms, x, 0x33, false, q),
                  "MeasurementNotAllowed(bytes32)");
    /* Refused: report data binding another key, or made under the worker tag. */
    EXPECT_REVERT(gov, dep.registry, ADMIT_KMS, kms_args(kms, other, x, 0x11, false, q),
                  "ReportDataMismatch()");
    EXPECT_REVERT(gov, dep.registry, ADMIT_KMS, kms_args(kms, kms, x, 0x11, true, q),
                  "ReportDataMismatch()");
    /* Refused: the quote's nonce differs from the one named. */
    json_t *args = kms_args(kms, kms, x, 0x11, false, q);
    uint8_t wrong[32];
    phx_random_bytes(wrong, sizeof wrong);
    json_array_set_new(args, 2, phx_json_hex(wrong, 32));
    EXPECT_REVERT(gov, dep.registry, ADMIT_KMS, args, "ReportDataMismatch()");
    CHECK(!is_kms(kms));

    /* Accepted: bound key, allowed measurement; the event carries the quote. */
    phx_evm_receipt_t receipt = {0};
    args = kms_args(kms, kms, x, 0x11, false, q);
    phx_err_t err = tx(gov, dep.registry, ADMIT_KMS, args, &receipt, &e);
    CHECK_MSG(err == PHX_OK, "admitKms: %s", e.message);
    CHECK(is_kms(kms));
    bool seen = false;
    for (size_t i = 0; i < receipt.log_count; i++) {
        json_t *ev = NULL;
        if (phx_abi_decode_log_json(PHX_CHAIN_EV_KMS_ADMITTED, false, &receipt.logs[i], &ev, &e))
            continue;
        seen = true;
        uint8_t a[20], by[20], mr[32], rd[64], evmr[32], ch[32];
        uint32_t tee = 0;
        phx_buf_t evq = PHX_BUF_INIT;
        CHECK(!phx_json_get_hex_fixed(ev, "kms", a, 20, &e) && memcmp(a, kms, 20) == 0);
        CHECK(!phx_json_get_hex_fixed(ev, "admittedBy", by, 20, &e) &&
              memcmp(by, gov->addr, 20) == 0);
        CHECK(!phx_json_get_hex_fixed(ev, "collateralHash", ch, 32, &e) &&
              memcmp(ch, COLLATERAL_HASH, 32) == 0);
        CHECK(!phx_chain_quote_fields(q, sizeof q, &tee, mr, rd, &e));
        CHECK(!phx_json_get_hex_fixed(ev, "measurement", evmr, 32, &e) &&
              memcmp(evmr, mr, 32) == 0);
        const char *hq = json_string_value(json_object_get(ev, "quote"));
        CHECK(hq && !phx_hex_decode(hq, &evq, &e) && evq.len == sizeof q &&
              memcmp(evq.ptr, q, sizeof q) == 0);
        phx_buf_free(&evq);
        json_decref(ev);
    }
    CHECK_MSG(seen, "no KmsAdmitted event");
    phx_evm_receipt_clear(&receipt);
    phx_chain_kms_t rec;
    CHECK(phx_chain_kms_get(rpc, &dep, kms, &rec, &e) == PHX_OK &&
          rec.status == PHX_CHAIN_KMS_ADMITTED && memcmp(rec.x25519, x, 32) == 0);

    /* Once admitted, again is refused; revoked, it never comes back. */
    EXPECT_REVERT(gov, dep.registry, ADMIT_KMS, kms_args(kms, kms, x, 0x11, false, q),
                  "AlreadyRegistered(address)");
    EXPECT_REVERT(payer, dep.registry, "revokeKms(address)", json_pack("[o]", addr_json(kms)),
                  "NotGovernor()");
    CHECK_MSG(phx_chain_revoke_kms(gov->signer, &dep, kms, &e) == PHX_OK, "%s", e.message);
    CHECK(!is_kms(kms));
    EXPECT_REVERT(gov, dep.registry, ADMIT_KMS, kms_args(kms, kms, x, 0x11, false, q),
                  "KmsRevoked(address)");
    printf("admitKms: accepted 1, refused 9\n");
}

static void test_deploy(account_t *gov, const char *dir)
{
    phx_error_t e = {0};
    CHECK_MSG(phx_chain_deploy(gov->signer, NULL, &dep, &e) == PHX_OK, "deploy: %s", e.message);
    const uint8_t *addrs[] = {dep.token, dep.registry, dep.jobs, dep.payments};
    for (int i = 0; i < 4; i++) {
        phx_buf_t code = PHX_BUF_INIT;
        CHECK(phx_rpc_get_code(rpc, addrs[i], NULL, &code, &e) == PHX_OK && code.len > 100);
        phx_buf_free(&code);
    }
    CHECK(memcmp(dep.deployer, gov->addr, 20) == 0);
    CHECK(dep.chain_id == 31337);

    /* The deployment file round-trips. */
    char path[512];
    snprintf(path, sizeof path, "%s/deployment.json", dir);
    phx_chain_deployment_t back;
    CHECK_MSG(phx_chain_deployment_save(&dep, path, &e) == PHX_OK, "%s", e.message);
    CHECK_MSG(phx_chain_deployment_load(path, &back, &e) == PHX_OK, "%s", e.message);
    CHECK(memcmp(&back, &dep, sizeof dep) == 0);

    /* The contracts point at each other, and the token says what it is. */
    json_t *ret = NULL;
    CHECK(phx_chain_read(rpc, dep.token, "symbol()", NULL, "(string)", &ret, &e) == PHX_OK &&
          strcmp(json_string_value(json_array_get(ret, 0)), "PHA") == 0);
    json_decref(ret);
    ret = NULL;
    CHECK(phx_chain_read(rpc, dep.token, "name()", NULL, "(string)", &ret, &e) == PHX_OK &&
          strcmp(json_string_value(json_array_get(ret, 0)), "Phala Token") == 0);
    json_decref(ret);
    CHECK(read_u64(dep.token, "decimals()", NULL) == 18);
    uint8_t word[32], want[32] = {0};
    memcpy(want + 12, dep.registry, 20);
    CHECK(read_bytes32(dep.jobs, "registry()", NULL, word) == 0 && memcmp(word, want, 32) == 0);
    phx_u256_t supply = PHA(1000000000), have = balance(gov->addr);
    CHECK(phx_u256_cmp(&have, &supply) == 0);

    /* The test consumer, deployed from C with the embedded artifact. */
    const phx_chain_artifact_t *a = phx_chain_artifact("TestConsumer");
    CHECK(a != NULL);
    phx_buf_t code = PHX_BUF_INIT;
    uint8_t args[64] = {0};
    memcpy(args + 12, dep.jobs, 20);
    memcpy(args + 44, dep.token, 20);
    if (a && !phx_hex_decode(a->bytecode_hex, &code, &e))
        CHECK_MSG(phx_signer_deploy(gov->signer, code.ptr, code.len, args, 64, 0, 1, 60000,
                                    consumer, NULL, &e) == PHX_OK,
                  "consumer: %s", e.message);
    phx_buf_free(&code);
    printf("deployed: token, registry, jobs, consumer on chain %llu\n",
           (unsigned long long)dep.chain_id);
}

static void test_digests_match_contracts(void)
{
    uint8_t c_side[32], chain_side[32];
    phx_chain_jobs_domain(dep.chain_id, dep.jobs, c_side);
    CHECK(read_bytes32(dep.jobs, "domain()", NULL, chain_side) == 0 &&
          memcmp(c_side, chain_side, 32) == 0);

    uint8_t cid[32], code_hash[32], out_hash[32];
    memset(cid, 0x42, 32);
    memset(code_hash, 0x24, 32);
    const uint8_t output[] = "hello";
    phx_keccak256(output, 5, out_hash);
    /* Bit-identical for a result (ok) and for an error (not ok), and the two differ. */
    uint8_t domain[32], ok_side[32] = {0};
    memcpy(domain, c_side, 32);
    for (int ok = 1; ok >= 0; ok--) {
        phx_chain_result_digest(domain, 7, cid, code_hash, ok, output, 5, c_side);
        CHECK_MSG(
            read_bytes32(dep.jobs, "resultDigest(uint256,bytes32,bytes32,bool,bytes32)",
                         json_pack("[i,o,o,b,o]", 7, phx_json_hex(cid, 32),
                                   phx_json_hex(code_hash, 32), ok, phx_json_hex(out_hash, 32)),
                         chain_side) == 0 &&
                memcmp(c_side, chain_side, 32) == 0,
            "resultDigest with ok=%d: C and Jobs differ", ok);
        if (ok) memcpy(ok_side, c_side, 32);
    }
    CHECK(memcmp(ok_side, c_side, 32) != 0);

    uint8_t salt[32];
    memset(salt, 3, 32);
    phx_chain_contract_id(dep.deployer, salt, c_side);
    CHECK(read_bytes32(dep.jobs, "contractId(address,bytes32)",
                       json_pack("[o,o]", addr_json(dep.deployer), phx_json_hex(salt, 32)),
                       chain_side) == 0 &&
          memcmp(c_side, chain_side, 32) == 0);

    /* Quote fields and the KMS digest, against Registry.parseQuote/attestDigest. */
    uint8_t worker[20], x[32], nonce[32], q[QUOTE_LEN], meas[32], rd[64], qhash[32];
    uint32_t tee = 0;
    memset(worker, 0x77, 20);
    memset(x, 0x88, 32);
    memset(nonce, 0x99, 32);
    make_quote(q, worker, x, nonce, 0x33);
    phx_error_t e = {0};
    CHECK(phx_chain_quote_fields(q, sizeof q, &tee, meas, rd, &e) == PHX_OK && tee == 0x81);
    json_t *ret = NULL;
    json_t *args = json_pack("[o]", phx_json_hex(q, sizeof q));
    CHECK_MSG(phx_chain_read(rpc, dep.registry, "parseQuote(bytes)", args,
                             "(uint32,bytes32,bytes32,bytes32)", &ret, &e) == PHX_OK,
              "%s", e.message);
    json_decref(args);
    uint8_t chain_meas[32], chain_bound[32];
    CHECK(ret &&
          !phx_hex_decode_fixed(json_string_value(json_array_get(ret, 1)), chain_meas, 32, &e) &&
          memcmp(chain_meas, meas, 32) == 0);
    CHECK(ret &&
          !phx_hex_decode_fixed(json_string_value(json_array_get(ret, 2)), chain_bound, 32, &e) &&
          memcmp(chain_bound, rd, 32) == 0);
    json_decref(ret);
    /* SGX v3 and TDX v5 layouts read the same on both sides. */
    {
        uint8_t sgx[48 + 384 + 16], v5[54 + 584 + 16], m1[32], m2[32], r1[64];
        memset(sgx, 0, sizeof sgx);
        sgx[0] = 3;
        for (size_t i = 48; i < sizeof sgx; i++)
            sgx[i] = (uint8_t)(i * 13);
        memset(v5, 0, sizeof v5);
        v5[0] = 5;
        v5[4] = 0x81;
        v5[48] = 2; /* body type TD 1.0 */
        for (size_t i = 54; i < sizeof v5; i++)
            v5[i] = (uint8_t)(i * 17);
        const uint8_t *qs[] = {sgx, v5};
        const size_t lens[] = {sizeof sgx, sizeof v5};
        const uint32_t tees[] = {0, 0x81};
        const size_t rd_at[] = {48 + 320, 54 + 520};
        for (int i = 0; i < 2; i++) {
            uint32_t t = 99;
            CHECK(phx_chain_quote_fields(qs[i], lens[i], &t, m1, r1, &e) == PHX_OK &&
                  t == tees[i] && memcmp(r1, qs[i] + rd_at[i], 64) == 0);
            json_t *a = json_pack("[o]", phx_json_hex(qs[i], lens[i])), *r = NULL;
            CHECK(phx_chain_read(rpc, dep.registry, "parseQuote(bytes)", a,
                                 "(uint32,bytes32,bytes32,bytes32)", &r, &e) == PHX_OK &&
                  !phx_hex_decode_fixed(json_string_value(json_array_get(r, 1)), m2, 32, &e) &&
                  memcmp(m1, m2, 32) == 0);
            json_decref(r);
            json_decref(a);
        }
        /* An unknown version is refused by both. */
        sgx[0] = 2;
        uint32_t t;
        CHECK(phx_chain_quote_fields(sgx, sizeof sgx, &t, m1, r1, &e) == PHX_ERR_UNSUPPORTED);
        EXPECT_REVERT_READ(dep.registry, "parseQuote(bytes)",
                           json_pack("[o]", phx_json_hex(sgx, sizeof sgx)), "BadQuote(string)");
    }
    /* A truncated quote is refused by both sides. */
    CHECK(phx_chain_quote_fields(q, 600, &tee, meas, rd, &e) == PHX_ERR_TRUNCATED);

    phx_keccak256(q, sizeof q, qhash);
    phx_chain_attest_digest(dep.chain_id, dep.registry, dep.deployer, worker, x, meas, tee, qhash,
                            nonce, c_side);
    CHECK(read_bytes32(dep.registry,
                       "attestDigest(address,address,bytes32,bytes32,uint32,bytes32,bytes32)",
                       json_pack("[o,o,o,o,i,o,o]", addr_json(dep.deployer), addr_json(worker),
                                 phx_json_hex(x, 32), phx_json_hex(meas, 32), 0x81,
                                 phx_json_hex(qhash, 32), phx_json_hex(nonce, 32)),
                       chain_side) == 0 &&
          memcmp(c_side, chain_side, 32) == 0);

    /* A payer's voucher: the C digest, Payments.voucherDigest and the generic
     * EIP-712 encoder all agree, for a cumulative above 2^64. */
    CHECK(phx_chain_has_payments(&dep));
    uint8_t payer[20], op[20], call_hash[32];
    memset(payer, 0x51, 20);
    memset(op, 0x52, 20);
    phx_chain_call_hash(cid, out_hash, call_hash);
    phx_u256_t cum = phx_u256_mul_u64(&(phx_u256_t){{[23] = 1}}, 3); /* 3 * 2^64 */
    char cum_dec[80];
    phx_u256_to_dec(&cum, cum_dec);
    phx_chain_voucher_digest(dep.chain_id, dep.payments, payer, op, &cum, call_hash, c_side);
    CHECK(read_bytes32(dep.payments, "voucherDigest(address,address,uint256,bytes32)",
                       json_pack("[o,o,s,o]", addr_json(payer), addr_json(op), cum_dec,
                                 phx_json_hex(call_hash, 32)),
                       chain_side) == 0 &&
          memcmp(c_side, chain_side, 32) == 0);
    json_t *typed =
        json_pack("{s:{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]},s:s,s:{s:s,s:s,s:I,s:o},"
                  "s:{s:o,s:o,s:s,s:o}}",
                  "types", "Voucher", "name", "payer", "type", "address", "name", "operator",
                  "type", "address", "name", "cumulative", "type", "uint256", "name", "callHash",
                  "type", "bytes32", "primaryType", "Voucher", "domain", "name", "Phalanx Payments",
                  "version", "1", "chainId", (json_int_t)dep.chain_id, "verifyingContract",
                  addr_json(dep.payments), "message", "payer", addr_json(payer), "operator",
                  addr_json(op), "cumulative", cum_dec, "callHash", phx_json_hex(call_hash, 32));
    uint8_t generic[32];
    CHECK_MSG(phx_eip712_digest(typed, generic, &e) == PHX_OK, "%s", e.message);
    CHECK(memcmp(generic, c_side, 32) == 0);
    json_decref(typed);

    /* phx.state's write digest: the C side and StateAnchor.writeDigest, for a
     * version above 2^32. */
    uint8_t skey[32], shash[32];
    phx_random_bytes(skey, 32);
    phx_random_bytes(shash, 32);
    CHECK(phx_chain_has_state(&dep));
    phx_chain_state_write_digest(dep.chain_id, dep.state, cid, skey, 0x123456789ull, shash, c_side);
    CHECK(read_bytes32(dep.state, "writeDigest(bytes32,bytes32,uint64,bytes32)",
                       json_pack("[o,o,s,o]", phx_json_hex(cid, 32), phx_json_hex(skey, 32),
                                 "4886718345", phx_json_hex(shash, 32)),
                       chain_side) == 0 &&
          memcmp(c_side, chain_side, 32) == 0);
    printf("digests: domain, result, contract id, quote fields, attest digest, voucher, state "
           "write match the contracts\n");
}

static void test_token(account_t *gov, account_t *user, account_t *spender)
{
    phx_u256_t before = balance(user->addr), amount = PHA(1000);
    TX_OK(gov, dep.token, "transfer(address,uint256)",
          json_pack("[o,o]", addr_json(user->addr), u256_json(&amount)));
    phx_u256_t after = balance(user->addr);
    CHECK(u256_eq_sum(&after, &before, &amount));
    /* More than the balance is refused. */
    phx_u256_t too_much = PHA(1001);
    EXPECT_REVERT(user, dep.token, "transfer(address,uint256)",
                  json_pack("[o,o]", addr_json(spender->addr), u256_json(&too_much)),
                  "ERC20InsufficientBalance(address,uint256,uint256)");

    /* EIP-2612: user signs in C, gov submits; the digest also equals the EVM
     * module's generic EIP-712 hashing of the same typed data. */
    phx_u256_t value = PHA(250), nonce = phx_u256_from_u64(0);
    uint64_t deadline = 4000000000ull;
    uint8_t digest[32], sig[65];
    phx_chain_permit_digest(dep.chain_id, dep.token, user->addr, spender->addr, &value, &nonce,
                            deadline, digest);
    char tok[43], own[43], spd[43], val[80];
    hexstr(dep.token, 20, tok);
    hexstr(user->addr, 20, own);
    hexstr(spender->addr, 20, spd);
    phx_u256_to_dec(&value, val);
    json_t *typed = json_pack(
        "{s:{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]},s:s,"
        "s:{s:s,s:s,s:I,s:s},s:{s:s,s:s,s:s,s:I,s:I}}",
        "types", "Permit", "name", "owner", "type", "address", "name", "spender", "type", "address",
        "name", "value", "type", "uint256", "name", "nonce", "type", "uint256", "name", "deadline",
        "type", "uint256", "primaryType", "Permit", "domain", "name", "Phala Token", "version", "1",
        "chainId", (json_int_t)dep.chain_id, "verifyingContract", tok, "message", "owner", own,
        "spender", spd, "value", val, "nonce", (json_int_t)0, "deadline", (json_int_t)deadline);
    uint8_t generic[32];
    phx_error_t e = {0};
    CHECK_MSG(typed && phx_eip712_digest(typed, generic, &e) == PHX_OK &&
                  memcmp(generic, digest, 32) == 0,
              "permit digest differs from EIP-712 (%s)", e.message);
    json_decref(typed);
    phx_secp256k1_sign(user->sk, digest, sig);
    const char *permit = "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)";
    TX_OK(gov, dep.token, permit,
          json_pack("[o,o,o,I,i,o,o]", addr_json(user->addr), addr_json(spender->addr),
                    u256_json(&value), (json_int_t)deadline, 27 + sig[64], phx_json_hex(sig, 32),
                    phx_json_hex(sig + 32, 32)));
    json_t *ret = NULL, *args = json_pack("[o,o]", addr_json(user->addr), addr_json(spender->addr));
    CHECK(phx_chain_read(rpc, dep.token, "allowance(address,address)", args, "(uint256)", &ret,
                         &e) == PHX_OK &&
          strcmp(json_string_value(json_array_get(ret, 0)), val) == 0);
    json_decref(ret);
    json_decref(args);
    CHECK(read_u64(dep.token, "nonces(address)", json_pack("[o]", addr_json(user->addr))) == 1);
    /* Replaying the same permit fails: the nonce moved on. */
    EXPECT_REVERT(gov, dep.token, permit,
                  json_pack("[o,o,o,I,i,o,o]", addr_json(user->addr), addr_json(spender->addr),
                            u256_json(&value), (json_int_t)deadline, 27 + sig[64],
                            phx_json_hex(sig, 32), phx_json_hex(sig + 32, 32)),
                  "ERC2612InvalidSigner(address,address)");
    /* The spender uses the allowance. */
    phx_u256_t spend = PHA(100), sb = balance(spender->addr);
    TX_OK(spender, dep.token, "transferFrom(address,address,uint256)",
          json_pack("[o,o,o]", addr_json(user->addr), addr_json(spender->addr), u256_json(&spend)));
    phx_u256_t sa = balance(spender->addr);
    CHECK(u256_eq_sum(&sa, &sb, &spend));
    printf("token: transfer, permit (C digest == EIP-712), replay refused, transferFrom\n");
}

static uint8_t measurement_allowed[32];

static void test_registry(account_t *gov, account_t *ops[2], account_t *nobody, worker_t *w,
                          int nworkers, const uint8_t kms_sk[32])
{
    phx_error_t e = {0};
    uint8_t kms_addr[20], q[QUOTE_LEN], rd[64], zero[32] = {0};
    uint32_t tee;
    phx_eth_address_from_seckey(kms_sk, kms_addr);
    admit_kms(gov, kms_addr);
    make_quote(q, zero, zero, zero, 0x11);
    phx_chain_quote_fields(q, sizeof q, &tee, measurement_allowed, rd, &e);

    /* Operators take PHA and stake it in their pools (3 workers' worth each). */
    phx_u256_t stake = PHA(3000);
    for (int i = 0; i < 2; i++) {
        TX_OK(gov, dep.token, "transfer(address,uint256)",
              json_pack("[o,o]", addr_json(ops[i]->addr), u256_json(&stake)));
        CHECK_MSG(phx_chain_stake(rpc, ops[i]->signer, &dep, &stake,
                                  PHX_CHAIN_DEFAULT_COMMISSION_BPS, NULL, &e) == PHX_OK,
                  "%s", e.message);
    }

    /* Not yet allowed: the measurement is refused before anything else. */
    EXPECT_REVERT(ops[0], dep.registry, REGISTER, register_args(&w[0], ops[0], kms_sk),
                  "MeasurementNotAllowed(bytes32)");
    CHECK_MSG(phx_chain_set_measurement(gov->signer, &dep, measurement_allowed, true, &e) == PHX_OK,
              "%s", e.message);

    /* Refused: no signature, a signature by a key that is not a KMS, no stake. */
    uint8_t not_kms[32];
    phx_secp256k1_keygen(not_kms);
    EXPECT_REVERT(ops[0], dep.registry, REGISTER, register_args(&w[0], ops[0], NULL),
                  "BadKmsSignature(address)");
    EXPECT_REVERT(ops[0], dep.registry, REGISTER, register_args(&w[0], ops[0], not_kms),
                  "BadKmsSignature(address)");
    EXPECT_REVERT(nobody, dep.registry, REGISTER, register_args(&w[0], nobody, kms_sk),
                  "InsufficientStake(uint256,uint256)");
    /* A KMS signature made for one operator does not register under another. */
    EXPECT_REVERT(ops[1], dep.registry, REGISTER, register_args(&w[0], ops[0], kms_sk),
                  "BadKmsSignature(address)");
    phx_chain_worker_t info;
    CHECK(phx_chain_worker_get(rpc, &dep, w[0].key.addr, &info, &e) == PHX_OK &&
          info.status == PHX_CHAIN_WORKER_NONE);

    /* Accepted with a valid KMS signature. */
    for (int i = 0; i < nworkers; i++) {
        /* Through the typed call, from the pieces register_args would encode. */
        json_t *a = register_args(&w[i], w[i].operator_, kms_sk);
        uint8_t nonce[32], sig[65];
        phx_buf_t quote = PHX_BUF_INIT;
        CHECK(!phx_hex_decode_fixed(json_string_value(json_array_get(a, 2)), nonce, 32, &e) &&
              !phx_hex_decode(json_string_value(json_array_get(a, 3)), &quote, &e) &&
              !phx_hex_decode_fixed(json_string_value(json_array_get(a, 4)), sig, 65, &e));
        CHECK_MSG(phx_chain_register_worker(w[i].operator_->signer, &dep, w[i].key.addr,
                                            w[i].x25519, nonce, quote.ptr, quote.len, sig,
                                            &e) == PHX_OK,
                  "register worker %d: %s", i, e.message);
        phx_buf_free(&quote);
        json_decref(a);
    }
    for (int i = 0; i < nworkers; i++) {
        CHECK_MSG(phx_chain_worker_get(rpc, &dep, w[i].key.addr, &info, &e) == PHX_OK, "%s",
                  e.message);
        CHECK(info.status == PHX_CHAIN_WORKER_ACTIVE);
        CHECK(memcmp(info.operator_, w[i].operator_->addr, 20) == 0);
        CHECK(memcmp(info.x25519, w[i].x25519, 32) == 0);
        CHECK(memcmp(info.measurement, measurement_allowed, 32) == 0);
        CHECK(memcmp(info.kms, kms_addr, 20) == 0);
        CHECK(info.tee_type == PHX_CHAIN_TEE_TDX);
    }
    CHECK(read_u64(dep.registry, "workerCount()", NULL) == (uint64_t)nworkers);
    /* A key is registered once. */
    EXPECT_REVERT(ops[0], dep.registry, REGISTER, register_args(&w[0], ops[0], kms_sk),
                  "AlreadyRegistered(address)");
    printf("registry: %d workers registered with a KMS signature; 5 refusals checked\n", nworkers);
}

/* ---- jobs --------------------------------------------------------------------------- */

static uint8_t contract_id[32];

static const char ASK[] = "ask(bytes32,bytes,uint256,uint32,uint8)";

static json_t *ask_args(uint32_t gas, unsigned k)
{
    phx_u256_t max_fee = PHA(10);
    static const uint8_t input[] = "{\"pair\":\"ETH/USD\"}";
    return json_pack("[o,o,o,I,i]", phx_json_hex(contract_id, 32),
                     phx_json_hex(input, sizeof input - 1), u256_json(&max_fee), (json_int_t)gas,
                     (int)k);
}

/* consumer.ask(...) from gov; returns the Requested event (caller clears). */
static unsigned asks_made; /* Requested events the log follower must see */

static int ask(account_t *gov, uint32_t gas, unsigned k, phx_chain_requested_t *req,
               phx_evm_receipt_t *receipt_out)
{
    phx_evm_receipt_t receipt;
    memset(&receipt, 0, sizeof receipt);
    phx_error_t e = {0};
    int rc = -1;
    memset(req, 0, sizeof *req);
    if (tx(gov, consumer, ASK, ask_args(gas, k), &receipt, &e)) {
        fprintf(stderr, "ask: %s\n", e.message);
        CHECK(0);
        goto out;
    }
    for (size_t i = 0; i < receipt.log_count; i++) {
        if (memcmp(receipt.logs[i].address, dep.jobs, 20) != 0) continue;
        if (phx_chain_parse_requested(&receipt.logs[i], req, &e) == PHX_OK) {
            asks_made++;
            rc = 0;
            break;
        }
    }
    CHECK_MSG(rc == 0, "no Requested event in the receipt");
out:
    if (receipt_out)
        *receipt_out = receipt;
    else
        phx_evm_receipt_clear(&receipt);
    return rc;
}

/* Sign the result as each worker in signers does, as the contract expects. */
static void sign_result(const phx_chain_requested_t *req, bool ok, const uint8_t *output,
                        size_t len, account_t **signers, size_t n, uint8_t (*sigs)[65])
{
    uint8_t domain[32], digest[32];
    phx_chain_jobs_domain(dep.chain_id, dep.jobs, domain);
    phx_chain_result_digest(domain, req->request_id, req->contract_id, req->code_hash, ok, output,
                            len, digest);
    for (size_t i = 0; i < n; i++)
        phx_secp256k1_sign(signers[i]->sk, digest, sigs[i]);
}

static json_t *fulfill_args_ok(const phx_chain_requested_t *req, bool ok, const uint8_t *output,
                               size_t len, account_t **signers, size_t n)
{
    uint8_t sigs[4][65];
    sign_result(req, ok, output, len, signers, n, sigs);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, phx_json_hex(sigs[i], 65));
    return json_pack("[I,b,o,o]", (json_int_t)req->request_id, ok, phx_json_hex(output, len), list);
}

static json_t *fulfill_args(const phx_chain_requested_t *req, const uint8_t *output, size_t len,
                            account_t **signers, size_t n)
{
    return fulfill_args_ok(req, true, output, len, signers, n);
}

static const char FULFILL[] = "fulfill(uint256,bool,bytes,bytes[])";
static const char DISSENT[] = "reportDissent(uint256,bool,bytes32,bytes[],bool,bytes32,bytes)";

static json_t *dissent_args(const phx_chain_requested_t *req, const uint8_t *output, size_t len,
                            account_t **quorum, size_t n, const uint8_t *other, size_t other_len,
                            account_t *dissenter)
{
    uint8_t sigs[4][65], dsig[1][65], qh[32], dh[32];
    sign_result(req, true, output, len, quorum, n, sigs);
    sign_result(req, true, other, other_len, &dissenter, 1, dsig);
    phx_keccak256(output, len, qh);
    phx_keccak256(other, other_len, dh);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, phx_json_hex(sigs[i], 65));
    return json_pack("[I,b,o,o,b,o,o]", (json_int_t)req->request_id, true, phx_json_hex(qh, 32),
                     list, true, phx_json_hex(dh, 32), phx_json_hex(dsig[0], 65));
}

/* Jobs.reportDissent: a worker's signature over another output than k signers
 * of distinct operators agree on is emitted as a Dissent event; anything less
 * than that is refused. */
static void dissent_checks(const phx_chain_requested_t *req, const uint8_t *output, size_t len,
                           account_t **quorum, account_t **same_operator, account_t **stranger)
{
    static const uint8_t other[] = "a different output";
    EXPECT_REVERT(quorum[0], dep.jobs, DISSENT,
                  dissent_args(req, output, len, quorum, 2, output, len, same_operator[1]),
                  "NoDissent(uint256)");
    EXPECT_REVERT(quorum[0], dep.jobs, DISSENT,
                  dissent_args(req, output, len, quorum, 1, other, sizeof other, same_operator[1]),
                  "SignatureCount(uint256,uint8)");
    EXPECT_REVERT(quorum[0], dep.jobs, DISSENT,
                  dissent_args(req, output, len, same_operator, 2, other, sizeof other, quorum[1]),
                  "DuplicateOperator(address)");
    EXPECT_REVERT(quorum[0], dep.jobs, DISSENT,
                  dissent_args(req, output, len, quorum, 2, other, sizeof other, stranger[0]),
                  "UnregisteredSigner(address)");
    phx_evm_receipt_t rc;
    memset(&rc, 0, sizeof rc);
    phx_error_t e = {0};
    uint8_t topic[32];
    CHECK(phx_abi_event_topic("Dissent(uint256,address,address,bool,bytes32,bytes32,bytes)", topic,
                              NULL) == PHX_OK);
    CHECK_MSG(tx(stranger[0], dep.jobs, DISSENT,
                 dissent_args(req, output, len, quorum, 2, other, sizeof other, same_operator[1]),
                 &rc, &e) == PHX_OK,
              "reportDissent: %s", e.message);
    bool seen = false;
    for (size_t i = 0; i < rc.log_count; i++)
        seen |= rc.logs[i].topic_count == 4 && !memcmp(rc.logs[i].topics[0], topic, 32) &&
                !memcmp(rc.logs[i].topics[2] + 12, same_operator[1]->addr, 20);
    CHECK_MSG(seen, "no Dissent event naming the dissenting worker");
    phx_evm_receipt_clear(&rc);
    printf("jobs: a dissent against a k=2 quorum is on chain; no-dissent, short quorum, one "
           "operator twice and an unregistered signer refused\n");
}

static uint8_t request_status(uint64_t id)
{
    phx_chain_request_t r;
    phx_error_t e = {0};
    CHECK_MSG(phx_chain_request_get(rpc, &dep, id, &r, &e) == PHX_OK, "%s", e.message);
    return r.status;
}

static phx_u256_t fee1(void)
{
    return PHA(1);
}

/* What the test hands to the independent node reader. */
typedef struct {
    uint8_t fulfil_tx[32];
    uint64_t request_id;
    uint8_t output_hash[32];
} readback_t;

static void test_jobs(account_t *gov, account_t *ops[2], worker_t *w, account_t *stranger,
                      readback_t *rb)
{
    phx_error_t e = {0};
    uint8_t salt[32], code_hash[32];
    phx_keccak256("oracle", 6, salt);
    phx_keccak256("export default async () => 42", 30, code_hash);
    CHECK_MSG(phx_chain_deploy_contract(gov->signer, &dep, salt, code_hash, "phx://code/oracle",
                                        contract_id, &e) == PHX_OK,
              "%s", e.message);
    json_t *ret = NULL, *args = json_pack("[o]", phx_json_hex(contract_id, 32));
    CHECK(phx_chain_read(rpc, dep.jobs, "contracts(bytes32)", args,
                         "(address,uint64,bytes32,string)", &ret, &e) == PHX_OK &&
          strcmp(json_string_value(json_array_get(ret, 3)), "phx://code/oracle") == 0);
    json_decref(ret);
    json_decref(args);

    phx_u256_t funds = PHA(100), fee = fee1();
    TX_OK(gov, dep.token, "transfer(address,uint256)",
          json_pack("[o,o]", addr_json(consumer), u256_json(&funds)));

    uint8_t output[256];
    for (size_t i = 0; i < sizeof output; i++)
        output[i] = (uint8_t)(i * 7);
    account_t *w0[] = {&w[0].key}, *w01[] = {&w[0].key, &w[1].key}, *w02[] = {&w[0].key, &w[2].key},
              *stranger1[] = {stranger};

    /* 1. request -> fulfil -> callback, PHA paid to the operator. */
    phx_chain_requested_t req;
    phx_u256_t cons0 = balance(consumer), op0 = earned(ops[0]->addr);
    if (ask(gov, 300000, 1, &req, NULL)) return;
    phx_u256_t cons1 = balance(consumer);
    CHECK(u256_eq_sum(&cons0, &cons1, &fee));
    CHECK(req.k == 1 && req.input_len == 18 && memcmp(req.code_hash, code_hash, 32) == 0);
    CHECK(request_status(req.request_id) == PHX_CHAIN_REQ_PENDING);
    phx_evm_receipt_t receipt;
    memset(&receipt, 0, sizeof receipt);
    {
        uint8_t sig[1][65], domain[32], digest[32];
        phx_chain_jobs_domain(dep.chain_id, dep.jobs, domain);
        phx_chain_result_digest(domain, req.request_id, req.contract_id, req.code_hash, true,
                                output, sizeof output, digest);
        CHECK(phx_chain_sign(w[0].key.sk, digest, sig[0]) == PHX_OK && sig[0][64] >= 27);
        CHECK_MSG(phx_chain_fulfill(w[0].key.signer, &dep, req.request_id, true, output,
                                    sizeof output, (const uint8_t(*)[65])sig, 1, &receipt,
                                    &e) == PHX_OK,
                  "fulfill: %s", e.message);
    }
    CHECK(request_status(req.request_id) == PHX_CHAIN_REQ_FULFILLED);
    phx_u256_t op1 = earned(ops[0]->addr);
    CHECK(u256_eq_sum(&op1, &op0, &fee));
    CHECK(read_u64(consumer, "callbacks()", NULL) == 1);
    uint8_t want_hash[32], got_hash[32];
    phx_keccak256(output, sizeof output, want_hash);
    CHECK(read_bytes32(consumer, "lastOutputHash()", NULL, got_hash) == 0 &&
          memcmp(want_hash, got_hash, 32) == 0);
    /* The Fulfilled event says the callback succeeded and who was paid. */
    bool seen = false;
    for (size_t i = 0; i < receipt.log_count; i++) {
        json_t *ev = NULL;
        if (phx_abi_decode_log_json(PHX_CHAIN_EV_FULFILLED, false, &receipt.logs[i], &ev, &e))
            continue;
        seen = true;
        CHECK(json_is_true(json_object_get(ev, "callbackOk")));
        json_t *opsj = json_object_get(ev, "operators");
        uint8_t a[20];
        CHECK(json_array_size(opsj) == 1 &&
              !phx_hex_decode_fixed(json_string_value(json_array_get(opsj, 0)), a, 20, &e) &&
              memcmp(a, ops[0]->addr, 20) == 0);
        json_decref(ev);
    }
    CHECK(seen);
    memcpy(rb->fulfil_tx, receipt.tx_hash, 32);
    rb->request_id = req.request_id;
    memcpy(rb->output_hash, want_hash, 32);
    printf("jobs: request %llu fulfilled by 1 worker, gas %llu, callback ran, 1 PHA owed to the "
           "operator's pool\n",
           (unsigned long long)req.request_id, (unsigned long long)receipt.gas_used);
    phx_evm_receipt_clear(&receipt);
    phx_chain_requested_clear(&req);

    /* 2. Signed by an unregistered key: refused; submitted by a non-worker: refused. */
    if (ask(gov, 300000, 1, &req, NULL)) return;
    EXPECT_REVERT(&w[0].key, dep.jobs, FULFILL, fulfill_args(&req, output, 32, stranger1, 1),
                  "UnregisteredSigner(address)");
    EXPECT_REVERT(stranger, dep.jobs, FULFILL, fulfill_args(&req, output, 32, w0, 1),
                  "NotWorker(address)");
    /* A signature over another output does not count for this one. */
    {
        json_t *args = fulfill_args(&req, output, 32, w0, 1);
        json_array_set_new(args, 2, phx_json_hex(output, 33));
        EXPECT_REVERT(&w[0].key, dep.jobs, FULFILL, args, "UnregisteredSigner(address)");
        /* Nor does a result signed as an error pass as an output (or back). */
        args = fulfill_args_ok(&req, false, output, 32, w0, 1);
        json_array_set_new(args, 1, json_true());
        EXPECT_REVERT(&w[0].key, dep.jobs, FULFILL, args, "UnregisteredSigner(address)");
        args = fulfill_args(&req, output, 32, w0, 1);
        json_array_set_new(args, 1, json_false());
        EXPECT_REVERT(&w[0].key, dep.jobs, FULFILL, args, "UnregisteredSigner(address)");
    }
    CHECK(request_status(req.request_id) == PHX_CHAIN_REQ_PENDING);
    TX_OK(&w[0].key, dep.jobs, FULFILL, fulfill_args(&req, output, 0, w0, 1)); /* empty output */
    CHECK(read_u64(consumer, "lastOutputLength()", NULL) == 0);
    CHECK(read_u64(consumer, "lastOk()", NULL) == 1);
    CHECK(request_status(req.request_id) == PHX_CHAIN_REQ_FULFILLED);
    phx_chain_requested_clear(&req);
    printf("jobs: unregistered signer, non-worker submitter, wrong output or ok flag refused\n");

    /* 2b. A failed run reaches the consumer as an error: ok false, the error as output. */
    if (ask(gov, 300000, 1, &req, NULL)) return;
    {
        static const uint8_t err_json[] = "{\"error\":\"Error: boom\"}";
        uint64_t failures = read_u64(consumer, "failures()", NULL);
        TX_OK(&w[0].key, dep.jobs, FULFILL,
              fulfill_args_ok(&req, false, err_json, sizeof err_json - 1, w0, 1));
        CHECK(request_status(req.request_id) == PHX_CHAIN_REQ_FULFILLED);
        CHECK(read_u64(consumer, "lastOk()", NULL) == 0);
        CHECK(read_u64(consumer, "failures()", NULL) == failures + 1);
        CHECK(read_u64(consumer, "lastOutputLength()", NULL) == sizeof err_json - 1);
    }
    phx_chain_requested_clear(&req);
    printf("jobs: a failed run delivered with ok=false, the consumer saw the error\n");

    /* 3. k = 2: one signature refused, one operator twice refused, two operators paid. */
    if (ask(gov, 300000, 2, &req, NULL)) return;
    phx_u256_t fee2 = PHA(2);
    CHECK(phx_u256_cmp(&req.fee, &fee2) == 0);
    EXPECT_REVERT(&w[0].key, dep.jobs, FULFILL, fulfill_args(&req, output, 64, w0, 1),
                  "SignatureCount(uint256,uint8)");
    EXPECT_REVERT(&w[0].key, dep.jobs, FULFILL, fulfill_args(&req, output, 64, w01, 2),
                  "DuplicateOperator(address)");
    phx_u256_t a0 = earned(ops[0]->addr), b0 = earned(ops[1]->addr);
    TX_OK(&w[0].key, dep.jobs, FULFILL, fulfill_args(&req, output, 64, w02, 2));
    phx_u256_t a1 = earned(ops[0]->addr), b1 = earned(ops[1]->addr);
    CHECK(u256_eq_sum(&a1, &a0, &fee) && u256_eq_sum(&b1, &b0, &fee));
    CHECK(request_status(req.request_id) == PHX_CHAIN_REQ_FULFILLED);
    dissent_checks(&req, output, 64, w02, w01, stranger1);
    phx_chain_requested_clear(&req);
    printf("jobs: k=2 refused with 1 signature and with 1 operator twice; paid 2 operators\n");

    /* 4. A reverting callback (and one that burns all its gas) is still recorded. */
    uint64_t callbacks = read_u64(consumer, "callbacks()", NULL);
    for (int mode = 1; mode <= 2; mode++) {
        TX_OK(gov, consumer, "setMode(uint8)", json_pack("[i]", mode));
        if (ask(gov, 100000, 1, &req, NULL)) return;
        phx_u256_t p0 = earned(ops[0]->addr);
        memset(&receipt, 0, sizeof receipt);
        CHECK_MSG(tx(&w[0].key, dep.jobs, FULFILL, fulfill_args(&req, output, 32, w0, 1), &receipt,
                     &e) == PHX_OK,
                  "fulfill with failing callback: %s", e.message);
        CHECK(receipt.status);
        CHECK(request_status(req.request_id) == PHX_CHAIN_REQ_CALLBACK_FAILED);
        phx_u256_t p1 = earned(ops[0]->addr);
        CHECK(u256_eq_sum(&p1, &p0, &fee));
        uint8_t told[4];
        phx_abi_selector("ToldToRevert(uint256)", told, &e);
        bool failed_event = false;
        for (size_t i = 0; i < receipt.log_count; i++) {
            json_t *ev = NULL;
            if (phx_abi_decode_log_json("CallbackFailed(uint256 indexed requestId,bytes reason)",
                                        false, &receipt.logs[i], &ev, &e))
                continue;
            phx_buf_t reason = PHX_BUF_INIT;
            phx_hex_decode(json_string_value(json_object_get(ev, "reason")), &reason, &e);
            /* mode 1 reverts with ToldToRevert; mode 2 runs out of gas (no data). */
            failed_event =
                mode == 1 ? reason.len == 36 && memcmp(reason.ptr, told, 4) == 0 : reason.len == 0;
            phx_buf_free(&reason);
            json_decref(ev);
        }
        CHECK_MSG(failed_event, "mode %d: CallbackFailed event", mode);
        phx_evm_receipt_clear(&receipt);
        phx_chain_requested_clear(&req);
    }
    CHECK(read_u64(consumer, "callbacks()", NULL) == callbacks);
    TX_OK(gov, consumer, "setMode(uint8)", json_pack("[i]", 0));
    printf("jobs: reverting and gas-burning callbacks recorded as CALLBACK_FAILED, workers paid\n");

    /* 5. Outputs up to 64 KiB. */
    uint8_t *big = malloc(65537);
    for (size_t i = 0; big && i < 65537; i++)
        big[i] = (uint8_t)(i ^ (i >> 8));
    if (big && !ask(gov, 2000000, 1, &req, NULL)) {
        EXPECT_REVERT(&w[0].key, dep.jobs, FULFILL, fulfill_args(&req, big, 65537, w0, 1),
                      "TooLarge(uint256,uint256)");
        TX_OK(&w[0].key, dep.jobs, FULFILL, fulfill_args(&req, big, 65536, w0, 1));
        CHECK(request_status(req.request_id) == PHX_CHAIN_REQ_FULFILLED);
        CHECK(read_u64(consumer, "lastOutputLength()", NULL) == 65536);
        phx_chain_requested_clear(&req);
    }
    free(big);
    printf("jobs: 64 KiB output settled with its callback; 64 KiB + 1 refused\n");

    /* 6. Expiry: refunded by the next request's sweep, with nobody calling refund. */
    phx_chain_requested_t late, next;
    if (ask(gov, 300000, 1, &late, NULL)) return;
    phx_u256_t c0 = balance(consumer);
    json_t *res = NULL;
    phx_rpc_call(rpc, "evm_increaseTime", json_pack("[i]", 3601), &res, &e);
    json_decref(res);
    res = NULL;
    phx_rpc_call(rpc, "evm_mine", NULL, &res, &e);
    json_decref(res);
    EXPECT_REVERT(&w[0].key, dep.jobs, FULFILL, fulfill_args(&late, output, 32, w0, 1),
                  "Expired(uint256,uint64)");
    CHECK(request_status(late.request_id) == PHX_CHAIN_REQ_PENDING);
    phx_evm_receipt_t sweep_receipt;
    if (ask(gov, 300000, 1, &next, &sweep_receipt)) return;
    CHECK(request_status(late.request_id) == PHX_CHAIN_REQ_REFUNDED);
    phx_u256_t c1 = balance(consumer);
    CHECK(phx_u256_cmp(&c1, &c0) == 0); /* +1 refunded, -1 for the new request */
    bool refunded = false;
    for (size_t i = 0; i < sweep_receipt.log_count; i++) {
        json_t *ev = NULL;
        if (phx_abi_decode_log_json(PHX_CHAIN_EV_REFUNDED, false, &sweep_receipt.logs[i], &ev, &e))
            continue;
        char id[24];
        snprintf(id, sizeof id, "%llu", (unsigned long long)late.request_id);
        refunded = strcmp(json_string_value(json_object_get(ev, "requestId")), id) == 0;
        json_decref(ev);
    }
    CHECK(refunded);
    phx_evm_receipt_clear(&sweep_receipt);
    /* Anyone may also settle one directly; the money goes to the requester. */
    res = NULL;
    phx_rpc_call(rpc, "evm_increaseTime", json_pack("[i]", 3601), &res, &e);
    json_decref(res);
    res = NULL;
    phx_rpc_call(rpc, "evm_mine", NULL, &res, &e);
    json_decref(res);
    phx_u256_t s0 = balance(stranger->addr);
    TX_OK(stranger, dep.jobs, "refund(uint256)", json_pack("[I]", (json_int_t)next.request_id));
    phx_u256_t c2 = balance(consumer), s1 = balance(stranger->addr);
    CHECK(u256_eq_sum(&c2, &c1, &fee) && phx_u256_cmp(&s0, &s1) == 0);
    EXPECT_REVERT(stranger, dep.jobs, "refund(uint256)",
                  json_pack("[I]", (json_int_t)next.request_id), "NotPending(uint256,uint8)");
    phx_chain_requested_clear(&late);
    phx_chain_requested_clear(&next);
    printf("jobs: expired request refunded by the sweep; explicit refund by a third party\n");
}

/* ---- the callback's gas is bounded both ways; an EOA requester gets no call ---------- */

static void test_callback_bounds(account_t *gov, account_t *user, worker_t *w)
{
    phx_error_t e = {0};
    phx_chain_requested_t req;
    uint8_t output[32] = {9};
    account_t *w0[] = {&w[0].key};

    /* A submitter who sends too little gas for the callback's full limit is refused
     * (otherwise it could make any callback fail at will). */
    if (ask(gov, 2000000, 1, &req, NULL)) return;
    phx_buf_t data = PHX_BUF_INIT, ret = PHX_BUF_INIT;
    json_t *args = fulfill_args(&req, output, sizeof output, w0, 1);
    CHECK(phx_chain_calldata(FULFILL, args, &data, &e) == PHX_OK);
    json_decref(args);
    phx_evm_call_t call;
    memset(&call, 0, sizeof call);
    call.has_from = call.has_to = true;
    memcpy(call.from, w[0].key.addr, 20);
    memcpy(call.to, dep.jobs, 20);
    call.data = data.ptr;
    call.data_len = data.len;
    call.gas = 1000000;
    uint8_t want[4];
    phx_abi_selector("InsufficientGasForCallback()", want, &e);
    phx_err_t err = phx_rpc_call_contract(rpc, &call, NULL, &ret, &e);
    CHECK_MSG(err == PHX_ERR_REMOTE && ret.len >= 4 && memcmp(ret.ptr, want, 4) == 0,
              "short gas: err %d, %zu bytes (%s)", err, ret.len, e.message);
    phx_evm_receipt_t receipt;
    memset(&receipt, 0, sizeof receipt);
    err = phx_chain_send(w[0].key.signer, dep.jobs, data.ptr, data.len, 1000000, &receipt, &e);
    CHECK(err == PHX_ERR_REMOTE && !receipt.status); /* mined, reverted */
    phx_evm_receipt_clear(&receipt);
    CHECK(request_status(req.request_id) == PHX_CHAIN_REQ_PENDING);
    /* With the gas estimated, the same fulfil goes through. */
    CHECK(phx_chain_send(w[0].key.signer, dep.jobs, data.ptr, data.len, 0, NULL, &e) == PHX_OK);
    CHECK(request_status(req.request_id) == PHX_CHAIN_REQ_FULFILLED);
    phx_buf_free(&ret);
    phx_buf_free(&data);
    phx_chain_requested_clear(&req);

    /* A gas-burning callback gets exactly its limit, not the whole transaction. */
    TX_OK(gov, consumer, "setMode(uint8)", json_pack("[i]", 2));
    if (ask(gov, 50000, 1, &req, NULL)) return;
    memset(&receipt, 0, sizeof receipt);
    CHECK(tx(&w[0].key, dep.jobs, FULFILL, fulfill_args(&req, output, sizeof output, w0, 1),
             &receipt, &e) == PHX_OK);
    uint64_t with_burn = receipt.gas_used;
    phx_evm_receipt_clear(&receipt);
    CHECK(request_status(req.request_id) == PHX_CHAIN_REQ_CALLBACK_FAILED);
    phx_chain_requested_clear(&req);
    TX_OK(gov, consumer, "setMode(uint8)", json_pack("[i]", 0));
    CHECK_MSG(with_burn < 50000 + 200000, "fulfil with a 50000-gas burning callback used %llu",
              (unsigned long long)with_burn);

    /* An EOA may request too (approve first); there is nothing to call back. */
    phx_u256_t fee = PHA(1);
    TX_OK(user, dep.token, "approve(address,uint256)",
          json_pack("[o,o]", addr_json(dep.jobs), u256_json(&fee)));
    memset(&receipt, 0, sizeof receipt);
    CHECK(tx(user, dep.jobs, "request(bytes32,bytes,uint256,uint32,uint8)",
             json_pack("[o,s,o,i,i]", phx_json_hex(contract_id, 32), "0x", u256_json(&fee), 0, 1),
             &receipt, &e) == PHX_OK);
    bool found = false;
    for (size_t i = 0; i < receipt.log_count && !found; i++)
        found = phx_chain_parse_requested(&receipt.logs[i], &req, &e) == PHX_OK;
    phx_evm_receipt_clear(&receipt);
    CHECK(found);
    if (!found) return;
    asks_made++;
    CHECK(memcmp(req.requester, user->addr, 20) == 0 && req.input_len == 0);
    TX_OK(&w[0].key, dep.jobs, FULFILL, fulfill_args(&req, output, sizeof output, w0, 1));
    CHECK(request_status(req.request_id) == PHX_CHAIN_REQ_FULFILLED);
    phx_chain_requested_clear(&req);
    printf("callbacks: short-gas submitter refused; burning callback capped (%llu gas); EOA "
           "requester settled\n",
           (unsigned long long)with_burn);
}

/* ---- a worker's view: the EVM log follower delivers every Requested event ------------ */

typedef struct {
    unsigned seen;
    uint64_t last_id;
    bool ordered;
} follow_ctx_t;

static phx_err_t on_requested(void *ctx, const phx_evm_log_t *log, phx_error_t *e)
{
    follow_ctx_t *f = ctx;
    phx_chain_requested_t req;
    phx_err_t err = phx_chain_parse_requested(log, &req, e);
    if (err) return err;
    f->ordered = f->ordered && req.request_id == f->last_id + 1;
    f->last_id = req.request_id;
    f->seen++;
    phx_chain_requested_clear(&req);
    return PHX_OK;
}

static phx_err_t on_rollback(void *ctx, uint64_t block, phx_error_t *e)
{
    (void)ctx;
    (void)block;
    (void)e;
    return PHX_OK;
}

static void test_follow_requests(void)
{
    phx_error_t e = {0};
    uint8_t topic[32];
    phx_abi_event_topic(PHX_CHAIN_EV_REQUESTED, topic, &e);
    phx_evm_follower_opts_t opts;
    memset(&opts, 0, sizeof opts);
    opts.start_block = dep.block;
    opts.page_blocks = 7; /* several pages */
    opts.addresses = (const uint8_t(*)[20])dep.jobs;
    opts.address_count = 1;
    opts.topic0 = (const uint8_t(*)[32])topic;
    opts.topic0_count = 1;
    phx_evm_follower_t *f = NULL;
    follow_ctx_t ctx = {0, 0, true};
    phx_evm_follower_cb_t cb = {on_requested, on_rollback, &ctx};
    size_t delivered = 0;
    CHECK_MSG(phx_evm_follower_open(rpc, &opts, &f, &e) == PHX_OK &&
                  phx_evm_follower_poll(f, &cb, &delivered, &e) == PHX_OK,
              "follower: %s", e.message);
    phx_evm_follower_close(f);
    CHECK_MSG(ctx.seen == asks_made && ctx.ordered, "follower saw %u of %u Requested events",
              ctx.seen, asks_made);
    printf("follower: %u Requested events decoded in order from eth_getLogs pages\n", ctx.seen);
}

/* ---- the one reader of on-chain requests (phx_chain_requests) ----------------------- */

static json_t *rpc_plain(const char *method, json_t *params)
{
    json_t *res = NULL;
    phx_error_t e = {0};
    CHECK_MSG(phx_rpc_call(rpc, method, params, &res, &e) == PHX_OK, "%s: %s", method, e.message);
    return res;
}

/* The index agrees with the contract's storage on every request test_jobs
 * made (fulfilled, failed callbacks, refunded, pending), carries block numbers
 * and timestamps, and a reorg takes back both a request and a settlement. */
static void test_request_index(const char *url, account_t *gov, worker_t *w)
{
    phx_error_t e = {0};
    phx_chain_requests_t *r = NULL;
    CHECK_MSG(phx_chain_requests_open(url, &dep, &r, &e) == PHX_OK &&
                  phx_chain_requests_sync(r, &e) == PHX_OK,
              "reader: %s", e.message);
    if (!r) return;
    uint64_t total = read_u64(dep.jobs, "requestCount()", NULL);
    CHECK_MSG(total >= 4 && phx_chain_requests_count(r) == total, "%zu indexed, %llu on chain",
              phx_chain_requests_count(r), (unsigned long long)total);
    unsigned seen[5] = {0};
    for (uint64_t id = 1; id <= total; id++) {
        phx_chain_request_entry_t x;
        phx_chain_request_t st;
        CHECK_MSG(phx_chain_requests_get(r, id, &x), "request %llu indexed",
                  (unsigned long long)id);
        CHECK(phx_chain_request_get(rpc, &dep, id, &st, &e) == PHX_OK);
        CHECK_MSG(x.status == st.status, "request %llu: events say %s, storage %s",
                  (unsigned long long)id, phx_chain_request_status_name(x.status),
                  phx_chain_request_status_name(st.status));
        CHECK(!memcmp(x.contract_id, st.contract_id, 32) &&
              !memcmp(x.requester, st.requester, 20) && phx_u256_cmp(&x.fee, &st.fee) == 0 &&
              x.deadline == st.deadline);
        CHECK(x.block >= dep.block && x.time > 0);
        if (x.status != PHX_CHAIN_REQ_PENDING)
            CHECK_MSG(x.done_block >= x.block && x.done_time >= x.time, "request %llu settled",
                      (unsigned long long)id);
        if (x.status < 5) seen[x.status]++;
    }
    CHECK_MSG(seen[PHX_CHAIN_REQ_FULFILLED] && seen[PHX_CHAIN_REQ_CALLBACK_FAILED] &&
                  seen[PHX_CHAIN_REQ_REFUNDED],
              "fulfilled %u, failed %u, refunded %u", seen[PHX_CHAIN_REQ_FULFILLED],
              seen[PHX_CHAIN_REQ_CALLBACK_FAILED], seen[PHX_CHAIN_REQ_REFUNDED]);
    /* The expired request's refund took an hour of chain time: seconds, not blocks. */
    json_t *rows = phx_chain_requests_json(r, contract_id, 1000);
    size_t i;
    json_t *row;
    bool hour = false, ordered = true;
    json_array_foreach(rows, i, row)
    {
        hour |= !strcmp(json_string_value(json_object_get(row, "status")), "refunded") &&
                json_integer_value(json_object_get(row, "latency_s")) >= 3600;
        if (i)
            ordered &= json_integer_value(json_object_get(row, "id")) <
                       json_integer_value(json_object_get(json_array_get(rows, i - 1), "id"));
    }
    CHECK_MSG(json_array_size(rows) == total && ordered, "%zu rows, newest first",
              json_array_size(rows));
    CHECK_MSG(hour, "a refund after evm_increaseTime(3601) shows latency_s >= 3600");
    json_decref(rows);
    uint8_t other[32] = {1};
    rows = phx_chain_requests_json(r, other, 1000);
    CHECK(rows && json_array_size(rows) == 0);
    json_decref(rows);
    printf("request index: %llu requests from events match storage (%u fulfilled, %u failed, "
           "%u refunded, %u pending)\n",
           (unsigned long long)total, seen[2], seen[3], seen[4], seen[1]);

    /* A reorg: A asked before the snapshot; after it, A fulfilled and B asked. */
    phx_chain_requested_t a, b;
    uint8_t output[4] = {9, 9, 9, 9};
    account_t *w0[] = {&w[0].key};
    if (ask(gov, 100000, 1, &a, NULL)) goto out;
    CHECK(phx_chain_requests_sync(r, &e) == PHX_OK);
    json_t *snap = rpc_plain("evm_snapshot", NULL);
    TX_OK(&w[0].key, dep.jobs, FULFILL, fulfill_args(&a, output, 4, w0, 1));
    if (ask(gov, 100000, 1, &b, NULL)) goto out_a;
    phx_chain_request_entry_t x;
    CHECK_MSG(phx_chain_requests_sync(r, &e) == PHX_OK, "%s", e.message);
    CHECK(phx_chain_requests_get(r, a.request_id, &x) && x.status == PHX_CHAIN_REQ_FULFILLED);
    CHECK(phx_chain_requests_get(r, b.request_id, &x) && x.status == PHX_CHAIN_REQ_PENDING);
    json_decref(rpc_plain("evm_revert", json_pack("[O]", snap)));
    json_decref(rpc_plain("evm_mine", NULL));
    asks_made--; /* B's Requested event is no longer on the chain */
    /* Their transactions went with the blocks: the senders' nonces go back too. */
    CHECK(phx_signer_resync(gov->signer, &e) == PHX_OK &&
          phx_signer_resync(w[0].key.signer, &e) == PHX_OK);
    CHECK_MSG(phx_chain_requests_sync(r, &e) == PHX_OK, "after the reorg: %s", e.message);
    CHECK_MSG(phx_chain_requests_get(r, a.request_id, &x) && x.status == PHX_CHAIN_REQ_PENDING &&
                  !x.done_block,
              "the voided settlement is pending again");
    CHECK_MSG(!phx_chain_requests_get(r, b.request_id, &x), "the voided request is gone");
    CHECK(phx_chain_requests_count(r) == total + 1);
    /* The replacing chain's own request under the same id is read anew. */
    phx_chain_requested_clear(&b);
    if (!ask(gov, 100000, 1, &b, NULL)) {
        CHECK(phx_chain_requests_sync(r, &e) == PHX_OK);
        CHECK(phx_chain_requests_get(r, b.request_id, &x) && x.status == PHX_CHAIN_REQ_PENDING);
        printf("request index: a reorg voided request %llu and request %llu's settlement; the "
               "new chain's request %llu read\n",
               (unsigned long long)b.request_id, (unsigned long long)a.request_id,
               (unsigned long long)b.request_id);
    }
    json_decref(snap);
    phx_chain_requested_clear(&b);
out_a:
    phx_chain_requested_clear(&a);
out:
    phx_chain_requests_close(r);
}

/* ---- lifecycle: deregistration, invalidation, allowlist removal, stake locks ---------- */

static void test_lifecycle(account_t *gov, account_t *ops[2], worker_t *w, account_t *stranger)
{
    phx_error_t e = {0};
    phx_chain_worker_t info;
    uint8_t output[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    phx_chain_requested_t req;
    account_t *w1[] = {&w[1].key}, *w2[] = {&w[2].key}, *w0[] = {&w[0].key};

    /* Governance functions are the governor's only. */
    EXPECT_REVERT(stranger, dep.registry, "setKmsQuorum(uint256)", json_pack("[i]", 2),
                  "NotGovernor()");
    EXPECT_REVERT(stranger, dep.registry, "invalidateWorker(address,string)",
                  json_pack("[o,s]", addr_json(w[2].key.addr), "x"), "NotAuthorized()");
    EXPECT_REVERT(stranger, dep.jobs, "setParams(uint256,uint64,uint32)",
                  json_pack("[i,i,i]", 0, 1, 1), "NotGovernor()");

    /* Only the pool's holders move its stake: nothing is bonded to the Registry. */
    phx_u256_t some = PHA(1000);
    EXPECT_REVERT(stranger, dep.stake_pool, "undelegate(uint256,uint256)",
                  json_pack("[i,o]", 1, u256_json(&some)), "InsufficientShares(uint256,uint256)");
    /* A stranger cannot deregister someone else's worker; the operator can. */
    EXPECT_REVERT(stranger, dep.registry, "deregisterWorker(address)",
                  json_pack("[o]", addr_json(w[1].key.addr)), "NotAuthorized()");
    TX_OK(ops[0], dep.registry, "deregisterWorker(address)",
          json_pack("[o]", addr_json(w[1].key.addr)));
    CHECK(phx_chain_worker_get(rpc, &dep, w[1].key.addr, &info, &e) == PHX_OK &&
          info.status == PHX_CHAIN_WORKER_DEREGISTERED);
    /* Undelegating queues the shares: the Registry's stake drops at once. */
    uint64_t pid0 = 0;
    CHECK(phx_chain_pool_of(rpc, &dep, ops[0]->addr, &pid0, &e) == PHX_OK && pid0 > 0);
    TX_OK(ops[0], dep.stake_pool, "undelegate(uint256,uint256)",
          json_pack("[I,o]", (json_int_t)pid0, u256_json(&some)));
    json_t *st = NULL, *who = json_pack("[o]", addr_json(ops[0]->addr));
    CHECK(phx_chain_read(rpc, dep.registry, "stakeOf(address)", who, "(uint256)", &st, &e) ==
              PHX_OK &&
          strcmp(json_string_value(json_array_get(st, 0)), "2000000000000000000000") == 0);
    json_decref(st);
    json_decref(who);

    /* A deregistered worker's signature no longer counts. */
    if (ask(gov, 300000, 1, &req, NULL)) return;
    EXPECT_REVERT(&w[0].key, dep.jobs, FULFILL, fulfill_args(&req, output, 8, w1, 1),
                  "UnregisteredSigner(address)");
    /* Governance invalidates w[2]: its signature no longer counts either. */
    TX_OK(gov, dep.registry, "invalidateWorker(address,string)",
          json_pack("[o,s]", addr_json(w[2].key.addr), "test: misbehaved"));
    CHECK(phx_chain_worker_get(rpc, &dep, w[2].key.addr, &info, &e) == PHX_OK &&
          info.status == PHX_CHAIN_WORKER_INVALIDATED);
    EXPECT_REVERT(&w[0].key, dep.jobs, FULFILL, fulfill_args(&req, output, 8, w2, 1),
                  "UnregisteredSigner(address)");
    /* Removing the measurement deactivates w[0] at once (as submitter and signer). */
    CHECK(phx_chain_set_measurement(gov->signer, &dep, measurement_allowed, false, &e) == PHX_OK);
    EXPECT_REVERT(&w[0].key, dep.jobs, FULFILL, fulfill_args(&req, output, 8, w0, 1),
                  "NotWorker(address)");
    /* Allowed again: the same registration works again, nothing else changed. */
    CHECK(phx_chain_set_measurement(gov->signer, &dep, measurement_allowed, true, &e) == PHX_OK);
    TX_OK(&w[0].key, dep.jobs, FULFILL, fulfill_args(&req, output, 8, w0, 1));
    CHECK(request_status(req.request_id) == PHX_CHAIN_REQ_FULFILLED);
    phx_chain_requested_clear(&req);
    printf("lifecycle: deregister, invalidate, allowlist removal and stake locks enforced\n");
}

/* ---- independent check: node + ethers read what C wrote ------------------------------- */

static void test_readback(const char *url, const char *dir, account_t *ops[2], worker_t *w,
                          const readback_t *rb)
{
    char path[512], script[4200], cmd[9000], tok[200];
    snprintf(path, sizeof path, "%s/expect.json", dir);
    json_t *balances = json_object();
    const uint8_t *who[] = {ops[0]->addr, ops[1]->addr, consumer};
    for (int i = 0; i < 3; i++) {
        phx_u256_t b = balance(who[i]);
        hexstr(who[i], 20, tok);
        json_object_set_new(balances, tok, u256_json(&b));
    }
    char txh[67], oh[67], waddr[43], op[43], x[67];
    hexstr(rb->fulfil_tx, 32, txh);
    hexstr(rb->output_hash, 32, oh);
    hexstr(w->key.addr, 20, waddr);
    hexstr(w->operator_->addr, 20, op);
    hexstr(w->x25519, 32, x);
    json_t *expect = json_pack("{s:s,s:s,s:o,s:{s:s,s:s,s:s},s:{s:s,s:I,s:s}}", "rpc", url,
                               "deployment", "deployment.json", "balances", balances, "worker",
                               "address", waddr, "operator", op, "x25519", x, "fulfilled", "tx",
                               txh, "requestId", (json_int_t)rb->request_id, "outputHash", oh);
    char *text = phx_json_dump(expect, true);
    phx_error_t e = {0};
    CHECK(text && phx_file_write_atomic(path, text, strlen(text), 0644, &e) == PHX_OK);
    free(text);
    json_decref(expect);
    const char *src = getenv("PHX_SOURCE_DIR");
    snprintf(script, sizeof script, "%s/tests/chain/readback.js", src && *src ? src : "..");
    snprintf(cmd, sizeof cmd, "node '%s' '%s' '%s'", script, dir, test_node_modules());
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "readback.js failed (%d)", rc);
}

/* What the cases share: one chain, its accounts and workers, built up in order
 * (the deployment first; registration before jobs; jobs before their readback). */
static struct {
    char dir[64];
    char url[64];
    account_t gov, op_a, op_b, user, spender, stranger;
    account_t *ops[2];
    worker_t w[3];
    uint8_t kms_sk[32];
    readback_t rb;
} T;

static void case_deploy(void)
{
    test_deploy(&T.gov, T.dir);
}
static void case_token(void)
{
    test_token(&T.gov, &T.user, &T.spender);
}
static void case_registry(void)
{
    test_registry(&T.gov, T.ops, &T.user, T.w, 3, T.kms_sk);
}
static void case_kms_admit(void)
{
    test_kms_admit(&T.gov, &T.spender);
}
static void case_jobs(void)
{
    test_jobs(&T.gov, T.ops, T.w, &T.stranger, &T.rb);
}
static void case_readback(void)
{
    test_readback(T.url, T.dir, T.ops, &T.w[0], &T.rb);
}
static void case_callback_bounds(void)
{
    test_callback_bounds(&T.gov, &T.user, T.w);
}
static void case_request_index(void)
{
    test_request_index(T.url, &T.gov, T.w);
}
static void case_lifecycle(void)
{
    test_lifecycle(&T.gov, T.ops, T.w, &T.stranger);
}

/* A pool's totalStake (StakePool.pool(pid).totalStake). */
static phx_u256_t pool_stake(uint64_t pid)
{
    json_t *ret = NULL, *args = json_pack("[I]", (json_int_t)pid);
    phx_error_t e = {0};
    phx_u256_t v = {{0}};
    CHECK_MSG(phx_chain_read(rpc, dep.stake_pool, "pool(uint256)", args,
                             "((address,uint16,uint256,uint256,uint256,uint256,uint256))", &ret,
                             &e) == PHX_OK,
              "pool: %s", e.message);
    const char *s = json_string_value(json_array_get(json_array_get(ret, 0), 4));
    if (s) phx_u256_from_str(s, &v, &e);
    json_decref(ret);
    json_decref(args);
    return v;
}

/* Equivocation: w[2] signs two different outputs for one request; anyone (the
 * user) proves it. The operator's pool loses slashBps (10 %) of its stake,
 * half to the reporter and the rest to the treasury (the timelock); the worker
 * is invalidated and the Registry's stake follows the pool's. */
static void case_equivocation(void)
{
    static const char REPORT[] =
        "reportEquivocation(address,uint256,bytes32,bytes32,bool,bytes32,bytes,bool,bytes32,bytes)";
    phx_error_t e = {0};
    uint64_t pid = 0;
    CHECK(phx_chain_pool_of(rpc, &dep, T.op_b.addr, &pid, &e) == PHX_OK && pid > 0);
    uint8_t domain[32], cid[32], code[32], da[32], db[32], sa[65], sb[65], ha[32], hb[32];
    const uint8_t out_a[] = "price 3120", out_b[] = "price 9999";
    phx_random_bytes(cid, 32);
    phx_random_bytes(code, 32);
    phx_chain_jobs_domain(dep.chain_id, dep.jobs, domain);
    phx_chain_result_digest(domain, 77, cid, code, true, out_a, sizeof out_a - 1, da);
    phx_chain_result_digest(domain, 77, cid, code, true, out_b, sizeof out_b - 1, db);
    phx_keccak256(out_a, sizeof out_a - 1, ha);
    phx_keccak256(out_b, sizeof out_b - 1, hb);
    CHECK(phx_chain_sign(T.w[2].key.sk, da, sa) == PHX_OK &&
          phx_chain_sign(T.w[2].key.sk, db, sb) == PHX_OK);
#define PROOF(hb_, sb_)                                                                            \
    json_pack("[o,i,o,o,b,o,o,b,o,o]", addr_json(T.w[2].key.addr), 77, phx_json_hex(cid, 32),      \
              phx_json_hex(code, 32), 1, phx_json_hex(ha, 32), phx_json_hex(sa, 65), 1,            \
              phx_json_hex(hb_, 32), phx_json_hex(sb_, 65))
    /* One output twice proves nothing. */
    EXPECT_REVERT(&T.user, dep.stake_pool, REPORT, PROOF(ha, sa), "NotEquivocation()");
    phx_u256_t stake0 = pool_stake(pid), rep0 = balance(T.user.addr), tres0 = balance(dep.timelock);
    TX_OK(&T.user, dep.stake_pool, REPORT, PROOF(hb, sb));
    phx_u256_t stake1 = pool_stake(pid), rep1 = balance(T.user.addr), tres1 = balance(dep.timelock);
    /* op B staked 3000 PHA: 300 slashed, 150 to the reporter, 150 to the treasury. */
    phx_u256_t want0 = PHA(3000), lost = PHA(300), half = PHA(150);
    CHECK_MSG(phx_u256_cmp(&stake0, &want0) == 0, "op B's pool holds its 3000 PHA");
    CHECK_MSG(u256_eq_sum(&stake0, &stake1, &lost), "10 %% of the pool slashed");
    CHECK_MSG(u256_eq_sum(&rep1, &rep0, &half), "half to the reporter");
    CHECK_MSG(u256_eq_sum(&tres1, &tres0, &half), "the rest to the treasury (the timelock)");
    json_t *q = NULL, *a = json_pack("[o]", addr_json(T.op_b.addr));
    CHECK(phx_chain_read(rpc, dep.registry, "stakeOf(address)", a, "(uint256)", &q, &e) == PHX_OK);
    phx_u256_t synced = {{0}}, want1 = PHA(2700);
    phx_u256_from_str(json_string_value(json_array_get(q, 0)), &synced, &e);
    json_decref(q);
    json_decref(a);
    CHECK_MSG(phx_u256_cmp(&synced, &want1) == 0, "the Registry re-read the slashed pool");
    /* The same proof again: once per (worker, request). */
    EXPECT_REVERT(&T.user, dep.stake_pool, REPORT, PROOF(hb, sb), "AlreadySlashed()");
    phx_chain_worker_t info;
    CHECK(phx_chain_worker_get(rpc, &dep, T.w[2].key.addr, &info, &e) == PHX_OK &&
          info.status == PHX_CHAIN_WORKER_INVALIDATED);
#undef PROOF
    printf("equivocation: pool %llu slashed 10 %%, half to the reporter, the rest to the "
           "timelock; worker invalidated; a second report refused\n",
           (unsigned long long)pid);
}

/* Who pays a trigger firing (issue 15): the deploy wires Jobs and Payments
 * both ways; phx_chain_firing_payment reads the price and the deposit of the
 * owner Jobs records: unpaid without a deposit (naming the owner), unpaid for
 * a contract the chain does not know, paid once the deposit covers the price,
 * free at price 0. */
static void case_firing_payment(void)
{
    phx_error_t e = {0};
    account_t owner;
    memset(&owner, 0, sizeof owner);
    uint8_t word[32], want[32] = {0}, salt[32] = {0x15}, code[32] = {0xc0}, cid[32], off[32];
    memcpy(want + 12, dep.payments, 20);
    CHECK_MSG(read_bytes32(dep.jobs, "payments()", NULL, word) == 0 && !memcmp(word, want, 32),
              "Jobs charges firings to Payments");
    memset(want, 0, 32);
    memcpy(want + 12, dep.jobs, 20);
    CHECK_MSG(read_bytes32(dep.payments, "jobs()", NULL, word) == 0 && !memcmp(word, want, 32),
              "Payments takes charges from Jobs");
    if (account_fresh(&owner)) {
        CHECK_MSG(0, "owner account");
        return;
    }
    phx_u256_t price = phx_u256_from_u64(1000000000000000ull), zero = phx_u256_from_u64(0);
    TX_OK(&owner, dep.jobs, "deployContract(bytes32,bytes32,string)",
          json_pack("[o,o,s]", phx_json_hex(salt, 32), phx_json_hex(code, 32), "fp"));
    phx_chain_contract_id(owner.addr, salt, cid);
    phx_firing_payment_t p;
    char why[300];
    CHECK(phx_chain_firing_payment(rpc, &dep, cid, &p, &e) == PHX_OK);
    phx_chain_firing_unpaid_why(&p, why, sizeof why);
    CHECK_MSG(p.charged && !p.covered && !memcmp(p.owner, owner.addr, 20) &&
                  phx_u256_cmp(&p.price, &price) == 0 && phx_u256_is_zero(&p.deposit),
              "no deposit: unpaid");
    CHECK_MSG(strstr(why, "unpaid: the owner 0x") == why &&
                  strstr(why, "has 0 wei deposited in Payments, short of the firing price "
                              "1000000000000000 wei"),
              "the reason names the deposit and the price: %s", why);
    json_t *j = phx_chain_firing_payment_json(&p);
    CHECK(j && !strcmp(json_string_value(json_object_get(j, "status")), "unpaid") &&
          json_object_get(j, "reason"));
    json_decref(j);
    /* A contract the chain does not know has no owner's deposit. */
    memset(off, 0x77, 32);
    CHECK(phx_chain_firing_payment(rpc, &dep, off, &p, &e) == PHX_OK && !p.covered);
    phx_chain_firing_unpaid_why(&p, why, sizeof why);
    CHECK_MSG(strstr(why, "not deployed on chain"), "off chain: %s", why);
    /* The owner deposits exactly the price: covered. */
    TX_OK(&T.gov, dep.token, "transfer(address,uint256)",
          json_pack("[o,o]", addr_json(owner.addr), u256_json(&price)));
    TX_OK(&owner, dep.token, "approve(address,uint256)",
          json_pack("[o,o]", addr_json(dep.payments), u256_json(&price)));
    TX_OK(&owner, dep.payments, "deposit(uint256)", json_pack("[o]", u256_json(&price)));
    CHECK(phx_chain_firing_payment(rpc, &dep, cid, &p, &e) == PHX_OK);
    phx_chain_firing_unpaid_why(&p, why, sizeof why);
    CHECK_MSG(p.charged && p.covered && phx_u256_cmp(&p.deposit, &price) == 0 && !why[0],
              "a deposit of the price covers a firing");
    /* Price 0: free, whatever the deposit. */
    TX_OK(&T.gov, dep.payments, "setPrice(uint256,uint256)",
          json_pack("[o,o]", u256_json(&zero), u256_json(&zero)));
    CHECK(phx_chain_firing_payment(rpc, &dep, off, &p, &e) == PHX_OK && !p.charged && p.covered);
    j = phx_chain_firing_payment_json(&p);
    CHECK(j && !strcmp(json_string_value(json_object_get(j, "status")), "free"));
    json_decref(j);
    phx_u256_t per_ms = phx_u256_from_u64(1000000000000ull);
    TX_OK(&T.gov, dep.payments, "setPrice(uint256,uint256)",
          json_pack("[o,o]", u256_json(&price), u256_json(&per_ms)));
    account_close(&owner);
    printf("firing payment: unpaid without a deposit or an on-chain owner, paid with one, free "
           "at price 0\n");
}

int main(void)
{
    test_anvil_t anvil;
    if (test_anvil_start(&anvil, NULL)) {
        fprintf(stderr, "cannot start anvil (run scripts/setup.sh)\n");
        return 1;
    }
    snprintf(T.dir, sizeof T.dir, "/tmp/phx-chain-test-XXXXXX");
    snprintf(T.url, sizeof T.url, "%s", anvil.url);
    phx_error_t e = {0};
    int rc = 1;
    if (!mkdtemp(T.dir) || phx_rpc_open(anvil.url, NULL, &rpc, &e)) {
        test_anvil_stop(&anvil);
        fprintf(stderr, "setup: %s\n", e.message);
        return 1;
    }
    printf("anvil on %s\n", anvil.url);
    if (account_dev(&T.gov, 0) || account_dev(&T.op_a, 1) || account_dev(&T.op_b, 2) ||
        account_dev(&T.user, 3) || account_dev(&T.spender, 4) || account_fresh(&T.stranger) ||
        account_fresh(&T.w[0].key) || account_fresh(&T.w[1].key) || account_fresh(&T.w[2].key) ||
        phx_secp256k1_keygen(T.kms_sk)) {
        CHECK_MSG(0, "accounts");
        rc = test_done("test_chain");
        goto out;
    }
    T.ops[0] = &T.op_a;
    T.ops[1] = &T.op_b;
    for (int i = 0; i < 3; i++)
        phx_random_bytes(T.w[i].x25519, 32);
    T.w[0].operator_ = &T.op_a;
    T.w[1].operator_ = &T.op_a; /* same operator as w[0]: one vote between them */
    T.w[2].operator_ = &T.op_b;

    static const test_case_t cases[] = {
        TEST_CASE_REQUIRED(case_deploy), TEST_CASE(test_digests_match_contracts),
        TEST_CASE(case_token),           TEST_CASE_REQUIRED(case_registry),
        TEST_CASE(case_kms_admit),       TEST_CASE_REQUIRED(case_jobs),
        TEST_CASE(case_readback),        TEST_CASE(case_callback_bounds),
        TEST_CASE(case_request_index),   TEST_CASE(case_lifecycle),
        TEST_CASE(test_follow_requests), TEST_CASE(case_equivocation),
        TEST_CASE(case_firing_payment),
    };
    rc = test_run("test_chain", cases, TEST_COUNT(cases));
out:
    phx_secure_zero(T.kms_sk, sizeof T.kms_sk);
    account_close(&T.gov);
    account_close(&T.op_a);
    account_close(&T.op_b);
    account_close(&T.user);
    account_close(&T.spender);
    account_close(&T.stranger);
    for (int i = 0; i < 3; i++)
        account_close(&T.w[i].key);
    phx_rpc_close(rpc);
    test_anvil_stop(&anvil);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", T.dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", T.dir);
    return rc;
}
