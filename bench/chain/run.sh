#!/bin/sh
# Gas used by Jobs.fulfill (k = 1, 2, 3; 256-byte output), by the StakePool
# and governance calls, and by Payments (deposit, redeem 1 and N vouchers,
# withdraw; against a PHA transfer) and by StateAnchor.write (phx.state's
# anchor; against a PHA transfer and fulfill k=1) and by Jobs.recordFiring (a
# trigger firing: without Payments, free, and charged to the owner's deposit)
# from receipts on a real anvil.
# Usage: bench/chain/run.sh BUILD_DIR. Never fails the build.
cd "$(dirname "$0")/../.." || exit 0
build=${1:-build}
bin=$build/bench/chain/bench_fulfill_gas
if [ ! -x "$bin" ]; then
    echo "bench/chain: $bin not built"
    exit 0
fi
PHX_NODE_MODULES=${PHX_NODE_MODULES:-$PWD/node_modules} "$bin" || echo "bench/chain: run failed"
pay=$build/bench/chain/bench_payments_gas
if [ -x "$pay" ]; then
    PHX_NODE_MODULES=${PHX_NODE_MODULES:-$PWD/node_modules} "$pay" || echo "bench/chain: payments run failed"
fi
exit 0
