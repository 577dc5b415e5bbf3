#!/bin/sh
# Installs the Debian packages stoat builds and tests with. Idempotent: asks
# apt-get only for what dpkg says is missing, so a ready machine costs nothing.
set -eu
PKGS="build-essential clang pkg-config libyaml-dev libpcre2-dev libhyperscan-dev zlib1g-dev libcmocka-dev libevtx-utils"
# the store, report and dashboard (src/store, src/serve, tests/web)
PKGS="$PKGS libsqlite3-dev sqlite3 libmicrohttpd-dev chromium wrk"
# the live kernel sensor (src/sensor, mk/sensor.mk) and its tests and benchmark
PKGS="$PKGS llvm libbpf-dev bpftool libelf-dev libbpf-tools auditd iproute2 netcat-openbsd curl python3 valgrind"
# the fleet bus (src/bus, src/fleet): the NATS client library, and the server the tests start
PKGS="$PKGS libnats-dev libssl-dev nats-server"
[ "${STOAT_DEPS_EXTRA:-}" ] && PKGS="$PKGS $STOAT_DEPS_EXTRA"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# the web tests need node and npm; a machine with Node.js from elsewhere
# (which brings its own npm) keeps it, Debian's are installed otherwise
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null || true
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
