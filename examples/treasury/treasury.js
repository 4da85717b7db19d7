// A treasury agent (a TEE contract that starts by itself). It watches a price
// on chain A, and when the price has moved far enough since its last decision
// it puts money to work from its own address: into its reserve (a Vault) on
// chain B when the price rose, into its position (a Vault) on chain A when it
// fell. README.md in this directory explains how to run it.
//
// What starts it: two triggers (triggers.json), a schedule (cron) that reads
// the feed, and the feed's PriceUpdated event (evm_log). Either may see a move
// first; the memory below makes sure one move is one decision.
//
// Who decides: a deterministic rule always says what is allowed. When an AI
// endpoint serves AI_MODEL, the model is asked to choose between holding and
// exactly the move the rule proposes; it can only pick from that list, so a
// hostile or confused answer never moves more than the rule would. Anything
// else it answers, or no endpoint at all, leaves the decision to the rule.
//
// Memory: one phx.state key, "memory" (the same on every worker, anchored on
// chain): the reference price, the positions, and the last decisions.
// Written with compare-and-set, so two firings racing on one price move make
// one decision. The decision is written before its transaction is sent and
// keyed by the firing, so a firing that runs again after a worker died sends
// the same transaction (phx.evm.send's journal) and never a second one.
//
// Limits: the owner caps what it may move per chain (`phx limit`). A move
// over the cap ends the run with spend_limit before anything is signed: the
// firing is recorded on chain as failed with that code (phx logs), and its
// decision stays in memory as "pending" until the next decision marks it
// "unsent".
//
// The addresses are part of the code, so the code hash pins what the agent
// reads and where it may put money: edit these lines, then deploy.
const FEED = "0x0000000000000000000000000000000000000000"; // PriceFeed on chain A
const VAULT_A = "0x0000000000000000000000000000000000000000"; // Vault on chain A
const VAULT_B = "0x0000000000000000000000000000000000000000"; // Vault on chain B
const AI_MODEL = "tiny"; // the phx.ai.chat model to ask; none served: the rule alone

const CHAIN_A = "main"; // the worker's own chain (phx devnet --chains 2: "main")
const CHAIN_B = "b";
const THRESHOLD_BPS = 500n; // a move of 5 % from the reference price is one step
const STEP_WEI = 10n ** 15n; // 0.001 ETH a step
const MAX_STEPS = 10n; // the rule's own bound on one move
const KEEP = 16; // decisions kept in memory
const STALE_MS = 120000; // a decision still pending this long was never sent

const hex = (b) => phx.hex.encode(b);

// The price the trigger saw and the block it was set in.
async function observe(t) {
    if (t.kind === "evm_log") {
        if (t.address.toLowerCase() !== FEED.toLowerCase()) throw new Error("log from another contract");
        const [price] = phx.abi.decode(["uint256"], t.data);
        return { price, block: BigInt(t.block), from: "event" };
    }
    const data = await phx.evm.call(CHAIN_A, { to: FEED, data: phx.abi.encodeCall("latest()", []) });
    const [price, block] = phx.abi.decodeResult("latest() returns (uint256,uint256)", data);
    return { price, block, from: "feed" };
}

// The rule: what a move from the reference price allows.
function rule(mem, obs) {
    if (mem.ref === null) return { action: "hold", why: "first price seen: it becomes the reference" };
    const ref = BigInt(mem.ref);
    const bps = ((obs.price - ref) * 10000n) / ref;
    const abs = bps < 0n ? -bps : bps;
    const steps = abs / THRESHOLD_BPS;
    if (steps === 0n)
        return { bps, action: "hold", why: `move ${bps} bps from ${ref} is under ${THRESHOLD_BPS} bps` };
    const n = steps > MAX_STEPS ? MAX_STEPS : steps;
    const up = bps > 0n;
    return {
        bps,
        action: up ? "reserve" : "buy",
        chain: up ? CHAIN_B : CHAIN_A,
        vault: up ? VAULT_B : VAULT_A,
        amount: n * STEP_WEI,
        why: `move ${bps} bps from ${ref}: ${n} step(s) of ${STEP_WEI} wei` +
            (steps > MAX_STEPS ? ` (rule caps ${steps} at ${MAX_STEPS})` : "") +
            (up ? ` into the reserve on ${CHAIN_B}` : ` into the position on ${CHAIN_A}`),
    };
}

