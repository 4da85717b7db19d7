#!/bin/sh
# bench/attest: DCAP quote verifications per second, phx (C, cold and with cached
# collateral) beside the reference JS verifier @phala/dcap-qvl on the same SGX and
# TDX samples from the shared testdata. A benchmark: it prints, it never fails.
# The machine is shared, so each side is measured ROUNDS times, alternating, and
# the best rate of each is kept (the least disturbed run). CPU time per quote is
# printed beside the wall-clock rates: on a machine other work is loading, wall
# time also counts the time the others held the CPU.
# Usage: bench/attest/run.sh BUILD_DIR [SECONDS_PER_MEASUREMENT] [ROUNDS]
build=${1:-build}
secs=${2:-1}
rounds=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${PHX_TESTDATA:-$root/../shared/testdata}/dcap
drv="$build/bench/attest/bench_attest"
[ -x "$drv" ] || drv="$root/$build/bench/attest/bench_attest"
if [ ! -x "$drv" ]; then echo "bench/attest: $drv not built (make build)"; exit 0; fi
if [ ! -d "$data" ]; then echo "bench/attest: $data absent, nothing to measure"; exit 0; fi
export PHX_NODE_MODULES="${PHX_NODE_MODULES:-$root/node_modules}"
have_js=1
[ -d "$PHX_NODE_MODULES/@phala/dcap-qvl" ] && command -v node >/dev/null 2>&1 || have_js=0

field() { # field JSON KEY
    printf '%s' "$1" | sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" | tr -d '"'
}
max() { awk "BEGIN{a=\"$1\"+0; b=\"$2\"+0; print (a > b ? a : b)}"; }
min() { awk "BEGIN{a=\"$1\"+0; b=\"$2\"+0; print (a == 0 || (b > 0 && b < a) ? b : a)}"; }

printf '%-18s %10s %10s %8s %9s %8s %8s | %9s %9s %9s %8s\n' sample "cold/s" "warm/s" "js/s" \
    "warm ms" "cold/js" "warm/js" "cold cpu" "warm cpu" "js cpu" "cold/js"
for s in \
    "SGX_v3 quotes/phala_sgx_v3_00a067.bin collateral/phala_sgx_00a067_2506.json 1752919277" \
    "TDX_v4 quotes/phala_tdx_v4_b0c06f.bin collateral/phala_tdx_b0c06f_2506.json 1752919234" \
    "TDX_v4_OutOfDate quotes/automata_tdx_v4_00806f05.bin collateral/automata_tdx_00806f050000_2506.json 1749095100" \
    "TDX_v5 quotes/gotdx_tdx_v5_90c06f.bin collateral/phala_tdx_90c06f_2602.json 1774003274"; do
    set -- $s
    cold=0 warm=0 js=0 ok=1 cold_cpu=0 warm_cpu=0 js_cpu=0
    i=0
    while [ $i -lt "$rounds" ]; do
        c=$("$drv" "$data/$2" "$data/$3" "$4" "$secs" 2>&1) || { echo "$1: phx failed: $c"; ok=0; break; }
        cold=$(max "$cold" "$(field "$c" cold_per_s)")
        warm=$(max "$warm" "$(field "$c" warm_per_s)")
        cold_cpu=$(min "$cold_cpu" "$(field "$c" cold_cpu_ms)")
        warm_cpu=$(min "$warm_cpu" "$(field "$c" warm_cpu_ms)")
        if [ $have_js = 1 ]; then
            j=$(node "$here/peer_dcap_qvl.js" "$data/$2" "$data/$3" "$4" "$secs" 2>&1)
            js=$(max "$js" "$(field "$j" per_s)")
            js_cpu=$(min "$js_cpu" "$(field "$j" cpu_ms)")
        fi
        i=$((i + 1))
    done
    [ $ok = 1 ] || continue
    warm_ms=$(awk "BEGIN{printf \"%.4f\", 1000/$warm}")
    ratio_cold="n/a" ratio_warm="n/a" ratio_cpu="n/a"
    if [ $have_js = 1 ] && [ "$(awk "BEGIN{print ($js > 0)}")" = 1 ]; then
        ratio_cold=$(awk "BEGIN{printf \"%.1fx\", $cold/$js}")
        ratio_warm=$(awk "BEGIN{printf \"%.1fx\", $warm/$js}")
        ratio_cpu=$(awk "BEGIN{printf \"%.1fx\", $js_cpu/$cold_cpu}")
        js=$(awk "BEGIN{printf \"%.1f\", $js}")
    else
        js="n/a"
    fi
    printf '%-18s %10s %10s %8s %9s %8s %8s | %9s %9s %9s %8s\n' "$1" "$cold" "$warm" "$js" \
        "$warm_ms" "$ratio_cold" "$ratio_warm" "$cold_cpu" "$warm_cpu" "$js_cpu" "$ratio_cpu"
done
echo "cold = cache emptied before each quote (every certificate parse, chain, CRL, collateral and quote signature);"
echo "warm = collateral (by its bytes) + PCK chain/QE report (by hash) cached; js = @phala/dcap-qvl $(
    [ $have_js = 1 ] && node -e "console.log(require('$PHX_NODE_MODULES/@phala/dcap-qvl/package.json').version)" 2>/dev/null)"
echo "left of |: wall clock (rates per second, ms per quote); right: CPU ms per quote (process CPU"
echo "time, fairer on a loaded machine) and js cpu / phx cold cpu. Best of $rounds runs of ${secs}s each side."
echo "targets (issue 11, TDX): cold <= 0.5 ms per quote and >= 12x js; warm <= 0.08 ms per quote"
exit 0
