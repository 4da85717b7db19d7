#!/bin/sh
# Every example used the way an attacker would (issue 10 item 7), against real
# local servers and a real anvil:
#   - examples/oracle/price_oracle.js fetches only its fixed SOURCE: an input
#     naming another URL reaches nobody else; ABI-encoded input works; a pair
#     that tries to bend the URL is refused;
#   - examples/secret-api/weather.js sends its bearer secret only to its fixed
#     API, whatever URL the input names;
#   - examples/oracle/PriceConsumer.sol: the caller pays (no approval, no
#     request; the contract keeps no PHA), the pair is checked and goes to
#     Jobs ABI-encoded, and only Jobs may call back, only for its requests.
# The fixed hosts are pointed at a local stand-in API by editing the one
# SOURCE/API line, as the examples' comments say to. The "attacker" is a second
# local server that logs any request reaching it.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../support/anvil.sh"
. "$(dirname "$0")/../support/synthetic_worker.sh"
phx=${PHX_BIN:?PHX_BIN not set}
src=${PHX_SOURCE_DIR:?PHX_SOURCE_DIR not set}
nm=${PHX_NODE_MODULES:-$src/node_modules}
# The native cast: the npm wrapper exits 0 even when a transaction reverts.
cast=$nm/@foundry-rs/cast-linux-amd64/bin/cast
[ -x "$cast" ] || cast=$nm/.bin/cast
if ! "$phx" run --help >/dev/null 2>&1; then
    echo "SKIP: this phx has no \`run\` verb (no JS sandbox in this build)"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-examples-XXXXXX")
pids=""
trap 'anvil_stop; for p in $pids; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT

# A local HTTP server logging "PATH<TAB>AUTHORIZATION" per request; prints its port.
serve() { # serve NAME
    python3 -c '
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
log = sys.argv[1]
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        with open(log, "a") as f:
            f.write(self.path + "\t" + (self.headers.get("Authorization") or "") + "\n")
        if self.path.startswith("/weather"):
            b = {"temperature_c": 21.5, "conditions": "sunny"}
        else:
            b = {"price": 3120.55}
        b = json.dumps(b).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
s = HTTPServer(("127.0.0.1", 0), H); print(s.server_address[1], flush=True); s.serve_forever()
' "$tmp/$1.log" >"$tmp/$1.port" &
    pids="$pids $!"
    wait_file "$tmp/$1.port" 600
    : >>"$tmp/$1.log"
}
serve api
serve attacker
api=$(cat "$tmp/api.port")
att=$(cat "$tmp/attacker.port")
[ -n "$api" ] && [ -n "$att" ] || { echo "FAIL local servers did not start"; exit 1; }
allow="--allow-host 127.0.0.1:$api --allow-host 127.0.0.1:$att"

# ---- the price oracle ----------------------------------------------------------
sed "s#^const SOURCE = .*#const SOURCE = \"http://127.0.0.1:$api/price/{pair}/spot\";#" \
    "$src/examples/oracle/price_oracle.js" >"$tmp/oracle.js"
check "price_oracle.js has one SOURCE line to point elsewhere" 1 "$(grep -c "127.0.0.1:$api" "$tmp/oracle.js")"
# shellcheck disable=SC2086
"$phx" run "$tmp/oracle.js" --input '{"pair":"ETH/USD"}' $allow --kv "$tmp/kv" --json >"$tmp/o1.json" 2>"$tmp/o1.err"
check "oracle: a price from its source" 3120.55 "$(json "$tmp/o1.json" "['output']['price']" 2>/dev/null)"
check "oracle: asked the source for ETH-USD" 1 "$(grep -c '^/price/ETH-USD/spot' "$tmp/api.log")"
# shellcheck disable=SC2086
"$phx" run "$tmp/oracle.js" --input "{\"pair\":\"ETH/USD\",\"url\":\"http://127.0.0.1:$att/fake-price\"}" \
    $allow --kv "$tmp/kv" --json >"$tmp/o2.json" 2>"$tmp/o2.err"
