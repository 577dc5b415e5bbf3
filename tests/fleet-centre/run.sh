#!/bin/sh
# The fleet's centre (`stoat fleet`) against real NATS servers on loopback:
#   - a three-node JetStream cluster (routes, R3 streams) on random ports;
#   - five simulated hosts publish the demo's scenario logs (as `stoat dump`
#     JSON lines, the bus's payload) while two `stoat fleet` workers share
#     the partitions; one NATS node is killed mid-run and restarted; one
#     worker is killed (SIGKILL) and the other takes its partitions over;
#   - then: the alerts stored are exactly `stoat hunt`'s over the same logs
#     (no loss, no duplicate), every batch is marked once, a batch sent
#     again is dropped;
#   - a batch whose header names another host than its subject is dropped;
#   - batches go compressed (Stoat-Enc: zstd), compressed as publishers
#     before zstd did (zlib, --zlib) and plain (the format before both,
#     --raw) in the same run, and all are read; a truncated compressed
#     batch is refused, counted as unreadable, and the worker goes on; a
#     batch holding another number of events than its Stoat-Count is said,
#     counted and read;
#   - heartbeats reach the store's host table, a silent host raises "Host
#     stopped reporting";
#   - a rule bundle pushed is loaded by a running worker;
#   - on a server with per-host credentials (`stoat fleet creds`), a host
#     publishing under another host's subject is refused.
# Skipped, with a message, when nats-server is absent. Servers are killed
# by pid at exit.
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-./stoat}
PUB=${FLEET_PUB:-build/bench/fleet_pub}
P=0; F=0
ok() { P=$((P + 1)); echo "ok   $1"; }
bad() { F=$((F + 1)); echo "FAIL $1"; }
if ! command -v nats-server >/dev/null 2>&1; then
    echo "SKIP fleet-centre: nats-server not installed (apt-get install nats-server)"
    echo "fleet-centre: 0 passed, 0 failed"
    exit 0
fi
[ -x "$PUB" ] || make -s "$PUB" >/dev/null
T=$(mktemp -d /tmp/stoat-fleet-centre.XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
BASE=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 19000))
C1=$((BASE)); C2=$((BASE + 1)); C3=$((BASE + 2))
R1=$((BASE + 10)); R2=$((BASE + 11)); R3=$((BASE + 12))
SRV="--server nats://127.0.0.1:$C1 --server nats://127.0.0.1:$C2 --server nats://127.0.0.1:$C3"
ROUTES="nats://127.0.0.1:$R1,nats://127.0.0.1:$R2,nats://127.0.0.1:$R3"

node() {   # node N: starts cluster node N, its pid in $T/n<N>.pid
    n=$1; eval cp=\$C$n; eval rp=\$R$n
    nats-server -a 127.0.0.1 -p "$cp" -js -sd "$T/js$n" -n "n$n" --cluster_name stoatc \
        --cluster "nats://127.0.0.1:$rp" --routes "$ROUTES" >"$T/n$n.log" 2>&1 &
    echo $! >"$T/n$n.pid"
    PIDS="$PIDS $!"
}
node 1; node 2; node 3
# the cluster is ready when setup with three replicas succeeds
i=0
until $STOAT fleet setup $SRV --replicas 3 --partitions 4 >"$T/setup.out" 2>&1; do
    i=$((i + 1)); [ $i -gt 30 ] && break; sleep 1
done
if grep -q "4 partition consumers" "$T/setup.out"; then ok "setup: streams, consumers, buckets on a 3-node R3 cluster"
else bad "setup"; cat "$T/setup.out"; fi
$STOAT fleet setup $SRV --replicas 3 --partitions 4 >/dev/null 2>&1 && ok "setup again: idempotent" || bad "setup again"

