#!/bin/sh
# phx devnet --chains 2: two anvils, every worker configured with both
# ("main", the devnet's own chain, and "b"); a deployed contract reads both and
# sends on b from its own address (its key from the KMS, the same on every
# worker), and is refused any value until its owner sets a spending limit;
# that limit holds across the three workers (the KMS outbox sums their sends).
set -u
phx=${PHX_BIN:?PHX_BIN not set}
. "$(dirname "$0")/../lib.sh"
skip_without_worker
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-evmchains-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null && wait $pid; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"
unset PHX_GATEWAY
cast=${PHX_NODE_MODULES:-node_modules}/.bin/cast
FUNDER=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 # anvil's account 0

devnet_start "$tmp/ep.json" "$tmp/devnet.log" --dir "$tmp/net" --workers 3 --chains 2
check "devnet with two chains starts" 0 $?
[ -s "$tmp/ep.json" ] || { cat "$tmp/devnet.log"; exit 1; }
MAIN=$(json "$tmp/ep.json" "['chains']['main']['rpc']")
B=$(json "$tmp/ep.json" "['chains']['b']['rpc']")
check "chain main is the devnet's own" "$(json "$tmp/ep.json" "['rpc']")" "$MAIN"
check "chain b has the next chain id" "$(($(json "$tmp/ep.json" "['chain_id']") + 1))" \
    "$(json "$tmp/ep.json" "['chains']['b']['chain_id']")"
check "chain b is another node" "$(json "$tmp/ep.json" "['chains']['b']['chain_id']")" \
    "$("$cast" chain-id --rpc-url "$B" 2>/dev/null)"

cat >"$tmp/agent.js" <<'JS'
export default async function (i) {
  const me = await phx.crypto.address();
  const out = { me, main: String(await phx.evm.getBalance('main', me)), b: String(await phx.evm.getBalance('b', me)) };
  if (i.sign) { // two transactions for one nonce, for the KMS outbox checks below
    const tx = (to) => ({ chainId: i.chainId, nonce: 1000, to, gas: 21000, maxFeePerGas: 2n * 10n ** 9n, maxPriorityFeePerGas: 1 });
    out.raws = [await phx.eth.signTransaction(tx('0x00000000000000000000000000000000000000b1')),
      await phx.eth.signTransaction(tx('0x00000000000000000000000000000000000000b2'))];
  }
  if (i.send) {
    out.sent = await phx.evm.send(i.chain || 'b', { to: '0x00000000000000000000000000000000000000aa', value: BigInt(i.value || 0) });
  }
  return out;
}
JS
"$phx" deploy "$tmp/agent.js" --json >"$tmp/d.json" 2>"$tmp/d.err" || cat "$tmp/d.err"
id=$(json "$tmp/d.json" "['id']")
"$phx" call "$id" --input '{}' --json >"$tmp/c1.json" 2>"$tmp/c1.err"
check "the contract reads both chains" 0 $?
ME=$(json "$tmp/c1.json" "['output']['me']")
check "unfunded on main" 0 "$(json "$tmp/c1.json" "['output']['main']")"
"$cast" send -q --rpc-url "$B" --private-key $FUNDER "$ME" --value 1ether >/dev/null 2>&1
# Two calls: the gateway spreads them over both workers, which sign as one address.
# Each call its own input: a direct call's request id is its input and the
# second it started, and two sends under one request id are one action.
"$phx" call "$id" --input '{"send":true,"n":1}' --json >"$tmp/c2.json" 2>"$tmp/c2.err"
check "a send on chain b succeeds" success "$(json "$tmp/c2.json" "['output']['sent']['status']")"
check "... from the contract's own address" "$ME" "$(json "$tmp/c2.json" "['output']['sent']['from']")"
"$phx" call "$id" --input '{"send":true,"n":2}' --json >"$tmp/c3.json" 2>"$tmp/c3.err"
check "a second send, same address" "$ME" "$(json "$tmp/c3.json" "['output']['sent']['from']")"
check "two transactions, nonces 0 and 1" 2 "$("$cast" nonce "$ME" --rpc-url "$B" 2>/dev/null)"
"$phx" call "$id" --input '{"send":true,"value":"5"}' --json >"$tmp/c4.json" 2>"$tmp/c4.err"
check "value without the owner's spending limit: spend_limit" spend_limit \
    "$(json "$tmp/c4.json" "['output']['error']['code']")"
