// SPDX-License-Identifier: Apache-2.0
// StakePool: operators' pools of delegated PHA, after Khala's StakePool v2.
// An operator opens one pool with a commission; delegators stake PHA for shares
// priced at pool value / shares. Withdrawals leave through an unbonding queue
// (one request per delegator and pool; a new request re-queues the total with a
// fresh clock, as in Khala): queued shares earn no rewards but stay in the pool
// and stay slashable until withdrawn, so nobody escapes a slash by queueing.
// Fees go to the operator's pool: Jobs credits them per operator (feesOwed) and
// the pool collects them before any change to its shares or commission (or on
// collect()), so each batch is split by the shares that earned it; anyone may
// also pay a pool directly (addReward). The commission goes to the operator,
// the rest to the pool's active shares through a reward-per-share accumulator,
// so every action is O(1). After every change to a pool's active stake the
// pool has the Registry re-read it (syncStake): workers are eligible only
// while their operator's pool holds the minimum stake. Equivocation (one worker signing two
// different outputs for one request) is provable by anyone: a governed share of
// the pool is slashed, part to the reporter and the rest to the treasury.
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {PhxSig} from "./PhxSig.sol";
import {IRewardPool} from "./IPhx.sol";

/// What the pool needs from Jobs: the digest to check an equivocation proof, and
/// the fees it credited to operators' pools.
interface IResultDigest {
    function resultDigest(uint256 requestId, bytes32 contractId, bytes32 codeHash, bool ok, bytes32 outputHash)
        external
        view
        returns (bytes32);
    function stakePool() external view returns (address);
    function feesOwed(address operator) external view returns (uint256);
    function collectFees(address operator) external returns (uint256);
}

/// What the pool needs from the Registry: who operates a worker key (any status),
/// and taking a proven-faulty worker out of service.
interface IWorkerOperators {
    function workers(address worker)
        external
        view
        returns (address, uint8, uint32, uint64, bytes32, bytes32, bytes32, address);
    function invalidateWorker(address worker, string calldata reason) external;
    function syncStake(address operator) external;
}

