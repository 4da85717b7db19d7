// A confidential price oracle (a TEE contract). It fetches a price from one
// fixed HTTP API, checks it, and returns it as JSON; the worker signs the result
// with its attested key, so a contract on chain (PriceConsumer.sol) or anyone
// with `phx verify` can trust it came from this exact code inside a TEE.
//
// The source is part of the code, never of the input: the code hash that the
// chain records and `phx verify` checks then also pins where prices come from.
// An oracle that fetched a URL named by its caller would sign whatever that
// caller's server said. To use another API, change SOURCE and deploy a new
// version (the demo does this to point it at a local stand-in API).
const SOURCE = "https://api.coinbase.com/v2/prices/{pair}/spot";

// input: {"pair": "ETH/USD"} from `phx call`, or, from a chain request
// (PriceConsumer.sol), the ABI encoding of the string pair, which the worker
// hands over as a "0x..." hex string. Any other field is ignored.
const PAIR = /^[A-Z0-9]{2,10}\/[A-Z0-9]{2,10}$/;

function abiString(hex) {
    // abi.encode(string): offset (32), length, then the bytes, padded.
    const b = hex.slice(2);
    if (b.length < 128 || b.length % 64 || !/^[0-9a-fA-F]*$/.test(b)) throw new Error("bad ABI input");
    if (BigInt("0x" + b.slice(0, 64)) !== 32n) throw new Error("bad ABI input: offset");
    const len = Number(BigInt("0x" + b.slice(64, 128)));
    if (len > 32 || 128 + 2 * len > b.length) throw new Error("bad ABI input: length");
    let s = "";
    for (let i = 0; i < len; i++) s += String.fromCharCode(parseInt(b.substr(128 + 2 * i, 2), 16));
    return s;
}

export default async function (input, ctx) {
    const pair = typeof input === "string" && input.startsWith("0x") ? abiString(input)
        : String(input && input.pair || "ETH/USD");
    if (!PAIR.test(pair)) throw new Error("pair must look like ETH/USD");
    const url = SOURCE.replace("{pair}", pair.replace("/", "-"));
    const res = await fetch(url, { headers: { accept: "application/json" } });
    if (!res.ok) throw new Error("price API answered " + res.status);
    const body = await res.json();
    // Two common shapes: {"price": 123.4} and Coinbase's {"data": {"amount": "123.4"}}.
    const price = Number(body.price !== undefined ? body.price : body.data && body.data.amount);
    if (!Number.isFinite(price) || price <= 0) throw new Error("no price in the answer");
    console.log("price", pair, price);
    // The host the price came from (the sandbox has no URL global yet).
    const source = (SOURCE.match(/^[a-z]+:\/\/([^/?#]+)/i) || [])[1] || "";
    return { pair, price, source, contract: ctx.contractId };
}
