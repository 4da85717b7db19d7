#!/bin/sh
# Runs the Solidity unit, fuzz and invariant tests (contracts/test) with forge
# and the pinned npm solc through scripts/solc-shim.js, offline, then prints the
# counts: tests, fuzz runs, invariant runs and calls. Compiler output and the
# forge cache go under OUT_DIR (the build tree), never into the sources.
# Usage: scripts/forge-test.sh OUT_DIR
# Exit: 0 all passed, 1 a test failed or none ran, 2 bad usage or forge missing.
set -u
if [ $# -ne 1 ]; then
    echo "usage: scripts/forge-test.sh OUT_DIR" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd) || exit 2
forge=$root/node_modules/.bin/forge
if ! "$forge" --version >/dev/null 2>&1; then
    echo "forge-test: $forge does not run (run scripts/setup.sh)" >&2
    exit 2
fi
log=$out/forge-test.log
rm -f "$out/summary.txt"
cd "$root" || exit 2
FOUNDRY_OUT=$out/out FOUNDRY_CACHE_PATH=$out/cache \
    "$forge" test --use "$root/scripts/solc-shim.js" --offline >"$log" 2>&1
rc=$?
grep -E '^\[(PASS|FAIL)|^Suite result|^Ran [0-9]+ test suites' "$log"
passed=$(grep -c '^\[PASS' "$log")
failed=$(grep -c '^\[FAIL' "$log")
fuzz=$(grep '^\[PASS' "$log" | grep -c 'runs: [0-9]*, μ')
inv=$(grep '^\[PASS' "$log" | grep -c 'calls: ')
summary="forge: $passed passed, $failed failed; $fuzz fuzz tests, $inv invariants ($(grep -m1 -o 'runs: [0-9]*, calls: [0-9]*' "$log" || echo 'none'))"
echo "$summary"
# `make test` prints this after ctest, which shows a passing test's output only with -V.
echo "$summary" >"$out/summary.txt"
if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
    tail -40 "$log"
    echo "forge-test: FAILED (full log: $log)" >&2
    exit 1
fi
# A run that found no tests proves nothing.
if [ "$passed" -eq 0 ]; then
    echo "forge-test: no test ran" >&2
    exit 1
fi
exit 0
