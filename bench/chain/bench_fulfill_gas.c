/* Gas used by Jobs.fulfill with a 256-byte output for k = 1, 2, 3 signatures
 * (distinct operators), read from the receipts of real transactions on anvil.
 * Each k runs ROUNDS times after a warm-up; the table shows the median and the
 * ratio to k = 1, so the cost of each extra signature is visible. Workers 0
 * and 1 are TDX, worker 2 SGX: k = 2 with minTeeKinds 2 (signers 0 and 2)
 * against k = 2 with minTeeKinds 1 shows the cost of the kind check. Then
 * StateAnchor.write and Jobs.recordFiring (free and paid), and the StakePool
 * and governance calls. */
#include <stdlib.h>
#include <string.h>

#include "phx/chain.h"
#include "phx/chain_triggers.h"
#include "phx/crypto.h"
#include "support/chain_fixture.h"

#define ROUNDS 5
#define QUOTE_LEN (48 + 584 + 68)

static phx_rpc_t *rpc;
static phx_chain_deployment_t dep;

typedef struct {
    uint8_t sk[32], addr[20];
    phx_signer_t *signer;
} acct_t;

static int die(const char *what, const phx_error_t *e)
{
    fprintf(stderr, "bench_fulfill_gas: %s: %s\n", what, e ? e->message : "");
    return -1;
}

static int account_open(acct_t *a, const char *hex, phx_error_t *e)
{
    if (hex) {
        if (phx_hex_decode_fixed(hex, a->sk, 32, e)) return -1;
    } else if (phx_secp256k1_keygen(a->sk)) {
        return -1;
    }
    phx_eth_address_from_seckey(a->sk, a->addr);
    /* fresh keys need ETH for gas */
    if (!hex && test_chain_fund(rpc, a->addr, "0x56bc75e2d63100000", e)) return -1;
    return phx_signer_open(rpc, a->sk, NULL, &a->signer, e) ? -1 : 0;
}

static int send_tx(acct_t *a, const uint8_t to[20], const char *sig, json_t *args,
                   phx_evm_receipt_t *r, phx_error_t *e)
{
    phx_err_t err = phx_chain_transact(a->signer, to, sig, args, r, e);
    json_decref(args);
    return err ? die(sig, e) : 0;
}

