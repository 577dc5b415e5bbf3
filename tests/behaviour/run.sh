#!/bin/sh
# The behaviour layer end to end, on the scenario logs (demo/ is the attack
# day, tests/scenario/benign/ the same day without it): one high-scoring
# incident per host carrying the whole chain with ancestry and none on the
# benign day; the summary leads with incidents; crown-jewel exfiltration;
# baselines learned, edited and applied; the Ancestors extension field.
# Last line: "behaviour: P passed, F failed".
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-build/stoat}
JEWELS=config/crown-jewels.example.yml
pass=0; fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the compiled-rule cache: tests/run.sh's for the whole suite, else one of this run's, never the user's
[ -n "${STOAT_TEST_CACHE:-}" ] || { XDG_CACHE_HOME=$tmp/cache; export XDG_CACHE_HOME; }
check() {   # check NAME COMMAND...: passes when the command succeeds
    name=$1; shift
    if "$@" >"$tmp/out" 2>&1; then pass=$((pass+1)); else echo "FAIL $name"; sed 's/^/    /' "$tmp/out" | head -20; fail=$((fail+1)); fi
}
# jq-like checks over a JSON-lines file: py FILE EXPR, EXPR sees `recs`
py() {
    python3 - "$1" "$2" <<'PY'
import json, re, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
alerts = [r for r in recs if r["kind"] == "alert"]
incidents = [r for r in recs if r["kind"] == "incident"]
ok = eval(sys.argv[2])
if not ok:
    print("not true:", sys.argv[2])
    for i in incidents:
        print("  incident", i["host"], i["score"], i["tactics"], len(i["alerts"]))
    sys.exit(1)
PY
}

$STOAT hunt -q --jewels $JEWELS --format jsonl demo/ >"$tmp/attack.jsonl" 2>"$tmp/attack.err"
$STOAT hunt -q --jewels $JEWELS --format jsonl tests/scenario/benign/ >"$tmp/benign.jsonl" 2>"$tmp/benign.err"

# --- incidents on the attack day
check "attack day: exactly one incident per host" \
    py "$tmp/attack.jsonl" 'sorted(i["host"].split(".")[0] for i in incidents) == ["design-srv01", "fab-ws07"]'
check "attack day: each incident scores high (>= 80, level high or critical)" \
    py "$tmp/attack.jsonl" 'all(i["score"] >= 80 and i["level"] in ("high", "critical") for i in incidents)'
check "attack day: each incident carries the chain credential access -> collection -> exfiltration" \
    py "$tmp/attack.jsonl" 'all({"credential-access", "collection", "exfiltration"} <= set(i["tactics"]) for i in incidents)'
check "attack day: both incidents start with discovery" \
    py "$tmp/attack.jsonl" 'all("discovery" in i["tactics"] and i["title"].split(": ", 1)[1].startswith("discovery") for i in incidents)'
check "attack day: an incident names alerts of its own host only, in its time span" \
    py "$tmp/attack.jsonl" 'all(a["host"] == i["host"] and i["first"] <= a["timestamp"] <= i["last"] for i in incidents for a in alerts if a["id"] in i["alerts"])'
check "attack day: the incidents' alerts carry their process ancestry" \
    py "$tmp/attack.jsonl" 'all(sum(1 for a in alerts if a["id"] in i["alerts"] and len(a.get("ancestry") or []) >= 2) >= 0.8 * len(i["alerts"]) for i in incidents)'
check "attack day: the Linux web shell's ancestry names php-fpm above the shell" \
    py "$tmp/attack.jsonl" 'any(a["host"] == "design-srv01" and "php-fpm" in " ".join(p.get("image", "") for p in a["ancestry"][1:]) for a in alerts if a.get("ancestry"))'
check "attack day: crown jewels sent out, on both hosts (critical)" \
    py "$tmp/attack.jsonl" 'sorted({a["host"].split(".")[0] for a in alerts if a["rule"]["id"] == "5b7e2d0a-4c1f-4d7e-8a3b-1f2e3d4c5b6d" and a["level"] == "critical"}) == ["design-srv01", "fab-ws07"]'
check "attack day: the exfiltration alerts are inside the incidents" \
    py "$tmp/attack.jsonl" 'all(any(a["id"] in i["alerts"] for i in incidents) for a in alerts if a["rule"]["id"] == "5b7e2d0a-4c1f-4d7e-8a3b-1f2e3d4c5b6d")'
check "attack day: no input errors" sh -c "[ ! -s '$tmp/attack.err' ]"

