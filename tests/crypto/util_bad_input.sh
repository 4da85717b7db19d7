#!/usr/bin/env bash
# Bad input to every `phx util` verb: odd-length hex, non-hex, wrong key and
# signature sizes, invalid keys, truncated ciphertext, tampered tag/aad, unknown
# options. Each must exit 2 (bad input) or 1 (the check failed) with exactly one
# line on stderr that names what was wrong, nothing on stdout, and no sanitizer
# report. Run by CTest with PHX_BIN set to the ASan/UBSan build of phx.
set -u
. "$(dirname "$0")/../lib.sh"
PHX=${PHX_BIN:?PHX_BIN must point at the phx binary}
pass=0

# expect RC PATTERN -- ARGS...: run phx ARGS, check exit code, a single stderr
# line matching PATTERN (grep -E), empty stdout and no sanitizer output.
expect() {
    local want_rc=$1 pattern=$2
    shift 3
    local out err rc
    err=$(mktemp)
    out=$("$PHX" "$@" 2>"$err" </dev/null)
    rc=$?
    local lines
    lines=$(wc -l <"$err")
    local problem=""
    [ "$rc" -eq "$want_rc" ] || problem="exit $rc, want $want_rc"
    [ "$lines" -eq 1 ] || problem="$problem; $lines stderr lines"
    grep -qE -e "$pattern" "$err" || problem="$problem; stderr does not match /$pattern/"
    grep -qE "^phx util" "$err" || problem="$problem; stderr does not start with the verb"
    grep -qiE "sanitizer|runtime error|leak" "$err" && problem="$problem; sanitizer report"
    [ -z "$out" ] || problem="$problem; unexpected stdout: $out"
    if [ -n "$problem" ]; then
        fail=$((fail + 1))
        echo "FAIL phx $*: $problem"
        sed 's/^/    stderr: /' "$err"
    else
        pass=$((pass + 1))
        echo "ok   [$rc] phx $* -> $(cat "$err")"
    fi
    rm -f "$err"
}

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

expect 2 "HEX: odd-length hex" -- util keccak 0xabc
expect 2 "HEX: not a hex digit" -- util keccak 0xzz
expect 2 "missing argument HEX" -- util keccak
expect 2 "HEX: odd-length hex" -- util sha256 abc
expect 2 "unexpected argument" -- util sha256 0x00 0x01
expect 2 "unknown option '--nope'" -- util sha256 --nope 0x00
expect 2 "--key: expected 32 bytes, got 2" -- util address --key 0x1234
expect 2 "--key: not a valid secp256k1 secret key" -- util address --key $ZERO32
expect 2 "--key is required" -- util address
expect 2 "--key: odd-length hex" -- util address --key 0x123
expect 2 "--key: expected 32 bytes, got 31" -- util sign --key $SK31 $MSG
expect 2 "MESSAGE_HEX: odd-length hex" -- util sign --key $SK 0x0
expect 2 "needs a value" -- util sign $MSG --key
expect 2 "SIG: expected 65 bytes, got 1" -- util recover $MSG 0x12
expect 2 "SIG: odd-length hex" -- util recover $MSG ${SIG%?}
expect 2 "SIG: last byte v must be 27 or 28" -- util recover $MSG $SIG_V5
expect 2 "MESSAGE_HEX: not a hex digit" -- util recover 0xgg $SIG
expect 1 "SIG: no signer recovers" -- util recover $MSG $SIG_R0
expect 1 "SIG: no signer recovers" -- util recover $MSG $SIG_HIGH_S
expect 2 "unexpected argument" -- util hpke-keygen extra
expect 2 "--pk: expected 32 bytes, got 31" -- util hpke-seal --pk ${HPK%??} 0x00
expect 2 "--pk: not a usable X25519 public key" -- util hpke-seal --pk $ZERO32 0x00
expect 2 "PLAINTEXT_HEX: odd-length hex" -- util hpke-seal --pk $HPK 0xabc
expect 2 "--info: odd-length hex" -- util hpke-seal --pk $HPK --info 0xa 0x00
expect 2 "--pk is required" -- util hpke-seal 0x00
expect 2 "CT_HEX: truncated: 15 bytes" -- util hpke-open --sk $HSK --enc $ENC --aad 0x01 $CT_TRUNC
expect 1 "tag does not verify" -- util hpke-open --sk $HSK --enc $ENC --aad 0x01 $CT_TAMPERED
expect 1 "tag does not verify" -- util hpke-open --sk $HSK --enc $ENC --aad 0x02 $CT
expect 1 "tag does not verify" -- util hpke-open --sk $HSK --enc $ENC $CT
expect 2 "--enc: expected 32 bytes, got 33" -- util hpke-open --sk $HSK --enc ${ENC}00 $CT
expect 2 "--sk: odd-length hex" -- util hpke-open --sk ${HSK}0 --enc $ENC $CT
expect 2 "--enc: not a usable X25519 public key" -- util hpke-open --sk $HSK --enc $ZERO32 $CT
expect 2 "CT_HEX: not a hex digit" -- util hpke-open --sk $HSK --enc $ENC 0xq0
expect 2 "'frobnicate' is not a util verb" -- util frobnicate

# The untampered ciphertext opens: the failures above are about the input.
pt=$("$PHX" util hpke-open --sk "$HSK" --enc "$ENC" --aad 0x01 "$CT")
if [ "$pt" = 0xdeadbeefcafe ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: open gave '$pt'"; fi

checks=$((pass + fail))
finish
