#!/bin/sh
# Command-line behaviour that scripts rely on: exit codes, the last lines of
# `rules check` and `rules test`, bad input reported with file:line and the
# rest processed, stdin and gzip input, the demo hunt.
# Last line: "cli: P passed, F failed".
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-build/stoat}
pass=0; fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the compiled-rule cache: tests/run.sh's for the whole suite, else one of this run's, never the user's
[ -n "${STOAT_TEST_CACHE:-}" ] || { XDG_CACHE_HOME=$tmp/cache; export XDG_CACHE_HOME; }
check() {   # check NAME COMMAND...: passes when the command succeeds
    name=$1; shift
    if "$@" >"$tmp/out" 2>&1; then pass=$((pass+1)); else echo "FAIL $name"; sed 's/^/    /' "$tmp/out" | head -20; fail=$((fail+1)); fi
}
RULE="$tmp/whoami.yml"
cat >"$RULE" <<'YML'
title: Whoami All
id: 0b2f2b4e-4d6a-4c44-9f4e-2a7d1f3c5e11
status: test
logsource: {product: windows, category: process_creation}
detection:
    selection:
        Image|endswith: '\whoami.exe'
        CommandLine|contains|windash: ' /all'
    condition: selection
level: medium
tags: [attack.discovery, attack.t1033]
YML
EV='{"Event":{"System":{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Computer":"ws1","TimeCreated":{"#attributes":{"SystemTime":"2026-01-02T03:04:05.000000Z"}}},"EventData":{"Image":"C:\\Windows\\System32\\whoami.exe","CommandLine":"whoami -all"}}}'
printf '%s\n{"broken": \n%s\n{"Channel":"Security","EventID":4624}\n' "$EV" "$EV" >"$tmp/mixed.jsonl"

