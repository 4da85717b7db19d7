// SPDX-License-Identifier: Apache-2.0
// The real PhxToken, Registry, Jobs and StakePool wired as `phx chain deploy`
// and governance would: the Registry reads stake from the pool, and a worker
// is registered with a synthetic SGX quote that an admitted KMS key vouched for
// (the chain checks only the quote's key binding and measurement).
pragma solidity ^0.8.24;

import {PhxTest} from "./Vm.sol";
import {PhxToken} from "../PhxToken.sol";
import {Registry} from "../Registry.sol";
import {Jobs} from "../Jobs.sol";
import {IERC20, IWorkerRegistry} from "../IPhx.sol";
import {StakePool, IResultDigest, IWorkerOperators} from "../StakePool.sol";
import {IERC20 as OzIERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

abstract contract Fixture is PhxTest {
    uint256 constant MIN_STAKE = 100 ether;
    uint256 constant KMS_SK = 0xC0FFEE;
    uint256 constant WORKER_SK = 0xD00D;
    uint64 constant UNBONDING = 7 days;

    PhxToken token;
    Registry registry;
    Jobs jobs;
    StakePool stake;
    address treasury = address(0x7EA5);
    address operator = address(0x0BE7);
    bytes32 measurement;

    function deployAll() internal {
        token = new PhxToken(1_000_000_000 ether, address(this));
        registry = new Registry(IERC20(address(token)), MIN_STAKE);
        jobs = new Jobs(IERC20(address(token)), IWorkerRegistry(address(registry)), 1 ether, 600);
        stake = new StakePool(
            OzIERC20(address(token)),
            IResultDigest(address(jobs)),
            IWorkerOperators(address(registry)),
            treasury,
            UNBONDING,
            1000, // 10 % of the pool per proven equivocation
            5000 // half of it to the reporter
        );
        registry.setStaking(address(stake));
        measurement = keccak256(new bytes(64)); // MRENCLAVE || MRSIGNER of the zero quote
        registry.setMeasurement(measurement, true);
        address kms = vm.addr(KMS_SK);
        bytes32 nonce = bytes32(uint256(1));
        bytes memory q = sgxQuote(keccak256(abi.encodePacked("phx-kms-v1", kms, bytes32(uint256(0xAA)), nonce)), nonce);
        registry.admitKms(kms, bytes32(uint256(0xAA)), nonce, q, bytes32(0));
    }

    /// An SGX v3 quote of zeros but for the version and the report data.
    function sgxQuote(bytes32 bound, bytes32 nonce) internal pure returns (bytes memory q) {
        q = new bytes(48 + 384);
        q[0] = 0x03;
        for (uint256 i = 0; i < 32; i++) {
            q[368 + i] = bound[i];
            q[400 + i] = nonce[i];
        }
    }

    function sig(uint256 sk, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(sk, digest);
        return abi.encodePacked(r, s, v);
    }

    /// The operator registers the worker key WORKER_SK (vm.prank'd as operator).
    function registerWorker() internal returns (address worker) {
        worker = vm.addr(WORKER_SK);
        bytes32 x = bytes32(uint256(0xBB));
        bytes32 nonce = bytes32(uint256(2));
        bytes memory q = sgxQuote(keccak256(abi.encodePacked("phx-worker-v1", worker, x, nonce)), nonce);
        bytes32 digest = registry.attestDigest(operator, worker, x, measurement, 0, keccak256(q), nonce);
        bytes memory kmsSig = sig(KMS_SK, digest);
        vm.prank(operator);
        registry.registerWorker(worker, x, nonce, q, kmsSig);
    }

    function fund(address who, uint256 amount) internal {
        token.transfer(who, amount);
        vm.prank(who);
        token.approve(address(stake), type(uint256).max);
    }
}
