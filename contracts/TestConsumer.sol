// SPDX-License-Identifier: Apache-2.0
// A consumer contract for tests and examples: asks Jobs for work, pays in PHA,
// and records callbacks, on the PhxConsumer base. It can be told to revert or to burn all its gas so
// tests can show Jobs records the outcome either way.
pragma solidity ^0.8.24;

import {IERC20, IJobs} from "./IPhx.sol";
import {PhxConsumer} from "./PhxConsumer.sol";

contract TestConsumer is PhxConsumer {
    uint8 public constant MODE_OK = 0;
    uint8 public constant MODE_REVERT = 1;
    uint8 public constant MODE_BURN_GAS = 2;

    uint8 public mode;
    bool public lastOk; // in mode's slot: the callback reads that slot anyway
    uint256 public callbacks;
    uint256 public lastRequestId;
    bytes32 public lastOutputHash;
    uint256 public lastOutputLength;
    uint256 public failures; // callbacks with ok == false (the TEE contract failed)
    mapping(uint256 => bytes32) public outputHashOf;

    event Asked(uint256 indexed requestId);
    event Answered(uint256 indexed requestId, bool ok, bytes output);

    error ToldToRevert(uint256 requestId);

    constructor(IJobs jobs_, IERC20 token_) PhxConsumer(jobs_, token_) {}

    function setMode(uint8 mode_) external {
        mode = mode_;
    }

    function ask(bytes32 contractId, bytes calldata input, uint256 maxFee, uint32 callbackGasLimit, uint8 k)
        external
        returns (uint256 requestId)
    {
        requestId = _sendRequest(contractId, input, maxFee, callbackGasLimit, k);
        emit Asked(requestId);
    }

    function askKinds(
        bytes32 contractId,
        bytes calldata input,
        uint256 maxFee,
        uint32 callbackGasLimit,
        uint8 k,
        uint8 minTeeKinds
    ) external returns (uint256 requestId) {
        requestId = _sendRequest(contractId, input, maxFee, callbackGasLimit, k, minTeeKinds);
        emit Asked(requestId);
    }

    function _fulfill(uint256 requestId, bool ok, bytes calldata output) internal override {
        if (mode == MODE_REVERT) revert ToldToRevert(requestId);
        if (mode == MODE_BURN_GAS) {
            while (true) {}
        }
        callbacks += 1;
        if (!ok) failures += 1;
        lastOk = ok;
        lastRequestId = requestId;
        lastOutputHash = keccak256(output);
        lastOutputLength = output.length;
        outputHashOf[requestId] = lastOutputHash;
        emit Answered(requestId, ok, output);
    }
}
