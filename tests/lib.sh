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

# lower STRING: ASCII lower case (addresses from different tools).
lower() { printf '%s\n' "$1" | tr 'A-F' 'a-f'; }

# hex_of FILE: the file's bytes as 0x-hex.
hex_of() { printf '0x%s\n' "$(od -An -v -tx1 "$1" | tr -d ' \n')"; }

# Tools from npm (scripts/setup.sh installs them).
test_nm=${PHX_NODE_MODULES:-${PHX_SOURCE_DIR:-.}/node_modules}
cast=$test_nm/.bin/cast
