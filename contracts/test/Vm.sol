// SPDX-License-Identifier: Apache-2.0
// The few forge cheatcodes the tests use, declared here because forge-std is not
// packaged on npm; the address is forge's fixed cheatcode address
// (address(uint160(uint256(keccak256("hevm cheat code"))))).
pragma solidity ^0.8.24;

interface Vm {
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function warp(uint256 timestamp) external;
    function roll(uint256 blockNumber) external;
    function assume(bool condition) external pure;
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function expectRevert(bytes4 selector) external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert() external;
}

/// Base for the tests: the cheatcodes and assertions that say what differed.
abstract contract PhxTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    error AssertEq(string what, uint256 got, uint256 want);
    error AssertAddr(string what, address got, address want);
    error AssertTrue(string what);

    function assertEq(uint256 got, uint256 want, string memory what) internal pure {
        if (got != want) revert AssertEq(what, got, want);
    }

    function assertEq(address got, address want, string memory what) internal pure {
        if (got != want) revert AssertAddr(what, got, want);
    }

    function assertTrue(bool ok, string memory what) internal pure {
        if (!ok) revert AssertTrue(what);
    }

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }
}
