#!/usr/bin/env node
// An independent client/worker for the confidential-call format (worker.h):
// @hpke/core for HPKE (info = label || contract_id, reply key exported as
// "phx-reply-v1") and Node's own ChaCha20-Poly1305 for replies. Driven by
// tests/worker/test_confidential.c; prints one JSON object.
//   seal PUB CID LABEL MSG             -> {"enc","ciphertext","reply_key"}
//   open SK CID LABEL ENC CT           -> {"plaintext","reply_key"}
//   seal-reply KEY CID MSG             -> {"ciphertext"}
//   open-reply KEY CID CT              -> {"plaintext"}   (exit 1 if it does not open)
'use strict';
const path = require('path');
const crypto = require('crypto');
const MODS = process.env.PHX_NODE_MODULES || path.join(__dirname, '../../node_modules');
const need = (name) => require(path.join(MODS, name));
const { CipherSuite, HkdfSha256 } = need('@hpke/core');
const { DhkemX25519HkdfSha256 } = need('@hpke/dhkem-x25519');
const { Chacha20Poly1305 } = need('@hpke/chacha20poly1305');

const bytes = (h) => new Uint8Array(Buffer.from(h.replace(/^0x/, ''), 'hex'));
const hex = (u8) => '0x' + Buffer.from(u8).toString('hex');
const info = (label, cid) => new Uint8Array(Buffer.concat([Buffer.from(label, 'utf8'), Buffer.from(bytes(cid))]));
const REPLY = new TextEncoder().encode('phx-reply-v1');

function reply(key, cid, data, seal) {
  const nonce = Buffer.alloc(12);
  if (seal) {
    const c = crypto.createCipheriv('chacha20-poly1305', Buffer.from(bytes(key)), nonce, { authTagLength: 16 });
    c.setAAD(Buffer.from(bytes(cid)), { plaintextLength: data.length });
    return Buffer.concat([c.update(Buffer.from(data)), c.final(), c.getAuthTag()]);
  }
  const ct = Buffer.from(data);
  const d = crypto.createDecipheriv('chacha20-poly1305', Buffer.from(bytes(key)), nonce, { authTagLength: 16 });
  d.setAAD(Buffer.from(bytes(cid)), { plaintextLength: ct.length - 16 });
  d.setAuthTag(ct.subarray(ct.length - 16));
  return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
}

async function main() {
  const [mode, ...a] = process.argv.slice(2);
  const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });
  if (mode === 'seal') {
    const [pub, cid, label, msg] = a;
    const recipientPublicKey = await suite.kem.deserializePublicKey(bytes(pub).buffer);
    const s = await suite.createSenderContext({ recipientPublicKey, info: info(label, cid).buffer });
    const ct = new Uint8Array(await s.seal(bytes(msg).buffer));
    const key = new Uint8Array(await s.export(REPLY.buffer, 32));
    console.log(JSON.stringify({ enc: hex(new Uint8Array(s.enc)), ciphertext: hex(ct), reply_key: hex(key) }));
  } else if (mode === 'open') {
    const [sk, cid, label, enc, ct] = a;
    const recipientKey = await suite.kem.deserializePrivateKey(bytes(sk).buffer);
    const r = await suite.createRecipientContext({ recipientKey, enc: bytes(enc).buffer, info: info(label, cid).buffer });
    const pt = new Uint8Array(await r.open(bytes(ct).buffer));
    const key = new Uint8Array(await r.export(REPLY.buffer, 32));
    console.log(JSON.stringify({ plaintext: hex(pt), reply_key: hex(key) }));
  } else if (mode === 'seal-reply') {
    const [key, cid, msg] = a;
    console.log(JSON.stringify({ ciphertext: hex(reply(key, cid, bytes(msg), true)) }));
  } else if (mode === 'open-reply') {
    const [key, cid, ct] = a;
    console.log(JSON.stringify({ plaintext: hex(reply(key, cid, bytes(ct), false)) }));
  } else {
    throw new Error('unknown mode ' + mode);
  }
}
main().catch((e) => { console.error(String(e)); process.exit(1); });
