// A TEE contract holding an API key as a secret. Deploy with
//   phx deploy examples/secret-api/weather.js --secret API_KEY=...
// The CLI seals the key to this contract's KMS-signed X25519 key; only a worker
// inside an attested TEE opens it, and the key never appears in the output.
//
// The key goes to one fixed host, written here in the code (and so pinned by
// the code hash): a contract that sent its bearer key to a URL its caller
// chose would hand the key to anyone who asked. The caller only picks the
// city, which is escaped into the query. fetch also drops the Authorization
// header should the API redirect to another origin.
const API = "https://api.example/weather";

// input: {"city": "Lisbon"}; any other field is ignored.
export default async function (input, ctx) {
    const key = ctx.secrets && ctx.secrets.API_KEY;
    if (!key) throw new Error("deploy with --secret API_KEY=...");
    const city = String(input && input.city || "Lisbon");
    if (city.length > 64) throw new Error("city name too long");
    const res = await fetch(API + "?city=" + encodeURIComponent(city), {
        headers: { authorization: "Bearer " + key },
    });
    if (!res.ok) throw new Error("weather API answered " + res.status);
    const w = await res.json();
    return { city, temperature_c: w.temperature_c, conditions: w.conditions };
}
