#!/bin/sh
# The main job (`make run`): bring up a devnet and walk a confidential-oracle
# flow with the binary just built: deploy the price oracle (examples/oracle),
# call it with an encrypted input, verify the signed result, have a consumer
# contract request a price on chain and see the callback; then ask an attested
# AI endpoint from a contract (examples/ai) and verify its signed answer; last,
# the treasury agent (examples/treasury) on the devnet's two chains: one price
# move, its decision (with the AI's answer), its transaction and phx logs. The
# model is a tiny one with random weights made here (its words are noise);
# PHX_DEMO_MODEL=FILE.gguf serves a real one instead. The network is left
# running for the user (PHX_DEMO_KEEP=0 stops it at the end); a second run
# first stops the devnet the previous run left. Usage: scripts/demo.sh [PHX]
set -u
PHX=${1:-build/phx}
root=$(cd "$(dirname "$0")/.." && pwd)
case "$PHX" in /*) ;; *) PHX="$root/$PHX" ;; esac
cast="$root/node_modules/.bin/cast"
export PHX_NODE_MODULES="${PHX_NODE_MODULES:-$root/node_modules}" # where phx devnet finds anvil
export PHX_HOME="${PHX_HOME:-$root/build/devnet}"
mkdir -p "$PHX_HOME"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-demo-XXXXXX")
devnet_pid=""
api_pid=""
stop_all() {
    [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null
    if [ -n "$devnet_pid" ] && [ "${PHX_DEMO_KEEP:-1}" != 1 ]; then
        kill -TERM "$devnet_pid" 2>/dev/null && wait "$devnet_pid" 2>/dev/null
        rm -f "$PHX_HOME/demo.pid"
        echo "devnet stopped (its chain and keys stay in $PHX_HOME; \`$PHX devnet --dir $PHX_HOME\` resumes)."
    fi
    rm -rf "$tmp"
}
trap stop_all EXIT
trap 'exit 130' INT TERM
say() { printf '\n== %s\n' "$*"; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$1" "$2"; }

cat <<'TXT'
Phalanx: confidential compute on TEE workers, settled on an EVM chain.

  1. A KMS in a TEE holds the root secret and releases contract keys only to
     workers whose attestation quote verifies and whose measurement the chain allows.
  2. Workers run JavaScript "TEE contracts" in sandboxed processes, with private
     inputs and secrets, and sign each result with their attested key.
  3. The chain (anvil locally) records workers, escrows PHA fees and checks
     result signatures before paying.
TXT

say "A local price API for the oracle to fetch from (the demo has no internet)"
python3 -c '
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        b = json.dumps({"price": 3120.55}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
s = HTTPServer(("127.0.0.1", 0), H); print(s.server_address[1], flush=True); s.serve_forever()
' >"$tmp/api.port" &
api_pid=$!
for _ in $(seq 1 50); do [ -s "$tmp/api.port" ] && break; sleep 0.1; done
api_port=$(cat "$tmp/api.port")
echo "price API at http://127.0.0.1:$api_port/price"
echo "(contracts may reach exactly 127.0.0.1:$api_port on loopback: the devnet passes"
echo " --allow-host 127.0.0.1:$api_port to its workers; the chain RPC and the KMS stay out)"

say "Starting the devnet in $PHX_HOME: anvil, the contracts, a KMS, 3 workers, a gateway (sim TEE)"
# A devnet left running by an earlier `make run` holds the ports and the chain
# state file: stop it first (it saves its state and resumes below).
if [ -f "$PHX_HOME/demo.pid" ]; then
    old_pid=$(cat "$PHX_HOME/demo.pid")
    if kill -0 "$old_pid" 2>/dev/null; then
        echo "stopping the devnet an earlier run left running (pid $old_pid)"
        kill -TERM "$old_pid" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$old_pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$PHX_HOME/demo.pid"
fi
# Sealed keys are bound to the measurement, which the sim TEE computes from the
# phx binary: after a rebuild, the previous devnet's KMS root and worker
# identities cannot be unsealed (as on a real TEE). Keep that devnet aside and
# start a fresh one.
binary_hash=$(sha256sum "$PHX" | cut -d' ' -f1)
if [ -s "$PHX_HOME/.phx-binary" ] && [ "$(cat "$PHX_HOME/.phx-binary")" != "$binary_hash" ]; then
    echo "phx was rebuilt, so its measurement changed and the previous devnet's sealed keys"
    echo "cannot be opened (as on a real TEE); moving it to $PHX_HOME.prev and starting afresh"
    rm -rf "$PHX_HOME.prev"
    mv "$PHX_HOME" "$PHX_HOME.prev"
    mkdir -p "$PHX_HOME"
fi
echo "$binary_hash" >"$PHX_HOME/.phx-binary"
rm -f "$PHX_HOME/endpoints.json"
# The AI endpoint's model: PHX_DEMO_MODEL, else the tiny noise model, made once
# in the devnet's directory from the pinned llama.cpp release's real Qwen2
# tokenizer (no model can be downloaded here).
set --
ai_model=""
if "$PHX" infer --help >/dev/null 2>&1; then
    if [ -n "${PHX_DEMO_MODEL:-}" ]; then
        ai_model=$PHX_DEMO_MODEL
        ai_name=local
    else
        ai_model="$PHX_HOME/tiny.gguf"
        ai_name=tiny
        vocab="$(dirname "$PHX")/llama-release/models/ggml-vocab-qwen2.gguf"
        if [ ! -s "$ai_model" ] && ! node "$root/tests/infer/make_model.js" "$vocab" "$ai_model"; then
            echo "(could not make the tiny model from $vocab: no AI endpoint in this demo)"
            ai_model=""
        fi
    fi
    [ -n "$ai_model" ] && set -- --infer-model "$ai_model" --infer-name "$ai_name"
fi
"$PHX" devnet --dir "$PHX_HOME" --chains 2 --allow-host "127.0.0.1:$api_port" "$@" >"$PHX_HOME/devnet.out" 2>"$PHX_HOME/devnet.log" &
devnet_pid=$!
echo "$devnet_pid" >"$PHX_HOME/demo.pid"
for _ in $(seq 1 900); do
    [ -s "$PHX_HOME/endpoints.json" ] && grep -q "Ctrl-C" "$PHX_HOME/devnet.out" 2>/dev/null && break
    kill -0 "$devnet_pid" 2>/dev/null || break
    sleep 0.1
done
if ! kill -0 "$devnet_pid" 2>/dev/null; then
    echo "the devnet did not start; its log:"
    tail -5 "$PHX_HOME/devnet.log"
    devnet_pid=""
    exit 1
fi
cat "$PHX_HOME/devnet.out"
echo "console (web): $(json "$PHX_HOME/endpoints.json" "['gateway']")/"
ep="$PHX_HOME/endpoints.json"
rpc=$(json "$ep" "['rpc']")
jobs=$(json "$ep" "['deployment']['contracts']['Jobs']")
token=$(json "$ep" "['deployment']['contracts']['PhxToken']")
user_key=$(cat "$(json "$ep" "['user']['key_file']")")

say "The workers the gateway routes to (each registered on chain with an attested quote)"
"$PHX" workers
if [ "$(json "$ep" "['workers'].__len__()")" = 0 ]; then
    echo
    echo "This build has no \`phx worker\` yet, so there is nobody to run a contract."
    echo "The chain, the KMS and the gateway are up; the flow stops here."
    exit 0
fi


say "Deploying examples/oracle/price_oracle.js (code hash recorded on chain)"
# The oracle's price source is fixed in its code (so the code hash pins it):
# point its one SOURCE line at the local API, as a real deployment names its API.
sed "s#^const SOURCE = .*#const SOURCE = \"http://127.0.0.1:$api_port/price/{pair}/spot\";#" \
    "$root/examples/oracle/price_oracle.js" >"$tmp/price_oracle.js"
grep '^const SOURCE' "$tmp/price_oracle.js"
"$PHX" deploy "$tmp/price_oracle.js" --json >"$tmp/deploy.json" || exit 1
id=$(json "$tmp/deploy.json" "['id']")
echo "contract id $id"
echo "code hash   $(json "$tmp/deploy.json" "['code_hash']")"

say "Calling it with an encrypted input (sealed to the contract's KMS-signed key)"
"$PHX" call "$id" --input '{"pair":"ETH/USD"}' --encrypt --json >"$tmp/result.json" || exit 1
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('answer   ', json.dumps(d.get('output_plain', d.get('output')))); print('signed by', d['worker'])" "$tmp/result.json"

say "Verifying the result: signature -> worker registered -> quote -> measurement allowed -> its KMS admitted with a verified quote"
"$PHX" verify "$tmp/result.json" --trust-sim-root "$(json "$ep" "['sim_dir']")" || exit 1
# The same result for the console's Verify page, which checks it in the browser.
cp "$tmp/result.json" "$PHX_HOME/demo-result.json"

say "On chain: a consumer contract asks for a price; a worker fulfils it"
solc_out="$tmp/sol"
if "$root/node_modules/.bin/solcjs" --bin --base-path "$root" "$root/examples/oracle/PriceConsumer.sol" -o "$solc_out" >/dev/null 2>&1; then
    bin=$(cat "$solc_out"/examples_oracle_PriceConsumer_sol_PriceConsumer.bin)
    args=$("$cast" abi-encode "c(address,address,bytes32)" "$jobs" "$token" "$id" | cut -c3-)
    consumer=$("$cast" send --rpc-url "$rpc" --private-key "$user_key" --json --create "0x$bin$args" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["contractAddress"])')
    echo "PriceConsumer at $consumer"
    # The caller pays: approve the consumer for at most 10 PHA; it passes the
    # fee to Jobs, hands back the rest and keeps none. The pair goes ABI-encoded.
    "$cast" send --rpc-url "$rpc" --private-key "$user_key" "$token" "approve(address,uint256)" "$consumer" 10000000000000000000 >/dev/null
    "$cast" send --rpc-url "$rpc" --private-key "$user_key" "$consumer" "requestPrice(string,uint256)" "ETH/USD" 10000000000000000000 >/dev/null
    echo "request sent; waiting for a worker to fulfil it"
    for _ in $(seq 1 60); do
        answer=$("$cast" call --rpc-url "$rpc" "$consumer" "lastAnswer()(bytes)")
        [ "$answer" != "0x" ] && break
        sleep 1
    done
    if [ "$answer" != "0x" ]; then
        echo "callback seen: PriceConsumer.lastAnswer = $("$cast" to-ascii "$answer")"
    else
        echo "no callback within 60 s; see $PHX_HOME/logs/worker-*.log"
    fi
else
    echo "(solcjs could not compile PriceConsumer.sol; skipping the on-chain part)"
fi

say "Staking: the fees went to the operators' pools (commission, then delegators pro rata)"
# The pool of the operator whose worker served the request: the one with fees.
shown=""
for op in $(python3 -c "import json,sys; print(' '.join(sorted({w['operator'] for w in json.load(open(sys.argv[1]))['workers']})))" "$ep"); do
    f=$("$PHX" stake pool info "$op" --json 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['uncollected_fees'])" 2>/dev/null)
    case "$f" in "" | 0 | 0.0) continue ;; esac
    "$PHX" stake pool info "$op" || true
    shown=1
    break
done
[ -n "$shown" ] || "$PHX" stake pool info "$(json "$ep" "['workers'][0]['operator']")" || true

say "Governance: PHA holders vote, the timelock applies (it owns every admin function)"
# The devnet's governance runs in seconds: voting starts 1 s after the proposal,
# lasts 4 s, and the timelock holds a passed change 2 s. The deployer holds
# most PHA and delegated its votes to itself at start.
gov_key="$tmp/gov.key"
printf '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\n' >"$gov_key"
reg=$(json "$ep" "['deployment']['contracts']['Registry']")
echo "Registry.minStake now: $("$cast" call --rpc-url "$rpc" "$reg" 'minStake()(uint256)' | cut -d' ' -f1) wei"
pr=$("$PHX" gov propose --target Registry --call 'setMinStake(uint256)' --args '["500000000000000000000"]' \
    --description "demo: minimum stake 500 PHA per worker" --key-file "$gov_key") || pr=""
if [ -n "$pr" ]; then
    echo "proposal $pr"
    wait_until() { while [ "$(date +%s)" -le "$1" ]; do sleep 0.3; done; sleep 1; }
    "$PHX" gov status "$pr" --json >"$tmp/gov.json"
    wait_until "$(json "$tmp/gov.json" "['snapshot']")"
    "$PHX" gov vote "$pr" for --key-file "$gov_key"
    wait_until "$(json "$tmp/gov.json" "['deadline']")"
    "$PHX" gov queue "$pr" --key-file "$gov_key" --json >"$tmp/q.json" && echo "queued in the timelock"
    wait_until "$(json "$tmp/q.json" "['eta']")"
    "$PHX" gov execute "$pr"
    "$PHX" gov status "$pr"
    echo "Registry.minStake now: $("$cast" call --rpc-url "$rpc" "$reg" 'minStake()(uint256)' | cut -d' ' -f1) wei"
fi

if [ -n "$ai_model" ]; then
    say "AI for contracts: examples/ai/ask.js asks the devnet's attested model through phx.ai.chat"
    if [ -z "${PHX_DEMO_MODEL:-}" ]; then
        cat <<'TXT'
NOTE: the model here is a tiny network with RANDOM weights and the real Qwen2
tokenizer, made in a second because nothing can be downloaded: its words are
noise. The attestation, the signatures and the checks below are real. For real
answers, serve a real GGUF, e.g. a 0.5B Qwen2.5 instruct Q4_K_M:
    PHX_DEMO_MODEL=/path/to/qwen2.5-0.5b-instruct-q4_k_m.gguf make run
(or `phx infer --model FILE.gguf --register`: workers route to it from the chain).
TXT
    fi
    echo "endpoint $(json "$ep" "['infer']['url']")  model $(json "$ep" "['infer']['model']")  sha256 $(json "$ep" "['infer']['model_sha256']")"
    "$PHX" deploy "$root/examples/ai/ask.js" --json >"$tmp/ai-deploy.json" || exit 1
    ai_id=$(json "$tmp/ai-deploy.json" "['id']")
    "$PHX" call "$ai_id" --input "{\"question\":\"What does a lighthouse keeper do?\",\"model\":\"$ai_name\"}" \
        --json >"$tmp/ai.json" || exit 1
    python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['output']; print('question ', d['question']); print('answer   ', json.dumps(d['answer'])); print('by model ', d['model_sha256'], 'signed by endpoint', d['receipt']['signing_address'])" "$tmp/ai.json"
    say "Verifying it: the contract's result (worker chain of trust), then the inference receipt inside it"
    "$PHX" verify "$tmp/ai.json" --trust-sim-root "$(json "$ep" "['sim_dir']")" || exit 1
    "$PHX" infer verify --receipt "$tmp/ai.json" --trust-sim-root "$(json "$ep" "['sim_dir']")" \
        --model-sha256 "$(json "$ep" "['infer']['model_sha256']")" --endpoints "$ep" || exit 1
    echo "(the receipt: sha256(request):sha256(response) signed by the endpoint's key, which its"
    echo " quote binds with the model's SHA-256 and our nonce; the quote verifies to the sim root;"
    echo " the key is registered in the InferenceRegistry with that model hash, and the worker"
    echo " found the endpoint there)"
    cp "$tmp/ai.json" "$PHX_HOME/demo-ai-result.json"
fi

say "An autonomous agent: examples/treasury acts on two chains by itself (triggers, phx.state, phx.evm)"
# deploy.sh: a PriceFeed and a Vault on chain A ("main"), a Vault on chain B
# ("b"); the agent with a cron trigger and the feed's PriceUpdated event; its
# address funded on both chains; its owner's spending limit on both.
set -- --phx "$PHX" --json
[ -n "$ai_model" ] && set -- "$@" --model "$ai_name"
if "$root/examples/treasury/deploy.sh" "$@" >"$tmp/treasury.json" 2>"$tmp/treasury.err"; then
    tv() { json "$tmp/treasury.json" "['$1']"; }
    t_id=$(tv id)
    echo "agent $t_id, its own address $(tv address) (1 ETH on each chain, limit 0.005 ETH/h on each)"
    echo "feed $(tv feed) on chain A; vaults $(tv vault_a) (A) and $(tv vault_b) (B)"
    echo "triggers: cron @every $(tv every), and PriceUpdated on the feed"
    t_decided() { # t_decided BLOCK: wait until the agent's memory settles the move of that block
        for t_n in $(seq 1 90); do
            "$PHX" call "$t_id" --input "{\"status\":\"$1.$t_n\"}" --json >"$tmp/tmem.json" 2>/dev/null &&
                python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['output']['memory']; sys.exit(not [x for x in d['decisions'] if x['block'] == sys.argv[2] and x['status'] in ('held', 'sent')])" \
                    "$tmp/tmem.json" "$1" && return 0
            sleep 1
        done
        return 1
    }
    t_move() { # t_move PRICE: the feed's owner (the devnet's user) posts it
        "$cast" send --rpc-url "$(tv rpc_a)" --private-key "$user_key" "$(tv feed)" 'setPrice(uint256)' "$1" >/dev/null &&
            "$cast" call --rpc-url "$(tv rpc_a)" "$(tv feed)" 'updatedBlock()(uint256)' | cut -d' ' -f1
    }
    echo "price 3120.55 posted (the first price becomes the agent's reference)"
    t_decided "$(t_move 312055)" || echo "(no decision within 90 s; see $PHX_HOME/logs/worker-*.log)"
    echo "price 3432.61 posted (+10 %): the rule allows 2 steps of 0.001 ETH into the reserve on chain B"
    t_b=$(t_move 343261)
    if t_decided "$t_b"; then
        python3 - "$tmp/tmem.json" "$t_b" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["output"]["memory"]
d = [x for x in m["decisions"] if x["block"] == sys.argv[2]][0]
print("decision  ", d["action"], "(by the %s)" % d["by"], "fired by the", d["trigger"], "trigger")
print("rule      ", d["rule"])
ai = d.get("ai") or {}
if "answer" in ai:
    print("AI answer ", json.dumps(ai["answer"]), "sha256", ai["sha256"], "->", ai["choice"],
          "(anything but REBALANCE or HOLD leaves the rule's decision)" if ai["choice"] == "invalid" else "")
else:
    print("AI        ", ai.get("error", "not asked"))
if d.get("tx"):
    print("tx        ", d["tx"]["hash"], "on chain", d["chain"], "block", d["tx"]["block"], "from", d["tx"]["from"])
print("positions ", "main", m["positions"]["main"], "wei; b", m["positions"]["b"], "wei (in phx.state, the same on every worker)")
PY
        echo "Vault B balance of the agent: $("$cast" call --rpc-url "$(tv rpc_b)" "$(tv vault_b)" 'balanceOf(address)(uint256)' "$(tv address)" | cut -d' ' -f1) wei"
        echo "phx logs $t_id (the firings recorded on chain, each signed, with its reasons):"
        "$PHX" logs "$t_id" | sed -n '/trigger firings/,$p' | grep -v '^    worker'
    else
        echo "(no decision within 90 s; see $PHX_HOME/logs/worker-*.log)"
    fi
else
    echo "(the treasury agent could not be set up: $(cat "$tmp/treasury.err"))"
fi

say "Done"
echo "Recent jobs:"
"$PHX" jobs "$id"
if [ "${PHX_DEMO_KEEP:-1}" = 1 ]; then
    [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null
    trap - EXIT
    rm -rf "$tmp"
    cat <<TXT

The console: $(json "$ep" "['gateway']")/   (network, jobs, attestation of each worker)
  Verify the demo's result in your browser: open $(json "$ep" "['gateway']")/verify, drop
  $PHX_HOME/demo-result.json on it, keep "this devnet's sim TEE root" and press Verify.

The network keeps running (devnet pid $devnet_pid, state in $PHX_HOME). Try:
  export PHX_HOME=$PHX_HOME
  $PHX workers                      # the registered workers
  echo 'export default async (input, ctx) => ({ hello: input.name, from: ctx.contractId })' > hello.js
  $PHX deploy hello.js --json                # prints {"id":...,"code_hash":...}
  $PHX call ID --input '{"name":"you"}' --encrypt --json > result.json
  $PHX verify result.json           # the whole chain of trust
  $PHX jobs ID                      # its calls (signed: you own it) and on-chain requests
  $PHX logs ID                      # its calls with their console output
  $PHX stake pool info --pid 1      # an operator's pool; phx stake delegate 1 100
  $PHX gov status ID                # a proposal; phx gov --help
  $PHX triggers ${t_id:-ID}         # the treasury agent's triggers and firings (examples/treasury)
Stop it with: kill $devnet_pid      (a later 'make run' resumes the same chain and keys)
TXT
fi
