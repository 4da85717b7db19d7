#!/bin/sh
# Gas used by Jobs.fulfill (k = 1, 2, 3; 256-byte output), and by the StakePool
# and governance calls, from receipts on a real
# anvil. Usage: bench/chain/run.sh BUILD_DIR. Never fails the build.
cd "$(dirname "$0")/../.." || exit 0
build=${1:-build}
bin=$build/bench/chain/bench_fulfill_gas
if [ ! -x "$bin" ]; then
    echo "bench/chain: $bin not built"
    exit 0
fi
PHX_NODE_MODULES=${PHX_NODE_MODULES:-$PWD/node_modules} "$bin" || echo "bench/chain: run failed"
exit 0
