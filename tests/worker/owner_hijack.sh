#!/bin/sh
# Issue 10 items 2 and 8 on a one-worker devnet (anvil, contracts, KMS, gateway),
# played by an attacker who can reach the gateway and the worker and read the
# worker's and the gateway's disks (the host is not trusted), but has no key of
# the contract's owner:
#   - off-chain hijack: re-deploying other code under the owner's id, with the
#     owner's sealed secrets copied from the worker's disk, is refused and the
#     secret never comes back;
#   - on-chain: re-posting {"id","code"} (secrets stripped) is refused and the
#     owner's secret is still there; other code under the id is refused;
#   - the gateway keeps and serves no sealed secret;
#   - logs and job history need the owner's signature (`phx logs` signs);
#   - blob puts need a contract owner's signature, 413 over the blob limit, a
#     clear error over the owner's quota;
#   - a worker that cannot read the chain refuses a deploy (fails closed).
# Skipped (77) when this phx has no worker verb.
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
skip_without_worker
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-owner-XXXXXX")
pid=""
anvil=""
trap '[ -n "$anvil" ] && kill -CONT $anvil 2>/dev/null; [ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"
unset PHX_GATEWAY
# http METHOD URL [BODY_FILE] [CONTENT_TYPE]: prints the status, then the body
# (curl: it reads an answer a server sends before taking the whole body).
http() {
    if [ $# -ge 3 ]; then
        curl -s -o "$tmp/http.body" -w '%{http_code}\n' -X "$1" -H "Content-Type: ${4:-application/json}" \
            --data-binary "@$3" --max-time 120 "$2"
    else
        curl -s -o "$tmp/http.body" -w '%{http_code}\n' -X "$1" --max-time 120 "$2"
    fi
    cat "$tmp/http.body"
}
# owner_query KEYFILE ACTION SUBJECT: ?owner=..&expires=..&signature=.. signed
# as the EIP-712 OwnerRequest the gateway checks (docs/gateway.md).
owner_query() {
    exp=$(( $(date +%s) + 300 ))
    printf '{"types":{"EIP712Domain":[{"name":"name","type":"string"},{"name":"version","type":"string"}],"OwnerRequest":[{"name":"action","type":"string"},{"name":"subject","type":"bytes32"},{"name":"expires","type":"uint64"}]},"primaryType":"OwnerRequest","domain":{"name":"phx-owner","version":"1"},"message":{"action":"%s","subject":"%s","expires":%s}}' "$2" "$3" "$exp" >"$tmp/typed.json"
    sig=$("$phx" eip712 sign --key "$(cat "$1")" "@$tmp/typed.json" | tr -d '\n')
    addr=$("$phx" util address --key "$(cat "$1")" | tr -d '\n')
    printf 'owner=%s&expires=%s&signature=%s' "$addr" "$exp" "$sig"
}
# keccak_file FILE: keccak256 of a file's bytes (through stdin: blobs are
# larger than one command-line argument may be).
keccak_file() { od -An -v -tx1 "$1" | tr -d ' \n' | sed 's/^/0x/' | "$phx" util keccak - | tr -d '\n'; }

devnet_start "$tmp/ep.json" "$tmp/devnet.log" --dir "$PHX_HOME" --workers 1
check "devnet with one worker" 1 "$(json "$tmp/ep.json" "['workers'].__len__()" 2>/dev/null)"
w=$(json "$tmp/ep.json" "['workers'][0]['url']")
gw=$(json "$tmp/ep.json" "['gateway']")
wdir="$PHX_HOME/worker-0"
gdir="$PHX_HOME/gateway"
seed=seed-VICTIM-4242

cat >"$tmp/victim.js" <<'JS'
export default async function (input, ctx) { return { seedlen: (ctx.secrets.SEED || "").length }; }
JS
cat >"$tmp/dump.js" <<'JS'
export default async function (input, ctx) { return { leak: ctx.secrets.SEED || null }; }
JS

# The owner (the devnet's user key) deploys one contract on chain, one off chain.
"$phx" deploy "$tmp/victim.js" --secret SEED=$seed --json >"$tmp/on.json"
check "owner deploys on chain" 0 $?
"$phx" deploy "$tmp/victim.js" --secret SEED=$seed --no-chain --json >"$tmp/off.json"
check "owner deploys off chain" 0 $?
id_on=$(json "$tmp/on.json" "['id']")
id_off=$(json "$tmp/off.json" "['id']")
"$phx" call "$id_off" --input '{}' --json >"$tmp/r.json"
check "the off-chain contract sees its secret" 16 "$(json "$tmp/r.json" "['output']['seedlen']" 2>/dev/null)"

# What the attacker can read: the worker's record of the owner's deploy.
python3 - "$wdir/contracts" "$id_off" "$id_on" "$tmp/dump.js" "$tmp/victim.js" "$tmp" <<'PY'
import json, os, sys
d, id_off, id_on, dump, victim, tmp = sys.argv[1:]
def rec(i):
    return json.load(open(os.path.join(d, i[2:].lower() + '.json')))
sealed = rec(id_off).get('sealed_secrets')
json.dump({'id': id_off, 'code': open(dump).read(), 'sealed_secrets': sealed}, open(tmp + '/hijack_off.json', 'w'))
json.dump({'id': id_on, 'code': open(victim).read()}, open(tmp + '/strip_on.json', 'w'))
json.dump({'id': id_on, 'code': open(dump).read(), 'sealed_secrets': rec(id_on).get('sealed_secrets')},
          open(tmp + '/hijack_on.json', 'w'))
PY
check "the attacker has the sealed secrets from the worker's disk" 1 "$(grep -c ciphertext "$tmp/hijack_off.json")"

# Off chain: other code under the owner's id, with the owner's sealed secrets.
http POST "$gw/v1/contracts" "$tmp/hijack_off.json" >"$tmp/s"
check "off-chain hijack through the gateway is refused" 403 "$(head -1 "$tmp/s")"
http POST "$w/v1/contracts" "$tmp/hijack_off.json" >"$tmp/s"
check "off-chain hijack straight at the worker is refused" 403 "$(head -1 "$tmp/s")"
echo '{"input":{}}' >"$tmp/in.json"
http POST "$gw/v1/contracts/$id_off/call" "$tmp/in.json" >"$tmp/s"
check "the secret never comes back in clear" 0 "$(grep -c "$seed" "$tmp/s")"
check "the owner's code still runs" 1 "$(grep -c '"seedlen": *16' "$tmp/s")"

# On chain: the same code with the secrets stripped, and other code.
http POST "$gw/v1/contracts" "$tmp/strip_on.json" >"$tmp/s"
check "on-chain: stripping the secrets is refused" 403 "$(head -1 "$tmp/s")"
http POST "$gw/v1/contracts" "$tmp/hijack_on.json" >"$tmp/s"
check "on-chain: other code under the id is refused" 403 "$(head -1 "$tmp/s")"
http POST "$gw/v1/contracts/$id_on/call" "$tmp/in.json" >"$tmp/s"
check "on-chain: the contract still sees its secret" 1 "$(grep -c '"seedlen": *16' "$tmp/s")"

# The gateway keeps code, never sealed secrets, and serves none.
nblobs=$(find "$gdir/blobs" -type f | wc -l)
check "the gateway holds blobs" true "$([ "$nblobs" -ge 1 ] && echo true || echo false)"
check "no sealed secret on the gateway's disk" 0 "$(grep -rl -e sealed_secrets -e ciphertext "$gdir" | wc -l)"
served=0
for f in $(find "$gdir/blobs" -type f); do
    h=0x$(basename "$(dirname "$f")")$(basename "$f")
    http GET "$gw/v1/blobs/$h" >"$tmp/b"
    grep -q -e sealed_secrets -e ciphertext "$tmp/b" && served=$((served + 1))
done
check "no sealed secret served at /v1/blobs" 0 "$served"

# Logs and job history: the owner's signature, nobody else.
http GET "$gw/v1/contracts/$id_off/logs" >"$tmp/s"
check "logs without the owner's signature are refused" 403 "$(head -1 "$tmp/s")"
http GET "$gw/v1/jobs" >"$tmp/s"
check "job history without the owner's signature is refused" 403 "$(head -1 "$tmp/s")"
http GET "$gw/v1/jobs?contract=$id_off" >"$tmp/s"
check "one contract's jobs without its owner's signature are refused" 403 "$(head -1 "$tmp/s")"
http GET "$gw/v1/network" | tail -n +2 >"$tmp/n.json"
check "the network view lists no calls" 0 "$(json "$tmp/n.json" ".get('jobs', []).__len__()")"
python3 -c "import os; print(os.urandom(32).hex())" >"$tmp/attacker.key"
http GET "$gw/v1/contracts/$id_off/logs?$(owner_query "$tmp/attacker.key" logs "$id_off")" >"$tmp/s"
check "logs signed by someone else are refused" 403 "$(head -1 "$tmp/s")"
"$phx" logs "$id_off" --json >"$tmp/l.json"
check "phx logs (signed with the owner's key) works" 0 $?
check "and lists the owner's calls" true "$(python3 -c "import json,sys; print(str(len(json.load(open(sys.argv[1]))['jobs'])>=2).lower())" "$tmp/l.json")"

# Blob puts: a contract owner's signature, a size limit and a quota.
head -c 1000 /dev/urandom >"$tmp/small.bin"
http PUT "$gw/v1/blobs" "$tmp/small.bin" application/octet-stream >"$tmp/s"
check "an unsigned blob put is refused" 403 "$(head -1 "$tmp/s")"
hsmall=$(keccak_file "$tmp/small.bin")
http PUT "$gw/v1/blobs?$(owner_query "$tmp/attacker.key" blob-put "$hsmall")" "$tmp/small.bin" application/octet-stream >"$tmp/s"
check "a put signed by someone who owns no contract is refused" 403 "$(head -1 "$tmp/s")"
ukey="$PHX_HOME/user.key"
http PUT "$gw/v1/blobs?$(owner_query "$ukey" blob-put "$hsmall")" "$tmp/small.bin" application/octet-stream >"$tmp/s"
check "a put signed by a contract owner is stored" 201 "$(head -1 "$tmp/s")"
head -c 5000000 /dev/urandom >"$tmp/big.bin"
hbig=$(keccak_file "$tmp/big.bin")
http PUT "$gw/v1/blobs?$(owner_query "$ukey" blob-put "$hbig")" "$tmp/big.bin" application/octet-stream >"$tmp/s"
check "a blob over the size limit is 413" 413 "$(head -1 "$tmp/s")"
over=""
for i in 1 2 3 4 5 6; do
    head -c 3000000 /dev/urandom >"$tmp/mid.bin"
    hm=$(keccak_file "$tmp/mid.bin")
    http PUT "$gw/v1/blobs?$(owner_query "$ukey" blob-put "$hm")" "$tmp/mid.bin" application/octet-stream >"$tmp/s"
    st=$(head -1 "$tmp/s")
    [ "$st" = 201 ] && continue
    over="$st $(grep -c quota "$tmp/s")"
    break
done
check "puts past the owner's quota are refused, saying so" "403 1" "$over"

# Delete: the owner's alone, and what it replaced cannot be replayed.
python3 - "$wdir/contracts" "$gdir/contracts" "$id_off" "$tmp/victim.js" "$tmp/replay.json" <<'PY'
import json, os, sys
wd, gd, i, code, out = sys.argv[1:]
w = json.load(open(os.path.join(wd, i[2:].lower() + '.json')))
g = json.load(open(os.path.join(gd, i + '.json')))
json.dump({'id': i, 'code': open(code).read(), 'owner': g['owner'], 'salt': g['salt'],
           'nonce': g['nonce'], 'signature': g['signature'],
           'sealed_secrets': w['sealed_secrets']}, open(out, 'w'))
PY
http POST "$w/v1/contracts" "$tmp/replay.json" >"$tmp/s"
check "the owner's own signed deploy, sent again, is idempotent" 200 "$(head -1 "$tmp/s")"
"$phx" delete "$id_off" --key-file "$tmp/attacker.key" >/dev/null 2>"$tmp/del.err"
check "a delete signed by someone else is refused" 1 $?
"$phx" delete "$id_off" >/dev/null
check "the owner deletes the contract" 0 $?
http POST "$gw/v1/contracts/$id_off/call" "$tmp/in.json" >"$tmp/s"
check "a deleted contract is 404" 404 "$(head -1 "$tmp/s")"
http POST "$w/v1/contracts" "$tmp/replay.json" >"$tmp/s"
check "replaying the deploy the delete replaced is refused" 403 "$(head -1 "$tmp/s")"

# Fail closed: with the chain unreadable (anvil stopped) a deploy is refused.
anvil=$(json "$tmp/ep.json" "['pids']['anvil']")
kill -STOP "$anvil"
"$phx" deploy "$tmp/victim.js" --no-chain --gateway "$w" --json >"$tmp/fc.json" 2>"$tmp/fc.err"
check "a worker that cannot read the chain refuses a deploy" 1 $?
kill -CONT "$anvil"
anvil=""

kill -TERM $pid; wait $pid; check "devnet stops cleanly" 0 $?
pid=""
finish
