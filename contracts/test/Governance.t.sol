// SPDX-License-Identifier: Apache-2.0
// Governance: PHA holders vote in PhxGovernor, passed proposals run through
// PhxTimelock, and the timelock is the governor of PHA (minting), Registry,
// Jobs and StakePool, as `phx chain deploy` + the hand-over leave them. The
// invariant test calls every governed setter from everyone but the timelock
// (the deployer that governed before the hand-over and the Governor itself
// included) and checks that no governed parameter ever moves.
pragma solidity ^0.8.24;

import {Fixture} from "./Fixture.sol";
import {Vm} from "./Vm.sol";
import {PhxGovernor} from "../PhxGovernor.sol";
import {PhxTimelock} from "../PhxTimelock.sol";
import {PhxToken} from "../PhxToken.sol";
import {Registry} from "../Registry.sol";
import {Jobs} from "../Jobs.sol";
import {StakePool} from "../StakePool.sol";
import {IRewardPool} from "../IPhx.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";

abstract contract GovFixture is Fixture {
    uint48 constant DELAY = 1; // seconds (PHA's clock is the timestamp)
    uint32 constant PERIOD = 5; // seconds
    uint256 constant TL_DELAY = 2; // seconds

    PhxTimelock timelock;
    PhxGovernor gov;
    address voter = address(0x707E);

    function deployGovernance() internal {
        deployAll();
        jobs.setStakePool(IRewardPool(address(stake)));
        timelock = new PhxTimelock(TL_DELAY, new address[](0), new address[](1), address(this));
        gov = new PhxGovernor(IVotes(address(token)), TimelockController(payable(timelock)), DELAY, PERIOD, 0, 4);
        timelock.grantRole(timelock.PROPOSER_ROLE(), address(gov));
        timelock.grantRole(timelock.CANCELLER_ROLE(), address(gov));
        // The hand-over: every governed contract to the timelock, then the
        // deployer gives up its timelock admin role.
        token.setGovernor(address(timelock));
        registry.setGovernor(address(timelock));
        jobs.setGovernor(address(timelock));
        stake.setGovernor(address(timelock));
        timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), address(this));
        // A holder with 10 % of the supply delegates to itself (quorum is 4 %).
        token.transfer(voter, 100_000_000 ether);
        vm.prank(voter);
        token.delegate(voter);
        vm.warp(block.timestamp + 1);
    }
}

contract GovernanceTest is GovFixture {
    function setUp() public {
        deployGovernance();
    }

    function _one(address target, bytes memory data)
        internal
        pure
        returns (address[] memory t, uint256[] memory v, bytes[] memory c)
    {
        t = new address[](1);
        v = new uint256[](1);
        c = new bytes[](1);
        t[0] = target;
        c[0] = data;
    }

    /// propose -> vote -> queue -> execute: the vote adds a measurement.
    function test_voteAddsMeasurementThroughTheTimelock() public {
        bytes32 m = keccak256("new code");
        (address[] memory t, uint256[] memory v, bytes[] memory c) =
            _one(address(registry), abi.encodeCall(Registry.setMeasurement, (m, true)));
        string memory why = "allow the new worker build";
        vm.prank(voter);
        uint256 id = gov.propose(t, v, c, why);
        assertEq(uint256(gov.state(id)), uint256(IGovernor.ProposalState.Pending), "pending");
        vm.warp(block.timestamp + DELAY + 1);
        vm.prank(voter);
        gov.castVote(id, 1);
        (uint256 against, uint256 forVotes,) = gov.proposalVotes(id);
        assertEq(forVotes, 100_000_000 ether, "votes counted from the snapshot");
        assertEq(against, 0, "none against");
        vm.warp(block.timestamp + PERIOD);
        assertEq(uint256(gov.state(id)), uint256(IGovernor.ProposalState.Succeeded), "succeeded");
        gov.queue(t, v, c, keccak256(bytes(why)));
        // Not before the timelock's delay.
        vm.expectRevert();
        gov.execute(t, v, c, keccak256(bytes(why)));
        vm.warp(block.timestamp + TL_DELAY);
        gov.execute(t, v, c, keccak256(bytes(why)));
        assertTrue(registry.measurementAllowed(m), "measurement allowed by the vote");
        assertEq(uint256(gov.state(id)), uint256(IGovernor.ProposalState.Executed), "executed");
        assertEq(uint256(gov.clock()), block.timestamp, "the Governor counts in seconds");
    }

    /// Without quorum a proposal is defeated and nothing changes.
    function test_noQuorumDefeated() public {
        address small = address(0x5111);
        token.transfer(small, 1000 ether);
        vm.prank(small);
        token.delegate(small);
        vm.warp(block.timestamp + 1);
        (address[] memory t, uint256[] memory v, bytes[] memory c) =
            _one(address(registry), abi.encodeCall(Registry.setMinStake, (1)));
        vm.prank(small);
        uint256 id = gov.propose(t, v, c, "cheap stake");
        vm.warp(block.timestamp + DELAY + 1);
        vm.prank(small);
        gov.castVote(id, 1);
        vm.warp(block.timestamp + PERIOD);
        assertEq(uint256(gov.state(id)), uint256(IGovernor.ProposalState.Defeated), "defeated");
        vm.expectRevert();
        gov.queue(t, v, c, keccak256(bytes("cheap stake")));
        assertEq(registry.minStake(), MIN_STAKE, "unchanged");
    }

    /// Only the timelock mints PHA, and only up to the cap.
    function test_onlyTheTimelockMints() public {
        vm.expectRevert(PhxToken.NotGovernor.selector);
        token.mint(address(this), 1 ether);
        vm.prank(address(gov));
        vm.expectRevert(PhxToken.NotGovernor.selector);
        token.mint(address(this), 1 ether);
        uint256 supply = token.totalSupply();
        vm.prank(address(timelock));
        token.mint(voter, 5 ether);
        assertEq(token.totalSupply(), supply + 5 ether, "minted by the timelock");
    }

    /// The deployer kept no way back in: no timelock admin, no proposer role.
    function test_deployerHasNoRoleLeft() public view {
        assertTrue(!timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), address(this)), "admin renounced");
        assertTrue(!timelock.hasRole(timelock.PROPOSER_ROLE(), address(this)), "not a proposer");
        assertTrue(timelock.hasRole(timelock.PROPOSER_ROLE(), address(gov)), "governor proposes");
        assertTrue(timelock.hasRole(timelock.EXECUTOR_ROLE(), address(0)), "anyone executes");
    }
}

