// SPDX-License-Identifier: Apache-2.0
// Asks the Phalanx network for a price and stores the signed answer it gets
// back. Jobs checks the worker signatures before it calls phxCallback, so the
// price here came from the oracle's code inside an attested TEE.
pragma solidity ^0.8.24;

import {IERC20, IJobs, IPhxConsumer} from "../../contracts/IPhx.sol";

contract PriceConsumer is IPhxConsumer {
    IJobs public immutable jobs;
    IERC20 public immutable token;
    bytes32 public immutable oracle; // the TEE contract id (phx deploy)
    bytes public lastAnswer;         // the oracle's JSON output
    uint256 public lastRequestId;

    event PriceRequested(uint256 indexed requestId, string pair);
    event PriceReceived(uint256 indexed requestId, bytes answer);

    error OnlyJobs();

    constructor(IJobs jobs_, IERC20 token_, bytes32 oracle_) {
        jobs = jobs_;
        token = token_;
        oracle = oracle_;
    }

    /// Pays up to maxFee PHA (held by this contract) for one answer. `url` is
    /// the price API to ask (empty: the oracle's default source). Both strings
    /// go into the oracle's JSON input as given, so they must not hold quotes.
    function requestPrice(string calldata pair, string calldata url, uint256 maxFee)
        external
        returns (uint256 id)
    {
        token.approve(address(jobs), maxFee);
        bytes memory input = bytes(url).length == 0
            ? abi.encodePacked('{"pair":"', pair, '"}')
            : abi.encodePacked('{"pair":"', pair, '","url":"', url, '"}');
        id = jobs.request(oracle, input, maxFee, 200000, 1);
        emit PriceRequested(id, pair);
    }

    function phxCallback(uint256 requestId, bytes calldata output) external {
        if (msg.sender != address(jobs)) revert OnlyJobs();
        lastRequestId = requestId;
        lastAnswer = output;
        emit PriceReceived(requestId, output);
    }
}
