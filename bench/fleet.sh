#!/bin/sh
# `make bench-fleet`: the host side's figures on this machine, through one
# nats-server with JetStream on a loopback port (a temp store, killed at the
# end). Prints:
#   publish: events/s from `stoat publish` of a JSON lines file to the
#            stream's acks (whole runs, so reading and normalising included)
#   spool write / drain: the spool alone (bench_spool)
#   spool drain through the bus: events/s a later run sends a full spool
#            with --spool-rate lifted
# BENCH_FLEET_COPIES=20 (copies of the benign scenario logs, ~2,800 events each).
set -eu
cd "$(dirname "$0")/.."
STOAT=build/stoat
CHECK=build/tests/fleet/fleetcheck
NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$NATS" ] || { echo "bench-fleet: nats-server is not installed"; exit 0; }
T=$(mktemp -d /tmp/stoat-bench-fleet.XXXXXX)
PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 19000))
URL=nats://127.0.0.1:$PORT
"$NATS" -js -a 127.0.0.1 -p "$PORT" -sd "$T/js" >"$T/server.log" 2>&1 &
SPID=$!
trap 'kill $SPID 2>/dev/null; rm -rf "$T"' EXIT
sleep 1
"$CHECK" setup "$URL" 16 >/dev/null
i=0
while [ $i -lt "${BENCH_FLEET_COPIES:-20}" ]; do zcat tests/scenario/benign/*.jsonl.gz; i=$((i + 1)); done >"$T/ev.jsonl"
N=$("$STOAT" dump "$T/ev.jsonl" | wc -l)
ms() { date +%s%N | cut -c1-13; }
t0=$(ms)
"$STOAT" publish --server "$URL" --spool "$T/sp1" "$T/ev.jsonl" >"$T/p1.out" 2>&1
t1=$(ms)
echo "publish: $(tail -1 "$T/p1.out"); $((N * 1000 / (t1 - t0 + 1))) events/s end to end ($N events, $((t1 - t0)) ms)"
build/bench/bench_spool
# a full spool (a run with the server away), then sent by the next run
kill $SPID; wait $SPID 2>/dev/null || true
"$STOAT" publish --server "$URL" --spool "$T/sp2" --wait 1 "$T/ev.jsonl" >/dev/null 2>&1 || true
"$NATS" -js -a 127.0.0.1 -p "$PORT" -sd "$T/js" >>"$T/server.log" 2>&1 &
SPID=$!
sleep 1
head -1 "$T/ev.jsonl" >"$T/one.jsonl"
t0=$(ms)
"$STOAT" publish --server "$URL" --spool "$T/sp2" --spool-rate 1000000000 "$T/one.jsonl" >/dev/null 2>"$T/p2.err"
t1=$(ms)
echo "spool drain through the bus: $((N * 1000 / (t1 - t0 + 1))) events/s ($(grep -o '[0-9]* events of an earlier run' "$T/p2.err"), $((t1 - t0)) ms)"
