// Confidential inputs (include/phx/worker.h, docs/worker.md): HPKE base mode,
// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305, to the
// contract's X25519 key with info = label || contract id. The key is taken
// only from a document the KMS signed, checked here against the KMS address
// the caller trusts (never the gateway's word).
import { ethers } from 'ethers';
import { CipherSuite, HkdfSha256 } from '@hpke/core';
import { DhkemX25519HkdfSha256 } from '@hpke/dhkem-x25519';
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305';

export const SEAL_INPUT = 'phx-input-v1'; // a direct call (reply sealed back)
export const SEAL_SECRET = 'phx-secret-v2'; // a deploy's secrets (AAD = code hash)
export const SEAL_REQUEST = 'phx-request-v1'; // an on-chain request's input
export const SEALED_REQUEST_MAGIC = 'phx-sealed-v1'; // prefix of a sealed request input
const REPLY_LABEL = new TextEncoder().encode('phx-reply-v1');

const suite = () => new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });
const ab = (u8) => u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength);
const utf8 = (t) => new TextEncoder().encode(t);
const toBytes = (x) => (typeof x === 'string' ? (/^0x([0-9a-fA-F]{2})*$/.test(x) ? ethers.getBytes(x) : utf8(x)) : new Uint8Array(x));

// The contract key document the KMS signs (GET /v1/contracts/<id>/pubkey):
// the digest is keccak256("phx-contract-pubkey-v1" || id || x25519 || address).
// Returns the X25519 public key as bytes, or throws naming what is wrong.
export function checkContractKey(doc, contractId, kmsAddress) {
  for (const k of ['contract_id', 'x25519_pub', 'address', 'signature'])
    if (typeof (doc && doc[k]) !== 'string') throw new Error(`the contract key document has no ${k}`);
  if (doc.contract_id.toLowerCase() !== String(contractId).toLowerCase())
    throw new Error(`the contract key is for ${doc.contract_id}, not ${contractId}`);
  const digest = ethers.keccak256(ethers.concat([utf8('phx-contract-pubkey-v1'), doc.contract_id, doc.x25519_pub, doc.address]));
  let signer;
  try {
    signer = ethers.recoverAddress(digest, doc.signature);
  } catch (e) {
    throw new Error(`the contract key's signature does not parse: ${e.shortMessage || e.message}`);
  }
  if (signer.toLowerCase() !== String(kmsAddress).toLowerCase())
    throw new Error(`the contract key is signed by ${signer}, not the trusted KMS ${kmsAddress}`);
  const pub = ethers.getBytes(doc.x25519_pub);
  if (pub.length !== 32) throw new Error('the contract key is not 32 bytes');
  return pub;
}

// HPKE-seal plaintext (bytes, 0x hex or text) to a contract key.
// Returns {enc, ciphertext} as 0x hex and, for a call, the reply key.
export async function seal(contractPub, contractId, label, plaintext, aad) {
  const s = suite();
  const recipientPublicKey = await s.kem.deserializePublicKey(ab(new Uint8Array(contractPub)));
  const info = ethers.getBytes(ethers.concat([utf8(label), contractId]));
  const ctx = await s.createSenderContext({ recipientPublicKey, info: ab(info) });
  const ct = new Uint8Array(await ctx.seal(ab(toBytes(plaintext)), aad ? ab(ethers.getBytes(aad)) : undefined));
  const replyKey = new Uint8Array(await ctx.export(ab(REPLY_LABEL), 32));
  return { enc: ethers.hexlify(new Uint8Array(ctx.enc)), ciphertext: ethers.hexlify(ct), replyKey };
}

// The input of an on-chain request, sealed: "phx-sealed-v1" || enc || ciphertext
// (label phx-request-v1). The worker opens it in its TEE; the chain sees only this.
export async function sealRequestInput(contractPub, contractId, plaintext) {
  const { enc, ciphertext } = await seal(contractPub, contractId, SEAL_REQUEST, plaintext);
  return ethers.concat([utf8(SEALED_REQUEST_MAGIC), enc, ciphertext]);
}

// Opens a sealed call's reply (the envelope's output_bytes): ChaCha20-Poly1305
// under the call's reply key, nonce 0, AAD = contract id.
export async function openReply(replyKey, contractId, outputBytes) {
  const aead = new Chacha20Poly1305().createEncryptionContext(ab(new Uint8Array(replyKey)));
  try {
    return new Uint8Array(await aead.open(ab(new Uint8Array(12)), ab(ethers.getBytes(outputBytes)), ab(ethers.getBytes(contractId))));
  } catch {
    throw new Error('the sealed reply does not open with this call\'s key');
  }
}
