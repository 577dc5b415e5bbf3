#!/bin/sh
# The auditd reader against the real thing: Debian's auditd logs real
# commands, stoat reads the log back.
#
# How it sets up (and undoes) the kernel side:
#   - The audit daemon: when none is registered with the kernel, a private
#     auditd is started (`auditd -n -s nochange -c DIR`, its own auditd.conf,
#     the log in a temporary folder, flush = SYNC) and stopped at the end;
#     `-s nochange` leaves the kernel's enabled flag as it was. When one is
#     already running (the system's service), its log file is used: the bytes
#     written during the test are cut out of it (across a rotation too).
#   - Only this test's processes are audited: the workload runs under its own
#     login uid (written to /proc/self/loginuid, inherited by children), and
#     every rule has -F auid=THAT -k stoat_t<pid>. Rules: execve/execveat,
#     connect/accept/accept4, and opens, creates, renames and deletes under the
#     test's own folder.
#   - At exit (normal or not) the rules with our key are deleted
#     (`auditctl -D -k KEY`, nobody else's), the private daemon stopped, the
#     temporary folder removed; the test checks that no rule of ours is left.
#   - One run at a time (flock on /run/lock/stoat-auditd-test.lock).
# The workload (commands by name, as people type them): id, cat of a test file, curl to a listener on 127.0.0.1, tar
# of a test folder into a hidden archive, a 20000-byte argument, arguments
# with blanks and quotes, rm. Each command a rule should match has a twin
# that it must not: a program run as "identity" (not id), tar -tf (not -c)
# and tar into a plain archive (not hidden), curl copied as "curly"; the
# alerts are then counted exactly and named by the process they are for,
# so a rule that matches too much shows. Then `stoat dump` and `stoat hunt` (SigmaHQ's
# Linux rules when ../shared/data is there, stoat's rules, a test rule) read
# the log, raw and through `ausearch -i`, and the events, fields, joins and
# alerts are checked.
# Skipped, with the reason, when not root, when auditd/auditctl are missing
# or when the kernel's audit is unavailable or locked.
# Last line: "auditd: P passed, F failed".
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
STOAT=${STOAT:-build/stoat}
SHARED=${SHARED:-../shared/data}
pass=0; fail=0

