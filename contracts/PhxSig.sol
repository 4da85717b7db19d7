// SPDX-License-Identifier: Apache-2.0
// Signature recovery shared by the Phalanx contracts: 65-byte r || s || v
// (v = 27/28 or 0/1), low-s only (EIP-2), so one key has exactly one valid
// signature per digest and signatures cannot be replayed in a malleated form.
pragma solidity ^0.8.24;

library PhxSig {
    // secp256k1 order / 2: the largest s EIP-2 allows.
    uint256 internal constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// The signer of digest, or address(0) when sig is malformed or does not recover.
    function recover(bytes32 digest, bytes calldata sig) internal pure returns (address) {
        if (sig.length != 65) return address(0);
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := calldataload(sig.offset)
            s := calldataload(add(sig.offset, 32))
            v := byte(0, calldataload(add(sig.offset, 64)))
        }
        return recoverVRS(digest, v, r, s);
    }

    function recoverVRS(bytes32 digest, uint8 v, bytes32 r, bytes32 s) internal pure returns (address) {
        if (v < 27) v += 27;
        if (v != 27 && v != 28) return address(0);
        if (uint256(s) > HALF_ORDER || uint256(s) == 0 || uint256(r) == 0) return address(0);
        return ecrecover(digest, v, r, s);
    }
}
