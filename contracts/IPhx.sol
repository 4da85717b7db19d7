// SPDX-License-Identifier: Apache-2.0
// Interfaces between the Phalanx contracts, and the seams for the contracts of a
// later issue: Staking provides stakeOf() to the Registry; the Governor becomes
// the `governor` of PhxToken, Registry and Jobs (setGovernor on each).
pragma solidity ^0.8.24;

// Self-contained on purpose: examples and consumers compile against this file
// alone (solcjs --base-path, no node_modules). The ERC-20 subset Registry, Jobs
// and consumers call; StakePool uses OpenZeppelin's IERC20 and SafeERC20.
interface IERC20 {
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
    function approve(address spender, uint256 value) external returns (bool);
    function balanceOf(address who) external view returns (uint256);
}

/// What a Staking contract must offer the Registry: the stake an operator has
/// bonded (own plus delegated) that counts towards running workers.
interface IStaking {
    function stakeOf(address operator) external view returns (uint256);
}

/// Where Jobs pays fees once governance set a StakePool: the pool pulls amount
/// from the caller and credits operator's pool (or the operator, with no pool).
interface IRewardPool {
    function addReward(address operator, uint256 amount) external;
}

/// What Jobs asks of Payments when it records a trigger firing (issue 15):
/// take the firing's price from payer's deposit and send it to Jobs, which
/// owes it to the recording worker's operator pool. Only Jobs may call it; it
/// reverts when the deposit is short. Returns what was taken (0: firings free).
interface IFiringPayments {
    function chargeFiring(address payer) external returns (uint256 amount);
}

/// What Jobs asks of the Registry when it checks a result signature.
interface IWorkerRegistry {
    /// The operator of worker when the worker is active (registered, not
    /// deregistered or invalidated, measurement still allowed); else address(0).
    function activeOperatorOf(address worker) external view returns (address);
    /// The same, with the worker's TEE kind (its quote's tee_type: 0 SGX, 0x81 TDX).
    function activeWorkerOf(address worker) external view returns (address operator, uint32 teeType);
    /// Distinct operators with an eligible worker, and the TEE kinds those cover.
    function eligibility() external view returns (uint256 operators, uint256 teeKinds);
}

/// A contract that asks Phalanx for work implements this; Jobs calls it with
/// the request's callbackGasLimit and records whether it reverted. ok is false
/// when the TEE contract failed (threw, did not compile, ran out of time):
/// output is then the error ({"error":...} JSON), never a result. PhxConsumer
/// implements this with the sender check; inherit it.
interface IPhxConsumer {
    function phxCallback(uint256 requestId, bool ok, bytes calldata output) external;
}

interface IJobs {
    function request(bytes32 contractId, bytes calldata input, uint256 maxFee, uint32 callbackGasLimit, uint8 k)
        external
        returns (uint256 requestId);
    /// The same with signers over at least minTeeKinds distinct TEE kinds.
    function request(
        bytes32 contractId,
        bytes calldata input,
        uint256 maxFee,
        uint32 callbackGasLimit,
        uint8 k,
        uint8 minTeeKinds
    ) external returns (uint256 requestId);
}
