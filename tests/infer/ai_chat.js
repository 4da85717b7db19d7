#!/usr/bin/env node
// phx.ai.chat end to end, locally: a contract run by `phx run` asks a real
// `phx infer` endpoint (the tiny noise model) through the worker-side client,
// which checks the endpoint's attestation and every answer's signature. The
// contract returns the answer with its receipt inside its own signed output;
// ethers checks the receipt's signature independently and `phx infer verify
// --receipt` checks every link, naming the one a tampered receipt breaks.
// Budgets: tokens per invocation, a route to no model, an endpoint that never
// answers (the invocation's wall clock), an endpoint under another root.
//
// env: PHX_BIN, PHX_NODE_MODULES, PHX_LLAMA_VOCAB
'use strict';
const fs = require('fs');
const os = require('os');
const net = require('net');
const path = require('path');
const crypto = require('crypto');
const { spawnSync, execFileSync } = require('child_process');
const { env: need, checker, sha256, makeModel, startInfer } = require('../support/infer.js');

const { phx, vocab, mods } = need('ai_chat');
const { ethers } = require(path.join(mods, 'ethers'));
const { check, done } = checker();

const CONTRACT = `
export default async function (input) {
  const r = await phx.ai.chat({ model: input.model, max_tokens: input.max_tokens, temperature: 0, seed: 7,
                                messages: [{ role: 'user', content: input.prompt }] });
  let second = null;
  if (input.again) {
    try { await phx.ai.chat({ model: input.model, max_tokens: input.again, messages: [{ role: 'user', content: 'x' }] }); }
    catch (e) { second = String(e.message || e); }
  }
  const digest = phx.crypto.keccak256(input.prompt + '\\n' + r.text + '\\n' + r.receipt.text);
  return { answer: r.text, usage: r.usage, second, receipt: r.receipt,
           signer: await phx.crypto.address(), signature: phx.hex.encode(await phx.crypto.sign(digest)) };
}
`;

