#!/bin/sh
# check-hardening.sh BINARY: was BINARY built with the release hardening of
# CMakeLists.txt? Reads the ELF with readelf and checks, naming each miss:
#   PIE          ELF type DYN and the PIE flag in DT_FLAGS_1
#   full RELRO   a GNU_RELRO segment and BIND_NOW (symbols bound at load time)
#   stack protector   the binary calls __stack_chk_fail
#   _FORTIFY_SOURCE   the binary calls fortified libc functions (__*_chk)
# Exit 0 all four present, 1 some missing, 2 bad usage or no such ELF file.
set -u
case "${1:-}" in
-h | --help)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
"")
    echo "usage: check-hardening.sh BINARY" >&2
    exit 2
    ;;
esac
bin=$1
if ! command -v readelf >/dev/null 2>&1; then
    echo "check-hardening: readelf not found (binutils)" >&2
    exit 2
fi
if [ ! -f "$bin" ]; then
    echo "check-hardening: $bin not found (build it with make build)" >&2
    exit 2
fi
if ! readelf -h "$bin" >/dev/null 2>&1; then
    echo "check-hardening: $bin is not an ELF file" >&2
    exit 2
fi
miss=0
has() { # has WHAT COMMAND...: report one property
    what=$1
    shift
    if "$@" >/dev/null 2>&1; then
        echo "ok   $what"
    else
        echo "MISSING $what"
        miss=$((miss + 1))
    fi
}
hdr=$(readelf -h "$bin")
dyn=$(readelf -d "$bin" 2>/dev/null)
seg=$(readelf -lW "$bin" 2>/dev/null)
syms=$(readelf --dyn-syms -W "$bin" 2>/dev/null)
has "PIE (ELF type DYN)" sh -c 'printf "%s\n" "$1" | grep -q "Type:[[:space:]]*DYN"' _ "$hdr"
has "PIE (DT_FLAGS_1 PIE)" sh -c 'printf "%s\n" "$1" | grep -q "FLAGS_1.*PIE"' _ "$dyn"
has "RELRO (GNU_RELRO segment)" sh -c 'printf "%s\n" "$1" | grep -q GNU_RELRO' _ "$seg"
has "full RELRO (BIND_NOW)" sh -c 'printf "%s\n" "$1" | grep -Eq "BIND_NOW|FLAGS_1.*NOW"' _ "$dyn"
has "stack protector (__stack_chk_fail)" sh -c 'printf "%s\n" "$1" | grep -q "__stack_chk_fail"' _ "$syms"
has "_FORTIFY_SOURCE (__*_chk calls)" sh -c 'printf "%s\n" "$1" | grep -Eq "__[a-z]+_chk(@|$)"' _ "$syms"
if [ $miss -gt 0 ]; then
    echo "check-hardening: $bin lacks $miss of 6 hardening properties"
    exit 1
fi
echo "check-hardening: $bin is hardened"
exit 0
