// The reference JS verifier (@phala/dcap-qvl, npm) on the same inputs: full
// verification per call (it has no cache, so cold and warm are the same work).
// Usage: node peer_dcap_qvl.js QUOTE COLLATERAL NOW [SECONDS]; prints one JSON line
// (calls per second and ms by the wall clock, cpu_ms by the process's CPU time).
const fs = require('fs');
const path = require('path');
const mods = process.env.PHX_NODE_MODULES || path.join(__dirname, '..', '..', 'node_modules');
const { verify } = require(path.join(mods, '@phala', 'dcap-qvl'));
const [quoteFile, colFile, nowArg, secArg] = process.argv.slice(2);
const quote = fs.readFileSync(quoteFile);
const collateral = JSON.parse(fs.readFileSync(colFile, 'utf8'));
const now = Number(nowArg);
const budget = Number(secArg || 2) * 1e9;
let status = verify(quote, collateral, now).status; // warm up the JIT
let n = 0;
const c0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
let t;
do {
    status = verify(quote, collateral, now).status;
    n++;
    t = process.hrtime.bigint();
} while (Number(t - t0) < budget);
const perS = n / (Number(t - t0) / 1e9);
// CPU time per call (user + system, all threads): on a loaded machine this is
// the fairer comparison, wall time also counts the time others hold the CPU.
const c = process.cpuUsage(c0);
const cpuMs = (c.user + c.system) / 1000 / n;
console.log(JSON.stringify({ per_s: perS, ms: 1000 / perS, cpu_ms: cpuMs, status }));
