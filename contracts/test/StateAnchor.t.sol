// SPDX-License-Identifier: Apache-2.0
// StateAnchor: compare-and-set versions signed by an active worker; a stale
// expected version, a signer the Registry does not list, a signature over
// other bytes and an oversized value are all refused.
pragma solidity ^0.8.24;

import {PhxTest} from "./Vm.sol";
import {StateAnchor} from "../StateAnchor.sol";
import {IWorkerRegistry} from "../IPhx.sol";

/// The one Registry view the anchor reads, set per worker by the test.
contract FakeRegistry {
    mapping(address => address) public operatorOf;

    function set(address worker, address operator) external {
        operatorOf[worker] = operator;
    }

    function activeOperatorOf(address worker) external view returns (address) {
        return operatorOf[worker];
    }
}

contract StateAnchorTest is PhxTest {
    uint256 constant WORKER_SK = 0xC0FFEE;
    uint256 constant OTHER_SK = 0xBAD;
    bytes32 constant CID = bytes32(uint256(0x1d));
    bytes32 constant KEY = bytes32(uint256(0x4b));

    FakeRegistry reg;
    StateAnchor anchor;

    function setUp() public {
        reg = new FakeRegistry();
        reg.set(vm.addr(WORKER_SK), address(0x0BE7));
        anchor = new StateAnchor(IWorkerRegistry(address(reg)));
    }

    function _sig(uint256 sk, uint64 expected, bytes memory blob) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(sk, anchor.writeDigest(CID, KEY, expected, keccak256(blob)));
        return abi.encodePacked(r, s, v);
    }

    function _slot() internal view returns (uint64 version, uint64 blockNumber, bytes32 hash) {
        return anchor.slots(CID, KEY);
    }

    function test_writesAdvanceTheVersionAndRecordTheHashAndBlock() public {
        bytes memory a = hex"01020304";
        vm.roll(42);
        assertEq(anchor.write(CID, KEY, 0, a, _sig(WORKER_SK, 0, a)), 1, "first write is version 1");
        (uint64 v, uint64 b, bytes32 h) = _slot();
        assertEq(v, 1, "version");
        assertEq(b, 42, "block");
        assertTrue(h == keccak256(a), "hash");
        bytes memory c = hex"0506";
        assertEq(anchor.write(CID, KEY, 1, c, _sig(WORKER_SK, 1, c)), 2, "second write is version 2");
    }

    function test_aStaleExpectedVersionIsRefused() public {
        bytes memory a = hex"01";
        anchor.write(CID, KEY, 0, a, _sig(WORKER_SK, 0, a));
        anchor.write(CID, KEY, 1, a, _sig(WORKER_SK, 1, a));
        // Replaying version 1's write (same bytes, same signature) cannot roll it back.
        bytes memory sig = _sig(WORKER_SK, 1, a);
        vm.expectRevert(abi.encodeWithSelector(StateAnchor.VersionMismatch.selector, uint64(1), uint64(2)));
        anchor.write(CID, KEY, 1, a, sig);
    }

    function test_onlyAnActiveWorkerMayWrite() public {
        bytes memory a = hex"01";
        bytes memory sig = _sig(OTHER_SK, 0, a);
        vm.expectRevert(abi.encodeWithSelector(StateAnchor.NotWorker.selector, vm.addr(OTHER_SK)));
        anchor.write(CID, KEY, 0, a, sig);
        // A worker the Registry no longer lists is refused too.
        reg.set(vm.addr(WORKER_SK), address(0));
        sig = _sig(WORKER_SK, 0, a);
        vm.expectRevert(abi.encodeWithSelector(StateAnchor.NotWorker.selector, vm.addr(WORKER_SK)));
        anchor.write(CID, KEY, 0, a, sig);
    }

    function test_theSignatureCoversTheBytes() public {
        bytes memory sig = _sig(WORKER_SK, 0, hex"01");
        vm.expectRevert(); // recovers some other address, which is no worker
        anchor.write(CID, KEY, 0, hex"02", sig);
        (uint64 v,,) = _slot();
        assertEq(v, 0, "nothing written");
    }

    function test_anOversizedValueIsRefused() public {
        bytes memory big = new bytes(anchor.MAX_SEALED() + 1);
        bytes memory sig = _sig(WORKER_SK, 0, big);
        vm.expectRevert(abi.encodeWithSelector(StateAnchor.SealedTooLarge.selector, big.length));
        anchor.write(CID, KEY, 0, big, sig);
    }
}