check "attack day: each incident says what its exfiltration claim rests on (an upload of a file seen before)" \
    py "$tmp/attack.jsonl" 'all(any(e["tactic"] == "exfiltration" and e["text"].startswith("upload of ") for e in i["evidence"]) for i in incidents)'
check "attack day: and its command and control (a connection to an outside address)" \
    py "$tmp/attack.jsonl" 'all(any(e["tactic"] == "command-and-control" and "203.0.113." in e["text"] for e in i["evidence"]) for i in incidents)'
check "attack day: an incident counts its alerts by rule" \
    py "$tmp/attack.jsonl" 'all(sum(r["alerts"] for r in i["rules"]) == len(i["alerts"]) and len(i["rules"]) >= 10 for i in incidents)'

# --- incidents in event time, whatever the order of the files
# one file per log of the Windows host (Security, Sysmon, PowerShell), given
# in two orders: the same incidents (alerts named by time and rule, as ids
# follow the input order)
mkdir -p "$tmp/bylog"
zcat demo/windows-fab-ws07.jsonl.gz | python3 -c '
import json, sys
out = {}
for line in sys.stdin:
    ch = json.loads(line)["Event"]["System"]["Channel"].split("/")[0].replace(" ", "_")
    out.setdefault(ch, []).append(line)
for ch, lines in out.items():
    open(sys.argv[1] + "/" + ch + ".jsonl", "w").writelines(lines)
