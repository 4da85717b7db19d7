#!/bin/sh
# Issue 16 against one devnet (one worker): an on-chain request whose input is
# sealed to the contract's key (`phx request --encrypt`) reaches the contract
# in clear inside the TEE and never appears on chain, in the logs Jobs emits,
# or in the devnet's own logs; then the JS SDK's own tests (sdk/js/test, node's
# test runner) against the same devnet: verify, seal + call, request + callback.
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
src=${PHX_SOURCE_DIR:?PHX_SOURCE_DIR not set}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-sdk-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null && wait $pid; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"
unset PHX_GATEWAY
cast=${PHX_NODE_MODULES:-$src/node_modules}/.bin/cast

devnet_start "$tmp/ep.json" "$tmp/devnet.log" --dir "$tmp/net" --workers 1
check "devnet with one worker starts" 0 $?
[ -s "$tmp/ep.json" ] || { cat "$tmp/devnet.log"; exit 1; }
rpc=$(json "$tmp/ep.json" "['rpc']")
jobs=$(json "$tmp/ep.json" "['deployment']['contracts']['Jobs']")

secret="hunter2-$$-$(date +%s)"
secret_hex=$(printf '%s' "$secret" | od -An -v -tx1 | tr -d ' \n')
printf '%s\n' 'export default async function (input) {' \
    '  if (!input || typeof input.secret !== "string") throw new Error("no secret in " + JSON.stringify(input));' \
    '  return { sum: input.a + input.b, secretLength: input.secret.length };' '}' >"$tmp/sum.js"
"$phx" deploy "$tmp/sum.js" --json >"$tmp/d.json" 2>"$tmp/e"; check "deploy the contract" 0 $?
id=$(json "$tmp/d.json" "['id']")
printf 'export default async function () { return "other"; }\n' >"$tmp/other.js"
"$phx" deploy "$tmp/other.js" --json >"$tmp/d2.json" 2>"$tmp/e"; check "deploy another contract" 0 $?

# 1. phx request --encrypt: the contract sees the clear input.
"$phx" request "$id" --input "{\"a\":40,\"b\":2,\"secret\":\"$secret\"}" --encrypt --fee 10000000000000000000 --json >"$tmp/rq.json" 2>"$tmp/e"
check "phx request --encrypt" 0 $?
check "it was fulfilled" fulfilled "$(json "$tmp/rq.json" "['status']")"
out=$(json "$tmp/rq.json" "['output']")
check "the contract got the clear input" "{\"sum\":42,\"secretLength\":${#secret}}" "$(python3 -c "import sys; print(bytes.fromhex(sys.argv[1][2:]).decode())" "$out")"
# 2. The plaintext is nowhere on chain: not in the request's calldata, not in
#    any log of its receipt (Requested carries the input), not in the
#    Fulfilled output.
tx=$(json "$tmp/rq.json" "['tx']")
"$cast" tx --rpc-url "$rpc" "$tx" input >"$tmp/calldata"; check "the request's calldata is read" 0 $?
check_nonempty "the calldata is there" "$(cat "$tmp/calldata")"
grep -qi "$secret_hex" "$tmp/calldata"; check "the calldata does not carry the plaintext" 1 $?
grep -qi "$(printf 'phx-sealed-v1' | od -An -v -tx1 | tr -d ' \n')" "$tmp/calldata"
check "it carries the sealed input" 0 $?
"$cast" receipt --rpc-url "$rpc" "$tx" --json >"$tmp/rcpt.json"; check "its receipt is read" 0 $?
grep -qi "$secret_hex" "$tmp/rcpt.json"; check "no log of it carries the plaintext" 1 $?
grep -qi "$secret_hex" "$tmp/rq.json"; check "nor does the output" 1 $?
# 3. Nor in the devnet's logs (worker, KMS, gateway), nor phx logs / phx jobs.
grep -rqa "$secret" "$tmp/net/logs" "$tmp/devnet.log"; check "no devnet log holds the plaintext" 1 $?
"$phx" logs "$id" --json >"$tmp/l.json" 2>"$tmp/e"; check "phx logs" 0 $?
grep -qia "$secret\|$secret_hex" "$tmp/l.json"; check "phx logs shows no plaintext" 1 $?
# 4. The key is taken only from the KMS the caller trusts.
other=$(json "$tmp/d2.json" "['id']")
"$phx" request "$other" --input '{"a":1}' --encrypt --kms-address 0x0000000000000000000000000000000000000001 --fee 10000000000000000000 >/dev/null 2>"$tmp/e"
check "--encrypt with an untrusted KMS address fails" 1 $?
grep -q "the contract key is not the KMS's" "$tmp/e"; check "and says the key is not the KMS's" 0 $?
"$phx" request "$id" --input 1 --kms-address 0x0000000000000000000000000000000000000001 --fee 1 >/dev/null 2>&1
check "--kms-address without --encrypt is a usage error" 2 $?

# 5. The SDK's own tests (among them the wrong-key request, from JS).
PHX_ENDPOINTS="$tmp/ep.json" node --test "$src/sdk/js/test/" >"$tmp/node.out" 2>&1
rc=$?
sed 's/^/    /' "$tmp/node.out"
check "sdk/js tests pass against the devnet" 0 $rc
grep -q "^# fail 0" "$tmp/node.out"; check "and none failed" 0 $?
grep -Eq "^# pass [1-9]" "$tmp/node.out"; check "and some ran" 0 $?

kill -TERM $pid
wait $pid
check "devnet stops cleanly" 0 $?
pid=""
finish
