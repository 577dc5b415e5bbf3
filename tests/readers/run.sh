#!/bin/sh
# Input formats side by side: `stoat hunt DIR` over a folder that mixes EVTX,
# JSON lines, auditd (raw and ausearch -i), Sysmon for Linux in syslog, a
# syslog without Sysmon and a README. Each file must be read by the right
# reader (by its content), the non-logs skipped, and SigmaHQ's Linux rules
# (process_creation and auditd) must fire on the auditd and Sysmon events.
# The EVTX file and the SigmaHQ rules come from ../shared/data; those checks
# are skipped with a message when it is absent.
# Last line: "readers: P passed, F failed".
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-build/stoat}
SHARED=${SHARED:-../shared/data}
pass=0; fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the compiled-rule cache: tests/run.sh's for the whole suite, else one of this run's, never the user's
[ -n "${STOAT_TEST_CACHE:-}" ] || { XDG_CACHE_HOME=$tmp/cache; export XDG_CACHE_HOME; }
check() {   # check NAME COMMAND...: passes when the command succeeds
    name=$1; shift
    if "$@" >"$tmp/out" 2>&1; then pass=$((pass+1)); else echo "FAIL $name"; sed 's/^/    /' "$tmp/out" | head -20; fail=$((fail+1)); fi
}
skip() { echo "SKIP $1"; }

dir="$tmp/evidence"
cp -r tests/readers/mixed "$dir"
evtx=""
if [ -d "$SHARED/evtx" ]; then
    evtx=$(find "$SHARED/evtx" -name '*.evtx' -size -200k 2>/dev/null | sort | head -1)
    [ -n "$evtx" ] && cp "$evtx" "$dir/security.evtx"
fi
# a gzip-compressed audit log too: detection looks at the decompressed head
gzip -c tests/readers/mixed/audit.log >"$dir/audit.log.1.gz"

# -------------------------------------------------------------- detection
"$STOAT" dump "$dir" >"$tmp/dump.jsonl" 2>"$tmp/dump.err"
rc=$?
check "dump of the mixed folder exits 0" sh -c "[ $rc -eq 0 ]"
python3 - "$tmp/dump.jsonl" >"$tmp/formats" <<'PY'
import sys, json, collections, os
c = collections.Counter()
for l in open(sys.argv[1]):
    d = json.loads(l)
    c[(os.path.basename(d["source"]["file"]), d["source"]["format"])] += 1
for (f, fmt), n in sorted(c.items()):
    print(f, fmt, n)
PY
fmt() {     # fmt FILE FORMAT: the file's events were read by that reader
    grep -q "^$1 $2 [1-9]" "$tmp/formats"
}
check "audit.log read as auditd" fmt audit.log auditd
check "audit.log.1.gz read as auditd" fmt audit.log.1.gz auditd
check "ausearch -i output read as auditd" fmt audit-interpreted.txt auditd
check "syslog with Sysmon read as sysmon-linux" fmt syslog sysmon-linux
check "JSON lines read as json" fmt events.jsonl json
check "syslog without Sysmon not read" sh -c "! grep -q '^syslog.1 ' '$tmp/formats'"
check "README not read" sh -c "! grep -q '^README.md ' '$tmp/formats'"
check "nothing else read" sh -c "[ \$(wc -l <'$tmp/formats') -eq $([ -n "$evtx" ] && echo 6 || echo 5) ]"
check "no reader complained" sh -c "! grep -E 'error|warning' '$tmp/dump.err'"
if [ -n "$evtx" ]; then
    check "EVTX read as evtx" fmt security.evtx evtx
else
    skip "EVTX in the mixed folder ($SHARED/evtx not found)"
fi
# raw and interpreted audit logs give the same events (ausearch -i prints the
# records of an event in another order: lists are compared as sets)
python3 - "$tmp/dump.jsonl" >"$tmp/same" <<'PY'
import sys, json, os
ev = {"audit.log": [], "audit-interpreted.txt": []}
for l in open(sys.argv[1]):
    d = json.loads(l)
    f = os.path.basename(d["source"]["file"])
    if f in ev:
        e = d["event"]
        ev[f].append((d["source"]["channel"], d["source"]["event_id"],
                      tuple(str(sorted(e[k]) if isinstance(e.get(k), list) else e.get(k)) for k in ("Image", "CommandLine", "TargetFilename", "DestinationIp",
                                                     "DestinationPort", "ParentImage", "SYSCALL", "name", "unit"))))
