#!/bin/bash
# A Sigma correlation across a fleet worker's stop and a takeover (issue 12):
#   - one host publishes a day whose events make "Windows discovery burst"
#     (9630962a, value_count over 10 minutes) fire once, as `stoat hunt`
#     finds over the same file;
#   - a worker that has processed the events and then hears nothing more
#     stores the alert while still running (its clock moves on while idle);
#   - it stops cleanly: the alert is there once;
#   - a second worker takes the partition over and replays the stored
#     batches (the window is rebuilt and fires again), runs idle and stops:
#     the alert is still stored exactly once, and every alert is hunt's;
#   - incidents likewise (an incident gap of 15 minutes splits the day's
#     chain in two): the idle worker stores the first, whose gap its
#     clock passed, while it runs; its stop closes the second; the second
#     worker's replay rebuilds both, and neither is stored again.
# One JetStream server on a random loopback port, killed by pid at exit.
# Skipped, with a message, when nats-server is absent.
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-./stoat}
P=0; F=0
ok() { P=$((P + 1)); echo "ok   $1"; }
bad() { F=$((F + 1)); echo "FAIL $1"; }
finish() { echo "fleet-corr: $P passed, $F failed"; [ "$F" = 0 ]; exit $?; }
if ! command -v nats-server >/dev/null 2>&1; then
    echo "SKIP fleet-corr: nats-server not installed"
    echo "fleet-corr: 0 passed, 0 failed"
    exit 0
fi
T=$(mktemp -d /tmp/stoat-fleet-corr.XXXXXX)
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
zcat demo/windows-fab-ws07.jsonl.gz >"$T/day.jsonl"
$STOAT hunt -q --db "$T/hunt.db" -o /dev/null "$T/day.jsonl"
alerts() {   # alerts DB: rule, host, event time of every alert, sorted
    sqlite3 "$1" "SELECT r.uid || '|' || h.name || '|' || coalesce(a.timestamp, '') FROM alerts a
                  JOIN rules r ON r.id = a.rule_id JOIN hosts h ON h.id = a.host_id
                  WHERE r.category IS NOT 'fleet'" | sort
}
count() {   # count DB: how many alerts of the correlation are stored
    sqlite3 "$1" "SELECT count(*) FROM alerts a JOIN rules r ON r.id = a.rule_id WHERE r.uid = '$RULE'" 2>/dev/null
}
alerts "$T/hunt.db" >"$T/expect"
$STOAT hunt -q --incident-gap 15m --db "$T/hunt-inc.db" -o /dev/null "$T/day.jsonl"
incidents() {   # incidents DB: host, first and last alert time of every host's incident, sorted
    sqlite3 "$1" "SELECT h.name || '|' || i.first_ns || '|' || i.last_ns FROM incidents i
                  JOIN hosts h ON h.id = i.host_id WHERE i.hosts IS NULL" 2>/dev/null | sort
}
incidents "$T/hunt-inc.db" >"$T/expect-inc"
[ "$(wc -l <"$T/expect-inc")" = 2 ] && ok "hunt: two incidents with a 15-minute gap" ||
    bad "hunt: $(wc -l <"$T/expect-inc") incidents with a 15-minute gap"
[ "$(count "$T/hunt.db")" = 1 ] && ok "hunt: the correlation fires once over the day" ||
    { bad "hunt: $(count "$T/hunt.db") firings of $RULE"; finish; }
drained() {
    for _ in $(seq 1 60); do
        $STOAT fleet status $SRV >"$T/status" 2>&1
        grep -q "lag: 0 batches waiting, 0 awaiting" "$T/status" && return 0
        sleep 1
    done
    return 1
}

$STOAT fleet $SRV --db "$T/fleet.db" --worker wa -v --incident-gap 15m >"$T/wa.log" 2>&1 &
WA=$!; PIDS="$PIDS $WA"
$STOAT publish $SRV --host fab-ws07.corp.chipfab.example --spool "$T/spool" --wait 60 "$T/day.jsonl" >"$T/pub.out" 2>&1 ||
    { bad "publish"; cat "$T/pub.out"; finish; }
drained || bad "the worker did not drain the partition"
# no more events: the idle worker's clock moves on and the firing is stored
n=0
for _ in $(seq 1 30); do
    n=$(count "$T/fleet.db"); [ "$n" = 1 ] && break; sleep 1
done
[ "$n" = 1 ] && ok "an idle worker stores the correlation alert without more events" ||
    bad "idle worker: $n firings stored (want 1 before it stops)"
for _ in $(seq 1 30); do [ -n "$(incidents "$T/fleet.db")" ] && break; sleep 1; done
[ "$(incidents "$T/fleet.db")" = "$(head -1 "$T/expect-inc")" ] &&
    ok "an idle worker stores the incident whose gap has passed, without more events" ||
    { bad "idle worker's incidents"; incidents "$T/fleet.db"; }
kill -TERM $WA; wait $WA 2>/dev/null
[ "$(count "$T/fleet.db")" = 1 ] && ok "after a clean stop: stored once" ||
    bad "after a clean stop: $(count "$T/fleet.db") firings stored"

# a second worker takes the partition over: replays, rebuilds the window
$STOAT fleet $SRV --db "$T/fleet.db" --worker wb -v --incident-gap 15m >"$T/wb.log" 2>&1 &
WB=$!; PIDS="$PIDS $WB"
for _ in $(seq 1 30); do grep -q "wb replayed [1-9]" "$T/wb.log" && break; sleep 1; done
grep -q "wb replayed [1-9][0-9]* stored batches" "$T/wb.log" && ok "the second worker replayed the stored batches" ||
    { bad "no replay"; cat "$T/wb.log"; }
sleep 3 # idle rounds: the rebuilt window is judged again
kill -TERM $WB; wait $WB 2>/dev/null
[ "$(count "$T/fleet.db")" = 1 ] && ok "after the replay and a second stop: stored exactly once" ||
    bad "after the replay: $(count "$T/fleet.db") firings stored"
alerts "$T/fleet.db" >"$T/got"
incidents "$T/fleet.db" >"$T/got-inc"
cmp -s "$T/expect-inc" "$T/got-inc" && ok "after the replay and a second stop: hunt's two incidents, each once" ||
    { bad "incidents differ from stoat hunt's"; diff "$T/expect-inc" "$T/got-inc"; }
grep -q "incidents stored before: [1-9]" "$T/wb.log" && ok "the second worker knew the replayed incidents" ||
    bad "the second worker stored no incident known before"
cmp -s "$T/expect" "$T/got" && ok "the same $(wc -l <"$T/got") alerts as stoat hunt" ||
    { bad "alerts differ from stoat hunt"; diff "$T/expect" "$T/got" | head; }
finish
