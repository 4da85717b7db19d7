# A worker registered on a bare chain without a TEE, for shell tests that need
# Jobs to admit requests (Jobs.request refuses a k no eligible worker can meet)
# but run no worker: as contracts/test/Fixture.sol does, governance allows the
# measurement of an all-zero SGX report, admits a KMS key with a synthetic SGX
# v3 quote that binds it, and the operator registers the worker key with that
# KMS key's signature. The chain checks only key binding and measurement, so
# this is a real registration of a key no TEE holds: tests only.
#     . "$(dirname "$0")/../support/synthetic_worker.sh"
#     synthetic_worker RPC REGISTRY GOV_KEY KMS_KEY OPERATOR_KEY WORKER_KEY || fail
# The operator must meet the Registry's minStake (deploy with --min-stake 0).
# Needs $cast (tests/lib.sh sets it).

# _sw_quote BOUND NONCE: an SGX v3 quote of zeros but for the version and the
# report data (bound || nonce at offset 48 + 320), as 0x hex.
_sw_quote() {
    python3 -c 'import sys
q = bytearray(48 + 384)
q[0] = 3
q[368:400] = bytes.fromhex(sys.argv[1][2:])
q[400:432] = bytes.fromhex(sys.argv[2][2:])
print("0x" + q.hex())' "$1" "$2"
}

# _sw_bound TAG ADDRESS X25519 NONCE: keccak256(TAG || address || x25519 || nonce).
_sw_bound() {
    "$cast" keccak "0x$(printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n')${2#0x}${3#0x}${4#0x}"
}

synthetic_worker() {
    _rpc=$1 _reg=$2 _gov=$3 _kms=$4 _op=$5 _wk=$6
    _kms_addr=$("$cast" wallet address --private-key "$_kms") || return 1
    _w_addr=$("$cast" wallet address --private-key "$_wk") || return 1
    _op_addr=$("$cast" wallet address --private-key "$_op") || return 1
    _x=0x$(printf '%064x' 170)
    _n1=0x$(printf '%064x' 1)
    _n2=0x$(printf '%064x' 2)
    _meas=$("$cast" keccak "0x$(printf '%0128d' 0)") # MRENCLAVE || MRSIGNER, all zero
    _q1=$(_sw_quote "$(_sw_bound phx-kms-v1 "$_kms_addr" "$_x" "$_n1")" "$_n1")
    _q2=$(_sw_quote "$(_sw_bound phx-worker-v1 "$_w_addr" "$_x" "$_n2")" "$_n2")
    "$cast" send --rpc-url "$_rpc" --private-key "$_gov" "$_reg" 'setMeasurement(bytes32,bool)' \
        "$_meas" true >/dev/null || return 1
    "$cast" send --rpc-url "$_rpc" --private-key "$_gov" "$_reg" \
        'admitKms(address,bytes32,bytes32,bytes,bytes32)' "$_kms_addr" "$_x" "$_n1" "$_q1" \
        0x$(printf '%064x' 0) >/dev/null || return 1
    _digest=$("$cast" call --rpc-url "$_rpc" "$_reg" \
        'attestDigest(address,address,bytes32,bytes32,uint32,bytes32,bytes32)(bytes32)' \
        "$_op_addr" "$_w_addr" "$_x" "$_meas" 0 "$("$cast" keccak "$_q2")" "$_n2") || return 1
    _sig=$("$cast" wallet sign --no-hash --private-key "$_kms" "$_digest") || return 1
    "$cast" send --rpc-url "$_rpc" --private-key "$_op" "$_reg" \
        'registerWorker(address,bytes32,bytes32,bytes,bytes)' "$_w_addr" "$_x" "$_n2" "$_q2" \
        "$_sig" >/dev/null
}
