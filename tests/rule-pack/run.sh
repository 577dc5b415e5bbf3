#!/bin/sh
# Runs stoat's own rule pack against its test events: for each rule file
# rules/<...>/<stem>.yml, every event of tests/rule-pack/<stem>/match.jsonl
# must raise the rule and no event of nomatch.jsonl may. Correlation rules are
# checked with the rules they name and must fire once on match.jsonl (or the
# number in <stem>/expected). Then check.py over the whole pack. Last line:
# "rule-pack: P passed, F failed".
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-build/stoat}
pass=0; fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the compiled-rule cache: tests/run.sh's for the whole suite, else one of this run's, never the user's
[ -n "${STOAT_TEST_CACHE:-}" ] || { XDG_CACHE_HOME=$tmp/cache; export XDG_CACHE_HOME; }
count_lines() { grep -c . "$1" 2>/dev/null || echo 0; }
for rule in $(find rules -name '*.yml' | sort); do
    stem=$(basename "$rule" .yml)
    dir=tests/rule-pack/$stem
    if [ ! -d "$dir" ]; then
        echo "FAIL $stem: no test folder $dir"; fail=$((fail+1)); continue
    fi
    rules_arg="-r $rule"
    want=$(count_lines "$dir/match.jsonl")
    if grep -q '^correlation:' "$rule"; then
        # a correlation needs the rules it names (the whole pack) and fires
        # once on its match events unless the folder says otherwise
        rules_arg="-r rules"
        want=$(cat "$dir/expected" 2>/dev/null || echo 1)
    fi
    $STOAT hunt -q -j 1 --no-default-rules $rules_arg --format jsonl -o "$tmp/m.jsonl" "$dir/match.jsonl" 2>"$tmp/err"
    got=$(grep -c "\"id\":\"$(sed -n 's/^id: *//p' "$rule" | head -1)\"" "$tmp/m.jsonl")
    $STOAT hunt -q -j 1 --no-default-rules $rules_arg --format jsonl -o "$tmp/n.jsonl" "$dir/nomatch.jsonl" 2>>"$tmp/err"
    bad=$(grep -c "\"id\":\"$(sed -n 's/^id: *//p' "$rule" | head -1)\"" "$tmp/n.jsonl")
    if [ "$got" -eq "$want" ] && [ "$bad" -eq 0 ] && [ "$want" -gt 0 ]; then
        pass=$((pass+1))
    else
        echo "FAIL $stem: $got of $want match events raised it, $bad nomatch events did"
        sed 's/^/    /' "$tmp/err" | head -5
        fail=$((fail+1))
    fi
done
# the pack's structure (ids, dates, tags, modifiers, regex flavour, event shapes) and a
# second opinion from a small reference matcher: it rotted once while nothing ran it
if python3 -c 'import yaml' 2>/dev/null; then
    if python3 tests/rule-pack/check.py --eval >"$tmp/check" 2>&1; then
        pass=$((pass+1))
    else
        echo "FAIL check.py --eval:"; sed 's/^/    /' "$tmp/check" | tail -20
        fail=$((fail+1))
    fi
else
    echo "SKIP check.py: python3-yaml is not installed (scripts/install-deps.sh --test)"
fi
echo "rule-pack: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
