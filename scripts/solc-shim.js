#!/usr/bin/env node
// solc for forge, over npm solc (solcjs): forge cannot download a native
// compiler here, and `forge test --use scripts/solc-shim.js --offline` needs
// only what it asks a solc binary: `--version` in solc's own format, and
// `--standard-json` (input on stdin, output on stdout). Imports forge did not
// already inline are read relative to the working directory, the --base-path
// and each --include-path / --allow-paths entry forge passes, never outside them.
'use strict';
const fs = require('fs');
const path = require('path');

const solc = require(path.join(__dirname, '..', 'node_modules', 'solc'));
const args = process.argv.slice(2);

if (args.includes('--version')) {
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
    process.exit(0);
}
if (!args.includes('--standard-json')) {
    process.stderr.write('solc-shim: only --version and --standard-json are supported\n');
    process.exit(2);
}

const roots = [process.cwd()];
for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if ((a === '--base-path' || a === '--include-path' || a === '--allow-paths') && i + 1 < args.length) {
        for (const p of args[++i].split(',')) if (p) roots.push(path.resolve(p));
    }
}
const findImports = (p) => {
    for (const root of roots) {
        const full = path.resolve(root, p);
        if (full !== root && !full.startsWith(root + path.sep)) continue;
        try {
            return { contents: fs.readFileSync(full, 'utf8') };
        } catch (_) {
            // try the next root
        }
    }
    return { error: `solc-shim: ${p} not found under ${roots.join(', ')}` };
};

const input = fs.readFileSync(0, 'utf8');
process.stdout.write(solc.compile(input, { import: findImports }));
