#!/bin/sh
# stoat's whole test suite, as CI runs it (`make test`):
#   unit tests (cmocka), golden folders, stoat's rule pack, command-line
#   behaviour, the behaviour layer on the scenario logs, cross-host analytics
#   on generated fleet days, the SigmaHQ rules
#   and regression suite and the EVTX comparison with evtxexport (both need
#   ../shared/data; skipped with a message when it is absent), the eBPF
#   sensor and `stoat watch` in a network namespace, the store, report and
#   dashboard (API and a headless browser), a folder of mixed input formats,
#   the auditd reader against the real auditd (needs root; skipped with a
#   message otherwise), make install into a DESTDIR, the man page and a
#   build without the eBPF sensor, the fleet's host side against a
#   nats-server it starts and its centre against a three-node cluster it
#   starts, fifty hosts and a whole-cluster outage against another (all
#   skipped with a message when nats-server is absent), then
#   the same functional tests on the
#   address+undefined sanitizer build (leaks fail the run), and a bounded
#   fuzz run per harness.
# Each part prints "<part>: P passed, F failed"; the last line is the total:
#   "N passed, N failed".
# Environment: FUZZ_SECONDS (default 30), SKIP_SANITIZE=1, SKIP_FUZZ=1.
set -u
cd "$(dirname "$0")/.."
TOTAL_P=0
TOTAL_F=0
LOG=build/test-logs
mkdir -p "$LOG"
# Rules load through the compiled-rule cache: one cache for the whole run,
# made here and removed at the end, never the user's (the parts that run
# alone make their own when STOAT_TEST_CACHE is unset).
XDG_CACHE_HOME=$(mktemp -d "${TMPDIR:-/tmp}/stoat-test-cache.XXXXXX") || exit 2
STOAT_TEST_CACHE=1
export XDG_CACHE_HOME STOAT_TEST_CACHE
trap 'rm -rf "$XDG_CACHE_HOME"' EXIT

add() {   # add PART PASSED FAILED
    echo "== $1: $2 passed, $3 failed"
    TOTAL_P=$((TOTAL_P + $2))
    TOTAL_F=$((TOTAL_F + $3))
}

part() {  # part NAME COMMAND...: runs a script whose last line is "x: P passed, F failed"
    name=$1; shift
    "$@" >"$LOG/$name.log" 2>&1
    rc=$?
    # a failure with what its test printed under it (a diff, a log's tail):
    # CI's output is all there is of a clean clone's run
    awk '/^(FAIL|SKIP)|skipped|not found/ {print; n = ($0 ~ /^FAIL/) ? 12 : 0; next}
         n > 0 && !/^ok / && !/ passed, [0-9]+ failed$/ {print "    " $0; n--; next} {n = 0}' "$LOG/$name.log" | head -60
    line=$(grep -E ': [0-9]+ passed, [0-9]+ failed$' "$LOG/$name.log" | tail -1)
    p=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then
        echo "$name: no summary line (exit $rc); see $LOG/$name.log"
        tail -20 "$LOG/$name.log"
        p=0; f=1
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "$name: exit $rc with no failure counted; see $LOG/$name.log"
        f=1
    fi
    add "$name" "$p" "$f"
}

unit() {  # unit BUILD_DIR: every cmocka binary; counts its test cases
    dir=$1
    p=0; f=0
    for t in "$dir"/tests/unit/test_*; do
        [ -x "$t" ] || continue
        n=$(basename "$t")
        "$t" >"$LOG/$n.log" 2>&1
        rc=$?
        tp=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$LOG/$n.log" | tail -1)
        tf=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$LOG/$n.log" | tail -1)
        tp=${tp:-0}; tf=${tf:-0}
        if [ "$rc" -ne 0 ] && [ "$tf" -eq 0 ]; then
            tf=1
        fi
        if [ "$tf" -ne 0 ]; then
            echo "FAIL $n"
            grep -E 'FAILED|ERROR|Sanitizer|runtime error' "$LOG/$n.log" | head -20
        fi
        p=$((p + tp)); f=$((f + tf))
    done
    echo "unit: $p passed, $f failed"
}

