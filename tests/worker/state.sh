#!/bin/sh
# phx.state (docs/js.md "phx.state") on a real devnet of 3 workers: a counter
# incremented through the gateway N times (PHX_STATE_CALLS, default 9), three
# callers at once so the workers race, reaches exactly N, each value once;
# phx.kv, per worker, is shown beside it. A worker serving a stale copy
# (the sim-only test fault PHX_TEST_STALE_STATE_FILE naming its address) is
# refused with state_integrity and leaves the state as it was; a cas on an
# old version is a catchable STATE_CONFLICT; a non-sim worker refuses the
# fault. Sticky routing: calls with an affinity key land on one worker
# whoever the payer paid last, and only a killed worker's keys move.
# Skipped (77) when this phx has no worker verb.
set -u
. "$(dirname "$0")/../lib.sh"
phx=${PHX_BIN:?PHX_BIN not set}
skip_without_worker
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-state-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null && wait $pid; rm -rf "$tmp"' EXIT
export PHX_HOME="$tmp/net"
n=${PHX_STATE_CALLS:-9}

PHX_TEST_STALE_STATE_FILE="$tmp/stale" devnet_start "$tmp/ep.json" "$tmp/devnet.log" \
    --dir "$PHX_HOME" --workers 3 --restart
check "devnet with 3 workers" 3 "$(json "$tmp/ep.json" "['workers'].__len__()" 2>/dev/null)" ||
    { tail -5 "$tmp/devnet.log"; finish; }
check "the deployment has a StateAnchor" 1 \
    "$(json "$tmp/ep.json" "['deployment']['contracts']['StateAnchor'][:2].count('0x')")"

cat >"$tmp/counter.js" <<'JS'
export default async function (input) {
  if (input.op === 'read') return { n: await phx.state.get('n') };
  if (input.op === 'cas') {
    try { return { version: await phx.state.cas('n', input.expected, -1) }; }
    catch (e) { return { code: e.code, version: e.version }; }
  }
  const kv = ((await phx.kv.get('n')) || 0) + 1;
  await phx.kv.put('n', kv);
  for (let tries = 1; tries <= 64; tries++) {
    const n = ((await phx.state.get('n')) || 0) + 1;
    try { await phx.state.put('n', n); return { n, kv, tries }; }
    catch (e) { if (e.code !== 'STATE_CONFLICT') throw e; }
  }
  throw new Error('no write in 64 tries');
}
JS
"$phx" deploy "$tmp/counter.js" --json >"$tmp/d.json" 2>"$tmp/d.err"
check "deploy the counter" 0 $? || { cat "$tmp/d.err"; finish; }
id=$(json "$tmp/d.json" "['id']")

# Three callers through the gateway at once; each answer is one JSON line.
caller() {
    _i=0
    while [ $_i -lt "$2" ]; do
        "$phx" call "$id" --input '{"op":"inc"}' --json 2>>"$tmp/calls.err" |
            tr -d '\n' >>"$tmp/calls.$1"
        echo >>"$tmp/calls.$1"
        _i=$((_i + 1))
    done
}
per=$((n / 3))
caller a $((n - 2 * per)) &
ca=$!
caller b $per &
cb=$!
caller c $per
wait $ca $cb
cat "$tmp"/calls.? >"$tmp/calls.all"
summary=$(python3 - "$tmp/calls.all" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = [r for r in rows if r.get("ok")]
ns = sorted(r["output"]["n"] for r in ok)
print(len(ok), ns == list(range(1, len(ok) + 1)), len({r["worker"].lower() for r in ok}),
      sum(r["output"]["tries"] - 1 for r in ok), max(r["output"]["kv"] for r in ok))
PY
)
echo "info calls ok, values 1..N each once, workers, conflicts retried, highest kv: $summary"
set -- $summary
check "all $n calls answered ok" "$n" "${1:-}" || {
    grep -v '"ok": *true' "$tmp/calls.all" | head -5
    tail -5 "$tmp/calls.err"
}
check "each counter value 1..$n came out exactly once" True "${2:-}"
check "the calls were spread over the 3 workers" 3 "${3:-}"
check "phx.kv stayed per worker (its highest count is below N)" 1 \
    "$([ "${5:-$n}" -lt "$n" ] && echo 1)"
check "the counter reads exactly $n" "$n" \
    "$("$phx" call "$id" --input '{"op":"read"}' --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["output"]["n"])')"

