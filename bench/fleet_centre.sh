#!/bin/sh
# The fleet centre's end-to-end figures: events/s from publish to stored alert, and
# the latency from a batch's publish (Stoat-Sent) to the commit of its
# alerts (p50, p99), through a three-node JetStream cluster with R3 streams
# on this machine. Timings belong here, never in tests.
#   FLEET_HOSTS=40       simulated hosts (each the demo's Linux or Windows day)
#   FLEET_REPEAT=4       times each host's day is published
#   FLEET_WORKERS=1      `stoat fleet` processes sharing the partitions
#   FLEET_PUBLISHERS=2   publishing processes (hosts split between them)
#   FLEET_PARTITIONS=8
#   FLEET_RATE=N         each publisher keeps to N events/s (latency below saturation)
#   FLEET_RAW=1          publish plain JSON lines (the format before compression)
#   FLEET_PHASED=1       publish everything first, then start the workers and
#                        time the drain alone (the centre's own rate)
# Prints "fleet: N events in S s: E events/s end to end; latency p50 A s,
# p99 B s; worker peak RSS M MB" (phased: "fleet centre alone: ..."), then
# the CPU each kind of process spent per event over the measured span
# (getrusage of the publishers, /proc of the nodes, the worker's own count
# from its first batch to its last commit), the sum, and the rate two
# quiet cores would carry at that cost, with the load average: wall
# figures on a shared machine move with the load, CPU per event much less.
# Skipped when nats-server is absent.
set -u
cd "$(dirname "$0")/.."
STOAT=${STOAT:-build/stoat}
PUB=${FLEET_PUB:-build/bench/fleet_pub}
HOSTS=${FLEET_HOSTS:-40}
REPEAT=${FLEET_REPEAT:-4}
WORKERS=${FLEET_WORKERS:-1}
PUBS=${FLEET_PUBLISHERS:-2}
PARTS=${FLEET_PARTITIONS:-8}
command -v nats-server >/dev/null 2>&1 || { echo "fleet: skipped (nats-server not installed)"; exit 0; }
[ -x "$PUB" ] || make -s "$PUB" >/dev/null
T=$(mktemp -d /tmp/stoat-fleet-bench.XXXXXX)
PIDS=""
WPIDS=""
cleanup() { for p in $PIDS $WPIDS; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; [ -n "${FLEET_KEEP:-}" ] && cp "$T"/w0.log /tmp/fc-w0.log; rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
BASE=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 19000))
ROUTES="nats://127.0.0.1:$((BASE + 10)),nats://127.0.0.1:$((BASE + 11)),nats://127.0.0.1:$((BASE + 12))"
SRV=""
for n in 0 1 2; do
    nats-server -a 127.0.0.1 -p $((BASE + n)) -js -sd "$T/js$n" -n "n$n" --cluster_name stoatb \
        --cluster "nats://127.0.0.1:$((BASE + 10 + n))" --routes "$ROUTES" >"$T/n$n.log" 2>&1 &
    PIDS="$PIDS $!"
    SRV="$SRV --server nats://127.0.0.1:$((BASE + n))"
done
i=0
until $STOAT fleet setup $SRV --replicas 3 --partitions "$PARTS" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 30 ] && { echo "fleet: the cluster did not start"; exit 1; }; sleep 1
done
$STOAT dump demo/linux-design-srv01.jsonl.gz >"$T/lin.jsonl"
$STOAT dump demo/windows-fab-ws07.jsonl.gz >"$T/win.jsonl"
h=0
while [ $h -lt "$HOSTS" ]; do
    if [ $((h % 2)) -eq 0 ]; then sed "s/design-srv01/design-srv$h/g" "$T/lin.jsonl" >"$T/host$h.jsonl"
    else sed "s/FAB-WS07/FAB-WS$h/g; s/fab-ws07/fab-ws$h/g" "$T/win.jsonl" >"$T/host$h.jsonl"; fi
    h=$((h + 1))
done
start_workers() {
w=0
while [ $w -lt "$WORKERS" ]; do
    $STOAT fleet $SRV --db "$T/fleet.db" --worker "w$w" -j 2 -v >"$T/w$w.log" 2>&1 &
    WPIDS="$WPIDS $!"
    w=$((w + 1))
done
}
# CPU seconds (user + system) of a live process, from /proc
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null; }
nodes_cpu() { s=0; for p in $PIDS; do s=$(echo "$s $(cpu_of "$p")" | awk '{print $1 + $2}'); done; echo "$s"; }
if [ -z "${FLEET_PHASED:-}" ]; then
    start_workers
    sleep 6   # leases taken
