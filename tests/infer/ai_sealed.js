#!/usr/bin/env node
// phx.ai.chat end to end encrypted: a contract run by `phx run` asks a real
// `phx infer` endpoint through a man in the middle, a TCP relay here that
// records every byte both ways. The worker seals the request to the key the
// endpoint's checked report binds and opens the sealed answer, so neither
// the prompt nor the answer may appear in the recorded bytes, nor in the
// endpoint's or the worker's logs and data directories; the receipt (the
// sealed bytes, the signature, the reply key) still verifies. Then the relay
// turns the request to another endpoint serving the same model after the
// report: a request sealed to a key that is not the serving endpoint's gets
// 400 decryption_failed, named in the contract's error.
//
// env: PHX_BIN, PHX_NODE_MODULES, PHX_LLAMA_VOCAB
'use strict';
const fs = require('fs');
const os = require('os');
const net = require('net');
const path = require('path');
const crypto = require('crypto');
const { spawn, spawnSync } = require('child_process');
const { env: need, checker, sha256, makeModel, startInfer } = require('../support/infer.js');

const { phx, vocab } = need('ai_sealed');
const { check, done } = checker();

const CONTRACT = `
export default async function (input) {
  const r = await phx.ai.chat({ model: 'tiny', max_tokens: 12, temperature: 0, seed: 3,
                                messages: [{ role: 'user', content: input.prompt }] });
  return { answer: r.text, receipt: r.receipt };
}
`;

// A recording relay. mode 'pipe': every connection to target A. Mode
// 'split': one response per connection (it is closed after a whole
// Content-Length body), the first connection to A and the rest to B.
function relay(portA, portB) {
    const r = { bytes: [], mode: 'pipe', conns: 0, socks: new Set() };
    r.server = net.createServer(client => {
        const n = r.conns++;
        const port = r.mode === 'split' && n > 0 ? portB : portA;
        const up = net.connect(port, '127.0.0.1');
        r.socks.add(client).add(up);
        let head = Buffer.alloc(0), want = -1;
        client.on('data', d => { r.bytes.push(d); up.write(d); });
        up.on('data', d => {
            r.bytes.push(d);
            client.write(d);
            if (r.mode !== 'split') return;
            head = Buffer.concat([head, d]);
            const end = head.indexOf('\r\n\r\n');
            if (want < 0 && end >= 0) {
                const m = /content-length:\s*(\d+)/i.exec(head.slice(0, end).toString());
                want = m ? end + 4 + Number(m[1]) : Infinity;
            }
            if (want >= 0 && head.length >= want) { client.end(); up.destroy(); }
        });
        const close = () => { client.destroy(); up.destroy(); };
        client.on('error', close).on('close', close);
        up.on('error', close).on('close', close);
    });
    r.drop = () => { for (const s of r.socks) s.destroy(); r.socks.clear(); };
    return new Promise(res => r.server.listen(0, '127.0.0.1', () => { r.port = r.server.address().port; res(r); }));
}

function startEndpoint(home, model, log) {
    return startInfer(phx, ['--model', model, '--model-name', 'tiny', '--slots', '2', '--ctx', '512',
                            '--max-tokens', '64'], { home, log, env: { PHX_LOG: 'debug' } });
}

// Every file under dir, read whole.
function filesUnder(dir) {
    const out = [];
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) out.push(...filesUnder(p));
        else if (e.isFile()) out.push([p, fs.readFileSync(p)]);
    }
    return out;
}

function openSealed(replyKeyHex, body) {
    const env = JSON.parse(body);
    const ct = Buffer.from(env.sealed.ciphertext.replace(/^0x/, ''), 'hex');
    const d = crypto.createDecipheriv('chacha20-poly1305', Buffer.from(replyKeyHex, 'hex'),
                                      Buffer.from(env.sealed.nonce.replace(/^0x/, ''), 'hex'), { authTagLength: 16 });
    d.setAAD(Buffer.from(env.id));
    d.setAuthTag(ct.subarray(ct.length - 16));
    return JSON.parse(Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]).toString());
}

