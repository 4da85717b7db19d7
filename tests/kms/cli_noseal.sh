#!/bin/sh
# Issue 10 item 12: TEEs without a sealing key (TDX; here the sim TEE with
# --tee sim-noseal, which takes the same paths) start, restart and serve.
# On a devnet's chain: KMS A (no sealing key) makes a root in memory and is
# admitted by governance; replica B gets the root from A once A has vouched
# for B's onboarding key (admitKmsByQuorum, the replica-quorum path); a
# no-seal worker registers through A and serves a call and
# an on-chain job. Restarted, the worker has a new identity, registered, the
# old one deregistered, and serves again. KMS A, stopped, cannot come back
# alone; with B as its peer (B vouches for A's new onboarding key) it does,
# with the same address and the same contract keys, and a worker onboards
# through it. Nothing secret on disk.
# Skipped (77) when this phx has no worker verb.
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
src=${PHX_SOURCE_DIR:?PHX_SOURCE_DIR not set}
nm=${PHX_NODE_MODULES:-$src/node_modules}
cast="$nm/.bin/cast"
if ! "$phx" worker --help >/dev/null 2>&1; then
    echo "SKIP: this phx has no \`worker\` verb"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-noseal-XXXXXX")
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"
lower() { tr 'A-F' 'a-f'; }
post() { python3 -c "
import sys,urllib.request,urllib.error
q=urllib.request.Request(sys.argv[1], data=open(sys.argv[2],'rb').read(), headers={'Content-Type':'application/json'})
try:
    r=urllib.request.urlopen(q, timeout=60); print(r.status); sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); sys.stdout.write(e.read().decode())" "$1" "$2"; }

