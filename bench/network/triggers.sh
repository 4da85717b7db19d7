#!/bin/sh
# bench/network, trigger latency (issue 15): on a devnet with 3 workers and
# anvil mining a block a second, an agent with a block trigger (every block)
# and an evm_log trigger (PHA transfers to one address). Latency is in blocks:
# the block of the agent's recorded action (Jobs.Fired) minus the block that
# fired it (the block itself, or the block of the log). The peer, in the same
# run, is what a user ran before triggers existed: a keeper that sends a
# Jobs.request when it sees the event, measured from the request's block to
# its Fulfilled block (the keeper's own reaction time not counted, which
# favours the peer). A third trigger follows a named chain: Ping logs of an
# Emitter on chain b (devnet --chains 3, every chain mining a block a second),
# whose run sends a transaction on chain c; its latency is counted in b's
# blocks, from the log's block to b's head when c mined the transaction, and,
# for the record, from the log to Jobs.Fired on main (in seconds = main's
# blocks). Prints a table with the ratio; never fails.
# usage: bench/network/triggers.sh BUILD_DIR [--events N] (default 20)
build=${1:-build}
n=20
[ "${2:-}" = "--events" ] && n=${3:-20}
src=$(cd "$(dirname "$0")/../.." && pwd)
phx="$build/phx"
[ -x "$phx" ] || phx="$src/$build/phx"
helpers="$src/tests/worker"
xchain="$src/tests/devnet/cross_chain.js"
FUNDER=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 # anvil's account 0
if ! "$phx" worker --help >/dev/null 2>&1; then
    echo "bench/network triggers: needs phx with the worker verb; skipped"
    exit 0
fi
. "$src/bench/network/devnet.sh"
bench_devnet triggers --workers 3 --chains 3 --block-time 1
rpc=$(json "$tmp/ep.json" "['rpc']")
jobs=$(json "$tmp/ep.json" "['deployment']['contracts']['Jobs']")
token=$(json "$tmp/ep.json" "['deployment']['contracts']['PhxToken']")
key=$(cat "$(json "$tmp/ep.json" "['user']['key_file']")")
to=0x0000000000000000000000000000000000be7c11
A=$(json "$tmp/ep.json" "['chains']['b']['rpc']")
B=$(json "$tmp/ep.json" "['chains']['c']['rpc']")
emitter=$(node "$xchain" deploy "$A" "$FUNDER") || exit 0
cat >"$tmp/agent.js" <<'JS'
export default async function (input, ctx) {
  const t = ctx.trigger;
  if (!t) return { me: await phx.crypto.address() };
  if (t.chain) {
    const data = phx.abi.encodeCall('acted(uint256,uint256)', [BigInt(t.topics[1]), BigInt(t.block)]);
    await phx.evm.send('c', { to: '0x000000000000000000000000000000000000ac7e', data });
    return { name: t.name, pos: `${t.chain_id}:${t.block}.${t.log_index}` };
  }
  return { name: t.name, pos: t.kind === 'block' ? t.block : `${t.block}.${t.log_index}` };
}
JS
cat >"$tmp/triggers.json" <<JSON
[{"name":"blocks","kind":"block","every":1},
 {"name":"paid","kind":"evm_log","address":"$token",
  "topics":["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",null,"0x000000000000000000000000${to#0x}"]},
 {"name":"far","kind":"evm_log","chain":"b","address":"$emitter"}]
JSON
"$phx" deploy "$tmp/agent.js" --triggers "$tmp/triggers.json" --json >"$tmp/d.json" || exit 0
id=$(json "$tmp/d.json" "['id']")
me=$("$phx" call "$id" --input '{}' --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["output"]["me"])') || exit 0
node -e '
const { ethers } = require("ethers");
const w = new ethers.Wallet(process.argv[2], new ethers.JsonRpcProvider(process.argv[1]));
w.sendTransaction({ to: process.argv[3], value: ethers.parseEther("1") }).then((t) => t.wait());' \
    "$B" "$FUNDER" "$me" || exit 0
