#!/bin/sh
# A worker that cheats is caught, on a running devnet (anvil, KMS, three
# workers, gateway). Worker 1 runs with `--test-misbehave equivocate`: it
# serves a request and publishes two different signed results for it; bogus
# reports (the same result twice, a second result signed by another key) are
# refused by `phx stake report-equivocation` before any transaction and by
# StakePool on chain; the real report slashes the operator's pool by the
# governed share, pays the reporter its part and the treasury the rest,
# invalidates the worker, and the next request is served by an honest worker.
# Worker 2 runs with `--test-misbehave corrupt`: the request it serves is
# fulfilled with its wrong output (what k-of-n requests are for).
set -u
phx=${PHX_BIN:?PHX_BIN not set}
. "$(dirname "$0")/../lib.sh"
skip_without_worker
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-equiv-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null && wait $pid; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"
get() { python3 -c "
import sys,urllib.request,urllib.error
try:
    r=urllib.request.urlopen(sys.argv[1], timeout=30); print(r.status); sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); sys.stdout.write(e.read().decode())" "$1"; }

devnet_start "$tmp/ep.json" "$tmp/devnet.log" --dir "$PHX_HOME" --workers 3 \
    --test-misbehave 1=equivocate --test-misbehave 2=corrupt
check "devnet with three workers, 1 equivocating, 2 corrupt" 3 "$(json "$tmp/ep.json" "['workers'].__len__()" 2>/dev/null)" ||
    { tail -5 "$tmp/devnet.log"; finish; }
rpc=$(json "$tmp/ep.json" "['rpc']")
reg=$(json "$tmp/ep.json" "['deployment']['contracts']['Registry']")
jobs=$(json "$tmp/ep.json" "['deployment']['contracts']['Jobs']")
pool=$(json "$tmp/ep.json" "['deployment']['contracts']['StakePool']")
token=$(json "$tmp/ep.json" "['deployment']['contracts']['PhxToken']")
good=$(lower "$(json "$tmp/ep.json" "['workers'][0]['address']")")
bad=$(lower "$(json "$tmp/ep.json" "['workers'][1]['address']")")
good_url=$(json "$tmp/ep.json" "['workers'][0]['url']")
bad_url=$(json "$tmp/ep.json" "['workers'][1]['url']")
corrupt=$(lower "$(json "$tmp/ep.json" "['workers'][2]['address']")")
bad_op=$(json "$tmp/ep.json" "['workers'][1]['operator']")
user=$(json "$tmp/ep.json" "['user']['address']")
ukey=$(cat "$(json "$tmp/ep.json" "['user']['key_file']")")
call() { "$cast" call --rpc-url "$rpc" "$@" | cut -d' ' -f1; }
status_of() { "$cast" call --rpc-url "$rpc" "$reg" 'workers(address)(address,uint8,uint32,uint64,bytes32,bytes32,bytes32,address)' "$1" | sed -n 2p; }
check "the three workers are active" "1 1 1" "$(status_of "$good") $(status_of "$bad") $(status_of "$corrupt")"
# first_of below ranks among all three, so wait until every worker's job loop
# shares requests among three too (a worker that started before the others
# registered reads its list again when the Registry changes).
three() {
    for _i in 0 1 2; do
        grep -h 'active workers share the requests' "$PHX_HOME/logs/worker-$_i.log" 2>/dev/null |
            tail -n 1 | grep -q ' 3 active workers' || return 1
    done
}
wait_until 600 three
check "every worker shares the requests among the three" 0 $?
"$phx" worker --test-misbehave equivocate --tee tdx --dir "$tmp/tdx" --rpc "$rpc" \
    --deployment "$PHX_HOME/deployment.json" --kms "$(json "$tmp/ep.json" "['kms']['url']")" \
    --kms-address "$(json "$tmp/ep.json" "['kms']['address']")" \
    --operator-key-file "$PHX_HOME/worker-0/operator.key" >/dev/null 2>"$tmp/tdx.err"
check "--test-misbehave with a TEE other than the sim: usage (exit 2)" 2 $?
check "  saying it is for tests on the sim TEE only" 1 "$(grep -c 'tests on the sim TEE only' "$tmp/tdx.err")"

