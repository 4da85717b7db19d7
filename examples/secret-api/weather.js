// A TEE contract holding an API key as a secret. Deploy with
//   phx deploy examples/secret-api/weather.js --secret API_KEY=...
// The CLI seals the key to this contract's KMS-signed X25519 key; only a worker
// inside an attested TEE opens it, and the key never appears in the output.
//
// input: {"city": "Lisbon", "url": "https://api.example/weather"}
export default async function (input, ctx) {
    const key = ctx.secrets && ctx.secrets.API_KEY;
    if (!key) throw new Error("deploy with --secret API_KEY=...");
    const url = String(input.url || "https://api.example/weather") +
        "?city=" + encodeURIComponent(String(input.city || "Lisbon"));
    const res = await fetch(url, { headers: { authorization: "Bearer " + key } });
    if (!res.ok) throw new Error("weather API answered " + res.status);
    const w = await res.json();
    return { city: input.city, temperature_c: w.temperature_c, conditions: w.conditions };
}
