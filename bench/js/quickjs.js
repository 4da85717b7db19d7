// Peer (b): QuickJS (Phala's engine) via npm quickjs-emscripten, a new runtime and
// context per call, same sources and inputs as bench_js.
// Usage: node quickjs.js CONTRACTS_DIR ITERATIONS contract...
const fs = require('fs');
const path = require('path');
const inputs = require('./inputs.js');
const modules = process.env.PHX_NODE_MODULES || path.join(__dirname, '..', '..', 'node_modules');
const { getQuickJS } = require(path.join(modules, 'quickjs-emscripten'));
(async () => {
  const QuickJS = await getQuickJS();
  const [dir, itersArg, ...names] = process.argv.slice(2);
  const iters = Number(itersArg);
  for (const name of names) {
    const src = fs.readFileSync(`${dir}/${name}.js`, 'utf8');
    const n = name === 'cpu' ? Math.max(5, Math.floor(iters / 100)) : iters;
    const warm = Math.floor(n / 10) + 1;
    const lat = [];
    let start = 0, failures = 0;
    for (let i = -warm; i < n; i++) {
      if (i === 0) start = process.hrtime.bigint();
      const t0 = process.hrtime.bigint();
      const rt = QuickJS.newRuntime();
      rt.setMemoryLimit(128 << 20);
      const ctx = rt.newContext();
      const r1 = ctx.evalCode(src, name + '.js');
      if (r1.error) { failures++; r1.error.dispose(); } else r1.value.dispose();
      const r2 = ctx.evalCode(`main(${JSON.stringify(inputs[name])})`);
      if (r2.error) { failures++; r2.error.dispose(); } else { ctx.getString(r2.value); r2.value.dispose(); }
      ctx.dispose();
      rt.dispose();
      const t1 = process.hrtime.bigint();
      if (i >= 0) lat.push(Number(t1 - t0) / 1e3);
    }
    const total = Number(process.hrtime.bigint() - start) / 1e9;
    lat.sort((a, b) => a - b);
    console.log(JSON.stringify({ runner: 'quickjs', contract: name, iters: n, per_sec: n / total,
      p50_us: lat[Math.floor(n / 2)], p99_us: lat[Math.floor(n * 0.99)], mean_ms: (total * 1e3) / n, failures }));
  }
})();
