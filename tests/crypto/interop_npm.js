#!/usr/bin/env node
// Interop with independent implementations from npm:
//  - HPKE: @hpke/core + @hpke/dhkem-x25519 + @hpke/chacha20poly1305 seal to a key from
//    `phx util hpke-keygen` and `phx util hpke-open` opens it; `phx util hpke-seal`
//    seals to a key made by @hpke and @hpke opens it. Random sizes, info and aad.
//  - EIP-191: ethers recovers the address of `phx util sign` over a random message,
//    and `phx util recover` recovers ethers' signMessage.
// CTest sets PHX_BIN (the phx under test) and PHX_NODE_MODULES (the repo's node_modules).
'use strict';
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');
const crypto = require('crypto');

const PHX = process.env.PHX_BIN;
const MODS = process.env.PHX_NODE_MODULES;
if (!PHX || !MODS) {
  console.error('interop_npm: PHX_BIN and PHX_NODE_MODULES must be set (CTest sets them)');
  process.exit(1);
}
const need = (name) => require(path.join(MODS, name));
const { CipherSuite, HkdfSha256 } = need('@hpke/core');
const { DhkemX25519HkdfSha256 } = need('@hpke/dhkem-x25519');
const { Chacha20Poly1305 } = need('@hpke/chacha20poly1305');
const ethers = need('ethers');

let pass = 0, fail = 0;
function check(ok, what) {
  if (ok) pass++;
  else { fail++; console.log('FAIL ' + what); }
}
const phx = (...args) => execFileSync(PHX, args, { encoding: 'utf8' }).trim();
const hex = (u8) => '0x' + Buffer.from(u8).toString('hex');
const bytes = (h) => new Uint8Array(Buffer.from(h.replace(/^0x/, ''), 'hex'));
const rand = (n) => new Uint8Array(crypto.randomBytes(n));
const randLen = (i) => [0, 1, 15, 16, 17, 100, 1024][i % 7] + (i >= 7 ? crypto.randomInt(0, 64) : 0);

async function hpke(rounds) {
  const suite = new CipherSuite({
    kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305(),
  });
  for (let i = 0; i < rounds; i++) {
    const pt = rand(randLen(i)), info = rand(i % 3 ? 8 : 0), aad = rand(i % 2 ? 5 : 0);

    // @hpke seals to a phx key; phx opens.
    const keys = JSON.parse(phx('util', 'hpke-keygen'));
    const recipientPublicKey = await suite.kem.deserializePublicKey(bytes(keys.pk).buffer);
    const sender = await suite.createSenderContext({ recipientPublicKey, info: info.buffer });
    const ct = new Uint8Array(await sender.seal(pt.buffer, aad.buffer));
    const opened = phx('util', 'hpke-open', '--sk', keys.sk, '--enc', hex(new Uint8Array(sender.enc)),
                       '--info', hex(info), '--aad', hex(aad), hex(ct));
    check(opened === hex(pt), `round ${i}: phx opened ${opened.slice(0, 20)}..., want ${hex(pt).slice(0, 20)}...`);

    // A modified ciphertext from @hpke is refused with exit 1.
    const bad = ct.slice();
    bad[bad.length - 1] ^= 0x80;
    const r = spawnSync(PHX, ['util', 'hpke-open', '--sk', keys.sk, '--enc',
                              hex(new Uint8Array(sender.enc)), '--info', hex(info), '--aad', hex(aad),
                              hex(bad)], { encoding: 'utf8' });
    check(r.status === 1 && r.stdout === '', `round ${i}: tampered ct gave exit ${r.status}`);

    // phx seals to an @hpke key; @hpke opens.
    const rkp = await suite.kem.generateKeyPair();
    const pkR = new Uint8Array(await suite.kem.serializePublicKey(rkp.publicKey));
    const sealed = JSON.parse(phx('util', 'hpke-seal', '--pk', hex(pkR), '--info', hex(info),
                                  '--aad', hex(aad), hex(pt)));
    const recipient = await suite.createRecipientContext({
      recipientKey: rkp, enc: bytes(sealed.enc).buffer, info: info.buffer,
    });
    let got = null;
    try { got = new Uint8Array(await recipient.open(bytes(sealed.ct).buffer, aad.buffer)); } catch (e) { got = String(e); }
    check(got instanceof Uint8Array && hex(got) === hex(pt), `round ${i}: @hpke could not open phx's seal: ${got}`);

    // phx's secret key, imported into @hpke, opens phx's own seal (key format agrees).
    const skR = await suite.kem.deserializePrivateKey(bytes(keys.sk).buffer);
    const sealed2 = JSON.parse(phx('util', 'hpke-seal', '--pk', keys.pk, hex(pt)));
    const rc2 = await suite.createRecipientContext({ recipientKey: skR, enc: bytes(sealed2.enc).buffer });
    const got2 = new Uint8Array(await rc2.open(bytes(sealed2.ct).buffer));
    check(hex(got2) === hex(pt), `round ${i}: @hpke with phx's sk could not open`);
  }
  console.log(`hpke interop with @hpke/core: ${rounds} rounds (both directions, tamper, key import)`);
}

async function eip191(rounds) {
  for (let i = 0; i < rounds; i++) {
    const wallet = ethers.Wallet.createRandom();
    const msg = rand(randLen(i));
    // Address derivation agrees.
    check(phx('util', 'address', '--key', wallet.privateKey) === wallet.address, `round ${i}: address`);
    // ethers recovers phx's signature.
    const sig = phx('util', 'sign', '--key', wallet.privateKey, hex(msg));
    check(ethers.verifyMessage(msg, sig) === wallet.address, `round ${i}: ethers.verifyMessage(phx sig)`);
    // RFC 6979 on both sides: the very same signature bytes.
    check(sig === (await wallet.signMessage(msg)), `round ${i}: signature bytes differ from ethers`);
    // phx recovers ethers' signature.
    const esig = await wallet.signMessage(msg);
    check(phx('util', 'recover', hex(msg), esig) === wallet.address, `round ${i}: phx recover(ethers sig)`);
  }
  console.log(`eip-191 interop with ethers ${ethers.version}: ${rounds} random keys and messages`);
}

(async () => {
  await hpke(14);
  await eip191(14);
  console.log(`interop_npm: ${pass} checks passed, ${fail} failed`);
  process.exit(fail || pass === 0 ? 1 : 0); // no check run is not a pass
})().catch((e) => { console.error('interop_npm: ' + (e.stack || e)); process.exit(1); });
