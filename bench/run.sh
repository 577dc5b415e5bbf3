#!/bin/sh
# `make bench`: builds its corpus (once, in bench/corpus/, not in git) and
# prints the figures stoat is held to. Each line comes from a benchmark
# program (bench_hunt times whole runs and reads peak RSS; bench_evtx times the
# EVTX parser against evtxexport). Timings belong here, never in tests.
#   BENCH_GB=1         size of the main corpus in GB (the issue asks for >= 1)
#   BENCH_LARGE=1      also a 4 GB corpus, to show memory does not grow
#   BENCH_RUNS=3       runs per figure (minimum and median are printed)
#   BENCH_RATIO_RUNS=5 rounds of the scaling (1 thread, all, and 1-thread runs on
#                      every core at once, by turns: speed-up, ceiling, efficiency)
#   BENCH_PARTS="load hunt web sensor"   which parts run (load: the rule load,
#                      cold and warm; hunt includes it)
#   Sensor part (root; skipped with a message otherwise): the user-space side
#   of stoat watch alone (bench_watch: record a mixed workload, replay it),
#   then bench/sensor_bench.sh (exec storm, a C build) with
#   SENSOR_SECS=3 SENSOR_ROUNDS=3 SENSOR_BUILD_ROUNDS=1 (the figures in
#   src/sensor/README.md took SECS=5 ROUNDS=5 BUILD_ROUNDS=3).
set -eu
cd "$(dirname "$0")/.."
STOAT=build/stoat
B=build/bench/bench_hunt
RUNS=${BENCH_RUNS:-3}
RATIO_RUNS=${BENCH_RATIO_RUNS:-5}
GB=${BENCH_GB:-1}
C=bench/corpus
mkdir -p "$C"
S=../shared/data/sigma
SIGMA=""
for d in rules rules-threat-hunting rules-emerging-threats rules-placeholder rules-compliance; do
    [ -d "$S/$d" ] && SIGMA="$SIGMA -r $S/$d"
done
[ -n "$SIGMA" ] || echo "note: ../shared/data/sigma is absent: only stoat's own rules are loaded"
PH="--placeholders config/placeholders.example.yml"

corpus() {   # corpus NAME MB ATTACK_SHARE
    f="$C/$1.jsonl"
    if [ ! -s "$f" ]; then
        python3 bench/gen_corpus.py "$f" "$2" --attack-share "$3" >&2   # stdout is the path
    fi
    echo "$f"
}
count() { wc -l <"$1" | tr -d ' '; }
size() { stat -c %s "$1"; }

PARTS=${BENCH_PARTS:-load hunt web sensor}
case " $PARTS " in *" hunt "*) ;; *) SKIP_HUNT=1 ;; esac

# Loading every rule: cold (--no-cache: the prefilter databases compiled, as
# before the cache) and warm (read back from the compiled-rule cache, which
# here is bench/corpus/cache, never the user's). The warm figure is the one
# taken off the hunts below: they load through the same cache.
XDG_CACHE_HOME=$(pwd)/$C/cache
export XDG_CACHE_HOME
case " $PARTS " in *" load "*|*" hunt "*)
echo "== loading rules (every rule of the five SigmaHQ folders and stoat's own)"
$STOAT rules check $PH $SIGMA rules | tail -1
$B -n 5 --label "load all rules, cold (--no-cache)" -- $STOAT rules check --no-cache $PH $SIGMA rules
$B -n 5 --label "load all rules, warm cache" -- $STOAT rules check $PH $SIGMA rules | tee "$C/load.txt"
;; esac

if [ -z "${SKIP_HUNT:-}" ]; then
echo "== corpus"
MAIN=$(corpus realistic-${GB}g $((GB * 1000)) 0.02)
WORST=$(corpus attack-200m 200 1)
echo "$MAIN: $(count "$MAIN") events, $(size "$MAIN") bytes (2% attack events)"
echo "$WORST: $(count "$WORST") events, $(size "$WORST") bytes (every event an attack)"
nproc=$(nproc)