# exit codes
check "usage error exits 2" sh -c "$STOAT hunt --no-such-option x; [ \$? -eq 2 ]"
check "no command exits 2" sh -c "$STOAT; [ \$? -eq 2 ]"
check "missing input exits 3" sh -c "$STOAT hunt -q --no-default-rules -r '$RULE' /nonexistent/file; [ \$? -eq 3 ]"
check "a hunt with alerts exits 0" sh -c "$STOAT hunt -q --no-default-rules -r '$RULE' --format jsonl '$tmp/mixed.jsonl' >/dev/null 2>&1"
case $STOAT in /*) stoat_abs=$STOAT ;; *) stoat_abs=$(pwd)/$STOAT ;; esac
check "hunt -o - writes to standard output, not to a file named -" sh -c "cd '$tmp' && '$stoat_abs' hunt -q --no-default-rules -r '$RULE' --format jsonl -o - '$tmp/mixed.jsonl' 2>/dev/null | grep -q '\"kind\":\"alert\"' && [ ! -e '$tmp/-' ]"
check "--fail-on-alert exits 1" sh -c "$STOAT hunt -q --fail-on-alert --no-default-rules -r '$RULE' --format jsonl '$tmp/mixed.jsonl' >/dev/null 2>&1; [ \$? -eq 1 ]"
check "one unreadable input among good ones exits 4" sh -c "$STOAT hunt -q --no-default-rules -r '$RULE' --format jsonl '$tmp/mixed.jsonl' /nonexistent >/dev/null 2>&1; [ \$? -eq 4 ]"

# a rules path that does not exist: exit 2 before any work (no hunt with the default rules alone)
$STOAT hunt -r /nonexistent/rules "$tmp/mixed.jsonl" >"$tmp/norules.out" 2>"$tmp/norules.err"; rc=$?
check "missing -r path exits 2" sh -c "[ $rc -eq 2 ]"
check "missing -r path is named, before any work" sh -c "grep -q '/nonexistent/rules' '$tmp/norules.err' && ! grep -q 'summary' '$tmp/norules.err' && [ ! -s '$tmp/norules.out' ]"
check "missing --jewels file exits 2" sh -c "$STOAT hunt --jewels /nonexistent/j.yml '$tmp/mixed.jsonl' >/dev/null 2>&1; [ \$? -eq 2 ]"

check "hunt --help says what each exit code means" sh -c "$STOAT hunt --help | grep -q '^  4  ran, but some inputs could not be read, or not whole' && $STOAT hunt --help | grep -q '^  2  usage: a bad option, or a rules path'"

# skipped and damaged files inside a folder are named; damage is a failure (exit 4)
mkdir -p "$tmp/folder"
cp "$tmp/mixed.jsonl" "$tmp/folder/good.jsonl"
for i in 1 2 3 4 5 6 7; do echo "notes $i" >"$tmp/folder/notes$i.txt"; done
printf '\001\002 garbage' >"$tmp/folder/broken.json"
head -c 8192 /dev/urandom >"$tmp/folder/random.evtx"
$STOAT hunt --no-default-rules -r "$RULE" --format jsonl "$tmp/folder" >/dev/null 2>"$tmp/folder.err"; rc=$?
check "a damaged file in a folder makes the exit code 4" sh -c "[ $rc -eq 4 ]"
check "a damaged .json in a folder is named with the reason" grep -q "folder/broken.json: error: damaged: named .json, but its content is neither JSON" "$tmp/folder.err"
check "a damaged .evtx in a folder is named with the reason" grep -q "folder/random.evtx: error: not a usable EVTX file: not an EVTX file (no ElfFile signature, and no chunk found" "$tmp/folder.err"
check "the summary names the first skipped files and counts the rest" grep -q "7 files in the folders given are not event logs and were skipped: $tmp/folder/notes1.txt, $tmp/folder/notes2.txt, $tmp/folder/notes3.txt, $tmp/folder/notes4.txt, $tmp/folder/notes5.txt and 2 more (--verbose names each)" "$tmp/folder.err"
$STOAT hunt -v --no-default-rules -r "$RULE" --format jsonl "$tmp/folder" >/dev/null 2>"$tmp/folderv.err"
check "--verbose names every skipped file" sh -c "[ \$(grep -c 'folder/notes[0-9].txt: note: not an event log stoat reads; skipped' '$tmp/folderv.err') -eq 7 ]"

# a truncated EVTX is reported, read as far as it goes, and the exit code says so
evtx_cut=$(find ../shared/data/evtx -name 'Powershell-Invoke-Obfuscation-string-menu.evtx' 2>/dev/null | head -1)
if [ -n "$evtx_cut" ]; then
    head -c 40000 "$evtx_cut" >"$tmp/cut.evtx"
    $STOAT hunt --no-default-rules -r "$RULE" --format jsonl "$tmp/cut.evtx" >/dev/null 2>"$tmp/cut.err"; rc=$?
    check "truncated EVTX exits 4" sh -c "[ $rc -eq 4 ]"
    check "truncated EVTX is reported and counted" sh -c "grep -q 'cut.evtx @0: warning: file truncated: 40000 bytes' '$tmp/cut.err' && grep -q '1 input could not be read, or not whole' '$tmp/cut.err'"
    head -c 3000 "$evtx_cut" >"$tmp/head.evtx"
    $STOAT hunt --no-default-rules -r "$RULE" --format jsonl "$tmp/head.evtx" >/dev/null 2>"$tmp/head.err"; rc=$?
    check "EVTX cut inside its header: reported, exit 4" sh -c "[ $rc -eq 4 ] && grep -q 'head.evtx @0: warning: file truncated inside its header (3000 of 4096 bytes)' '$tmp/head.err'"
    check "a whole EVTX exits 0" sh -c "$STOAT hunt -q --no-default-rules -r '$RULE' --format jsonl '$evtx_cut' >/dev/null 2>&1"
else
    echo "SKIP truncated EVTX (no ../shared/data)"
fi

# bad records: reported with file:line, skipped, the rest processed
$STOAT hunt --no-default-rules -r "$RULE" --format jsonl "$tmp/mixed.jsonl" >"$tmp/alerts" 2>"$tmp/err"
check "malformed record reported with file and line" grep -q "mixed.jsonl:2: error: malformed JSON" "$tmp/err"
check "both good records matched around the bad one" sh -c "[ \$(grep -c '\"kind\":\"alert\"' '$tmp/alerts') -eq 2 ]"
check "summary counts the skipped record" grep -q "(1 malformed records skipped)" "$tmp/err"
check "alert names rule, line and ATT&CK id" sh -c "grep -q '\"line\":3' '$tmp/alerts' && grep -q '\"techniques\":\[\"T1033\"\]' '$tmp/alerts'"

# a rule file reached twice is loaded once: the same file given twice, a
# folder and a file in it, `-r rules` beside the default rules folder (each of
# its rules fired twice), with and without the cache
ln -s "$RULE" "$tmp/whoami-link.yml"
for nc in "" --no-cache; do
    check "one file given twice, and by a link, loaded once $nc" sh -c "[ \$($STOAT hunt -q $nc --no-default-rules -r '$RULE' -r '$tmp/whoami-link.yml' -r '$RULE' --format jsonl '$tmp/mixed.jsonl' | grep -c '\"kind\":\"alert\"') -eq 2 ]"
    $STOAT hunt -q $nc --format jsonl demo/ >"$tmp/own.jsonl" 2>/dev/null
    $STOAT hunt -q $nc -r rules -r ./rules/linux --format jsonl demo/ >"$tmp/own2.jsonl" 2>/dev/null
    check "-r rules beside the default rules: every alert once $nc" sh -c "[ -s '$tmp/own.jsonl' ] && [ \$(grep -c '\"kind\":\"alert\"' '$tmp/own.jsonl') -eq \$(grep -c '\"kind\":\"alert\"' '$tmp/own2.jsonl') ]"
done

# a folder given again, by a link, overlapping folders, a file in a folder
# given: each rule loaded once, in its first place, and `rules check` says
# what it read once (counts; -v a note per path); two different files with
# one rule id stay two rules, with the warning (README)
mkdir -p "$tmp/dupr/sub"
cp "$RULE" "$tmp/dupr/whoami.yml"
sed -e 's/^title: .*/title: Hostname Run/' -e 's/^id: .*/id: 5d0c3a43-3f2e-4a55-9a0e-6b1d2f8e9c01/' \
    -e "s/whoami.exe/hostname.exe/" "$RULE" >"$tmp/dupr/sub/hostname.yml"
