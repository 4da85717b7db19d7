// JSON transform: an oracle-style reshaping of a 200-item price list.
function main(request) {
  const input = JSON.parse(request);
  const bySymbol = {};
  for (const q of input.quotes) {
    const s = (bySymbol[q.symbol] ??= { symbol: q.symbol, n: 0, sum: 0, min: Infinity, max: -Infinity, venues: [] });
    s.n++; s.sum += q.price; s.min = Math.min(s.min, q.price); s.max = Math.max(s.max, q.price);
    if (!s.venues.includes(q.venue)) s.venues.push(q.venue);
  }
  const out = Object.values(bySymbol).map((s) => ({
    symbol: s.symbol, mean: Math.round((s.sum / s.n) * 1e6) / 1e6, spread: s.max - s.min,
    venues: s.venues.sort(), label: `${s.symbol}/USD`,
  })).sort((a, b) => a.symbol.localeCompare(b.symbol));
  return JSON.stringify({ ts: input.ts, count: input.quotes.length, symbols: out });
}
