// The Verify page: checks a result envelope in the browser, link by link,
// against the chain node the user names. Nothing comes from the gateway but
// this script and, when the user picks the devnet's sim root, the sim
// platform's public root and collateral. The same links as `phx verify`
// (src/worker/verify.c, docs/worker.md): signature, deployment, registered,
// quote, binding, measurement. Bundled by esbuild at build time
// (src/gateway/CMakeLists.txt) and served from the binary.
import './buffer_global.mjs';
import { Buffer } from 'buffer';
import { ethers } from 'ethers';
import initQvl, { js_verify } from '@phala/dcap-qvl-web';
import qvlWasm from '@phala/dcap-qvl-web/dcap-qvl-web_bg.wasm';
import { QuoteVerifier } from '@phala/dcap-qvl';

const REGISTRY_ABI = [
  'function workers(address) view returns (address operator, uint8 status, uint32 teeType, uint64 registeredAt, bytes32 x25519, bytes32 measurement, bytes32 quoteHash, address kms)',
  'function measurementAllowed(bytes32) view returns (bool)',
  'function isKms(address) view returns (bool)',
  'function kmsNodes(address) view returns (uint8 status, uint32 teeType, uint64 admittedAt, address admittedBy, bytes32 x25519, bytes32 measurement, bytes32 quoteHash, bytes32 collateralHash)',
  'event KmsAdmitted(address indexed kms, address indexed admittedBy, bytes32 x25519, bytes32 measurement, uint32 teeType, bytes32 quoteHash, bytes32 collateralHash, bytes32 nonce, bytes quote)',
  'event WorkerRegistered(address indexed worker, address indexed operator, address indexed kms, bytes32 x25519, bytes32 measurement, uint32 teeType, bytes32 quoteHash, bytes32 nonce, bytes quote)',
];
const JOBS_ABI = [
  'function registry() view returns (address)',
  'function requests(uint256) view returns (address requester, uint8 status, uint8 k, uint32 callbackGasLimit, uint64 deadline, bytes32 contractId, bytes32 codeHash, uint256 fee)',
];
const STATUS_NAMES = ['none', 'active', 'deregistered', 'invalidated'];
const TCB_OK = ['UpToDate', 'SWHardeningNeeded']; // the default policy of phx verify
const TEE_TDX = 0x81;
const TEE_SGX = 0;

// A failed link: its message is the row's reason.
class Broken extends Error {}
const need = (cond, why) => {
  if (!cond) throw new Broken(why);
};

const hex32 = (v, name) => {
  need(typeof v === 'string' && /^0x[0-9a-fA-F]{64}$/.test(v), `${name} must be 32 bytes of 0x hex`);
  return v.toLowerCase();
};

// The fields of a quote at the offsets Registry.parseQuote reads.
function quoteFields(q) {
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

// A quote verified to the chosen root: the sim root (fetched from the
// gateway, which is what choosing the devnet's sim platform means) with
// @phala/dcap-qvl, or Intel's, pinned inside @phala/dcap-qvl-web.
async function verifyQuote(s, quote) {
  const now = Math.floor(Date.now() / 1000);
  let status, advisories;
  if (s.root === 'sim') {
    const [root, col] = await Promise.all([
      fetch('/console/sim/root').then((x) => x.arrayBuffer()),
      fetch('/console/sim/collateral').then((x) => x.json())]);
    let v;
    try {
      v = QuoteVerifier.newWithRootCa(Buffer.from(root)).verify(Buffer.from(quote), col, now);
    } catch (e) {
      throw new Broken(`does not verify to the sim root: ${e.message}`);
    }
    status = v.status;
    advisories = v.advisory_ids || v.advisoryIds || [];
  } else {
    need(s.collateral, 'an Intel quote needs its collateral: paste the QuoteCollateralV3 JSON');
    await initQvl({ module_or_path: qvlWasm });
    let v;
    try {
      v = js_verify(quote, s.collateral, BigInt(now));
    } catch (e) {
      throw new Broken(`does not verify to Intel's root: ${e.message || e}`);
    }
    status = v.status;
    advisories = v.advisory_ids || [];
  }
  need(TCB_OK.includes(status), `TCB status ${status} is not allowed (${TCB_OK.join(', ')})`);
  return `TCB ${status} under the ${s.root === 'sim' ? 'devnet sim' : 'Intel'} root` +
    (advisories.length ? `; advisories ${advisories.join(', ')}` : '');
}

// The links, in order; each takes the state so far and returns a reason it
// passed. The first broken link stops the rest (they would check nothing).
const LINKS = [
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
    // ok (false: the run failed and the output is its error) is signed too.
    need(typeof r.ok === 'boolean', '"ok" must be true or false');
    const abi = ethers.AbiCoder.defaultAbiCoder();
    const domain = ethers.keccak256(abi.encode(['bytes32', 'uint256', 'address'],
      [ethers.id('phx-result-v1'), BigInt(r.chain_id), r.jobs]));
    const digest = ethers.keccak256(abi.encode(['bytes32', 'bytes32', 'bytes32', 'bytes32', 'bool', 'bytes32'],
      [domain, hex32(r.request_id, 'request_id'), hex32(r.contract_id, 'contract_id'),
        hex32(r.code_hash, 'code_hash'), r.ok, ethers.keccak256(outBytes)]));
    let signer;
    try {
      signer = ethers.recoverAddress(digest, r.signature);
    } catch (e) {
      throw new Broken(`signature does not parse: ${e.shortMessage || e.message}`);
    }
    need(signer.toLowerCase() === r.worker.toLowerCase(),
      `recovers to ${signer}, not the worker ${ethers.getAddress(r.worker)}: the envelope was altered or signed by someone else`);
    return `signed by ${signer}`;
  }],
  ['deployment', 'for this chain\'s Jobs contract (and, for a job, the request\'s code)', async (s) => {
    const r = s.result;
    const net = await s.provider.getNetwork();
    need(net.chainId === BigInt(r.chain_id), `the chain at ${s.rpc} is ${net.chainId}, the result is for ${r.chain_id}`);
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
    return verifyQuote(s, s.quote);
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
    const why = await verifyQuote(s, q);
    const f = quoteFields(q);
    const want = ethers.keccak256(ethers.solidityPacked(['string', 'address', 'bytes32', 'bytes32'],
      ['phx-kms-v1', kms, k.x25519, ev.args.nonce]));
    need(f.bound === want && f.nonce === ev.args.nonce, `the KMS quote's report data does not bind ${kms} and its x25519 key`);
    need(f.measurement === k.measurement, `the KMS quote's measurement ${f.measurement} is not the admitted ${k.measurement}`);
    return `KMS ${kms} admitted; its quote: ${why}`;
  }],
];