# the scenario: five hosts, their events as the bus carries them
$STOAT dump demo/linux-design-srv01.jsonl.gz >"$T/lin.jsonl"
$STOAT dump demo/windows-fab-ws07.jsonl.gz >"$T/win.jsonl"
for h in 1 2 3; do sed "s/design-srv01/design-srv0$h/g" "$T/lin.jsonl" >"$T/h-lin$h.jsonl"; done
for h in 7 8; do sed "s/FAB-WS07/FAB-WS0$h/g; s/fab-ws07/fab-ws0$h/g" "$T/win.jsonl" >"$T/h-win$h.jsonl"; done
# what a single machine's hunt finds over the same events
python3 - "$T" <<'EOF'
import json, sys, glob
for f in glob.glob(sys.argv[1] + "/h-*.jsonl"):
    with open(f) as i, open(f[:-6] + ".ev", "w") as o:
        for l in i:
            o.write(json.dumps(json.loads(l)["event"]) + "\n")
EOF
for f in "$T"/h-*.ev; do mv "$f" "$f.jsonl"; done
$STOAT hunt -q --db "$T/hunt.db" -o "$T/hunt.jsonl" "$T"/h-*.ev.jsonl
alerts() {   # alerts DB: rule, host, event time of every alert, sorted
    sqlite3 "$1" "SELECT r.uid || '|' || h.name || '|' || coalesce(a.timestamp, '') FROM alerts a
                  JOIN rules r ON r.id = a.rule_id JOIN hosts h ON h.id = a.host_id
                  WHERE r.category IS NOT 'fleet'" | sort
}
alerts "$T/hunt.db" >"$T/expect"
[ -s "$T/expect" ] && ok "hunt over the scenario: $(wc -l <"$T/expect") alerts to expect" || bad "hunt found nothing"

