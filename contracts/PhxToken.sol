// SPDX-License-Identifier: Apache-2.0
// PHA, the Phalanx token: ERC-20 "Phala Token" (18 decimals) on OpenZeppelin
// Contracts 5 with EIP-2612 permit (ERC20Permit) and checkpointed votes and
// delegation (ERC20Votes) for the Governor. The supply is capped and only the
// governor mints: that is the seam for governance-approved issuance. Votes are
// checkpointed by timestamp (ERC-6372 "mode=timestamp"), so the Governor's
// voting delay and period are seconds: the same on any chain and block time,
// and a devnet that mines only on demand still runs a vote in seconds.
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

contract PhxToken is ERC20, ERC20Permit, ERC20Votes, ERC20Capped {
    // Ten times the default genesis supply (1e9 PHA): room for issuance that a
    // vote approves, never unbounded.
    uint256 public constant MAX_SUPPLY = 10_000_000_000 ether;

    address public governor;

    event GovernorChanged(address indexed previous, address indexed next);

    error NotGovernor();
    error ZeroAddress();

    /// The deployer governs until it hands the role to the timelock; the
    /// constructor arguments are those `phx chain deploy` has always sent.
    constructor(uint256 initialSupply, address holder)
        ERC20("Phala Token", "PHA")
        ERC20Permit("Phala Token")
        ERC20Capped(MAX_SUPPLY)
    {
        if (holder == address(0)) revert ZeroAddress();
        governor = msg.sender;
        _mint(holder, initialSupply);
    }

    function mint(address to, uint256 value) external {
        if (msg.sender != governor) revert NotGovernor();
        _mint(to, value);
    }

    function burn(uint256 value) external {
        _burn(msg.sender, value);
    }

    function setGovernor(address next) external {
        if (msg.sender != governor) revert NotGovernor();
        if (next == address(0)) revert ZeroAddress();
        emit GovernorChanged(governor, next);
        governor = next;
    }

    function clock() public view override returns (uint48) {
        return uint48(block.timestamp);
    }

    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    // ---- the overrides Solidity needs where the OZ extensions meet ----------

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes, ERC20Capped) {
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