# ---- a worker serving a stale copy is refused --------------------------------
w1=$(json "$tmp/ep.json" "['workers'][1]['address']")
w1url=$(json "$tmp/ep.json" "['workers'][1]['url']")
w0url=$(json "$tmp/ep.json" "['workers'][0]['url']")
lower "$w1" >"$tmp/stale"
"$phx" call "$id" --gateway "$w1url" --input '{"op":"inc"}' --json >"$tmp/stale.json" 2>"$tmp/stale.err"
check "the stale worker's run fails with state_integrity" "False state_integrity" \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["ok"], d["output"]["error"]["code"])' "$tmp/stale.json" 2>/dev/null)"
check "another worker still reads $n (nothing was written)" "$n" \
    "$("$phx" call "$id" --gateway "$w0url" --input '{"op":"read"}' --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["output"]["n"])')"
check "a cas on an old version is a STATE_CONFLICT naming the current one" "STATE_CONFLICT $n" \
    "$("$phx" call "$id" --gateway "$w0url" --input '{"op":"cas","expected":1}' --json | python3 -c 'import json,sys; o=json.load(sys.stdin)["output"]; print(o["code"], o["version"])')"
rm -f "$tmp/stale"
check "the same worker, serving the anchored copy again, reads $n" "$n" \
    "$("$phx" call "$id" --gateway "$w1url" --input '{"op":"read"}' --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["output"]["n"])')"

# ---- sticky routing: X-Phx-Affinity (phx call --affinity) ---------------------
# What a user relies on: while the worker set is unchanged, every call with a
# key lands on one worker, whoever the payer paid last; the keys spread over
# the workers; when a key's worker leaves only its keys move, and they come
# back when it returns. (The gateway's choice is rendezvous hashing: the
# healthy worker with the highest sha256("ID/KEY" NUL url), so any gateway
# picks the same; checked too.)
# The payer's last call paid worker 0's operator, as paid calls and a race of
# concurrent callers leave it (at N=100 the counter did): a worker of another
# operator answers such a voucher 402. The gateway used to move the key on to
# a worker that took the voucher, so every key landed on worker 0.
op0=$(json "$tmp/ep.json" "['workers'][0]['operator']")
python3 - "$PHX_HOME/payments.json" "$op0" <<'PY'
import json, sys
path, op = sys.argv[1], sys.argv[2].lower()
d = json.load(open(path))
for payer in d.values():
    payer["last_operator"] = op
    payer.setdefault("operators", {}).setdefault(op, {"cumulative": "0", "charged": "0"})
