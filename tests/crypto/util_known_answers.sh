#!/usr/bin/env bash
# `phx util` success paths against known answers computed elsewhere: keccak and
# sha256 of standard inputs, the address of ethers' test key, the EIP-191 digest
# of "hello world" (ethers.hashMessage), RFC 6979 determinism, stdin input, JSON
# shapes, and a man page (with EXIT STATUS) behind --help for every verb.
set -u
. "$(dirname "$0")/../lib.sh"
PHX=${PHX_BIN:?PHX_BIN must point at the phx binary}
pass=0

check_got "keccak of empty" "$("$PHX" util keccak 0x)" 0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470
check_got "keccak of 'abc' (upper-case hex in)" "$("$PHX" util keccak 0X616263)" \
    0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45
check_got "keccak --json" "$("$PHX" util keccak --json 0x)" \
    '{"keccak256":"0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"}'
check_got "sha256 of 'abc'" "$("$PHX" util sha256 616263)" \
    0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
check_got "sha256 from stdin" "$(echo 0x616263 | "$PHX" util sha256 -)" \
    0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad

# ethers-testcases transactions.json #0: this key's account address.
SK=0x0123456789012345678901234567890123456789012345678901234567890123
check_got "address (EIP-55)" "$("$PHX" util address --key $SK)" 0x14791697260E4c9A71f18484C9f997B308e59325
check_got "address, key on stdin" "$(echo $SK | "$PHX" util address --key -)" 0x14791697260E4c9A71f18484C9f997B308e59325

# "hello world": ethers.hashMessage gives this EIP-191 digest.
json=$("$PHX" util sign --json --key $SK 0x68656c6c6f20776f726c64)
digest=$(printf '%s' "$json" | sed -E 's/.*"digest":"(0x[0-9a-f]+)".*/\1/')
check_got "EIP-191 digest" "$digest" 0xd9eba16ed0ecae432b71fe008c98cc872bb4cc214d3220a36f365326cf807d68
sig1=$("$PHX" util sign --key $SK 0x68656c6c6f20776f726c64)
sig2=$("$PHX" util sign --key $SK 0x68656c6c6f20776f726c64)
check_got "RFC 6979: same key and message, same signature" "$sig1" "$sig2"
check_got "signature is 65 bytes with v 27/28" "$(printf '%s' "$sig1" | grep -cE '^0x[0-9a-f]{128}(1b|1c)$')" 1
check_got "recover" "$("$PHX" util recover 0x68656c6c6f20776f726c64 "$sig1")" 0x14791697260E4c9A71f18484C9f997B308e59325
check_got "recover --json" "$("$PHX" util recover --json 0x68656c6c6f20776f726c64 "$sig1")" \
    '{"address":"0x14791697260E4c9A71f18484C9f997B308e59325"}'
# v as 0/1 is accepted as well.
v=${sig1: -2}
sig01=${sig1:0:130}0$((16#$v - 27))
check_got "recover with v in {0,1}" "$("$PHX" util recover 0x68656c6c6f20776f726c64 "$sig01")" \
    0x14791697260E4c9A71f18484C9f997B308e59325

# HPKE: keygen shape, empty plaintext, info and aad, --json open.
keys=$("$PHX" util hpke-keygen)
check_got "hpke-keygen shape" "$(printf '%s' "$keys" | grep -cE '^\{"sk":"0x[0-9a-f]{64}","pk":"0x[0-9a-f]{64}"\}$')" 1
pk=$(printf '%s' "$keys" | sed -E 's/.*"pk":"(0x[0-9a-f]+)".*/\1/')
sk=$(printf '%s' "$keys" | sed -E 's/.*"sk":"(0x[0-9a-f]+)".*/\1/')
sealed=$("$PHX" util hpke-seal --pk "$pk" --info 0xaa --aad 0xbb 0x)
enc=$(printf '%s' "$sealed" | sed -E 's/.*"enc":"(0x[0-9a-f]+)".*/\1/')
ct=$(printf '%s' "$sealed" | sed -E 's/.*"ct":"(0x[0-9a-f]+)".*/\1/')
check_got "empty plaintext seals to just a tag" "${#ct}" 34
check_got "hpke-open --json of empty plaintext" \
    "$("$PHX" util hpke-open --json --sk "$sk" --enc "$enc" --info 0xaa --aad 0xbb "$ct")" '{"pt":"0x"}'

# Every verb has a man page with an exit-status section, exit 0; `phx help util` too.
for verb in keccak sha256 address sign recover hpke-keygen hpke-seal hpke-open; do
    out=$("$PHX" util "$verb" --help)
    rc=$?
    check_got "util $verb --help exit" "$rc" 0
    check_got "util $verb --help sections" "$(printf '%s\n' "$out" | grep -cE '^(NAME|SYNOPSIS|DESCRIPTION|EXIT STATUS)$')" 4
done
"$PHX" help util >/dev/null
check_got "phx help util exit" "$?" 0
"$PHX" util >/dev/null 2>&1
check_got "phx util with no verb exits 2" "$?" 2

finish
