#!/bin/sh
# k-of-n fulfilment (issue 13; docs/worker.md "k-of-n") on one devnet of 4
# workers, each its own operator, worker 3 run with --test-misbehave corrupt
# (it signs a wrong output for every on-chain request):
#  1. a k=2 request is fulfilled once, by one transaction carrying 2 signatures
#     of distinct operators over the honest output; the corrupt worker is left
#     out, and its signed dissent is on chain (Jobs Dissent: signer, operator,
#     its output hash against the quorum's);
#     a median price oracle over workers that each fetch another price settles
#     on the median of the report's observation set, and an aggregate() reducer
#     on its value over that set;
#  then off chain, phx call --k 2 returns 2 envelopes of distinct operators
#     and phx verify checks each (a doubled one is refused);
#  2. N more k=2 requests (KOFN_N, default 6; the issue asks for 200) while a
#     random worker is SIGKILLed every 0.5-3 s and brought back by the devnet:
#     every request is fulfilled exactly once, each by 2 distinct operators, and
#     the operators' pools were owed exactly the fees paid.
# Skipped (77) when this phx has no worker verb.
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
src=${PHX_SOURCE_DIR:?PHX_SOURCE_DIR not set}
nm=${PHX_NODE_MODULES:-$src/node_modules}
cast="$nm/.bin/cast"
n=${KOFN_N:-6}
skip_without_worker
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-kofn-XXXXXX")
pid=""
killer=""
api=""
trap 'touch "$tmp/stop"; [ -n "$killer" ] && wait $killer; [ -n "$pid" ] && kill $pid 2>/dev/null; [ -n "$api" ] && kill $api 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"

