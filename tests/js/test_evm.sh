#!/bin/sh
# phx.evm, phx.eth and phx.abi's signature helpers (docs/js.md "Chains") through
# `phx run`, against two real anvil nodes: reads on named chains, a send from
# the contract's own address, the send journal across a process killed after
# journaling and after broadcasting (one transaction per action, no nonce gap),
# a chain that does not answer (chain_unavailable), the owner's spending limit, and the helpers' output checked with ethers and viem.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../support/anvil.sh"
PHX=${PHX_BIN:?PHX_BIN not set}
NM=${PHX_NODE_MODULES:-${PHX_SOURCE_DIR:-.}/node_modules}
CAST=$NM/.bin/cast
T=$(mktemp -d /tmp/phx-evm.XXXXXX)
A_PID=
cleanup() {
    [ -n "$A_PID" ] && kill "$A_PID" 2>/dev/null
    anvil_stop
    rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/a" "$T/b"
anvil_start "$T/a" --chain-id 31337 || exit 1
A_PID=$anvil_pid
RPC_A=$anvil_rpc
anvil_start "$T/b" --chain-id 31338 || exit 1
RPC_B=$anvil_rpc
FUNDER=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 # anvil's account 0
R="--kv $T/kv --contract-id agent --chain-rpc a=$RPC_A --chain-rpc b=$RPC_B#31338 --json"

run() { # run OUTFILE phx-run-args...: exit status in $rc
    _o=$1
    shift
    "$PHX" run "$@" >"$T/$_o" 2>"$T/$_o.err"
    rc=$?
}
out() { jsonx "$T/$1" "$2" 2>/dev/null; }

# ---- start-up: chain ids are read from the nodes and checked ---------------------------
printf 'export default async () => phx.crypto.address();\n' >"$T/addr.js"
run o "$T/addr.js" --kv "$T/kv" --contract-id agent --chain-rpc "b=$RPC_B#5"
check "a wrong #CHAINID is refused at start (exit 2)" 2 "$rc"
grep -q "chain id is 31338, not 5" "$T/o.err" || { echo "FAIL chain id message: $(cat "$T/o.err")"; fail=1; }
run o "$T/addr.js" --kv "$T/kv" --contract-id agent --chain-rpc "a=http://127.0.0.1:1"
check "an unreachable chain is refused at start (exit 1)" 1 "$rc"
# A chain that does not answer (a refused port): with its #CHAINID the run
# starts anyway (a worker restarting during an outage), and a send there ends
# the run chain_unavailable, which try/catch cannot hide: its outcome is unknown.
cat >"$T/down.js" <<'JS'
export default async () => {
  try { await phx.evm.send('d', { to: '0x00000000000000000000000000000000000000aa', gas: 21000 }); }
  catch (e) { return 'caught: ' + e.message; }
  return 'sent';
};
JS
run o "$T/down.js" --kv "$T/kv" --contract-id agent --chain-rpc "d=http://127.0.0.1:1#31337" --json
check "a chain down at start with its #CHAINID: the run starts, with a warning" 1 \
    "$(grep -c 'chain d (http://127.0.0.1:1) does not answer.*given chain id 31337' "$T/o.err")"
check "a send to a chain that does not answer: chain_unavailable, not catchable" "1 chain_unavailable" \
    "$rc $(out o "d['error']['code']")"
check "... naming the chain" True "$(out o "'phx.evm.send: chain d does not answer' in d['error']['message']")"
run o "$T/addr.js" $R
ME=$(out o "d['output']")
check_cmd "the contract has an address" test -n "$ME"
"$CAST" send -q --rpc-url "$RPC_A" --private-key $FUNDER "$ME" --value 1ether >/dev/null 2>&1
"$CAST" send -q --rpc-url "$RPC_B" --private-key $FUNDER "$ME" --value 1ether >/dev/null 2>&1

# A contract whose deployment logs LOG1(topic 0x11…11) on chain a.
TOPIC=0x1111111111111111111111111111111111111111111111111111111111111111
"$CAST" send --rpc-url "$RPC_A" --private-key $FUNDER --create 0x7f${TOPIC#0x}60006000a1 --json >"$T/create.json" 2>/dev/null
EMITTER=$(jsonx "$T/create.json" "d['contractAddress']")
BLOCK=$(jsonx "$T/create.json" "int(d['blockNumber'], 16)")

# ---- reads --------------------------------------------------------------------------------
cat >"$T/read.js" <<'JS'
export default async function (i) {
  const me = await phx.crypto.address();
  const out = {};
  out.balA = String(await phx.evm.getBalance('a', me));
  out.balB = String(await phx.evm.getBalance('b', me));
  out.early = String(await phx.evm.getBalance('a', me, 0));
  // sha256 precompile: a real eth_call that computes
  out.sha = await phx.evm.call('a', { to: '0x0000000000000000000000000000000000000002', data: phx.utf8.encode('abc') });
  out.logs = await phx.evm.getLogs('a', { address: i.emitter, topics: [i.topic], fromBlock: 0 });
  out.none = (await phx.evm.getLogs('a', { address: i.emitter, topics: ['0x' + '22'.repeat(32)], fromBlock: 0 })).length;
  for (const [k, f] of Object.entries({
    unknown: () => phx.evm.getBalance('c', me),
    badAddr: () => phx.evm.call('a', { to: '0x12', data: '0x' }),
    range: () => phx.evm.getLogs('a', { fromBlock: 5, toBlock: 2 }),
  })) { try { await f(); out[k] = 'no error'; } catch (e) { out[k] = e.message; } }
  return out;
}
JS
printf '{"emitter":"%s","topic":"%s"}' "$EMITTER" "$TOPIC" >"$T/in.json"
run o "$T/read.js" $R --input "@$T/in.json"
check "reads run" 0 "$rc"
check "getBalance on chain a" 1000000000000000000 "$(out o "d['output']['balA']")"
check "getBalance on chain b (its own node)" 1000000000000000000 "$(out o "d['output']['balB']")"
check "getBalance at block 0" 0 "$(out o "d['output']['early']")"
check "call: the sha256 precompile computes" 0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad "$(out o "d['output']['sha']")"
check "getLogs finds the emitter's log" "1 $TOPIC $BLOCK" "$(out o "'%d %s %d' % (len(d['output']['logs']), d['output']['logs'][0]['topics'][0], d['output']['logs'][0]['blockNumber'])")"
check "getLogs filters by topic" 0 "$(out o "d['output']['none']")"
check "an unknown chain is a catchable error naming the chains" True "$(out o "'no chain named \"c\" (this worker has: a, b)' in d['output']['unknown']")"
check "a bad address is a catchable error" True "$(out o "'to' in d['output']['badAddr'] and d['output']['badAddr'] != 'no error'")"
check "a backwards block range is refused" True "$(out o "'ascending' in d['output']['range']")"
check "each read counts as an outbound request" 7 "$(out o "d['usage']['requests']")"

# ---- send, the journal, crashes ------------------------------------------------------------
cat >"$T/send.js" <<'JS'
export default async (i) => phx.evm.send(i.chain, { to: i.to, value: BigInt(i.value), data: i.data });
JS
TO=0x00000000000000000000000000000000000000aa
send_in() { printf '{"chain":"%s","to":"%s","value":"%s","data":"0x"}' "$1" "$TO" "$2"; }
nonce() { "$CAST" nonce "$ME" --rpc-url "$1" 2>/dev/null; }

run o "$T/send.js" $R --input "$(send_in a 0)"
check "a value-0 send is mined from the contract's address" "success $ME" "$(out o "d['output']['status'] + ' ' + d['output']['from']")"
H=$(out o "d['output']['hash']")
check "the transaction on chain is from the contract" "$(lower "$ME")" "$(lower "$("$CAST" tx "$H" from --rpc-url "$RPC_A" 2>/dev/null)")"
run o "$T/send.js" $R --input "$(send_in a 5)"
check "value without a spending limit: spend_limit" "1 spend_limit" "$rc $(out o "d['error']['code']")"
check "... and nothing was signed" 1 "$(nonce "$RPC_A")"
run o "$T/send.js" $R --spend-limit a=700/3600 --input "$(send_in a 500)"
check "value under the cap is sent" "0 success" "$rc $(out o "d['output']['status']")"
run o "$T/send.js" $R --input "$(send_in a 300)"
check "over the cap: spend_limit" "1 spend_limit" "$rc $(out o "d['error']['code']")"
check "... and nothing was signed" 2 "$(nonce "$RPC_A")"
run o "$T/send.js" $R --input "$(send_in b 0)"
"$CAST" tx "$(out o "d['output']['hash']")" --json --rpc-url "$RPC_B" >"$T/txb.json" 2>/dev/null
check "chain b: signed for its own chain id" "0 31338" "$rc $(jsonx "$T/txb.json" "int(d['chainId'], 16)")"

# Killed after journaling, before the broadcast: nothing on chain yet; the same
# request run again sends exactly the journaled bytes.
PHX_TEST_EVM_CRASH=journal "$PHX" run "$T/send.js" $R --request-id r1 --input "$(send_in a 0)" >/dev/null 2>&1
check "killed after the journal commit" 2 "$(nonce "$RPC_A")"
run o "$T/send.js" $R --request-id r1 --input "$(send_in a 0)"
check "the re-run sends the journaled transaction" "0 success" "$rc $(out o "d['output']['status']")"
check "one transaction for the action" 3 "$(nonce "$RPC_A")"
run o2 "$T/send.js" $R --request-id r1 --input "$(send_in a 0)"
check "a third run of the request: the same hash, still one transaction" \
    "$(out o "d['output']['hash']") 3" "$(out o2 "d['output']['hash']") $(nonce "$RPC_A")"
# Killed after the broadcast: the re-run finds it sent and waits for it.
PHX_TEST_EVM_CRASH=broadcast "$PHX" run "$T/send.js" $R --request-id r2 --input "$(send_in a 0)" >/dev/null 2>&1
check "killed after the broadcast (it is on chain)" 4 "$(nonce "$RPC_A")"
run o "$T/send.js" $R --request-id r2 --input "$(send_in a 0)"
check "the re-run returns it, no second transaction" "0 success 4" "$rc $(out o "d['output']['status']") $(nonce "$RPC_A")"
# Killed after journaling, and the request is never run again: the next action
# broadcasts the orphan first, so its nonce leaves no gap.
PHX_TEST_EVM_CRASH=journal "$PHX" run "$T/send.js" $R --request-id r3 --input "$(send_in a 0)" >/dev/null 2>&1
run o "$T/send.js" $R --request-id r4 --input "$(send_in a 0)"
check "the orphan and the new action both land, nonces 4 and 5" "0 6" "$rc $(nonce "$RPC_A")"
# Killed after journaling; the next start (any run, here one that only reads)
# broadcasts what the journal holds unsent, without waiting for the request.
PHX_TEST_EVM_CRASH=journal "$PHX" run "$T/send.js" $R --request-id r5 --input "$(send_in a 0)" >/dev/null 2>&1
check "killed after the journal commit again" 6 "$(nonce "$RPC_A")"
run o "$T/addr.js" $R
check "a restart broadcasts the journaled transaction" "0 7" "$rc $(nonce "$RPC_A")"
run o "$T/send.js" $R --request-id r4 --input "$(send_in a 1)"
check "an action asked again with other parameters is refused" True "$(out o "'other parameters' in d['error']['message']")"

# Confirmations: the send waits until its block has that many on top of it;
# anvil mines only on demand here, so a block is mined while the run waits.
cat >"$T/conf.js" <<'JS'
export default async (i) => phx.evm.send('a', { to: i.to, confirmations: 2 });
JS
"$PHX" run "$T/conf.js" $R --input "{\"to\":\"$TO\"}" >"$T/conf" 2>&1 &
CONF_PID=$!
sleep 3
check "a send waiting for 2 confirmations is still waiting" yes "$(kill -0 $CONF_PID 2>/dev/null && echo yes)"
"$CAST" rpc evm_mine --rpc-url "$RPC_A" >/dev/null 2>&1
wait $CONF_PID
check "... and returns once a block is on top of its own" "$(($(out conf "d['output']['block']") + 1))" \
    "$("$CAST" block-number --rpc-url "$RPC_A" 2>/dev/null)"

# ---- helpers, checked with ethers ------------------------------------------------------------
cat >"$T/help.js" <<'JS'
export default async () => {
  const domain = { name: 'Phx', version: '1', chainId: 31337, verifyingContract: '0x00000000000000000000000000000000000000cc' };
  const types = { Person: [{ name: 'name', type: 'string' }, { name: 'wallet', type: 'address' }],
    Mail: [{ name: 'from', type: 'Person' }, { name: 'to', type: 'Person' }, { name: 'contents', type: 'string' }] };
  const message = { from: { name: 'Cow', wallet: '0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826' },
    to: { name: 'Bob', wallet: '0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB' }, contents: 'Hello, Bob!' };
  return {
    address: await phx.crypto.address(),
    sel: phx.abi.selector('transfer(address to, uint amount)'),
    call: phx.hex.encode(phx.abi.encodeCall('transfer(address,uint256)', ['0x00000000000000000000000000000000000000bb', 10n ** 20n])),
    dec: phx.abi.decodeResult('f() returns (uint256,string,(bool,int8[]))',
      phx.abi.encodeCall('g(uint256,string,(bool,int8[]))', [7, 'hi', [true, [-1, 2]]]).subarray(4)).map(String),
    legacy: await phx.eth.signTransaction({ type: 0, chainId: 1, nonce: 7, to: '0x00000000000000000000000000000000000000bb',
      value: 10n ** 18n, gasLimit: 21000, gasPrice: 20000000000n, data: '0x' }),
    eip1559: await phx.eth.signTransaction({ chainId: 31337, nonce: 0, to: '0x00000000000000000000000000000000000000bb',
      value: 1, gas: 50000, maxFeePerGas: 3n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n, data: '0xdeadbeef' }),
    typed: await phx.eth.signTypedData(domain, types, message),
    domain, types, message,
  };
};
JS
run o "$T/help.js" --kv "$T/kv" --contract-id agent --json
check "helpers run" 0 "$rc"
node -e '
const { ethers } = require(process.argv[2] + "/ethers");
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).output;
const eq = (what, a, b) => { if (String(a) !== String(b)) { console.log("FAIL " + what + ": " + a + " != " + b); process.exitCode = 1; } else console.log("ok   " + what); };
const iface = new ethers.Interface(["function transfer(address,uint256)"]);
eq("selector as ethers", r.sel, iface.getFunction("transfer").selector);
eq("encodeCall as ethers", r.call, iface.encodeFunctionData("transfer", ["0x00000000000000000000000000000000000000bb", 10n ** 20n]));
eq("decodeResult (BigInts, tuples)", JSON.stringify(r.dec), JSON.stringify(["7", "hi", "true,-1,2"]));
const l = ethers.Transaction.from(r.legacy);
eq("legacy tx: signer is the contract", l.from, r.address);
eq("legacy tx: fields", [l.type, l.chainId, l.nonce, l.to, l.value, l.gasLimit, l.gasPrice].join(), [0, 1, 7, ethers.getAddress("0x00000000000000000000000000000000000000bb"), 10n ** 18n, 21000, 20000000000n].join());
const t = ethers.Transaction.from(r.eip1559);
eq("EIP-1559 tx: signer is the contract", t.from, r.address);
eq("EIP-1559 tx: fields", [t.type, t.chainId, t.nonce, t.value, t.gasLimit, t.maxFeePerGas, t.maxPriorityFeePerGas, t.data].join(), [2, 31337, 0, 1, 50000, 3000000000, 1000000000, "0xdeadbeef"].join());
eq("EIP-712: the signature recovers to the contract", ethers.verifyTypedData(r.domain, r.types, r.message, r.typed), r.address);
const viem = require(process.argv[2] + "/viem");
(async () => {
  eq("viem: encodeFunctionData", r.call, viem.encodeFunctionData({ abi: viem.parseAbi(["function transfer(address,uint256)"]),
    functionName: "transfer", args: ["0x00000000000000000000000000000000000000bb", 10n ** 20n] }));
  const p = viem.parseTransaction(r.eip1559);
  eq("viem: EIP-1559 fields", [p.type, p.chainId, p.nonce, p.gas, p.data].join(), ["eip1559", 31337, 0, 50000n, "0xdeadbeef"].join());
  eq("viem: EIP-1559 signer", await viem.recoverTransactionAddress({ serializedTransaction: r.eip1559 }), r.address);
  eq("viem: legacy signer", await viem.recoverTransactionAddress({ serializedTransaction: r.legacy }), r.address);
  eq("viem: EIP-712 signer", await viem.recoverTypedDataAddress({ domain: r.domain, types: r.types, primaryType: "Mail",
    message: r.message, signature: r.typed }), r.address);
})().catch((e) => { console.log("FAIL viem: " + e.message); process.exitCode = 1; });
' "$T/o" "$NM" >"$T/ethers.out" 2>&1
cat "$T/ethers.out"
check "ethers and viem agree with every helper" 13 "$(grep -c '^ok' "$T/ethers.out")"
finish