ln -s "$tmp/dupr" "$tmp/dupr-link"
$STOAT rules check "$tmp/dupr" >"$tmp/dup0.out" 2>&1
$STOAT rules check "$tmp/dupr/sub" "$tmp/dupr" "$tmp/dupr-link" "$tmp/dupr/" "$tmp/dupr/whoami.yml" >"$tmp/dup1.out" 2>&1
$STOAT rules check -v "$tmp/dupr/sub" "$tmp/dupr" "$tmp/dupr-link" "$tmp/dupr/" "$tmp/dupr/whoami.yml" >"$tmp/dup2.out" 2>&1
check "rules check: a folder given again, by a link, overlapping, a file in it: each rule once" sh -c "tail -1 '$tmp/dup0.out' | grep -qx 'rules: 2 loaded, 0 rejected' && tail -1 '$tmp/dup1.out' | grep -qx 'rules: 2 loaded, 0 rejected' && ! grep -q 'duplicate rule id' '$tmp/dup1.out'"
check "rules check counts what it read once" grep -qx 'note: 2 folders given again and 2 rule files reached again, each read once (-v names them)' "$tmp/dup1.out"
check "rules check -v names each path read once, and the first" sh -c "grep -qx '$tmp/dupr-link: note: the same folder as $tmp/dupr, given before: read once' '$tmp/dup2.out' && grep -qx '$tmp/dupr/sub/hostname.yml: note: given before: loaded once' '$tmp/dup2.out' && grep -qx '$tmp/dupr/whoami.yml: note: given before: loaded once' '$tmp/dup2.out' && grep -q '^loaded .* Hostname Run ($tmp/dupr/sub/hostname.yml)' '$tmp/dup2.out'"
for nc in "" --no-cache; do
    $STOAT hunt -q $nc --no-default-rules -r "$tmp/dupr" --format jsonl "$tmp/mixed.jsonl" >"$tmp/dupa.jsonl" 2>/dev/null
    $STOAT hunt -q $nc --no-default-rules -r "$tmp/dupr/whoami.yml" -r "$tmp/dupr-link" -r "$tmp/dupr" -r "$tmp/dupr/sub" --format jsonl "$tmp/mixed.jsonl" >"$tmp/dupb.jsonl" 2>/dev/null
    check "hunt: a rule folder given again, by a link, and a file in it: alerts not doubled $nc" sh -c "[ \$(grep -c '\"kind\":\"alert\"' '$tmp/dupa.jsonl') -eq 2 ] && cmp '$tmp/dupa.jsonl' '$tmp/dupb.jsonl'"
done
mkdir -p "$tmp/dupc" && cp "$RULE" "$tmp/dupc/whoami-copy.yml"
$STOAT rules check "$tmp/dupr/whoami.yml" "$tmp/dupc" >"$tmp/dup3.out" 2>&1
check "two different files with one rule id: both kept, with the warning" sh -c "tail -1 '$tmp/dup3.out' | grep -qx 'rules: 2 loaded, 0 rejected' && grep -q 'whoami-copy.yml:[0-9]*: warning: duplicate rule id, first loaded from $tmp/dupr/whoami.yml; both are kept' '$tmp/dup3.out' && ! grep -q 'read once' '$tmp/dup3.out'"

for nc in "" --no-cache; do
    $STOAT hunt -q $nc --no-default-rules -r "$tmp/dupr/whoami.yml" -r "$tmp/dupc" --format jsonl "$tmp/mixed.jsonl" >/dev/null 2>"$tmp/dup4.err"
    check "hunt -q warns of a rule id loaded twice from two files (its alerts doubled) $nc" grep -qx 'stoat: 1 rule has the id of a rule loaded before from another file: both are kept and both alert (two copies of a rule folder? stoat rules check names them)' "$tmp/dup4.err"
    $STOAT hunt -q $nc --no-default-rules -r "$tmp/dupr" -r "$tmp/dupr-link" --format jsonl "$tmp/mixed.jsonl" >/dev/null 2>"$tmp/dup5.err"
    check "hunt: one file reached twice is no duplicate id $nc" sh -c "! grep -q 'id of a rule' '$tmp/dup5.err'"
