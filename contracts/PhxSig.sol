// SPDX-License-Identifier: Apache-2.0
// The signature form the Phalanx contracts accept, on OpenZeppelin's ECDSA: a
// 65-byte r || s || v read straight from calldata (no copy to memory: fulfill
// checks k of them), v = 27/28 or 0/1 (the C side signs with the raw recovery
// id), low-s only (EIP-2, enforced by ECDSA.tryRecover) so a signature has no
// malleated twin.
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

library PhxSig {
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
        if (v < 27) v += 27;
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, v, r, s);
        return err == ECDSA.RecoverError.NoError ? signer : address(0);
    }
}
