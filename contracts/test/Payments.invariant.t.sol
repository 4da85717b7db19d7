// SPDX-License-Identifier: Apache-2.0
// Invariants of the payment channels under random deposits, vouchers redeemed
// alone and in batches (fresh, replayed, forged), withdraw requests,
// withdrawals and time passing (foundry.toml: 256 runs, depth 32). Ghost totals
// of what each payer put in and took out are kept by the handler.
pragma solidity ^0.8.24;

import {PhxTest, Vm} from "./Vm.sol";
import {PhxToken} from "../PhxToken.sol";
import {Payments} from "../Payments.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

contract PaymentsHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    PhxToken public token;
    Payments public pay;
    uint256[3] public sks = [uint256(0xA11CE), 0xB0B, 0xCAB];
    address[2] public operators = [address(0x0BE7), address(0x0BE8)];
    mapping(address => uint256) public depositedIn;
    mapping(address => uint256) public withdrawnOut;
    mapping(address => mapping(address => uint256)) public signed; // highest cumulative signed
    uint256 public forgedPaid; // what forged or replayed vouchers paid (must stay 0)

    constructor(PhxToken token_, Payments pay_) {
        token = token_;
        pay = pay_;
        for (uint256 i = 0; i < 3; i++) {
            vm.prank(vm.addr(sks[i]));
            token.approve(address(pay), type(uint256).max);
        }
    }

    function _voucher(uint256 sk, address op, uint256 cumulative) internal view returns (Payments.Voucher memory v) {
        v.payer = vm.addr(sk);
        v.operator = op;
        v.cumulative = cumulative;
        (uint8 rv, bytes32 r, bytes32 s) = vm.sign(sk, pay.voucherDigest(v.payer, op, cumulative, 0));
        v.signature = abi.encodePacked(r, s, rv);
    }

    function deposit(uint256 who, uint256 amount) external {
        address p = vm.addr(sks[who % 3]);
        uint256 have = token.balanceOf(p);
        if (have == 0) return;
        amount = 1 + amount % have;
        vm.prank(p);
        pay.deposit(amount);
        depositedIn[p] += amount;
    }

    /// The payer signs a new cumulative total (a few calls' worth more) and the
    /// operator redeems it.
    function spend(uint256 who, uint256 op, uint256 amount) external {
        uint256 sk = sks[who % 3];
        address o = operators[op % 2];
        address p = vm.addr(sk);
        uint256 c = signed[p][o] + amount % 50 ether;
        signed[p][o] = c;
        Payments.Voucher[] memory vs = new Payments.Voucher[](1);
        vs[0] = _voucher(sk, o, c);
        pay.redeem(vs);
    }

    /// Several payers' latest vouchers in one batch, with a replay inside.
    function batch(uint256 seed) external {
        Payments.Voucher[] memory vs = new Payments.Voucher[](4);
        for (uint256 i = 0; i < 3; i++) {
            uint256 sk = sks[i];
            address o = operators[(seed >> i) % 2];
            address p = vm.addr(sk);
            signed[p][o] += (seed >> (8 * i)) % 5 ether;
            vs[i] = _voucher(sk, o, signed[p][o]);
        }
        vs[3] = vs[seed % 3];
        pay.redeem(vs);
    }

    /// A voucher for more than ever signed, but signed with the wrong key.
    function forge(uint256 who, uint256 amount) external {
        address p = vm.addr(sks[who % 3]);
        Payments.Voucher memory v = _voucher(sks[(who + 1) % 3], operators[0], amount);
        v.payer = p;
        Payments.Voucher[] memory vs = new Payments.Voucher[](1);
        vs[0] = v;
        forgedPaid += pay.redeem(vs);
    }

    function requestWithdraw(uint256 who, uint256 amount) external {
        address p = vm.addr(sks[who % 3]);
        (uint256 bal,,) = pay.accounts(p);
        if (bal == 0) return;
        vm.prank(p);
        pay.requestWithdraw(1 + amount % bal);
    }

    function withdraw(uint256 who) external {
        address p = vm.addr(sks[who % 3]);
        vm.prank(p);
        try pay.withdraw() returns (uint256 got) {
            withdrawnOut[p] += got;
        } catch {}
    }

    function wait(uint256 secs) external {
        vm.warp(block.timestamp + secs % 2 days);
    }

    function payer(uint256 i) external view returns (address) {
        return vm.addr(sks[i]);
    }

    function operator(uint256 i) external view returns (address) {
        return operators[i];
    }
}

contract PaymentsInvariantTest is PhxTest {
    PhxToken token;
    Payments pay;
    PaymentsHandler handler;

    function setUp() public {
        token = new PhxToken(1_000_000_000 ether, address(this));
        pay = new Payments(IERC20(address(token)), 0, 0, 1 days);
        handler = new PaymentsHandler(token, pay);
        for (uint256 i = 0; i < 3; i++) {
            token.transfer(handler.payer(i), 1000 ether);
        }
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    /// Redeemed vouchers never exceed the deposit: per payer, what all operators
    /// took plus what the payer withdrew plus what is left equals what went in,
    /// and what the operators took never exceeds what the payer signed. Checked
    /// in the same campaign (one function: each invariant function is a campaign
    /// of its own): the contract holds exactly the balances, operators hold
    /// exactly what was redeemed for them, and no forged voucher paid.
    function invariant_redeemedNeverExceedsDeposit() public view {
        uint256 sum;
        for (uint256 i = 0; i < 3; i++) {
            address p = handler.payer(i);
            uint256 taken;
            for (uint256 j = 0; j < 2; j++) {
                address o = handler.operator(j);
                uint256 r = pay.redeemed(p, o);
                assertTrue(r <= handler.signed(p, o), "redeemed more than signed");
                taken += r;
            }
            (uint256 bal,,) = pay.accounts(p);
            sum += bal;
            assertTrue(taken <= handler.depositedIn(p), "redeemed more than deposited");
            assertEq(taken + handler.withdrawnOut(p) + bal, handler.depositedIn(p), "payer's books");
        }
        assertEq(token.balanceOf(address(pay)), sum, "escrow equals balances");
        for (uint256 j = 0; j < 2; j++) {
            address o = handler.operator(j);
            uint256 r;
            for (uint256 i = 0; i < 3; i++) {
                r += pay.redeemed(handler.payer(i), o);
            }
            assertEq(token.balanceOf(o), r, "operator holds what was redeemed");
        }
        assertEq(handler.forgedPaid(), 0, "a forged voucher paid");
    }
}
