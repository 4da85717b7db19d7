#!/usr/bin/env bash
# Bad input to the developer verbs (rlp, abi, tx, eip712, chain): each must exit
# 2 (usage or bad input) or 1 (the checked thing failed) with exactly one line
# on stderr naming what was wrong, nothing on stdout, and no sanitizer report
# (CTest runs the ASan/UBSan phx). util_bad_input covers `phx util`.
set -u
. "$(dirname "$0")/../lib.sh"
PHX=${PHX_BIN:?PHX_BIN must point at the phx binary}
pass=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expect() { # expect RC PATTERN -- ARGS...
    local want_rc=$1 pattern=$2
    shift 3
    local out rc lines problem=""
    out=$("$PHX" "$@" 2>"$tmp/err" </dev/null)
    rc=$?
    lines=$(wc -l <"$tmp/err")
    [ "$rc" -eq "$want_rc" ] || problem="exit $rc, want $want_rc"
    [ "$lines" -eq 1 ] || problem="$problem; $lines stderr lines"
    grep -qE -e "$pattern" "$tmp/err" || problem="$problem; stderr does not match /$pattern/"
    grep -qE "^phx " "$tmp/err" || problem="$problem; stderr does not name the command"
    grep -qaiE "sanitizer|runtime error" "$tmp/err" && problem="$problem; sanitizer report"
    [ -z "$out" ] || problem="$problem; unexpected stdout: $out"
    if [ -n "$problem" ]; then
        fail=$((fail + 1))
        echo "FAIL phx $*: $problem"
        sed 's/^/    stderr: /' "$tmp/err"
    else
        pass=$((pass + 1))
        echo "ok   [$rc] phx $* -> $(cat "$tmp/err")"
    fi
}

SK=0x0123456789012345678901234567890123456789012345678901234567890123
echo 'not json' >"$tmp/bad.json"

# rlp: malformed encodings are a failed check (1); bad arguments are usage (2).
expect 1 "empty input" -- rlp decode 0x
expect 1 "trailing bytes" -- rlp decode 0xc0c0
expect 1 "runs past the end" -- rlp decode 0xb8
expect 1 "leading zero" -- rlp decode 0xb90001
expect 2 "odd-length hex" -- rlp decode 0x123
expect 2 "hex strings and arrays only" -- rlp encode '[1]'
expect 2 "bad JSON" -- rlp encode '{'
expect 2 "expected decode or encode" -- rlp
# abi
expect 2 "expected ',' or '\)'" -- abi encode 'f(uint256' '[]'
expect 2 "unknown type 'uint257'" -- abi selector 'f(uint257)'
expect 2 "array needs 2 elements, got 1" -- abi encode 'f(uint256[2])' '[[1]]'
expect 2 "out of range|too large|does not fit" -- abi encode 'f(uint8)' '[256]'
expect 1 "offset past the end" -- abi decode '(bytes)' 0x00
expect 1 "out of range for uint8" -- abi decode '(uint8)' 0x00000000000000000000000000000000000000000000000000000000000001ff
expect 2 "odd-length hex" -- abi decode '(uint256)' 0x0
# tx
expect 1 "empty input" -- tx decode 0x02
expect 1 "fields for type 2" -- tx decode 0x02c0
expect 2 "odd-length hex" -- tx decode 0x021
expect 2 "not a valid secp256k1 secret key" -- tx sign --key 0x01 '{}'
expect 2 "type 9" -- tx sign --key $SK '{"type":9}'
expect 2 "nonce: number expected" -- tx sign --key $SK '{"nonce":-1}'
# eip712
expect 2 "needs types, primaryType and domain" -- eip712 hash '[]'
expect 2 "unknown type X" -- eip712 hash '{"types":{},"primaryType":"X","domain":{},"message":{}}'
expect 2 "cannot open" -- eip712 hash @"$tmp/none.json"
expect 2 "bad JSON" -- eip712 hash @"$tmp/bad.json"
# chain (no node needed: each is refused before any RPC)
expect 2 "--rpc URL is required" -- chain deploy --key $SK
expect 2 "--key: expected 32 bytes" -- chain deploy --rpc http://127.0.0.1:1 --key 0x01
expect 2 "bad JSON" -- chain status --deployment "$tmp/bad.json"
expect 2 "cannot open" -- chain status --deployment "$tmp/none.json"
expect 2 "address must be 0x followed by 40 hex digits" -- chain allow-kms 0x12 --key $SK
expect 2 "unknown subcommand 'frob'" -- chain frob
# kms: listing itself on chain needs the chain
expect 2 "--operator-key-file needs --rpc and --deployment" -- kms --dir "$tmp/k" --operator-key-file "$tmp/none.key"
# A node that is not there is a failed check, not bad input.
expect 1 "Couldn't connect" -- chain deploy --rpc http://127.0.0.1:1 --key $SK

checks=$((pass + fail))
finish
