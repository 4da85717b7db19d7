/* Regression tests for the trust breaks of issue 10, on a real anvil with the
 * real contracts and genuine sim quotes:
 * - item 1: nobody becomes a KMS, or a worker, without a verified quote. An
 *   attacker patches a genuine quote of the allowed measurement to bind its own
 *   key and tries every permissionless way to list it as a KMS; then, as that
 *   "KMS", vouches for a plain secp256k1 key (no TEE), stakes the minimum
 *   and submits a forged result. Every step must be refused and nobody paid.
 *   Governance admission and replica admission by quorum work as designed.
 * - item 9: each role has its own domain: a KMS quote does not register a
 *   worker, a worker quote does not admit a KMS, one key never holds both roles.
 * - item 10: after a fork (anvil_setChainId) a result signed for the old chain
 *   id is refused, and one signed for the new id is accepted. */
#include <stdlib.h>
#include <string.h>

#include "phx/attest.h"
#include "phx/chain.h"
#include "phx/crypto.h"
#include "phx/tee.h"
#include "support/anvil.h"
#include "support/chain_fixture.h"
#include "test.h"

static phx_rpc_t *rpc;
static phx_chain_deployment_t dep;

typedef struct {
    uint8_t sk[32];
    uint8_t addr[20];
    phx_signer_t *signer;
} account_t;

static int account_open(account_t *a, const uint8_t sk[32])
{
    phx_error_t e = {0};
    memcpy(a->sk, sk, 32);
    if (phx_eth_address_from_seckey(sk, a->addr)) return -1;
    return phx_signer_open(rpc, sk, NULL, &a->signer, &e) ? -1 : 0;
}

static int account_dev(account_t *a, int index)
{
    uint8_t sk[32];
    phx_error_t e;
    if (phx_hex_decode_fixed(test_anvil_keys[index], sk, 32, &e)) return -1;
    return account_open(a, sk);
}

static void account_close(account_t *a)
{
    phx_signer_close(a->signer);
    phx_secure_zero(a->sk, sizeof a->sk);
}

/* Send sig(args) (args stolen); PHX_OK only when mined and not reverted. */
static phx_err_t tx(account_t *a, const uint8_t to[20], const char *sig, json_t *args)
{
    phx_error_t e = {0};
    phx_err_t err = phx_chain_transact(a->signer, to, sig, args, NULL, &e);
    json_decref(args);
    if (err) printf("refused as it should be: %s: %s\n", sig, e.message);
    return err;
}

static bool read_bool(const uint8_t to[20], const char *sig, json_t *args)
{
    json_t *ret = NULL;
    phx_error_t e = {0};
    bool v = phx_chain_read(rpc, to, sig, args, "(bool)", &ret, &e) == PHX_OK &&
             json_is_true(json_array_get(ret, 0));
    json_decref(ret);
    json_decref(args);
    return v;
}

static void read_addr(const uint8_t to[20], const char *sig, json_t *args, uint8_t out[20])
{
    json_t *ret = NULL;
    phx_error_t e = {0};
    memset(out, 0xff, 20);
    if (phx_chain_read(rpc, to, sig, args, "(address)", &ret, &e) != PHX_OK) ret = NULL;
    const char *s = json_string_value(json_array_get(ret, 0));
    if (s) phx_hex_decode_fixed(s, out, 20, &e);
    json_decref(ret);
    json_decref(args);
}

static phx_u256_t balance(const uint8_t who[20])
{
    phx_u256_t v = {0};
    phx_error_t e = {0};
    phx_chain_token_balance(rpc, &dep, who, &v, &e);
    return v;
}

/* A genuine sim quote (made for some honest report data), patched to carry
 * report_data instead. The patch is all an attacker can do without the TEE:
 * the quote's signature no longer covers its body. */
static void patched_quote(phx_tee_t *tee, const uint8_t report_data[64], phx_buf_t *q)
{
    uint8_t honest[64] = {0}, mr[32], rd[64];
    uint32_t tee_type;
    phx_error_t e = {0};
    CHECK_MSG(phx_tee_quote(tee, honest, q, &e) == PHX_OK, "sim quote: %s", e.message);
    CHECK(q->len >= 48 + 520 + 64);
    memcpy(q->ptr + 48 + 520, report_data, 64); /* TDX v4: TD report's report_data */
    CHECK(phx_chain_quote_fields(q->ptr, q->len, &tee_type, mr, rd, &e) == PHX_OK &&
          memcmp(rd, report_data, 64) == 0);
}

