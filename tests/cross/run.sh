#!/bin/sh
# Cross-host analytics end to end in `stoat hunt` over a folder of several
# hosts' logs, on fleet days generated here (gen-fleet-day.py) with several
# seeds: the attack day gives exactly one fleet incident naming the four
# hosts and the stolen account, with the logons in order; the benign day
# (the same routine without the intruder, alerts on two hosts joined by an
# admin's logon included) gives no incident; cross-host Sigma correlations
# (grouped by account or address, not by host); the lateral movement
# baseline learned from the benign day marks the intruder's logons new.
# Last line: "cross: P passed, F failed".
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-build/stoat}
GEN=tests/cross/gen-fleet-day.py
pass=0; fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the compiled-rule cache: tests/run.sh's for the whole suite, else one of this run's, never the user's
[ -n "${STOAT_TEST_CACHE:-}" ] || { XDG_CACHE_HOME=$tmp/cache; export XDG_CACHE_HOME; }
check() {   # check NAME COMMAND...: passes when the command succeeds
    name=$1; shift
    if "$@" >"$tmp/out" 2>&1; then pass=$((pass+1)); else echo "FAIL $name"; sed 's/^/    /' "$tmp/out" | head -20; fail=$((fail+1)); fi
}
# py OUT EXPECT EXPR: EXPR sees recs, alerts, incidents, fleet (incidents
# with hosts), exp (what the generator says the day holds), key()
py() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
exp = json.load(open(sys.argv[2]))
alerts = [r for r in recs if r["kind"] == "alert"]
incidents = [r for r in recs if r["kind"] == "incident"]
fleet = [i for i in incidents if i.get("hosts")]
key = lambda a: a.split("\\")[-1].split("@")[0].lower()
ok = eval(sys.argv[3])
if not ok:
    print("not true:", sys.argv[3])
    for i in incidents:
        print("  incident", i["title"], [h["host"] for h in i.get("hosts", [])],
              [(e["from"], e["to"]) for e in i.get("edges", [])])
    print("  expected", exp)
    sys.exit(1)
PY
}

for seed in 11 23 37 41 59; do
    $GEN --seed $seed --day attack --expect "$tmp/a$seed.exp" "$tmp/a$seed"
    $GEN --seed $seed --day benign --expect "$tmp/b$seed.exp" "$tmp/b$seed"
    $STOAT hunt -q --format jsonl "$tmp/a$seed" >"$tmp/a$seed.jsonl" 2>"$tmp/a$seed.err"
    $STOAT hunt -q --format jsonl "$tmp/b$seed" >"$tmp/b$seed.jsonl" 2>"$tmp/b$seed.err"
    A="$tmp/a$seed.jsonl"; AE="$tmp/a$seed.exp"
    check "seed $seed: attack day: exactly one fleet incident" py "$A" "$AE" 'len(fleet) == 1'
    check "seed $seed: the fleet incident names the four hosts, workstation first" \
        py "$A" "$AE" '[h["host"] for h in fleet[0]["hosts"]][0] == exp["hosts"]["workstation"] and sorted(h["host"] for h in fleet[0]["hosts"]) == sorted(exp["hosts"].values())'
    check "seed $seed: and the stolen account" py "$A" "$AE" 'key(fleet[0]["account"]) == exp["account"]'
    check "seed $seed: its edges are the intruder's logons, in order" \
        py "$A" "$AE" '[[e["from"], e["to"]] for e in fleet[0]["edges"]] == exp["moves"] and [e["first"] for e in fleet[0]["edges"]] == sorted(e["first"] for e in fleet[0]["edges"])'
    check "seed $seed: every host part lists its own alerts, with their processes" \
        py "$A" "$AE" 'all(h["alerts"] and h["processes"] and all(a["host"] == h["host"] for a in alerts if a["id"] in h["alerts"]) for h in fleet[0]["hosts"])'
    check "seed $seed: the story: discovery, credentials, lateral movement, collection, exfiltration on evidence" \
        py "$A" "$AE" '{"discovery", "credential-access", "lateral-movement", "collection", "exfiltration"} <= set(fleet[0]["tactics"]) and any(e["tactic"] == "exfiltration" for e in fleet[0]["evidence"]) and fleet[0]["level"] == "critical"'
    check "seed $seed: no host incident repeats what the fleet incident holds" \
        py "$A" "$AE" 'all(not set(i["alerts"]) <= set(fleet[0]["alerts"]) for i in incidents if not i.get("hosts"))'
    check "seed $seed: attack day: no input errors" sh -c "[ ! -s '$tmp/a$seed.err' ]"
    check "seed $seed: benign day: alerts on two hosts an admin moved between, and no incident" \
        py "$tmp/b$seed.jsonl" "$tmp/b$seed.exp" 'len({a["host"] for a in alerts}) >= 2 and incidents == []'
