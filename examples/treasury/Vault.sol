// SPDX-License-Identifier: Apache-2.0
// Where the treasury agent (examples/treasury) puts its money on each chain:
// one Vault on chain A (its position) and one on chain B (its reserve). Each
// deposit names a reference, the agent's firing id, so a deposit on chain
// links to the decision in `phx logs` and in the agent's phx.state memory.
// Only the depositor can take its balance back.
pragma solidity ^0.8.24;

contract Vault {
    mapping(address => uint256) public balanceOf;

    event Deposited(address indexed from, bytes32 indexed ref, uint256 amount);
    event Withdrawn(address indexed to, uint256 amount);

    error NothingSent();
    error Insufficient();
    error TransferFailed();

    function deposit(bytes32 ref) external payable {
        if (msg.value == 0) revert NothingSent();
        balanceOf[msg.sender] += msg.value;
        emit Deposited(msg.sender, ref, msg.value);
    }

    function withdraw(uint256 amount) external {
        if (balanceOf[msg.sender] < amount) revert Insufficient();
        balanceOf[msg.sender] -= amount;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
