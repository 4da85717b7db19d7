// The Verify page: checks a result envelope in the browser, link by link,
// against the chain node the user names. Nothing comes from the gateway but
// this script and, when the user picks the devnet's sim root, the sim
// platform's public root and collateral. The links themselves (signature,
// deployment, registered, quote, binding, measurement, kms: the same as
// `phx verify`) are the JS SDK's (sdk/js/src/verify.mjs), bundled in; this
// file holds the page and how a quote meets its root in a browser. Bundled by
// esbuild at build time (src/gateway/CMakeLists.txt) and served from the binary.
import './buffer_global.mjs';
import { Buffer } from 'buffer';
import { ethers } from 'ethers';
import initQvl, { js_verify } from '@phala/dcap-qvl-web';
import qvlWasm from '@phala/dcap-qvl-web/dcap-qvl-web_bg.wasm';
import { QuoteVerifier } from '@phala/dcap-qvl';
import { need, verifyLinks, envelopeFromRequest } from '../../../sdk/js/src/verify.mjs';

// How a quote meets the chosen root in the browser: the sim root (fetched from
// the gateway, which is what choosing the devnet's sim platform means) with
// @phala/dcap-qvl, or Intel's, pinned inside @phala/dcap-qvl-web.
function quoteVerifier(s) {
  const now = Math.floor(Date.now() / 1000);
  if (s.root === 'sim') {
    let sim;
    return {
      name: 'devnet sim',
      verify: async (quote) => {
        sim = sim || await Promise.all([
          fetch('/console/sim/root').then((x) => x.arrayBuffer()),
          fetch('/console/sim/collateral').then((x) => x.json())]);
        return QuoteVerifier.newWithRootCa(Buffer.from(sim[0])).verify(Buffer.from(quote), sim[1], now);
      },
    };
  }
  return {
    name: 'Intel',
    verify: async (quote) => {
      need(s.collateral, 'an Intel quote needs its collateral: paste the QuoteCollateralV3 JSON');
      await initQvl({ module_or_path: qvlWasm });
      return js_verify(quote, s.collateral, BigInt(now));
    },
  };
}

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
    const col = document.getElementById('collateral').value.trim();
    if (col) s.collateral = JSON.parse(col);
    s.provider = new ethers.JsonRpcProvider(s.rpc, undefined, { staticNetwork: false, batchMaxCount: 1 });
  } catch (e) {
    row(tbody, 'envelope', false, `cannot read the result: ${e.message}`);
    ok = false;
  }
  if (ok) {
    out.textContent = s.result.output !== undefined ? JSON.stringify(s.result.output, null, 2) : String(s.result.output_bytes);
    if (Array.isArray(s.result.logs))
      document.getElementById('logs').textContent = s.result.logs.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
    const v = await verifyLinks(s.result, {
      provider: s.provider, rpc: s.rpc, quoteVerifier: quoteVerifier(s),
      onLink: (l) => row(tbody, l.name, l.pass, l.reason),
    });
    ok = v.ok;
    s.provider.destroy();
  }
  verdict.textContent = ok ? 'VALID: every link holds' : 'INVALID: a link is broken (see the FAIL row)';
  verdict.className = ok ? 'ok' : 'bad';
}

// An on-chain job's envelope, rebuilt from the chain alone
// (envelopeFromRequest); the checks then run on it like on a pasted one.
async function loadRequest(ev) {
  ev.preventDefault();
  const verdict = document.getElementById('verdict');
  verdict.className = '';
  verdict.textContent = 'reading the request from the chain…';
  const provider = new ethers.JsonRpcProvider(document.getElementById('rpc').value.trim());
  try {
    const id = BigInt(document.getElementById('request').value.trim());
    const env = await envelopeFromRequest(provider, document.getElementById('jobs').value.trim(), id);
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
