// SPDX-License-Identifier: Apache-2.0
// Registry.setWorkerEndpoint: who may announce a worker's URL, and what a URL
// may be (gateways discover workers from it, docs/gateway.md "Discovery").
pragma solidity ^0.8.24;

import {Fixture} from "./Fixture.sol";
import {Registry} from "../Registry.sol";

contract RegistryEndpointTest is Fixture {
    address worker;

    function setUp() public {
        deployAll();
        fund(operator, 1_000 ether);
        vm.prank(operator);
        uint256 pid = stake.createPool(2000);
        fund(address(this), 1_000 ether);
        token.approve(address(stake), MIN_STAKE);
        stake.delegate(pid, MIN_STAKE);
        worker = registerWorker();
    }

    function test_workerAndOperatorSetTheEndpoint() public {
        vm.prank(worker);
        registry.setWorkerEndpoint(worker, "http://127.0.0.1:8801");
        assertTrue(keccak256(bytes(registry.endpointOf(worker))) == keccak256("http://127.0.0.1:8801"), "worker's own");
        vm.prank(operator);
        registry.setWorkerEndpoint(worker, "https://w1.example.org/phx");
        assertTrue(keccak256(bytes(registry.endpointOf(worker))) == keccak256("https://w1.example.org/phx"), "operator's");
    }

    function test_nobodyElseSetsIt() public {
        vm.prank(address(0xBAD));
        vm.expectRevert(Registry.NotAuthorized.selector);
        registry.setWorkerEndpoint(worker, "http://evil.example:1");
    }

    function test_onlyWhileActive() public {
        vm.prank(operator);
        registry.deregisterWorker(worker);
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(Registry.NotActive.selector, worker));
        registry.setWorkerEndpoint(worker, "http://127.0.0.1:8801");
    }

    function test_hostileUrlsAreRefused() public {
        string[7] memory bad = [
            "file:///etc/passwd",
            "http://",
            "http://user:pw@127.0.0.1:8545",
            "http://127.0.0.1:8801/?x=1",
            "http://127.0.0.1:8801/#frag",
            "http://127.0.0.1 :8801",
            "gopher://127.0.0.1:70"
        ];
        for (uint256 i = 0; i < bad.length; i++) {
            vm.prank(worker);
            vm.expectRevert();
            registry.setWorkerEndpoint(worker, bad[i]);
        }
        bytes memory long = new bytes(201);
        for (uint256 i = 0; i < long.length; i++) {
            long[i] = "a";
        }
        bytes memory prefix = "http://";
        for (uint256 i = 0; i < prefix.length; i++) {
            long[i] = prefix[i];
        }
        vm.prank(worker);
        vm.expectRevert(abi.encodeWithSelector(Registry.BadEndpoint.selector, "too long"));
        registry.setWorkerEndpoint(worker, string(long));
        assertEq(bytes(registry.endpointOf(worker)).length, 0, "nothing stored");
    }
}
