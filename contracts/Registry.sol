// SPDX-License-Identifier: Apache-2.0
// Registry: the governed allowlist of TEE measurements, the KMS nodes, and the
// workers with their keys, operators and status (DESIGN.md §2, §6). A worker is
// registered by its operator with a KMS signature over the worker's attested
// identity; the quote is checked here only for its key binding and measurement
// (cheap, fixed offsets) and emitted whole so anyone can re-verify it off chain.
pragma solidity ^0.8.24;

import {IERC20, IStaking, IWorkerRegistry} from "./IPhx.sol";
import {PhxSig} from "./PhxSig.sol";

contract Registry is IWorkerRegistry {
    uint8 public constant STATUS_NONE = 0;
    uint8 public constant STATUS_ACTIVE = 1;
    uint8 public constant STATUS_DEREGISTERED = 2;
    uint8 public constant STATUS_INVALIDATED = 3;

    // Quote header tee_type values (Intel DCAP quote format).
    uint32 public constant TEE_SGX = 0x00000000;
    uint32 public constant TEE_TDX = 0x00000081;

    // What the KMS signs: keccak256(abi.encode(WORKER_ATTEST_TAG, chainid, registry,
    // operator, worker, x25519, measurement, teeType, quoteHash, nonce)).
    bytes32 public constant WORKER_ATTEST_TAG = keccak256("phx-kms-worker-v1");

    struct Worker {
        address operator;
        uint8 status;
        uint32 teeType;
        uint64 registeredAt;
        bytes32 x25519;
        bytes32 measurement;
        bytes32 quoteHash;
        address kms; // the KMS key that vouched for the quote
    }

    IERC20 public immutable token;
    address public governor;
    address public staking; // zero until the Staking contract exists: stake is bonded here
    uint256 public minStake; // per active worker

    mapping(bytes32 => bool) public measurementAllowed;
    mapping(address => bool) public isKms;
    // Set when governance removes a KMS key: its old quote must not list it again.
    mapping(address => bool) public kmsRevoked;
    mapping(address => Worker) public workers;
    address[] public workerList;
    mapping(address => uint256) public bonded;
    mapping(address => uint256) public activeWorkers;

    event GovernorChanged(address indexed previous, address indexed next);
    event StakingChanged(address indexed staking);
    event MinStakeChanged(uint256 minStake);
    event MeasurementSet(bytes32 indexed measurement, bool allowed);
    event KmsSet(address indexed kms, bool allowed);
    event KmsRegistered(
        address indexed kms,
        address indexed operator,
        bytes32 x25519,
        bytes32 measurement,
        uint32 teeType,
        bytes32 quoteHash,
        bytes32 nonce,
        bytes quote
    );
    event Bonded(address indexed operator, uint256 amount, uint256 total);
    event Unbonded(address indexed operator, uint256 amount, uint256 total);
    event WorkerRegistered(
        address indexed worker,
        address indexed operator,
        address indexed kms,
        bytes32 x25519,
        bytes32 measurement,
        uint32 teeType,
        bytes32 quoteHash,
        bytes32 nonce,
        bytes quote
    );
    event WorkerDeregistered(address indexed worker, address indexed operator);
    event WorkerInvalidated(address indexed worker, address indexed operator, string reason);

    error NotGovernor();
    error NotAuthorized();
    error ZeroAddress();
    error AlreadyRegistered(address worker);
    error NotActive(address worker);
    error MeasurementNotAllowed(bytes32 measurement);
    error InsufficientStake(uint256 stake, uint256 needed);
    error BadQuote(string why);
    error ReportDataMismatch();
    error BadKmsSignature(address recovered);
    error TransferFailed();
    error KmsRevoked(address kms);

    modifier onlyGovernor() {
        if (msg.sender != governor) revert NotGovernor();
        _;
    }

    constructor(IERC20 token_, uint256 minStake_) {
        if (address(token_) == address(0)) revert ZeroAddress();
        token = token_;
        governor = msg.sender;
        minStake = minStake_;
    }

    // ---- governance (the Governor contract takes this role later) ----------

    function setGovernor(address next) external onlyGovernor {
        if (next == address(0)) revert ZeroAddress();
        emit GovernorChanged(governor, next);
        governor = next;
    }

    function setStaking(address staking_) external onlyGovernor {
        staking = staking_;
        emit StakingChanged(staking_);
    }

    function setMinStake(uint256 minStake_) external onlyGovernor {
        minStake = minStake_;
        emit MinStakeChanged(minStake_);
    }

    /// Removing a measurement deactivates every worker that runs it at once
    /// (activeOperatorOf checks the allowlist on every use).
    function setMeasurement(bytes32 measurement, bool allowed) external onlyGovernor {
        measurementAllowed[measurement] = allowed;
        emit MeasurementSet(measurement, allowed);
    }

    function setKms(address kms, bool allowed) external onlyGovernor {
        if (kms == address(0)) revert ZeroAddress();
        isKms[kms] = allowed;
        kmsRevoked[kms] = !allowed;
        emit KmsSet(kms, allowed);
    }

    // ---- KMS nodes ------------------------------------------------------------

    /// A KMS lists its own identity key with a quote from its TEE. The quote's
    /// report_data must be keccak256("phx-kms-v1" || kms || x25519 || nonce) || nonce
    /// and its measurement must be on the same allowlist governance keeps for
    /// workers: governance approves KMS code by allowing its measurement. The
    /// nonce is the KMS's own (there is nobody to issue one); a replayed quote can
    /// only list the same key again, and never one governance removed (kmsRevoked).
    /// Anyone may pay the gas (the KMS's operator); the quote is emitted whole so
    /// anyone can re-verify its signatures off chain.
    function registerKms(address kms, bytes32 x25519, bytes32 nonce, bytes calldata quote) external {
        if (kms == address(0)) revert ZeroAddress();
        if (isKms[kms]) revert AlreadyRegistered(kms);
        if (kmsRevoked[kms]) revert KmsRevoked(kms);
        (uint32 teeType, bytes32 measurement, bytes32 bound, bytes32 quoteNonce) = parseQuote(quote);
        if (bound != keccak256(abi.encodePacked("phx-kms-v1", kms, x25519, nonce)) || quoteNonce != nonce) {
            revert ReportDataMismatch();
        }
        if (!measurementAllowed[measurement]) revert MeasurementNotAllowed(measurement);
        isKms[kms] = true;
        emit KmsSet(kms, true);
        emit KmsRegistered(kms, msg.sender, x25519, measurement, teeType, keccak256(quote), nonce, quote);
    }

    // ---- operator stake (until Staking exists) ------------------------------

    function stakeOf(address operator) public view returns (uint256) {
        return staking == address(0) ? bonded[operator] : IStaking(staking).stakeOf(operator);
    }

    function bond(uint256 amount) external {
        if (!token.transferFrom(msg.sender, address(this), amount)) revert TransferFailed();
        bonded[msg.sender] += amount;
        emit Bonded(msg.sender, amount, bonded[msg.sender]);
    }

    /// Stake backing active workers stays locked until they are deregistered.
    function unbond(uint256 amount) external {
        uint256 have = bonded[msg.sender];
        uint256 locked = staking == address(0) ? minStake * activeWorkers[msg.sender] : 0;
        if (have < amount + locked) revert InsufficientStake(have, amount + locked);
        bonded[msg.sender] = have - amount;
        if (!token.transfer(msg.sender, amount)) revert TransferFailed();
        emit Unbonded(msg.sender, amount, have - amount);
    }

    // ---- workers -------------------------------------------------------------

    /// The digest a KMS signs after it verified the quote in its TEE. It names the
    /// operator so nobody can copy the signature from the mempool and register the
    /// worker under another operator.
    function attestDigest(
        address operator,
        address worker,
        bytes32 x25519,
        bytes32 measurement,
        uint32 teeType,
        bytes32 quoteHash,
        bytes32 nonce
    ) public view returns (bytes32) {
        return keccak256(
            abi.encode(
                WORKER_ATTEST_TAG, block.chainid, address(this), operator, worker, x25519, measurement, teeType,
                quoteHash, nonce
            )
        );
    }

    /// Called by the operator. The quote's report_data must be
    /// keccak256("phx-worker-v1" || worker || x25519 || nonce) || nonce (DESIGN.md §2);
    /// the measurement is taken from the quote (see quoteMeasurement).
    function registerWorker(
        address worker,
        bytes32 x25519,
        bytes32 nonce,
        bytes calldata quote,
        bytes calldata kmsSignature
    ) external {
        if (worker == address(0)) revert ZeroAddress();
        // A worker key is made fresh in each TEE; a used key never comes back.
        if (workers[worker].status != STATUS_NONE) revert AlreadyRegistered(worker);
        Worker memory w = _attested(worker, x25519, nonce, quote);
        uint256 needed = minStake * (activeWorkers[msg.sender] + 1);
        uint256 stake = stakeOf(msg.sender);
        if (stake < needed) revert InsufficientStake(stake, needed);
        w.kms = PhxSig.recover(
            attestDigest(msg.sender, worker, x25519, w.measurement, w.teeType, w.quoteHash, nonce), kmsSignature
        );
        if (w.kms == address(0) || !isKms[w.kms]) revert BadKmsSignature(w.kms);

        workers[worker] = w;
        workerList.push(worker);
        activeWorkers[msg.sender] += 1;
        _emitRegistered(worker, nonce, quote);
    }

    // The quote's key binding and allowed measurement, as a Worker record (kms unset).
    function _attested(address worker, bytes32 x25519, bytes32 nonce, bytes calldata quote)
        private
        view
        returns (Worker memory w)
    {
        (uint32 teeType, bytes32 measurement, bytes32 bound, bytes32 quoteNonce) = parseQuote(quote);
        if (bound != keccak256(abi.encodePacked("phx-worker-v1", worker, x25519, nonce)) || quoteNonce != nonce) {
            revert ReportDataMismatch();
        }
        if (!measurementAllowed[measurement]) revert MeasurementNotAllowed(measurement);
        w.operator = msg.sender;
        w.status = STATUS_ACTIVE;
        w.teeType = teeType;
        w.registeredAt = uint64(block.timestamp);
        w.x25519 = x25519;
        w.measurement = measurement;
        w.quoteHash = keccak256(quote);
    }

    // Separate frame: the event has more fields than registerWorker has stack slots left.
    function _emitRegistered(address worker, bytes32 nonce, bytes calldata quote) private {
        Worker storage w = workers[worker];
        emit WorkerRegistered(
            worker, w.operator, w.kms, w.x25519, w.measurement, w.teeType, w.quoteHash, nonce, quote
        );
    }

    /// By the operator or the worker itself (a worker shutting down cleanly).
    function deregisterWorker(address worker) external {
        Worker storage w = workers[worker];
        if (w.status != STATUS_ACTIVE) revert NotActive(worker);
        if (msg.sender != w.operator && msg.sender != worker) revert NotAuthorized();
        w.status = STATUS_DEREGISTERED;
        activeWorkers[w.operator] -= 1;
        emit WorkerDeregistered(worker, w.operator);
    }

    /// By governance, or by Staking when it slashes the operator.
    function invalidateWorker(address worker, string calldata reason) external {
        if (msg.sender != governor && (staking == address(0) || msg.sender != staking)) revert NotAuthorized();
        Worker storage w = workers[worker];
        if (w.status == STATUS_NONE || w.status == STATUS_INVALIDATED) revert NotActive(worker);
        if (w.status == STATUS_ACTIVE) activeWorkers[w.operator] -= 1;
        w.status = STATUS_INVALIDATED;
        emit WorkerInvalidated(worker, w.operator, reason);
    }

    function activeOperatorOf(address worker) external view returns (address) {
        Worker storage w = workers[worker];
        if (w.status != STATUS_ACTIVE || !measurementAllowed[w.measurement]) return address(0);
        return w.operator;
    }

    function workerCount() external view returns (uint256) {
        return workerList.length;
    }

    // ---- quote fields ----------------------------------------------------------

    /// Reads the fields the chain needs from an Intel DCAP quote (SGX v3/v4, TDX
    /// v4/v5) at their fixed offsets; the KMS has verified the signatures.
    /// measurement = keccak256(MRTD || RTMR0 || RTMR1 || RTMR2 || RTMR3) for TDX,
    ///               keccak256(MRENCLAVE || MRSIGNER) for SGX.
    function parseQuote(bytes calldata quote)
        public
        pure
        returns (uint32 teeType, bytes32 measurement, bytes32 bound, bytes32 nonce)
    {
        if (quote.length < 48) revert BadQuote("short header");
        uint16 version = uint16(uint8(quote[0])) | (uint16(uint8(quote[1])) << 8);
        teeType = uint32(uint8(quote[4])) | (uint32(uint8(quote[5])) << 8) | (uint32(uint8(quote[6])) << 16)
            | (uint32(uint8(quote[7])) << 24);
        uint256 body;
        if (version == 3 || version == 4) {
            body = 48;
        } else if (version == 5) {
            body = 54; // v5: u16 body type, u32 body size after the header
        } else {
            revert BadQuote("version");
        }
        uint256 reportData;
        if (teeType == TEE_TDX) {
            if (version == 3) revert BadQuote("TDX needs v4 or v5");
            reportData = body + 520;
            if (quote.length < reportData + 64) revert BadQuote("short TD report");
            measurement = keccak256(abi.encodePacked(quote[body + 136:body + 184], quote[body + 328:body + 520]));
        } else if (teeType == TEE_SGX) {
            reportData = body + 320;
            if (quote.length < reportData + 64) revert BadQuote("short enclave report");
            measurement = keccak256(abi.encodePacked(quote[body + 64:body + 96], quote[body + 128:body + 160]));
        } else {
            revert BadQuote("tee type");
        }
        bound = bytes32(quote[reportData:reportData + 32]);
        nonce = bytes32(quote[reportData + 32:reportData + 64]);
    }
}
