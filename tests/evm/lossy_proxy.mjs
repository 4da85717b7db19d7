// A JSON-RPC proxy in front of anvil that loses the node's answer to the first
// eth_sendRawTransaction: it forwards the request (so the node accepts the
// transaction), then drops the connection without replying, as a flaky network
// or load balancer can. The client sees a transport error and retries.
// Prints its port, then serves until killed. Usage: node lossy_proxy.mjs UPSTREAM_URL
import http from 'node:http';
const [upstream] = process.argv.slice(2);
let lost = 0;
const server = http.createServer(async (req, res) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  const r = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await r.text();
  let msg = null;
  try { msg = JSON.parse(body); } catch { /* forwarded as it is */ }
  if (msg && msg.method === 'eth_sendRawTransaction' && lost === 0) {
    lost++;
    req.socket.destroy(); // the node has the transaction; the client never hears so
    return;
  }
  res.writeHead(r.status, { 'content-type': 'application/json' });
  res.end(text);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
