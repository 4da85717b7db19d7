// Peer (a): Node's vm module, a new context per call, same sources and inputs as
// bench_js. The script is compiled once (vm.Script), as phx caches by code hash.
// Usage: node node_vm.js CONTRACTS_DIR ITERATIONS contract...
const fs = require('fs');
const vm = require('vm');
const inputs = require('./inputs.js');
const [dir, itersArg, ...names] = process.argv.slice(2);
const iters = Number(itersArg);
for (const name of names) {
  const src = fs.readFileSync(`${dir}/${name}.js`, 'utf8');
  const script = new vm.Script(src, { filename: name + '.js' });
  const n = name === 'cpu' ? Math.max(5, Math.floor(iters / 100)) : iters;
  const warm = Math.floor(n / 10) + 1;
  const lat = [];
  let start = 0;
  for (let i = -warm; i < n; i++) {
    if (i === 0) start = process.hrtime.bigint();
    const t0 = process.hrtime.bigint();
    const ctx = vm.createContext({});
    script.runInContext(ctx);
    const out = ctx.main(inputs[name]);
    if (typeof out !== 'string') throw new Error('bad output');
    const t1 = process.hrtime.bigint();
    if (i >= 0) lat.push(Number(t1 - t0) / 1e3);
  }
  const total = Number(process.hrtime.bigint() - start) / 1e9;
  lat.sort((a, b) => a - b);
  console.log(JSON.stringify({ runner: 'node-vm', contract: name, iters: n, per_sec: n / total,
    p50_us: lat[Math.floor(n / 2)], p99_us: lat[Math.floor(n * 0.99)], mean_ms: (total * 1e3) / n, failures: 0 }));
}
