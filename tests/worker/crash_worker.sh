#!/bin/sh
# The issue's crash test, worker side: on a devnet with 3 workers (anvil mining
# a block a second, devnet --restart), N=200 on-chain requests for a contract
# only one worker holds, while that worker is killed with SIGKILL at random
# moments (0.2-2 s apart) and brought back by the devnet. In the end every
# request is fulfilled exactly once (one Fulfilled event each) and the
# operators' pools were owed exactly N fees: nothing lost, nothing paid twice.
# Skipped (77) when this phx has no worker verb. N=... changes the count.
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
src=${PHX_SOURCE_DIR:?PHX_SOURCE_DIR not set}
nm=${PHX_NODE_MODULES:-$src/node_modules}
cast="$nm/.bin/cast"
n=${N:-200}
skip_without_worker
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-wcrash-XXXXXX")
pid=""
killer=""
trap 'touch "$tmp/stop"; [ -n "$killer" ] && wait $killer; [ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"

devnet_start "$tmp/ep.json" "$tmp/devnet.log" --dir "$PHX_HOME" --workers 3 --restart --block-time 1
check "devnet with 3 workers" 3 "$(json "$tmp/ep.json" "['workers'].__len__()" 2>/dev/null)"
rpc=$(json "$tmp/ep.json" "['rpc']")
jobs=$(json "$tmp/ep.json" "['deployment']['contracts']['Jobs']")
token=$(json "$tmp/ep.json" "['deployment']['contracts']['PhxToken']")
key=$(cat "$(json "$tmp/ep.json" "['user']['key_file']")")
printf 'export default async function (input) { return { echo: input }; }\n' >"$tmp/echo.js"
# Straight to one worker (its API takes the same owner-signed deploy): through
# the gateway every worker would get it.
"$phx" deploy "$tmp/echo.js" --gateway "$(json "$tmp/ep.json" "['workers'][0]['url']")" --json >"$tmp/d.json"; check "deploy" 0 $?
id=$(json "$tmp/d.json" "['id']")
holder=$(ls -d "$PHX_HOME"/worker-*/contracts/"${id#0x}".json 2>/dev/null | sed 's|.*/\(worker-[0-9]*\)/.*|\1|')
check "exactly one worker holds the contract" 1 "$(echo "$holder" | grep -c worker-)"
echo "killing $holder"
# Fees are credited to each operator's StakePool pool in Jobs (feesOwed)
# until the pool collects them; nothing here makes a pool collect.
balances() {
    t=0
    jobs_addr=$(json "$tmp/ep.json" "['deployment']['contracts']['Jobs']")
    for i in 0 1 2; do
        op=$(json "$tmp/ep.json" "['workers'][$i]['operator']")
        t=$(python3 -c "print($t + $("$cast" call --rpc-url "$rpc" "$jobs_addr" 'feesOwed(address)(uint256)' "$op" | cut -d' ' -f1))")
    done
    echo "$t"
}
paid_before=$(balances)

(
    while [ ! -f "$tmp/stop" ]; do
        sleep "$(python3 -c 'import random; print(round(random.uniform(0.2, 2.0), 2))')"
        wp=$(ps -eo pid,args | awk -v d="$PHX_HOME/$holder" '$0 ~ "worker --dir " d" " {print $1; exit}')
        [ -n "$wp" ] && kill -KILL "$wp" 2>/dev/null && echo kill >>"$tmp/kills"
    done
) &
killer=$!
t0=$(date +%s)
node "$(dirname "$0")/send_requests.js" "$rpc" "$key" "$jobs" "$token" "$id" "$n" >"$tmp/sent.json"
check "$n requests on chain" 0 $?
first=$(json "$tmp/sent.json" "['first']")
last=$(json "$tmp/sent.json" "['last']")
fee=$(json "$tmp/sent.json" "['fee']")
count_fulfilled() {
    "$cast" logs --rpc-url "$rpc" --from-block 0 --address "$jobs" \
        'Fulfilled(uint256 indexed,address indexed,bytes32,bool,bool,address[],bytes)' --json >"$tmp/ful.json"
    python3 -c "
import json,sys
from collections import Counter
c=Counter(int(l['topics'][1],16) for l in json.load(open(sys.argv[1])))
r=range(int(sys.argv[2]),int(sys.argv[3])+1)
print(sum(1 for i in r if c[i]>=1), sum(1 for i in r if c[i]>1))" "$tmp/ful.json" "$first" "$last"
}
done_n=0
for _ in $(seq 1 300); do
    set -- $(count_fulfilled)
    done_n=$1
    [ "$done_n" = "$n" ] && break
    sleep 2
done
touch "$tmp/stop"
wait $killer
killer=""
echo "$holder killed $(wc -l <"$tmp/kills" 2>/dev/null || echo 0) times; all settled in $(( $(date +%s) - t0 )) s"
[ "$(wc -l <"$tmp/kills" 2>/dev/null || echo 0)" -gt 0 ]; check "the worker was killed at least once" 0 $?
check "every request fulfilled" "$n" "$done_n"
set -- $(count_fulfilled)
check "none fulfilled twice" 0 "$2"
paid_after=$(balances)
check "operators paid exactly $n fees" "$(python3 -c "print($fee * $n)")" "$(python3 -c "print($paid_after - $paid_before)")"
kill -TERM $pid; wait $pid; check "devnet stops cleanly" 0 $?
pid=""
finish
