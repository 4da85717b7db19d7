#!/bin/sh
# Paid direct calls end to end on a devnet of two workers of one operator
# (real anvil, KMS, workers, gateway): on the free devnet a call signed by `phx call` is served and the
# contract sees the caller's address as ctx.caller and the envelope's
# request_id as ctx.requestId; an unsigned call sees caller zero. Then
# governance sets a price: a call without a voucher is 402 naming the price, a
# replayed or forged voucher is refused, `phx call` pays with a voucher and is
# served, a total one worker served is refused by the operator's other worker
# (issue 12, item 4: the KMS's voucher ledger), and the workers' redemptions
# pay the operator exactly what the Payments contract records, out of the
# payer's deposit (read back on chain).
# Skipped (77) when this phx has no worker verb.
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
skip_without_worker
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-paid-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"
cast="${PHX_NODE_MODULES:-${PHX_SOURCE_DIR:-.}/node_modules}/.bin/cast"
# anvil's first development account: the devnet's governor
gov_key=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
post() { python3 -c "
import sys,urllib.request,urllib.error
q=urllib.request.Request(sys.argv[1], data=open(sys.argv[2],'rb').read(), headers={'Content-Type':'application/json'})
try:
    r=urllib.request.urlopen(q, timeout=60); print(r.status); sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); sys.stdout.write(e.read().decode())" "$1" "$2"; }
rd() { "$cast" call --rpc-url "$rpc" "$@" | sed 's/ .*//'; }

devnet_start "$tmp/ep.json" "$tmp/devnet.log" --dir "$PHX_HOME" --workers 2 --operators 1
check "devnet with two workers" 2 "$(json "$tmp/ep.json" "['workers'].__len__()" 2>/dev/null)"
w=$(json "$tmp/ep.json" "['workers'][0]['url']")
w1=$(json "$tmp/ep.json" "['workers'][1]['url']")
op=$(json "$tmp/ep.json" "['workers'][0]['operator']")
check "  of one operator" "$op" "$(json "$tmp/ep.json" "['workers'][1]['operator']")"
user=$(lower "$(json "$tmp/ep.json" "['user']['address']")")
rpc=$(json "$tmp/ep.json" "['rpc']")
pay=$(json "$tmp/ep.json" "['deployment']['contracts']['Payments']")
token=$(json "$tmp/ep.json" "['deployment']['contracts']['PhxToken']")
check_nonempty "the deployment has Payments" "$pay"

"$phx" pay balance --json >"$tmp/b0.json"
check "the devnet's user has 1000 PHA deposited" 1000000000000000000000 "$(json "$tmp/b0.json" "['balance']")"
check "direct calls are free on a devnet" 0 "$(json "$tmp/b0.json" "['price_per_call']")"

printf 'export default async function (input, ctx) { let x = 0; for (let i = 0; i < (input.spin | 0); i++) x += i; return { caller: ctx.caller, rid: ctx.requestId, n: input.n }; }\n' >"$tmp/c.js"
"$phx" deploy "$tmp/c.js" --json >"$tmp/d.json"
check "phx deploy" 0 $?
id=$(json "$tmp/d.json" "['id']")

# Free network: phx call signs anyway, so the contract knows who called.
"$phx" call "$id" --input '{"n":1}' --json >"$tmp/r1.json"
check "a signed free call is served" 0 $?
check "ctx.caller is the signer's address" "$user" "$(lower "$(json "$tmp/r1.json" "['output']['caller']")")"
check "ctx.requestId is the envelope's request_id" "$(json "$tmp/r1.json" "['request_id']")" "$(json "$tmp/r1.json" "['output']['rid']")"
"$phx" verify "$tmp/r1.json" >/dev/null 2>&1
check "the envelope verifies" 0 $?
printf '{"input":{"n":2}}' >"$tmp/plain.json"
post "$w/v1/contracts/$id/call" "$tmp/plain.json" >"$tmp/s"
check "an unsigned call on a free worker is served" 200 "$(head -1 "$tmp/s")"
tail -n +2 "$tmp/s" >"$tmp/r2.json"
check "and its ctx.caller is zero" 0x0000000000000000000000000000000000000000 "$(json "$tmp/r2.json" "['output']['caller']")"

