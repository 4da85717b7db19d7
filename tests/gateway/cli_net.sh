#!/bin/sh
# The user's verbs through a real `phx gateway` and a real `phx kms`, with a
# stand-in worker (tests/gateway/stand_in_worker.py) until `phx worker` exists:
# deploy (id = Jobs.contractId(owner, salt), code hash checked), secrets and
# --encrypt inputs sealed to the KMS-signed contract key so neither the gateway's
# disk nor the worker's request holds them in clear, a forged KMS address
# refused, call/logs/workers/jobs, and how the network is found (--gateway,
# $PHX_GATEWAY, $PHX_HOME/endpoints.json).
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-net-cli-XXXXXX")
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/home"
mkdir -p "$PHX_HOME"
unset PHX_GATEWAY

python3 "$here/stand_in_worker.py" "$tmp/bodies.txt" >"$tmp/worker.port" &
pids="$pids $!"
wait_file "$tmp/worker.port" 600; check "stand-in worker up" 0 $?
wurl="http://127.0.0.1:$(cat "$tmp/worker.port")"
"$phx" kms --dir "$tmp/kms" --sim-dir "$tmp/sim" --listen 127.0.0.1:0 --allow-own-measurement --json >"$tmp/kms.json" 2>"$tmp/kms.log" &
pids="$pids $!"
wait_file "$tmp/kms.json" 600; check "kms up" 0 $?
kms_url=$(json "$tmp/kms.json" "['url']")
kms_addr=$(json "$tmp/kms.json" "['kms_address']")
"$phx" gateway --dir "$tmp/gw" --listen 127.0.0.1:0 --worker "$wurl" --kms "$kms_url" --json >"$tmp/gw.json" 2>"$tmp/gw.log" &
pids="$pids $!"
wait_file "$tmp/gw.json" 600; check "gateway up" 0 $?
gw=$(json "$tmp/gw.json" "['url']")

"$phx" workers >/dev/null 2>"$tmp/err"; check "no network known: usage error" 2 $?
grep -q "phx devnet" "$tmp/err"; check "and the message says how to get one" 0 $?
# The devnet's endpoints file is the last resort.
# The owner's key, as a devnet's endpoints file names it ("user"."key_file").
python3 -c "import os; print(os.urandom(32).hex())" >"$tmp/user.key"
printf '{"gateway":"%s","kms":{"address":"%s"},"user":{"key_file":"%s"}}\n' "$gw" "$kms_addr" "$tmp/user.key" >"$PHX_HOME/endpoints.json"
"$phx" workers --json >"$tmp/w.json"; check "workers via endpoints.json" 0 $?
check "one worker, healthy" "1 True" "$(json "$tmp/w.json" "['workers'].__len__()") $(json "$tmp/w.json" "['workers'][0]['healthy']")"
PHX_GATEWAY=http://127.0.0.1:1 "$phx" workers >/dev/null 2>&1; check "PHX_GATEWAY wins over endpoints.json" 1 $?
PHX_GATEWAY=http://127.0.0.1:1 "$phx" workers --gateway "$gw" >/dev/null; check "--gateway wins over PHX_GATEWAY" 0 $?

cat >"$tmp/c.js" <<'JS'
export default async function (input, ctx) { return { echo: input, key: ctx.secrets.API_KEY.length }; }
JS
"$phx" deploy "$tmp/c.js" --no-chain --secret API_KEY=sk-live-TOPSECRET-123 --json >"$tmp/d.json"
check "deploy with a secret" 0 $?
id=$(json "$tmp/d.json" "['id']")
want_hash=$("$phx" util keccak 0x$(od -An -v -tx1 "$tmp/c.js" | tr -d ' \n'))
check "code hash is keccak256 of the file" "$want_hash" "$(json "$tmp/d.json" "['code_hash']")"
h=$(json "$tmp/d.json" "['code_hash']" | cut -c3-)
blob="$tmp/gw/blobs/$(echo "$h" | cut -c1-2)/$(echo "$h" | cut -c3-)"
[ -f "$blob" ]; check "code stored under its hash" 0 $?
cmp -s "$blob" "$tmp/c.js"; check "stored code equals the file" 0 $?
grep -q sealed_secrets "$tmp/bodies.txt"; check "the worker got sealed secrets" 0 $?
grep -rq TOPSECRET "$tmp/gw" "$tmp/bodies.txt" "$tmp/gw.log"; check "secret never in clear at gateway or worker request" 1 $?