sanitizer_reports() {   # fails when the sanitizers wrote any report
    if ls build-san/reports/* >/dev/null 2>&1; then
        echo "FAIL sanitizer reports:"
        head -60 build-san/reports/*
        echo "sanitizer-reports: 0 passed, 1 failed"
        return 1
    fi
    echo "sanitizer-reports: 1 passed, 0 failed"
}

# ---------------------------------------------------------------- normal build
part unit unit build
part api tests/api/run.sh
part style tests/style/run.sh
[ -x tests/golden/run.sh ] && part golden tests/golden/run.sh
part rule-pack tests/rule-pack/run.sh
part cli tests/cli/run.sh
part cli-jobs tests/cli/jobs.sh
part behaviour tests/behaviour/run.sh
part cross tests/cross/run.sh
part sigmahq tests/sigmahq/run.sh
part evtx-compare tests/evtx_compare/run.sh
make -s sensor >/dev/null 2>&1
part sensor tests/sensor/run.sh
part watch tests/watch/run.sh
part watch-behaviours tests/watch/behaviours.sh
part web tests/web/run.sh
part readers tests/readers/run.sh
part auditd tests/auditd/run.sh
part install tests/install/run.sh
make -s fleetcheck >/dev/null 2>&1
part fleet-host tests/fleet/host.sh
make -s build/bench/fleet_pub >/dev/null 2>&1
part fleet-centre tests/fleet-centre/run.sh
part fleet-cross tests/fleet-centre/cross.sh
part fleet-corr tests/fleet-centre/corr.sh
part fleet-xcorr tests/fleet-centre/xcorr.sh
part fleet-scale tests/fleet-scale/run.sh

# ------------------------------------------------------------- sanitizer build
if [ "${SKIP_SANITIZE:-0}" != 1 ]; then
    echo "building with -fsanitize=address,undefined ..."
    if make -s SANITIZE=address,undefined build-san/stoat $(ls tests/unit/test_*.c | sed 's|^\(.*\)\.c$|build-san/\1|') >"$LOG/san-build.log" 2>&1; then
        rm -rf build-san/reports
        mkdir -p build-san/reports
        # stoat watch writes its reports as the user it becomes after loading
        chmod 1777 build-san/reports
        export ASAN_OPTIONS="log_path=$(pwd)/build-san/reports/asan:detect_leaks=1:abort_on_error=0"
        export UBSAN_OPTIONS="log_path=$(pwd)/build-san/reports/ubsan:print_stacktrace=1:halt_on_error=1"
        part san-unit unit build-san
        [ -x tests/golden/run.sh ] && part san-golden env STOAT=build-san/stoat tests/golden/run.sh
        part san-rule-pack env STOAT=build-san/stoat tests/rule-pack/run.sh
        part san-cli env STOAT=build-san/stoat tests/cli/run.sh
        part san-cli-jobs env STOAT=build-san/stoat tests/cli/jobs.sh
        part san-behaviour env STOAT=build-san/stoat tests/behaviour/run.sh
        part san-cross env STOAT=build-san/stoat tests/cross/run.sh
        part san-sigmahq env STOAT=build-san/stoat tests/sigmahq/run.sh
        part san-evtx-compare env SANITIZE=address,undefined tests/evtx_compare/run.sh
        part san-watch env STOAT=build-san/stoat tests/watch/run.sh
        part san-readers env STOAT=build-san/stoat tests/readers/run.sh
        part san-auditd env STOAT=build-san/stoat tests/auditd/run.sh
        part san-fleet-host env STOAT=build-san/stoat tests/fleet/host.sh
        part sanitizer-reports sanitizer_reports
        unset ASAN_OPTIONS UBSAN_OPTIONS
    else
        echo "sanitizer build failed; see $LOG/san-build.log"
        tail -20 "$LOG/san-build.log"
        add san-build 0 1
    fi
fi

# ------------------------------------------------------------------- fuzzing
if [ "${SKIP_FUZZ:-0}" != 1 ]; then
    part fuzz tests/fuzz/run.sh "${FUZZ_SECONDS:-30}"
fi

echo "$TOTAL_P passed, $TOTAL_F failed"
[ "$TOTAL_F" -eq 0 ]
