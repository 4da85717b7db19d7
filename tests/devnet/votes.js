#!/usr/bin/env node
// Reads PHA's ERC20Votes state with ethers, as a wallet or an indexer would:
// votes(ACCOUNT) and delegates(ACCOUNT), current and at the previous block's
// timestamp (PHA's clock is the timestamp). Usage: votes.js RPC TOKEN ACCOUNT
// Prints one JSON line; exit 1 on any failure, 2 on bad usage.
'use strict';
const path = require('path');
const [rpc, token, account] = process.argv.slice(2);
if (!rpc || !token || !account) {
    console.error('usage: votes.js RPC TOKEN ACCOUNT');
    process.exit(2);
}
const { ethers } = require(path.join(process.env.PHX_NODE_MODULES || 'node_modules', 'ethers'));
const abi = [
    'function getVotes(address) view returns (uint256)',
    'function getPastVotes(address,uint256) view returns (uint256)',
    'function delegates(address) view returns (address)',
    'function balanceOf(address) view returns (uint256)',
    'function clock() view returns (uint48)',
    'function CLOCK_MODE() view returns (string)',
];
(async () => {
    const provider = new ethers.JsonRpcProvider(rpc);
    const pha = new ethers.Contract(token, abi, provider);
    const now = await pha.clock();
    const out = {
        delegate: await pha.delegates(account),
        votes: (await pha.getVotes(account)).toString(),
        pastVotes: (await pha.getPastVotes(account, now - 1n)).toString(),
        balance: (await pha.balanceOf(account)).toString(),
        clockMode: await pha.CLOCK_MODE(),
    };
    console.log(JSON.stringify(out));
    provider.destroy();
})().catch((err) => {
    console.error('votes.js:', err.message);
    process.exit(1);
});