# the fastest load, taken off the hunts below for their rate without it
LOAD=$(awk '{for (i = 1; i < NF; i++) if ($i == "min") print $(i + 1)}' "$C/load.txt")

echo "== hunting JSON lines, every rule loaded, alerts as JSON lines to /dev/null"
$B -n "$RUNS" --events "$(count "$MAIN")" --bytes "$(size "$MAIN")" --less-load "$LOAD" --label "realistic, 1 thread" -- \
    $STOAT hunt -q -j 1 $PH $SIGMA --format jsonl -o /dev/null "$MAIN"
$B -n "$RUNS" --events "$(count "$MAIN")" --bytes "$(size "$MAIN")" --less-load "$LOAD" --label "realistic, $nproc threads" -- \
    $STOAT hunt -q -j "$nproc" $PH $SIGMA --format jsonl -o /dev/null "$MAIN"
if [ "$nproc" -gt 1 ]; then
    # what the cores give runs that share nothing: the ceiling for the line above
    $B -n "$RUNS" --copies "$nproc" --events "$(count "$MAIN")" --bytes "$(size "$MAIN")" --less-load "$LOAD" \
        --label "realistic, $nproc one-thread runs at once" -- \
        $STOAT hunt -q -j 1 $PH $SIGMA --format jsonl -o /dev/null "$MAIN"
    # the scaling itself, by turns, against the ceiling of the same minutes
    # (one thread, $nproc threads and $nproc one-thread runs at once per round:
    # figures taken minutes apart move with the machine)
    $B --scaling "$nproc" -n "$RATIO_RUNS" --label "realistic, $nproc threads over 1" -- \
        $STOAT hunt -q -j 1 $PH $SIGMA --format jsonl -o /dev/null "$MAIN" -- \
        $STOAT hunt -q -j "$nproc" $PH $SIGMA --format jsonl -o /dev/null "$MAIN"
fi
$B -n "$RUNS" --events "$(count "$WORST")" --bytes "$(size "$WORST")" --less-load "$LOAD" --label "attack-only, 1 thread" -- \
    $STOAT hunt -q -j 1 $PH $SIGMA --format jsonl -o /dev/null "$WORST"
# an evidence folder of small files: a 300 MB day cut into files of 100 events
# (each file a unit of its own, so this shows the hand-overs per file)
DAY=$(corpus realistic-300m 300 0.02)
DIR=$C/realistic-300m-files
if [ ! -d "$DIR" ]; then
    rm -rf "$DIR.tmp" && mkdir "$DIR.tmp"
    split -l 100 -d -a 5 --additional-suffix=.jsonl "$DAY" "$DIR.tmp/part"
    mv "$DIR.tmp" "$DIR"
fi
nfiles=$(find "$DIR" -name '*.jsonl' | wc -l | tr -d ' ')
threads=1
if [ "$nproc" -gt 1 ]; then threads="1 $nproc"; fi
for j in $threads; do
    $B -n "$RUNS" --events "$(count "$DAY")" --bytes "$(size "$DAY")" --less-load "$LOAD" \
        --label "realistic as $nfiles files, $j thread(s)" -- \
        $STOAT hunt -q -j "$j" $PH $SIGMA --format jsonl -o /dev/null "$DIR"
done
# an auditd log: tests/readers/sigmahq-auditd.log (an event for each SigmaHQ
# auditd rule, raw enriched format) 2,000 times, each copy's times and
# serials moved on; its events are many records each, with repeated names
AU=$C/auditd-100m.log
if [ ! -s "$AU" ]; then
    python3 - tests/readers/sigmahq-auditd.log "$AU.tmp" <<'PY'
