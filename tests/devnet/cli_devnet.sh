#!/bin/sh
# phx devnet as a user runs it: comes up in a fresh directory with anvil, the
# contracts, a KMS the Registry lists (with its measurement allowed) and a
# gateway; writes endpoints.json; stops every process on SIGTERM; a second
# start in the same directory resumes the same chain (same contracts, the
# chain still knows the KMS, block height kept) and the same KMS key.
set -u
phx=${PHX_BIN:?PHX_BIN not set}
. "$(dirname "$0")/../lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-devnet-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT

# start OUTFILE [ARGS...]: the devnet in $tmp/net with one worker until it has
# printed its endpoints (0) or exited (1; its log shown). devnet_start removes
# OUTFILE first: this script once started the --restart network into the
# deploy step's d.json, read that stale file as the endpoints before the
# devnet's redirection truncated it, found no KMS pid in it, killed nothing
# and waited in vain for a restart. Each start logs to its own OUTFILE.log, so
# a line from an earlier network (the "kms exited" of the second one) never
# reads as this one's.
start() {
    out=$1
    log=${out%.json}.log
    shift
    devnet_start "$out" "$log" --dir "$tmp/net" --workers 1 "$@" && return 0
    echo "devnet did not start; its log:"
    cat "$log"
    return 1
}
stop() {
    kill -TERM $pid
    for _ in $(seq 1 200); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    wait $pid
    rc=$?
    pid=""
    return $rc
}

