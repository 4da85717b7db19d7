/* Gas of paid direct calls (contracts/Payments.sol), read from the receipts of
 * real transactions on anvil: deposit, redeem of 1 and of N vouchers (N payers,
 * one operator, one transaction), requestWithdraw and withdraw. The peer is the
 * obvious alternative to vouchers, paying each call with its own PHA transfer:
 * the table gives redeem gas per voucher and its ratio to one transfer. A
 * voucher covers any number of calls, so per call the ratio only falls. */
#include <stdlib.h>
#include <string.h>

#include "phx/chain.h"
#include "phx/crypto.h"
#include "phx/worker.h"
#include "support/chain_fixture.h"

#define MAX_PAYERS 32

static phx_rpc_t *rpc;
static phx_chain_deployment_t dep;

static int die(const char *what, const phx_error_t *e)
{
    fprintf(stderr, "bench_payments_gas: %s: %s\n", what, e ? e->message : "");
    return -1;
}

static json_t *dec(uint64_t v)
{
    char d[80];
    phx_u256_t u = phx_u256_from_u64(v);
    phx_u256_to_dec(&u, d);
    return json_string(d);
}

static int tx(phx_signer_t *s, const uint8_t to[20], const char *sig, json_t *args, uint64_t *gas,
              phx_error_t *e)
{
    phx_evm_receipt_t r;
    memset(&r, 0, sizeof r);
    phx_err_t err = phx_chain_transact(s, to, sig, args, &r, e);
    json_decref(args);
    if (gas) *gas = r.gas_used;
    phx_evm_receipt_clear(&r);
    return err ? die(sig, e) : 0;
}

/* Payments.redeem of payers [0, n) at their cumulative totals, paying op. */
static int redeem(phx_signer_t *s, uint8_t (*sks)[32], size_t n, const uint8_t op[20],
                  uint64_t cumulative, uint64_t *gas, phx_error_t *e)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        phx_voucher_t v;
        memset(&v, 0, sizeof v);
        memcpy(v.operator_, op, 20);
        v.cumulative = phx_u256_from_u64(cumulative);
        uint8_t call_hash[32];
        phx_random_bytes(call_hash, 32);
        if (phx_voucher_sign(&v, dep.chain_id, dep.payments, call_hash, sks[i], e)) return -1;
        json_array_append_new(list, json_pack("[o,o,o,o,o]", phx_json_hex(v.payer, 20),
                                              phx_json_hex(op, 20), dec(cumulative),
                                              phx_json_hex(call_hash, 32),
                                              phx_json_hex(v.signature, 65)));
    }
    return tx(s, dep.payments, "redeem((address,address,uint256,bytes32,bytes)[])",
              json_pack("[o]", list), gas, e);
}

