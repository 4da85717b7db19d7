// A dApp's client for a Phalanx network: deploy and call through the gateway
// (owner-signed as `phx deploy` signs), seal inputs to a contract's KMS-signed
// key, request runs on chain and wait for their fulfilment, and verify results
// (verify.mjs). Runs in Node and in browsers: fetch, ethers, @hpke.
import { ethers } from 'ethers';
import { checkContractKey, seal, sealRequestInput, openReply, SEAL_INPUT, SEAL_SECRET } from './seal.mjs';
import { secretsHash, signContractOp, ownerRequestQuery } from './owner.mjs';
import { verifyLinks, envelopeFromRequest } from './verify.mjs';

export const JOBS_CLIENT_ABI = [
  'function contracts(bytes32) view returns (address owner, uint64 version, bytes32 codeHash, string codeUri)',
  'function contractId(address owner, bytes32 salt) pure returns (bytes32)',
  'function deployContract(bytes32 salt, bytes32 codeHash, string codeUri) returns (bytes32)',
  'function updateContract(bytes32 id, bytes32 codeHash, string codeUri)',
  'function request(bytes32 contractId, bytes input, uint256 maxFee, uint32 callbackGasLimit, uint8 k) returns (uint256)',
  'function requests(uint256) view returns (address requester, uint8 status, uint8 k, uint32 callbackGasLimit, uint8 minTeeKinds, uint64 deadline, bytes32 contractId, bytes32 codeHash, uint256 fee)',
  'event Requested(uint256 indexed requestId, bytes32 indexed contractId, address indexed requester, bytes32 codeHash, uint256 fee, uint32 callbackGasLimit, uint8 k, uint64 deadline, bytes input, uint8 minTeeKinds)',
  'event Fulfilled(uint256 indexed requestId, address indexed submitter, bytes32 outputHash, bool ok, bool callbackOk, address[] operators, bytes output)',
  'event Refunded(uint256 indexed requestId, address indexed requester, uint256 fee)',
  // Jobs' custom errors, so a revert is named with its arguments.
  'error NotGovernor()',
  'error NotContractOwner()',
  'error ZeroAddress()',
  'error ContractExists(bytes32 id)',
  'error UnknownContract(bytes32 id)',
  'error BadK(uint8 k)',
  'error CallbackGasTooHigh(uint32 limit, uint32 max)',
  'error FeeTooLow(uint256 maxFee, uint256 fee)',
  'error TooLarge(uint256 length, uint256 max)',
  'error NotPending(uint256 requestId, uint8 status)',
  'error Expired(uint256 requestId, uint64 deadline)',
  'error NotExpired(uint256 requestId, uint64 deadline)',
  'error NotWorker(address sender)',
  'error SignatureCount(uint256 given, uint8 k)',
  'error UnregisteredSigner(address signer)',
  'error DuplicateOperator(address operator)',
  'error InsufficientGasForCallback()',
  'error TransferFailed()',
];
const ERC20_ABI = ['function approve(address spender, uint256 amount) returns (bool)'];
export const REQUEST_STATUS = ['none', 'pending', 'fulfilled', 'callback_failed', 'refunded'];

// An error from the network or a contract, with what it said.
export class PhalanxError extends Error {
  constructor(message, { status, code, envelope } = {}) {
    super(message);
    this.name = 'PhalanxError';
    this.status = status;
    this.code = code;
    this.envelope = envelope;
  }
}

const utf8 = (t) => new TextEncoder().encode(t);
const asJsonOrHex = (bytes) => {
  try {
    return { json: true, value: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) };
  } catch {
    return { json: false, value: ethers.hexlify(bytes) };
  }
};
// An on-chain input: 0x hex as those bytes, a string as its text, anything
// else as its JSON text (what the contract receives as JSON), as `phx request`.
const requestInputBytes = (input) => {
  if (input instanceof Uint8Array) return input;
  if (typeof input === 'string') return /^0x([0-9a-fA-F]{2})*$/.test(input) ? ethers.getBytes(input) : utf8(input);
  return utf8(JSON.stringify(input === undefined ? null : input));
};

// A revert named from the ABI with its arguments (UnknownContract(0x…)), as
// the CLI names them, else ethers' own words.
export function revertText(e, iface) {
  let data = e.data;
  for (let x = e; !data && x; x = x.error || x.info?.error) if (typeof x.data === 'string') data = x.data;
  const p = data && data !== '0x' ? iface.parseError(data) : null;
  if (p) return `reverted: ${p.name}(${p.args.map((a) => (typeof a === 'bigint' ? a.toString() : a)).join(', ')})`;
  return e.shortMessage || e.message;
}

