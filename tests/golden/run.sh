#!/bin/sh
# Golden tests: each folder tests/golden/<case>/ holds rules/ (one or more
# .yml), one input file (input.jsonl, input.json, or either gzip-compressed
# with .gz), an optional placeholders.yml, and expected.jsonl: the exact
# output of
#
#     stoat hunt --no-default-rules -r rules [--placeholders placeholders.yml] \
#         --format jsonl --no-summary -j 1 <input>
#
# run inside the case folder, so the paths in the output (rule.file,
# source.file) are relative and the same on every machine; any absolute
# path of the folder that still shows up is replaced by "<case>".
#
# Prints PASS name / FAIL name (with a diff), then "golden: P passed, F
# failed"; exits 1 when a case failed. UPDATE=1 rewrites expected.jsonl.
# STOAT names the binary (default: build/stoat of this checkout).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
stoat=${STOAT:-$root/build/stoat}
case $stoat in
/*) ;;
*) stoat=$(pwd)/$stoat ;;
esac
if [ ! -x "$stoat" ]; then
    echo "golden: $stoat is not built (run make)" >&2
    exit 2
fi

pass=0
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/stoat-golden.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
# the compiled-rule cache: tests/run.sh's for the whole suite, else one of this run's, never the user's
[ -n "${STOAT_TEST_CACHE:-}" ] || { XDG_CACHE_HOME=$tmp/cache; export XDG_CACHE_HOME; }

for dir in "$here"/*/; do
    dir=${dir%/}
    name=$(basename "$dir")
    [ -d "$dir/rules" ] || continue
    input=
    for f in input.jsonl input.json input.jsonl.gz input.json.gz; do
        if [ -f "$dir/$f" ]; then
            input=$f
            break
        fi
    done
    if [ -z "$input" ]; then
        echo "FAIL $name"
        echo "  no input.jsonl, input.json or .gz of them in $dir"
        fail=$((fail + 1))
        continue
    fi
    set -- hunt --no-default-rules -r rules --format jsonl --no-summary -j 1
    if [ -f "$dir/placeholders.yml" ]; then
        set -- "$@" --placeholders placeholders.yml
    fi
    set -- "$@" "$input"
    (cd "$dir" && STOAT_HOME="$root" NO_COLOR=1 "$stoat" "$@") >"$tmp/raw" 2>"$tmp/stderr"
    code=$?
    # a path printed absolute despite everything: make it machine-neutral
    sed -e "s|$dir/|<case>/|g" -e "s|$dir|<case>|g" "$tmp/raw" >"$tmp/actual"
    if [ "${UPDATE:-}" = 1 ]; then
        cp "$tmp/actual" "$dir/expected.jsonl"
        echo "UPDATED $name ($(wc -l <"$dir/expected.jsonl" | tr -d ' ') alerts, exit $code)"
        pass=$((pass + 1))
        continue
    fi
    if [ $code -ne 0 ] && [ $code -ne 4 ]; then
        echo "FAIL $name"
        echo "  stoat exited with $code:"
        sed 's/^/  | /' "$tmp/stderr"
        fail=$((fail + 1))
        continue
    fi
    if [ ! -f "$dir/expected.jsonl" ]; then
        echo "FAIL $name"
        echo "  no expected.jsonl (UPDATE=1 $0 writes it; check it by hand)"
        fail=$((fail + 1))
        continue
    fi
    if cmp -s "$dir/expected.jsonl" "$tmp/actual"; then
        echo "PASS $name"
        pass=$((pass + 1))
    else
        echo "FAIL $name"
        diff -u "$dir/expected.jsonl" "$tmp/actual" | sed 's/^/  /'
        if [ -s "$tmp/stderr" ]; then
            echo "  stoat said:"
            sed 's/^/  | /' "$tmp/stderr"
        fi
        fail=$((fail + 1))
    fi
done

echo "golden: $pass passed, $fail failed"
[ $fail -eq 0 ]
