// Helpers of cross_chain.sh, on one chain each:
//   deploy RPC KEY            compile the Emitter below (solc-js) and deploy it;
//                             prints its address
//   emit RPC KEY EMITTER N GAP_MS [FIRST]
//                             N calls ping(FIRST..FIRST+N-1) (FIRST 0 when
//                             not given), GAP_MS apart, each mined
//                             before the next; prints {"positions":[...]}, the
//                             position of each Ping log as a named-chain
//                             evm_log trigger names it ("<chain id>:<block>.<log index>")
//   txs RPC FROM              every transaction from FROM in every block, with
//                             its receipt status and calldata decoded as
//                             acted(uint256 id, uint256 block), and the block
//                             that mined it with its time:
//                             {"txs":[{nonce,to,hash,ok,selector,id,block,mined,time}]}
//   times RPC                 every block's timestamp: {"times":[t0, t1, ...]}
const { ethers } = require("ethers");

const SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Emitter {
    event Ping(uint256 indexed id, address indexed by);
    function ping(uint256 id) external { emit Ping(id, msg.sender); }
}`;

async function deploy(provider, key) {
    const solc = require("solc");
    const input = { language: "Solidity", sources: { "Emitter.sol": { content: SOURCE } },
                    settings: { outputSelection: { "*": { "*": ["evm.bytecode.object"] } } } };
    const out = JSON.parse(solc.compile(JSON.stringify(input)));
    for (const err of out.errors || []) if (err.severity === "error") throw new Error(err.formattedMessage);
    const bin = "0x" + out.contracts["Emitter.sol"].Emitter.evm.bytecode.object;
    const wallet = new ethers.Wallet(key, provider);
    const tx = await wallet.sendTransaction({ data: bin });
    const rc = await tx.wait();
    console.log(rc.contractAddress);
}

async function emit(provider, key, addr, n, gap, first) {
    const wallet = new ethers.Wallet(key, provider);
    const chainId = (await provider.getNetwork()).chainId;
    const em = new ethers.Contract(addr, ["function ping(uint256)"], wallet);
    const topic = ethers.id("Ping(uint256,address)");
    const positions = [];
    for (let i = 0; i < n; i++) {
        const rc = await (await em.ping(first + i, { gasLimit: 100000 })).wait();
        for (const l of rc.logs)
            if (l.address.toLowerCase() === addr.toLowerCase() && l.topics[0] === topic)
                positions.push(`${chainId}:${rc.blockNumber}.${l.index}`);
        await new Promise((r) => setTimeout(r, gap));
    }
    console.log(JSON.stringify({ positions }));
}

async function txs(provider, from) {
    const head = await provider.getBlockNumber();
    const sel = ethers.id("acted(uint256,uint256)").slice(0, 10);
    const found = [];
    for (let b = 0; b <= head; b++) {
        const blk = await provider.getBlock(b, true);
        for (const tx of blk.prefetchedTransactions) {
            if (tx.from.toLowerCase() !== from.toLowerCase()) continue;
            const rc = await provider.getTransactionReceipt(tx.hash);
            const row = { nonce: tx.nonce, to: tx.to, hash: tx.hash, ok: rc.status === 1,
                          selector: tx.data.slice(0, 10), id: null, block: null,
                          mined: blk.number, time: blk.timestamp };
            if (row.selector === sel && tx.data.length === 10 + 128) {
                const [id, at] = ethers.AbiCoder.defaultAbiCoder().decode(["uint256", "uint256"],
                                                                          "0x" + tx.data.slice(10));
                row.id = Number(id);
                row.block = Number(at);
            }
            found.push(row);
        }
    }
    console.log(JSON.stringify({ txs: found }));
}

async function times(provider) {
    const head = await provider.getBlockNumber();
    const out = [];
    for (let b = 0; b <= head; b++) out.push((await provider.getBlock(b)).timestamp);
    console.log(JSON.stringify({ times: out }));
}

(async () => {
    const [cmd, rpc, ...rest] = process.argv.slice(2);
    const provider = new ethers.JsonRpcProvider(rpc, undefined, { batchMaxCount: 1, pollingInterval: 200, cacheTimeout: -1 });
    if (cmd === "deploy") return deploy(provider, rest[0]);
    if (cmd === "emit") return emit(provider, rest[0], rest[1], Number(rest[2]), Number(rest[3]),
                                         Number(rest[4] || 0));
    if (cmd === "txs") return txs(provider, rest[0]);
    if (cmd === "times") return times(provider);
    throw new Error("usage: cross_chain.js deploy|emit|txs|times RPC ...");
})().catch((e) => { console.error(e.message || e); process.exit(1); });
