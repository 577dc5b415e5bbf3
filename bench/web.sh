#!/bin/sh
# The store, dashboard and report figures (issue 6), for `make bench`:
#   - writing 1,000,000 alerts into the store (bench_store, the public API);
#   - dashboard API latency on that store, wrk on loopback, one route at a
#     time (p50/p99 from wrk --latency);
#   - `stoat report` of 100,000 alerts (bench_hunt times the whole run) and
#     the report's first render in headless Chromium (bench/render.mjs).
# The stores are kept in bench/corpus/ (not in git) and made again with
# BENCH_STORE_FRESH=1. Timings belong here, never in tests.
set -eu
cd "$(dirname "$0")/.."
STOAT=build/stoat
C=bench/corpus
mkdir -p "$C"
N=${BENCH_STORE_ALERTS:-1000000}
BIG=$C/store-1m.db
SMALL=$C/store-100k.db

echo "== store: writing $N alerts (synthetic: 50 hosts, 40 rules, ancestry 2-5 deep, incidents)"
build/bench/bench_store --alerts "$N"
# a store of an older schema is made again (readers refuse to upgrade it)
SCHEMA=$(sed -n 's/^#define STOAT_STORE_SCHEMA \([0-9]*\).*/\1/p' include/stoat/store.h)
stale() { [ ! -s "$1" ] || [ "${BENCH_STORE_FRESH:-0}" = 1 ] ||
          [ "$(sqlite3 "$1" 'PRAGMA user_version' 2>/dev/null)" != "$SCHEMA" ]; }
if stale "$BIG"; then
    rm -f "$BIG" "$BIG-wal" "$BIG-shm"
    build/bench/bench_store --alerts 1000000 --db "$BIG" --keep --quiet
fi
if stale "$SMALL"; then
    rm -f "$SMALL" "$SMALL-wal" "$SMALL-shm"
    build/bench/bench_store --alerts 100000 --db "$SMALL" --keep --quiet
fi

echo "== dashboard API on 1,000,000 alerts (wrk on loopback: 2 threads, BENCH_WRK_CONNECTIONS=4 connections, 5 s a route)"
if command -v wrk >/dev/null; then
    $STOAT serve "$BIG" --listen 127.0.0.1:0 >"$C/serve.out" 2>&1 &
    SPID=$!
    trap 'kill $SPID 2>/dev/null' EXIT
    PORT=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        PORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\)\/$/\1/p' "$C/serve.out" 2>/dev/null || true)
        [ -n "$PORT" ] && break
        sleep 0.3
    done
    for route in /api/overview /api/alerts '/api/alerts?host=srv07.corp.example' '/api/alerts?level=critical' \
                 '/api/alerts?tactic=exfiltration' '/api/alerts?technique=T1100' '/api/alerts?cursor=1797000000000000000:999999' '/api/search?q=ntdsutil' '/api/alerts?q=ntdsutil&host=srv07.corp.example' \
                 /api/alerts/500000 /api/alerts/500000/tree /api/incidents '/api/incidents?host=srv07.corp.example' \
                 /api/incidents/2000 /api/hosts /api/rules '/api/search?q=whoami%20domain%209972' \
                 /api/version; do
        out=$(wrk -t2 -c${BENCH_WRK_CONNECTIONS:-4} -d${BENCH_WRK_SECONDS:-5}s --latency "http://127.0.0.1:$PORT$route" 2>&1)
        p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
        p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
        rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
        non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
        printf '%-58s p50 %-9s p99 %-9s %8s req/s%s\n' "$route" "$p50" "$p99" "$rps" "${non2xx:+  NON-2XX: $non2xx}"
    done
    kill $SPID 2>/dev/null || true
    trap - EXIT
else
    echo "wrk is not installed (apt-get install wrk): skipped"
fi

echo "== report of 100,000 alerts"
build/bench/bench_hunt -n 3 --label "stoat report, 100,000 alerts" -- $STOAT report "$SMALL" -o "$C/report-100k.html"
$STOAT report "$SMALL" -o "$C/report-100k.html"
if [ -x /usr/bin/chromium ] && [ -d tests/web/node_modules/playwright-core ]; then
    node bench/render.mjs "$C/report-100k.html" 3
else
    echo "Chromium or tests/web/node_modules missing (run tests/web/run.sh once): render not timed"
fi