function row(tbody, name, pass, reason) {
  const tr = document.createElement('tr');
  tr.dataset.link = name;
  for (const [text, cls] of [[name, ''], [pass === null ? 'not checked' : pass ? 'pass' : 'FAIL', pass === null ? '' : pass ? 'ok' : 'bad'], [reason, '']]) {
    const td = document.createElement('td');
    td.textContent = text; // untrusted text never becomes markup
    if (cls) td.className = cls;
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
}

async function run(ev) {
  ev.preventDefault();
  const tbody = document.querySelector('#checks tbody');
  const verdict = document.getElementById('verdict');
  const out = document.getElementById('output');
  tbody.replaceChildren();
  verdict.textContent = 'checking…';
  verdict.className = '';
  out.textContent = '';
  document.getElementById('logs').textContent = '';
  const s = { rpc: document.getElementById('rpc').value.trim() };
  s.root = (document.querySelector('input[name=root]:checked') || {}).value || 'intel';
  let ok = true;
  try {
    s.result = JSON.parse(document.getElementById('result').value);
    need(s.result && typeof s.result === 'object', 'not a JSON object');
    for (const k of ['chain_id', 'jobs', 'request_id', 'contract_id', 'code_hash', 'output_bytes', 'worker', 'signature'])
      need(s.result[k] !== undefined, `no "${k}"`);
    const col = document.getElementById('collateral').value.trim();
    if (col) s.collateral = JSON.parse(col);
    s.provider = new ethers.JsonRpcProvider(s.rpc, undefined, { staticNetwork: false, batchMaxCount: 1 });
  } catch (e) {
    row(tbody, 'envelope', false, `cannot read the result: ${e.message}`);
    ok = false;
  }
  if (ok) {
    out.textContent = s.result.output !== undefined ? JSON.stringify(s.result.output, null, 2) : s.result.output_bytes;
    if (Array.isArray(s.result.logs))
      document.getElementById('logs').textContent = s.result.logs.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
    for (const [name, what, check] of LINKS) {
      if (!ok) {
        row(tbody, name, null, what);
        continue;
      }
      try {
        row(tbody, name, true, await check(s));
      } catch (e) {
        ok = false;
        row(tbody, name, false, e instanceof Broken ? e.message : `${what}: ${e.shortMessage || e.message}`);
      }
    }
    if (s.provider) s.provider.destroy();
  }
  verdict.textContent = ok ? 'VALID: every link holds' : 'INVALID: a link is broken (see the FAIL row)';
  verdict.className = ok ? 'ok' : 'bad';
}

const FULFILL_ABI = [
  'function fulfill(uint256 requestId, bool ok, bytes output, bytes[] signatures)',
  'event Fulfilled(uint256 indexed requestId, address indexed submitter, bytes32 outputHash, bool ok, bool callbackOk, address[] operators, bytes output)',
];

// An on-chain job's envelope, rebuilt from the chain alone: the request's
// contract and code from Jobs.requests, the output from the Fulfilled event,
// the signature from the fulfill transaction's calldata (the one by the
// worker that sent it). The checks then run on it like on a pasted one.
async function loadRequest(ev) {
  ev.preventDefault();
  const verdict = document.getElementById('verdict');
  verdict.className = '';
  verdict.textContent = 'reading the request from the chain…';
  const provider = new ethers.JsonRpcProvider(document.getElementById('rpc').value.trim());
  try {
    const id = BigInt(document.getElementById('request').value.trim());
    const jobsAddr = ethers.getAddress(document.getElementById('jobs').value.trim());
    const jobs = new ethers.Contract(jobsAddr, [...JOBS_ABI, ...FULFILL_ABI], provider);
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
    const abi = ethers.AbiCoder.defaultAbiCoder();
    const domain = ethers.keccak256(abi.encode(['bytes32', 'uint256', 'address'], [ethers.id('phx-result-v1'), net.chainId, jobsAddr]));
    const digest = ethers.keccak256(abi.encode(['bytes32', 'bytes32', 'bytes32', 'bytes32', 'bool', 'bytes32'],
      [domain, env.request_id, env.contract_id, env.code_hash, env.ok, ethers.keccak256(env.output_bytes)]));
    for (const sig of call.args.signatures)
      if (ethers.recoverAddress(digest, sig).toLowerCase() === tx.from.toLowerCase()) env.signature = sig;
    try {
      env.output = JSON.parse(ethers.toUtf8String(env.output_bytes));
    } catch {
      // not JSON: the bytes alone are the output
    }
    document.getElementById('result').value = JSON.stringify(env, null, 1);
  } catch (e) {
    verdict.className = 'bad';
    verdict.textContent = `cannot load the request: ${e.shortMessage || e.message}`;
    provider.destroy();
    return;
  }
  provider.destroy();
  await run(ev);
}

function readFile(file) {
  file.text().then((t) => {
    document.getElementById('result').value = t;
  });
}

// The Contract page's owner sign-in: the wallet (any EIP-1193 provider)
// signs an OwnerRequest "logs" for this contract in the owner domain
// (docs/gateway.md, "Owner-signed requests"); the gateway answers the logs
// only to the contract's owner. Logs are the caller's untrusted text: shown
// with textContent only.
async function ownerSignIn() {
  const btn = document.getElementById('owner-signin');
  const status = document.getElementById('owner-status');
  const box = document.getElementById('owner-logs');
  box.replaceChildren();
  status.className = '';
  if (!window.ethereum) {
    status.className = 'bad';
    status.textContent = 'no wallet: an EIP-1193 wallet (a browser extension) is needed to sign';
    return;
  }
  try {
    const [account] = await window.ethereum.request({ method: 'eth_requestAccounts' });
    const id = btn.dataset.contract;
    const expires = Math.floor(Date.now() / 1000) + 300;
    const typed = {
      types: {
        EIP712Domain: [{ name: 'name', type: 'string' }, { name: 'version', type: 'string' }],
        OwnerRequest: [{ name: 'action', type: 'string' }, { name: 'subject', type: 'bytes32' }, { name: 'expires', type: 'uint64' }],
      },
      primaryType: 'OwnerRequest',
      domain: { name: 'phx-owner', version: '1' },
      message: { action: 'logs', subject: id, expires },
    };
    status.textContent = `asking ${account} to sign…`;
    const sig = await window.ethereum.request({ method: 'eth_signTypedData_v4', params: [account, JSON.stringify(typed)] });
    const q = new URLSearchParams({ owner: account, expires: String(expires), signature: sig });
    const r = await fetch(`/v1/contracts/${encodeURIComponent(id)}/logs?${q}`);
    const body = await r.json();
    if (!r.ok) {
      status.className = 'bad';
      status.textContent = `refused: ${(body.error && body.error.message) || r.status}`;
      return;
    }
    status.className = 'ok';
    status.textContent = `signed in as ${account}: ${body.jobs.length} recent call(s)`;
    const table = document.createElement('table');
    table.id = 'owner-logs-table';
    const head = table.createTHead().insertRow();
    for (const h of ['time', 'worker', 'status', 'latency ms', 'logs']) {
      const th = document.createElement('th');
      th.textContent = h;
      head.appendChild(th);
    }
    const tbody = table.createTBody();
    for (const j of body.jobs) {
      const tr = tbody.insertRow();
      const logs = Array.isArray(j.logs) ? j.logs.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') : '';
      for (const v of [new Date(j.time_ms).toISOString(), j.worker, j.status, j.latency_ms, logs]) {
        const td = tr.insertCell();
        td.textContent = String(v);
      }
    }
    box.appendChild(table);
  } catch (e) {
    status.className = 'bad';
    status.textContent = `cannot sign in: ${e.message || e}`;
  }
}

const form = document.getElementById('verify-form');
if (form) {
  form.addEventListener('submit', run);
  document.getElementById('load-request').addEventListener('click', loadRequest);
  document.getElementById('file').addEventListener('change', (e) => e.target.files[0] && readFile(e.target.files[0]));
  const area = document.getElementById('result');
  area.addEventListener('dragover', (e) => e.preventDefault());
  area.addEventListener('drop', (e) => {
    e.preventDefault();
    if (e.dataTransfer.files[0]) readFile(e.dataTransfer.files[0]);
  });
}
const signin = document.getElementById('owner-signin');
if (signin) signin.addEventListener('click', ownerSignIn);