# two workers share the partitions
$STOAT fleet $SRV --db "$T/fleet.db" --worker wa -v --silence 4 >"$T/wa.log" 2>&1 &
WA=$!; PIDS="$PIDS $WA"
sleep 1
$STOAT fleet $SRV --db "$T/fleet.db" --worker wb -v --silence 4 >"$T/wb.log" 2>&1 &
WB=$!; PIDS="$PIDS $WB"
sleep 12   # leases settle: each takes its share
# each host's day in two parts, cut at its middle alert: the second part is
# processed after the first part's worker died, so process trees and
# correlation windows must carry over (the survivor replays the stored
# batches)
for f in h-lin1 h-lin2 h-win7; do
    n=$(python3 -c 'import json, sys
ls = sorted(d["source"]["line"] for d in map(json.loads, open(sys.argv[1]))
            if d.get("kind") == "alert" and d.get("source") and d["source"]["file"].endswith(sys.argv[2]))
print(ls[len(ls) // 2])' "$T/hunt.jsonl" "$f.ev.jsonl")
    head -n $n "$T/$f.jsonl" >"$T/$f.a"
    tail -n +$((n + 1)) "$T/$f.jsonl" >"$T/$f.b"
done
# (zlib, as publishers before zstd sent them)
$PUB $SRV --run aaaa000000000001 --batch 100 --zlib design-srv01="$T/h-lin1.a" FAB-WS07="$T/h-win7.a" \
    >"$T/pub1.out" 2>&1 &
PUB1=$!
# a NATS node dies while hosts publish, and comes back
sleep 0.3
kill -9 "$(cat "$T/n2.pid")"
# (plain JSON lines, as publishers before compression sent them)
$PUB $SRV --run aaaa000000000002 --batch 100 --raw design-srv02="$T/h-lin2.a" >"$T/pub2.out" 2>&1
wait $PUB1
node 2
grep -q "acked" "$T/pub1.out" && grep -q "acked" "$T/pub2.out" && ok "publishing went on with a node down" ||
    { bad "publish with a node down"; cat "$T/pub1.out" "$T/pub2.out"; }
if grep -q "reads part-" "$T/wa.log" && grep -q "reads part-" "$T/wb.log"; then ok "both workers hold partitions"
else bad "work not shared"; cat "$T/wa.log" "$T/wb.log"; fi
drained() {
    i=0
    while :; do
        $STOAT fleet status $SRV >"$T/status" 2>&1
        grep -q "lag: 0 batches waiting, 0 awaiting" "$T/status" && return 0
        i=$((i + 1)); [ $i -gt 90 ] && return 1; sleep 1
    done
}
drained || { bad "first half not drained"; cat "$T/status"; }
# the worker that stored the most alerts dies: the other takes its partitions
victim=$(sqlite3 "$T/fleet.db" "SELECT r.pid FROM alerts a JOIN runs r ON r.id = a.run_id
                                GROUP BY r.pid ORDER BY count(*) DESC LIMIT 1")
if [ "$victim" = "$WB" ]; then SPID=$WA; SLOG=$T/wa.log; SID=wa; else victim=$WA; SPID=$WB; SLOG=$T/wb.log; SID=wb; fi
n=$(sqlite3 "$T/fleet.db" "SELECT count(*) FROM alerts a JOIN runs r ON r.id = a.run_id WHERE r.pid = $victim")
[ "$n" -gt 0 ] && ok "the worker to die stored $n alerts of the first parts" || bad "no worker stored alerts"
before=$(grep -c "reads part-" "$SLOG")
kill -9 "$victim"
$PUB $SRV --run aaaa000000000003 --batch 100 design-srv01="$T/h-lin1.b" FAB-WS07="$T/h-win7.b" \
    design-srv02="$T/h-lin2.b" design-srv03="$T/h-lin3.jsonl" FAB-WS08="$T/h-win8.jsonl" >"$T/pub3.out" 2>&1
# the same batches again (a publisher's resend): the stream drops them
$PUB $SRV --run aaaa000000000003 --batch 100 design-srv03="$T/h-lin3.jsonl" >/dev/null 2>&1
drained && ok "every partition drained after the worker died" || { bad "lag"; cat "$T/status"; }
[ "$(grep -c "reads part-" "$SLOG")" -gt "$before" ] &&
    ok "the living worker took the dead one's partitions" || { bad "no takeover"; cat "$SLOG"; }
grep -q "$SID replayed [1-9][0-9]* stored batches" "$SLOG" && ok "the taken partitions' stored batches were replayed" ||
    { bad "no replay"; grep replayed "$SLOG"; }

# a host naming another host in its batches' headers: dropped, counted
head -20 "$T/lin.jsonl" >"$T/forged.jsonl"
$PUB $SRV --claim design-srv01 fs99="$T/forged.jsonl" >/dev/null 2>&1
# a batch cut short on the way: refused and counted, the worker goes on
$PUB $SRV --garble fs98="$T/forged.jsonl" >/dev/null 2>&1
# a batch declaring 21 events and holding 20 (of a host of its own: they raise nothing)
sed 's/design-srv01/fs97/g' "$T/forged.jsonl" >"$T/miscount.jsonl"
$PUB $SRV --miscount fs97="$T/miscount.jsonl" >"$T/pub4.out" 2>&1

# heartbeats, then silence
$PUB $SRV --hb design-srv01 >/dev/null 2>&1 && ok "heartbeat published" || bad "heartbeat"
sleep 8
# a bundle of one rule, pushed while the worker runs
mkdir -p "$T/bundle"
cp rules/linux/*.yml "$T/bundle/" 2>/dev/null || cp "$(find rules -name '*.yml' | head -1)" "$T/bundle/"
$STOAT fleet rules push $SRV "$T/bundle" >"$T/push.out" 2>&1 && grep -q "pushed" "$T/push.out" &&
    ok "rules push: $(cat "$T/push.out")" || { bad "rules push"; cat "$T/push.out"; }
sleep 7
kill -TERM $SPID
wait $SPID 2>/dev/null
cat "$SLOG" | tail -3

grep -q "1 forged" "$SLOG" && ok "a batch naming another host than its subject's was dropped" ||
    { bad "forged batch not dropped"; tail -3 "$SLOG"; }
grep -q "1 unreadable" "$SLOG" && grep -q 'batch fs98:.*cannot be read: the zstd frame is truncated' "$SLOG" &&
    ok "a truncated compressed batch was refused, said and counted" || { bad "truncated batch"; tail -5 "$SLOG"; }
grep -q "1 miscounted" "$SLOG" && grep -q 'batch fs97:.*declares 21 events and holds 20; read as it is' "$SLOG" &&
    ok "a batch holding other than its Stoat-Count was said, counted and read" || { bad "miscount"; tail -5 "$SLOG"; }
alerts "$T/fleet.db" >"$T/got"
if cmp -s "$T/expect" "$T/got"; then ok "the same $(wc -l <"$T/got") alerts as stoat hunt: none lost, none twice"
else bad "alerts differ from stoat hunt"; diff "$T/expect" "$T/got" | head -20; fi
dups=$(sqlite3 "$T/fleet.db" "SELECT count(*) FROM (SELECT a.rule_id, a.host_id, a.timestamp, count(*) c FROM alerts a
       GROUP BY 1, 2, 3 HAVING c > 1)")
exp_dups=$(sqlite3 "$T/hunt.db" "SELECT count(*) FROM (SELECT a.rule_id, a.host_id, a.timestamp, count(*) c FROM alerts a
       GROUP BY 1, 2, 3 HAVING c > 1)")
[ "$dups" = "$exp_dups" ] && ok "no alert stored twice" || bad "duplicates: $dups (hunt has $exp_dups)"
# the survivor's alerts name processes the dead worker stored already: the
# same rows, not new ones (a host's rows as many as a single hunt's)
procs() {
    sqlite3 "$1" "SELECT h.name || '|' || count(*) FROM processes p JOIN hosts h ON h.id = p.host_id GROUP BY h.name" |
        sort
}
procs "$T/hunt.db" >"$T/expect-procs"
procs "$T/fleet.db" >"$T/got-procs"
if [ -s "$T/expect-procs" ] && cmp -s "$T/expect-procs" "$T/got-procs"; then
    ok "process rows per host as stoat hunt's: $(tr '\n' ' ' <"$T/got-procs")"
else bad "process rows per host differ from stoat hunt's"; diff "$T/expect-procs" "$T/got-procs"; fi
batches=$(grep -ho "[0-9]* batches" "$T/pub1.out" "$T/pub2.out" "$T/pub3.out" "$T/pub4.out" | awk '{s += $1} END {print s}')
marked=$(sqlite3 "$T/fleet.db" "SELECT sum(hi - lo + 1) FROM fleet_seen")
rows=$(sqlite3 "$T/fleet.db" "SELECT count(*) FROM fleet_seen")
[ "$batches" = "$marked" ] && ok "every batch marked exactly once ($marked batches in $rows intervals)" ||
    bad "batches published $batches, marked $marked"
sqlite3 "$T/fleet.db" "SELECT name FROM hosts WHERE last_seen_ns IS NOT NULL" | grep -q design-srv01 &&
    ok "heartbeat in the host table" || bad "heartbeat not stored"
n=$(sqlite3 "$T/fleet.db" "SELECT count(*) FROM alerts a JOIN rules r ON r.id = a.rule_id JOIN hosts h ON h.id = a.host_id
     WHERE r.title = 'Host stopped reporting' AND h.name = 'design-srv01'")
[ "$n" = "1" ] && ok "a silent host raised one alert" || bad "silent host alerts: $n"
grep -q "rules .* loaded" "$SLOG" && ok "the running worker loaded the pushed bundle" ||
    { bad "bundle not loaded"; tail -5 "$SLOG"; }
$STOAT fleet status $SRV --db "$T/fleet.db" | grep -q '"name":"design-srv01"' && ok "status lists hosts" ||
    bad "status"

# ---- security: dist/nats-server.conf, TLS, per-host users; a host cannot
# publish as another ----
A=$((BASE + 20))
$STOAT fleet creds fs01 -o "$T/fs01.creds" >"$T/fs01.conf" 2>/dev/null
[ "$(stat -c %a "$T/fs01.creds")" = "600" ] && ok "creds file is 0600" || bad "creds mode"
grep -q '\$2b\$' "$T/fs01.conf" && ok "server block carries a bcrypt hash" || bad "no bcrypt hash"
# a CA and a certificate for 127.0.0.1
mkdir -p "$T/tls"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls/ca.key" -out "$T/tls/ca.crt" -subj /CN=stoat-test-ca \
    -days 1 >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout "$T/tls/n.key" -out "$T/tls/n.csr" -subj /CN=127.0.0.1 >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$T/tls/ext"
openssl x509 -req -in "$T/tls/n.csr" -CA "$T/tls/ca.crt" -CAkey "$T/tls/ca.key" -CAcreateserial -out "$T/tls/n.crt" \
    -days 1 -extfile "$T/tls/ext" >/dev/null 2>&1
# the example config, on loopback, one node (its cluster block dropped), with
# this test's centre password and fs01's block as `stoat fleet creds` printed it
python3 - "$T" "$A" <<'EOF2'
import re, sys
t, port = sys.argv[1], sys.argv[2]
c = open("dist/nats-server.conf").read()
i = c.index("\ncluster {")
depth, j = 0, i + 1
while True:
    if c[j] == "{": depth += 1
    if c[j] == "}":
        depth -= 1
        if depth == 0: break
    j += 1
c = c[:i] + c[j + 1:]
c = c.replace("0.0.0.0:4222", "127.0.0.1:" + port).replace("127.0.0.1:8222", "127.0.0.1:0")
c = c.replace("/etc/nats/tls/nats-1.crt", t + "/tls/n.crt").replace("/etc/nats/tls/nats-1.key", t + "/tls/n.key")
c = c.replace("/etc/nats/tls/ca.crt", t + "/tls/ca.crt").replace("/var/lib/nats/jetstream", t + "/jsa")
c = re.sub(r'\{ user: centre, password: "[^"]*" \}', '{ user: centre, password: centrepw }', c)
block = "".join(l for l in open(t + "/fs01.conf") if not l.startswith("#"))
a = c.index('      { user: "fs01"')
b = c.index("} }", a) + 3
c = c[:a] + block + c[b:]
open(t + "/auth.conf", "w").write(c)
EOF2
nats-server -c "$T/auth.conf" -t >/dev/null 2>&1 && ok "dist/nats-server.conf with a host's block is a valid config" ||
    { bad "config invalid"; nats-server -c "$T/auth.conf" -t; }
nats-server -c "$T/auth.conf" >"$T/auth.log" 2>&1 &
PIDS="$PIDS $!"
printf 'user: centre\npassword: centrepw\n' >"$T/centre.creds"; chmod 600 "$T/centre.creds"
TLS="--server tls://127.0.0.1:$A --tls-ca $T/tls/ca.crt"
i=0
until $STOAT fleet setup $TLS --creds "$T/centre.creds" --partitions 2 >"$T/tls-setup.out" 2>&1; do
    i=$((i + 1)); [ $i -gt 10 ] && break; sleep 1
done
grep -q "2 partition consumers" "$T/tls-setup.out" && ok "the centre sets up over TLS with its user" ||
    { bad "setup over TLS"; cat "$T/tls-setup.out"; }
head -20 "$T/lin.jsonl" | sed 's/design-srv01/fs01/g' >"$T/fs01.jsonl"
if $PUB $TLS --creds "$T/fs01.creds" --once fs01="$T/fs01.jsonl" >"$T/own.out" 2>&1; then
    ok "a host publishes under its own subject, over TLS"
else bad "own subject refused"; cat "$T/own.out" "$T/fs01.conf"; fi
if $PUB $TLS --creds "$T/fs01.creds" --once dc01="$T/fs01.jsonl" >"$T/other.out" 2>&1; then
    bad "a host published under another host's subject"
else
    grep -q "Publish Violation - User \"fs01\", Subject \"stoat.ev.dc01" "$T/auth.log" &&
        ok "publishing under another host's subject is refused by the server" ||
        { bad "refused, but not by permissions"; tail -5 "$T/auth.log"; }
fi
if $STOAT fleet status $TLS --creds "$T/fs01.creds" 2>&1 | grep -q "lag:"; then
    bad "a host read the centre's consumers"
else ok "a host cannot read the event consumers"; fi
echo "fleet-centre: $P passed, $F failed"
[ "$F" -eq 0 ]
