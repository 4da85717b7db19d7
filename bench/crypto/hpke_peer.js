#!/usr/bin/env node
// Peer for bench/crypto: ops/s of @hpke/core (+ dhkem-x25519, chacha20poly1305)
// single-shot seal and open of 1 KiB, the same suite and sizes as bench_crypto.
// Usage: hpke_peer.js NODE_MODULES_DIR [SECONDS]. Prints "name ops_per_second" lines.
'use strict';
const path = require('path');
const crypto = require('crypto');
const mods = process.argv[2];
const seconds = Number(process.argv[3] || 1);
const need = (n) => require(path.join(mods, n));
const { CipherSuite, HkdfSha256 } = need('@hpke/core');
const { DhkemX25519HkdfSha256 } = need('@hpke/dhkem-x25519');
const { Chacha20Poly1305 } = need('@hpke/chacha20poly1305');

async function measure(op) {
  for (let i = 0; i < 10; i++) await op();
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  let n = 0, elapsed;
  do {
    for (let i = 0; i < 16; i++) await op();
    n += 16;
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < budget);
  return (n * 1e9) / Number(elapsed);
}

(async () => {
  const suite = new CipherSuite({
    kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305(),
  });
  const pt = crypto.randomBytes(1024);
  const info = new TextEncoder().encode('info');
  const rkp = await suite.kem.generateKeyPair();
  const sealed = await suite.seal({ recipientPublicKey: rkp.publicKey, info }, pt);
  const seal = () => suite.seal({ recipientPublicKey: rkp.publicKey, info }, pt);
  const open = () => suite.open({ recipientKey: rkp, enc: sealed.enc, info }, sealed.ct);
  console.log(`hpke_seal_1k ${(await measure(seal)).toFixed(0)}`);
  console.log(`hpke_open_1k ${(await measure(open)).toFixed(0)}`);
})();