check "oracle: an input naming another URL still gets the source's price" 3120.55 \
    "$(json "$tmp/o2.json" "['output']['price']" 2>/dev/null)"
check "oracle: ... and the input's URL is never fetched" 0 "$(wc -l <"$tmp/attacker.log")"
abi=$("$cast" abi-encode "f(string)" "BTC/USD")
# shellcheck disable=SC2086
"$phx" run "$tmp/oracle.js" --input "\"$abi\"" $allow --kv "$tmp/kv" --json >"$tmp/o3.json" 2>"$tmp/o3.err"
check "oracle: ABI-encoded input (as from PriceConsumer) is read" BTC/USD \
    "$(json "$tmp/o3.json" "['output']['pair']" 2>/dev/null)"
for bad in 'ETH/USD/../../admin' 'ETH/USD?x=1' '../x' 'eth/usd'; do
    # shellcheck disable=SC2086
    "$phx" run "$tmp/oracle.js" --input "{\"pair\":\"$bad\"}" $allow --kv "$tmp/kv" --json >"$tmp/o4.json" 2>&1
    check "oracle: pair '$bad' refused (exit 1)" 1 $?
done
check "oracle: the source saw only the two good pairs and ETH-USD twice" 3 "$(wc -l <"$tmp/api.log")"

# ---- the secret API client -------------------------------------------------------
sed "s#^const API = .*#const API = \"http://127.0.0.1:$api/weather\";#" \
    "$src/examples/secret-api/weather.js" >"$tmp/weather.js"
check "weather.js has one API line to point elsewhere" 1 "$(grep -c "127.0.0.1:$api" "$tmp/weather.js")"
secret=sk-examples-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
# shellcheck disable=SC2086
"$phx" run "$tmp/weather.js" --secret "API_KEY=$secret" \
    --input "{\"city\":\"Lisbon\",\"url\":\"http://127.0.0.1:$att/steal\"}" $allow --kv "$tmp/kv" \
    --json >"$tmp/w1.json" 2>"$tmp/w1.err"
check "weather: answered from the fixed API" sunny "$(json "$tmp/w1.json" "['output']['conditions']" 2>/dev/null)"
check "weather: the API got the bearer secret" 1 "$(grep -c "^/weather?city=Lisbon	Bearer $secret\$" "$tmp/api.log")"
check "weather: nothing reached the URL the input named" 0 "$(wc -l <"$tmp/attacker.log")"
check "weather: the secret is not in the output" 0 "$(grep -c "$secret" "$tmp/w1.json")"

# ---- PriceConsumer on a real anvil with the real Jobs -------------------------------
anvil_start "$tmp" || exit 1
rpc=$anvil_rpc
k0=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 # anvil dev keys
k1=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
a1=0x70997970C51812dc3A010C7d01b50e0d17dc79C8
"$phx" chain deploy --rpc "$rpc" --key "${k0#0x}" --out "$tmp/dep.json" --fee 2 --min-stake 0 \
    >/dev/null 2>"$tmp/deploy.err"
