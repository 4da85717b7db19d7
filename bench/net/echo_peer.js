#!/usr/bin/env node
// The peer server for bench/net: Node's http module answering the same routes as
// `bench_net serve` (POST /v1/echo echoes the JSON body, GET /healthz), with the
// same work per request (parse, serialise). Prints its port.
'use strict';
const http = require('http');
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end('{"ok":true}');
  }
  if (req.method !== 'POST' || req.url !== '/v1/echo') {
    res.writeHead(404, { 'content-type': 'application/json' });
    return res.end('{"error":{"code":"not_found","message":"no such endpoint"}}');
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try { body = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8'))); } catch (e) {
      res.writeHead(400, { 'content-type': 'application/json' });
      return res.end('{"error":{"code":"invalid","message":"bad JSON"}}');
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => { console.log(server.address().port); });
process.on('SIGTERM', () => server.close(() => process.exit(0)));
