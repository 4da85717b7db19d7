#!/usr/bin/env node
// Registers an endpoint record that no honest endpoint made: a quote over
// keyBinding(ENDPOINT, ED, X, MODEL_HASH) || registrationNonce(sender, MODEL,
// URL) made with the sim platform's own key (`phx attest quote --tee sim`),
// which anyone holding a sim platform can do; that is why the sim root is for
// development only. The test uses it to put a record on chain that differs
// from the endpoint's live attestation. Sent with ethers, as any wallet would.
// Usage: forge_endpoint.js RPC REGISTRY KEYFILE PHX SIMDIR ENDPOINT ED X MODEL_HASH MODEL URL
// Prints one JSON line; exit 1 on any failure, 2 on bad usage.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const args = process.argv.slice(2);
if (args.length !== 11) {
    console.error('usage: forge_endpoint.js RPC REGISTRY KEYFILE PHX SIMDIR ENDPOINT ED X MODEL_HASH MODEL URL');
    process.exit(2);
}
const [rpc, registry, keyFile, phx, simDir, endpoint, ed, x, modelHash, model, url] = args;
const { ethers } = require(path.join(process.env.PHX_NODE_MODULES || 'node_modules', 'ethers'));
const abi = [
    'function keyBinding(address,bytes32,bytes32,bytes32) view returns (bytes32)',
    'function registrationNonce(address,string,string) view returns (bytes32)',
    'function registerEndpoint(address,bytes32,bytes32,bytes32,string,string,bytes)',
];
const hex32 = (s) => (s.startsWith('0x') ? s : '0x' + s);
(async () => {
    const provider = new ethers.JsonRpcProvider(rpc);
    const wallet = new ethers.Wallet(fs.readFileSync(keyFile, 'utf8').trim(), provider);
    const reg = new ethers.Contract(registry, abi, wallet);
    const binding = await reg.keyBinding(endpoint, hex32(ed), hex32(x), hex32(modelHash));
    const nonce = await reg.registrationNonce(wallet.address, model, url);
    const quote = execFileSync(phx, ['attest', 'quote', '--tee', 'sim', '--sim-dir', simDir,
        '--report-data', binding.slice(2) + nonce.slice(2)]).toString().trim();
    const tx = await reg.registerEndpoint(endpoint, hex32(ed), hex32(x), hex32(modelHash), model, url,
        hex32(quote));
    const receipt = await tx.wait();
    console.log(JSON.stringify({ registered: endpoint, status: receipt.status }));
    provider.destroy();
})().catch((err) => {
    console.error('forge_endpoint.js:', err.shortMessage || err.message);
    process.exit(1);
});
