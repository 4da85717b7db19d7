// SPDX-License-Identifier: Apache-2.0
// phx.state's anchor (docs/js.md "phx.state", docs/chain.md): per (contract id,
// key id) the version and the keccak256 of the sealed value, moved forward only
// by a compare-and-set that a registered worker signed. The sealed bytes go in
// the StateWritten event, so any worker can fetch the latest from the block the
// slot names and check them against the hash here; a worker or host replaying
// an older value is caught because its hash is not the anchored one. Phala's
// rollup anchor (conditional KV writes on chain) is the model.
// No parameters and no governor: the Registry it trusts is the governed part.
pragma solidity ^0.8.24;

import {IWorkerRegistry} from "./IPhx.sol";
import {PhxSig} from "./PhxSig.sol";

contract StateAnchor {
    /// Sealed values above this are refused: state is small; blobs belong elsewhere.
    uint256 public constant MAX_SEALED = 16384;

    struct Slot {
        uint64 version; // 0: never written
        uint64 blockNumber; // the block of the StateWritten event holding the sealed bytes
        bytes32 hash; // keccak256 of the sealed bytes
    }

    IWorkerRegistry public immutable registry;
    mapping(bytes32 => mapping(bytes32 => Slot)) public slots;

    event StateWritten(
        bytes32 indexed contractId, bytes32 indexed key, uint64 indexed version, bytes32 hash, bytes blob
    );

    error NotWorker(address signer);
    error VersionMismatch(uint64 expected, uint64 current);
    error SealedTooLarge(uint256 length);

    constructor(IWorkerRegistry registry_) {
        registry = registry_;
    }

    /// What the worker signs: this anchor on this chain, the slot, the version the
    /// write expects and the hash of the sealed value it sets.
    function writeDigest(bytes32 contractId, bytes32 key, uint64 expectedVersion, bytes32 hash)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(address(this), block.chainid, contractId, key, expectedVersion, hash));
    }

    /// Compare-and-set: sets version expectedVersion + 1 only if the slot is at
    /// expectedVersion and the signer is an active worker. Anyone may send it.
    function write(
        bytes32 contractId,
        bytes32 key,
        uint64 expectedVersion,
        bytes calldata blob,
        bytes calldata signature
    ) external returns (uint64 version) {
        if (blob.length > MAX_SEALED) revert SealedTooLarge(blob.length);
        bytes32 hash = keccak256(blob);
        address signer = PhxSig.recover(writeDigest(contractId, key, expectedVersion, hash), signature);
        if (signer == address(0) || registry.activeOperatorOf(signer) == address(0)) revert NotWorker(signer);
        Slot storage s = slots[contractId][key];
        if (s.version != expectedVersion) revert VersionMismatch(expectedVersion, s.version);
        version = expectedVersion + 1;
        s.version = version;
        s.blockNumber = uint64(block.number);
        s.hash = hash;
        emit StateWritten(contractId, key, version, hash, blob);
    }
}
