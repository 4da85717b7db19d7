// Contract owners' EIP-712 signatures (src/chain/owner.c, docs/worker.md
// "Owners"): domain {name "phx-owner", version "1"}, no chain id, so the same
// signature any wallet's eth_signTypedData_v4 makes.
import { ethers } from 'ethers';

export const OWNER_DOMAIN = { name: 'phx-owner', version: '1' };
export const CONTRACT_OP_TYPES = {
  ContractOp: [
    { name: 'contractId', type: 'bytes32' }, { name: 'action', type: 'string' }, { name: 'codeHash', type: 'bytes32' },
    { name: 'secretsHash', type: 'bytes32' }, { name: 'nonce', type: 'uint64' },
  ],
};
export const OWNER_REQUEST_TYPES = {
  OwnerRequest: [{ name: 'action', type: 'string' }, { name: 'subject', type: 'bytes32' }, { name: 'expires', type: 'uint64' }],
};

// keccak256(enc || ciphertext) of sealed secrets, or zero without any.
export const secretsHash = (sealed) => (sealed ? ethers.keccak256(ethers.concat([sealed.enc, sealed.ciphertext])) : ethers.ZeroHash);

// The owner's ContractOp ("deploy" or "delete") signature, 0x hex.
export async function signContractOp(signer, op) {
  return signer.signTypedData(OWNER_DOMAIN, CONTRACT_OP_TYPES, {
    contractId: op.contractId, action: op.action, codeHash: op.codeHash,
    secretsHash: op.secretsHash || ethers.ZeroHash, nonce: BigInt(op.nonce),
  });
}

// An OwnerRequest (logs, jobs, blob-put) as the query the gateway checks.
export async function ownerRequestQuery(signer, action, subject, ttlSeconds = 300) {
  const expires = Math.floor(Date.now() / 1000) + ttlSeconds;
  const signature = await signer.signTypedData(OWNER_DOMAIN, OWNER_REQUEST_TYPES, { action, subject, expires: BigInt(expires) });
  return new URLSearchParams({ owner: await signer.getAddress(), expires: String(expires), signature });
}
