// SPDX-License-Identifier: Apache-2.0
// Invariants of the staking economy under random sequences of delegate,
// undelegate, withdraw, claim, fees, equivocation slashes and time passing
// (foundry.toml: 256 runs, depth 32). The handler keeps ghost totals of what
// each delegator put in and took out, and checks at every slash that every
// holder of shares lost the same fraction.
pragma solidity ^0.8.24;

import {Fixture} from "./Fixture.sol";
import {StakePool} from "../StakePool.sol";
import {PhxToken} from "../PhxToken.sol";
import {Jobs} from "../Jobs.sol";
import {Vm} from "./Vm.sol";

contract StakeHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 constant WORKER_SK = 0xD00D;

    PhxToken public token;
    StakePool public stake;
    Jobs public jobs;
    uint256 public pid;
    address public operator;
    address public worker;
    address[4] public actors;
    mapping(address => uint256) public delegatedIn; // principal put in
    mapping(address => uint256) public withdrawnOut; // principal taken out
    mapping(address => uint256) public claimedOut;
    uint256 public rewardsIn;
    uint256 public slashes;
    uint256 public slashViolations; // a holder whose loss was not the pool's fraction
    uint256 nextRequest = 1;

    constructor(PhxToken token_, StakePool stake_, Jobs jobs_, uint256 pid_, address operator_, address worker_) {
        token = token_;
        stake = stake_;
        jobs = jobs_;
        pid = pid_;
        operator = operator_;
        worker = worker_;
        actors = [operator_, address(0xA1), address(0xA2), address(0xA3)];
        for (uint256 i = 0; i < actors.length; i++) {
            vm.prank(actors[i]);
            token.approve(address(stake), type(uint256).max);
        }
        token.approve(address(stake), type(uint256).max);
    }

    function actorCount() external pure returns (uint256) {
        return 4;
    }

    function delegate(uint256 who, uint256 amount) external {
        address a = actors[who % 4];
        amount = stake.MIN_DELEGATION() + amount % token.balanceOf(a);
        vm.prank(a);
        try stake.delegate(pid, amount) {
            delegatedIn[a] += amount;
        } catch {}
    }

    function undelegate(uint256 who, uint256 shares) external {
        address a = actors[who % 4];
        (uint256 have,,,,) = stake.delegations(pid, a);
        if (have == 0) return;
        vm.prank(a);
        stake.undelegate(pid, 1 + shares % have);
    }

    function withdraw(uint256 who) external {
        address a = actors[who % 4];
        (,,, uint256 queued, uint64 readyAt) = stake.delegations(pid, a);
        if (queued == 0) return;
        if (block.timestamp < readyAt) vm.warp(readyAt);
        vm.prank(a);
        withdrawnOut[a] += stake.withdraw(pid);
    }

    function claim(uint256 who) external {
        address a = actors[who % 4];
        vm.prank(a);
        claimedOut[a] += stake.claim(pid);
    }

    function addReward(uint256 amount) external {
        amount = amount % 50 ether;
        stake.addReward(operator, amount);
        rewardsIn += amount;
    }

    function slash() external {
        uint256 rid = nextRequest++;
        bytes32 a = keccak256(abi.encode("a", rid));
        bytes32 b = keccak256(abi.encode("b", rid));
        bytes memory sa = _sig(jobs.resultDigest(rid, bytes32(0), bytes32(0), true, a));
        bytes memory sb = _sig(jobs.resultDigest(rid, bytes32(0), bytes32(0), false, b));
        uint256[4] memory before;
        for (uint256 i = 0; i < 4; i++) before[i] = _value(actors[i]);
        StakePool.Pool memory p = stake.pool(pid);
        uint256 amount = stake.reportEquivocation(worker, rid, bytes32(0), bytes32(0), true, a, sa, false, b, sb);
        slashes++;
        for (uint256 i = 0; i < 4; i++) {
            uint256 want = p.totalStake == 0 ? 0 : before[i] * (p.totalStake - amount) / p.totalStake;
            uint256 got = _value(actors[i]);
            // Rounding may differ by a wei either way from the exact fraction.
            if (got > want + 1 || got + 1 < want) slashViolations++;
        }
    }

    function wait(uint256 secs) external {
        vm.warp(block.timestamp + secs % 8 days);
    }

    function _value(address a) internal view returns (uint256) {
        (uint256 shares,,, uint256 queued,) = stake.delegations(pid, a);
        return stake.sharesValue(pid, shares + queued);
    }

    function _sig(bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(WORKER_SK, digest);
        return abi.encodePacked(r, s, v);
    }
}

contract StakePoolInvariantTest is Fixture {
    StakeHandler handler;
    uint256 pid;
    address worker;

    function setUp() public {
        deployAll();
        vm.prank(operator);
        pid = stake.createPool(1500);
        fund(operator, MIN_STAKE);
        vm.prank(operator);
        stake.delegate(pid, MIN_STAKE);
        worker = registerWorker();
        // Slashes must not invalidate the worker here, or only the first counts:
        // the Registry stops trusting the pool to invalidate once it is unset.
        registry.setStaking(address(0));
        handler = new StakeHandler(token, stake, jobs, pid, operator, worker);
        token.transfer(address(handler), 1_000_000 ether);
        for (uint256 i = 1; i < 4; i++) token.transfer(handler.actors(i), 10_000 ether);
        token.transfer(operator, 10_000 ether);
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    function _holders() internal view returns (address[9] memory h) {
        h = [
            address(this),
            address(handler),
            address(stake),
            treasury,
            handler.actors(0),
            handler.actors(1),
            handler.actors(2),
            handler.actors(3),
            address(registry)
        ];
    }

    /// Every PHA is somewhere we know: holders, the pool contract, the treasury.
    function invariant_phaConserved() public view {
        address[9] memory h = _holders();
        uint256 sum;
        for (uint256 i = 0; i < h.length; i++) sum += token.balanceOf(h[i]);
        assertEq(sum, token.totalSupply(), "PHA conserved");
    }

    /// The pool contract can always pay all stake and every owed reward.
    function invariant_poolSolvent() public view {
        StakePool.Pool memory p = stake.pool(pid);
        uint256 owed = p.totalStake;
        for (uint256 i = 0; i < 4; i++) {
            owed += stake.pendingRewards(pid, handler.actors(i));
        }
        assertTrue(token.balanceOf(address(stake)) >= owed, "pool insolvent");
    }

    /// No delegator takes out more principal than it put in (shares never gain
    /// value: fees are paid as rewards, slashes only lower the price), nor more
    /// rewards than were ever paid in.
    function invariant_noDelegatorTakesMore() public view {
        for (uint256 i = 0; i < 4; i++) {
            address a = handler.actors(i);
            uint256 put = handler.delegatedIn(a) + (i == 0 ? MIN_STAKE : 0);
            assertTrue(handler.withdrawnOut(a) <= put, "withdrew more than staked");
            assertTrue(handler.claimedOut(a) <= handler.rewardsIn(), "claimed more than was paid");
        }
    }

    /// A slash costs every holder of shares, active or queued, the same fraction.
    function invariant_sharePriceConsistentAcrossSlashes() public view {
        assertEq(handler.slashViolations(), 0, "uneven slash");
        StakePool.Pool memory p = stake.pool(pid);
        assertTrue(p.totalStake <= p.totalShares + 1, "share price rose above 1");
    }
}
