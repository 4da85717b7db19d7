// SPDX-License-Identifier: Apache-2.0
// InferenceRegistry: the attested inference endpoints (`phx infer`, issue 14)
// with the model each one serves, so that a client knows which weights
// answered (docs/infer.md, docs/ARCHITECTURE.md). A contract of its own beside
// the Registry, not a role in it: an endpoint has no stake, no KMS and no
// share of Jobs fees, and the Registry's fulfil path stays as it is. It shares
// the Registry's measurement allow-list (one governance vote admits a TEE
// image for workers and endpoints alike) and its quote parser.
//
// The chain checks what it can of the registration quote (as the Registry
// does for a worker): its report data binds the endpoint's keys and model hash
// (sha256("phx-infer-v1" || signer || ed25519 || x25519 || modelHash), the
// endpoint's own report data), its nonce is registrationNonce(operator, model,
// url), so a quote fetched from a live endpoint cannot be replayed under
// another operator, model name or URL, and its measurement is allowed. The
// quote is emitted whole: every client verifies its signatures to the root off
// chain (`phx verify`, `phx infer verify`, the worker before phx.ai.chat).
pragma solidity ^0.8.24;

interface IMeasurementRegistry {
    function measurementAllowed(bytes32 measurement) external view returns (bool);
    function parseQuote(bytes calldata quote)
        external
        pure
        returns (uint32 teeType, bytes32 measurement, bytes32 bound, bytes32 nonce);
}

