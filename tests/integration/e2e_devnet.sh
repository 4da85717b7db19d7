#!/bin/sh
# The issue's end-to-end flow on a fresh devnet: deploy with a secret, a plain
# call verified with `phx verify`, an encrypted call whose input and the
# secret never appear in clear in any worker's logs or directory, and an
# on-chain request (PriceConsumer.sol) fulfilled with its callback seen and the
# worker's operator paid. Needs `phx worker` (and the JS sandbox): until the
# binary has that verb this test reports SKIP (exit 77), not a pass.
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
src=${PHX_SOURCE_DIR:?PHX_SOURCE_DIR not set}
nm=${PHX_NODE_MODULES:-$src/node_modules}
cast="$nm/.bin/cast"
skip_without_worker
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-e2e-XXXXXX")
pid=""
api=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; [ -n "$api" ] && kill $api 2>/dev/null; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"

# The price API first: the workers may reach exactly it (--allow-host), and
# nothing else on loopback (not the chain RPC, not the KMS).
python3 -c '
import json
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        b = json.dumps({"price": 3120.55}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
s = HTTPServer(("127.0.0.1", 0), H); print(s.server_address[1], flush=True); s.serve_forever()
' >"$tmp/api.port" &
api=$!
wait_file "$tmp/api.port" 600
api_port=$(cat "$tmp/api.port")
check_nonempty "the local price API is up" "$api_port"
# The oracle's one fixed source, pointed at the local API (examples/oracle).
sed "s#^const SOURCE = .*#const SOURCE = \"http://127.0.0.1:$api_port/price/{pair}/spot\";#" \
    "$src/examples/oracle/price_oracle.js" >"$tmp/price_oracle.js"
devnet_start "$tmp/ep.json" "$tmp/devnet.log" --dir "$PHX_HOME" --workers 3 --allow-host "127.0.0.1:$api_port"
check "devnet with 3 workers" 3 "$(json "$tmp/ep.json" "['workers'].__len__()" 2>/dev/null)"
rpc=$(json "$tmp/ep.json" "['rpc']")
jobs=$(json "$tmp/ep.json" "['deployment']['contracts']['Jobs']")
token=$(json "$tmp/ep.json" "['deployment']['contracts']['PhxToken']")
pool=$(json "$tmp/ep.json" "['deployment']['contracts']['StakePool']")
# What an operator has earned in its pool: claimable rewards (fees owed by Jobs included).
earned() {
    pid=$("$cast" call --rpc-url "$rpc" "$pool" 'poolOf(address)(uint256)' "$1" | cut -d' ' -f1)
    "$cast" call --rpc-url "$rpc" "$pool" 'pendingRewards(uint256,address)(uint256)' "$pid" "$1" | cut -d' ' -f1
}
user_key=$(cat "$(json "$tmp/ep.json" "['user']['key_file']")")
# The gateway marks workers healthy on its next health round: wait for that state.
ready_workers() { "$phx" workers --json | python3 -c 'import json,sys; print(sum(1 for w in json.load(sys.stdin)["workers"] if w["healthy"] and w["registered"]))' 2>/dev/null; }
all_ready() { [ "$(ready_workers)" = 3 ]; }
wait_until 1200 all_ready
check "all three healthy and registered" 3 "$(ready_workers)"


secret=sk-e2e-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
"$phx" deploy "$tmp/price_oracle.js" --secret API_KEY=$secret --json >"$tmp/d.json"
check "deploy" 0 $?
id=$(json "$tmp/d.json" "['id']")

"$phx" call "$id" --input '{"pair":"ETH/USD"}' --json >"$tmp/r1.json"
check "plain call" 0 $?
check "the oracle's price" 3120.55 "$(json "$tmp/r1.json" "['output']['price']")"
"$phx" verify "$tmp/r1.json" --trust-sim-root "$(json "$tmp/ep.json" "['sim_dir']")" >/dev/null
check "phx verify: valid" 0 $?
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d['output_bytes']=d['output_bytes'][:-2]+'00'; d.pop('output',None); json.dump(d,open(sys.argv[2],'w'))" "$tmp/r1.json" "$tmp/bad.json"
"$phx" verify "$tmp/bad.json" --trust-sim-root "$(json "$tmp/ep.json" "['sim_dir']")" >/dev/null 2>&1
check "phx verify: tampered output invalid" 1 $?

# A pair is A-Z0-9 (the oracle checks it): a random one as the private marker.
marker=P$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)/USD
"$phx" call "$id" --input "{\"pair\":\"$marker\"}" --encrypt --json >"$tmp/r2.json"
check "encrypted call" 0 $?
check "its reply opens to the input's pair" "$marker" "$(json "$tmp/r2.json" "['output_plain']['pair']")"
grep -rqa -e "$marker" -e "$secret" "$PHX_HOME"/worker-* "$PHX_HOME"/logs "$PHX_HOME"/gateway
check "input and secret never in clear in worker or gateway logs and disk" 1 $?

# Contract keys come from the KMS: every worker gives the contract the same
# phx.crypto address, and what it puts in kv is sealed on every worker's disk.
cat >"$tmp/keys.js" <<'JS'
export default async (input) => {
  await phx.kv.put('note-' + input.tag, input.tag);
  return { address: await phx.crypto.address(), back: await phx.kv.get('note-' + input.tag) };
};
JS
"$phx" deploy "$tmp/keys.js" --json >"$tmp/dk.json"
check "deploy the keys contract" 0 $?
kid=$(json "$tmp/dk.json" "['id']")
kvmark=KVMARK-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
for i in 1 2 3 4; do
    "$phx" call "$kid" --input "{\"tag\":\"$kvmark\"}" --json >"$tmp/k$i.json" || echo "call $i failed"
