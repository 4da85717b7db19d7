// The console's pages in Debian's chromium (playwright-core, never a
// downloaded browser), against the devnet console_browser.sh started:
//   node console_browser.mjs ENDPOINTS.json RESULT.json CONTRACT_ID SHOTS_DIR SEALED.json
// Each page loads with the devnet's real data; Verify accepts the real result
// and names the broken link of a tampered one; markup in code, output and logs
// is shown as text and never runs. Prints "N passed, N failed".
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.env.PHX_NODE_MODULES, 'x.js'));
const { chromium } = require('playwright-core');

const [epFile, resultFile, contractId, shots, sealedFile] = process.argv.slice(2);
const ep = JSON.parse(fs.readFileSync(epFile, 'utf8'));
const resultText = fs.readFileSync(resultFile, 'utf8');
const result = JSON.parse(resultText);
const gw = ep.gateway;
const workerAddr = ep.workers[0].address.toLowerCase();
const registry = ep.deployment.contracts.Registry.toLowerCase();
fs.mkdirSync(shots, { recursive: true });

let passed = 0;
let failed = 0;
function check(name, cond, detail) {
  if (cond) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail !== undefined ? `: ${detail}` : ''}`);
  }
}

// The owner's wallet: a stand-in for a browser wallet extension (headless
// chromium has none), an EIP-1193 provider whose signing is ethers' with the
// devnet user's key in this process. What is signed and what the gateway
// checks are real.
const { Wallet } = require('ethers');
const ownerWallet = new Wallet(fs.readFileSync(ep.user.key_file, 'utf8').trim());
const strangerWallet = Wallet.createRandom();
let wallet = ownerWallet;

const browser = await chromium.launch({
  executablePath: process.env.PHX_CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  await ctx.exposeFunction('__phxWalletAccount', () => wallet.address);
  await ctx.exposeFunction('__phxWalletSign', (typedJson) => {
    const t = JSON.parse(typedJson);
    delete t.types.EIP712Domain;
    return wallet.signTypedData(t.domain, t.types, t.message);
  });
  await ctx.addInitScript(() => {
    window.ethereum = {
      request: async ({ method, params }) => {
        if (method === 'eth_requestAccounts') return [await window.__phxWalletAccount()];
        if (method === 'eth_signTypedData_v4') return window.__phxWalletSign(params[1]);
        throw new Error(`unsupported ${method}`);
      },
    };
  });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));

  // ---- Network --------------------------------------------------------------
  let resp = await page.goto(`${gw}/`);
  check('network page answers 200', resp.status() === 200, resp.status());
  const csp = resp.headers()['content-security-policy'] || '';
  check('network page has a strict CSP (scripts from self only)',
    /script-src 'self'/.test(csp) && !/unsafe-inline/.test(csp) && /default-src 'none'/.test(csp), csp);
  const workersText = (await page.textContent('#workers tbody')).toLowerCase();
  check('network page lists the devnet worker by address', workersText.includes(workerAddr), workersText);
  check('the worker shows healthy with its TEE kind', workersText.includes('healthy') && workersText.includes('tdx'), workersText);
  const operator = (ep.workers[0].operator || '').toLowerCase();
  check('the worker shows its operator from the Registry', operator && workersText.includes(operator), operator);
  const chainText = (await page.textContent('#chain')).toLowerCase();
  check('network page shows the Registry address and chain id',
    chainText.includes(registry) && chainText.includes(String(ep.chain_id)), chainText);
  check('network page shows the KMS', (await page.textContent('#kms')).includes(ep.kms.url));
  check('network page lists the contract', (await page.textContent('#contracts')).toLowerCase().includes(contractId.toLowerCase()));
  // Read from the chain, not from flags: the Registry's KMS keys and the operator's stake.
  const kmsRows = await page.$$eval('#kms-nodes tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  check('network page lists the Registry\'s KMS, admitted and signing', kmsRows.length === 1 &&
    kmsRows[0][0].toLowerCase() === ep.kms.address.toLowerCase() && kmsRows[0][2] === 'admitted' && kmsRows[0][3] === 'yes' &&
    /^0x[0-9a-f]{64}$/.test(kmsRows[0][1]), JSON.stringify(kmsRows));
  const stakeCell = await page.textContent('#workers tbody tr:first-child td:nth-child(3)');
  const stakeWei = BigInt(process.env.PHX_STAKE_WEI || '0');
  const pha = (w) => { const s = (w / 10n ** 18n).toString(); const f = (w % 10n ** 18n).toString().padStart(18, '0').replace(/0+$/, ''); return f ? `${s}.${f}` : s; };
  check('network page shows the operator\'s stake as Registry.stakeOf says', stakeWei > 0n && stakeCell === `${pha(stakeWei)} PHA`,
    `${stakeCell} vs ${stakeWei} wei`);
  await page.screenshot({ path: path.join(shots, 'console-network.png'), fullPage: true });

  // Read-only pages work without JavaScript.
  const noJs = await browser.newContext({ javaScriptEnabled: false });
  const p2 = await noJs.newPage();
  await p2.goto(`${gw}/`);
  check('network page renders without JavaScript',
    (await p2.textContent('#workers tbody')).toLowerCase().includes(workerAddr));
  await noJs.close();

  // ---- Attestation ----------------------------------------------------------
  await page.click('#workers tbody tr:first-child a[href^="/attestation/workers/"]');
  await page.waitForSelector('#attestation');
  check('attestation page: the worker quote verifies', (await page.getAttribute('#verdict', 'class')) === 'ok',
    await page.textContent('#verdict'));
  check('attestation page: TCB status shown', (await page.textContent('#tcb')) === 'UpToDate', await page.textContent('#tcb'));
  check('attestation page: the report data binds its keys to our nonce', (await page.textContent('#binding')) === 'yes');
  const report = await page.textContent('#report');
  check('attestation page: TD report fields (mr_td, rt_mr0..3, report_data)',
    ['mr_td', 'rt_mr0', 'rt_mr3', 'report_data'].every((f) => report.includes(f)), report);
  check('attestation page: quote header (version, tee_type)', /version\s*4/.test(await page.textContent('#header')));
  check('attestation page: advisories listed', (await page.textContent('#advisories')).length > 0);
  const certRows = await page.$$eval('#cert-chain tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  check('attestation page: the certificate chain, leaf to root',
    certRows.map((r) => r[0]).join(',') === 'PCK leaf,intermediate CA,root CA', JSON.stringify(certRows));
  check('attestation page: each certificate issued by the next, the root by itself',
    certRows.length === 3 && certRows.every((r, i) => r[2] === (certRows[i + 1] || r)[1]), JSON.stringify(certRows));
  check('attestation page: serials and validity windows, all valid now',
    certRows.every((r) => /^0x[0-9a-f]+$/.test(r[3]) && / UTC$/.test(r[4]) && / UTC$/.test(r[5]) && r[6] === 'valid'), JSON.stringify(certRows));
  await page.screenshot({ path: path.join(shots, 'console-attestation.png'), fullPage: true });
  await page.goto(`${gw}/attestation/kms`);
  check('attestation page: the KMS quote verifies', (await page.getAttribute('#verdict', 'class')) === 'ok',
    await page.textContent('#verdict'));
  check('attestation page: the KMS binds its keys to our nonce', (await page.textContent('#binding')) === 'yes');
  await page.goto(`${gw}/`);

  // ---- Contract -------------------------------------------------------------
  await page.click(`#contracts a[href="/contracts/${contractId}"]`);
  await page.waitForSelector('#code');
  // The sign-in button is wired by the page's module script: clicking before it
  // has run does nothing (a race under load), so wait for the page's load event.
  await page.waitForLoadState('load');
  const code = await page.textContent('#code');
  check('contract page shows the code with its <script> as text',
    code.includes('<script>window.__pwned = "code"</script>'), code);
  check('contract page shows the owner', (await page.textContent('#owner')).toLowerCase() === ep.user.address.toLowerCase(),
    await page.textContent('#owner'));
  check('contract page holds only the console\'s script', (await page.locator('script').count()) === 1 &&
    (await page.getAttribute('script', 'src')) === '/console/verify.js');
  check('nothing on the contract page ran', (await page.evaluate(() => window.__pwned)) === undefined);

  // The owner signs in with the wallet and reads the logs, as text.
  await page.click('#owner-signin');
  await page.waitForFunction(() => /^(signed in|refused|cannot|no wallet)/.test(document.getElementById('owner-status').textContent));
  check('owner sign-in: the owner reads the logs', (await page.getAttribute('#owner-status', 'class')) === 'ok',
    await page.textContent('#owner-status'));
  const ownerLogs = await page.textContent('#owner-logs');
  check('owner sign-in: the log line with <script> is shown as text',
    ownerLogs.includes("<script>window.__pwned = 'log'</script>"), ownerLogs);
  check('owner sign-in: nothing from the logs ran', (await page.evaluate(() => window.__pwned)) === undefined &&
    (await page.locator('#owner-logs script').count()) === 0);
  await page.evaluate(() => document.getElementById('owner-signin').scrollIntoView({ block: 'start' }));
  await page.screenshot({ path: path.join(shots, 'console-contract-logs.png') });
  wallet = strangerWallet;
  const errorsBefore = errors.length;
  await page.click('#owner-signin');
  await page.waitForFunction(() => /^(signed in|refused|cannot|no wallet)/.test(document.getElementById('owner-status').textContent) &&
    !document.getElementById('owner-status').textContent.startsWith('signed in'));
  check('owner sign-in: another wallet is refused', /^refused: .*does not own/.test(await page.textContent('#owner-status')),
    await page.textContent('#owner-status'));
  check('owner sign-in: and sees no logs', (await page.locator('#owner-logs-table').count()) === 0);
  // The browser logs the refused request (403) as an error: that one is expected.
  check('owner sign-in: the refusal is the one 403', errors.length === errorsBefore + 1 && /403/.test(errors[errorsBefore]),
    errors.slice(errorsBefore).join(' | '));
  errors.splice(errorsBefore);
  wallet = ownerWallet;
  await page.screenshot({ path: path.join(shots, 'console-contract.png') });

  const creq = await page.$$eval('#requests tbody tr', (trs) => trs.map((tr) => [...tr.children].slice(0, 2).map((td) => td.textContent).join(' ')));
  check('contract page lists its on-chain requests with their states', creq.join(',') === '5 failed,4 pending,3 fulfilled,2 refunded,1 fulfilled', creq.join(','));

  // ---- Jobs -----------------------------------------------------------------
  await page.click('nav a[href="/jobs"]');
  await page.waitForSelector('#requests');
  const jrows = await page.$$eval('#requests tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  check('jobs page lists the five requests, newest first', jrows.map((r) => r[0]).join(',') === '5,4,3,2,1', JSON.stringify(jrows));
  const byRid = Object.fromEntries(jrows.map((r) => [r[0], r]));
  const cols = (r) => { const [rid, cid, st, requester, fee, k, at, done, latency, latencyS, time, ops] = r; return { rid, cid, st, requester, fee, k, at, done, latency, latencyS, time, ops }; };
  if (jrows.length === 5) {
    const one = cols(byRid['1']);
    check('jobs page: id, contract, status', one.cid.toLowerCase() === contractId.toLowerCase() && one.st === 'fulfilled', byRid['1'].join(' | '));
    check('jobs page: requester and fee', one.requester.toLowerCase() === ep.user.address.toLowerCase() && /^[0-9.]+ PHA$/.test(one.fee) && one.fee !== '0 PHA' && one.k === '1', byRid['1'].join(' | '));
    check('jobs page: blocks and latency', Number(one.done) >= Number(one.at) && Number(one.latency) === Number(one.done) - Number(one.at), byRid['1'].join(' | '));
    check('jobs page: block time and latency in seconds', /^\d\d:\d\d:\d\d$/.test(one.time) && /^[0-9]+$/.test(one.latencyS) && Number(one.latencyS) < 600, byRid['1'].join(' | '));
    check('jobs page: the signing operator', one.ops.toLowerCase().includes(operator), one.ops);
    const two = cols(byRid['2']);
    check('jobs page: the request no worker signed refunded after an hour of chain time (seconds, from block timestamps)',
      two.st === 'refunded' && two.k === '1' && Number(two.latencyS) >= 3600 && Number(two.latency) < 100, byRid['2'].join(' | '));
    const four = cols(byRid['4']);
    check('jobs page: the open request pending, not settled', four.st === 'pending' && four.done === '\u2014' && four.latencyS === '\u2014', byRid['4'].join(' | '));
    check('jobs page: the third fulfilled', cols(byRid['3']).st === 'fulfilled');
    const five = cols(byRid['5']);
    check('jobs page: the consumer whose callback reverted: failed, settled, operator paid',
      five.st === 'failed' && Number(five.done) >= Number(five.at) && five.ops.toLowerCase().includes(operator) &&
      five.requester.toLowerCase() !== ep.user.address.toLowerCase(), byRid['5'].join(' | '));
  }
  // One reader: `phx jobs --json` tells the same states.
  const cli = JSON.parse(fs.readFileSync(process.env.PHX_JOBS_JSON, 'utf8')).requests || [];
  check('phx jobs agrees with the page', cli.map((r) => `${r.id} ${r.status}`).join(',') === jrows.map((r) => `${r[0]} ${r[2]}`).join(','),
    `${cli.map((r) => `${r.id} ${r.status}`)} vs ${jrows.map((r) => `${r[0]} ${r[2]}`)}`);
  await page.screenshot({ path: path.join(shots, 'console-jobs.png'), fullPage: true });

  // ---- Verify ---------------------------------------------------------------
  async function verify(text) {
    await page.goto(`${gw}/verify`);
    await page.fill('#result', text);
    await page.check('input[name=root][value=sim]');
    await page.click('#run');
    await page.waitForFunction(() => /^(VALID|INVALID)/.test(document.getElementById('verdict').textContent),
      null, { timeout: 120000 });
    const rows = await page.$$eval('#checks tbody tr', (trs) => trs.map((tr) =>
      ({ link: tr.dataset.link, result: tr.children[1].textContent, reason: tr.children[2].textContent })));
    return { verdict: await page.textContent('#verdict'), rows };
  }
  const good = await verify(resultText);
  const links = ['signature', 'deployment', 'registered', 'quote', 'binding', 'measurement', 'kms'];
  check('verify: the real result is VALID', good.verdict.startsWith('VALID'), JSON.stringify(good));
  for (const l of links) {
    const r = good.rows.find((x) => x.link === l);
    check(`verify: link ${l} passes`, r && r.result === 'pass', r && r.reason);
  }
  const quoteRow = good.rows.find((x) => x.link === 'quote');
  check('verify: the quote row names its TCB status', quoteRow && /TCB UpToDate/.test(quoteRow.reason), quoteRow && quoteRow.reason);
  const out = await page.textContent('#output');
  check('verify: the output with its markup is shown as text', out.includes('<img src=x onerror='), out);
  const logs = await page.textContent('#logs');
  check('verify: the log line with <script> is shown as text', logs.includes("<script>window.__pwned = 'log'</script>"), logs);
  check('verify: no markup from the result ran', (await page.evaluate(() => window.__pwned)) === undefined);
  check('verify: no img element was injected', (await page.locator('#output img, #logs script').count()) === 0);
  await page.evaluate(() => document.getElementById('verify-form').lastElementChild.scrollIntoView({ block: 'start' }));
  await page.screenshot({ path: path.join(shots, 'console-verify.png') });

  // The result of an encrypted call (what `make run` makes): the sealed reply
  // is what is signed, and it verifies without anyone opening it.
  const sealed = await verify(fs.readFileSync(sealedFile, 'utf8'));
  check('verify: an encrypted call\'s result is VALID', sealed.verdict.startsWith('VALID'), JSON.stringify(sealed.rows));

  // A tampered result: another output under the worker's signature.
  const bad = { ...result };
  const forged = JSON.stringify({ html: 'forged', hello: 'mallory' });
  bad.output = JSON.parse(forged);
  bad.output_bytes = '0x' + Buffer.from(forged).toString('hex');
  const tampered = await verify(JSON.stringify(bad));
  check('verify: the tampered result is INVALID', tampered.verdict.startsWith('INVALID'), tampered.verdict);
  const sig = tampered.rows.find((x) => x.link === 'signature');
  check('verify: the broken link named is the signature', sig && sig.result === 'FAIL' && /recovers to 0x[0-9a-fA-F]{40}, not the worker/.test(sig.reason),
    sig && sig.reason);
  check('verify: links after the broken one are not checked',
    tampered.rows.filter((x) => x.result === 'not checked').length === links.length - 1, JSON.stringify(tampered.rows));
  await page.evaluate(() => document.getElementById('verify-form').lastElementChild.scrollIntoView({ block: 'start' }));
  await page.screenshot({ path: path.join(shots, 'console-verify-tampered.png') });

  // Open by request id: the envelope rebuilt from the chain alone verifies.
  await page.goto(`${gw}/verify`);
  await page.fill('#request', '1');
  await page.check('input[name=root][value=sim]');
  await page.click('#load-request');
  await page.waitForFunction(() => /^(VALID|INVALID|cannot)/.test(document.getElementById('verdict').textContent),
    null, { timeout: 120000 });
  const byId = await page.textContent('#verdict');
  const byIdRows = await page.$$eval('#checks tbody tr', (trs) => trs.map((tr) => tr.children[1].textContent));
  check('verify by request id: the on-chain job is VALID with all seven links', byId.startsWith('VALID') &&
    byIdRows.length === 7 && byIdRows.every((r) => r === 'pass'), `${byId} ${byIdRows}`);
  check('verify by request id: the job output is shown', (await page.textContent('#output')).includes('"hello": "job"'),
    await page.textContent('#output'));

  // A result that claims another worker: the signature link names it too.
  const other = { ...result, worker: '0x' + '11'.repeat(20) };
  const o = await verify(JSON.stringify(other));
  const osig = o.rows.find((x) => x.link === 'signature');
  check('verify: a result naming another worker fails at the signature', osig && osig.result === 'FAIL', osig && osig.reason);

  check('no script errors on any page', errors.length === 0, errors.join(' | '));
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed || !passed ? 1 : 0);
