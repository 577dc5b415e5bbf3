#!/bin/sh
# The whole tree follows one style (.clang-format): every C file and header
# tracked by git, the sensor's BPF code included, formats to itself. Fails
# naming the files that do not (`clang-format -i FILE` mends them). Then the
# house's sizes: files and functions.
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
# the house's sizes (issue 11): no file over 1,200 lines in src/, cli/ and include/, no
# function over 150, so that no part grows back into a monolith unnoticed
for f in $(git ls-files 'src/*.[ch]' 'cli/*.[ch]' 'include/*.h'); do
    n=$(wc -l <"$f")
    if [ "$n" -gt 1200 ]; then
        echo "FAIL $f has $n lines (at most 1,200: split it by what its parts do)"
        F=$((F + 1))
    else
        P=$((P + 1))
    fi
done
# a function: a line starting with its name and a '(' (not a declaration), a '{' in
# column 0, and the '}' in column 0 that closes it (the house's clang-format style)
long=$(for f in $(git ls-files 'src/*.c' 'cli/*.c'); do
    awk -v f="$f" '
        /^[A-Za-z_].*\(/ && !/;[ \t]*$/ { cand = $0; cl = NR }
        /^\{/ { if (cand != "") { start = cl; name = cand; infn = 1 } }
        /^\}/ { if (infn) { n = NR - start + 1; if (n > 150) { sub(/\(.*/, "", name); printf "%s:%d %s %d\n", f, start, name, n } infn = 0; cand = "" } }
    ' "$f"
done)
if [ -n "$long" ]; then
    echo "$long" | while read -r where name n; do echo "FAIL $where: $name has $n lines (at most 150)"; done
    F=$((F + $(echo "$long" | wc -l)))
else
    P=$((P + 1))
fi
echo "style: $P passed, $F failed"
[ "$F" -eq 0 ]
