// bench/network paid direct calls: one keep-alive client makes paid calls to
// each worker URL in turn, call by call, ROUNDS x CALLS per worker, signing an
// EIP-712 voucher (Payments' domain) per call for what the last answer said
// is owed plus the price per call: one running total for the operator, as
// the workers share it (the KMS's voucher ledger). A call that meets a 402
// (the total moved elsewhere) is signed again at the amount the 402 names
// and not timed. Prints one JSON line per worker URL:
// {"url","calls","retried","p50_us","p90_us","mean_us"}.
// usage: node paid_client.mjs KEY CONTRACT_ID PAYMENTS CHAIN_ID OPERATOR ROUNDS CALLS URL...
import http from "node:http";
import { Wallet, keccak256, toUtf8Bytes, concat } from "ethers";

const [key, contractId, payments, chainId, operator, rounds, calls, ...urls] = process.argv.slice(2);
const wallet = new Wallet(key);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const domain = { name: "Phalanx Payments", version: "1", chainId: Number(chainId), verifyingContract: payments };
const types = {
    Voucher: [
        { name: "payer", type: "address" },
        { name: "operator", type: "address" },
        { name: "cumulative", type: "uint256" },
        { name: "callHash", type: "bytes32" },
    ],
};

function post(url, body) {
    return new Promise((resolve, reject) => {
        const data = Buffer.from(JSON.stringify(body));
        const req = http.request(
            url,
            { method: "POST", agent, headers: { "Content-Type": "application/json", "Content-Length": data.length } },
            (res) => {
                const chunks = [];
                res.on("data", (c) => chunks.push(c));
                res.on("end", () => resolve({ status: res.statusCode, json: JSON.parse(Buffer.concat(chunks).toString()) }));
            },
        );
        req.on("error", reject);
        req.end(data);
    });
}

let n = 0;
async function call(base, owed) {
    const input = n++;
    const callHash = keccak256(concat([toUtf8Bytes("phx-call-v1"), contractId, keccak256(toUtf8Bytes(JSON.stringify(input)))]));
    const sign = async (cumulative) => ({
        payer: wallet.address,
        operator,
        cumulative: cumulative.toString(),
        signature: await wallet.signTypedData(domain, types, { payer: wallet.address, operator, cumulative, callHash }),
    });
    const url = `${base}/v1/contracts/${contractId}/call`;
    let voucher = await sign(owed.next);
    const t0 = process.hrtime.bigint();
    let r = await post(url, { input, voucher });
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    let retried = false;
    if (r.status === 402 && r.json.payment && r.json.payment.required_cumulative) {
        retried = true;
        voucher = await sign(BigInt(r.json.payment.required_cumulative));
        r = await post(url, { input, voucher });
    }
    if (r.status !== 200) throw new Error(`${base}: ${r.status} ${JSON.stringify(r.json)}`);
    owed.next = BigInt(r.json.payment.charged) + BigInt(r.json.payment.price_per_call);
    return retried ? null : us;
}

const owed = { next: 1n }; // one total per payer and operator, whichever worker serves
const stats = new Map(urls.map((u) => [u, { times: [], retried: 0, owed }]));
for (const u of urls) await call(u, owed).catch(() => call(u, owed)); // warm up
// Call by call in turn, so the machine's load falls on both alike.
for (let r = 0; r < Number(rounds) * Number(calls); r++) {
    for (const u of urls) {
        const s = stats.get(u);
        const us = await call(u, s.owed);
        if (us === null) s.retried++;
        else s.times.push(us);
    }
}
for (const u of urls) {
    const s = stats.get(u);
    const t = s.times.sort((a, b) => a - b);
    const q = (p) => Math.round(t[Math.min(t.length - 1, Math.floor(p * t.length))]);
    const mean = Math.round(t.reduce((a, b) => a + b, 0) / t.length);
    console.log(JSON.stringify({ url: u, calls: t.length, retried: s.retried, p50_us: q(0.5), p90_us: q(0.9), mean_us: mean }));
}
agent.destroy();