static phx_tee_t *tee;
static uint8_t measurement[32];
static uint32_t tee_type;
static account_t gov;

/* A genuine sim quote over report_data (what a real TEE would give its owner). */
static void genuine_quote(const uint8_t report_data[64], phx_buf_t *q)
{
    phx_error_t e = {0};
    phx_buf_reset(q);
    CHECK_MSG(phx_tee_quote(tee, report_data, q, &e) == PHX_OK, "sim quote: %s", e.message);
}

static json_t *admit_args(const uint8_t kms[20], const uint8_t x25519[32], const uint8_t nonce[32],
                          const phx_buf_t *q)
{
    uint8_t coll_hash[32] = {0xc0};
    return json_pack("[o,o,o,o,o]", phx_json_hex(kms, 20), phx_json_hex(x25519, 32),
                     phx_json_hex(nonce, 32), phx_json_hex(q->ptr, q->len),
                     phx_json_hex(coll_hash, 32));
}
#define ADMIT "admitKms(address,bytes32,bytes32,bytes,bytes32)"
#define REGISTER "registerWorker(address,bytes32,bytes32,bytes,bytes)"

/* An honest KMS key admitted by governance with a genuine quote in its domain. */
static void admit_kms(const account_t *kms)
{
    uint8_t x[32], nonce[32], rd[64];
    phx_buf_t q = PHX_BUF_INIT;
    phx_random_bytes(x, 32);
    phx_random_bytes(nonce, 32);
    phx_chain_kms_report_data(kms->addr, x, nonce, rd);
    genuine_quote(rd, &q);
    CHECK(tx(&gov, dep.registry, ADMIT, admit_args(kms->addr, x, nonce, &q)) == PHX_OK);
    phx_buf_free(&q);
}

/* registerWorker arguments for a genuine sim worker key, vouched for by kms_sk,
 * with report data made under label_kms ? the KMS's domain : the worker's. */
static json_t *register_args(const account_t *worker, const uint8_t op[20], const uint8_t *kms_sk,
                             bool label_kms)
{
    uint8_t x[32], nonce[32], rd[64], qhash[32], digest[32], sig[65];
    phx_buf_t q = PHX_BUF_INIT;
    phx_random_bytes(x, 32);
    phx_random_bytes(nonce, 32);
    if (label_kms)
        phx_chain_kms_report_data(worker->addr, x, nonce, rd);
    else
        phx_chain_report_data(worker->addr, x, nonce, rd);
    genuine_quote(rd, &q);
    phx_keccak256(q.ptr, q.len, qhash);
    phx_chain_attest_digest(dep.chain_id, dep.registry, op, worker->addr, x, measurement, tee_type,
                            qhash, nonce, digest);
    phx_chain_sign(kms_sk, digest, sig);
    json_t *args =
        json_pack("[o,o,o,o,o]", phx_json_hex(worker->addr, 20), phx_json_hex(x, 32),
                  phx_json_hex(nonce, 32), phx_json_hex(q.ptr, q.len), phx_json_hex(sig, 65));
    phx_buf_free(&q);
    return args;
}

static int account_fresh(account_t *a)
{
    uint8_t sk[32];
    phx_error_t e = {0};
    if (phx_secp256k1_keygen(sk) || account_open(a, sk)) return -1;
    return test_chain_fund(rpc, a->addr, "0x56bc75e2d63100000", &e) ? -1 : 0;
}

/* Item 9: a quote made for one role is refused for the other, and one key
 * never holds both roles. Also: a replica admitted by a quorum of one. */
