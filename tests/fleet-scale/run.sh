#!/bin/bash
# The fleet at scale, end to end with the real commands, against a
# three-node nats-server cluster on loopback (R3 streams) it starts:
#   1. fifty simulated hosts (`stoat publish --host hostNN` of the scenario
#      logs, renamed per host) and a live `stoat watch --publish` on this
#      machine (root; else left out, said), consumed by two `stoat fleet`
#      workers sharing the partitions; one NATS node is killed in the middle
#      and restarted. Then: every publisher exits 0 with every event
#      acknowledged; the stream holds every event once, per host what was
#      published; the store marked every batch of every host exactly once;
#      the alerts stored are `stoat hunt`'s over the same files; the fleet
#      status lists the fifty hosts (and this machine).
#   2. the whole cluster stopped for 30 s while hosts publish (`stoat publish
#      --follow` of a growing file, the live watch): their batches go to the
#      spools, drain in order after the restart while live events go on, and
#      nothing is lost or stored twice; a publisher whose spool cap is
#      exceeded says how many events it dropped, its heartbeat carries the
#      count to the centre (`stoat fleet status`), and the stream holds
#      exactly what was not dropped.
# tests/fleet-centre/run.sh covers the worker killed and the forged host;
# tests/fleet/host.sh the single-server outage, rotation and the cap's
# count at the host. Skipped, with a message, when nats-server is absent.
# Servers and every process started are killed by pid at exit.
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-build/stoat}
CHECK=${FLEETCHECK:-build/tests/fleet/fleetcheck}
HOSTS=${FLEET_SCALE_HOSTS:-50}
P=0; F=0
ok() { P=$((P + 1)); echo "ok   $1"; }
bad() { F=$((F + 1)); echo "FAIL $1"; }
finish() { echo "fleet-scale: $P passed, $F failed"; [ "$F" -eq 0 ]; exit $?; }
if ! command -v nats-server >/dev/null 2>&1; then
    echo "SKIP fleet-scale: nats-server not installed (apt-get install nats-server)"
    finish
fi
[ -n "${FLEETCHECK:-}" ] || make -s fleetcheck >/dev/null || { bad "cannot build $CHECK"; finish; }
T=$(mktemp -d /tmp/stoat-fleet-scale.XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${STOAT_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
BASE=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 19000))
C1=$BASE; C2=$((BASE + 1)); C3=$((BASE + 2))
R1=$((BASE + 10)); R2=$((BASE + 11)); R3=$((BASE + 12))
SRV="--server nats://127.0.0.1:$C1 --server nats://127.0.0.1:$C2 --server nats://127.0.0.1:$C3"
ROUTES="nats://127.0.0.1:$R1,nats://127.0.0.1:$R2,nats://127.0.0.1:$R3"
URL1=nats://127.0.0.1:$C1

node() {   # node N: starts cluster node N, its pid in $T/n<N>.pid
    n=$1; eval cp=\$C$n; eval rp=\$R$n
    nats-server -a 127.0.0.1 -p "$cp" -js -sd "$T/js$n" -n "n$n" --cluster_name stoats \
        --cluster "nats://127.0.0.1:$rp" --routes "$ROUTES" >>"$T/n$n.log" 2>&1 &
    echo $! >"$T/n$n.pid"
    PIDS="$PIDS $!"
}
node_stop() {   # node_stop N [SIGNAL]
    kill "-${2:-TERM}" "$(cat "$T/n$1.pid")" 2>/dev/null
    wait "$(cat "$T/n$1.pid")" 2>/dev/null
}
field() {   # field NAME "count output": the number after NAME
    echo "$2" | head -1 | tr ' ' '\n' | grep -A1 -x "$1" | tail -1
}
drained() {   # drained: every partition's consumer has nothing waiting (up to 150 s)
    for _ in $(seq 1 150); do
        $STOAT fleet status $SRV >"$T/status" 2>&1
        grep -q "lag: 0 batches waiting, 0 awaiting" "$T/status" && return 0
        sleep 1
    done
    return 1
}
node 1; node 2; node 3
i=0
until $STOAT fleet setup $SRV --replicas 3 --partitions 8 >"$T/setup.out" 2>&1; do
    i=$((i + 1)); [ $i -gt 30 ] && break; sleep 1
