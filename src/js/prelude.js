// The contract's world, built in each fresh global before the contract runs:
// console, fetch/Headers/Response, TextEncoder/TextDecoder, crypto.getRandomValues,
// phx (kv, crypto, hex, abi), pink (Phat compatibility) and scriptArgs. Every
// capability is one call to the private native `host(op, json)`, which the
// sandbox turns into a framed message to the worker (docs/js.md lists the ops).
// Evaluates to setup(inputJson, ctxJson), which returns the invoker: a function
// that calls the contract's entry point. The sandbox runs this file while the
// process waits for work, and setup when the invocation arrives.
(function () {
  'use strict';
  const G = globalThis;
  const N = G.__phx_native;
  delete G.__phx_native;
  const host = N.host, nativeRandom = N.random, nativeCrash = N.crash, nativeSleep = N.sleep;
  const JSONparse = JSON.parse, JSONstringify = JSON.stringify;
  const call = (op, args) => JSONparse(host(op, JSONstringify(args === undefined ? null : args)));
  const def = (obj, name, value) =>
    Object.defineProperty(obj, name, { value, writable: true, configurable: true, enumerable: false });

  // ---- bytes: UTF-8, base64, hex -------------------------------------------------
  function utf8Encode(s) {
    s = String(s);
    const out = new Uint8Array(s.length * 3); // worst case; no per-byte garbage
    let j = 0;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) { out[j++] = c; continue; }
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; }
      }
      if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
      if (c < 0x800) { out[j++] = 0xc0 | (c >> 6); out[j++] = 0x80 | (c & 63); }
      else if (c < 0x10000) { out[j++] = 0xe0 | (c >> 12); out[j++] = 0x80 | ((c >> 6) & 63); out[j++] = 0x80 | (c & 63); }
      else { out[j++] = 0xf0 | (c >> 18); out[j++] = 0x80 | ((c >> 12) & 63); out[j++] = 0x80 | ((c >> 6) & 63); out[j++] = 0x80 | (c & 63); }
    }
    return out.slice(0, j);
  }
  function utf8Decode(b) {
    let s = '';
    const parts = [];
    for (let i = 0; i < b.length;) {
      const c = b[i];
      let cp = 0xfffd, n = 1;
      if (c < 0x80) { cp = c; }
      else if (c >= 0xc2 && c < 0xe0 && i + 1 < b.length && (b[i + 1] & 0xc0) === 0x80) {
        cp = ((c & 31) << 6) | (b[i + 1] & 63); n = 2;
      } else if (c >= 0xe0 && c < 0xf0 && i + 2 < b.length && (b[i + 1] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) === 0x80) {
        cp = ((c & 15) << 12) | ((b[i + 1] & 63) << 6) | (b[i + 2] & 63); n = 3;
        if (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000)) cp = 0xfffd;
      } else if (c >= 0xf0 && c < 0xf5 && i + 3 < b.length && (b[i + 1] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) === 0x80 && (b[i + 3] & 0xc0) === 0x80) {
        cp = ((c & 7) << 18) | ((b[i + 1] & 63) << 12) | ((b[i + 2] & 63) << 6) | (b[i + 3] & 63); n = 4;
        if (cp < 0x10000 || cp > 0x10ffff) cp = 0xfffd;
      }
      i += n;
      s += String.fromCodePoint(cp);
      if (s.length > 8192) { parts.push(s); s = ''; }
    }
    parts.push(s);
    return parts.join('');
  }
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const B64I = new Int16Array(256).fill(-1);
  for (let i = 0; i < 64; i++) B64I[B64.charCodeAt(i)] = i;
  function b64Encode(b) {
    const parts = [];
    let s = '';
    for (let i = 0; i < b.length; i += 3) {
      const n = (b[i] << 16) | ((b[i + 1] | 0) << 8) | (b[i + 2] | 0);
      s += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] +
        (i + 1 < b.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < b.length ? B64[n & 63] : '=');
      if (s.length > 8192) { parts.push(s); s = ''; }
    }
    parts.push(s);
    return parts.join('');
  }
  function b64Decode(s) {
    s = String(s).replace(/=+$/, '');
    const out = new Uint8Array((s.length * 3) >> 2);
    let bits = 0, acc = 0, j = 0;
    for (let i = 0; i < s.length; i++) {
      const v = B64I[s.charCodeAt(i) & 255];
      if (v < 0) throw new TypeError('invalid base64');
      acc = (acc << 6) | v; bits += 6;
      if (bits >= 8) { bits -= 8; out[j++] = (acc >> bits) & 255; }
    }
    return out.subarray(0, j);
  }
  const HEX = [];
  for (let i = 0; i < 256; i++) HEX.push((i < 16 ? '0' : '') + i.toString(16));
  function hexEncode(b) {
    b = toBytes(b);
    let s = '0x';
    for (let i = 0; i < b.length; i++) s += HEX[b[i]];
    return s;
  }
  function hexDecode(h) {
    h = String(h);
    if (h.startsWith('0x') || h.startsWith('0X')) h = h.slice(2);
    if (h.length % 2 || /[^0-9a-fA-F]/.test(h)) throw new TypeError('invalid hex');
    const out = new Uint8Array(h.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(i * 2, 2), 16);
    return out;
  }
  // Strings are UTF-8; ArrayBuffers and views are their bytes.
  function toBytes(v) {
    if (v instanceof Uint8Array) return v;
    if (v instanceof ArrayBuffer) return new Uint8Array(v);
    if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (typeof v === 'string') return utf8Encode(v);
    throw new TypeError('expected a string, ArrayBuffer or Uint8Array');
  }
  function bytesOrHex(v) {
    if (typeof v === 'string' && /^0x([0-9a-fA-F]{2})*$/.test(v)) return hexDecode(v);
    return toBytes(v);
  }

  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(s = '') { return utf8Encode(s); }
  }
  class TextDecoder {
    constructor(label = 'utf-8') {
      if (!/^utf-?8$/i.test(String(label))) throw new RangeError('only utf-8 is supported');
    }
    get encoding() { return 'utf-8'; }
    decode(b) { return b === undefined ? '' : utf8Decode(toBytes(b)); }
  }
  def(G, 'TextEncoder', TextEncoder);
  def(G, 'TextDecoder', TextDecoder);

  // ---- console: every line goes to the worker, which caps the total ----------------
  function fmtArg(a) {
    if (typeof a === 'string') return a;
    if (a instanceof Error) return String(a) + (a.stack ? '\n' + a.stack : '');
    if (typeof a === 'bigint') return a + 'n';
    if (typeof a === 'object' && a !== null) {
      try { return JSONstringify(a, (k, v) => (typeof v === 'bigint' ? v.toString() : v)); } catch (e) { return String(a); }
    }
    return String(a);
  }
  const consoleObj = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    def(consoleObj, level, (...args) => { host('log', JSONstringify({ level, msg: args.map(fmtArg).join(' ') })); });
  }
  def(G, 'console', consoleObj);

  // ---- crypto.getRandomValues ---------------------------------------------------
  const cryptoObj = {};
  def(cryptoObj, 'getRandomValues', (a) => {
    if (!(a instanceof Int8Array || a instanceof Uint8Array || a instanceof Uint8ClampedArray ||
      a instanceof Int16Array || a instanceof Uint16Array || a instanceof Int32Array ||
      a instanceof Uint32Array || a instanceof BigInt64Array || a instanceof BigUint64Array))
      throw new TypeError('getRandomValues: expected an integer TypedArray');
    return nativeRandom(a);
  });
  def(G, 'crypto', cryptoObj);

  // ---- timers: setTimeout/clearTimeout/setInterval --------------------------------
  // They fire in due order once the promise jobs have drained, while the
  // contract's result is still pending (the engine calls tick()).
  const timers = new Map();
  let nextTimer = 1;
  const dateNow = Date.now;
  function addTimer(fn, ms, args, repeat) {
    if (typeof fn !== 'function') throw new TypeError('timer callback must be a function');
    const id = nextTimer++;
    ms = Math.max(0, Number(ms) || 0);
    timers.set(id, { fn, ms, args, repeat, due: dateNow() + ms, seq: id });
    return id;
  }
  def(G, 'setTimeout', (fn, ms, ...args) => addTimer(fn, ms, args, false));
  def(G, 'setInterval', (fn, ms, ...args) => addTimer(fn, ms, args, true));
  def(G, 'clearTimeout', (id) => { timers.delete(id); });
  def(G, 'clearInterval', (id) => { timers.delete(id); });
  function tick() {
    let next = null;
    for (const [id, t] of timers) if (!next || t.due < next[1].due) next = [id, t];
    if (!next) return false;
    const [id, t] = next;
    const wait = t.due - dateNow();
    if (wait > 0) nativeSleep(wait);
    if (t.repeat) t.due = dateNow() + Math.max(1, t.ms);
    else timers.delete(id);
    t.fn(...t.args);
    return true;
  }

  // ---- fetch (WHATWG subset) -------------------------------------------------------
  class Headers {
    constructor(init) {
      def(this, '_h', []);
      if (init instanceof Headers) init = init.entries();
      else if (init && typeof init === 'object' && !(Symbol.iterator in init)) init = Object.entries(init);
      if (init) for (const [k, v] of init) this.append(k, v);
    }
    append(k, v) { this._h.push([String(k).toLowerCase(), String(v)]); }
    set(k, v) { this.delete(k); this.append(k, v); }
    get(k) {
      k = String(k).toLowerCase();
      const vs = this._h.filter((e) => e[0] === k).map((e) => e[1]);
      return vs.length ? vs.join(', ') : null;
    }
    has(k) { k = String(k).toLowerCase(); return this._h.some((e) => e[0] === k); }
    delete(k) { k = String(k).toLowerCase(); this._h = this._h.filter((e) => e[0] !== k); }
    *entries() { for (const e of this._h) yield [e[0], e[1]]; }
    *keys() { for (const e of this._h) yield e[0]; }
    *values() { for (const e of this._h) yield e[1]; }
    forEach(fn, self) { for (const [k, v] of this._h) fn.call(self, v, k, this); }
    [Symbol.iterator]() { return this.entries(); }
  }
  class Response {
    constructor(body, init = {}) {
      def(this, '_body', body == null ? new Uint8Array(0) : toBytes(body));
      def(this, '_used', false);
      this.status = init.status === undefined ? 200 : init.status;
      this.statusText = init.statusText || '';
      this.headers = new Headers(init.headers);
      this.url = init.url || '';
      this.redirected = !!init.redirected;
    }
    get ok() { return this.status >= 200 && this.status < 300; }
    get bodyUsed() { return this._used; }
    _take() {
      if (this._used) throw new TypeError('body already used');
      this._used = true;
      return this._body;
    }
    async arrayBuffer() { const b = this._take(); return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength); }
    async bytes() { return new Uint8Array(this._take()); }
    async text() { return utf8Decode(this._take()); }
    async json() { return JSONparse(utf8Decode(this._take())); }
  }
  function headerList(h) {
    if (h == null) return [];
    return [...new Headers(h).entries()];
  }
  function doFetch(spec) {
    return call('fetch', spec);
  }
  async function fetch(resource, init = {}) {
    const url = typeof resource === 'string' ? resource : resource && resource.url ? String(resource.url) : String(resource);
    const spec = { url, method: String(init.method || 'GET').toUpperCase(), headers: headerList(init.headers) };
    if (init.body != null) spec.body = b64Encode(toBytes(init.body));
    const r = doFetch(spec);
    return new Response(b64Decode(r.body), { status: r.status, statusText: r.statusText, headers: r.headers, url: r.url, redirected: r.redirected });
  }
  def(G, 'fetch', fetch);
  def(G, 'Headers', Headers);
  def(G, 'Response', Response);

  // ---- phx: kv, crypto, hex, abi ---------------------------------------------------
  const kv = {
    async get(key) {
      const r = call('kv.get', { key: String(key) });
      if (r.value === null) return null;
      const b = b64Decode(r.value);
      return r.type === 'bytes' ? b : r.type === 'json' ? JSONparse(utf8Decode(b)) : utf8Decode(b);
    },
    async put(key, value) {
      let type = 'string', b;
      if (typeof value === 'string') b = utf8Encode(value);
      else if (value instanceof Uint8Array || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) { type = 'bytes'; b = toBytes(value); }
      else { type = 'json'; b = utf8Encode(JSONstringify(value)); }
      call('kv.put', { key: String(key), type, value: b64Encode(b) });
    },
    async delete(key) { return call('kv.delete', { key: String(key) }).deleted; },
    async list(prefix = '') { return call('kv.list', { prefix: String(prefix) }).keys; },
  };
  // phx.state: the contract's consistent state, shared by every worker and
  // anchored on chain with compare-and-set versions (docs/js.md "phx.state").
  const encodeValue = (value) => {
    if (typeof value === 'string') return { type: 'string', value: b64Encode(utf8Encode(value)) };
    if (value instanceof Uint8Array || value instanceof ArrayBuffer || ArrayBuffer.isView(value))
      return { type: 'bytes', value: b64Encode(toBytes(value)) };
    return { type: 'json', value: b64Encode(utf8Encode(JSONstringify(value))) };
  };
  const decodeValue = (r) => {
    if (r.value === null) return null;
    const b = b64Decode(r.value);
    return r.type === 'bytes' ? b : r.type === 'json' ? JSONparse(utf8Decode(b)) : utf8Decode(b);
  };
  const stateWritten = (r, key) => {
    if (r.ok) return r.version;
    const err = new Error(`phx.state: ${key} changed (now version ${r.version}); read it again and retry`);
    err.code = 'STATE_CONFLICT';
    err.version = r.version;
    throw err;
  };
  const state = {
    async get(key) { return decodeValue(call('state.get', { key: String(key) })); },
    async getVersioned(key) {
      const r = call('state.get', { key: String(key) });
      return { value: decodeValue(r), version: r.version };
    },
    async put(key, value) {
      return stateWritten(call('state.put', { key: String(key), ...encodeValue(value) }), String(key));
    },
    async cas(key, expectedVersion, value) {
      if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0)
        throw new TypeError('phx.state.cas: expectedVersion must be a non-negative integer');
      return stateWritten(call('state.cas', { key: String(key), expected: expectedVersion, ...encodeValue(value) }), String(key));
    },
  };
  const hashWith = (alg) => (data) => b64Decode(call('hash', { alg, data: b64Encode(toBytes(data)) }).digest);
  const phxCrypto = {
    sha256: hashWith('sha256'),
    keccak256: hashWith('keccak256'),
    getRandomValues: cryptoObj.getRandomValues,
    randomBytes(n) { return nativeRandom(new Uint8Array(n)); },
    // sign(data): a 32-byte digest is signed as is; anything else is hashed
    // with keccak256 first. Returns r||s||v (65 bytes, v = 27/28).
    async sign(data) {
      let d = bytesOrHex(data);
      if (d.length !== 32) d = phxCrypto.keccak256(d);
      return b64Decode(call('sign', { digest: b64Encode(d) }).signature);
    },
    async signMessage(msg) { return b64Decode(call('sign', { message: b64Encode(toBytes(msg)) }).signature); },
    async publicKey() { return b64Decode(call('key', {}).publicKey); },
    async address() { return call('key', {}).address; },
  };

  // Ethereum ABI for the common types: uintN, intN, address, bool, bytesN,
  // bytes, string and dynamic arrays T[] of them.
  const M256 = 1n << 256n;
  const isDyn = (t) => t === 'bytes' || t === 'string' || t.endsWith('[]');
  const pad = (h) => h.padStart(64, '0');
  function word(t, v) {
    let m;
    if ((m = /^(u?)int(\d*)$/.exec(t))) {
      const bits = BigInt(m[2] || 256);
      let x = BigInt(v);
      if (m[1]) { if (x < 0n || x >= 1n << bits) throw new RangeError(`${t} out of range`); }
      else { if (x < -(1n << (bits - 1n)) || x >= 1n << (bits - 1n)) throw new RangeError(`${t} out of range`); if (x < 0n) x += M256; }
      return pad(x.toString(16));
    }
    if (t === 'address') {
      const h = hexEncode(bytesOrHex(v)).slice(2);
      if (h.length !== 40) throw new TypeError('address must be 20 bytes');
      return pad(h);
    }
    if (t === 'bool') return pad(v ? '1' : '0');
    if ((m = /^bytes(\d+)$/.exec(t))) {
      const b = bytesOrHex(v);
      if (b.length > +m[1]) throw new RangeError(`${t} too long`);
      return hexEncode(b).slice(2).padEnd(64, '0');
    }
    throw new TypeError('unsupported ABI type ' + t);
  }
  function encList(types, values) {
    if (!Array.isArray(values) || values.length !== types.length) throw new TypeError('ABI: types and values differ in length');
    let head = '', tail = '', off = 32 * types.length;
    types.forEach((t, i) => {
      if (isDyn(t)) { const d = encDyn(t, values[i]); head += pad(off.toString(16)); tail += d; off += d.length / 2; }
      else head += word(t, values[i]);
    });
    return head + tail;
  }
  function encDyn(t, v) {
    if (t.endsWith('[]')) { const it = t.slice(0, -2); return pad(v.length.toString(16)) + encList(v.map(() => it), v); }
    const b = t === 'string' ? utf8Encode(v) : bytesOrHex(v);
    const h = hexEncode(b).slice(2);
    return pad(b.length.toString(16)) + h.padEnd(Math.ceil(h.length / 64) * 64, '0');
  }
  function decList(types, b, base) {
    return types.map((t, i) => decOne(t, b, base, base + 32 * i));
  }
  function rd(b, at) {
    if (at < 0 || at + 32 > b.length) throw new RangeError('ABI data too short');
    return BigInt(hexEncode(b.subarray(at, at + 32)));
  }
  function small(x) { if (x > 0xffffffn) throw new RangeError('ABI offset or length too large'); return Number(x); }
  function decOne(t, b, base, at) {
    let m;
    if (isDyn(t)) {
      const p = base + small(rd(b, at));
      const n = small(rd(b, p));
      if (t.endsWith('[]')) { const it = t.slice(0, -2); return decList(Array(n).fill(it), b, p + 32); }
      if (p + 32 + n > b.length) throw new RangeError('ABI data too short');
      const d = b.subarray(p + 32, p + 32 + n);
      return t === 'string' ? utf8Decode(d) : hexEncode(d);
    }
    const x = rd(b, at);
    if ((m = /^(u?)int(\d*)$/.exec(t))) return m[1] ? x : (x >= 1n << 255n ? x - M256 : x);
    if (t === 'address') return '0x' + x.toString(16).padStart(40, '0');
    if (t === 'bool') return x !== 0n;
    if ((m = /^bytes(\d+)$/.exec(t))) return hexEncode(b.subarray(at, at + +m[1]));
    throw new TypeError('unsupported ABI type ' + t);
  }
  // Values on their way to the worker's evm code: BigInts and integers as
  // decimal text, bytes as 0x hex; decoded integers come back as {$big} marks.
  function wire(v) {
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new RangeError('numbers for the chain must be safe integers; use a BigInt');
      return String(v);
    }
    if (v instanceof Uint8Array || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return hexEncode(toBytes(v));
    if (Array.isArray(v)) return v.map(wire);
    if (v !== null && typeof v === 'object') { const o = {}; for (const k of Object.keys(v)) if (v[k] !== undefined) o[k] = wire(v[k]); return o; }
    return v;
  }
  function unmark(v) {
    if (Array.isArray(v)) return v.map(unmark);
    if (v !== null && typeof v === 'object') return typeof v.$big === 'string' ? BigInt(v.$big) : v;
    return v;
  }
  const abi = {
    encode(types, values) { return hexDecode(encList(types, values)); },
    decode(types, data) { return decList(types, bytesOrHex(data), 0); },
    // Calldata from a human-readable signature: selector || abi.encode(args).
    encodeCall(sig, args) { return hexDecode(call('abi.encodeCall', { sig: String(sig), args: wire(args || []) }).data); },
    selector(sig) { return call('abi.selector', { sig: String(sig) }).selector; },
    // Return data by signature ("f(address) returns (uint256)") or list "(uint256,bool)".
    decodeResult(sig, data) { return unmark(call('abi.decodeResult', { sig: String(sig), data: hexEncode(bytesOrHex(data)) }).values); },
  };
  // phx.evm: the worker's named chains (docs/js.md "Chains"). Reads and the
  // journaled send are host calls; each counts as one outbound request.
  const opts = (o, what) => { if (o === null || typeof o !== 'object') throw new TypeError(what); return o; };
  const evm = {
    async call(chain, o) {
      opts(o, 'phx.evm.call(chain, {to, data, blockTag})');
      return call('evm.call', wire({ chain: String(chain), to: o.to, from: o.from, data: o.data === undefined ? '0x' : hexEncode(bytesOrHex(o.data)), blockTag: o.blockTag })).data;
    },
    async getBalance(chain, address, blockTag) {
      return BigInt(call('evm.getBalance', wire({ chain: String(chain), address, blockTag })).wei);
    },
    async getLogs(chain, filter) {
      return call('evm.getLogs', { chain: String(chain), filter: wire(opts(filter, 'phx.evm.getLogs(chain, {address, topics, fromBlock, toBlock})')) }).logs;
    },
    async send(chain, o) {
      opts(o, 'phx.evm.send(chain, {to, data, value, gas, confirmations})');
      return call('evm.send', wire({ chain: String(chain), to: o.to, data: o.data === undefined ? '0x' : hexEncode(bytesOrHex(o.data)), value: o.value, gas: o.gas, confirmations: o.confirmations }));
    },
  };
  // phx.eth: sign with the contract's key; RLP and EIP-712 are done by the worker.
  const eth = {
    async signTransaction(tx) { return call('eth.signTransaction', { tx: wire(opts(tx, 'phx.eth.signTransaction(tx)')) }).raw; },
    async signTypedData(domain, types, message) {
      return call('eth.signTypedData', wire({ domain: opts(domain, 'domain'), types: opts(types, 'types'), message: opts(message, 'message') })).signature;
    },
  };
  // ---- flavors: what the wrappers of src/js/flavor.c call -------------------------
  // Chainlink Functions: the globals its sources use, and done(), which checks
  // that the source returned bytes (they are the output, as on Chainlink).
  function int256Bytes(x, name, signed) {
    if (typeof x === 'number') {
      if (!Number.isInteger(x)) throw Error(name + ' invalid input');
      x = BigInt(x);
    }
    if (typeof x !== 'bigint') throw Error(name + ' invalid input');
    const lo = signed ? -(1n << 255n) : 0n, hi = signed ? (1n << 255n) : M256;
    if (x < lo || x >= hi) throw Error(name + ' invalid input');
    if (x < 0n) x += M256;
    return hexDecode(x.toString(16).padStart(64, '0'));
  }
  function queryString(params) {
    if (params == null) return '';
    const parts = [];
    for (const [k, v] of Object.entries(params))
      if (v !== undefined) parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(String(v)));
    return parts.join('&');
  }
  function responseData(body, type) {
    if (type === 'arraybuffer') return body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
    const text = utf8Decode(body);
    if (type !== 'json') return text;
    try { return JSONparse(text); } catch (e) { return text; }
  }
  // An axios-style answer, as Chainlink's sandbox gives: never rejects for an
  // HTTP or network failure; {error: true, message, code, response?} instead.
  async function makeHttpRequest({ url, method = 'get', params, headers, data, timeout, responseType = 'json' } = {}) {
    if (typeof url !== 'string') throw TypeError('makeHttpRequest: url must be a string');
    const q = queryString(params);
    const spec = { url: q ? url + (url.includes('?') ? '&' : '?') + q : url,
      method: String(method).toUpperCase(), headers: headerList(headers) };
    if (data != null) {
      let body;
      if (typeof data === 'string' || data instanceof Uint8Array || data instanceof ArrayBuffer || ArrayBuffer.isView(data)) body = toBytes(data);
      else {
        body = utf8Encode(JSONstringify(data));
        if (!spec.headers.some((h) => h[0] === 'content-type')) spec.headers.push(['content-type', 'application/json']);
      }
      spec.body = b64Encode(body);
    }
    if (timeout != null) spec.timeout_ms = Number(timeout);
    let r;
    try {
      r = doFetch(spec);
    } catch (e) {
      return { error: true, message: String(e && e.message || e), code: 'ERR_NETWORK' };
    }
    const hdrs = {};
    for (const [k, v] of r.headers || []) hdrs[k] = hdrs[k] === undefined ? v : hdrs[k] + ', ' + v;
    const response = { status: r.status, statusText: r.statusText, headers: hdrs,
      data: responseData(b64Decode(r.body || ''), responseType) };
    if (r.status >= 200 && r.status < 300) return { error: false, ...response };
    return { error: true, message: 'Request failed with status code ' + r.status,
      code: r.status >= 500 ? 'ERR_BAD_RESPONSE' : 'ERR_BAD_REQUEST', response };
  }
  const Functions = Object.freeze({
    makeHttpRequest,
    encodeUint256: (x) => int256Bytes(x, 'encodeUint256', false),
    encodeInt256: (x) => int256Bytes(x, 'encodeInt256', true),
    encodeString(s) {
      if (typeof s !== 'string') throw Error('encodeString invalid input');
      return utf8Encode(s);
    },
  });
  function chainlinkFunctions(input, ctx) {
    let args = [], bytesArgs = [];
    if (Array.isArray(input)) args = input;
    else if (input && typeof input === 'object' && (Array.isArray(input.args) || Array.isArray(input.bytesArgs))) {
      args = input.args || [];
      bytesArgs = input.bytesArgs || [];
    } else if (input != null) {
      throw TypeError('chainlink-functions: the input is {"args":[...],"bytesArgs":[...]} or an array of args');
    }
    const done = (v) => {
      if (v instanceof Uint8Array) return v;
      if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return new Uint8Array(toBytes(v));
      throw TypeError('a Chainlink Functions source must return bytes (Functions.encodeUint256, ' +
        'encodeInt256, encodeString or a Uint8Array); it returned ' + (v === null ? 'null' : typeof v));
    };
    return { args: args.slice(), bytesArgs: bytesArgs.slice(), secrets: ctx.secrets, Functions, done };
  }

  // phx.ai.chat: inference on an attested endpoint, answered by the worker
  // (docs/js.md). The result carries the endpoint's signed receipt.
  const ai = {
    async chat(o) {
      if (o === null || typeof o !== 'object') throw new TypeError('phx.ai.chat wants {model, messages, ...}');
      const spec = { model: o.model, messages: o.messages };
      for (const k of ['max_tokens', 'temperature', 'seed']) if (o[k] !== undefined) spec[k] = o[k];
      return call('ai.chat', spec);
    },
  };
  const phx = { kv, state, crypto: phxCrypto, ai, evm, eth, hex: { encode: hexEncode, decode: hexDecode }, abi,
    utf8: { encode: utf8Encode, decode: utf8Decode }, base64: { encode: b64Encode, decode: b64Decode },
    flavors: Object.freeze({ chainlinkFunctions }) };
  if (nativeCrash) phx.__test = { segfault: nativeCrash, hostCall: (op, args) => call(op, args) };
  def(G, 'phx', phx);

  // ---- pink: Phala Phat JS compatibility ---------------------------------------------
  function pinkReq(req) {
    const spec = { url: String(req.url), method: String(req.method || 'GET').toUpperCase(), headers: headerList(req.headers) };
    if (req.body != null) spec.body = b64Encode(bytesOrHex(req.body));
    else if (req.textBody != null) spec.body = b64Encode(utf8Encode(req.textBody));
    if (req.timeout_ms != null) spec.timeout_ms = Number(req.timeout_ms);
    return spec;
  }
  function pinkResp(r, text) {
    const headers = {};
    for (const [k, v] of r.headers || []) headers[k] = headers[k] === undefined ? v : headers[k] + ', ' + v;
    const body = b64Decode(r.body || '');
    return { statusCode: r.status, reasonPhrase: r.statusText, headers, body: text ? utf8Decode(body) : body };
  }
  const pink = {
    version: '1.2',
    jsCodeHash: '',
    httpRequest(req) { return pinkResp(doFetch(pinkReq(req)), req.returnTextBody); },
    batchHttpRequest(reqs, timeout_ms = 10000) {
      const rs = call('fetch.batch', { requests: reqs.map(pinkReq), timeout_ms: Number(timeout_ms) });
      return rs.map((r, i) => r.error ? { statusCode: 0, reasonPhrase: '', headers: {}, body: reqs[i].returnTextBody ? '' : new Uint8Array(0), error: r.error } : pinkResp(r, reqs[i].returnTextBody));
    },
    hash(alg, msg) { return b64Decode(call('hash', { alg: String(alg), data: b64Encode(toBytes(msg)) }).digest); },
    deriveSecret(salt) { return b64Decode(call('derive', { salt: b64Encode(toBytes(salt)) }).secret); },
  };
  def(G, 'pink', pink);

  return function setup(INPUT, CTXJ) {
    const ctx = JSONparse(CTXJ);
    Object.freeze(ctx.secrets || (ctx.secrets = {}));
    Object.freeze(ctx);
    pink.jsCodeHash = ctx.codeHash;
    // Phat's calling form: scriptArgs = [request, secrets]; request is the input
    // (a string as is, anything else as JSON), secrets a string: the secret named
    // "secrets" if given, else all secrets as a JSON object.
    const input = JSONparse(INPUT);
    const request = typeof input === 'string' ? input : JSONstringify(input);
    const secretsArg = typeof ctx.secrets.secrets === 'string' ? ctx.secrets.secrets : JSONstringify(ctx.secrets);
    def(G, 'scriptArgs', [request, secretsArg]);

    // The "no entry point" answer is an object only the engine can recognise
    // (it reads invoke.noEntry), so no return value can be mistaken for it.
    const NO_ENTRY = Object.freeze({});
    const invoke = function invoke(ns, isModule) {
      // k-of-n (docs/worker.md): how observations combine, and the reducer.
      if (ctx.phase === 'combine') return isModule && ns.combine !== undefined ? ns.combine : 'identical';
      if (ctx.phase === 'aggregate') {
        if (!isModule || typeof ns.aggregate !== 'function') throw new TypeError('the contract exports no aggregate(observations)');
        return ns.aggregate(input, ctx);
      }
      if (isModule) {
        // Phat's starter kit: `export default function main(request, secrets)`.
        if (typeof ns.default === 'function' && ns.default.name === 'main') return ns.default(request, secretsArg);
        if (typeof ns.default === 'function') return ns.default(input, ctx);
        if (typeof ns.main === 'function') return ns.main(request, secretsArg);
        return NO_ENTRY;
      }
      if (typeof G.main === 'function') return G.main(request, secretsArg);
      if (G.scriptOutput !== undefined) return G.scriptOutput;
      if (ns !== undefined) return ns;
      return NO_ENTRY;
    };
    def(invoke, 'noEntry', NO_ENTRY);
    def(invoke, 'tick', tick);
    return invoke;
  };
})();
