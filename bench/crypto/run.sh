#!/bin/sh
# bench/crypto: our crypto layer beside independent peers, as ops/s and ratios.
# Usage: bench/crypto/run.sh BUILD_DIR [SECONDS_PER_ITEM] (PHX_BENCH_ROUNDS, default 3,
# alternations of ours and the peers; the best of each is kept). A benchmark, not a test:
# it never fails (a missing peer prints "n/a"). The machine may be shared, so
# compare ratios from one run rather than absolute numbers across runs.
#
# Peers, and what each ratio means:
#   keccak-256 1 KiB   vs `openssl speed -evp sha3-256 -bytes 1024`. OpenSSL 3.0 has no
#                      Keccak-256; SHA3-256 is the same Keccak-f[1600] permutation, rate
#                      and block count, only the padding byte differs (0x06 vs 0x01),
#                      so this compares our permutation with OpenSSL's.
#   secp256k1 sign     vs OpenSSL ECDSA sign on secp256k1 (in-process; openssl speed
#                      has no secp256k1).
#   secp256k1 recover  vs OpenSSL ECDSA verify on secp256k1 (in-process). OpenSSL has no
#                      recovery; a verify is the nearest equal amount of work (one
#                      double scalar multiplication; recovery adds a square root).
#   P-256 verify       vs `openssl speed ecdsap256` verify. Ours includes importing the
#                      key from bytes, r||s -> DER and hashing 64 bytes per call, as the
#                      attestation verifier calls it.
#   HPKE seal/open     vs @hpke/core (same suite, 1 KiB, single-shot) in node, and for
#   1 KiB              scale vs `openssl speed ecdhx25519` (one X25519; a seal does two,
#                      an open two) - OpenSSL 3.0 has no HPKE.
set -u
build=${1:-build}
secs=${2:-1}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
driver="$build/bench/crypto/bench_crypto"
[ -x "$driver" ] || driver="$root/$build/bench/crypto/bench_crypto"
if [ ! -x "$driver" ]; then
    echo "bench/crypto: $driver not built (make build)"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rounds=${PHX_BENCH_ROUNDS:-3}
mods=${PHX_NODE_MODULES:-$root/node_modules}
have_openssl=false
command -v openssl >/dev/null 2>&1 && have_openssl=true
have_node=false
command -v node >/dev/null 2>&1 && [ -d "$mods/@hpke/core" ] && have_node=true

# openssl speed -mr: digests "+F:idx:name:bytes_per_s"; ECDSA "+F4:idx:bits:sign/s:verify/s";
# ECDH "+F5:idx:bits:ops/s:s_per_op".
osl() { openssl speed -mr -seconds "$secs" "$@" 2>/dev/null; }

# The machine is shared: alternate ours and the peers for several rounds and keep
# each one's best, so a busy moment does not land on one side only.
i=0
while [ "$i" -lt "$rounds" ]; do
    "$driver" "$secs" >>"$tmp/phx_all" 2>/dev/null || true
    if $have_openssl; then
        osl -evp sha3-256 -bytes 1024 | awk -F: '/^\+F:/ {printf "sha3_1k %.0f\n", $4 / 1024}'
        osl ecdsap256 | awk -F: '/^\+F4:/ {printf "p256_verify %.0f\n", $5}'
        osl ecdhx25519 | awk -F: '/^\+F5:/ {printf "x25519 %.0f\n", $4}'
    fi >>"$tmp/peer_all"
    if $have_node; then
        node "$here/hpke_peer.js" "$mods" "$secs" 2>/dev/null | sed 's/^/hpke_js_/' >>"$tmp/peer_all" || true
    fi
    i=$((i + 1))
done
touch "$tmp/phx_all" "$tmp/peer_all"
best() { awk '{ if (!($1 in m) || $2 > m[$1]) m[$1] = $2 } END { for (k in m) print k, m[k] }' "$1"; }
best "$tmp/phx_all" >"$tmp/phx"
best "$tmp/peer_all" >"$tmp/peer"

get() { awk -v k="$2" '$1 == k {print $2}' "$1"; }
row() { # label ours_key peer_file peer_key peer_label
    ours=$(get "$tmp/phx" "$2")
    peer=$(get "$tmp/$3" "$4")
    ratio="n/a"
    if [ -n "$ours" ] && [ -n "$peer" ] && [ "$peer" != 0 ]; then
        ratio=$(awk -v a="$ours" -v b="$peer" 'BEGIN {printf "%.2f", a / b}')
    fi
    printf "%-22s %12s   %-34s %12s %8s\n" "$1" "${ours:-n/a}" "$5" "${peer:-n/a}" "$ratio"
}

echo "best of $rounds alternating rounds, ${secs}s per item; load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
printf "%-22s %12s   %-34s %12s %8s\n" "operation" "phx ops/s" "peer" "peer ops/s" "phx/peer"
row "keccak-256 1 KiB" keccak256_1k peer sha3_1k "openssl speed sha3-256 1 KiB"
row "keccak-256 1 KiB" keccak256_1k phx openssl_sha3_256_1k "OpenSSL EVP sha3-256 in-process"
row "secp256k1 sign" secp256k1_sign phx openssl_secp256k1_sign "OpenSSL secp256k1 sign in-process"
row "secp256k1 recover" secp256k1_recover phx openssl_secp256k1_verify "OpenSSL secp256k1 verify (no recover)"
row "P-256 verify" p256_verify peer p256_verify "openssl speed ecdsap256 verify"
row "HPKE seal 1 KiB" hpke_seal_1k peer hpke_js_hpke_seal_1k "@hpke/core seal 1 KiB (node)"
row "HPKE open 1 KiB" hpke_open_1k peer hpke_js_hpke_open_1k "@hpke/core open 1 KiB (node)"
row "HPKE seal 1 KiB" hpke_seal_1k peer x25519 "openssl speed ecdhx25519 (1 DH)"
row "HPKE open 1 KiB" hpke_open_1k peer x25519 "openssl speed ecdhx25519 (1 DH)"
exit 0