# Governance sets a price: 0.001 PHA per call + 1e12 wei per CPU-millisecond.
# The devnet handed Payments to the timelock, so its deployer cannot; a vote can.
# (npm's cast exits 0 even when the node refuses: read what it printed and the price.)
"$cast" send --rpc-url "$rpc" --private-key "$gov_key" "$pay" 'setPrice(uint256,uint256)' 1000000000000000 1000000000000 >"$tmp/setprice.out" 2>&1
check "setPrice by the old governor (the deployer) reverts" 1 "$(grep -c 'execution reverted' "$tmp/setprice.out")"
"$phx" pay balance --json >"$tmp/b1.json"
check "  and the price is still 0" 0 "$(json "$tmp/b1.json" "['price_per_call']")"
printf '%s\n' "$gov_key" >"$tmp/gov.key"
gov_pass "$tmp/gov.key" Payments 'setPrice(uint256,uint256)' '["1000000000000000", "1000000000000"]' "price direct calls"
check "a governance vote sets the price through the timelock" 0 $?
post "$w/v1/contracts/$id/call" "$tmp/plain.json" >"$tmp/s"
check "a call without a voucher is 402" 402 "$(head -1 "$tmp/s")"
tail -n +2 "$tmp/s" >"$tmp/402.json"
check "402 says payment_required" payment_required "$(json "$tmp/402.json" "['error']['code']")"
check "402 names the price per call" 1000000000000000 "$(json "$tmp/402.json" "['payment']['price_per_call']")"
check "402 names the operator to pay" "$(lower "$op")" "$(lower "$(json "$tmp/402.json" "['payment']['operator']")")"

op_before=$(rd "$token" 'balanceOf(address)(uint256)' "$op")
"$phx" call "$id" --input '{"n":3}' --json >"$tmp/r3.json" 2>"$tmp/r3.err"
check "phx call pays with a voucher and is served" 0 $?
check "paid: ctx.caller is the payer" "$user" "$(lower "$(json "$tmp/r3.json" "['output']['caller']")")"
check "the voucher pays the worker's operator" "$(lower "$op")" "$(lower "$(json "$tmp/r3.json" "['payment']['operator']")")"
cum=$(json "$tmp/r3.json" "['payment']['cumulative']")
check "the voucher covers at least the price per call" True "$(python3 -c "print(int('$cum') >= 10**15)")"
"$phx" call "$id" --input '{"n":4}' --json >"$tmp/r4.json"
check "a second paid call" 0 $?
cum2=$(json "$tmp/r4.json" "['payment']['cumulative']")
charged=$(json "$tmp/r3.json" "['payment']['charged']")
check "the next voucher adds the price to what was charged (CPU included)" \
    "$(python3 -c "print(int('$charged') + 10**15)")" "$cum2"