done
# stdin and gzip
check "standard input" sh -c "cat '$tmp/mixed.jsonl' | $STOAT hunt -q --no-default-rules -r '$RULE' --format jsonl - | grep -c '\"kind\":\"alert\"' | grep -qx 2"
gzip -c "$tmp/mixed.jsonl" >"$tmp/mixed.jsonl.gz"
check "gzip input" sh -c "$STOAT hunt -q --no-default-rules -r '$RULE' --format jsonl '$tmp/mixed.jsonl.gz' | grep -c '\"kind\":\"alert\"' | grep -qx 2"
check "csv timeline has a header and the alerts" sh -c "$STOAT hunt -q --no-default-rules -r '$RULE' --format csv '$tmp/mixed.jsonl' | sed -n 1p | grep -q '^Timestamp,Host,Level,RuleId'"
check "min-level hides lower alerts" sh -c "[ -z \"\$($STOAT hunt -q --min-level high --no-default-rules -r '$RULE' --format jsonl '$tmp/mixed.jsonl')\" ]"

# one time form in machine output: RFC 3339 UTC, whatever the event wrote
printf '%s\n' "$EV" | sed 's/2026-01-02T03:04:05.000000Z/2026-01-02 03:04:05.905/' >"$tmp/times.jsonl"
printf '%s\n' "$EV" | sed 's/2026-01-02T03:04:05.000000Z/2026-01-02T05:04:06+02:00/' >>"$tmp/times.jsonl"
printf '%s\n' "$EV" | sed 's/2026-01-02T03:04:05.000000Z/2026-01-02T03:04:07.1234567Z/' >>"$tmp/times.jsonl"
$STOAT hunt -q --no-default-rules -r "$RULE" --format jsonl "$tmp/times.jsonl" >"$tmp/times.out" 2>&1
check "times: JSON lines write RFC 3339 UTC" sh -c "grep -o '\"timestamp\":\"[^\"]*\"' '$tmp/times.out' | tr '\n' ' ' | grep -qx '\"timestamp\":\"2026-01-02T03:04:05.905000Z\" \"timestamp\":\"2026-01-02T03:04:06.000000Z\" \"timestamp\":\"2026-01-02T03:04:07.1234567Z\" '"
$STOAT hunt -q --no-default-rules -r "$RULE" --format csv "$tmp/times.jsonl" >"$tmp/times.csv" 2>&1
check "times: the CSV timeline writes RFC 3339 UTC" sh -c "sed 1d '$tmp/times.csv' | cut -d, -f1 | tr -d '\r' | tr '\n' ' ' | grep -qx '2026-01-02T03:04:05.905000Z 2026-01-02T03:04:06.000000Z 2026-01-02T03:04:07.1234567Z '"

# the CSV timeline's rows: Record is the EventRecordID, Line the line of a
# text input (empty for EVTX), Details only fields with a value
printf '%s\n' "$EV" | sed 's/"EventID":1,/"EventID":1,"EventRecordID":90210,/; s/"CommandLine"/"ParentUser":"","CommandLine"/' >"$tmp/rows.jsonl"
printf '%s\n' "$EV" >>"$tmp/rows.jsonl"
$STOAT hunt -q --no-default-rules -r "$RULE" --format csv "$tmp/rows.jsonl" >"$tmp/rows.csv" 2>&1
check "csv rows: record id, line, non-empty details" python3 - "$tmp/rows.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert [(r["Record"], r["Line"]) for r in rows] == [("90210", "1"), ("", "2")], rows
for r in rows:
    assert r["Host"] == "ws1" and r["RuleTitle"] == "Whoami All" and r["EventID"] == "1", r
    assert "CommandLine: whoami -all" in r["Details"] and "ParentUser" not in r["Details"], r
PY
evtx_csv=$(find ../shared/data/evtx -name 'Powershell-Invoke-Obfuscation-string-menu.evtx' 2>/dev/null | head -1)
if [ -n "$evtx_csv" ]; then
    printf 'title: Script block\nid: 0b2f2b4e-4d6a-4c44-9f4e-2a7d1f3c5e12\nlogsource: {product: windows}\ndetection: {sel: {EventID: 4104}, condition: sel}\nlevel: low\n' >"$tmp/sb.yml"
    $STOAT hunt -q --no-default-rules -r "$tmp/sb.yml" --format csv "$evtx_csv" >"$tmp/evtx.csv" 2>&1
    $STOAT dump "$evtx_csv" >"$tmp/evtx.dump" 2>/dev/null
    check "csv rows from EVTX: Record is the EventRecordID, Line empty" python3 - "$tmp/evtx.csv" "$tmp/evtx.dump" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
ids = sorted(str(e["event"]["EventRecordID"]) for e in map(json.loads, open(sys.argv[2])) if e["event"].get("EventID") == 4104)
assert rows and sorted(r["Record"] for r in rows) == ids, (len(rows), len(ids))
assert all(r["Line"] == "" for r in rows)
assert all(r["Record"] != str(i + 1) for i, r in enumerate(rows))
PY
else
    echo "SKIP csv rows from EVTX (no ../shared/data)"
fi