print("same" if ev["audit.log"] == ev["audit-interpreted.txt"] and ev["audit.log"] else "differ")
PY
check "raw and ausearch -i give the same events" grep -qx same "$tmp/same"
check "the long argument is whole" sh -c "grep -q 'base64 -w0 A\{900\}\"' '$tmp/dump.jsonl'"

# ---------------------------------------------------- host option, stdin
"$STOAT" dump --host fab-db07 - <tests/readers/mixed/audit.log >"$tmp/stdin.jsonl" 2>/dev/null
check "auditd from standard input, host from --host" sh -c "grep -q '\"host\":\"fab-db07\",\"source\":{\"file\":\"-\",\"format\":\"auditd\"' '$tmp/stdin.jsonl'"

# ------------------------------------------------------- EVTX work bombs
# records of ~150 bytes that expand 300^3 nested elements each, between
# ordinary records, in two chunks (tests/readers/gen-evtx-bomb.py)
python3 tests/readers/gen-evtx-bomb.py "$tmp/bomb.evtx" --fanout 300 --depth 2 --bombs 3 --chunks 2 >"$tmp/bomb.list"
"$STOAT" dump "$tmp/bomb.evtx" >"$tmp/bomb.jsonl" 2>"$tmp/bomb.err"
python3 - "$tmp/bomb.list" "$tmp/bomb.jsonl" "$tmp/bomb.err" >"$tmp/bomb.out" <<'PY'
import sys, json, re
want = {"good": set(), "bomb": set()}
for l in open(sys.argv[1]):
    kind, rid, off = l.split()
    want[kind].add((int(rid), int(off)))
# every event read, in order: a bomb delivered as an event has no record id
got = [json.loads(l)["event"].get("EventRecordID", -1) for l in open(sys.argv[2])]
reported = set()
for l in open(sys.argv[3]):
    m = re.match(r".*bomb\.evtx @(\d+): error: chunk \d+: record expands past the work cap", l)
    if m:
        reported.add(int(m.group(1)))
print("good records read:", got == sorted(r for r, _ in want["good"]))
print("bombs reported at their offsets:", reported == {o for _, o in want["bomb"]})
PY
check "EVTX: the ordinary records around the work bombs are read, the bombs are not" grep -q "good records read: True" "$tmp/bomb.out"
check "EVTX: each work bomb is reported (file, offset, work cap) and skipped" \
    grep -q "bombs reported at their offsets: True" "$tmp/bomb.out"

