#!/usr/bin/env node
// Differential test: at temperature 0, with fixed prompts, the tokens phx infer
// generates (/v1/completions with vLLM's return_token_ids) equal those
// node-llama-cpp generates on the same GGUF file with the same thread count.
// Both the prompt's tokens and the answer's are compared.
//
// env: PHX_BIN, PHX_NODE_MODULES, PHX_LLAMA_VOCAB
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const mods = process.env.PHX_NODE_MODULES || path.join(here, '..', '..', 'node_modules');
const phx = process.env.PHX_BIN;
const vocab = process.env.PHX_LLAMA_VOCAB;
if (!phx || !vocab || !fs.existsSync(vocab)) {
    console.error('infer_differential: needs PHX_BIN and PHX_LLAMA_VOCAB');
    process.exit(2);
}
const { getLlama } = await import(pathToFileURL(path.join(mods, 'node-llama-cpp', 'dist', 'index.js')).href);

const THREADS = 2, N = 24;
const prompts = ['The capital of France is', 'Once upon a time, in a land far away,',
                 'fn main() { println!("', '1, 2, 3, 4,'];
let failures = 0, passes = 0;
function check(name, cond, detail) {
    if (cond) { passes++; console.log(`ok   ${name}`); }
    else { failures++; console.log(`FAIL ${name}${detail !== undefined ? ': ' + detail : ''}`); }
}

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-infer-diff-'));
const model = path.join(home, 'tiny.gguf');
execFileSync(process.execPath, [path.join(here, 'make_model.js'), vocab, model, '--seed', '42']);
const log = fs.openSync(path.join(home, 'infer.log'), 'w');
const child = spawn(phx, ['infer', '--model', model, '--listen', '127.0.0.1:0', '--threads', String(THREADS),
                          '--slots', '1', '--json'],
                    { env: { ...process.env, PHX_HOME: home }, stdio: ['ignore', 'pipe', log] });
let exited = null;
child.on('exit', (code, sig) => { exited = { code, sig }; });
try {
    const ready = await new Promise((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', d => {
            buf += d;
            const nl = buf.indexOf('\n');
            if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)));
        });
        child.on('exit', () => reject(new Error('phx infer exited')));
    });
    const ours = [];
    for (const prompt of prompts) {
        const r = await fetch(ready.url + '/v1/completions', {
            method: 'POST', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model: ready.model, prompt, max_tokens: N, temperature: 0, return_token_ids: true }),
        });
        const j = await r.json();
        ours.push({ prompt: j.prompt_token_ids, out: j.choices[0].token_ids, finish: j.choices[0].finish_reason });
    }

    const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
    const m = await llama.loadModel({ modelPath: model });
    for (let i = 0; i < prompts.length; i++) {
        const ctx = await m.createContext({ contextSize: 512, threads: THREADS, sequences: 1 });
        const seq = ctx.getSequence();
        const toks = m.tokenize(prompts[i]);
        const out = [];
        for await (const t of seq.evaluate(toks, { temperature: 0 })) {
            if (m.isEogToken(t)) break;
            out.push(t);
            if (out.length >= N) break;
        }
        await ctx.dispose();
        const o = ours[i];
        check(`prompt ${i}: same prompt tokens (${toks.length})`, JSON.stringify(Array.from(toks)) === JSON.stringify(o.prompt),
              `${JSON.stringify(Array.from(toks))} vs ${JSON.stringify(o.prompt)}`);
        const n = o.out.length;
        check(`prompt ${i}: the same ${n} generated tokens`, n > 0 && JSON.stringify(out.slice(0, n)) === JSON.stringify(o.out) &&
              (o.finish === 'stop' || n === N), `node-llama-cpp ${JSON.stringify(out)} phx ${JSON.stringify(o.out)}`);
    }
    await m.dispose();
} catch (e) {
    console.error(e && e.stack || e);
    failures++;
} finally {
    child.kill('SIGTERM');
    await new Promise(r => (exited ? r() : child.on('exit', r)));
    check('phx infer stopped cleanly', exited.code === 0, JSON.stringify(exited));
    fs.rmSync(home, { recursive: true, force: true });
}
console.log(`${passes} passed, ${failures} failed`);
process.exit(failures || passes === 0 ? 1 : 0);