# hostile input: deep nesting, a huge value, invalid UTF-8, a huge line
python3 - "$tmp" <<'PY'
import sys
d = sys.argv[1]
with open(d + "/hostile.jsonl", "wb") as f:
    f.write(b'{"a":' * 200000 + b'1' + b'}' * 200000 + b'\n')
    f.write(b'{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"CommandLine":"' + b'A' * (8 << 20) + b'"}\n')
    f.write(b'{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\\\x\\\\whoami.exe","CommandLine":"whoami /all \xff\xfe\xc3"}\n')
    f.write(b'{"x":"' + b'B' * (20 << 20) + b'"}\n')
    f.write(b'{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\\\x\\\\whoami.exe","CommandLine":"whoami /all"}\n')
PY
$STOAT hunt --no-default-rules -r "$RULE" --format jsonl "$tmp/hostile.jsonl" >"$tmp/h.out" 2>"$tmp/h.err"
check "hostile input: deep nesting reported" grep -q "hostile.jsonl:1: error: malformed JSON, record skipped: nesting deeper than 64" "$tmp/h.err"
check "hostile input: over-long record reported" grep -q "record longer than 16 MiB, skipped" "$tmp/h.err"
check "hostile input: both good records still matched" sh -c "[ \$(grep -c '\"kind\":\"alert\"' '$tmp/h.out') -eq 2 ]"
check "hostile input: output is valid JSON despite invalid UTF-8" python3 -c "import json,sys; [json.loads(l) for l in open('$tmp/h.out')]"

# terminal escapes in an event or a rule title never reach the terminal raw:
# OSC 52 (clipboard), clear screen, a carriage return forging a line, C1, bidi
cat >"$tmp/esc.yml" <<'YML'
title: "Escape \e[2J rule"
id: 7d1c9a52-1e0f-4f6b-9a1e-52c1a2b3c4d5
status: test
logsource: {product: windows, category: process_creation}
detection:
    selection:
        CommandLine|contains: 'payload'
    condition: selection
level: high
YML
python3 - "$tmp/esc.jsonl" <<'PY'
import json, sys
ev = {"Event": {"System": {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1,
      "Computer": "ws1\x1b]52;c;Y3VybCBldmlsfHNo\x07",
      "TimeCreated": {"#attributes": {"SystemTime": "2026-01-02T03:04:05.000000Z"}}},
      "EventData": {"Image": "C:\\x\\invoice\u202egpj.exe", "ParentImage": "C:\\x\\p\x1b[8m.exe",
                    "CommandLine": "payload \x1b[2J\x1b[H\r2026-01-02 03:04:05  low  ws1  Benign \u009b31m"}}}
open(sys.argv[1], "w").write(json.dumps(ev) + "\n")
PY
$STOAT hunt --no-default-rules -r "$tmp/esc.yml" --format table "$tmp/esc.jsonl" >"$tmp/esc.out" 2>"$tmp/esc.err"
inert() {   # inert FILE: no byte a terminal acts on (C0 but newline, DEL, C1, bidi, bad UTF-8)
    python3 - "$1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
text = data.decode("utf-8")   # raises on invalid UTF-8
bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) < 0xa0
       or c in "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"]
sys.exit(1 if bad else 0)
PY
}
check "escapes: the table and its summary were written" sh -c "grep -q 'Escape' '$tmp/esc.out' && grep -q 'stoat hunt summary' '$tmp/esc.out'"
check "escapes: table output holds no raw control character" inert "$tmp/esc.out"
check "escapes: shown, not hidden" sh -c "grep -qF 'ws1\\x1b]52;c;' '$tmp/esc.out' && grep -qF 'payload \\x1b[2J\\x1b[H 2026' '$tmp/esc.out' && grep -qF 'invoice\\u202egpj.exe' '$tmp/esc.out' && grep -qF 'Escape \\x1b[2J rule' '$tmp/esc.out'"

# rules check / test: the last lines are a contract
printf 'title: x\nlogsource: {product: windows}\ndetection: {sel: {a|nosuch: 1}, condition: sel}\n---\ntitle: y\nlogsource: {product: windows}\ndetection: {sel: {a: 1}, condition: sel and}\n---\ntitle: fine\nlogsource: {product: windows}\ndetection: {sel: {a: 1}, condition: sel}\n' >"$tmp/bad.yml"
$STOAT rules check "$tmp/bad.yml" "$RULE" >"$tmp/c.out" 2>&1
check "rules check last line" sh -c "tail -1 '$tmp/c.out' | grep -qx 'rules: 2 loaded, 2 rejected'"
check "rejected rule has file:line:column and reason" grep -q "bad.yml:3:[0-9]*: error: unknown modifier 'nosuch'" "$tmp/c.out"
check "bad condition has its column" grep -q "bad.yml:7:[0-9]*: error: condition ends where an operand was expected" "$tmp/c.out"
# a parent known only from its child's event (command line, pid, no image):
# the table's tree says so with its pid, not "?"
printf '%s\n' '{"Event":{"System":{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Computer":"ws1","TimeCreated":{"#attributes":{"SystemTime":"2026-01-02T03:04:05.000000Z"}}},"EventData":{"Image":"C:\\Windows\\System32\\whoami.exe","CommandLine":"whoami -all","ProcessId":"4242","ProcessGuid":"{a}","ParentProcessId":"836","ParentProcessGuid":"{b}","ParentCommandLine":"cmd.exe /c whoami -all"}}}' >"$tmp/stub.json"
$STOAT hunt --no-default-rules -r "$RULE" --format table "$tmp/stub.json" >"$tmp/stub.out" 2>/dev/null
check "table tree: a parent not in the logs is named by its pid" grep -q 'tree: pid 836 (image not in the logs) > whoami.exe' "$tmp/stub.out"
check "table tree: no '?' for an unknown process" sh -c "! grep -q 'tree: .*?' '$tmp/stub.out'"
# a hunt names each rejected document and why, as rules check does (not a bare count)
$STOAT hunt --no-default-rules -r "$tmp/bad.yml" -r "$RULE" --format jsonl demo/ >/dev/null 2>"$tmp/hr.err"
check "hunt names a rejected rule document with its reason" grep -q "bad.yml:3:[0-9]*: error: unknown modifier 'nosuch'" "$tmp/hr.err"
check "hunt names every rejected rule document" grep -q "bad.yml:7:[0-9]*: error: condition ends where an operand was expected" "$tmp/hr.err"
check "hunt counts the rejected documents" grep -q "2 rule documents rejected" "$tmp/hr.err"

