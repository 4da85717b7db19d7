// SPDX-License-Identifier: Apache-2.0
// Trigger firings paid from the contract owner's Payments deposit (issue 15):
// only Jobs can charge; a recorded firing moves exactly pricePerCall from the
// owner's balance to the recording operator's fees in Jobs (and on to its
// pool); a short deposit, or a contract with no owner on chain, reverts with
// Payments.InsufficientBalance and records nothing; a top-up lets the same
// firing record; a withdrawal notice does not stop charges (the voucher rule).
pragma solidity ^0.8.24;

import {Fixture} from "./Fixture.sol";
import {Jobs} from "../Jobs.sol";
import {Payments} from "../Payments.sol";
import {IFiringPayments, IRewardPool} from "../IPhx.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

contract FiringPaymentsTest is Fixture {
    uint256 constant PRICE = 0.001 ether;
    bytes32 constant CODE = bytes32(uint256(0xC0DE));
    address owner = address(0x0A11);
    Payments pay;
    bytes32 cid;
    uint256 pid;

    function setUp() public {
        deployAll();
        pay = new Payments(IERC20(address(token)), PRICE, 1e12, 1 days);
        jobs.setStakePool(stake);
        jobs.setPayments(IFiringPayments(address(pay)));
        pay.setJobs(address(jobs));
        fund(operator, 1_000 ether);
        vm.prank(operator);
        pid = stake.createPool(2000);
        vm.prank(operator);
        stake.delegate(pid, 100 ether);
        registerWorker();
        vm.prank(owner);
        cid = jobs.deployContract(bytes32(0), CODE, "");
        fund(owner, 10 ether);
        vm.prank(owner);
        token.approve(address(pay), type(uint256).max);
    }

    function _deposit(uint256 amount) internal {
        vm.prank(owner);
        pay.deposit(amount);
    }

    function _record(bytes32 id, bytes32 firingId) internal {
        bytes memory s = _signed(id, firingId);
        jobs.recordFiring(id, firingId, CODE, true, "{}", s);
    }

    // Signed apart, so that an expectRevert applies to recordFiring itself.
    function _signed(bytes32 id, bytes32 firingId) internal view returns (bytes memory) {
        return sig(WORKER_SK, jobs.firingDigest(id, firingId, CODE, true, keccak256("{}")));
    }

    function _expectUnpaid(bytes32 id, bytes32 firingId, uint256 balance) internal {
        bytes memory s = _signed(id, firingId);
        vm.expectRevert(abi.encodeWithSelector(Payments.InsufficientBalance.selector, balance, PRICE));
        jobs.recordFiring(id, firingId, CODE, true, "{}", s);
    }

    function _balance(address who) internal view returns (uint256 b) {
        (b,,) = pay.accounts(who);
    }

    function test_onlyJobsCharges() public {
        _deposit(1 ether);
        vm.expectRevert(Payments.NotJobs.selector);
        pay.chargeFiring(owner);
        vm.prank(owner);
        vm.expectRevert(Payments.NotJobs.selector);
        pay.chargeFiring(owner);
        assertEq(_balance(owner), 1 ether, "nothing charged");
        // Only the governor wires either side.
        vm.prank(owner);
        vm.expectRevert(Payments.NotGovernor.selector);
        pay.setJobs(owner);
        vm.prank(owner);
        vm.expectRevert(Jobs.NotGovernor.selector);
        jobs.setPayments(IFiringPayments(owner));
    }

    function test_chargeMovesExactlyThePrice() public {
        _deposit(1 ether);
        uint256 payHeld = token.balanceOf(address(pay));
        uint256 jobsHeld = token.balanceOf(address(jobs));
        uint256 owed = jobs.feesOwed(operator);
        for (uint256 i = 0; i < 3; i++) _record(cid, keccak256(abi.encode("tick", i)));
        assertEq(_balance(owner), 1 ether - 3 * PRICE, "deposit fell by 3 x price");
        assertEq(jobs.feesOwed(operator), owed + 3 * PRICE, "the operator is owed 3 x price");
        assertEq(token.balanceOf(address(pay)), payHeld - 3 * PRICE, "Payments paid out 3 x price");
        assertEq(token.balanceOf(address(jobs)), jobsHeld + 3 * PRICE, "Jobs holds it for the pool");
        // The pool collects it like a request fee (all but the 1-wei marker).
        uint256 poolHeld = token.balanceOf(address(stake));
        stake.collect(pid);
        assertEq(token.balanceOf(address(stake)), poolHeld + owed + 3 * PRICE - 1, "the pool got the fees");
    }

    function test_shortDepositRevertsAndRecordsNothing() public {
        _deposit(PRICE - 1);
        bytes32 f = keccak256("tick/1");
        _expectUnpaid(cid, f, PRICE - 1);
        assertEq(jobs.firedBy(cid, f), address(0), "an unpaid firing is not recorded");
        assertEq(_balance(owner), PRICE - 1, "nothing charged");
        // A top-up, and the same firing records and is paid.
        _deposit(1);
        _record(cid, f);
        assertEq(jobs.firedBy(cid, f), vm.addr(WORKER_SK), "recorded after the top-up");
        assertEq(_balance(owner), 0, "the deposit paid exactly the price");
    }

    function test_aContractNotOnChainHasNoDepositToPay() public {
        bytes32 offChain = bytes32(uint256(0xC1D));
        _expectUnpaid(offChain, keccak256("tick/1"), 0);
    }

    function test_freeWhenThePriceIsZeroOrNoPaymentsIsSet() public {
        pay.setPrice(0, 1e12);
        _record(cid, keccak256("tick/1"));
        assertEq(jobs.firedBy(cid, keccak256("tick/1")), vm.addr(WORKER_SK), "free firing recorded");
        jobs.setPayments(IFiringPayments(address(0)));
        pay.setPrice(PRICE, 0);
        _record(cid, keccak256("tick/2"));
        assertEq(jobs.firedBy(cid, keccak256("tick/2")), vm.addr(WORKER_SK), "no Payments: free");
        assertEq(jobs.feesOwed(operator), 0, "nothing owed for free firings");
    }

    function test_aWithdrawalNoticeDoesNotStopCharges() public {
        _deposit(1 ether);
        vm.prank(owner);
        pay.requestWithdraw(1 ether);
        _record(cid, keccak256("tick/1"));
        assertEq(_balance(owner), 1 ether - PRICE, "charged under the notice");
        vm.warp(block.timestamp + 1 days);
        uint256 before = token.balanceOf(owner);
        vm.prank(owner);
        pay.withdraw();
        assertEq(token.balanceOf(owner), before + 1 ether - PRICE, "the withdrawal takes what is left");
        _expectUnpaid(cid, keccak256("tick/2"), 0);
    }

    function test_withoutAStakePoolTheOperatorIsPaidDirectly() public {
        jobs.setStakePool(IRewardPool(address(0)));
        _deposit(1 ether);
        uint256 before = token.balanceOf(operator);
        _record(cid, keccak256("tick/1"));
        assertEq(token.balanceOf(operator), before + PRICE, "the operator got the price");
    }
}