done
grep -q "8 partition consumers" "$T/setup.out" && ok "setup: 3-node cluster, R3 streams, 8 partitions" ||
    { bad "setup"; cat "$T/setup.out"; finish; }

# ---------------------------------------------------------------- the hosts' logs
# host NN gets one of the four scenario logs (two attack days of the demo,
# two benign), its own host name written into every event
mkdir -p "$T/logs"
SRC=(demo/linux-design-srv01.jsonl.gz demo/windows-fab-ws07.jsonl.gz
     tests/scenario/benign/linux-design-srv01.jsonl.gz tests/scenario/benign/windows-fab-ws07.jsonl.gz)
for i in $(seq 0 $((HOSTS - 1))); do
    h=$(printf 'host%02d' "$i")
    zcat "${SRC[$((i % 4))]}" | sed "s/fab-ws07\.corp\.chipfab\.example/$h/g; s/FAB-WS07/$h/g; s/fab-ws07/$h/g;
                                      s/design-srv01/$h/g" >"$T/logs/$h.jsonl"
done
for h in host00 host01; do
    got=$($STOAT dump "$T/logs/$h.jsonl" 2>/dev/null | sed -n 's/.*"host":"\([^"]*\)".*/\1/p' | sort -u | tr '\n' ' ')
    [ "$got" = "$h " ] || bad "the renamed log of $h names hosts: $got"
