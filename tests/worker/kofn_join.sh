#!/bin/sh
# Workers find their k-of-n peers on chain (issue 13; docs/worker.md "k-of-n"),
# on a devnet of 2 workers (a block a second) that passes no --peer: a
# worker started by hand under a new operator joins the running network, and
# without a restart of anything
#  - the devnet's workers take it as a peer and it takes them (their /metrics
#    count the peers found in the Registry), and the gateway routes calls to it;
#  - it takes part in k=2 on-chain rounds: once worker 0 is deregistered only
#    it and worker 1 are active, and every k=2 request is then fulfilled once
#    with its operator among the 2 signing operators;
#  - the deregistered worker is no longer asked: the observation endpoint of
#    worker 0, polled in a k=2 round while it was active, sees no request
#    after its deregistration (the server's own per-route counter);
#  - the new worker killed (not deregistered) stays worker 1's peer, but once a
#    k=2 round finds it down worker 1 backs it off (phx_worker_peers_down).
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
src=${PHX_SOURCE_DIR:?PHX_SOURCE_DIR not set}
nm=${PHX_NODE_MODULES:-$src/node_modules}
cast="$nm/.bin/cast"
skip_without_worker
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-kofn-join-XXXXXX")
pid=""
hand=""
trap '[ -n "$hand" ] && kill $hand 2>/dev/null && wait $hand; [ -n "$pid" ] && kill $pid 2>/dev/null && wait $pid; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"

devnet_start "$tmp/ep.json" "$tmp/devnet.log" --dir "$PHX_HOME" --workers 2 --no-handover \
    --block-time 1
check "devnet with 2 workers" 2 "$(json "$tmp/ep.json" "['workers'].__len__()" 2>/dev/null)" ||
    { tail -5 "$tmp/devnet.log"; finish; }
w0pid=$(json "$tmp/ep.json" "['pids']['worker-0']")
check "the devnet passed its workers no --peer" 0 "$(tr '\0' '\n' <"/proc/$w0pid/cmdline" | grep -c '^--peer$')"
rpc=$(json "$tmp/ep.json" "['rpc']")
jobs=$(json "$tmp/ep.json" "['deployment']['contracts']['Jobs']")
token=$(json "$tmp/ep.json" "['deployment']['contracts']['PhxToken']")
reg=$(json "$tmp/ep.json" "['deployment']['contracts']['Registry']")
key=$(cat "$(json "$tmp/ep.json" "['user']['key_file']")")
w0=$(json "$tmp/ep.json" "['workers'][0]['address']")
w0url=$(json "$tmp/ep.json" "['workers'][0]['url']")
w1url=$(json "$tmp/ep.json" "['workers'][1]['url']")

# metric URL NAME: a sample of the worker's /metrics ("" when absent).
metric() { curl -s "$1/metrics" | grep -F "$2 " | sed 's/.* //'; }
chain_peers() { metric "$1" 'phx_worker_peers{source="chain"}'; }
peers_are() { [ "$(chain_peers "$1")" = "$2" ]; }
observed() { metric "$w0url" 'phx_http_request_duration_seconds_count{route="GET /v1/jobs/:id/observation"}'; }
live_jobs() {
    curl -s "$1/metrics" | python3 -c '
import sys
print(sum(int(float(l.split()[-1])) for l in sys.stdin
          if l.startswith("phx_worker_jobs{") and "done" not in l and "failed" not in l))'
}
no_live_jobs() { [ "$(live_jobs "$w1url")" = 0 ] && [ "$(live_jobs "$w2url")" = 0 ]; }
wait_until 300 peers_are "$w0url" 1
check "each devnet worker found the other on chain" "1 1" "$(chain_peers "$w0url") $(chain_peers "$w1url")"

# ---- a worker started by hand joins ------------------------------------------
hand_worker "$tmp/ep.json" hand
w2=$(json "$tmp/hand.json" "['address']")
w2url=$(json "$tmp/hand.json" "['url']")
check_nonempty "the hand-started worker is up and registered" "$w2" || { tail -5 "$tmp/hand.log"; finish; }
op2=$(lower "$hand_op")
wait_until 300 peers_are "$w0url" 2 && wait_until 300 peers_are "$w1url" 2 &&
    wait_until 300 peers_are "$w2url" 2
