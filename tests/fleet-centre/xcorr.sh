#!/bin/bash
# Sigma correlations whose group-by spans hosts, in the fleet (issue 12):
#   - a generated fleet day (tests/cross/gen-fleet-day.py, seed 7) whose
#     file server and domain controller fall in partitions of four that two
#     workers hold apart (the first keeps 0-2, the second gets 3 and the
#     roles); the test rules (tests/cross/rules) count one account's and one
#     address's logons over several hosts, which only fire across hosts;
#     the day also fires correlations grouped by host (kept by the workers);
#   - two `stoat fleet` workers; the hosts publish,
#     and the worker holding the cross-host role is killed (SIGKILL) half
#     way; the other takes its partition and the role over;
#   - in the end the store holds exactly the alerts `stoat hunt` finds over
#     the same files (correlation groups included), none of them twice.
# One JetStream server on a random loopback port, killed by pid at exit.
# Skipped, with a message, when nats-server is absent.
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-./stoat}
GEN=tests/cross/gen-fleet-day.py
P=0; F=0
ok() { P=$((P + 1)); echo "ok   $1"; }
bad() { F=$((F + 1)); echo "FAIL $1"; }
finish() { echo "fleet-xcorr: $P passed, $F failed"; [ "$F" = 0 ]; exit $?; }
if ! command -v nats-server >/dev/null 2>&1; then
    echo "SKIP fleet-xcorr: nats-server not installed"
    echo "fleet-xcorr: 0 passed, 0 failed"
    exit 0