static void test_role_domains(void)
{
    account_t kms = {0}, worker = {0}, replica = {0}, op = {0};
    phx_buf_t q = PHX_BUF_INIT;
    uint8_t x[32], nonce[32], rd[64];
    phx_error_t e = {0};
    if (account_fresh(&kms) || account_fresh(&worker) || account_fresh(&replica) ||
        account_dev(&op, 1)) {
        CHECK_MSG(0, "accounts");
        goto out;
    }
    /* A worker-domain quote does not admit a KMS, even sent by governance. */
    phx_random_bytes(x, 32);
    phx_random_bytes(nonce, 32);
    phx_chain_report_data(kms.addr, x, nonce, rd);
    genuine_quote(rd, &q);
    CHECK(tx(&gov, dep.registry, ADMIT, admit_args(kms.addr, x, nonce, &q)) != PHX_OK);
    admit_kms(&kms);
    CHECK(read_bool(dep.registry, "isKms(address)", json_pack("[o]", phx_json_hex(kms.addr, 20))));
    /* A KMS-domain quote does not register a worker. */
    phx_u256_t stake;
    phx_u256_from_str("1000000000000000000000", &stake, &e);
    CHECK(tx(&gov, dep.token, "transfer(address,uint256)",
             json_pack("[o,s]", phx_json_hex(op.addr, 20), "1000000000000000000000")) == PHX_OK);
    CHECK_MSG(phx_chain_stake(rpc, op.signer, &dep, &stake, PHX_CHAIN_DEFAULT_COMMISSION_BPS, NULL,
                              &e) == PHX_OK,
              "stake: %s", e.message);
    CHECK(tx(&op, dep.registry, REGISTER, register_args(&worker, op.addr, kms.sk, true)) != PHX_OK);
    /* The KMS's own key is never a worker. */
    CHECK(tx(&op, dep.registry, REGISTER, register_args(&kms, op.addr, kms.sk, false)) != PHX_OK);
    /* The right domain registers; then that worker key never becomes a KMS. */
    CHECK(tx(&op, dep.registry, REGISTER, register_args(&worker, op.addr, kms.sk, false)) ==
          PHX_OK);
    phx_chain_kms_report_data(worker.addr, x, nonce, rd);
    genuine_quote(rd, &q);
    CHECK(tx(&gov, dep.registry, ADMIT, admit_args(worker.addr, x, nonce, &q)) != PHX_OK);

    /* A replica admitted by a quorum of one admitted KMS over its genuine quote;
     * the C digest is the contract's. */
    uint8_t qhash[32], digest[32], chain_digest[32], sig[65], coll_hash[32] = {0xc0};
    phx_random_bytes(x, 32);
    phx_random_bytes(nonce, 32);
    phx_chain_kms_report_data(replica.addr, x, nonce, rd);
    genuine_quote(rd, &q);
    phx_keccak256(q.ptr, q.len, qhash);
    phx_chain_kms_admit_digest(dep.chain_id, dep.registry, replica.addr, x, measurement, tee_type,
                               qhash, coll_hash, nonce, digest);
    json_t *ret = NULL, *dargs;
    CHECK(phx_chain_read(rpc, dep.registry,
                         "kmsAdmitDigest(address,bytes32,bytes32,uint32,bytes32,bytes32,bytes32)",
                         dargs = json_pack("[o,o,o,i,o,o,o]", phx_json_hex(replica.addr, 20),
                                           phx_json_hex(x, 32), phx_json_hex(measurement, 32),
                                           (json_int_t)tee_type, phx_json_hex(qhash, 32),
                                           phx_json_hex(coll_hash, 32), phx_json_hex(nonce, 32)),
                         "(bytes32)", &ret, &e) == PHX_OK &&
          phx_hex_decode_fixed(json_string_value(json_array_get(ret, 0)), chain_digest, 32, &e) ==
              PHX_OK &&
          memcmp(chain_digest, digest, 32) == 0);
    json_decref(ret);
    json_decref(dargs);
    /* Signed by a worker key: not a quorum. */
    const uint8_t(*sigs)[65] = (const uint8_t(*)[65])sig;
    phx_chain_sign(worker.sk, digest, sig);
    CHECK(phx_chain_admit_kms_by_quorum(op.signer, &dep, replica.addr, x, nonce, q.ptr, q.len,
                                        coll_hash, sigs, 1, &e) != PHX_OK);
    phx_chain_sign(kms.sk, digest, sig);
    CHECK_MSG(phx_chain_admit_kms_by_quorum(op.signer, &dep, replica.addr, x, nonce, q.ptr, q.len,
                                            coll_hash, sigs, 1, &e) == PHX_OK,
              "quorum: %s", e.message);
    phx_chain_kms_t rec;
    CHECK(phx_chain_kms_get(rpc, &dep, replica.addr, &rec, &e) == PHX_OK &&
          rec.status == PHX_CHAIN_KMS_ADMITTED && memcmp(rec.admitted_by, dep.registry, 20) == 0 &&
          memcmp(rec.quote_hash, qhash, 32) == 0 &&
          memcmp(rec.collateral_hash, coll_hash, 32) == 0);
    CHECK(phx_chain_kms_get(rpc, &dep, kms.addr, &rec, &e) == PHX_OK &&
          memcmp(rec.admitted_by, gov.addr, 20) == 0);
    /* Revoked: no longer a KMS, and never admitted again. */
    CHECK(phx_chain_revoke_kms(gov.signer, &dep, replica.addr, &e) == PHX_OK);
    CHECK(!read_bool(dep.registry, "isKms(address)",
                     json_pack("[o]", phx_json_hex(replica.addr, 20))));
    CHECK(tx(&gov, dep.registry, ADMIT, admit_args(replica.addr, x, nonce, &q)) != PHX_OK);
    if (!test_failures) printf("role domains: cross-role quotes and keys refused; quorum ok\n");
out:
    phx_buf_free(&q);
    account_close(&kms);
    account_close(&worker);
    account_close(&replica);
    account_close(&op);
}

