#!/bin/sh
# One network per directory: a second `phx devnet --dir D` while the first runs
# in D exits 2 naming the pid that holds D, and leaves the first network alone
# (endpoints.json unchanged, its logs intact, its gateway still answering).
# A daemon started on a directory the devnet's own KMS holds is refused too.
# The lock dies with its holder: after a SIGKILL of the devnet, a new start in
# D succeeds.
set -u
phx=${PHX_BIN:?PHX_BIN not set}
fail=0
check() { # check DESCRIPTION EXPECTED ACTUAL: an empty ACTUAL never passes
    if [ -n "$3" ] && [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: got '$3', want '$2'"; fail=1; fi
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-devlock-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
net="$tmp/net"
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d$2)" "$1"; }

start() { # start OUTFILE: phx devnet in the background until endpoints are printed
    "$phx" devnet --dir "$net" --workers 1 --json >"$1" 2>>"$tmp/devnet.log" &
    pid=$!
    for _ in $(seq 1 1200); do
        [ -s "$1" ] && return 0
        kill -0 $pid 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# The pids of the network in $1 (endpoints JSON), one a line.
pids_of() { python3 -c 'import json,sys; [print(v) for v in json.load(open(sys.argv[1]))["pids"].values()]' "$1"; }
# Those of them still running.
alive() { for p in $(pids_of "$1"); do kill -0 "$p" 2>/dev/null && echo "$p"; done; }
# "name:size" of every log file, one a line, sorted.
log_sizes() { (cd "$net/logs" && for f in *; do echo "$f:$(wc -c <"$f")"; done) | sort; }

start "$tmp/a.json"
check "first devnet starts" 0 $?
first=$pid
gw=$(field "$tmp/a.json" "['gateway']")
cp "$net/endpoints.json" "$tmp/endpoints.before"
logs_before=$(log_sizes)
check "the first network has logs" yes "$([ "$(echo "$logs_before" | grep -c .)" -ge 3 ] && echo yes)"

# The second start on the same directory.
timeout 120 "$phx" devnet --dir "$net" --workers 1 --json >"$tmp/b.out" 2>"$tmp/b.err"
check "second devnet on the same --dir exits 2" 2 $?
check "it names the pid holding the directory" yes "$(grep -q "in use by pid $first" "$tmp/b.err" && echo yes)"
check "it printed no endpoints" 0 "$(wc -c <"$tmp/b.out")"
check "endpoints.json unchanged" same "$(cmp -s "$net/endpoints.json" "$tmp/endpoints.before" && echo same)"
# Logs are append-only for a running network: every file still there, none shorter.
shrunk=$(log_sizes | python3 -c '
import sys
before = dict(l.rsplit(":", 1) for l in sys.argv[1].split() if l)
after = dict(l.strip().rsplit(":", 1) for l in sys.stdin if l.strip())
print(sum(1 for k, v in before.items() if k not in after or int(after[k]) < int(v)))' "$logs_before")
check "the first network's logs intact" 0 "$shrunk"
check "the first network still answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$gw/v1/network")"
check "the first devnet still runs" yes "$(kill -0 $first 2>/dev/null && echo yes)"

# A daemon on a directory one of the network's daemons holds: refused the same way.
kms_pid=$(field "$tmp/a.json" "['pids']['kms']")
timeout 60 "$phx" kms --dir "$net/kms" --listen 127.0.0.1:0 >"$tmp/k.out" 2>"$tmp/k.err"
check "a second kms on the devnet's kms dir exits 2" 2 $?
check "it names the kms's pid" yes "$(grep -q "in use by pid $kms_pid" "$tmp/k.err" && echo yes)"

# SIGKILL the holder: the kernel drops its lock, and its children stop.
kill -KILL $first
wait $first 2>/dev/null
pid=""
start "$tmp/c.json"
check "after a SIGKILL of the holder a new devnet starts" 0 $?
check "the new network answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$(field "$tmp/c.json" "['gateway']")/v1/network")"
check "and holds the directory now" "$pid" "$(head -n1 "$net/lock")"
check "the killed network had its processes listed" yes "$([ "$(pids_of "$tmp/a.json" | grep -c .)" -ge 4 ] && echo yes)"
check "none of the killed network's processes is left" 0 "$(alive "$tmp/a.json" | grep -c .)"
kill -TERM $pid
wait $pid
check "the new devnet stops cleanly" 0 $?
pid=""
exit $fail
