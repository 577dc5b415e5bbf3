#!/bin/sh
# The whole suite, as `make test` runs it (after building stoat and the unit
# tests): every unit test program, the golden folders, the unit tests again
# under AddressSanitizer and UndefinedBehaviorSanitizer (SANITIZE=0 skips
# that), and the fuzz harnesses for FUZZ_SECONDS each when tests/fuzz/run.sh
# and clang are there. The SigmaHQ checks are in the unit tests
# (test_sigmahq) and skip themselves without ../shared/data/sigma.
#
# One line per part, then "N passed, N failed"; exit 1 when anything failed.
set -u
cd "$(dirname "$0")/.." || exit 2

passed=0
failed=0
failures=
log=$(mktemp -d "${TMPDIR:-/tmp}/stoat-test.XXXXXX") || exit 2
trap 'rm -rf "$log"' EXIT INT TERM

part() {   # name command...
    name=$1
    shift
    if "$@" >"$log/$name.out" 2>&1; then
        passed=$((passed + 1))
        echo "ok    $name"
    else
        failed=$((failed + 1))
        failures="$failures $name"
        echo "FAIL  $name"
        tail -n 40 "$log/$name.out" | sed 's/^/      /'
    fi
}

for t in build/tests/unit/test_*; do
    [ -x "$t" ] || continue
    part "$(basename "$t")" "$t"
done

part golden tests/golden/run.sh

if [ "${SANITIZE:-1}" != 0 ]; then
    part sanitizers make -s SANITIZE=address,undefined test-unit
fi

if [ -x tests/fuzz/run.sh ] && command -v clang >/dev/null 2>&1; then
    part fuzz tests/fuzz/run.sh "${FUZZ_SECONDS:-60}"
fi

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
