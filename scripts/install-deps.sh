#!/bin/sh
# Installs the Debian packages stoat builds with; with --test, also those only
# its tests and benchmarks need (a plain `make` installs no browser, load
# generator, valgrind or auditd; `make test` and .ci/run ask for --test).
# Idempotent: asks apt-get only for what dpkg says is missing, so a ready
# machine costs nothing.
# usage: scripts/install-deps.sh [--test]
set -eu
TEST=0
case "${1:-}" in
    --test) TEST=1 ;;
    "") ;;
    *) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac
# the build: compiler, the libraries stoat links, and the eBPF sensor's
# tools (clang for the BPF object, bpftool for vmlinux.h and the skeleton;
# without them `make` builds without the eBPF programs, see mk/sensor.mk)
PKGS="build-essential pkg-config libyaml-dev libpcre2-dev libhyperscan-dev zlib1g-dev libzstd-dev libsqlite3-dev libmicrohttpd-dev"
# the fleet bus (src/bus, src/fleet): the NATS client library
PKGS="$PKGS libnats-dev libssl-dev"
PKGS="$PKGS clang libbpf-dev bpftool libelf-dev"
if [ "$TEST" = 1 ]; then
    # unit tests, the EVTX comparison, the store's command-line checks, the man page check
    PKGS="$PKGS libcmocka-dev libevtx-utils sqlite3 groff-base llvm clang-format"
    # the dashboard's end-to-end tests and benchmarks
    PKGS="$PKGS chromium wrk"
    # the sensor and watch tests and benchmark (socat and script: reverse shells behind a terminal)
    PKGS="$PKGS libbpf-tools auditd iproute2 netcat-openbsd curl python3 valgrind socat bsdutils"
    # the rule pack's structure check (tests/rule-pack/check.py)
    PKGS="$PKGS python3-yaml"
    # the fleet tests start their own NATS servers
    PKGS="$PKGS nats-server"
fi
[ "${STOAT_DEPS_EXTRA:-}" ] && PKGS="$PKGS $STOAT_DEPS_EXTRA"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ "$TEST" = 1 ]; then
    # the web tests need node and npm; a machine with Node.js from elsewhere
    # (which brings its own npm) keeps it, Debian's are installed otherwise
    command -v node >/dev/null 2>&1 || missing="$missing nodejs"
    command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null || true
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