/* Item 10: a fork (the chain id changes under the same contracts). */
static void test_fork_replay(void)
{
    account_t kms = {0}, worker = {0}, op = {0};
    phx_error_t e = {0};
    json_t *res = NULL;
    if (account_fresh(&kms) || account_fresh(&worker) || account_dev(&op, 2)) {
        CHECK_MSG(0, "accounts");
        goto out;
    }
    admit_kms(&kms);
    phx_u256_t stake;
    phx_u256_from_str("1000000000000000000000", &stake, &e);
    CHECK(tx(&gov, dep.token, "transfer(address,uint256)",
             json_pack("[o,s]", phx_json_hex(op.addr, 20), "1000000000000000000000")) == PHX_OK);
    CHECK_MSG(phx_chain_stake(rpc, op.signer, &dep, &stake, PHX_CHAIN_DEFAULT_COMMISSION_BPS, NULL,
                              &e) == PHX_OK,
              "stake: %s", e.message);
    CHECK(tx(&op, dep.registry, REGISTER, register_args(&worker, op.addr, kms.sk, false)) ==
          PHX_OK);
    uint8_t salt[32] = {9}, code_hash[32] = {8}, contract_id[32];
    CHECK(phx_chain_deploy_contract(gov.signer, &dep, salt, code_hash, "ipfs://fork", contract_id,
                                    &e) == PHX_OK);
    CHECK(tx(&gov, dep.token, "approve(address,uint256)",
             json_pack("[o,s]", phx_json_hex(dep.jobs, 20), "1000000000000000000000")) == PHX_OK);
    json_t *req = json_pack("[o,s,s,i,i]", phx_json_hex(contract_id, 32), "0x",
                            "1000000000000000000000", 100000, 1);
    CHECK(tx(&gov, dep.jobs, "request(bytes32,bytes,uint256,uint32,uint8)", json_incref(req)) ==
          PHX_OK);
    uint64_t id = 0;
    json_t *ret = NULL;
    if (phx_chain_read(rpc, dep.jobs, "requestCount()", NULL, "(uint256)", &ret, &e) == PHX_OK) {
        const char *s = json_string_value(json_array_get(ret, 0));
        id = s ? strtoull(s, NULL, 0) : (uint64_t)json_integer_value(json_array_get(ret, 0));
    }
    json_decref(ret);
    CHECK(id > 0);

    /* The worker signs for chain 31337; then the chain forks to another id. */
    static const uint8_t output[] = "42";
    uint8_t domain[32], digest[32], old_sig[65], new_sig[65];
    phx_chain_jobs_domain(dep.chain_id, dep.jobs, domain);
    phx_chain_result_digest(domain, id, contract_id, code_hash, true, output, 2, digest);
    phx_chain_sign(worker.sk, digest, old_sig);
    CHECK(phx_rpc_call(rpc, "anvil_setChainId", json_pack("[i]", 424242), &res, &e) == PHX_OK);
    json_decref(res);
    /* Signers read the chain id when opened: reopen them on the fork. */
    account_t w2 = {0};
    CHECK(account_open(&w2, worker.sk) == 0 && phx_signer_chain_id(w2.signer) == 424242);
    CHECK_MSG(tx(&w2, dep.jobs, "fulfill(uint256,bool,bytes,bytes[])",
                 json_pack("[I,b,o,[o]]", (json_int_t)id, true, phx_json_hex(output, 2),
                           phx_json_hex(old_sig, 65))) != PHX_OK,
              "a result signed for the pre-fork chain id settled on the fork");
    /* The contract's domain follows the chain id, and C computes the same. */
    uint8_t chain_domain[32];
    phx_chain_jobs_domain(424242, dep.jobs, domain);
    ret = NULL;
    CHECK(phx_chain_read(rpc, dep.jobs, "domain()", NULL, "(bytes32)", &ret, &e) == PHX_OK &&
          phx_hex_decode_fixed(json_string_value(json_array_get(ret, 0)), chain_domain, 32, &e) ==
              PHX_OK &&
          memcmp(chain_domain, domain, 32) == 0);
    json_decref(ret);
    phx_chain_result_digest(domain, id, contract_id, code_hash, true, output, 2, digest);
    phx_chain_sign(worker.sk, digest, new_sig);
    CHECK_MSG(tx(&w2, dep.jobs, "fulfill(uint256,bool,bytes,bytes[])",
                 json_pack("[I,b,o,[o]]", (json_int_t)id, true, phx_json_hex(output, 2),
                           phx_json_hex(new_sig, 65))) == PHX_OK,
              "a result signed for the fork's chain id was refused");
    account_close(&w2);
    CHECK(phx_rpc_call(rpc, "anvil_setChainId", json_pack("[i]", (json_int_t)dep.chain_id), &res,
                       &e) == PHX_OK);
    json_decref(res);
    json_decref(req);
    if (!test_failures) printf("fork: old-chain signature refused, new-chain signature settled\n");
out:
    account_close(&kms);
    account_close(&worker);
    account_close(&op);
}

