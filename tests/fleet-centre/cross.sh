#!/bin/sh
# The fleet's cross-host role against real NATS servers on loopback:
#   - a three-node JetStream cluster (R3) on random ports, two `stoat fleet`
#     workers sharing four partitions and the roles;
#   - the hosts of a generated fleet day (tests/cross/gen-fleet-day.py: a
#     workstation, a file server, a domain controller, a Linux server, a
#     stolen account moving between them) publish their logs with
#     `stoat publish --host`;
#   - a worker alone (all roles: partitions, health, cross) makes one fleet
#     incident naming every host, the account and the logons in order: the
#     same as `stoat hunt` finds over the same files; it is in the store
#     (hosts, account, edges) and -o; the hosts' silence alarms raised
#     meanwhile do not keep the store locked against it;
#   - two more workers start; the one holding lease "cross" rebuilds the
#     graph from the facts stream;
#   - the holder of the cross role is killed (SIGKILL); a second fleet day is
#     published; the other worker takes the role over, replays the facts,
#     stores the second day's incident and not the first's again;
#   - the benign day (the same routine without the intruder) makes none.
# Skipped, with a message, when nats-server is absent. Servers and workers
# are killed by pid at exit.
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-./stoat}
GEN=tests/cross/gen-fleet-day.py
P=0; F=0
ok() { P=$((P + 1)); echo "ok   $1"; }
bad() { F=$((F + 1)); echo "FAIL $1"; }
if ! command -v nats-server >/dev/null 2>&1; then
    echo "SKIP fleet-cross: nats-server not installed (apt-get install nats-server)"
    echo "fleet-cross: 0 passed, 0 failed"
    exit 0
fi
T=$(mktemp -d /tmp/stoat-fleet-cross.XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ -n "${KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
BASE=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 19000))
C1=$((BASE)); C2=$((BASE + 1)); C3=$((BASE + 2))
R1=$((BASE + 10)); R2=$((BASE + 11)); R3=$((BASE + 12))
SRV="--server nats://127.0.0.1:$C1 --server nats://127.0.0.1:$C2 --server nats://127.0.0.1:$C3"
ROUTES="nats://127.0.0.1:$R1,nats://127.0.0.1:$R2,nats://127.0.0.1:$R3"
for n in 1 2 3; do
    eval cp=\$C$n; eval rp=\$R$n
    nats-server -a 127.0.0.1 -p "$cp" -js -sd "$T/js$n" -n "n$n" --cluster_name stoatx \
        --cluster "nats://127.0.0.1:$rp" --routes "$ROUTES" >"$T/n$n.log" 2>&1 &
    PIDS="$PIDS $!"
done
i=0
until $STOAT fleet setup $SRV --replicas 3 --partitions 4 >"$T/setup.out" 2>&1; do
    i=$((i + 1)); [ $i -gt 30 ] && break; sleep 1
done
grep -q "health and cross consumers" "$T/setup.out" && ok "setup: the cross consumer on STOAT_FACTS" ||
    { bad "setup"; cat "$T/setup.out"; }

