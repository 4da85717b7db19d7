#!/usr/bin/env node
// phx infer in proxy mode (--upstream): the same API in front of another
// OpenAI-compatible engine in the same TEE. The upstream here is a real one on
// loopback, another `phx infer` in engine mode. The official OpenAI Node SDK
// runs chat (streaming and not), completions and models through the proxy;
// ethers and tweetnacl check that every answer is signed by the proxy's own
// attested keys over the exact bytes; the report binds the model file's hash
// given with --model-file; a sealed request is answered sealed; an upstream
// that is down is a 502 OpenAI error; a client that drops a stream frees the
// upstream's sequence at once.
//
// env: PHX_BIN, PHX_NODE_MODULES, PHX_LLAMA_VOCAB
'use strict';
const fs = require('fs');
const os = require('os');
const net = require('net');
const path = require('path');
const crypto = require('crypto');
const { spawnSync } = require('child_process');
const { env: need, checker, sha256, makeModel, startInfer } = require('../support/infer.js');

const { phx, vocab, mods } = need('infer_proxy');
const { OpenAI } = require(path.join(mods, 'openai'));
const { ethers } = require(path.join(mods, 'ethers'));
const nacl = require(path.join(mods, 'tweetnacl'));
const { CipherSuite, HkdfSha256 } = require(path.join(mods, '@hpke/core'));
const { DhkemX25519HkdfSha256 } = require(path.join(mods, '@hpke/dhkem-x25519'));
const { Chacha20Poly1305 } = require(path.join(mods, '@hpke/chacha20poly1305'));

const { check, done } = checker();
const sleep = ms => new Promise(r => setTimeout(r, ms));
const SECRET = 'ocelot-' + crypto.randomBytes(8).toString('hex');

const start = (args, home, log) => startInfer(phx, args, { home, log });

async function post(url, pathname, body, signal) {
    const r = await fetch(url + pathname, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal });
    return { status: r.status, text: await r.text() };
}

async function checkSigned(url, id, reqBody, respBytes, ready, label) {
    const want = sha256(reqBody) + ':' + sha256(respBytes);
    const ec = await (await fetch(`${url}/v1/signature/${id}?model=gpu&signing_algo=ecdsa`)).json();
    check(`${label}: the proxy signed sha256(request):sha256(response) of the bytes it sent`, ec.text === want, ec.text);
    check(`${label}: ethers recovers the proxy's attested address`,
          ethers.verifyMessage(ec.text, ec.signature) === ready.address, ec.signing_address);
    const ed = await (await fetch(`${url}/v1/signature/${id}?signing_algo=ed25519`)).json();
    const pub = Buffer.from(ready.ed25519_public_key.slice(2), 'hex');
    check(`${label}: tweetnacl verifies the proxy's Ed25519 signature`,
          ed.text === want && nacl.sign.detached.verify(Buffer.from(ed.text), Buffer.from(ed.signature, 'hex'), pub));
}

const health = async url => (await (await fetch(url + '/health')).json()).busy_sequences;