static json_t *u256_json(const phx_u256_t *v)
{
    char d[80];
    phx_u256_to_dec(v, d);
    return json_string(d);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* anvil: move the clock (the bench waits out a day's voting delay in no time). */
static int advance(uint64_t seconds, phx_error_t *e)
{
    json_t *r1 = NULL, *r2 = NULL;
    phx_err_t err =
        phx_rpc_call(rpc, "evm_increaseTime", json_pack("[I]", (json_int_t)seconds), &r1, e);
    if (!err) err = phx_rpc_call(rpc, "evm_mine", json_array(), &r2, e);
    json_decref(r1);
    json_decref(r2);
    return err ? die("evm_increaseTime", e) : 0;
}

typedef struct {
    const char *call;
    uint64_t gas;
} row_t;

/* Gas of one transaction into rows[*n]. */
static int gas_of(acct_t *a, const uint8_t to[20], const char *sig, json_t *args, const char *name,
                  row_t *rows, size_t *n, phx_error_t *e)
{
    phx_evm_receipt_t r;
    memset(&r, 0, sizeof r);
    int rc = send_tx(a, to, sig, args, &r, e);
    if (!rc) rows[(*n)++] = (row_t){name, r.gas_used};
    phx_evm_receipt_clear(&r);
    return rc;
}

/* eth_call on the Governor; args released here (phx_chain_read borrows them). */
static int read_borrowed(const char *sig, json_t *args, json_t **ret, phx_error_t *e)
{
    phx_err_t err = phx_chain_read(rpc, dep.governor, sig, args, "(uint256)", ret, e);
    json_decref(args);
    return err ? die(sig, e) : 0;
}

/* The staking and governance calls, each from a receipt on the same chain the
 * fulfilments ran on (so the pools hold real fees). */
static int economy(acct_t *gov, acct_t *ops, acct_t *workers, row_t *rows, size_t *n,
                   phx_error_t *e)
{
    uint64_t pid = 0, pid2 = 0;
    char p1[24], p2[24];
    phx_u256_t hundred, fifty;
    phx_u256_from_str("100000000000000000000", &hundred, e);
    phx_u256_from_str("50000000000000000000", &fifty, e);
    if (phx_chain_pool_of(rpc, &dep, ops[0].addr, &pid, e) ||
        phx_chain_pool_of(rpc, &dep, ops[2].addr, &pid2, e))
        return die("poolOf", e);
    snprintf(p1, sizeof p1, "%llu", (unsigned long long)pid);
    snprintf(p2, sizeof p2, "%llu", (unsigned long long)pid2);
    if (send_tx(gov, dep.token, "approve(address,uint256)",
                json_pack("[o,o]", phx_json_hex(dep.stake_pool, 20), u256_json(&hundred)), NULL,
                e) ||
        gas_of(gov, dep.stake_pool, "delegate(uint256,uint256)",
               json_pack("[s,o]", p1, u256_json(&hundred)), "StakePool.delegate (new holder)", rows,
               n, e) ||
        gas_of(&ops[0], dep.stake_pool, "claim(uint256)", json_pack("[s]", p1),
               "StakePool.claim (operator)", rows, n, e) ||
        gas_of(gov, dep.stake_pool, "claim(uint256)", json_pack("[s]", p1),
               "StakePool.claim (delegator)", rows, n, e) ||
        gas_of(gov, dep.stake_pool, "undelegate(uint256,uint256)",
               json_pack("[s,o]", p1, u256_json(&fifty)), "StakePool.undelegate", rows, n, e) ||
        advance(7 * 24 * 3600 + 1, e) ||
        gas_of(gov, dep.stake_pool, "withdraw(uint256)", json_pack("[s]", p1), "StakePool.withdraw",
               rows, n, e))
        return -1;
    /* Equivocation: workers[2] signs two outputs for request 1234. */
    uint8_t domain[32], cid[32] = {7}, code[32] = {8}, da[32], db[32], sa[65], sb[65], ha[32],
                        hb[32];
    const uint8_t oa[] = "a", ob[] = "b";
    phx_chain_jobs_domain(dep.chain_id, dep.jobs, domain);
    phx_chain_result_digest(domain, 1234, cid, code, true, oa, 1, da);
    phx_chain_result_digest(domain, 1234, cid, code, true, ob, 1, db);
    phx_keccak256(oa, 1, ha);
    phx_keccak256(ob, 1, hb);
    phx_chain_sign(workers[2].sk, da, sa);
    phx_chain_sign(workers[2].sk, db, sb);
    if (gas_of(gov, dep.stake_pool,
               "reportEquivocation(address,uint256,bytes32,bytes32,bool,bytes32,bytes,bool,bytes32,"
               "bytes)",
               json_pack("[o,i,o,o,b,o,o,b,o,o]", phx_json_hex(workers[2].addr, 20), 1234,
                         phx_json_hex(cid, 32), phx_json_hex(code, 32), 1, phx_json_hex(ha, 32),
                         phx_json_hex(sa, 65), 1, phx_json_hex(hb, 32), phx_json_hex(sb, 65)),
               "StakePool.reportEquivocation (slash)", rows, n, e))
        return -1;
    (void)p2;
    /* Governance: the timelock takes over, the deployer votes with its PHA. */
    phx_u256_t min;
    phx_u256_from_str("2000000000000000000000", &min, e);
    json_t *calls = json_array(), *ret = NULL;
    phx_buf_t data = PHX_BUF_INIT;
    json_t *margs = json_pack("[o]", u256_json(&min));
    phx_err_t err = phx_chain_calldata("setMinStake(uint256)", margs, &data, e);
    json_decref(margs);
    if (err) return die("calldata", e);
    json_array_append_new(calls, phx_json_hex(data.ptr, data.len));
    phx_buf_free(&data);
    uint8_t dh[32];
    const char *desc = "bench: min stake 2000 PHA";
    phx_keccak256((const uint8_t *)desc, strlen(desc), dh);
    json_t *targets = json_pack("[o]", phx_json_hex(dep.registry, 20)),
           *values = json_pack("[s]", "0");
    int rc = -1;
    char id[80];
    if (phx_chain_handover(rpc, gov->signer, &dep, NULL, 0, e) ||
        send_tx(gov, dep.token, "delegate(address)", json_pack("[o]", phx_json_hex(gov->addr, 20)),
                NULL, e) ||
        advance(1, e) ||
        gas_of(gov, dep.governor, "propose(address[],uint256[],bytes[],string)",
               json_pack("[O,O,O,s]", targets, values, calls, desc), "PhxGovernor.propose", rows, n,
               e) ||
        read_borrowed("hashProposal(address[],uint256[],bytes[],bytes32)",
                      json_pack("[O,O,O,o]", targets, values, calls, phx_json_hex(dh, 32)), &ret,
                      e))
        goto out;
    snprintf(id, sizeof id, "%s", json_string_value(json_array_get(ret, 0)));
    if (advance(24 * 3600 + 1, e) ||
        gas_of(gov, dep.governor, "castVote(uint256,uint8)", json_pack("[s,i]", id, 1),
               "PhxGovernor.castVote", rows, n, e) ||
        advance(7 * 24 * 3600 + 1, e) ||
        gas_of(gov, dep.governor, "queue(address[],uint256[],bytes[],bytes32)",
               json_pack("[O,O,O,o]", targets, values, calls, phx_json_hex(dh, 32)),
               "PhxGovernor.queue (into the timelock)", rows, n, e) ||
        advance(2 * 24 * 3600 + 1, e) ||
        gas_of(gov, dep.governor, "execute(address[],uint256[],bytes[],bytes32)",
               json_pack("[O,O,O,o]", targets, values, calls, phx_json_hex(dh, 32)),
               "PhxGovernor.execute (Registry.setMinStake)", rows, n, e))
        goto out;
    rc = 0;
out:
    json_decref(ret);
    json_decref(calls);
    json_decref(targets);
    json_decref(values);
    return rc;
}

typedef struct {
    acct_t *gov, *workers;
    const uint8_t *consumer, *cid;
    phx_u256_t unit;
} bench_t;

/* Median gas of ROUNDS fulfils of k signatures over output[0..len), after a
 * warm-up round (the consumer's first write to each slot costs more). */
static int measure(const bench_t *b, unsigned k, unsigned kinds, const uint8_t *output, size_t len,
                   uint32_t callback_gas, uint64_t *median, phx_error_t *e)
{
    uint8_t domain[32], digest[32];
    uint64_t gas[ROUNDS];
    phx_chain_jobs_domain(dep.chain_id, dep.jobs, domain);
    for (int round = -1; round < ROUNDS; round++) {
        phx_evm_receipt_t r;
        memset(&r, 0, sizeof r);
        phx_u256_t max_fee = phx_u256_mul_u64(&b->unit, 10);
        if (send_tx(b->gov, b->consumer, "askKinds(bytes32,bytes,uint256,uint32,uint8,uint8)",
                    json_pack("[o,s,o,I,i,i]", phx_json_hex(b->cid, 32), "0x01",
                              u256_json(&max_fee), (json_int_t)callback_gas, (int)k, (int)kinds),
                    &r, e))
            return -1;
        phx_chain_requested_t req = {0};
        bool found = false;
        for (size_t i = 0; i < r.log_count && !found; i++)
            found = phx_chain_parse_requested(&r.logs[i], &req, e) == PHX_OK;
        phx_evm_receipt_clear(&r);
        if (!found) return die("no Requested event", NULL);
        uint8_t sigs[3][65];
        phx_chain_result_digest(domain, req.request_id, req.contract_id, req.code_hash, true,
                                output, len, digest);
        /* Two kinds: the TDX worker 0 and the SGX worker 2. */
        for (unsigned s = 0; s < k; s++)
            phx_chain_sign(b->workers[kinds > 1 && s == 1 ? 2 : s].sk, digest, sigs[s]);
        phx_err_t err = phx_chain_fulfill(b->workers[0].signer, &dep, req.request_id, true, output,
                                          len, (const uint8_t(*)[65])sigs, k, &r, e);
        phx_chain_requested_clear(&req);
        if (err) return die("fulfill", e);
        if (round >= 0) gas[round] = r.gas_used;
        phx_evm_receipt_clear(&r);
    }
    qsort(gas, ROUNDS, sizeof gas[0], cmp_u64);
    *median = gas[ROUNDS / 2];
    return 0;
}

/* Median gas of ROUNDS Jobs.recordFiring receipts (after a warm-up): fresh
 * firing ids of contract cid, a 64-byte output, signed by worker w, sent by
 * `from` (issue 15: charged to cid's owner when Jobs has a Payments with a
 * price). tag keeps each series' firing ids apart. */
static int firing_gas(acct_t *from, const acct_t *w, const uint8_t cid[32], const uint8_t code[32],
                      const uint8_t *output, char tag, uint64_t *median, phx_error_t *e)
{
    uint8_t domain[32], fid[32], digest[32], sig[65];
    uint64_t gas[ROUNDS];
    phx_chain_jobs_domain(dep.chain_id, dep.jobs, domain);
    for (int round = -1; round < ROUNDS; round++) {
        char pos[24];
        snprintf(pos, sizeof pos, "%c%d", tag, round + 1);
        phx_chain_firing_id("bench", pos, fid);
        phx_chain_firing_digest(domain, cid, fid, code, true, output, 64, digest);
        phx_chain_sign(w->sk, digest, sig);
        phx_buf_t data = PHX_BUF_INIT;
        phx_evm_receipt_t r = {0};
        phx_err_t err =
            phx_chain_record_firing_calldata(cid, fid, code, true, output, 64, sig, &data, e);
        phx_evm_send_t tx = {.has_to = true, .data = data.ptr, .data_len = data.len};
        memcpy(tx.to, dep.jobs, 20);
        if (!err) err = phx_signer_transact(from->signer, &tx, 1, 60000, &r, e);
        phx_buf_free(&data);
        if (!err && !r.status) err = phx_fail(e, PHX_ERR_REMOTE, "recordFiring reverted");
        if (err) {
            phx_evm_receipt_clear(&r);
            return die("recordFiring", e);
        }
        if (round >= 0) gas[round] = r.gas_used;
        phx_evm_receipt_clear(&r);
    }
    qsort(gas, ROUNDS, sizeof gas[0], cmp_u64);
    *median = gas[ROUNDS / 2];
    return 0;
}

/* One StateAnchor.write from `from`, signed by worker w; its gas in *gas. */
static int state_write(acct_t *from, const acct_t *w, const uint8_t cid[32], const uint8_t key[32],
                       uint64_t expected, const uint8_t *blob, size_t len, uint64_t *gas,
                       phx_error_t *e)
{
    uint8_t hash[32], digest[32], sig[65];
    phx_keccak256(blob, len, hash);
    phx_chain_state_write_digest(dep.chain_id, dep.state, cid, key, expected, hash, digest);
    if (phx_secp256k1_sign(w->sk, digest, sig)) return die("state sign", e);
    char ev[24];
    snprintf(ev, sizeof ev, "%llu", (unsigned long long)expected);
    phx_evm_receipt_t r = {0};
    int rc = send_tx(from, dep.state, "write(bytes32,bytes32,uint64,bytes,bytes)",
                     json_pack("[o,o,s,o,o]", phx_json_hex(cid, 32), phx_json_hex(key, 32), ev,
                               phx_json_hex(blob, len), phx_json_hex(sig, 65)),
                     &r, e);
    *gas = r.gas_used;
    phx_evm_receipt_clear(&r);
    return rc;
}

int main(void)
{
    test_anvil_t anvil;
    phx_error_t e = {0};
    acct_t gov, ops[3], workers[3];
    memset(&gov, 0, sizeof gov);
    memset(ops, 0, sizeof ops);
    memset(workers, 0, sizeof workers);
    uint8_t consumer[20], kms_sk[32], cid[32], salt[32] = {1}, code_hash[32] = {2};
    int rc = 1;
    if (test_anvil_start(&anvil, NULL)) return 0; /* a bench never fails the build */
    if (test_chain_deploy_dev(anvil.url, NULL, &rpc, &gov.signer, &dep, &e)) {
        die("deploy", &e);
        goto out;
    }
    phx_signer_address(gov.signer, gov.addr);
    /* The test consumer (its callback stores the output hash and emits the output). */
    const phx_chain_artifact_t *art = phx_chain_artifact("TestConsumer");
    phx_buf_t code = PHX_BUF_INIT;
    uint8_t ctor[64] = {0};
    memcpy(ctor + 12, dep.jobs, 20);
    memcpy(ctor + 44, dep.token, 20);
    if (!art || phx_hex_decode(art->bytecode_hex, &code, &e) ||
        phx_signer_deploy(gov.signer, code.ptr, code.len, ctor, 64, 0, 1, 60000, consumer, NULL,
                          &e)) {
        phx_buf_free(&code);
        die("consumer", &e);
        goto out;
    }
    phx_buf_free(&code);

    /* Three operators with one worker each, vouched for by one KMS key. */
    phx_secp256k1_keygen(kms_sk);
    uint8_t kms_addr[20], q[QUOTE_LEN], meas[32], rd[64], qhash[32], nonce[32], digest[32], sig[65],
        x25519[32];
    uint32_t tee;
    phx_eth_address_from_seckey(kms_sk, kms_addr);
    phx_u256_t stake, unit, hundred;
    phx_u256_from_str("1000000000000000000000", &stake, &e); /* 1000 PHA */
    phx_u256_from_str("1000000000000000000", &unit, &e);
    hundred = phx_u256_mul_u64(&unit, 1000);
    for (int i = 0; i < 3; i++) {
        if (account_open(&ops[i], test_anvil_keys[i + 1], &e) ||
            account_open(&workers[i], NULL, &e))
            goto out;
        if (send_tx(&gov, dep.token, "transfer(address,uint256)",
                    json_pack("[o,o]", phx_json_hex(ops[i].addr, 20), u256_json(&stake)), NULL,
                    &e) ||
            phx_chain_stake(rpc, ops[i].signer, &dep, &stake, PHX_CHAIN_DEFAULT_COMMISSION_BPS,
                            NULL, &e))
            goto out;
        /* Workers 0 and 1: TDX quote v4 layout; worker 2: SGX quote v3 layout. */
        bool sgx = i == 2;
        memset(q, 0, sizeof q);
        q[0] = sgx ? 3 : 4;
        q[4] = sgx ? 0 : 0x81;
        phx_random_bytes(nonce, 32);
        phx_random_bytes(x25519, 32);
        phx_chain_report_data(workers[i].addr, x25519, nonce, q + 48 + (sgx ? 320 : 520));
        phx_chain_quote_fields(q, sizeof q, &tee, meas, rd, &e);
        if ((i == 0 || sgx) && send_tx(&gov, dep.registry, "setMeasurement(bytes32,bool)",
                                       json_pack("[o,b]", phx_json_hex(meas, 32), 1), NULL, &e))
            goto out;
        if (i == 0) {
            /* Governance admits the KMS key (its quote: the same layout, KMS domain). */
            uint8_t kq[QUOTE_LEN], zero[32] = {0};
            memcpy(kq, q, sizeof kq);
            phx_chain_kms_report_data(kms_addr, x25519, nonce, kq + 48 + 520);
            if (send_tx(&gov, dep.registry, "admitKms(address,bytes32,bytes32,bytes,bytes32)",
                        json_pack("[o,o,o,o,o]", phx_json_hex(kms_addr, 20),
                                  phx_json_hex(x25519, 32), phx_json_hex(nonce, 32),
                                  phx_json_hex(kq, sizeof kq), phx_json_hex(zero, 32)),
                        NULL, &e))
                goto out;
        }
        phx_keccak256(q, sizeof q, qhash);
        phx_chain_attest_digest(dep.chain_id, dep.registry, ops[i].addr, workers[i].addr, x25519,
                                meas, tee, qhash, nonce, digest);
        phx_secp256k1_sign(kms_sk, digest, sig);
        if (send_tx(&ops[i], dep.registry, "registerWorker(address,bytes32,bytes32,bytes,bytes)",
                    json_pack("[o,o,o,o,o]", phx_json_hex(workers[i].addr, 20),
                              phx_json_hex(x25519, 32), phx_json_hex(nonce, 32),
                              phx_json_hex(q, sizeof q), phx_json_hex(sig, 65)),
                    NULL, &e))
            goto out;
    }
    if (send_tx(&gov, dep.jobs, "deployContract(bytes32,bytes32,string)",
                json_pack("[o,o,s]", phx_json_hex(salt, 32), phx_json_hex(code_hash, 32), "bench"),
                NULL, &e) ||
        send_tx(&gov, dep.token, "transfer(address,uint256)",
                json_pack("[o,o]", phx_json_hex(consumer, 20), u256_json(&hundred)), NULL, &e))
        goto out;
    phx_chain_contract_id(gov.addr, salt, cid);

    static uint8_t output[65536];
    for (size_t i = 0; i < sizeof output; i++)
        output[i] = (uint8_t)(i * 31 + 7);
    bench_t b = {&gov, workers, consumer, cid, unit};
    uint64_t median[4] = {0}, big = 0, two_kinds = 0;
    for (unsigned k = 1; k <= 3; k++)
        if (measure(&b, k, 1, output, 256, 300000, &median[k], &e)) goto out;
    if (measure(&b, 1, 1, output, sizeof output, 2000000, &big, &e)) goto out;
    if (measure(&b, 2, 2, output, 256, 300000, &two_kinds, &e)) goto out;
    printf("Jobs.fulfill gas, 256-byte output, callback on, median of %d receipts (anvil)\n",
           ROUNDS);
    printf("  %-3s %12s %10s %15s\n", "k", "gas used", "vs k=1", "per extra sig");
    for (unsigned k = 1; k <= 3; k++)
        printf("  %-3u %12llu %9.2fx %15lld\n", k, (unsigned long long)median[k],
               (double)median[k] / (double)median[1],
               k > 1 ? (long long)(median[k] - median[1]) / (long long)(k - 1) : 0LL);
    printf("  k=1 with a 64 KiB output: %llu gas (%.1fx the 256-byte case)\n",
           (unsigned long long)big, (double)big / (double)median[1]);
    printf("  k=2, minTeeKinds 2 (a TDX and an SGX signer): %llu gas (%.3fx k=2 with any kind, "
           "+%lld for the kind check)\n",
           (unsigned long long)two_kinds, (double)two_kinds / (double)median[2],
           (long long)two_kinds - (long long)median[2]);
    /* issue #12's budget: k=1 within +10 %% of the 131,000 before StakePool. */
    printf("  k=1 (fees owed to the StakePool, eligibility read from the Registry): %.3fx "
           "the 131,000 budget base (limit 1.100x)\n",
           (double)median[1] / 131000.0);
    /* phx.state's anchor (before economy(), which slashes and
     * invalidates workers): a first write (a fresh slot), an update, a 1 KiB
     * update; against a PHA transfer and fulfill k=1 in the same run. Sealed
     * sizes: 64 bytes is a small JSON value (24 nonce + 16 tag + 24 of value). */
    uint8_t skey[32] = {7};
    uint64_t first = 0, upd = 0, upd1k = 0, xfer = 0;
    phx_evm_receipt_t tr = {0};
    if (state_write(&gov, &workers[0], cid, skey, 0, output, 64, &first, &e) ||
        state_write(&gov, &workers[0], cid, skey, 1, output, 64, &upd, &e) ||
        state_write(&gov, &workers[0], cid, skey, 2, output, 1024, &upd1k, &e) ||
        send_tx(&gov, dep.token, "transfer(address,uint256)",
                json_pack("[o,o]", phx_json_hex(ops[0].addr, 20), u256_json(&unit)), &tr, &e))
        goto out;
    xfer = tr.gas_used;
    phx_evm_receipt_clear(&tr);
    /* Trigger firings (issue 15), the deployer still governing: without
     * Payments (the record alone, as before issue 15's payment), with a zero
     * price (free: Payments is asked), and charged to the owner's deposit. */
    uint64_t fire_none = 0, fire_free = 0, fire_paid = 0;
    static const uint8_t no_pay[20];
    phx_u256_t price = phx_u256_from_u64(1000000000000000ull), zero_u = phx_u256_from_u64(0);
    if (send_tx(&gov, dep.jobs, "setPayments(address)", json_pack("[o]", phx_json_hex(no_pay, 20)),
                NULL, &e) ||
        firing_gas(&gov, &workers[0], cid, code_hash, output, 'n', &fire_none, &e) ||
        send_tx(&gov, dep.jobs, "setPayments(address)",
                json_pack("[o]", phx_json_hex(dep.payments, 20)), NULL, &e) ||
        send_tx(&gov, dep.payments, "setPrice(uint256,uint256)",
                json_pack("[o,o]", u256_json(&zero_u), u256_json(&zero_u)), NULL, &e) ||
        firing_gas(&gov, &workers[0], cid, code_hash, output, 'f', &fire_free, &e) ||
        send_tx(&gov, dep.payments, "setPrice(uint256,uint256)",
                json_pack("[o,o]", u256_json(&price), u256_json(&zero_u)), NULL, &e) ||
        send_tx(&gov, dep.token, "approve(address,uint256)",
                json_pack("[o,o]", phx_json_hex(dep.payments, 20), u256_json(&unit)), NULL, &e) ||
        send_tx(&gov, dep.payments, "deposit(uint256)", json_pack("[o]", u256_json(&unit)), NULL,
                &e) ||
        firing_gas(&gov, &workers[0], cid, code_hash, output, 'p', &fire_paid, &e))
        goto out;
    row_t rows[16];
    size_t nrows = 0;
    if (economy(&gov, ops, workers, rows, &nrows, &e)) goto out;
    printf("\nStakePool and governance calls, gas used (one receipt each, anvil)\n");
    for (size_t i = 0; i < nrows; i++)
        printf("  %-44s %10llu\n", rows[i].call, (unsigned long long)rows[i].gas);

    printf("\nStateAnchor.write (phx.state), gas used (one receipt each, anvil)\n");
    printf("  %-44s %10s %12s %14s\n", "write", "gas used", "vs transfer", "vs fulfill k=1");
    const struct {
        const char *what;
        uint64_t gas;
    } srows[] = {{"first write, 64-byte sealed value", first},
                 {"update, 64-byte sealed value", upd},
                 {"update, 1 KiB sealed value", upd1k},
                 {"peer: PHA transfer (to a zero balance)", xfer}};
    for (size_t i = 0; i < sizeof srows / sizeof srows[0]; i++)
        printf("  %-44s %10llu %11.2fx %13.2fx\n", srows[i].what, (unsigned long long)srows[i].gas,
               (double)srows[i].gas / (double)xfer, (double)srows[i].gas / (double)median[1]);

    printf("\nJobs.recordFiring (trigger firings), 64-byte output, median of %d receipts (anvil)\n",
           ROUNDS);
    printf("  %-44s %10s %12s %14s\n", "record", "gas used", "vs transfer", "vs fulfill k=1");
    const struct {
        const char *what;
        uint64_t gas;
    } frows[] = {{"no Payments set (the record only)", fire_none},
                 {"Payments set, price 0 (free)", fire_free},
                 {"charged to the owner's deposit", fire_paid}};
    for (size_t i = 0; i < sizeof frows / sizeof frows[0]; i++)
        printf("  %-44s %10llu %11.2fx %13.2fx\n", frows[i].what, (unsigned long long)frows[i].gas,
               (double)frows[i].gas / (double)xfer, (double)frows[i].gas / (double)median[1]);
    printf("  paying costs %lld gas over the free record (%.2fx)\n",
           (long long)fire_paid - (long long)fire_free, (double)fire_paid / (double)fire_free);
    rc = 0;
out:
    if (rc) die("stopped", &e);
    phx_secure_zero(kms_sk, sizeof kms_sk);
    phx_signer_close(gov.signer);
    for (int i = 0; i < 3; i++) {
        phx_signer_close(ops[i].signer);
        phx_signer_close(workers[i].signer);
    }
    phx_rpc_close(rpc);
    test_anvil_stop(&anvil);
    return 0;
}