sleep 5 # every worker has seen the new triggers (each starts following at its head)
# The events, one every 2 s on each chain, while the block trigger fires on every block.
node "$xchain" emit "$A" "$FUNDER" "$emitter" "$n" 2000 >"$tmp/pings.json" &
pings=$!
node "$helpers/send_transfers.js" "$rpc" "$key" "$token" "$to" "$n" 2000 >"$tmp/sent.json" || exit 0
wait $pings || exit 0
# The peer: the keeper's Jobs.request for the same contract, n of them.
node "$helpers/send_requests.js" "$rpc" "$key" "$jobs" "$token" "$id" "$n" >"$tmp/req.json" || exit 0
sleep 8
node "$helpers/fired_events.js" "$rpc" "$jobs" "$id" >"$tmp/fired.json" || exit 0
node "$xchain" txs "$B" "$me" >"$tmp/onB.json" || exit 0
node "$xchain" times "$A" >"$tmp/timesA.json" || exit 0
node "$xchain" times "$rpc" >"$tmp/timesMain.json" || exit 0
node -e '
const { ethers } = require("ethers");
(async () => {
  const [rpc, jobsAddr, first, last] = process.argv.slice(1);
  const p = new ethers.JsonRpcProvider(rpc, undefined, { batchMaxCount: 1 });
  const jobs = new ethers.Contract(jobsAddr, [
    "event Requested(uint256 indexed requestId, bytes32 indexed contractId, address indexed requester, bytes32 codeHash, uint256 fee, uint32 callbackGasLimit, uint8 k, uint64 deadline, bytes input, uint8 minTeeKinds)",
    "event Fulfilled(uint256 indexed requestId, address indexed submitter, bytes32 outputHash, bool ok, bool callbackOk, address[] operators, bytes output)"], p);
  const at = {};
  for (const l of await jobs.queryFilter(jobs.filters.Requested(), 0, "latest")) at[l.args[0]] = l.blockNumber;
  const lat = [];
  for (const l of await jobs.queryFilter(jobs.filters.Fulfilled(), 0, "latest"))
    if (l.args[0] >= BigInt(first) && l.args[0] <= BigInt(last)) lat.push(l.blockNumber - at[l.args[0]]);
  console.log(JSON.stringify(lat));
})().catch((e) => { console.error(e.message || e); process.exit(1); });' "$rpc" "$jobs" "$(json "$tmp/req.json" "['first']")" "$(json "$tmp/req.json" "['last']")" >"$tmp/keeper.json" 2>/dev/null || exit 0
python3 - "$tmp/fired.json" "$tmp/keeper.json" "$n" "$tmp/onB.json" "$tmp/timesA.json" "$tmp/timesMain.json" <<'PY'
import bisect, json, sys
f = json.load(open(sys.argv[1]))["firings"]
keeper = json.load(open(sys.argv[2]))
onB = json.load(open(sys.argv[4]))["txs"]
tA = json.load(open(sys.argv[5]))["times"]
tMain = json.load(open(sys.argv[6]))["times"]
# b's head when c mined the transaction, less the log's block on b
far = [bisect.bisect_right(tA, t["time"]) - 1 - t["block"] for t in onB if t["block"] is not None]
# the log's time on b to the Fired block's on main, in s (1 s blocks)
rec = [tMain[x["block"]] - tA[int(str(x["pos"]).split(":")[1].split(".")[0])]
       for x in f if x["name"] == "far" and x["block"] < len(tMain)]
def stats(xs):
    xs = sorted(xs)
    if not xs: return ("-", "-", "-", 0)
    return (round(sum(xs) / len(xs), 2), xs[len(xs) // 2], xs[min(len(xs) - 1, int(len(xs) * 0.99))], len(xs))
blk = [x["block"] - int(x["pos"]) for x in f if x["name"] == "blocks"]
log = [x["block"] - int(str(x["pos"]).split(".")[0]) for x in f if x["name"] == "paid"]
rows = [("block trigger -> recorded action", stats(blk)), ("evm_log trigger -> recorded action", stats(log)),
        ("evm_log on b -> tx on c (b's blocks)", stats(far)),
        ("evm_log on b -> recorded action (s)", stats(rec)),
        ("peer: keeper Jobs.request -> Fulfilled", stats(keeper))]
print("%-40s %8s %6s %6s %6s" % ("latency in blocks (anvil, 1 s blocks)", "mean", "p50", "p99", "n"))
for name, (m, p50, p99, k) in rows:
    print("%-40s %8s %6s %6s %6s" % (name, m, p50, p99, k))
km = stats(keeper)[0]
for name, s in rows[:4]:
    if s[0] != "-" and km not in ("-", 0):
        print("ratio %-40s %6.2f  (trigger / keeper's request, mean)" % (name, s[0] / km))
PY