# A price API whose answers differ from fetch to fetch (100, 300, 200, 250 in
# turn), so each worker observes its own price; the workers may reach it.
python3 -c '
import json, itertools
from http.server import BaseHTTPRequestHandler, HTTPServer
prices = itertools.cycle([100, 300, 200, 250])
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        b = json.dumps({"price": next(prices)}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
s = HTTPServer(("127.0.0.1", 0), H); print(s.server_address[1], flush=True); s.serve_forever()
' >"$tmp/api.port" &
api=$!
wait_file "$tmp/api.port" 600
api_port=$(cat "$tmp/api.port")
check_nonempty "the price API is up" "$api_port"

devnet_start "$tmp/ep.json" "$tmp/devnet.log" --dir "$PHX_HOME" --workers 4 --restart \
    --block-time 1 --test-misbehave 3=corrupt --allow-host "127.0.0.1:$api_port"
check "devnet with 4 workers" 4 "$(json "$tmp/ep.json" "['workers'].__len__()" 2>/dev/null)"
rpc=$(json "$tmp/ep.json" "['rpc']")
jobs=$(json "$tmp/ep.json" "['deployment']['contracts']['Jobs']")
token=$(json "$tmp/ep.json" "['deployment']['contracts']['PhxToken']")
key=$(cat "$(json "$tmp/ep.json" "['user']['key_file']")")
bad=$(lower "$(json "$tmp/ep.json" "['workers'][3]['address']")")
bad_op=$(lower "$(json "$tmp/ep.json" "['workers'][3]['operator']")")
ops=$(jsonx "$tmp/ep.json" "' '.join(w['operator'].lower() for w in d['workers'])")
printf 'export default async function (input) { return { echo: input }; }\n' >"$tmp/echo.js"
"$phx" deploy "$tmp/echo.js" --json >"$tmp/d.json"
check "deploy through the gateway" 0 $?
id=$(json "$tmp/d.json" "['id']")

fees_owed() {
    t=0
    for op in $ops; do
        t=$(python3 -c "print($t + $("$cast" call --rpc-url "$rpc" "$jobs" 'feesOwed(address)(uint256)' "$op" | cut -d' ' -f1))")
    done
    echo "$t"
}
# fulfilled FIRST LAST: "settled twice bad_signer distinct_pairs" over Fulfilled
# events of those ids: how many have one, how many more than one, how many name
# the corrupt worker's operator, how many name 2 distinct operators.
fulfilled() { jobs_fulfilled "$1" "$2" "$bad_op"; }
# settled FIRST LAST TRIES PAUSE: fulfilled's line for those ids once every one
# has a fulfilment, asking up to TRIES times PAUSE s apart (else the last answer).
settled() {
    _res=""
    for _ in $(seq 1 "$3"); do
        _res=$(fulfilled "$1" "$2")
        [ "${_res%% *}" = "$(($2 - $1 + 1))" ] && break
        sleep "$4"
    done
    echo "$_res"
}
# one_request WHAT CONTRACT: one k=2 request for CONTRACT on chain, checked as
# WHAT; its id in $rid, its fee in $fee.
one_request() {
    node "$(dirname "$0")/send_requests.js" "$rpc" "$key" "$jobs" "$token" "$2" 1 2 >"$tmp/one.json"
    check "$1" 0 $?
    rid=$(json "$tmp/one.json" "['first']")
    fee=$(json "$tmp/one.json" "['fee']")
}
# against_report RID median|mean: request RID's settled output against the
# observations in its report (from the first worker that has it):
# "median-of-N[-distinct]" or "mean-of-N" when it is theirs, else what it got.
against_report() {
    for i in 0 1 2 3; do
        u=$(json "$tmp/ep.json" "['workers'][$i]['url']")
        curl -sf "$u/v1/jobs/$1/report" >"$tmp/report.json" && break
    done
    python3 -c "
import json, sys
rep, rid, mode = json.load(open(sys.argv[1])), int(sys.argv[3]), sys.argv[4]
prices = []
for o in rep['observations']:
    try: prices.append(json.loads(bytes.fromhex(o['output'][2:]))['price'])
    except Exception: pass
prices.sort()
ful = [f for f in json.load(open(sys.argv[2])) if int(f['topics'][1], 16) == rid]
d = bytes.fromhex(ful[0]['data'][2:])
off = int.from_bytes(d[128:160], 'big'); n = int.from_bytes(d[off:off + 32], 'big')
got = json.loads(d[off + 32:off + 32 + n])
if mode == 'median' and got['price'] == prices[(len(prices) - 1) // 2]:
    print('median-of-%d%s' % (len(prices), '-distinct' if len(set(prices)) == len(prices) else ''))
elif mode == 'mean' and got == {'mean': sum(prices) / len(prices), 'n': len(prices)}:
    print('mean-of-%d' % len(prices))
else:
    print('got %s of %s' % (got, prices))
" "$tmp/report.json" "$tmp/ful.json" "$1" "$2"
}
paid_before=$(fees_owed)

# 1. one k=2 request: outvoted corrupt worker, evidence on chain.
one_request "a k=2 request on chain" "$id"
r1=$rid
check "k=2 request fulfilled, once, by 2 distinct operators, none the corrupt one" "1 0 0 1" \
    "$(settled "$r1" "$r1" 60 1)"
"$cast" logs --rpc-url "$rpc" --from-block 0 --address "$jobs" \
    'Dissent(uint256 indexed,address indexed,address indexed,bool,bytes32,bytes32,bytes)' --json >"$tmp/dis.json"
check "the corrupt worker's dissent is on chain, against the fulfilled output" \
    "$bad $bad_op differs-and-matches" "$(python3 -c "
import json, sys
for l in json.load(open(sys.argv[1])):
    if int(l['topics'][1], 16) != int(sys.argv[2]): continue
    d = l['data'][2:]
    mine, quorum = d[64:128], d[128:192]
    ful = [f for f in json.load(open(sys.argv[3])) if int(f['topics'][1], 16) == int(sys.argv[2])]
    got = ful[0]['data'][2:66] if ful else ''
    print('0x' + l['topics'][2][26:], '0x' + l['topics'][3][26:],
          'differs-and-matches' if mine != quorum and quorum == got else 'wrong')
    break
" "$tmp/dis.json" "$r1" "$tmp/ful.json")"
# Recorded once: after the fulfilment every worker looks again for dissent the
# submitter did not report, and reports only what Jobs has not logged.
sleep 3
"$cast" logs --rpc-url "$rpc" --from-block 0 --address "$jobs" \
    'Dissent(uint256 indexed,address indexed,address indexed,bool,bytes32,bytes32,bytes)' --json >"$tmp/dis.json"
check "  and recorded once" 1 "$(python3 -c "
import json, sys
print(sum(1 for l in json.load(open(sys.argv[1])) if int(l['topics'][1], 16) == int(sys.argv[2])))
" "$tmp/dis.json" "$r1")"

# A median price oracle (combine = {median: "price"}), k=2: every worker
# observes its own price, one report over the observations is signed by 2
# operators, and it is the observation at the median of the set it names
# (the corrupt worker's output is not JSON: it has no price and is left out).
cat >"$tmp/median.js" <<EOF
export const combine = { median: "price" };
export default async function () {
    const r = await fetch("http://127.0.0.1:$api_port/price");
    return { price: (await r.json()).price };
}
EOF
"$phx" deploy "$tmp/median.js" --json >"$tmp/dm.json"
check "deploy the median oracle" 0 $?
mid=$(json "$tmp/dm.json" "['id']")
one_request "a k=2 median request on chain" "$mid"
rmed=$rid
res=$(settled "$rmed" "$rmed" 60 1)
# (the corrupt worker may sign the report: only its own run is corrupt)
check "median request fulfilled once by 2 distinct operators" "1 0 1" "$(echo "$res" | cut -d' ' -f1,2,4)"
check "the settled output is the median of the report's observations, of 3 distinct prices" \
    "median-of-3-distinct" "$(against_report "$rmed" median)"

# An aggregate reducer: the contract's own aggregate(observations), run by each
# signer over the same set, here the mean of the prices observed.
cat >"$tmp/mean.js" <<EOF
export const combine = "aggregate";
export default async function () {
    const r = await fetch("http://127.0.0.1:$api_port/price");
    return { price: (await r.json()).price };
}
export function aggregate(observations) {
    const p = observations.filter((o) => o && typeof o.price === "number").map((o) => o.price);
    return { mean: p.reduce((a, b) => a + b, 0) / p.length, n: p.length };
}
EOF
"$phx" deploy "$tmp/mean.js" --json >"$tmp/da.json"
check "deploy the aggregate oracle" 0 $?
aid=$(json "$tmp/da.json" "['id']")
one_request "a k=2 aggregate request on chain" "$aid"
res=$(settled "$rid" "$rid" 60 1)
check "aggregate request fulfilled once by 2 distinct operators" "1 0 1" "$(echo "$res" | cut -d' ' -f1,2,4)"
check "the settled output is aggregate() of the report's observations" "mean-of-3" \
    "$(against_report "$rid" mean)"

# Off chain: phx call --k 2 gives 2 envelopes of distinct operators over the
# same output, and phx verify checks and shows each; one operator twice is
# refused, and more signatures than operators cannot be had.
sim=$(json "$tmp/ep.json" "['sim_dir']")
"$phx" call "$id" --input '{"x":2}' --k 2 --json >"$tmp/k2.json"
check "phx call --k 2" 0 $?
check "2 envelopes, 2 operators, one output" "2 2 1" "$(jsonx "$tmp/k2.json" \
    "' '.join(str(x) for x in (len(d['results']), len(set(r['worker'] for r in d['results'])), len(set(r['output_bytes'] for r in d['results']))))")"
"$phx" verify "$tmp/k2.json" --trust-sim-root "$sim" >"$tmp/v2.out" 2>&1
check "phx verify of the k=2 result" 0 $?
check "each envelope shown valid, then the bundle" "2 1" \
    "$(grep -c '^VALID$' "$tmp/v2.out") $(grep -c '^VALID (k=2)$' "$tmp/v2.out")"
python3 -c "
import json, sys
d = json.load(open(sys.argv[1])); d['results'][1] = d['results'][0]
json.dump(d, open(sys.argv[2], 'w'))" "$tmp/k2.json" "$tmp/k2dup.json"
"$phx" verify "$tmp/k2dup.json" --trust-sim-root "$sim" >"$tmp/vdup.out" 2>&1
check "one worker twice is not k=2" "1 1" "$? $(grep -c 'one operator' "$tmp/vdup.out")"
"$phx" call "$id" --input '{"x":2}' --k 5 >/dev/null 2>"$tmp/k5.err"
check "k=5 with 4 operators fails, saying why" "1 1" "$? $(grep -c 'only 4 of the 5' "$tmp/k5.err")"

if [ "$n" -gt 0 ]; then
# 2. N k=2 requests while workers are killed at random.
kill_workers "$PHX_HOME" 4 "$tmp/stop" "$tmp/kills" &
killer=$!
t0=$(date +%s)
node "$(dirname "$0")/send_requests.js" "$rpc" "$key" "$jobs" "$token" "$id" "$n" 2 >"$tmp/sent.json"
check "$n k=2 requests on chain" 0 $?
first=$(json "$tmp/sent.json" "['first']")
last=$(json "$tmp/sent.json" "['last']")
res=$(settled "$first" "$last" 300 2)
touch "$tmp/stop"
wait $killer
killer=""
echo "workers killed $(wc -l <"$tmp/kills" 2>/dev/null || echo 0) times; $n settled in $(($(date +%s) - t0)) s"
[ "$(wc -l <"$tmp/kills" 2>/dev/null || echo 0)" -gt 0 ]
check "a worker was killed at least once" 0 $?
check "every k=2 request fulfilled once, by 2 distinct honest operators" "$n 0 0 $n" "$res"
fi
paid_after=$(fees_owed)
check "operators owed exactly the $((n + 3)) fees" "$(python3 -c "print($fee * ($n + 3))")" \
    "$(python3 -c "print($paid_after - $paid_before)")"
kill -TERM $pid
wait $pid
check "devnet stops cleanly" 0 $?
pid=""
finish
