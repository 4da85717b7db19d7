// SPDX-License-Identifier: Apache-2.0
// A minimal price feed for the treasury agent (examples/treasury): its owner
// posts a price, and every update emits PriceUpdated, the event the agent's
// evm_log trigger follows. latest() gives the price with the block it was set
// in, which the agent's cron trigger reads and compares with its memory.
// A stand-in for a real oracle feed (Chainlink's AggregatorV3, or a Phalanx
// oracle's PriceConsumer): the agent only needs a price, its block, and an event.
pragma solidity ^0.8.24;

contract PriceFeed {
    address public immutable owner;
    uint256 public price;        // in cents (312055 = 3120.55)
    uint256 public updatedBlock; // the block the price was set in

    event PriceUpdated(uint256 price);

    error NotOwner();
    error ZeroPrice();

    constructor() {
        owner = msg.sender;
    }

    function setPrice(uint256 p) external {
        if (msg.sender != owner) revert NotOwner();
        if (p == 0) revert ZeroPrice();
        price = p;
        updatedBlock = block.number;
        emit PriceUpdated(p);
    }

    function latest() external view returns (uint256, uint256) {
        return (price, updatedBlock);
    }
}