export class Phalanx {
  // gateway: its URL; kmsAddress: the KMS whose signature on contract keys is
  // trusted; signer: an ethers Signer (owner operations and on-chain
  // requests), connected to provider or given rpc; deployment: {chain_id,
  // contracts: {Jobs, PhxToken, Registry}} as the devnet's endpoints file has it.
  constructor({ gateway, kmsAddress, signer, provider, rpc, deployment } = {}) {
    this.gateway = gateway ? gateway.replace(/\/+$/, '') : undefined;
    this.kmsAddress = kmsAddress;
    this.provider = provider || (rpc ? new ethers.JsonRpcProvider(rpc, undefined, { staticNetwork: true, cacheTimeout: -1 }) : signer && signer.provider);
    this.rpc = rpc;
    this.signer = signer && !signer.provider && this.provider ? signer.connect(this.provider) : signer;
    this.deployment = deployment;
  }

  // ---- the gateway ---------------------------------------------------------

  async http(method, path, body) {
    if (!this.gateway) throw new PhalanxError('no gateway URL given');
    let res;
    try {
      res = await fetch(this.gateway + path, {
        method,
        headers: body !== undefined ? { 'content-type': 'application/json' } : undefined,
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch (e) {
      throw new PhalanxError(`gateway ${this.gateway}: ${e.cause ? e.cause.message : e.message}`);
    }
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      throw new PhalanxError(`gateway ${method} ${path}: HTTP ${res.status}, not JSON`, { status: res.status });
    }
    if (!res.ok) {
      const err = (json && json.error) || {};
      throw new PhalanxError(`${err.message || `HTTP ${res.status}`} (HTTP ${res.status})`, { status: res.status, code: err.code });
    }
    return json;
  }

  network() {
    return this.http('GET', '/v1/network');
  }

  // The contract's X25519 key, from the KMS-signed document, checked against
  // the trusted KMS address (the gateway only relays it).
  async contractKey(contractId) {
    if (!this.kmsAddress) throw new PhalanxError('sealing needs the trusted KMS address (kmsAddress)');
    const doc = await this.http('GET', `/v1/contracts/${contractId}/pubkey`);
    return checkContractKey(doc, contractId, this.kmsAddress);
  }

  // Deploy code (a string) as the signer's contract: id =
  // keccak256(abi.encode(owner, salt)), recorded on chain (Jobs.deployContract,
  // or updateContract when the id exists) when a chain is known, then the
  // owner-signed deploy to the gateway. secrets: {K: V} sealed to the
  // contract key and this code. Returns {id, codeHash, owner, onChain}.
  async deploy(code, { salt, secrets, filename, onChain = true } = {}) {
    if (!this.signer) throw new PhalanxError('deploying needs the owner\'s signer');
    const owner = await this.signer.getAddress();
    salt = salt || ethers.hexlify(ethers.randomBytes(32));
    const id = ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(['address', 'bytes32'], [owner, salt]));
    const codeHash = ethers.keccak256(utf8(code));
    let recorded = false;
    if (onChain && this.deployment) {
      const jobs = this.jobs(this.signer);
      const have = await jobs.contracts(id);
      const uri = `phx://blob/${codeHash}`;
      const fn = have.owner === ethers.ZeroAddress ? 'deployContract' : 'updateContract';
      try {
        await (await (fn === 'deployContract' ? jobs.deployContract(salt, codeHash, uri) : jobs.updateContract(id, codeHash, uri))).wait();
      } catch (e) {
        throw new PhalanxError(`Jobs.${fn}: ${revertText(e, jobs.interface)}`);
      }
      recorded = true;
    }
    const body = { id, owner, salt, code, code_hash: codeHash };
    if (filename) body.filename = filename;
    if (secrets) {
      const pub = await this.contractKey(id);
      const s = await seal(pub, id, SEAL_SECRET, JSON.stringify(secrets), codeHash);
      body.sealed_secrets = { enc: s.enc, ciphertext: s.ciphertext };
    }
    body.nonce = Date.now();
    body.signature = await signContractOp(this.signer, {
      contractId: id, action: 'deploy', codeHash, secretsHash: secretsHash(body.sealed_secrets), nonce: body.nonce,
    });
    const r = await this.http('POST', '/v1/contracts', body);
    if (String(r.id).toLowerCase() !== id.toLowerCase() || String(r.code_hash).toLowerCase() !== codeHash.toLowerCase())
      throw new PhalanxError(`the network answered id ${r.id} code_hash ${r.code_hash}, want ${id} ${codeHash}`);
    return { id, codeHash, owner, onChain: recorded };
  }

  // The contract as the gateway keeps it, checked: its salt must give back
  // this id with the signer's address (so no answer can aim an op at another
  // contract), and with {code: true} its code must hash to the code hash.
  async deployed(contractId, { code = false } = {}) {
    const owner = await this.signer.getAddress();
    const rec = await this.http('GET', `/v1/contracts/${contractId}`);
    const want = ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(['address', 'bytes32'], [owner, rec.salt]));
    if (want.toLowerCase() !== String(contractId).toLowerCase())
      throw new PhalanxError('this contract\'s id is not derived from your key: only its owner may change it');
    if (!code) return { salt: rec.salt, codeHash: rec.code_hash };
    const res = await fetch(`${this.gateway}/v1/blobs/${rec.code_hash}`);
    if (res.status !== 200) throw new PhalanxError(`the deployed code: HTTP ${res.status}`, { status: res.status });
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (ethers.keccak256(bytes) !== String(rec.code_hash).toLowerCase())
      throw new PhalanxError(`the gateway served code that is not ${rec.code_hash}`);
    return { salt: rec.salt, codeHash: rec.code_hash, code: new TextDecoder().decode(bytes) };
  }

