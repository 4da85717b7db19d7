// SPDX-License-Identifier: Apache-2.0
// InferenceRegistry: an endpoint is admitted only with a quote whose report data
// binds its keys and model hash and whose nonce names this operator, model name
// and URL, from a measurement the Registry allows; routing by model sees only
// active endpoints; deregistration, invalidation and governance.
pragma solidity ^0.8.24;

import {Fixture} from "./Fixture.sol";
import {InferenceRegistry, IMeasurementRegistry} from "../InferenceRegistry.sol";

contract InferenceRegistryTest is Fixture {
    InferenceRegistry infer;
    address endpoint = address(0xE1D0);
    bytes32 constant ED = bytes32(uint256(0xED));
    bytes32 constant X = bytes32(uint256(0x25519));
    // Any 32 bytes do for the contract (keccak, not sha256: a precompile call would take a prank).
    bytes32 constant MODEL_HASH = keccak256("the weights");

    function setUp() public {
        deployAll();
        infer = new InferenceRegistry(IMeasurementRegistry(address(registry)));
    }

    function quoteFor(address op, address ep, bytes32 modelHash, string memory model, string memory url)
        internal
        view
        returns (bytes memory)
    {
        return sgxQuote(infer.keyBinding(ep, ED, X, modelHash), infer.registrationNonce(op, model, url));
    }

    function register(address ep, string memory model, string memory url) internal {
        bytes memory q = quoteFor(operator, ep, MODEL_HASH, model, url);
        vm.prank(operator);
        infer.registerEndpoint(ep, ED, X, MODEL_HASH, model, url, q);
    }

    function test_registerRecordsTheEndpoint() public {
        register(endpoint, "tiny", "http://127.0.0.1:8900");
        (
            address op,
            uint8 status,
            uint32 teeType,,
            bytes32 ed,
            bytes32 x,
            bytes32 mh,
            bytes32 m,
            bytes32 qh,
            string memory model,
            string memory url
        ) = infer.endpoints(endpoint);
        assertEq(op, operator, "op");
        assertEq(status, infer.STATUS_ACTIVE(), "status");
        assertEq(teeType, 0, "teeType");
        assertEq(uint256(ed), uint256(ED), "ed");
        assertEq(uint256(x), uint256(X), "x");
        assertEq(uint256(mh), uint256(MODEL_HASH), "mh");
        assertEq(uint256(m), uint256(measurement), "m");
        bytes memory q = quoteFor(operator, endpoint, MODEL_HASH, "tiny", "http://127.0.0.1:8900");
        assertEq(uint256(qh), uint256(keccak256(q)), "quote hash");
        assertEq(uint256(keccak256(bytes(model))), uint256(keccak256("tiny")), "keccak256(bytes(model))");
        assertEq(uint256(keccak256(bytes(url))), uint256(keccak256("http://127.0.0.1:8900")), "keccak256(bytes(url))");
        assertTrue(infer.isActive(endpoint), "infer.isActive(endpoint)");
        address[] memory found = infer.endpointsFor("tiny");
        assertEq(found.length, 1, "found.length");
        assertEq(found[0], endpoint, "found[0]");
        assertEq(infer.endpointsFor("other").length, 0, "infer.endpointsFor('other').length");
    }

    function test_keyBindingIsTheEndpointsReportData() public view {
        // docs/infer.md: sha256("phx-infer-v1" || address || ed25519 || x25519 || model sha256)
        bytes memory pre = abi.encodePacked("phx-infer-v1", endpoint, ED, X, MODEL_HASH);
        assertEq(pre.length, 12 + 20 + 32 + 32 + 32, "pre.length");
        assertEq(uint256(infer.keyBinding(endpoint, ED, X, MODEL_HASH)), uint256(sha256(pre)), "keyBinding");
    }

    function test_rejectsAnotherModelHash() public {
        bytes memory q = quoteFor(operator, endpoint, MODEL_HASH, "tiny", "http://e");
        vm.prank(operator);
        vm.expectRevert(InferenceRegistry.ReportDataMismatch.selector);
        infer.registerEndpoint(endpoint, ED, X, keccak256("other weights"), "tiny", "http://e", q);
    }

    function test_rejectsAnotherKey() public {
        bytes memory q = quoteFor(operator, endpoint, MODEL_HASH, "tiny", "http://e");
        vm.prank(operator);
        vm.expectRevert(InferenceRegistry.ReportDataMismatch.selector);
        infer.registerEndpoint(endpoint, bytes32(uint256(1)), X, MODEL_HASH, "tiny", "http://e", q);
    }

    /// A quote fetched from a live endpoint cannot be registered by someone
    /// else, nor under another name or URL: the nonce names all three.
    function test_rejectsAReplayedQuote() public {
        bytes memory q = quoteFor(operator, endpoint, MODEL_HASH, "tiny", "http://e");
        vm.prank(address(0xBAD));
        vm.expectRevert(InferenceRegistry.ReportDataMismatch.selector);
        infer.registerEndpoint(endpoint, ED, X, MODEL_HASH, "tiny", "http://e", q);
        vm.prank(operator);
        vm.expectRevert(InferenceRegistry.ReportDataMismatch.selector);
        infer.registerEndpoint(endpoint, ED, X, MODEL_HASH, "gpt", "http://e", q);
        vm.prank(operator);
        vm.expectRevert(InferenceRegistry.ReportDataMismatch.selector);
        infer.registerEndpoint(endpoint, ED, X, MODEL_HASH, "tiny", "http://evil", q);
    }

    function test_rejectsAMeasurementNotAllowed() public {
        registry.setMeasurement(measurement, false);
        bytes memory q = quoteFor(operator, endpoint, MODEL_HASH, "tiny", "http://e");
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(InferenceRegistry.MeasurementNotAllowed.selector, measurement));
        infer.registerEndpoint(endpoint, ED, X, MODEL_HASH, "tiny", "http://e", q);
    }

    function test_rejectsAKeyTwiceAndEmptyFields() public {
        register(endpoint, "tiny", "http://e");
        bytes memory q = quoteFor(operator, endpoint, MODEL_HASH, "tiny", "http://e");
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(InferenceRegistry.AlreadyRegistered.selector, endpoint));
        infer.registerEndpoint(endpoint, ED, X, MODEL_HASH, "tiny", "http://e", q);
        address other = address(0xE2);
        q = quoteFor(operator, other, MODEL_HASH, "", "http://e");
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(InferenceRegistry.BadField.selector, "model"));
        infer.registerEndpoint(other, ED, X, MODEL_HASH, "", "http://e", q);
        vm.prank(operator);
        vm.expectRevert(InferenceRegistry.ZeroAddress.selector);
        infer.registerEndpoint(address(0), ED, X, MODEL_HASH, "tiny", "http://e", q);
    }

    function test_measurementRemovedIdlesTheEndpoint() public {
        register(endpoint, "tiny", "http://e");
        registry.setMeasurement(measurement, false);
        assertTrue(!infer.isActive(endpoint), "not infer.isActive(endpoint)");
        assertEq(infer.endpointsFor("tiny").length, 0, "infer.endpointsFor('tiny').length");
    }

    function test_deregisterByOperatorOrEndpointOnly() public {
        register(endpoint, "tiny", "http://e");
        vm.prank(address(0xBAD));
        vm.expectRevert(InferenceRegistry.NotAuthorized.selector);
        infer.deregisterEndpoint(endpoint);
        vm.prank(endpoint);
        infer.deregisterEndpoint(endpoint);
        assertTrue(!infer.isActive(endpoint), "not infer.isActive(endpoint)");
        assertEq(infer.endpointsFor("tiny").length, 0, "infer.endpointsFor('tiny').length");
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(InferenceRegistry.NotActive.selector, endpoint));
        infer.deregisterEndpoint(endpoint);
    }

    function test_invalidateIsGovernanceOnly() public {
        register(endpoint, "tiny", "http://e");
        vm.prank(operator);
        vm.expectRevert(InferenceRegistry.NotGovernor.selector);
        infer.invalidateEndpoint(endpoint, "other weights");
        infer.invalidateEndpoint(endpoint, "other weights");
        (, uint8 status,,,,,,,,,) = infer.endpoints(endpoint);
        assertEq(status, infer.STATUS_INVALIDATED(), "status");
        address next = address(0x71E);
        infer.setGovernor(next);
        vm.expectRevert(InferenceRegistry.NotGovernor.selector);
        infer.setGovernor(address(this));
    }

    function test_routingListsOnlyActiveEndpointsOfTheModel() public {
        register(endpoint, "tiny", "http://a");
        register(address(0xE2), "big", "http://b");
        register(address(0xE3), "tiny", "http://c");
        vm.prank(operator);
        infer.deregisterEndpoint(endpoint);
        address[] memory found = infer.endpointsFor("tiny");
        assertEq(found.length, 1, "found.length");
        assertEq(found[0], address(0xE3), "found[0]");
        assertEq(infer.endpointCount(), 3, "infer.endpointCount()");
    }
}
