#!/bin/sh
# The guardrails make test runs, each shown able to fail: the format check
# rejects a misformatted file, the layering check rejects an upward include and
# an unlisted sideways one, the hardening check rejects a binary built without
# hardening. (The checks on the tree itself are the tests check_format,
# check_layering and check_hardening.)
set -u
. "$(dirname "$0")/../lib.sh"
src=${PHX_SOURCE_DIR:?PHX_SOURCE_DIR not set}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/phx-guardrails-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ---- format ----------------------------------------------------------------------
cp "$src/.clang-format" "$tmp/.clang-format"
printf 'int f(int a)\n{\n    return a + 1;\n}\n' >"$tmp/good.c"
printf 'int  f( int a ){return a+1 ;}\n' >"$tmp/bad.c"
"$src/scripts/check-format.sh" "$tmp/good.c" >"$tmp/out" 2>&1
check "format check passes a formatted file" 0 $?
"$src/scripts/check-format.sh" "$tmp/good.c" "$tmp/bad.c" >"$tmp/out" 2>&1
check "format check fails on a misformatted file" 1 $?
check "and names it" 1 "$(grep -c "not formatted: $tmp/bad.c" "$tmp/out")"
check "and only it" 0 "$(grep -c "good.c" "$tmp/out")"

# ---- layering --------------------------------------------------------------------
# A copy of the tree's sources and table, then one include added against them.
mkdir -p "$tmp/tree/docs"
cp -r "$src/src" "$src/include" "$tmp/tree/"
cp "$src/docs/layers.txt" "$tmp/tree/docs/"
"$src/scripts/check-layering" --root "$tmp/tree" >"$tmp/out" 2>&1
check "layering check passes the tree as it is" 0 $?
cp -r "$tmp/tree" "$tmp/up"
printf '#include "phx/worker.h" /* deliberately upward */\n' >>"$tmp/up/src/core/buf.c"
"$src/scripts/check-layering" --root "$tmp/up" >"$tmp/out" 2>&1
check "layering check fails on an upward include (core -> worker)" 1 $?
check "and names the line" 1 "$(grep -c 'src/core/buf.c:[0-9]*: core includes phx/worker.h, a layer above it' "$tmp/out")"
cp -r "$tmp/tree" "$tmp/side"
printf '#include "phx/gateway.h" /* deliberately sideways */\n' >>"$tmp/side/src/kms/kms.c" 2>/dev/null ||
    printf '#include "phx/gateway.h"\n' >"$tmp/side/src/kms/extra.c"
"$src/scripts/check-layering" --root "$tmp/side" >"$tmp/out" 2>&1
check "layering check fails on an unlisted sideways include (kms -> gateway)" 1 $?
check "and says it is not a listed edge" 1 "$(grep -c 'not a listed edge (kms -> gateway)' "$tmp/out")"
mkdir -p "$tmp/empty/docs"
cp "$src/docs/layers.txt" "$tmp/empty/docs/"
"$src/scripts/check-layering" --root "$tmp/empty" >"$tmp/out" 2>&1
check "layering check with nothing to check fails" 1 $?
mkdir -p "$tmp/tree/src/newmod"
printf 'int x;\n' >"$tmp/tree/src/newmod/a.c"
"$src/scripts/check-layering" --root "$tmp/tree" >"$tmp/out" 2>&1
check "a module in no layer is an error" 2 $?

# ---- hardening -------------------------------------------------------------------
cc=$(command -v cc || command -v clang)
printf '#include <stdio.h>\n#include <string.h>\nint main(int c, char **v)\n{\n    char b[64];\n    strcpy(b, v[0]);\n    printf("%%s %%d\\n", b, c);\n    return 0;\n}\n' >"$tmp/h.c"
"$cc" -O0 -fno-stack-protector -U_FORTIFY_SOURCE -no-pie -fno-pie -Wl,-z,norelro -o "$tmp/soft" "$tmp/h.c"
check "an unhardened binary builds" 0 $?
"$src/scripts/check-hardening.sh" "$tmp/soft" >"$tmp/out" 2>&1
check "hardening check fails on it" 1 $?
check "naming all six properties missing" 6 "$(grep -c '^MISSING' "$tmp/out")"
"$cc" -O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE -pie -Wl,-z,relro,-z,now -o "$tmp/hard" "$tmp/h.c"
"$src/scripts/check-hardening.sh" "$tmp/hard" >"$tmp/out" 2>&1
check "hardening check passes the same program built hardened" 0 $?
"$src/scripts/check-hardening.sh" "$tmp/h.c" >/dev/null 2>&1
check "a file that is not ELF is bad input" 2 $?
finish