  // New code on the same id (`phx update ID FILE`); secrets, when given,
  // sealed to the new code (else the contract has none: no one outside a TEE
  // can read the old ones to carry them over).
  async update(contractId, code, { secrets, filename } = {}) {
    const { salt } = await this.deployed(contractId);
    return this.deploy(code, { salt, secrets, filename });
  }

  // Replace the secrets as a whole, keeping the code (`phx secrets set`).
  async setSecrets(contractId, secrets) {
    const d = await this.deployed(contractId, { code: true });
    return this.deploy(d.code, { salt: d.salt, secrets });
  }

  // The owner-signed delete, to every worker.
  async delete(contractId) {
    if (!this.signer) throw new PhalanxError('deleting needs the owner\'s signer');
    const nonce = Date.now();
    const signature = await signContractOp(this.signer, { contractId, action: 'delete', codeHash: ethers.ZeroHash, nonce });
    return this.http('POST', `/v1/contracts/${contractId}/delete`, { owner: await this.signer.getAddress(), nonce, signature });
  }

  // Call a contract. input: any JSON value. With {encrypt: true} it is sealed
  // to the contract's KMS-signed key and the reply opened here. Returns
  // {ok, output (JSON value, or 0x hex for bytes), envelope (what the worker
  // signed; verify() checks it)}; a contract that threw is a PhalanxError
  // with code and envelope. nonce: 32 bytes (0x hex) naming this call, random
  // by default: the request id derives from the input and the nonce, so two
  // calls are two requests (two actions of phx.evm.send) however close in
  // time, and a call made again with the same nonce (a retry) is one.
  async call(contractId, input = null, { encrypt = false, nonce = ethers.hexlify(ethers.randomBytes(32)) } = {}) {
    if (!ethers.isHexString(nonce, 32)) throw new PhalanxError('nonce must be 32 bytes of 0x hex');
    let body, replyKey;
    if (encrypt) {
      const pub = await this.contractKey(contractId);
      const s = await seal(pub, contractId, SEAL_INPUT, JSON.stringify(input));
      replyKey = s.replyKey;
      body = { sealed_input: { enc: s.enc, ciphertext: s.ciphertext }, nonce };
    } else {
      body = { input, nonce };
    }
    const env = await this.http('POST', `/v1/contracts/${contractId}/call`, body);
    if (env.output_bytes === undefined) throw new PhalanxError('the answer is not a signed envelope', { envelope: env });
    // The envelope must be this call's (an older worker names no nonce).
    if (env.nonce !== undefined && String(env.nonce).toLowerCase() !== nonce.toLowerCase()) {
      throw new PhalanxError('the answer is for another call (its nonce differs)', { envelope: env });
    }
    let bytes = ethers.getBytes(env.output_bytes);
    if (encrypt) bytes = await openReply(replyKey, contractId, bytes);
    const out = asJsonOrHex(bytes);
    if (env.ok === false) {
      const e = (out.json && out.value && out.value.error) || {};
      throw new PhalanxError(`the contract failed: ${e.code || 'error'}: ${e.message || '(no message)'}`, { code: e.code, envelope: env });
    }
    return { ok: true, output: out.value, envelope: env };
  }

  // Owner-signed reads: the contract's recent calls with their logs.
  async logs(contractId) {
    const q = await ownerRequestQuery(this.signer, 'logs', contractId);
    return this.http('GET', `/v1/contracts/${contractId}/logs?${q}`);
  }