check "contracts deployed" 0 $?
jobs=$(json "$tmp/dep.json" "['contracts']['Jobs']")
token=$(json "$tmp/dep.json" "['contracts']['PhxToken']")
# Jobs admits a request only when an eligible worker could serve it: one
# registered worker key (no TEE runs here; nothing fulfils).
k2=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
k3=0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
synthetic_worker "$rpc" "$(json "$tmp/dep.json" "['contracts']['Registry']")" "$k0" "$k2" "$k0" "$k3"
check "a (synthetic) worker registered" 0 $?
send() { "$cast" send --rpc-url "$rpc" "$@" >"$tmp/send.out" 2>&1; }
call() { "$cast" call --rpc-url "$rpc" "$@" | cut -d' ' -f1; }
salt=0x$(printf '%064d' 7)
send --private-key "$k0" "$jobs" "deployContract(bytes32,bytes32,string)" "$salt" 0x$(printf '%064d' 1) "oracle"
oracle=$(call "$jobs" "contractId(address,bytes32)(bytes32)" 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 "$salt")
"$nm/.bin/solcjs" --bin --base-path "$src" "$src/examples/oracle/PriceConsumer.sol" -o "$tmp/sol" >/dev/null 2>&1
bin=$(cat "$tmp/sol"/examples_oracle_PriceConsumer_sol_PriceConsumer.bin 2>/dev/null)
check "PriceConsumer compiles" 1 "$([ -n "$bin" ] && echo 1)"
args=$("$cast" abi-encode "c(address,address,bytes32)" "$jobs" "$token" "$oracle" | cut -c3-)
consumer=$("$cast" send --rpc-url "$rpc" --private-key "$k0" --json --create "0x$bin$args" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["contractAddress"])')
fee=$(call "$jobs" "feePerWorker()(uint256)")
max=10000000000000000000 # 10 PHA
# The consumer holds PHA of its own (someone sent it some): a stranger must not spend it.
send --private-key "$k0" "$token" "transfer(address,uint256)" "$consumer" "$max"
send --private-key "$k0" "$token" "transfer(address,uint256)" "$a1" "$max"
send --private-key "$k1" "$consumer" "requestPrice(string,uint256)" "ETH/USD" "$max"
check "a caller who did not approve PHA cannot request (the contract's PHA is not spent)" 1 $?
check "  the contract still holds its PHA" "$max" "$(call "$token" "balanceOf(address)(uint256)" "$consumer")"
send --private-key "$k1" "$token" "approve(address,uint256)" "$consumer" "$max"
for bad in 'ETH","url":"http://127.0.0.1:1/x' 'ETH/USD"}' 'E/USD' 'ETH/USD/X' ''; do
    send --private-key "$k1" "$consumer" "requestPrice(string,uint256)" "$bad" "$max"
    check "pair '$bad' refused on chain" 1 $?
done
send --private-key "$k1" "$consumer" "requestPrice(string,uint256)" "ETH/USD" "$max"
check "an approved caller requests" 0 $?
tx=$(sed -n 's/^transactionHash *//p' "$tmp/send.out")
check "the caller paid exactly the fee" "$(python3 -c "print($max - $fee)")" \
    "$(call "$token" "balanceOf(address)(uint256)" "$a1")"
check "the contract's own PHA untouched" "$max" "$(call "$token" "balanceOf(address)(uint256)" "$consumer")"
check "no allowance left to Jobs" 0 "$(call "$token" "allowance(address,address)(uint256)" "$consumer" "$jobs")"
# The input Jobs recorded is abi.encode("ETH/USD"), not JSON text.
"$cast" receipt --rpc-url "$rpc" --json "$tx" >"$tmp/receipt.json"
topic=$("$cast" keccak "Requested(uint256,bytes32,address,bytes32,uint256,uint32,uint8,uint64,bytes,uint8)")
input=$(python3 - "$tmp/receipt.json" "$topic" "$jobs" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for l in r["logs"]:
    if l["address"].lower() == sys.argv[3].lower() and l["topics"][0] == sys.argv[2]:
        d = bytes.fromhex(l["data"][2:])
        off = int.from_bytes(d[160:192], "big")
        n = int.from_bytes(d[off:off + 32], "big")
        print("0x" + d[off + 32:off + 32 + n].hex())
PY
)
check "the oracle's input on chain is ABI-encoded" "$("$cast" abi-encode "f(string)" "ETH/USD")" "$input"
rid=$(call "$consumer" "lastRequestId()(uint256)")
send --private-key "$k1" "$consumer" "phxCallback(uint256,bool,bytes)" 1 true 0x7b7d
check "only Jobs may call back" 1 $?
check "  and nothing was stored" 0x "$(call "$consumer" "lastAnswer()(bytes)")"
check "  (no answer yet: lastRequestId 0)" 0 "$rid"

finish
