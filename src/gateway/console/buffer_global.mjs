// @phala/dcap-qvl uses Node's Buffer as a global in places; the browser gets
// the npm `buffer` package's, set before the verifier's modules run.
import { Buffer } from 'buffer';
globalThis.Buffer = globalThis.Buffer || Buffer;