fi
ncpu0=$(nodes_cpu)
start=$(date +%s.%N)
p=0
while [ $p -lt "$PUBS" ]; do
    args=""
    h=$p
    while [ $h -lt "$HOSTS" ]; do args="$args host$h=$T/host$h.jsonl"; h=$((h + PUBS)); done
    /usr/bin/time -f "time %e %U %S %M" -o "$T/ptime$p" "$PUB" $SRV --repeat "$REPEAT" ${FLEET_RATE:+--rate "$FLEET_RATE"} ${FLEET_RAW:+--raw} ${FLEET_BATCH:+--batch "$FLEET_BATCH"} ${FLEET_BATCH_KIB:+--batch-kib "$FLEET_BATCH_KIB"} $args >"$T/pub$p.out" 2>&1 &
    p=$((p + 1))
done
wait_pubs() { for f in $(seq 0 $((PUBS - 1))); do while [ ! -s "$T/ptime$f" ]; do sleep 0.1; done; done; }
wait_pubs
ncpu_pub=$(nodes_cpu)
if [ -n "${FLEET_PHASED:-}" ]; then
    start=$(date +%s.%N)
    start_workers
fi
i=0
while :; do
    $STOAT fleet status $SRV >"$T/status" 2>/dev/null
    grep -q "lag: 0 batches waiting, 0 awaiting" "$T/status" && break
    # seldom: each status asks the cluster about every consumer, CPU the
    # figures would pay for (the end is the workers' own last commit)
    i=$((i + 1)); [ $i -gt 300 ] && break; sleep 1
done
ncpu_end=$(nodes_cpu)
load=$(cut -d' ' -f1-3 /proc/loadavg)
ncpu=""
for p in $PIDS; do ncpu="$ncpu $(cpu_of "$p")"; done
wcpu=""
for p in $WPIDS; do wcpu="$wcpu $(cpu_of "$p")"; done
# peak RSS (VmHWM) of each worker before it is stopped, by its pid
for p in $WPIDS; do sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$p/status" >"$T/rss$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
for p in $WPIDS; do wait "$p" 2>/dev/null; done
WPIDS=""
events=$(cat "$T"/pub*.out | sed -n 's/published: \([0-9]*\) events.*/\1/p' | awk '{s += $1} END {print s}')
stored=$(grep -ho "[0-9]* events," "$T"/w*.log | awk '{s += $1} END {print s}')
end=$(sed -n 's/.*last commit at \([0-9.]*\)).*/\1/p' "$T"/w*.log | sort -n | tail -1)
wbusy=$(sed -n 's/.*events\/s, \([0-9.]*\) CPU s.*/\1/p' "$T"/w*.log | awk '{s += $1} END {print s + 0}')
[ -n "$end" ] || end=$(date +%s.%N)
lat=$(grep -h "latency" "$T"/w*.log | sed -n 's/.*p50 \([0-9.]*\) s, p99 \([0-9.]*\) s.*/\1 \2/p' | sort -k2 -n | tail -1)
rss=$(cat "$T"/rss* 2>/dev/null | sort -n | tail -1)
awk -v ph="${FLEET_PHASED:+ centre alone (published first, timed from the workers' start)}" -v n="$events" -v st="$stored" -v a="$start" -v b="$end" -v l="$lat" -v r="${rss:-0}" 'BEGIN {
    split(l, x, " "); s = b - a;
    printf "fleet%s: %d events published, %d stored, in %.1f s: %.0f events/s end to end (3-node cluster, R3); latency p50 %s s, p99 %s s; worker peak RSS %.0f MB\n",
        ph, n, st, s, n / s, x[1], x[2], r / 1024 }'
cat "$T"/w*.log | grep "^fleet " | sed 's/^/  /'
# the stages: publishers (their own wall time to the last ack), and CPU by process
cat "$T"/ptime* | awk -v np="$PUBS" -v n="$events" '/^time/ { if ($2 > e) e = $2; u += $3 + $4; if ($5 > m) m = $5 }
    END { printf "  publish stage: %.0f events/s (%d publishers, slowest %.1f s), publisher CPU %.1f s, peak RSS %.0f MB\n", n / e, np, e, u, m / 1024 }'
echo "  CPU seconds, whole lives: workers$wcpu; NATS nodes$ncpu"
pcpu=$(cat "$T"/ptime* | awk '/^time/ { u += $3 + $4 } END { print u + 0 }')
awk -v n="$events" -v p="$pcpu" -v a="$ncpu0" -v b="$ncpu_pub" -v c="$ncpu_end" -v w="$wbusy" -v l="$load" -v ph="${FLEET_PHASED:-}" 'BEGIN {
    if (n <= 0) exit;
    nodes = c - a; t = p + nodes + w;
    printf "  CPU per event: publishers %.2f us, NATS nodes %.2f us (%.2f until the publishers finished, %.2f after), worker %.2f us (first batch to last commit): %.2f us in all\n",
        p * 1e6 / n, nodes * 1e6 / n, (b - a) * 1e6 / n, (c - b) * 1e6 / n, w * 1e6 / n, t * 1e6 / n;
    printf "  at that cost two quiet cores would carry %.0f events/s end to end (measured at load average %s)\n", 2 * n / t, l }'

