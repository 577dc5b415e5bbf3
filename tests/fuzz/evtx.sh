#!/bin/sh
# Builds the EVTX fuzz harness with clang (libFuzzer + ASan + UBSan) and runs
# it for SECONDS (default 60). The seed corpus is made at run time from the
# shared EVTX files (their first chunks, and a few small whole files); nothing
# from ../shared is copied into the repo. Crashes land in build-fuzz/evtx/.
set -eu
SECONDS_TO_RUN=${1:-60}
cd "$(dirname "$0")/../.."
OUT=build-fuzz/evtx
mkdir -p "$OUT/corpus" "$OUT/artifacts"
SRCS=$(ls src/readers/evtx*.c)
clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=all -Isrc -o "$OUT/fuzz_evtx" tests/fuzz/fuzz_evtx.c $SRCS
DATA=../shared/data
if [ -d "$DATA" ] && [ -z "$(ls -A "$OUT/corpus")" ]; then
    i=0
    find "$DATA/evtx" "$DATA/sigma/regression_data" -name '*.evtx' 2>/dev/null | sort |
    while IFS= read -r f; do
        i=$((i + 1))
        [ $((i % 8)) -eq 0 ] || continue   # a sample is plenty
        # chunk 0 on its own (the harness puts a header in front)
        dd if="$f" of="$OUT/corpus/chunk$i" bs=4096 skip=1 count=16 2>/dev/null || true
    done
fi
[ -n "$(ls -A "$OUT/corpus")" ] || printf 'ElfChnk\0' > "$OUT/corpus/empty"
"$OUT/fuzz_evtx" -max_total_time="$SECONDS_TO_RUN" -max_len=70000 -rss_limit_mb=2048 \
    -artifact_prefix="$OUT/artifacts/" -print_final_stats=1 "$OUT/corpus" 2>&1 | tail -15
