#!/bin/sh
# bench/network, on-chain part: request -> callback latency on a devnet with
# 3 workers and anvil mining a block a second. N requests (default 30;
# --requests 1000 for the issue's full run) are sent to Jobs for an echo
# contract; each one's latency is Fulfilled block minus Requested block (in
# blocks, and in seconds by block timestamps), with the direct call through the
# gateway (phx call) beside it as the peer. Then the same N requests asking for
# k = 2 and k = 3 signatures (k-of-n rounds between the workers, issue 13):
# their latency in blocks against k = 1's, as ratios. Prints tables; never fails.
# usage: bench/network/onchain.sh BUILD_DIR [--requests N]
build=${1:-build}
n=30
[ "${2:-}" = "--requests" ] && n=${3:-30}
src=$(cd "$(dirname "$0")/../.." && pwd)
phx="$build/phx"
cast="$src/node_modules/.bin/cast"
if ! "$phx" worker --help >/dev/null 2>&1 || [ ! -x "$cast" ]; then
    echo "bench/network on-chain: needs phx with the worker verb and cast; skipped"
    exit 0
fi
. "$src/bench/network/devnet.sh"
bench_devnet on-chain --workers 3 --block-time 1
# settle FIRST LAST: wait until every request FIRST..LAST is fulfilled (or 10
# minutes pass).
settle() {
    _t=$(date +%s)
    while [ $(( $(date +%s) - _t )) -lt 600 ]; do
        _d=$("$cast" logs --rpc-url "$rpc" --from-block 0 --address "$jobs" \
            'Fulfilled(uint256 indexed,address indexed,bytes32,bool,bool,address[],bytes)' --json |
            python3 -c "import json,sys; print(sum(1 for l in json.load(sys.stdin) if $1 <= int(l['topics'][1],16) <= $2))")
        [ "$_d" -ge $(($2 - $1 + 1)) ] && break
        sleep 2
    done
}
rpc=$(json "$tmp/ep.json" "['rpc']")
jobs=$(json "$tmp/ep.json" "['deployment']['contracts']['Jobs']")
token=$(json "$tmp/ep.json" "['deployment']['contracts']['PhxToken']")
key=$(cat "$(json "$tmp/ep.json" "['user']['key_file']")")
printf 'export default async function (input) { return { echo: input }; }\n' >"$tmp/echo.js"
"$phx" deploy "$tmp/echo.js" --json >"$tmp/d.json" || exit 0
id=$(json "$tmp/d.json" "['id']")
# The gateway spreads calls round robin: a few calls give every worker the code.
direct_ms=""
for i in $(seq 1 9); do
    t0=$(date +%s%N)
    "$phx" call "$id" --input "{\"i\":$i}" --json >/dev/null
    direct_ms="$direct_ms $(( ($(date +%s%N) - t0) / 1000000 ))"
done
start=$(date +%s)
# One sender with consecutive nonces (one `cast send` each races on nonces).
node "$src/tests/worker/send_requests.js" "$rpc" "$key" "$jobs" "$token" "$id" "$n" >"$tmp/sent.json" || exit 0
first=$(json "$tmp/sent.json" "['first']")
last=$(json "$tmp/sent.json" "['last']")
sent=$(date +%s)
# Wait for every request to settle (or 10 minutes past the last send).
while [ $(( $(date +%s) - sent )) -lt 600 ]; do
    done_n=$("$cast" logs --rpc-url "$rpc" --from-block 0 --address "$jobs" \
        'Fulfilled(uint256 indexed,address indexed,bytes32,bool,bool,address[],bytes)' --json |
        python3 -c "import json,sys; print(sum(1 for l in json.load(sys.stdin) if $first <= int(l['topics'][1],16) <= $last))")
    [ "$done_n" -ge "$n" ] && break
    sleep 2
