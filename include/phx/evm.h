/* EVM client: RLP, the Solidity ABI, transactions (legacy/EIP-155, EIP-2930,
 * EIP-1559), EIP-712 typed data, a JSON-RPC client over HTTP (libcurl), a signer
 * with on-disk nonce tracking, receipts with confirmations, contract deployment
 * and a reorg-safe log follower. Specs: Ethereum yellow paper appendix B (RLP),
 * Solidity ABI spec, EIP-155/2718/2930/1559/712, Ethereum JSON-RPC API.
 * See docs/evm.md for how data flows through the module.
 *
 * The umbrella over one header per concern; include a part alone when only
 * that concern is needed. */
#ifndef PHX_EVM_H
#define PHX_EVM_H

#include "phx/evm_abi.h"      /* ABI types, values, calls, event logs */
#include "phx/evm_eip712.h"   /* EIP-712 typed data */
#include "phx/evm_follower.h" /* log follower */
#include "phx/evm_rlp.h"      /* RLP decode/encode */
#include "phx/evm_rpc.h"      /* JSON-RPC client, receipts, logs */
#include "phx/evm_signer.h"   /* fees, signer */
#include "phx/evm_tx.h"       /* transactions, addresses */
#include "phx/evm_u256.h"     /* 256-bit words */

#endif
