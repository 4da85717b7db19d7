#!/bin/sh
# bench/evm: EIP-1559 transactions built + signed + serialised per second by the C
# client vs ethers v6 in node on the same machine, and decode + sender recovery.
# Usage: bench/evm/run.sh BUILD_DIR [SECONDS]. A benchmark, not a test: never
# fails (a missing peer prints "n/a"). Compare ratios from one run; the machine
# may be shared. The transaction is identical on both sides (chain 31337, a
# transfer(address,uint256) call); both sides also sign the nonce-7 instance
# and the script compares the raw bytes (RFC 6979 makes them deterministic), so
# the two did the same work.
set -u
build=${1:-build}
secs=${2:-2}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
driver="$build/bench/evm/bench_evm"
[ -x "$driver" ] || driver="$root/$build/bench/evm/bench_evm"
if [ ! -x "$driver" ]; then
    echo "bench/evm: $driver not built (make build)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$driver" "$secs" >"$tmp/phx" 2>/dev/null || true
mods=${PHX_NODE_MODULES:-$root/node_modules}
if command -v node >/dev/null 2>&1 && [ -d "$mods/ethers" ]; then
    node "$here/peer.mjs" "$mods" "$secs" >"$tmp/peer" 2>/dev/null || true
fi
touch "$tmp/peer"
get() { awk -v k="$2" '$1 == k {print $2}' "$1"; }
row() { # label ours_key peer_key peer_label
    ours=$(get "$tmp/phx" "$2")
    peer=$(get "$tmp/peer" "$3")
    ratio="n/a"
    if [ -n "$ours" ] && [ -n "$peer" ] && [ "$peer" != 0 ]; then
        ratio=$(awk -v a="$ours" -v b="$peer" 'BEGIN {printf "%.1fx", a / b}')
    fi
    printf "%-34s %12s %12s  %-36s %8s\n" "$1" "${ours:-n/a}" "${peer:-n/a}" "$4" "$ratio"
}
printf "%-34s %12s %12s  %-36s %8s\n" "operation (EIP-1559 tx)" "phx tx/s" "peer tx/s" "peer" "phx/peer"
row "build+sign+serialise" sign sign "ethers 6 Transaction+SigningKey"
row "build+sign+serialise" sign wallet "ethers 6 Wallet.signTransaction"
row "decode+recover sender" recover recover "ethers 6 Transaction.from(raw).from"
c=$(get "$tmp/phx" check)
p=$(get "$tmp/peer" check)
if [ -n "$c" ] && [ "$c" = "$p" ]; then echo "same raw transaction bytes from both: yes"
else echo "same raw transaction bytes from both: NO or n/a"; fi
