#!/bin/sh
# The web tests: API tests of `stoat serve` (node, no browser), a flood of
# slow clients against it (loopback only), and end-to-end tests of the
# dashboard and the report in headless Chromium
# (Debian's chromium, driven by playwright-core from npm, installed here with
# `npm ci` from tests/web/package-lock.json). The stores are made here: one
# by a real hunt of demo/, one synthetic with incidents and process trees
# (build/bench/bench_store), and one with a 10,000-alert incident whose
# alerts cross a new year (bench_store --big-incident --start). Screenshots and stores stay in build/web-test/.
# Prints one line per check and last "web: P passed, F failed". The browser
# part is skipped, with a message, only when Chromium cannot start at all.
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-build/stoat}
BENCH_STORE=${BENCH_STORE:-build/bench/bench_store}
OUT=build/web-test
export STOAT
pass=0; fail=0
note() { echo "$*"; }
count() {   # count LOGFILE: adds the "x: P passed, F failed" line of a part
    line=$(grep -E ': [0-9]+ passed, [0-9]+ failed$' "$1" | tail -1)
    p=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then p=0; f=1; echo "FAIL $(basename "$1" .log): no summary line"; tail -5 "$1"; fi
    pass=$((pass + p)); fail=$((fail + f))
}

make -s "$STOAT" "$BENCH_STORE" >/dev/null || { echo "FAIL build"; echo "web: 0 passed, 1 failed"; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT"

# ---------------------------------------------------------------- node deps
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "FAIL node and npm are needed (scripts/install-deps.sh installs them)"
    echo "web: 0 passed, 1 failed"; exit 1
fi
if ! (cd tests/web && npm ci --no-audit --no-fund --loglevel=error >"../../$OUT/npm.log" 2>&1); then
    echo "FAIL npm ci in tests/web (see $OUT/npm.log)"; tail -5 "$OUT/npm.log"
    echo "web: 0 passed, 1 failed"; exit 1
fi

# ---------------------------------------------------------------- stores
DEMO_DB=$OUT/demo.db
SYNTH_DB=$OUT/synth.db
BIG_DB=$OUT/big.db
FLEET_DB=$OUT/fleet.db
"$STOAT" hunt -q demo/ --db "$DEMO_DB" -o /dev/null || { echo "FAIL stoat hunt demo/ --db"; fail=$((fail + 1)); }
"$BENCH_STORE" --alerts 3000 --quiet --db "$SYNTH_DB" || { echo "FAIL synthetic store"; fail=$((fail + 1)); }
# 2026-12-31 23:00 UTC: its 10,000 alerts, 2.5 s apart, run into 2027
"$BENCH_STORE" --alerts 10000 --quiet --db "$BIG_DB" --big-incident --start 1798758000 || { echo "FAIL big-incident store"; fail=$((fail + 1)); }
# a fleet day (tests/cross): one incident across four hosts
{ python3 tests/cross/gen-fleet-day.py --seed 23 --day attack "$OUT/fleet-day" &&
    "$STOAT" hunt -q "$OUT/fleet-day" --db "$FLEET_DB" -o /dev/null; } || { echo "FAIL fleet-day store"; fail=$((fail + 1)); }
"$STOAT" report "$FLEET_DB" -o "$OUT/fleet-report.html" 2>/dev/null || { echo "FAIL stoat report (fleet day)"; fail=$((fail + 1)); }
"$STOAT" report "$BIG_DB" -o "$OUT/big-report.html" 2>/dev/null || { echo "FAIL stoat report (big incident)"; fail=$((fail + 1)); }
"$STOAT" report "$DEMO_DB" -o "$OUT/demo-report.html" 2>/dev/null || { echo "FAIL stoat report (demo)"; fail=$((fail + 1)); }
"$STOAT" report "$SYNTH_DB" -o "$OUT/synth-report.html" 2>/dev/null || { echo "FAIL stoat report (synthetic)"; fail=$((fail + 1)); }
if grep -qE '(src|href)="https?://' "$OUT/demo-report.html"; then
    echo "FAIL the report links something on the network"; fail=$((fail + 1))
else
    echo "ok   the report file names no network resource"; pass=$((pass + 1))
fi

# ------------------------------------------------- ATT&CK technique table
# the matrix names and places every technique our rules and SigmaHQ's cite
missing=$(grep -rhoiE 'attack\.t[0-9]{4}(\.[0-9]{3})?' rules $( [ -d ../shared/data/sigma ] && echo ../shared/data/sigma ) |
    tr a-z A-Z | sed 's/^ATTACK\.//' | sort -u | while read -r t; do
        grep -q "^$t	" data/attack-techniques.tsv || echo "$t"
    done)
if [ -z "$missing" ]; then
    echo "ok   data/attack-techniques.tsv names every technique the rules cite"; pass=$((pass + 1))
else
    echo "FAIL techniques cited by rules but not in data/attack-techniques.tsv: $(echo $missing | head -c 300)"; fail=$((fail + 1))
fi
bad=$(grep -v '^#' data/attack-techniques.tsv | awk -F'\t' 'NF != 3 || $1 !~ /^T[0-9][0-9][0-9][0-9](\.[0-9][0-9][0-9])?$/ || $2 == "" || $3 !~ /^[a-z-]+(,[a-z-]+)*$/' | head -3)
if [ -z "$bad" ]; then
    echo "ok   data/attack-techniques.tsv: ID, name, tactics on every line"; pass=$((pass + 1))
else
    echo "FAIL data/attack-techniques.tsv lines not of the form ID<TAB>name<TAB>tactics: $bad"; fail=$((fail + 1))
fi

# ---------------------------------------------------------------- API
node tests/web/api.mjs "$SYNTH_DB" >"$OUT/api.log" 2>&1
cat "$OUT/api.log"
count "$OUT/api.log"
node tests/web/bigincident.mjs "$BIG_DB" >"$OUT/bigincident.log" 2>&1
cat "$OUT/bigincident.log"
count "$OUT/bigincident.log"
node tests/web/fleetincident.mjs "$FLEET_DB" >"$OUT/fleetincident.log" 2>&1
cat "$OUT/fleetincident.log"
count "$OUT/fleetincident.log"
node tests/web/flood.mjs "$SYNTH_DB" >"$OUT/flood.log" 2>&1
cat "$OUT/flood.log"
count "$OUT/flood.log"
# port 80 in a network namespace of its own: binding it needs one, and the
# machine's own port 80 stays out of it
if unshare -rn true 2>/dev/null; then
    unshare -rn sh -c 'ip link set lo up && node tests/web/port80.mjs "$1"' sh "$SYNTH_DB" >"$OUT/port80.log" 2>&1
    cat "$OUT/port80.log"
    count "$OUT/port80.log"
else
    note "SKIP port 80: no network namespace can be made here (unshare -rn)"
fi

# ---------------------------------------------------------------- browser
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if ! "$CHROMIUM" --headless --no-sandbox --disable-gpu --user-data-dir="$OUT/chromium-probe" \
        --dump-dom "data:text/html,<p>ok</p>" >"$OUT/chromium-probe.log" 2>&1; then
    note "SKIP e2e: Chromium cannot start here ($CHROMIUM; see $OUT/chromium-probe.log)"
else
    CHROMIUM=$CHROMIUM node tests/web/e2e.mjs "$OUT" "$DEMO_DB" "$OUT/demo-report.html" "$SYNTH_DB" \
        "$OUT/synth-report.html" "$BIG_DB" "$OUT/big-report.html" "$FLEET_DB" "$OUT/fleet-report.html" >"$OUT/e2e.log" 2>&1
    cat "$OUT/e2e.log"
    count "$OUT/e2e.log"
    echo "screenshots: $OUT/*.png"
fi
echo "web: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
