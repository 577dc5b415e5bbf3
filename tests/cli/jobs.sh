#!/bin/sh
# The same output whatever the thread count: `stoat hunt -j 1`, `-j 2` and
# `-j 4` must write the same alert bytes, report the same bad records at the
# same lines, and leave the same store contents. Work is split inside a file
# (JSON lines by byte range, EVTX by chunk runs) and alerts are partly
# rendered on the workers, so this is what holds the pieces together.
# Data: a generated JSON-lines day of a few MB (with malformed, blank, CRLF
# and over-long lines placed across the split points), and the shared EVTX
# folder when it is beside the repository (skipped with a message otherwise).
# Last line: "cli-jobs: P passed, F failed".
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-build/stoat}
pass=0; fail=0
tmp=$(mktemp -d)
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
[ -n "${STOAT_TEST_CACHE:-}" ] || { XDG_CACHE_HOME=$tmp/cache; export XDG_CACHE_HOME; }
check() {   # check NAME COMMAND...: passes when the command succeeds
    what=$1; shift
    if "$@" >"$tmp/out" 2>&1; then pass=$((pass+1)); else echo "FAIL $what"; sed 's/^/    /' "$tmp/out" | head -20; fail=$((fail+1)); fi
}

# The store's contents, without what says when and how a run was made, nor
# how its writes fell into transactions (time-based: the event packs' and the
# search index's layout); the events are compared unpacked, one a line.
store_dump() {   # store_dump DB OUT
    sqlite3 "$1" .dump | grep -v -E -e '^INSERT INTO "?(runs|commits|meta|event_packs|alert_words_[a-z]+|alert_text_[a-z]+)"? ' -e '^INSERT INTO sqlite_stat1 VALUES[(].alert_words_' >"$2"
    python3 - "$1" >>"$2" <<'PY'
import sqlite3, struct, sys, zlib
db = sqlite3.connect(sys.argv[1])
for pid, n, blob in db.execute('SELECT id, n, data FROM event_packs ORDER BY id'):
    raw = zlib.decompress(blob, -15)
    ends = struct.unpack('<%dI' % n, raw[:4 * n])
    body, start = raw[4 * n:], 0
    for k, end in enumerate(ends):
        sys.stdout.write('event %d %s\n' % (pid + k, body[start:end].decode('utf-8', 'replace')))
        start = end
PY
}

# hunt_all NAME ARGS...: hunts with -j 1, 2 and 4 into $tmp/NAME.jN.{jsonl,err,db}
hunt_all() {
    name=$1; shift
    for j in 1 2 4; do
        $STOAT hunt -j $j --no-summary --format jsonl -o "$tmp/$name.j$j.jsonl" --db "$tmp/$name.j$j.db" "$@" \
            2>"$tmp/$name.j$j.err"
        echo $? >"$tmp/$name.j$j.rc"
        store_dump "$tmp/$name.j$j.db" "$tmp/$name.j$j.dump"
    done
}

same_all() {   # same_all NAME WHAT: the -j 2 and -j 4 outputs are -j 1's
    name=$1
    check "$name: alerts present" sh -c "[ \$(wc -l <'$tmp/$name.j1.jsonl') -gt 10 ]"
    check "$name: the store holds the alerts and their events" sh -c "grep -q '^event ' '$tmp/$name.j1.dump' && grep -q '^INSERT INTO alerts' '$tmp/$name.j1.dump'"
    for j in 2 4; do
        check "$name: -j $j writes the alerts of -j 1, byte for byte" cmp "$tmp/$name.j1.jsonl" "$tmp/$name.j$j.jsonl"
        check "$name: -j $j reports what -j 1 reports" cmp "$tmp/$name.j1.err" "$tmp/$name.j$j.err"
        check "$name: -j $j exits as -j 1" cmp "$tmp/$name.j1.rc" "$tmp/$name.j$j.rc"
        check "$name: -j $j leaves the store of -j 1" cmp "$tmp/$name.j1.dump" "$tmp/$name.j$j.dump"
    done
}

