// What the phx infer tests (tests/infer/*.js and *.mjs) share, one copy: the
// environment they need, the ok/FAIL reporter, the tiny noise model, and a
// `phx infer` daemon on a loopback port the kernel picks, ready once its
// JSON line is out.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { spawn, execFileSync } = require('child_process');

// env(name): {phx, vocab, mods} from PHX_BIN, PHX_LLAMA_VOCAB and
// PHX_NODE_MODULES (default: the source tree's); exits 2 when one is missing.
function env(name) {
    const mods = process.env.PHX_NODE_MODULES || path.join(__dirname, '..', '..', 'node_modules');
    const phx = process.env.PHX_BIN;
    const vocab = process.env.PHX_LLAMA_VOCAB;
    if (!phx || !vocab || !fs.existsSync(vocab)) {
        console.error(`${name}: needs PHX_BIN and PHX_LLAMA_VOCAB`);
        process.exit(2);
    }
    return { phx, vocab, mods };
}

// checker(): check(name, cond, detail) prints "ok   name" or "FAIL name:
// detail"; done() prints the tally and exits, 1 when a check failed or none
// passed (a test that checked nothing has shown nothing).
function checker() {
    const t = { failures: 0, passes: 0 };
    t.check = (name, cond, detail) => {
        if (cond) {
            t.passes++;
            console.log(`ok   ${name}`);
        } else {
            t.failures++;
            console.log(`FAIL ${name}${detail !== undefined ? ': ' + String(detail).slice(0, 400) : ''}`);
        }
    };
    t.done = () => {
        console.log(`${t.passes} passed, ${t.failures} failed`);
        process.exit(t.failures || t.passes === 0 ? 1 : 0);
    };
    return t;
}

const sha256 = b => crypto.createHash('sha256').update(b).digest('hex');

// makeModel(vocab, file, ...args): the tiny noise model (tests/infer/make_model.js).
function makeModel(vocab, file, ...args) {
    execFileSync(process.execPath, [path.join(__dirname, '..', 'infer', 'make_model.js'), vocab, file, ...args]);
}

// startInfer(phx, args, {home, log, env}): `phx infer ARGS --listen
// 127.0.0.1:0 --json` with PHX_HOME=home (and env's variables), stderr to the
// file log (else inherited). Resolves {child, ready, exited} once the ready
// line is out (exited: a promise of {code, sig}); rejects, with the log, when
// the daemon exits first.
function startInfer(phx, args, opts) {
    const stderr = opts.log ? fs.openSync(opts.log, 'w') : 'inherit';
    const child = spawn(phx, ['infer', ...args, '--listen', '127.0.0.1:0', '--json'],
                        { env: { ...process.env, PHX_HOME: opts.home, ...(opts.env || {}) },
                          stdio: ['ignore', 'pipe', stderr] });
    const exited = new Promise(r => child.on('exit', (code, sig) => r({ code, sig })));
    return new Promise((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', d => {
            buf += d;
            const nl = buf.indexOf('\n');
            if (nl >= 0) resolve({ child, exited, ready: JSON.parse(buf.slice(0, nl)) });
        });
        child.on('exit', c => reject(new Error(`phx infer ${args.join(' ')} exited ${c}` +
                                               (opts.log ? ': ' + fs.readFileSync(opts.log, 'utf8') : ''))));
    });
}

module.exports = { env, checker, sha256, makeModel, startInfer };
