#!/bin/sh
# bench/net: the HTTP layer every daemon serves (src/net, libmicrohttpd: epoll
# with a handler-thread pool, the default, and a pool of 2 event-loop threads
# running handlers inline) beside Node's http module
# as the peer server, both driven by
# the same client (ours, libcurl; a new connection per request, as the daemons
# call each other today). Reports requests/s and p50/p99 latency at 1 and 4
# client threads, and ours/peer ratios. Usage: bench/net/run.sh BUILD_DIR
# [SECONDS]. A benchmark, not a test: it never fails; the machine may be shared,
# so compare the ratios of one run rather than absolute numbers across runs.
set -u
build=${1:-build}
secs=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
driver="$build/bench/net/bench_net"
[ -x "$driver" ] || driver="$root/$build/bench/net/bench_net"
if [ ! -x "$driver" ]; then
    echo "bench/net: $driver not built (make build)"
    exit 0
fi
tmp=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$tmp"' EXIT

start() { # start NAME CMD...: background server printing its port on stdout
    name=$1
    shift
    "$@" >"$tmp/$name.port" 2>/dev/null &
    pids="$pids $!"
    for _ in $(seq 1 50); do
        [ -s "$tmp/$name.port" ] && return 0
        sleep 0.1
    done
    return 1
}
start ours "$driver" serve || { echo "bench/net: our server did not start"; exit 0; }
start pool "$driver" serve 2 || true
have_peer=false
command -v node >/dev/null 2>&1 && start peer node "$here/echo_peer.js" && have_peer=true

get() { awk -v k="$2" '$1 == k {print $2}' "$1"; }
printf '%-28s %12s %12s %12s %8s %8s\n' "POST /v1/echo (~200 B JSON)" "ours/conn" "ours/pool2" "node http" "conn/n" "pool/n"
for threads in 1 4; do
    "$driver" load "http://127.0.0.1:$(cat "$tmp/ours.port")/v1/echo" "$secs" $threads >"$tmp/o$threads"
    "$driver" load "http://127.0.0.1:$(cat "$tmp/pool.port")/v1/echo" "$secs" $threads >"$tmp/q$threads" 2>/dev/null || printf 'rps n/a\n' >"$tmp/q$threads"
    if $have_peer; then
        "$driver" load "http://127.0.0.1:$(cat "$tmp/peer.port")/v1/echo" "$secs" $threads >"$tmp/p$threads"
    else
        printf 'rps n/a\np50_us n/a\np99_us n/a\n' >"$tmp/p$threads"
    fi
    for k in rps p50_us p99_us; do
        o=$(get "$tmp/o$threads" $k)
        q=$(get "$tmp/q$threads" $k)
        p=$(get "$tmp/p$threads" $k)
        r=$(awk -v o="$o" -v p="$p" 'BEGIN { if (p + 0 > 0 && o + 0 > 0) printf "%.2f", o / p; else print "n/a" }')
        rq=$(awk -v o="$q" -v p="$p" 'BEGIN { if (p + 0 > 0 && o + 0 > 0) printf "%.2f", o / p; else print "n/a" }')
        printf '%-28s %12s %12s %12s %8s %8s\n' "$k, $threads client thread(s)" "$o" "$q" "$p" "$r" "$rq"
    done
done
echo "(conn = the default: epoll + a handler-thread pool; pool2 = .threads = 2; ratios are ours / node:"
echo " for rps higher is better, for latency lower is better)"

# The gateway's cost: the same stand-in worker called directly and through
# `phx gateway` (health checks on, round-robin over one worker).
phx="$build/phx"
[ -x "$phx" ] || phx="$root/$build/phx"
if [ -x "$phx" ]; then
    worker="http://127.0.0.1:$(cat "$tmp/ours.port")"
    "$phx" gateway --listen 127.0.0.1:0 --worker "$worker" --dir "$tmp/gw" --json >"$tmp/gw.out" 2>/dev/null &
    pids="$pids $!"
    for _ in $(seq 1 50); do [ -s "$tmp/gw.out" ] && break; sleep 0.1; done
    gw=$(sed -n 's/.*"url": *"\([^"]*\)".*/\1/p' "$tmp/gw.out")
    path=/v1/contracts/0x1111111111111111111111111111111111111111111111111111111111111111/call
    echo
    printf '%-28s %12s %12s %8s\n' "POST .../call (~200 B JSON)" "direct" "gateway" "ratio"
    for threads in 1 4; do
        "$driver" load "$worker$path" "$secs" $threads >"$tmp/d$threads"
        if [ -n "$gw" ]; then "$driver" load "$gw$path" "$secs" $threads >"$tmp/g$threads"; else printf 'rps n/a\n' >"$tmp/g$threads"; fi
        for k in rps p50_us p99_us; do
            o=$(get "$tmp/d$threads" $k)
            p=$(get "$tmp/g$threads" $k)
            r=$(awk -v o="$o" -v p="$p" 'BEGIN { if (p + 0 > 0 && o + 0 > 0) printf "%.2f", p / o; else print "n/a" }')
            printf '%-28s %12s %12s %8s\n' "$k, $threads client thread(s)" "$o" "$p" "$r"
        done
        a=$(awk -v o="$(get "$tmp/d$threads" p50_us)" -v p="$(get "$tmp/g$threads" p50_us)" 'BEGIN { if (p + 0 > 0) printf "%d", p - o; else print "n/a" }')
        printf '%-28s %12s\n' "added p50 latency, $threads thr" "${a} us"
    done
    echo "(ratio = gateway / direct)"
fi
e=$(get "$tmp/o1" errors)
[ "${e:-0}" = 0 ] || echo "note: $e errors against our server"
exit 0
