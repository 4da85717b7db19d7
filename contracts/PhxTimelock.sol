// SPDX-License-Identifier: Apache-2.0
// PhxTimelock: OpenZeppelin's TimelockController under a name of ours so the
// build emits its artifact. The Governor is its only proposer and canceller,
// anyone may execute a passed operation once its delay is over, and it owns
// every admin function of PHA, Registry, Jobs and StakePool (`governor` of each).
// The deployer's admin role is renounced once the hand-over is done.
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

contract PhxTimelock is TimelockController {
    constructor(uint256 minDelaySeconds, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelaySeconds, proposers, executors, admin)
    {}
}