printf 'export default async function (input) { return { n: input.n }; }\n' >"$tmp/c.js"
"$phx" deploy "$tmp/c.js" --json >"$tmp/d.json" 2>"$tmp/d.err"
check "deploy a contract" 0 $?
id=$(json "$tmp/d.json" "['id']")
"$cast" send --rpc-url "$rpc" --private-key "$ukey" "$token" 'approve(address,uint256)' "$jobs" 100000000000000000000 >/dev/null
request() {
    "$cast" send --rpc-url "$rpc" --private-key "$ukey" "$jobs" 'request(bytes32,bytes,uint256,uint32,uint8)' \
        "$id" "$1" 1000000000000000000 100000 1 >/dev/null
    call "$jobs" 'requestCount()(uint256)'
}
# The job loop ranks the active workers for a request by keccak256(id || address)
# (src/worker/jobloop.c): first_of ID ADDRESS... names the one that serves it.
# next_for ADDRESS OTHERS... sends throwaway requests until the next one is
# ADDRESS's to serve first (each is a toss between the workers), then that one.
rank_key() { "$phx" util keccak "0x$(printf '%064x' "$1")${2#0x}"; }
first_of() {
    _id=$1
    shift
    for _a in "$@"; do echo "$(rank_key "$_id" "$_a") $_a"; done | sort | head -1 | cut -d' ' -f2
}
next_for() {
    for _ in $(seq 1 30); do
        _next=$(($(call "$jobs" 'requestCount()(uint256)') + 1))
        [ "$(first_of $_next "$@")" = "$1" ] && break
        request 0x7b226e223a307d >/dev/null
    done
    request "$(printf '0x%s' "$(printf '{"n":%d}' "$_next" | od -An -v -tx1 | tr -d ' \n')")"
}
n=$(next_for "$bad" "$good" "$corrupt")
check "request $n is the equivocating worker's to serve" "$bad" "$(first_of "$n" "$bad" "$good" "$corrupt")"
two() { get "$bad_url/v1/jobs/$n/results" | tail -n +2 >"$tmp/ev.json" && [ "$(jsonx "$tmp/ev.json" "len(d['results'])" 2>/dev/null)" = 2 ]; }
wait_until 3000 two # a cap on a hang: under load the filler requests before it take minutes
check "the equivocating worker publishes two signed results for request $n" 2 "$(jsonx "$tmp/ev.json" "len(d['results'])")"
check "  both signed by it" "$bad $bad" "$(jsonx "$tmp/ev.json" "' '.join(r['worker'] for r in d['results'])")"
check "  with different outputs" True "$(jsonx "$tmp/ev.json" "d['results'][0]['output_bytes'] != d['results'][1]['output_bytes']")"
st_of() { "$cast" call --rpc-url "$rpc" "$jobs" 'requests(uint256)(address,uint8,uint8,uint32,uint64,bytes32,bytes32,uint256)' "$1" | sed -n 2p; }
wait_until 300 sh -c "[ \"\$('$cast' call --rpc-url '$rpc' '$jobs' 'requests(uint256)(address,uint8,uint8,uint32,uint64,bytes32,bytes32,uint256)' $n | sed -n 2p)\" = 2 ]"
check "request $n was fulfilled (with one of the two outputs)" 2 "$(st_of "$n")"
get "$bad_url/v1/jobs/0/results" >"$tmp/s"
check "results of request 0: bad request (400)" 400 "$(sed -n 1p "$tmp/s")"

