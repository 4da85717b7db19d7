// SPDX-License-Identifier: Apache-2.0
// Registry: the governed allowlist of TEE measurements, the KMS nodes, and the
// workers with their keys, operators and status (DESIGN.md §2, §6). The chain of
// admission has no gap: governance admits a KMS after verifying its quote off
// chain (the quote and its collateral's hash go on record here), a replica KMS
// is admitted by governance or by a quorum of admitted KMS signatures over its
// quote, and a worker is registered by its operator with the signature of an
// admitted KMS that verified the worker's quote. Quotes are checked here only for
// their key binding and measurement (cheap, fixed offsets) and emitted whole so
// anyone can re-verify them off chain (`phx verify`).
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
    // What each admitted KMS of a quorum signs to admit a replica:
    // keccak256(abi.encode(KMS_ADMIT_TAG, chainid, registry, kms, x25519,
    // measurement, teeType, quoteHash, collateralHash, nonce)).
    bytes32 public constant KMS_ADMIT_TAG = keccak256("phx-kms-admit-v1");

    uint8 public constant KMS_NONE = 0;
    uint8 public constant KMS_ADMITTED = 1;
    uint8 public constant KMS_REVOKED = 2;

    // An admitted KMS key: what its verified quote said, and how it got in.
    struct Kms {
        uint8 status;
        uint32 teeType;
        uint64 admittedAt;
        address admittedBy; // the governor, or this contract for a quorum
        bytes32 x25519;
        bytes32 measurement;
        bytes32 quoteHash;
        bytes32 collateralHash; // keccak256 of the collateral the quote verified with
    }

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

    // An operator's stake as the staking contract last reported it (syncStake),
    // packed with its count of active workers: the eligibility check on every
    // fulfil reads one slot, not a call into the pool.
    struct Operator {
        uint128 stake;
        uint128 activeWorkers;
    }

    IERC20 public immutable token; // PHA: the unit of the stake
    address public governor;
    address public staking; // the StakePool; an operator's stake is what it reports
    uint256 public minStake; // per active worker

    mapping(bytes32 => bool) public measurementAllowed;
    mapping(address => Kms) public kmsNodes;
    // Admitted KMS signatures needed to admit a replica without governance.
    uint256 public kmsQuorum;
    mapping(address => Worker) public workers;
    address[] public workerList;
    mapping(address => Operator) public operators;
    // Where each worker serves its API, as the worker (or its operator) announced
    // it (setWorkerEndpoint): gateways discover workers from these and check,
    // before routing, that the server there proves the worker key.
    mapping(address => string) public endpointOf;
    uint256 public constant MAX_ENDPOINT = 200;

    // Admission counters (Jobs.request asks them whether k and minTeeKinds can
    // be met at all). An operator counts while it is eligible (activeOperatorOf's
    // stake rule) and has an active worker with an allowed measurement; it counts
    // for a kind while one such worker is of that kind. Kept exact by every
    // change to a worker, a stake, minStake or the measurement allowlist.
    struct OperatorKinds {
        uint64 sgx; // active workers with an allowed measurement, by TEE kind
        uint64 tdx;
        bool listed; // in operatorList
    }

    struct Eligible {
        uint64 operators; // eligible operators with at least one counted worker
        uint64 sgxOperators; // of them, those with a counted SGX worker
        uint64 tdxOperators; // of them, those with a counted TDX worker
    }

    mapping(address => OperatorKinds) public operatorKinds;
    address[] public operatorList; // every operator that ever registered a worker
    Eligible public eligible;

    event GovernorChanged(address indexed previous, address indexed next);
    event StakingChanged(address indexed staking);
    event MinStakeChanged(uint256 minStake);
    event MeasurementSet(bytes32 indexed measurement, bool allowed);
    event KmsAdmitted(
        address indexed kms,
        address indexed admittedBy,
        bytes32 x25519,
        bytes32 measurement,
        uint32 teeType,
        bytes32 quoteHash,
        bytes32 collateralHash,
        bytes32 nonce,
        bytes quote
    );
    event KmsVouched(address indexed kms, address[] signers);
    event KmsRemoved(address indexed kms);
    event KmsQuorumChanged(uint256 quorum);
    event StakeSynced(address indexed operator, uint256 stake);
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
    event WorkerEndpoint(address indexed worker, string url);

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
    error KmsRevoked(address kms);
    error NotKms(address kms);
    error RoleConflict(address key);
    error BadQuorum(uint256 signatures, uint256 needed);
    error UnknownTeeType(uint32 teeType);
    error BadEndpoint(string why);

    modifier onlyGovernor() {
        if (msg.sender != governor) revert NotGovernor();
        _;
    }

    constructor(IERC20 token_, uint256 minStake_) {
        if (address(token_) == address(0)) revert ZeroAddress();
        token = token_;
        governor = msg.sender;
        minStake = minStake_;
        kmsQuorum = 1;
    }

    // ---- governance (the Governor contract takes this role later) ----------

    function setGovernor(address next) external onlyGovernor {
        if (next == address(0)) revert ZeroAddress();
        emit GovernorChanged(governor, next);
        governor = next;
    }

    /// Cached stakes are the old contract's until someone calls syncStake.
    function setStaking(address staking_) external onlyGovernor {
        staking = staking_;
        emit StakingChanged(staking_);
    }

    /// Re-counts every operator's eligibility (governance only; linear in operators).
    function setMinStake(uint256 minStake_) external onlyGovernor {
        uint256 n = operatorList.length;
        for (uint256 i = 0; i < n; i++) {
            _leave(operatorList[i]);
        }
        minStake = minStake_;
        for (uint256 i = 0; i < n; i++) {
            _join(operatorList[i]);
        }
        emit MinStakeChanged(minStake_);
    }

    /// Removing a measurement deactivates every worker that runs it at once
    /// (activeOperatorOf checks the allowlist on every use).
    /// A change re-counts the active workers that run the measurement
    /// (governance only; linear in workers).
    function setMeasurement(bytes32 measurement, bool allowed) external onlyGovernor {
        if (measurementAllowed[measurement] != allowed) {
            uint256 n = workerList.length;
            for (uint256 i = 0; i < n; i++) {
                Worker storage w = workers[workerList[i]];
                if (w.status != STATUS_ACTIVE || w.measurement != measurement) continue;
                _leave(w.operator);
                _countKind(w.operator, w.teeType, allowed);
                _join(w.operator);
            }
        }
        measurementAllowed[measurement] = allowed;
        emit MeasurementSet(measurement, allowed);
    }

    function setKmsQuorum(uint256 quorum) external onlyGovernor {
        if (quorum == 0) revert BadQuorum(0, 1);
        kmsQuorum = quorum;
        emit KmsQuorumChanged(quorum);
    }

    /// A removed KMS key signs nothing any more (workers it admitted stay until
    /// governance invalidates them; `phx verify` reports their KMS as removed)
    /// and can never be admitted again: a new key needs a new quote.
    function revokeKms(address kms) external onlyGovernor {
        Kms storage k = kmsNodes[kms];
        if (k.status != KMS_ADMITTED) revert NotKms(kms);
        k.status = KMS_REVOKED;
        emit KmsRemoved(kms);
    }

    // ---- KMS nodes ------------------------------------------------------------

    /// Admitted, not removed, and running a measurement governance still allows.
    function isKms(address kms) public view returns (bool) {
        Kms storage k = kmsNodes[kms];
        return k.status == KMS_ADMITTED && measurementAllowed[k.measurement];
    }

    /// Governance admits a KMS key after it verified the KMS's quote off chain
    /// (`phx kms admit`: signatures to the pinned root, TCB policy, a nonce of its
    /// own choosing). The chain cannot check the quote's signatures; it checks
    /// what it can (report data = keccak256("phx-kms-v1" || kms || x25519 || nonce)
    /// || nonce, allowed measurement) and records the quote whole with its
    /// collateral's hash so anyone can re-check the admission.
    function admitKms(address kms, bytes32 x25519, bytes32 nonce, bytes calldata quote, bytes32 collateralHash)
        external
        onlyGovernor
    {
        _admitKms(kms, x25519, nonce, quote, collateralHash, msg.sender);
    }

    /// The digest each KMS of a quorum signs (raw, no EIP-191 prefix) after it
    /// verified the replica's quote in its own TEE.
    function kmsAdmitDigest(
        address kms,
        bytes32 x25519,
        bytes32 measurement,
        uint32 teeType,
        bytes32 quoteHash,
        bytes32 collateralHash,
        bytes32 nonce
    ) public view returns (bytes32) {
        return keccak256(
            abi.encode(
                KMS_ADMIT_TAG, block.chainid, address(this), kms, x25519, measurement, teeType, quoteHash,
                collateralHash, nonce
            )
        );
    }

    /// A replica KMS admitted by kmsQuorum signatures of distinct admitted KMS
    /// keys (signers in strictly ascending address order, none the replica
    /// itself). Anyone may send it; the signatures are the authority.
    function admitKmsByQuorum(
        address kms,
        bytes32 x25519,
        bytes32 nonce,
        bytes calldata quote,
        bytes32 collateralHash,
        bytes[] calldata signatures
    ) external {
        if (signatures.length < kmsQuorum) revert BadQuorum(signatures.length, kmsQuorum);
        (uint32 teeType, bytes32 measurement,,) = parseQuote(quote);
        bytes32 digest = kmsAdmitDigest(kms, x25519, measurement, teeType, keccak256(quote), collateralHash, nonce);
        address[] memory signers = new address[](signatures.length);
        address last = address(0);
        for (uint256 i = 0; i < signatures.length; i++) {
            address signer = PhxSig.recover(digest, signatures[i]);
            if (signer <= last || signer == kms || !isKms(signer)) revert BadKmsSignature(signer);
            signers[i] = signer;
            last = signer;
        }
        _admitKms(kms, x25519, nonce, quote, collateralHash, address(this));
        emit KmsVouched(kms, signers);
    }

    function _admitKms(
        address kms,
        bytes32 x25519,
        bytes32 nonce,
        bytes calldata quote,
        bytes32 collateralHash,
        address by
    ) private {
        if (kms == address(0)) revert ZeroAddress();
        Kms storage k = kmsNodes[kms];
        if (k.status == KMS_ADMITTED) revert AlreadyRegistered(kms);
        if (k.status == KMS_REVOKED) revert KmsRevoked(kms);
        // One key, one role: a worker key never becomes a KMS (DESIGN.md §2).
        if (workers[kms].status != STATUS_NONE) revert RoleConflict(kms);
        (uint32 teeType, bytes32 measurement, bytes32 bound, bytes32 quoteNonce) = parseQuote(quote);
        if (bound != keccak256(abi.encodePacked("phx-kms-v1", kms, x25519, nonce)) || quoteNonce != nonce) {
            revert ReportDataMismatch();
        }
        if (!measurementAllowed[measurement]) revert MeasurementNotAllowed(measurement);
        k.status = KMS_ADMITTED;
        k.teeType = teeType;
        k.admittedAt = uint64(block.timestamp);
        k.admittedBy = by;
        k.x25519 = x25519;
        k.measurement = measurement;
        k.quoteHash = keccak256(quote);
        k.collateralHash = collateralHash;
        _emitAdmitted(kms, nonce, quote);
    }

    // Separate frame: the event has more fields than _admitKms has stack slots left.
    function _emitAdmitted(address kms, bytes32 nonce, bytes calldata quote) private {
        Kms storage k = kmsNodes[kms];
        emit KmsAdmitted(
            kms, k.admittedBy, k.x25519, k.measurement, k.teeType, k.quoteHash, k.collateralHash, nonce, quote
        );
    }

    // ---- operator stake (StakePool) --------------------------------------------

    /// The stake last synced from the staking contract (StakePool.stakeOf: the
    /// value of the active shares of the operator's pool).
    function stakeOf(address operator) external view returns (uint256) {
        return operators[operator].stake;
    }

    function activeWorkers(address operator) external view returns (uint256) {
        return operators[operator].activeWorkers;
    }

    /// Anyone may refresh an operator's cached stake from the staking contract;
    /// StakePool does it after every change to a pool's active stake.
    function syncStake(address operator) public {
        uint256 stake = staking == address(0) ? 0 : IStaking(staking).stakeOf(operator);
        _leave(operator);
        operators[operator].stake = uint128(stake < type(uint128).max ? stake : type(uint128).max);
        _join(operator);
        emit StakeSynced(operator, stake);
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
        if (kmsNodes[worker].status != KMS_NONE) revert RoleConflict(worker);
        Worker memory w = _attested(worker, x25519, nonce, quote);
        syncStake(msg.sender);
        Operator storage o = operators[msg.sender];
        uint256 needed = minStake * (uint256(o.activeWorkers) + 1);
        if (o.stake < needed) revert InsufficientStake(o.stake, needed);
        w.kms = PhxSig.recover(
            attestDigest(msg.sender, worker, x25519, w.measurement, w.teeType, w.quoteHash, nonce), kmsSignature
        );
        if (w.kms == address(0) || !isKms(w.kms)) revert BadKmsSignature(w.kms);

        _leave(msg.sender);
        workers[worker] = w;
        workerList.push(worker);
        o.activeWorkers += 1;
        _countKind(msg.sender, w.teeType, true);
        _join(msg.sender);
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

    /// By the worker itself or its operator, while the worker is active: the
    /// URL gateways reach it at. Bounded and plain so that no reader is led
    /// anywhere odd: http:// or https://, at most MAX_ENDPOINT bytes, printable
    /// ASCII without spaces, no userinfo, query or fragment marks.
    /// A URL proves nothing by itself: gateways challenge the server there to
    /// sign with the worker key before they route to it.
    function setWorkerEndpoint(address worker, string calldata url) external {
        Worker storage w = workers[worker];
        if (w.status != STATUS_ACTIVE) revert NotActive(worker);
        if (msg.sender != worker && msg.sender != w.operator) revert NotAuthorized();
        bytes calldata b = bytes(url);
        if (b.length > MAX_ENDPOINT) revert BadEndpoint("too long");
        uint256 host;
        if (b.length > 7 && bytes7(b[0:7]) == "http://") {
            host = 7;
        } else if (b.length > 8 && bytes8(b[0:8]) == "https://") {
            host = 8;
        } else {
            revert BadEndpoint("not http(s)://");
        }
        for (uint256 i = host; i < b.length; i++) {
            bytes1 c = b[i];
            if (c <= 0x20 || c >= 0x7f || c == "@" || c == "?" || c == "#" || c == "\\") {
                revert BadEndpoint("character");
            }
        }
        endpointOf[worker] = url;
        emit WorkerEndpoint(worker, url);
    }

    /// By the operator or the worker itself (a worker shutting down cleanly).
    function deregisterWorker(address worker) external {
        Worker storage w = workers[worker];
        if (w.status != STATUS_ACTIVE) revert NotActive(worker);
        if (msg.sender != w.operator && msg.sender != worker) revert NotAuthorized();
        _leave(w.operator);
        w.status = STATUS_DEREGISTERED;
        operators[w.operator].activeWorkers -= 1;
        if (measurementAllowed[w.measurement]) _countKind(w.operator, w.teeType, false);
        _join(w.operator);
        emit WorkerDeregistered(worker, w.operator);
    }

    /// By governance, or by Staking when it slashes the operator.
    function invalidateWorker(address worker, string calldata reason) external {
        if (msg.sender != governor && (staking == address(0) || msg.sender != staking)) revert NotAuthorized();
        Worker storage w = workers[worker];
        if (w.status == STATUS_NONE || w.status == STATUS_INVALIDATED) revert NotActive(worker);
        if (w.status == STATUS_ACTIVE) {
            _leave(w.operator);
            operators[w.operator].activeWorkers -= 1;
            if (measurementAllowed[w.measurement]) _countKind(w.operator, w.teeType, false);
            _join(w.operator);
        }
        w.status = STATUS_INVALIDATED;
        emit WorkerInvalidated(worker, w.operator, reason);
    }

    /// Eligible only while the operator's pool holds minStake for each of its
    /// active workers (a slash or an undelegation below it idles them all).
    function activeOperatorOf(address worker) external view returns (address) {
        Worker storage w = workers[worker];
        if (w.status != STATUS_ACTIVE || !measurementAllowed[w.measurement]) return address(0);
        Operator storage o = operators[w.operator];
        if (o.stake < minStake * o.activeWorkers) return address(0);
        return w.operator;
    }

    /// activeOperatorOf and the worker's TEE kind (its quote's tee_type: TEE_SGX
    /// or TEE_TDX) in one call, for Jobs' minTeeKinds check.
    function activeWorkerOf(address worker) external view returns (address operator, uint32 teeType) {
        Worker storage w = workers[worker];
        if (w.status != STATUS_ACTIVE || !measurementAllowed[w.measurement]) return (address(0), 0);
        Operator storage o = operators[w.operator];
        if (o.stake < minStake * o.activeWorkers) return (address(0), 0);
        return (w.operator, w.teeType);
    }

    /// How many distinct operators have an eligible worker, and how many TEE
    /// kinds those workers cover: a request for k signers of distinct operators
    /// over at least m kinds can be served iff k <= operators and m <= kinds
    /// (with two kinds and m <= k, Hall's condition adds nothing more).
    function eligibility() external view returns (uint256 operatorsEligible, uint256 teeKinds) {
        Eligible memory el = eligible;
        operatorsEligible = el.operators;
        teeKinds = (el.sgxOperators > 0 ? 1 : 0) + (el.tdxOperators > 0 ? 1 : 0);
    }

    /// Eligible operators with an eligible worker of this kind (TEE_SGX or TEE_TDX).
    function eligibleOperatorsOfKind(uint32 teeType) external view returns (uint256) {
        if (teeType == TEE_SGX) return eligible.sgxOperators;
        if (teeType == TEE_TDX) return eligible.tdxOperators;
        revert UnknownTeeType(teeType);
    }

    function workerCount() external view returns (uint256) {
        return workerList.length;
    }

    function operatorCount() external view returns (uint256) {
        return operatorList.length;
    }

    // ---- admission counters --------------------------------------------------------

    function _countKind(address operator, uint32 teeType, bool add) private {
        OperatorKinds storage c = operatorKinds[operator];
        if (!c.listed) {
            c.listed = true;
            operatorList.push(operator);
        }
        if (teeType == TEE_SGX) {
            c.sgx = add ? c.sgx + 1 : c.sgx - 1;
        } else {
            c.tdx = add ? c.tdx + 1 : c.tdx - 1;
        }
    }

    // What the operator adds to `eligible` now: each change to its workers or
    // stake is bracketed by _leave (before) and _join (after).
    function _counted(address operator) private view returns (bool any, bool sgx, bool tdx) {
        Operator storage o = operators[operator];
        if (o.activeWorkers == 0 || o.stake < minStake * o.activeWorkers) return (false, false, false);
        OperatorKinds storage c = operatorKinds[operator];
        sgx = c.sgx > 0;
        tdx = c.tdx > 0;
        any = sgx || tdx;
    }

    function _leave(address operator) private {
        (bool any, bool sgx, bool tdx) = _counted(operator);
        if (!any) return;
        Eligible storage el = eligible;
        el.operators -= 1;
        if (sgx) el.sgxOperators -= 1;
        if (tdx) el.tdxOperators -= 1;
    }

    function _join(address operator) private {
        (bool any, bool sgx, bool tdx) = _counted(operator);
        if (!any) return;
        Eligible storage el = eligible;
        el.operators += 1;
        if (sgx) el.sgxOperators += 1;
        if (tdx) el.tdxOperators += 1;
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
