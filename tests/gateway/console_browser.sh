#!/bin/sh
# The web console in a real browser (Debian's chromium driven by npm
# playwright-core) against a real devnet: one worker, a contract whose code,
# output and logs hold markup, a real signed result. console_browser.mjs does
# the checks; this script brings the network up and down. With
# PHX_CONSOLE_SHOTS=DIR the screenshots go there (docs/images to refresh the
# documentation's), else into the temporary directory.
set -u
phx=${PHX_BIN:?PHX_BIN not set}
nm=${PHX_NODE_MODULES:?PHX_NODE_MODULES not set}
here=$(cd "$(dirname "$0")" && pwd)
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
    echo "FAIL no chromium: scripts/setup.sh installs Debian's"
    exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-console-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null && wait $pid; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$1" "$2"; }

"$phx" devnet --dir "$PHX_HOME" --workers 1 --json >"$tmp/ep.json" 2>"$tmp/devnet.log" &
pid=$!
for _ in $(seq 1 900); do
    [ -s "$tmp/ep.json" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
if [ ! -s "$tmp/ep.json" ]; then
    echo "FAIL the devnet did not start:"
    tail -20 "$tmp/devnet.log"
    exit 1
fi

# Markup in every place a caller or deployer controls: the code (shown on the
# Contract page), a log line and the output (shown on the Verify page).
cat >"$tmp/xss.js" <<'JS'
// <script>window.__pwned = "code"</script>
export default async (input, ctx) => {
    console.log("<script>window.__pwned = 'log'</script>");
    return { html: "<img src=x onerror=\"window.__pwned = 'output'\">", hello: input.name };
};
JS
"$phx" deploy "$tmp/xss.js" --json >"$tmp/deploy.json" 2>"$tmp/deploy.err" || {
    echo "FAIL phx deploy:"
    cat "$tmp/deploy.err"
    exit 1
}
id=$(json "$tmp/deploy.json" "['id']")
"$phx" call "$id" --input '{"name":"console"}' --json >"$tmp/result.json" 2>"$tmp/call.err" || {
    echo "FAIL phx call:"
    cat "$tmp/call.err"
    exit 1
}
# As `make run` does: an encrypted call, whose signed output is the sealed reply.
"$phx" call "$id" --input '{"name":"sealed"}' --encrypt --json >"$tmp/sealed.json" 2>"$tmp/call.err" || {
    echo "FAIL phx call --encrypt:"
    cat "$tmp/call.err"
    exit 1
}
# The CLI's own verdict on the same result: the browser must agree with it.
"$phx" verify "$tmp/result.json" --trust-sim-root "$PHX_HOME/sim" >"$tmp/verify.out" 2>&1 || {
    echo "FAIL phx verify refuses the result the browser is to accept:"
    cat "$tmp/verify.out"
    exit 1
}

# On-chain requests for the contract, for the Jobs page, one in each state:
# #1 fulfilled by the devnet's worker; #2 made while the contract's on-chain
# code hash names code the worker does not have (the owner pinned another
# version with Jobs.updateContract, then the real one again), so the worker
# refuses to sign it and it stays pending until an hour of chain time passes
# and #3's sweep refunds it; #3 fulfilled; #4 (the other hash again) pending;
# #5 asked by a TestConsumer told to revert in its callback: fulfilled and
# paid, callback failed. Each wait is bounded. (A k the workers cannot meet no
# longer makes a pending request: Jobs refuses it at request time.)
cast=$nm/.bin/cast
rpc=$(json "$tmp/ep.json" "['rpc']")
jobs=$(json "$tmp/ep.json" "['deployment']['contracts']['Jobs']")
registry=$(json "$tmp/ep.json" "['deployment']['contracts']['Registry']")
ukey=$(cat "$(json "$tmp/ep.json" "['user']['key_file']")")
ask() {
    "$cast" send --rpc-url "$rpc" --private-key "$ukey" "$jobs" 'request(bytes32,bytes,uint256,uint32,uint8)' \
        "$id" 0x7b226e616d65223a226a6f62227d 10000000000000000000 100000 "$1" >/dev/null || {
        echo "FAIL an on-chain request (k = $1)"
        exit 1
    }
}
real_hash=$(json "$tmp/deploy.json" "['code_hash']")
uri=$("$cast" call --rpc-url "$rpc" "$jobs" 'contracts(bytes32)(address,uint64,bytes32,string)' "$id" | sed -n 4p | tr -d '"')
pin() { # the contract's on-chain code hash (its owner, the devnet user, updates it)
    "$cast" send --rpc-url "$rpc" --private-key "$ukey" "$jobs" 'updateContract(bytes32,bytes32,string)' \
        "$id" "$1" "$uri" >/dev/null || {
        echo "FAIL Jobs.updateContract"
        exit 1
    }
}
other_hash=0x$(printf '%064x' 2)
settled() { # request id: wait until Jobs.requests(id).status is $2
    for _ in $(seq 1 600); do
        [ "$("$cast" call --rpc-url "$rpc" "$jobs" 'requests(uint256)(address,uint8)' "$1" | sed -n 2p)" = "$2" ] && return 0
        sleep 0.1
    done
    echo "FAIL request $1 did not reach status $2"
    exit 1
}
"$cast" send --rpc-url "$rpc" --private-key "$ukey" "$(json "$tmp/ep.json" "['deployment']['contracts']['PhxToken']")" \
    'approve(address,uint256)' "$jobs" 100000000000000000000 >/dev/null || {
    echo "FAIL approve"
    exit 1
}
ask 1
settled 1 2
pin "$other_hash"
ask 1
pin "$real_hash"
"$cast" rpc --rpc-url "$rpc" evm_increaseTime 3601 >/dev/null && "$cast" rpc --rpc-url "$rpc" evm_mine >/dev/null || {
    echo "FAIL evm_increaseTime"
    exit 1
}
ask 1
settled 2 4
settled 3 2
pin "$other_hash"
ask 1
pin "$real_hash"
token=$(json "$tmp/ep.json" "['deployment']['contracts']['PhxToken']")
bin=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['bytecode'])" "$(dirname "$phx")/contracts/TestConsumer.json")
consumer=$("$cast" send --rpc-url "$rpc" --private-key "$ukey" --json --create "${bin}$("$cast" abi-encode "c(address,address)" "$jobs" "$token" | cut -c3-)" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["contractAddress"])')
{ [ -n "$consumer" ] &&
    "$cast" send --rpc-url "$rpc" --private-key "$ukey" "$token" 'transfer(address,uint256)' "$consumer" 10000000000000000000 >/dev/null &&
    "$cast" send --rpc-url "$rpc" --private-key "$ukey" "$consumer" 'setMode(uint8)' 1 >/dev/null &&
    "$cast" send --rpc-url "$rpc" --private-key "$ukey" "$consumer" 'ask(bytes32,bytes,uint256,uint32,uint8)' \
        "$id" 0x7b226e616d65223a226a6f62227d 10000000000000000000 300000 1 >/dev/null; } || {
    echo "FAIL a request from a TestConsumer whose callback reverts"
    exit 1
}
settled 5 3
# The CLI's view of the same requests (the same reader as the pages), and the
# operator's stake as the Registry tells it, for the page to agree with.
"$phx" jobs --json >"$tmp/jobs.json" 2>"$tmp/jobs.err" || {
    echo "FAIL phx jobs:"
    cat "$tmp/jobs.err"
    exit 1
}
export PHX_STAKE_WEI
PHX_STAKE_WEI=$("$cast" call --rpc-url "$rpc" "$registry" 'stakeOf(address)(uint256)' \
    "$(json "$tmp/ep.json" "['workers'][0]['operator']")" | sed 's/ .*//')
export PHX_JOBS_JSON="$tmp/jobs.json"

PHX_CHROMIUM="$chromium" PHX_NODE_MODULES="$nm" \
    node "$here/console_browser.mjs" "$tmp/ep.json" "$tmp/result.json" "$id" "${PHX_CONSOLE_SHOTS:-$tmp/shots}" "$tmp/sealed.json"
