#!/bin/sh
# phx worker as a process, on a one-worker devnet (anvil, contracts, KMS, gateway):
# /healthz names the worker the Registry lists; /v1/attestation is a quote that
# verifies to the sim root and whose report data binds the worker's keys to our
# nonce; deploy checks the code hash and the id; a call returns a signed envelope
# that `phx verify` accepts and an unknown contract is 404; /metrics counts; the
# worker's directory holds its identity only sealed; a worker stopped with SIGTERM
# exits 0 and comes back as the same registered identity; the sim TEE is refused
# in production mode. Skipped (77) when this phx has no worker verb.
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
skip_without_worker
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-worker-XXXXXX")
pid=""
wpid=""
trap '[ -n "$wpid" ] && kill $wpid 2>/dev/null; [ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"
get() { python3 -c "
import json,sys,urllib.request,urllib.error
try:
    r=urllib.request.urlopen(sys.argv[1], timeout=30); print(r.status); sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); sys.stdout.write(e.read().decode())" "$1"; }
post() { python3 -c "
import json,sys,urllib.request,urllib.error
q=urllib.request.Request(sys.argv[1], data=open(sys.argv[2],'rb').read(), headers={'Content-Type':'application/json'})
try:
    r=urllib.request.urlopen(q, timeout=60); print(r.status); sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); sys.stdout.write(e.read().decode())" "$1" "$2"; }

devnet_start "$tmp/ep.json" "$tmp/devnet.log" --dir "$PHX_HOME" --workers 1
check "devnet with one worker" 1 "$(json "$tmp/ep.json" "['workers'].__len__()" 2>/dev/null)"
w=$(json "$tmp/ep.json" "['workers'][0]['url']")
addr=$(json "$tmp/ep.json" "['workers'][0]['address']" | tr 'A-F' 'a-f')
rpc=$(json "$tmp/ep.json" "['rpc']")
registry=$(json "$tmp/ep.json" "['deployment']['contracts']['Registry']")
cast="${PHX_NODE_MODULES:-${PHX_SOURCE_DIR:-.}/node_modules}/.bin/cast"

get "$w/healthz" >"$tmp/h.txt"
check "healthz 200" 200 "$(head -1 "$tmp/h.txt")"
tail -n +2 "$tmp/h.txt" >"$tmp/h.json"
check "healthz names the worker" "$addr" "$(json "$tmp/h.json" "['address']")"
check "its measurement is the KMS's (same binary, same platform)" \
    "$(json "$tmp/ep.json" "['kms']['measurement']")" "$(json "$tmp/h.json" "['measurement']")"
if [ -x "$cast" ]; then
    st=$("$cast" call --rpc-url "$rpc" "$registry" 'workers(address)(address,uint8,uint32,uint64,bytes32,bytes32,bytes32,address)' "$addr" | sed -n 2p)
    check "the Registry lists it as active" 1 "$st"
fi

nonce=0x$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
get "$w/v1/attestation?nonce=$nonce" | tail -n +2 >"$tmp/a.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); open(sys.argv[2],'w').write(d['quote']); json.dump(d['collateral'],open(sys.argv[3],'w'))" \
    "$tmp/a.json" "$tmp/q.hex" "$tmp/c.json"
"$phx" attest verify "$tmp/q.hex" --collateral "$tmp/c.json" --trust-sim-root "$PHX_HOME/sim" --json >"$tmp/v.json"
check "attestation quote verifies to the sim root" 0 $?
# report_data = keccak256("phx-worker-v1" || address || x25519 || nonce) || nonce
msg=$(python3 -c "import sys; print('0x'+b'phx-worker-v1'.hex()+sys.argv[1][2:]+sys.argv[2][2:]+sys.argv[3][2:])" "$addr" "$(json "$tmp/a.json" "['x25519_pub']")" "$nonce")
rd="$("$phx" util keccak "$msg" | tr -d '\n')${nonce#0x}"
got=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); r=d.get('report_data') or d['report']['report_data']; print(r if r.startswith('0x') else '0x'+r)" "$tmp/v.json" 2>/dev/null)
check "report data binds address, X25519 key and our nonce" "$rd" "$got"
get "$w/v1/attestation?nonce=0x12" >"$tmp/s"; check "a short nonce is 400" 400 "$(head -1 "$tmp/s")"

printf 'export default async function (input, ctx) { return { hello: input.name, id: ctx.contractId }; }\n' >"$tmp/c.js"
python3 -c "
import json,sys,os
code=open(sys.argv[1]).read()
owner='0x'+'ab'*20; salt='0x'+os.urandom(32).hex()
json.dump({'id':'0x'+'00'*32,'owner':owner,'salt':salt,'code':code},open(sys.argv[2],'w'))
json.dump({'id':'0x'+'11'*32,'code':code,'code_hash':'0x'+'22'*32},open(sys.argv[3],'w'))
" "$tmp/c.js" "$tmp/bad_id.json" "$tmp/bad_hash.json"
post "$w/v1/contracts" "$tmp/bad_id.json" >"$tmp/s"
check "deploy: an id that is not contractId(owner, salt) is refused" 403 "$(head -1 "$tmp/s")"
post "$w/v1/contracts" "$tmp/bad_hash.json" >"$tmp/s"
check "deploy: a code_hash that is not keccak256(code) is refused" 403 "$(head -1 "$tmp/s")"

