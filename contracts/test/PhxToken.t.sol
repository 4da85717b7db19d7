// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {PhxTest} from "./Vm.sol";
import {PhxToken} from "../PhxToken.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

contract PhxTokenTest is PhxTest {
    PhxToken token;
    address holder = address(0xA11CE);

    function setUp() public {
        token = new PhxToken(1_000_000_000 ether, holder);
    }

    function test_metadataAndSupply() public view {
        assertEq(token.totalSupply(), 1_000_000_000 ether, "supply");
        assertEq(token.balanceOf(holder), 1_000_000_000 ether, "holder");
        assertEq(token.cap(), token.MAX_SUPPLY(), "cap");
        assertTrue(keccak256(bytes(token.symbol())) == keccak256("PHA"), "symbol");
        assertEq(token.governor(), address(this), "governor");
    }

    function test_onlyGovernorMints() public {
        vm.prank(holder);
        vm.expectRevert(PhxToken.NotGovernor.selector);
        token.mint(holder, 1);
        token.mint(holder, 5 ether);
        assertEq(token.totalSupply(), 1_000_000_005 ether, "minted");
        token.setGovernor(address(0xB0B));
        vm.expectRevert(PhxToken.NotGovernor.selector);
        token.mint(holder, 1);
    }

    function testFuzz_capHolds(uint256 amount) public {
        amount = bound(amount, 0, 2 * token.cap()); // beyond that ERC20Votes' own bound refuses first
        uint256 room = token.cap() - token.totalSupply();
        if (amount > room) {
            vm.expectRevert(
                abi.encodeWithSelector(ERC20Capped.ERC20ExceededCap.selector, token.totalSupply() + amount, token.cap())
            );
            token.mint(holder, amount);
        } else {
            token.mint(holder, amount);
        }
        assertTrue(token.totalSupply() <= token.cap(), "cap exceeded");
    }

    // Votes follow delegation, and a transfer moves the delegated weight.
    function testFuzz_votesFollowDelegation(uint256 amount) public {
        amount = bound(amount, 0, token.balanceOf(holder));
        address alice = address(0xA1);
        address bob = address(0xB2);
        vm.prank(holder);
        token.transfer(alice, amount);
        assertEq(token.getVotes(bob), 0, "undelegated weight counts");
        vm.prank(alice);
        token.delegate(bob);
        assertEq(token.delegates(alice), bob, "delegate");
        assertEq(token.getVotes(bob), amount, "votes");
        vm.warp(block.timestamp + 1);
        assertEq(token.getPastVotes(bob, block.timestamp - 1), amount, "checkpoint (by timestamp)");
        vm.prank(alice);
        token.transfer(holder, amount / 2);
        assertEq(token.getVotes(bob), amount - amount / 2, "votes after transfer");
    }

    function test_permitThenReplayRefused() public {
        uint256 sk = 0xBEEF;
        address owner = vm.addr(sk);
        vm.prank(holder);
        token.transfer(owner, 10 ether);
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                owner,
                address(this),
                3 ether,
                0,
                block.timestamp + 1
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(sk, digest);
        token.permit(owner, address(this), 3 ether, block.timestamp + 1, v, r, s);
        assertEq(token.allowance(owner, address(this)), 3 ether, "allowance");
        vm.expectRevert();
        token.permit(owner, address(this), 3 ether, block.timestamp + 1, v, r, s);
    }
}
