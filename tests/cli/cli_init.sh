#!/bin/sh
# phx init NAME (issue 16): the project it writes passes its own test (phx run),
# and that test can fail (a broken contract makes it fail); its Solidity
# consumer, on the PhxConsumer base written beside it, compiles from the
# project's files alone; NAME that exists or is not plain is refused (exit 2).
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
if ! "$phx" run --help >/dev/null 2>&1; then
    echo "SKIP: this phx has no \`run\` verb (no JS sandbox in this build)"
    exit 77
fi
nm=${PHX_NODE_MODULES:-$(cd "$(dirname "$0")/../.." && pwd)/node_modules}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-init-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

"$phx" init hello --json >init.json; check "phx init hello" 0 $?
check "it lists the six files" 6 "$(python3 -c 'import json; print(len(json.load(open("init.json"))["files"]))')"
for f in contract.js test/run.sh contracts/SquareConsumer.sol contracts/phx/PhxConsumer.sol contracts/phx/IPhx.sol README.md; do
    [ -s "hello/$f" ]; check "hello/$f written" 0 $?
done
PHX=$phx sh hello/test/run.sh >out 2>&1; check "the project's own test passes" 0 $?
check "and ran both of its checks" 2 "$(grep -c '^ok ' out)"
cmp -s hello/contracts/phx/PhxConsumer.sol "${PHX_SOURCE_DIR:-$nm/..}/contracts/PhxConsumer.sol"
check "PhxConsumer.sol is the one in contracts/" 0 $?
"$nm/.bin/solcjs" --bin --base-path hello hello/contracts/SquareConsumer.sol -o sol >solc.out 2>&1
[ -s sol/contracts_SquareConsumer_sol_SquareConsumer.bin ]; check "SquareConsumer compiles from the project alone" 0 $?
# The test can fail: a contract that answers wrongly makes it fail.
sed -i 's/\[n \* n\]/[n * n + 1n]/' hello/contract.js
grep -q 'n \* n + 1n' hello/contract.js; check "the contract was broken on purpose" 0 $?
PHX=$phx sh hello/test/run.sh >out 2>&1; check "then the project's test fails" 1 $?
"$phx" init hello >/dev/null 2>&1; check "init into an existing directory exits 2" 2 $?
"$phx" init ../escape >/dev/null 2>&1; check "a NAME that is not plain exits 2" 2 $?
[ ! -e ../escape ]; check "and nothing was written" 0 $?
"$phx" init >/dev/null 2>&1; check "init without NAME exits 2" 2 $?
finish
