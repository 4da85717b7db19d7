/* libFuzzer: raw transaction decoding, signed and unsigned, with the oracle of
 * evm_tx_oracle.h: an accepted tx re-encodes to the same bytes and recovers a
 * sender. Seeds are signed transactions of every supported type, so mutations
 * start from inputs that pass the signature checks. */
#include "evm_tx_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
    evm_tx_oracle(p, len);
    return 0;
}
