// Reads a contract's Jobs.Fired events and checks each against its firing id:
// prints {"firings":[{name,pos,worker,ok,output,checked}]}, where checked is
// whether the event's firing id is keccak256("<name>/<pos>") of the output's
// ctx.trigger (the contract under test returns {name,pos}), and the signature
// recovers to the recorded worker over Jobs.firingDigest.
// usage: node fired_events.js RPC JOBS CONTRACT_ID
const { ethers } = require("ethers");
(async () => {
    const [rpc, jobsAddr, id] = process.argv.slice(2);
    const provider = new ethers.JsonRpcProvider(rpc, undefined, { batchMaxCount: 1, cacheTimeout: -1 });
    const jobs = new ethers.Contract(jobsAddr, [
        "event Fired(bytes32 indexed contractId, bytes32 indexed firingId, address indexed worker, bytes32 codeHash, bool ok, bytes signature, bytes output)",
        "function firingDigest(bytes32,bytes32,bytes32,bool,bytes32) view returns (bytes32)"], provider);
    const logs = await jobs.queryFilter(jobs.filters.Fired(id), 0, "latest");
    const firings = [];
    for (const l of logs) {
        const [cid, fid, worker, codeHash, ok, sig, output] = l.args;
        let out = null;
        try { out = JSON.parse(ethers.toUtf8String(output)); } catch (_) { /* not JSON */ }
        const name = out && out.name, pos = out && out.pos;
        const want = ethers.keccak256(ethers.toUtf8Bytes(`${name}/${pos}`));
        const digest = await jobs.firingDigest(cid, fid, codeHash, ok, ethers.keccak256(output));
        const signer = ethers.recoverAddress(digest, sig);
        firings.push({ name, pos, worker, ok, output: out, block: l.blockNumber,
                       checked: want === fid && signer === worker });
    }
    console.log(JSON.stringify({ firings }));
})().catch((e) => { console.error(e.message || e); process.exit(1); });