int main(void)
{
    test_anvil_t anvil;
    phx_error_t e = {0};
    phx_signer_t *gov = NULL, *payer = NULL;
    uint8_t op[20], sks[MAX_PAYERS][32], payers[MAX_PAYERS][20];
    if (test_anvil_start(&anvil, NULL)) return 0; /* a bench never fails the build */
    phx_chain_params_t params;
    phx_chain_params_default(&params);
    params.payment_notice_s = 0; /* withdraw right after asking, to measure it */
    if (test_chain_deploy_dev(anvil.url, &params, &rpc, &gov, &dep, &e)) {
        die("deploy", &e);
        goto out;
    }
    memset(op, 0x0e, 20);
    for (int i = 0; i < MAX_PAYERS; i++) {
        phx_secp256k1_keygen(sks[i]);
        phx_eth_address_from_seckey(sks[i], payers[i]);
    }
    uint64_t g_approve, g_dep_first, g_dep_again, g_transfer, g_transfer_fresh, g_r1, g_r1_again,
        g_rn[3], g_req, g_wd;
    const size_t ns[3] = {4, 16, 32};
    const uint64_t pha = 1000000000000000000ull;
    if (tx(gov, dep.token, "approve(address,uint256)",
           json_pack("[o,s]", phx_json_hex(dep.payments, 20), "1000000000000000000000000000"),
           &g_approve, &e))
        goto out;
    /* Every payer funded by depositFor (the first deposit of an account writes
     * a fresh slot; a later one updates it). */
    for (int i = 0; i < MAX_PAYERS; i++)
        if (tx(gov, dep.payments, "depositFor(address,uint256)",
               json_pack("[o,o]", phx_json_hex(payers[i], 20), dec(10 * pha)),
               i == 0 ? &g_dep_first : NULL, &e))
            goto out;
    if (tx(gov, dep.payments, "deposit(uint256)", json_pack("[o]", dec(pha)), &g_dep_first, &e) ||
        tx(gov, dep.payments, "deposit(uint256)", json_pack("[o]", dec(pha)), &g_dep_again, &e))
        goto out;
    /* The peer: one PHA transfer per call, to an operator that holds PHA
     * already (the steady state) and to a fresh one. */
    uint8_t fresh[20];
    memset(fresh, 0x0f, 20);
    if (tx(gov, dep.token, "transfer(address,uint256)",
           json_pack("[o,o]", phx_json_hex(fresh, 20), dec(pha / 1000)), &g_transfer_fresh, &e) ||
        tx(gov, dep.token, "transfer(address,uint256)",
           json_pack("[o,o]", phx_json_hex(fresh, 20), dec(pha / 1000)), &g_transfer, &e))
        goto out;
    /* One voucher: the first redemption for this payer and operator, then a
     * later voucher of the same payer (the steady state). */
    if (redeem(gov, sks, 1, op, pha / 1000, &g_r1, &e) ||
        redeem(gov, sks, 1, op, 2 * pha / 1000, &g_r1_again, &e))
        goto out;
    for (int k = 0; k < 3; k++)
        if (redeem(gov, sks, ns[k], op, (uint64_t)(3 + k) * pha / 1000, &g_rn[k], &e)) goto out;
    /* payer 0 withdraws what is left: ask, then take (notice 0 here). */
    if (test_chain_fund(rpc, payers[0], "0xde0b6b3a7640000", &e) ||
        phx_signer_open(rpc, sks[0], NULL, &payer, &e) ||
        tx(payer, dep.payments, "requestWithdraw(uint256)", json_pack("[o]", dec(pha)), &g_req,
           &e) ||
        tx(payer, dep.payments, "withdraw()", json_array(), &g_wd, &e))
        goto out;

    printf("Payments gas (anvil receipts; peer: one PHA transfer per call)\n");
    printf("  %-44s %10s %12s\n", "call", "gas", "vs transfer");
    const struct {
        const char *name;
        uint64_t gas;
    } rows[] = {
        {"PHA transfer (peer), existing holder", g_transfer},
        {"PHA transfer (peer), fresh holder", g_transfer_fresh},
        {"approve Payments", g_approve},
        {"deposit, first", g_dep_first},
        {"deposit, again", g_dep_again},
        {"redeem 1 voucher, first for payer+operator", g_r1},
        {"redeem 1 voucher, later", g_r1_again},
        {"requestWithdraw", g_req},
        {"withdraw", g_wd},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        printf("  %-44s %10llu %11.2fx\n", rows[i].name, (unsigned long long)rows[i].gas,
               (double)rows[i].gas / (double)g_transfer);
    printf("  redeem N vouchers in one tx (N payers, one operator; all but payer 0 first-time):\n");
    printf("  %-44s %10s %12s\n", "N", "gas", "per voucher vs transfer");
    for (int k = 0; k < 3; k++)
        printf("  %-44zu %10llu %11.2fx\n", ns[k], (unsigned long long)g_rn[k],
               (double)g_rn[k] / (double)ns[k] / (double)g_transfer);
    printf("  (a voucher pays for every call since the last one: per call the cost is\n"
           "   this divided by the calls it covers)\n");
out:
    phx_secure_zero(sks, sizeof sks);
    phx_signer_close(payer);
    phx_signer_close(gov);
    phx_rpc_close(rpc);
    test_anvil_stop(&anvil);
    return 0;
}