check "... and nothing was signed" 2 "$("$cast" nonce "$ME" --rpc-url "$B" 2>/dev/null)"

# The owner's signed limit: value up to the cap, per window; a bigger send is
# refused with spend_limit; a limit signed by anyone else is refused.
"$phx" limit "$id" b=100/3600 >"$tmp/l.out" 2>"$tmp/l.err"
check "phx limit sets 100 wei per hour on b" "limit on b: 100 wei per 3600 s" "$(cat "$tmp/l.out")"
"$phx" call "$id" --input '{"send":true,"value":"60"}' --json >"$tmp/c5.json" 2>"$tmp/c5.err"
check "a send of 60 wei under the cap" success "$(json "$tmp/c5.json" "['output']['sent']['status']")"
check "... moved the value" 60 "$("$cast" balance 0x00000000000000000000000000000000000000aa --rpc-url "$B" 2>/dev/null)"
"$phx" call "$id" --input '{"send":true,"value":"150"}' --json >"$tmp/c6.json" 2>"$tmp/c6.err"
check "a send over the cap: spend_limit" spend_limit "$(json "$tmp/c6.json" "['output']['error']['code']")"
check "... and nothing was signed" 3 "$("$cast" nonce "$ME" --rpc-url "$B" 2>/dev/null)"
echo 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d >"$tmp/other.key" # anvil's account 1
"$phx" limit "$id" b=1000000/3600 --key-file "$tmp/other.key" >/dev/null 2>"$tmp/l2.err"
check "a limit not signed by the owner is refused" 1 $?
grep -q "not signed by the contract's owner" "$tmp/l2.err" || { echo "FAIL l2 message: $(cat "$tmp/l2.err")"; fail=1; }
"$phx" limit "$id" b=0/1 >/dev/null 2>&1
"$phx" call "$id" --input '{"send":true,"value":"1"}' --json >"$tmp/c7.json" 2>/dev/null
check "a newer limit replaces it (0 wei)" spend_limit "$(json "$tmp/c7.json" "['output']['error']['code']")"

# One writer per contract across workers: the same request (a direct call's
# request id is the input's hash and the second, so one input sent to both
# workers at once is one request) runs on both workers; each journals and
# signs its own transaction, the KMS outbox keeps the first, and both
# broadcast that one: one transaction on chain, both answers name it.
W1=$(json "$tmp/ep.json" "['workers'][0]['url']")
W2=$(json "$tmp/ep.json" "['workers'][1]['url']")
before=$("$cast" nonce "$ME" --rpc-url "$B" 2>/dev/null)
same=no
for try in 1 2 3 4 5; do
    body="{\"input\":{\"send\":true,\"try\":$try}}"
    curl -s -X POST -H 'content-type: application/json' -d "$body" "$W1/v1/contracts/$id/call" >"$tmp/w1.json" &
    p1=$!
    curl -s -X POST -H 'content-type: application/json' -d "$body" "$W2/v1/contracts/$id/call" >"$tmp/w2.json"
    wait $p1
    [ "$(json "$tmp/w1.json" "['request_id']")" = "$(json "$tmp/w2.json" "['request_id']")" ] && { same=yes; break; }
    before=$("$cast" nonce "$ME" --rpc-url "$B" 2>/dev/null)
done
check "both workers ran one request" yes "$same"
check "... and both answer with one transaction" "$(json "$tmp/w1.json" "['output']['sent']['hash']")" \
    "$(json "$tmp/w2.json" "['output']['sent']['hash']")"
check "... which is the only one on chain" "$((before + 1))" "$("$cast" nonce "$ME" --rpc-url "$B" 2>/dev/null)"

