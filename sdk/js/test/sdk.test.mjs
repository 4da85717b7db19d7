// @phalanx/sdk against a real devnet (anvil, KMS, a worker, the gateway in the
// sim TEE). tests/sdk/sdk_js.sh starts one and runs `node --test` with
// PHX_ENDPOINTS set; by hand: `phx devnet` in one terminal, then
// PHX_ENDPOINTS=~/.phx/devnet/endpoints.json node --test sdk/js/test/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ethers } from 'ethers';
import { Phalanx, PhalanxError, checkContractKey, sealRequestInput, SEALED_REQUEST_MAGIC } from '../src/index.mjs';
import { fromEndpoints, simQuoteVerifier, intelQuoteVerifier } from '../src/node.mjs';

const FEE = 10n ** 19n;
const SECRET = 'hunter2-' + ethers.hexlify(ethers.randomBytes(6)).slice(2);
// Returns what it was given in a form that does not repeat the secret, so the
// secret's absence on chain is the sealing's doing.
const CODE = `export default async function (input) {
  if (!input || typeof input.secret !== 'string') throw new Error('no secret in ' + JSON.stringify(input));
  return { sum: input.a + input.b, secretLength: input.secret.length };
}
`;
let px, sim, id, otherId;

before(async () => {
  const file = process.env.PHX_ENDPOINTS;
  assert.ok(file, 'PHX_ENDPOINTS must name a running devnet\'s endpoints.json');
  px = await fromEndpoints(file);
  sim = await simQuoteVerifier(px.endpoints.sim_dir);
  ({ id } = await px.deploy(CODE, { filename: 'secret_sum.js' }));
  ({ id: otherId } = await px.deploy('export default async function () { return "other"; }\n'));
});
after(() => px && px.provider.destroy());

test('deploy records the contract on chain under the owner', async () => {
  const c = await px.jobs().contracts(id);
  assert.equal(c.owner, await px.signer.getAddress());
  assert.equal(c.codeHash, ethers.keccak256(ethers.toUtf8Bytes(CODE)));
});

test('call: a plain call returns the output and its signed envelope', async () => {
  const r = await px.call(id, { a: 20, b: 22, secret: 'x' });
  assert.deepEqual(r.output, { sum: 42, secretLength: 1 });
  assert.equal(r.envelope.ok, true);
});

test('call: each call is its own request; a retry with its nonce is the same one', async () => {
  const a = await px.call(id, { a: 1, b: 1, secret: 'n' });
  const b = await px.call(id, { a: 1, b: 1, secret: 'n' });
  assert.notEqual(a.envelope.request_id, b.envelope.request_id);
  const nonce = ethers.hexlify(ethers.randomBytes(32));
  const c = await px.call(id, { a: 1, b: 1, secret: 'n' }, { nonce });
  const d = await px.call(id, { a: 1, b: 1, secret: 'n' }, { nonce });
  assert.equal(c.envelope.nonce, nonce);
  assert.equal(c.envelope.request_id, d.envelope.request_id);
  assert.ok((await px.verify(d.envelope, { quoteVerifier: sim })).ok);
  const moved = await px.verify({ ...d.envelope, nonce: ethers.hexlify(ethers.randomBytes(32)) }, { quoteVerifier: sim });
  assert.equal(moved.broken, 'signature');
  assert.match(moved.links[0].reason, /does not commit to the input hash and nonce/);
  await assert.rejects(px.call(id, 1, { nonce: '0x12' }), /32 bytes/);
});

test('call: a contract that throws is a PhalanxError naming what it threw', async () => {
  await assert.rejects(px.call(id, { a: 1 }), (e) => e instanceof PhalanxError && /no secret in/.test(e.message) && e.envelope.ok === false);
});

test('seal + call round trip: the gateway and the envelope never see the input or output in clear', async () => {
  const r = await px.call(id, { a: 1, b: 2, secret: SECRET }, { encrypt: true });
  assert.deepEqual(r.output, { sum: 3, secretLength: SECRET.length });
  const wire = JSON.stringify(r.envelope);
  assert.ok(!wire.includes(SECRET) && !wire.includes(ethers.hexlify(ethers.toUtf8Bytes(SECRET)).slice(2)));
  assert.ok(!wire.includes('secretLength'), 'the signed output is the sealed reply');
});