/// Calls every governed setter from callers that are not the timelock.
contract GovernedHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    PhxToken token;
    Registry registry;
    Jobs jobs;
    StakePool stake;
    address[4] callers;
    uint256 public accepted; // a governed setter that did not revert for a non-timelock caller

    constructor(PhxToken t, Registry r, Jobs j, StakePool s, address deployer, address governor_) {
        token = t;
        registry = r;
        jobs = j;
        stake = s;
        callers = [deployer, governor_, address(0xBAD), address(this)];
    }

    function _as(uint256 who) internal {
        vm.prank(callers[who % 4]);
    }

    function _count(bool ok) internal {
        if (ok) accepted++;
    }

    function setMinStake(uint256 who, uint256 v) external {
        _as(who);
        (bool ok,) = address(registry).call(abi.encodeCall(Registry.setMinStake, (v)));
        _count(ok);
    }

    function setMeasurement(uint256 who, bytes32 m) external {
        _as(who);
        (bool ok,) = address(registry).call(abi.encodeCall(Registry.setMeasurement, (m, true)));
        _count(ok);
    }

    function setKmsQuorum(uint256 who, uint256 q) external {
        _as(who);
        (bool ok,) = address(registry).call(abi.encodeCall(Registry.setKmsQuorum, (1 + q % 5)));
        _count(ok);
    }

    function setStaking(uint256 who, address s) external {
        _as(who);
        (bool ok,) = address(registry).call(abi.encodeCall(Registry.setStaking, (s)));
        _count(ok);
    }

    function setJobsParams(uint256 who, uint256 fee, uint64 timeout, uint32 gas) external {
        _as(who);
        (bool ok,) = address(jobs).call(abi.encodeCall(Jobs.setParams, (fee, timeout, gas)));
        _count(ok);
    }

    function setStakePool(uint256 who, address p) external {
        _as(who);
        (bool ok,) = address(jobs).call(abi.encodeCall(Jobs.setStakePool, (IRewardPool(p))));
        _count(ok);
    }

    function setPoolParams(uint256 who, address t, uint64 u, uint16 s, uint16 r) external {
        _as(who);
        (bool ok,) = address(stake).call(abi.encodeCall(StakePool.setParams, (t, u, s % 10_001, r % 10_001)));
        _count(ok);
    }

    function mint(uint256 who, uint256 amount) external {
        _as(who);
        (bool ok,) = address(token).call(abi.encodeCall(PhxToken.mint, (address(this), amount % 1e30)));
        _count(ok);
    }

    function setGovernor(uint256 who, uint256 which, address next) external {
        if (next == address(0)) next = address(0xBAD);
        address[4] memory governed = [address(token), address(registry), address(jobs), address(stake)];
        _as(who);
        (bool ok,) = governed[which % 4].call(abi.encodeWithSignature("setGovernor(address)", next));
        _count(ok);
    }
}

contract GovernanceInvariantTest is GovFixture {
    GovernedHandler handler;
    bytes32 params0;

    function setUp() public {
        deployGovernance();
        handler = new GovernedHandler(token, registry, jobs, stake, address(this), address(gov));
        params0 = _params();
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    // Every governed parameter (and each contract's governor) in one hash.
    function _params() internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                registry.minStake(),
                registry.kmsQuorum(),
                registry.staking(),
                registry.governor(),
                registry.measurementAllowed(keccak256("x")),
                jobs.feePerWorker(),
                jobs.requestTimeout(),
                jobs.maxCallbackGas(),
                address(jobs.stakePool()),
                jobs.governor(),
                abi.encode(stake.treasury(), stake.unbondingPeriod(), stake.slashBps(), stake.reporterBps()),
                stake.governor(),
                token.totalSupply(),
                token.governor()
            )
        );
    }

    function invariant_onlyTheTimelockChangesGovernedParameters() public view {
        assertEq(handler.accepted(), 0, "a governed setter accepted a caller other than the timelock");
        assertTrue(_params() == params0, "a governed parameter changed");
    }
}