done
# what a single machine's hunt finds over the same files
$STOAT hunt -q --db "$T/hunt.db" -o /dev/null "$T"/logs/*.jsonl
alerts() {   # alerts DB: rule, host, event time of every alert of the simulated hosts, sorted
    sqlite3 "$1" "SELECT r.uid || '|' || h.name || '|' || coalesce(a.timestamp, '') FROM alerts a
                  JOIN rules r ON r.id = a.rule_id JOIN hosts h ON h.id = a.host_id
                  WHERE r.category IS NOT 'fleet' AND h.name LIKE 'host__'" | sort
}
alerts "$T/hunt.db" >"$T/expect"
[ -s "$T/expect" ] && ok "hunt over the $HOSTS hosts' logs: $(wc -l <"$T/expect") alerts to expect" ||
    bad "hunt found nothing"

# ---------------------------------------------------------------- 1. fifty hosts
$STOAT fleet $SRV --db "$T/fleet.db" --worker wa -v >"$T/wa.log" 2>&1 &
WA=$!; PIDS="$PIDS $WA"
$STOAT fleet $SRV --db "$T/fleet.db" --worker wb -v >"$T/wb.log" 2>&1 &
WB=$!; PIDS="$PIDS $WB"
SELF=$(hostname)
WPID=
if [ "$(id -u)" -eq 0 ]; then
    $STOAT watch --publish "$URL1" $SRV --spool "$T/wsp" --format jsonl -o "$T/watch-alerts.jsonl" \
        >"$T/watch.out" 2>"$T/watch.err" &
    WPID=$!; PIDS="$PIDS $WPID"
else
    echo "SKIP the live stoat watch --publish: needs root (the eBPF sensor)"
fi
# the hosts publish, eight at a time; node 2 dies after the first sixteen
# and comes back after the next sixteen
publish_host() {   # publish_host NN
    h=$(printf 'host%02d' "$1")
    $STOAT publish $SRV --host "$h" --spool "$T/sp-$h" --wait 60 "$T/logs/$h.jsonl" >"$T/pub-$h.out" 2>"$T/pub-$h.err"
    echo $? >"$T/pub-$h.rc"
}
group=""
for i in $(seq 0 $((HOSTS - 1))); do
    publish_host "$i" &
    group="$group $!"
    [ $((i % 8)) -eq 7 ] || [ "$i" -eq $((HOSTS - 1)) ] || continue
    wait $group
    group=""
    [ "$i" -eq 15 ] && { node_stop 2 KILL; echo "node 2 killed"; }
    [ "$i" -eq 31 ] && { node 2; echo "node 2 restarted"; }
    # this machine runs a few commands for the live watch
    bash -c 'id; uname -a; ls /etc >/dev/null' >/dev/null 2>&1
done
nok=0; total=0
for i in $(seq 0 $((HOSTS - 1))); do
    h=$(printf 'host%02d' "$i")
    n=$($STOAT dump "$T/logs/$h.jsonl" 2>/dev/null | wc -l)
    echo "$h $n" >>"$T/published"
    total=$((total + n))
    if [ "$(cat "$T/pub-$h.rc")" = 0 ] && [ "$(tail -1 "$T/pub-$h.out")" = "published: $n events, $n acknowledged" ]; then
        nok=$((nok + 1))
    else
        echo "  $h: exit $(cat "$T/pub-$h.rc"), $(tail -1 "$T/pub-$h.out") (want $n)"; tail -3 "$T/pub-$h.err"
    fi
done
[ "$nok" = "$HOSTS" ] && ok "$HOSTS publishers: exit 0, every one of $total events acknowledged (a node down for a third of them)" ||
    bad "$((HOSTS - nok)) publishers did not have every event acknowledged"
c=$("$CHECK" count "$URL1" STOAT_EVENTS)
echo "$c" | awk '$1 == "host" && $2 ~ /^host[0-9][0-9]$/ {print $2, $3}' | sort >"$T/stream-hosts"
sort "$T/published" >"$T/published.s"
[ "$(field messages "$c")" = "$(field ids "$c")" ] && [ "$(field badcount "$c")" = 0 ] &&
    cmp -s "$T/published.s" "$T/stream-hosts" &&
    ok "the stream holds every host's events once: per host what was published" ||
    { bad "stream: $(head -1 <<<"$c")"; diff "$T/published.s" "$T/stream-hosts" | head -5; }
drained && ok "both workers drained every partition" || { bad "lag"; cat "$T/status"; }
# a worker gives back what is over its share at its next renewal (every
# 5 s), so the second one may get its first partition a renewal or two late
# on a busy machine: a bounded wait, not a single look
holds_part() { grep -q "reads part-" "$T/wa.log" && grep -q "reads part-" "$T/wb.log"; }
for _ in $(seq 1 40); do holds_part && break; sleep 1; done
if holds_part; then ok "both workers held partitions"
else
    bad "work not shared: one worker never held a partition in 40 s after the drain"
    for w in wa wb; do echo "  $w:"; grep -E "reads|gave up|cannot|error|warning" "$T/$w.log" | tail -n 5; done
fi
# every batch of every host marked once in the store: the marks per host are
# the sequence numbers the stream's messages per host (the Stoat-Host header)
# stand for (one each, or Stoat-Span: a large batch sent whole marks the
# numbers kept for its pieces too)
echo "$c" | awk '$1 == "sender" {print $2, $4}' | sort >"$T/stream-senders"
sqlite3 "$T/fleet.db" "SELECT host || ' ' || sum(hi - lo + 1) FROM fleet_seen GROUP BY host" | sort >"$T/marks"
grep '^host[0-9][0-9] ' "$T/stream-senders" >"$T/stream-senders.h"
grep '^host[0-9][0-9] ' "$T/marks" >"$T/marks.h"
[ "$(wc -l <"$T/marks.h")" = "$HOSTS" ] && cmp -s "$T/stream-senders.h" "$T/marks.h" &&
    ok "the store marked each host's batches exactly once ($(awk '{s += $2} END {print s}' "$T/marks.h") sequence numbers)" ||
    { bad "marks differ from the stream"; diff "$T/stream-senders.h" "$T/marks.h" | head -5; }
# A correlation's window closes on event time: a hunt closes the open ones
# at the end of its input, a worker when it stops (or when later events of
# the partition arrive). So the two workers stop cleanly here, and start
# again for the second part.
kill -TERM $WA $WB; wait $WA $WB 2>/dev/null
alerts "$T/fleet.db" >"$T/got"
if cmp -s "$T/expect" "$T/got"; then ok "the same $(wc -l <"$T/got") alerts as stoat hunt over the same files"
else bad "alerts differ from stoat hunt"; diff "$T/expect" "$T/got" | head -10; fi
# both stopped together, each with windows and chains its stop closed: each
# ended its runs (a worker's stop once waited on its own open transaction,
# and the other's stop-time alerts were lost)
unended() { sqlite3 "$T/fleet.db" "SELECT count(*) FROM runs WHERE status != 'done'"; }
[ "$(unended)" = 0 ] && ! grep -q "error" "$T/wa.log" "$T/wb.log" &&
    ok "a clean stop of both workers ends all their runs" ||
    { bad "$(unended) runs not ended"; grep -h error "$T/wa.log" "$T/wb.log" | head -3; }
$STOAT fleet $SRV --db "$T/fleet.db" --worker wa -v >>"$T/wa.log" 2>&1 &
WA=$!; PIDS="$PIDS $WA"
$STOAT fleet $SRV --db "$T/fleet.db" --worker wb -v >>"$T/wb.log" 2>&1 &
WB=$!; PIDS="$PIDS $WB"
# each publisher's last heartbeat, stored by the worker holding the health role
# (and the live watch's, when there is one: waiting for the fifty alone
# checked this machine before its heartbeat, due every 10 s, was in)
for _ in $(seq 1 30); do
    $STOAT fleet status $SRV --db "$T/fleet.db" >"$T/fstatus" 2>&1
    listed=$(grep -o '"name":"host[0-9][0-9]"' "$T/fstatus" | sort -u | wc -l)
    [ "$listed" = "$HOSTS" ] && { [ -z "$WPID" ] || grep -q "\"name\":\"$SELF\"" "$T/fstatus"; } && break
    sleep 1
done
[ "$listed" = "$HOSTS" ] && ok "fleet status lists the $HOSTS hosts" || bad "fleet status lists $listed hosts"
if [ -n "$WPID" ]; then
    grep -q "\"name\":\"$SELF\"" "$T/fstatus" && ok "fleet status lists this machine ($SELF, watch --publish)" ||
        bad "this machine not in the status"
fi

# ---------------------------------------------------------------- 2. the cluster stopped 30 s
# a growing log: every event numbered (its command line), so the order and
# the count of what arrives can be read back
tmpl=$(zcat tests/scenario/benign/linux-design-srv01.jsonl.gz | grep -m1 '"EventID":1,' |
       sed 's/design-srv01/grow01/g')
grow() {   # grow FROM TO: appends events FROM..TO-1
    for k in $(seq "$1" $(($2 - 1))); do
        echo "${tmpl/\/usr\/sbin\/CRON -f -P/\/usr\/bin\/seq-marker $(printf '%06d' "$k")}"
    done >>"$T/grow.jsonl"
}
: >"$T/grow.jsonl"
grow 0 2000
$STOAT publish $SRV --host grow01 --follow --spool "$T/sp-grow" --spool-rate 2000 "$T/grow.jsonl" \
    >"$T/pub-grow.out" 2>"$T/pub-grow.err" &
GPID=$!; PIDS="$PIDS $GPID"
seq_in_stream() {   # the numbers of grow01's events in the stream, in stream order
    # (this command's own line, seen by the live watch, has no six digits)
    "$CHECK" lines "$URL1" STOAT_EVENTS | grep '"host":"grow01"' | grep -o 'seq-marker [0-9]\{6\}' |
        awk '{print $2 + 0}'
}
for _ in $(seq 1 60); do [ "$(seq_in_stream | wc -l)" -ge 2000 ] && break; sleep 1; done
[ "$(seq_in_stream | wc -l)" = 2000 ] && ok "follow: the first 2000 events in the stream" || bad "follow: first part"
node_stop 1; node_stop 2; node_stop 3
echo "cluster stopped"
# while it is away: the file grows, this machine runs commands, and a host
# whose spool holds 256 KiB publishes a day
grow 2000 5000
bash -c 'for k in $(seq 1 20); do /bin/true; done; id; uname -a' >/dev/null 2>&1
sed 's/host00/capped01/g' "$T/logs/host00.jsonl" >"$T/capped01.jsonl"
$STOAT publish $SRV --host capped01 --spool "$T/sp-cap" --spool-max 256K --wait 120 "$T/capped01.jsonl" \
    >"$T/pub-cap.out" 2>"$T/pub-cap.err" &
CPID=$!; PIDS="$PIDS $CPID"
sleep 8
ls "$T/sp-grow"/seg-* >/dev/null 2>&1 && ok "cluster down: the follower's batches go to its spool" ||
    bad "nothing spooled by the follower"
sleep 22
node 1; node 2; node 3
echo "cluster restarted after 30 s"
# live events go on while the spool drains
grow 5000 6000
for _ in $(seq 1 120); do [ "$(seq_in_stream | wc -l)" -ge 6000 ] && break; sleep 1; done
seq_in_stream >"$T/grow-seq"
[ "$(wc -l <"$T/grow-seq")" = 6000 ] && [ "$(sort -n "$T/grow-seq" | uniq | wc -l)" = 6000 ] &&
    [ "$(sort -n "$T/grow-seq" | tail -1)" = 5999 ] &&
    ok "after the outage: all 6000 events of the growing file in the stream, none twice" ||
    bad "growing file: $(wc -l <"$T/grow-seq") in the stream, $(sort -n "$T/grow-seq" | uniq | wc -l) distinct (want 6000)"
# in order: what was written while the cluster was away (2000..4999) went
# through the spool, in the file's order; after the restart a live batch may
# pass the spool (live is not held back) and a live batch whose publish
# failed goes to the spool's end, so the whole is two runs in the file's
# order merged: the spool's and the live one
awk '$1 >= 2000 && $1 < 5000' "$T/grow-seq" >"$T/spooled-seq"
two_runs() {   # the numbers in $1 split into at most two increasing runs (greedy best fit)
    awk 'BEGIN {a = -1; b = -1}
         { x = $1
           if (a < x && (b >= x || a >= b)) a = x
           else if (b < x) b = x
           else { bad = 1; exit } }
         END { exit bad }' "$1"
}
sort -n -c "$T/spooled-seq" 2>/dev/null && two_runs "$T/grow-seq" &&
    ok "the spool drained in order, the live events in order beside it" ||
    { bad "out of order"; awk 'NR > 1 && $1 < p {print "  after " p ": " $1} {p = $1}' "$T/grow-seq" | head -5; }
kill -TERM "$GPID"; wait "$GPID"; rc=$?
[ $rc -eq 0 ] && [ "$(tail -1 "$T/pub-grow.out")" = "published: 6000 events, 6000 acknowledged" ] &&
    ok "follow across the cluster's outage: exit 0, 6000 acknowledged" ||
    { bad "follow: exit $rc, $(tail -1 "$T/pub-grow.out")"; tail -3 "$T/pub-grow.err"; }
# the capped host: dropped counted at the host, in its heartbeat, in the stream
wait "$CPID"; rc=$?
N0=$(grep '^host00 ' "$T/published" | cut -d' ' -f2)
D=$(sed -n 's/^stoat publish: \([0-9]*\) events (\([0-9]*\) batches) dropped: the spool was full$/\1/p' "$T/pub-cap.err")
if [ -n "$D" ] && [ "$D" -gt 0 ] && [ "$D" -lt "$N0" ]; then ok "over its cap the host said it dropped $D of $N0 events"
else bad "capped host: no drop count said (exit $rc)"; tail -5 "$T/pub-cap.err"; D=0; fi
c=$("$CHECK" count "$URL1" STOAT_EVENTS)
ev=$(echo "$c" | awk '$1 == "host" && $2 == "capped01" {print $3}')
[ "$ev" = $((N0 - D)) ] && ok "the stream holds exactly the $((N0 - D)) events not dropped" ||
    bad "capped host: the stream holds $ev of its events, want $((N0 - D))"
drained || { bad "lag after the outage"; cat "$T/status"; }
shown_dropped() {   # capped01's heartbeat in the status, with spool_dropped $D
    $STOAT fleet status $SRV --db "$T/fleet.db" >"$T/fstatus2" 2>&1
    python3 - "$T/fstatus2" "$D" <<'EOF'
import json, sys
text = open(sys.argv[1]).read()
doc = json.loads(text[text.index('{"hosts"'):].splitlines()[0])
hb = [h for h in doc["hosts"] if h["name"] == "capped01"]
sys.exit(0 if hb and hb[0]["heartbeat"] and hb[0]["heartbeat"]["spool_dropped"] == int(sys.argv[2]) else 1)
EOF
}
for _ in $(seq 1 30); do shown_dropped && break; sleep 1; done
shown_dropped && ok "fleet status shows capped01's heartbeat: spool_dropped $D" ||
    { bad "spool_dropped not shown centrally"; grep -o '{"name":"capped01[^}]*}' "$T/fstatus2"; }
# the live watch on this machine: what it published is in the stream
if [ -n "$WPID" ]; then
    # what the watch spooled while the cluster was away drains at its
    # --spool-rate after the restart; it is stopped once its spool is empty
    # (what a stop leaves there waits for its next run, so counting the
    # stream before that would count a test's haste, not a loss)
    spooled() { ls "$T/wsp"/seg-*.spool >/dev/null 2>&1; }
    for _ in $(seq 1 90); do spooled || break; sleep 1; done
    spooled && bad "the watch's spool still holds batches 90 s after the cluster came back: $(ls "$T/wsp" | wc -l) segments"
    kill -TERM "$WPID"; wait "$WPID"; WPID=
    W=$(sed -n 's/^stoat watch: \([0-9]*\) events, .*/\1/p' "$T/watch.err")
    c=$("$CHECK" count "$URL1" STOAT_EVENTS)
    E=$(echo "$c" | awk -v h="$SELF" '$1 == "host" && $2 == h {print $3}')
    [ -n "$W" ] && [ "$W" -gt 0 ] && [ "$E" = "$W" ] &&
        ok "watch --publish across both outages: all $W sensor events in the stream once" ||
        { bad "watch: $W events, stream $E"; tail -n 3 "$T/watch.err"; }
fi
drained || bad "lag at the end"
alive=0
for w in $WA $WB; do kill -0 "$w" 2>/dev/null && alive=$((alive + 1)); done
[ $alive = 2 ] && ok "both workers outlived the cluster's outage" ||
    { bad "a worker died: $(grep -h "error" "$T/wa.log" "$T/wb.log" | head -3)"; }
kill -TERM $WA $WB 2>/dev/null; wait $WA $WB 2>/dev/null
alerts "$T/fleet.db" >"$T/got2"
[ "$(unended)" = 0 ] && ok "after the outage the workers' clean stop ends all their runs" || bad "$(unended) runs not ended"
cmp -s "$T/expect" "$T/got2" && ok "after the outage still exactly hunt's alerts for the $HOSTS hosts" ||
    { bad "alerts changed after the outage"; diff "$T/expect" "$T/got2" | head; }
finish
