#!/usr/bin/env node
// phx infer end to end, with independent peers: the official OpenAI Node SDK
// drives chat completions (streaming and not), ethers recovers the ECDSA
// signer, tweetnacl checks Ed25519, `phx attest verify` and @phala/dcap-qvl
// check the quote with the sim root, and hostile requests each get the right
// OpenAI error while the daemon keeps serving. No prompt or answer may appear
// in the daemon's log.
//
// env: PHX_BIN, PHX_NODE_MODULES, PHX_LLAMA_VOCAB (the release's qwen2 vocabulary)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const { env: need, checker, sha256, makeModel, startInfer } = require('../support/infer.js');

const { phx, vocab, mods } = need('infer_api');
const { OpenAI } = require(path.join(mods, 'openai'));
const { ethers } = require(path.join(mods, 'ethers'));
const nacl = require(path.join(mods, 'tweetnacl'));
const { QuoteVerifier } = require(path.join(mods, '@phala', 'dcap-qvl'));

const { check, done } = checker();
const SECRET = 'zebra-quokka-' + crypto.randomBytes(8).toString('hex'); // must never be logged

async function main() {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-infer-'));
    const model = path.join(home, 'tiny.gguf');
    makeModel(vocab, model);
    const logPath = path.join(home, 'infer.log');
    const { child, ready, exited } = await startInfer(phx, ['--model', model, '--model-name', 'tiny', '--slots', '4',
                                                             '--ctx', '1024', '--max-tokens', '256'],
                                                      { home, log: logPath });
    const url = ready.url;
    try {
        await run(url, ready, model, home);
    } finally {
        child.kill('SIGTERM');
        const st = await exited;
        check('daemon stops cleanly on SIGTERM (exit 0, no sanitizer report)', st.code === 0, JSON.stringify(st));
        const text = fs.readFileSync(logPath, 'utf8');
        check('daemon log is not empty (the check below reads something)', text.length > 0);
        check('no prompt text in the daemon log', !text.includes(SECRET) && !text.includes('zebra-quokka'));
        fs.rmSync(home, { recursive: true, force: true });
    }
}

const { CipherSuite, HkdfSha256 } = require(path.join(mods, '@hpke/core'));
const { DhkemX25519HkdfSha256 } = require(path.join(mods, '@hpke/dhkem-x25519'));
const { Chacha20Poly1305 } = require(path.join(mods, '@hpke/chacha20poly1305'));
const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });

async function sealTo(pubHex, modelSha, plaintext) {
    const recipientPublicKey = await suite.kem.deserializePublicKey(new Uint8Array(Buffer.from(pubHex, 'hex')).buffer);
    const info = new Uint8Array(Buffer.concat([Buffer.from('phx-infer-request-v1'), modelSha]));
    const s = await suite.createSenderContext({ recipientPublicKey, info: info.buffer });
    const ct = Buffer.from(await s.seal(new Uint8Array(Buffer.from(plaintext)).buffer));
    const replyKey = Buffer.from(await s.export(new TextEncoder().encode('phx-infer-reply-v1').buffer, 32));
    const body = JSON.stringify({ sealed: { enc: '0x' + Buffer.from(s.enc).toString('hex'), ciphertext: '0x' + ct.toString('hex') } });
    return { body, replyKey };
}

function openReply(key, id, sealed) {
    const nonce = Buffer.from(sealed.nonce.slice(2), 'hex');
    const ct = Buffer.from(sealed.ciphertext.slice(2), 'hex');
    const d = crypto.createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    d.setAAD(Buffer.from(id), { plaintextLength: ct.length - 16 });
    d.setAuthTag(ct.subarray(ct.length - 16));
    return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]).toString('utf8');
}

async function post(url, pathname, body) {
    const r = await fetch(url + pathname, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: r.status, text: await r.text() };
}

