#!/bin/bash
# A host's events reaching the centre out of order (issue 12, the CI flake
# of tests/fleet-scale): when a NATS node dies, a publisher's batch whose
# publish timed out goes to its spool and its newer batches go first, so
# the worker reads the host's later events, goes idle (its correlations
# are fed and the host's clock moves on), and only then the earlier ones.
# Here, deterministically: one host publishes the end of its day (the
# last three programs of the discovery burst, too few to fire "Windows
# discovery burst", 9630962a, value_count over 10 minutes), the worker
# drains it and runs idle, then the host publishes the start of its day
# (the burst's first programs). The worker must judge the host's windows
# as if the events had come in time order: the alerts stored are exactly
# `stoat hunt`'s over the whole day, the correlation once, at hunt's time.
# One JetStream server on a random loopback port, killed by pid at exit.
# Skipped, with a message, when nats-server is absent.
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-./stoat}
P=0; F=0
ok() { P=$((P + 1)); echo "ok   $1"; }
bad() { F=$((F + 1)); echo "FAIL $1"; }
finish() { echo "fleet-order: $P passed, $F failed"; [ "$F" = 0 ]; exit $?; }
if ! command -v nats-server >/dev/null 2>&1; then
    echo "SKIP fleet-order: nats-server not installed"
    echo "fleet-order: 0 passed, 0 failed"
    exit 0
fi
T=$(mktemp -d /tmp/stoat-fleet-order.XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 19000))
SRV="--server nats://127.0.0.1:$PORT"
nats-server -a 127.0.0.1 -p "$PORT" -js -sd "$T/js" >"$T/n.log" 2>&1 &
PIDS="$PIDS $!"
i=0
until $STOAT fleet setup $SRV --replicas 1 --partitions 1 >"$T/setup.out" 2>&1; do
    i=$((i + 1)); [ $i -gt 30 ] && break; sleep 1
done
grep -q "1 partition consumers" "$T/setup.out" && ok "setup: one server, one partition" ||
    { bad "setup"; cat "$T/setup.out"; finish; }

RULE=9630962a-22f5-40c2-9055-ceeadc493443
HOST=fab-ws07.corp.chipfab.example
zcat demo/windows-fab-ws07.jsonl.gz >"$T/day.jsonl"
alerts() {   # alerts DB: rule, host, event time of every alert, sorted
    sqlite3 "$1" "SELECT r.uid || '|' || h.name || '|' || coalesce(a.timestamp, '') FROM alerts a
                  JOIN rules r ON r.id = a.rule_id JOIN hosts h ON h.id = a.host_id
                  WHERE r.category IS NOT 'fleet'" | sort
}
count() {   # count DB: how many alerts of the correlation are stored
    sqlite3 "$1" "SELECT count(*) FROM alerts a JOIN rules r ON r.id = a.rule_id WHERE r.uid = '$RULE'" 2>/dev/null
}
drained() {
    for _ in $(seq 1 60); do
        $STOAT fleet status $SRV >"$T/status" 2>&1
        grep -q "lag: 0 batches waiting, 0 awaiting" "$T/status" && return 0
        sleep 1
    done
    return 1
}
# the split: the late part starts at the burst's arp -a, three programs
# before its end (alone they are too few to fire)
cut=$(grep -n '"EventID":1,' "$T/day.jsonl" | grep 'System32\\\\ARP.EXE' | tail -1 | cut -d: -f1)
[ -n "$cut" ] || { bad "the burst's arp -a not found"; finish; }
head -n $((cut - 1)) "$T/day.jsonl" >"$T/early.jsonl"
tail -n +"$cut" "$T/day.jsonl" >"$T/late.jsonl"
$STOAT hunt -q --db "$T/hunt.db" -o /dev/null "$T/day.jsonl"
alerts "$T/hunt.db" >"$T/expect"
$STOAT hunt -q --db "$T/late.db" -o /dev/null "$T/late.jsonl"
[ "$(count "$T/hunt.db")" = 1 ] && [ "$(count "$T/late.db")" = 0 ] &&
    ok "hunt: the burst fires once over the day, never over its end alone" ||
    { bad "hunt: $(count "$T/hunt.db") firings over the day, $(count "$T/late.db") over its end"; finish; }

$STOAT fleet $SRV --db "$T/fleet.db" --worker wo -v >"$T/wo.log" 2>&1 &
WO=$!; PIDS="$PIDS $WO"
pub() {
    $STOAT publish $SRV --host "$HOST" --spool "$T/spool" --wait 60 "$1" >"$T/pub.out" 2>&1 ||
        { bad "publish $1"; cat "$T/pub.out"; finish; }
}
pub "$T/late.jsonl"
drained || bad "the worker did not drain the end of the day"
# idle rounds (one a second): the end's matches are fed, the clock moves on
for _ in $(seq 1 30); do grep -q "wo reads part-0" "$T/wo.log" && break; sleep 1; done
sleep 3
pub "$T/early.jsonl"
drained || bad "the worker did not drain the start of the day"
n=0
for _ in $(seq 1 30); do
    n=$(count "$T/fleet.db"); [ "$n" = 1 ] && break; sleep 1
done
[ "$n" = 1 ] && ok "the start of the day, come last, makes the burst fire while the worker runs" ||
    bad "running worker: $n firings stored (want 1)"
kill -TERM $WO; wait $WO 2>/dev/null
alerts "$T/fleet.db" >"$T/got"
cmp -s "$T/expect" "$T/got" && ok "the same $(wc -l <"$T/got") alerts as stoat hunt over the day, each once" ||
    { bad "alerts differ from stoat hunt"; diff "$T/expect" "$T/got" | head; }
grep -q "rebuilt [1-9]" "$T/wo.log" && ok "the worker rebuilt the host's windows (summary)" ||
    { bad "no rebuild in the summary"; grep -i "correlation" "$T/wo.log"; }
finish
