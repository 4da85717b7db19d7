#!/bin/sh
# phx attest end to end through the binary: a sim quote round-trips (quote ->
# verify --trust-sim-root accepts with the report data given; without the sim
# root it is rejected), real quotes give the documented exit codes and JSON.
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-attest-cli-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/home"

rd=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20
"$phx" attest quote --tee sim --report-data "$rd" --out "$tmp/q.bin"; check "sim quote" 0 $?
"$phx" attest collateral --tee sim --out "$tmp/c.json"; check "sim collateral" 0 $?
[ -f "$PHX_HOME/sim/root_ca.der" ]; check "sim hierarchy created in \$PHX_HOME/sim" 0 $?
"$phx" attest verify "$tmp/q.bin" --collateral "$tmp/c.json" --trust-sim-root "$PHX_HOME/sim" --json >"$tmp/v.json"
check "verify sim quote with --trust-sim-root" 0 $?
grep -q "\"report_data\":\"$rd\"" "$tmp/v.json"; check "report data carried through" 0 $?
grep -q '"ok":true' "$tmp/v.json" && grep -q '"root":"sim"' "$tmp/v.json"; check "json ok/root" 0 $?
"$phx" attest verify "$tmp/q.bin" --collateral "$tmp/c.json" --json >"$tmp/v2.json"
check "verify sim quote without --trust-sim-root is rejected" 1 $?
grep -q '"ok":false' "$tmp/v2.json" && grep -q '"error":' "$tmp/v2.json"; check "rejection has an error" 0 $?
# The reference verifier (@phala/dcap-qvl) given the sim root accepts the sim quote
# too: the sim emits real-format quotes and collateral, not just ones we accept.
nm=${PHX_NODE_MODULES:-}
if [ -n "$nm" ] && [ -d "$nm/@phala/dcap-qvl" ] && command -v node >/dev/null 2>&1; then
    NM="$nm" node -e '
const fs = require("fs");
const { QuoteVerifier } = require(process.env.NM + "/@phala/dcap-qvl");
const [root, q, c] = process.argv.slice(1);
const r = QuoteVerifier.newWithRootCa(fs.readFileSync(root))
    .verify(fs.readFileSync(q), JSON.parse(fs.readFileSync(c, "utf8")), Math.floor(Date.now() / 1000));
if (r.status !== "UpToDate") process.exit(1);' "$PHX_HOME/sim/root_ca.der" "$tmp/q.bin" "$tmp/c.json"
    check "reference verifier accepts the sim quote with the sim root" 0 $?
else
    echo "SKIP reference verifier on the sim quote: no node or @phala/dcap-qvl"
fi
# The hierarchy is made once: a second quote uses the same root.
cp "$PHX_HOME/sim/root_ca.der" "$tmp/root1.der"
"$phx" attest quote --tee sim --report-data 01 >"$tmp/q2.hex"; check "sim quote as hex to stdout" 0 $?
cmp -s "$tmp/root1.der" "$PHX_HOME/sim/root_ca.der"; check "sim root reused" 0 $?
"$phx" attest verify "$tmp/q2.hex" --collateral "$tmp/c.json" --trust-sim-root "$PHX_HOME/sim" >/dev/null
check "verify hex quote file" 0 $?
# A flipped byte in the sim quote body is rejected.
python3 - "$tmp/q.bin" "$tmp/bad.bin" <<'PY' 2>/dev/null || cp "$tmp/q.bin" "$tmp/bad.bin"
import sys
b = bytearray(open(sys.argv[1], 'rb').read()); b[200] ^= 1; open(sys.argv[2], 'wb').write(b)
PY
"$phx" attest verify "$tmp/bad.bin" --collateral "$tmp/c.json" --trust-sim-root "$PHX_HOME/sim" >/dev/null
check "tampered sim quote rejected" 1 $?

# Several processes making the sim TEE at once end up sharing one hierarchy.
export PHX_HOME="$tmp/race"
for i in 1 2 3 4; do "$phx" attest quote --tee sim --report-data 0$i --out "$tmp/race$i.bin" & done
wait
"$phx" attest collateral --tee sim --out "$tmp/race.json"
ok=0
for i in 1 2 3 4; do
    "$phx" attest verify "$tmp/race$i.bin" --collateral "$tmp/race.json" --trust-sim-root "$PHX_HOME/sim" >/dev/null || ok=1
done
check "concurrent first use: one hierarchy, every quote verifies" 0 $ok
[ -z "$(ls -d "$PHX_HOME"/sim.tmp.* 2>/dev/null)" ]; check "no temporary sim directories left" 0 $?
export PHX_HOME="$tmp/home"

d="${PHX_TESTDATA:-../shared/testdata}/dcap"
if [ -d "$d" ]; then
    "$phx" attest verify "$d/quotes/phala_tdx_v4_b0c06f.bin" --collateral "$d/collateral/phala_tdx_b0c06f_2506.json" --now 1752919234 --json >"$tmp/r.json"
    check "real TDX quote accepted" 0 $?
    grep -q '"status":"UpToDate"' "$tmp/r.json"; check "real TDX status" 0 $?
    "$phx" attest verify "$d/quotes/phala_tdx_v4_b0c06f.bin" --collateral "$d/collateral/phala_tdx_b0c06f_2506.json" --now 1752920164 >/dev/null
    check "real TDX quote after the collateral window" 1 $?
    echo '{"accept_status":["UpToDate","SWHardeningNeeded","OutOfDate"]}' >"$tmp/policy.json"
    "$phx" attest verify "$d/quotes/automata_tdx_v4_00806f05.bin" --collateral "$d/collateral/automata_tdx_00806f050000_2506.json" --now 1749095100 >/dev/null
    check "OutOfDate rejected by the default policy" 1 $?
    "$phx" attest verify "$d/quotes/automata_tdx_v4_00806f05.bin" --collateral "$d/collateral/automata_tdx_00806f050000_2506.json" --now 1749095100 --policy "$tmp/policy.json" >/dev/null
    check "OutOfDate accepted by a policy that allows it" 0 $?
    "$phx" attest verify "$d/quotes/phala_sgx_v3_00a067.bin" --collateral "$tmp/missing.json" >/dev/null 2>&1
    check "missing collateral is unreadable input" 2 $?
    echo '{"tcb_info":1}' >"$tmp/badcol.json"
    "$phx" attest verify "$d/quotes/phala_sgx_v3_00a067.bin" --collateral "$tmp/badcol.json" >/dev/null 2>&1
    check "malformed collateral is unreadable input" 2 $?
else
    echo "SKIP $d: not found"
fi
"$phx" attest verify >/dev/null 2>&1; check "usage error" 2 $?
"$phx" attest quote --tee sim --report-data zz >/dev/null 2>&1; check "bad report data" 2 $?
finish
