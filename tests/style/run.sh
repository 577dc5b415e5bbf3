#!/bin/sh
# The whole tree follows one style (.clang-format): every C file and header
# tracked by git, the sensor's BPF code included, formats to itself. Fails
# naming the files that do not (`clang-format -i FILE` mends them).
set -u
cd "$(dirname "$0")/../.."
CF=${CLANG_FORMAT:-clang-format}
if ! command -v "$CF" >/dev/null 2>&1; then
    echo "FAIL $CF is missing (scripts/install-deps.sh --test installs clang-format)"
    echo "style: 0 passed, 1 failed"
    exit 1
fi
P=0; F=0
for f in $(git ls-files '*.c' '*.h' | grep -v node_modules); do
    if "$CF" --dry-run -Werror "$f" >/dev/null 2>&1; then
        P=$((P + 1))
    else
        echo "FAIL $f does not follow .clang-format"
        F=$((F + 1))
    fi
done
echo "style: $P passed, $F failed"
[ "$F" -eq 0 ]