"$phx" call "$id" --input '{"q":"ETH/USD"}' --json >"$tmp/r.json"; check "plain call" 0 $?
check "output is the contract's answer" "ETH/USD" "$(json "$tmp/r.json" "['output']['q']")"
"$phx" call "$id" --input '{"card":"4111-PRIVATE-9999"}' --encrypt --json >"$tmp/r2.json"; check "encrypted call" 0 $?
grep -q sealed_input "$tmp/bodies.txt"; check "the worker got a sealed input" 0 $?
grep -rq PRIVATE "$tmp/gw" "$tmp/bodies.txt" "$tmp/gw.log"; check "input never in clear at gateway or worker request" 1 $?
"$phx" call "$id" --input '{}' --encrypt --kms-address 0x000000000000000000000000000000000000dead >/dev/null 2>"$tmp/err"
check "a key not signed by the trusted KMS is refused" 1 $?
grep -q "not the KMS" "$tmp/err"; check "and says so" 0 $?
"$phx" call 0x1234 --input '{}' >/dev/null 2>&1; check "bad id: usage error" 2 $?
"$phx" call "$id" --input '{bad' >/dev/null 2>&1; check "bad input JSON: usage error" 2 $?
"$phx" call 0x$(printf '%064x' 7) --input 1 >/dev/null 2>"$tmp/err"; check "unknown contract fails" 1 $?

"$phx" logs "$id" --json >"$tmp/l.json"; check "logs" 0 $?
check "logs list both calls" 2 "$(json "$tmp/l.json" "['jobs'].__len__()")"
check "with the worker's log lines" called "$(json "$tmp/l.json" "['jobs'][0]['logs'][0]")"
"$phx" logs "$id" | grep -q "| called"; check "logs text shows log lines" 0 $?
"$phx" jobs "$id" --json >"$tmp/j.json"; check "jobs of the contract (owner-signed)" 0 $?
check "jobs list its two calls" 2 "$(json "$tmp/j.json" "['jobs'].__len__()")"
"$phx" logs "$id" --key-file "$tmp/other.key" >/dev/null 2>&1; check "logs with a missing key file: usage error" 2 $?
python3 -c "import os; print(os.urandom(32).hex())" >"$tmp/other.key"
"$phx" logs "$id" --key-file "$tmp/other.key" >/dev/null 2>"$tmp/err"; check "logs signed by another key are refused" 1 $?
"$phx" workers | grep -q healthy; check "workers text" 0 $?

# The isolation choice at deploy (docs/sandbox.md, "Isolation"): it is put in
# the code, where the code hash and the owner's signature cover it.
check "a plain deploy is warm" warm "$(json "$tmp/d.json" "['isolation']")"
"$phx" deploy "$tmp/c.js" --no-chain --isolation process --json >"$tmp/dp.json"
check "deploy --isolation process" 0 $?
check "reported as process" process "$(json "$tmp/dp.json" "['isolation']")"
h=$(json "$tmp/dp.json" "['code_hash']" | cut -c3-)
blob="$tmp/gw/blobs/$(echo "$h" | cut -c1-2)/$(echo "$h" | cut -c3-)"
check "the code sent starts with the directive" '"use process isolation"; export default' "$(head -c 39 "$blob" 2>/dev/null)"
tail -c +26 "$blob" | cmp -s - "$tmp/c.js"; check "followed by the file, unchanged" 0 $?
want_hash=$("$phx" util keccak 0x$(od -An -v -tx1 "$blob" | tr -d ' \n'))
check "the signed code hash is of the code with the directive" "$want_hash" "$(json "$tmp/dp.json" "['code_hash']")"
cp "$blob" "$tmp/strict.js"
"$phx" deploy "$tmp/strict.js" --no-chain --isolation process --json >"$tmp/dp2.json"
check "a file that has the directive is sent as it is" "0x$h" "$(json "$tmp/dp2.json" "['code_hash']")"
"$phx" deploy "$tmp/strict.js" --no-chain --isolation warm >/dev/null 2>"$tmp/err"
check "warm cannot loosen a file that asks for process: usage error" 2 $?
grep -q "cannot loosen" "$tmp/err"; check "and says so" 0 $?
"$phx" deploy "$tmp/c.js" --no-chain --isolation fast >/dev/null 2>"$tmp/err"
check "an unknown isolation: usage error" 2 $?
"$phx" secrets set "$id" K=V --isolation process >/dev/null 2>&1
check "--isolation on phx secrets: usage error" 2 $?
finish
