#!/bin/sh
# check-format.sh [FILE...]: are the C/C++ sources formatted as the repo's
# .clang-format says (Debian clang-format 14)? With no FILE, every tracked
# *.c, *.h and *.cpp of this checkout. Prints each file that differs.
# Exit 0 all formatted, 1 some file is not (or no file was checked: an empty
# list means the check saw nothing, which is not a pass), 2 no clang-format.
# Fix with `make format`.
set -u
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi
cf=${CLANG_FORMAT:-$(command -v clang-format-14 || echo clang-format)}
if ! command -v "$cf" >/dev/null 2>&1; then
    echo "check-format: $cf not found (scripts/setup.sh installs clang-format)" >&2
    exit 2
fi
case "$("$cf" --version)" in
*" 14."*) ;;
*) echo "check-format: want clang-format 14, have: $("$cf" --version)" >&2; exit 2 ;;
esac
list=$(mktemp)
trap 'rm -f "$list"' EXIT
if [ $# -gt 0 ]; then
    for f in "$@"; do printf '%s\n' "$f"; done >"$list"
else
    cd "$(dirname "$0")/.." || exit 2
    git ls-files '*.c' '*.h' '*.cpp' >"$list"
fi
n=$(wc -l <"$list")
if [ "$n" -eq 0 ]; then
    echo "check-format: no file to check"
    exit 1
fi
# One clang-format run over the whole list (one process per file is slow);
# it names each file that differs in its "FILE:LINE:COL: error:" lines.
out=$(mktemp)
trap 'rm -f "$list" "$out"' EXIT
tr '\n' '\0' <"$list" | xargs -0 "$cf" --dry-run --Werror >"$out" 2>&1
rc=$?
sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: .*/\1/p' "$out" | sort -u | sed 's/^/check-format: not formatted: /'
bad=$(sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: .*/\1/p' "$out" | sort -u | wc -l)
if [ $rc -ne 0 ] && [ "$bad" -eq 0 ]; then
    cat "$out"
    echo "check-format: clang-format failed"
    exit 1
fi
if [ $bad -gt 0 ]; then
    echo "check-format: $bad of $n files need clang-format (run: make format)"
    exit 1
fi
echo "check-format: $n files formatted"
exit 0