# two fleet days and a benign one, and what a single machine's hunt finds in each
for d in a23:attack:23 a41:attack:41 b23:benign:23; do
    name=${d%%:*}; rest=${d#*:}; day=${rest%%:*}; seed=${rest#*:}
    python3 "$GEN" --seed "$seed" --day "$day" --expect "$T/$name.exp" "$T/$name"
    $STOAT hunt -q --format jsonl "$T/$name" >"$T/$name.hunt" 2>/dev/null
done
# fleet incidents of a JSON-lines file as "hosts|account key|edges", one a line
fleet_of() {
    python3 - "$1" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("kind") == "incident" and r.get("hosts"):
        hosts = ",".join(sorted(h["host"] for h in r["hosts"]))
        acct = r["account"].split("\\")[-1].split("@")[0].lower()
        print("%s|%s|%s" % (hosts, acct, ";".join("%s>%s" % (e["from"], e["to"]) for e in r["edges"])))
EOF
}
fleet_of "$T/a23.hunt" >"$T/a23.want"; fleet_of "$T/a41.hunt" >"$T/a41.want"
[ "$(wc -l <"$T/a23.want")" = 1 ] && [ "$(wc -l <"$T/a41.want")" = 1 ] &&
    ok "hunt: one fleet incident on each attack day" || { bad "hunt's fleet incidents"; cat "$T"/a*.want; }

publish() {   # publish DAY: every host's file, its name as --host
    for f in "$T/$1"/*.jsonl; do
        h=$(basename "$f" .jsonl)
        $STOAT publish $SRV --host "$h" --spool "$T/spool-$1-$h" --wait 30 "$f" >>"$T/pub.out" 2>&1 ||
            echo "publish $f failed" >>"$T/pub.err"
    done
}
worker() {   # worker NAME [OPTION...]: started in the background, pid in $T/NAME.pid
    w=$1; shift
    $STOAT fleet $SRV --db "$T/fleet.db" -o "$T/$w.jsonl" --worker "$w" -v --cross-idle 8 "$@" >"$T/$w.log" 2>&1 &
    echo $! >"$T/$w.pid"
    PIDS="$PIDS $!"
}
drained() {   # the event partitions and the facts consumer have nothing left
    i=0
    while :; do
        $STOAT fleet status $SRV >"$T/status" 2>&1
        if grep -q "lag: 0 batches waiting, 0 awaiting" "$T/status"; then
            python3 - "$C1" >"$T/cross-lag" 2>&1 <<'EOF' && return 0
import json, socket, sys
# the cross consumer's lag, from the server's JetStream API
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
f.readline()
s.sendall(b'CONNECT {"verbose":false}\r\nSUB _x 1\r\nPUB $JS.API.CONSUMER.INFO.STOAT_FACTS.cross _x 0\r\n\r\n')
while True:
    l = f.readline()
    if l.startswith(b"MSG"):
        body = json.loads(f.read(int(l.split()[-1]) + 2))
        break
sys.exit(0 if body.get("num_pending") == 0 and body.get("num_ack_pending") == 0 else 1)
EOF
        fi
        i=$((i + 1)); [ $i -gt 90 ] && return 1; sleep 1
    done
}
stored() {   # fleet incidents in the store as "hosts|account key|edges"
    sqlite3 "$T/fleet.db" "SELECT hosts, account, edges FROM incidents WHERE hosts IS NOT NULL" | python3 -c '
import json, sys
for l in sys.stdin:
    hosts, acct, edges = l.rstrip("\n").split("|", 2)
    print("%s|%s|%s" % (",".join(sorted(json.loads(hosts))), acct.split("\\")[-1].split("@")[0].lower(),
          ";".join("%s>%s" % (e["from"], e["to"]) for e in json.loads(edges))))'
}
wait_incidents() {   # wait_incidents N: until the store holds N fleet incidents (90 s at most)
    i=0
    until [ "$(stored | wc -l)" -ge "$1" ] || [ $i -ge 90 ]; do i=$((i + 1)); sleep 1; done
}

# day one, a worker alone; hosts fall silent after 2 s (an alarm each)
worker w0 --silence 2
sleep 3
publish a23
drained || { bad "day one not drained"; cat "$T/status" "$T/cross-lag"; }
wait_incidents 1
kill -0 "$(cat "$T/w0.pid")" 2>/dev/null && ok "day one: the worker alone is still running" ||
    { bad "day one: the worker died"; tail -5 "$T/w0.log"; }
n=$(sqlite3 "$T/fleet.db" "SELECT count(*) FROM alerts a JOIN rules r ON r.id = a.rule_id
                          WHERE r.title = 'Host stopped reporting'")
[ "$n" -ge 1 ] && ok "day one: $n silence alarms stored beside the fleet incident" || bad "no silence alarm"
stored >"$T/got1"
if cmp -s "$T/a23.want" "$T/got1"; then ok "day one: the stored fleet incident is hunt's: $(cat "$T/got1")"
else bad "day one: stored fleet incidents differ from hunt's"; echo "want:"; cat "$T/a23.want"; echo "got:"; cat "$T/got1"; fi
python3 - "$T/fleet.db" "$T/a23.exp" <<'EOF' && ok "day one: hosts, account and logons as the day holds them, in time order" || bad "day one: the incident is not the day's"
import json, sqlite3, sys
exp = json.load(open(sys.argv[2]))
(hosts, account, edges, level), = sqlite3.connect(sys.argv[1]).execute(
    "SELECT hosts, account, edges, level FROM incidents WHERE hosts IS NOT NULL").fetchall()
hosts, edges = json.loads(hosts), json.loads(edges)
assert hosts[0] == exp["hosts"]["workstation"] and sorted(hosts) == sorted(exp["hosts"].values()), hosts
assert account.split("\\")[-1].lower() == exp["account"], account
assert [[e["from"], e["to"]] for e in edges] == exp["moves"], edges
assert [e["first"] for e in edges] == sorted(e["first"] for e in edges), edges
EOF
# each host's alerts, stored by the worker's partitions and heard of by the
# cross-host role as facts, are linked to the incident: every alert it
# counts, each one of hunt's incident's, on the host hunt names
python3 - "$T/fleet.db" "$T/a23.hunt" <<'EOF' && ok "day one: the fleet incident's alerts linked, host by host, as in hunt's" ||
import json, sqlite3, sys
al, want = {}, set()
for l in open(sys.argv[2]):
    r = json.loads(l)
    if r.get("kind") == "alert":
        al[r["id"]] = r
    elif r.get("kind") == "incident" and r.get("hosts"):
        for h in r["hosts"]:
            want |= {(h["host"], al[i]["rule"]["title"], al[i]["timestamp"]) for i in h["alerts"]}
db = sqlite3.connect(sys.argv[1])
got = db.execute(
    "SELECT h.name, r.title, a.timestamp FROM incidents i JOIN incident_alerts ia ON ia.incident_id = i.id"
    " JOIN alerts a ON a.id = ia.alert_id JOIN hosts h ON h.id = a.host_id JOIN rules r ON r.id = a.rule_id"
    " WHERE i.hosts IS NOT NULL").fetchall()
(n,), = db.execute("SELECT nalerts FROM incidents WHERE hosts IS NOT NULL").fetchall()
hosts = {g[0] for g in got}
if len(got) != n or len(set(got)) != n or set(got) != want or len(hosts) < 2:
    print("the incident counts %d alerts; linked %d on %d hosts; hunt's %d; not hunt's: %s; missing: %s" % (
          n, len(got), len(hosts), len(want), sorted(set(got) - want)[:3], sorted(want - set(got))[:3]))
    sys.exit(1)
EOF
    bad "day one: the fleet incident's alerts are not linked as hunt's"
kill -TERM "$(cat "$T/w0.pid")"; wait "$(cat "$T/w0.pid")" 2>/dev/null
fleet_of "$T/w0.jsonl" >"$T/json1"
cmp -s "$T/a23.want" "$T/json1" && ok "day one: the -o JSON lines carry the same incident" ||
    { bad "day one: -o differs"; cat "$T/json1"; }

worker wa; sleep 1; worker wb
sleep 12   # leases settle
# who holds the role now: took it more often than gave it up
holds() { [ "$(grep -c "reads cross" "$T/$1.log")" -gt "$(grep -c "gave up the cross-host role" "$T/$1.log")" ]; }
H=""; n=0
for w in wa wb; do holds $w && { H=$w; n=$((n + 1)); }; done
[ "$n" = 1 ] && ok "one worker, and only one, holds the cross-host role ($H)" ||
    { bad "cross holders: $n"; grep -h cross "$T/wa.log" "$T/wb.log"; }

Hname=$H

# the holder of the cross role dies; day two comes while the other takes over
kill -9 "$(cat "$T/$Hname.pid")"
if [ "$Hname" = wa ]; then S=wb; else S=wa; fi
publish a41
sleep 20   # the dead worker's leases expire (15 s), its partitions and the role move
drained || { bad "day two not drained"; cat "$T/status" "$T/cross-lag"; }
wait_incidents 2
grep -q "reads cross" "$T/$S.log" && ok "the living worker took the cross-host role over" ||
    { bad "no takeover of the cross role"; tail -20 "$T/$S.log"; }
grep -q "$H replayed [1-9][0-9]* fact messages" "$T/$H.log" && ok "the first holder of the two rebuilt the graph from the facts" ||
    { bad "no replay by the first holder"; grep replayed "$T/$H.log"; }
grep -q "$S replayed [1-9][0-9]* fact messages" "$T/$S.log" && ok "it replayed the facts of the last holder" ||
    { bad "no replay of the facts"; grep replayed "$T/$S.log"; }
sleep 12   # past the idle close after the replay: day one's chain closes again
stored | sort >"$T/got2"
sort "$T/a23.want" "$T/a41.want" >"$T/want2"
if cmp -s "$T/want2" "$T/got2"; then ok "after the takeover: both days' incidents, each once, as hunt's"
else bad "after the takeover: stored fleet incidents differ"; echo "want:"; cat "$T/want2"; echo "got:"; cat "$T/got2"; fi

# the benign day: alerts on two hosts an admin moved between, no incident
publish b23
drained || { bad "benign day not drained"; cat "$T/status" "$T/cross-lag"; tail -5 "$T/$S.log"; }
sleep 12
n=$(stored | wc -l)
[ "$n" = 2 ] && ok "the benign day adds no fleet incident" || { bad "benign day: $n fleet incidents"; stored; }
[ "$(fleet_of "$T/b23.hunt" | wc -l)" = 0 ] && ok "(nor does hunt find one in it)" || bad "hunt: benign incident"

kill -TERM "$(cat "$T/$S.pid")"
wait "$(cat "$T/$S.pid")" 2>/dev/null
grep "cross-host role:" "$T/$S.log" | tail -1
grep -q "cross-host role: [1-9][0-9]* facts read, [1-9][0-9]* edges .*, [1-9][0-9]* fleet incidents stored, [1-9][0-9]* known already" "$T/$S.log" &&
    ok "the survivor read facts, built edges, stored an incident and knew the replayed one" ||
    bad "survivor's figures"
fleet_of "$T/$S.jsonl" >"$T/json2"
cmp -s "$T/a41.want" "$T/json2" && ok "the survivor's -o JSON lines carry day two's incident, as hunt's" ||
    { bad "-o differs"; cat "$T/json2"; }
[ ! -s "$T/pub.err" ] && ok "every publish acknowledged" || { bad "publish"; cat "$T/pub.err"; tail "$T/pub.out"; }
echo "fleet-cross: $P passed, $F failed"
[ "$F" -eq 0 ]
