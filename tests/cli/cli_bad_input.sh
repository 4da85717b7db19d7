#!/usr/bin/env bash
# Bad input to the developer verbs (rlp, abi, tx, eip712, chain): each must exit
# 2 (usage or bad input) or 1 (the checked thing failed) with exactly one line
# on stderr naming what was wrong, nothing on stdout, and no sanitizer report
# (CTest runs the ASan/UBSan phx). util_bad_input covers `phx util`.
set -u
. "$(dirname "$0")/../lib.sh"
PHX=${PHX_BIN:?PHX_BIN must point at the phx binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

SK=0x0123456789012345678901234567890123456789012345678901234567890123
echo 'not json' >"$tmp/bad.json"

# rlp: malformed encodings are a failed check (1); bad arguments are usage (2).
expect_error 1 "empty input" -- rlp decode 0x
expect_error 1 "trailing bytes" -- rlp decode 0xc0c0
expect_error 1 "runs past the end" -- rlp decode 0xb8
expect_error 1 "leading zero" -- rlp decode 0xb90001
expect_error 2 "odd-length hex" -- rlp decode 0x123
expect_error 2 "hex strings and arrays only" -- rlp encode '[1]'
expect_error 2 "bad JSON" -- rlp encode '{'
expect_error 2 "expected decode or encode" -- rlp
# abi
expect_error 2 "expected ',' or '\)'" -- abi encode 'f(uint256' '[]'
expect_error 2 "unknown type 'uint257'" -- abi selector 'f(uint257)'
expect_error 2 "array needs 2 elements, got 1" -- abi encode 'f(uint256[2])' '[[1]]'
expect_error 2 "out of range|too large|does not fit" -- abi encode 'f(uint8)' '[256]'
expect_error 1 "offset past the end" -- abi decode '(bytes)' 0x00
expect_error 1 "out of range for uint8" -- abi decode '(uint8)' 0x00000000000000000000000000000000000000000000000000000000000001ff
expect_error 2 "odd-length hex" -- abi decode '(uint256)' 0x0
# tx
expect_error 1 "empty input" -- tx decode 0x02
expect_error 1 "fields for type 2" -- tx decode 0x02c0
expect_error 2 "odd-length hex" -- tx decode 0x021
expect_error 2 "not a valid secp256k1 secret key" -- tx sign --key 0x01 '{}'
expect_error 2 "type 9" -- tx sign --key $SK '{"type":9}'
expect_error 2 "nonce: number expected" -- tx sign --key $SK '{"nonce":-1}'
# eip712
expect_error 2 "needs types, primaryType and domain" -- eip712 hash '[]'
expect_error 2 "unknown type X" -- eip712 hash '{"types":{},"primaryType":"X","domain":{},"message":{}}'
expect_error 2 "cannot open" -- eip712 hash @"$tmp/none.json"
expect_error 2 "bad JSON" -- eip712 hash @"$tmp/bad.json"
# chain (no node needed: each is refused before any RPC)
expect_error 2 "--rpc URL is required" -- chain deploy --key $SK
expect_error 2 "--key: expected 32 bytes" -- chain deploy --rpc http://127.0.0.1:1 --key 0x01
expect_error 2 "bad JSON" -- chain status --deployment "$tmp/bad.json"
expect_error 2 "cannot open" -- chain status --deployment "$tmp/none.json"
expect_error 2 "address must be 0x followed by 40 hex digits" -- chain revoke-kms 0x12 --key $SK
expect_error 2 "expected one KMS_URL" -- chain admit-kms --key $SK
expect_error 2 "--expect: " -- chain admit-kms http://127.0.0.1:1 --expect 0x12 --key $SK
expect_error 2 "unknown subcommand 'allow-kms'" -- chain allow-kms 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --key $SK
expect_error 2 "unknown subcommand 'frob'" -- chain frob
# kms: paying a replica's quorum admission needs the chain, and is for replicas only
expect_error 2 "--operator-key-file needs --rpc and --deployment" -- kms --dir "$tmp/k" --operator-key-file "$tmp/none.key"
printf '%s\n' "$SK" >"$tmp/op.key"
printf '{"chainId":31337,"block":1,"deployer":"0x%040d","contracts":{"PhxToken":"0x%040d","Registry":"0x%040d","Jobs":"0x%040d","StakePool":"0x%040d","PhxTimelock":"0x%040d","PhxGovernor":"0x%040d"}}\n' 1 2 3 4 5 6 7 >"$tmp/dep.json"
expect_error 2 "a first KMS is admitted by governance" -- kms --dir "$tmp/k" --rpc http://127.0.0.1:1 --deployment "$tmp/dep.json" --operator-key-file "$tmp/op.key"
# egress allowances name a host and a port (issue 10 item 6); refused before
# anything starts
if "$PHX" worker --help >/dev/null 2>&1; then
    expect_error 2 "want HOST:PORT" -- devnet --dir "$tmp/d" --allow-host 127.0.0.1
    expect_error 2 "port must be 1..65535" -- devnet --dir "$tmp/d" --allow-host localhost:0
    expect_error 2 "want HOST:PORT" -- run "$tmp/bad.json" --allow-host localhost
    expect_error 2 "N=equivocate or N=corrupt" -- devnet --dir "$tmp/d" --workers 2 --test-misbehave 1=lie
    expect_error 2 "N=equivocate or N=corrupt" -- devnet --dir "$tmp/d" --workers 2 --test-misbehave 2=corrupt
    # the URL a worker announces on chain keeps the Registry's rule (issue 13)
    for u in ftp://w.example http://user@127.0.0.1:8545; do
        expect_error 2 "public-url: endpoint: " -- worker --dir "$tmp/w" --rpc http://127.0.0.1:1 \
            --deployment "$tmp/dep.json" --kms http://127.0.0.1:1 \
            --kms-address 0x0000000000000000000000000000000000000009 \
            --operator-key-file "$tmp/op.key" --public-url "$u"
    done
fi
expect_error 2 "--k wants 1..16" -- call 0x0000000000000000000000000000000000000000000000000000000000000001 --k 0
expect_error 2 "--k with --encrypt: not yet" -- call 0x0000000000000000000000000000000000000000000000000000000000000001 --k 2 --encrypt
# stake report-equivocation: evidence that is not two signed results is bad
# input, refused before any chain is needed.
expect_error 2 "expected EVIDENCE" -- stake report-equivocation
expect_error 2 "expected EVIDENCE" -- stake report-equivocation a b c
expect_error 2 "none.json" -- stake report-equivocation "$tmp/none.json" "$tmp/none.json"
expect_error 2 "bad JSON" -- stake report-equivocation "$tmp/bad.json"
echo '{"results":[{"kind":"job"}]}' >"$tmp/one.json"
expect_error 2 "two signed results in all, found 1" -- stake report-equivocation "$tmp/one.json"
expect_error 2 "first result: " -- stake report-equivocation "$tmp/one.json" "$tmp/one.json"
# A node that is not there is a failed check, not bad input.
expect_error 1 "Couldn't connect" -- chain deploy --rpc http://127.0.0.1:1 --key $SK
# pay: usage is checked before any chain is needed.
expect_error 2 "wants deposit, balance or withdraw" -- pay
expect_error 2 "wants deposit, balance or withdraw" -- pay spend 1
expect_error 2 "expected an amount of PHA" -- pay deposit 1.2.3
expect_error 2 "expected an amount of PHA" -- pay deposit 0.0000000000000000001
expect_error 2 "deposit wants an amount of PHA" -- pay deposit
expect_error 2 "not an address" -- pay balance 0x12
expect_error 2 "unexpected arguments" -- pay withdraw 1 --finish
PHX_HOME="$tmp/none" expect_error 2 "no chain" -- pay balance 0x0000000000000000000000000000000000000001
echo '0x1234' >"$tmp/short.key"
PHX_HOME="$tmp/none" expect_error 2 "has no Payments contract" -- pay deposit 1 --key-file "$tmp/short.key" --rpc http://127.0.0.1:1 --deployment "$tmp/dep.json"
printf '{"chainId":31337,"block":1,"deployer":"0x%040d","contracts":{"PhxToken":"0x%040d","Registry":"0x%040d","Jobs":"0x%040d","StakePool":"0x%040d","PhxTimelock":"0x%040d","PhxGovernor":"0x%040d","Payments":"0x%040d"}}\n' 1 2 3 4 5 6 7 8 >"$tmp/dep5.json"
PHX_HOME="$tmp/none" expect_error 2 "not a secp256k1 key" -- pay deposit 1 --key-file "$tmp/short.key" --rpc http://127.0.0.1:1 --deployment "$tmp/dep5.json"
PHX_HOME="$tmp/none" expect_error 1 "Couldn't connect" -- pay balance 0x0000000000000000000000000000000000000001 --rpc http://127.0.0.1:1 --deployment "$tmp/dep5.json"

finish
