#!/bin/sh
# stoat as a Unix tool: `make install` into a DESTDIR (with PREFIX=/usr and
# with the default /usr/local) puts every part where it belongs, the
# installed binary runs from anywhere on its own rules and mapping (and not
# the checkout's), `--version` is VERSION's, the man page renders without
# warnings and names every option the commands' --help lists, `make
# uninstall` takes it all away, and a build without the eBPF sensor
# (SENSOR=0, or nothing to build it with) links no libbpf and its watch
# says why it runs the fallback.
# Last line: "install: P passed, F failed".
set -u
cd "$(dirname "$0")/../.."
REPO=$(pwd)
STOAT=${STOAT:-build/stoat}
pass=0; fail=0
ok()  { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
tmp=$(mktemp -d /tmp/stoat-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# the compiled-rule cache: tests/run.sh's for the whole suite, else one of this run's, never the user's
[ -n "${STOAT_TEST_CACHE:-}" ] || { XDG_CACHE_HOME=$tmp/cache; export XDG_CACHE_HOME; }

# ---- make install DESTDIR=... PREFIX=/usr
D=$tmp/root
if make -s install DESTDIR="$D" PREFIX=/usr >"$tmp/install.log" 2>&1; then
    ok "make install DESTDIR PREFIX=/usr"
else
    bad "make install DESTDIR PREFIX=/usr: $(tail -5 "$tmp/install.log")"
fi
missing=""
for f in usr/bin/stoat usr/share/stoat/data/mapping.yml usr/share/stoat/data/lotl-tools.yml \
         usr/share/stoat/config/crown-jewels.example.yml usr/share/stoat/config/placeholders.example.yml \
         usr/share/man/man1/stoat.1 usr/lib/systemd/system/stoat-watch.service usr/lib/sysusers.d/stoat.conf \
         usr/share/doc/stoat/LICENSE usr/share/doc/stoat/CHANGELOG.md usr/share/doc/stoat/README.md \
         usr/share/doc/stoat/stoat-watch.service.md; do
    [ -s "$D/$f" ] || missing="$missing $f"
done
[ -x "$D/usr/bin/stoat" ] || missing="$missing usr/bin/stoat(executable)"
[ -z "$missing" ] && ok "installed: binary, mapping, tool list, config examples, man page, unit, sysusers, docs" ||
    bad "not installed:$missing"
want=$(find rules -name '*.yml' | wc -l)
got=$(find "$D/usr/share/stoat/rules" -name '*.yml' 2>/dev/null | wc -l)
[ "$want" -gt 0 ] && [ "$want" -eq "$got" ] && ok "every rule installed ($got)" || bad "rules installed: $got of $want"
U=$D/usr/lib/systemd/system/stoat-watch.service
if grep -q '^ExecStart=/usr/bin/stoat watch ' "$U" && grep -q '^Environment=STOAT_HOME=/usr/share/stoat$' "$U" &&
    ! grep -q '/usr/local' "$U"; then
    ok "the unit's paths follow PREFIX"
else
    bad "the unit's paths: $(grep -E 'ExecStart=|STOAT_HOME|/usr/local' "$U" | tr '\n' ' ')"
fi

# ---- the installed binary, from elsewhere, without STOAT_HOME
V=$(sed -n 1p VERSION)
out=$(cd / && env -u STOAT_HOME "$D/usr/bin/stoat" --version 2>&1)
case "$out" in
    "stoat $V"|"stoat $V (git "*")") ok "installed stoat --version: $out" ;;
    *) bad "installed stoat --version: '$out' (VERSION says $V)" ;;
esac
# outside a git checkout (a release tarball) the version stands alone
GIT_DIR=/nonexistent GIT_CEILING_DIRECTORIES=/ scripts/gen-version.sh | grep -qx '#define STOAT_GIT_DESCRIBE ""' &&
    GIT_DIR=/nonexistent scripts/gen-version.sh | grep -qx "#define STOAT_VERSION \"$V\"" &&
    ok "without git the version is VERSION's alone" || bad "gen-version without git: $(GIT_DIR=/nonexistent scripts/gen-version.sh | tr '\n' ' ')"
[ "$out" = "$("$STOAT" --version)" ] && ok "installed and built binaries report the same version" ||
    bad "versions differ: '$out' and '$("$STOAT" --version)'"
(cd / && env -u STOAT_HOME "$D/usr/bin/stoat" hunt -q --format jsonl "$REPO/demo/") >"$tmp/installed.jsonl" 2>"$tmp/installed.err"
env -u STOAT_HOME "$STOAT" hunt -q --format jsonl demo/ >"$tmp/built.jsonl" 2>/dev/null
n=$(wc -l <"$tmp/installed.jsonl")
if [ "$n" -gt 0 ] && [ "$n" -eq "$(wc -l <"$tmp/built.jsonl")" ]; then
    ok "the installed binary hunts the demo from / with its own rules ($n lines, as the build)"
