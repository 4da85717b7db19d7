#!/bin/sh
# Run every benchmark (bench/*/run.sh BUILD_DIR) and print their ratio tables.
# Usage: scripts/bench.sh [BUILD_DIR] [NAME...]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
[ $# -gt 0 ] && shift
names=${*:-$(ls bench)}
for n in $names; do
    [ -x "bench/$n/run.sh" ] || continue
    echo "== bench/$n"
    "bench/$n/run.sh" "$build" || echo "bench/$n: failed (benchmarks never fail the build)"
done
