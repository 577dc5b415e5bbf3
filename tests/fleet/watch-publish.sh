#!/bin/bash
# `stoat watch --publish`, live (root, eBPF), called by tests/fleet/host.sh
# with the nats-server binary, the fleetcheck helper and a temp folder:
#   - every event the sensor delivered reaches STOAT_EVENTS (the watch's
#     event count is the stream's), under this host, with its process starts
#   - the alerts raised locally reach STOAT_ALERTS, the same ones
#   - a rule bundle pushed to KV stoat_rules is loaded while it runs: its
#     rule alerts, locally and in the stream, and the heartbeat names it
#   - with no server at all, detection is unchanged: the alerts still come
#     out locally
# Prints ok/FAIL lines; exit status 0 when all passed, 3 when skipped.
set -u
NATS=$1
CHECK=$2
T=$3/watch
STOAT=${STOAT:-build/stoat}
mkdir -p "$T"
FAILED=0
ok() { echo "ok   watch --publish: $*"; }
bad() { echo "FAIL watch --publish: $*"; FAILED=1; }
if [ "$(id -u)" -ne 0 ]; then
    echo "skip: stoat watch --publish needs root (the eBPF sensor)"
    exit 3
fi
PORT=$((20000 + (RANDOM * 32768 + RANDOM) % 19000))
URL=nats://127.0.0.1:$PORT
SPID=
WPID=
cleanup() {
    [ -n "$WPID" ] && kill "$WPID" 2>/dev/null
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
}
trap cleanup EXIT
"$NATS" -js -a 127.0.0.1 -p "$PORT" -sd "$T/js" >"$T/server.log" 2>&1 &
SPID=$!
for _ in $(seq 1 100); do grep -q "Server is ready" "$T/server.log" && break; sleep 0.1; done
"$CHECK" setup "$URL" 4 >/dev/null || { bad "setup"; exit 1; }
HOST=$(hostname)
MARK=stoat-fleet-mark-$$
cat > "$T/mark.yml" <<EOF
title: Fleet bundle marker
id: 6c1f3a52-8d7e-4b0a-9d55-fleet0000001
status: test
level: high
logsource: {product: linux, category: process_creation}
detection:
  sel:
    CommandLine|contains: '$MARK'
  condition: sel
EOF

"$STOAT" watch --publish "$URL" --spool "$T/spool" --format jsonl -o "$T/alerts.jsonl" >"$T/watch.out" 2>"$T/watch.err" &
WPID=$!
# running once its first heartbeat is in (after the kernel programs' verifying:
# 10 s and more in a slow minute of a virtual machine, so up to 60 s)
for _ in $(seq 1 600); do
    "$CHECK" last "$URL" STOAT_HEALTH 2>/dev/null | grep -q '"role":"watch"' && break
    sleep 0.1
done
bash -c 'id; uname -a; cat /etc/passwd >/dev/null; ps aux >/dev/null; whoami' >/dev/null 2>&1
V=$("$CHECK" push "$URL" "$T/mark.yml")
for _ in $(seq 1 100); do
    grep -q "from the fleet's bundle $V" "$T/watch.err" && break
    sleep 0.1
done
grep -q "rules reloaded (1) from the fleet's bundle $V" "$T/watch.err" && ok "bundle $V loaded while running" ||
    bad "bundle not loaded: $(tail -3 "$T/watch.err")"
/bin/echo "$MARK" >/dev/null
sleep 1
for _ in $(seq 1 100); do
    grep -q "$MARK" "$T/alerts.jsonl" 2>/dev/null && break
    sleep 0.1
done
sleep 11   # one heartbeat after the reload
kill -TERM "$WPID"
wait "$WPID"
WPID=
W=$(sed -n 's/^stoat watch: \([0-9]*\) events, .*/\1/p' "$T/watch.err")
P=$(sed -n 's/^stoat watch: published \([0-9]*\) events and \([0-9]*\) alerts, \([0-9]*\) acknowledged.*/\1 \2 \3/p' "$T/watch.err")
c=$("$CHECK" count "$URL" STOAT_EVENTS)
E=$(echo "$c" | head -1 | awk '{print $6}')
[ -n "$W" ] && [ "$W" -gt 0 ] && [ "$E" = "$W" ] && [ "${P%% *}" = "$W" ] &&
    ok "all $W sensor events published and in the stream" || bad "events: watch $W, published $P, stream $E"
echo "$c" | grep -q "^host $HOST " && ok "events under host $HOST" || bad "host: $c"
"$CHECK" lines "$URL" STOAT_EVENTS | grep -q '"Image":"/usr/bin/id"' && ok "process starts in the stream" ||
    bad "no /usr/bin/id start in the stream"
LOCAL=$(grep -c . "$T/alerts.jsonl")
"$CHECK" lines "$URL" STOAT_ALERTS > "$T/alerts-stream.jsonl"
[ "$LOCAL" -gt 0 ] && cmp -s <(sort "$T/alerts.jsonl") <(sort "$T/alerts-stream.jsonl") &&
    ok "the $LOCAL local alert lines are the stream's" ||
    bad "alerts: $LOCAL local, $(grep -c . "$T/alerts-stream.jsonl") in the stream"
grep -q "$MARK" "$T/alerts-stream.jsonl" && ok "the bundle's rule alerted, in the stream" ||
    bad "the bundle's rule did not alert"
"$CHECK" last "$URL" STOAT_HEALTH | grep -q "\"rule_version\":\"$V\"" && ok "the heartbeat names rule version $V" ||
    bad "heartbeat: $("$CHECK" last "$URL" STOAT_HEALTH)"

# no server at all: the same local detection
kill "$SPID"; wait "$SPID" 2>/dev/null; SPID=
"$STOAT" watch --publish "$URL" --spool "$T/spool2" -r "$T/mark.yml" --no-default-rules --format jsonl \
    -o "$T/alerts2.jsonl" 2>"$T/watch2.err" &
WPID=$!
for _ in $(seq 1 600); do grep -q "mode:" "$T/watch2.err" && break; sleep 0.1; done
sleep 1
/bin/echo "$MARK-down" >/dev/null
for _ in $(seq 1 100); do grep -q "$MARK-down" "$T/alerts2.jsonl" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$WPID"
wait "$WPID"
rc=$?
WPID=
grep -q "$MARK-down" "$T/alerts2.jsonl" && [ $rc -eq 0 ] && ok "bus down: the alert still came out locally" ||
    bad "bus down: exit $rc, no local alert"
grep -q "events in the spool" "$T/watch2.err" && ok "bus down: what was not sent waits in the spool" ||
    bad "bus down: $(tail -2 "$T/watch2.err")"
exit $FAILED
