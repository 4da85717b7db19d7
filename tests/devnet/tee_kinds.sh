#!/bin/sh
# TEE kinds and admission on a real devnet: 4 workers, 2 sim TDX and 2 sim SGX
# (--sgx 2), under 3 operators (--operators 3). The Registry records each
# worker's kind from its quote and counts eligible operators and kinds; `phx
# workers` shows the kinds; an SGX worker's result verifies end to end with
# `phx verify` (its SGX v3 quote, to the sim root, with the sim SGX collateral);
# Jobs.request refuses at once, with the named error `phx request` prints, a k
# or minTeeKinds the eligible workers cannot meet; a k=2, minTeeKinds=2
# request is fulfilled by one TDX and one SGX signer (the workers choose a
# quorum that covers the kinds, whatever order their peers answer in), and
# `phx verify` of what `phx request --json` rebuilt from the fulfil
# transaction checks both signers, each to its root (SGX v3 and TDX v4
# quotes); with the TDX workers deregistered an SGX worker alone fulfils an
# on-chain request.
set -u
phx=${PHX_BIN:?PHX_BIN not set}
PHX=$phx
. "$(dirname "$0")/../lib.sh"
skip_without_worker
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-teekinds-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null && wait $pid; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"

devnet_start "$tmp/ep.json" "$tmp/devnet.log" --dir "$tmp/net" --workers 4 --sgx 2 --operators 3
check "a devnet of 4 workers (2 SGX) under 3 operators starts" 0 $? || { tail -20 "$tmp/devnet.log"; finish; }
rpc=$(json "$tmp/ep.json" "['rpc']")
reg=$(json "$tmp/ep.json" "['deployment']['contracts']['Registry']")
jobs=$(json "$tmp/ep.json" "['deployment']['contracts']['Jobs']")
call() { "$cast" call --rpc-url "$rpc" "$@"; }

# ---- the Registry's record: kinds, operators, the counters ------------------------
: >"$tmp/reg.txt"
for i in 0 1 2 3; do
    w=$(call "$reg" 'workerList(uint256)(address)' $i)
    rec=$(call "$reg" 'workers(address)(address,uint8,uint32,uint64,bytes32,bytes32,bytes32,address)' "$w")
    printf '%s %s %s\n' "$w" "$(echo "$rec" | sed -n 1p)" "$(echo "$rec" | sed -n 3p)" >>"$tmp/reg.txt"
done
check "the Registry records two SGX (0) and two TDX (129) workers" "0 0 129 129" \
    "$(cut -d' ' -f3 "$tmp/reg.txt" | sort -n | tr '\n' ' ' | sed 's/ $//')"
check "under 3 distinct operators" 3 "$(cut -d' ' -f2 "$tmp/reg.txt" | sort -u | wc -l | tr -d ' ')"
check "eligibility(): 3 operators, 2 TEE kinds" "3 2" "$(call "$reg" 'eligibility()(uint256,uint256)' | tr '\n' ' ' | sed 's/ $//')"
check "eligibleOperatorsOfKind(SGX) = 2" 2 "$(call "$reg" 'eligibleOperatorsOfKind(uint32)(uint256)' 0)"
check "eligibleOperatorsOfKind(TDX) = 2" 2 "$(call "$reg" 'eligibleOperatorsOfKind(uint32)(uint256)' 129)"

# ---- phx workers shows the kinds (the gateway reads them from the Registry) --------
kinds_seen() {
    "$phx" workers --json >"$tmp/workers.json" 2>/dev/null &&
        [ "$(jsonx "$tmp/workers.json" "' '.join(sorted(w.get('tee', '?') for w in d['workers']))")" = "sgx sgx tdx tdx" ]
}
wait_until 600 kinds_seen
check "phx workers --json: two sgx, two tdx" "sgx sgx tdx tdx" \
    "$(jsonx "$tmp/workers.json" "' '.join(sorted(w.get('tee', '?') for w in d['workers']))")"
"$phx" workers >"$tmp/workers.txt"
check "phx workers (text) names the kind of each" "2 2" \
    "$(grep -c '  sgx  ' "$tmp/workers.txt") $(grep -c '  tdx  ' "$tmp/workers.txt")"