"$phx" deploy "$tmp/c.js" --json >"$tmp/d.json"
check "phx deploy through the gateway" 0 $?
id=$(json "$tmp/d.json" "['id']")
check "code hash is keccak256 of the code" "$(json "$tmp/d.json" "['code_hash']")" "$("$phx" util keccak "0x$(od -An -v -tx1 "$tmp/c.js" | tr -d ' \n')" | tr -d '\n')"
echo "{\"input\":{\"name\":\"phx\"}}" >"$tmp/in.json"
post "$w/v1/contracts/$id/call" "$tmp/in.json" >"$tmp/r.txt"
check "direct call 200" 200 "$(head -1 "$tmp/r.txt")"
tail -n +2 "$tmp/r.txt" >"$tmp/r.json"
check "output" phx "$(json "$tmp/r.json" "['output']['hello']")"
check "the contract sees its id" "$id" "$(json "$tmp/r.json" "['output']['id']")"
check "signed by the worker" "$addr" "$(json "$tmp/r.json" "['worker']")"
"$phx" verify "$tmp/r.json" --trust-sim-root "$PHX_HOME/sim" >/dev/null
check "phx verify accepts it" 0 $?
post "$w/v1/contracts/0x$(printf '%064d' 7)/call" "$tmp/in.json" >"$tmp/s"
check "an unknown contract is 404" 404 "$(head -1 "$tmp/s")"

get "$w/metrics" >"$tmp/m.txt"
check "metrics count the call" 1 "$(grep -c '^phx_worker_calls_total [1-9]' "$tmp/m.txt")"

check "no identity key in clear on disk" 1 "$(grep -rqa 'BEGIN\|"sk"' "$PHX_HOME/worker-0/identity.sealed"; echo $?)"
check "the identity is sealed" PHXSEAL1 "$(head -c 8 "$PHX_HOME/worker-0/identity.sealed")"

# Production mode refuses the sim TEE before touching anything.
"$phx" worker --production --dir "$tmp/prod" --rpc "$rpc" --deployment "$PHX_HOME/deployment.json" \
    --kms http://127.0.0.1:1 --kms-address 0x$(printf '%040d' 1) \
    --operator-key-file "$PHX_HOME/worker-0/operator.key" >/dev/null 2>"$tmp/prod.err"
check "production mode refuses the sim TEE (exit 1)" 1 $?

# Egress allowances are exact HOST:PORT and never the worker's own chain RPC
# or KMS (a devnet's anvil takes anvil_setBalance from anyone who reaches it).
kms_url=$(json "$tmp/ep.json" "['kms']['url']")
kms_addr=$(json "$tmp/ep.json" "['kms']['address']")
rpc_hp=${rpc#http://}; rpc_hp=${rpc_hp%%/*}
kms_hp=${kms_url#http://}; kms_hp=${kms_hp%%/*}
for allow in "$rpc_hp" "localhost:${rpc_hp##*:}" "$kms_hp"; do
    "$phx" worker --dir "$tmp/allow" --rpc "$rpc" --deployment "$PHX_HOME/deployment.json" \
        --kms "$kms_url" --kms-address "$kms_addr" --allow-host "$allow" \
        --operator-key-file "$PHX_HOME/worker-0/operator.key" >/dev/null 2>"$tmp/allow.err"
    check "--allow-host $allow (the chain RPC or KMS) refused (exit 1)" 1 $?
    check "  and the message says why" 1 "$(grep -c 'would let contracts reach' "$tmp/allow.err")"
done
"$phx" worker --dir "$tmp/allow" --rpc "$rpc" --deployment "$PHX_HOME/deployment.json" \
    --kms "$kms_url" --kms-address "$kms_addr" --allow-host 127.0.0.1 \
    --operator-key-file "$PHX_HOME/worker-0/operator.key" >/dev/null 2>"$tmp/allow.err"
check "--allow-host without a port is bad usage (exit 2)" 2 $?

# Stop the devnet (SIGTERM to the worker among others): exit 0; then the worker
# alone, restarted with the same directory, is the same registered identity.
kill -TERM $pid; wait $pid; check "devnet (and its worker) stop cleanly" 0 $?
pid=""
check "the worker left no LeakSanitizer report" 0 "$(grep -c 'LeakSanitizer' "$PHX_HOME/logs/worker-0.log")"
devnet_start "$tmp/ep2.json" "$tmp/devnet2.log" --dir "$PHX_HOME" --workers 1
check "restart: same worker identity" "$addr" "$(json "$tmp/ep2.json" "['workers'][0]['address']" | tr 'A-F' 'a-f')"
w2=$(json "$tmp/ep2.json" "['workers'][0]['url']")
post "$w2/v1/contracts/$id/call" "$tmp/in.json" >"$tmp/s"
check "restart: the deployed contract is still there" 200 "$(head -1 "$tmp/s")"
kill -TERM $pid; wait $pid; check "second stop clean" 0 $?
pid=""
finish