' "$tmp/bylog"
ls "$tmp"/bylog/*.jsonl | sort >"$tmp/order1"
sort -r "$tmp/order1" >"$tmp/order2"
$STOAT hunt -q --jewels $JEWELS --format jsonl $(cat "$tmp/order1") >"$tmp/o1.jsonl" 2>&1
$STOAT hunt -q --jewels $JEWELS --format jsonl $(cat "$tmp/order2") >"$tmp/o2.jsonl" 2>&1
incidents_as_text() {
    python3 - "$1" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
alerts = {r["id"]: (r["timestamp"], r["rule"]["title"]) for r in recs if r["kind"] == "alert"}
for i in recs:
    if i["kind"] == "incident":
        print(i["title"], i["score"], i["first"], i["last"], i["tactics"], sorted(alerts[a] for a in i["alerts"]),
              sorted(e["text"] for e in i["evidence"]))
PY
}
incidents_as_text "$tmp/o1.jsonl" >"$tmp/o1.txt"
incidents_as_text "$tmp/o2.jsonl" >"$tmp/o2.txt"
check "files in any order: the Windows host's logs give the same incidents both ways" \
    sh -c "grep -q exfiltration '$tmp/o1.txt' && cmp '$tmp/o1.txt' '$tmp/o2.txt'"
check "files in any order: the incident is the evening's, not joined to the day's routine archiving" \
    py "$tmp/o2.jsonl" 'incidents and all(i["first"] >= "2026-11-19T21" for i in incidents)' 
# the same day twice, 600 days apart, the later copy read first (a folder of
# samples): two incidents, each within its own evening, not one of 600 days
zcat demo/windows-fab-ws07.jsonl.gz | python3 -c '
import json, sys, datetime
shift = datetime.timedelta(days=600)
for line in sys.stdin:
    e = json.loads(line)
    def move(s):
        t = datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S") + shift
        return t.strftime("%Y-%m-%dT%H:%M:%S") + s[19:]
    a = e["Event"]["System"]["TimeCreated"]["#attributes"]
    a["SystemTime"] = move(a["SystemTime"])
    d = e["Event"].get("EventData") or {}
    for k in ("UtcTime", "CreationUtcTime"):
        if isinstance(d.get(k), str) and len(d[k]) >= 19:
            d[k] = move(d[k].replace(" ", "T")).replace("T", " ")
    print(json.dumps(e))
' >"$tmp/a-later.jsonl"
zcat demo/windows-fab-ws07.jsonl.gz >"$tmp/b-earlier.jsonl"
$STOAT hunt -q --jewels $JEWELS --format jsonl "$tmp/a-later.jsonl" "$tmp/b-earlier.jsonl" >"$tmp/twice.jsonl" 2>&1
check "a day seen twice 600 days apart, later copy first: one incident per copy, each within hours" \
    py "$tmp/twice.jsonl" 'len(incidents) == 2 and all(i["first"][:10] == i["last"][:10] for i in incidents) and incidents[0]["first"] < incidents[1]["first"]'
# --incident-gap: no incident joins alerts further apart than the gap
$STOAT hunt -q --jewels $JEWELS --incident-gap 4m --incident-min-score 1 --format jsonl demo/ >"$tmp/gap.jsonl" 2>&1
check "--incident-gap 4m: within an incident no two successive alerts are more than 4 minutes apart" \
    py "$tmp/gap.jsonl" 'len(incidents) > 2 and all(all((b - a).total_seconds() <= 240 for a, b in zip(ts, ts[1:])) for ts in [sorted(__import__("datetime").datetime.fromisoformat(x["timestamp"].replace("Z", "+00:00")) for x in alerts if x["id"] in i["alerts"] and x.get("timestamp")) for i in incidents])'

# --- the benign day
check "benign day: no incident" py "$tmp/benign.jsonl" 'incidents == []'
check "benign day: nothing sent out, no alert above medium" \
    py "$tmp/benign.jsonl" 'not [a for a in alerts if a["level"] in ("high", "critical")]'
check "benign day: same event count as the attack day" sh -c "[ \$(zcat demo/*.jsonl.gz | wc -l) -eq \$(zcat tests/scenario/benign/*.jsonl.gz | wc -l) ]"

# --- the summary leads with incidents, then alerts
$STOAT hunt --jewels $JEWELS --format jsonl -o "$tmp/x.jsonl" demo/ 2>"$tmp/summary" >/dev/null
check "summary: incidents come before the alert tables" sh -c "
    inc=\$(grep -n 'incidents\$' '$tmp/summary' | head -1 | cut -d: -f1)
    al=\$(grep -n -i 'alerts' '$tmp/summary' | grep -v incident | grep -v 'alerts, ' | head -1 | cut -d: -f1)
    [ -n \"\$inc\" ] && [ -n \"\$al\" ] && [ \"\$inc\" -lt \"\$al\" ]"
check "summary: names both incidents with their scores" sh -c "grep -c 'score 100' '$tmp/summary' | grep -qx 2"

# --- baselines: learn the routine, raise the unusual
$STOAT baseline learn -o "$tmp/base.yml" tests/scenario/benign/ 2>"$tmp/learn.err"
check "baseline learn writes a readable profile per host" sh -c "grep -q 'design-srv01' '$tmp/base.yml' && grep -q 'fab-ws07' '$tmp/base.yml'"
check "baseline: profile lists tools, parents and masked command-line shapes" \
    sh -c "grep -qi 'tools' '$tmp/base.yml' && grep -qi 'pairs' '$tmp/base.yml' && grep -qi 'shapes' '$tmp/base.yml'"
$STOAT hunt -q --no-default-rules --baseline "$tmp/base.yml" --format jsonl tests/scenario/benign/ >"$tmp/b-benign.jsonl" 2>&1
check "baseline: the day it was learned from raises nothing" py "$tmp/b-benign.jsonl" 'alerts == []'
$STOAT hunt -q --no-default-rules --baseline "$tmp/base.yml" --format jsonl demo/ >"$tmp/b-attack.jsonl" 2>&1
check "baseline: the attack day raises first uses on both hosts" \
    py "$tmp/b-attack.jsonl" 'sorted({a["host"].split(".")[0] for a in alerts}) == ["design-srv01", "fab-ws07"]'
# the tool is the alerted process itself (the event's Image), per host: not a
# word found anywhere in an alert (a command line that mentions ntdsutil, say)
FIRST_USES='{(a["host"].split(".")[0], re.split(r"[\\\\/]", (a["event"].get("Image") or ""))[-1].lower())
    for a in alerts if a["rule"]["title"].startswith("First Use Of A Living-Off-The-Land Tool")}'
check "baseline: first uses name the attacker's tools (the alerted process, on its host)" \
    py "$tmp/b-attack.jsonl" "$FIRST_USES >= {('fab-ws07', 'rar.exe'), ('fab-ws07', 'certutil.exe'), ('fab-ws07', 'nltest.exe'), ('fab-ws07', 'wevtutil.exe'), ('design-srv01', 'base64'), ('design-srv01', 'scp'), ('design-srv01', 'split')}"
# an edited profile: remove a routine tool, it is raised again
grep -v -i 'makecab' "$tmp/base.yml" >"$tmp/base-edited.yml"
$STOAT hunt -q --no-default-rules --baseline "$tmp/base-edited.yml" --format jsonl tests/scenario/benign/ >"$tmp/b-edit.jsonl" 2>&1
check "baseline: a tool removed from the profile by hand is raised again" \
    py "$tmp/b-edit.jsonl" 'alerts and all("makecab" in json.dumps(a).lower() for a in alerts)'
printf 'hosts:\n  x: [\n' >"$tmp/base-bad.yml"
check "baseline: a broken profile is a clear error (exit 3)" sh -c "$STOAT hunt -q --baseline '$tmp/base-bad.yml' demo/ >/dev/null 2>'$tmp/bad.err'; [ \$? -eq 3 ] && grep -q 'base-bad.yml' '$tmp/bad.err'"

# --- the Ancestors extension: a shell with a web server anywhere above it
cat >"$tmp/anc.yml" <<'YML'
title: Shell Below PHP-FPM
id: 3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f
status: test
logsource: {product: linux, category: process_creation}
detection:
    selection:
        Image|endswith: ['/sh', '/dash', '/bash']
        Ancestors|contains: 'php-fpm'
    condition: selection
level: high
YML
sed 's/php-fpm/no-such-daemon/; s/3f1c2d4e-5a6b/3f1c2d4e-5a6c/' "$tmp/anc.yml" >"$tmp/anc-none.yml"
$STOAT hunt -q --no-default-rules -r "$tmp/anc.yml" --format jsonl tests/scenario/benign/ >"$tmp/anc.jsonl" 2>&1
check "Ancestors|contains finds PHP's mail() shell under php-fpm" \
    py "$tmp/anc.jsonl" 'alerts and all("php-fpm" in " ".join(p.get("image", "") for p in a["ancestry"][1:]) for a in alerts)'
$STOAT hunt -q --no-default-rules -r "$tmp/anc-none.yml" --format jsonl tests/scenario/benign/ >"$tmp/anc-none.jsonl" 2>&1
check "Ancestors|contains with an absent ancestor matches nothing" py "$tmp/anc-none.jsonl" 'alerts == []'

# --- correlations over files in any order, and through renamed views
CORR=9630962a-22f5-40c2-9055-ceeadc493443
M=tests/rule-pack/corr_win_discovery_burst/match.jsonl
mkdir -p "$tmp/split"
sed -n '3,$p' "$M" >"$tmp/split/1-later.jsonl"
sed -n '1,2p' "$M" >"$tmp/split/2-earlier.jsonl"
$STOAT hunt -q -j 1 --format jsonl "$tmp/split/1-later.jsonl" "$tmp/split/2-earlier.jsonl" >"$tmp/split.jsonl" 2>&1
check "correlation: a burst split over two files given latest first fires once" \
    py "$tmp/split.jsonl" 'sum(1 for a in alerts if a["rule"]["id"] == "'$CORR'") == 1'
check "correlation: its alert names the window, the group and the count" \
    py "$tmp/split.jsonl" 'all(a["correlation"]["type"] == "value_count" and a["correlation"]["value"] >= 4 and a["correlation"]["group"]["User"] == "CORP\\a.chen" and a["correlation"]["first"] < a["correlation"]["last"] for a in alerts if a["rule"]["id"] == "'$CORR'")'
# the same burst as Security 4688 events: the rules see NewProcessName as
# Image and SubjectUserName as User, and so must the correlation
python3 - "$M" >"$tmp/sec4688.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)["Event"]
    d, s = e["EventData"], e["System"]
    dom, user = d["User"].split("\\")
    print(json.dumps({"Event": {"System": {"EventID": 4688, "Channel": "Security", "Computer": s["Computer"],
        "TimeCreated": s["TimeCreated"]}, "EventData": {"NewProcessName": d["Image"], "CommandLine": d["CommandLine"],
        "ParentProcessName": d["ParentImage"], "SubjectUserName": user, "SubjectDomainName": dom,
        "SubjectLogonId": d["LogonId"], "NewProcessId": hex(d["ProcessId"]), "ProcessId": hex(d["ParentProcessId"])}}}))
PY
$STOAT hunt -q -j 1 --format jsonl "$tmp/sec4688.jsonl" >"$tmp/sec.jsonl" 2>&1
check "correlation: a burst of Security 4688 events groups by the renamed User" \
    py "$tmp/sec.jsonl" '[a["correlation"]["group"]["User"] for a in alerts if a["rule"]["id"] == "'$CORR'"] == ["a.chen"]'
check "correlation: the discovery burst joins each host's incident on the attack day" \
    py "$tmp/attack.jsonl" 'all(any(a["id"] in i["alerts"] and "correlation" in a for a in alerts) for i in incidents)'
check "correlation: its alert shows the commands it counted (evidence)" \
    py "$tmp/attack.jsonl" 'all(len(a["correlation"]["evidence"]) >= 4 and all(e["rule"] and "CommandLine: " in e["event"] for e in a["correlation"]["evidence"]) for a in alerts if "correlation" in a)'
check "correlation: the benign day has no burst" py "$tmp/benign.jsonl" 'not [a for a in alerts if "correlation" in a]'
check "correlation: summary counts the fired correlations" grep -q "correlations: 2 fired" "$tmp/summary"

# --- process trees from auditd's execve records (pid and time, no GUID)
$STOAT hunt -q --format jsonl tests/readers/mixed/audit.log >"$tmp/audit.jsonl" 2>&1
check "auditd: alerts carry their ancestry (tar under the user's bash)" \
    py "$tmp/audit.jsonl" 'alerts and all([p["image"] for p in a["ancestry"]][:2] == ["/usr/bin/tar", "/usr/bin/bash"] for a in alerts)'

# --- Sysmon configuration tags: RuleName technique_id=... raised as that technique
# (events: PowerShell T1059.001 twice, a Run key T1547.001, RuleName "-", a
# malformed id, a Security event carrying the text, a name with control bytes)
ST=tests/behaviour/sysmon_tags.jsonl
TAG='[a for a in alerts if a["rule"]["title"].startswith("Sysmon Configuration Rule: ")]'
$STOAT hunt -q --format jsonl $ST >"$tmp/tags.jsonl" 2>&1
$STOAT hunt -q --sysmon-tag-level high --format jsonl $ST >"$tmp/tags-high.jsonl" 2>&1
$STOAT hunt -q --sysmon-tag-level off --format jsonl $ST >"$tmp/tags-off.jsonl" 2>&1
check "sysmon tags: the events whose RuleName names a technique, and only they, raise it (medium)" \
    py "$tmp/tags.jsonl" 'sorted((a["source"]["record"], a["rule"]["attack"]["techniques"][0], a["level"]) for a in '"$TAG"') == [(1, "T1059.001", "medium"), (2, "T1547.001", "medium"), (5, "T1059.001", "medium"), (7, "T1105", "medium")]'
check "sysmon tags: the technique is the alert's tag; one rule id per technique" \
    py "$tmp/tags.jsonl" 'all(a["rule"]["tags"] == ["attack." + a["rule"]["attack"]["techniques"][0].lower()] for a in '"$TAG"') and len({a["rule"]["id"] for a in '"$TAG"'}) == 3'
check "sysmon tags: the title keeps printable text of the technique name only" \
    py "$tmp/tags.jsonl" 'all(32 <= ord(c) < 127 for a in '"$TAG"' for c in a["rule"]["title"]) and any(a["rule"]["title"].startswith("Sysmon Configuration Rule: T1547.001 Registry Run Keys") for a in alerts)'
check "sysmon tags: --sysmon-tag-level high raises them high" \
    py "$tmp/tags-high.jsonl" 'len('"$TAG"') == 4 and all(a["level"] == "high" for a in '"$TAG"')'
check "sysmon tags: --sysmon-tag-level off raises none" py "$tmp/tags-off.jsonl" 'not '"$TAG"''
check "sysmon tags: a bad level is refused" sh -c "! $STOAT hunt -q --sysmon-tag-level loud $ST >/dev/null 2>&1"

# --- parent-process spoofing: the caller (4688 Subject) against the stated
# parent and the token (events: cmd "under" winlogon from an admin's session,
# UAC's AppInfo elevating under explorer, the user's explorer from Sysmon, a
# process of another session under it, a SYSTEM cmd under a web pool,
# winlogon starting userinit; then a TGT for an account named like the host
# without its $ (noPac), the host's own ticket)
SP='[(a["source"]["record"], a["rule"]["attack"]["techniques"], a["level"]) for a in alerts if a["rule"]["id"].startswith("8d3f6a10-2b7c-4e59-a1d4-6c0e9b2f7a2")]'
$STOAT hunt -q --format jsonl tests/behaviour/spoof.jsonl >"$tmp/spoof.jsonl" 2>&1
check "spoofing: the spoofed parents (Security, and Security against Sysmon), the SYSTEM token and the spoofed account name raise, the brokers and the host's own ticket do not" \
    py "$tmp/spoof.jsonl" 'sorted('"$SP"') == [(1, ["T1134.004"], "high"), (4, ["T1134.004"], "high"), (5, ["T1134.002"], "high"), (7, ["T1068", "T1558"], "high")]'
check "spoofing: nothing on the benign day" py "$tmp/benign.jsonl" 'not '"$SP"''

# --- the jewel configuration itself
check "crown-jewel example config: its rules load with none rejected" \
    sh -c "$STOAT rules check --jewels $JEWELS rules/ 2>&1 | tail -1 | grep -q ' 0 rejected'"

echo "behaviour: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