# ------------------------------------------- EVTX damaged header, truncated
# a copy of the real EVTX file with its 4 KiB header zeroed: the chunks are
# found by their signatures and give the same records; and the copy cut in
# the middle of its last record: said clearly, the records before it read
if [ -n "$evtx" ]; then
    cp "$evtx" "$tmp/wiped.evtx"
    chmod u+w "$tmp/wiped.evtx"
    dd if=/dev/zero of="$tmp/wiped.evtx" bs=4096 count=1 conv=notrunc 2>/dev/null
    cut_at=$(python3 -c '
import sys, json
offs = [json.loads(l)["source"]["offset"] for l in open(sys.argv[1]) if "/security.evtx" in l]
print(max(offs) + 16)' "$tmp/dump.jsonl")
    head -c "$cut_at" "$evtx" >"$tmp/cut.evtx"
    for f in wiped cut; do
        "$STOAT" dump "$tmp/$f.evtx" >"$tmp/$f.jsonl" 2>"$tmp/$f.err"
    done
    python3 - "$tmp/dump.jsonl" "$tmp/wiped.jsonl" "$tmp/cut.jsonl" >"$tmp/damaged.out" <<'PY'
import sys, json
def records(path, only=None):
    out = []
    for l in open(path):
        d = json.loads(l)
        if only and not d["source"]["file"].endswith(only):
            continue
        out.append((d["source"]["offset"], d["event"]))
    return out
intact = records(sys.argv[1], "/security.evtx")
wiped = records(sys.argv[2])
cut = records(sys.argv[3])
print("wiped same:", bool(intact) and wiped == intact)
print("cut prefix:", 0 < len(cut) < len(intact) and cut == intact[:len(cut)])
PY
    check "EVTX with its header zeroed gives the same records as the intact file" \
        grep -q "wiped same: True" "$tmp/damaged.out"
    check "... and says the header is damaged and how many chunks the scan found" \
        grep -Eq "wiped\.evtx @0: warning: file header damaged .*: [1-9][0-9]* chunks? recovered by scanning" "$tmp/wiped.err"
    check "EVTX cut short: the records before the cut are read" grep -q "cut prefix: True" "$tmp/damaged.out"
    check "... and the cut is reported for the file" \
        grep -Eq "cut\.evtx @0: warning: file truncated: $cut_at bytes, where the header's [0-9]+ chunks? take" "$tmp/cut.err"
else
    skip "EVTX damaged header and truncation ($SHARED/evtx not found)"
fi

# ----------------------------------------------------- SigmaHQ rules fire
rules="$SHARED/sigma/rules/linux"
if [ -d "$rules" ]; then
    "$STOAT" hunt -q --no-default-rules -r "$rules/process_creation/proc_creation_lnx_curl_usage.yml" \
        -r "$rules/auditd" --format jsonl "$dir" >"$tmp/alerts.jsonl" 2>"$tmp/hunt.err"
    expect() {  # expect NAME N FILE-SUFFIX RULE-TITLE-PART CHANNEL: N alerts of that rule there
        got=$(python3 - "$tmp/alerts.jsonl" "$3" "$4" "$5" <<'PY'
import sys, json
n = 0
for l in open(sys.argv[1]):
    a = json.loads(l)
    if a["kind"] != "alert" or not a.get("source"):
        continue   # incidents, correlations' alerts
    if a["source"]["file"].endswith(sys.argv[2]) and sys.argv[3] in a["rule"]["title"] and a["source"]["channel"] == sys.argv[4]:
        n += 1
print(n)
PY
)
        check "$1 (got $got, want $2)" [ "$got" -eq "$2" ]
    }
    expect "SigmaHQ curl process_creation rule fires on Sysmon for Linux" 1 /syslog 'Curl Usage' Linux-Sysmon/Operational
    expect "... on Sysmon for Linux JSON" 1 /events.jsonl 'Curl Usage' Linux-Sysmon/Operational
    expect "... on the auditd process view" 1 /audit.log 'Curl Usage' auditd-derived
    expect "... on the ausearch -i process view" 1 /audit-interpreted.txt 'Curl Usage' auditd-derived
    expect "... never on a raw auditd event" 0 /audit.log 'Curl Usage' auditd
    expect "SigmaHQ auditd rule on EXECVE a0" 1 /audit.log 'System Owner or User Discovery' auditd
    expect "SigmaHQ auditd rule on SERVICE_STOP unit" 1 /audit.log 'Disable System Firewall' auditd
    expect "SigmaHQ auditd keyword rule (grep password)" 1 /audit.log 'Credentials In Files' auditd
    check "SigmaHQ auditd rules never fire on the derived views" \
        sh -c "! grep -q '\"service\":\"auditd\".*\"channel\":\"auditd-derived\"' '$tmp/alerts.jsonl'"
    # every SigmaHQ rule of service auditd fires on its sample event
    # (tests/readers/sigmahq-auditd.log, written by gen-sigmahq-auditd.py)
    grep -rl 'service: auditd' "$SHARED"/sigma/rules* >"$tmp/auditd-rules" 2>/dev/null
    set --
    while IFS= read -r f; do set -- "$@" -r "$f"; done <"$tmp/auditd-rules"
    "$STOAT" hunt -q --no-default-rules "$@" --format jsonl tests/readers/sigmahq-auditd.log >"$tmp/sa.jsonl" 2>"$tmp/sa.err"
    python3 - "$tmp/sa.jsonl" "$tmp/auditd-rules" >"$tmp/sa.out" <<'PY'
import sys, json, os
fired = {r["rule"]["file"] for r in map(json.loads, open(sys.argv[1])) if r["kind"] == "alert"}
rules = [l.strip() for l in open(sys.argv[2]) if l.strip()]
missing = [r for r in rules if not any(os.path.samefile(r, f) for f in fired if os.path.exists(f))]
print("%d of %d" % (len(rules) - len(missing), len(rules)))
for m in missing:
    print("did not fire:", m)
PY
    check "every SigmaHQ auditd rule fires on its sample ($(head -1 "$tmp/sa.out"))" \
        sh -c "cat '$tmp/sa.out'; ! grep -q 'did not fire' '$tmp/sa.out' && [ \$(wc -l <'$tmp/auditd-rules') -gt 50 ]"
else
    skip "SigmaHQ rules ($rules not found)"
fi

echo "readers: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
