#!/bin/sh
# Checks stoat against the SigmaHQ rule set and its regression suite in
# ../shared/data/sigma (skipped, with a message, when that is absent):
#  - rules check over the five folders: every rejection is an unresolved
#    placeholder, and with the example placeholder file nothing is rejected;
#  - rules test (JSON and EVTX events): the failures are exactly the known
#    over-counts of tests/sigmahq/known-regression-differences.txt, with the
#    very counts recorded there (a known case going from 3 matches to 6
#    fails, as does any failure that is not a count).
# Last line: "sigmahq: P passed, F failed".
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-build/stoat}
S=../shared/data/sigma
pass=0; fail=0
ok() { echo "PASS $1"; pass=$((pass+1)); }
ko() { echo "FAIL $1"; fail=$((fail+1)); }
if [ ! -d "$S/rules" ] || [ ! -d "$S/regression_data" ]; then
    echo "sigmahq: ../shared/data/sigma not found - SigmaHQ checks skipped (they need the shared data next to the repository)"
    echo "sigmahq: 0 passed, 0 failed"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the compiled-rule cache: tests/run.sh's for the whole suite, else one of this run's, never the user's
[ -n "${STOAT_TEST_CACHE:-}" ] || { XDG_CACHE_HOME=$tmp/cache; export XDG_CACHE_HOME; }
SETS="$S/rules $S/rules-threat-hunting $S/rules-emerging-threats $S/rules-placeholder $S/rules-compliance"

$STOAT rules check $SETS >"$tmp/check" 2>&1
last=$(tail -1 "$tmp/check")
errs=$(grep -c ': error: ' "$tmp/check")
phs=$(grep ': error: ' "$tmp/check" | grep -c 'placeholder %.*% has no value')
case "$last" in
    "rules: "*" loaded, $errs rejected") ;;
    *) errs=-1 ;;
esac
if [ "$errs" -ge 0 ] && [ "$errs" -eq "$phs" ]; then
    ok "rules check: $last; all $errs rejections are placeholders without a value"
else
    ko "rules check: $last; rejections that are not placeholders:"
    grep ': error: ' "$tmp/check" | grep -v 'placeholder %' | head -20
fi

$STOAT rules check --placeholders config/placeholders.example.yml $SETS >"$tmp/check2" 2>&1
last=$(tail -1 "$tmp/check2")
case "$last" in
    "rules: "*" loaded, 0 rejected") ok "rules check with placeholders: $last" ;;
    *) ko "rules check with placeholders: $last"; grep ': error: ' "$tmp/check2" | head -10 ;;
esac

# "rule-id expected got" of each failed case, sorted; a failure that is not
# a count (rule not loaded, file unreadable) keeps its whole line, so it can
# never equal a known entry
counts_of() {
    grep '^FAIL' "$1" | sed 's/^FAIL .*\/\([0-9a-f-]\{36\}\)\.[a-z]*: .*: expected \([0-9][0-9]*\) match\(es\)\{0,1\}, got \([0-9][0-9]*\)$/\1 \2 \4/' | sort
}
known=$(grep -v '^#' tests/sigmahq/known-regression-differences.txt | awk 'NF {print $1, $2, $3}' | sort)
# the comparison itself: a recorded count changed (3 -> 6) must not pass
printf 'FAIL x/%s.json: T: expected %s match, got %s\n' $(echo "$known" | head -1 | awk '{print $1, $2, $3 + 3}') >"$tmp/doctored"
echo "$known" | sed 1d | while read -r id e g; do printf 'FAIL x/%s.json: T: expected %s match, got %s\n' "$id" "$e" "$g"; done >>"$tmp/doctored"
if [ -n "$known" ] && [ "$(counts_of "$tmp/doctored")" != "$known" ]; then
    ok "a known case whose count changed is told apart from the recorded one"
else
    ko "the count comparison cannot tell a changed count from the recorded one"
fi
for kind in json evtx; do
    flag=""
    [ $kind = evtx ] && flag="--evtx"
    $STOAT rules test $flag "$S/regression_data" >"$tmp/reg" 2>&1
    last=$(tail -1 "$tmp/reg")
    failed=$(counts_of "$tmp/reg")
    if [ "$failed" = "$known" ]; then
        ok "rules test ($kind): $last; the failures are the $(echo "$known" | wc -l) known over-counts, counts as recorded"
    else
        ko "rules test ($kind): $last; failures (rule expected got) differ from the reviewed list:"
        echo "$failed" >"$tmp/got"; echo "$known" >"$tmp/want"
        diff "$tmp/want" "$tmp/got" | grep '^[<>]' | head -20
    fi
done
echo "sigmahq: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