# ------------------------------------------------------------- JSON lines
python3 bench/gen_corpus.py "$tmp/day.jsonl" 6 --attack-share 0.3 --seed 7 >/dev/null 2>&1
# Damage placed around the 1 MiB block edges and between: a malformed line, a
# blank line, a CRLF line, a line that is not an object, and one line far
# longer than a block (so that blocks start and end inside it).
python3 - "$tmp/day.jsonl" "$tmp/day2.jsonl" <<'PY'
import sys
out = open(sys.argv[2], 'wb')
for n, line in enumerate(open(sys.argv[1], 'rb'), 1):
    out.write(line)
    if n % 997 == 0:
        out.write(b'{"broken": \n')
    if n % 1499 == 0:
        out.write(b'\n')
    if n % 1201 == 0:
        out.write(line.rstrip(b'\n') + b'\r\n')
    if n % 2003 == 0:
        out.write(b'[1, 2]\n')
    if n == 2500:
        out.write(b'{"Channel":"Security","EventID":4624,"Pad":"' + b'x' * 2500000 + b'"}\n')
    if n == 4100:
        out.write(b'{"x":"' + b'B' * (17 << 20) + b'"}\n')
PY
if [ "$(stat -c %s "$tmp/day2.jsonl")" -gt 20000000 ]; then
    pass=$((pass+1))
else
    echo "FAIL the generated JSON day is smaller than 20 MB"; fail=$((fail+1))
fi
hunt_all json "$tmp/day2.jsonl"
same_all json
check "json: bad records are reported with their line numbers" \
    sh -c "grep -q 'day2.jsonl:998: error' '$tmp/json.j1.err' && [ \$(grep -c 'day2.jsonl:[0-9]*: error' '$tmp/json.j1.err') -ge 4 ]"
n_lines=$(wc -l <"$tmp/day2.jsonl")
last=$(grep -o 'day2.jsonl:[0-9]*: error' "$tmp/json.j2.err" | tail -1 | cut -d: -f2)
check "json: the last bad record's line is right with -j 2" sh -c "[ -n '$last' ] && sed -n '${last}p' '$tmp/day2.jsonl' | grep -q -e '^{\"broken\": \$' -e '^\\[1, 2\\]\$' && [ $last -le $n_lines ]"
long=$(grep -o 'day2.jsonl:[0-9]*: error: record longer than 16 MiB, skipped' "$tmp/json.j4.err" | cut -d: -f2)
check "json: a record over the cap is reported at its line" sh -c "[ -n '$long' ] && sed -n '${long}p' '$tmp/day2.jsonl' | head -c 10 | grep -q '^{\"x\":\"BBB'"
# every alert's line holds the event it names
check "json: alert lines point at their events (-j 4)" sh -c "
    python3 - '$tmp/json.j4.jsonl' '$tmp/day2.jsonl' <<'PY'
import json, sys
lines = open(sys.argv[2], 'rb').read().split(b'\n')
bad = 0
for a in map(json.loads, open(sys.argv[1])):
    s = a.get('source', {})
    if s.get('format') != 'json':
        continue
    rid = str(a['event'].get('EventRecordID', ''))
    if rid and rid.encode() not in lines[s['line'] - 1]:
        bad += 1
sys.exit(1 if bad else 0)
PY"
# the same file gzip-compressed (read by the one reading thread) gives the same alerts
gzip -c "$tmp/day2.jsonl" >"$tmp/day2.jsonl.gz"
$STOAT hunt -j 2 -q --format jsonl "$tmp/day2.jsonl.gz" 2>/dev/null | sed 's/day2\.jsonl\.gz/day2.jsonl/' >"$tmp/gz.jsonl"
check "json: a compressed copy gives the same alerts" cmp "$tmp/gz.jsonl" "$tmp/json.j1.jsonl"

# ------------------------------------------------------------- EVTX folder
E=../shared/data/evtx
if [ -d "$E" ]; then
    hunt_all evtx "$E"
    same_all evtx
else
    echo "SKIP -j byte-identity over EVTX: ../shared/data/evtx is absent"
fi

echo "cli-jobs: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
