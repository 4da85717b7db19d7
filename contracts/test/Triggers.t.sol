// SPDX-License-Identifier: Apache-2.0
// Jobs.recordFiring: one record per (contract, firing), signed by an active
// worker; a second record, a stranger's signature or a changed output is refused.
pragma solidity ^0.8.24;

import {Fixture} from "./Fixture.sol";
import {Jobs} from "../Jobs.sol";

contract TriggersTest is Fixture {
    bytes32 constant CID = bytes32(uint256(0xC1D));
    bytes32 constant CODE = bytes32(uint256(0xC0DE));

    function setUp() public {
        deployAll();
        fund(operator, 1_000 ether);
        vm.prank(operator);
        stake.createPool(2000);
        vm.prank(operator);
        stake.delegate(1, 100 ether);
        registerWorker();
    }

    function signed(uint256 sk, bytes32 firingId, bool ok, bytes memory output) internal view returns (bytes memory) {
        return sig(sk, jobs.firingDigest(CID, firingId, CODE, ok, keccak256(output)));
    }

    function test_recordsOnceAndRefusesTheSecond() public {
        bytes32 f = keccak256("tick/1");
        bytes memory out = bytes("{\"n\":1}");
        jobs.recordFiring(CID, f, CODE, true, out, signed(WORKER_SK, f, true, out));
        assertEq(jobs.firedBy(CID, f), vm.addr(WORKER_SK), "recorded signer");
        // The same worker's other run of the same firing (another output) loses.
        bytes memory out2 = bytes("{\"n\":2}");
        bytes memory s2 = signed(WORKER_SK, f, true, out2);
        vm.expectRevert(abi.encodeWithSelector(Jobs.AlreadyFired.selector, CID, f));
        jobs.recordFiring(CID, f, CODE, true, out2, s2);
        // Another firing of the same contract is its own record.
        bytes32 g = keccak256("tick/2");
        jobs.recordFiring(CID, g, CODE, false, out2, signed(WORKER_SK, g, false, out2));
        assertEq(jobs.firedBy(CID, g), vm.addr(WORKER_SK), "second firing");
    }

    function test_refusesAStrangerOrATamperedRun() public {
        bytes32 f = keccak256("tick/7");
        bytes memory out = bytes("1");
        bytes memory stranger = signed(0xBAD, f, true, out);
        vm.expectRevert(abi.encodeWithSelector(Jobs.UnregisteredSigner.selector, vm.addr(0xBAD)));
        jobs.recordFiring(CID, f, CODE, true, out, stranger);
        // The worker's signature over ok=true does not pass for ok=false.
        bytes memory good = signed(WORKER_SK, f, true, out);
        vm.expectRevert();
        jobs.recordFiring(CID, f, CODE, false, out, good);
        assertEq(jobs.firedBy(CID, f), address(0), "nothing recorded");
    }
}