contract StakePool is IRewardPool {
    using SafeERC20 for IERC20;

    uint256 public constant BPS = 10_000;
    // Reward-per-share scale: fees of 1 wei over 1e30 shares still accrue.
    uint256 private constant ACC = 1e36;
    // First stake into an empty pool mints shares 1:1; later stakes at the price.
    uint256 public constant MIN_DELEGATION = 1e12; // 1e-6 PHA: keeps share dust out

    struct Pool {
        address operator;
        uint16 commissionBps;
        uint256 totalShares; // active + unbonding
        uint256 unbondingShares;
        uint256 totalStake; // PHA backing totalShares (slashes lower it)
        uint256 accRewardPerShare; // PHA * ACC per active share, ever
        uint256 operatorRewards; // commission not yet claimed
    }

    struct Delegation {
        uint256 shares; // active
        uint256 accPaid; // the pool's accRewardPerShare when last settled
        uint256 rewards; // settled, unclaimed
        uint256 unbondingShares;
        uint64 unbondingReadyAt;
    }

    IERC20 public immutable token;
    IResultDigest public immutable jobs;
    IWorkerOperators public immutable registry;
    address public governor;
    address public treasury;
    uint64 public unbondingPeriod; // 7 days in production, seconds on a devnet
    uint16 public slashBps; // share of the pool's stake an equivocation costs
    uint16 public reporterBps; // share of the slashed amount paid to the reporter

    Pool[] private pools; // pid = index + 1
    mapping(address => uint256) public poolOf; // operator => pid (0: none)
    mapping(uint256 => mapping(address => Delegation)) public delegations;
    mapping(bytes32 => bool) public slashed; // keccak256(worker, requestId)

    event GovernorChanged(address indexed previous, address indexed next);
    event ParamsChanged(address treasury, uint64 unbondingPeriod, uint16 slashBps, uint16 reporterBps);
    event PoolCreated(uint256 indexed pid, address indexed operator, uint16 commissionBps);
    event CommissionChanged(uint256 indexed pid, uint16 commissionBps);
    event Delegated(uint256 indexed pid, address indexed delegator, uint256 amount, uint256 shares);
    event Undelegated(uint256 indexed pid, address indexed delegator, uint256 shares, uint64 readyAt);
    event Withdrawn(uint256 indexed pid, address indexed delegator, uint256 shares, uint256 amount);
    event RewardAdded(uint256 indexed pid, address indexed from, uint256 amount, uint256 commission);
    event RewardClaimed(uint256 indexed pid, address indexed who, uint256 amount);
    event Slashed(
        uint256 indexed pid, address indexed worker, uint256 indexed requestId, address reporter, uint256 amount
    );

    error NotGovernor();
    error ZeroAddress();
    error BadParam();
    error PoolExists(uint256 pid);
    error NoPool(address operator);
    error UnknownPool(uint256 pid);
    error NotOperator();
    error TooSmall(uint256 amount, uint256 min);
    error InsufficientShares(uint256 have, uint256 want);
    error NotReady(uint64 readyAt);
    error NothingToWithdraw();
    error PoolBankrupt(uint256 pid);
    error NotEquivocation();
    error AlreadySlashed();

    modifier onlyGovernor() {
        if (msg.sender != governor) revert NotGovernor();
        _;
    }

    constructor(
        IERC20 token_,
        IResultDigest jobs_,
        IWorkerOperators registry_,
        address treasury_,
        uint64 unbondingPeriod_,
        uint16 slashBps_,
        uint16 reporterBps_
    ) {
        if (address(token_) == address(0) || treasury_ == address(0)) revert ZeroAddress();
        token = token_;
        jobs = jobs_;
        registry = registry_;
        governor = msg.sender;
        _setParams(treasury_, unbondingPeriod_, slashBps_, reporterBps_);
    }

    // ---- governance -------------------------------------------------------------

    function setGovernor(address next) external onlyGovernor {
        if (next == address(0)) revert ZeroAddress();
        emit GovernorChanged(governor, next);
        governor = next;
    }

    /// A changed unbonding period applies to requests made after it.
    function setParams(address treasury_, uint64 unbondingPeriod_, uint16 slashBps_, uint16 reporterBps_)
        external
        onlyGovernor
    {
        _setParams(treasury_, unbondingPeriod_, slashBps_, reporterBps_);
    }

    function _setParams(address treasury_, uint64 unbondingPeriod_, uint16 slashBps_, uint16 reporterBps_) private {
        if (treasury_ == address(0)) revert ZeroAddress();
        if (slashBps_ > BPS || reporterBps_ > BPS) revert BadParam();
        treasury = treasury_;
        unbondingPeriod = unbondingPeriod_;
        slashBps = slashBps_;
        reporterBps = reporterBps_;
        emit ParamsChanged(treasury_, unbondingPeriod_, slashBps_, reporterBps_);
    }

    // ---- pools ------------------------------------------------------------------------

    function createPool(uint16 commissionBps) external returns (uint256 pid) {
        if (poolOf[msg.sender] != 0) revert PoolExists(poolOf[msg.sender]);
        if (commissionBps > BPS) revert BadParam();
        pools.push();
        pid = pools.length;
        Pool storage p = pools[pid - 1];
        p.operator = msg.sender;
        p.commissionBps = commissionBps;
        poolOf[msg.sender] = pid;
        emit PoolCreated(pid, msg.sender, commissionBps);
    }

    /// Applies to fees added after it.
    function setCommission(uint16 commissionBps) external {
        uint256 pid = poolOf[msg.sender];
        if (pid == 0) revert NoPool(msg.sender);
        if (commissionBps > BPS) revert BadParam();
        _collect(pid, pools[pid - 1]);
        pools[pid - 1].commissionBps = commissionBps;
        emit CommissionChanged(pid, commissionBps);
    }

    function poolCount() external view returns (uint256) {
        return pools.length;
    }

    function pool(uint256 pid) external view returns (Pool memory) {
        return _pool(pid);
    }

    /// The stake that counts towards an operator's workers: the value of the
    /// pool's active shares (stake queued for withdrawal is already leaving).
    function stakeOf(address operator) external view returns (uint256) {
        uint256 pid = poolOf[operator];
        if (pid == 0) return 0;
        Pool storage p = pools[pid - 1];
        if (p.totalShares == 0) return 0;
        return Math.mulDiv(p.totalShares - p.unbondingShares, p.totalStake, p.totalShares);
    }

    /// PHA a number of shares of pid is worth now.
    function sharesValue(uint256 pid, uint256 shares) public view returns (uint256) {
        Pool storage p = _pool(pid);
        return p.totalShares == 0 ? 0 : Math.mulDiv(shares, p.totalStake, p.totalShares);
    }

    // ---- delegators ----------------------------------------------------------------

    function delegate(uint256 pid, uint256 amount) external returns (uint256 shares) {
        Pool storage p = _pool(pid);
        if (amount < MIN_DELEGATION) revert TooSmall(amount, MIN_DELEGATION);
        // Shares issued against nothing would take value from nobody and give it
        // to the newcomer: a pool slashed to zero takes no more stake.
        if (p.totalShares > 0 && p.totalStake == 0) revert PoolBankrupt(pid);
        shares = p.totalShares == 0 ? amount : Math.mulDiv(amount, p.totalShares, p.totalStake);
        if (shares == 0) revert TooSmall(amount, MIN_DELEGATION);
        Delegation storage d = delegations[pid][msg.sender];
        _collect(pid, p);
        _settle(p, d);
        token.safeTransferFrom(msg.sender, address(this), amount);
        p.totalShares += shares;
        p.totalStake += amount;
        d.shares += shares;
        emit Delegated(pid, msg.sender, amount, shares);
        registry.syncStake(p.operator);
    }

    /// Queues shares for withdrawal after the unbonding period. A request adds to
    /// any queued one and restarts the clock for the total.
    function undelegate(uint256 pid, uint256 shares) external {
        Pool storage p = _pool(pid);
        Delegation storage d = delegations[pid][msg.sender];
        if (shares == 0 || shares > d.shares) revert InsufficientShares(d.shares, shares);
        _collect(pid, p);
        _settle(p, d);
        d.shares -= shares;
        d.unbondingShares += shares;
        d.unbondingReadyAt = uint64(block.timestamp) + unbondingPeriod;
        p.unbondingShares += shares;
        emit Undelegated(pid, msg.sender, shares, d.unbondingReadyAt);
        registry.syncStake(p.operator);
    }

    /// Pays out the queued shares at the price of now (after any slash).
    function withdraw(uint256 pid) external returns (uint256 amount) {
        Pool storage p = _pool(pid);
        Delegation storage d = delegations[pid][msg.sender];
        uint256 shares = d.unbondingShares;
        if (shares == 0) revert NothingToWithdraw();
        if (block.timestamp < d.unbondingReadyAt) revert NotReady(d.unbondingReadyAt);
        amount = Math.mulDiv(shares, p.totalStake, p.totalShares);
        d.unbondingShares = 0;
        d.unbondingReadyAt = 0;
        p.unbondingShares -= shares;
        p.totalShares -= shares;
        p.totalStake -= amount;
        token.safeTransfer(msg.sender, amount);
        emit Withdrawn(pid, msg.sender, shares, amount);
        registry.syncStake(p.operator);
    }

    /// Delegator rewards, and for the pool's operator the commission as well.
    function claim(uint256 pid) external returns (uint256 amount) {
        Pool storage p = _pool(pid);
        Delegation storage d = delegations[pid][msg.sender];
        _collect(pid, p);
        _settle(p, d);
        amount = d.rewards;
        d.rewards = 0;
        if (msg.sender == p.operator) {
            amount += p.operatorRewards;
            p.operatorRewards = 0;
        }
        if (amount > 0) token.safeTransfer(msg.sender, amount);
        emit RewardClaimed(pid, msg.sender, amount);
    }

    /// What claim would pay now, fees still owed by Jobs included.
    function pendingRewards(uint256 pid, address who) external view returns (uint256) {
        Pool storage p = _pool(pid);
        Delegation storage d = delegations[pid][who];
        uint256 acc = p.accRewardPerShare;
        uint256 operatorRewards = p.operatorRewards;
        uint256 owed = _owed(p.operator);
        if (owed > 0) {
            (uint256 commission, uint256 accAdd) = _split(p, owed);
            acc += accAdd;
            operatorRewards += commission;
        }
        uint256 r = d.rewards + Math.mulDiv(d.shares, acc - d.accPaid, ACC);
        return who == p.operator ? r + operatorRewards : r;
    }

    /// Fees Jobs holds for pid's operator and this pool has not collected yet.
    function uncollectedFees(uint256 pid) external view returns (uint256) {
        return _owed(_pool(pid).operator);
    }

    // ---- fees -----------------------------------------------------------------------

    /// Pays amount (pulled from msg.sender) into operator's pool; with no pool it
    /// goes to the operator directly, and with no active shares to share it the
    /// whole amount is the operator's commission.
    function addReward(address operator, uint256 amount) external {
        uint256 pid = poolOf[operator];
        if (pid == 0) {
            token.safeTransferFrom(msg.sender, operator, amount);
            emit RewardAdded(0, msg.sender, amount, amount);
            return;
        }
        Pool storage p = pools[pid - 1];
        token.safeTransferFrom(msg.sender, address(this), amount);
        _distribute(pid, p, msg.sender, amount);
    }

    /// Anyone may pull the fees Jobs owes pid into the pool now.
    function collect(uint256 pid) external {
        _collect(pid, _pool(pid));
    }

    // ---- slashing -------------------------------------------------------------------

    /// Anyone proves that worker signed two different results for one request
    /// (the signatures are over Jobs.resultDigest, so nothing else can be
    /// passed off as one; a result is the run's ok flag and output hash, so an
    /// error and an output signed for one request count too). Slashes slashBps
    /// of the operator's pool once per (worker, request): reporterBps of it to
    /// the caller, the rest to the treasury.
    function reportEquivocation(
        address worker,
        uint256 requestId,
        bytes32 contractId,
        bytes32 codeHash,
        bool okA,
        bytes32 outputA,
        bytes calldata sigA,
        bool okB,
        bytes32 outputB,
        bytes calldata sigB
    ) external returns (uint256 amount) {
        if ((okA == okB && outputA == outputB) || worker == address(0)) revert NotEquivocation();
        if (!_signed(worker, jobs.resultDigest(requestId, contractId, codeHash, okA, outputA), sigA)) {
            revert NotEquivocation();
        }
        if (!_signed(worker, jobs.resultDigest(requestId, contractId, codeHash, okB, outputB), sigB)) {
            revert NotEquivocation();
        }
        return _slash(worker, requestId);
    }

    function _signed(address worker, bytes32 digest, bytes calldata sig) private pure returns (bool) {
        return PhxSig.recover(digest, sig) == worker;
    }

    function _slash(address worker, uint256 requestId) private returns (uint256 amount) {
        bytes32 key = keccak256(abi.encode(worker, requestId));
        if (slashed[key]) revert AlreadySlashed();
        slashed[key] = true;
        (address operator,,,,,,,) = registry.workers(worker);
        uint256 pid = poolOf[operator];
        if (pid == 0) revert NoPool(operator);
        Pool storage p = pools[pid - 1];
        _collect(pid, p);
        amount = (p.totalStake * slashBps) / BPS;
        p.totalStake -= amount;
        uint256 toReporter = (amount * reporterBps) / BPS;
        // The Registry lets this contract invalidate only once governance made it
        // the staking contract; the slash stands either way.
        try registry.invalidateWorker(worker, "equivocation") {} catch {}
        if (toReporter > 0) token.safeTransfer(msg.sender, toReporter);
        if (amount > toReporter) token.safeTransfer(treasury, amount - toReporter);
        emit Slashed(pid, worker, requestId, msg.sender, amount);
        registry.syncStake(operator);
    }

    // ---- internals ------------------------------------------------------------------

    function _pool(uint256 pid) private view returns (Pool storage) {
        if (pid == 0 || pid > pools.length) revert UnknownPool(pid);
        return pools[pid - 1];
    }

    // The commission and the accumulator step for amount of fees, by the
    // pool's commission and active shares of now. Rounded down: the wei the
    // accumulator cannot represent stay in the contract unowed, so the sum of
    // what delegators can claim never exceeds what was paid in.
    function _split(Pool storage p, uint256 amount) private view returns (uint256 commission, uint256 accAdd) {
        uint256 active = p.totalShares - p.unbondingShares;
        commission = active == 0 ? amount : (amount * p.commissionBps) / BPS;
        uint256 rest = amount - commission;
        if (rest > 0) accAdd = Math.mulDiv(rest, ACC, active);
    }

    function _distribute(uint256 pid, Pool storage p, address from, uint256 amount) private {
        (uint256 commission, uint256 accAdd) = _split(p, amount);
        p.accRewardPerShare += accAdd;
        p.operatorRewards += commission;
        emit RewardAdded(pid, from, amount, commission);
    }

    // Jobs pays only the pool it names; a pool that is not (yet, or any more)
    // wired there neither collects nor fails.
    function _collect(uint256 pid, Pool storage p) private {
        try jobs.collectFees(p.operator) returns (uint256 amount) {
            if (amount > 0) _distribute(pid, p, address(jobs), amount);
        } catch {}
    }

    function _owed(address operator) private view returns (uint256) {
        if (jobs.stakePool() != address(this)) return 0;
        uint256 owed = jobs.feesOwed(operator);
        return owed > 1 ? owed - 1 : 0;
    }

    // Rewards accrue per delegator from its own last snapshot of the
    // accumulator (not as a debt against a running product), so rounding is
    // always down and per delegator.
    function _settle(Pool storage p, Delegation storage d) private {
        uint256 acc = p.accRewardPerShare;
        if (acc != d.accPaid) {
            d.rewards += Math.mulDiv(d.shares, acc - d.accPaid, ACC);
            d.accPaid = acc;
        }
    }
}
