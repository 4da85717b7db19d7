#!/usr/bin/env node
// Make a tiny GGUF test model: the real tokenizer and chat template of a
// llama.cpp vocabulary file (the pinned release's models/ggml-vocab-qwen2.gguf)
// plus small random weights for a 2-layer qwen2 network. Its words are noise;
// it exists so that `phx infer` can be tested end to end here, where no model
// can be downloaded. Our own writer because gguf-py wants numpy >= 2 and
// Debian has 1.24. The file is made at test/demo time and never committed.
//
// usage: make_model.js VOCAB.gguf OUT.gguf [--seed N] [--embd N] [--layers N] [--ff N]
// The defaults (64 wide, 2 layers) make the ~40 MB test model; bench/ai asks
// for a wider, deeper one so that decoding, not HTTP, dominates its numbers.
'use strict';
const fs = require('fs');

const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STR: 8, ARR: 9,
            U64: 10, I64: 11, F64: 12 };
const SCALAR = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

function die(msg) {
    process.stderr.write(`make_model: ${msg}\n`);
    process.exit(2);
}

// Skip one value of type t at off; return the offset after it.
function skipValue(buf, off, t) {
    if (SCALAR[t] !== undefined) return off + SCALAR[t];
    if (t === T.STR) return off + 8 + Number(buf.readBigUInt64LE(off));
    if (t === T.ARR) {
        const et = buf.readUInt32LE(off);
        const n = Number(buf.readBigUInt64LE(off + 4));
        off += 12;
        if (SCALAR[et] !== undefined) return off + n * SCALAR[et];
        for (let i = 0; i < n; i++) off = skipValue(buf, off, et);
        return off;
    }
    die(`unknown GGUF value type ${t}`);
}

// Read the vocabulary file's key/value pairs as raw encoded entries.
function readKvs(path) {
    const buf = fs.readFileSync(path);
    if (buf.length < 24 || buf.readUInt32LE(0) !== GGUF_MAGIC) die(`${path}: not a GGUF file`);
    const version = buf.readUInt32LE(4);
    if (version < 2) die(`${path}: GGUF version ${version} unsupported`);
    const nkv = Number(buf.readBigUInt64LE(16));
    let off = 24;
    const kvs = new Map();
    for (let i = 0; i < nkv; i++) {
        const start = off;
        const klen = Number(buf.readBigUInt64LE(off));
        const key = buf.subarray(off + 8, off + 8 + klen).toString('utf8');
        off += 8 + klen;
        const t = buf.readUInt32LE(off);
        off = skipValue(buf, off + 4, t);
        kvs.set(key, buf.subarray(start, off));
    }
    return kvs;
}

function str(s) {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(b.length));
    return Buffer.concat([len, b]);
}

function kv(key, type, value) {
    let v;
    if (type === T.STR) v = str(value);
    else if (type === T.U32) { v = Buffer.alloc(4); v.writeUInt32LE(value); }
    else if (type === T.F32) { v = Buffer.alloc(4); v.writeFloatLE(value); }
    else die(`kv type ${type}`);
    const t = Buffer.alloc(4);
    t.writeUInt32LE(type);
    return Buffer.concat([str(key), t, v]);
}

// xorshift32: deterministic weights for a given seed, so a model made twice is
// the same file (same SHA-256) and differential runs are reproducible.
function rng(seed) {
    let s = (seed >>> 0) || 0x9e3779b9;
    return () => {
        s ^= s << 13; s >>>= 0;
        s ^= s >>> 17;
        s ^= s << 5; s >>>= 0;
        return s / 4294967296;
    };
}

