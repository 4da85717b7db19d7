#!/usr/bin/env node
// Independent check: ethers (not our C client) reads back what test_chain wrote
// through C: PHA balances, a Registry worker entry, and the Fulfilled event of a
// C-submitted transaction, decoded from its receipt. Usage: readback.js DIR NODE_MODULES
// DIR holds deployment.json (written by phx_chain_deployment_save) and expect.json.
'use strict';
const fs = require('fs');
const path = require('path');
const [dir, nodeModules] = process.argv.slice(2);
const { ethers } = require(path.join(nodeModules, 'ethers'));

const expect = JSON.parse(fs.readFileSync(path.join(dir, 'expect.json'), 'utf8'));
const dep = JSON.parse(fs.readFileSync(path.join(dir, expect.deployment), 'utf8'));

// Human-readable ABI written from the contracts' interfaces, not from our build.
const tokenAbi = ['function balanceOf(address) view returns (uint256)', 'function symbol() view returns (string)'];
const registryAbi = [
    'function workers(address) view returns (address operator, uint8 status, uint32 teeType, uint64 registeredAt, bytes32 x25519, bytes32 measurement, bytes32 quoteHash, address kms)',
];
const jobsAbi = [
    'event Fulfilled(uint256 indexed requestId, address indexed submitter, bytes32 outputHash, bool ok, bool callbackOk, address[] operators, bytes output)',
];

let failures = 0;
function check(ok, what) {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
    if (!ok) failures++;
}

async function main() {
    const provider = new ethers.JsonRpcProvider(expect.rpc, undefined, { staticNetwork: true });
    const net = await provider.getNetwork();
    check(Number(net.chainId) === dep.chainId, `chain id ${net.chainId} == deployment ${dep.chainId}`);
    const token = new ethers.Contract(dep.contracts.PhxToken, tokenAbi, provider);
    check((await token.symbol()) === 'PHA', 'token symbol is PHA');
    let n = 0;
    for (const [addr, want] of Object.entries(expect.balances)) {
        const got = await token.balanceOf(addr);
        check(got.toString() === want, `balance of ${addr}: ${ethers.formatEther(got)} PHA`);
        n++;
    }
    const registry = new ethers.Contract(dep.contracts.Registry, registryAbi, provider);
    const w = await registry.workers(expect.worker.address);
    check(w.operator.toLowerCase() === expect.worker.operator, `worker ${expect.worker.address} operator`);
    check(w.status === 1n, 'worker status is active');
    check(w.x25519 === expect.worker.x25519, 'worker x25519 key');

    const receipt = await provider.getTransactionReceipt(expect.fulfilled.tx);
    check(receipt && receipt.status === 1, `fulfil tx ${expect.fulfilled.tx} mined`);
    const iface = new ethers.Interface(jobsAbi);
    let decoded = null;
    for (const log of receipt ? receipt.logs : []) {
        if (log.address.toLowerCase() !== dep.contracts.Jobs.toLowerCase()) continue;
        const ev = iface.parseLog(log);
        if (ev && ev.name === 'Fulfilled') decoded = ev;
    }
    check(decoded !== null, 'Fulfilled event decoded');
    if (decoded) {
        check(decoded.args.requestId === BigInt(expect.fulfilled.requestId), `requestId ${decoded.args.requestId}`);
        check(decoded.args.outputHash === expect.fulfilled.outputHash, 'outputHash');
        check(ethers.keccak256(decoded.args.output) === expect.fulfilled.outputHash, 'keccak256(output) == outputHash');
        check(decoded.args.ok === true, 'ok');
        check(decoded.args.callbackOk === true, 'callbackOk');
    }
    console.log(`readback: ${n} balances, 1 worker, 1 event checked; ${failures} failures`);
    process.exit(failures ? 1 : 0);
}
main().catch((err) => {
    console.error(err);
    process.exit(1);
});