# A voucher signed by another tool (cast), over the contract's own digest, is
# accepted; the same voucher again is refused (402: not new), and a voucher
# whose amount or call was changed after signing is refused (403).
ukey=$(cat "$(json "$tmp/ep.json" "['user']['key_file']")")
ih=$("$cast" keccak '{"n":7}')
ch=$("$cast" keccak "0x$(printf 'phx-call-v1' | od -An -v -tx1 | tr -d ' \n')${id#0x}${ih#0x}")
vcum=$(python3 -c "print(int('$cum2') + 10**16)")
dg=$(rd "$pay" 'voucherDigest(address,address,uint256,bytes32)(bytes32)' "$user" "$op" "$vcum" "$ch")
sig=$("$cast" wallet sign --no-hash --private-key "$ukey" "$dg")
# The same total signed for another call (n=10): what a payer would send the
# operator's other worker.
ih10=$("$cast" keccak '{"n":10}')
ch10=$("$cast" keccak "0x$(printf 'phx-call-v1' | od -An -v -tx1 | tr -d ' \n')${id#0x}${ih10#0x}")
dg10=$(rd "$pay" 'voucherDigest(address,address,uint256,bytes32)(bytes32)' "$user" "$op" "$vcum" "$ch10")
sig10=$("$cast" wallet sign --no-hash --private-key "$ukey" "$dg10")
python3 -c "
import json,sys
v={'payer':sys.argv[1],'operator':sys.argv[2],'cumulative':sys.argv[3],'signature':sys.argv[4]}
json.dump({'input':{'n':7},'voucher':v},open(sys.argv[5],'w'))
v2=dict(v,cumulative=str(int(sys.argv[3])+1)); json.dump({'input':{'n':7},'voucher':v2},open(sys.argv[6],'w'))
json.dump({'input':{'n':8},'voucher':v},open(sys.argv[7],'w'))
json.dump({'input':{'n':10},'voucher':dict(v,signature=sys.argv[8])},open(sys.argv[9],'w'))
" "$user" "$op" "$vcum" "$sig" "$tmp/v.json" "$tmp/forged.json" "$tmp/moved.json" "$sig10" "$tmp/twin.json"
# Issue 12, item 4: each worker keeps its own journal and Payments.redeemed
# lags by the redeem interval (2 s here; no blocks are mined meanwhile, so it
# cannot catch up in between), so the operator's other worker must learn from
# the KMS's voucher ledger that this total was served: the same total signed
# for another call, and the very voucher, are 402 there, asking for more.
"$cast" rpc --rpc-url "$rpc" evm_setAutomine false >/dev/null
post "$w/v1/contracts/$id/call" "$tmp/v.json" >"$tmp/s"
check "a voucher signed with cast is accepted" 200 "$(head -1 "$tmp/s")"
post "$w1/v1/contracts/$id/call" "$tmp/twin.json" >"$tmp/s"
check "the total worker 0 served, signed for another call, is refused by worker 1 of the same operator (402)" 402 "$(head -1 "$tmp/s")"
tail -n +2 "$tmp/s" >"$tmp/twin402.json"
check "  and its 402 asks for more than that total" True \
    "$(python3 -c "import json,sys; print(int(json.load(open(sys.argv[1]))['payment']['required_cumulative']) > $vcum)" "$tmp/twin402.json" 2>&1)"
post "$w1/v1/contracts/$id/call" "$tmp/v.json" >"$tmp/s"
check "the very voucher worker 0 served is refused by worker 1 (402)" 402 "$(head -1 "$tmp/s")"
"$cast" rpc --rpc-url "$rpc" evm_setAutomine true >/dev/null && "$cast" rpc --rpc-url "$rpc" evm_mine >/dev/null
check "the chain mines again" 0 $?
post "$w/v1/contracts/$id/call" "$tmp/v.json" >"$tmp/s"
check "the same voucher again is 402" 402 "$(head -1 "$tmp/s")"
post "$w/v1/contracts/$id/call" "$tmp/forged.json" >"$tmp/s"
check "a voucher with a changed amount is refused (403)" 403 "$(head -1 "$tmp/s")"
post "$w/v1/contracts/$id/call" "$tmp/moved.json" >"$tmp/s"
check "a voucher moved to another call is refused (403)" 403 "$(head -1 "$tmp/s")"

