#!/bin/sh
# Deploy the treasury agent on a running `phx devnet --chains 2` (README.md).
set -u
usage() {
    cat <<'TXT'
usage: examples/treasury/deploy.sh [--every N[s|m|h]] [--model NAME] [--fund WEI]
                                   [--limit WEI/SECONDS] [--phx PATH] [--json]

Set up the treasury agent on the devnet of $PHX_HOME (its endpoints.json),
which must have two chains (`phx devnet --chains 2`): chain A is "main", the
devnet's own, chain B is "b".

  1. compiles PriceFeed.sol and Vault.sol (solcjs from the repository's
     node_modules) and deploys a PriceFeed and a Vault on chain A (from the
     devnet's user key, which then owns the feed) and a Vault on chain B
     (from anvil's first account, which a devnet's anvils fund);
  2. writes those addresses and the AI model into a copy of treasury.js and
     triggers.json, and deploys it with its two triggers: cron every N
     (default 60s) and the feed's PriceUpdated event;
  3. funds the agent's own address on both chains (default 1 ETH each) and
     sets its owner's spending limit on both (default 0.005 ETH per hour).

Then move the price as the feed's owner:
  cast send --rpc-url RPC_A --private-key USER_KEY FEED 'setPrice(uint256)' 330000

Options:
  --every N[s|m|h]     the cron trigger's period (default 60s)
  --model NAME         the phx.ai.chat model the agent asks (default tiny,
                       the name `phx devnet --infer-model` serves)
  --fund WEI           what to send the agent on each chain (default 10^18)
  --limit WEI/SECONDS  the spending limit on each chain (default
                       5000000000000000/3600)
  --phx PATH           the phx binary (default: phx on PATH, else build/phx)
  --json               print the result as one JSON object

Prints the agent's contract id, its address and the contracts' addresses.
Exit status: 0 deployed, 1 a step failed (named on stderr), 2 bad usage.
TXT
}
every=60s
model=tiny
fund=1000000000000000000
limit=5000000000000000/3600
as_json=0
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PHX=$(command -v phx 2>/dev/null || echo "$root/build/phx")
while [ $# -gt 0 ]; do
    case "$1" in
    --help | -h) usage; exit 0 ;;
    --every | --model | --fund | --limit | --phx)
        [ $# -ge 2 ] || { echo "deploy.sh: $1 needs a value" >&2; exit 2; }
        case "$1" in
        --every) every=$2 ;; --model) model=$2 ;; --fund) fund=$2 ;;
        --limit) limit=$2 ;; --phx) PHX=$2 ;;
        esac
        shift 2 ;;
    --json) as_json=1; shift ;;
    *) echo "deploy.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$every" in *[0-9]s | *[0-9]m | *[0-9]h) ;; *) echo "deploy.sh: --every wants N with s, m or h, got '$every'" >&2; exit 2 ;; esac
case "$model" in "" | *[!A-Za-z0-9._-]*) echo "deploy.sh: --model wants a model name, got '$model'" >&2; exit 2 ;; esac
case "$fund" in "" | *[!0-9]*) echo "deploy.sh: --fund wants wei, got '$fund'" >&2; exit 2 ;; esac
case "$limit" in [0-9]*/[0-9]*) ;; *) echo "deploy.sh: --limit wants WEI/SECONDS, got '$limit'" >&2; exit 2 ;; esac

die() { echo "deploy.sh: $*" >&2; exit 1; }
nm=${PHX_NODE_MODULES:-$root/node_modules}
cast=$nm/@foundry-rs/cast-linux-amd64/bin/cast # the native one: it fails on a revert
[ -x "$cast" ] || cast=$nm/.bin/cast
ep=${PHX_HOME:-$HOME/.phx/devnet}/endpoints.json
[ -s "$ep" ] || die "no devnet at ${PHX_HOME:-$HOME/.phx/devnet} (start one: phx devnet --chains 2)"
get() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d"+sys.argv[2]))' "$ep" "$1" 2>/dev/null; }
rpc_a=$(get "['chains']['main']['rpc']")
rpc_b=$(get "['chains']['b']['rpc']")
[ -n "$rpc_a" ] && [ -n "$rpc_b" ] || die "the devnet has no chain \"b\" (start it with --chains 2)"
user_key=$(cat "$(get "['user']['key_file']")") || die "no devnet user key"
# anvil's first account: every devnet anvil funds it (a well-known test key).
anvil0=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-treasury-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$nm/.bin/solcjs" --bin --base-path "$root" "$here/PriceFeed.sol" "$here/Vault.sol" -o "$tmp/sol" \
    >"$tmp/solc.out" 2>&1 || die "solcjs: $(head -3 "$tmp/solc.out")"
