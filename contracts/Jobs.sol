// SPDX-License-Identifier: Apache-2.0
// Jobs: the deployment registry of TEE contracts (id, owner, code hash, code URI)
// and the request/fulfil market. A consumer escrows PHA with request(); k
// registered workers of distinct operators sign the output; fulfill() checks the
// signatures, pays the operators, calls the consumer back with bounded gas and
// records the outcome even when that callback reverts. Expired requests are
// refunded to the requester by a bounded sweep that every request() and
// fulfill() runs (and that anyone may run), so nobody has to act by hand.
pragma solidity ^0.8.24;

import {IERC20, IWorkerRegistry, IPhxConsumer, IRewardPool, IFiringPayments} from "./IPhx.sol";
import {PhxSig} from "./PhxSig.sol";

contract Jobs {
    uint8 public constant STATUS_NONE = 0;
    uint8 public constant STATUS_PENDING = 1;
    uint8 public constant STATUS_FULFILLED = 2; // callback returned normally
    uint8 public constant STATUS_CALLBACK_FAILED = 3; // fulfilled and paid; the callback reverted
    uint8 public constant STATUS_REFUNDED = 4;

    uint256 public constant MAX_OUTPUT = 64 * 1024;
    uint256 public constant MAX_INPUT = 64 * 1024;
    uint8 public constant MAX_K = 16;
    uint256 public constant SWEEP_PER_CALL = 4;
    // Gas kept back when checking that the callback can really get its limit.
    uint256 private constant CALLBACK_OVERHEAD = 10_000;
    // Revert data of a failed callback kept in the event (a callee cannot make us copy more).
    uint256 private constant MAX_REASON = 256;

    bytes32 public constant RESULT_TAG = keccak256("phx-result-v1");
    bytes32 public constant FIRING_TAG = keccak256("phx-firing-v1");

    struct TeeContract {
        address owner;
        uint64 version;
        bytes32 codeHash;
        string codeUri;
    }

    struct Request {
        address requester;
        uint8 status;
        uint8 k;
        uint32 callbackGasLimit;
        uint8 minTeeKinds; // the k signers' workers cover at least this many TEE kinds
        uint64 deadline;
        bytes32 contractId;
        bytes32 codeHash;
        uint256 fee;
    }

    IERC20 public immutable token;
    IWorkerRegistry public immutable registry;
    // keccak256(abi.encode(RESULT_TAG, chainid, address(this))) as of deployment:
    // binds a result signature to this deployment on this chain. Recomputed by
    // domain() when block.chainid is not the deployment's (after a fork), so a
    // signature made on one side of a fork never settles on the other.
    bytes32 private immutable deployedDomain;
    uint256 private immutable deployedChainId;
    address public governor;
    // Where fees go: zero pays each operator directly; else they are credited
    // here per operator (feesOwed) and the StakePool pulls them into the
    // operator's pool (commission to the operator, the rest to its delegators):
    // a fulfil pays for one storage write per operator, not a call into the pool.
    IRewardPool public stakePool;
    // Fees credited to an operator's pool and not yet collected. Collection
    // leaves 1 wei behind so the next credit is not a zero-to-nonzero store.
    mapping(address => uint256) public feesOwed;

    uint256 public feePerWorker; // PHA paid to each of the k signing operators
    uint64 public requestTimeout; // seconds from request to expiry
    uint32 public maxCallbackGas;

    mapping(bytes32 => TeeContract) public contracts;
    mapping(uint256 => Request) public requests;
    uint256 public requestCount; // ids are 1..requestCount
    uint256 public sweepCursor = 1; // every id below it is settled
    // Trigger firings (issue 15): contract id => firing id => the worker whose
    // signed run is the record (zero: not fired yet). A firing is recorded once.
    mapping(bytes32 => mapping(bytes32 => address)) public firedBy;
    // Who pays firings: the contract owner's deposit there (zero: firings are free).
    IFiringPayments public payments;

    event GovernorChanged(address indexed previous, address indexed next);
    event StakePoolChanged(address indexed stakePool);
    event PaymentsChanged(address indexed payments);
    event FeesCollected(address indexed operator, address indexed pool, uint256 amount);
    event ParamsChanged(uint256 feePerWorker, uint64 requestTimeout, uint32 maxCallbackGas);
    event ContractDeployed(bytes32 indexed id, address indexed owner, bytes32 codeHash, string codeUri);
    event ContractUpdated(bytes32 indexed id, uint64 version, bytes32 codeHash, string codeUri);
    event ContractOwnerChanged(bytes32 indexed id, address indexed owner);
    event Requested(
        uint256 indexed requestId,
        bytes32 indexed contractId,
        address indexed requester,
        bytes32 codeHash,
        uint256 fee,
        uint32 callbackGasLimit,
        uint8 k,
        uint64 deadline,
        bytes input,
        uint8 minTeeKinds
    );
    event Fulfilled(
        uint256 indexed requestId,
        address indexed submitter,
        bytes32 outputHash,
        bool ok,
        bool callbackOk,
        address[] operators,
        bytes output
    );
    event CallbackFailed(uint256 indexed requestId, bytes reason);
    event Refunded(uint256 indexed requestId, address indexed requester, uint256 fee);
    event Fired(
        bytes32 indexed contractId,
        bytes32 indexed firingId,
        address indexed worker,
        bytes32 codeHash,
        bool ok,
        bytes signature,
        bytes output
    );
    // A registered worker signed an output that k signers of distinct operators
    // contradict, for the same request (reportDissent): evidence for slashing.
    event Dissent(
        uint256 indexed requestId,
        address indexed signer,
        address indexed operator,
        bool ok,
        bytes32 outputHash,
        bytes32 quorumOutputHash,
        bytes signature
    );

    error NotGovernor();
    error NotContractOwner();
    error ZeroAddress();
    error ContractExists(bytes32 id);
    error UnknownContract(bytes32 id);
    error BadK(uint8 k);
    error CallbackGasTooHigh(uint32 limit, uint32 max);
    error FeeTooLow(uint256 maxFee, uint256 fee);
    error TooLarge(uint256 length, uint256 max);
    error NotPending(uint256 requestId, uint8 status);
    error Expired(uint256 requestId, uint64 deadline);
    error NotExpired(uint256 requestId, uint64 deadline);
    error NotWorker(address sender);
    error SignatureCount(uint256 given, uint8 k);
    error UnregisteredSigner(address signer);
    error DuplicateOperator(address operator);
    error BadMinTeeKinds(uint8 minTeeKinds, uint8 k);
    // Admission: fewer eligible operators than k, or fewer TEE kinds among
    // their eligible workers than minTeeKinds (Registry.eligibility()).
    error NotEnoughOperators(uint8 k, uint256 eligibleOperators);
    error NotEnoughTeeKinds(uint8 minTeeKinds, uint256 eligibleKinds);
    error TooFewTeeKinds(uint256 kinds, uint8 minTeeKinds);
    error InsufficientGasForCallback();
    error TransferFailed();
    error NotStakePool();
    error AlreadyFired(bytes32 contractId, bytes32 firingId);
    error NoDissent(uint256 requestId);

    modifier onlyGovernor() {
        if (msg.sender != governor) revert NotGovernor();
        _;
    }

    constructor(IERC20 token_, IWorkerRegistry registry_, uint256 feePerWorker_, uint64 requestTimeout_) {
        if (address(token_) == address(0) || address(registry_) == address(0)) revert ZeroAddress();
        token = token_;
        registry = registry_;
        deployedChainId = block.chainid;
        deployedDomain = keccak256(abi.encode(RESULT_TAG, block.chainid, address(this)));
        governor = msg.sender;
        feePerWorker = feePerWorker_;
        requestTimeout = requestTimeout_;
        maxCallbackGas = 2_000_000;
        emit ParamsChanged(feePerWorker_, requestTimeout_, maxCallbackGas);
    }

    // ---- governance -------------------------------------------------------------

    function setGovernor(address next) external onlyGovernor {
        if (next == address(0)) revert ZeroAddress();
        emit GovernorChanged(governor, next);
        governor = next;
    }

    /// Fees of later fulfilments are owed to the pool, which collects them;
    /// fees owed already are collected by whichever pool is set.
    function setStakePool(IRewardPool pool) external onlyGovernor {
        stakePool = pool;
        emit StakePoolChanged(address(pool));
    }

    /// Later firings are charged to their contract owner's deposit in payments
    /// (Payments.chargeFiring); zero makes them free.
    function setPayments(IFiringPayments payments_) external onlyGovernor {
        payments = payments_;
        emit PaymentsChanged(address(payments_));
    }

    /// The StakePool takes an operator's owed fees (all but the 1-wei marker).
    function collectFees(address operator) external returns (uint256 amount) {
        if (msg.sender != address(stakePool)) revert NotStakePool();
        uint256 owed = feesOwed[operator];
        if (owed <= 1) return 0;
        amount = owed - 1;
        feesOwed[operator] = 1;
        if (!token.transfer(msg.sender, amount)) revert TransferFailed();
        emit FeesCollected(operator, msg.sender, amount);
    }

    /// Applies to new requests; a pending request keeps the fee and deadline it was made with.
    function setParams(uint256 feePerWorker_, uint64 requestTimeout_, uint32 maxCallbackGas_) external onlyGovernor {
        feePerWorker = feePerWorker_;
        requestTimeout = requestTimeout_;
        maxCallbackGas = maxCallbackGas_;
        emit ParamsChanged(feePerWorker_, requestTimeout_, maxCallbackGas_);
    }

    // ---- deployment registry of TEE contracts -----------------------------------

    function contractId(address owner, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(owner, salt));
    }

    function deployContract(bytes32 salt, bytes32 codeHash, string calldata codeUri) external returns (bytes32 id) {
        id = contractId(msg.sender, salt);
        if (contracts[id].owner != address(0)) revert ContractExists(id);
        contracts[id] = TeeContract({owner: msg.sender, version: 1, codeHash: codeHash, codeUri: codeUri});
        emit ContractDeployed(id, msg.sender, codeHash, codeUri);
    }

    /// A new version; requests made before it keep the code hash they pinned.
    function updateContract(bytes32 id, bytes32 codeHash, string calldata codeUri) external {
        TeeContract storage c = contracts[id];
        if (c.owner != msg.sender) revert NotContractOwner();
        c.version += 1;
        c.codeHash = codeHash;
        c.codeUri = codeUri;
        emit ContractUpdated(id, c.version, codeHash, codeUri);
    }

    function transferContract(bytes32 id, address owner) external {
        TeeContract storage c = contracts[id];
        if (c.owner != msg.sender) revert NotContractOwner();
        if (owner == address(0)) revert ZeroAddress();
        c.owner = owner;
        emit ContractOwnerChanged(id, owner);
    }

    // ---- requests -----------------------------------------------------------------

    /// The fee is k * feePerWorker, taken now (msg.sender must have approved Jobs,
    /// or used PhxToken.permit); maxFee bounds it against a parameter change.
    /// Any TEE kind serves (minTeeKinds 1).
    function request(bytes32 contractId_, bytes calldata input, uint256 maxFee, uint32 callbackGasLimit, uint8 k)
        external
        returns (uint256 requestId)
    {
        return _request(contractId_, input, maxFee, callbackGasLimit, k, 1);
    }

    /// The k signers must also run on at least minTeeKinds distinct TEE kinds
    /// (1 <= minTeeKinds <= k). Reverts at once, with NotEnoughOperators or
    /// NotEnoughTeeKinds, when the workers eligible now cannot meet k and
    /// minTeeKinds: nothing is escrowed for a request nobody can serve.
    function request(
        bytes32 contractId_,
        bytes calldata input,
        uint256 maxFee,
        uint32 callbackGasLimit,
        uint8 k,
        uint8 minTeeKinds
    ) external returns (uint256 requestId) {
        return _request(contractId_, input, maxFee, callbackGasLimit, k, minTeeKinds);
    }

    function _request(
        bytes32 contractId_,
        bytes calldata input,
        uint256 maxFee,
        uint32 callbackGasLimit,
        uint8 k,
        uint8 minTeeKinds
    ) private returns (uint256 requestId) {
        TeeContract storage c = contracts[contractId_];
        if (c.owner == address(0)) revert UnknownContract(contractId_);
        if (k == 0 || k > MAX_K) revert BadK(k);
        if (minTeeKinds == 0 || minTeeKinds > k) revert BadMinTeeKinds(minTeeKinds, k);
        (uint256 eligibleOperators, uint256 eligibleKinds) = registry.eligibility();
        if (eligibleOperators < k) revert NotEnoughOperators(k, eligibleOperators);
        if (eligibleKinds < minTeeKinds) revert NotEnoughTeeKinds(minTeeKinds, eligibleKinds);
        if (callbackGasLimit > maxCallbackGas) revert CallbackGasTooHigh(callbackGasLimit, maxCallbackGas);
        if (input.length > MAX_INPUT) revert TooLarge(input.length, MAX_INPUT);
        uint256 fee = feePerWorker * k;
        if (fee > maxFee) revert FeeTooLow(maxFee, fee);

        _sweep(SWEEP_PER_CALL);
        if (fee > 0 && !token.transferFrom(msg.sender, address(this), fee)) revert TransferFailed();

        requestId = ++requestCount;
        requests[requestId] = Request({
            requester: msg.sender,
            status: STATUS_PENDING,
            k: k,
            callbackGasLimit: callbackGasLimit,
            minTeeKinds: minTeeKinds,
            deadline: uint64(block.timestamp) + requestTimeout,
            contractId: contractId_,
            codeHash: c.codeHash,
            fee: fee
        });
        _emitRequested(requestId, input);
    }

    // Separate frame: the event has more fields than request() has stack slots left.
    function _emitRequested(uint256 requestId, bytes calldata input) private {
        Request storage r = requests[requestId];
        emit Requested(
            requestId,
            r.contractId,
            r.requester,
            r.codeHash,
            r.fee,
            r.callbackGasLimit,
            r.k,
            r.deadline,
            input,
            r.minTeeKinds
        );
    }

    /// The result-signing domain on the chain this runs on now (as OpenZeppelin's
    /// EIP712 does for its separator): cached while the chain id is unchanged.
    function domain() public view returns (bytes32) {
        if (block.chainid == deployedChainId) return deployedDomain;
        return keccak256(abi.encode(RESULT_TAG, block.chainid, address(this)));
    }

    /// What each of the k workers signs (raw digest, no EIP-191 prefix):
    /// keccak256(domain || requestId || contractId || codeHash || ok || keccak256(output)).
    /// ok is false when the run failed (output is then the error): signed, so no
    /// submitter can pass an error off as a result or the other way round.
    function resultDigest(uint256 requestId, bytes32 contractId_, bytes32 codeHash, bool ok, bytes32 outputHash)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(domain(), requestId, contractId_, codeHash, ok, outputHash));
    }

    function fulfill(uint256 requestId, bool ok, bytes calldata output, bytes[] calldata signatures) external {
        if (registry.activeOperatorOf(msg.sender) == address(0)) revert NotWorker(msg.sender);
        Request storage r = requests[requestId];
        if (r.status != STATUS_PENDING) revert NotPending(requestId, r.status);
        if (block.timestamp > r.deadline) revert Expired(requestId, r.deadline);
        if (output.length > MAX_OUTPUT) revert TooLarge(output.length, MAX_OUTPUT);
        if (signatures.length != r.k) revert SignatureCount(signatures.length, r.k);

        bytes32 outputHash = keccak256(output);
        address[] memory operators = _checkSignatures(
            resultDigest(requestId, r.contractId, r.codeHash, ok, outputHash), signatures, r.minTeeKinds
        );

        // Settle before any outside call: a re-entering callback finds it done.
        r.status = STATUS_FULFILLED;
        _pay(operators, r.fee);

        bool callbackOk = _callback(r.requester, r.callbackGasLimit, requestId, ok, output);
        if (!callbackOk) r.status = STATUS_CALLBACK_FAILED;
        emit Fulfilled(requestId, msg.sender, outputHash, ok, callbackOk, operators, output);
        _sweep(SWEEP_PER_CALL);
    }

    // ---- trigger firings ---------------------------------------------------------

    /// What a worker signs for one firing of a contract's trigger (raw digest):
    /// keccak256(domain || FIRING_TAG || contractId || firingId || codeHash || ok || keccak256(output)).
    function firingDigest(bytes32 contractId_, bytes32 firingId, bytes32 codeHash, bool ok, bytes32 outputHash)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(domain(), FIRING_TAG, contractId_, firingId, codeHash, ok, outputHash));
    }

    /// The record of one firing: the run of an active worker, signed; the first
    /// record wins and any later one for the same (contract, firing) reverts, so
    /// the workers that take a firing over from each other agree on one run.
    /// Anyone may submit it (the signature is the worker's). With payments
    /// set, the firing's price comes out of the contract owner's deposit there
    /// and is owed to the signer's operator pool like a request fee; a short
    /// deposit (or a contract not deployed here: no owner) reverts with
    /// Payments.InsufficientBalance, so an unpaid firing is never recorded.
    function recordFiring(
        bytes32 contractId_,
        bytes32 firingId,
        bytes32 codeHash,
        bool ok,
        bytes calldata output,
        bytes calldata signature
    ) external {
        if (firedBy[contractId_][firingId] != address(0)) revert AlreadyFired(contractId_, firingId);
        if (output.length > MAX_OUTPUT) revert TooLarge(output.length, MAX_OUTPUT);
        address signer =
            PhxSig.recover(firingDigest(contractId_, firingId, codeHash, ok, keccak256(output)), signature);
        address operator = signer == address(0) ? address(0) : registry.activeOperatorOf(signer);
        if (operator == address(0)) revert UnregisteredSigner(signer);
        firedBy[contractId_][firingId] = signer;
        IFiringPayments p = payments;
        if (address(p) != address(0)) {
            uint256 fee = p.chargeFiring(contracts[contractId_].owner);
            if (fee != 0) _credit(operator, fee);
        }
        emit Fired(contractId_, firingId, signer, codeHash, ok, signature, output);
    }

    /// Evidence that one worker disagreed with a quorum of an `identical`
    /// (deterministic) contract: `quorumSignatures` are request.k signatures of
    /// active workers of distinct operators over (quorumOk, quorumOutputHash), the
    /// report a fulfil carries; `signature` is another active worker's over a
    /// different (ok, outputHash) for the same request. Everything is checked
    /// here, so the Dissent event is evidence anyone can rely on; anyone may
    /// report, pending or settled. Nothing is slashed here (docs/chain.md).
    function reportDissent(
        uint256 requestId,
        bool quorumOk,
        bytes32 quorumOutputHash,
        bytes[] calldata quorumSignatures,
        bool ok,
        bytes32 outputHash,
        bytes calldata signature
    ) external {
        Request storage r = requests[requestId];
        if (r.status == STATUS_NONE) revert NotPending(requestId, r.status);
        if (quorumSignatures.length != r.k) revert SignatureCount(quorumSignatures.length, r.k);
        if (quorumOk == ok && quorumOutputHash == outputHash) revert NoDissent(requestId);
        _checkSignatures(
            resultDigest(requestId, r.contractId, r.codeHash, quorumOk, quorumOutputHash), quorumSignatures, 1
        );
        address signer = PhxSig.recover(resultDigest(requestId, r.contractId, r.codeHash, ok, outputHash), signature);
        address operator = signer == address(0) ? address(0) : registry.activeOperatorOf(signer);
        if (operator == address(0)) revert UnregisteredSigner(signer);
        emit Dissent(requestId, signer, operator, ok, outputHash, quorumOutputHash, signature);
    }

    /// Anyone may settle a specific expired request; the fee always goes back to the requester.
    function refund(uint256 requestId) external {
        Request storage r = requests[requestId];
        if (r.status != STATUS_PENDING) revert NotPending(requestId, r.status);
        if (block.timestamp <= r.deadline) revert NotExpired(requestId, r.deadline);
        _refund(requestId, r);
    }

    /// Anyone may push the sweep further than the per-call bound.
    function sweep(uint256 maxSteps) external {
        _sweep(maxSteps);
    }

    // ---- internals --------------------------------------------------------------------

    // minTeeKinds <= 1 (every k=1 request) takes the one-value activeOperatorOf
    // path; above it each signer's kind is read too and the distinct kinds counted.
    function _checkSignatures(bytes32 digest, bytes[] calldata signatures, uint8 minTeeKinds)
        private
        view
        returns (address[] memory operators)
    {
        operators = new address[](signatures.length);
        uint256 kindBits = 0;
        for (uint256 i = 0; i < signatures.length; i++) {
            address signer = PhxSig.recover(digest, signatures[i]);
            address operator;
            if (signer == address(0)) {
                operator = address(0);
            } else if (minTeeKinds <= 1) {
                operator = registry.activeOperatorOf(signer);
            } else {
                uint32 teeType;
                (operator, teeType) = registry.activeWorkerOf(signer);
                kindBits |= teeType == 0 ? 1 : 2; // SGX, TDX: the Registry admits no other
            }
            if (operator == address(0)) revert UnregisteredSigner(signer);
            // k-of-n means k independent parties: one operator's workers count once.
            for (uint256 j = 0; j < i; j++) {
                if (operators[j] == operator) revert DuplicateOperator(operator);
            }
            operators[i] = operator;
        }
        if (minTeeKinds > 1) {
            uint256 kinds = (kindBits & 1) + (kindBits >> 1);
            if (kinds < minTeeKinds) revert TooFewTeeKinds(kinds, minTeeKinds);
        }
    }

    function _pay(address[] memory operators, uint256 fee) private {
        if (fee == 0) return;
        uint256 share = fee / operators.length;
        uint256 rest = fee - share * operators.length;
        IRewardPool pool = stakePool;
        for (uint256 i = 0; i < operators.length; i++) {
            uint256 amount = i == 0 ? share + rest : share;
            if (address(pool) != address(0)) {
                feesOwed[operators[i]] += amount;
            } else if (!token.transfer(operators[i], amount)) {
                revert TransferFailed();
            }
        }
    }

    /// One fee to one operator, as _pay does for a request's signers.
    function _credit(address operator, uint256 amount) private {
        if (address(stakePool) != address(0)) {
            feesOwed[operator] += amount;
        } else if (!token.transfer(operator, amount)) {
            revert TransferFailed();
        }
    }

    /// Calls requester.phxCallback(requestId, runOk, output) with exactly callbackGasLimit gas. The check
    /// before the call matters: under EIP-150 a caller could otherwise pass just
    /// enough gas for fulfill to succeed while the callback runs out, making a
    /// consumer's callback fail at the fulfiller's choice.
    function _callback(address requester, uint32 gasLimit, uint256 requestId, bool runOk, bytes calldata output)
        private
        returns (bool ok)
    {
        if (requester.code.length == 0) return true; // an EOA has nothing to call
        if (gasleft() < (uint256(gasLimit) * 64) / 63 + CALLBACK_OVERHEAD) revert InsufficientGasForCallback();
        bytes memory data = abi.encodeCall(IPhxConsumer.phxCallback, (requestId, runOk, output));
        assembly {
            ok := call(gasLimit, requester, 0, add(data, 32), mload(data), 0, 0)
        }
        if (!ok) {
            // Copy at most MAX_REASON bytes so a callee cannot make us pay for a huge revert.
            bytes memory reason;
            assembly {
                let n := returndatasize()
                if gt(n, MAX_REASON) { n := MAX_REASON }
                reason := mload(0x40)
                mstore(reason, n)
                returndatacopy(add(reason, 32), 0, n)
                mstore(0x40, add(add(reason, 32), and(add(n, 31), not(31))))
            }
            emit CallbackFailed(requestId, reason);
        }
    }

    function _refund(uint256 requestId, Request storage r) private {
        r.status = STATUS_REFUNDED;
        if (r.fee > 0 && !token.transfer(r.requester, r.fee)) revert TransferFailed();
        emit Refunded(requestId, r.requester, r.fee);
    }

    /// Walks request ids in creation order. With a fixed timeout that is deadline
    /// order, so it stops at the first pending request that has not expired; if
    /// governance shortens the timeout a later request may wait for an earlier
    /// one's deadline (refund() settles it directly in the meantime).
    function _sweep(uint256 maxSteps) private {
        uint256 cursor = sweepCursor;
        uint256 end = requestCount;
        for (uint256 steps = 0; steps < maxSteps && cursor <= end; steps++) {
            Request storage r = requests[cursor];
            if (r.status == STATUS_PENDING) {
                if (block.timestamp <= r.deadline) break;
                _refund(cursor, r);
            }
            cursor++;
        }
        sweepCursor = cursor;
    }
}
