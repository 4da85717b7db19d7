// SPDX-License-Identifier: Apache-2.0
// Asks the Phalanx network for a price and stores the signed answer it gets
// back. Jobs checks the worker signatures before it calls phxCallback, so the
// price here came from the oracle's code inside an attested TEE.
//
// What makes it safe to copy:
//   - the caller pays: requestPrice takes the fee from msg.sender (who approved
//     this contract for maxFee PHA), passes it to Jobs and hands back what Jobs
//     did not take, so the contract holds no PHA that a stranger could spend;
//   - the oracle's input is ABI-encoded (abi.encode(pair)), never text glued
//     together, and the pair is checked here ("BASE/QUOTE", A-Z and 0-9), so no
//     caller can add fields such as a price source of their choosing;
//   - the callback is taken only from Jobs (PhxConsumer) and only for a request
//     made here; a failed run (ok false) is recorded as an error, never stored
//     as a price.
pragma solidity ^0.8.24;

import {IERC20, IJobs} from "../../contracts/IPhx.sol";
import {PhxConsumer} from "../../contracts/PhxConsumer.sol";

contract PriceConsumer is PhxConsumer {
    bytes32 public immutable oracle; // the TEE contract id (phx deploy)
    bytes public lastAnswer;         // the oracle's JSON output
    bytes public lastError;          // the oracle's error, when its run failed
    uint256 public lastRequestId;
    mapping(uint256 => bool) public pending; // requests made here, not yet answered

    event PriceRequested(uint256 indexed requestId, address indexed payer, string pair);
    event PriceReceived(uint256 indexed requestId, bytes answer);
    event PriceFailed(uint256 indexed requestId, bytes reason);

    error UnknownRequest(uint256 requestId);
    error BadPair();
    error TransferFailed();

    constructor(IJobs jobs_, IERC20 token_, bytes32 oracle_) PhxConsumer(jobs_, token_) {
        oracle = oracle_;
    }

    /// "ETH/USD": 2..10 of A-Z0-9, a slash, 2..10 of A-Z0-9.
    function validPair(string calldata pair) public pure returns (bool) {
        bytes calldata b = bytes(pair);
        uint256 slash = type(uint256).max;
        for (uint256 i = 0; i < b.length; i++) {
            bytes1 c = b[i];
            if (c == "/") {
                if (slash != type(uint256).max) return false;
                slash = i;
            } else if (!((c >= "A" && c <= "Z") || (c >= "0" && c <= "9"))) {
                return false;
            }
        }
        return slash >= 2 && slash <= 10 && b.length - slash - 1 >= 2 && b.length - slash - 1 <= 10;
    }

    /// Asks for one answer, paid by the caller: approve this contract for
    /// maxFee PHA first. What Jobs does not take goes back to the caller.
    function requestPrice(string calldata pair, uint256 maxFee) external returns (uint256 id) {
        if (!validPair(pair)) revert BadPair();
        if (!token.transferFrom(msg.sender, address(this), maxFee)) revert TransferFailed();
        uint256 before = token.balanceOf(address(this));
        id = _sendRequest(oracle, abi.encode(pair), maxFee, 200000, 1);
        uint256 spent = before - token.balanceOf(address(this));
        if (maxFee > spent && !token.transfer(msg.sender, maxFee - spent)) revert TransferFailed();
        pending[id] = true;
        emit PriceRequested(id, msg.sender, pair);
    }

    function _fulfill(uint256 requestId, bool ok, bytes calldata output) internal override {
        if (!pending[requestId]) revert UnknownRequest(requestId);
        delete pending[requestId];
        lastRequestId = requestId;
        if (!ok) {
            lastError = output;
            emit PriceFailed(requestId, output);
            return;
        }
        lastAnswer = output;
        emit PriceReceived(requestId, output);
    }
}
