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
check_got "selector" "$("$phx" abi selector "fulfill(uint256,bytes,bytes[])")" "$("$cast" sig "fulfill(uint256,bytes,bytes[])")"
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
finish