test('the contract key must be signed by the trusted KMS', async () => {
  const doc = await px.http('GET', `/v1/contracts/${id}/pubkey`);
  assert.equal(checkContractKey(doc, id, px.kmsAddress).length, 32);
  assert.throws(() => checkContractKey(doc, id, ethers.Wallet.createRandom().address), /not the trusted KMS/);
  assert.throws(() => checkContractKey(doc, otherId, px.kmsAddress), /is for/);
  const forged = { ...doc, x25519_pub: ethers.hexlify(ethers.randomBytes(32)) };
  assert.throws(() => checkContractKey(forged, id, px.kmsAddress), /not the trusted KMS/);
  const wrongKms = new Phalanx({ gateway: px.gateway, kmsAddress: ethers.Wallet.createRandom().address });
  await assert.rejects(wrongKms.call(id, { a: 1, b: 1, secret: 's' }, { encrypt: true }), /not the trusted KMS/);
});

test('verify: a devnet result passes every link, down to the quote', async () => {
  const r = await px.call(id, { a: 2, b: 3, secret: 'v' });
  const v = await px.verify(r.envelope, { quoteVerifier: sim });
  assert.deepEqual(v.links.map((l) => [l.name, l.pass]), [
    ['signature', true], ['deployment', true], ['registered', true], ['quote', true],
    ['binding', true], ['measurement', true], ['kms', true]]);
  assert.ok(v.ok);
  assert.match(v.links[3].reason, /TCB UpToDate under the devnet sim root/);
  // fromEndpoints trusts the devnet's sim root by default, as phx verify does.
  assert.ok((await px.verify(r.envelope)).ok);
});

test('verify: a tampered result is rejected, naming the broken link', async () => {
  const r = await px.call(id, { a: 2, b: 3, secret: 'v' });
  const out = { ...r.envelope, output_bytes: ethers.hexlify(ethers.toUtf8Bytes('{"sum":6,"secretLength":1}')) };
  delete out.output;
  let v = await px.verify(out, { quoteVerifier: sim });
  assert.equal(v.ok, false);
  assert.equal(v.broken, 'signature');
  assert.match(v.links[0].reason, /recovers to 0x[0-9a-fA-F]{40}, not the worker/);
  assert.deepEqual(v.links.slice(1).map((l) => l.pass), [null, null, null, null, null, null]);
  // The output shown beside the bytes must be the bytes signed.
  v = await px.verify({ ...r.envelope, output: { sum: 6, secretLength: 1 } }, { quoteVerifier: sim });
  assert.equal(v.broken, 'signature');
  assert.match(v.links[0].reason, /not the output_bytes signed/);
  // A result for another chain.
  v = await px.verify({ ...r.envelope, chain_id: 1 }, { quoteVerifier: sim });
  assert.equal(v.broken, 'signature');
  // Signed correctly, but by a key no Registry knows.
  const fake = ethers.Wallet.createRandom();
  const forged = { ...r.envelope, worker: fake.address };
  const { resultDigest } = await import('../src/verify.mjs');
  forged.signature = fake.signingKey.sign(resultDigest(forged)).serialized;
  v = await px.verify(forged, { quoteVerifier: sim });
  assert.equal(v.broken, 'registered');
  assert.match(v.links[2].reason, /is none/);
  // The devnet's quotes do not verify to Intel's root.
  const col = JSON.parse(await readFile(path.join(px.endpoints.sim_dir, 'collateral.json'), 'utf8'));
  v = await px.verify(r.envelope, { quoteVerifier: intelQuoteVerifier(col) });
  assert.equal(v.broken, 'quote');
  assert.match(v.links[3].reason, /does not verify to the Intel root/);
  // Not an envelope at all.
  v = await px.verify({ hello: 1 }, { quoteVerifier: sim });
  assert.equal(v.broken, 'envelope');
});