async function main() {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-aichat-'));
    const env = { ...process.env, PHX_HOME: home };
    const model = path.join(home, 'tiny.gguf');
    makeModel(vocab, model);
    const { child, ready } = await startInfer(phx, ['--model', model, '--model-name', 'tiny', '--slots', '2',
                                                     '--ctx', '512', '--max-tokens', '64'], { home });
    // An endpoint that accepts and never answers.
    const mute = net.createServer(() => {});
    await new Promise(r => mute.listen(0, '127.0.0.1', r));
    const mutePort = mute.address().port;
    const contract = path.join(home, 'c.mjs');
    fs.writeFileSync(contract, CONTRACT);
    const sim = path.join(home, 'sim');
    const run = (input, extra = [], root = sim) => {
        const r = spawnSync(phx, ['run', contract, '--json', '--kv', path.join(home, 'kv'), '--input',
                                  JSON.stringify(input), '--ai-endpoint', `tiny=${ready.url}`,
                                  '--ai-trust-sim-root', root, ...extra], { env, encoding: 'utf8' });
        let j = null;
        try { j = JSON.parse(r.stdout); } catch (e) { /* reported below */ }
        return { status: r.status, j, stderr: r.stderr, stdout: r.stdout };
    };
    try {
        const prompt = 'Say something ' + crypto.randomBytes(4).toString('hex');
        const r = run({ model: 'tiny', prompt, max_tokens: 8 });
        check('a contract calling phx.ai.chat succeeds', r.status === 0 && r.j && r.j.ok, r.stdout + r.stderr);
        const out = r.j && r.j.output;
        if (!out) throw new Error('no output');
        const rc = out.receipt;
        check('the answer is text, with the usage', typeof out.answer === 'string' &&
              out.usage.completion_tokens >= 1 && out.usage.completion_tokens <= 8);
        check('the receipt names the attested endpoint key', rc.signing_address === ready.address &&
              rc.report.ecdsa_address.toLowerCase() === ready.address.toLowerCase());
        check('the receipt carries the model hash', rc.model_sha256 === sha256(fs.readFileSync(model)));
        check('the receipt text is sha256(request):sha256(response)',
              rc.text === `${sha256(rc.request)}:${sha256(rc.response)}`);
        check('the receipt holds the sealed exchange and its reply key (ai_sealed opens it)',
              JSON.parse(rc.response).sealed && JSON.parse(rc.request).sealed && /^[0-9a-f]{64}$/.test(rc.reply_key));
        check('the prompt is not in the receipt', !JSON.stringify(rc).includes(prompt));
        check('ethers: the receipt signature recovers to the endpoint',
              ethers.verifyMessage(rc.text, rc.signature) === ready.address);
        const digest = ethers.keccak256(ethers.toUtf8Bytes(prompt + '\n' + out.answer + '\n' + rc.text));
        check('ethers: the contract signed over answer and receipt',
              ethers.recoverAddress(digest, '0x' + out.signature.replace(/^0x/, '')) === out.signer);

        const saved = path.join(home, 'result.json');
        fs.writeFileSync(saved, JSON.stringify(r.j));
        const verify = (file, extra = []) => spawnSync(phx, ['infer', 'verify', '--receipt', file,
                                                             '--trust-sim-root', sim, ...extra], { env, encoding: 'utf8' });
        let v = verify(saved, ['--model', model]);
        check('phx infer verify --receipt: the contract result verifies', v.status === 0, v.stdout + v.stderr);
        const tamper = (name, fn) => {
            const t = JSON.parse(JSON.stringify(r.j));
            fn(t.output.receipt);
            const f = path.join(home, `t_${name}.json`);
            fs.writeFileSync(f, JSON.stringify(t));
            return verify(f);
        };
        v = tamper('resp', x => { x.response = x.response.replace(/"ciphertext":"0x/, '"ciphertext":"0x00'); });
        check('a tampered answer fails at the signed-text link', v.status === 1 && /signed text/.test(v.stderr), v.stderr);
        v = tamper('sig', x => { x.signature = ethers.Wallet.createRandom().signMessageSync(x.text); });
        check('another key\'s signature fails at the key link', v.status === 1 && /ECDSA signature/.test(v.stderr), v.stderr);
        v = tamper('model', x => { x.report.model_sha256 = '11'.repeat(32); });
        check('another model hash fails at the report-data link', v.status === 1 && /report data/.test(v.stderr), v.stderr);
        v = verify(saved, ['--model-sha256', '22'.repeat(32)]);
        check('an unexpected model fails at the model link', v.status === 1 && /another model/.test(v.stderr), v.stderr);

        const big = run({ model: 'tiny', prompt: 'x', max_tokens: 2000 });
        check('max_tokens over the invocation budget is a catchable error', big.status === 1 &&
              big.j && /over the 1024 completion tokens/.test(big.j.error.message), big.stdout);
        const two = run({ model: 'tiny', prompt: 'x', max_tokens: 8, again: 8 }, ['--ai-tokens', '10']);
        const used = two.j && two.j.output ? two.j.output.usage.completion_tokens : -1;
        check('tokens are counted across calls in one invocation', two.status === 0 && used > 2 ?
              /has left/.test(two.j.output.second) : two.status === 0, two.stdout + two.stderr);
        const none = run({ model: 'gpt-99', prompt: 'x', max_tokens: 4 });
        check('a model no endpoint serves is an error naming it', none.status === 1 &&
              /no AI endpoint serves model 'gpt-99'/.test(none.j && none.j.error.message), none.stdout);
        const stuck = spawnSync(phx, ['run', contract, '--json', '--kv', path.join(home, 'kv'), '--input',
                                      JSON.stringify({ model: 'mute', prompt: 'x', max_tokens: 4 }),
                                      '--ai-endpoint', `mute=http://127.0.0.1:${mutePort}`,
                                      '--ai-trust-sim-root', sim, '--timeout-ms', '1500'], { env, encoding: 'utf8' });
        let sj = null;
        try { sj = JSON.parse(stuck.stdout); } catch (e) { /* below */ }
        check('an endpoint that never answers ends the run at its wall clock',
              stuck.status === 1 && sj && sj.error && sj.error.code === 'wall_limit', stuck.stdout + stuck.stderr);
        const otherSim = path.join(home, 'othersim');
        execFileSync(phx, ['attest', 'collateral', '--tee', 'sim', '--sim-dir', otherSim, '--out',
                           path.join(home, 'oc.json')], { env });
        const wrong = run({ model: 'tiny', prompt: 'x', max_tokens: 4 }, [], otherSim);
        check('an endpoint whose quote is under another root is refused', wrong.status === 1 &&
              /not attested/.test(wrong.j && wrong.j.error.message), wrong.stdout);
        const usage = spawnSync(phx, ['run', contract, '--ai-endpoint', 'tiny'], { env, encoding: 'utf8' });
        check('a malformed --ai-endpoint is bad usage (exit 2)', usage.status === 2, usage.stderr);
    } finally {
        child.kill('SIGTERM');
        mute.close();
        fs.rmSync(home, { recursive: true, force: true });
    }
    done();
}
main().catch(e => {
    console.error(e);
    process.exit(1);
});
