// bench/ai driver: see run.sh. argv: PHX MODEL TOKENS ROUNDS
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [phx, model, tokensArg, roundsArg] = process.argv.slice(2);
const N = Number(tokensArg), ROUNDS = Number(roundsArg), THREADS = 2;
const PROMPT = 'Write a short story about a lighthouse keeper who finds a message in a bottle.';
const mods = process.env.PHX_NODE_MODULES;
const { getLlama } = await import(pathToFileURL(path.join(mods, 'node-llama-cpp', 'dist', 'index.js')).href);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const load0 = os.loadavg()[0]; // other work on the machine skews both sides

async function peerRun(m) {
    const ctx = await m.createContext({ contextSize: 1024, threads: THREADS, sequences: 1 });
    const seq = ctx.getSequence();
    const toks = m.tokenize(PROMPT);
    const t0 = now();
    let first = 0, n = 0;
    for await (const t of seq.evaluate(toks, { temperature: 0 })) {
        if (!n) first = now();
        if (++n >= N || m.isEogToken(t)) break;
    }
    const t1 = now();
    await ctx.dispose();
    return { ttft: first - t0, tps: (n - 1) / ((t1 - first) / 1000), n };
}

async function phxStream(url) {
    const t0 = now();
    const r = await fetch(url + '/v1/completions', {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'bench', prompt: PROMPT, max_tokens: N, temperature: 0, stream: true,
                               stream_options: { include_usage: true } }),
    });
    const rd = r.body.getReader();
    const dec = new TextDecoder();
    let first = 0, buf = '', n = 0;
    for (;;) {
        const { done, value } = await rd.read();
        if (done) break;
        if (!first) first = now();
        buf += dec.decode(value, { stream: true });
    }
    const t1 = now();
    const usage = buf.split('\n').filter(l => l.startsWith('data: {') && l.includes('"usage"'))
        .map(l => JSON.parse(l.slice(6)).usage).pop();
    n = usage ? usage.completion_tokens : 0;
    return { ttft: first - t0, tps: (n - 1) / ((t1 - first) / 1000), n, t0, t1 };
}

const child = spawn(phx, ['infer', '--model', model, '--model-name', 'bench', '--listen', '127.0.0.1:0',
                          '--threads', String(THREADS), '--slots', '4', '--max-tokens', String(N), '--json'],
                    { stdio: ['ignore', 'pipe', 'ignore'] });
const ready = await new Promise((resolve, reject) => {
    let b = '';
    child.stdout.on('data', d => { b += d; if (b.includes('\n')) resolve(JSON.parse(b)); });
    child.on('exit', () => reject(new Error('phx infer exited')));
});
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const m = await llama.loadModel({ modelPath: model });
const best = { peer: { tps: 0, ttft: Infinity }, phx: { tps: 0, ttft: Infinity }, agg4: 0 };
try {
    await phxStream(ready.url); // warm-up
    await peerRun(m);
    for (let r = 0; r < ROUNDS; r++) {
        const p = await peerRun(m);
        const q = await phxStream(ready.url);
        best.peer.tps = Math.max(best.peer.tps, p.tps);
        best.peer.ttft = Math.min(best.peer.ttft, p.ttft);
        best.phx.tps = Math.max(best.phx.tps, q.tps);
        best.phx.ttft = Math.min(best.phx.ttft, q.ttft);
        const four = await Promise.all([0, 1, 2, 3].map(() => phxStream(ready.url)));
        const span = (Math.max(...four.map(x => x.t1)) - Math.min(...four.map(x => x.t0))) / 1000;
        best.agg4 = Math.max(best.agg4, four.reduce((a, x) => a + x.n, 0) / span);
    }
} finally {
    child.kill('SIGTERM');
    await m.dispose();
}
const single = best.phx.tps;
const load = os.loadavg()[0];
console.log(`model ${path.basename(model)}, ${N} tokens, ${THREADS} threads, best of ${ROUNDS}; ` +
            `${os.cpus().length} CPUs, load average ${load0.toFixed(1)} at start, ${load.toFixed(1)} at end`);
console.log(`node-llama-cpp   ${best.peer.tps.toFixed(1)} tok/s   first token ${best.peer.ttft.toFixed(1)} ms`);
console.log(`phx infer        ${single.toFixed(1)} tok/s   first token ${best.phx.ttft.toFixed(1)} ms (over HTTP, SSE)`);
console.log(`tokens/s ratio phx/node-llama-cpp: ${(single / best.peer.tps).toFixed(3)}`);
console.log(`added time to first token: ${(best.phx.ttft - best.peer.ttft).toFixed(1)} ms`);
console.log(`4 concurrent streams: ${best.agg4.toFixed(1)} tok/s aggregate = ${(best.agg4 / single).toFixed(2)}x one stream`);
