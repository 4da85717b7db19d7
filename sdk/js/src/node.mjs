// Node-only helpers: a client from a devnet's endpoints file, and quote
// verifiers over @phala/dcap-qvl for the devnet's sim root or Intel's root.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { ethers } from 'ethers';
import dcap from '@phala/dcap-qvl';
import { Phalanx } from './client.mjs';

const { QuoteVerifier } = dcap;

// The devnet's endpoints file: $PHX_HOME/endpoints.json, else ~/.phx/devnet/.
export function defaultEndpointsFile() {
  return path.join(process.env.PHX_HOME || path.join(os.homedir(), '.phx', 'devnet'), 'endpoints.json');
}

// A client for the network an endpoints file describes, signing with its
// user key (or keyFile / signer). Trusts the KMS address the file names.
export async function fromEndpoints(file = defaultEndpointsFile(), { keyFile, signer } = {}) {
  const ep = JSON.parse(await readFile(file, 'utf8'));
  // No request cache: a cached nonce would be reused by the next transaction.
  const provider = new ethers.JsonRpcProvider(ep.rpc, undefined, { staticNetwork: true, pollingInterval: 250, cacheTimeout: -1 });
  if (!signer) {
    const kf = keyFile || (ep.user && ep.user.key_file);
    if (kf) signer = new ethers.Wallet('0x' + (await readFile(kf, 'utf8')).trim().replace(/^0x/, ''), provider);
  }
  const client = new Phalanx({ gateway: ep.gateway, kmsAddress: ep.kms && ep.kms.address, signer, provider, rpc: ep.rpc, deployment: ep.deployment });
  client.endpoints = ep;
  // A devnet names its sim platform; `phx verify` trusts it from the same file.
  if (ep.sim_dir) client.quoteVerifier = await simQuoteVerifier(ep.sim_dir);
  return client;
}

// Trust a sim TEE platform (development networks only): its root
// certificate and collateral from the platform directory (the endpoints
// file's sim_dir), as `phx verify --trust-sim-root DIR` does.
export async function simQuoteVerifier(simDir) {
  const [root, col] = await Promise.all([readFile(path.join(simDir, 'root_ca.der')), readFile(path.join(simDir, 'collateral.json'), 'utf8')]);
  const collateral = JSON.parse(col);
  return {
    name: 'devnet sim',
    verify: async (quote) => QuoteVerifier.newWithRootCa(root).verify(Buffer.from(quote), collateral, Math.floor(Date.now() / 1000)),
  };
}

// Intel's root, pinned in @phala/dcap-qvl. collateral: the quote's PCS
// collateral (dcap-qvl's QuoteCollateralV3 JSON), or a function
// quote -> collateral (e.g. dcap-qvl's getCollateral from a PCCS).
export function intelQuoteVerifier(collateral) {
  return {
    name: 'Intel',
    verify: async (quote) => {
      const c = typeof collateral === 'function' ? await collateral(quote) : collateral;
      if (!c) throw new Error('an Intel quote needs its collateral');
      return QuoteVerifier.newProd().verify(Buffer.from(quote), c, Math.floor(Date.now() / 1000));
    },
  };
}
