#!/usr/bin/env bash
# Bad input to every `phx util` verb: odd-length hex, non-hex, wrong key and
# signature sizes, invalid keys, truncated ciphertext, tampered tag/aad, unknown
# options. Each must exit 2 (bad input) or 1 (the check failed) with exactly one
# line on stderr that names what was wrong, nothing on stdout, and no sanitizer
# report. Run by CTest with PHX_BIN set to the ASan/UBSan build of phx.
set -u
. "$(dirname "$0")/../lib.sh"
expect_prefix="phx util"
PHX=${PHX_BIN:?PHX_BIN must point at the phx binary}


SK=0x0123456789012345678901234567890123456789012345678901234567890123
SK31=0x01234567890123456789012345678901234567890123456789012345678901
ZERO32=0x0000000000000000000000000000000000000000000000000000000000000000
MSG=0x68656c6c6f
SIG=$("$PHX" util sign --key "$SK" "$MSG") || { echo "FAIL: sign did not work"; exit 1; }
KEYS=$("$PHX" util hpke-keygen) || { echo "FAIL: hpke-keygen did not work"; exit 1; }
HPK=$(printf '%s' "$KEYS" | sed -E 's/.*"pk":"(0x[0-9a-f]+)".*/\1/')
HSK=$(printf '%s' "$KEYS" | sed -E 's/.*"sk":"(0x[0-9a-f]+)".*/\1/')
SEALED=$("$PHX" util hpke-seal --pk "$HPK" --aad 0x01 0xdeadbeefcafe) || { echo "FAIL: seal"; exit 1; }
ENC=$(printf '%s' "$SEALED" | sed -E 's/.*"enc":"(0x[0-9a-f]+)".*/\1/')
CT=$(printf '%s' "$SEALED" | sed -E 's/.*"ct":"(0x[0-9a-f]+)".*/\1/')
# Flip the last bit of the tag; cut the ciphertext below the tag size.
last=${CT: -1}
flipped=$(printf '%x' $(((16#$last) ^ 1)))
CT_TAMPERED=${CT%?}$flipped
CT_TRUNC=${CT:0:32} # 15 bytes after 0x
# r = 0 cannot recover; high-S (s = n - 1) is refused like Ethereum does.
SIG_R0=0x$(printf '0%.0s' {1..64})${SIG:66:64}1b
SIG_HIGH_S=${SIG:0:66}fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd03641401b
SIG_V5=${SIG:0:130}05

expect_error 2 "HEX: odd-length hex" -- util keccak 0xabc
expect_error 2 "HEX: not a hex digit" -- util keccak 0xzz
expect_error 2 "missing argument HEX" -- util keccak
expect_error 2 "HEX: odd-length hex" -- util sha256 abc
expect_error 2 "unexpected argument" -- util sha256 0x00 0x01
expect_error 2 "unknown option '--nope'" -- util sha256 --nope 0x00
expect_error 2 "--key: expected 32 bytes, got 2" -- util address --key 0x1234
expect_error 2 "--key: not a valid secp256k1 secret key" -- util address --key $ZERO32
expect_error 2 "--key is required" -- util address
expect_error 2 "--key: odd-length hex" -- util address --key 0x123
expect_error 2 "--key: expected 32 bytes, got 31" -- util sign --key $SK31 $MSG
expect_error 2 "MESSAGE_HEX: odd-length hex" -- util sign --key $SK 0x0
expect_error 2 "needs a value" -- util sign $MSG --key
expect_error 2 "SIG: expected 65 bytes, got 1" -- util recover $MSG 0x12
expect_error 2 "SIG: odd-length hex" -- util recover $MSG ${SIG%?}
expect_error 2 "SIG: last byte v must be 27 or 28" -- util recover $MSG $SIG_V5
expect_error 2 "MESSAGE_HEX: not a hex digit" -- util recover 0xgg $SIG
expect_error 1 "SIG: no signer recovers" -- util recover $MSG $SIG_R0
expect_error 1 "SIG: no signer recovers" -- util recover $MSG $SIG_HIGH_S
expect_error 2 "unexpected argument" -- util hpke-keygen extra
expect_error 2 "--pk: expected 32 bytes, got 31" -- util hpke-seal --pk ${HPK%??} 0x00
expect_error 2 "--pk: not a usable X25519 public key" -- util hpke-seal --pk $ZERO32 0x00
expect_error 2 "PLAINTEXT_HEX: odd-length hex" -- util hpke-seal --pk $HPK 0xabc
expect_error 2 "--info: odd-length hex" -- util hpke-seal --pk $HPK --info 0xa 0x00
expect_error 2 "--pk is required" -- util hpke-seal 0x00
expect_error 2 "CT_HEX: truncated: 15 bytes" -- util hpke-open --sk $HSK --enc $ENC --aad 0x01 $CT_TRUNC
expect_error 1 "tag does not verify" -- util hpke-open --sk $HSK --enc $ENC --aad 0x01 $CT_TAMPERED
expect_error 1 "tag does not verify" -- util hpke-open --sk $HSK --enc $ENC --aad 0x02 $CT
expect_error 1 "tag does not verify" -- util hpke-open --sk $HSK --enc $ENC $CT
expect_error 2 "--enc: expected 32 bytes, got 33" -- util hpke-open --sk $HSK --enc ${ENC}00 $CT
expect_error 2 "--sk: odd-length hex" -- util hpke-open --sk ${HSK}0 --enc $ENC $CT
expect_error 2 "--enc: not a usable X25519 public key" -- util hpke-open --sk $HSK --enc $ZERO32 $CT
expect_error 2 "CT_HEX: not a hex digit" -- util hpke-open --sk $HSK --enc $ENC 0xq0
expect_error 2 "'frobnicate' is not a util verb" -- util frobnicate

# The untampered ciphertext opens: the failures above are about the input.
pt=$("$PHX" util hpke-open --sk "$HSK" --enc "$ENC" --aad 0x01 "$CT")
if [ "$pt" = 0xdeadbeefcafe ]; then checks=$((checks + 1)); else checks=$((checks + 1)); fail=1; echo "FAIL: open gave '$pt'"; fi

finish
