#!/bin/sh
# TEE contract invocations, side by side, same sources (bench/js/contracts) and
# inputs (inputs.js): phx in process isolation ("phx", DESIGN.md's strict mode:
# a fresh sandbox process per call: zygote, pre-fork, seccomp) and in warm
# isolation ("phx-warm", the default: a process bound to the contract, a fresh
# realm per call) vs (a) Node's vm with a new context per call and
# (b) QuickJS via npm quickjs-emscripten with a new runtime per call, all in one
# run. The issue 11 targets are printed with each ratio. A benchmark, never a test.
# Usage: bench/js/run.sh BUILD_DIR [ITERATIONS]
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
iters=${2:-1000}
tmp=$(mktemp -d /tmp/phx-bench-js.XXXXXX)
trap 'rm -rf "$tmp" /tmp/phx-bench-js-kv' EXIT
modules=${PHX_NODE_MODULES:-$here/../../node_modules}
node "$here/inputs.js" "$tmp" || { echo "bench/js: node is needed"; exit 0; }
set -- trivial transform cpu
"$build/bench/js/bench_js" "$here/contracts" "$tmp" "$iters" "$@" >"$tmp/phx.jsonl" ||
    echo "bench/js: bench_js failed (built? cmake --build $build --target bench_js)"
node "$here/node_vm.js" "$here/contracts" "$iters" "$@" >"$tmp/vm.jsonl" || echo "bench/js: node vm failed"
PHX_NODE_MODULES=$modules node "$here/quickjs.js" "$here/contracts" "$iters" "$@" >"$tmp/qjs.jsonl" ||
    echo "bench/js: quickjs-emscripten failed (npm packages installed? scripts/setup.sh)"
node - "$tmp" <<'JS'
const fs = require('fs');
const dir = process.argv[2];
const rows = {};
for (const f of ['phx', 'vm', 'qjs']) {
  let text = '';
  try { text = fs.readFileSync(`${dir}/${f}.jsonl`, 'utf8'); } catch (e) {}
  for (const line of text.split('\n').filter(Boolean)) {
    const r = JSON.parse(line);
    (rows[r.contract] ??= {})[r.runner] = r;
  }
}
const f1 = (x) => (x === undefined ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const ratio = (a, b) => (a && b ? (a / b).toFixed(2) + 'x' : '-');
console.log(`${process.env.PHX_BENCH_NOTE || ''}cores: ${require('os').cpus().length}, load: ${require('os').loadavg()[0].toFixed(2)}`);
console.log('contract   runner         inv/s    p50 us   p99 us  paced p50 us   mean ms   failures');
for (const [c, byRunner] of Object.entries(rows)) {
  for (const name of ['phx-warm', 'phx-warm-2callers', 'phx', 'phx-2callers', 'node-vm', 'quickjs']) {
    const r = byRunner[name];
    if (!r) continue;
    console.log(`${c.padEnd(10)} ${name.padEnd(12)} ${f1(r.per_sec).padStart(7)} ${f1(r.p50_us).padStart(9)} ${f1(r.p99_us).padStart(8)} ${f1(r.paced_p50_us).padStart(13)} ${r.mean_ms.toFixed(3).padStart(9)} ${String(r.failures).padStart(10)}`);
  }
  const p = byRunner.phx, v = byRunner['node-vm'], q = byRunner.quickjs, p2 = byRunner['phx-2callers'];
  const w = byRunner['phx-warm'], w2 = byRunner['phx-warm-2callers'];
  const met = (ok) => (ok === undefined ? '' : ok ? ' (met)' : ' (NOT met)');
  if (p2 && c !== 'cpu') console.log(`  2 callers: phx/node-vm ${ratio(p2.per_sec, v?.per_sec)}, phx-warm/node-vm ${ratio(w2?.per_sec, v?.per_sec)}`);
  if (c === 'cpu') {
    console.log(`  time ratio (lower is faster for phx): phx/node-vm ${ratio(p?.mean_ms, v?.mean_ms)}, phx/quickjs ${ratio(p?.mean_ms, q?.mean_ms)}`);
    if (w) console.log(`  warm: phx-warm/node-vm ${ratio(w.mean_ms, v?.mean_ms)}${met(v && w.mean_ms <= v.mean_ms)} (target <= 1x); ` +
                       `strict (process) ${ratio(p?.mean_ms, v?.mean_ms)}`);
  } else {
    console.log(`  throughput ratio: phx/node-vm ${ratio(p?.per_sec, v?.per_sec)}, phx/quickjs ${ratio(p?.per_sec, q?.per_sec)}; ` +
                `p50 phx(paced)/node-vm ${ratio(p?.paced_p50_us, v?.p50_us)}`);
    if (w) {
      console.log(`  warm: phx-warm/node-vm ${ratio(w.per_sec, v?.per_sec)}${met(v && w.per_sec >= 2 * v.per_sec)} (target >= 2x); ` +
                  `strict (process) ${ratio(p?.per_sec, v?.per_sec)}; phx-warm/phx ${ratio(w.per_sec, p?.per_sec)}`);
      console.log(`  warm paced p50 ${f1(w.paced_p50_us)} us${met(w.paced_p50_us <= 300)} (target <= 300 us), ` +
                  `back-to-back p50 ${f1(w.p50_us)} us; strict (process) paced p50 ${f1(p?.paced_p50_us)} us`);
    }
  }
}
JS
exit 0
