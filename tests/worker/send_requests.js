// Sends N Jobs.request transactions from one account with consecutive nonces
// (no nonce races, unlike one `cast send` per request) and waits until all are
// mined. Prints the first and last request id and the fee of one as JSON.
// usage: node send_requests.js RPC KEY JOBS TOKEN CONTRACT_ID N [K]
// K: signatures each request asks for (default 1); it pays K * feePerWorker.
const { ethers } = require("ethers");
(async () => {
    const [rpc, key, jobsAddr, tokenAddr, id, nStr] = process.argv.slice(2);
    const n = Number(nStr);
    const k = Number(process.argv[8] || 1);
    // cacheTimeout -1: ethers otherwise answers a repeated call made within
    // 250 ms from its cache, so a nonce asked again after "nonce too low" came
    // back as the same stale count and every retry failed (kofn, seen in CI).
    const provider = new ethers.JsonRpcProvider(rpc, undefined, { batchMaxCount: 1, cacheTimeout: -1 });
    const wallet = new ethers.Wallet(key, provider);
    const jobs = new ethers.Contract(jobsAddr, [
        "function request(bytes32,bytes,uint256,uint32,uint8) returns (uint256)",
        "function requestCount() view returns (uint256)",
        "function feePerWorker() view returns (uint256)"], wallet);
    const token = new ethers.Contract(tokenAddr, ["function approve(address,uint256) returns (bool)"], wallet);
    const fee = (await jobs.feePerWorker()) * BigInt(k);
    const approval = await token.approve(jobsAddr, fee * BigInt(n));
    await approval.wait();
    const first = (await jobs.requestCount()) + 1n;
    // The approval is mined, so the node's count is at least one past it.
    let nonce = Math.max(approval.nonce + 1, await provider.getTransactionCount(wallet.address, "pending"));
    const sent = [];
    for (let i = 1; i <= n; i++) {
        const input = ethers.toUtf8Bytes(JSON.stringify({ i }));
        // A node that answers "nonce too low" has counted a transaction of ours
        // that "pending" had not shown yet (seen on a loaded machine): this
        // request was not sent, so send it again with the node's count.
        for (let tries = 0; ; tries++) {
            try {
                sent.push(await jobs.request(id, input, fee, 100000, k, { nonce, gasLimit: 400000 }));
                nonce++;
                break;
            } catch (e) {
                if (e.code !== "NONCE_EXPIRED" || tries >= 5) throw e;
                await new Promise((r) => setTimeout(r, 200 * (tries + 1)));
                nonce = Math.max(nonce + 1, await provider.getTransactionCount(wallet.address, "pending"));
            }
        }
    }
    for (const tx of sent) {
        const r = await tx.wait();
        if (r.status !== 1) throw new Error("request reverted: " + tx.hash);
    }
    console.log(JSON.stringify({ first: Number(first), last: Number(first) + n - 1, fee: fee.toString() }));
})().catch((e) => { console.error(e.message || e); process.exit(1); });