  // ---- the chain -----------------------------------------------------------

  jobs(runner = this.provider) {
    if (!this.deployment) throw new PhalanxError('no chain deployment given');
    return new ethers.Contract(this.deployment.contracts.Jobs, JOBS_CLIENT_ABI, runner);
  }

  // The bytes an on-chain request carries; with encrypt, sealed to the
  // contract ("phx-sealed-v1" || enc || ciphertext), which only a worker's
  // TEE opens. Give these to your consumer contract's Jobs.request.
  async requestInput(contractId, input, { encrypt = false } = {}) {
    const bytes = requestInputBytes(input);
    if (!encrypt) return ethers.hexlify(bytes);
    return sealRequestInput(await this.contractKey(contractId), contractId, bytes);
  }

  // Jobs.request from the signer's own account (it pays: approve, then
  // request). Returns {requestId, tx}. A dApp's consumer contract calls
  // Jobs.request itself with requestInput()'s bytes; either way
  // waitForFulfilment follows it.
  async request(contractId, input, { fee, encrypt = false, callbackGasLimit = 300000, k = 1 } = {}) {
    if (fee === undefined) throw new PhalanxError('request needs a fee (wei of PHA)');
    const data = await this.requestInput(contractId, input, { encrypt });
    const token = new ethers.Contract(this.deployment.contracts.PhxToken, ERC20_ABI, this.signer);
    await (await token.approve(this.deployment.contracts.Jobs, fee)).wait();
    const jobs = this.jobs(this.signer);
    let rc;
    try {
      rc = await (await jobs.request(contractId, data, fee, callbackGasLimit, k)).wait();
    } catch (e) {
      throw new PhalanxError(`Jobs.request: ${revertText(e, jobs.interface)}`);
    }
    const requestId = this.requestIdOf(rc);
    return { requestId, tx: rc.hash };
  }

  // The request id from a receipt with a Jobs Requested log (yours or your
  // consumer contract's transaction).
  requestIdOf(receipt) {
    const jobs = this.jobs();
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== this.deployment.contracts.Jobs.toLowerCase()) continue;
      const p = jobs.interface.parseLog(log);
      if (p && p.name === 'Requested') return p.args.requestId;
    }
    throw new PhalanxError('the transaction logged no Jobs Requested event');
  }

  // Wait until request id is settled. Returns {requestId, status
  // ('fulfilled' | 'callback_failed' | 'refunded'), ok (false: the contract
  // failed and output is its error), output (JSON value or 0x hex),
  // outputBytes, callbackOk, worker}. Throws when not settled in time.
  async waitForFulfilment(requestId, { timeoutMs = 120000, pollMs = 250 } = {}) {
    const jobs = this.jobs();
    const id = BigInt(requestId);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await jobs.requests(id);
      const status = REQUEST_STATUS[Number(r.status)] || String(r.status);
      if (status === 'fulfilled' || status === 'callback_failed') {
        const logs = await jobs.queryFilter(jobs.filters.Fulfilled(id), 0, 'latest');
        if (logs.length) {
          const ev = logs[logs.length - 1];
          const bytes = ethers.getBytes(ev.args.output);
          return { requestId: id, status, ok: ev.args.ok, output: asJsonOrHex(bytes).value, outputBytes: ethers.hexlify(bytes),
            callbackOk: ev.args.callbackOk, worker: ev.args.submitter, tx: ev.transactionHash };
        }
      } else if (status !== 'pending') {
        return { requestId: id, status };
      }
      if (Date.now() > deadline) throw new PhalanxError(`request ${id} not fulfilled within ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, pollMs));
    }
  }

  // ---- verification --------------------------------------------------------

  // Every link of a result (an envelope from call(), or a request id to
  // rebuild one from the chain): see verify.mjs. quoteVerifier: {name,
  // verify(quote)}; Node gets one from node.mjs (simQuoteVerifier,
  // intelQuoteVerifier); the default is the client's quoteVerifier, which
  // fromEndpoints sets to a devnet's sim root as `phx verify` reads it.
  async verify(result, { quoteVerifier = this.quoteVerifier, provider = this.provider } = {}) {
    if (!quoteVerifier) throw new PhalanxError('verify needs a quoteVerifier (the root to trust)');
    if (!provider) throw new PhalanxError('verify needs a chain provider (rpc)');
    const env = typeof result === 'object' && result !== null ? result : await envelopeFromRequest(provider, this.deployment.contracts.Jobs, result);
    return verifyLinks(env, { provider, rpc: this.rpc, quoteVerifier });
  }
}
