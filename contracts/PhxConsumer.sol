// SPDX-License-Identifier: Apache-2.0
// The base of a contract that asks Phalanx for work, as Chainlink's
// FunctionsClient is for Chainlink Functions: a request helper that pays from
// this contract's PHA, the callback guard (only Jobs may call back, and Jobs
// calls back only the contract that made the request), and one function to
// override, _fulfill(requestId, ok, output). ok is false when the TEE contract
// failed (threw, did not compile, ran out of time); output is then its error as
// {"error":...} JSON, never something to decode as a result.
//
// Self-contained like IPhx.sol: a consumer compiles against these two files
// alone (solcjs --base-path, no node_modules).
pragma solidity ^0.8.24;

import {IERC20, IJobs, IPhxConsumer} from "./IPhx.sol";

abstract contract PhxConsumer is IPhxConsumer {
    IJobs public immutable jobs;
    IERC20 public immutable token;

    error OnlyJobs();
    error ApproveFailed();

    modifier onlyJobs() {
        if (msg.sender != address(jobs)) revert OnlyJobs();
        _;
    }

    constructor(IJobs jobs_, IERC20 token_) {
        jobs = jobs_;
        token = token_;
    }

    /// Jobs calls this; the result goes to _fulfill.
    function phxCallback(uint256 requestId, bool ok, bytes calldata output) external onlyJobs {
        _fulfill(requestId, ok, output);
    }

    /// Asks for a run of the TEE contract contractId on input, paid from this
    /// contract's PHA: Jobs takes k * feePerWorker, at most maxFee. The answer
    /// arrives in _fulfill with at most callbackGasLimit gas; k workers of
    /// distinct operators must sign the same output.
    function _sendRequest(bytes32 contractId, bytes memory input, uint256 maxFee, uint32 callbackGasLimit, uint8 k)
        internal
        returns (uint256 requestId)
    {
        if (!token.approve(address(jobs), maxFee)) revert ApproveFailed();
        requestId = jobs.request(contractId, input, maxFee, callbackGasLimit, k);
        // Jobs took at most maxFee; leave it no allowance to spend later.
        if (!token.approve(address(jobs), 0)) revert ApproveFailed();
    }

    /// The same, with the k signers on at least minTeeKinds distinct TEE kinds
    /// (SGX and TDX): a fault of one TEE vendor then cannot forge the result.
    function _sendRequest(
        bytes32 contractId,
        bytes memory input,
        uint256 maxFee,
        uint32 callbackGasLimit,
        uint8 k,
        uint8 minTeeKinds
    ) internal returns (uint256 requestId) {
        if (!token.approve(address(jobs), maxFee)) revert ApproveFailed();
        requestId = jobs.request(contractId, input, maxFee, callbackGasLimit, k, minTeeKinds);
        if (!token.approve(address(jobs), 0)) revert ApproveFailed();
    }

    /// The answer to a request made here: the TEE contract's output when ok,
    /// else its error. A revert here is recorded by Jobs (CALLBACK_FAILED) and
    /// does not undo the fulfilment.
    function _fulfill(uint256 requestId, bool ok, bytes calldata output) internal virtual;
}
