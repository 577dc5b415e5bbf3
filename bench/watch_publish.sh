#!/bin/bash
# What publishing adds to `stoat watch` on an exec storm (needs root and
# nats-server): the storm of bench/sensor_bench.sh (every core fork+exec'ing
# /bin/true as fast as it can) under `stoat watch` alone and under
# `stoat watch --publish` to a JetStream server on a loopback port (a temp
# store, killed at the end), interleaved over ROUNDS so other load on the
# machine hits both alike. The figure is the watch process's own CPU (user +
# sys, from /proc) per process spawned and per second of storm: what the
# publisher (batching, compression, the spool, the client) adds to it, and
# that as a share of the machine's CPU during the storm.
# usage: bench/watch_publish.sh   env: SECS=5 ROUNDS=3 STOAT=build/stoat
set -u
cd "$(dirname "$0")/.."
STOAT=${STOAT:-build/stoat}
BENCH=${BENCH:-build/bench/sensor_bench}
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-3}
NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
[ "$(id -u)" -eq 0 ] || { echo "watch publish bench: needs root (skipped)"; exit 0; }
[ -x "$NATS" ] || { echo "watch publish bench: nats-server is not installed (skipped)"; exit 0; }
[ -x "$STOAT" ] && [ -x "$BENCH" ] || { echo "watch publish bench: make $STOAT $BENCH first"; exit 1; }
T=$(mktemp -d /tmp/stoat-bench-wpub.XXXXXX)
PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 19000))
URL=nats://127.0.0.1:$PORT
SPID=
WATCH_PID=
cleanup() {
	[ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
"$NATS" -js -a 127.0.0.1 -p "$PORT" -sd "$T/js" >"$T/server.log" 2>&1 &
SPID=$!
sleep 1
"$STOAT" fleet setup --server "$URL" >"$T/setup.out" 2>&1 || { echo "fleet setup failed: $(cat "$T/setup.out")"; exit 1; }

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
spawned() { sed -n 's/^storm: \([0-9]*\) processes.*/\1/p' "$1"; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }
HZ=$(getconf CLK_TCK)

run() { # run NAME ARGS...: one storm under stoat watch ARGS; NAME.us = watch CPU us per process
	local name=$1
	shift
	"$STOAT" watch --format jsonl -o "$T/$name.alerts" "$@" 2>"$T/$name.err" &
	WATCH_PID=$!
	for _ in $(seq 1 300); do
		grep -q "mode:" "$T/$name.err" 2>/dev/null && break
		sleep 0.1
	done
	sleep 0.5
	local t0
	t0=$(ticks "$WATCH_PID")
	"$BENCH" storm "$SECS" >"$T/$name.storm"
	sleep 0.3 # the last events through the watch
	local t1
	t1=$(ticks "$WATCH_PID")
	kill -TERM "$WATCH_PID"
	wait "$WATCH_PID"
	WATCH_PID=
	awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v n="$(spawned "$T/$name.storm")" \
		'BEGIN { if (n > 0) printf "%.2f %d %.3f\n", (b - a) / hz * 1e6 / n, n, (b - a) / hz }' >"$T/$name.us"
}

for r in $(seq "$ROUNDS"); do
	run "plain.$r"
	run "pub.$r" --publish "$URL" --spool "$T/spool.$r"
done

col() { for r in $(seq "$ROUNDS"); do awk -v k="$2" '{ print $k }' "$T/$1.$r.us"; done | median; }
P=$(col plain 1)
Q=$(col pub 1)
N=$(col pub 2)
echo "== stoat watch --publish on an exec storm: $(nproc) workers x fork+exec /bin/true, ${SECS}s, median of $ROUNDS interleaved rounds"
printf '%-34s %s\n' "stoat watch, its own cpu" "$P us per process"
printf '%-34s %s\n' "stoat watch --publish, its own cpu" "$Q us per process ($N processes per storm)"
awk -v p="$P" -v q="$Q" -v n="$N" -v s="$SECS" -v c="$(nproc)" 'BEGIN {
	d = q - p
	printf "%-34s %.2f us per process = %.2f%% of one core, %.2f%% of the machine'"'"'s %d cores during the storm\n",
		"publishing adds", d, d * n / (s * 1e6) * 100, d * n / (s * 1e6 * c) * 100, c }'
grep -h '^stoat watch: published' "$T"/pub.*.err | sed 's/^/  /'
grep -h ' lost' "$T"/pub.*.err | grep '^stoat watch: [0-9]* events' | sed 's/^/  /'
