// The reference verifier (@phala/dcap-qvl) on a batch of (quote, collateral, now)
// jobs: JSON array on stdin, one verdict per job on stdout, {"ok":true,"status"}
// or {"ok":false,"error"}. Used by test_reference.c.
const fs = require('fs');
const path = require('path');
const mods = process.env.PHX_NODE_MODULES || path.join(__dirname, '..', '..', 'node_modules');
const { verify } = require(path.join(mods, '@phala', 'dcap-qvl'));
const jobs = JSON.parse(fs.readFileSync(0, 'utf8'));
const out = jobs.map(j => {
    try {
        const r = verify(fs.readFileSync(j.quote), JSON.parse(fs.readFileSync(j.collateral, 'utf8')), j.now);
        return { ok: true, status: r.status };
    } catch (e) {
        return { ok: false, error: String(e.message) };
    }
});
process.stdout.write(JSON.stringify(out));
