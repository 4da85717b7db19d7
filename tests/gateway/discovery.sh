#!/bin/sh
# The gateway finds its workers on chain (docs/gateway.md "Discovery"), on a
# real devnet that passes it no --worker: a worker started by hand against the
# running network (a new operator key, funded, its pool staked by the worker,
# registered through the KMS) gets calls without a gateway restart; a worker
# whose announced URL lies (it points at a server holding another key) is
# never used and cannot evict the worker that is really there; a deregistered
# and an invalidated worker stop getting calls within a bounded time (a few
# health rounds of 1 s), and so does one whose operator's stake falls short;
# the liar back at its own URL is used again; a second
# gateway on a copy of the state resumes from the cursor without reading the
# events again. `phx workers` shows the discovered set throughout.
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
src=${PHX_SOURCE_DIR:?PHX_SOURCE_DIR not set}
cast=${PHX_NODE_MODULES:-$src/node_modules}/.bin/cast
skip_without_worker
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-discovery-XXXXXX")
pid=""
hand=""
gw2pid=""
trap '[ -n "$gw2pid" ] && kill $gw2pid 2>/dev/null; [ -n "$hand" ] && kill $hand 2>/dev/null && wait $hand; [ -n "$pid" ] && kill $pid 2>/dev/null && wait $pid; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"

# --no-handover: anvil's first key stays the Registry's governor, which may
# invalidate a worker (as StakePool does when it slashes an operator).
devnet_start "$tmp/ep.json" "$tmp/devnet.log" --dir "$PHX_HOME" --workers 2 --no-handover
check "devnet with 2 workers" 2 "$(json "$tmp/ep.json" "['workers'].__len__()" 2>/dev/null)" ||
    { tail -5 "$tmp/devnet.log"; finish; }
gwpid=$(json "$tmp/ep.json" "['pids']['gateway']")
check "the devnet passed the gateway no --worker" "gateway 0" \
    "$(tr '\0' '\n' <"/proc/$gwpid/cmdline" | grep -c -e '^gateway$' -e '^--worker$' | sed 's/^1$/gateway 0/')"
rpc=$(json "$tmp/ep.json" "['rpc']")
reg=$(json "$tmp/ep.json" "['deployment']['contracts']['Registry']")
token=$(json "$tmp/ep.json" "['deployment']['contracts']['PhxToken']")
w0=$(json "$tmp/ep.json" "['workers'][0]['address']")
w0url=$(json "$tmp/ep.json" "['workers'][0]['url']")
w1=$(json "$tmp/ep.json" "['workers'][1]['address']")
gov=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 # anvil dev key 0

is_in() { [ "$(in_pool "$1" | head -n 1)" = True ]; }
is_out() { [ "$(in_pool "$1" | grep -c True)" = 0 ]; }
wait_until 300 is_in "$w0" && wait_until 300 is_in "$w1"
check "both devnet workers discovered from chain, proven and in the pool" "True True" \
    "$(in_pool "$w0") $(in_pool "$w1")"
"$phx" workers --json >"$tmp/ws0.json"
check "phx workers: each found on chain, its identity proven" "chain proven chain proven" \
    "$(jsonx "$tmp/ws0.json" "' '.join(w['source'] + ' ' + w['identity'] for w in d['workers'])")"

cat >"$tmp/echo.js" <<'JS'
export default async (input) => ({ n: input.n });
JS
"$phx" deploy "$tmp/echo.js" --json >"$tmp/d.json"
check "deploy" 0 $?
id=$(json "$tmp/d.json" "['id']")
# calls N TAG: N calls; prints the lowercased worker address of each, one a line.
calls() {
    _i=0
    while [ $_i -lt "$1" ]; do
        "$phx" call "$id" --input "{\"n\":$_i}" --json >"$tmp/c.json" 2>>"$tmp/calls.err" &&
            lower "$(json "$tmp/c.json" "['worker']")"
        _i=$((_i + 1))
    done
}

# ---- a worker started by hand joins the running network ----------------------
hand_worker "$tmp/ep.json" hand
op=$hand_op
check "the new operator, given 2000 PHA, holds 1000 after its worker staked 1000" \
    1000000000000000000000 \
    "$("$cast" call --rpc-url "$rpc" "$token" 'balanceOf(address)(uint256)' "$op" | cut -d' ' -f1)"
w2=$(json "$tmp/hand.json" "['address']")
check_nonempty "the hand-started worker is up and registered" "$w2" || { tail -5 "$tmp/hand.log"; finish; }
check "it announced its URL on chain" "$(json "$tmp/hand.json" "['url']")" \
    "$("$cast" call --rpc-url "$rpc" "$reg" 'endpointOf(address)(string)' "$w2" | tr -d '"')"
wait_until 300 is_in "$w2"
check "the running gateway admitted it (no restart)" True "$(in_pool "$w2")"
calls 6 >"$tmp/served1.txt"
check "6 calls answered" 6 "$(wc -l <"$tmp/served1.txt")"
check "the new worker served some of them" 1 "$(grep -c "$(lower "$w2")" "$tmp/served1.txt" | sed 's/^[1-9][0-9]*$/1/')"

# ---- a URL that lies: w2 now claims worker 0's server -------------------------
"$cast" send -q --rpc-url "$rpc" --private-key "$(cat "$tmp/hand.key")" "$reg" \
    'setWorkerEndpoint(address,string)' "$w2" "$w0url"
check "the chain records the lie" "$w0url" \
    "$("$cast" call --rpc-url "$rpc" "$reg" 'endpointOf(address)(string)' "$w2" | tr -d '"')"