# ---- an SGX worker's result verifies end to end ----------------------------------
printf 'export default async function (input) { return { echo: input }; }\n' >"$tmp/c.js"
"$phx" deploy "$tmp/c.js" --salt 0x$(printf '%064x' 13) --json >"$tmp/d.json" 2>"$tmp/d.err"
check "deploy a contract" 0 $? || cat "$tmp/d.err"
id=$(json "$tmp/d.json" "['id']")
sgx_workers=$(awk '$3 == 0 { print $1 }' "$tmp/reg.txt" | tr 'A-F' 'a-f')
got_sgx=""
for n in 1 2 3 4 5 6 7 8 9 10 11 12; do
    "$phx" call "$id" --input "{\"n\":$n}" --json >"$tmp/r.json" 2>"$tmp/r.err" || continue
    wk=$(lower "$(json "$tmp/r.json" "['worker']")")
    case " $(echo $sgx_workers) " in *" $wk "*) got_sgx=$wk && break ;; esac
done
check_nonempty "a call served by an SGX worker" "$got_sgx"
"$phx" verify "$tmp/r.json" --json >"$tmp/v.json" 2>"$tmp/v.err"
check "phx verify: the SGX worker's result is valid (exit 0)" 0 $? || cat "$tmp/v.err" "$tmp/v.json"
check "  valid" True "$(json "$tmp/v.json" "['valid']")"

# ---- admission: impossible k or minTeeKinds revert at request time ----------------
fee=10000000000000000000
expect_error 1 'reverted: NotEnoughOperators\(4, 3\)' -- request "$id" --fee $fee --k 4 --no-wait
expect_error 2 'min-tee-kinds' -- request "$id" --fee $fee --k 2 --min-tee-kinds 3 --no-wait
check "nothing was escrowed by the refused request" 0 "$(call "$jobs" 'requestCount()(uint256)' | cut -d' ' -f1)"

# ---- k=2, minTeeKinds=2: one TDX and one SGX signature, both verified -------------
"$phx" request "$id" --fee $fee --k 2 --min-tee-kinds 2 --input '{"kinds":2}' --timeout-s 180 \
    --json >"$tmp/k2.json" 2>"$tmp/k2.err"
check "a k=2, minTeeKinds=2 request is fulfilled" 0 $? || { cat "$tmp/k2.err"; grep -i 'fulfil' "$tmp/devnet.log" | tail -20; }
check "  phx request --json carries the fulfilment's 2 signed results" 2 "$(json "$tmp/k2.json" "['k']")"
signers=$(jsonx "$tmp/k2.json" "' '.join(r['worker'].lower() for r in d['results'])")
kinds=""
ops=""
for s in $signers; do
    kinds="$kinds $(awk -v w="$s" 'tolower($1) == w { print $3 }' "$tmp/reg.txt")"
    ops="$ops $(awk -v w="$s" 'tolower($1) == w { print tolower($2) }' "$tmp/reg.txt")"
done
check "  its signers are one SGX (0) and one TDX (129) worker, per the Registry" "0 129" \
    "$(echo $kinds | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')"
rid=$(json "$tmp/k2.json" "['request_id']")
"$cast" logs --rpc-url "$rpc" --from-block 0 --address "$jobs" \
    'Fulfilled(uint256 indexed,address indexed,bytes32,bool,bool,address[],bytes)' --json >"$tmp/ful.json"
check "  the Fulfilled event pays exactly those signers' 2 distinct operators" \
    "$(echo $ops | tr ' ' '\n' | sort -u | tr '\n' ' ')" "$(python3 -c "
import json, sys
for l in json.load(open(sys.argv[1])):
    if int(l['topics'][1], 16) != int(sys.argv[2]): continue
    d = bytes.fromhex(l['data'][2:])
    off = int.from_bytes(d[96:128], 'big'); n = int.from_bytes(d[off:off + 32], 'big')
    print(' '.join(sorted(set('0x' + d[off + 44 + 32 * i:off + 64 + 32 * i].hex() for i in range(n)))) + ' ')
" "$tmp/ful.json" "$rid")"
"$phx" verify "$tmp/k2.json" --json >"$tmp/vk2.json" 2>"$tmp/vk2.err"
check "phx verify of the on-chain k=2 result: valid (exit 0)" 0 $? || cat "$tmp/vk2.err" "$tmp/vk2.json"
check "  each signer checked to its root: an SGX v3 and a TDX v4 quote, every step held" \
    "sgx3-True tdx4-True" "$(jsonx "$tmp/vk2.json" \
    "' '.join(sorted('%s%s-%s' % (r.get('tee'), r.get('quote_version'), r['valid'] and all(r['steps'].values())) for r in d['results']))")"
