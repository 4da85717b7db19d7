#!/bin/sh
# The PHA economy on a real devnet (anvil, KMS, one worker, gateway), driven by
# the CLIs a user has: a worker is eligible only while its operator's pool holds
# the minimum stake (the operator undelegates: idle; a delegator funds the pool:
# eligible again); a job's fee goes to the pool and its delegator claims its
# share; the operator withdraws after the (devnet: 10 s) unbonding; ethers reads
# PHA's votes and delegation; and a governance vote adds a measurement through
# the timelock (propose, vote, queue, execute). Equivocation slashing is in
# tests/chain/test_chain.c (it needs a worker key the test holds).
set -u
phx=${PHX_BIN:?PHX_BIN not set}
. "$(dirname "$0")/../lib.sh"
root=${PHX_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cast=${PHX_NODE_MODULES:-$root/node_modules}/.bin/cast
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-stakegov-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null && wait $pid; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"

"$phx" devnet --dir "$tmp/net" --workers 1 --json >"$tmp/ep.json" 2>"$tmp/devnet.log" &
pid=$!
for _ in $(seq 1 900); do
    [ -s "$tmp/ep.json" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
check "devnet starts" 0 "$([ -s "$tmp/ep.json" ] && echo 0 || echo 1)" || { tail -5 "$tmp/devnet.log"; finish; }
rpc=$(json "$tmp/ep.json" "['rpc']")
reg=$(json "$tmp/ep.json" "['deployment']['contracts']['Registry']")
jobs=$(json "$tmp/ep.json" "['deployment']['contracts']['Jobs']")
token=$(json "$tmp/ep.json" "['deployment']['contracts']['PhxToken']")
timelock=$(json "$tmp/ep.json" "['deployment']['contracts']['PhxTimelock']")
op=$(json "$tmp/ep.json" "['workers'][0]['operator']")
opkey="$tmp/net/worker-0/operator.key"
user=$(json "$tmp/ep.json" "['user']['address']")
ukey=$(cat "$(json "$tmp/ep.json" "['user']['key_file']")")
lower() { printf '%s' "$1" | tr 'A-F' 'a-f'; }
call() { "$cast" call --rpc-url "$rpc" "$@" | cut -d' ' -f1; }
worker=$(call "$reg" 'workerList(uint256)(address)' 0)
check_nonempty "the worker is registered" "$worker"

# ---- (a) eligible only while the pool holds the minimum -------------------------
"$phx" stake pool info "$op" --json >"$tmp/pool0.json"
check "pool info: exit 0" 0 $?
pid1=$(json "$tmp/pool0.json" "['pid']")
check "the devnet opened the operator's pool with its minimum" "1000 True" \
    "$(json "$tmp/pool0.json" "['registry_stake']") $(json "$tmp/pool0.json" "['workers_eligible']")"
check "the worker is eligible" "$(lower "$op")" "$(lower "$(call "$reg" 'activeOperatorOf(address)(address)' "$worker")")"
"$phx" stake undelegate "$pid1" --all --key-file "$opkey" --json >"$tmp/undel.json"
check "the operator undelegates everything" 0 $?
check "the worker is idle with an empty pool" 0x0000000000000000000000000000000000000000 \
    "$(call "$reg" 'activeOperatorOf(address)(address)' "$worker")"
"$phx" stake withdraw "$pid1" --key-file "$opkey" >"$tmp/early.txt" 2>&1
check "withdraw before the unbonding period: exit 1" 1 $?
check "  the revert is named" 1 "$(grep -c 'reverted: NotReady(' "$tmp/early.txt")"
"$phx" stake delegate "$pid1" 1000 --json >"$tmp/del.json"
check "a delegator (the devnet user) stakes 1000 PHA into the pool" 0 $?
check "the worker is eligible again once the pool is funded" "$(lower "$op")" \
    "$(lower "$(call "$reg" 'activeOperatorOf(address)(address)' "$worker")")"

# ---- (b) a job's fee goes to the pool; the delegator claims its share -------------
# The gateway dropped the worker while its pool was empty and takes it back at
# its next health round.
routed() { [ "$(in_pool "$worker" | head -n 1)" = True ]; }
wait_until 300 routed
check "the gateway routes to the worker again" 0 $?
printf 'export default async function (input) { return "ok"; }\n' >"$tmp/c.js"
"$phx" deploy "$tmp/c.js" --salt 0x$(printf '%064x' 5) --json >"$tmp/d.json" 2>"$tmp/d.err"
check "deploy a contract" 0 $?
id=$(json "$tmp/d.json" "['id']")
"$cast" send --rpc-url "$rpc" --private-key "$ukey" "$token" 'approve(address,uint256)' "$jobs" 10000000000000000000 >/dev/null
"$cast" send --rpc-url "$rpc" --private-key "$ukey" "$jobs" 'request(bytes32,bytes,uint256,uint32,uint8)' \
    "$id" 0x7b7d 10000000000000000000 100000 1 >/dev/null
n=$(call "$jobs" 'requestCount()(uint256)')
for _ in $(seq 1 300); do
    st=$("$cast" call --rpc-url "$rpc" "$jobs" 'requests(uint256)(address,uint8,uint8,uint32,uint8,uint64,bytes32,bytes32,uint256)' "$n" | sed -n 2p)
    [ "$st" = 2 ] || [ "$st" = 3 ] && break
    sleep 0.2
done
check "the worker fulfilled the request" 2 "$st"
"$phx" stake pool info --pid "$pid1" --delegator "$user" --json >"$tmp/pool1.json"
claimable=$(json "$tmp/pool1.json" "['delegator']['claimable']")
check "the delegator's claimable share is 90 % of the 1 PHA fee (10 % commission)" 0.9 \
    "$(python3 -c "print(round(float('$claimable'), 6))")"
"$phx" stake claim "$pid1" --json >"$tmp/claim.json"
check "claim: exit 0" 0 $?
check "claim pays it" "$claimable" "$(json "$tmp/claim.json" "['amount']")"
"$phx" stake claim "$pid1" --key-file "$opkey" --json >"$tmp/claimop.json"
check "the operator claims the commission" 0.1 "$(python3 -c "print(round(float('$(json "$tmp/claimop.json" "['amount']")'), 6))")"

# ---- the operator's queued stake after the unbonding period ------------------------
sleep 10
"$phx" stake withdraw "$pid1" --key-file "$opkey" --json >"$tmp/wd.json"
check "the operator withdraws its 1000 PHA after the unbonding" 1000 "$(json "$tmp/wd.json" "['amount']")"

# ---- ethers reads PHA's votes and delegation ------------------------------------
gov_addr=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
node "$(dirname "$0")/votes.js" "$rpc" "$token" "$gov_addr" >"$tmp/votes.json"
check "ethers: votes.js exit 0" 0 $?
check "ethers: the deployer delegated to itself" "$(lower $gov_addr)" "$(lower "$(json "$tmp/votes.json" "['delegate']")")"
check "ethers: its votes are its balance" "$(json "$tmp/votes.json" "['balance']")" "$(json "$tmp/votes.json" "['votes']")"
check "ethers: past votes checkpointed" "$(json "$tmp/votes.json" "['votes']")" "$(json "$tmp/votes.json" "['pastVotes']")"
check "ethers: PHA's clock is the timestamp" mode=timestamp "$(json "$tmp/votes.json" "['clockMode']")"

# ---- (c) a vote adds a measurement through the timelock ------------------------
printf '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\n' >"$tmp/gov.key"
m=0x$(printf '%064x' 4242)
"$phx" gov propose --target Registry --call 'setMeasurement(bytes32,bool)' --args "[\"$m\", true]" \
    --description "allow worker build 4242" --key-file "$tmp/gov.key" --json >"$tmp/prop.json" 2>"$tmp/prop.err"
check "propose: exit 0" 0 $?
pr=$(json "$tmp/prop.json" "['id']")
# The devnet's times are seconds (voting delay 1, period 4, timelock 2) on
# PHA's clock, the block timestamp. anvil mines on demand, so a view reads the
# last block's time: wait until the next block's time (lib.sh chain_time) is
# past the times the proposal names, then the next transaction carries it.
"$phx" gov status "$pr" --json >"$tmp/st0.json"
check "a new proposal is Pending" Pending "$(json "$tmp/st0.json" "['state']")"
until_past() { chain_past "$1"; }
until_past "$(json "$tmp/st0.json" "['snapshot']")"
"$phx" gov vote "$pr" for --key-file "$tmp/gov.key" --json >"$tmp/vote.json"
check "vote for: exit 0" 0 $?
"$phx" gov status "$pr" --json >"$tmp/st1.json"
check "status counts the deployer's votes for" \
    "$(json "$tmp/votes.json" "['votes']" | python3 -c 'import sys; v=int(sys.stdin.read()); print(f"{v // 10**18}")')" \
    "$(json "$tmp/st1.json" "['votes']['for']")"
"$phx" gov vote "$pr" against --key-file "$tmp/gov.key" >"$tmp/twice.txt" 2>&1
check "a second vote by the same holder: exit 1" 1 $?
check "  named GovernorAlreadyCastVote" 1 "$(grep -c 'reverted: GovernorAlreadyCastVote(' "$tmp/twice.txt")"
until_past "$(json "$tmp/st0.json" "['deadline']")"
"$phx" gov queue "$pr" --key-file "$tmp/gov.key" --json >"$tmp/q.json"
check "queue: exit 0" 0 $?
check "not yet allowed while queued in the timelock" false "$(call "$reg" 'measurementAllowed(bytes32)(bool)' "$m")"
eta=$(json "$tmp/q.json" "['eta']")
until_past "$eta"
"$phx" gov execute "$pr" --json >"$tmp/x.json"
check "execute (by anyone: the devnet user) after the timelock's delay: exit 0" 0 $?
check "the vote allowed the measurement" true "$(call "$reg" 'measurementAllowed(bytes32)(bool)' "$m")"
"$phx" gov status "$pr" >"$tmp/st2.txt"
check "status: Executed" 1 "$(grep -c "^proposal $pr: Executed" "$tmp/st2.txt")"
check "the Registry's governor is the timelock" "$(lower "$timelock")" "$(lower "$(call "$reg" 'governor()(address)')")"
kill -TERM $pid && wait $pid
pid=""
finish