# start NAME ARGS...: `phx ARGS --json` in the background; waits for its ready line.
start() {
    name=$1
    shift
    "$phx" "$@" --json >"$tmp/$name.out" 2>"$tmp/$name.log" &
    pid=$!
    pids="$pids $pid"
    for _ in $(seq 1 1800); do
        [ -s "$tmp/$name.out" ] && return 0
        kill -0 $pid 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
stop() { kill -TERM "$1"; wait "$1"; }

# --no-handover: this test admits KMS A as governance, with the deployer key.
start devnet devnet --dir "$PHX_HOME" --workers 1 --no-handover; check "devnet up" 0 $?
devnet_pid=$pid
rpc=$(json "$tmp/devnet.out" "['rpc']")
dep="$PHX_HOME/deployment.json"
registry=$(json "$tmp/devnet.out" "['deployment']['contracts']['Registry']")
jobs=$(json "$tmp/devnet.out" "['deployment']['contracts']['Jobs']")
token=$(json "$tmp/devnet.out" "['deployment']['contracts']['PhxToken']")
user_key=$(cat "$(json "$tmp/devnet.out" "['user']['key_file']")")
gov=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 # anvil's dev account 0
is_kms() { "$cast" call --rpc-url "$rpc" "$registry" 'isKms(address)(bool)' "$1"; }
worker_status() { "$cast" call --rpc-url "$rpc" "$registry" 'workers(address)(address,uint8,uint32,uint64,bytes32,bytes32,bytes32,address)' "$1" | sed -n 2p; }
# newkey FILE: a funded account (ETH and PHA); prints its address.
newkey() {
    k=0x$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
    printf '%s\n' "$k" >"$1"
    a=$("$cast" wallet address --private-key "$k")
    "$cast" send --rpc-url "$rpc" --private-key "$gov" --value 100ether "$a" >/dev/null &&
        "$cast" send --rpc-url "$rpc" --private-key "$gov" "$token" 'transfer(address,uint256)' "$a" 100000000000000000000000 >/dev/null
    echo "$a"
}
newkey "$tmp/kms-op.key" >/dev/null
newkey "$tmp/worker-op.key" >/dev/null
chain="--rpc $rpc --deployment $dep"

# ---- KMS A: first start, no peer: a root in memory; governance admits it.
start ka kms --tee sim-noseal --dir "$tmp/ka" --listen 127.0.0.1:0 $chain
check "no-seal KMS A starts" 0 $?
ka_pid=$pid
kms=$(json "$tmp/ka.out" "['kms_address']")
url_a=$(json "$tmp/ka.out" "['url']")
check "A made its root in memory" True "$(json "$tmp/ka.out" "['created_root']")"
check "A wrote no sealed root" no "$([ -e "$tmp/ka/kms-root.sealed" ] && echo yes || echo no)"
"$phx" chain admit-kms "$url_a" --key "$gov" --trust-sim-root "$PHX_HOME/sim" --deployment "$dep" --rpc "$rpc" >/dev/null
check "governance admits A" 0 $?
check "A is a KMS on the Registry" true "$(is_kms "$kms")"

# ---- KMS B: a replica; A vouches for its onboarding key (quorum of one), then it has A's root.
start kb kms --tee sim-noseal --dir "$tmp/kb" --listen 127.0.0.1:0 $chain --onboard-from "$url_a" --kms-address "$kms" --operator-key-file "$tmp/kms-op.key"
check "replica B onboards from A" 0 $?
kb_pid=$pid
url_b=$(json "$tmp/kb.out" "['url']")
check "B has A's KMS address" "$(echo "$kms" | lower)" "$(json "$tmp/kb.out" "['kms_address']" | lower)"

# ---- a no-seal worker, through A.
wargs="--tee sim-noseal --dir $tmp/w --sim-dir $PHX_HOME/sim --listen 127.0.0.1:0 $chain --kms-address $kms --operator-key-file $tmp/worker-op.key --poll-ms 200"
start w1 worker $wargs --kms "$url_a"; check "no-seal worker starts" 0 $?
w_pid=$pid
w1=$(json "$tmp/w1.out" "['address']")
url_w=$(json "$tmp/w1.out" "['url']")
check "worker 1 registered and active" 1 "$(worker_status "$w1")"
check "no identity written to disk" no "$([ -e "$tmp/w/identity.sealed" ] && echo yes || echo no)"

# A contract recorded on chain (Jobs.deployContract from the user), code given to our worker.
printf 'export default async function (input, ctx) { return { echo: input, id: ctx.contractId }; }\n' >"$tmp/c.js"
salt=0x$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
hash=$("$phx" util keccak "0x$(od -An -v -tx1 "$tmp/c.js" | tr -d ' \n')" | tr -d '\n')
"$cast" send --rpc-url "$rpc" --private-key "$user_key" "$jobs" 'deployContract(bytes32,bytes32,string)' "$salt" "$hash" "" >/dev/null
check "contract recorded on chain" 0 $?
id=$("$cast" call --rpc-url "$rpc" "$jobs" 'contractId(address,bytes32)(bytes32)' "$("$cast" wallet address --private-key "$user_key")" "$salt")
# The owner's signed deploy op (EIP-712 ContractOp, docs/worker.md "Owners").
owner=$("$cast" wallet address --private-key "$user_key")
zero=0x$(printf '%064d' 0)
node "$src/tests/worker/owner_peer.js" "$user_key" "$id" deploy "$hash" "$zero" 1 x "$zero" 0 >"$tmp/op.json"
check "owner signs the deploy" 0 $?
python3 -c "
import json,sys
op=json.load(open(sys.argv[5]))
json.dump({'id':sys.argv[1],'owner':sys.argv[3],'salt':sys.argv[4],'nonce':1,'signature':op['op_sig'],
           'code':open(sys.argv[2]).read()},open(sys.argv[6],'w'))" "$id" "$tmp/c.js" "$owner" "$salt" "$tmp/op.json" "$tmp/deploy.json"
echo '{"input":{"n":1}}' >"$tmp/in.json"
pubkey() { curl -s "$1/v1/contracts/$id/pubkey" | python3 -c 'import json,sys; print(json.load(sys.stdin)["x25519_pub"])'; }
xpub=$(pubkey "$url_a")

# serves: a call (verified back to the chain) and an on-chain job.
# serve_all N WORKER URL: deploy the code, call it, and have it fulfil a request.
serve_all() {
    post "$3/v1/contracts" "$tmp/deploy.json" >"$tmp/s"
    check "worker $1: code accepted" 200 "$(head -1 "$tmp/s")"
    post "$3/v1/contracts/$id/call" "$tmp/in.json" >"$tmp/r.txt"
    check "worker $1: call 200" 200 "$(head -1 "$tmp/r.txt")"
    tail -n +2 "$tmp/r.txt" >"$tmp/r.json"
    check "worker $1: signed by its identity of this boot" "$(echo "$2" | lower)" "$(json "$tmp/r.json" "['worker']" | lower)"
    "$phx" verify "$tmp/r.json" --trust-sim-root "$PHX_HOME/sim" >/dev/null 2>"$tmp/verify.err"
    check "worker $1: phx verify accepts the result" 0 $?
    fee=$("$cast" call --rpc-url "$rpc" "$jobs" 'feePerWorker()(uint256)' | cut -d' ' -f1)
    "$cast" send --rpc-url "$rpc" --private-key "$user_key" "$token" 'approve(address,uint256)' "$jobs" "$fee" >/dev/null &&
        "$cast" send --rpc-url "$rpc" --private-key "$user_key" "$jobs" 'request(bytes32,bytes,uint256,uint32,uint8)' \
            "$id" 0x$(printf '{"n":%s}' "$1" | od -An -v -tx1 | tr -d ' \n') "$fee" 100000 1 >/dev/null
    rid=$("$cast" call --rpc-url "$rpc" "$jobs" 'requestCount()(uint256)' | cut -d' ' -f1)
    check "worker $1: an on-chain request sent" yes "$([ -n "$rid" ] && echo yes || echo no)"
    by=""
    [ -n "$rid" ] && for _ in $(seq 1 300); do
        by=$("$cast" logs --rpc-url "$rpc" --from-block 0 --address "$jobs" \
            'Fulfilled(uint256 indexed,address indexed,bytes32,bool,bool,address[],bytes)' --json |
            python3 -c "
import json,sys
for l in json.load(sys.stdin):
    if int(l['topics'][1],16)==int(sys.argv[1]): print('0x'+l['topics'][2][-40:])" "$rid")
        [ -n "$by" ] && break
        sleep 0.2
    done
    check "worker $1: on-chain request $rid fulfilled by it" "$(echo "$2" | lower)" "$by"
}
serve_all 1 "$w1" "$url_w"

# ---- in-flight work survives a boot: with mining paused, the worker signs a
# request and sends its fulfilment, and is killed (-9) before it is mined; the
# pending transaction is dropped. The journal keeps the job; the next boot's
# identity runs and signs it again and fulfils it.
fee=$("$cast" call --rpc-url "$rpc" "$jobs" 'feePerWorker()(uint256)' | cut -d' ' -f1)
"$cast" send --rpc-url "$rpc" --private-key "$user_key" "$token" 'approve(address,uint256)' "$jobs" "$fee" >/dev/null
"$cast" rpc --rpc-url "$rpc" evm_setAutomine false >/dev/null
"$cast" send --async --rpc-url "$rpc" --private-key "$user_key" "$jobs" 'request(bytes32,bytes,uint256,uint32,uint8)' \
    "$id" 0x7b226e223a39397d "$fee" 100000 1 >/dev/null
"$cast" rpc --rpc-url "$rpc" evm_mine >/dev/null
inflight=$("$cast" call --rpc-url "$rpc" "$jobs" 'requestCount()(uint256)' | cut -d' ' -f1)
jstate() { python3 -c "
import sqlite3,sys
r=sqlite3.connect(sys.argv[1]).execute('select state from jobs where request_id=?',(int(sys.argv[2]),)).fetchone()
print(r[0] if r else 0)" "$tmp/w/jobs.db" "$inflight" 2>/dev/null; }
for _ in $(seq 1 300); do [ "$(jstate)" = 4 ] && break; sleep 0.2; done
check "worker 1 signed request $inflight and sent its fulfilment (journal: submitted)" 4 "$(jstate)"
kill -KILL $w_pid; wait $w_pid 2>/dev/null
"$cast" rpc --rpc-url "$rpc" anvil_dropAllTransactions >/dev/null
"$cast" rpc --rpc-url "$rpc" evm_setAutomine true >/dev/null
check "its fulfilment never reached the chain" 1 "$("$cast" call --rpc-url "$rpc" "$jobs" 'requests(uint256)(address,uint8,uint8,uint32,uint8,uint64,bytes32,bytes32,uint256)' "$inflight" | sed -n 2p)"

# ---- worker restart: a new identity, registered; the old one deregistered.
start w2 worker $wargs --kms "$url_a"; check "worker restarts" 0 $?
w_pid=$pid
w2=$(json "$tmp/w2.out" "['address']")
url_w=$(json "$tmp/w2.out" "['url']")
check "restart: a new identity" yes "$([ "$w1" != "$w2" ] && echo yes || echo no)"
check "restart: new identity registered and active" 1 "$(worker_status "$w2")"
check "restart: the earlier identity is deregistered" 2 "$(worker_status "$w1")"
by=""
for _ in $(seq 1 300); do
    by=$("$cast" logs --rpc-url "$rpc" --from-block 0 --address "$jobs" \
        'Fulfilled(uint256 indexed,address indexed,bytes32,bool,bool,address[],bytes)' --json |
        python3 -c "
import json,sys
for l in json.load(sys.stdin):
    if int(l['topics'][1],16)==int(sys.argv[1]): print('0x'+l['topics'][2][-40:])" "$inflight")
    [ -n "$by" ] && break
    sleep 0.2
done
check "the in-flight request is fulfilled by the new identity" "$(echo "$w2" | lower)" "$by"
grep -q "signed by an earlier identity; running it again" "$tmp/w2.log"
check "the journaled job was signed again, not resent under the dead key" 0 $?
serve_all 2 "$w2" "$url_w"

# ---- KMS A restarts. Alone it must refuse (its root lives only in A and B).
stop $ka_pid; check "KMS A stops cleanly" 0 $?
"$phx" kms --tee sim-noseal --dir "$tmp/ka" --listen 127.0.0.1:0 $chain >/dev/null 2>"$tmp/alone.log"
check "A without a peer refuses to start (exit 1)" 1 $?
grep -q "onboard-from" "$tmp/alone.log"; check "and says to start it from a peer" 0 $?
start ka2 kms --tee sim-noseal --dir "$tmp/ka" --listen 127.0.0.1:0 $chain --onboard-from "$url_b" --kms-address "$kms" --operator-key-file "$tmp/kms-op.key"
check "A restarts from peer B" 0 $?
url_a=$(json "$tmp/ka2.out" "['url']")
check "A keeps its address" "$(echo "$kms" | lower)" "$(json "$tmp/ka2.out" "['kms_address']" | lower)"
check "A's contract keys are the ones from before the restart" "$xpub" "$(pubkey "$url_a")"
check "B's contract keys are the same" "$xpub" "$(pubkey "$url_b")"
check "still no sealed root" no "$([ -e "$tmp/ka/kms-root.sealed" ] && echo yes || echo no)"

# ---- the worker restarts again, onboarding through the restarted A.
stop $w_pid; check "worker stops cleanly" 0 $?
start w3 worker $wargs --kms "$url_a"; check "worker restarts through the restarted KMS" 0 $?
w_pid=$pid
w3=$(json "$tmp/w3.out" "['address']")
url_w=$(json "$tmp/w3.out" "['url']")
check "third identity registered" 1 "$(worker_status "$w3")"
check "second identity deregistered" 2 "$(worker_status "$w2")"
serve_all 3 "$w3" "$url_w"

for p in $pids; do kill -TERM $p 2>/dev/null; done
wait
pids=""
finish
