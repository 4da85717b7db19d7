// bench/evm peer: ethers v6 building, signing and serialising the same
// EIP-1559 transaction as bench_evm.c, and parsing + recovering the sender.
// Usage: node peer.mjs NODE_MODULES SECONDS. Prints "key ops_per_s" lines.
import { createRequire } from 'node:module';
import path from 'node:path';
const [mods, secsArg] = process.argv.slice(2);
const require = createRequire(path.join(mods, 'x.js'));
const { Wallet, Transaction, SigningKey, Interface } = require('ethers');
const secs = Number(secsArg || 1);
const key = '0x' + '11'.repeat(32);
const signer = new SigningKey(key);
const wallet = new Wallet(key);
const data = new Interface(['function transfer(address,uint256)']).encodeFunctionData('transfer', ['0x' + '42'.repeat(20), 1000n]);
const fields = (nonce) => ({
  type: 2, chainId: 31337n, nonce, maxPriorityFeePerGas: 1000000000n, maxFeePerGas: 30000000000n,
  gasLimit: 100000n, to: '0x' + '42'.repeat(20), value: 1000000000000000n, data,
});

// Synchronous core path: the same work as the C driver (build, hash, sign, serialise).
let n = 0, raw = '';
let t0 = process.hrtime.bigint();
const limit = BigInt(Math.round(secs * 1e9));
while (process.hrtime.bigint() - t0 < limit) {
  for (let i = 0; i < 16; i++, n++) {
    const tx = Transaction.from(fields(n));
    tx.signature = signer.sign(tx.unsignedHash);
    raw = tx.serialized;
  }
}
console.log(`sign ${Math.round(n / (Number(process.hrtime.bigint() - t0) / 1e9))}`);

// What applications call: Wallet.signTransaction (async; same work plus checks).
n = 0;
t0 = process.hrtime.bigint();
while (process.hrtime.bigint() - t0 < limit) {
  for (let i = 0; i < 16; i++, n++) raw = await wallet.signTransaction(fields(n));
}
console.log(`wallet ${Math.round(n / (Number(process.hrtime.bigint() - t0) / 1e9))}`);

n = 0;
t0 = process.hrtime.bigint();
while (process.hrtime.bigint() - t0 < limit) {
  for (let i = 0; i < 16; i++, n++) {
    const tx = Transaction.from(raw);
    if (!tx.from) throw new Error('no sender');
  }
}
console.log(`recover ${Math.round(n / (Number(process.hrtime.bigint() - t0) / 1e9))}`);
const check = Transaction.from(fields(7));
check.signature = signer.sign(check.unsignedHash);
console.log(`check ${check.serialized}`);