async function main() {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-aisealed-'));
    const dirs = {};
    for (const k of ['model', 'endA', 'endB', 'worker', 'logs']) fs.mkdirSync(dirs[k] = path.join(tmp, k));
    const model = path.join(dirs.model, 'tiny.gguf');
    makeModel(vocab, model);
    const logA = path.join(dirs.logs, 'a.log'), logB = path.join(dirs.logs, 'b.log');
    const A = await startEndpoint(dirs.endA, model, logA);
    const B = await startEndpoint(dirs.endB, model, logB);
    const mitm = await relay(Number(new URL(A.ready.url).port), Number(new URL(B.ready.url).port));
    // The worker trusts the sim root the endpoints quote under (each its own
    // home). Spawned, not spawnSync: the relay runs in this process.
    const run = (prompt, sim) => new Promise(resolve => {
        const ch = spawn(phx, ['run', path.join(dirs.model, 'c.mjs'), '--json', '--kv', path.join(dirs.worker, 'kv'),
                               '--input', JSON.stringify({ prompt }), '--ai-endpoint', `tiny=http://127.0.0.1:${mitm.port}`,
                               '--ai-trust-sim-root', sim],
                         { env: { ...process.env, PHX_HOME: dirs.worker, PHX_LOG: 'debug' } });
        let stdout = '', stderr = '';
        ch.stdout.on('data', d => { stdout += d; });
        ch.stderr.on('data', d => { stderr += d; });
        ch.on('close', status => {
            let j = null;
            try { j = JSON.parse(stdout); } catch (e) { /* reported below */ }
            resolve({ status, j, stderr, stdout });
        });
    });
    fs.writeFileSync(path.join(dirs.model, 'c.mjs'), CONTRACT);
    try {
        const marker = crypto.randomBytes(8).toString('hex');
        const prompt = `The secret word is ${marker}. Repeat it.`;
        const r = await run(prompt, path.join(dirs.endA, 'sim'));
        check('a contract calling phx.ai.chat through the relay succeeds', r.status === 0 && r.j && r.j.ok,
              r.stdout + r.stderr);
        const out = r.j && r.j.output;
        if (!out) throw new Error('no output');
        const answer = out.answer, rc = out.receipt;
        check('the answer is long enough to look for (>= 6 characters)', answer.length >= 6, JSON.stringify(answer));
        const wire = Buffer.concat(mitm.bytes);
        check('the relay saw the exchange (report, chat, signature)',
              wire.includes('GET /v1/attestation/report') && wire.includes('POST /v1/chat/completions') &&
              wire.includes('GET /v1/signature/'), wire.length);
        check('the relay saw the request and the answer sealed', wire.includes('"enc"') && wire.includes('"nonce"'));
        check('the relay reads clear metadata (the model name): the search works', wire.includes('model=tiny'));
        check('the prompt is not in the recorded bytes', !wire.includes(marker));
        check('the answer is not in the recorded bytes', !wire.includes(answer));
        const logs = [[logA, fs.readFileSync(logA)], ['worker stderr', Buffer.from(r.stderr)]];
        const files = [...filesUnder(dirs.endA), ...filesUnder(dirs.worker), ...logs];
        check('the endpoint wrote a log at debug level, and there are data files to search',
              fs.statSync(logA).size > 0 && files.length >= 3,
              `endpoint log ${fs.statSync(logA).size} B, worker stderr ${r.stderr.length} B, ${files.length} files`);
        const leaks = files.filter(([, b]) => b.includes(marker) || b.includes(answer)).map(([p]) => p);
        check('neither prompt nor answer in the logs and data directories', leaks.length === 0, leaks.join(' '));

        check('the receipt holds the sealed bytes that were signed',
              JSON.parse(rc.request).sealed && JSON.parse(rc.response).sealed &&
              rc.text === `${sha256(rc.request)}:${sha256(rc.response)}`);
        let opened = null;
        try { opened = openSealed(rc.reply_key, rc.response); } catch (e) { opened = e; }
        check('the receipt\'s reply key opens the answer the contract got',
              opened && opened.choices && opened.choices[0].message.content === answer, opened);
        const saved = path.join(tmp, 'result.json');
        fs.writeFileSync(saved, JSON.stringify(r.j));
        const verify = file => spawnSync(phx, ['infer', 'verify', '--receipt', file, '--trust-sim-root',
                                               path.join(dirs.endA, 'sim'), '--model', model], { encoding: 'utf8' });
        let v = verify(saved);
        check('phx infer verify --receipt: the sealed receipt verifies', v.status === 0, v.stdout + v.stderr);
        const t = JSON.parse(JSON.stringify(r.j));
        t.output.receipt.reply_key = crypto.randomBytes(32).toString('hex');
        fs.writeFileSync(path.join(tmp, 'badkey.json'), JSON.stringify(t));
        v = verify(path.join(tmp, 'badkey.json'));
        check('a receipt with another reply key fails at that link', v.status === 1 && /reply key/.test(v.stderr),
              v.stdout + v.stderr);

        // The report comes from A, the sealed request goes to B.
        mitm.mode = 'split';
        mitm.conns = 0;
        mitm.drop();
        const r2 = await run(prompt, path.join(dirs.endA, 'sim'));
        const msg = r2.j && r2.j.error ? r2.j.error.message : '';
        check('a request sealed to another endpoint\'s key is refused: 400 decryption_failed',
              r2.status === 1 && /HTTP 400 decryption_failed/.test(msg) && /does not open/.test(msg),
              r2.stdout + r2.stderr);
        check('the split relay did send the report to A and the request to B', mitm.conns >= 2, mitm.conns);
        const leaksB = [[logB, fs.readFileSync(logB)], ...filesUnder(dirs.endB)]
            .filter(([, b]) => b.includes(marker)).map(([p]) => p);
        check('the endpoint that could not open it learned nothing', leaksB.length === 0, leaksB.join(' '));
        mitm.mode = 'pipe';
        mitm.drop();
        const r3 = await run(prompt, path.join(dirs.endA, 'sim'));
        check('both endpoints keep serving', r3.status === 0 && r3.j.output.answer === answer, r3.stdout + r3.stderr);
    } finally {
        A.child.kill('SIGTERM');
        B.child.kill('SIGTERM');
        mitm.drop();
        mitm.server.close();
        fs.rmSync(tmp, { recursive: true, force: true });
    }
    done();
}
main().catch(e => {
    console.error(e);
    process.exit(1);
});