done
python3 - "$tmp" "$kvmark" >"$tmp/keys.out" <<'PY'
import json, sys
rs = [json.load(open(f"{sys.argv[1]}/k{i}.json")) for i in (1, 2, 3, 4)]
workers = {r["worker"].lower() for r in rs}
addrs = {r["output"]["address"].lower() for r in rs}
print(len(workers), len(addrs), int(all(r["output"]["back"] == sys.argv[2] for r in rs)),
      int(not (addrs & workers)))
PY
echo "keys contract: $(cat "$tmp/keys.out") (workers, contract addresses, kv read back, address not a worker's)"
check "calls served by more than one worker" 1 "$(python3 -c "print(int($(cut -d' ' -f1 "$tmp/keys.out") >= 2))")"
check "one phx.crypto.address for the contract on every worker" 1 "$(cut -d' ' -f2 "$tmp/keys.out")"
check "kv value read back" 1 "$(cut -d' ' -f3 "$tmp/keys.out")"
check "contract address is not a worker's address" 1 "$(cut -d' ' -f4 "$tmp/keys.out")"
nkv=$(ls "$PHX_HOME"/worker-*/kv/kv-*.sqlite 2>/dev/null | wc -l)
check "kv files on the workers that ran it" 1 "$(python3 -c "print(int($nkv >= 2))")"
n=$(cat "$PHX_HOME"/worker-*/kv/* 2>/dev/null | grep -ac "$kvmark")
check "kv key and value never in clear in any worker's kv files" 0 "$n"
ls "$PHX_HOME"/worker-*/kv/dev-root.key >/dev/null 2>&1
check "no worker made a dev key root" 2 $?

# Egress (issue 10 item 6): a contract cannot reach the devnet's chain RPC
# (anvil_setBalance, anvil_impersonateAccount would be anyone's) or its KMS;
# it can reach the allowed price API (the oracle calls above).
cat >"$tmp/rpc.js" <<'JS'
export default async (input) => {
  const r = await fetch(input.url, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'anvil_setBalance',
                           params: [input.who, '0x56bc75e2d63100000000'] }) });
  return { status: r.status, body: await r.text() };
};
JS
"$phx" deploy "$tmp/rpc.js" --json >"$tmp/drpc.json"
check "deploy the RPC prober" 0 $?
rid=$(json "$tmp/drpc.json" "['id']")
user_addr=$("$cast" wallet address --private-key "$user_key")
bal_before=$("$cast" balance --rpc-url "$rpc" "$user_addr")
kms_url=$(json "$tmp/ep.json" "['kms']['url']")
for target in "$rpc" "$kms_url/v1/nonce" "http://localhost:${rpc##*:}"; do
    "$phx" call "$rid" --input "{\"url\":\"$target\",\"who\":\"$user_addr\"}" --json >"$tmp/rpc.out" 2>&1
    check "a contract cannot reach $target" 1 "$(grep -q egress_denied "$tmp/rpc.out" && echo 1)"
done
check "the user's ETH balance is untouched" "$bal_before" "$("$cast" balance --rpc-url "$rpc" "$user_addr")"

# On chain: PriceConsumer asks; a worker fulfils; the callback lands; the operator is paid.
"$nm/.bin/solcjs" --bin --base-path "$src" "$src/examples/oracle/PriceConsumer.sol" -o "$tmp/sol" >/dev/null 2>&1
bin=$(cat "$tmp/sol"/examples_oracle_PriceConsumer_sol_PriceConsumer.bin)
args=$("$cast" abi-encode "c(address,address,bytes32)" "$jobs" "$token" "$id" | cut -c3-)
consumer=$("$cast" send --rpc-url "$rpc" --private-key "$user_key" --json --create "0x$bin$args" | python3 -c 'import json,sys; print(json.load(sys.stdin)["contractAddress"])')
# The caller pays: the user approves the consumer for the fee (it keeps no PHA).
"$cast" send --rpc-url "$rpc" --private-key "$user_key" "$token" "approve(address,uint256)" "$consumer" 10000000000000000000 >/dev/null
before=0
for i in 0 1 2; do
    op=$(json "$tmp/ep.json" "['workers'][$i]['operator']")
    before=$(python3 -c "print($before + $(earned "$op"))")
done
"$cast" send --rpc-url "$rpc" --private-key "$user_key" "$consumer" "requestPrice(string,uint256)" "ETH/USD" 10000000000000000000 >/dev/null
check "on-chain request sent" 0 $?
answer=0x
for _ in $(seq 1 300); do
    answer=$("$cast" call --rpc-url "$rpc" "$consumer" "lastAnswer()(bytes)")
    [ "$answer" != "0x" ] && break
    sleep 1
done
[ "$answer" != "0x" ]; check "callback delivered the answer" 0 $?
# The answer must be the oracle's price, not an error the worker signed.
echo "callback answer: $("$cast" to-ascii "$answer")"
"$cast" to-ascii "$answer" | grep -q '"price": *3120.55'; check "the callback carries the price" 0 $?
after=0
for i in 0 1 2; do
    op=$(json "$tmp/ep.json" "['workers'][$i]['operator']")
    after=$(python3 -c "print($after + $(earned "$op"))")
done
[ "$(python3 -c "print(int($after > $before))")" = 1 ]; check "an operator's pool earned the fee" 0 $?

kill -TERM $pid; wait $pid; check "devnet stops cleanly" 0 $?
pid=""
finish