async function verifySig(url, id, reqBody, respBytes, ready, label) {
    const want = sha256(reqBody) + ':' + sha256(respBytes);
    const ec = await (await fetch(`${url}/v1/signature/${id}?model=tiny&signing_algo=ecdsa`)).json();
    check(`${label}: signed text is sha256(request):sha256(response)`, ec.text === want, ec.text);
    check(`${label}: ethers recovers the ECDSA signer`,
          ethers.verifyMessage(ec.text, ec.signature) === ready.address && ec.signing_address === ready.address,
          ec.signing_address);
    const ed = await (await fetch(`${url}/v1/signature/${id}?signing_algo=ed25519`)).json();
    const pub = Buffer.from(ready.ed25519_public_key.slice(2), 'hex');
    check(`${label}: tweetnacl verifies the Ed25519 signature`,
          ed.text === want && ed.signing_address === pub.toString('hex') &&
          nacl.sign.detached.verify(Buffer.from(ed.text), Buffer.from(ed.signature, 'hex'), pub));
    const tampered = want.replace(/^./, c => (c === '0' ? '1' : '0'));
    check(`${label}: a changed text does not verify (Ed25519)`,
          !nacl.sign.detached.verify(Buffer.from(tampered), Buffer.from(ed.signature, 'hex'), pub));
}