# `make demo` piped or redirected prints the table and summary the README shows
make -s --no-print-directory demo STOAT="$STOAT" >"$tmp/demo.table" 2>"$tmp/demo.table.err"
check "make demo redirected: the table, not JSON lines" sh -c "head -1 '$tmp/demo.table' | grep -Eq '^2026-11-19 [0-9:]{8}  (low|medium|high|critical) ' && ! grep -q '\"kind\"' '$tmp/demo.table'"
check "make demo redirected: the README's lines are there" sh -c "grep -q '^      tree: php-fpm8.2 > dash\$' '$tmp/demo.table' && grep -q '^stoat hunt summary\$' '$tmp/demo.table' && grep -q '^  #1    score 100 critical 2026-11-19 21:37:05 to 22:41:31\$' '$tmp/demo.table'"
# the demo: both hosts raise high alerts
$STOAT hunt --format jsonl demo/ >"$tmp/demo.jsonl" 2>"$tmp/demo.err"
check "demo hunt alerts on the Windows host" grep -q '"host":"fab-ws07.corp.chipfab.example","level":"critical"' "$tmp/demo.jsonl"
check "demo hunt alerts on the Linux host" grep -q '"host":"design-srv01","level":"critical"' "$tmp/demo.jsonl"
check "demo hunt: the README in demo/ is skipped, not an error" sh -c "! grep -q error '$tmp/demo.err'"

# a regex that backtracks without end: stopped at its limit, counted as no
# match, and named in the hunt's summary; rules check warns about it
cat >"$tmp/evil.yml" <<'YML'
title: Evil Nested Quantifier
id: 5b6a1c2e-0000-4000-8000-0000000000e1
status: test
logsource: {product: windows, category: process_creation}
detection:
    selection:
        CommandLine|re: '^(a+)+$'
    condition: selection
level: medium
YML
python3 - "$tmp/evil.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for v in ["a" * 22 + "b"] * 5 + ["a" * 12] * 2:
        f.write(json.dumps({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Computer": "ws1",
                            "Image": "C:\\x.exe", "CommandLine": v}) + "\n")
PY
$STOAT hunt --no-default-rules -r "$tmp/evil.yml" --format jsonl "$tmp/evil.jsonl" >"$tmp/evil.out" 2>"$tmp/evil.err"
check "regex limit: the values it decides still match" sh -c "[ \$(grep -c '\"kind\":\"alert\"' '$tmp/evil.out') -eq 2 ]"
check "regex limit: the summary names the rule and its count" grep -q "^    5 *Evil Nested Quantifier (5b6a1c2e-0000-4000-8000-0000000000e1)" "$tmp/evil.err"
check "regex limit: the summary says they counted as no match" grep -q "regex limits: 5 rule evaluations undecided (counted as no match) in 1 rule" "$tmp/evil.err"
$STOAT rules check "$tmp/evil.yml" >"$tmp/evil.check" 2>&1
check "rules check warns about a nested quantifier" grep -q "evil.yml:7:9: warning: regular expression may backtrack without end: the repeated group '(a+)+'" "$tmp/evil.check"
check "rules check still loads the rule" sh -c "tail -1 '$tmp/evil.check' | grep -qx 'rules: 1 loaded, 0 rejected'"

# a hunt killed with SIGKILL in the middle of its run: the next writer of
# the store marks its run aborted (its writer's lock is gone), and the
# dashboard's overview says so
mkfifo "$tmp/feed"
(printf '%s\n' "$EV"; sleep 60) >"$tmp/feed" &
feeder=$!
$STOAT hunt -q --no-default-rules -r "$RULE" --db "$tmp/k.db" - <"$tmp/feed" >/dev/null 2>&1 &
hunter=$!
for _ in $(seq 200); do
    [ "$(sqlite3 "$tmp/k.db" "SELECT count(*) FROM runs WHERE status = 'running'" 2>/dev/null)" = 1 ] && break
    sleep 0.1