# ---- bogus reports: refused here, and by the contract ------------------------------
jsonx "$tmp/ev.json" "json.dumps(d['results'][0])" >"$tmp/a.json"
jsonx "$tmp/ev.json" "json.dumps(d['results'][1])" >"$tmp/b.json"
"$phx" stake report-equivocation "$tmp/a.json" "$tmp/a.json" >"$tmp/same.out" 2>&1
check "the same result twice: refused (exit 1)" 1 $?
check "  saying why" 1 "$(grep -c 'same outcome: not an equivocation' "$tmp/same.out")"
# A second result for the same request, properly signed, but by another key.
cid=$(json "$tmp/a.json" "['contract_id']")
ch=$(json "$tmp/a.json" "['code_hash']")
ok=$(json "$tmp/a.json" "['ok']" | tr 'FT' 'ft')
other_out=0x$(printf '{"n":42}' | od -An -v -tx1 | tr -d ' \n')
dg=$(call "$jobs" 'resultDigest(uint256,bytes32,bytes32,bool,bytes32)(bytes32)' "$n" "$cid" "$ch" "$ok" "$("$cast" keccak "$other_out")")
osig=$("$cast" wallet sign --no-hash --private-key "$ukey" "$dg")
python3 -c "
import json,sys
d=json.load(open(sys.argv[1])); d.pop('output',None)
d.update(worker=sys.argv[2], output_bytes=sys.argv[3], signature=sys.argv[4])
json.dump(d,open(sys.argv[5],'w'))" "$tmp/a.json" "$user" "$other_out" "$osig" "$tmp/other.json"
"$phx" stake report-equivocation "$tmp/a.json" "$tmp/other.json" >"$tmp/other.out" 2>&1
check "results by two different workers: refused (exit 1)" 1 $?
check "  saying why" 1 "$(grep -c 'signed by different workers' "$tmp/other.out")"
"$phx" stake report-equivocation "$tmp/a.json" >"$tmp/one.out" 2>&1
check "one result only: usage (exit 2)" 2 $?
"$phx" stake report-equivocation >/dev/null 2>&1
check "no evidence: usage (exit 2)" 2 $?
sig_a=$(json "$tmp/a.json" "['signature']")
out_a=$("$cast" keccak "$(json "$tmp/a.json" "['output_bytes']")")
"$cast" call --rpc-url "$rpc" --from "$user" "$pool" \
    'reportEquivocation(address,uint256,bytes32,bytes32,bool,bytes32,bytes,bool,bytes32,bytes)' \
    "$bad" "$n" "$cid" "$ch" "$ok" "$out_a" "$sig_a" "$ok" "$out_a" "$sig_a" >"$tmp/chain_same.out" 2>&1
check "on chain, the same result twice reverts NotEquivocation" 1 "$(grep -c 'NotEquivocation\|0x0b69ebb3' "$tmp/chain_same.out")"
"$cast" call --rpc-url "$rpc" --from "$user" "$pool" \
    'reportEquivocation(address,uint256,bytes32,bytes32,bool,bytes32,bytes,bool,bytes32,bytes)' \
    "$bad" "$n" "$cid" "$ch" "$ok" "$out_a" "$sig_a" "$ok" "$("$cast" keccak "$other_out")" "$osig" >"$tmp/chain_other.out" 2>&1
check "on chain, a second signature by another key reverts NotEquivocation" 1 "$(grep -c 'NotEquivocation\|0x0b69ebb3' "$tmp/chain_other.out")"

# ---- the real report -------------------------------------------------------------
treasury=$(call "$pool" 'treasury()(address)')
slash_bps=$(call "$pool" 'slashBps()(uint16)')
rep_bps=$(call "$pool" 'reporterBps()(uint16)')
"$phx" stake pool info "$bad_op" --json >"$tmp/p0.json"
stake0=$(json "$tmp/p0.json" "['total_stake']")
bal0=$(call "$token" 'balanceOf(address)(uint256)' "$user")
tre0=$(call "$token" 'balanceOf(address)(uint256)' "$treasury")
"$phx" stake report-equivocation "$bad_url/v1/jobs/$n/results" --json >"$tmp/rep.json" 2>"$tmp/rep.err"
check "report-equivocation with the worker's published results: exit 0" 0 $? || cat "$tmp/rep.err"
"$phx" stake pool info "$bad_op" --json >"$tmp/p1.json"
stake1=$(json "$tmp/p1.json" "['total_stake']")
bal1=$(call "$token" 'balanceOf(address)(uint256)' "$user")
tre1=$(call "$token" 'balanceOf(address)(uint256)' "$treasury")
slashed=$(python3 -c "from decimal import Decimal as D; print(int(D('$stake0')*10**18)*$slash_bps//10000)")
to_rep=$(python3 -c "print($slashed*$rep_bps//10000)")
check "the pool lost slashBps ($slash_bps) of its stake ($stake0 PHA)" "$slashed" \
    "$(python3 -c "from decimal import Decimal as D; print(int(D('$stake0')*10**18) - int(D('$stake1')*10**18))")"