# The KMS outbox itself, with transactions the contract signed (nonce 1000).
KMS=$(json "$tmp/ep.json" "['kms']['url']")
"$phx" call "$id" --input "{\"sign\":true,\"chainId\":$(json "$tmp/ep.json" "['chains']['b']['chain_id']")}" --json >"$tmp/s.json" 2>/dev/null
R1=$(json "$tmp/s.json" "['output']['raws'][0]")
R2=$(json "$tmp/s.json" "['output']['raws'][1]")
ob() { # ob OUT CONTRACT ACTION RAW [RELEASE]
    curl -s -X POST -H 'content-type: application/json' \
        -d "{\"contract_id\":\"$2\",\"action\":\"$3\",\"raw\":\"$4\",\"release\":${5:-false}}" \
        "$KMS/v1/outbox" >"$tmp/$1"
}
ob o1 "$id" t/0/b "$R1"
check "outbox: the first transaction of an action is kept" "True 1000" "$(jsonx "$tmp/o1" "'%s %d' % (d['first'], d['nonce'])")"
ob o2 "$id" t/0/b "$R2"
check "outbox: a second one for the action gets the first back" "False $R1" "$(jsonx "$tmp/o2" "'%s %s' % (d['first'], d['raw'])")"
ob o3 "$id" u/0/b "$R2"
check "outbox: another action on a held nonce is told the next one" "True 1001" "$(jsonx "$tmp/o3" "'%s %d' % (d['taken'], d['next_nonce'])")"
ob o4 0x$(printf '%064x' 1) v/0/b "$R1"
check "outbox: a transaction not signed by the contract's key is refused" verify "$(json "$tmp/o4" "['error']['code']")"
ob o5 "$id" t/0/b "$R2" true
check "outbox: release names the held transaction or nothing" False "$(json "$tmp/o5" "['released']")"
ob o6 "$id" t/0/b "$R1" true
ob o7 "$id" t/0/b "$R2"
check "outbox: after a release the action takes a new transaction" "True True $R2" \
    "$(json "$tmp/o6" "['released']") $(jsonx "$tmp/o7" "'%s %s' % (d['first'], d['raw'])")"

# Issue 15: the cap holds network-wide. Each worker checks the cap over what
# it sent itself, so three workers could each move the whole cap; the KMS
# outbox, which every send passes, sums the value of all and refuses a new
# action over the owner's signed cap with the same spend_limit code.
W3=$(json "$tmp/ep.json" "['workers'][2]['url']")
"$cast" send -q --rpc-url "$MAIN" --private-key $FUNDER "$ME" --value 1ether >/dev/null 2>&1
"$phx" limit "$id" main=100/3600 >/dev/null 2>"$tmp/l3.err"
check "phx limit sets 100 wei per hour on main" 0 $?
for i in 1 2 3; do
    eval "url=\$W$i"
    curl -s -X POST -H 'content-type: application/json' \
        -d "{\"input\":{\"send\":true,\"chain\":\"main\",\"value\":\"60\",\"w\":$i}}" \
        "$url/v1/contracts/$id/call" >"$tmp/cap$i.json"
done
codes=$(for i in 1 2 3; do jsonx "$tmp/cap$i.json" \
    "d['output']['sent']['status'] if 'sent' in d['output'] else d['output']['error']['code']"; done)
check "60 wei from each of 3 workers under a cap of 100: the 2nd and 3rd are refused" \
    "success spend_limit spend_limit" "$(echo $codes)"
check "... and only 60 wei moved on main" 60 \
    "$("$cast" balance 0x00000000000000000000000000000000000000aa --rpc-url "$MAIN" 2>/dev/null)"
grep -q "already sent by the network's workers" "$tmp/cap2.json" ||
    { echo "FAIL cap message: $(cat "$tmp/cap2.json")"; fail=1; }
# A rebroadcast of an action the outbox holds is not new spending: never refused.
H1=$(json "$tmp/cap1.json" "['output']['sent']['hash']")
RAW1=$("$cast" tx "$H1" --raw --rpc-url "$MAIN" 2>/dev/null)
ob o8 "$id" "$(json "$tmp/cap1.json" "['request_id']")/0/main" "$RAW1"
check "outbox: the held action posted again, over the cap, gets its transaction back" "$H1" \
    "$(json "$tmp/o8" "['hash']")"

# Issue 15: direct-call ids. phx call gives each call its own random nonce and
# the request id derives from input and nonce: two calls with one input are
# two requests and make two sends, whatever second they start in; the same
# call again with its nonce (a retry) is the same request and sends nothing new.
before=$("$cast" nonce "$ME" --rpc-url "$B" 2>/dev/null)
"$phx" call "$id" --input '{"send":true,"twice":1}' --json >"$tmp/t1.json" 2>"$tmp/t1.err"
"$phx" call "$id" --input '{"send":true,"twice":1}' --json >"$tmp/t2.json" 2>"$tmp/t2.err"
check "two calls with one input are two requests" 1 \
    "$([ "$(json "$tmp/t1.json" "['request_id']")" != "$(json "$tmp/t2.json" "['request_id']")" ] && echo 1)"
