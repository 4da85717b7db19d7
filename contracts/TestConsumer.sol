// SPDX-License-Identifier: Apache-2.0
// A consumer contract for tests and examples: asks Jobs for work, pays in PHA,
// and records callbacks. It can be told to revert or to burn all its gas so
// tests can show Jobs records the outcome either way.
pragma solidity ^0.8.24;

import {IERC20, IJobs, IPhxConsumer} from "./IPhx.sol";

contract TestConsumer is IPhxConsumer {
    uint8 public constant MODE_OK = 0;
    uint8 public constant MODE_REVERT = 1;
    uint8 public constant MODE_BURN_GAS = 2;

    IJobs public immutable jobs;
    IERC20 public immutable token;
    uint8 public mode;
    uint256 public callbacks;
    uint256 public lastRequestId;
    bytes32 public lastOutputHash;
    uint256 public lastOutputLength;
    mapping(uint256 => bytes32) public outputHashOf;

    event Asked(uint256 indexed requestId);
    event Answered(uint256 indexed requestId, bytes output);

    error OnlyJobs();
    error ToldToRevert(uint256 requestId);

    constructor(IJobs jobs_, IERC20 token_) {
        jobs = jobs_;
        token = token_;
    }

    function setMode(uint8 mode_) external {
        mode = mode_;
    }

    function ask(bytes32 contractId, bytes calldata input, uint256 maxFee, uint32 callbackGasLimit, uint8 k)
        external
        returns (uint256 requestId)
    {
        token.approve(address(jobs), maxFee);
        requestId = jobs.request(contractId, input, maxFee, callbackGasLimit, k);
        emit Asked(requestId);
    }

    function phxCallback(uint256 requestId, bytes calldata output) external {
        if (msg.sender != address(jobs)) revert OnlyJobs();
        if (mode == MODE_REVERT) revert ToldToRevert(requestId);
        if (mode == MODE_BURN_GAS) {
            while (true) {}
        }
        callbacks += 1;
        lastRequestId = requestId;
        lastOutputHash = keccak256(output);
        lastOutputLength = output.length;
        outputHashOf[requestId] = lastOutputHash;
        emit Answered(requestId, output);
    }
}
