#!/bin/sh
# phx rlp/abi/tx/eip712 against foundry's cast (npm @foundry-rs/cast, an
# independent implementation): random addresses, amounts and strings encoded
# by both must agree byte for byte; bad input exits 2, a failed check exits 1.
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
cast=${PHX_NODE_MODULES:-node_modules}/.bin/cast
if [ ! -x "$cast" ]; then
    echo "FAIL cast not found at $cast (run scripts/setup.sh)"
    exit 1
fi
rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
for i in 1 2 3; do
    addr=0x$(rand_hex 20)
    amount=$(od -An -N6 -tu8 /dev/urandom | tr -d ' ')
    word=$(rand_hex 5)
    check_got "calldata $i" "$("$phx" abi encode "pay(address,uint256,string)" "[\"$addr\", \"$amount\", \"$word\"]")" \
        "$("$cast" calldata "pay(address,uint256,string)" "$addr" "$amount" "$word")"
    check_got "rlp $i" "$("$phx" rlp encode "[\"$addr\", [\"0x$word\", \"0x\"]]")" \
        "$("$cast" to-rlp "[\"$addr\", [\"0x$word\", \"0x\"]]")"
    enc=$("$cast" abi-encode "f(uint256[],bytes)" "[$amount,7]" "0x$word")
    check_got "abi decode $i" "$("$phx" abi decode "(uint256[],bytes)" "$enc")" "[[\"$amount\",\"7\"],\"0x$word\"]"
done
check_got "selector" "$("$phx" abi selector "fulfill(uint256,bool,bytes,bytes[])")" "$("$cast" sig "fulfill(uint256,bool,bytes,bytes[])")"
check_got "topic" "$("$phx" abi topic "Transfer(address indexed from,address indexed to,uint256 value)")" \
    "$("$cast" keccak "Transfer(address,address,uint256)")"
# A transaction signed by phx, decoded by cast.
key=0x$(rand_hex 32)
raw=$("$phx" tx sign --key "$key" '{"type":2,"chainId":31337,"nonce":3,"maxFeePerGas":"2000000000","maxPriorityFeePerGas":1,"gasLimit":21000,"to":"0x4242424242424242424242424242424242424242","value":"5"}' |
      sed 's/.*"raw":"\(0x[0-9a-f]*\)".*/\1/')
from_phx=$("$phx" tx decode "$raw" | sed 's/.*"from":"\(0x[0-9a-f]*\)".*/\1/')
# cast prints its JSON as a JSON string; drop the escapes and pick "signer".
from_cast=$("$cast" decode-transaction "$raw" 2>/dev/null | tr -d '\\' | tr ',' '\n' |
            sed -n 's/.*"signer": *"\(0x[0-9a-fA-F]*\)".*/\1/p' | tr 'A-F' 'a-f')
check_got "tx sender" "$from_phx" "$from_cast"
check_got "key address" "$from_phx" "$("$cast" wallet address "$key" | tr 'A-F' 'a-f')"
# Exit codes: strict RLP refuses (1), bad hex is usage (2).
"$phx" rlp decode 0x8100 >/dev/null 2>&1
check_got "exit on non-canonical rlp" "$?" 1
"$phx" rlp decode 0xzz >/dev/null 2>&1
check_got "exit on bad hex" "$?" 2
"$phx" abi encode "f(uint8)" "[300]" >/dev/null 2>&1
check_got "exit on out-of-range" "$?" 2
# Issue 18: a tx a node refuses is refused here too, exit 1 with the reason,
# never printed without a sender. Built from a phx-signed legacy tx by
# changing one signature field through `phx rlp`.
legacy=$("$phx" tx sign --key "$key" '{"type":0,"chainId":1,"nonce":3,"gasPrice":1,"gasLimit":21000,"to":"0x4242424242424242424242424242424242424242","value":"5"}' |
         sed 's/.*"raw":"\(0x[0-9a-f]*\)".*/\1/')
fields=$("$phx" rlp decode "$legacy")
body=$(printf '%s' "$fields" | sed 's/^\[\(\("[^"]*",\)\{6\}\).*/\1/') # the 6 fields before v
sig_r=$(printf '%s' "$fields" | tr -d '[]"' | cut -d, -f8)
sig_s=$(printf '%s' "$fields" | tr -d '[]"' | cut -d, -f9)
sig_v=$(printf '%s' "$fields" | tr -d '[]"' | cut -d, -f7)
check_got "legacy tx round trip" "$("$phx" rlp encode "[${body}\"$sig_v\",\"$sig_r\",\"$sig_s\"]")" "$legacy"
twin_s=0x$(node -e 'const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
                    console.log((n - BigInt(process.argv[1])).toString(16))' "$sig_s")
twin_v=0x$(printf "%x" $((75 - sig_v))) # chain 1: v is 37 or 38, the twin has the other
expect_refused() { # name raw reason-fragment
    out=$("$phx" tx decode "$2" 2>&1)
    rc=$?
    check_got "$1: exit" "$rc" 1
    case $out in *"$3"*) check_got "$1: reason" ok ok ;; *) check_got "$1: reason" "$out" "$3" ;; esac
    case $out in *'"from"'*) check_got "$1: no tx printed" "$out" "(nothing)" ;; esac
}
expect_refused "r = 0" "$("$phx" rlp encode "[${body}\"$sig_v\",\"0x\",\"$sig_s\"]")" "r is zero"
expect_refused "high s" "$("$phx" rlp encode "[${body}\"$twin_v\",\"$sig_r\",\"$twin_s\"]")" "above n/2"
expect_refused "v = 29" "$("$phx" rlp encode "[${body}\"0x1d\",\"$sig_r\",\"$sig_s\"]")" "v 29"
# The same bytes with r = s = 0 and v = 1 are the EIP-155 payload for chain 1:
# refused as a signed tx, decoded with --unsigned, hashing to what was signed.
payload=$("$phx" rlp encode "[${body}\"0x01\",\"0x\",\"0x\"]")
expect_refused "r = s = 0, v = 1" "$payload" "decode as an unsigned payload: see --unsigned"
unsigned=$("$phx" tx decode --unsigned "$payload")
check_got "--unsigned: exit" "$?" 0
check_got "--unsigned: chain id" "$(printf '%s' "$unsigned" | sed -n 's/.*"chainId":\([0-9]*\).*/\1/p')" 1
check_got "--unsigned: signing hash" "$(printf '%s' "$unsigned" | sed -n 's/.*"signingHash":"\(0x[0-9a-f]*\)".*/\1/p')" \
    "$("$cast" keccak "$payload")"
"$phx" tx decode --unsigned "$legacy" >/dev/null 2>&1
check_got "--unsigned refuses a signed tx" "$?" 1
finish