check "... and make two transactions" "$((before + 2))" "$("$cast" nonce "$ME" --rpc-url "$B" 2>/dev/null)"
N=0x$(printf 'a5%.0s' $(seq 32))
"$phx" call "$id" --input '{"send":true,"retry":1}' --nonce "$N" --json >"$tmp/r1.json" 2>"$tmp/r1.err"
sleep 1
"$phx" call "$id" --input '{"send":true,"retry":1}' --nonce "$N" --json >"$tmp/r2.json" 2>"$tmp/r2.err"
check "a retry with the same --nonce, a second later, is the same request and transaction" \
    "$(jsonx "$tmp/r1.json" "d['request_id'] + ' ' + d['output']['sent']['hash']")" \
    "$(jsonx "$tmp/r2.json" "d['request_id'] + ' ' + d['output']['sent']['hash']")"
check "... which is the only one it made" "$((before + 3))" "$("$cast" nonce "$ME" --rpc-url "$B" 2>/dev/null)"
check "the envelope names the call's nonce" "$N" "$(json "$tmp/r2.json" "['nonce']")"
"$phx" verify "$tmp/r2.json" --trust-sim-root "$PHX_HOME/sim" >"$tmp/v.out" 2>&1
check "phx verify accepts it (the id commits to input and nonce)" 0 $? || cat "$tmp/v.out"
check "phx call --nonce wants 32 bytes (exit 2)" 2 \
    "$("$phx" call "$id" --input 1 --nonce 0x12 >/dev/null 2>&1; echo $?)"
# Issue 15 follow-up: the spending cap follows the contract's owner on chain.
# After Jobs.transferContract the old owner's limit is refused by the worker
# (naming both addresses) and the new owner's is accepted by the worker and by
# the KMS outbox, which then lets value through under the new cap.
JOBS=$(json "$tmp/ep.json" "['deployment']['contracts']['Jobs']")
NEW=0x70997970C51812dc3A010C7d01b50e0d17dc79C8 # anvil's account 1 (other.key)
"$cast" send -q --rpc-url "$MAIN" --private-key "$(cat "$PHX_HOME/user.key")" "$JOBS" \
    "transferContract(bytes32,address)" "$id" "$NEW" >/dev/null 2>"$tmp/tr.err"
check "Jobs.transferContract moves the contract" "$(echo "$NEW" | tr A-F a-f)" \
    "$("$cast" call --rpc-url "$MAIN" "$JOBS" "contracts(bytes32)(address,uint32,bytes32,string)" "$id" 2>/dev/null | head -1 | tr A-F a-f)"
"$phx" limit "$id" b=1000000/3600 >/dev/null 2>"$tmp/l4.err"
check "after the transfer the old owner's limit is refused" 1 $?
grep -qi "$NEW" "$tmp/l4.err" || { echo "FAIL l4 message: $(cat "$tmp/l4.err")"; fail=1; }
"$phx" limit "$id" b=200/3600 --key-file "$tmp/other.key" >"$tmp/l5.out" 2>"$tmp/l5.err"
check "the new owner's limit is accepted" "limit on b: 200 wei per 3600 s" "$(cat "$tmp/l5.out")" ||
    cat "$tmp/l5.err"
bal=$("$cast" balance 0x00000000000000000000000000000000000000aa --rpc-url "$B" 2>/dev/null)
"$phx" call "$id" --input '{"send":true,"value":"50","owner":2}' --json >"$tmp/c8.json" 2>"$tmp/c8.err"
check "... and the KMS outbox lets value through under it" success \
    "$(json "$tmp/c8.json" "['output']['sent']['status']")" || cat "$tmp/c8.json" "$tmp/c8.err"
check "... moving the value" "$((bal + 50))" \
    "$("$cast" balance 0x00000000000000000000000000000000000000aa --rpc-url "$B" 2>/dev/null)"
"$phx" call "$id" --input '{"send":true,"value":"100","owner":3}' --json >"$tmp/c9.json" 2>/dev/null
check "... and holds its cap (60 + 50 + 100 > 200)" spend_limit "$(json "$tmp/c9.json" "['output']['error']['code']")"
finish
