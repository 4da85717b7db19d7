// SPDX-License-Identifier: Apache-2.0
// Payments: deposit, vouchers redeemed alone and in batches, stale and forged
// vouchers skipped, the notice period, and the governed price.
pragma solidity ^0.8.24;

import {PhxTest} from "./Vm.sol";
import {PhxToken} from "../PhxToken.sol";
import {Payments} from "../Payments.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

contract PaymentsTest is PhxTest {
    uint256 constant PAYER_SK = 0xA11CE;
    uint256 constant PAYER2_SK = 0xB0B;
    uint64 constant NOTICE = 1 days;

    PhxToken token;
    Payments pay;
    address payer;
    address payer2;
    address operator = address(0x0BE7);
    address operator2 = address(0x0BE8);

    function setUp() public {
        token = new PhxToken(1_000_000_000 ether, address(this));
        pay = new Payments(IERC20(address(token)), 1 ether / 1000, 1 ether / 1_000_000, NOTICE);
        payer = vm.addr(PAYER_SK);
        payer2 = vm.addr(PAYER2_SK);
        _fund(payer, 100 ether);
        _fund(payer2, 100 ether);
    }

    function _fund(address who, uint256 amount) internal {
        token.transfer(who, amount);
        vm.prank(who);
        token.approve(address(pay), type(uint256).max);
    }

    function _voucher(uint256 sk, address op, uint256 cumulative, bytes32 callHash)
        internal
        view
        returns (Payments.Voucher memory v)
    {
        v.payer = vm.addr(sk);
        v.operator = op;
        v.cumulative = cumulative;
        v.callHash = callHash;
        (uint8 rv, bytes32 r, bytes32 s) = vm.sign(sk, pay.voucherDigest(v.payer, op, cumulative, callHash));
        v.signature = abi.encodePacked(r, s, rv);
    }

    function _one(Payments.Voucher memory v) internal pure returns (Payments.Voucher[] memory vs) {
        vs = new Payments.Voucher[](1);
        vs[0] = v;
    }

    function test_depositAndRedeemPaysTheOperator() public {
        vm.prank(payer);
        pay.deposit(10 ether);
        assertEq(pay.coverable(payer, operator), 10 ether, "coverable after deposit");
        pay.redeem(_one(_voucher(PAYER_SK, operator, 3 ether, bytes32(uint256(1)))));
        assertEq(token.balanceOf(operator), 3 ether, "operator paid");
        assertEq(pay.redeemed(payer, operator), 3 ether, "redeemed");
        (uint256 bal,,) = pay.accounts(payer);
        assertEq(bal, 7 ether, "balance left");
        // a later voucher pays only the difference
        pay.redeem(_one(_voucher(PAYER_SK, operator, 5 ether, bytes32(uint256(2)))));
        assertEq(token.balanceOf(operator), 5 ether, "operator paid the difference");
        assertEq(pay.coverable(payer, operator), 10 ether, "coverable counts what was redeemed");
    }

    function test_staleAndForgedVouchersPayNothing() public {
        vm.prank(payer);
        pay.deposit(10 ether);
        pay.redeem(_one(_voucher(PAYER_SK, operator, 4 ether, 0)));
        // the same voucher again, and an older one
        assertEq(pay.redeem(_one(_voucher(PAYER_SK, operator, 4 ether, 0))), 0, "replay pays");
        assertEq(pay.redeem(_one(_voucher(PAYER_SK, operator, 2 ether, 0))), 0, "older pays");
        // signed by someone else for payer's account
        Payments.Voucher memory forged = _voucher(PAYER2_SK, operator, 9 ether, 0);
        forged.payer = payer;
        assertEq(pay.redeem(_one(forged)), 0, "forged pays");
        // signed for another operator, redirected
        Payments.Voucher memory redirected = _voucher(PAYER_SK, operator2, 9 ether, 0);
        redirected.operator = operator;
        assertEq(pay.redeem(_one(redirected)), 0, "redirected pays");
        assertEq(token.balanceOf(operator), 4 ether, "operator got only the first");
    }

    function test_batchOfManyPayers() public {
        vm.prank(payer);
        pay.deposit(10 ether);
        vm.prank(payer2);
        pay.deposit(10 ether);
        Payments.Voucher[] memory vs = new Payments.Voucher[](4);
        vs[0] = _voucher(PAYER_SK, operator, 1 ether, 0);
        vs[1] = _voucher(PAYER2_SK, operator, 2 ether, 0);
        vs[2] = _voucher(PAYER_SK, operator2, 3 ether, 0);
        vs[3] = _voucher(PAYER2_SK, operator, 1 ether, 0); // stale within the batch
        assertEq(pay.redeem(vs), 6 ether, "batch total");
        assertEq(token.balanceOf(operator), 3 ether, "operator");
        assertEq(token.balanceOf(operator2), 3 ether, "operator2");
    }

    function test_shortBalancePaysWhatIsThereAndTheRestLater() public {
        vm.prank(payer);
        pay.deposit(1 ether);
        Payments.Voucher memory v = _voucher(PAYER_SK, operator, 3 ether, 0);
        assertEq(pay.redeem(_one(v)), 1 ether, "paid what was there");
        assertEq(pay.redeem(_one(v)), 0, "empty account");
        vm.prank(payer);
        pay.deposit(5 ether);
        assertEq(pay.redeem(_one(v)), 2 ether, "the rest after a deposit");
        assertEq(token.balanceOf(operator), 3 ether, "operator whole");
    }

    function test_withdrawWaitsForTheNoticeAndVouchersStillRedeem() public {
        vm.prank(payer);
        pay.deposit(10 ether);
        vm.prank(payer);
        pay.requestWithdraw(10 ether);
        vm.prank(payer);
        vm.expectRevert();
        pay.withdraw();
        // during the notice the operator redeems what it is owed
        pay.redeem(_one(_voucher(PAYER_SK, operator, 4 ether, 0)));
        vm.warp(block.timestamp + NOTICE);
        uint256 before = token.balanceOf(payer);
        vm.prank(payer);
        assertEq(pay.withdraw(), 6 ether, "withdrew what redemption left");
        assertEq(token.balanceOf(payer) - before, 6 ether, "payer got it");
        assertEq(token.balanceOf(operator), 4 ether, "operator kept its pay");
        vm.prank(payer);
        vm.expectRevert(Payments.NoWithdrawRequested.selector);
        pay.withdraw();
    }

    function test_cannotAskForMoreThanTheBalance() public {
        vm.prank(payer);
        pay.deposit(1 ether);
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(Payments.InsufficientBalance.selector, 1 ether, 2 ether));
        pay.requestWithdraw(2 ether);
    }

    function test_onlyTheGovernorSetsThePrice() public {
        vm.prank(payer);
        vm.expectRevert(Payments.NotGovernor.selector);
        pay.setPrice(0, 0);
        pay.setPrice(5, 7);
        assertEq(pay.price(10), 75, "price of 10 ms");
        pay.setGovernor(address(0x71FE));
        vm.expectRevert(Payments.NotGovernor.selector);
        pay.setNoticePeriod(1);
    }

    /// Fuzz: whatever sequence of cumulative totals is redeemed, the operator
    /// gets exactly the highest one, capped by the deposit.
    function testFuzz_operatorGetsTheHighestCumulative(uint96 dep, uint96 a, uint96 b, uint96 c) public {
        uint256 d = bound(dep, 1, 100 ether);
        vm.prank(payer);
        pay.deposit(d);
        uint256[3] memory cs = [uint256(a), uint256(b), uint256(c)];
        uint256 top;
        for (uint256 i = 0; i < 3; i++) {
            pay.redeem(_one(_voucher(PAYER_SK, operator, cs[i], 0)));
            if (cs[i] > top) top = cs[i];
        }
        assertEq(token.balanceOf(operator), top < d ? top : d, "operator paid min(top, deposit)");
    }
}
