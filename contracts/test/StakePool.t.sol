// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./Fixture.sol";
import {Registry} from "../Registry.sol";
import {StakePool} from "../StakePool.sol";

contract StakePoolTest is Fixture {
    address alice = address(0xA11CE);
    address bob = address(0xB0B);
    uint256 pid;

    function setUp() public {
        deployAll();
        fund(operator, 1_000 ether);
        fund(alice, 1_000 ether);
        fund(bob, 1_000 ether);
        fund(address(this), 1_000_000 ether);
        vm.prank(operator);
        pid = stake.createPool(2000); // 20 % commission
    }

    function test_workerEligibleOnlyOnceThePoolHoldsMinStake() public {
        address worker = vm.addr(WORKER_SK);
        bytes32 x = bytes32(uint256(0xBB));
        bytes32 nonce = bytes32(uint256(2));
        bytes memory q = sgxQuote(keccak256(abi.encodePacked("phx-worker-v1", worker, x, nonce)), nonce);
        bytes memory kmsSig =
            sig(KMS_SK, registry.attestDigest(operator, worker, x, measurement, 0, keccak256(q), nonce));
        vm.prank(alice);
        stake.delegate(pid, MIN_STAKE - 1 ether);
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(Registry.InsufficientStake.selector, MIN_STAKE - 1 ether, MIN_STAKE)
        );
        registry.registerWorker(worker, x, nonce, q, kmsSig);
        vm.prank(bob);
        stake.delegate(pid, 1 ether);
        assertEq(registry.stakeOf(operator), MIN_STAKE, "registry reads the pool");
        vm.prank(operator);
        registry.registerWorker(worker, x, nonce, q, kmsSig);
        assertEq(registry.activeOperatorOf(worker), operator, "active");
    }

    function test_feesSplitCommissionAndProRata() public {
        vm.prank(alice);
        stake.delegate(pid, 300 ether);
        vm.prank(bob);
        stake.delegate(pid, 100 ether);
        stake.addReward(operator, 10 ether);
        assertEq(stake.pendingRewards(pid, operator), 2 ether, "commission");
        assertEq(stake.pendingRewards(pid, alice), 6 ether, "alice 3/4 of the rest");
        assertEq(stake.pendingRewards(pid, bob), 2 ether, "bob 1/4 of the rest");
        uint256 before = token.balanceOf(alice);
        vm.prank(alice);
        stake.claim(pid);
        assertEq(token.balanceOf(alice) - before, 6 ether, "claimed");
        vm.prank(operator);
        stake.claim(pid);
        assertEq(token.balanceOf(operator), 1_002 ether, "operator claimed");
    }

    function test_unbondingQueueWaitsThePeriodAndStopsRewards() public {
        vm.prank(alice);
        uint256 shares = stake.delegate(pid, 200 ether);
        vm.prank(alice);
        stake.undelegate(pid, shares / 2);
        assertEq(stake.stakeOf(operator), 100 ether, "queued stake does not count");
        stake.addReward(operator, 10 ether); // only the active half earns
        assertEq(stake.pendingRewards(pid, alice), 8 ether, "active shares earn all of the rest");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(StakePool.NotReady.selector, uint64(block.timestamp) + UNBONDING));
        stake.withdraw(pid);
        vm.warp(block.timestamp + UNBONDING);
        uint256 before = token.balanceOf(alice);
        vm.prank(alice);
        assertEq(stake.withdraw(pid), 100 ether, "withdrawn");
        assertEq(token.balanceOf(alice) - before, 100 ether, "paid");
        vm.prank(alice);
        vm.expectRevert(StakePool.NothingToWithdraw.selector);
        stake.withdraw(pid);
    }

    function test_equivocationSlashesThePool() public {
        vm.prank(alice);
        stake.delegate(pid, 400 ether);
        vm.prank(alice);
        stake.undelegate(pid, 100 ether); // queued stake is slashed too
        address worker = registerWorker();
        bytes32 cid = keccak256("contract");
        bytes32 code = keccak256("code");
        bytes32 outA = keccak256("a");
        bytes32 outB = keccak256("b");
        bytes memory sigA = sig(WORKER_SK, jobs.resultDigest(7, cid, code, true, outA));
        bytes memory sigB = sig(WORKER_SK, jobs.resultDigest(7, cid, code, true, outB));

        // The same output twice, or a signature over another request, proves nothing.
        vm.expectRevert(StakePool.NotEquivocation.selector);
        stake.reportEquivocation(worker, 7, cid, code, true, outA, sigA, true, outA, sigA);
        vm.expectRevert(StakePool.NotEquivocation.selector);
        stake.reportEquivocation(worker, 8, cid, code, true, outA, sigA, true, outB, sigB);

        // An error and an output for one request are two results as well; the
        // ok flag is signed, so a flipped flag does not recover to the worker.
        vm.expectRevert(StakePool.NotEquivocation.selector);
        stake.reportEquivocation(worker, 7, cid, code, true, outA, sigA, false, outA, sigA);

        address reporter = address(0x5EE);
        vm.prank(reporter);
        uint256 amount = stake.reportEquivocation(worker, 7, cid, code, true, outA, sigA, true, outB, sigB);
        assertEq(amount, 40 ether, "10 % of the pool");
        assertEq(token.balanceOf(reporter), 20 ether, "reporter half");
        assertEq(token.balanceOf(treasury), 20 ether, "treasury rest");
        assertEq(stake.sharesValue(pid, 300 ether), 270 ether, "active shares lost 10 %");
        assertEq(registry.activeOperatorOf(worker), address(0), "worker invalidated");
        vm.expectRevert(StakePool.AlreadySlashed.selector);
        stake.reportEquivocation(worker, 7, cid, code, true, outA, sigA, true, outB, sigB);

        vm.warp(block.timestamp + UNBONDING);
        vm.prank(alice);
        assertEq(stake.withdraw(pid), 90 ether, "queued shares lost 10 % too");
    }

    function test_onlyGovernorSetsParams() public {
        vm.prank(alice);
        vm.expectRevert(StakePool.NotGovernor.selector);
        stake.setParams(treasury, 1, 1, 1);
        vm.expectRevert(StakePool.BadParam.selector);
        stake.setParams(treasury, 1, 10_001, 1);
        stake.setParams(treasury, 30, 500, 1000);
        assertEq(stake.unbondingPeriod(), 30, "devnet seconds");
    }

    function testFuzz_delegateUndelegateWithdrawRoundTrip(uint256 amount, uint256 part) public {
        amount = bound(amount, stake.MIN_DELEGATION(), 1_000 ether);
        vm.prank(alice);
        uint256 shares = stake.delegate(pid, amount);
        part = bound(part, 1, shares);
        vm.prank(alice);
        stake.undelegate(pid, part);
        vm.warp(block.timestamp + UNBONDING);
        vm.prank(alice);
        uint256 out = stake.withdraw(pid);
        assertTrue(out <= amount, "withdrew more than staked");
        assertEq(out, part, "1:1 before any slash");
    }
}

