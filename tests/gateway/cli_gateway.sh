#!/bin/sh
# phx gateway through the binary: starts, shows its workers in /v1/network,
# reports 503 on /healthz while no worker is reachable, serves blobs by hash,
# stops cleanly on SIGTERM; a bad worker URL is a usage error (exit 2).
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-gw-cli-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/home"

"$phx" gateway --listen 127.0.0.1:0 --worker http://127.0.0.1:9 --health-ms 200 --json >"$tmp/out" 2>"$tmp/log" &
pid=$!
wait_file "$tmp/out" 600
url=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['url'])" "$tmp/out")
check "gateway starts" 0 $?
# Wait for a health round to have marked the worker down (not a fixed time: a
# loaded machine may take longer than any sleep we would pick).
view() { n=$(curl -s "$url/v1/network" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["workers"]), d["healthy"])' 2>/dev/null); }
down() { view; [ "$n" = "1 0" ]; }
wait_until 600 down
check "network view lists the worker, down" "1 0" "$n"
check "healthz is 503 with no reachable worker" 503 "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")"
check "a call with no worker is 503" 503 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{}' "$url/v1/contracts/0x$(printf '%064x' 1)/call")"
printf 'export default () => 1;' >"$tmp/c.js"
# Blob puts are a contract owner's, signed (tests/worker/owner_hijack.sh has
# the signed ones); with no contract here, an unsigned put is refused.
check "an unsigned blob put is refused" 403 "$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$tmp/c.js" "$url/v1/blobs")"
hash=$("$phx" util keccak 0x$(od -An -tx1 "$tmp/c.js" | tr -d ' \n'))
check "and nothing was stored" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/blobs/$hash")"
kill -TERM $pid; wait $pid; check "SIGTERM: clean exit" 0 $?
pid=""
"$phx" gateway --worker ftp://x --listen 127.0.0.1:0 >/dev/null 2>&1; check "bad worker URL is usage" 2 $?
"$phx" gateway --listen 127.0.0.1:0 >/dev/null 2>"$tmp/none.err"; check "neither a chain nor --worker is usage" 2 $?
check "  and says what it needs" 1 "$(grep -c 'needs --rpc and --deployment' "$tmp/none.err")"
finish
