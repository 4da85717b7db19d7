# What the bench/network scripts share (sourced; POSIX sh): tests/lib.sh's
# json and devnet_start, a skip, and a devnet in a scratch folder.
#   bench_devnet NAME DEVNET_ARGS...: make $tmp, export PHX_HOME=$tmp/net,
#   start `$phx devnet --dir $PHX_HOME --json DEVNET_ARGS` in the background
#   ($pid) and wait for $tmp/ep.json. A devnet that does not start is a skip,
#   never a failure (a benchmark prints; it does not fail).
# On exit: stops $pid and the pids in $also (daemons a script adds), removes $tmp.
# Before sourcing, a script sets $phx and $src (the source tree).
. "$src/tests/lib.sh"

# skip WHY: say why this benchmark stops here and exit 0.
skip() {
    echo "bench/network $bench_name: $1; skipped"
    exit 0
}

bench_devnet() {
    bench_name=$1
    shift
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-bench-$bench_name-XXXXXX")
    pid=""
    also=""
    trap 'for _p in $also $pid; do kill $_p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
    trap 'exit 1' INT TERM
    export PHX_HOME="$tmp/net"
    devnet_start "$tmp/ep.json" "$tmp/devnet.log" --dir "$PHX_HOME" "$@" || skip "the devnet did not start"
}
