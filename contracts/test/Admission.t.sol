// SPDX-License-Identifier: Apache-2.0
// Admission by TEE kind and operator: the Registry's eligibility counters
// (distinct eligible operators, TEE kinds among their workers) through every
// change that moves them, Jobs.request refusing what they cannot meet, and
// Jobs.fulfill requiring minTeeKinds distinct kinds among the k signers.
pragma solidity ^0.8.24;

import {Fixture} from "./Fixture.sol";
import {Registry} from "../Registry.sol";
import {Jobs} from "../Jobs.sol";

contract AdmissionTest is Fixture {
    uint32 constant SGX = 0x00000000;
    uint32 constant TDX = 0x00000081;
    address[3] ops = [address(0x0A1), address(0x0A2), address(0x0A3)];
    address consumer = address(0xC0);
    bytes32 tdxMeasurement;
    bytes32 cid;
    bytes32 code = keccak256("code");
    uint256 nextNonce = 100;

    function setUp() public {
        deployAll();
        tdxMeasurement = keccak256(new bytes(240)); // MRTD || RTMR0..3 of the zero TD report
        registry.setMeasurement(tdxMeasurement, true);
        for (uint256 i = 0; i < ops.length; i++) {
            fund(ops[i], 1_000 ether);
            vm.startPrank(ops[i]);
            uint256 pid = stake.createPool(1000);
            stake.delegate(pid, 500 ether);
            vm.stopPrank();
        }
        token.transfer(consumer, 1_000 ether);
        vm.prank(consumer);
        token.approve(address(jobs), type(uint256).max);
        cid = jobs.deployContract(bytes32(0), code, "ipfs://x");
    }

    /// A TDX v4 quote of zeros but for the header and the report data.
    function tdxQuote(bytes32 bound, bytes32 nonce) internal pure returns (bytes memory q) {
        q = new bytes(48 + 584);
        q[0] = 0x04;
        q[4] = 0x81;
        for (uint256 i = 0; i < 32; i++) {
            q[48 + 520 + i] = bound[i];
            q[48 + 552 + i] = nonce[i];
        }
    }

    function register(uint256 sk, address op, uint32 kind) internal returns (address worker) {
        worker = vm.addr(sk);
        bytes32 x = bytes32(sk);
        bytes32 nonce = bytes32(nextNonce++);
        bytes32 bound = keccak256(abi.encodePacked("phx-worker-v1", worker, x, nonce));
        bytes memory q = kind == TDX ? tdxQuote(bound, nonce) : sgxQuote(bound, nonce);
        bytes32 m = kind == TDX ? tdxMeasurement : measurement;
        bytes memory kmsSig = sig(KMS_SK, registry.attestDigest(op, worker, x, m, kind, keccak256(q), nonce));
        vm.prank(op);
        registry.registerWorker(worker, x, nonce, q, kmsSig);
    }

    function assertEligible(uint256 wantOps, uint256 wantKinds, string memory what) internal view {
        (uint256 o, uint256 k) = registry.eligibility();
        assertEq(o, wantOps, string.concat(what, ": operators"));
        assertEq(k, wantKinds, string.concat(what, ": kinds"));
    }

    function ask(uint8 k, uint8 m) internal returns (uint256) {
        vm.prank(consumer);
        return jobs.request(cid, "in", 100 ether, 0, k, m);
    }

    function test_noWorkerNoRequest() public {
        assertEligible(0, 0, "empty");
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(Jobs.NotEnoughOperators.selector, uint8(1), uint256(0)));
        jobs.request(cid, "in", 100 ether, 0, 1);
    }

    function test_requestRevertsWhenKOrMCannotBeMet() public {
        register(0x101, ops[0], TDX);
        register(0x102, ops[0], TDX); // a second worker of the same operator adds no operator
        register(0x201, ops[1], SGX);
        assertEligible(2, 2, "two operators, both kinds");
        assertEq(registry.eligibleOperatorsOfKind(TDX), 1, "TDX operators");
        assertEq(registry.eligibleOperatorsOfKind(SGX), 1, "SGX operators");
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(Jobs.NotEnoughOperators.selector, uint8(3), uint256(2)));
        jobs.request(cid, "in", 100 ether, 0, 3, 1);
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(Jobs.BadMinTeeKinds.selector, uint8(2), uint8(1)));
        jobs.request(cid, "in", 100 ether, 0, 1, 2);
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(Jobs.BadMinTeeKinds.selector, uint8(0), uint8(1)));
        jobs.request(cid, "in", 100 ether, 0, 1, 0);
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(Jobs.NotEnoughOperators.selector, uint8(3), uint256(2)));
        jobs.request(cid, "in", 100 ether, 0, 3, 3); // operators are checked first
        uint256 balance = token.balanceOf(consumer);
        ask(2, 2);
        assertEq(token.balanceOf(consumer), balance - 2 ether, "a satisfiable request escrows");

        vm.prank(ops[1]);
        registry.deregisterWorker(vm.addr(0x201));
        assertEligible(1, 1, "the SGX operator left");
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(Jobs.NotEnoughOperators.selector, uint8(2), uint256(1)));
        jobs.request(cid, "in", 100 ether, 0, 2, 2);
        register(0x301, ops[2], TDX);
        assertEligible(2, 1, "two TDX operators");
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(Jobs.NotEnoughTeeKinds.selector, uint8(2), uint256(1)));
        jobs.request(cid, "in", 100 ether, 0, 2, 2);
        ask(2, 1);
    }

    function test_countersFollowEveryChange() public {
        address a = register(0x101, ops[0], TDX);
        register(0x201, ops[1], SGX);
        address c = register(0x301, ops[2], TDX);
        address c2 = register(0x302, ops[2], SGX);
        assertEligible(3, 2, "registered");
        assertEq(registry.eligibleOperatorsOfKind(SGX), 2, "SGX operators");

        // Invalidation by governance.
        registry.invalidateWorker(a, "test");
        assertEligible(2, 2, "invalidated");
        assertEq(registry.eligibleOperatorsOfKind(TDX), 1, "TDX after invalidation");
        // Deregistering one of two workers keeps the operator, drops its kind.
        vm.prank(c);
        registry.deregisterWorker(c);
        assertEligible(2, 1, "ops[2] kept only its SGX worker");
        assertEq(registry.eligibleOperatorsOfKind(TDX), 0, "no TDX");

        // minStake: ops[1] and ops[2] each hold 500 PHA for one active worker.
        registry.setMinStake(501 ether);
        assertEligible(0, 0, "minStake above every pool");
        registry.setMinStake(MIN_STAKE);
        assertEligible(2, 1, "minStake back");

        // The allowlist: removing the SGX measurement idles every SGX worker.
        registry.setMeasurement(measurement, false);
        assertEligible(0, 0, "SGX measurement removed");
        registry.setMeasurement(measurement, false); // no change, no double count
        registry.setMeasurement(measurement, true);
        assertEligible(2, 1, "SGX measurement back");

        // Stake: ops[2] undelegates below minStake; syncStake (from the pool) drops it.
        vm.prank(ops[2]);
        stake.undelegate(3, 450 ether);
        assertEligible(1, 1, "ops[2] under-staked");
        vm.prank(ops[2]);
        stake.delegate(3, 200 ether);
        assertEligible(2, 1, "ops[2] staked again");

        // A worker deregistered while its measurement is disallowed counts once only.
        registry.setMeasurement(measurement, false);
        vm.prank(c2);
        registry.deregisterWorker(c2);
        registry.setMeasurement(measurement, true);
        assertEligible(1, 1, "only ops[1]'s SGX worker");
        assertEq(registry.eligibleOperatorsOfKind(SGX), 1, "SGX operators at the end");
    }

    function test_fulfillNeedsMinTeeKinds() public {
        register(0x101, ops[0], TDX);
        register(0x301, ops[2], TDX);
        register(0x201, ops[1], SGX);
        uint256 rid = ask(2, 2);
        bytes memory out = "out";
        bytes32 digest = jobs.resultDigest(rid, cid, code, true, keccak256(out));
        bytes[] memory sigs = new bytes[](2);
        sigs[0] = sig(0x101, digest);
        sigs[1] = sig(0x301, digest);
        vm.prank(vm.addr(0x101));
        vm.expectRevert(abi.encodeWithSelector(Jobs.TooFewTeeKinds.selector, uint256(1), uint8(2)));
        jobs.fulfill(rid, true, out, sigs);
        sigs[1] = sig(0x201, digest);
        vm.prank(vm.addr(0x101));
        jobs.fulfill(rid, true, out, sigs);
        (, uint8 status,,,,,,,) = jobs.requests(rid);
        assertEq(status, jobs.STATUS_FULFILLED(), "fulfilled by a TDX and an SGX signer");
    }

    /// Any sequence of registrations, exits, stake and allowlist changes leaves
    /// the counters equal to a count from scratch over every worker.
    function testFuzz_countersMatchARecount(uint256 seed) public {
        address[] memory ws = new address[](12);
        uint256 n = 0;
        for (uint256 step = 0; step < 16; step++) {
            uint256 r = uint256(keccak256(abi.encode(seed, step)));
            uint256 action = r % 6;
            if (action <= 1 || n == 0) {
                address op = ops[(r >> 8) % 3];
                uint32 kind = (r >> 16) % 2 == 0 ? SGX : TDX;
                uint256 needed = registry.minStake() * (registry.activeWorkers(op) + 1);
                // The KMS runs the SGX measurement: while it is removed the KMS vouches for nobody.
                bool allowed = registry.measurementAllowed(kind == SGX ? measurement : tdxMeasurement)
                    && registry.isKms(vm.addr(KMS_SK));
                if (n == ws.length || registry.stakeOf(op) < needed || !allowed) continue;
                ws[n] = register(0x1000 + n, op, kind);
                n++;
            } else if (action == 2) {
                address w = ws[(r >> 8) % n];
                (address op, uint8 status,,,,,,) = registry.workers(w);
                if (status == 1) {
                    vm.prank(op);
                    registry.deregisterWorker(w);
                }
            } else if (action == 3) {
                address w = ws[(r >> 8) % n];
                (, uint8 status,,,,,,) = registry.workers(w);
                if (status == 1 || status == 2) registry.invalidateWorker(w, "fuzz");
            } else if (action == 4) {
                registry.setMinStake(bound(r >> 8, 20 ether, 300 ether));
            } else {
                bytes32 m = (r >> 8) % 2 == 0 ? measurement : tdxMeasurement;
                registry.setMeasurement(m, (r >> 16) % 3 != 0);
            }
            recount(ws, n);
        }
    }

    function recount(address[] memory ws, uint256 n) internal view {
        uint256 opsSeen;
        uint256 kindsSeen;
        uint256 sgxOps;
        uint256 tdxOps;
        for (uint256 i = 0; i < ops.length; i++) {
            bool any;
            bool s;
            bool t;
            for (uint256 j = 0; j < n; j++) {
                (address op, uint32 kind) = registry.activeWorkerOf(ws[j]);
                if (op != ops[i]) continue;
                any = true;
                if (kind == SGX) s = true;
                else t = true;
            }
            if (any) opsSeen++;
            if (s) sgxOps++;
            if (t) tdxOps++;
        }
        kindsSeen = (sgxOps > 0 ? 1 : 0) + (tdxOps > 0 ? 1 : 0);
        assertEligible(opsSeen, kindsSeen, "recount");
        assertEq(registry.eligibleOperatorsOfKind(SGX), sgxOps, "recount SGX");
        assertEq(registry.eligibleOperatorsOfKind(TDX), tdxOps, "recount TDX");
    }
}