check "  a non-zero amount" True "$(python3 -c "print($slashed > 0)")"
check "the reporter got reporterBps ($rep_bps) of it" "$to_rep" "$(python3 -c "print($bal1 - $bal0)")"
check "  and said so" "$(python3 -c "from decimal import Decimal as D; print(D($to_rep)/D(10**18))")" \
    "$(python3 -c "from decimal import Decimal as D; print(D('$(json "$tmp/rep.json" "['reporter_reward']")'))")"
check "the treasury got the rest" "$(python3 -c "print($slashed - $to_rep)")" "$(python3 -c "print($tre1 - $tre0)")"
check "the equivocating worker is invalidated" 3 "$(status_of "$bad")"
check "the honest worker is still active" 1 "$(status_of "$good")"
"$phx" stake report-equivocation "$tmp/a.json" "$tmp/b.json" >"$tmp/again.out" 2>&1
check "the same proof again: exit 1" 1 $?
check "  reverted AlreadySlashed" 1 "$(grep -c 'AlreadySlashed' "$tmp/again.out")"

# ---- the next request goes to an honest worker -------------------------------------
fulfilled_by() {
    "$cast" logs --rpc-url "$rpc" --from-block 0 --address "$jobs" --json \
        'Fulfilled(uint256 indexed,address indexed,bytes32,bool,bool,address[],bytes)' "$(printf '0x%064x' "$1")" |
        python3 -c "import json,sys; l=json.load(sys.stdin); print(l[0]['topics'][2][-40:] if l else '', l[0]['data'][2:66] if l else '')"
}
m=$(next_for "$good" "$corrupt")
wait_until 300 sh -c "[ \"\$('$cast' call --rpc-url '$rpc' '$jobs' 'requests(uint256)(address,uint8,uint8,uint32,uint64,bytes32,bytes32,uint256)' $m | sed -n 2p)\" = 2 ]"
check "request $m after the slash is fulfilled" 2 "$(st_of "$m")"
get "$good_url/v1/jobs/$m/results" | tail -n +2 >"$tmp/g.json"
check "  by the honest worker" "$good" "$(jsonx "$tmp/g.json" "' '.join(r['worker'] for r in d['results'])")"
get "$bad_url/v1/jobs/$m/results" | tail -n +2 >"$tmp/b2.json"
check "  and the invalidated one signed nothing for it" 0 "$(jsonx "$tmp/b2.json" "len(d['results'])")"
check "  Jobs names it as the submitter" "${good#0x}" "$(fulfilled_by "$m" | cut -d' ' -f1)"

# ---- a corrupt worker's output is what its request gets ------------------------------
r=$(next_for "$corrupt" "$good")
wait_until 300 sh -c "[ \"\$('$cast' call --rpc-url '$rpc' '$jobs' 'requests(uint256)(address,uint8,uint8,uint32,uint64,bytes32,bytes32,uint256)' $r | sed -n 2p)\" = 2 ]"
check "request $r is fulfilled" 2 "$(st_of "$r")"
set -- $(fulfilled_by "$r")
check "  by the corrupt worker" "${corrupt#0x}" "$1"
get "$(json "$tmp/ep.json" "['workers'][2]['url']")/v1/jobs/$r/results" | tail -n +2 >"$tmp/c.json"
real=$(printf '{"n":%d}' "$r")
check "  with the wrong output it signed: {\"corrupt\": keccak of the real one}" \
    "$("$cast" keccak "$real" | sed 's/^0x//')" \
    "$(jsonx "$tmp/c.json" "json.loads(bytes.fromhex(d['results'][0]['output_bytes'][2:]))['corrupt']")"
check "  and that is the output hash on chain" "$2" \
    "$("$cast" keccak "$(jsonx "$tmp/c.json" "d['results'][0]['output_bytes']")" | sed 's/^0x//')"
kill -TERM $pid && wait $pid
pid=""
finish
