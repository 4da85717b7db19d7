// An independent EIP-712 implementation (ethers) signing what a contract owner
// signs (include/phx/chain_owner.h), for test_owner to compare with ours.
// usage: node owner_peer.js SK CONTRACT_ID ACTION CODE_HASH SECRETS_HASH NONCE REQ_ACTION SUBJECT EXPIRES
// prints {"address","op_digest","op_sig","req_digest","req_sig"}
const { ethers } = require("ethers");
const [sk, contractId, action, codeHash, secretsHash, nonce, reqAction, subject, expires] =
    process.argv.slice(2);
const domain = { name: "phx-owner", version: "1" };
const opTypes = {
    ContractOp: [
        { name: "contractId", type: "bytes32" },
        { name: "action", type: "string" },
        { name: "codeHash", type: "bytes32" },
        { name: "secretsHash", type: "bytes32" },
        { name: "nonce", type: "uint64" },
    ],
};
const reqTypes = {
    OwnerRequest: [
        { name: "action", type: "string" },
        { name: "subject", type: "bytes32" },
        { name: "expires", type: "uint64" },
    ],
};
const op = { contractId, action, codeHash, secretsHash, nonce: BigInt(nonce) };
const req = { action: reqAction, subject, expires: BigInt(expires) };
const key = new ethers.SigningKey(sk);
const opDigest = ethers.TypedDataEncoder.hash(domain, opTypes, op);
const reqDigest = ethers.TypedDataEncoder.hash(domain, reqTypes, req);
console.log(JSON.stringify({
    address: ethers.computeAddress(key.publicKey).toLowerCase(),
    op_digest: opDigest,
    op_sig: key.sign(opDigest).serialized,
    req_digest: reqDigest,
    req_sig: key.sign(reqDigest).serialized,
}));