start "$tmp/a.json"; check "devnet starts" 0 $?
[ -f "$tmp/net/endpoints.json" ]; check "endpoints.json written" 0 $?
check "fresh chain" True "$(json "$tmp/a.json" "['fresh_chain']")"
rpc=$(json "$tmp/a.json" "['rpc']")
reg=$(json "$tmp/a.json" "['deployment']['contracts']['Registry']")
kms=$(json "$tmp/a.json" "['kms']['address']")
mr=$(json "$tmp/a.json" "['kms']['measurement']")
gw=$(json "$tmp/a.json" "['gateway']")
check "Registry lists the KMS" true "$("$cast" call --rpc-url "$rpc" "$reg" 'isKms(address)(bool)' "$kms")"
check "devnet measurement allowed" true "$("$cast" call --rpc-url "$rpc" "$reg" 'measurementAllowed(bytes32)(bool)' "$mr")"
# Admitted by governance after its quote was verified (Registry.admitKms): the
# quote is on record in one KmsAdmitted event.
kms_admitted() {
    "$cast" logs --rpc-url "$rpc" --from-block 0 --address "$reg" \
        'KmsAdmitted(address indexed,address indexed,bytes32,bytes32,uint32,bytes32,bytes32,bytes32,bytes)' "$kms" --json |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
check "governance admitted the KMS with its quote (one KmsAdmitted event)" 1 "$(kms_admitted)"
# The governance CLI verifies the KMS's fresh quote itself: to the devnet's sim
# root it passes (already admitted: nothing sent); to Intel's root it does not.
kms_url=$(json "$tmp/a.json" "['kms']['url']")
gov_key=ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
"$phx" chain admit-kms "$kms_url" --key $gov_key --deployment "$tmp/net/deployment.json" --rpc "$rpc" \
    --trust-sim-root "$tmp/net/sim" --expect "$kms" >"$tmp/admit.txt" 2>&1
check "admit-kms with the sim root trusted: exit 0" 0 $?
check "admit-kms: already admitted" 1 "$(grep -c '^already admitted' "$tmp/admit.txt")"
"$phx" chain admit-kms "$kms_url" --key $gov_key --deployment "$tmp/net/deployment.json" --rpc "$rpc" \
    >/dev/null 2>&1
check "admit-kms: a sim quote does not verify to Intel's root (exit 1)" 1 $?
check "gateway answers /v1/network" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$gw/v1/network")"
curl -s "$gw/v1/network" >"$tmp/net1.json"
check "gateway shows the chain" "$reg" "$(json "$tmp/net1.json" "['chain']['contracts']['Registry']")"
# The devnet handed governance to the timelock: the deployer's key no longer
# governs, though its plain transactions still go through.
"$cast" call --rpc-url "$rpc" --from 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 \
    "$reg" 'setMeasurement(bytes32,bool)' 0x$(printf '%064x' 42) true >"$tmp/ng.txt" 2>&1
# (cast prints the revert and may still exit 0: look at what it said)
check "the deployer no longer governs the Registry (reverts)" 1 "$(grep -c 'execution reverted' "$tmp/ng.txt")"
check "the timelock governs the Registry" "$(json "$tmp/a.json" "['deployment']['contracts']['PhxTimelock']")" \
    "$("$cast" call --rpc-url "$rpc" "$reg" 'governor()(address)')"
"$cast" send --rpc-url "$rpc" --private-key 0x$gov_key "$(json "$tmp/a.json" "['deployment']['contracts']['PhxToken']")" \
    'transfer(address,uint256)' 0x$(printf '%040x' 42) 42 >/dev/null
check "a transaction of ours mined" 0 $?
# phx deploy records the contract on chain from the devnet's user account
# (Jobs.deployContract) and hands the code to the network's one worker.
printf 'export default async function (input) { return input; }\n' >"$tmp/c.js"
salt=0x$(printf '%064x' 77)
PHX_HOME="$tmp/net" "$phx" deploy "$tmp/c.js" --salt $salt --json >"$tmp/deployed.json" 2>"$tmp/deployed.err"
check "deploy to a one-worker devnet succeeds" 0 $?
jobs=$(json "$tmp/a.json" "['deployment']['contracts']['Jobs']")
user=$(json "$tmp/a.json" "['user']['address']")
id=$("$cast" keccak "$("$cast" abi-encode 'f(address,bytes32)' "$user" $salt)")
onchain=$("$cast" call --rpc-url "$rpc" "$jobs" 'contracts(bytes32)(address,uint64,bytes32,string)' "$id" | sed -n '1p;3p' | tr '\n' ' ' | tr 'A-F' 'a-f')
want="$(lower "$user") $("$phx" util keccak "$(hex_of "$tmp/c.js")") "
check "deploy recorded owner and code hash on chain" "$want" "$onchain"
check "one worker in the network" 1 "$(jsonx "$tmp/a.json" "len(d['workers'])")"
# An on-chain request for that contract shows in `phx jobs`. The network's
# worker follows Requested events and may fulfil it before `phx jobs` reads the
# chain, so the listing may say pending or fulfilled; what must hold is that it
# is listed with the right contract, and that it ends up fulfilled.
ukey=$(cat "$(json "$tmp/a.json" "['user']['key_file']")")
"$cast" send --rpc-url "$rpc" --private-key "$ukey" "$(json "$tmp/a.json" "['deployment']['contracts']['PhxToken']")" \
    'approve(address,uint256)' "$jobs" 10000000000000000000 >/dev/null
"$cast" send --rpc-url "$rpc" --private-key "$ukey" "$jobs" 'request(bytes32,bytes,uint256,uint32,uint8)' \
    "$id" 0x7b7d 10000000000000000000 100000 1 >/dev/null
check "an on-chain request is accepted" 0 $?
PHX_HOME="$tmp/net" "$phx" jobs --json >"$tmp/jobs.json"
check "phx jobs lists it with its contract" "1 $(lower "$id")" \
    "$(json "$tmp/jobs.json" "['requests'][0]['id']") $(json "$tmp/jobs.json" "['requests'][0]['contract_id']")"
status=$(json "$tmp/jobs.json" "['requests'][0]['status']")
case "$status" in pending | fulfilled) st_ok=yes ;; *) st_ok="no ($status)" ;; esac
check "its status is pending or fulfilled" yes "$st_ok"
fulfilled() {
    PHX_HOME="$tmp/net" "$phx" jobs --json >"$tmp/jobs2.json" 2>/dev/null &&
        [ "$(json "$tmp/jobs2.json" "['requests'][0]['status']")" = fulfilled ]
}
wait_until 1200 fulfilled
check "the worker fulfils it" fulfilled "$(json "$tmp/jobs2.json" "['requests'][0]['status']")"
height=$("$cast" block-number --rpc-url "$rpc")
pids=$(jsonx "$tmp/a.json" "' '.join(str(v) for v in d['pids'].values())")
check_nonempty "the devnet names its processes" "$pids"

