#!/bin/sh
# Run one libFuzzer target for a bounded number of inputs over its seed
# directories. Usage: fuzz-run.sh BINARY RUNS [SEED_DIR...]
# Seeds are never written to; new corpus entries go to a temporary directory.
set -eu
bin=$1
runs=$2
shift 2
work=$(mktemp -d "${TMPDIR:-/tmp}/phx-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
seeds=""
for d in "$@"; do
    if [ -d "$d" ]; then seeds="$seeds $d"; else echo "fuzz: seed dir $d absent, skipped"; fi
done
# shellcheck disable=SC2086
"$bin" -runs="$runs" -max_total_time=60 -max_len=65536 -rss_limit_mb=2048 \
    -artifact_prefix="$work/" "$work" $seeds 2>"$work/log" || {
    tail -40 "$work/log"
    for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
        [ -f "$f" ] && { echo "fuzz: failing input $f:"; od -An -tx1 "$f" | head -20; }
    done
    exit 1
}
grep -E "^(Done|#[0-9]+.*DONE)" "$work/log" | tail -1 || true
echo "fuzz: $(basename "$bin") ok after $runs runs"