int main(void)
{
    test_anvil_t anvil;
    if (test_anvil_start(&anvil, NULL)) {
        fprintf(stderr, "cannot start anvil (run scripts/setup.sh)\n");
        return 1;
    }
    char dir[] = "/tmp/phx-chain-trust-XXXXXX";
    phx_error_t e = {0};
    if (!mkdtemp(dir) || phx_rpc_open(anvil.url, NULL, &rpc, &e)) {
        test_anvil_stop(&anvil);
        fprintf(stderr, "setup: %s\n", e.message);
        return 1;
    }
    account_t attacker = {0}, fake_kms = {0}, fake_worker = {0};
    phx_attest_verifier_t *verifier = NULL;
    phx_buf_t q = PHX_BUF_INIT, coll = PHX_BUF_INIT, root = PHX_BUF_INIT;
    uint8_t sk[32];
    if (account_dev(&gov, 0) || account_dev(&attacker, 4) || phx_secp256k1_keygen(sk) ||
        account_open(&fake_kms, sk) || phx_secp256k1_keygen(sk) || account_open(&fake_worker, sk)) {
        CHECK_MSG(0, "accounts");
        goto out;
    }
    CHECK_MSG(phx_chain_deploy(gov.signer, NULL, &dep, &e) == PHX_OK, "deploy: %s", e.message);
    if (test_failures) goto out;

    /* The honest network: governance allows the sim worker/KMS measurement,
     * which anyone can read from any worker's /v1/attestation. */
    phx_tee_config_t tc = {.sim_dir = dir};
    CHECK_MSG(phx_tee_open(PHX_TEE_SIM, &tc, &tee, &e) == PHX_OK, "sim: %s", e.message);
    if (test_failures) goto out;
    uint8_t zero[64] = {0}, *mr = measurement, rd[64];
    CHECK(phx_tee_quote(tee, zero, &q, &e) == PHX_OK);
    CHECK(phx_chain_quote_fields(q.ptr, q.len, &tee_type, mr, rd, &e) == PHX_OK);
    CHECK(phx_chain_set_measurement(gov.signer, &dep, mr, true, &e) == PHX_OK);
    phx_buf_reset(&q);

    /* 1. The attacker's key as a KMS, with a patched genuine quote. */
    uint8_t x25519[32], nonce[32], report_data[64];
    phx_random_bytes(x25519, 32);
    phx_random_bytes(nonce, 32);
    phx_chain_kms_report_data(fake_kms.addr, x25519, nonce, report_data);
    patched_quote(tee, report_data, &q);
    /* The forgery is plain to a verifier: the quote no longer verifies. */
    CHECK(phx_tee_sim_root(tee, &root, &e) == PHX_OK &&
          phx_tee_sim_collateral(tee, &coll, &e) == 0);
    CHECK(phx_attest_verifier_new(root.ptr, root.len, &verifier, &e) == PHX_OK);
    phx_attest_result_t *ar = calloc(1, sizeof *ar);
    CHECK(ar && phx_attest_verify(verifier, q.ptr, q.len, coll.ptr, coll.len, 0, NULL, ar, &e) ==
                    PHX_ERR_VERIFY);
    free(ar);
    /* Every way in that does not go through governance's verification. */
    CHECK(tx(&attacker, dep.registry, "registerKms(address,bytes32,bytes32,bytes)",
             json_pack("[o,o,o,o]", phx_json_hex(fake_kms.addr, 20), phx_json_hex(x25519, 32),
                       phx_json_hex(nonce, 32), phx_json_hex(q.ptr, q.len))) != PHX_OK);
    CHECK(tx(&attacker, dep.registry, "admitKms(address,bytes32,bytes32,bytes,bytes32)",
             json_pack("[o,o,o,o,o]", phx_json_hex(fake_kms.addr, 20), phx_json_hex(x25519, 32),
                       phx_json_hex(nonce, 32), phx_json_hex(q.ptr, q.len),
                       phx_json_hex(zero, 32))) != PHX_OK);
    CHECK(tx(&attacker, dep.registry, "setKms(address,bool)",
             json_pack("[o,b]", phx_json_hex(fake_kms.addr, 20), 1)) != PHX_OK);
    /* A quorum of nobody: the attacker's own signature over its own admission. */
    uint8_t qhash[32], digest[32], sig[65];
    phx_keccak256(q.ptr, q.len, qhash);
    phx_chain_kms_admit_digest(dep.chain_id, dep.registry, fake_kms.addr, x25519, mr, tee_type,
                               qhash, zero, nonce, digest);
    phx_chain_sign(fake_kms.sk, digest, sig);
    CHECK(tx(&attacker, dep.registry,
             "admitKmsByQuorum(address,bytes32,bytes32,bytes,bytes32,bytes[])",
             json_pack("[o,o,o,o,o,[o]]", phx_json_hex(fake_kms.addr, 20), phx_json_hex(x25519, 32),
                       phx_json_hex(nonce, 32), phx_json_hex(q.ptr, q.len), phx_json_hex(zero, 32),
                       phx_json_hex(sig, 65))) != PHX_OK);
    CHECK_MSG(!read_bool(dep.registry, "isKms(address)",
                         json_pack("[o]", phx_json_hex(fake_kms.addr, 20))),
              "the forged KMS key is listed as a KMS");

    /* 2. That key vouches for a plain secp256k1 "worker" with a patched quote;
     * the attacker stakes the minimum and registers it. */
    phx_buf_reset(&q);
    phx_random_bytes(x25519, 32);
    phx_random_bytes(nonce, 32);
    phx_chain_report_data(fake_worker.addr, x25519, nonce, report_data);
    patched_quote(tee, report_data, &q);
    phx_keccak256(q.ptr, q.len, qhash);
    phx_chain_attest_digest(dep.chain_id, dep.registry, attacker.addr, fake_worker.addr, x25519, mr,
                            tee_type, qhash, nonce, digest);
    phx_chain_sign(fake_kms.sk, digest, sig);
    phx_u256_t stake;
    phx_u256_from_str("1000000000000000000000", &stake, &e); /* the default minimum */
    CHECK(tx(&gov, dep.token, "transfer(address,uint256)",
             json_pack("[o,s]", phx_json_hex(attacker.addr, 20), "2000000000000000000000")) ==
          PHX_OK);
    CHECK_MSG(phx_chain_stake(rpc, attacker.signer, &dep, &stake, PHX_CHAIN_DEFAULT_COMMISSION_BPS,
                              NULL, &e) == PHX_OK,
              "stake: %s", e.message);
    CHECK_MSG(tx(&attacker, dep.registry, "registerWorker(address,bytes32,bytes32,bytes,bytes)",
                 json_pack("[o,o,o,o,o]", phx_json_hex(fake_worker.addr, 20),
                           phx_json_hex(x25519, 32), phx_json_hex(nonce, 32),
                           phx_json_hex(q.ptr, q.len), phx_json_hex(sig, 65))) != PHX_OK,
              "a worker with no TEE registered through the forged KMS");
    uint8_t op[20];
    read_addr(dep.registry, "activeOperatorOf(address)",
              json_pack("[o]", phx_json_hex(fake_worker.addr, 20)), op);
    static const uint8_t none[20] = {0};
    CHECK_MSG(memcmp(op, none, 20) == 0, "the fake worker counts as active");

    /* 3. A consumer's request, and the fake worker's forged answer. */
    uint8_t salt[32] = {1}, code_hash[32] = {2}, contract_id[32];
    CHECK(phx_chain_deploy_contract(gov.signer, &dep, salt, code_hash, "ipfs://x", contract_id,
                                    &e) == PHX_OK);
    CHECK(tx(&gov, dep.token, "approve(address,uint256)",
             json_pack("[o,s]", phx_json_hex(dep.jobs, 20), "1000000000000000000000")) == PHX_OK);
    /* The fake worker is not among the eligible either: with no eligible
     * worker at all Jobs refuses the request itself (NotEnoughOperators), so
     * request 1 below does not exist and the forged answer has nothing to settle. */
    CHECK_MSG(tx(&gov, dep.jobs, "request(bytes32,bytes,uint256,uint32,uint8)",
                 json_pack("[o,s,s,i,i]", phx_json_hex(contract_id, 32), "0x",
                           "1000000000000000000000", 100000, 1)) != PHX_OK,
              "a request was admitted with only the fake worker registered");
    static const char forged[] = "{\"price\":1}";
    uint8_t domain[32];
    phx_chain_jobs_domain(dep.chain_id, dep.jobs, domain);
    phx_chain_result_digest(domain, 1, contract_id, code_hash, true, (const uint8_t *)forged,
                            sizeof forged - 1, digest);
    phx_chain_sign(fake_worker.sk, digest, sig);
    /* The fake worker submits (Jobs takes results from active workers only). */
    CHECK(test_chain_fund(rpc, fake_worker.addr, "0x56bc75e2d63100000", &e) == PHX_OK);
    phx_u256_t before = balance(attacker.addr);
    CHECK_MSG(tx(&fake_worker, dep.jobs, "fulfill(uint256,bool,bytes,bytes[])",
                 json_pack("[i,b,o,[o]]", 1, true,
                           phx_json_hex((const uint8_t *)forged, sizeof forged - 1),
                           phx_json_hex(sig, 65))) != PHX_OK,
              "Jobs accepted a forged result from a worker with no TEE");
    phx_u256_t after = balance(attacker.addr);
    CHECK_MSG(phx_u256_cmp(&before, &after) == 0, "the attacker's operator was paid");
    if (!test_failures) printf("forged KMS: 4 listings, the fake worker and its result refused\n");
    test_role_domains();
    test_fork_replay();
out:
    phx_attest_verifier_free(verifier);
    phx_tee_close(tee);
    phx_buf_free(&q);
    phx_buf_free(&coll);
    phx_buf_free(&root);
    phx_secure_zero(sk, sizeof sk);
    account_close(&gov);
    account_close(&attacker);
    account_close(&fake_kms);
    account_close(&fake_worker);
    phx_rpc_close(rpc);
    test_anvil_stop(&anvil);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return test_done("test_chain_trust");
}
