// Verify a result completely: the same links as `phx verify`
// (src/worker/verify.c, docs/worker.md): signature, deployment, registered,
// quote, binding, measurement, kms. Shared by the SDK (Node) and the gateway
// console's Verify page (src/gateway/console/verify.mjs imports this file and
// esbuild bundles it), so the two cannot drift. Nothing here touches the DOM
// or Node's own modules; how a quote is checked against a root is passed in
// (quoteVerifier below) so the browser can use @phala/dcap-qvl-web for
// Intel's root while Node uses @phala/dcap-qvl.
import { ethers } from 'ethers';

export const REGISTRY_ABI = [
  'function workers(address) view returns (address operator, uint8 status, uint32 teeType, uint64 registeredAt, bytes32 x25519, bytes32 measurement, bytes32 quoteHash, address kms)',
  'function measurementAllowed(bytes32) view returns (bool)',
  'function isKms(address) view returns (bool)',
  'function kmsNodes(address) view returns (uint8 status, uint32 teeType, uint64 admittedAt, address admittedBy, bytes32 x25519, bytes32 measurement, bytes32 quoteHash, bytes32 collateralHash)',
  'event KmsAdmitted(address indexed kms, address indexed admittedBy, bytes32 x25519, bytes32 measurement, uint32 teeType, bytes32 quoteHash, bytes32 collateralHash, bytes32 nonce, bytes quote)',
  'event WorkerRegistered(address indexed worker, address indexed operator, address indexed kms, bytes32 x25519, bytes32 measurement, uint32 teeType, bytes32 quoteHash, bytes32 nonce, bytes quote)',
];
export const JOBS_ABI = [
  'function registry() view returns (address)',
  'function requests(uint256) view returns (address requester, uint8 status, uint8 k, uint32 callbackGasLimit, uint8 minTeeKinds, uint64 deadline, bytes32 contractId, bytes32 codeHash, uint256 fee)',
  'function fulfill(uint256 requestId, bool ok, bytes output, bytes[] signatures)',
  'event Fulfilled(uint256 indexed requestId, address indexed submitter, bytes32 outputHash, bool ok, bool callbackOk, address[] operators, bytes output)',
];
const STATUS_NAMES = ['none', 'active', 'deregistered', 'invalidated'];
export const TCB_OK = ['UpToDate', 'SWHardeningNeeded']; // the default policy of phx verify
const TEE_TDX = 0x81;
const TEE_SGX = 0;

// A failed link: its message is the reason.
export class Broken extends Error {}
export const need = (cond, why) => {
  if (!cond) throw new Broken(why);
};

const hex32 = (v, name) => {
  need(typeof v === 'string' && /^0x[0-9a-fA-F]{64}$/.test(v), `${name} must be 32 bytes of 0x hex`);
  return v.toLowerCase();
};

// The fields of a quote at the offsets Registry.parseQuote reads.
export function quoteFields(q) {
  need(q.length >= 48, 'quote: short header');
  const version = q[0] | (q[1] << 8);
  const tee = (q[4] | (q[5] << 8) | (q[6] << 16) | (q[7] << 24)) >>> 0;
  const body = version === 3 || version === 4 ? 48 : version === 5 ? 54 : -1;
  need(body > 0, `quote: version ${version}`);
  let rd, meas;
  if (tee === TEE_TDX) {
    rd = body + 520;
    need(q.length >= rd + 64, 'quote: short TD report');
    meas = ethers.keccak256(ethers.concat([q.slice(body + 136, body + 184), q.slice(body + 328, body + 520)]));
  } else if (tee === TEE_SGX) {
    rd = body + 320;
    need(q.length >= rd + 64, 'quote: short enclave report');
    meas = ethers.keccak256(ethers.concat([q.slice(body + 64, body + 96), q.slice(body + 128, body + 160)]));
  } else {
    throw new Broken(`quote: TEE type 0x${tee.toString(16)}`);
  }
  return { tee, measurement: meas, bound: ethers.hexlify(q.slice(rd, rd + 32)), nonce: ethers.hexlify(q.slice(rd + 32, rd + 64)) };
}