contract InferenceRegistry {
    uint8 public constant STATUS_NONE = 0;
    uint8 public constant STATUS_ACTIVE = 1;
    uint8 public constant STATUS_DEREGISTERED = 2;
    uint8 public constant STATUS_INVALIDATED = 3;

    // registrationNonce = keccak256(abi.encode(REGISTER_TAG, chainid, this,
    // operator, keccak256(model), keccak256(url))).
    bytes32 public constant REGISTER_TAG = keccak256("phx-infer-register-v1");
    uint256 public constant MAX_MODEL = 128;
    uint256 public constant MAX_URL = 512;

    struct Endpoint {
        address operator;
        uint8 status;
        uint32 teeType;
        uint64 registeredAt;
        bytes32 ed25519;
        bytes32 x25519;
        bytes32 modelHash; // SHA-256 of the GGUF file
        bytes32 measurement;
        bytes32 quoteHash; // keccak256 of the registration quote
        string model; // the name clients ask for
        string url; // the endpoint's base URL
    }

    IMeasurementRegistry public immutable registry;
    address public governor;
    // By the endpoint's secp256k1 signing address (the key of EIP-191 receipts).
    mapping(address => Endpoint) public endpoints;
    address[] public endpointList;

    event GovernorChanged(address indexed previous, address indexed next);
    event EndpointRegistered(
        address indexed endpoint,
        address indexed operator,
        bytes32 indexed modelHash,
        string model,
        string url,
        bytes32 ed25519,
        bytes32 x25519,
        bytes32 measurement,
        uint32 teeType,
        bytes quote
    );
    event EndpointDeregistered(address indexed endpoint, address indexed operator);
    event EndpointInvalidated(address indexed endpoint, address indexed operator, string reason);

    error NotGovernor();
    error NotAuthorized();
    error ZeroAddress();
    error AlreadyRegistered(address endpoint);
    error NotActive(address endpoint);
    error MeasurementNotAllowed(bytes32 measurement);
    error ReportDataMismatch();
    error BadField(string field);

    modifier onlyGovernor() {
        if (msg.sender != governor) revert NotGovernor();
        _;
    }

    constructor(IMeasurementRegistry registry_) {
        if (address(registry_) == address(0)) revert ZeroAddress();
        registry = registry_;
        governor = msg.sender;
    }

    function setGovernor(address next) external onlyGovernor {
        if (next == address(0)) revert ZeroAddress();
        emit GovernorChanged(governor, next);
        governor = next;
    }

    /// The nonce the registration quote must carry: it names the chain, this
    /// contract, the operator, the model name and the URL.
    function registrationNonce(address operator, string calldata model, string calldata url)
        public
        view
        returns (bytes32)
    {
        return keccak256(
            abi.encode(
                REGISTER_TAG, block.chainid, address(this), operator, keccak256(bytes(model)), keccak256(bytes(url))
            )
        );
    }

    /// What the endpoint's quote binds (docs/infer.md), the first half of its
    /// report data; the second half is the nonce.
    function keyBinding(address endpoint, bytes32 ed25519, bytes32 x25519, bytes32 modelHash)
        public
        pure
        returns (bytes32)
    {
        return sha256(abi.encodePacked("phx-infer-v1", endpoint, ed25519, x25519, modelHash));
    }

    /// Called by the operator with a quote the endpoint made for
    /// registrationNonce(operator, model, url). An endpoint's keys are made
    /// fresh at each start: a registered key never comes back.
    function registerEndpoint(
        address endpoint,
        bytes32 ed25519,
        bytes32 x25519,
        bytes32 modelHash,
        string calldata model,
        string calldata url,
        bytes calldata quote
    ) external {
        if (endpoint == address(0)) revert ZeroAddress();
        if (endpoints[endpoint].status != STATUS_NONE) revert AlreadyRegistered(endpoint);
        if (bytes(model).length == 0 || bytes(model).length > MAX_MODEL) revert BadField("model");
        if (bytes(url).length == 0 || bytes(url).length > MAX_URL) revert BadField("url");
        if (modelHash == bytes32(0)) revert BadField("modelHash");
        _admit(endpoint, keyBinding(endpoint, ed25519, x25519, modelHash), registrationNonce(msg.sender, model, url), quote);
        Endpoint storage p = endpoints[endpoint];
        p.ed25519 = ed25519;
        p.x25519 = x25519;
        p.modelHash = modelHash;
        p.model = model;
        p.url = url;
        endpointList.push(endpoint);
        _emitRegistered(endpoint, quote);
    }

    // The quote's binding, nonce and measurement, recorded with the operator.
    // Separate frame: registerEndpoint's arguments fill its stack.
    function _admit(address endpoint, bytes32 binding, bytes32 wantNonce, bytes calldata quote) private {
        (uint32 teeType, bytes32 measurement, bytes32 bound, bytes32 nonce) = registry.parseQuote(quote);
        if (bound != binding || nonce != wantNonce) revert ReportDataMismatch();
        if (!registry.measurementAllowed(measurement)) revert MeasurementNotAllowed(measurement);
        Endpoint storage p = endpoints[endpoint];
        p.operator = msg.sender;
        p.status = STATUS_ACTIVE;
        p.teeType = teeType;
        p.registeredAt = uint64(block.timestamp);
        p.measurement = measurement;
        p.quoteHash = keccak256(quote);
    }

    // Separate frame: the event has more fields than registerEndpoint has stack slots left.
    function _emitRegistered(address endpoint, bytes calldata quote) private {
        Endpoint storage p = endpoints[endpoint];
        emit EndpointRegistered(
            endpoint, p.operator, p.modelHash, p.model, p.url, p.ed25519, p.x25519, p.measurement, p.teeType, quote
        );
    }

    /// By the operator or the endpoint's key itself (a clean shutdown).
    function deregisterEndpoint(address endpoint) external {
        Endpoint storage p = endpoints[endpoint];
        if (p.status != STATUS_ACTIVE) revert NotActive(endpoint);
        if (msg.sender != p.operator && msg.sender != endpoint) revert NotAuthorized();
        p.status = STATUS_DEREGISTERED;
        emit EndpointDeregistered(endpoint, p.operator);
    }

    /// By governance: an endpoint found serving other weights, or a leaked key.
    /// Receipts it signed no longer verify (`phx verify` step 8).
    function invalidateEndpoint(address endpoint, string calldata reason) external onlyGovernor {
        Endpoint storage p = endpoints[endpoint];
        if (p.status == STATUS_NONE || p.status == STATUS_INVALIDATED) revert NotActive(endpoint);
        p.status = STATUS_INVALIDATED;
        emit EndpointInvalidated(endpoint, p.operator, reason);
    }

    /// Active and running a measurement governance still allows.
    function isActive(address endpoint) public view returns (bool) {
        Endpoint storage p = endpoints[endpoint];
        return p.status == STATUS_ACTIVE && registry.measurementAllowed(p.measurement);
    }

    /// The active endpoints serving a model by name, oldest first (a client
    /// tries the newest first: a restarted endpoint registers again).
    function endpointsFor(string calldata model) external view returns (address[] memory out) {
        bytes32 want = keccak256(bytes(model));
        uint256 n = 0;
        out = new address[](endpointList.length);
        for (uint256 i = 0; i < endpointList.length; i++) {
            address a = endpointList[i];
            if (keccak256(bytes(endpoints[a].model)) == want && isActive(a)) out[n++] = a;
        }
        assembly {
            mstore(out, n)
        }
    }

    function endpointCount() external view returns (uint256) {
        return endpointList.length;
    }
}
