// @phalanx/sdk: the JS client for Phalanx (README.md).
export { Phalanx, PhalanxError, REQUEST_STATUS, JOBS_CLIENT_ABI } from './client.mjs';
export { checkContractKey, seal, sealRequestInput, openReply, SEAL_INPUT, SEAL_SECRET, SEAL_REQUEST, SEALED_REQUEST_MAGIC } from './seal.mjs';
export { signContractOp, ownerRequestQuery, secretsHash, OWNER_DOMAIN } from './owner.mjs';
export { verifyLinks, envelopeFromRequest, resultDigest, quoteFields, LINKS, Broken } from './verify.mjs';