// The digest a worker signs and Jobs.fulfill checks (src/chain/digest.c). ok
// (false: the run failed and the output is its error) is signed too.
export function resultDigest(r) {
  need(typeof r.ok === 'boolean', '"ok" must be true or false');
  const abi = ethers.AbiCoder.defaultAbiCoder();
  const domain = ethers.keccak256(abi.encode(['bytes32', 'uint256', 'address'],
    [ethers.id('phx-result-v1'), BigInt(r.chain_id), r.jobs]));
  return ethers.keccak256(abi.encode(['bytes32', 'bytes32', 'bytes32', 'bytes32', 'bool', 'bytes32'],
    [domain, hex32(r.request_id, 'request_id'), hex32(r.contract_id, 'contract_id'),
      hex32(r.code_hash, 'code_hash'), r.ok, ethers.keccak256(ethers.getBytes(r.output_bytes))]));
}

// A direct call's request id (src/worker/result.c): from the input hash and
// the caller's nonce when it named one ("phx-direct-v2"), else from the input
// hash and the second ("phx-direct-v1").
export function directRequestId(r) {
  const abi = ethers.AbiCoder.defaultAbiCoder();
  if (r.nonce !== undefined) {
    return ethers.keccak256(abi.encode(['bytes32', 'bytes32', 'bytes32'],
      [ethers.id('phx-direct-v2'), hex32(r.input_hash, 'input_hash'), hex32(r.nonce, 'nonce')]));
  }
  return ethers.keccak256(abi.encode(['bytes32', 'bytes32', 'uint256'],
    [ethers.id('phx-direct-v1'), hex32(r.input_hash, 'input_hash'), BigInt(r.timestamp)]));
}

// The TCB verdict of a quote verified by `verify(quote) -> {status, advisory_ids}`
// (which throws when the quote does not verify to its root), under phx
// verify's default policy. `rootName` only names the root in the reason.
export async function checkQuote(verify, rootName, quote) {
  let v;
  try {
    v = await verify(quote);
  } catch (e) {
    throw new Broken(`does not verify to the ${rootName} root: ${e.message || e}`);
  }
  const advisories = v.advisory_ids || v.advisoryIds || [];
  need(TCB_OK.includes(v.status), `TCB status ${v.status} is not allowed (${TCB_OK.join(', ')})`);
  return `TCB ${v.status} under the ${rootName} root` + (advisories.length ? `; advisories ${advisories.join(', ')}` : '');
}

