#!/bin/sh
# The CLI contract every verb keeps: help on stdout with exit 0, usage errors on
# stderr as one line with exit 2, unknown verbs refused.
set -u
. "$(dirname "$0")/../lib.sh"
PHX=${PHX_BIN:?PHX_BIN not set}
expect() { # expect RC DESCRIPTION -- command...
    want=$1; what=$2; shift 3
    "$@" >/tmp/phx-cli-out.$$ 2>/tmp/phx-cli-err.$$
    got=$?
    checks=$((checks + 1))
    if [ "$got" != "$want" ]; then
        echo "FAIL $what: exit $got, want $want"; cat /tmp/phx-cli-err.$$; fail=1
    else
        echo "ok   $what"
    fi
}
expect 0 "phx help" -- "$PHX" help
expect 0 "phx --help" -- "$PHX" --help
expect 2 "phx with no verb" -- "$PHX"
expect 2 "unknown verb" -- "$PHX" no-such-verb
grep -q "not a phx command" /tmp/phx-cli-err.$$ || { echo "FAIL unknown verb message"; fail=1; }
expect 0 "phx version" -- "$PHX" version
expect 0 "phx version --json" -- "$PHX" version --json
grep -q '"version"' /tmp/phx-cli-out.$$ || { echo "FAIL version --json output"; fail=1; }
expect 2 "unknown option" -- "$PHX" version --frobnicate
[ "$(wc -l </tmp/phx-cli-err.$$)" -eq 1 ] || { echo "FAIL usage error is not one line"; fail=1; }
# Every registered verb answers --help with exit 0 and a usage line.
for verb in $("$PHX" help | awk '/^Commands:/{on=1;next} on && NF==0{on=0} on{print $1}'); do
    expect 0 "phx $verb --help" -- "$PHX" "$verb" --help
    grep -q "usage: phx" /tmp/phx-cli-out.$$ || { echo "FAIL phx $verb --help has no usage line"; fail=1; }
    # Every verb but help prints data, so its help must say how to get JSON.
    if [ "$verb" != help ] && ! grep -q -- "--json" /tmp/phx-cli-out.$$; then
        echo "FAIL phx $verb --help does not mention --json"; fail=1
    fi
done
rm -f /tmp/phx-cli-out.$$ /tmp/phx-cli-err.$$
finish