finish() { echo "auditd: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }
skip_all() { echo "SKIP auditd: $1"; echo "auditd: 0 passed, 0 failed"; exit 0; }
# The kernel has one audit link: two runs at once (two checkouts testing on
# one machine) take each other's events. Runs wait for each other instead.
if command -v flock >/dev/null 2>&1; then
    exec 9>/tmp/stoat-auditd-test.lock
    flock 9
fi

[ "$(id -u)" -eq 0 ] || skip_all "needs root (audit rules and the audit daemon)"
command -v auditctl >/dev/null 2>&1 && command -v auditd >/dev/null 2>&1 ||
    skip_all "auditd/auditctl not installed (scripts/install-deps.sh installs auditd)"
for t in ausearch curl tar python3 flock; do
    command -v $t >/dev/null 2>&1 || skip_all "$t not installed"
done
status=$(auditctl -s 2>&1) || skip_all "the kernel's audit is not available here: $status"
enabled=$(echo "$status" | awk '$1 == "enabled" {print $2}')
[ "$enabled" = 2 ] && skip_all "the kernel's audit rules are locked (enabled 2)"
[ "$enabled" = 0 ] && skip_all "the kernel's audit is disabled (enabled 0); not changing that"
[ "$(cat /proc/sys/kernel/audit_loginuid_immutable 2>/dev/null || echo 0)" = 1 ] &&
    skip_all "login uids are immutable here"

exec 9>/run/lock/stoat-auditd-test.lock 2>/dev/null || exec 9>/tmp/stoat-auditd-test.lock
flock -w 300 9 || skip_all "another run holds the lock"

TMP=$(mktemp -d /tmp/stoat-auditd.XXXXXX)
chmod 755 "$TMP"
DATA="$TMP/data"
KEY="stoat_t$$"
AUID=$((3100000 + $$ % 100000))
DAEMON_PID=""
cleanup() {
    auditctl -D -k "$KEY" >/dev/null 2>&1
    if [ -n "$DAEMON_PID" ]; then
        kill -TERM "$DAEMON_PID" 2>/dev/null
        i=0
        while kill -0 "$DAEMON_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

check() {   # check NAME COMMAND...: passes when the command succeeds
    name=$1; shift
    if "$@" >"$TMP/check.out" 2>&1; then
        pass=$((pass + 1)); echo "ok   $name"
    else
        echo "FAIL $name"; sed 's/^/    /' "$TMP/check.out" | head -20; fail=$((fail + 1))
    fi
}

# ---------------------------------------------------------------- daemon
daemon_pid=$(echo "$status" | awk '$1 == "pid" {print $2}')
if [ "${daemon_pid:-0}" = 0 ] || ! kill -0 "$daemon_pid" 2>/dev/null; then
    LOG="$TMP/audit.log"
    mkdir -p "$TMP/etc/plugins.d"
    cat >"$TMP/etc/auditd.conf" <<EOF
local_events = yes
write_logs = yes
log_file = $LOG
log_format = ENRICHED
flush = SYNC
freq = 0
max_log_file = 256
num_logs = 1
max_log_file_action = IGNORE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
name_format = NONE
plugin_dir = $TMP/etc/plugins.d
end_of_event_timeout = 2
EOF
    chmod 700 "$TMP/etc" "$TMP/etc/plugins.d"
    chmod 600 "$TMP/etc/auditd.conf"
    auditd -n -s nochange -c "$TMP/etc" >"$TMP/auditd.out" 2>&1 &
    DAEMON_PID=$!
    i=0
    while [ $i -lt 100 ]; do
        [ "$(auditctl -s | awk '$1 == "pid" {print $2}')" = "$DAEMON_PID" ] && break
        kill -0 "$DAEMON_PID" 2>/dev/null || break
        sleep 0.1; i=$((i + 1))
    done
    if [ "$(auditctl -s | awk '$1 == "pid" {print $2}')" != "$DAEMON_PID" ]; then
        cat "$TMP/auditd.out"
        DAEMON_PID=""
        skip_all "could not start a private auditd (another audit daemon may have taken the kernel link)"
    fi
    echo "using a private auditd (pid $DAEMON_PID) logging to $LOG"
    MODE=private
else
    # the running daemon's log: the file it has open for writing
    LOG=""
    for fd in /proc/"$daemon_pid"/fd/*; do
        f=$(readlink "$fd" 2>/dev/null) || continue
        case "$f" in *.log) LOG=$f; break ;; esac
    done
    [ -n "$LOG" ] || LOG=/var/log/audit/audit.log
    [ -r "$LOG" ] || skip_all "auditd (pid $daemon_pid) is running but its log $LOG is not readable"
    START_INODE=$(stat -c %i "$LOG")
    START_SIZE=$(stat -c %s "$LOG")
    touch "$TMP/start-mark"
    echo "using the running auditd (pid $daemon_pid), log $LOG from byte $START_SIZE"
    MODE=shared
fi

# ----------------------------------------------------------------- rules
mkdir -p "$DATA/docs"
chmod 755 "$DATA"
printf 'chip-a7 layout, rev 3\n' >"$DATA/docs/layout.txt"
printf 'wafer map\n' >"$DATA/docs/wafer map.csv"
printf 'top secret\n' >"$DATA/secret.txt"
rules_ok=true
auditctl -a always,exit -F arch=b64 -S execve,execveat -F auid=$AUID -k "$KEY" >/dev/null || rules_ok=false
auditctl -a always,exit -F arch=b64 -S connect,accept,accept4 -F auid=$AUID -k "$KEY" >/dev/null || rules_ok=false
auditctl -a always,exit -F arch=b64 -S open,openat,creat,unlink,unlinkat,rename,renameat -F dir="$DATA" \
    -F auid=$AUID -k "$KEY" >/dev/null || rules_ok=false
$rules_ok || skip_all "auditctl could not add the test's rules"

# -------------------------------------------------------------- workload
LONG=$(python3 -c 'print("A" * 20000)')
cat >"$TMP/listener.py" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(20)
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
c.recv(4096)
c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
c.close()
PY
mkdir -p "$TMP/bin"
cp /usr/bin/curl "$TMP/bin/curly"
cat >"$TMP/workload.sh" <<EOF
cd "$DATA"
python3 "$TMP/listener.py" >"$TMP/port" &
i=0; while [ ! -s "$TMP/port" ] && [ \$i -lt 100 ]; do sleep 0.05; i=\$((i + 1)); done
read port <"$TMP/port"
id >/dev/null
bash -c 'exec -a identity /bin/true'
sleep 0.2
cat "$DATA/secret.txt" >/dev/null
"$TMP/bin/curly" -s -o /dev/null "http://127.0.0.1:1/twin"
curl -s -o /dev/null "http://127.0.0.1:\$port/stage.sh"
wait
tar -cf "$DATA/.stage.tar" -C "$DATA" docs
tar -cf "$DATA/plain.tar" -C "$DATA" docs
tar -tf "$DATA/.stage.tar" >/dev/null
# the kernel's audit backlog may be small (64 here) and is never changed by
# this test: let the daemon drain it before the many records of a long argument
sleep 0.5
/bin/echo "$LONG" >/dev/null
/bin/echo "two words" 'q"uote' >/dev/null
/bin/rm "$DATA/.stage.tar"
/bin/true stoat-end-$$
EOF
# a login uid of its own: every process below carries it (auid)
sh -c "echo $AUID >/proc/self/loginuid && exec /bin/sh '$TMP/workload.sh'" >"$TMP/workload.out" 2>&1
check "workload ran under its own login uid" [ -s "$TMP/port" ]

# wait until the last command is in the log, then take the rules out
i=0
while [ $i -lt 100 ] && ! grep -aq "stoat-end-$$" "$LOG" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
auditctl -D -k "$KEY" >/dev/null 2>&1
check "no audit rule of the test is left" sh -c "! auditctl -l | grep -q '$KEY'"

if [ "$MODE" = shared ]; then
    # the bytes written since the start, across a rotation
    : >"$TMP/audit.log"
    dir=$(dirname "$LOG")
    for f in $(ls -tr "$dir"/audit.log* 2>/dev/null); do
        ino=$(stat -c %i "$f")
        if [ "$ino" = "$START_INODE" ]; then
            tail -c +$((START_SIZE + 1)) "$f" >>"$TMP/audit.log"
        elif [ "$f" -nt "$TMP/start-mark" ]; then
            cat "$f" >>"$TMP/audit.log"
        fi
    done
    LOG="$TMP/audit.log"
fi
check "the log has the workload's events" grep -aq "stoat-end-$$" "$LOG"
ausearch -i -if "$LOG" -k "$KEY" >"$TMP/interpreted.txt" 2>/dev/null

# ------------------------------------------------------------- read back
"$STOAT" dump "$LOG" >"$TMP/dump.jsonl" 2>"$TMP/dump.err"
check "stoat dump reads the log without complaint" sh -c "! grep -E 'error|warning' '$TMP/dump.err'"
"$STOAT" dump "$TMP/interpreted.txt" >"$TMP/dump-i.jsonl" 2>"$TMP/dump-i.err"
check "stoat dump reads ausearch -i output without complaint" sh -c "[ -s '$TMP/dump-i.jsonl' ] && ! grep -E 'error|warning' '$TMP/dump-i.err'"

# The checks, over the events of our key (and the views made from them).
PORT=$(cat "$TMP/port")
cat >"$TMP/checks.py" <<'PY'
import json, sys, os
dump, key, auid, data, port, interp = sys.argv[1:7]
interp = interp == "1"
raw, views = [], {}
for l in open(dump):
    d = json.loads(l)
    src = d["source"]
    ev = d["event"]
    if src["channel"] == "auditd":
        keys = ev.get("key", [])
        keys = keys if isinstance(keys, list) else [keys]
        if key in keys:
            raw.append((src["line"], ev))
    elif src["channel"] == "auditd-derived":
        views.setdefault(src["line"], []).append(ev)
mine = [(l, e) for l, e in raw]
def lst(v):
    return v if isinstance(v, list) else ([] if v is None else [v])
def views_of(line, eid):
    return [v for v in views.get(line, []) if str(v["EventID"]) == eid]
def execs(image):
    out = []
    for l, e in mine:
        for v in views_of(l, "1"):
            if v.get("Image") == image:
                out.append((e, v))
    return out
def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else "  " + detail))

check("events of the test's key were read", len(mine) >= 8, str(len(mine)))
# id: the joined exec event and its process view
ids = execs("/usr/bin/id")
check("id: one process view", len(ids) == 1, str(len(ids)))
if ids:
    e, v = ids[0]
    types = lst(e.get("type"))
    check("id: SYSCALL, EXECVE, CWD, PATH, PROCTITLE joined into one event",
          all(t in types for t in ("SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE")), str(types))
    check("id: a0 is id, SYSCALL execve", lst(e.get("a0")) == ["id"] and e.get("SYSCALL") == "execve",
          str(e.get("a0")) + " " + str(e.get("SYSCALL")))
    check("id: EventID 1300", str(e.get("EventID")) == "1300", str(e.get("EventID")))
    check("id: CommandLine, CurrentDirectory", v.get("CommandLine") == "id" and v.get("CurrentDirectory") == data,
          str(v.get("CommandLine")) + " " + str(v.get("CurrentDirectory")))
    check("id: User root, LogonId, ProcessId, ParentProcessId",
          v.get("User") == "root" and v.get("LogonId") not in (None, "4294967295", "unset")
          and v.get("ProcessId") and v.get("ParentProcessId"), json.dumps(v))
    check("id: ParentImage is the workload's shell", (v.get("ParentImage") or "").endswith("sh"), str(v.get("ParentImage")))
    check("id: the login uid is the test's", lst(e.get("auid"))[:1] in ([auid], ["unknown(" + auid + ")"]) or interp,
          str(e.get("auid")))
# cat: the read shows in the raw event, no file view
cats = execs("/usr/bin/cat")
check("cat: one process view", len(cats) == 1, str(len(cats)))
reads = [e for l, e in mine if os.path.join(data, "secret.txt") in lst(e.get("name")) and e.get("SYSCALL") == "openat"]
check("cat: the open of the test file, PATH name", len(reads) >= 1)
check("cat: a read makes no file_event",
      all(not views_of(l, "11") for l, e in mine if os.path.join(data, "secret.txt") in lst(e.get("name"))))
# curl: connect and the listener's accept
curls = execs("/usr/bin/curl")
check("curl: one process view", len(curls) == 1, str(len(curls)))
if curls:
    check("curl: the URL in CommandLine", "http://127.0.0.1:%s/stage.sh" % port in curls[0][1].get("CommandLine", ""),
          str(curls[0][1].get("CommandLine")))
conns = [v for l, e in mine for v in views_of(l, "3") if v.get("Initiated") == "true" and v.get("Image") == "/usr/bin/curl"]
check("curl: network view to 127.0.0.1:" + port,
      any(v.get("DestinationIp") == "127.0.0.1" and v.get("DestinationPort") == port for v in conns),
      json.dumps(conns)[:300])
accs = [v for l, e in mine for v in views_of(l, "3") if v.get("Initiated") == "false"]
check("listener: accept view from 127.0.0.1", any(v.get("SourceIp") == "127.0.0.1" for v in accs), json.dumps(accs)[:300])
raw_conn = [e for l, e in mine if e.get("SYSCALL") == "connect" and e.get("laddr") == "127.0.0.1"]
check("curl: SOCKADDR decoded in the raw event (laddr, lport)", any(e.get("lport") == port for e in raw_conn))
# tar: the archive is a file_event
stage = os.path.join(data, ".stage.tar")
tars = [v for l, e in mine for v in views_of(l, "11") if v.get("TargetFilename") == stage]
check("tar: file_event for the archive", len(tars) >= 1 and tars[0].get("Image") == "/usr/bin/tar", json.dumps(tars)[:300])
tarx = execs("/usr/bin/tar")
check("tar: -cf in a1", tarx and lst(tarx[0][0].get("a1")) == ["-cf"], str(tarx[0][0].get("a1") if tarx else None))
# long and encoded arguments
longs = [e for l, e in mine if lst(e.get("a1")) and len(lst(e.get("a1"))[0]) == 20000]
check("a 20000-byte argument joined from its pieces", len(longs) == 1 and lst(longs[0]["a1"])[0] == "A" * 20000)
if longs:
    v = [v for l, e in mine if e is longs[0] for v in views_of(l, "1")]
    check("... and whole in CommandLine", v and v[0].get("CommandLine") == "/bin/echo " + "A" * 20000)
quoted = [e for l, e in mine if lst(e.get("a1")) == ["two words"]]
check("arguments with blanks and quotes decoded", len(quoted) == 1 and lst(quoted[0].get("a2")) == ['q"uote'],
      str([(e.get("a1"), e.get("a2")) for e in quoted]))
# rm: file_delete
dels = [v for l, e in mine for v in views_of(l, "23") if v.get("TargetFilename") == stage]
check("rm: file_delete view", len(dels) == 1, str(len(dels)))
# no process view from a non-exec event
check("process views only from execve events",
      all(e.get("SYSCALL") in ("execve", "execveat") for l, e in mine if views_of(l, "1")))
PY
python3 "$TMP/checks.py" "$TMP/dump.jsonl" "$KEY" "$AUID" "$DATA" "$PORT" 0 >"$TMP/checks.out" 2>&1
python3 "$TMP/checks.py" "$TMP/dump-i.jsonl" "$KEY" "$AUID" "$DATA" "$PORT" 1 | sed 's/^\(ok  \|FAIL\) /\1 [ausearch -i] /' >>"$TMP/checks.out" 2>&1
cat "$TMP/checks.out"
pass=$((pass + $(grep -c '^ok ' "$TMP/checks.out")))
fail=$((fail + $(grep -c '^FAIL' "$TMP/checks.out")))
grep -q 'Traceback' "$TMP/checks.out" && fail=$((fail + 1))

# ------------------------------------------------------------------ rules
cat >"$TMP/loopback.yml" <<'YML'
title: Test Curl To Loopback Listener
id: 7d0b2c5e-3f1a-4b8e-9c2d-5e6f7a8b9c0d
status: test
logsource: {product: linux, category: network_connection}
detection:
    selection:
        Image|endswith: /curl
        DestinationIp|cidr: 127.0.0.0/8
        Initiated: 'true'
    condition: selection
level: low
YML
set -- -r "$TMP/loopback.yml"
sigma="$SHARED/sigma/rules/linux"
[ -d "$sigma" ] && set -- "$@" -r "$sigma"
"$STOAT" hunt -q --format jsonl "$@" "$LOG" >"$TMP/alerts.jsonl" 2>"$TMP/hunt.err"
alerts() {  # alerts TITLE-PART CHANNEL: count
    python3 - "$TMP/alerts.jsonl" "$1" "$2" <<'PY'
import sys, json
# alerts of single events (not incidents, not correlations' alerts)
recs = [json.loads(l) for l in open(sys.argv[1])]
print(sum(1 for a in recs if a["kind"] == "alert" and a.get("source") and sys.argv[2] in a["rule"]["title"]
          and a["source"]["channel"] == sys.argv[3]))
PY
}
what() {  # what TITLE-PART CHANNEL FIELD...: the alerts' first present field, sorted, one line
    python3 - "$TMP/alerts.jsonl" "$@" <<'PY'
import sys, json
recs = [json.loads(l) for l in open(sys.argv[1])]
def one(v):
    return v[0] if isinstance(v, list) and v else v
out = []
for a in recs:
    if a["kind"] == "alert" and a.get("source") and sys.argv[2] in a["rule"]["title"] and a["source"]["channel"] == sys.argv[3]:
        ev = a.get("event") or {}
        out.append(next((str(one(ev[f])) for f in sys.argv[4:] if ev.get(f) is not None), "?"))
print(" ".join(sorted(out)))
PY
}
# exactly the commands meant, not their twins
w=$(what "Curl To Loopback" auditd-derived Image)
check "test network_connection rule: curl's connect only, not curly's ($w)" [ "$w" = "/usr/bin/curl" ]
w=$(what "Archive File Created In /dev/shm Or As A Hidden Temp File" auditd-derived TargetFilename)
check "stoat's file_event rule: the hidden archive only, not plain.tar ($w)" [ "$w" = "$DATA/.stage.tar" ]
if [ -d "$sigma" ]; then
    w=$(what "System Owner or User Discovery" auditd a0)
    check "SigmaHQ auditd rule (EXECVE a0: id): id only, not identity ($w)" [ "$w" = "id" ]
    w=$(what "Data Compressed" auditd a1)
    check "SigmaHQ auditd rule (EXECVE a0: tar, a1: -c): both tar -cf, not tar -tf ($w)" [ "$w" = "-cf -cf" ]
    w=$(what "Curl Usage" auditd-derived Image)
    check "SigmaHQ process_creation rule (Image: /curl): curl only, not curly ($w)" [ "$w" = "/usr/bin/curl" ]
    n=$(alerts "Curl Usage" auditd)
    check "... and never on a raw auditd event ($n)" [ "$n" -eq 0 ]
else
    echo "SKIP SigmaHQ rules ($sigma not found)"
fi

finish