async function main() {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-proxy-'));
    const model = path.join(home, 'tiny.gguf');
    makeModel(vocab, model);
    const usage = (args, re) => {
        const r = spawnSync(phx, ['infer', ...args], { encoding: 'utf8', env: { ...process.env, PHX_HOME: home } });
        return r.status === 2 && re.test(r.stderr) ? true : `exit ${r.status}: ${r.stderr}`;
    };
    for (const [args, re, what] of [
        [['--upstream', 'http://127.0.0.1:1', '--model-name', 'x'], /--model-hash HEX or --model-file/, 'no model hash'],
        [['--upstream', 'http://127.0.0.1:1', '--model-hash', '00'.repeat(32)], /--model-name/, 'no --model-name'],
        [['--upstream', 'http://127.0.0.1:1', '--model-name', 'x', '--model', model], /not --model/, '--model too'],
        [['--upstream', 'ftp://x', '--model-name', 'x', '--model-hash', '00'.repeat(32)], /http\(s\)/, 'not http'],
        [['--upstream', 'http://127.0.0.1:1', '--model-name', 'x', '--model-hash', 'abc'], /32 bytes of hex/, 'bad hash'],
        [['--model', model, '--model-hash', '00'.repeat(32)], /go with --upstream/, 'hash without --upstream'],
    ]) {
        const r = usage(args, re);
        check(`usage (exit 2): ${what}`, r === true, r);
    }
    const help = spawnSync(phx, ['infer', '--help'], { encoding: 'utf8' });
    check('--help documents proxy mode', help.status === 0 && /--upstream URL/.test(help.stdout) &&
          /--model-hash HEX/.test(help.stdout), help.stdout.slice(0, 200));
    const upLog = path.join(home, 'up.log'), pxLog = path.join(home, 'proxy.log'), downLog = path.join(home, 'down.log');
    const up = await start(['--model', model, '--model-name', 'tiny', '--slots', '4', '--ctx', '2048',
                            '--max-tokens', '1500'], home, upLog);
    const px = await start(['--upstream', up.ready.url, '--upstream-model', 'tiny', '--model-name', 'gpu',
                            '--model-file', model, '--slots', '4', '--max-tokens', '1500'], home, pxLog);
    // An upstream that is down: a port that was free a moment ago.
    const free = net.createServer();
    await new Promise(r => free.listen(0, '127.0.0.1', r));
    const deadPort = free.address().port;
    await new Promise(r => free.close(r));
    const down = await start(['--upstream', `http://127.0.0.1:${deadPort}`, '--model-name', 'gpu',
                              '--model-hash', sha256(fs.readFileSync(model))], home, downLog);
    // An upstream that answers a stream's first event and then stalls: the
    // proxy must still close it when its client goes.
    let stallClosed = false, stallConns = 0;
    const stall = net.createServer(sock => {
        stallConns++;
        sock.once('data', () => sock.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n' +
                                          'data: {"id":"u","object":"text_completion","choices":[{"index":0,"text":"x"}]}\n\n'));
        sock.on('close', () => { stallClosed = true; });
        sock.on('error', () => {});
    });
    await new Promise(r => stall.listen(0, '127.0.0.1', r));
    const st = await start(['--upstream', `http://127.0.0.1:${stall.address().port}`, '--model-name', 'gpu',
                            '--model-hash', sha256(fs.readFileSync(model))], home, path.join(home, 'stall.log'));
    const url = px.ready.url;
    try {
        check('the proxy has its own keys', px.ready.address !== up.ready.address &&
              px.ready.model_sha256.replace(/^0x/, '') === sha256(fs.readFileSync(model)), JSON.stringify(px.ready));
        const client = new OpenAI({ baseURL: url + '/v1', apiKey: 'unused', maxRetries: 0 });
        const models = await client.models.list();
        check('SDK through the proxy: models lists the served name and the model hash',
              models.data.length === 1 && models.data[0].id === 'gpu' && models.data[0].sha256 === sha256(fs.readFileSync(model)));
        const messages = [{ role: 'user', content: `Say ${SECRET}` }];
        const c = await client.chat.completions.create({ model: 'gpu', messages, max_tokens: 12, temperature: 0 });
        const direct = await new OpenAI({ baseURL: up.ready.url + '/v1', apiKey: 'x', maxRetries: 0 })
            .chat.completions.create({ model: 'tiny', messages, max_tokens: 12, temperature: 0 });
        check('SDK non-streaming chat through the proxy: the upstream\'s answer, our id and model name',
              c.choices[0].message.content === direct.choices[0].message.content && c.model === 'gpu' &&
              /^chatcmpl-[0-9a-f]{24}$/.test(c.id) && c.id !== direct.id && c.usage.completion_tokens > 0,
              JSON.stringify([c, direct.choices[0]]));
        const stream = await client.chat.completions.create({ model: 'gpu', messages, max_tokens: 12, temperature: 0,
                                                              stream: true, stream_options: { include_usage: true } });
        let streamed = '', chunks = 0, usage = null, ids = new Set();
        for await (const ch of stream) {
            chunks++;
            ids.add(ch.id);
            if (ch.choices.length) streamed += ch.choices[0].delta.content || '';
            if (ch.usage) usage = ch.usage;
        }
        check('SDK streaming chat through the proxy: the same answer, usage, one id of ours',
              streamed === c.choices[0].message.content && chunks > 2 && usage && ids.size === 1 && [...ids][0] !== c.id,
              JSON.stringify([streamed, chunks, usage, [...ids]]));
        const cp = await client.completions.create({ model: 'gpu', prompt: 'Once upon', max_tokens: 8, temperature: 0 });
        check('SDK completions through the proxy', /^cmpl-/.test(cp.id) && typeof cp.choices[0].text === 'string' &&
              cp.usage.completion_tokens > 0, JSON.stringify(cp));

        const body = JSON.stringify({ model: 'gpu', messages, max_tokens: 6, temperature: 0 });
        const r1 = await post(url, '/v1/chat/completions', body);
        check('raw chat through the proxy is 200', r1.status === 200, r1.text);
        await checkSigned(url, JSON.parse(r1.text).id, body, r1.text, px.ready, 'non-streaming');
        const sbody = JSON.stringify({ model: 'gpu', messages, max_tokens: 6, temperature: 0, stream: true });
        const r2 = await post(url, '/v1/chat/completions', sbody);
        const first = r2.text.split('\n').find(l => l.startsWith('data: {'));
        check('raw stream through the proxy ends with [DONE]', r2.text.endsWith('data: [DONE]\n\n'), r2.text.slice(-80));
        await checkSigned(url, JSON.parse(first.slice(6)).id, sbody, r2.text, px.ready, 'streaming');

        const nonce = crypto.randomBytes(32).toString('hex');
        const rep = await (await fetch(`${url}/v1/attestation/report?model=gpu&nonce=${nonce}`)).json();
        const pre = Buffer.concat([Buffer.from('phx-infer-v1'), Buffer.from(px.ready.address.slice(2), 'hex'),
                                   Buffer.from(px.ready.ed25519_public_key.slice(2), 'hex'),
                                   Buffer.from(rep.e2ee_public_key, 'hex'), Buffer.from(sha256(fs.readFileSync(model)), 'hex')]);
        check('the report binds the proxy\'s keys and the --model-file hash, says engine proxy',
              rep.report_data === sha256(pre) + nonce && rep.info.engine === 'proxy' && rep.model_name === 'gpu',
              JSON.stringify(rep.info));

        // Sealed through the proxy.
        const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });
        const pk = await suite.kem.deserializePublicKey(new Uint8Array(Buffer.from(rep.e2ee_public_key, 'hex')).buffer);
        const info = new Uint8Array(Buffer.concat([Buffer.from('phx-infer-request-v1'), Buffer.from(rep.model_sha256, 'hex')]));
        const sc = await suite.createSenderContext({ recipientPublicKey: pk, info: info.buffer });
        const ct = Buffer.from(await sc.seal(new Uint8Array(Buffer.from(body)).buffer));
        const key = Buffer.from(await sc.export(new TextEncoder().encode('phx-infer-reply-v1').buffer, 32));
        const sealedBody = JSON.stringify({ sealed: { enc: '0x' + Buffer.from(sc.enc).toString('hex'), ciphertext: '0x' + ct.toString('hex') } });
        const r3 = await post(url, '/v1/chat/completions', sealedBody);
        let opened = null;
        try {
            const env = JSON.parse(r3.text), x = Buffer.from(env.sealed.ciphertext.slice(2), 'hex');
            const d = crypto.createDecipheriv('chacha20-poly1305', key, Buffer.from(env.sealed.nonce.slice(2), 'hex'), { authTagLength: 16 });
            d.setAAD(Buffer.from(env.id));
            d.setAuthTag(x.subarray(x.length - 16));
            opened = JSON.parse(Buffer.concat([d.update(x.subarray(0, x.length - 16)), d.final()]).toString());
        } catch (e) { opened = null; }
        check('a sealed request through the proxy gets a sealed answer that opens to the upstream\'s answer',
              r3.status === 200 && !r3.text.includes('"choices"') && opened &&
              opened.choices[0].message.content === JSON.parse(r1.text).choices[0].message.content, r3.text.slice(0, 200));
        await checkSigned(url, JSON.parse(r3.text).id, sealedBody, r3.text, px.ready, 'sealed');

        const bad = await post(url, '/v1/chat/completions', '{"model": "gpu", "messages": [');
        check('malformed JSON at the proxy is 400 (not forwarded)', bad.status === 400 &&
              JSON.parse(bad.text).error.type === 'invalid_request_error', bad.text);
        const big = await post(url, '/v1/chat/completions', JSON.stringify({ model: 'gpu', messages, max_tokens: 1e9 }));
        check('max_tokens 1e9 at the proxy is 400 max_tokens', big.status === 400 && JSON.parse(big.text).error.param === 'max_tokens', big.text);
        const other = await post(url, '/v1/chat/completions', JSON.stringify({ model: 'tiny', messages }));
        check('the upstream\'s own name is not served by the proxy (404)', other.status === 404, other.text);

        // Upstream down: 502, as an OpenAI error, streaming or not.
        let err = null;
        try {
            await new OpenAI({ baseURL: down.ready.url + '/v1', apiKey: 'x', maxRetries: 0 })
                .chat.completions.create({ model: 'gpu', messages, max_tokens: 4 });
        } catch (e) { err = e; }
        check('upstream down: the SDK gets a 502 OpenAI error', err && err.status === 502 &&
              err.error && err.error.code === 'upstream_unavailable' && err.error.type === 'server_error', err && err.message);
        const ds = await post(down.ready.url, '/v1/chat/completions', JSON.stringify({ model: 'gpu', messages, stream: true }));
        check('upstream down: a stream request is a plain 502 too', ds.status === 502 &&
              JSON.parse(ds.text).error.code === 'upstream_unavailable', ds.text);
        check('upstream down: the proxy frees its slot', (await health(down.ready.url)) === 0);

        // A client that drops a stream frees the upstream's sequence at once.
        const ac = new AbortController();
        const res = await fetch(url + '/v1/completions', {
            method: 'POST', headers: { 'content-type': 'application/json' }, signal: ac.signal,
            body: JSON.stringify({ model: 'gpu', prompt: 'Count: one two three', max_tokens: 1400, temperature: 1, seed: 1, stream: true }),
        });
        const rd = res.body.getReader();
        await rd.read();
        const busyUp = await health(up.ready.url), busyPx = await health(url);
        ac.abort();
        let freed = -1;
        for (let i = 0; i < 50 && freed !== 0; i++) {
            await sleep(100);
            freed = (await health(up.ready.url)) + (await health(url));
        }
        check('mid-stream, the upstream and the proxy each hold one sequence', busyUp === 1 && busyPx === 1, `${busyUp} ${busyPx}`);
        check('a dropped stream frees the proxy\'s slot and the upstream\'s sequence within 5 s', freed === 0, freed);
        // The same against an upstream that stalls after its first event.
        const ac2 = new AbortController();
        const res2 = await fetch(st.ready.url + '/v1/completions', {
            method: 'POST', headers: { 'content-type': 'application/json' }, signal: ac2.signal,
            body: JSON.stringify({ model: 'gpu', prompt: 'x', max_tokens: 8, stream: true }),
        });
        const first2 = await res2.body.getReader().read();
        const busyStall = await health(st.ready.url);
        ac2.abort();
        for (let i = 0; i < 50 && !stallClosed; i++) await sleep(100);
        check('a stalled upstream stream: our event arrives, with our id', res2.status === 200 &&
              /"id":"cmpl-/.test(Buffer.from(first2.value || []).toString()) && busyStall === 1,
              Buffer.from(first2.value || []).toString());
        check('a dropped stream closes even a stalled upstream connection within 5 s', stallClosed && stallConns === 1);
        check('and frees the proxy\'s slot', (await health(st.ready.url)) === 0);
        const again = await client.chat.completions.create({ model: 'gpu', messages, max_tokens: 4, temperature: 0 });
        check('the proxy keeps serving', again.choices.length === 1);
    } finally {
        for (const p of [px, down, st, up]) p.child.kill('SIGTERM');
        stall.close();
        for (const p of [px, down, st, up]) {
            const x = await p.exited;
            check(`${p === up ? 'upstream' : 'proxy'} stops cleanly (exit 0, no sanitizer report)`, x.code === 0, JSON.stringify(x));
        }
        const logs = [upLog, pxLog, downLog].map(f => fs.readFileSync(f, 'utf8')).join('\n');
        check('no prompt text in the proxy\'s or the upstream\'s log', logs.length > 0 && !logs.includes(SECRET));
        fs.rmSync(home, { recursive: true, force: true });
    }
    done();
}
main().catch(e => {
    console.error(e);
    process.exit(1);
});