wait_until 300 is_out "$w2"
check "the liar is out of the pool" 0 "$(in_pool "$w2" | grep -c True)"
"$phx" workers --json >"$tmp/ws1.json"
check "phx workers says why: the server there holds another key" 1 "$(jsonx "$tmp/ws1.json" \
    "sum(1 for w in d['workers'] if w['address'].lower() == '$(lower "$w2")' and 'another key' in w.get('why', ''))")"
check "phx workers marks it" 1 "$("$phx" workers | grep -c 'KEY NOT PROVEN: the server there holds another key')"
check "and so does the console's Network page" 1 \
    "$(curl -s "$(json "$tmp/ep.json" "['gateway']")/" | sed 's/<[^>]*>//g' |
        grep -q 'on chain, key not proven: the server there holds another key' && echo 1)"
check "worker 0, whose URL it named, stays in" True "$(in_pool "$w0")"
before=$(curl -s "$(json "$tmp/hand.json" "['url']")/metrics" | sed -n 's/^phx_worker_calls_total //p')
calls 4 >"$tmp/served2.txt"
check "4 calls answered" 4 "$(wc -l <"$tmp/served2.txt")"
check "none went to the liar" 0 "$(grep -c "$(lower "$w2")" "$tmp/served2.txt")"
check "its real server saw none" "$before" \
    "$(curl -s "$(json "$tmp/hand.json" "['url']")/metrics" | sed -n 's/^phx_worker_calls_total //p')"

# ---- deregistered, then invalidated: out within a bounded time ---------------
t0=$(date +%s)
"$cast" send -q --rpc-url "$rpc" --private-key "$(cat "$PHX_HOME/worker-1/operator.key")" "$reg" \
    'deregisterWorker(address)' "$w1"
wait_until 150 is_out "$w1"
t1=$(date +%s)
check "the deregistered worker leaves the pool within 15 s" 1 "$([ $((t1 - t0)) -lt 15 ] && is_out "$w1" && echo 1)"
echo "     (out after $((t1 - t0)) s)"
calls 3 >"$tmp/served3.txt"
check "3 calls answered, all by worker 0" "3 3" \
    "$(wc -l <"$tmp/served3.txt" | tr -d ' ') $(grep -c "$(lower "$w0")" "$tmp/served3.txt")"
t0=$(date +%s)
"$cast" send -q --rpc-url "$rpc" --private-key "$gov" "$reg" 'invalidateWorker(address,string)' "$w0" \
    "test: slashed"
wait_until 150 is_out "$w0"
t1=$(date +%s)
check "the invalidated worker leaves the pool within 15 s" 1 "$([ $((t1 - t0)) -lt 15 ] && is_out "$w0" && echo 1)"
echo "     (out after $((t1 - t0)) s)"
"$phx" call "$id" --input '{"n":1}' >/dev/null 2>"$tmp/none.err"
check "with no eligible worker left, a call fails" 1 $?

check "its saved list has the three workers and their fate" "1 2 3" \
    "$(jsonx "$PHX_HOME/gateway/registry.json" "' '.join(sorted(str(w['status']) for w in d['workers']))")"

# ---- the liar tells the truth again: back once proven at its own URL ---------
"$cast" send -q --rpc-url "$rpc" --private-key "$(cat "$tmp/hand.key")" "$reg" \
    'setWorkerEndpoint(address,string)' "$w2" "$(json "$tmp/hand.json" "['url']")"
wait_until 300 is_in "$w2"
check "w2 at its own URL again: proven and back in the pool" True "$(in_pool "$w2")"
check "a call is served by it" "$(lower "$w2")" "$(calls 1)"

# ---- a restarted gateway resumes from its cursor ------------------------------
# A second gateway on a copy of the first one's state: it knows every worker at
# its first round without reading the Registry's events again (its list file is
# not rewritten) and routes at once.
mkdir "$tmp/gw2"
cp "$PHX_HOME/gateway/registry.cursor" "$PHX_HOME/gateway/registry.json" "$tmp/gw2/"
cp -r "$PHX_HOME/gateway/blobs" "$PHX_HOME/gateway/contracts" "$tmp/gw2/"
stamp=$(stat -c %y "$tmp/gw2/registry.json")
"$phx" gateway --dir "$tmp/gw2" --listen 127.0.0.1:0 --rpc "$rpc" \
    --deployment "$PHX_HOME/deployment.json" --json >"$tmp/gw2.json" 2>"$tmp/gw2.log" &
gw2pid=$!
wait_file "$tmp/gw2.json" 600
check "the second gateway is ready with the one active worker, routable" "1 1" \
    "$(json "$tmp/gw2.json" "['workers']") $(json "$tmp/gw2.json" "['healthy_workers']")"
check "it read no event again (its list was not rewritten)" "$stamp" "$(stat -c %y "$tmp/gw2/registry.json")"
check "a call through it reaches w2" "$(lower "$w2")" \
    "$(lower "$("$phx" call "$id" --gateway "$(json "$tmp/gw2.json" "['url']")" --input '{"n":9}' --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["worker"])')")"
kill $gw2pid
wait $gw2pid
gw2pid=""

# ---- a stake change with no Registry event of its own: activeOperatorOf -----
"$phx" stake pool info "$op" --json >"$tmp/pool.json"
"$phx" stake undelegate "$(json "$tmp/pool.json" "['pid']")" --all --key-file "$tmp/hand.key" \
    --json >/dev/null
check "w2's operator undelegated: the Registry says it is not eligible" \
    0x0000000000000000000000000000000000000000 \
    "$("$cast" call --rpc-url "$rpc" "$reg" 'activeOperatorOf(address)(address)' "$w2")"
wait_until 150 is_out "$w2"
check "and the gateway takes it out" 0 "$(in_pool "$w2" | grep -c True)"
finish
