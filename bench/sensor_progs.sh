#!/bin/bash
# Kernel time per run of each of the sensor's programs (needs root): starts the
# probe (build/tests/sensor/sensor_probe or the one given) with the given options,
# runs 1500 /bin/true and 20,000 rounds of create+write, read of /etc/passwd,
# rename, chmod and unlink in /tmp (outside every watch), and prints run counts
# and ns per run of the probe's programs only (found by its prog fds).
# usage: bench/sensor_progs.sh [PROBE] [probe options]   Figures, never pass/fail.
PROBE=${1:-build/tests/sensor/sensor_probe}; [ $# -gt 0 ] && shift
OUT=$(mktemp)
prev=$(cat /proc/sys/kernel/bpf_stats_enabled)
echo 1 > /proc/sys/kernel/bpf_stats_enabled
$PROBE --keep-privs --quiet "$@" > $OUT 2>&1 &
P=$!
for _ in $(seq 100); do grep -q READY $OUT && break; sleep 0.1; done
for i in $(seq 1500); do /bin/true; done
python3 - <<'PY'
import os
a, b = "/tmp/lsb-a-%d" % os.getpid(), "/tmp/lsb-b-%d" % os.getpid()
for i in range(20000):
    fd = os.open(a, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600); os.write(fd, b"x"); os.close(fd)
    fd = os.open("/etc/passwd", os.O_RDONLY); os.close(fd)
    os.rename(a, b); os.chmod(b, 0o640); os.unlink(b)
PY
IDS=$(grep -h '^prog_id:' /proc/$P/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u | tr '\n' ' ')
bpftool prog show -j | python3 -c '
import json,sys
ids=set(int(x) for x in sys.argv[1].split()); tot={}
for p in json.load(sys.stdin):
    if p["id"] not in ids: continue
    n=p.get("run_cnt",0); t=p.get("run_time_ns",0)
    if n: print("  %-22s %8d runs %7.0f ns/run" % (p["name"], n, t/n))
    tot["n"]=tot.get("n",0)+n; tot["t"]=tot.get("t",0)+t
print("  all programs: %d runs, %.1f ms" % (tot.get("n",0), tot.get("t",0)/1e6))
' "$IDS"
kill $P; wait $P
grep STATS $OUT | cut -c1-200
echo $prev > /proc/sys/kernel/bpf_stats_enabled
rm -f $OUT
