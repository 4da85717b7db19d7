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
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const { env: need, checker, makeModel, startInfer } = createRequire(import.meta.url)('../support/infer.js');
const { phx, vocab, mods } = need('infer_differential');
const { getLlama } = await import(pathToFileURL(path.join(mods, 'node-llama-cpp', 'dist', 'index.js')).href);

const THREADS = 2, N = 24;
const prompts = ['The capital of France is', 'Once upon a time, in a land far away,',
                 'fn main() { println!("', '1, 2, 3, 4,'];
const { check, done } = checker();

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-infer-diff-'));
const model = path.join(home, 'tiny.gguf');
makeModel(vocab, model, '--seed', '42');
const { child, ready, exited } = await startInfer(phx, ['--model', model, '--threads', String(THREADS), '--slots', '1'],
                                                  { home, log: path.join(home, 'infer.log') });
try {
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
    check('the comparison ran to its end', false, e && e.stack || e);
} finally {
    child.kill('SIGTERM');
    const st = await exited;
    check('phx infer stopped cleanly', st.code === 0, JSON.stringify(st));
    fs.rmSync(home, { recursive: true, force: true });
}
done();