// The links, in order; each takes the state s = {result, provider, rpc,
// quoteVerifier: {name, verify(quote)}} and returns why it passed. The first
// broken link stops the rest (they would check nothing).
export const LINKS = [
  ['signature', 'signed by the worker it names, over the digest Jobs checks', async (s) => {
    const r = s.result;
    const outBytes = ethers.getBytes(r.output_bytes);
    if (r.output !== undefined) {
      let signed;
      try {
        signed = JSON.parse(ethers.toUtf8String(outBytes));
      } catch {
        signed = undefined;
      }
      need(JSON.stringify(signed) === JSON.stringify(r.output), 'the output shown is not the output_bytes signed');
    }
    if (r.kind === 'direct') {
      need(directRequestId(r) === hex32(r.request_id, 'request_id'),
        `request_id does not commit to the input hash and ${r.nonce !== undefined ? 'nonce' : 'timestamp'}`);
    }
    const digest = resultDigest(r);
    let signer;
    try {
      signer = ethers.recoverAddress(digest, r.signature);
    } catch (e) {
      throw new Broken(`signature does not parse: ${e.shortMessage || e.message}`);
    }
    need(signer.toLowerCase() === String(r.worker).toLowerCase(),
      `recovers to ${signer}, not the worker ${r.worker}: the envelope was altered or signed by someone else`);
    return `signed by ${signer}`;
  }],
  ['deployment', 'for this chain\'s Jobs contract (and, for a job, the request\'s code)', async (s) => {
    const r = s.result;
    const net = await s.provider.getNetwork();
    need(net.chainId === BigInt(r.chain_id), `the chain at ${s.rpc || 'the provider'} is ${net.chainId}, the result is for ${r.chain_id}`);
    need((await s.provider.getCode(r.jobs)) !== '0x', `no contract at ${r.jobs} on chain ${net.chainId}`);
    s.jobs = new ethers.Contract(r.jobs, JOBS_ABI, s.provider);
    s.registry = new ethers.Contract(await s.jobs.registry(), REGISTRY_ABI, s.provider);
    if (r.kind === 'job') {
      const q = await s.jobs.requests(BigInt(r.request_id));
      need(q.contractId.toLowerCase() === r.contract_id.toLowerCase(), `request ${r.request_id} is for contract ${q.contractId}`);
      need(q.codeHash.toLowerCase() === r.code_hash.toLowerCase(), `request ${r.request_id} is for code ${q.codeHash}`);
    }
    return `chain ${net.chainId}, Jobs ${ethers.getAddress(r.jobs)}`;
  }],
  ['registered', 'the worker is registered and active in the Registry', async (s) => {
    const w = await s.registry.workers(s.result.worker);
    need(Number(w.status) === 1, `Registry.workers(${s.result.worker}) is ${STATUS_NAMES[Number(w.status)] || w.status}`);
    s.worker = w;
    return `active since block time ${w.registeredAt}, operator ${w.operator}`;
  }],
  ['quote', 'the quote it registered with verifies to the trusted root', async (s) => {
    const logs = await s.registry.queryFilter(s.registry.filters.WorkerRegistered(s.result.worker), 0, 'latest');
    const ev = logs.find((l) => ethers.keccak256(l.args.quote) === s.worker.quoteHash);
    need(ev, `no WorkerRegistered event carries the quote whose hash the Registry records (${s.worker.quoteHash})`);
    s.event = ev.args;
    s.quote = ethers.getBytes(ev.args.quote);
    return checkQuote(s.quoteVerifier.verify, s.quoteVerifier.name, s.quote);
  }],
  ['binding', 'its report data binds the worker\'s keys and the registered measurement', async (s) => {
    const f = quoteFields(s.quote);
    const want = ethers.keccak256(ethers.solidityPacked(['string', 'address', 'bytes32', 'bytes32'],
      ['phx-worker-v1', s.result.worker, s.worker.x25519, s.event.nonce]));
    need(f.bound === want, `report data ${f.bound} is not keccak256("phx-worker-v1" || worker || x25519 || nonce) = ${want}`);
    need(f.nonce === s.event.nonce, `report data nonce ${f.nonce} is not the registered ${s.event.nonce}`);
    need(f.measurement === s.worker.measurement, `the quote's measurement ${f.measurement} is not the registered ${s.worker.measurement}`);
    s.measurement = f.measurement;
    return `binds ${ethers.getAddress(s.result.worker)} and x25519 ${s.worker.x25519}`;
  }],
  ['measurement', 'the measurement is still allowed by governance', async (s) => {
    need(await s.registry.measurementAllowed(s.measurement), `Registry.measurementAllowed(${s.measurement}) is false`);
    return `${s.measurement} allowed`;
  }],
  ['kms', 'the KMS that vouched for the worker is admitted, and its own quote verifies and binds its key', async (s) => {
    const kms = s.worker.kms;
    need(await s.registry.isKms(kms), `the KMS ${kms} that vouched for this worker is not admitted now (removed, or its measurement no longer allowed)`);
    const k = await s.registry.kmsNodes(kms);
    const logs = await s.registry.queryFilter(s.registry.filters.KmsAdmitted(kms), 0, 'latest');
    const ev = logs.find((l) => ethers.keccak256(l.args.quote) === k.quoteHash);
    need(ev, `no KmsAdmitted event carries the quote whose hash the Registry records for ${kms}`);
    const q = ethers.getBytes(ev.args.quote);
    const why = await checkQuote(s.quoteVerifier.verify, s.quoteVerifier.name, q);
    const f = quoteFields(q);
    const want = ethers.keccak256(ethers.solidityPacked(['string', 'address', 'bytes32', 'bytes32'],
      ['phx-kms-v1', kms, k.x25519, ev.args.nonce]));
    need(f.bound === want && f.nonce === ev.args.nonce, `the KMS quote's report data does not bind ${kms} and its x25519 key`);
    need(f.measurement === k.measurement, `the KMS quote's measurement ${f.measurement} is not the admitted ${k.measurement}`);
    return `KMS ${kms} admitted; its quote: ${why}`;
  }],
];

