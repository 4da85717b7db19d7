// Sends N PHA transfers of 1 wei from KEY to TO, one after another with
// consecutive nonces, spaced DELAY ms apart, and prints the position of each
// one's Transfer log as an evm_log trigger names it: {"positions":["<block>.<log index>",...]}.
// usage: node send_transfers.js RPC KEY TOKEN TO N DELAY_MS
const { ethers } = require("ethers");
(async () => {
    const [rpc, key, tokenAddr, to, nStr, delayStr] = process.argv.slice(2);
    const provider = new ethers.JsonRpcProvider(rpc, undefined, { batchMaxCount: 1, cacheTimeout: -1 });
    const wallet = new ethers.Wallet(key, provider);
    const token = new ethers.Contract(tokenAddr, ["function transfer(address,uint256) returns (bool)"], wallet);
    const topic = ethers.id("Transfer(address,address,uint256)");
    let nonce = await provider.getTransactionCount(wallet.address, "pending");
    const sent = [];
    for (let i = 0; i < Number(nStr); i++) {
        sent.push(await token.transfer(to, 1n, { nonce: nonce++, gasLimit: 100000 }));
        await new Promise((r) => setTimeout(r, Number(delayStr)));
    }
    const positions = [];
    for (const tx of sent) {
        const rc = await tx.wait();
        for (const l of rc.logs)
            if (l.address.toLowerCase() === tokenAddr.toLowerCase() && l.topics[0] === topic &&
                ethers.getAddress(ethers.dataSlice(l.topics[2], 12)) === ethers.getAddress(to))
                positions.push(`${rc.blockNumber}.${l.index}`);
    }
    console.log(JSON.stringify({ positions }));
})().catch((e) => { console.error(e.message || e); process.exit(1); });
