#!/bin/sh
# Compares stoat's EVTX reader with evtxexport on every shared .evtx file.
# Prints one line per file and `evtx-compare: P passed, F failed`.
# Skips (exit 0) when ../shared/data or evtxexport is absent.
set -u
cd "$(dirname "$0")/../.." || exit 1
DATA=../shared/data
if [ ! -d "$DATA/evtx" ] && [ ! -d "$DATA/sigma/regression_data" ]; then
    echo "evtx-compare: SKIP: $DATA is absent (shared test data lives beside the repo)"
    echo "evtx-compare: 0 passed, 0 failed"
    exit 0
fi
if ! command -v evtxexport >/dev/null 2>&1; then
    echo "evtx-compare: SKIP: evtxexport not installed (scripts/install-deps.sh installs libevtx-utils)"
    echo "evtx-compare: 0 passed, 0 failed"
    exit 0
fi
# SANITIZE=address,undefined runs the same comparison on the sanitizer build.
SANITIZE=${SANITIZE:-}
BUILD=build
SANFLAGS=""
if [ -n "$SANITIZE" ]; then
    BUILD=build-san
    SANFLAGS="-fsanitize=$SANITIZE -fno-omit-frame-pointer -fno-sanitize-recover=all"
fi
make -s SANITIZE="$SANITIZE" "$BUILD/libstoat.a" >/dev/null || exit 1
mkdir -p "$BUILD/tests/evtx_compare"
# shellcheck disable=SC2086
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Isrc $SANFLAGS \
    -o "$BUILD/tests/evtx_compare/evtx_compare" tests/evtx_compare/evtx_compare.c \
    "$BUILD/libstoat.a" || exit 1
find "$DATA/evtx" "$DATA/sigma/regression_data" -name '*.evtx' -print0 2>/dev/null |
    sort -z | xargs -0 "$BUILD/tests/evtx_compare/evtx_compare"