const ENVELOPE_FIELDS = ['chain_id', 'jobs', 'request_id', 'contract_id', 'code_hash', 'output_bytes', 'worker', 'signature'];

// Runs every link over a result envelope (the JSON `phx call --json` prints,
// or envelopeFromRequest's). opts: {provider (an ethers provider), rpc (its
// URL, for messages), quoteVerifier: {name, verify(quote)}, onLink(link)}.
// Returns {ok, links: [{name, what, pass: true|false|null, reason}], broken}:
// `broken` names the first link that failed. Never throws for a bad result.
export async function verifyLinks(result, opts) {
  const links = [];
  let broken = null;
  const s = { result, provider: opts.provider, rpc: opts.rpc, quoteVerifier: opts.quoteVerifier };
  try {
    need(result && typeof result === 'object', 'not a JSON object');
    for (const k of ENVELOPE_FIELDS) need(result[k] !== undefined, `no "${k}"`);
  } catch (e) {
    const l = { name: 'envelope', what: 'a result envelope', pass: false, reason: `cannot read the result: ${e.message}` };
    if (opts.onLink) opts.onLink(l);
    return { ok: false, links: [l], broken: 'envelope' };
  }
  for (const [name, what, check] of LINKS) {
    let l;
    if (broken) {
      l = { name, what, pass: null, reason: what };
    } else {
      try {
        l = { name, what, pass: true, reason: await check(s) };
      } catch (e) {
        broken = name;
        l = { name, what, pass: false, reason: e instanceof Broken ? e.message : `${what}: ${e.shortMessage || e.message}` };
      }
    }
    links.push(l);
    if (opts.onLink) opts.onLink(l);
  }
  return { ok: !broken, links, broken };
}

// An on-chain job's envelope, rebuilt from the chain alone: the request's
// contract and code from Jobs.requests, the output from the Fulfilled event,
// the signature from the fulfill transaction's calldata (the one by the
// worker that sent it). The links then run on it like on any other.
export async function envelopeFromRequest(provider, jobsAddress, requestId) {
  const id = BigInt(requestId);
  const jobsAddr = ethers.getAddress(jobsAddress);
  const jobs = new ethers.Contract(jobsAddr, JOBS_ABI, provider);
  const req = await jobs.requests(id);
  need(Number(req.status) === 2 || Number(req.status) === 3, `request ${id} is not fulfilled (status ${req.status})`);
  const logs = await jobs.queryFilter(jobs.filters.Fulfilled(id), 0, 'latest');
  need(logs.length === 1, `request ${id}: ${logs.length} Fulfilled events`);
  const tx = await provider.getTransaction(logs[0].transactionHash);
  const call = jobs.interface.parseTransaction({ data: tx.data });
  need(call && call.name === 'fulfill', 'the Fulfilled event did not come from a fulfill call');
  const net = await provider.getNetwork();
  const env = {
    kind: 'job', chain_id: Number(net.chainId), jobs: jobsAddr, request_id: ethers.toBeHex(id, 32),
    contract_id: req.contractId, code_hash: req.codeHash, ok: logs[0].args.ok, output_bytes: ethers.hexlify(logs[0].args.output),
    worker: tx.from, signature: call.args.signatures[0],
  };
  const digest = resultDigest(env);
  for (const sig of call.args.signatures)
    if (ethers.recoverAddress(digest, sig).toLowerCase() === tx.from.toLowerCase()) env.signature = sig;
  try {
    env.output = JSON.parse(ethers.toUtf8String(env.output_bytes));
  } catch {
    // not JSON: the bytes alone are the output
  }
  return env;
}
