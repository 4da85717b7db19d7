#!/bin/sh
# bench/network, paid direct calls: what the worker's payment cache saves.
# Every paid call checks its voucher against the Payments price and the
# payer's deposit on chain (src/worker/payment.c); the worker reuses those
# reads for --pay-cache-ms (default 2000, never past a new block). One devnet
# (a 1-worker devnet whose worker caches, plus a second worker of the same
# operator started with --pay-cache-ms 0), a price set on Payments, a trivial
# contract on both, and one keep-alive client (paid_client.mjs, ethers
# vouchers) alternating call by call between the two: p50/p90/mean latency of a
# paid call and the no-cache/cache ratio. With BASE_BUILD_DIR (a build of an
# earlier tree, e.g. main before the KMS's voucher ledger), a third worker of
# the same operator runs that build's phx (caching) in the same devnet, and
# the client alternates over all three: the second table is what this
# tree's paid call costs against the base's, same run, same load.
# A benchmark: prints, never fails.
# usage: bench/network/paid.sh BUILD_DIR [ROUNDS] [CALLS_PER_ROUND] [BASE_BUILD_DIR]
build=${1:-build}
rounds=${2:-5}
per=${3:-40}
base=${4:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
case $build in /*) ;; *) build=$(pwd)/$build ;; esac
case $base in /* | "") ;; *) base=$(pwd)/$base ;; esac
phx="$build/phx"
cast=$src/node_modules/.bin/cast
if ! "$phx" worker --help >/dev/null 2>&1; then
    echo "bench/network paid: needs phx with the worker verb; skipped"
    exit 0
fi
. "$src/bench/network/devnet.sh"
bench_devnet paid --workers 1 --no-handover
rpc=$(json "$tmp/ep.json" "['rpc']")
pay=$(json "$tmp/ep.json" "['deployment']['contracts']['Payments']")
op=$(json "$tmp/ep.json" "['workers'][0]['operator']")
w0=$(json "$tmp/ep.json" "['workers'][0]['url']")
ukey=$(cat "$(json "$tmp/ep.json" "['user']['key_file']")")
chain=$(json "$tmp/ep.json" "['chain_id']")
# The deployer still governs (--no-handover): 0.001 PHA a call + 1e12 wei a CPU-ms.
gov_key=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
"$cast" send --rpc-url "$rpc" --private-key "$gov_key" "$pay" 'setPrice(uint256,uint256)' 1000000000000000 1000000000000 >/dev/null 2>&1
# A second worker of the same operator: its pool needs a second minimum stake.
"$phx" stake delegate 1 1000 >/dev/null 2>&1 || skip "could not stake for a second worker"
"$phx" worker --dir "$tmp/nocache" --sim-dir "$PHX_HOME/sim" --listen 127.0.0.1:0 --rpc "$rpc" \
    --deployment "$PHX_HOME/deployment.json" --kms "$(json "$tmp/ep.json" "['kms']['url']")" \
    --kms-address "$(json "$tmp/ep.json" "['kms']['address']")" \
    --operator-key-file "$PHX_HOME/worker-0/operator.key" --pay-cache-ms 0 --json >"$tmp/w1.json" 2>"$tmp/w1.log" &
wpid=$!
also=$wpid
for _ in $(seq 1 600); do [ -s "$tmp/w1.json" ] && break; kill -0 $wpid 2>/dev/null || break; sleep 0.1; done
[ -s "$tmp/w1.json" ] || skip "the second worker did not start: $(tail -1 "$tmp/w1.log")"
w1=$(json "$tmp/w1.json" "['url']")
w2=""
if [ -n "$base" ]; then
    # The base build's worker: a third minimum stake, its own directory.
    "$phx" stake delegate 1 1000 >/dev/null 2>&1 || skip "could not stake for the base worker"
    "$base/phx" worker --dir "$tmp/base" --sim-dir "$PHX_HOME/sim" --listen 127.0.0.1:0 --rpc "$rpc" \
        --deployment "$PHX_HOME/deployment.json" --kms "$(json "$tmp/ep.json" "['kms']['url']")" \
        --kms-address "$(json "$tmp/ep.json" "['kms']['address']")" \
        --operator-key-file "$PHX_HOME/worker-0/operator.key" --json >"$tmp/w2.json" 2>"$tmp/w2.log" &
    bpid=$!
    also="$also $bpid"
    for _ in $(seq 1 600); do [ -s "$tmp/w2.json" ] && break; kill -0 $bpid 2>/dev/null || break; sleep 0.1; done
    # Another binary is another measurement: the governor (still the
    # deployer) allows the one the Registry refused, and it starts again.
    mr=$(grep -o 'measurement 0x[0-9a-f]\{64\} is not allowed' "$tmp/w2.log" | head -1 | cut -d' ' -f2)
    if [ ! -s "$tmp/w2.json" ] && [ -n "$mr" ]; then
        "$cast" send --rpc-url "$rpc" --private-key "$gov_key" \
            "$(json "$tmp/ep.json" "['deployment']['contracts']['Registry']")" \
            'setMeasurement(bytes32,bool)' "$mr" true >/dev/null 2>&1
        "$base/phx" worker --dir "$tmp/base" --sim-dir "$PHX_HOME/sim" --listen 127.0.0.1:0 --rpc "$rpc" \
            --deployment "$PHX_HOME/deployment.json" --kms "$(json "$tmp/ep.json" "['kms']['url']")" \
            --kms-address "$(json "$tmp/ep.json" "['kms']['address']")" \
            --operator-key-file "$PHX_HOME/worker-0/operator.key" --json >"$tmp/w2.json" 2>"$tmp/w2.log" &
        bpid=$!
        also="$also $bpid"
        for _ in $(seq 1 600); do [ -s "$tmp/w2.json" ] && break; kill -0 $bpid 2>/dev/null || break; sleep 0.1; done
    fi
    [ -s "$tmp/w2.json" ] || skip "the base worker did not start: $(tail -1 "$tmp/w2.log")"
    w2=$(json "$tmp/w2.json" "['url']")
fi
printf 'export default async function (input) { return { ok: true, n: input }; }\n' >"$tmp/t.js"
salt=0x$(printf '%064x' 77)
"$phx" deploy "$tmp/t.js" --salt "$salt" --json >"$tmp/d.json" 2>"$tmp/d.err" || skip "deploy: $(cat "$tmp/d.err")"
"$phx" deploy "$tmp/t.js" --salt "$salt" --gateway "$w1" --json >/dev/null 2>"$tmp/d1.err" || skip "deploy to the second worker: $(cat "$tmp/d1.err")"
if [ -n "$w2" ]; then
    "$phx" deploy "$tmp/t.js" --salt "$salt" --gateway "$w2" --json >/dev/null 2>"$tmp/d2.err" || skip "deploy to the base worker: $(cat "$tmp/d2.err")"
fi
id=$(json "$tmp/d.json" "['id']")
node "$src/bench/network/paid_client.mjs" "$ukey" "$id" "$pay" "$chain" "$op" "$rounds" "$per" "$w0" "$w1" $w2 \
    >"$tmp/out.jsonl" 2>"$tmp/client.err" || skip "client: $(tail -3 "$tmp/client.err")"
hits=$(curl -s "$w0/metrics" | sed -n 's/^phx_worker_pay_cache_total{result="\(hit\|miss\)"} /\1=/p' | tr '\n' ' ')
python3 - "$tmp/out.jsonl" "$w0" "$w1" "$rounds" "$per" "$hits" "$w2" <<'EOF'
import json, os, sys
rows = {r["url"]: r for r in map(json.loads, open(sys.argv[1]))}
c, n = rows[sys.argv[2]], rows[sys.argv[3]]
print(f"bench/network paid: one keep-alive client, {int(sys.argv[4]) * int(sys.argv[5])} paid calls per "
      f"worker, alternating call by call; cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
print(f"{'paid direct call, us':<26} {'cache (2 s)':>12} {'no cache':>10} {'no cache / cache':>17}")
for k in ("p50_us", "p90_us", "mean_us"):
    print(f"{k[:-3] + ' latency':<26} {c[k]:>12} {n[k]:>10} {n[k] / c[k]:>17.2f}")
print(f"timed calls {c['calls']} / {n['calls']} (re-signed after a 402: {c['retried']} / {n['retried']}); "
      f"cache worker's counters: {sys.argv[6]}")
if len(sys.argv) > 7 and sys.argv[7]:
    b = rows[sys.argv[7]]
    print(f"{'paid direct call, us':<26} {'this build':>12} {'base build':>10} {'this / base':>17}  (both caching)")
    for k in ("p50_us", "p90_us", "mean_us"):
        print(f"{k[:-3] + ' latency':<26} {c[k]:>12} {b[k]:>10} {c[k] / b[k]:>17.2f}")
    print(f"timed calls {b['calls']} on the base worker (re-signed after a 402: {b['retried']})")
EOF