async function run(url, ready, model, home) {
    const client = new OpenAI({ baseURL: url + '/v1', apiKey: 'unused', maxRetries: 0 });
    const models = await client.models.list();
    check('SDK lists the model with its sha256', models.data.length === 1 && models.data[0].id === 'tiny' &&
          models.data[0].sha256 === sha256(fs.readFileSync(model)));

    const messages = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: `Say ${SECRET}` }];
    const c = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 12, temperature: 0 });
    check('SDK non-streaming chat: one choice with text', c.choices.length === 1 &&
          c.choices[0].message.role === 'assistant' && typeof c.choices[0].message.content === 'string' &&
          c.choices[0].message.content.length > 0, JSON.stringify(c.choices));
    check('SDK non-streaming chat: usage counts tokens', c.usage.completion_tokens > 0 && c.usage.completion_tokens <= 12 &&
          c.usage.total_tokens === c.usage.prompt_tokens + c.usage.completion_tokens);
    check('SDK non-streaming chat: id is chatcmpl-', /^chatcmpl-[0-9a-f]{24}$/.test(c.id));

    const stream = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 12, temperature: 0,
                                                          stream: true, stream_options: { include_usage: true } });
    let streamed = '', chunks = 0, finish = null, usage = null;
    for await (const ch of stream) {
        chunks++;
        if (ch.choices.length) {
            streamed += ch.choices[0].delta.content || '';
            if (ch.choices[0].finish_reason) finish = ch.choices[0].finish_reason;
        }
        if (ch.usage) usage = ch.usage;
    }
    check('SDK streaming chat: several chunks, a finish reason and usage', chunks > 2 && finish && usage &&
          usage.completion_tokens === c.usage.completion_tokens, `${chunks} ${finish} ${JSON.stringify(usage)}`);
    check('SDK streaming chat at temperature 0 equals the non-streaming answer',
          streamed === c.choices[0].message.content, JSON.stringify([streamed, c.choices[0].message.content]));

    // Signatures over the exact bytes, non-streaming and streaming.
    const body = JSON.stringify({ model: 'tiny', messages, max_tokens: 6, seed: 7, temperature: 0.8 });
    const r1 = await post(url, '/v1/chat/completions', body);
    check('raw non-streaming chat is 200', r1.status === 200, r1.text);
    await verifySig(url, JSON.parse(r1.text).id, body, r1.text, ready, 'non-streaming');
    const sbody = JSON.stringify({ model: 'tiny', messages, max_tokens: 6, stream: true });
    const r2 = await post(url, '/v1/chat/completions', sbody);
    const firstData = r2.text.split('\n').find(l => l.startsWith('data: {'));
    check('raw stream ends with [DONE]', r2.text.endsWith('data: [DONE]\n\n'));
    await verifySig(url, JSON.parse(firstData.slice(6)).id, sbody, r2.text, ready, 'streaming');
    const nf = await fetch(`${url}/v1/signature/chatcmpl-000000000000000000000000`);
    check('unknown chat id is 404', nf.status === 404);

    // Attestation: report data binds both keys, the model's hash and our nonce.
    const nonce = crypto.randomBytes(32).toString('hex');
    const rep = await (await fetch(`${url}/v1/attestation/report?model=tiny&nonce=${nonce}&signing_algo=ecdsa`)).json();
    const pre = Buffer.concat([Buffer.from('phx-infer-v1'), Buffer.from(ready.address.slice(2), 'hex'),
                               Buffer.from(ready.ed25519_public_key.slice(2), 'hex'),
                               Buffer.from(rep.e2ee_public_key || '', 'hex'),
                               Buffer.from(sha256(fs.readFileSync(model)), 'hex')]);
    const wantRd = sha256(pre) + nonce;
    check('report: fields as vllm-proxy names them', rep.signing_address === ready.address &&
          rep.signing_algo === 'ecdsa' && rep.request_nonce === nonce && Array.isArray(rep.all_attestations) &&
          rep.all_attestations.length === 1 && rep.all_attestations[0].intel_quote === rep.intel_quote);
    check('report: an X25519 key for sealed requests', /^[0-9a-f]{64}$/.test(rep.e2ee_public_key || ''));
    check('report: report_data = sha256(tag||address||ed25519||x25519||model sha256)||nonce', rep.report_data === wantRd);
    const qfile = path.join(home, 'q.hex'), cfile = path.join(home, 'c.json');
    fs.writeFileSync(qfile, rep.intel_quote);
    execFileSync(phx, ['attest', 'collateral', '--tee', 'sim', '--out', cfile], { env: { ...process.env, PHX_HOME: home } });
    let v;
    try {
        v = JSON.parse(execFileSync(phx, ['attest', 'verify', qfile, '--collateral', cfile, '--trust-sim-root',
                                          path.join(home, 'sim'), '--json'], { env: { ...process.env, PHX_HOME: home } }));
    } catch (e) {
        v = { error: String(e.stdout || e) };
    }
    check('phx attest verify accepts the quote with the sim root', v.ok === true, JSON.stringify(v).slice(0, 300));
    check('the verified quote carries our report data', JSON.stringify(v).includes(wantRd));
    const qv = QuoteVerifier.newWithRootCa(fs.readFileSync(path.join(home, 'sim', 'root_ca.der')))
        .verify(Buffer.from(rep.intel_quote, 'hex'), JSON.parse(fs.readFileSync(cfile, 'utf8')), Math.floor(Date.now() / 1000));
    const td = qv.report && qv.report.asTd10 && qv.report.asTd10();
    const qvRd = td ? Buffer.from(td.reportData).toString('hex') : '';
    check('@phala/dcap-qvl accepts the quote with the sim root', qv.status === 'UpToDate', qv.status);
    check('@phala/dcap-qvl sees our report data', qvRd === wantRd, qvRd);
    // phx infer verify on a saved answer: every link, and each broken one.
    const id1 = JSON.parse(r1.text).id;
    const files = { request: body, response: r1.text,
                    signature: await (await fetch(`${url}/v1/signature/${id1}?signing_algo=ecdsa`)).text(),
                    report: JSON.stringify(rep) };
    for (const [k, val] of Object.entries(files)) fs.writeFileSync(path.join(home, `v_${k}`), val);
    const edSig = await (await fetch(`${url}/v1/signature/${id1}?signing_algo=ed25519`)).text();
    fs.writeFileSync(path.join(home, 'v_signature_ed'), edSig);
    const verify = (over = {}, extra = []) => {
        const f = k => over[k] || path.join(home, `v_${k}`);
        const a = ['infer', 'verify', '--request', f('request'), '--response', f('response'), '--signature',
                   f('signature'), '--report', f('report'), '--collateral', cfile, '--trust-sim-root',
                   path.join(home, 'sim'), ...extra];
        try {
            execFileSync(phx, a, { env: { ...process.env, PHX_HOME: home }, stdio: 'pipe' });
            return 0;
        } catch (e) {
            return e.status;
        }
    };
    check('phx infer verify: a saved answer, model file and nonce verify',
          verify({}, ['--model', model, '--nonce', nonce]) === 0);
    check('phx infer verify: the Ed25519 signature verifies too',
          verify({ signature: path.join(home, 'v_signature_ed') }) === 0);
    const bad = (name, content) => { const p = path.join(home, `bad_${name}`); fs.writeFileSync(p, content); return p; };
    check('phx infer verify: a changed response fails (exit 1)',
          verify({ response: bad('resp', r1.text.replace('"assistant"', '"assistanT"')) }) === 1);
    check('phx infer verify: another model fails (exit 1)', verify({}, ['--model-sha256', '00'.repeat(32)]) === 1);
    check('phx infer verify: another nonce fails (exit 1)', verify({}, ['--nonce', 'ab'.repeat(32)]) === 1);
    const other = JSON.parse(JSON.stringify(rep));
    other.ecdsa_address = ethers.Wallet.createRandom().address;
    check('phx infer verify: a report for another key fails (exit 1)',
          verify({ report: bad('rep', JSON.stringify(other)) }) === 1);
    const swapped = JSON.parse(JSON.stringify(rep));
    swapped.model_sha256 = '11'.repeat(32);
    check('phx infer verify: a report naming another model than its quote fails (exit 1)',
          verify({ report: bad('rep2', JSON.stringify(swapped)) }) === 1);
    check('phx infer verify: without the sim root the quote fails (exit 1)', (() => {
        try {
            execFileSync(phx, ['infer', 'verify', '--request', path.join(home, 'v_request'), '--response',
                               path.join(home, 'v_response'), '--signature', path.join(home, 'v_signature'),
                               '--report', path.join(home, 'v_report'), '--collateral', cfile], { stdio: 'pipe' });
            return false;
        } catch (e) {
            return e.status === 1;
        }
    })());
    check('phx infer verify: a missing option is bad usage (exit 2)', (() => {
        try {
            execFileSync(phx, ['infer', 'verify', '--request', path.join(home, 'v_request')], { stdio: 'pipe' });
            return false;
        } catch (e) {
            return e.status === 2;
        }
    })());

    const ed = await (await fetch(`${url}/v1/attestation/report?nonce=${nonce}&signing_algo=ed25519`)).json();
    check('report (ed25519): signing_address is the raw key', ed.signing_address === ready.ed25519_public_key.slice(2));
    const badNonce = await fetch(`${url}/v1/attestation/report?nonce=abcd`);
    check('report: short nonce is 400', badNonce.status === 400);
    const badAlgo = await fetch(`${url}/v1/attestation/report?signing_algo=rsa`);
    check('report: unknown signing_algo is 400', badAlgo.status === 400);

    // Sealed requests: HPKE to the attested X25519 key (@hpke, independent of
    // our C), answers sealed under the exported reply key.
    const modelSha = Buffer.from(sha256(fs.readFileSync(model)), 'hex');
    const sealedReq = JSON.stringify({ model: 'tiny', messages, max_tokens: 6, temperature: 0 });
    const s1 = await sealTo(rep.e2ee_public_key, modelSha, sealedReq);
    const sr = await post(url, '/v1/chat/completions', s1.body);
    let sj = {};
    try { sj = JSON.parse(sr.text); } catch (e) { /* checked below */ }
    check('sealed request: 200 with a sealed answer only', sr.status === 200 && sj.sealed && !sr.text.includes('assistant'),
          sr.text.slice(0, 200));
    let opened = null;
    try { opened = JSON.parse(openReply(s1.replyKey, sj.id, sj.sealed)); } catch (e) { opened = null; }
    check('sealed request: the answer opens with the reply key to a chat completion',
          opened && opened.object === 'chat.completion' && opened.id === sj.id &&
          typeof opened.choices[0].message.content === 'string' && opened.usage.completion_tokens > 0);
    await verifySig(url, sj.id, s1.body, sr.text, ready, 'sealed');
    const s2 = await sealTo(rep.e2ee_public_key, modelSha, JSON.stringify({ model: 'tiny', messages, max_tokens: 4, stream: true }));
    const ss = await post(url, '/v1/chat/completions', s2.body);
    const evs = ss.text.split('\n\n').filter(Boolean);
    let streamOk = evs.length > 2 && evs[evs.length - 1] === 'data: [DONE]';
    for (const ev of evs.slice(0, -1)) {
        try {
            const w = JSON.parse(ev.slice(6));
            const inner = JSON.parse(openReply(s2.replyKey, w.id, w.sealed));
            streamOk = streamOk && inner.object === 'chat.completion.chunk';
        } catch (e) {
            streamOk = false;
        }
    }
    check('sealed stream: every event is sealed and opens to a chunk', streamOk, ss.text.slice(0, 200));
    const wrong = crypto.generateKeyPairSync('x25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const s3 = await sealTo(wrong.toString('hex'), modelSha, sealedReq);
    const wr = await post(url, '/v1/chat/completions', s3.body);
    let wj = {};
    try { wj = JSON.parse(wr.text); } catch (e) { /* checked below */ }
    check('a request sealed to a wrong key: 400 decryption_failed', wr.status === 400 && wj.error &&
          wj.error.code === 'decryption_failed' && wj.error.type === 'invalid_request_error', wr.text);
    const s4 = await sealTo(rep.e2ee_public_key, Buffer.alloc(32), sealedReq);
    const wm = await post(url, '/v1/chat/completions', s4.body);
    check('a request sealed for another model hash: 400', wm.status === 400 && JSON.parse(wm.text).error.code === 'decryption_failed');

    // Hostile inputs: each the right OpenAI error object.
    const expectErr = async (label, body, status, want) => {
        const r = await post(url, '/v1/chat/completions', body);
        let j = {};
        try { j = JSON.parse(r.text); } catch (e) { /* checked below */ }
        const err = j.error || {};
        check(`${label}: ${status} ${JSON.stringify(want)}`, r.status === status && typeof err.message === 'string' &&
              Object.entries(want).every(([k, val]) => err[k] === val), `${r.status} ${r.text.slice(0, 200)}`);
    };
    await expectErr('malformed JSON', '{"model":"tiny","messages":[', 400, { type: 'invalid_request_error' });
    await expectErr('unknown model', JSON.stringify({ model: 'gpt-9', messages }), 404,
                    { type: 'invalid_request_error', code: 'model_not_found', param: 'model' });
    await expectErr('huge prompt', JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'lorem ipsum '.repeat(30000) }] }),
                    400, { type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' });
    await expectErr('max_tokens 1e9', '{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":1e9}', 400,
                    { type: 'invalid_request_error', param: 'max_tokens', code: 'invalid_value' });
    await expectErr('messages missing', '{"model":"tiny"}', 400, { type: 'invalid_request_error', param: 'messages' });
    await expectErr('temperature 7', JSON.stringify({ model: 'tiny', messages, temperature: 7 }), 400,
                    { param: 'temperature' });
    let sdkErr = null;
    try {
        await client.chat.completions.create({ model: 'nope', messages });
    } catch (e) {
        sdkErr = e;
    }
    check('the SDK raises NotFoundError for an unknown model', sdkErr instanceof OpenAI.NotFoundError, String(sdkErr));

    // 100 streams at once, then every client drops: 4 slots serve, the rest
    // get 429 overload, and every slot is free again afterwards.
    const long = JSON.stringify({ model: 'tiny', messages, max_tokens: 256, stream: true });
    const ctrls = [], started = [];
    for (let i = 0; i < 100; i++) {
        const ac = new AbortController();
        ctrls.push(ac);
        started.push(fetch(url + '/v1/chat/completions', { method: 'POST', body: long, signal: ac.signal,
                                                           headers: { 'content-type': 'application/json' } })
            .then(async r => {
                if (r.status === 200) {
                    const rd = r.body.getReader();
                    await rd.read(); // the first event arrived: the stream is live
                    return { status: 200, rd };
                }
                return { status: r.status, body: await r.text() };
            }).catch(e => ({ status: 0, e })));
    }
    const res = await Promise.all(started);
    const live = res.filter(r => r.status === 200).length;
    const over = res.filter(r => r.status === 429);
    check('100 concurrent streams: at most 4 live, the rest 429', live >= 1 && live <= 4 && live + over.length === 100,
          `live ${live} 429 ${over.length} other ${JSON.stringify(res.filter(r => r.status !== 200 && r.status !== 429)).slice(0, 200)}`);
    check('429 is an OpenAI rate_limit error', over.length > 0 &&
          over.every(r => JSON.parse(r.body).error.code === 'rate_limit_exceeded'));
    for (const ac of ctrls) ac.abort();
    let busy = -1;
    for (let i = 0; i < 400 && busy !== 0; i++) {
        busy = (await (await fetch(url + '/health')).json()).busy_sequences;
        if (busy) await new Promise(r => setTimeout(r, 25));
    }
    check('every dropped stream freed its slot', busy === 0, busy);
    const after = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 4 });
    check('the daemon keeps serving after all of it', after.choices[0].message.content !== undefined &&
          after.usage.completion_tokens > 0);
    const cmp = await client.completions.create({ model: 'tiny', prompt: 'The sky is', max_tokens: 5, temperature: 0 });
    check('SDK /v1/completions answers', cmp.object === 'text_completion' && typeof cmp.choices[0].text === 'string' &&
          cmp.usage.completion_tokens > 0);
}

main().then(done, e => {
    console.error('infer_api:', e && e.stack || e);
    process.exit(1);
});