// The AI may only confirm the rule's move or hold; its answer is kept (text
// and hash) whatever it says.
async function ask(obs, r) {
    const offer = `${r.action} ${r.amount} wei on chain ${r.chain}`;
    let res;
    try {
        res = await phx.ai.chat({
            model: AI_MODEL,
            messages: [
                { role: "system", content: "You are a cautious treasury officer. Reply with one word: REBALANCE or HOLD." },
                { role: "user", content: `The price moved ${r.bps} basis points to ${obs.price}. The rule proposes: ${offer}. REBALANCE does exactly that; HOLD does nothing. Which?` },
            ],
            max_tokens: 4,
            temperature: 0,
            seed: 1,
        });
    } catch (e) {
        return { model: AI_MODEL, error: String(e.message || e).slice(0, 120), choice: "none" };
    }
    const text = String(res.text);
    const word = (text.trim().match(/^[A-Za-z]+/) || [""])[0].toUpperCase();
    return {
        model: AI_MODEL,
        answer: text.slice(0, 80),
        sha256: hex(phx.crypto.sha256(text)),
        signed_by: res.receipt && res.receipt.signing_address,
        choice: word === "HOLD" || word === "REBALANCE" ? word.toLowerCase() : "invalid",
    };
}

function fresh() {
    return { ref: null, price: null, block: "0", positions: { [CHAIN_A]: "0", [CHAIN_B]: "0" }, decisions: [] };
}

// A new decision for this firing, or null when the memory already covers
// the price it saw.
async function decide(mem, obs, t) {
    if (obs.block <= BigInt(mem.block)) return null;
    const r = rule(mem, obs);
    const d = {
        id: t.id, trigger: t.name, block: String(obs.block), price: String(obs.price),
        ref: mem.ref, bps: r.bps === undefined ? null : String(r.bps),
        rule: r.why, action: r.action, by: "rule", at: Date.now(),
    };
    if (r.action !== "hold") {
        d.chain = r.chain, d.vault = r.vault, d.amount = String(r.amount);
        d.ai = await ask(obs, r);
        if (d.ai.choice === "hold" || d.ai.choice === "rebalance") d.by = "ai";
        if (d.ai.choice === "hold") {
            d.action = "hold";
            d.rule += `; the AI chose to hold instead`;
            delete d.chain, delete d.vault, delete d.amount;
        }
    }
    d.status = d.action === "hold" ? "held" : "pending";
    return d;
}

// Read, change, compare-and-set "memory"; f returns false to write nothing.
async function update(f) {
    for (let i = 0; i < 16; i++) {
        const { value, version } = await phx.state.getVersioned("memory");
        const mem = value || fresh();
        const r = await f(mem);
        if (r === false) return mem;
        try {
            await phx.state.cas("memory", version, mem);
            return mem;
        } catch (e) {
            if (e.code !== "STATE_CONFLICT") throw e;
        }
    }
    throw new Error("memory: too many concurrent writers");
}

export default async function (input, ctx) {
    const me = await phx.crypto.address();
    const t = ctx.trigger;
    if (!t) return { agent: "treasury", address: me, memory: (await phx.state.get("memory")) || fresh() };
    const obs = await observe(t);
    let d = null;
    let seen = null;
    const mem = await update(async (m) => {
        d = m.decisions.find((x) => x.id === t.id) || null; // this firing's, from an earlier run
        if (d) return false;
        d = await decide(m, obs, t);
        if (!d) {
            seen = m.block;
            return false;
        }
        for (const x of m.decisions)
            if (x.status === "pending" && d.at - x.at > STALE_MS) x.status = "unsent";
        m.decisions = m.decisions.concat([d]).slice(-KEEP);
        m.block = d.block;
        m.price = d.price;
        if (d.action !== "hold" || m.ref === null) m.ref = d.price;
        return true;
    });
    const out = { agent: "treasury", trigger: t.name, price: String(obs.price), block: String(obs.block), from: obs.from };
    if (!d) {
        const why = obs.block === 0n ? "the feed has no price yet"
            : `the price of block ${obs.block} is decided already (memory at block ${seen})`;
        return Object.assign(out, { action: "none", why });
    }
    Object.assign(out, { action: d.action, rule: d.rule, by: d.by });
    if (d.ai) out.ai = d.ai;
    if (d.status === "held") return Object.assign(out, { positions: mem.positions });
    if (d.status === "sent") return Object.assign(out, { chain: d.chain, amount: d.amount, tx: d.tx, positions: mem.positions });
    // Pending: send it (again, for a re-run: the journal gives back the same
    // transaction). Over the owner's limit this ends the run with spend_limit.
    const tx = await phx.evm.send(d.chain, {
        to: d.vault,
        data: phx.abi.encodeCall("deposit(bytes32)", [t.id]),
        value: BigInt(d.amount),
    });
    if (tx.status !== "success") throw new Error(`deposit on ${d.chain} reverted: ${tx.hash}`);
    const after = await update(async (m) => {
        const x = m.decisions.find((y) => y.id === t.id);
        if (!x || x.status === "sent") return false;
        x.status = "sent";
        x.tx = { hash: tx.hash, block: tx.block, from: tx.from };
        m.positions[x.chain] = String(BigInt(m.positions[x.chain]) + BigInt(x.amount));
        return true;
    });
    return Object.assign(out, { chain: d.chain, amount: d.amount, tx: { hash: tx.hash, block: tx.block, from: tx.from }, positions: after.positions });
}
