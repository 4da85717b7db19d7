#!/bin/sh
# One network per directory: a second `phx devnet --dir D` while the first runs
# in D exits 2 naming the pid that holds D, and leaves the first network alone
# (endpoints.json unchanged, its logs intact, its gateway still answering).
# A daemon started on a directory the devnet's own KMS holds is refused too.
# The lock dies with its holder: after a SIGKILL of the devnet, a new start in
# D succeeds.
set -u
phx=${PHX_BIN:?PHX_BIN not set}
. "$(dirname "$0")/../lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-devlock-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
net="$tmp/net"
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d$2)" "$1"; }

start() { # start OUTFILE: phx devnet in the background until endpoints are printed
    devnet_start "$1" "${1%.json}.log" --dir "$net" --workers 1
}
# The pids of the network in $1 (endpoints JSON), one a line.
pids_of() { python3 -c 'import json,sys; [print(v) for v in json.load(open(sys.argv[1]))["pids"].values()]' "$1"; }
# Those of them still running, with their state and command line. A zombie
# (state Z) has exited and only waits for init to reap it: not running.
alive() {
    for p in $(pids_of "$1"); do
        st=$(ps -o stat= -p "$p" 2>/dev/null) || continue
        case "$st" in Z*) ;; *) echo "$p $st $(ps -o args= -p "$p")" ;; esac
    done
}
# Log files not as they were in $tmp/logs.before: gone, or no longer starting
# with what they held then (logs of a running network only grow), one a line.
logs_changed() {
    for f in "$tmp/logs.before"/*; do
        now="$net/logs/$(basename "$f")"
        [ -f "$now" ] && cmp -s -n "$(wc -c <"$f")" "$f" "$now" || basename "$f"
    done
}

start "$tmp/a.json"
check "first devnet starts" 0 $?
first=$pid
gw=$(field "$tmp/a.json" "['gateway']")
cp "$net/endpoints.json" "$tmp/endpoints.before"
cp -r "$net/logs" "$tmp/logs.before"
check "the first network has logs" yes "$([ "$(ls "$tmp/logs.before" | grep -c .)" -ge 3 ] && echo yes)"

# The second start on the same directory.
timeout 120 "$phx" devnet --dir "$net" --workers 1 --json >"$tmp/b.out" 2>"$tmp/b.err"
check "second devnet on the same --dir exits 2" 2 $?
check "it names the pid holding the directory" yes "$(grep -q "in use by pid $first" "$tmp/b.err" && echo yes)"
check "it printed no endpoints" 0 "$(wc -c <"$tmp/b.out")"
check "endpoints.json unchanged" same "$(cmp -s "$net/endpoints.json" "$tmp/endpoints.before" && echo same)"
check "the first network's logs intact (each still starts with what it held)" 0 "$(logs_changed | grep -c .)"
check "the first network still answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$gw/v1/network")"
check "the first devnet still runs" yes "$(kill -0 $first 2>/dev/null && echo yes)"

# A daemon on a directory one of the network's daemons holds: refused the same
# way, by each of the three (the same scaffold, src/cli/daemon.c).
kms_pid=$(field "$tmp/a.json" "['pids']['kms']")
timeout 60 "$phx" kms --dir "$net/kms" --listen 127.0.0.1:0 >"$tmp/k.out" 2>"$tmp/k.err"
check "a second kms on the devnet's kms dir exits 2" 2 $?
check "it names the kms's pid" yes "$(grep -q "in use by pid $kms_pid" "$tmp/k.err" && echo yes)"
gw_pid=$(field "$tmp/a.json" "['pids']['gateway']")
timeout 60 "$phx" gateway --dir "$net/gateway" --listen 127.0.0.1:0 --worker http://127.0.0.1:9 >"$tmp/g.out" 2>"$tmp/g.err"
check "a second gateway on the devnet's gateway dir exits 2" 2 $?
check "it names the gateway's pid" yes "$(grep -q "in use by pid $gw_pid" "$tmp/g.err" && echo yes)"
w_pid=$(field "$tmp/a.json" "['pids']['worker-0']")
timeout 60 "$phx" worker --dir "$net/worker-0" --listen 127.0.0.1:0 \
    --rpc "$(field "$tmp/a.json" "['rpc']")" --deployment "$net/deployment.json" \
    --kms "$(field "$tmp/a.json" "['kms']['url']")" --kms-address "$(field "$tmp/a.json" "['kms']['address']")" \
    --operator-key-file "$net/worker-0/operator.key" >"$tmp/w.out" 2>"$tmp/w.err"
check "a second worker on the devnet's worker dir exits 2" 2 $?
check "it names the worker's pid" yes "$(grep -q "in use by pid $w_pid" "$tmp/w.err" && echo yes)"

# SIGKILL the holder: the kernel drops its lock, and its children stop.
kill -KILL $first
wait $first 2>/dev/null
pid=""
start "$tmp/c.json"
check "after a SIGKILL of the holder a new devnet starts" 0 $?
check "the new network answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$(field "$tmp/c.json" "['gateway']")/v1/network")"
check "and holds the directory now" "$pid" "$(head -n1 "$net/lock")"
check "the killed network had its processes listed" yes "$([ "$(pids_of "$tmp/a.json" | grep -c .)" -ge 4 ] && echo yes)"
left=$(alive "$tmp/a.json"); [ -n "$left" ] && echo "$left"
check "none of the killed network's processes is left" 0 "$(echo "$left" | grep -c .)"
kill -TERM $pid
wait $pid
check "the new devnet stops cleanly" 0 $?
pid=""
finish
