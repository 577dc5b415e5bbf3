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
#     worker's replay rebuilds both, and neither is stored again;
#   - the partition goes to another worker and comes back while the burst
#     is under way: the worker taking it back replays what the other read
#     (its own state lacked it), and the alerts are hunt's;
#   - a host's events come out of order (the CI flake of tests/fleet-scale:
#     when a NATS node dies, a publisher's batch whose publish timed out
#     goes to its spool and its newer batches go first): the end of a day
#     (the burst's last three programs, too few to fire alone) is
#     published, the worker drains it and runs idle (its correlations are
#     fed and the host's clock moves on), then the start of the day: the
#     host's windows are rebuilt and the alerts are hunt's over the whole
#     day, the burst once, at hunt's time;
#   - a worker that is never idle (another host's backlog) stores the
#     burst's correlation and closes a quiet host's last incident (by the
#     wall time the host has been quiet) while it works;
#   - a clean stop ends the worker's runs, its cross-host role's included.
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
    [ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
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
# its stop closed an incident: stored with the worker's run ended, and the
# cross-host role's run too (the role's end used to wait on the worker's own
# uncommitted stop and fail, unsaid, leaving its run "aborted")
runs() { sqlite3 "$T/fleet.db" "SELECT group_concat(producer || '=' || status, ' ') FROM runs WHERE args LIKE '%--worker $1 %'"; }
[ "$(runs wa)" = "fleet=done fleet-cross=done" ] && ! grep -qi "error" "$T/wa.log" &&
    ok "a clean stop ends the worker's runs (its own and its cross-host role's)" ||
    { bad "runs after a clean stop: $(runs wa)"; grep -i error "$T/wa.log"; }
# every fact the worker derived went out, those of the idle rounds (the
# correlation and the incident closed by its clock) included: they used to
# wait for a next batch that never came
facts=$(sed -n 's/.*facts published: \([0-9]*\) ([0-9]* messages) of \([0-9]*\) derived, \([0-9]*\) with.*/\1 \2 \3/p' "$T/wa.log")
set -- $facts
[ -n "$facts" ] && [ "$2" -gt 0 ] && [ $(($1 + $3)) = "$2" ] &&
    ok "every fact derived was published ($1 of $2), the idle rounds' included" ||
    { bad "facts not published: $facts"; grep 'facts published' "$T/wa.log"; }

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

# The partition goes from wc to wd and back while the burst is under way:
# wc reads the day up to the burst's first command (whoami), stops answering
# until its lease expires (SIGSTOP), wd takes over and reads the next two
# (net group), then stops; wc takes the partition back and reads the rest.
# Neither alone saw the burst's first four programs: wc must replay what wd
# read while it held the partition (it judged whoami + nltest, ipconfig,
# systeminfo: the alert 66 s late, at systeminfo).
sed 's/fab-ws07/bounce01/g; s/FAB-WS07/BOUNCE01/g' "$T/day.jsonl" >"$T/bounce.jsonl"
nl=$(grep -n '"EventID":1,' "$T/bounce.jsonl" | grep -m1 'System32\\\\nltest.exe' | cut -d: -f1)
first=$(head -n "${nl:-0}" "$T/bounce.jsonl" | grep -n '"EventID":1,' | grep 'System32\\\\whoami.exe' | tail -1 | cut -d: -f1)
if [ -z "$first" ] || [ -z "$nl" ] || [ "$nl" -le "$first" ]; then bad "the burst's commands not found"; finish; fi
head -n "$first" "$T/bounce.jsonl" >"$T/b1.jsonl"
sed -n "$((first + 1)),$((nl - 1))p" "$T/bounce.jsonl" >"$T/b2.jsonl"
tail -n +"$nl" "$T/bounce.jsonl" >"$T/b3.jsonl"
$STOAT hunt -q --db "$T/bhunt.db" -o /dev/null "$T/bounce.jsonl"
alerts "$T/bhunt.db" | grep '|bounce01' >"$T/bexpect"
pub() { $STOAT publish $SRV --spool "$T/bspool" --wait 60 "$1" >"$T/bpub.out" 2>&1 || { bad "publish $1"; cat "$T/bpub.out"; }; }
$STOAT fleet $SRV --db "$T/fleet.db" --worker wc -v >"$T/wc.log" 2>&1 &
WC=$!; PIDS="$PIDS $WC"
for _ in $(seq 1 30); do grep -q "wc reads part-0" "$T/wc.log" && break; sleep 1; done
pub "$T/b1.jsonl"; drained || bad "wc did not drain the first part"
$STOAT fleet $SRV --db "$T/fleet.db" --worker wd -v >"$T/wd.log" 2>&1 &
WD=$!; PIDS="$PIDS $WD"
kill -STOP $WC
for _ in $(seq 1 40); do grep -q "wd reads part-0" "$T/wd.log" && break; sleep 1; done
kill -CONT $WC
grep -q "wd reads part-0" "$T/wd.log" && ok "wc silent: wd took the partition over" || bad "wd never took the partition"
for _ in $(seq 1 20); do grep -q "wc gave up role 0" "$T/wc.log" && break; sleep 1; done
pub "$T/b2.jsonl"; drained || bad "wd did not drain the second part"
kill -TERM $WD; wait $WD 2>/dev/null
for _ in $(seq 1 40); do [ "$(grep -c "wc reads part-0" "$T/wc.log")" -ge 2 ] && break; sleep 1; done
[ "$(grep -c "wc reads part-0" "$T/wc.log")" -ge 2 ] && ok "wd stopped: wc took the partition back" ||
    bad "wc did not take the partition back"
pub "$T/b3.jsonl"; drained || bad "wc did not drain the third part"
sleep 3 # idle rounds judge the window
kill -TERM $WC; wait $WC 2>/dev/null
alerts "$T/fleet.db" | grep '|bounce01' >"$T/bgot"
[ -s "$T/bexpect" ] && cmp -s "$T/bexpect" "$T/bgot" &&
    ok "partition taken back: the same $(wc -l <"$T/bgot") alerts as stoat hunt, the burst's included" ||
    { bad "partition taken back: alerts differ from stoat hunt"; diff "$T/bexpect" "$T/bgot" | head; }

# Out of order: the end of the day first, an idle worker, then the start.
sed 's/fab-ws07/order01/g; s/FAB-WS07/ORDER01/g' "$T/day.jsonl" >"$T/order.jsonl"
cut=$(grep -n '"EventID":1,' "$T/order.jsonl" | grep 'System32\\\\ARP.EXE' | tail -1 | cut -d: -f1)
[ -n "$cut" ] || { bad "the burst's arp -a not found"; finish; }
head -n $((cut - 1)) "$T/order.jsonl" >"$T/o1.jsonl"
tail -n +"$cut" "$T/order.jsonl" >"$T/o2.jsonl"
$STOAT hunt -q --db "$T/ohunt.db" -o /dev/null "$T/order.jsonl"
$STOAT hunt -q --db "$T/ohunt2.db" -o /dev/null "$T/o2.jsonl"
alerts "$T/ohunt.db" | grep '|order01' >"$T/oexpect"
[ "$(count "$T/ohunt.db")" = 1 ] && [ "$(count "$T/ohunt2.db")" = 0 ] &&
    ok "hunt: the burst fires once over the day, never over its end alone" ||
    bad "hunt: $(count "$T/ohunt.db") firings over the day, $(count "$T/ohunt2.db") over its end"
$STOAT fleet $SRV --db "$T/fleet.db" --worker we -v >"$T/we.log" 2>&1 &
WE=$!; PIDS="$PIDS $WE"
for _ in $(seq 1 40); do grep -q "we reads part-0" "$T/we.log" && break; sleep 1; done
pub "$T/o2.jsonl"; drained || bad "we did not drain the end of the day"
sleep 3 # idle rounds: the end's matches are fed, the host's clock moves on
pub "$T/o1.jsonl"; drained || bad "we did not drain the start of the day"
ocount() { sqlite3 "$T/fleet.db" "SELECT count(*) FROM alerts a JOIN rules r ON r.id = a.rule_id
                                  JOIN hosts h ON h.id = a.host_id WHERE r.uid = '$RULE' AND h.name LIKE 'order01%'"; }
for _ in $(seq 1 30); do [ "$(ocount)" = 1 ] && break; sleep 1; done
[ "$(ocount)" = 1 ] && ok "out of order: the start of the day, come last, makes the burst fire while the worker runs" ||
    bad "out of order: $(ocount) firings stored (want 1)"
kill -TERM $WE; wait $WE 2>/dev/null
alerts "$T/fleet.db" | grep '|order01' >"$T/ogot"
[ -s "$T/oexpect" ] && cmp -s "$T/oexpect" "$T/ogot" &&
    ok "out of order: the same $(wc -l <"$T/ogot") alerts as stoat hunt over the day, each once" ||
    { bad "out of order: alerts differ from stoat hunt"; diff "$T/oexpect" "$T/ogot" | head; }
grep -q "windows rebuilt [1-9]" "$T/we.log" && ok "out of order: the worker rebuilt the host's windows (summary)" ||
    { bad "out of order: no rebuild in the summary"; grep "rebuilt" "$T/we.log"; }

# A busy worker: it never runs idle while a backlog of another host's
# batches waits (every round fetches some). The day comes between two such
# backlogs. While the second still waits, the burst's correlation must be
# stored (kept matches are fed at most a second apart; they were fed only
# in idle rounds), and so must the day's last incident, which only the wall
# time since the host went quiet closes (a 2 s gap: the host's own clock
# moves on while the worker reads the other host; it moved only in idle
# rounds).
PUB=${FLEET_PUB:-build/bench/fleet_pub}
[ -x "$PUB" ] || make -s "$PUB" >/dev/null
$STOAT dump demo/linux-design-srv01.jsonl.gz >"$T/noise.jsonl"
# the day up to its log clearing: its last alerts are the last incident's
cut=$(grep -n -m1 'wevtutil' "$T/day.jsonl" | cut -d: -f1)
head -n $((${cut:-1} - 1)) "$T/day.jsonl" | sed 's/fab-ws07/busy01/g; s/FAB-WS07/BUSY01/g' >"$T/busy.jsonl"
$STOAT hunt -q --incident-gap 2s --db "$T/busy-hunt.db" -o /dev/null "$T/busy.jsonl"
binc() { sqlite3 "$1" "SELECT count(*) FROM incidents i JOIN hosts h ON h.id = i.host_id
                       WHERE i.hosts IS NULL AND h.name LIKE 'busy01%'"; }
want_inc=$(binc "$T/busy-hunt.db")
$PUB $SRV --batch 20 --repeat 2 noise01="$T/noise.jsonl" >"$T/noise.out" 2>&1 || bad "publish the first backlog"
pub "$T/busy.jsonl"
$PUB $SRV --batch 20 --repeat ${BUSY_REPEAT:-300} noise01="$T/noise.jsonl" >"$T/noise.out" 2>&1 || bad "publish the backlog"
bcount() { sqlite3 "$T/fleet.db" "SELECT count(*) FROM alerts a JOIN rules r ON r.id = a.rule_id
                                  JOIN hosts h ON h.id = a.host_id WHERE r.uid = '$RULE' AND h.name LIKE 'busy01%'"; }
$STOAT fleet $SRV --db "$T/fleet.db" --worker wf -v --incident-gap 2s >"$T/wf.log" 2>&1 &
WF=$!; PIDS="$PIDS $WF"
waiting() {   # batches still waiting in the partition
    $STOAT fleet status $SRV >"$T/status" 2>&1
    sed -n 's/.*lag: \([0-9]*\) batches waiting.*/\1/p' "$T/status" | head -1
}
burst_waiting= inc_waiting=
for _ in $(seq 1 900); do
    [ -z "$burst_waiting" ] && [ "$(bcount)" = 1 ] && burst_waiting=$(waiting)
    [ -z "$inc_waiting" ] && [ "$(binc "$T/fleet.db")" = "$want_inc" ] && inc_waiting=$(waiting)
    [ -n "$burst_waiting" ] && [ -n "$inc_waiting" ] && break
    sleep 0.1
done
[ "${burst_waiting:-0}" -gt 0 ] &&
    ok "a busy worker (never idle) stores the burst's correlation while it works ($burst_waiting batches still waiting)" ||
    bad "busy worker: the burst stored $([ -n "$burst_waiting" ] && echo "only once the backlog was drained" || echo never)"
[ "$want_inc" -gt 0 ] && [ "${inc_waiting:-0}" -gt 0 ] &&
    ok "a busy worker closes the quiet host's last incident while it works (hunt's $want_inc; $inc_waiting batches still waiting)" ||
    bad "busy worker: hunt's $want_inc incidents stored $([ -n "$inc_waiting" ] && echo "only once the backlog was drained" || echo never)"
drained || bad "wf did not drain the backlog"
kill -TERM $WF; wait $WF 2>/dev/null
[ "$(bcount)" = 1 ] && [ "$(binc "$T/fleet.db")" = "$want_inc" ] && ok "busy worker stopped: the burst stored once, hunt's incidents" ||
    bad "busy worker stopped: $(bcount) firings, $(binc "$T/fleet.db") incidents"
finish