json.dump(d, open(path, "w"))
PY
urls=$(jsonx "$tmp/ep.json" "' '.join(w['url'] for w in d['workers'])")
expect() { # expect KEY URL...: the URL rendezvous hashing names for the key
    python3 - "$id/$1" "$@" <<'PY'
import hashlib, sys
key = sys.argv[1].encode()
print(max(sys.argv[3:], key=lambda u: hashlib.sha256(key + b"\0" + u.encode()).digest()))
PY
}
url_of() { # the URL of the worker with address $1
    jsonx "$tmp/ep.json" "[w['url'] for w in d['workers'] if w['address'].lower() == '$1'.lower()][0]"
}
served_by() { # served_by KEY: the URL of the worker that answered a call with KEY
    _a=$("$phx" call "$id" --affinity "$1" --input '{"op":"read"}' --json 2>>"$tmp/sticky.err" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["worker"])')
    [ -n "$_a" ] && url_of "$_a"
}
gw=$(json "$tmp/ep.json" "['gateway']")
healthy() { curl -s "$gw/v1/network" | python3 -c 'import json,sys; print(json.load(sys.stdin)["healthy"])'; }
all_healthy() { [ "$(healthy)" = 3 ]; }
wait_until 600 all_healthy
keys="k0 k1 k2 k3 k4 k5 k6 k7 k8"
sticky_ok=0
hashed_ok=0
: >"$tmp/placed"
for k in $keys; do
    # A round of 3 calls; under load a health check can flap a worker out for
    # a moment (its keys then move, as they should), so a key gets 3 rounds.
    for _ in 1 2 3; do
        got="$(served_by $k) $(served_by $k) $(served_by $k)"
        set -- $got
        [ $# -eq 3 ] && [ "$1" = "$2" ] && [ "$2" = "$3" ] && break
        echo "info key $k: got $got; gateway: $(curl -s "$gw/v1/network" | head -c 600)"
    done
    set -- $got
    if [ $# -eq 3 ] && [ "$1" = "$2" ] && [ "$2" = "$3" ]; then
        sticky_ok=$((sticky_ok + 1))
        echo "$k $1" >>"$tmp/placed"
        named=$(expect $k $urls)
        echo "info key $k on $1; rendezvous hashing names $named"
        [ "$1" = "$named" ] && hashed_ok=$((hashed_ok + 1))
    fi
done
check "each of 9 keys: 3 calls on one worker" 9 "$sticky_ok"
spread=$(cut -d' ' -f2 "$tmp/placed" | sort -u | grep -c .)
echo "info the 9 keys used $spread of the 3 workers"
check "the keys spread over the workers, not all on the one the payer paid last" 1 \
    "$([ "$spread" -ge 2 ] && echo 1)"
check "... each on the worker rendezvous hashing names (any gateway agrees)" 9 "$hashed_ok"
# The worker k0 sticks to dies (SIGKILL): k0 moves to another worker, the keys
# of the other workers stay where they were, and k0 comes back once the
# devnet has restarted its worker (same port) and the gateway's health check
# sees it.
dead=$(awk '$1 == "k0" {print $2}' "$tmp/placed")
didx=$(jsonx "$tmp/ep.json" "[i for i, w in enumerate(d['workers']) if w['url'] == '$dead'][0]")
kill -9 "$(json "$tmp/ep.json" "['pids']['worker-$didx']")"
moved=$(served_by k0)
check "with its worker killed, k0 is served by another worker" 1 \
    "$([ -n "$moved" ] && [ "$moved" != "$dead" ] && echo 1)" || cat "$tmp/sticky.err"
stayed=0
others=0
while read -r k u; do
    [ "$u" = "$dead" ] && continue
    others=$((others + 1))
    [ "$(served_by "$k" </dev/null)" = "$u" ] && stayed=$((stayed + 1))
done <"$tmp/placed"
check "... and the keys of the workers still up did not move" "$others" "$stayed"
back=""
for _ in $(seq 1 120); do
    [ "$(served_by k0)" = "$dead" ] && { back=1; break; }
    sleep 1
done
check "k0 is back on its worker once that worker is restarted" 1 "$back"
# A contract whose deploy asks for affinity by an input member: its callers
# name no key, and the calls with the same "user" land on one worker (the one
# that value hashes to, as a key would).
cat >"$tmp/aff.js" <<'JS'
export default async function (input) { return { user: input.user }; }
JS
"$phx" deploy "$tmp/aff.js" --affinity input.user --json >"$tmp/da.json" 2>"$tmp/da.err"
check "deploy --affinity input.user" 0 $? || cat "$tmp/da.err"
aid=$(json "$tmp/da.json" "['id']")
wait_until 600 all_healthy
aff_ok=0
for u in alice bob carol dave; do
    got=""
    for _ in 1 2 3; do
        a=$("$phx" call "$aid" --input "{\"user\":\"$u\"}" --json 2>>"$tmp/sticky.err" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["worker"])')
        got="$got $(url_of "$a")"
    done
    want=$(id=$aid expect "$u" $urls)
    [ "$got" = " $want $want $want" ] && aff_ok=$((aff_ok + 1))
    echo "info user $u on$got; the hash names $want"
done
check "... 4 users x 3 calls without a key: each user's on the worker its value names" 4 "$aff_ok"
check "deploy --affinity refuses anything but caller or input.FIELD (exit 2)" 2 \
    "$("$phx" deploy "$tmp/aff.js" --affinity input.a-b >/dev/null 2>&1; echo $?)"
check "phx call --affinity refuses an empty key (exit 2)" 2 \
    "$("$phx" call "$id" --affinity '' --input 1 >/dev/null 2>&1; echo $?)"

# ---- the fault is refused outside the sim TEE ---------------------------------
PHX_TEST_STALE_STATE_FILE="$tmp/stale" "$phx" worker --dir "$tmp/w9" --listen 127.0.0.1:0 \
    --tee tdx --rpc "$(json "$tmp/ep.json" "['rpc']")" --deployment "$PHX_HOME/deployment.json" \
    --kms "$(json "$tmp/ep.json" "['kms']['url']")" \
    --kms-address "$(json "$tmp/ep.json" "['kms']['address']")" \
    --operator-key-file "$PHX_HOME/worker-0/operator.key" >/dev/null 2>"$tmp/w9.err"
check "a tdx worker with the fault set exits 1" 1 $?
check "and says the fault is sim-only" 1 "$(grep -c 'only with the sim TEE' "$tmp/w9.err")"
finish
