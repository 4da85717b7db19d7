#!/bin/sh
# phx chain deploy/status against a real anvil, and npm cast (foundry) reading
# back what phx deployed: token metadata, the deployer's balance, wiring between
# the contracts. Needs PHX_BIN and PHX_NODE_MODULES (CTest sets them).
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../support/anvil.sh"
phx=${PHX_BIN:?}
dir=$(mktemp -d /tmp/phx-chain-cli-XXXXXX)
trap 'anvil_stop; rm -rf "$dir"' EXIT
anvil_start "$dir" || exit 1
rpc=$anvil_rpc
key=ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 # anvil dev key 0
deployer=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266

# Usage errors exit 2.
"$phx" chain deploy --key $key >/dev/null 2>&1
check_cmd "deploy without --rpc exits 2" test $? -eq 2
"$phx" chain deploy --rpc "$rpc" --key 1234 >/dev/null 2>&1
check_cmd "deploy with a short key exits 2" test $? -eq 2
"$phx" chain status --deployment "$dir/none.json" >/dev/null 2>&1
check_cmd "status of a missing file exits 2" test $? -eq 2

"$phx" chain deploy --rpc "$rpc" --key $key --out "$dir/dep.json" --fee 2 --json >"$dir/out.json"
check_cmd "deploy exits 0" test $? -eq 0
check_cmd "deployment file written" test -s "$dir/dep.json"
get() { node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(process.argv[2].split(".").reduce((o,k)=>o[k],j))' "$1" "$2"; }
token=$(get "$dir/out.json" contracts.PhxToken)
registry=$(get "$dir/out.json" contracts.Registry)
jobs=$(get "$dir/out.json" contracts.Jobs)
check_cmd "printed JSON matches the file" test "$token" = "$(get "$dir/dep.json" contracts.PhxToken)"

# cast, independently of our client.
check_cmd "cast: symbol is PHA" test "$("$cast" call --rpc-url "$rpc" "$token" 'symbol()(string)')" = '"PHA"'
check_cmd "cast: decimals is 18" test "$("$cast" call --rpc-url "$rpc" "$token" 'decimals()(uint8)')" = 18
bal=$("$cast" call --rpc-url "$rpc" "$token" 'balanceOf(address)(uint256)' $deployer | cut -d' ' -f1)
check_cmd "cast: deployer holds 1e9 PHA ($bal)" test "$bal" = 1000000000000000000000000000
check_cmd "cast: Jobs.registry is the Registry" \
    test "$("$cast" call --rpc-url "$rpc" "$jobs" 'registry()(address)')" = "$registry"
fee=$("$cast" call --rpc-url "$rpc" "$jobs" 'feePerWorker()(uint256)' | cut -d' ' -f1)
check_cmd "cast: --fee 2 became feePerWorker 2e18 ($fee)" test "$fee" = 2000000000000000000
check_cmd "cast: governor is the deployer" \
    test "$("$cast" call --rpc-url "$rpc" "$registry" 'governor()(address)')" = "$deployer"

"$phx" chain status --deployment "$dir/dep.json" >"$dir/status.txt"
check_cmd "status exits 0" test $? -eq 0
check_cmd "status names the token" grep -q "PhxToken  $token" "$dir/status.txt"
"$phx" chain status --deployment "$dir/dep.json" --json >"$dir/status.json"
check_cmd "status --json says healthy" test "$(get "$dir/status.json" healthy)" = true
check_cmd "status --json: fee 2 PHA" test "$(get "$dir/status.json" contracts.Jobs.feePerWorker)" = 2000000000000000000

# Governance through the CLI, checked with cast.
# A KMS is admitted only with a quote governance verified (admit-kms, tested
# against a live KMS in cli_devnet); there is no bare listing any more.
kms=0x70997970C51812dc3A010C7d01b50e0d17dc79C8
"$phx" chain allow-kms $kms --key $key --deployment "$dir/dep.json" >/dev/null 2>&1
check_cmd "allow-kms is gone (exit 2)" test $? -eq 2
"$phx" chain admit-kms --key $key --deployment "$dir/dep.json" >/dev/null 2>&1
check_cmd "admit-kms without a URL exits 2" test $? -eq 2
"$phx" chain admit-kms http://127.0.0.1:9 --key $key --deployment "$dir/dep.json" >/dev/null 2>&1
check_cmd "admit-kms with no KMS answering exits 1" test $? -eq 1
check_cmd "cast: nothing admitted" test "$("$cast" call --rpc-url "$rpc" "$registry" 'isKms(address)(bool)' $kms)" = false
"$phx" chain revoke-kms $kms --key $key --deployment "$dir/dep.json" >/dev/null 2>&1
check_cmd "revoke-kms of a key never admitted exits 1" test $? -eq 1
m=0x1111111111111111111111111111111111111111111111111111111111111111
"$phx" chain allow-measurement $m --key $key --deployment "$dir/dep.json" >/dev/null
check_cmd "cast: measurement allowed" test "$("$cast" call --rpc-url "$rpc" "$registry" 'measurementAllowed(bytes32)(bool)' $m)" = true
other=59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d # not the governor
"$phx" chain allow-measurement $m --remove --key $other --deployment "$dir/dep.json" >/dev/null 2>&1
check_cmd "a non-governor key is refused (exit 1)" test $? -eq 1
check_cmd "cast: still allowed" test "$("$cast" call --rpc-url "$rpc" "$registry" 'measurementAllowed(bytes32)(bool)' $m)" = true
"$phx" chain allow-measurement 0x1234 --key $key --deployment "$dir/dep.json" >/dev/null 2>&1
check_cmd "a short hash exits 2" test $? -eq 2

# A deployment file pointing at an address without code is reported (exit 1).
sed "s/$jobs/0x000000000000000000000000000000000000dEaD/" "$dir/dep.json" >"$dir/bad.json"
"$phx" chain status --deployment "$dir/bad.json" >/dev/null
check_cmd "status of a contract without code exits 1" test $? -eq 1

finish
