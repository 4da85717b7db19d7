#!/bin/sh
# Trigger firings paid from the owner's Payments deposit (issue 15) on a devnet
# with 2 workers (anvil mining a block a second): governance sets a price P per
# call; a fresh owner deposits 4 P and deploys a contract with a block trigger
# (every 2 blocks). Four firings are recorded, then the deposit is exhausted:
# the workers log the firing as "not run: unpaid", `phx triggers` and `phx
# logs` show UNPAID with the reason, and no firing is recorded for a while.
# The owner tops up 3 P with `phx pay deposit` and firings resume until it is
# spent again. From the chain: exactly 7 firings recorded (Jobs.Fired), the
# owner's deposit fell by exactly 7 P, and the operators' fees owed in Jobs
# (their pools' due) rose by exactly 7 P.
# Skipped (77) when this phx has no worker verb.
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
skip_without_worker
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-trigpay-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"
cast="${PHX_NODE_MODULES:-${PHX_SOURCE_DIR:-.}/node_modules}/.bin/cast"
# anvil's first development account: the devnet's governor (and ETH for gas)
gov_key=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
price=1000000000000000 # P = 0.001 PHA
rd() { "$cast" call --rpc-url "$rpc" "$@" | sed 's/ .*//'; }

devnet_start "$tmp/ep.json" "$tmp/devnet.log" --dir "$PHX_HOME" --workers 2 --block-time 1
check "devnet with 2 workers" 2 "$(json "$tmp/ep.json" "['workers'].__len__()" 2>/dev/null)"
rpc=$(json "$tmp/ep.json" "['rpc']")
jobs=$(json "$tmp/ep.json" "['deployment']['contracts']['Jobs']")
pay=$(json "$tmp/ep.json" "['deployment']['contracts']['Payments']")
token=$(json "$tmp/ep.json" "['deployment']['contracts']['PhxToken']")
ops=$(jsonx "$tmp/ep.json" "' '.join(w['operator'] for w in d['workers'])")
ukey=$(cat "$(json "$tmp/ep.json" "['user']['key_file']")")
check "Jobs charges firings to Payments" "$(lower "$pay")" "$(lower "$(rd "$jobs" 'payments()(address)')")"
check "Payments takes charges from Jobs only" "$(lower "$jobs")" "$(lower "$(rd "$pay" 'jobs()(address)')")"
owed() { # the operators' fees owed by Jobs, summed
    _s=0
    for _o in $ops; do _s=$((_s + $(rd "$jobs" 'feesOwed(address)(uint256)' "$_o"))); done
    echo "$_s"
}

printf '%s\n' "$gov_key" >"$tmp/gov.key"
gov_pass "$tmp/gov.key" Payments 'setPrice(uint256,uint256)' "[\"$price\", \"0\"]" "price calls and firings"
check "a governance vote sets the price" 0 $?

# A fresh owner: ETH for gas, 1 PHA, 4 P deposited.
okey=$(python3 -c 'import secrets; print("0x" + secrets.token_hex(32))')
printf '%s\n' "$okey" >"$tmp/owner.key"
owner=$("$cast" wallet address --private-key "$okey")
"$cast" send --rpc-url "$rpc" --private-key "$gov_key" "$owner" --value 1ether >/dev/null 2>&1
"$cast" send --rpc-url "$rpc" --private-key "$ukey" "$token" 'transfer(address,uint256)' "$owner" 1000000000000000000 >/dev/null 2>&1
check "the owner has 1 PHA" 1000000000000000000 "$(rd "$token" 'balanceOf(address)(uint256)' "$owner")"
"$phx" pay deposit 0.004 --key-file "$tmp/owner.key" >/dev/null
check "the owner deposits 4 P" 0 $?
dep() { "$phx" pay balance "$owner" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["balance"])'; }
check "deposit D = 4 P" $((4 * price)) "$(dep)"
owed0=$(owed)

cat >"$tmp/agent.js" <<'JS'
export default async function (input, ctx) { return { block: ctx.trigger.block }; }
JS
printf '[{"name":"blocks","kind":"block","every":2}]' >"$tmp/triggers.json"
"$phx" deploy "$tmp/agent.js" --key-file "$tmp/owner.key" --triggers "$tmp/triggers.json" --json >"$tmp/d.json"
check "the owner deploys a contract with a block trigger" 0 $?
id=$(json "$tmp/d.json" "['id']")

fired() { "$phx" triggers "$id" --json >"$tmp/t.json" 2>/dev/null && json "$tmp/t.json" "['firings'].__len__()"; }
status() { "$phx" triggers "$id" --json >"$tmp/t.json" 2>/dev/null && json "$tmp/t.json" "['payment']['status']"; }
is_unpaid() { [ "$(status)" = unpaid ]; }
fired_at_least() { _n=$(fired) && [ "$_n" -ge "$1" ]; }
block_at_least() { [ "$("$cast" block-number --rpc-url "$rpc")" -ge "$1" ]; }
unpaid_logged() { cat "$PHX_HOME"/logs/worker-*.log 2>/dev/null | grep -q 'not run: unpaid: the owner'; }
wait_until 600 is_unpaid
check "the deposit runs out: phx triggers says unpaid" unpaid "$(status)"
check "after exactly 4 recorded firings" 4 "$(fired)"
check "the deposit is spent" 0 "$(dep)"
check "phx triggers --json gives the reason" True \
    "$(jsonx "$tmp/t.json" "'short of the firing price $price wei' in d['payment']['reason']")"
"$phx" triggers "$id" >"$tmp/t.txt"
grep -q '^firings: UNPAID, not run: the owner .* short of the firing price' "$tmp/t.txt"
check "phx triggers prints UNPAID and why" 0 $?
"$phx" logs "$id" --key-file "$tmp/owner.key" --json >"$tmp/logs.json"
check "phx logs --json carries firing_payment unpaid" unpaid "$(json "$tmp/logs.json" "['firing_payment']['status']")"
"$phx" logs "$id" --key-file "$tmp/owner.key" | grep -q '^firings: UNPAID'
check "phx logs prints UNPAID" 0 $?
wait_until 300 unpaid_logged
check "a worker logs the unpaid firing as not run, with the reason" 0 $?
# Firings stop: 8 more blocks (4 firings due) and none recorded.
b=$("$cast" block-number --rpc-url "$rpc")
wait_until 300 block_at_least $((b + 8))
check "no firing recorded while unpaid" 4 "$(fired)"

"$phx" pay deposit 0.003 --key-file "$tmp/owner.key" >/dev/null
check "the owner tops up 3 P" 0 $?
wait_until 600 fired_at_least 7
wait_until 300 is_unpaid
check "firings resume after the top-up, and stop again when it is spent" unpaid "$(status)"
# A few more blocks: nothing past what was paid for.
b=$("$cast" block-number --rpc-url "$rpc")
wait_until 300 block_at_least $((b + 6))
n=$(fired)
check "exactly 7 firings recorded for 7 P" 7 "$n"
check "the owner's deposit fell by exactly n x P (to 0)" 0 "$(dep)"
check "the operators' pools are owed exactly n x P more" $((7 * price)) "$(($(owed) - owed0))"
check "every recorded firing ran ok" 7 "$(jsonx "$tmp/t.json" "sum(1 for f in d['firings'] if f['ok'])")"

kill -TERM $pid
wait $pid
check "devnet stops cleanly" 0 $?
pid=""
finish