done
kill -9 "$hunter"; wait "$hunter" 2>/dev/null
kill "$feeder" 2>/dev/null; wait "$feeder" 2>/dev/null
check "a killed hunt's run is still running until someone looks" sh -c "[ \"\$(sqlite3 '$tmp/k.db' 'SELECT status FROM runs')\" = running ]"
$STOAT hunt -q --no-default-rules -r "$RULE" --db "$tmp/k.db" "$tmp/mixed.jsonl" >/dev/null 2>&1
check "the next hunt marks the killed hunt's run aborted" sh -c "[ \"\$(sqlite3 '$tmp/k.db' 'SELECT group_concat(status) FROM (SELECT status FROM runs ORDER BY id)')\" = aborted,done ]"

# a correlation's evidence keeps where each match was read, in the store as in JSON lines
G=tests/golden/correlations
$STOAT hunt -q --no-default-rules -r $G/rules --db "$tmp/c.db" --format jsonl -o "$tmp/c.jsonl" $G/input.jsonl >/dev/null 2>&1
check "a correlation's stored evidence names its file and record" sh -c "sqlite3 '$tmp/c.db' 'SELECT evidence FROM correlations' | grep -q '\"file\":\"$G/input.jsonl\",\"record\":1,\"line\":1'"
check "a correlation completed by an unreported match names it as its source" sh -c "grep '\"correlation\":{\"type\":\"event_count\"' '$tmp/c.jsonl' | grep -q '\"source\":{\"file\":\"$G/input.jsonl\"'"

# dump
check "dump prints every record" sh -c "[ \$($STOAT dump demo/windows-fab-ws07.jsonl.gz | wc -l) -eq \$(zcat demo/windows-fab-ws07.jsonl.gz | grep -c .) ]"

