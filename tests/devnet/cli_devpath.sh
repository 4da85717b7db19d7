#!/bin/sh
# The contract developer's path (issue 16) against a one-worker devnet: a
# contract that throws or does not compile fails `phx call` (exit 1) with its
# signed envelope still shown; output is shown as the contract returned it
# (numbers unchanged, bytes as hex, bytes through --encrypt); `phx run`
# reports the same keccak-256 code hash as deploy; egress_denied says how to
# allow a host.
set -u
phx=${PHX_BIN:?PHX_BIN not set}
fail=0
check() { # check DESCRIPTION EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: got '$3', want '$2'"; fail=1; fi
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-devpath-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null && wait $pid; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"
unset PHX_GATEWAY
cast=${PHX_NODE_MODULES:-node_modules}/.bin/cast
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$1" "$2"; }

"$phx" devnet --dir "$tmp/net" --workers 1 --json >"$tmp/ep.json" 2>"$tmp/devnet.log" &
pid=$!
up=1
for _ in $(seq 1 900); do
    [ -s "$tmp/ep.json" ] && { up=0; break; }
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
check "devnet with one worker starts" 0 $up
[ $up = 0 ] || { cat "$tmp/devnet.log"; exit 1; }

deploy() { # deploy FILE -> prints the id
    "$phx" deploy "$1" --json >"$tmp/d.json" 2>"$tmp/d.err" || { cat "$tmp/d.err" >&2; return 1; }
    json "$tmp/d.json" "['id']"
}

# 1. A contract that throws: exit 1, the error named, the envelope printed.
printf 'export default async function (input) { throw new Error("no price for " + input.sym); }\n' >"$tmp/throw.js"
id=$(deploy "$tmp/throw.js"); check "deploy the throwing contract" 0 $?
"$phx" call "$id" --input '{"sym":"XYZ"}' >"$tmp/o" 2>"$tmp/e"
check "call of a contract that throws exits 1" 1 $?
grep -q "no price for XYZ" "$tmp/e"; check "and says what it threw" 0 $?
grep -q "^signature" "$tmp/o"; check "and still shows the signed envelope" 0 $?
"$phx" call "$id" --input '{"sym":"XYZ"}' --json >"$tmp/o.json" 2>/dev/null
check "call --json of a contract that throws exits 1" 1 $?
check "the envelope says ok false" False "$(json "$tmp/o.json" "['ok']")"

# 1b. Error locations name the user's file (its name; the path stays here),
#     not "contract.js".
printf 'export default async function (input) {\n  return input.a.b;\n}\n' >"$tmp/my_oracle.js"
id=$(deploy "$tmp/my_oracle.js")
"$phx" call "$id" --input '{}' >/dev/null 2>"$tmp/e"; check "a TypeError in a call exits 1" 1 $?
grep -q "(my_oracle.js:2)" "$tmp/e"; check "and its location is the user's file and line" 0 $?
grep -q "contract.js" "$tmp/e"; check "not contract.js" 1 $?
# A name that is not plain ([A-Za-z0-9._-]) is not kept: the location falls back.
cp "$tmp/my_oracle.js" "$tmp/bad name\$(x).js"
id=$(deploy "$tmp/bad name\$(x).js")
"$phx" call "$id" --input '{}' >/dev/null 2>"$tmp/e"
grep -q "(contract.js:2)" "$tmp/e"; check "a file name that is not plain is not shown" 0 $?

# 2. A contract that does not compile: deploy refuses it (exit 2) naming the
#    user's file and line, before anything is recorded on chain; deployed anyway
#    (--no-check), the call fails (exit 1).
printf 'export default async function (input) {\n  return input +;\n}\n' >"$tmp/syntax.js"
"$phx" deploy "$tmp/syntax.js" --salt 0x$(printf '%064x' 5) >/dev/null 2>"$tmp/e"
check "deploy of a syntax error exits 2" 2 $?
grep -q "syntax.js does not compile: SyntaxError.*($tmp/syntax.js:2)" "$tmp/e"
check "and names the file and line" 0 $?
[ -n "$(grep contract.js "$tmp/e")" ]; check "and not contract.js" 1 $?
jobs=$(json "$tmp/ep.json" "['deployment']['contracts']['Jobs']")
rpc=$(json "$tmp/ep.json" "['rpc']")
user=$(json "$tmp/ep.json" "['user']['address']")
sid=$("$cast" keccak "$("$cast" abi-encode 'f(address,bytes32)' "$user" 0x$(printf '%064x' 5))")
owner=$("$cast" call --rpc-url "$rpc" "$jobs" 'contracts(bytes32)(address,uint64,bytes32,string)' "$sid" | sed -n 1p)
check "and nothing was recorded on chain" 0x0000000000000000000000000000000000000000 "$owner"
"$phx" deploy "$tmp/syntax.js" --no-check --json >"$tmp/d.json" 2>"$tmp/d.err"
check "deploy --no-check takes it" 0 $?
id=$(json "$tmp/d.json" "['id']")
"$phx" call "$id" >/dev/null 2>"$tmp/e"; check "call of a contract that does not compile exits 1" 1 $?
grep -qi "syntax" "$tmp/e"; check "and names the syntax error" 0 $?

# 3. Output as the contract returned it.
printf 'export default async function () { return 3456.78; }\n' >"$tmp/num.js"
id=$(deploy "$tmp/num.js")
numid=$id
cp "$tmp/d.json" "$tmp/num.json"
"$phx" call "$id" >"$tmp/o"; check "call of a number contract exits 0" 0 $?
check "the number is shown as returned" "output     3456.78" "$(sed -n 1p "$tmp/o")"
# phx verify: the untouched envelope is valid (0); a tampered one is a
# verdict, exit 1, not bad input (2).
"$phx" call "$id" --json >"$tmp/res.json"; check "call --json of the number contract" 0 $?
"$phx" verify "$tmp/res.json" >/dev/null 2>&1; check "verify of the untouched result exits 0" 0 $?
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d['output']=9999.99; json.dump(d,open(sys.argv[2],'w'))" "$tmp/res.json" "$tmp/t1.json"
"$phx" verify "$tmp/t1.json" >/dev/null 2>&1; check "verify of a result with a tampered output exits 1" 1 $?
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d['output']=9999.99; d['output_bytes']='0x'+b'9999.99'.hex(); json.dump(d,open(sys.argv[2],'w'))" "$tmp/res.json" "$tmp/t2.json"
"$phx" verify "$tmp/t2.json" >/dev/null 2>&1; check "verify of a result with tampered output and bytes exits 1" 1 $?
printf 'not json' >"$tmp/t3.json"
"$phx" verify "$tmp/t3.json" >/dev/null 2>&1; check "verify of a file that is not a result exits 2" 2 $?
printf 'export default async function () { return new Uint8Array([0xde, 0xad, 0xbe, 0xef]); }\n' >"$tmp/bytes.js"
id=$(deploy "$tmp/bytes.js")
"$phx" call "$id" >"$tmp/o"; check "call of a bytes contract exits 0" 0 $?
check "bytes are shown as hex" "output     0xdeadbeef  (bytes)" "$(sed -n 1p "$tmp/o")"
"$phx" call "$id" --encrypt >"$tmp/o" 2>"$tmp/e"; check "call --encrypt of a bytes contract exits 0" 0 $?
check "and shows the opened bytes" "output     0xdeadbeef  (bytes)  (decrypted here)" "$(sed -n 1p "$tmp/o")"
"$phx" call "$id" --encrypt --json >"$tmp/o.json"; check "call --encrypt --json of bytes" 0 $?
check "output_plain is the hex" 0xdeadbeef "$(json "$tmp/o.json" "['output_plain']")"

# 4. One code hash: phx run reports what deploy and the chain use.
"$phx" run "$tmp/num.js" --kv "$tmp/kv" --json >"$tmp/r.json"; check "phx run" 0 $?
check "phx run's codeHash is deploy's keccak-256" "$(json "$tmp/num.json" "['code_hash']")" "$(json "$tmp/r.json" "['codeHash']")"

# 7. Lifecycle: phx update ID FILE changes the code on the same id (and on
#    chain); phx secrets set|rotate ID K=V changes the secrets, owner-signed;
#    another key is refused.
printf 'export default async function (input, ctx) { return { v: 1, k: ctx.secrets.K || null }; }\n' >"$tmp/v1.js"
printf 'export default async function (input, ctx) { return { v: 2, k: ctx.secrets.K || null }; }\n' >"$tmp/v2.js"
"$phx" deploy "$tmp/v1.js" --secret K=one --json >"$tmp/v.json"; check "deploy v1 with a secret" 0 $?
vid=$(json "$tmp/v.json" "['id']")
check "v1 runs with its secret" '{"v":1,"k":"one"}' "$("$phx" call "$vid" | sed -n 's/^output     //p')"
"$phx" update "$vid" "$tmp/v2.js" --secret K=two --json >"$tmp/u.json"; check "phx update" 0 $?
check "update keeps the id" "$vid" "$(json "$tmp/u.json" "['id']")"
check "the new code runs under the same id" '{"v":2,"k":"two"}' "$("$phx" call "$vid" | sed -n 's/^output     //p')"
v2hash=$("$phx" util keccak 0x$(od -An -v -tx1 "$tmp/v2.js" | tr -d ' \n'))
onchain=$("$cast" call --rpc-url "$rpc" "$jobs" 'contracts(bytes32)(address,uint64,bytes32,string)' "$vid" | sed -n 3p)
check "and the chain records the new code hash" "$v2hash" "$onchain"
"$phx" secrets rotate "$vid" K=three >/dev/null; check "phx secrets rotate" 0 $?
check "the code sees the new secret" '{"v":2,"k":"three"}' "$("$phx" call "$vid" | sed -n 's/^output     //p')"
"$phx" secrets set "$vid" K=four OTHER=x --json >"$tmp/s.json"; check "phx secrets set" 0 $?
check "secrets keep the code" "$v2hash" "$(json "$tmp/s.json" "['code_hash']")"
check "the code sees the set secret" '{"v":2,"k":"four"}' "$("$phx" call "$vid" | sed -n 's/^output     //p')"
python3 -c "import os; print(os.urandom(32).hex())" >"$tmp/other.key"
"$phx" update "$vid" "$tmp/v1.js" --key-file "$tmp/other.key" >/dev/null 2>"$tmp/e"
check "an update with another key is refused" 1 $?
grep -q "only its owner" "$tmp/e"; check "and says only the owner may" 0 $?
"$phx" secrets set "$vid" K=evil --key-file "$tmp/other.key" >/dev/null 2>&1
check "secrets from another key are refused" 1 $?
check "and the contract is unchanged" '{"v":2,"k":"four"}' "$("$phx" call "$vid" | sed -n 's/^output     //p')"
"$phx" secrets set "$vid" >/dev/null 2>&1; check "secrets set without K=V is a usage error" 2 $?
"$phx" update "$vid" "$tmp/syntax.js" >/dev/null 2>&1; check "an update that does not compile is refused" 2 $?

# 8. On chain, a Phat function's 0x hex-string return reaches the consumer as
#    the raw bytes it spells (Phala's convention), and non-JSON input reaches it
#    as one 0x prefix.
printf 'function main(request, secrets) {\n  if (request !== "0xbeef") throw new Error("input " + request);\n  return "0x" + "00".repeat(31) + "2a";\n}\n' >"$tmp/phat.js"
pid_phat=$(deploy "$tmp/phat.js"); check "deploy the Phat-style script" 0 $?
token=$(json "$tmp/ep.json" "['deployment']['contracts']['PhxToken']")
ukey=$(cat "$(json "$tmp/ep.json" "['user']['key_file']")")
bin=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['bytecode'])" "$(dirname "$phx")/contracts/TestConsumer.json")
cargs=$("$cast" abi-encode "c(address,address)" "$jobs" "$token" | cut -c3-)
consumer=$("$cast" send --rpc-url "$rpc" --private-key "0x${ukey#0x}" --json --create "${bin}${cargs}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["contractAddress"])')
[ -n "$consumer" ]; check "TestConsumer deployed" 0 $?
"$cast" send --rpc-url "$rpc" --private-key "0x${ukey#0x}" "$token" "transfer(address,uint256)" "$consumer" 10000000000000000000 >/dev/null
check "the consumer is funded" 0 $?
"$cast" send --rpc-url "$rpc" --private-key "0x${ukey#0x}" "$consumer" "ask(bytes32,bytes,uint256,uint32,uint8)" "$pid_phat" 0xbeef 10000000000000000000 300000 1 >/dev/null
check "on-chain request sent" 0 $?
n=0
for _ in $(seq 1 120); do
    n=$("$cast" call --rpc-url "$rpc" "$consumer" "callbacks()(uint256)")
    [ "$n" = 1 ] && break
    sleep 0.5
done
check "the callback came" 1 "$n"
check "it carries the 32 raw bytes, not the hex text" 32 "$("$cast" call --rpc-url "$rpc" "$consumer" "lastOutputLength()(uint256)")"
check "and they are the bytes the string spelled" "$("$cast" keccak 0x$(printf '%064x' 42))" "$("$cast" call --rpc-url "$rpc" "$consumer" "lastOutputHash()(bytes32)")"

# phx request: the same from the CLI, followed to its fulfilment.
"$phx" request "$pid_phat" --input 0xbeef --fee 10000000000000000000 --json >"$tmp/rq.json" 2>"$tmp/e"
check "phx request of the Phat contract" 0 $?
check "it was fulfilled with the raw bytes" "fulfilled 0x$(printf '%064x' 42)" "$(json "$tmp/rq.json" "['status']") $(json "$tmp/rq.json" "['output']")"
"$phx" request "$numid" --fee 10000000000000000000 >"$tmp/rq" 2>"$tmp/e"; check "phx request of the number contract" 0 $?
check "shows the JSON output as it is" "output     3456.78" "$(grep '^output' "$tmp/rq")"
"$phx" request "$pid_phat" --input 0xbeef >/dev/null 2>&1; check "phx request without --fee is a usage error" 2 $?
# A revert the CLI meets is named from the contracts' ABIs, arguments decoded.
"$phx" request 0x$(printf '%064x' 12345) --fee 1000 >/dev/null 2>"$tmp/e"; check "a request for an unknown contract fails" 1 $?
grep -q "Jobs.request: reverted: UnknownContract(0x0*3039)" "$tmp/e"; check "and names the revert UnknownContract(id)" 0 $?
grep -q "custom error" "$tmp/e"; check "not as a bare selector" 1 $?

# phx logs shows that on-chain run too (it never passed the gateway).
"$phx" logs "$pid_phat" >"$tmp/l" 2>&1; check "phx logs of the Phat contract" 0 $?
grep -Eq "^#[0-9]+ +fulfilled" "$tmp/l"; check "lists its on-chain run, fulfilled" 0 $?
"$phx" logs "$pid_phat" --json >"$tmp/l.json"
check "and in --json, both requests of this contract (TestConsumer's, phx request's)" "2 fulfilled $pid_phat" "$(json "$tmp/l.json" "['requests'].__len__()") $(json "$tmp/l.json" "['requests'][0]['status']") $(json "$tmp/l.json" "['requests'][0]['contract_id']")"
"$phx" logs "$vid" --json >"$tmp/l.json"
check "another contract's logs have none of its requests" 0 "$(json "$tmp/l.json" "['requests'].__len__()")"

# 6. An id no one deployed: the gateway says the contract does not exist.
"$phx" call 0x$(printf '%064x' 12345) >/dev/null 2>"$tmp/e"; check "call of an unknown id exits 1" 1 $?
grep -q "contract 0x0*3039 does not exist" "$tmp/e"; check "and says the contract does not exist" 0 $?
grep -q "not deployed on this worker" "$tmp/e"; check "not the worker's words" 1 $?

# 5. egress_denied says how to allow the host.
printf 'export default async function () { return (await fetch("http://127.0.0.1:9/x")).status; }\n' >"$tmp/eg.js"
"$phx" run "$tmp/eg.js" --kv "$tmp/kv" 2>"$tmp/e"; check "a fetch of loopback fails the run" 1 $?
grep -q "egress_denied: .*to allow it, run with --allow-host 127.0.0.1:9 " "$tmp/e"
check "egress_denied says how to allow exactly that host and port" 0 $?

kill -TERM $pid
wait $pid
check "devnet stops cleanly" 0 $?
pid=""
exit $fail
