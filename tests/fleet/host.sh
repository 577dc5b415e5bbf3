#!/bin/bash
# The fleet's host side against a real nats-server with JetStream (one node,
# on a random loopback port, its store in a temp folder; killed by pid):
#   1. `stoat publish` of a file: every event in the stream once, counted by
#      message id and by the events' lines; exit 0 and the summary line
#   2. a resend (the same spool sent twice) is dropped by the stream's
#      duplicate window: nothing counted twice
#   3. the server stopped while `stoat publish --follow` publishes: the spool
#      takes the batches, drains after the restart, nothing lost
#   4. the spool's cap overflowing: what was dropped is counted exactly (what
#      reaches the stream is what went in minus what was said dropped)
#   5. `stoat watch --publish` delivers its events (root, eBPF; else skipped)
# Skipped with a message when nats-server is absent. Last line:
# "fleet-host: P passed, F failed".
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-build/stoat}
CHECK=${FLEETCHECK:-build/tests/fleet/fleetcheck}
PASS=0
FAIL=0
ok() { echo "ok   $*"; PASS=$((PASS + 1)); }
bad() { echo "FAIL $*"; FAIL=$((FAIL + 1)); }
finish() { echo "fleet-host: $PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }

NATS=$(command -v nats-server || ls /usr/sbin/nats-server 2>/dev/null)
if [ -z "$NATS" ]; then
    echo "skip: nats-server is not installed (scripts/install-deps.sh installs it); the fleet tests need it"
    finish
fi
[ -n "${FLEETCHECK:-}" ] || make -s fleetcheck >/dev/null || { bad "cannot build $CHECK"; finish; }

T=$(mktemp -d /tmp/stoat-fleet-host.XXXXXX)
SPID=
PPID2=
cleanup() {
    [ -n "$PPID2" ] && kill "$PPID2" 2>/dev/null
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
    [ -n "${STOAT_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# a per-run random port base in 20000-40000, so helpers running at once do not meet
PORT=$((20000 + (RANDOM * 32768 + RANDOM) % 19000))
URL=nats://127.0.0.1:$PORT

start_server() {   # start_server STOREDIR
    "$NATS" -js -a 127.0.0.1 -p "$PORT" -sd "$1" >>"$T/server.log" 2>&1 &
    SPID=$!
    for _ in $(seq 1 100); do
        "$CHECK" count "$URL" NONE >/dev/null 2>&1
        [ $? -eq 2 ] && grep -q "Server is ready" "$T/server.log" && return 0
        sleep 0.1
    done
    return 1
}
stop_server() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
    SPID=
}
field() {   # field NAME "count output": the number after NAME
    echo "$2" | head -1 | tr ' ' '\n' | grep -A1 -x "$1" | tail -1
}
wait_events() {   # wait_events N: until STOAT_EVENTS holds N event lines (up to 60 s)
    for _ in $(seq 1 600); do
        c=$("$CHECK" count "$URL" STOAT_EVENTS 2>/dev/null)
        [ "$(field events "$c")" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# the input: the two benign scenario hosts, five times over (about 14,000 events)
for _ in 1 2 3 4 5; do zcat tests/scenario/benign/*.jsonl.gz; done > "$T/events.jsonl"
N=$("$STOAT" dump "$T/events.jsonl" 2>/dev/null | wc -l)
head -1 "$T/events.jsonl" > "$T/one.jsonl"

# ------------------------------------------------------------ 1. publish a file
start_server "$T/js1" || { bad "nats-server did not start on $PORT"; cat "$T/server.log"; finish; }
"$CHECK" setup "$URL" 4 >/dev/null || bad "setup"
"$STOAT" publish --server "$URL" --spool "$T/sp1" "$T/events.jsonl" >"$T/p1.out" 2>"$T/p1.err"
rc=$?
c=$("$CHECK" count "$URL" STOAT_EVENTS)
if [ $rc -eq 0 ] && [ "$(tail -1 "$T/p1.out")" = "published: $N events, $N acknowledged" ]; then
    ok "publish: exit 0, published: $N events, $N acknowledged"
else
    bad "publish: exit $rc, $(tail -1 "$T/p1.out") (want $N)"; cat "$T/p1.err"
fi
if [ "$(field events "$c")" = "$N" ] && [ "$(field messages "$c")" = "$(field ids "$c")" ] &&
   [ "$(field badcount "$c")" = 0 ] && [ "$(field nohost "$c")" = 0 ]; then
    ok "stream holds every event once ($(head -1 <<<"$c"))"
else
    bad "stream: $c (want $N events, one id per message)"
fi
[ "$(field zstd "$c")" = "$(field messages "$c")" ] && ok "every event batch went as zstd" ||
    bad "encodings: $(head -1 <<<"$c") (want every message zstd)"
# --encoding zlib (for a centre older than zstd): the same events, as zlib
"$CHECK" delete "$URL" STOAT_EVENTS >/dev/null && "$CHECK" setup "$URL" 4 >/dev/null
"$STOAT" publish --server "$URL" --spool "$T/sp1z" --encoding zlib "$T/events.jsonl" >"$T/p1z.out" 2>"$T/p1z.err"
cz=$("$CHECK" count "$URL" STOAT_EVENTS)
[ "$(field events "$cz")" = "$N" ] && [ "$(field zlib "$cz")" = "$(field messages "$cz")" ] &&
    [ "$(field undecodable "$cz")" = 0 ] && ok "--encoding zlib: every event, every batch zlib" ||
    { bad "--encoding zlib: $(head -1 <<<"$cz")"; cat "$T/p1z.err"; }
"$STOAT" publish --server "$URL" --spool "$T/sp1z" --encoding lz4 "$T/one.jsonl" >/dev/null 2>"$T/p1e.err"
[ $? -eq 2 ] && grep -q "takes zstd or zlib" "$T/p1e.err" && ok "--encoding lz4: usage, exit 2" ||
    bad "--encoding lz4: $(cat "$T/p1e.err")"
# every event under its own host: the per-host counts are dump's
for h in design-srv01 fab-ws07.corp.chipfab.example; do
    want=$("$STOAT" dump "$T/events.jsonl" 2>/dev/null | grep -c "\"host\":\"$h\"")
    got=$(echo "$c" | awk -v h="$h" '$1 == "host" && $2 == h {print $3}')
    [ "$got" = "$want" ] && ok "host $h: $got events" || bad "host $h: $got events, want $want"
done
# the subjects: per host token and partition
"$CHECK" last "$URL" STOAT_HEALTH | grep -q '"role":"publish"' && ok "a heartbeat reached STOAT_HEALTH" ||
    bad "no heartbeat"
# the Windows shippers' shapes: every event with a host and an RFC 3339 UTC time
"$CHECK" setup "$URL" 4 >/dev/null
before=$(field events "$("$CHECK" count "$URL" STOAT_EVENTS)")
"$STOAT" publish --server "$URL" --spool "$T/sp1" tests/fleet/shapes/ >"$T/p1b.out" 2>"$T/p1b.err" ||
    bad "publish of the shipper shapes: $(cat "$T/p1b.err")"
"$CHECK" lines "$URL" STOAT_EVENTS | tail -n +$((before + 1)) > "$T/shapes.jsonl"
for want in 'fs01.corp.example","2026-11-19T06:03:00.000000Z' 'fs01.corp.example","2026-11-19T06:04:10.000000Z' \
            'dc01.corp.example","2026-11-19T06:03:00.000000Z' 'ws07.corp.example","2026-11-19T06:05:00.125000Z'; do
    h=${want%%\",*}; t=${want##*,\"}; t=${t%\"}
    grep -q "\"timestamp\":\"$t\",\"host\":\"$h\"" "$T/shapes.jsonl" && ok "shape: $h at $t" ||
        bad "shape: no event of $h at $t in $(cut -c1-100 "$T/shapes.jsonl")"
done
[ "$(wc -l < "$T/shapes.jsonl")" = 4 ] && ! grep -q '"timestamp":null\|"host":null' "$T/shapes.jsonl" &&
    ok "every shipper event has a time and a host" || bad "shapes: $(wc -l < "$T/shapes.jsonl") lines"
# events that do not compress (4,000 random base64 bytes each): a 2 MiB batch
# would not fit a 1 MiB message even compressed, so it goes in pieces, each
# with its own id; every event arrives once and the publisher says so
"$CHECK" delete "$URL" STOAT_EVENTS >/dev/null && "$CHECK" setup "$URL" 4 >/dev/null
head -c 3600000 /dev/urandom | base64 -w 4000 | head -1200 |
    awk 'NR == FNR { t = $0; next } { l = t; sub(/"RuleName":"-"/, "\"RuleName\":\"" $0 "\"", l); print l }' \
        "$T/one.jsonl" - > "$T/noise.jsonl"
NN=$("$STOAT" dump "$T/noise.jsonl" 2>/dev/null | wc -l)
"$STOAT" publish --server "$URL" --spool "$T/sp1n" "$T/noise.jsonl" >"$T/p1n.out" 2>"$T/p1n.err"
rc=$?
cn=$("$CHECK" count "$URL" STOAT_EVENTS)
if [ $rc -eq 0 ] && [ "$NN" = 1200 ] && [ "$(tail -1 "$T/p1n.out")" = "published: $NN events, $NN acknowledged" ] &&
   [ "$(field events "$cn")" = "$NN" ] && [ "$(field messages "$cn")" = "$(field ids "$cn")" ] &&
   [ "$(field badcount "$cn")" = 0 ] && [ "$(field messages "$cn")" -ge 6 ]; then
    ok "incompressible events: $NN once, in pieces that fit a message ($(head -1 <<<"$cn"))"
else
    bad "incompressible events: exit $rc, $(tail -1 "$T/p1n.out"), stream: $(head -1 <<<"$cn")"; tail -3 "$T/p1n.err"
fi
# a centre reads both: the pieces, and batches over a piece's size sent whole
# (Stoat-Span: the sequence numbers kept for their pieces are marked with
# them), so each host's run is one interval of marks, every number once
for _ in 1 2 3; do zcat demo/linux-design-srv01.jsonl.gz; done >"$T/big.jsonl"
NB=$("$STOAT" dump "$T/big.jsonl" 2>/dev/null | wc -l)
"$STOAT" publish --server "$URL" --spool "$T/sp1g" "$T/big.jsonl" >"$T/p1g.out" 2>"$T/p1g.err"
"$STOAT" fleet setup --server "$URL" --partitions 4 >/dev/null 2>&1
"$STOAT" fleet --server "$URL" --db "$T/span.db" --worker w1 --duration 12 -v >"$T/w1.log" 2>&1
got=$(sed -n 's/^fleet w1: [0-9]* batches, \([0-9]*\) events,.*/\1/p' "$T/w1.log")
iv=$(sqlite3 "$T/span.db" "SELECT count(*) || ' rows, runs ' || count(DISTINCT run) || ', numbers ' || sum(hi - lo + 1)
     || ', from ' || min(lo) FROM fleet_seen")
if [ "$got" = $((NN + NB)) ] && [ "${iv%%,*}" = "2 rows" ] && echo "$iv" | grep -q "runs 2, .*from 1$"; then
    ok "the centre stores every event ($got) and marks each run as one interval ($iv)"
else
    bad "centre: $got events stored (want $((NN + NB))), marks: $iv"; tail -3 "$T/w1.log"
fi
stop_server

# ------------------------------------------------------------ 2. resend dedupe
# a run with no server spools everything; its spool, copied, is sent twice
"$STOAT" publish --server "$URL" --spool "$T/sp2" --wait 1 "$T/events.jsonl" >"$T/p2.out" 2>"$T/p2.err"
rc=$?
[ $rc -eq 4 ] && [ "$(tail -1 "$T/p2.out")" = "published: $N events, 0 acknowledged" ] &&
    ok "no server: exit 4, nothing acknowledged, all spooled" || bad "no server: exit $rc $(tail -1 "$T/p2.out")"
cp -a "$T/sp2" "$T/sp2copy"
start_server "$T/js2" || { bad "restart"; finish; }
"$CHECK" setup "$URL" 4 >/dev/null
"$STOAT" publish --server "$URL" --spool "$T/sp2" "$T/one.jsonl" >"$T/p3.out" 2>"$T/p3.err"
grep -q "^stoat publish: $N events of an earlier run" "$T/p3.err" && ok "the next run sends the spool: $N events" ||
    { bad "spool not sent"; cat "$T/p3.err"; }
"$STOAT" publish --server "$URL" --spool "$T/sp2copy" "$T/one.jsonl" >"$T/p4.out" 2>"$T/p4.err"
grep -q "duplicates" "$T/p4.err" && ok "the resend is acknowledged as duplicates" || bad "no duplicates said"
c=$("$CHECK" count "$URL" STOAT_EVENTS)
# the spool's events once, and the one-line input of each of the two runs
[ "$(field events "$c")" = $((N + 2)) ] && [ "$(field messages "$c")" = "$(field ids "$c")" ] &&
    ok "after the resend the stream holds $((N + 2)) events, none twice" || bad "after resend: $c, want $((N + 2))"
stop_server

# ------------------------------------------------------------ 2b. the spool drains in order
# a spool of 40 batches (numbered events, one host) meets a server whose
# event stream is gone: every resend is refused for a few seconds, then the
# stream is made again. The events reach it in the spool's order (refused
# batches were appended behind later ones: their order rotated).
tmpl=$(zcat tests/scenario/benign/linux-design-srv01.jsonl.gz | grep -m1 '"EventID":1,' |
       sed 's/design-srv01/order01/g')
for k in $(seq 0 39999); do echo "${tmpl/\/usr\/sbin\/CRON -f -P/\/usr\/bin\/seq-marker $k}"; done >"$T/ordered.jsonl"
"$STOAT" publish --server "$URL" --spool "$T/sp2b" --wait 1 "$T/ordered.jsonl" >/dev/null 2>&1
start_server "$T/js2b" || { bad "start 2b"; finish; }
"$CHECK" setup "$URL" 4 >/dev/null && "$CHECK" delete "$URL" STOAT_EVENTS ||
    bad "could not set up a server without its event stream"
"$STOAT" publish --server "$URL" --spool "$T/sp2b" --spool-rate 100000 --wait 60 "$T/one.jsonl" \
    >"$T/p2b.out" 2>"$T/p2b.err" &
P2B=$!
sleep 4
"$CHECK" setup "$URL" 4 >/dev/null
wait $P2B
"$CHECK" lines "$URL" STOAT_EVENTS | grep -o 'seq-marker [0-9]*' | awk '{print $2}' >"$T/order-seq"
if [ "$(wc -l <"$T/order-seq")" = 40000 ] && sort -n -c "$T/order-seq" 2>/dev/null; then
    ok "a spool refused for 4 s drains in order: 40000 events"
else
    bad "spool order: $(wc -l <"$T/order-seq") events; runs: $(awk 'NR == 1 {s = $1} NR > 1 && $1 != p + 1 {printf "%s-%s ", s, p; s = $1} {p = $1} END {print s "-" p}' "$T/order-seq" | cut -c1-200)"
fi
stop_server

# ------------------------------------------------------------ 3. outage mid-publish
start_server "$T/js3" || { bad "start 3"; finish; }
"$CHECK" setup "$URL" 4 >/dev/null
head -5000 "$T/events.jsonl" > "$T/grow.jsonl"
N1=$("$STOAT" dump "$T/grow.jsonl" 2>/dev/null | wc -l)
"$STOAT" publish --server "$URL" --spool "$T/sp3" --follow --wait 60 --spool-rate 20000 "$T/grow.jsonl" \
    >"$T/p5.out" 2>"$T/p5.err" &
PPID2=$!
wait_events "$N1" && ok "follow: the first $N1 events arrived" || bad "follow: first part not in the stream"
stop_server
tail -n +5001 "$T/events.jsonl" >> "$T/grow.jsonl"
# the publisher spools while the server is away
for _ in $(seq 1 100); do
    ls "$T/sp3"/seg-* >/dev/null 2>&1 && break
    sleep 0.1
done
ls "$T/sp3"/seg-* >/dev/null 2>&1 && ok "server down: batches go to the spool" || bad "nothing spooled"
start_server "$T/js3" || { bad "restart 3"; finish; }
wait_events "$N" && ok "after the restart the spool drained: $N events in the stream" ||
    bad "after restart: $("$CHECK" count "$URL" STOAT_EVENTS | head -1), want $N"
# rotation: lines written to the old file before it was renamed, then a new
# file under the name; then a truncation of the new one
head -300 "$T/events.jsonl" > "$T/more.jsonl"
head -200 "$T/events.jsonl" > "$T/new.jsonl"
{ cat "$T/more.jsonl" >> "$T/grow.jsonl"; mv "$T/grow.jsonl" "$T/grow.jsonl.1"; cp "$T/new.jsonl" "$T/grow.jsonl"; }
N2=$((N + 500))
wait_events "$N2" && ok "rotation: the old file read to its end, the new one from its start" ||
    bad "rotation: $("$CHECK" count "$URL" STOAT_EVENTS | head -1), want $N2"
: > "$T/grow.jsonl"
head -100 "$T/events.jsonl" >> "$T/grow.jsonl"
N3=$((N2 + 100))
wait_events "$N3" && ok "truncation: read again from the start" ||
    bad "truncation: $("$CHECK" count "$URL" STOAT_EVENTS | head -1), want $N3"
kill -TERM "$PPID2"
wait "$PPID2"
rc=$?
PPID2=
[ $rc -eq 0 ] && [ "$(tail -1 "$T/p5.out")" = "published: $N3 events, $N3 acknowledged" ] &&
    ok "follow across the outage: exit 0, $N3 acknowledged" || { bad "follow: exit $rc $(tail -1 "$T/p5.out")"; tail -5 "$T/p5.err"; }
c=$("$CHECK" count "$URL" STOAT_EVENTS)
[ "$(field events "$c")" = "$N3" ] && [ "$(field messages "$c")" = "$(field ids "$c")" ] &&
    ok "nothing lost, nothing twice ($(head -1 <<<"$c"))" || bad "outage: $c"
# a restart goes on where it stood: nothing of the file is sent again
"$STOAT" publish --server "$URL" --spool "$T/sp3" --follow "$T/grow.jsonl" >"$T/p5b.out" 2>"$T/p5b.err" &
PPID2=$!
sleep 2
kill -TERM "$PPID2"
wait "$PPID2"
PPID2=
[ "$(tail -1 "$T/p5b.out")" = "published: 0 events, 0 acknowledged" ] &&
    ok "follow restarted: goes on where it stood" || { bad "follow restart: $(tail -1 "$T/p5b.out")"; tail -5 "$T/p5b.err"; }
stop_server

# ------------------------------------------------------------ the command line
"$STOAT" publish --server "$URL" >/dev/null 2>&1; [ $? -eq 2 ] && ok "no path: usage, exit 2" || bad "no path"
"$STOAT" publish --server http://x "$T/one.jsonl" >/dev/null 2>"$T/e1"; rc=$?
[ $rc -eq 2 ] && grep -q "nats://" "$T/e1" && ok "a bad --server: exit 2, said why" || bad "bad server: exit $rc"
printf 'user: a\npassword: b\n' > "$T/open.creds"; chmod 644 "$T/open.creds"
"$STOAT" publish --server "$URL" --creds "$T/open.creds" "$T/one.jsonl" >/dev/null 2>"$T/e2"; rc=$?
[ $rc -eq 3 ] && grep -q "0600" "$T/e2" && ok "creds readable by others: refused, exit 3" || bad "open creds: exit $rc"
printf 'ElfFile\0' > "$T/x.evtx"; head -c 4096 /dev/zero >> "$T/x.evtx"
"$STOAT" publish --server "$URL" --spool "$T/spx" --follow "$T/x.evtx" >/dev/null 2>"$T/e3"; rc=$?
[ $rc -eq 2 ] && grep -q "EVTX files cannot be followed" "$T/e3" && ok "--follow of an EVTX file: refused with the reason" ||
    bad "follow evtx: exit $rc"

# ------------------------------------------------------------ 4. the cap overflows
"$STOAT" publish --server "$URL" --spool "$T/sp4" --spool-max 1M --wait 1 "$T/events.jsonl" >"$T/p6.out" 2>"$T/p6.err"
D=$(sed -n 's/^stoat publish: \([0-9]*\) events (\([0-9]*\) batches) dropped: the spool was full$/\1/p' "$T/p6.err")
if [ -n "$D" ] && [ "$D" -gt 0 ] && [ "$D" -lt "$N" ]; then
    ok "over the cap: $D events dropped, said"
else
    bad "cap: no drop count said"; cat "$T/p6.err"; D=0
fi
start_server "$T/js4" || { bad "start 4"; finish; }
"$CHECK" setup "$URL" 4 >/dev/null
"$STOAT" publish --server "$URL" --spool "$T/sp4" "$T/one.jsonl" >"$T/p7.out" 2>"$T/p7.err"
c=$("$CHECK" count "$URL" STOAT_EVENTS)
[ "$(field events "$c")" = $((N - D + 1)) ] &&
    ok "what reached the stream is what went in minus the $D said dropped" ||
    bad "cap: stream holds $(field events "$c"), want $((N - D + 1))"
stop_server

# ------------------------------------------------------------ 5. watch --publish
tests/fleet/watch-publish.sh "$NATS" "$CHECK" "$T"
case $? in
    0) ok "watch --publish" ;;
    3) ;;   # skipped, said why
    *) bad "watch --publish" ;;
esac
finish
