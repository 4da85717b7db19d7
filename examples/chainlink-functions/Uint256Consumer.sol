// SPDX-License-Identifier: Apache-2.0
// Asks a TEE contract whose answer is one uint256 (a Chainlink Functions source
// returning Functions.encodeUint256, deployed with --flavor chainlink-functions)
// and keeps the decoded value; a failed run (ok false) is kept as the error,
// never decoded. Built on PhxConsumer: Jobs alone calls back, and only for a
// request made here.
//
// What makes it safe to copy: only the owner spends the PHA the contract
// holds (request() is owner-only), and an answer that is not exactly 32 bytes
// is refused (the callback reverts; Jobs records CALLBACK_FAILED).
pragma solidity ^0.8.24;

import {IERC20, IJobs} from "../../contracts/IPhx.sol";
import {PhxConsumer} from "../../contracts/PhxConsumer.sol";

contract Uint256Consumer is PhxConsumer {
    address public immutable owner;
    uint256 public value; // the last answer, decoded
    uint256 public lastRequestId;
    uint256 public answers; // callbacks taken, answers and errors alike
    bytes public lastError; // the TEE contract's error, when its run failed

    event Answered(uint256 indexed requestId, uint256 value);
    event Failed(uint256 indexed requestId, bytes reason);

    error NotOwner();
    error NotOneWord(uint256 length);

    constructor(IJobs jobs_, IERC20 token_) PhxConsumer(jobs_, token_) {
        owner = msg.sender;
    }

    /// input is what the TEE contract gets: for a Chainlink Functions source,
    /// the JSON text {"args":[...]} (or a JSON array of args).
    function request(bytes32 contractId, bytes calldata input, uint256 maxFee) external returns (uint256) {
        if (msg.sender != owner) revert NotOwner();
        return _sendRequest(contractId, input, maxFee, 200_000, 1);
    }

    function _fulfill(uint256 requestId, bool ok, bytes calldata output) internal override {
        if (ok && output.length != 32) revert NotOneWord(output.length);
        lastRequestId = requestId;
        answers += 1;
        if (!ok) {
            lastError = output;
            emit Failed(requestId, output);
            return;
        }
        value = abi.decode(output, (uint256));
        emit Answered(requestId, value);
    }
}
