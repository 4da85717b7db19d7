// A JSON-RPC proxy in front of anvil that behaves like a hosted provider: it
// refuses eth_getLogs over more than MAX blocks with an error, as Alchemy or
// Infura do. Prints its port, then serves until killed.
// Usage: node limit_proxy.mjs UPSTREAM_URL MAX_BLOCKS
import http from 'node:http';
const [upstream, maxArg] = process.argv.slice(2);
const max = BigInt(maxArg || 3);
let refused = 0;
const server = http.createServer(async (req, res) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  let msg;
  try { msg = JSON.parse(body); } catch { res.writeHead(400).end(); return; }
  if (msg.method === 'eth_getLogs') {
    const f = msg.params[0];
    const span = BigInt(f.toBlock) - BigInt(f.fromBlock) + 1n;
    if (span > max) {
      refused++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id,
        error: { code: -32005, message: `query exceeds max block range ${max} (refused ${refused})` } }));
      return;
    }
  }
  const r = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  res.writeHead(r.status, { 'content-type': 'application/json' });
  res.end(await r.text());
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
