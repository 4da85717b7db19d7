#!/bin/sh
# Issue 14's must-show on a devnet: `phx devnet --infer-model` starts one
# attested inference endpoint (the tiny noise model, made here) beside one
# worker; a contract that calls phx.ai.chat serves a direct call and an
# on-chain request (Jobs, fulfilled by the worker); `phx verify` checks the
# contract's signed result and `phx infer verify --receipt` the inference
# receipt inside it, and a tampered receipt fails with the broken link named.
# The endpoint registers in the InferenceRegistry and the worker routes to it
# from the chain (no configured route); a receipt of an unregistered endpoint,
# or of one registered with another model hash, fails at the chain link, and
# the worker refuses an endpoint whose on-chain record differs from its live
# attestation.
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
src=${PHX_SOURCE_DIR:?PHX_SOURCE_DIR not set}
vocab=${PHX_LLAMA_VOCAB:?PHX_LLAMA_VOCAB not set}
skip_without_worker
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-e2e-ai-XXXXXX")
pid=""
ipid=""
trap '[ -n "$ipid" ] && kill $ipid 2>/dev/null && wait $ipid; [ -n "$pid" ] && kill $pid 2>/dev/null && wait $pid; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"
mkdir -p "$PHX_HOME"
node "$src/tests/infer/make_model.js" "$vocab" "$PHX_HOME/tiny.gguf"
check "the tiny noise model is made" 0 $?

# The on-chain verbs refuse bad usage before touching a chain (exit 2).
PHX=$phx
expect_error 2 "needs --url URL" -- infer register
expect_error 2 "wants http" -- infer register --url ftp://x
expect_error 2 "needs one endpoint ADDRESS" -- infer deregister
expect_error 2 "go with --register" -- infer --model "$PHX_HOME/tiny.gguf" --rpc http://127.0.0.1:1
expect_error 2 "go together" -- infer verify --receipt "$PHX_HOME/tiny.gguf" --rpc http://127.0.0.1:1

if ! devnet_start "$tmp/ep.json" "$tmp/devnet.log" --dir "$PHX_HOME" --workers 1 \
    --infer-model "$PHX_HOME/tiny.gguf"; then
    # Every later step needs the network: stop here, with the reason.
    echo "FAIL the devnet did not start within devnet_start's wait; its log:"
    tail -5 "$tmp/devnet.log"
    exit 1
fi
check "devnet with an inference endpoint" tiny "$(json "$tmp/ep.json" "['infer']['model']" 2>/dev/null)"
sim=$(json "$tmp/ep.json" "['sim_dir']")
ready_workers() { "$phx" workers --json | python3 -c 'import json,sys; print(sum(1 for w in json.load(sys.stdin)["workers"] if w["healthy"] and w["registered"]))' 2>/dev/null; }
one_ready() { [ "$(ready_workers)" = 1 ]; }
wait_until 1200 one_ready

cat >"$tmp/ask.js" <<'JS'
export default async (input) => {
  const r = await phx.ai.chat({ model: 'tiny', max_tokens: 12, temperature: 0, seed: 1,
                                messages: [{ role: 'user', content: input.question }] });
  return { question: input.question, answer: r.text, receipt: r.receipt };
};
JS
"$phx" deploy "$tmp/ask.js" --json >"$tmp/d.json"
check "deploy the AI contract" 0 $?
id=$(json "$tmp/d.json" "['id']")

"$phx" call "$id" --input '{"question":"What is a lighthouse?"}' --json >"$tmp/r.json"
check "a direct call answers" 0 $?
check "the receipt names the endpoint" "$(json "$tmp/ep.json" "['infer']['address']")" \
    "$(json "$tmp/r.json" "['output']['receipt']['signing_address']")"
"$phx" verify "$tmp/r.json" --trust-sim-root "$sim" >"$tmp/v.out"
check "phx verify: the contract's signed result and the receipt in it" 0 $?
check "phx verify checked the inference receipt" 1 "$(grep -c '^ok  *inference receipt' "$tmp/v.out")"
"$phx" infer verify --receipt "$tmp/r.json" --trust-sim-root "$sim" --model "$PHX_HOME/tiny.gguf" >/dev/null
check "phx infer verify: the inference receipt inside it" 0 $?
python3 - "$tmp/r.json" "$tmp/bad.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r = d["output"]["receipt"]
r["response"] = r["response"].replace('"ciphertext":"0x', '"ciphertext":"0x00', 1)
json.dump(d, open(sys.argv[2], "w"))
PY
"$phx" infer verify --receipt "$tmp/bad.json" --trust-sim-root "$sim" >/dev/null 2>"$tmp/bad.err"
check "a tampered receipt fails" 1 $?
check "naming the signed-text link" 1 "$(grep -c 'signed text' "$tmp/bad.err")"

# A contract that forges the answer in its receipt: the worker signs what the
# contract returned (its chain of trust holds), but the receipt does not.
cat >"$tmp/liar.js" <<'JS'
export default async () => {
  const r = await phx.ai.chat({ model: 'tiny', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] });
  r.receipt.response = r.receipt.response.replace('"ciphertext":"0x', '"ciphertext":"0x00');
  return { answer: 'forged', receipt: r.receipt };
};
JS
"$phx" deploy "$tmp/liar.js" --json >"$tmp/dl.json"
check "deploy the forging contract" 0 $?
"$phx" call "$(json "$tmp/dl.json" "['id']")" --json >"$tmp/liar.json"
check "its call is signed by the worker" 0 $?
"$phx" verify "$tmp/liar.json" --trust-sim-root "$sim" >"$tmp/vl.out"
check "phx verify: a forged receipt makes the result invalid" 1 $?
check "naming the receipt's signed-text link" 1 "$(grep -c '^FAIL  *inference receipt: the signed text' "$tmp/vl.out")"

