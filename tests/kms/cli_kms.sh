#!/bin/sh
# phx kms as an operator runs it: starts on the sim TEE, serves its own
# attestation (the quote verifies with `phx attest verify` and binds the KMS
# address and X25519 key to our nonce), stops cleanly on SIGTERM, comes back
# with the same root, refuses the sim TEE in production, refuses a tampered
# sealed root, and onboards a replica that ends up with the same KMS address.
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-kms-cli-XXXXXX")
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/home"

# start_kms NAME ARGS...: runs phx kms in the background, waits for its ready line.
start_kms() {
    name=$1
    shift
    "$phx" kms --listen 127.0.0.1:0 --json "$@" >"$tmp/$name.out" 2>"$tmp/$name.log" &
    pid=$!
    pids="$pids $pid"
    for _ in $(seq 1 1200); do # the ready line, or an exit; the cap only bounds a hang
        [ -s "$tmp/$name.out" ] && return 0
        kill -0 $pid 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

start_kms a --allow-own-measurement; check "kms starts" 0 $?
kms_pid=$pid
url=$(json "$tmp/a.out" "['url']")
addr=$(json "$tmp/a.out" "['kms_address']" | tr 'A-F' 'a-f')
xpub=$(json "$tmp/a.out" "['x25519_pub']")
check "first start creates the root" True "$(json "$tmp/a.out" "['created_root']")"
[ -f "$PHX_HOME/kms/kms-root.sealed" ] && [ -f "$PHX_HOME/kms/kms.json" ]; check "sealed root and kms.json written" 0 $?
check "sealed root is 0600" 600 "$(stat -c %a "$PHX_HOME/kms/kms-root.sealed")"
check "GET /v1/info names the same address" "$addr" "$(curl -s "$url/v1/info" | python3 -c 'import json,sys; print(json.load(sys.stdin)["kms_address"])')"

# Its attestation: the quote verifies to the sim root and binds address, key and nonce.
nonce=0x$(printf '%064x' 123456789)
curl -s "$url/v1/attestation?nonce=$nonce" >"$tmp/att.json"
python3 - "$tmp/att.json" "$tmp" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
open(sys.argv[2] + "/q.hex", "w").write(a["quote"])
json.dump(a["collateral"], open(sys.argv[2] + "/c.json", "w"))
PY
check "attestation has quote and collateral" 0 $?
"$phx" attest verify "$tmp/q.hex" --collateral "$tmp/c.json" --trust-sim-root "$PHX_HOME/sim" --json >"$tmp/v.json"
check "KMS quote verifies to the sim root" 0 $?
rd=$(json "$tmp/v.json" "['report']['report_data']" 2>/dev/null || echo none)
tag=$(printf 'phx-kms-v1' | od -An -tx1 | tr -d ' \n')
want=$("$phx" util keccak "0x$tag${addr#0x}${xpub#0x}${nonce#0x}")
check "report data = keccak(tag||address||x25519||nonce)||nonce" "${want#0x}${nonce#0x}" "${rd#0x}"

# Graceful stop on SIGTERM.
kill -TERM $kms_pid
wait $kms_pid
check "SIGTERM: clean exit" 0 $?
curl -s -m 2 "$url/v1/info" >/dev/null
check "nothing listening after stop" 7 $?

# Restart: the same root (unsealed), so the same address.
start_kms b --allow-own-measurement; check "restart" 0 $?
check "restart unseals the root" False "$(json "$tmp/b.out" "['created_root']")"
check "restart keeps the address" "$addr" "$(json "$tmp/b.out" "['kms_address']" | tr 'A-F' 'a-f')"
url_b=$(json "$tmp/b.out" "['url']")
addr_b=$(json "$tmp/b.out" "['kms_address']")

# A replica onboards from it (the allowlist admits this same binary) and has the same key.
start_kms r --dir "$tmp/replica" --allow-own-measurement --onboard-from "$url_b" --kms-address "$addr_b"
check "replica starts" 0 $?
check "replica has the same KMS address" "$addr" "$(json "$tmp/r.out" "['kms_address']" | tr 'A-F' 'a-f')"
[ -f "$tmp/replica/kms-root.sealed" ]; check "replica sealed the root it received" 0 $?
for p in $pids; do kill -TERM $p 2>/dev/null; done
wait

# Production refuses the sim TEE.
"$phx" kms --listen 127.0.0.1:0 --production --allow-own-measurement >/dev/null 2>"$tmp/prod.log"
check "--production refuses sim" 1 $?
grep -qi "sim" "$tmp/prod.log"; check "production refusal says why" 0 $?

# A tampered sealed root is refused and left as it was.
cp "$PHX_HOME/kms/kms-root.sealed" "$tmp/orig.sealed"
python3 - "$PHX_HOME/kms/kms-root.sealed" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[40] ^= 1; open(p, 'wb').write(b)
PY
cp "$PHX_HOME/kms/kms-root.sealed" "$tmp/tampered.sealed"
"$phx" kms --listen 127.0.0.1:0 --allow-own-measurement >/dev/null 2>"$tmp/t.log"
check "tampered sealed root refused" 1 $?
cmp -s "$PHX_HOME/kms/kms-root.sealed" "$tmp/tampered.sealed"; check "tampered file left untouched" 0 $?

# Usage errors are exit 2.
"$phx" kms --listen nonsense >/dev/null 2>&1; check "bad --listen" 2 $?
"$phx" kms --rpc http://127.0.0.1:1 >/dev/null 2>&1; check "--rpc without --deployment" 2 $?
finish