test('request + callback: a sealed input reaches the contract, never the chain, and the consumer gets the result', async () => {
  const art = JSON.parse(await readFile(path.join(path.dirname(process.env.PHX_BIN), 'contracts', 'TestConsumer.json'), 'utf8'));
  const factory = new ethers.ContractFactory(art.abi, art.bytecode, px.signer);
  const consumer = await factory.deploy(px.deployment.contracts.Jobs, px.deployment.contracts.PhxToken);
  await consumer.waitForDeployment();
  const token = new ethers.Contract(px.deployment.contracts.PhxToken, ['function transfer(address,uint256) returns (bool)'], px.signer);
  await (await token.transfer(await consumer.getAddress(), FEE)).wait();

  const input = await px.requestInput(id, { a: 40, b: 2, secret: SECRET }, { encrypt: true });
  assert.equal(ethers.toUtf8String(ethers.dataSlice(input, 0, SEALED_REQUEST_MAGIC.length)), SEALED_REQUEST_MAGIC);
  const rc = await (await consumer.ask(id, input, FEE, 300000, 1)).wait();
  const requestId = px.requestIdOf(rc);
  const done = await px.waitForFulfilment(requestId, { timeoutMs: 90000 });
  assert.equal(done.status, 'fulfilled');
  assert.equal(done.callbackOk, true);
  assert.equal(done.ok, true);
  assert.deepEqual(done.output, { sum: 42, secretLength: SECRET.length });
  assert.equal(await consumer.outputHashOf(requestId), ethers.keccak256(done.outputBytes));
  // Nothing on chain carries the secret: the request's calldata, its logs.
  const tx = await px.provider.getTransaction(rc.hash);
  const secretHex = ethers.hexlify(ethers.toUtf8Bytes(SECRET)).slice(2);
  assert.ok(!tx.data.includes(secretHex));
  for (const l of rc.logs) assert.ok(!l.data.includes(secretHex));
  // And the job verifies from the chain alone.
  const v = await px.verify(requestId, { quoteVerifier: sim });
  assert.ok(v.ok, JSON.stringify(v.links));
});

test('request from the signer, plain input, followed to its fulfilment', async () => {
  const { requestId } = await px.request(id, { a: 5, b: 6, secret: 'abc' }, { fee: FEE });
  const done = await px.waitForFulfilment(requestId, { timeoutMs: 90000 });
  assert.deepEqual([done.status, done.output], ['fulfilled', { sum: 11, secretLength: 3 }]);
});

test('a request sealed to another contract\'s key fails with a clear error, delivered to the requester', async () => {
  const wrong = await sealRequestInput(await px.contractKey(otherId), otherId, JSON.stringify({ a: 1, b: 1, secret: SECRET }));
  const { requestId } = await px.request(id, wrong, { fee: FEE });
  const done = await px.waitForFulfilment(requestId, { timeoutMs: 90000 });
  assert.equal(done.status, 'fulfilled');
  assert.equal(done.output.error.code, 'sealed_input');
  assert.match(done.output.error.message, /does not open for this contract/);
});

test('request: an unknown contract is refused with the revert named', async () => {
  await assert.rejects(px.request(ethers.ZeroHash.replace(/0$/, '1'), 'x', { fee: 1000n }), /Jobs.request: reverted: UnknownContract\(0x0+1\)/);
});

test('logs and delete are the owner\'s only', async () => {
  const { id: t } = await px.deploy('export default async function (i) { console.log("seen " + i); return 1; }\n');
  await px.call(t, 7);
  const l = await px.logs(t);
  assert.ok(l.jobs.some((j) => JSON.stringify(j.logs).includes('seen 7')), JSON.stringify(l));
  const stranger = new Phalanx({ gateway: px.gateway, signer: ethers.Wallet.createRandom() });
  await assert.rejects(stranger.logs(t), (e) => e instanceof PhalanxError && e.status === 403);
  await assert.rejects(stranger.delete(t), (e) => e instanceof PhalanxError && e.status === 403);
  assert.equal((await px.call(t, 1)).output, 1);
  await px.delete(t);
  await assert.rejects(px.call(t, 1), /does not exist/);
});

test('update and setSecrets keep the id; a stranger cannot aim them at it', async () => {
  const v = (n) => `export default async function (i, ctx) { return { v: ${n}, k: ctx.secrets.K || null }; }\n`;
  const { id: t } = await px.deploy(v(1), { secrets: { K: 'one' } });
  assert.deepEqual((await px.call(t)).output, { v: 1, k: 'one' });
  const u = await px.update(t, v(2), { secrets: { K: 'two' } });
  assert.equal(u.id, t);
  assert.deepEqual((await px.call(t)).output, { v: 2, k: 'two' });
  assert.equal((await px.jobs().contracts(t)).codeHash, ethers.keccak256(ethers.toUtf8Bytes(v(2))));
  await px.setSecrets(t, { K: 'three' });
  assert.deepEqual((await px.call(t)).output, { v: 2, k: 'three' });
  const stranger = new Phalanx({ gateway: px.gateway, signer: ethers.Wallet.createRandom() });
  await assert.rejects(stranger.update(t, v(3)), /only its owner/);
  assert.deepEqual((await px.call(t)).output, { v: 2, k: 'three' });
});
