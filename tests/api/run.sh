#!/bin/sh
# The library's face: the archive the stoat command links (libstoat-api.a)
# defines no global symbol but the stoat_* API, and each of those is declared
# in a public header (include/stoat/); the command itself includes nothing
# of src/ but util/. Fails on an internal name that leaks, or an API symbol
# no header names. The fleet's layers (src/bus, src/fleet) are used through
# their face too (include/stoat/bus.h, fleet.h).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
P=0; F=0
ok() { P=$((P + 1)); }
bad() { echo "FAIL $*"; F=$((F + 1)); }

make -s "$BUILD/libstoat-api.a" >/dev/null || { echo "api: 0 passed, 1 failed"; exit 1; }
syms=$(nm -g --defined-only "$BUILD/libstoat-api.a" | awk 'NF == 3 {print $3}' | sort -u)
[ -n "$syms" ] && ok || bad "libstoat-api.a defines no symbol at all"
leaked=$(printf '%s\n' "$syms" | grep -v '^stoat_' || true)
[ -z "$leaked" ] && ok || bad "internal globals in libstoat-api.a: $(echo $leaked | head -c 400)"
undeclared=
for s in $syms; do
    grep -qw "$s" include/stoat/*.h || undeclared="$undeclared $s"
done
[ -z "$undeclared" ] && ok || bad "API symbols no public header declares:$undeclared"
# the full archive keeps its internals (the tests link them): the check
# above must be about the API archive, not an empty one
internal=$(nm -g --defined-only "$BUILD/libstoat.a" | awk 'NF == 3 && $3 !~ /^stoat_/' | wc -l)
[ "$internal" -gt 0 ] && ok || bad "libstoat.a has no internal globals: is the check looking at the right archive?"
inc=
for d in src/*/; do
    d=${d#src/}; d=${d%/}
    [ "$d" = util ] && continue
    inc="$inc$(grep -h "^#include \"$d/" cli/*.c cli/*.h || true)"
done
[ -z "$inc" ] && ok || bad "the command includes internals: $inc"
echo "api: $P passed, $F failed"
[ "$F" -eq 0 ]
