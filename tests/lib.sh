# Shared helpers for the shell tests; every tests/**/*.sh sources this file:
#     . "$(dirname "$0")/../lib.sh"
# POSIX sh (the tests run under dash and bash alike).
#
# The rule these helpers keep: a check that is handed nothing fails. An empty
# EXPECTED or ACTUAL means a command upstream failed (a helper died, a file was
# never written, a process never printed), and comparing "" with "" would pass
# whatever the code under test did. Where a test means "this output is empty",
# it says so with check_empty.

fail=0
checks=0

# check DESCRIPTION EXPECTED ACTUAL: equal and both non-empty.
check() {
    checks=$((checks + 1))
    if [ -z "$2" ] || [ -z "$3" ]; then
        echo "FAIL $1: empty input (got '$3', want '$2')"
        fail=1
        return 1
    fi
    if [ "$2" = "$3" ]; then
        echo "ok   $1"
        return 0
    fi
    echo "FAIL $1: got '$3', want '$2'"
    fail=1
    return 1
}

# check_got DESCRIPTION ACTUAL EXPECTED: check with the two sides the other way
# round, for tests that read "what phx gave" before "what it should be".
check_got() { check "$1" "$3" "$2"; }

# check_cmd DESCRIPTION COMMAND...: the command succeeds.
check_cmd() {
    _what=$1
    shift
    checks=$((checks + 1))
    if [ $# -eq 0 ]; then
        echo "FAIL $_what: no command given"
        fail=1
        return 1
    fi
    if "$@"; then
        echo "ok   $_what"
        return 0
    fi
    echo "FAIL $_what"
    fail=1
    return 1
}

# check_empty DESCRIPTION ACTUAL: the output is meant to be empty.
check_empty() {
    checks=$((checks + 1))
    if [ -z "$2" ]; then
        echo "ok   $1"
        return 0
    fi
    echo "FAIL $1: got '$2', want nothing"
    fail=1
    return 1
}

# check_nonempty DESCRIPTION ACTUAL: something was produced (a list to loop over,
# an id to use later) — guards loops that would otherwise check nothing.
check_nonempty() {
    checks=$((checks + 1))
    if [ -n "$2" ]; then
        echo "ok   $1"
        return 0
    fi
    echo "FAIL $1: empty"
    fail=1
    return 1
}

# finish: the script's verdict. A script that ran no check at all failed.
finish() {
    if [ "$checks" -eq 0 ]; then
        echo "FAIL no check ran"
        exit 1
    fi
    if [ "$fail" = 0 ]; then
        echo "$checks checks, all passed"
        exit 0
    fi
    echo "$checks checks, FAILED"
    exit 1
}

# json FILE EXPR: print d<EXPR> of the JSON in FILE (e.g. "['rpc']"). Prints
# nothing, and says why on stderr, when the file or the expression is bad, so a
# following check fails instead of comparing an error message.
json() {
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
v = eval("d" + sys.argv[2])
print(v)' "$1" "$2"
}

# jsonx FILE PYEXPR: print a Python expression over d, the parsed JSON in FILE
# (for what is not a subscript, e.g. "' '.join(str(v) for v in d['pids'].values())").
jsonx() {
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2"
}

# wait_file FILE [TENTHS]: wait until FILE is non-empty (default 10 s).
wait_file() {
    _n=${2:-100}
    while [ "$_n" -gt 0 ]; do
        [ -s "$1" ] && return 0
        sleep 0.1
        _n=$((_n - 1))
    done
    return 1
}

# wait_until TENTHS COMMAND...: poll COMMAND every 0.1 s until it succeeds.
# For state reached by a background process (a worker, a mined block): tests
# wait for the state, never for a fixed time.
wait_until() {
    _n=$1
    shift
    while [ "$_n" -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        _n=$((_n - 1))
    done
    return 1
}

# in_pool ADDRESS: True/False, whether the gateway routes to that worker (in
# its pool and healthy) as `$phx workers --json` shows it; nothing when absent.
in_pool() {
    "$phx" workers --json | python3 -c '
import json, sys
for w in json.load(sys.stdin)["workers"]:
    if w.get("address", "").lower() == sys.argv[1].lower(): print(w["in_pool"] and w["healthy"])' "$1"
}

# lower STRING: ASCII lower case (addresses from different tools).
lower() { printf '%s\n' "$1" | tr 'A-F' 'a-f'; }

# hex_of FILE: the file's bytes as 0x-hex.
hex_of() { printf '0x%s\n' "$(od -An -v -tx1 "$1" | tr -d ' \n')"; }

# skip_without_worker: exit 77 (CTest's SKIP) when $phx has no worker verb
# (a build without the JS sandbox).
skip_without_worker() {
    if ! "$phx" worker --help >/dev/null 2>&1; then
        echo "SKIP: this phx has no \`worker\` verb (no JS sandbox in this build)"
        exit 77
    fi
}

# devnet_start OUT LOG [ARGS...]: `$phx devnet --json ARGS` in the background
# (its pid in $pid), endpoints to OUT, log to LOG; waits for OUT to be written
# (up to 300 s: the devnet bounds each step of its start itself and says why it
# gave up), returns 1 early if the devnet dies first. OUT is removed before the
# start: the shell's redirection truncates it only once the background child
# runs, and an OUT left by an earlier step would read as written before that.
devnet_start() {
    _out=$1
    _log=$2
    shift 2
    rm -f "$_out"
    "$phx" devnet --json "$@" >"$_out" 2>"$_log" &
    pid=$!
    _n=3000
    while [ $_n -gt 0 ]; do
        [ -s "$_out" ] && return 0
        kill -0 $pid 2>/dev/null || return 1
        sleep 0.1
        _n=$((_n - 1))
    done
    return 1
}

# hand_worker EP NAME: start `$phx worker` by hand against the running devnet
# whose endpoints `devnet --json` wrote to EP, as a new operator would: a fresh
# key ($tmp/NAME.key, its address in $hand_op) funded with 100 ETH and 2000
# PHA by anvil's first key (the devnet's deployer: start it --no-handover),
# its pool staked and the worker registered through the KMS by the worker
# itself. Ready line in $tmp/NAME.json, log in $tmp/NAME.log, pid in $hand.
# Returns 1 when it is not up within 120 s.
hand_worker() {
    _ep=$1
    _c=${PHX_NODE_MODULES:-$PHX_SOURCE_DIR/node_modules}/.bin/cast
    _rpc=$(json "$_ep" "['rpc']")
    _gov=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 # anvil dev key 0
    python3 -c 'import secrets; print("0x" + secrets.token_hex(32))' >"$tmp/$2.key"
    hand_op=$("$_c" wallet address --private-key "$(cat "$tmp/$2.key")")
    "$_c" send -q --rpc-url "$_rpc" --private-key "$_gov" "$hand_op" --value 100ether || return 1
    "$_c" send -q --rpc-url "$_rpc" --private-key "$_gov" \
        "$(json "$_ep" "['deployment']['contracts']['PhxToken']")" 'transfer(address,uint256)' \
        "$hand_op" 2000000000000000000000 || return 1
    "$phx" worker --dir "$tmp/$2" --sim-dir "$(json "$_ep" "['sim_dir']")" \
        --listen 127.0.0.1:0 --rpc "$_rpc" --deployment "$PHX_HOME/deployment.json" \
        --kms "$(json "$_ep" "['kms']['url']")" \
        --kms-address "$(json "$_ep" "['kms']['address']")" \
        --operator-key-file "$tmp/$2.key" --json >"$tmp/$2.json" 2>"$tmp/$2.log" &
    hand=$!
    wait_file "$tmp/$2.json" 1200
}

# chain_time: the time the next block on $rpc will carry (an eth_call at the
# pending block of code that returns TIMESTAMP). chain_past T waits until it is
# past T. Governance times are on the chain's clock, and under load anvil's next
# block time was seen trailing the wall clock (a vote refused as Pending two
# seconds after its snapshot by the wall clock), so tests wait by this one.
chain_time() {
    python3 - "$rpc" <<'PY'
import json, sys, urllib.request
q = {"jsonrpc": "2.0", "id": 1, "method": "eth_call",
     "params": [{"data": "0x4260005260206000f3"}, "pending"]}
r = urllib.request.Request(sys.argv[1], json.dumps(q).encode(), {"content-type": "application/json"})
print(int(json.load(urllib.request.urlopen(r, timeout=10))["result"], 16))
PY
}
chain_past() {
    for _ in $(seq 1 600); do
        [ "$(chain_time)" -gt "$1" ] && return 0
        sleep 0.3
    done
    return 1
}

# gov_pass KEYFILE TARGET SIGNATURE ARGS DESCRIPTION: one governance vote on a
# devnet, start to end (propose, vote for with KEYFILE's votes, queue, execute),
# waiting by the chain's clock for the times the proposal names (the devnet's
# voting delay, period and timelock delay are seconds on PHA's timestamp
# clock). Returns 0 when the proposal is Executed, else 1 with the step named.
gov_pass() {
    _k=$1
    "$phx" gov propose --target "$2" --call "$3" --args "$4" --description "$5" \
        --key-file "$_k" --json >"$tmp/.gov.json" 2>"$tmp/.gov.err" || { cat "$tmp/.gov.err"; return 1; }
    _id=$(json "$tmp/.gov.json" "['id']")
    "$phx" gov status "$_id" --json >"$tmp/.gov.st" || return 1
    _past() { chain_past "$1"; }
    _past "$(json "$tmp/.gov.st" "['snapshot']")"
    "$phx" gov vote "$_id" for --key-file "$_k" >/dev/null || { echo "gov_pass: vote"; return 1; }
    _past "$(json "$tmp/.gov.st" "['deadline']")"
    "$phx" gov queue "$_id" --key-file "$_k" --json >"$tmp/.gov.q" || { echo "gov_pass: queue"; return 1; }
    _past "$(json "$tmp/.gov.q" "['eta']")"
    "$phx" gov execute "$_id" --key-file "$_k" >/dev/null || { echo "gov_pass: execute"; return 1; }
    "$phx" gov status "$_id" | grep -q "^proposal $_id: Executed"
}

# expect_error RC PATTERN -- ARGS...: `$PHX ARGS` with bad input exits RC with
# exactly one line on stderr, matching PATTERN (grep -E) and starting with
# $expect_prefix (default "phx "), nothing on stdout, no sanitizer report.
expect_prefix="phx "
expect_error() {
    _want=$1
    _pat=$2
    shift 3
    checks=$((checks + 1))
    _err=$(mktemp)
    _out=$("$PHX" "$@" 2>"$_err" </dev/null)
    _rc=$?
    _lines=$(wc -l <"$_err")
    _problem=""
    [ "$_rc" -eq "$_want" ] || _problem="exit $_rc, want $_want"
    [ "$_lines" -eq 1 ] || _problem="$_problem; $_lines stderr lines"
    grep -qE -e "$_pat" "$_err" || _problem="$_problem; stderr does not match /$_pat/"
    grep -q "^$expect_prefix" "$_err" || _problem="$_problem; stderr does not start with '$expect_prefix'"
    grep -qaiE "sanitizer|runtime error|leak" "$_err" && _problem="$_problem; sanitizer report"
    [ -z "$_out" ] || _problem="$_problem; unexpected stdout: $_out"
    if [ -n "$_problem" ]; then
        fail=1
        echo "FAIL phx $*: $_problem"
        sed 's/^/    stderr: /' "$_err"
    else
        echo "ok   [$_rc] phx $* -> $(cat "$_err")"
    fi
    rm -f "$_err"
}

# Tools from npm (scripts/setup.sh installs them).
test_nm=${PHX_NODE_MODULES:-${PHX_SOURCE_DIR:-.}/node_modules}
cast=$test_nm/.bin/cast

# kill_workers DIR N STOP LOG: until the file STOP exists, SIGKILL one of a
# devnet's N workers at random (DIR/worker-I, found by its command line, since
# `devnet --restart` brings it back under a new pid) every 0.5..3 s, a line
# per kill to LOG. Run it in the background; touch STOP and wait for it.
kill_workers() {
    while [ ! -f "$3" ]; do
        sleep "$(python3 -c 'import random; print(round(random.uniform(0.5, 3.0), 2))')"
        _v=$(python3 -c "import random; print(random.randint(0, $2 - 1))")
        _wp=$(ps -eo pid,args | awk -v d="$1/worker-$_v" '$0 ~ "worker --dir " d" " {print $1; exit}')
        [ -n "$_wp" ] && kill -KILL "$_wp" 2>/dev/null && echo "$_v" >>"$4"
    done
}

# jobs_fulfilled FIRST LAST OPERATOR: over Jobs' Fulfilled events ($cast,
# $rpc, $jobs; the events are left in $tmp/ful.json) of request ids
# FIRST..LAST, print "settled twice named pairs": how many ids have a
# fulfilment, how many have more than one, how many name OPERATOR among the
# signers' operators, how many name 2 distinct operators.
jobs_fulfilled() {
    "$cast" logs --rpc-url "$rpc" --from-block 0 --address "$jobs" \
        'Fulfilled(uint256 indexed,address indexed,bytes32,bool,bool,address[],bytes)' --json >"$tmp/ful.json"
    python3 -c "
import json, sys
from collections import Counter
lo, hi, op = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].lower()
c, named, pairs = Counter(), 0, 0
for l in json.load(open(sys.argv[1])):
    rid = int(l['topics'][1], 16)
    if not lo <= rid <= hi: continue
    c[rid] += 1
    d = bytes.fromhex(l['data'][2:])
    off = int.from_bytes(d[96:128], 'big')
    cnt = int.from_bytes(d[off:off + 32], 'big')
    ops = ['0x' + d[off + 32 + 32 * i + 12:off + 64 + 32 * i].hex() for i in range(cnt)]
    named += op in ops
    pairs += cnt == 2 and len(set(ops)) == 2
print(sum(1 for i in range(lo, hi + 1) if c[i] >= 1), sum(1 for i in range(lo, hi + 1) if c[i] > 1), named, pairs)
" "$tmp/ful.json" "$1" "$2" "$3"
}