done

# the files of the day in another order, one host's logs split in two: the same incident
seed=23
mkdir -p "$tmp/split"
for f in "$tmp/a$seed"/*.jsonl; do
    b=$(basename "$f" .jsonl)
    n=$(wc -l <"$f"); h=$((n / 2))
    head -n "$h" "$f" >"$tmp/split/z-$b-1.jsonl"
    tail -n +$((h + 1)) "$f" >"$tmp/split/a-$b-2.jsonl"
done
$STOAT hunt -q --format jsonl "$tmp/split" >"$tmp/split.jsonl" 2>&1
check "files in any order: the same fleet incident" \
    py "$tmp/split.jsonl" "$tmp/a$seed.exp" 'len(fleet) == 1 and [[e["from"], e["to"]] for e in fleet[0]["edges"]] == exp["moves"]'

# the table names the hosts and the logons
$STOAT hunt --format table "$tmp/a$seed" >"$tmp/table.txt" 2>/dev/null
check "table: the fleet incident's hosts and logons" \
    sh -c "grep -q '^  hosts: .* -> .* -> .* -> ' '$tmp/table.txt' && [ \$(grep -c '^  logon: ' '$tmp/table.txt') -eq 3 ]"

# the store keeps the fleet incident's hosts, account and logons
$STOAT hunt -q --db "$tmp/store.db" --format jsonl "$tmp/a$seed" >/dev/null 2>&1
check "store: the fleet incident with its hosts, account and logons in order" python3 - "$tmp/store.db" "$tmp/a$seed.exp" <<'PY'
import json, sqlite3, sys
exp = json.load(open(sys.argv[2]))
rows = sqlite3.connect(sys.argv[1]).execute("SELECT hosts, account, edges FROM incidents WHERE hosts IS NOT NULL").fetchall()
assert len(rows) == 1, rows
hosts, account, edges = json.loads(rows[0][0]), rows[0][1], json.loads(rows[0][2])
assert sorted(hosts) == sorted(exp["hosts"].values()), hosts
assert account.split("\\")[-1].lower() == exp["account"], account
assert [[e["from"], e["to"]] for e in edges] == exp["moves"], edges
PY

# cross-host Sigma correlations: grouped by account or address, not host
$STOAT hunt -q --format jsonl -r tests/cross/rules --min-level low "$tmp/a$seed" >"$tmp/corr-a.jsonl" 2>&1
$STOAT hunt -q --format jsonl -r tests/cross/rules --min-level low "$tmp/b$seed" >"$tmp/corr-b.jsonl" 2>&1
check "correlation across hosts: the stolen account's logons to two hosts within the hour" \
    py "$tmp/corr-a.jsonl" "$tmp/a$seed.exp" 'any(a.get("correlation") and key(a["correlation"]["group"].get("TargetUserName", "")) == exp["account"] and a["correlation"]["value"] >= 2 and a["host"] is None for a in alerts)'
check "correlation across hosts: the admin's PC reaching two hosts within the hour" \
    py "$tmp/corr-b.jsonl" "$tmp/b$seed.exp" 'any(a.get("correlation") and a["correlation"]["group"].get("IpAddress") == exp["admin_pc"] and a["correlation"]["value"] >= 2 for a in alerts)'

# the lateral movement baseline: learned from the benign day, the intruder's logons are new
$STOAT baseline learn -o "$tmp/base.yml" "$tmp/b$seed" 2>"$tmp/learn.err"
check "baseline learn: the admins' logons are in the profile" \
    sh -c "grep -q '^    logons:' '$tmp/base.yml' && grep -q \"\$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"admin\"])' '$tmp/b$seed.exp') < \" '$tmp/base.yml'"
$STOAT hunt -q --format jsonl --baseline "$tmp/base.yml" "$tmp/a$seed" >"$tmp/base-a.jsonl" 2>&1
check "baseline: the intruder's logons are new, the incident says so" \
    py "$tmp/base-a.jsonl" "$tmp/a$seed.exp" 'len(fleet) == 1 and all(e["new"] for e in fleet[0]["edges"]) and any("never seen in the baseline" in e["text"] for e in fleet[0]["evidence"])'

echo "cross: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