# The CPU a call used is owed at the operator's other worker too: a call
# that spins at worker 0, then a voucher at worker 1 that adds only the price
# per call to its total (leaving the CPU out) is 402; one that covers the
# charge is served. voucher_body INPUT CUMULATIVE OUT: a call body with a
# voucher the user signs with cast.
voucher_body() {
    _ih=$("$cast" keccak "$1")
    _ch=$("$cast" keccak "0x$(printf 'phx-call-v1' | od -An -v -tx1 | tr -d ' \n')${id#0x}${_ih#0x}")
    _dg=$(rd "$pay" 'voucherDigest(address,address,uint256,bytes32)(bytes32)' "$user" "$op" "$2" "$_ch")
    _sig=$("$cast" wallet sign --no-hash --private-key "$ukey" "$_dg")
    python3 -c "
import json,sys
json.dump({'input':json.loads(sys.argv[1]),'voucher':{'payer':sys.argv[2],'operator':sys.argv[3],'cumulative':sys.argv[4],'signature':sys.argv[5]}},open(sys.argv[6],'w'))
" "$1" "$user" "$op" "$2" "$_sig" "$3"
}
scum=$(json "$tmp/twin402.json" "['payment']['required_cumulative']")
voucher_body '{"n":11,"spin":3000000}' "$scum" "$tmp/spin.json"
post "$w/v1/contracts/$id/call" "$tmp/spin.json" >"$tmp/s"
check "a spinning call at worker 0 is served" 200 "$(head -1 "$tmp/s")"
tail -n +2 "$tmp/s" >"$tmp/spin.out"
scharged=$(json "$tmp/spin.out" "['payment']['charged']")
check "  and charged for its CPU" True "$(python3 -c "print($scharged > $scum)")"
voucher_body '{"n":12}' "$(python3 -c "print($scum + 10**15)")" "$tmp/nocpu.json"
post "$w1/v1/contracts/$id/call" "$tmp/nocpu.json" >"$tmp/s"
check "a voucher at worker 1 leaving that CPU out is refused (402)" 402 "$(head -1 "$tmp/s")"
voucher_body '{"n":12}' "$(python3 -c "print($scharged + 10**15)")" "$tmp/withcpu.json"
post "$w1/v1/contracts/$id/call" "$tmp/withcpu.json" >"$tmp/s"
check "  one that covers it is served" 200 "$(head -1 "$tmp/s")"
vcum=$(python3 -c "print($scharged + 10**15)")

# phx call's own total is now behind what the worker counts: it learns the
# required amount from the 402 and signs again.
"$phx" call "$id" --input '{"n":9}' --json >"$tmp/r5.json"
check "phx call catches up after a 402" 0 $?
cum2=$(json "$tmp/r5.json" "['payment']['cumulative']")
check "its voucher is above the cast one" True "$(python3 -c "print(int('$cum2') > $vcum)")"

# The worker redeems every 2 s on a devnet: the operator is paid what Payments
# records as redeemed, and the payer's deposit went down by as much.
paid_up() { [ "$(rd "$pay" 'redeemed(address,address)(uint256)' "$user" "$op")" = "$cum2" ]; }
wait_until 300 paid_up
check "Payments records the latest voucher as redeemed" "$cum2" "$(rd "$pay" 'redeemed(address,address)(uint256)' "$user" "$op")"
op_after=$(rd "$token" 'balanceOf(address)(uint256)' "$op")
check "the operator's PHA grew by the redeemed total" "$cum2" "$(python3 -c "print($op_after - $op_before)")"
"$phx" pay balance --json >"$tmp/b1.json"
left=$(json "$tmp/b1.json" "['balance']")
check "the deposit went down by as much" "$(python3 -c "print(10**21 - $cum2)")" "$left"

# phx pay: deposit more, ask to withdraw, wait out the notice, withdraw.
"$phx" pay deposit 2.5 --json >"$tmp/b2.json"
check "phx pay deposit 2.5" "$(python3 -c "print($left + 25 * 10**17)")" "$(json "$tmp/b2.json" "['balance']")"
"$phx" pay withdraw 100 --json >"$tmp/b3.json"
check "phx pay withdraw asks for 100 PHA" 100000000000000000000 "$(json "$tmp/b3.json" "['pending_withdrawal']")"
"$phx" pay withdraw --finish >/dev/null 2>"$tmp/early.err"
check "withdrawing before the notice is over fails (exit 1)" 1 $?
check "and says why" NoticeNotOver "$(grep -o NoticeNotOver "$tmp/early.err" | head -1)"
"$cast" rpc --rpc-url "$rpc" evm_increaseTime 11 >/dev/null && "$cast" rpc --rpc-url "$rpc" evm_mine >/dev/null
wallet=$(json "$tmp/b3.json" "['wallet']")
"$phx" pay withdraw --finish --json >"$tmp/b4.json"
check "after the notice the withdrawal goes through" 0 $?
check "the wallet got the 100 PHA" "$(python3 -c "print($wallet + 10**20)")" "$(json "$tmp/b4.json" "['wallet']")"
finish