done
end=$(date +%s)
# k = 2 and k = 3: the same count again, one k at a time.
ranges=""
for k in 2 3; do
    node "$src/tests/worker/send_requests.js" "$rpc" "$key" "$jobs" "$token" "$id" "$n" "$k" >"$tmp/sent$k.json" || continue
    f=$(json "$tmp/sent$k.json" "['first']")
    l=$(json "$tmp/sent$k.json" "['last']")
    settle "$f" "$l"
    ranges="$ranges $k:$f:$l"
done
"$cast" logs --rpc-url "$rpc" --from-block 0 --address "$jobs" \
    'Requested(uint256 indexed,bytes32 indexed,address indexed,bytes32,uint256,uint32,uint8,uint64,bytes,uint8)' --json >"$tmp/req.json"
"$cast" logs --rpc-url "$rpc" --from-block 0 --address "$jobs" \
    'Fulfilled(uint256 indexed,address indexed,bytes32,bool,bool,address[],bytes)' --json >"$tmp/ful.json"
python3 - "$tmp/req.json" "$tmp/ful.json" "$first" "$last" "$rpc" "$cast" "$n" "$start" "$sent" "$end" "$direct_ms" "$ranges" <<'EOF'
import json, subprocess, sys
req, ful = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
first, last, rpc, cast, n = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], int(sys.argv[7])
start, sent, end = int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10])
direct = sorted(int(x) for x in sys.argv[11].split())
rb = {int(l['topics'][1], 16): int(l['blockNumber'], 16) for l in req}
fb = {}
for l in ful:
    r = int(l['topics'][1], 16)
    fb.setdefault(r, int(l['blockNumber'], 16))
ts = {}
def stamp(b):
    if b not in ts:
        out = subprocess.run([cast, 'block', str(b), '-f', 'timestamp', '--rpc-url', rpc],
                             capture_output=True, text=True).stdout.strip()
        ts[b] = int(out.split()[0]) if out else 0
    return ts[b]
blocks, secs = [], []
for r in range(first, last + 1):
    if r in rb and r in fb:
        blocks.append(fb[r] - rb[r])
        secs.append(stamp(fb[r]) - stamp(rb[r]))
def pct(v, p):
    if not v: return float('nan')
    v = sorted(v); return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
print(f"bench/network on-chain: {len(blocks)}/{n} requests fulfilled, 3 workers, anvil 1 s blocks")
print(f"{'':28}{'p50':>8}{'p90':>8}{'max':>8}")
print(f"{'request->callback, blocks':28}{pct(blocks,50):>8}{pct(blocks,90):>8}{max(blocks) if blocks else 'nan':>8}")
print(f"{'request->callback, seconds':28}{pct(secs,50):>8}{pct(secs,90):>8}{max(secs) if secs else 'nan':>8}")
d50 = pct(direct, 50) / 1000.0
print(f"{'direct call via gateway, s':28}{d50:>8.3f}{pct(direct,90)/1000.0:>8.3f}{direct[-1]/1000.0:>8.3f}")
if secs and d50 > 0:
    print(f"on chain / direct (p50): {pct(secs,50) / d50:.1f}x  (a block a second bounds the chain side)")
print(f"sending {n} requests took {sent - start} s; all settled {end - sent} s after the last send")
def lat(lo, hi):
    return [fb[r] - rb[r] for r in range(lo, hi + 1) if r in rb and r in fb]
rows = [(1, first, last)] + [tuple(int(x) for x in t.split(':')) for t in sys.argv[12].split()]
base = pct(lat(first, last), 50)
print(f"k-of-n, request->callback in blocks ({n} requests each, 3 workers of 3 operators)")
print(f"{'k':>3}{'fulfilled':>11}{'p50':>7}{'p90':>7}{'max':>7}{'p50 vs k=1':>12}")
for k, lo, hi in rows:
    b = lat(lo, hi)
    ratio = f"{pct(b, 50) / base:.2f}x" if b and base == base and base > 0 else '-'
    print(f"{k:>3}{len(b):>7}/{hi - lo + 1:<3}{pct(b,50):>7}{pct(b,90):>7}{max(b) if b else 'nan':>7}{ratio:>12}")
EOF
exit 0