create() { # create RPC KEY NAME -> address
    "$cast" send --rpc-url "$1" --private-key "$2" --json --create \
        "0x$(cat "$tmp/sol/examples_treasury_$3_sol_$3.bin")" 2>"$tmp/cast.err" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["contractAddress"])' 2>/dev/null
}
feed=$(create "$rpc_a" "$user_key" PriceFeed) && [ -n "$feed" ] || die "deploying PriceFeed on chain A: $(cat "$tmp/cast.err")"
vault_a=$(create "$rpc_a" "$user_key" Vault) && [ -n "$vault_a" ] || die "deploying Vault on chain A: $(cat "$tmp/cast.err")"
vault_b=$(create "$rpc_b" "$anvil0" Vault) && [ -n "$vault_b" ] || die "deploying Vault on chain B: $(cat "$tmp/cast.err")"

sed -e "s#^const FEED = .*#const FEED = \"$feed\"; // PriceFeed on chain A#" \
    -e "s#^const VAULT_A = .*#const VAULT_A = \"$vault_a\"; // Vault on chain A#" \
    -e "s#^const VAULT_B = .*#const VAULT_B = \"$vault_b\"; // Vault on chain B#" \
    -e "s#^const AI_MODEL = .*#const AI_MODEL = \"$model\";#" "$here/treasury.js" >"$tmp/treasury.js"
sed -e "s#\"@every [0-9]*[smh]\"#\"@every $every\"#" \
    -e "s#\"address\":\"0x0000000000000000000000000000000000000000\"#\"address\":\"$feed\"#" \
    "$here/triggers.json" >"$tmp/triggers.json"
"$PHX" deploy "$tmp/treasury.js" --triggers "$tmp/triggers.json" --json >"$tmp/d.json" 2>"$tmp/d.err" ||
    die "phx deploy: $(cat "$tmp/d.err")"
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/d.json")
"$PHX" call "$id" --input '{"status":1}' --json >"$tmp/s.json" 2>"$tmp/s.err" || die "phx call: $(cat "$tmp/s.err")"
me=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["output"]["address"])' "$tmp/s.json")
[ -n "$me" ] || die "the agent did not tell its address: $(cat "$tmp/s.json")"
"$cast" send -q --rpc-url "$rpc_a" --private-key "$user_key" "$me" --value "$fund" 2>"$tmp/cast.err" ||
    die "funding the agent on chain A: $(cat "$tmp/cast.err")"
"$cast" send -q --rpc-url "$rpc_b" --private-key "$anvil0" "$me" --value "$fund" 2>"$tmp/cast.err" ||
    die "funding the agent on chain B: $(cat "$tmp/cast.err")"
"$PHX" limit "$id" "main=$limit" >/dev/null 2>"$tmp/l.err" || die "phx limit main: $(cat "$tmp/l.err")"
"$PHX" limit "$id" "b=$limit" >/dev/null 2>"$tmp/l.err" || die "phx limit b: $(cat "$tmp/l.err")"

if [ "$as_json" = 1 ]; then
    printf '{"id":"%s","address":"%s","feed":"%s","vault_a":"%s","vault_b":"%s","rpc_a":"%s","rpc_b":"%s","every":"%s","model":"%s"}\n' \
        "$id" "$me" "$feed" "$vault_a" "$vault_b" "$rpc_a" "$rpc_b" "$every" "$model"
else
    cat <<TXT
treasury agent  $id
its address     $me (funded with $fund wei on both chains, limit $limit wei/s on each)
PriceFeed       $feed on chain A ($rpc_a), owned by the devnet's user
Vault A         $vault_a on chain A
Vault B         $vault_b on chain B ($rpc_b)
triggers        cron @every $every; PriceUpdated on the feed
TXT
fi