# the compiled-rule cache, in a folder of these tests' own (the suite's shared
# one holds other parts' files, and its cap removes some as these are written)
XDG_CACHE_HOME=$tmp/xdg-cache
export XDG_CACHE_HOME
C="$XDG_CACHE_HOME/stoat"
# (the cache is keyed by what each database compiles: a rule of literals no
#  other rule holds makes a database of its own)
sed 's/ \/all/ \/cachetest-one/' "$RULE" >"$tmp/cache-rule.yml"
before=$(ls "$C"/stoat-*.hsc 2>/dev/null | wc -l)
$STOAT rules check -v --no-cache "$tmp/cache-rule.yml" >"$tmp/c0.out" 2>&1
check "--no-cache compiles and writes no cache file" sh -c "grep -q 'prefilter compiled' '$tmp/c0.out' && [ \$(ls '$C'/stoat-*.hsc 2>/dev/null | wc -l) -eq $before ]"
$STOAT rules check -v "$tmp/cache-rule.yml" >"$tmp/c1.out" 2>&1
check "a first load compiles and writes a cache file" sh -c "grep -q 'prefilter compiled' '$tmp/c1.out' && [ \$(ls '$C'/stoat-*.hsc | wc -l) -eq $((before + 1)) ]"
f=$(ls -t "$C"/stoat-*.hsc | head -1)
check "the cache folder is 0700 and its file 0600" sh -c "[ \$(stat -c %a '$C') = 700 ] && [ \$(stat -c %a '$f') = 600 ]"
ino=$(stat -c %i "$f")
$STOAT rules check -v "$tmp/cache-rule.yml" >"$tmp/c2.out" 2>&1
check "a second load reads the cache and leaves the file as it was" sh -c "grep -q 'prefilter read back' '$tmp/c2.out' && [ \$(stat -c %i '$f') = $ino ]"
sed -i 's/cachetest-one/cachetest-two/' "$tmp/cache-rule.yml"
$STOAT rules check -v "$tmp/cache-rule.yml" >"$tmp/c3.out" 2>&1
check "a changed rule file is not served the old cache" sh -c "grep -q 'prefilter compiled' '$tmp/c3.out' && [ \$(ls '$C'/stoat-*.hsc | wc -l) -eq $((before + 2)) ]"
f=$(ls -t "$C"/stoat-*.hsc | head -1)
printf 'STOATHSC\001\000\000\000garbage' >"$f"
# the whole ruleset's file (read before the prefilter's) damaged as well
check "a load writes the whole ruleset's file beside the prefilter's" sh -c "ls '$C'/stoat-*.rsc >/dev/null"
f=$(ls -t "$C"/stoat-*.rsc | head -1)
printf 'STOATRSC\001\000\000\000garbage' >"$f"
$STOAT rules check -v "$tmp/cache-rule.yml" >"$tmp/c4.out" 2>&1
check "a damaged cache file is noted, not trusted, and rebuilt" sh -c "grep -q 'rule cache ignored and rebuilt' '$tmp/c4.out' && grep -q 'prefilter compiled' '$tmp/c4.out' && grep -q '^rules: 1 loaded, 0 rejected' '$tmp/c4.out'"
$STOAT rules check -v "$tmp/cache-rule.yml" >"$tmp/c5.out" 2>&1
check "the rebuilt cache file is read back" grep -q 'prefilter read back' "$tmp/c5.out"
# the same alerts, byte for byte, with the cache warm, without it, and from a compiled file
$STOAT hunt -q --format jsonl demo/ >"$tmp/warm0.jsonl" 2>/dev/null
$STOAT hunt -q --format jsonl demo/ >"$tmp/warm.jsonl" 2>/dev/null
$STOAT hunt -q --no-cache --format jsonl demo/ >"$tmp/cold.jsonl" 2>/dev/null
check "demo hunt: the same bytes with the cache warm and with --no-cache" sh -c "[ -s '$tmp/cold.jsonl' ] && cmp '$tmp/warm.jsonl' '$tmp/cold.jsonl'"
# a rule folder given again (stoat's own, as `-r rules`; another under two spellings) is listed once: the same bytes
$STOAT hunt -q -r rules -r ./rules/ --format jsonl demo/ >"$tmp/twice.jsonl" 2>/dev/null
check "demo hunt: the same bytes with stoat's own rules folder given twice more" sh -c "[ -s '$tmp/twice.jsonl' ] && cmp '$tmp/twice.jsonl' '$tmp/cold.jsonl'"
mkdir -p "$tmp/rf" && cp "$RULE" "$tmp/rf/"
$STOAT hunt -q --no-default-rules -r "$tmp/rf" --format jsonl "$tmp/mixed.jsonl" >"$tmp/rf1.jsonl" 2>/dev/null
$STOAT hunt -q --no-default-rules -r "$tmp/rf" -r "$tmp/rf/" -r "$tmp/rf/whoami.yml" --format jsonl "$tmp/mixed.jsonl" >"$tmp/rf2.jsonl" 2>/dev/null
check "a rule folder and a file in it given twice: each rule fires once" sh -c "[ \$(grep -c '\"kind\":\"alert\"' '$tmp/rf2.jsonl') -eq 2 ] && cmp '$tmp/rf1.jsonl' '$tmp/rf2.jsonl'"
STOAT_STATS=pipeline $STOAT hunt -q --format jsonl demo/ >"$tmp/stats.jsonl" 2>"$tmp/stats.err"
check "STOAT_STATS=pipeline: the load and the close timed beside the stages, the output the same bytes" sh -c "grep -q '^pipeline: command: load rules, open output [0-9.]* s (cpu [0-9.]*, all threads); hunt .*; close ' '$tmp/stats.err' && grep -q '^pipeline: thread 0: ' '$tmp/stats.err' && cmp '$tmp/stats.jsonl' '$tmp/cold.jsonl'"
check "rules compile -o writes a compiled rule set" sh -c "$STOAT rules compile -o '$tmp/rules.hsc' && [ -s '$tmp/rules.hsc' ]"
$STOAT hunt -q --compiled "$tmp/rules.hsc" --format jsonl demo/ >"$tmp/compiled.jsonl" 2>/dev/null
check "demo hunt: the same bytes from the compiled file" cmp "$tmp/compiled.jsonl" "$tmp/cold.jsonl"
$STOAT hunt -q --compiled "$tmp/rules.hsc" -r "$tmp/cache-rule.yml" --format jsonl demo/ >/dev/null 2>"$tmp/stale.err"; rc=$?
check "a compiled file of other rules fails the hunt, named" sh -c "[ $rc -ne 0 ] && grep -q 'rules.hsc.*not the compiled form of these rules' '$tmp/stale.err'"
S=../shared/data/sigma
if [ -d "$S/regression_data" ] && [ -d "$S/rules" ]; then
    SR=""
    for d in rules rules-threat-hunting rules-emerging-threats rules-placeholder rules-compliance; do [ -d "$S/$d" ] && SR="$SR -r $S/$d"; done
    $STOAT hunt -q -j 1 $SR --format jsonl "$S/regression_data" >"$tmp/sq0.jsonl" 2>/dev/null
    $STOAT hunt -q -j 1 $SR --format jsonl "$S/regression_data" >"$tmp/sq1.jsonl" 2>/dev/null
    $STOAT hunt -q -j 1 --no-cache $SR --format jsonl "$S/regression_data" >"$tmp/sq2.jsonl" 2>/dev/null
    check "SigmaHQ regression data, every rule: the same bytes warm and with --no-cache" sh -c "[ -s '$tmp/sq2.jsonl' ] && cmp '$tmp/sq1.jsonl' '$tmp/sq2.jsonl' && cmp '$tmp/sq0.jsonl' '$tmp/sq2.jsonl'"
else
    echo "SKIP cache byte-identity over the SigmaHQ regression data: ../shared/data/sigma is absent"
fi

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
