// bench/ai driver: see run.sh. argv: PHX MODEL TOKENS ROUNDS THREADS
// Both engines get the same GGUF file and the same thread count. Each side is
// warmed up first (one single stream and one round of 4 streams), then ROUNDS
// rounds run, alternating which engine goes first, and the medians are
// reported with the spread. The ratios are of medians; the paired per-round
// ratio's median is printed beside it, which is steadier when the machine's
// load drifts during the run.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [phx, model, tokensArg, roundsArg, threadsArg] = process.argv.slice(2);
const N = Number(tokensArg), ROUNDS = Number(roundsArg), THREADS = Number(threadsArg || 2);
const PROMPT = 'Write a short story about a lighthouse keeper who finds a message in a bottle.';
const mods = process.env.PHX_NODE_MODULES;
const { getLlama } = await import(pathToFileURL(path.join(mods, 'node-llama-cpp', 'dist', 'index.js')).href);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const load0 = os.loadavg()[0]; // other work on the machine skews both sides

async function peerRun(m) {
    // min = ideal: node-llama-cpp may otherwise hand out fewer threads than asked.
    const ctx = await m.createContext({ contextSize: 1024, threads: { ideal: THREADS, min: THREADS }, sequences: 1 });
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
const rounds = [];
const median = a => {
    const b = [...a].sort((x, y) => x - y);
    return b.length % 2 ? b[(b.length - 1) / 2] : (b[b.length / 2 - 1] + b[b.length / 2]) / 2;
};
const four = async () => {
    const f = await Promise.all([0, 1, 2, 3].map(() => phxStream(ready.url)));
    const span = (Math.max(...f.map(x => x.t1)) - Math.min(...f.map(x => x.t0))) / 1000;
    return f.reduce((a, x) => a + x.n, 0) / span;
};
try {
    await phxStream(ready.url); // warm-up: caches, pages, the CPU backend's threads
    await four();
    await peerRun(m);
    for (let r = 0; r < ROUNDS; r++) {
        let p, q;
        if (r % 2) { q = await phxStream(ready.url); p = await peerRun(m); }
        else { p = await peerRun(m); q = await phxStream(ready.url); }
        const agg4 = await four();
        rounds.push({ p, q, agg4 });
    }
} finally {
    child.kill('SIGTERM');
    await m.dispose();
}
const col = f => rounds.map(f);
const spread = a => `[${Math.min(...a).toFixed(1)}..${Math.max(...a).toFixed(1)}]`;
const peerTps = col(x => x.p.tps), phxTps = col(x => x.q.tps);
const peerTtft = col(x => x.p.ttft), phxTtft = col(x => x.q.ttft), agg = col(x => x.agg4);
const single = median(phxTps);
const load = os.loadavg()[0];
console.log(`model ${path.basename(model)}, ${N} tokens, ${THREADS} threads both sides, warm-up then ` +
            `${ROUNDS} rounds, medians [min..max]; ${os.cpus().length} CPUs, load average ` +
            `${load0.toFixed(1)} at start, ${load.toFixed(1)} at end`);
console.log(`tokens made: node-llama-cpp ${col(x => x.p.n).join(',')}; phx infer ${col(x => x.q.n).join(',')}`);
console.log(`node-llama-cpp   ${median(peerTps).toFixed(1)} tok/s ${spread(peerTps)}   first token ` +
            `${median(peerTtft).toFixed(1)} ms ${spread(peerTtft)}`);
console.log(`phx infer        ${single.toFixed(1)} tok/s ${spread(phxTps)}   first token ` +
            `${median(phxTtft).toFixed(1)} ms ${spread(phxTtft)} (over HTTP, SSE)`);
console.log(`tokens/s ratio phx/node-llama-cpp: ${(single / median(peerTps)).toFixed(3)} ` +
            `(paired per round: ${median(col(x => x.q.tps / x.p.tps)).toFixed(3)}; issue 14 wants >= 0.95)`);
console.log(`added time to first token: ${(median(phxTtft) - median(peerTtft)).toFixed(1)} ms ` +
            `(paired: ${median(col(x => x.q.ttft - x.p.ttft)).toFixed(1)} ms; wants <= 5)`);
console.log(`4 concurrent streams: ${median(agg).toFixed(1)} tok/s aggregate ${spread(agg)} = ` +
            `${(median(agg) / single).toFixed(2)}x one stream (paired: ` +
            `${median(col(x => x.agg4 / x.q.tps)).toFixed(2)}x; wants >= 2)`);