stop; check "clean stop exits 0" 0 $?
left=0
for p in $pids; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
check "no process left after stop" 0 $left
[ -s "$tmp/net/chain/anvil-state.json" ]; check "anvil state saved" 0 $?

start "$tmp/b.json"; check "devnet starts again" 0 $?
rpc=$(json "$tmp/b.json" "['rpc']")
check "resumed, not redeployed" False "$(json "$tmp/b.json" "['fresh_chain']")"
check "same Registry" "$reg" "$(json "$tmp/b.json" "['deployment']['contracts']['Registry']")"
check "same KMS key" "$kms" "$(json "$tmp/b.json" "['kms']['address']")"
check "an admitted KMS is not admitted again on restart" 1 "$(kms_admitted)"
check "our transaction survived" 42 "$("$cast" call --rpc-url "$rpc" "$(json "$tmp/b.json" "['deployment']['contracts']['PhxToken']")" 'balanceOf(address)(uint256)' 0x$(printf '%040x' 42))"
h2=$("$cast" block-number --rpc-url "$rpc")
[ "$h2" -ge "$height" ]; check "block height kept ($height -> $h2)" 0 $?
# A process of the network dies: the devnet says which and exits 1.
kms_pid=$(json "$tmp/b.json" "['pids']['kms']")
kill -KILL "$kms_pid"
for _ in $(seq 1 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
wait $pid; check "a dead KMS stops the devnet with exit 1" 1 $?
pid=""
grep -q "kms exited" "$tmp/b.log"; check "and it names the KMS" 0 $?

# The devnet itself killed with SIGKILL leaves nothing running.
start "$tmp/c.json"; check "devnet starts a third time" 0 $?
pids=$(jsonx "$tmp/c.json" "' '.join(str(v) for v in d['pids'].values())")
check_nonempty "the devnet names its processes" "$pids"
kill -KILL $pid; wait $pid 2>/dev/null; pid=""
# They notice their parent is gone (parent-death signal), which takes a moment:
# wait for that state rather than a fixed time.
count_left() {
    left=0
    for p in $pids; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
    [ $left = 0 ]
}
wait_until 600 count_left
check "SIGKILL of the devnet takes its processes along" 0 $left

# With --restart a daemon that dies comes back as itself: same URL, same key.
# The test waits on the devnet's own events, in order: it noticed the death and
# relaunched the KMS (its log line), the new KMS printed its ready line (a pid
# other than the killed one), and that KMS answers on the old URL.
start "$tmp/d.json" --restart
started_rc=$?
check "devnet --restart starts" 0 $started_rc
if [ $started_rc = 0 ]; then
    kms_url=$(json "$tmp/d.json" "['kms']['url']")
    kms_pid=$(json "$tmp/d.json" "['pids']['kms']")
    check_nonempty "the devnet names its KMS" "$kms_pid"
    kill -KILL "$kms_pid"
    relaunched() { grep -q "kms exited (signal 9); restarted" "$tmp/d.log"; }
    wait_until 1200 relaunched
    check "the restart is logged" 0 $?
    new_kms() {
        new_pid=$(json "$tmp/net/logs/kms.out" "['pid']" 2>/dev/null) &&
            [ -n "$new_pid" ] && [ "$new_pid" != "$kms_pid" ]
    }
    wait_until 1200 new_kms
    check_nonempty "the restarted KMS printed its ready line" "$new_pid"
    check "on the same URL" "$kms_url" "$(json "$tmp/net/logs/kms.out" "['url']" 2>/dev/null)"
    back=$(curl -s --max-time 30 "$kms_url/v1/info" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["kms_address"])' 2>/dev/null)
    check "a killed KMS is restarted on the same URL with the same key" "$(lower "$kms")" "$(lower "$back")" ||
        { cat "$tmp/d.log"; tail -n 20 "$tmp/net/logs/kms.log"; }
    kill -0 $pid 2>/dev/null; check "and the devnet keeps running" 0 $?
    stop; check "clean stop after a restart" 0 $?
fi
"$phx" devnet --workers 0 >/dev/null 2>&1; check "--workers 0 is a usage error" 2 $?
"$phx" devnet --dir "$tmp/x" --anvil /nonexistent/anvil >/dev/null 2>"$tmp/err"; check "missing anvil fails" 1 $?
grep -q "anvil" "$tmp/err"; check "and says anvil" 0 $?
finish