function main() {
    const args = process.argv.slice(2);
    let seed = 1;
    const dim = { embd: 64, layers: 2, ff: 128 };
    const pos = [];
    for (let i = 0; i < args.length; i++) {
        if (args[i] === '--seed') seed = Number(args[++i]);
        else if (args[i].startsWith('--') && args[i].slice(2) in dim) dim[args[i].slice(2)] = Number(args[++i]);
        else pos.push(args[i]);
    }
    const dimsOk = Object.values(dim).every(v => Number.isInteger(v) && v > 0 && v <= 8192) && dim.embd % 16 === 0;
    if (pos.length !== 2 || !Number.isInteger(seed) || !dimsOk)
        die('usage: make_model.js VOCAB.gguf OUT.gguf [--seed N] [--embd N (a multiple of 16)] [--layers N] [--ff N]');
    const [vocabPath, outPath] = pos;
    const kvs = readKvs(vocabPath);
    const tokens = kvs.get('tokenizer.ggml.tokens');
    if (!tokens) die(`${vocabPath}: no tokenizer.ggml.tokens`);
    // tokens entry: key, type(4)=ARR, elem type(4), count(8)
    const klen = Number(tokens.readBigUInt64LE(0));
    const nVocab = Number(tokens.readBigUInt64LE(8 + klen + 8));

    const arch = 'qwen2';
    const nEmbd = dim.embd, nHead = 4, nHeadKv = 2, nFf = dim.ff, nLayer = dim.layers, nCtx = 4096;
    const headDim = nEmbd / nHead;
    const nEmbdGqa = headDim * nHeadKv;

    const out = [];
    const keep = [];
    for (const [k, raw] of kvs) {
        if (k.startsWith('general.') || k.startsWith(`${arch}.`)) continue;
        keep.push(raw);
    }
    out.push(kv('general.architecture', T.STR, arch));
    out.push(kv('general.name', T.STR, 'phx-test-noise (random weights, real qwen2 tokenizer)'));
    out.push(kv('general.alignment', T.U32, 32));
    out.push(kv(`${arch}.block_count`, T.U32, nLayer));
    out.push(kv(`${arch}.context_length`, T.U32, nCtx));
    out.push(kv(`${arch}.embedding_length`, T.U32, nEmbd));
    out.push(kv(`${arch}.feed_forward_length`, T.U32, nFf));
    out.push(kv(`${arch}.attention.head_count`, T.U32, nHead));
    out.push(kv(`${arch}.attention.head_count_kv`, T.U32, nHeadKv));
    out.push(kv(`${arch}.rope.freq_base`, T.F32, 1000000.0));
    out.push(kv(`${arch}.attention.layer_norm_rms_epsilon`, T.F32, 1e-6));
    out.push(...keep);

    // Tensors, all F32. dims are GGUF order (ne0 first), as llama.cpp asks.
    const tensors = [
        ['token_embd.weight', [nEmbd, nVocab], 'w'],
        ['output_norm.weight', [nEmbd], 'one'],
    ];
    for (let i = 0; i < nLayer; i++) {
        tensors.push([`blk.${i}.attn_norm.weight`, [nEmbd], 'one']);
        tensors.push([`blk.${i}.attn_q.weight`, [nEmbd, nEmbd], 'w']);
        tensors.push([`blk.${i}.attn_k.weight`, [nEmbd, nEmbdGqa], 'w']);
        tensors.push([`blk.${i}.attn_v.weight`, [nEmbd, nEmbdGqa], 'w']);
        tensors.push([`blk.${i}.attn_output.weight`, [nEmbd, nEmbd], 'w']);
        tensors.push([`blk.${i}.ffn_norm.weight`, [nEmbd], 'one']);
        tensors.push([`blk.${i}.ffn_gate.weight`, [nEmbd, nFf], 'w']);
        tensors.push([`blk.${i}.ffn_down.weight`, [nFf, nEmbd], 'w']);
        tensors.push([`blk.${i}.ffn_up.weight`, [nEmbd, nFf], 'w']);
    }
    const align = 32;
    const infos = [];
    let dataOff = 0;
    for (const [name, dims] of tensors) {
        const n = dims.reduce((a, b) => a * b, 1);
        const h = Buffer.alloc(4 + 8 * dims.length + 4 + 8);
        let o = 0;
        h.writeUInt32LE(dims.length, o); o += 4;
        for (const d of dims) { h.writeBigUInt64LE(BigInt(d), o); o += 8; }
        h.writeUInt32LE(0 /* GGML_TYPE_F32 */, o); o += 4;
        h.writeBigUInt64LE(BigInt(dataOff), o);
        infos.push(Buffer.concat([str(name), h]));
        dataOff += Math.ceil((n * 4) / align) * align;
    }
    const header = Buffer.alloc(24);
    header.writeUInt32LE(GGUF_MAGIC, 0);
    header.writeUInt32LE(3, 4);
    header.writeBigUInt64LE(BigInt(tensors.length), 8);
    header.writeBigUInt64LE(BigInt(out.length), 16);
    let meta = Buffer.concat([header, ...out, ...infos]);
    const pad = (align - (meta.length % align)) % align;
    meta = Buffer.concat([meta, Buffer.alloc(pad)]);

    const fd = fs.openSync(outPath, 'w', 0o644);
    fs.writeSync(fd, meta);
    const r = rng(seed);
    for (const [, dims, kind] of tensors) {
        const n = dims.reduce((a, b) => a * b, 1);
        const bytes = Math.ceil((n * 4) / align) * align;
        const b = Buffer.alloc(bytes);
        for (let i = 0; i < n; i++) {
            // Uniform in [-0.1, 0.1): big enough that the argmax varies by context.
            b.writeFloatLE(kind === 'one' ? 1.0 : (r() - 0.5) * 0.2, i * 4);
        }
        fs.writeSync(fd, b);
    }
    fs.closeSync(fd);
}

main();