import re, sys
lines = open(sys.argv[1], newline="").read().split("\n")  # not splitlines: records hold a GS (0x1d)
lines = [l for l in lines if l]
serial = re.compile(r"audit\((\d+)\.(\d+):(\d+)\)")
with open(sys.argv[2], "w", newline="") as out:
    for rep in range(2000):
        for l in lines:
            out.write(serial.sub(lambda m: "audit(%d.%s:%d)" % (int(m.group(1)) + 10 * rep, m.group(2),
                                                                 int(m.group(3)) + 1000000 * rep), l) + "\n")
PY
    mv "$AU.tmp" "$AU"
fi
$B -n "$RUNS" --bytes "$(size "$AU")" --less-load "$LOAD" --label "auditd log, 1 thread" -- \
    $STOAT hunt -q -j 1 $PH $SIGMA --format jsonl -o /dev/null "$AU"
if [ "${BENCH_LARGE:-0}" = 1 ]; then
    BIG=$(corpus realistic-4g 4000 0.02)
    $B -n 1 --events "$(count "$BIG")" --bytes "$(size "$BIG")" --less-load "$LOAD" --label "realistic 4 GB, 1 thread" -- \
        $STOAT hunt -q -j 1 $PH $SIGMA --format jsonl -o /dev/null "$BIG"
    $B -n 1 --events "$(count "$BIG")" --bytes "$(size "$BIG")" --less-load "$LOAD" --label "realistic 4 GB, $nproc threads" -- \
        $STOAT hunt -q -j "$nproc" $PH $SIGMA --format jsonl -o /dev/null "$BIG"
fi

if [ -d ../shared/data/evtx ]; then
    echo "== EVTX"
    build/bench/bench_evtx -n 5
    ebytes=$(find ../shared/data/evtx -name '*.evtx' -printf '%s\n' | awk '{s+=$1} END {print s}')
    $B -n "$RUNS" --bytes "$ebytes" --less-load "$LOAD" --label "hunt shared EVTX, all rules, 1 thread" -- \
        $STOAT hunt -q -j 1 $PH $SIGMA --format jsonl -o /dev/null ../shared/data/evtx
    # the same files five times over: 81 MB is too little to hide the loading
    E=../shared/data/evtx
    $B -n "$RUNS" --bytes $((ebytes * 5)) --less-load "$LOAD" --label "hunt shared EVTX x5, all rules, 1 thread" -- \
        $STOAT hunt -q -j 1 $PH $SIGMA --format jsonl -o /dev/null $E $E $E $E $E
fi
fi

case " $PARTS " in *" web "*)
    echo "== store, dashboard and report"
    bench/web.sh
    ;;
esac

case " $PARTS " in *" sensor "*) ;; *) exit 0 ;; esac
echo "== stoat watch, user space alone: a recorded sensor workload replayed through one watch thread"
WD=$C/watch
if [ "$(id -u)" -eq 0 ]; then
    build/bench/bench_watch record "$WD" --seconds 8
elif [ -s "$WD/capture" ]; then
    echo "note: not root: replaying the capture an earlier root run recorded in $WD"
fi
if [ -s "$WD/capture" ]; then
    build/bench/bench_watch replay "$WD"
else
    echo "skipped: recording the sensor needs root (eBPF, a network namespace)"
fi
echo "== sensor: exec storm and a C build, stoat watch against execsnoop and auditd"
if [ "$(id -u)" -eq 0 ]; then
    SECS=${SENSOR_SECS:-3} ROUNDS=${SENSOR_ROUNDS:-3} BUILD_ROUNDS=${SENSOR_BUILD_ROUNDS:-1} \
        bench/sensor_bench.sh build/bench/sensor_bench
else
    echo "skipped: the sensor figures need root (eBPF, auditd)"
fi
echo "== stoat watch --publish: what publishing to JetStream adds on the exec storm"
SECS=${SENSOR_SECS:-3} ROUNDS=${SENSOR_ROUNDS:-3} bench/watch_publish.sh
