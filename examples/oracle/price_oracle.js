// A confidential price oracle (a TEE contract). It fetches a price from an HTTP
// API, checks it, and returns it as JSON; the worker signs the result with its
// attested key, so a contract on chain (PriceConsumer.sol) or anyone with
// `phx verify` can trust it came from this exact code inside a TEE.
//
// input: {"pair": "ETH/USD", "url": "https://api.example/price?pair=ETH/USD"}
export default async function (input, ctx) {
    const pair = String(input && input.pair || "ETH/USD");
    const url = String(input && input.url || "https://api.coinbase.com/v2/prices/" +
        encodeURIComponent(pair.replace("/", "-")) + "/spot");
    const res = await fetch(url, { headers: { accept: "application/json" } });
    if (!res.ok) throw new Error("price API answered " + res.status);
    const body = await res.json();
    // Two common shapes: {"price": 123.4} and Coinbase's {"data": {"amount": "123.4"}}.
    const price = Number(body.price !== undefined ? body.price : body.data && body.data.amount);
    if (!Number.isFinite(price) || price <= 0) throw new Error("no price in the answer");
    console.log("price", pair, price);
    // The host the price came from (the sandbox has no URL global yet).
    const source = (url.match(/^[a-z]+:\/\/([^/?#]+)/i) || [])[1] || "";
    return { pair, price, source, contract: ctx.contractId };
}
