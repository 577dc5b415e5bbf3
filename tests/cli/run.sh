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
check "--fail-on-alert exits 1" sh -c "$STOAT hunt -q --fail-on-alert --no-default-rules -r '$RULE' --format jsonl '$tmp/mixed.jsonl' >/dev/null 2>&1; [ \$? -eq 1 ]"
check "one unreadable input among good ones exits 4" sh -c "$STOAT hunt -q --no-default-rules -r '$RULE' --format jsonl '$tmp/mixed.jsonl' /nonexistent >/dev/null 2>&1; [ \$? -eq 4 ]"

# bad records: reported with file:line, skipped, the rest processed
$STOAT hunt --no-default-rules -r "$RULE" --format jsonl "$tmp/mixed.jsonl" >"$tmp/alerts" 2>"$tmp/err"
check "malformed record reported with file and line" grep -q "mixed.jsonl:2: error: malformed JSON" "$tmp/err"
check "both good records matched around the bad one" sh -c "[ \$(grep -c '\"kind\":\"alert\"' '$tmp/alerts') -eq 2 ]"
check "summary counts the skipped record" grep -q "(1 malformed records skipped)" "$tmp/err"
check "alert names rule, line and ATT&CK id" sh -c "grep -q '\"line\":3' '$tmp/alerts' && grep -q '\"techniques\":\[\"T1033\"\]' '$tmp/alerts'"

# stdin and gzip
check "standard input" sh -c "cat '$tmp/mixed.jsonl' | $STOAT hunt -q --no-default-rules -r '$RULE' --format jsonl - | grep -c '\"kind\":\"alert\"' | grep -qx 2"
gzip -c "$tmp/mixed.jsonl" >"$tmp/mixed.jsonl.gz"
check "gzip input" sh -c "$STOAT hunt -q --no-default-rules -r '$RULE' --format jsonl '$tmp/mixed.jsonl.gz' | grep -c '\"kind\":\"alert\"' | grep -qx 2"
check "csv timeline has a header and the alerts" sh -c "$STOAT hunt -q --no-default-rules -r '$RULE' --format csv '$tmp/mixed.jsonl' | sed -n 1p | grep -q '^Timestamp,Host,Level,RuleId'"
check "min-level hides lower alerts" sh -c "[ -z \"\$($STOAT hunt -q --min-level high --no-default-rules -r '$RULE' --format jsonl '$tmp/mixed.jsonl')\" ]"

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

# rules check / test: the last lines are a contract
printf 'title: x\nlogsource: {product: windows}\ndetection: {sel: {a|nosuch: 1}, condition: sel}\n---\ntitle: y\nlogsource: {product: windows}\ndetection: {sel: {a: 1}, condition: sel and}\n---\ntitle: fine\nlogsource: {product: windows}\ndetection: {sel: {a: 1}, condition: sel}\n' >"$tmp/bad.yml"
$STOAT rules check "$tmp/bad.yml" "$RULE" >"$tmp/c.out" 2>&1
check "rules check last line" sh -c "tail -1 '$tmp/c.out' | grep -qx 'rules: 2 loaded, 2 rejected'"
check "rejected rule has file:line:column and reason" grep -q "bad.yml:3:[0-9]*: error: unknown modifier 'nosuch'" "$tmp/c.out"
check "bad condition has its column" grep -q "bad.yml:7:[0-9]*: error: condition ends where an operand was expected" "$tmp/c.out"

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

# dump
check "dump prints every record" sh -c "[ \$($STOAT dump demo/windows-fab-ws07.jsonl.gz | wc -l) -eq \$(zcat demo/windows-fab-ws07.jsonl.gz | grep -c .) ]"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