/// Fees of a real request/fulfil go to the operator's pool once governance
/// points Jobs at it.
contract JobsFeesToPoolTest is Fixture {
    address alice = address(0xA11CE);
    address consumer = address(0xC0);

    function setUp() public {
        deployAll();
        fund(operator, 1_000 ether);
        fund(alice, 1_000 ether);
        vm.prank(operator);
        stake.createPool(2000);
        vm.prank(operator);
        stake.delegate(1, 100 ether);
        vm.prank(alice);
        stake.delegate(1, 300 ether);
        registerWorker();
        jobs.setStakePool(stake);
        token.transfer(consumer, 100 ether);
    }

    function test_fulfilPaysThePool() public {
        bytes32 code = keccak256("code");
        bytes32 cid = jobs.deployContract(bytes32(0), code, "ipfs://x");
        vm.startPrank(consumer);
        token.approve(address(jobs), type(uint256).max);
        uint256 rid = jobs.request(cid, "in", 10 ether, 0, 1);
        vm.stopPrank();
        bytes memory out = "out";
        bytes[] memory sigs = new bytes[](1);
        sigs[0] = sig(WORKER_SK, jobs.resultDigest(rid, cid, code, true, keccak256(out)));
        uint256 opBefore = token.balanceOf(operator);
        vm.prank(vm.addr(WORKER_SK));
        jobs.fulfill(rid, true, out, sigs);
        assertEq(token.balanceOf(operator), opBefore, "fee did not bypass the pool");
        // 1 PHA: 20 % commission, the rest 1:3 between operator's and alice's shares.
        // Jobs keeps 1 wei of it as a marker, so the commission rounds down by one.
        assertEq(stake.pendingRewards(1, operator), 0.2 ether - 1 + 0.2 ether, "operator");
        assertEq(stake.pendingRewards(1, alice), 0.6 ether, "alice");
        // Jobs holds the fee for the pool until the pool collects it.
        assertEq(jobs.feesOwed(operator), 1 ether, "owed to the pool");
        assertEq(stake.uncollectedFees(1), 1 ether - 1, "all but the 1-wei marker");
        vm.prank(alice);
        assertEq(stake.claim(1), 0.6 ether, "claim collects first");
        assertEq(token.balanceOf(address(jobs)), 1, "escrow settled but the marker");
        assertEq(stake.pendingRewards(1, operator), 0.4 ether - 1, "operator, after the collection");
    }
}
