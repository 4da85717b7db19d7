/* bench/evm driver: how many EIP-1559 transactions per second the C client
 * builds, signs and serialises (to raw bytes ready for eth_sendRawTransaction),
 * and, separately, decodes and recovers the sender of. Prints "key ops_per_s"
 * lines for run.sh. Usage: bench_evm [SECONDS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/evm.h"

/* The same transaction the ethers peer signs (see peer.mjs): nonce varies. */
static void fill(phx_evm_tx_t *tx, const uint8_t *data, size_t data_len, uint64_t nonce)
{
    memset(tx, 0, sizeof *tx);
    tx->type = PHX_TX_EIP1559;
    tx->chain_id = 31337;
    tx->nonce = nonce;
    tx->max_priority_fee = phx_u256_from_u64(1000000000);
    tx->max_fee = phx_u256_from_u64(30000000000ull);
    tx->gas_limit = phx_u256_from_u64(100000);
    tx->has_to = true;
    memset(tx->to, 0x42, 20);
    tx->value = phx_u256_from_u64(1000000000000000ull);
    tx->data = data;
    tx->data_len = data_len;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    uint8_t sk[32], data[68];
    phx_buf_t raw = PHX_BUF_INIT;
    if (phx_crypto_init()) return 1;
    memset(sk, 0x11, 32);
    /* transfer(address,uint256) calldata: a typical token call. */
    if (phx_abi_encode_call("transfer(address,uint256)",
                            "[\"0x4242424242424242424242424242424242424242\", \"1000\"]", &raw,
                            NULL))
        return 1;
    memcpy(data, raw.ptr, 68);

    uint64_t n = 0, t0 = phx_monotonic_ns(), limit = (uint64_t)(secs * 1e9);
    while (phx_monotonic_ns() - t0 < limit) {
        for (int i = 0; i < 64; i++, n++) {
            phx_evm_tx_t tx;
            fill(&tx, data, sizeof data, n);
            phx_buf_reset(&raw);
            if (phx_evm_tx_sign(&tx, sk, NULL) || phx_evm_tx_encode(&tx, &raw, NULL)) return 1;
        }
    }
    printf("sign %.0f\n", (double)n / ((double)(phx_monotonic_ns() - t0) / 1e9));

    /* Decode + recover the sender of the last raw transaction. */
    phx_buf_t keep = PHX_BUF_INIT;
    phx_buf_append(&keep, raw.ptr, raw.len);
    n = 0;
    t0 = phx_monotonic_ns();
    while (phx_monotonic_ns() - t0 < limit) {
        for (int i = 0; i < 64; i++, n++) {
            phx_evm_tx_t tx;
            /* Decoding a signed tx recovers its sender (tx.from). */
            if (phx_evm_tx_decode(keep.ptr, keep.len, &tx, NULL)) return 1;
            phx_evm_tx_clear(&tx);
        }
    }
    printf("recover %.0f\n", (double)n / ((double)(phx_monotonic_ns() - t0) / 1e9));
    /* The nonce-7 instance, for run.sh to compare with the peer's bytes. */
    phx_evm_tx_t tx;
    fill(&tx, data, sizeof data, 7);
    phx_buf_reset(&raw);
    if (phx_evm_tx_sign(&tx, sk, NULL) || phx_evm_tx_encode(&tx, &raw, NULL)) return 1;
    char *hex = phx_hex_encode(raw.ptr, raw.len);
    printf("check %s\n", hex ? hex : "");
    free(hex);
    phx_buf_free(&raw);
    phx_buf_free(&keep);
    return 0;
}