# On chain: Jobs.request from the devnet's user; the worker runs the contract,
# which asks the endpoint, and fulfils with its signature (checked by Jobs).
"$phx" request "$id" --input '{"question":"Who keeps the light?"}' --fee 10000000000000000000 \
    --json >"$tmp/rq.json" 2>"$tmp/rq.err"
check "the on-chain request is fulfilled" fulfilled "$(json "$tmp/rq.json" "['status']" 2>/dev/null)"
python3 -c "import json,sys; print(bytes.fromhex(json.load(open(sys.argv[1]))['output'][2:]).decode())" \
    "$tmp/rq.json" >"$tmp/onchain.json"
check "its output carries the question" "Who keeps the light?" "$(json "$tmp/onchain.json" "['question']")"
"$phx" infer verify --receipt "$tmp/onchain.json" --trust-sim-root "$sim" --model "$PHX_HOME/tiny.gguf" >/dev/null
check "phx infer verify: the receipt in the on-chain output" 0 $?

# The chain link (issue 14): the devnet's endpoint is registered, so the
# receipt checks out against the chain too.
reg=$(json "$tmp/ep.json" "['deployment']['contracts']['InferenceRegistry']")
addr=$(json "$tmp/ep.json" "['infer']['address']")
"$phx" infer verify --receipt "$tmp/r.json" --trust-sim-root "$sim" --endpoints "$tmp/ep.json" >"$tmp/iv.out"
check "phx infer verify --endpoints: the endpoint is registered on chain" 0 $?
check "saying so" 1 "$(grep -c 'registered on chain' "$tmp/iv.out")"

# A second endpoint, attested but never registered: its receipt holds every
# link but the chain's.
"$phx" infer --model "$PHX_HOME/tiny.gguf" --model-name tiny --listen 127.0.0.1:0 \
    --sim-dir "$sim" --json >"$tmp/i2.json" 2>"$tmp/i2.log" &
ipid=$!
has_url() { [ -n "$(json "$tmp/i2.json" "['url']" 2>/dev/null)" ]; }
wait_until 600 has_url
url2=$(json "$tmp/i2.json" "['url']")
python3 - "$url2" "$tmp/r2.json" <<'PY'
import json, sys, urllib.request
url, out = sys.argv[1], sys.argv[2]
body = json.dumps({"model": "tiny", "max_tokens": 4, "temperature": 0,
                   "messages": [{"role": "user", "content": "hi"}]}, separators=(",", ":"))
resp = urllib.request.urlopen(urllib.request.Request(url + "/v1/chat/completions", body.encode(),
                              {"Content-Type": "application/json"})).read().decode()
get = lambda p: json.load(urllib.request.urlopen(url + p))
sig = get("/v1/signature/%s?model=tiny&signing_algo=ecdsa" % json.loads(resp)["id"])
sig.update(request=body, response=resp, report=get("/v1/attestation/report?signing_algo=ecdsa"))
json.dump(sig, open(out, "w"))
PY
check "a receipt from the unregistered endpoint" 0 $?
"$phx" infer verify --receipt "$tmp/r2.json" --trust-sim-root "$sim" >/dev/null
check "is signed and attested" 0 $?
"$phx" infer verify --receipt "$tmp/r2.json" --trust-sim-root "$sim" --endpoints "$tmp/ep.json" 2>"$tmp/r2.err"
check "but fails the chain link" 1 $?
check "named: not in the InferenceRegistry" 1 "$(grep -c 'registered on chain: endpoint key .* is not in the InferenceRegistry' "$tmp/r2.err")"

# Registered with another model hash (a record forged with the sim platform's
# key, which only a development root allows): its receipts fail, and the
# worker, which tries the newest registration first, refuses it and answers
# from the honest endpoint.
addr2=$(json "$tmp/i2.json" "['address']")
x2=$(json "$tmp/r2.json" "['report']['e2ee_public_key']")
node "$src/tests/infer/forge_endpoint.js" "$(json "$tmp/ep.json" "['rpc']")" "$reg" "$PHX_HOME/user.key" \
    "$phx" "$sim" "$addr2" "$(json "$tmp/i2.json" "['ed25519_public_key']")" "$x2" \
    "$(printf 'other weights' | sha256sum | cut -c1-64)" tiny "$url2" >/dev/null
check "a record with another model hash is on chain" 0 $?
"$phx" infer verify --receipt "$tmp/r2.json" --trust-sim-root "$sim" --endpoints "$tmp/ep.json" 2>"$tmp/r3.err"
check "its receipt fails the chain link" 1 $?
check "named: another model hash" 1 "$(grep -c 'registered on chain: .* another model hash' "$tmp/r3.err")"
"$phx" call "$id" --input '{"question":"Which endpoint?"}' --json >"$tmp/r4.json"
check "the worker refuses it and routes to the registered one" "$addr" \
    "$(json "$tmp/r4.json" "['output']['receipt']['signing_address']" 2>/dev/null)"
"$phx" infer deregister "$addr" --key-file "$PHX_HOME/infer/operator.key" >/dev/null
check "the honest endpoint deregisters" 0 $?
"$phx" call "$id" --input '{"question":"And now?"}' --json >"$tmp/r5.json" 2>"$tmp/r5.err"
check "with only the mismatched record left, phx.ai.chat is refused" 1 \
    "$(grep -c 'registered on chain: .*another model hash' "$tmp/r5.json")"
kill $ipid; wait $ipid
ipid=""

kill -TERM $pid; wait $pid; check "devnet stops cleanly" 0 $?
pid=""
finish