fi
T=$(mktemp -d /tmp/stoat-fleet-xcorr.XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ -n "${KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 19000))
SRV="--server nats://127.0.0.1:$PORT"
nats-server -a 127.0.0.1 -p "$PORT" -js -sd "$T/js" >"$T/n.log" 2>&1 &
PIDS="$PIDS $!"
i=0
until $STOAT fleet setup $SRV --replicas 1 --partitions 4 >"$T/setup.out" 2>&1; do
    i=$((i + 1)); [ $i -gt 30 ] && break; sleep 1
done
grep -q "4 partition consumers" "$T/setup.out" && ok "setup: one server, four partitions" ||
    { bad "setup"; cat "$T/setup.out"; finish; }

RULES="-r tests/cross/rules"
python3 "$GEN" --seed 7 --day attack --expect "$T/day.exp" "$T/day" >/dev/null
# shellcheck disable=SC2086
$STOAT hunt -q --db "$T/hunt.db" -o /dev/null $RULES "$T/day"
alerts() {   # alerts DB: rule, host, event time and correlation group of every alert, sorted
    sqlite3 "$1" "SELECT r.uid || '|' || coalesce(h.name, '') || '|' || coalesce(a.timestamp, '') || '|' ||
                         coalesce(c.grp, '') FROM alerts a JOIN rules r ON r.id = a.rule_id
                  LEFT JOIN hosts h ON h.id = a.host_id LEFT JOIN correlations c ON c.alert_id = a.id
                  WHERE r.category IS NOT 'fleet'" | sort
}
alerts "$T/hunt.db" >"$T/expect"
spanning() { grep -c '^2f7d5c10-[^|]*|(unknown host)|' "$1"; }   # the test rules' firings: no one host
[ "$(spanning "$T/expect")" -ge 2 ] && ok "hunt: $(spanning "$T/expect") firings across hosts" ||
    { bad "hunt: no firing across hosts"; cat "$T/expect"; finish; }
grep -q '^9630962a-[^|]*|[^|]' "$T/expect" && ok "hunt: and a correlation grouped by host" ||
    bad "hunt: no correlation grouped by host"
worker() {   # worker NAME: started in the background, pid in $T/NAME.pid
    # shellcheck disable=SC2086
    $STOAT fleet $SRV --db "$T/fleet.db" --worker "$1" -v --cross-idle 5 $RULES >"$T/$1.log" 2>&1 &
    echo $! >"$T/$1.pid"
    PIDS="$PIDS $!"
}
parts() {   # parts W: the partitions worker W holds now, from its log
    python3 - "$T/$1.log" <<'EOF'
import re, sys
held = set()
for l in open(sys.argv[1]):
    m = re.search(r"reads part-(\d+)$", l.strip()) or re.search(r"gave up role (\d+)$", l.strip())
    if m:
        (held.add if "reads" in l else held.discard)(int(m.group(1)))
print(" ".join(str(p) for p in sorted(held)))
EOF
}
worker wa; sleep 1; worker wb
for _ in $(seq 1 40); do
    [ -n "$(parts wa)" ] && [ -n "$(parts wb)" ] && [ "$(echo $(parts wa) $(parts wb) | wc -w)" = 4 ] && break
    sleep 1
done
python3 - "$T/day.exp" "$(parts wa)" "$(parts wb)" <<'EOF' && ok "the file server's and the domain controller's partitions are held by different workers" ||
import json, re, sys
def fnv(s):
    h = 0x811c9dc5
    for b in s.encode():
        h = ((h ^ b) * 0x01000193) & 0xffffffff
    return h
part = lambda n: fnv(n.split(".")[0]) % 4   # published as its short name
hosts = json.load(open(sys.argv[1]))["hosts"]
wa, wb = set(sys.argv[2].split()), set(sys.argv[3].split())
fs, dc = str(part(hosts["fileserver"])), str(part(hosts["dc"]))
sys.exit(0 if (fs in wa and dc in wb) or (fs in wb and dc in wa) else 1)
EOF
    bad "partitions held: wa $(parts wa), wb $(parts wb)"
H=""
for w in wa wb; do grep -q "reads cross" "$T/$w.log" && H=$w; done
[ -n "$H" ] && ok "$H holds the cross-host role" || { bad "nobody holds the cross-host role"; finish; }
if [ "$H" = wa ]; then S=wb; else S=wa; fi

publish() {   # publish HOST...: each host's file, its name as --host
    for h in "$@"; do
        $STOAT publish $SRV --host "$h" --spool "$T/spool-$h" --wait 30 "$T/day/$h.jsonl" >>"$T/pub.out" 2>&1 ||
            echo "publish $h failed" >>"$T/pub.err"
    done
}
drained() {   # the partitions and the facts have nothing left (90 s at most)
    for _ in $(seq 1 90); do
        $STOAT fleet status $SRV >"$T/status" 2>&1
        grep -q "lag: 0 batches waiting, 0 awaiting" "$T/status" && return 0
        sleep 1
    done
    return 1
}
FIRST=$(python3 -c 'import json, sys; h = json.load(open(sys.argv[1]))["hosts"]; print(h["fileserver"].split(".")[0], h["dc"].split(".")[0])' "$T/day.exp")
REST=$(cd "$T/day" && ls | sed 's/\.jsonl$//' | grep -v -x -F "$(echo "$FIRST" | tr ' ' '\n')")
# shellcheck disable=SC2086
publish $FIRST
drained || bad "the first hosts were not drained"
for _ in $(seq 1 30); do grep -q "correlation across hosts:" "$T/$H.log" && break; sleep 1; done
grep -q "correlation across hosts:" "$T/$H.log" &&
    ok "$H stored a correlation across the file server and the domain controller" ||
    bad "$H stored no correlation across hosts before it was killed"
kill -9 "$(cat "$T/$H.pid")"
# shellcheck disable=SC2086
publish $REST
sleep 20 # the dead worker's leases expire (15 s): its partition and the role move
drained || bad "the rest was not drained"
grep -q "$S reads cross" "$T/$S.log" && ok "$S took the cross-host role over" ||
    { bad "no takeover of the cross role"; tail -20 "$T/$S.log"; }
grep -q "$S replayed [1-9][0-9]* fact messages" "$T/$S.log" && ok "and replayed the facts" ||
    bad "no replay of the facts"
for _ in $(seq 1 30); do grep -q "correlation across hosts stored before:" "$T/$S.log" && break; sleep 1; done
grep -q "correlation across hosts stored before:" "$T/$S.log" && ok "what the replay fired again was known to the store" ||
    bad "the replay fired nothing known"
n=0
for _ in $(seq 1 60); do
    alerts "$T/fleet.db" >"$T/got"
    cmp -s "$T/expect" "$T/got" && break
    sleep 1
done
sleep 3 # idle rounds after the replay: nothing more may come
alerts "$T/fleet.db" >"$T/got"
cmp -s "$T/expect" "$T/got" && ok "the fleet's $(wc -l <"$T/got") alerts are stoat hunt's, correlations across hosts included" ||
    { bad "alerts differ from stoat hunt"; diff "$T/expect" "$T/got" | head -20; }
[ -z "$(uniq -d "$T/got")" ] && ok "none stored twice" || { bad "stored twice:"; uniq -d "$T/got"; }
n=$(sqlite3 "$T/fleet.db" "SELECT count(*) FROM alerts a JOIN rules r ON r.id = a.rule_id
                           JOIN correlations c ON c.alert_id = a.id WHERE r.uid LIKE '2f7d5c10-%'")
[ "$n" = "$(spanning "$T/expect")" ] && ok "each firing across hosts stored once ($n)" ||
    bad "$n firings across hosts stored, want $(spanning "$T/expect")"
kill -TERM "$(cat "$T/$S.pid")"; wait "$(cat "$T/$S.pid")" 2>/dev/null
grep -q "correlation across hosts:" "$T/$S.log" "$T/$H.log" && ok "the cross-host role said what it stored" ||
    bad "no correlation across hosts in the logs"
[ ! -s "$T/pub.err" ] && ok "every publish acknowledged" || { bad "publish"; cat "$T/pub.err"; }
finish