check "  the bundle covers both TEE kinds" "sgx tdx" "$(jsonx "$tmp/vk2.json" "' '.join(d['tee_kinds'])")"
"$phx" verify "$tmp/k2.json" >"$tmp/vk2.txt" 2>&1
check "  (text) both results VALID, the bundle VALID (k=2) over sgx and tdx" "2 1 1" \
    "$(grep -c '^VALID$' "$tmp/vk2.txt") $(grep -c '^VALID (k=2)$' "$tmp/vk2.txt") $(grep -c 'TEE kinds: sgx, tdx' "$tmp/vk2.txt")"
python3 -c "
import json, sys
d = json.load(open(sys.argv[1])); d['results'][1]['output_bytes'] = d['results'][0]['output_bytes'][:-2] + '00'
d['results'][1].pop('output', None)
json.dump(d, open(sys.argv[2], 'w'))" "$tmp/k2.json" "$tmp/k2bad.json"
"$phx" verify "$tmp/k2bad.json" >/dev/null 2>&1
check "  one result's output altered: INVALID (exit 1)" 1 $?
# Off chain: phx call --k 2 --min-tee-kinds 2 asks workers only while they can
# still make 2 operators of both kinds, so its bundle is one SGX, one TDX.
"$phx" call "$id" --input '{"off":2}' --k 2 --min-tee-kinds 2 --json >"$tmp/c2.json" 2>"$tmp/c2.err"
check "phx call --k 2 --min-tee-kinds 2" 0 $? || cat "$tmp/c2.err"
"$phx" verify "$tmp/c2.json" --json >"$tmp/vc2.json" 2>"$tmp/vc2.err"
check "  phx verify: valid, one SGX v3 and one TDX v4 quote, both kinds" "True sgx3 tdx4 sgx,tdx" \
    "$(jsonx "$tmp/vc2.json" "' '.join([str(d['valid'])] + sorted('%s%s' % (r.get('tee'), r.get('quote_version')) for r in d['results']) + [','.join(d['tee_kinds'])])")" ||
    cat "$tmp/vc2.err"
expect_error 2 'min-tee-kinds' -- call "$id" --input '{}' --k 2 --min-tee-kinds 3

# More of them: whichever worker's turn it is to submit, and whatever order its
# peers answer in, it submits a quorum Jobs takes (never two TDX signatures,
# a fulfil that reverts TooFewTeeKinds).
more=""
for n in 1 2 3 4 5 6; do
    "$phx" request "$id" --fee $fee --k 2 --min-tee-kinds 2 --input "{\"more\":$n}" --timeout-s 180 \
        --json >"$tmp/m.json" 2>"$tmp/m.err" && more="$more $(json "$tmp/m.json" "['request_id']")"
done
check "6 more k=2, minTeeKinds=2 requests are fulfilled" 6 "$(echo $more | wc -w | tr -d ' ')"
too_few=$("$cast" sig 'TooFewTeeKinds(uint256,uint8)')
check "  no worker tried a fulfil that reverts TooFewTeeKinds ($too_few)" 0 \
    "$(cat "$tmp"/net/logs/worker-*.log | grep -c "fulfil .*$too_few")"

# The TDX workers leave (their operators deregister them): one kind is left.
for line in $(awk '$3 == 129 { print $1 "," $2 }' "$tmp/reg.txt"); do
    w=${line%,*}
    op=$(lower "${line#*,}")
    for k in "$tmp"/net/worker-*/operator.key; do
        [ -f "$k" ] || continue
        [ "$(lower "$("$cast" wallet address --private-key "$(cat "$k")")")" = "$op" ] || continue
        "$cast" send --rpc-url "$rpc" --private-key "$(cat "$k")" "$reg" 'deregisterWorker(address)' "$w" >/dev/null
        check "the operator deregisters TDX worker $w" 0 $?
    done
done
check "eligibility(): 2 operators, 1 kind" "2 1" "$(call "$reg" 'eligibility()(uint256,uint256)' | tr '\n' ' ' | sed 's/ $//')"
expect_error 1 'reverted: NotEnoughTeeKinds\(2, 1\)' -- request "$id" --fee $fee --k 2 --min-tee-kinds 2 --no-wait
"$phx" request "$id" --fee $fee --input '{"sgx":true}' --timeout-s 120 --json >"$tmp/req.json" 2>"$tmp/req.err"
check "an on-chain request is fulfilled by an SGX worker alone" 0 $? || cat "$tmp/req.err"
check "  status fulfilled" fulfilled "$(json "$tmp/req.json" "['status']")"
check "only the admitted requests were recorded" 8 "$(call "$jobs" 'requestCount()(uint256)' | cut -d' ' -f1)"
finish