else
    bad "installed hunt: $n lines, build: $(wc -l <"$tmp/built.jsonl"); $(head -c 300 "$tmp/installed.err")"
fi
# it read the installed share, not the checkout: without it, it cannot start
mv "$D/usr/share/stoat" "$tmp/moved"
(cd / && env -u STOAT_HOME "$D/usr/bin/stoat" hunt -q --format jsonl "$REPO/demo/") >/dev/null 2>"$tmp/moved.err"
rc=$?
mv "$tmp/moved" "$D/usr/share/stoat"
[ "$rc" -ne 0 ] && grep -q "mapping" "$tmp/moved.err" && ok "without its share folder the installed binary says it has no mapping" ||
    bad "without its share folder: exit $rc, $(head -c 200 "$tmp/moved.err")"

# ---- the man page
M=$D/usr/share/man/man1/stoat.1
if command -v groff >/dev/null 2>&1; then
    w=$(groff -man -Tutf8 -ww -z "$M" 2>&1)
    [ -z "$w" ] && ok "stoat.1 renders without warnings" || bad "stoat.1 warnings: $(echo "$w" | head -5)"
    txt=$(groff -man -Tascii "$M" 2>/dev/null | col -b)
    echo "$txt" | grep -Eq "stoat[[:space:]]+-[[:space:]]+find living-off-the-land" && echo "$txt" | grep -q "stoat $V" &&
        ok "stoat.1 has its NAME line and version" || bad "stoat.1 rendered: $(echo "$txt" | head -5)"
else
    bad "groff missing (scripts/install-deps.sh --test installs groff-base)"
fi
# every option the commands list in --help is described in the one source
before=$fail
for cmd in hunt watch "rules check" dump "baseline learn" report serve publish fleet; do
    # shellcheck disable=SC2086
    for opt in $("$STOAT" $cmd --help 2>&1 | grep -oE -- '(^|[ [,])--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z0-9-]+' | sort -u); do
        [ "$opt" = --help ] && continue
        grep -q -- "\`$opt\`" docs/stoat.1.md || bad "stoat $cmd $opt is not in docs/stoat.1.md"
    done
done
[ "$fail" -eq "$before" ] && ok "docs/stoat.1.md describes every option of every command's --help"

# ---- the default PREFIX, and uninstall
D2=$tmp/root2
make -s install DESTDIR="$D2" >/dev/null 2>&1
[ -x "$D2/usr/local/bin/stoat" ] && [ -s "$D2/usr/local/share/man/man1/stoat.1" ] &&
    grep -q '^ExecStart=/usr/local/bin/stoat watch ' "$D2/usr/local/lib/systemd/system/stoat-watch.service" &&
    ok "default PREFIX is /usr/local" || bad "default PREFIX: $(find "$D2" -maxdepth 3 | head -5 | tr '\n' ' ')"
make -s uninstall DESTDIR="$D2" >/dev/null 2>&1
left=$(find "$D2" -type f | wc -l)
[ "$left" -eq 0 ] && ok "make uninstall removes every installed file" || bad "make uninstall left $left files"

# ---- without the eBPF sensor
why=$(make -s print-sensor BPF_CLANG=stoat-no-such-clang 2>/dev/null | tail -1)
case "$why" in
    "none: no stoat-no-such-clang to compile the BPF programs"*) ok "no clang: the build leaves eBPF out and says why" ;;
    *) bad "no clang: print-sensor said '$why'" ;;
esac
arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
s=$(make -s print-sensor 2>/dev/null | tail -1)
case "$s" in
    "ebpf $arch"|none:*) ok "BPF target architecture from this machine ($s)" ;;
    *) bad "print-sensor: '$s' (machine $(uname -m))" ;;
esac
B=$tmp/nosensor
if nice make -s -j2 BUILD="$B" SENSOR=0 OPT=-O0 "$B/stoat" >"$tmp/nosensor.log" 2>&1; then
    ok "make SENSOR=0 builds"
    # ldd for the shared library, nm for its static archive (the Makefile links libbpf.a when there is one)
    if ldd "$B/stoat" | grep -q libbpf || nm "$B/stoat" 2>/dev/null | grep -q ' [Tt] bpf_object__open'; then
        bad "SENSOR=0 binary links libbpf"
    else ok "SENSOR=0 binary does not link libbpf"; fi
    if [ "$(id -u)" -eq 0 ]; then
        "$B/stoat" watch --duration 1 --format jsonl -o "$tmp/w.jsonl" 2>"$tmp/w.err"
        grep -q "mode: fallback.*no eBPF sensor (built with SENSOR=0)" "$tmp/w.err" &&
            ok "SENSOR=0 watch runs the fallback and says why" || bad "SENSOR=0 watch: $(head -c 300 "$tmp/w.err")"
    else
        echo "skip: SENSOR=0 watch needs root"
    fi
else
    bad "make SENSOR=0: $(tail -5 "$tmp/nosensor.log")"
fi

echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