check "the running workers took it as a peer, and it took them (no restart)" "2 2 2" \
    "$(chain_peers "$w0url") $(chain_peers "$w1url") $(chain_peers "$w2url")"
is_in() { [ "$(in_pool "$1" | head -n 1)" = True ]; }
wait_until 300 is_in "$w2"
check "the running gateway routes to it (no restart)" True "$(in_pool "$w2")"
printf 'export default async function (input) { return { echo: input }; }\n' >"$tmp/echo.js"
"$phx" deploy "$tmp/echo.js" --json >"$tmp/d.json"
check "deploy through the gateway" 0 $?
id=$(json "$tmp/d.json" "['id']")
_i=0
while [ $_i -lt 6 ]; do
    "$phx" call "$id" --input "{\"n\":$_i}" --json >"$tmp/c.json" 2>>"$tmp/calls.err" &&
        lower "$(json "$tmp/c.json" "['worker']")"
    _i=$((_i + 1))
done >"$tmp/served.txt"
check "6 calls answered, some by the new worker" "6 1" \
    "$(wc -l <"$tmp/served.txt" | tr -d ' ') $(grep -c "$(lower "$w2")" "$tmp/served.txt" | sed 's/^[1-9][0-9]*$/1/')"

# fulfilled FIRST LAST: "settled twice with_op2 pairs" over Jobs Fulfilled of
# those ids: how many have one, how many more than one, how many name the new
# worker's operator among the signing operators, how many name 2 distinct ones.
fulfilled() { jobs_fulfilled "$1" "$2" "$op2"; }
# settle FIRST LAST N: wait (up to 90 s) until N of those ids are fulfilled.
settle() {
    for _ in $(seq 1 90); do
        res=$(fulfilled "$1" "$2")
        [ "${res%% *}" = "$3" ] && return 0
        sleep 1
    done
    return 1
}

# ---- k=2 with all three active: worker 0 is asked ------------------------------
before=$(observed)
node "$(dirname "$0")/send_requests.js" "$rpc" "$key" "$jobs" "$token" "$id" 1 2 >"$tmp/r1.json"
check "a k=2 request on chain" 0 $?
r1=$(json "$tmp/r1.json" "['first']")
settle "$r1" "$r1" 1
check "fulfilled once, by 2 distinct operators" "1 0 1" "$(echo "$res" | cut -d' ' -f1,2,4)"
check "worker 0's observation was asked for while it was active" 1 \
    "$([ "$(observed)" -gt "${before:-0}" ] && echo 1)"

# ---- worker 0 deregistered: only worker 1 and the new one are left -----------
"$cast" send -q --rpc-url "$rpc" --private-key "$(cat "$PHX_HOME/worker-0/operator.key")" "$reg" \
    'deregisterWorker(address)' "$w0"
wait_until 300 peers_are "$w1url" 1 && wait_until 300 peers_are "$w2url" 1
check "worker 0 left both peer lists" "1 1" "$(chain_peers "$w1url") $(chain_peers "$w2url")"
wait_until 300 no_live_jobs
check "no round is under way" "0 0" "$(live_jobs "$w1url") $(live_jobs "$w2url")"
asked=$(observed)
node "$(dirname "$0")/send_requests.js" "$rpc" "$key" "$jobs" "$token" "$id" 3 2 >"$tmp/r3.json"
check "3 more k=2 requests on chain" 0 $?
first=$(json "$tmp/r3.json" "['first']")
last=$(json "$tmp/r3.json" "['last']")
settle "$first" "$last" 3
check "each fulfilled once by 2 distinct operators, the new worker's one of them" "3 0 3 3" "$res"
check "worker 0 was not asked once more" "$asked" "$(observed)"

# ---- the new worker killed, not deregistered: backed off, still listed --------
kill -KILL $hand
wait $hand 2>/dev/null
hand=""
node "$(dirname "$0")/send_requests.js" "$rpc" "$key" "$jobs" "$token" "$id" 1 2 >"$tmp/r4.json"
check "a k=2 request with the new worker dead" 0 $?
down_is() { [ "$(curl -s "$w1url/metrics" | sed -n 's/^phx_worker_peers_down //p')" = "$1" ]; }
wait_until 300 down_is 1
check "worker 1 backed the dead worker off (phx_worker_peers_down 1)" 0 $?
check "and still lists it: the Registry says it is active" 1 "$(chain_peers "$w1url")"
finish
