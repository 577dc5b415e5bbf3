#!/bin/sh
# Builds every tests/fuzz/fuzz_*.c with clang's libFuzzer and the address and
# undefined-behaviour sanitizers, then runs each for SECONDS (default 60) from
# a seed corpus made of the project's own rules and logs (and ../shared/data
# when present). Prints "fuzz: P passed, F failed". A crash leaves its input
# in build-fuzz/crashes/. FUZZ_ONLY="fuzz_x ..." runs only those harnesses.
set -u
SECONDS_EACH=${1:-60}
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
OUT=build-fuzz
CC=${FUZZ_CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "fuzz: clang not found; install it (scripts/install-deps.sh installs it) - skipped"
    echo "fuzz: 0 passed, 0 failed"
    exit 0
fi
mkdir -p "$OUT/obj" "$OUT/crashes"
FLAGS="-std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -Iinclude -Isrc $(pkg-config --cflags yaml-0.1 libpcre2-8 libhs zlib libzstd libcrypto)"
LIBS="$(pkg-config --libs yaml-0.1 libpcre2-8 libhs zlib libzstd libcrypto) -lpthread -lm"
# the library, once
objs=""
# a header newer than the objects rebuilds them all (no dependency files here)
newest_header=$(ls -t src/*/*.h src/*/*/*.h include/stoat/*.h 2>/dev/null | head -1)
# (the sensor, the store, the report, the server, the bus and the fleet are not fuzzed here: the
#  harnesses drive the readers and the rule loader)
for src in $(ls src/*/*.c src/*/*/*.c 2>/dev/null | grep -v '\.bpf\.c$' | grep -Ev '^src/(sensor|store|report|serve|bus|fleet)/' | grep -v '^src/pipeline/watch.c'); do
    obj="$OUT/obj/$(echo "$src" | tr / _).o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_header" -nt "$obj" ]; then
        $CC $FLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj" || { echo "fuzz: build failed ($src)"; echo "fuzz: 0 passed, 1 failed"; exit 1; }
    fi
    objs="$objs $obj"
done
# the bus's and the fleet's parsers, each object alone: a harness links only
# the ones it names (the rest of src/bus and src/fleet needs a live server)
extra_obj() {   # extra_obj SRC: compiles it, prints the object
    obj="$OUT/obj/$(echo "$1" | tr / _).o"
    if [ ! -f "$obj" ] || [ "$1" -nt "$obj" ] || [ "$newest_header" -nt "$obj" ]; then
        $CC $FLAGS -fsanitize=fuzzer-no-link -c "$1" -o "$obj" || return 1
    fi
    echo "$obj"
}
pass=0; fail=0
for h in tests/fuzz/fuzz_*.c; do
    name=$(basename "$h" .c)
    # FUZZ_ONLY="fuzz_a fuzz_b": only those (while working on them)
    case " ${FUZZ_ONLY:-$name} " in *" $name "*) ;; *) continue ;; esac
    bin="$OUT/$name"
    case "$name" in
        fuzz_spool) extra=$(extra_obj src/bus/spool.c); xlibs="" ;;
        fuzz_heartbeat) extra=$(extra_obj src/fleet/health.c); xlibs="" ;;
        fuzz_bundle) extra="$(extra_obj src/bus/rules.c) $(extra_obj src/bus/bus.c) $(extra_obj src/bus/nats_lib.c)"; xlibs="$(pkg-config --libs libcrypto)" ;;
        *) extra=""; xlibs="" ;;
    esac
    $CC $FLAGS -fsanitize=fuzzer "$h" $objs $extra $LIBS $xlibs -lstdc++ -o "$bin" 2>"$OUT/$name.build.log" || {
        echo "FAIL $name (build, see $OUT/$name.build.log)"; fail=$((fail+1)); continue; }
    corpus="$OUT/corpus-$name"
    mkdir -p "$corpus"
    case "$name" in
        fuzz_rules) seeds="rules tests/golden" ;;
        fuzz_json) seeds="demo tests/golden tests/rule-pack" ;;
        fuzz_evtx) seeds="" ;;
        fuzz_auditd|fuzz_sysmon_linux) seeds="tests/readers/mixed" ;;
        *) seeds="" ;;
    esac
    for d in $seeds; do
        [ -d "$d" ] && find "$d" -type f \( -name '*.yml' -o -name '*.json' -o -name '*.jsonl' -o -name '*.gz' \) -size -64k -exec cp {} "$corpus/" \; 2>/dev/null
    done
    # our own small seeds (tests/fuzz/seeds/<harness>/)
    [ -d "tests/fuzz/seeds/$name" ] && cp tests/fuzz/seeds/"$name"/* "$corpus/"
    # inputs that once failed run first in every session
    [ -d "tests/fuzz/found/$name" ] && cp tests/fuzz/found/"$name"/* "$corpus/"
    if [ "$name" = fuzz_auditd ] || [ "$name" = fuzz_sysmon_linux ]; then
        # text logs of any name: the mixed evidence folder, cut into small pieces
        for f in tests/readers/mixed/*; do
            case "$f" in *.md) continue ;; esac
            split -l 8 -a 3 "$f" "$corpus/$(basename "$f")." 2>/dev/null
        done
    fi
    if [ "$name" = fuzz_rules ] && [ -d ../shared/data/sigma/rules ]; then
        find ../shared/data/sigma/rules -name '*.yml' | head -300 | xargs -r cp -t "$corpus/" 2>/dev/null
    fi
    if [ "$name" = fuzz_json ] && [ -d ../shared/data/sigma/regression_data ]; then
        find ../shared/data/sigma/regression_data -name '*.json' -size -64k | head -100 | xargs -r cp -t "$corpus/" 2>/dev/null
    fi
    if [ "$name" = fuzz_evtx ] && [ -d ../shared/data/evtx ] && [ -z "$(ls -A "$corpus")" ]; then
        # the harness puts a file header in front of input that lacks one:
        # seed with chunk bodies cut from a sample of the shared files
        i=0
        find ../shared/data/evtx ../shared/data/sigma/regression_data -name '*.evtx' | sort | while IFS= read -r f; do
            i=$((i + 1))
            [ $((i % 8)) -eq 0 ] || continue
            dd if="$f" of="$corpus/chunk$i" bs=4096 skip=1 count=16 2>/dev/null || true
        done
    fi
    [ -n "$(ls -A "$corpus")" ] || printf '{}' > "$corpus/empty"
    if STOAT_HOME="$ROOT" "$bin" -max_total_time="$SECONDS_EACH" -max_len=1048576 -rss_limit_mb=2048 \
        -artifact_prefix="$OUT/crashes/$name-" -print_final_stats=1 "$corpus" >"$OUT/$name.log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$OUT/$name.log" | grep -o '[0-9]*$')
        echo "PASS $name (${runs:-?} inputs in ${SECONDS_EACH}s)"
        pass=$((pass+1))
    else
        echo "FAIL $name (see $OUT/$name.log and $OUT/crashes/)"
        tail -30 "$OUT/$name.log"
        fail=$((fail+1))
    fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
