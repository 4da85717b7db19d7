#!/bin/sh
# The issue's crash test on a devnet: 200 on-chain requests while one worker is
# killed with SIGKILL at random moments (the devnet, started with --restart,
# brings it back as itself); in the end every request is fulfilled, each exactly
# once (one Fulfilled event per request id), and the operators were paid for
# exactly 200 fulfilments. Needs `phx worker`: until the binary has that verb
# this test reports SKIP (exit 77), not a pass. N=... changes the count.
set -u
phx=${PHX_BIN:?PHX_BIN not set}
nm=${PHX_NODE_MODULES:?PHX_NODE_MODULES not set}
cast="$nm/.bin/cast"
n=${N:-200}
if ! "$phx" worker --help >/dev/null 2>&1; then
    echo "SKIP: this phx has no \`worker\` verb yet"
    exit 77
fi
fail=0
check() { if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: got '$3', want '$2'"; fail=1; fi; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-crash-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$1" "$2"; }

"$phx" devnet --dir "$PHX_HOME" --workers 3 --restart --block-time 1 --json >"$tmp/ep.json" 2>"$tmp/devnet.log" &
pid=$!
for _ in $(seq 1 1200); do [ -s "$tmp/ep.json" ] && break; kill -0 $pid || break; sleep 0.1; done
check "devnet with 3 workers" 3 "$(json "$tmp/ep.json" "['workers'].__len__()" 2>/dev/null)"
rpc=$(json "$tmp/ep.json" "['rpc']")
jobs=$(json "$tmp/ep.json" "['deployment']['contracts']['Jobs']")
token=$(json "$tmp/ep.json" "['deployment']['contracts']['PhxToken']")
key=$(cat "$(json "$tmp/ep.json" "['user']['key_file']")")
printf 'export default async function (input) { return { echo: input }; }\n' >"$tmp/echo.js"
"$phx" deploy "$tmp/echo.js" --json >"$tmp/d.json"; check "deploy" 0 $?
id=$(json "$tmp/d.json" "['id']")
fee=$("$cast" call --rpc-url "$rpc" "$jobs" 'feePerWorker()(uint256)' | cut -d' ' -f1)
"$cast" send --rpc-url "$rpc" --private-key "$key" "$token" 'approve(address,uint256)' "$jobs" \
    "$(python3 -c "print($fee * $n)")" >/dev/null
paid_before=0
for i in 0 1 2; do
    op=$(json "$tmp/ep.json" "['workers'][$i]['operator']")
    paid_before=$(python3 -c "print($paid_before + $("$cast" call --rpc-url "$rpc" "$token" 'balanceOf(address)(uint256)' "$op" | cut -d' ' -f1))")
done
first=$(( $("$cast" call --rpc-url "$rpc" "$jobs" 'requestCount()(uint256)' | cut -d' ' -f1) + 1 ))

# The killer: SIGKILL worker-0 at random moments while the requests go in.
(
    while [ ! -f "$tmp/stop" ]; do
        sleep "$(python3 -c 'import random; print(round(random.uniform(0.3, 3.0), 2))')"
        wp=$(ps -eo pid,args | awk -v d="$PHX_HOME/worker-0" '$0 ~ "worker --dir " d" " {print $1; exit}')
        [ -n "$wp" ] && kill -KILL "$wp" 2>/dev/null && echo kill >>"$tmp/kills"
    done
) &
killer=$!
for i in $(seq 1 "$n"); do
    "$cast" send --async --rpc-url "$rpc" --private-key "$key" "$jobs" \
        'request(bytes32,bytes,uint256,uint32,uint8)' "$id" "$("$cast" from-utf8 "{\"i\":$i}")" "$fee" 100000 1 >/dev/null
done
last=$(( first + n - 1 ))
pending=$n
for _ in $(seq 1 600); do
    pending=0
    for r in $(seq $first $last); do
        st=$("$cast" call --rpc-url "$rpc" "$jobs" 'requests(uint256)(address,uint8,uint8,uint32,uint64,bytes32,bytes32,uint256)' $r | sed -n 2p)
        [ "$st" = 1 ] && pending=$((pending + 1))
    done
    [ $pending = 0 ] && break
    sleep 2
done
touch "$tmp/stop"
wait $killer
echo "worker-0 killed $(wc -l <"$tmp/kills" 2>/dev/null || echo 0) times"
check "every request fulfilled" 0 $pending
dups=$("$cast" logs --rpc-url "$rpc" --from-block 0 --address "$jobs" \
    'Fulfilled(uint256 indexed,address indexed,bytes32,bool,address[],bytes)' --json |
    python3 -c "import json,sys; from collections import Counter; c=Counter(int(l['topics'][1],16) for l in json.load(sys.stdin)); print(sum(1 for r in range($first,$last+1) if c[r]!=1))")
check "each exactly once (one Fulfilled event per request)" 0 "$dups"
paid_after=0
for i in 0 1 2; do
    op=$(json "$tmp/ep.json" "['workers'][$i]['operator']")
    paid_after=$(python3 -c "print($paid_after + $("$cast" call --rpc-url "$rpc" "$token" 'balanceOf(address)(uint256)' "$op" | cut -d' ' -f1))")
done
check "operators paid for exactly $n fulfilments" "$(python3 -c "print($fee * $n)")" "$(python3 -c "print($paid_after - $paid_before)")"
kill -TERM $pid; wait $pid; check "devnet stops cleanly" 0 $?
pid=""
exit $fail
