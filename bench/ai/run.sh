#!/bin/sh
# bench/ai: phx infer beside node-llama-cpp on the same GGUF file with the same
# thread count, in one run: generation tokens/s (ratio), the time to first token
# phx infer adds over node-llama-cpp (HTTP, JSON, signing), and the aggregate
# tokens/s of 4 concurrent streams against one (batched decoding). A benchmark:
# it prints, it never fails. Without MODEL it makes a random model with the real
# qwen2 vocabulary (tests/infer/make_model.js), 384 wide and 6 layers deep
# (~270 MB, F32): big enough that decoding, not HTTP, sets the pace, small
# enough to make in seconds. Its words are noise; its arithmetic is real.
# Stable numbers: both sides warmed up, ROUNDS rounds alternating which goes
# first, medians with their spread, the same THREADS for both (default 2).
# Usage: bench/ai/run.sh BUILD_DIR [MODEL.gguf] [TOKENS] [ROUNDS] [THREADS]
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
phx="$build/phx"
[ -x "$phx" ] || phx="$root/$build/phx"
if [ ! -x "$phx" ] || ! "$phx" infer --help >/dev/null 2>&1; then
    echo "bench/ai: $phx has no infer verb (make build with llama.cpp installed)"
    exit 0
fi
export PHX_NODE_MODULES="${PHX_NODE_MODULES:-$root/node_modules}"
vocab=$(ls "$root/$build"/llama-release/models/ggml-vocab-qwen2.gguf "$build"/llama-release/models/ggml-vocab-qwen2.gguf 2>/dev/null | head -1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
model=${2:-}
if [ -z "$model" ]; then
    if [ -z "$vocab" ]; then echo "bench/ai: no vocabulary file in $build/llama-release"; exit 0; fi
    model="$tmp/bench.gguf"
    node "$root/tests/infer/make_model.js" "$vocab" "$model" --embd 384 --layers 6 --ff 1024 || exit 0
fi
PHX_HOME="$tmp" node "$here/bench_ai.mjs" "$phx" "$model" "${3:-128}" "${4:-5}" "${5:-2}" || true
