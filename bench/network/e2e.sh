#!/bin/sh
# bench/network, end to end (issue 11): a 3-worker devnet, its gateway, a
# trivial contract, and keep-alive clients (bench_gateway e2e) at 1, 16 and 64
# concurrent clients: calls/s, p50, p99. Beside them, in the same run: one
# worker's bench/js rate for the same kind of contract (phx-warm, in process,
# no network), so the network's overhead shows as a ratio; and one client
# calling a worker directly against one through the gateway, for what the
# gateway adds at p50. The issue's targets are printed met or not. Direct calls
# are unsigned: the devnet's price is zero, and a worker then serves them free
# (src/worker/payment.c). A benchmark: prints, never fails.
# usage: bench/network/e2e.sh BUILD_DIR [SECONDS]
build=${1:-build}
secs=${2:-5}
src=$(cd "$(dirname "$0")/../.." && pwd)
case $build in /*) ;; *) build=$(pwd)/$build ;; esac
phx="$build/phx"
driver="$build/bench/network/bench_gateway"
bjs="$build/bench/js/bench_js"
if ! "$phx" worker --help >/dev/null 2>&1 || [ ! -x "$driver" ]; then
    echo "bench/network e2e: needs phx with the worker verb and bench_gateway; skipped"
    exit 0
fi
. "$src/bench/network/devnet.sh"
bench_devnet e2e --workers 3
gw=$(json "$tmp/ep.json" "['gateway']")
w0=$(json "$tmp/ep.json" "['workers'][0]['url']")
printf 'export default async function (input) { return { ok: true, echo: input.pair }; }\n' >"$tmp/trivial.js"
if ! "$phx" deploy "$tmp/trivial.js" --json >"$tmp/d.json" 2>"$tmp/d.err"; then
    echo "bench/network e2e: deploy failed: $(cat "$tmp/d.err")"
    exit 0
fi
# What each worker admits at once (a client beyond it meets 429 Retry-After).
slots=$(curl -s "$w0/metrics" | sed -n 's/^phx_worker_slots{kind="\(all\|per_contract\|per_owner\)"} /\1=/p' | tr '\n' ' ')
id=$(json "$tmp/d.json" "['id']")
"$driver" e2e "$secs" "$gw" "$w0" "$id" >"$tmp/e2e.txt" 2>"$tmp/e2e.err"
kill $pid 2>/dev/null
wait $pid 2>/dev/null
pid=""
# One worker's rate, the same kind of contract, no network (bench/js).
js=""
if [ -x "$bjs" ]; then
    mkdir -p "$tmp/in"
    node "$src/bench/js/inputs.js" "$tmp/in" >/dev/null 2>&1 &&
        "$bjs" "$src/bench/js/contracts" "$tmp/in" 500 trivial >"$tmp/js.jsonl" 2>/dev/null
    js=$(python3 -c "
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r['runner'] == 'phx-warm': print(round(r['per_sec']))" "$tmp/js.jsonl" 2>/dev/null)
fi
SLOTS=$slots python3 - "$tmp/e2e.txt" "${js:-0}" "$secs" <<'EOF'
import os, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 7:
        rows[(f[0], int(f[1]))] = [float(x) for x in f[2:]]
js, secs = float(sys.argv[2]), sys.argv[3]
print(f"bench/network e2e: 3-worker devnet, gateway, trivial contract, keep-alive clients, "
      f"{secs} s a row; cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
print(f"{'clients':>8} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7} {'of which 429':>13} {'vs bench/js 1 worker':>21}")
for c in (1, 16, 64):
    r = rows.get(('gateway', c))
    if not r:
        print(f"{c:>8} {'-':>9}")
        continue
    ratio = f"{r[0] / js:.2f}x" if js else "-"
    print(f"{c:>8} {r[0]:>9.0f} {r[1] / 1000:>8.2f} {r[2] / 1000:>8.2f} {r[3]:>7.0f} {r[4]:>13.0f} {ratio:>21}")
print(f"each worker's slots: {os.environ.get('SLOTS', '?')}(429s beyond them are counted, not timed)")
print(f"bench/js trivial, phx-warm, one worker in process: {js:.0f} inv/s" if js else
      "bench/js trivial: not measured (bench_js not built)")
r16 = rows.get(('gateway', 16))
if r16:
    met = r16[0] >= 2000 and r16[2] <= 20000
    print(f"target 16 clients >= 2000 calls/s with p99 <= 20 ms: {r16[0]:.0f} calls/s "
          f"({r16[0] / 2000:.2f}x of it), p99 {r16[2] / 1000:.1f} ms: {'met' if met else 'NOT met'}")
d, g = rows.get(('direct', 1)), rows.get(('gateway', 1))
if d and g:
    added = g[1] - d[1]
    print(f"gateway row, 1 client: p50 direct to a worker {d[1]:.0f} us, via the gateway "
          f"{g[1]:.0f} us, added {added:.0f} us (target <= 50): {'met' if added <= 50 else 'NOT met'}")
EOF
exit 0
