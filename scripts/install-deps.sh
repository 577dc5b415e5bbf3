#!/bin/sh
# Installs the Debian packages stoat builds and tests with. Idempotent: asks
# apt-get only for what dpkg says is missing, so a ready machine costs nothing.
set -eu
PKGS="build-essential clang pkg-config libyaml-dev libpcre2-dev libhyperscan-dev zlib1g-dev libcmocka-dev libevtx-utils"
# the auditd reader's tests log real commands with Debian's auditd (and read
# them back through ausearch); curl and python3 make their network traffic
PKGS="$PKGS auditd curl python3"
[ "${STOAT_DEPS_EXTRA:-}" ] && PKGS="$PKGS $STOAT_DEPS_EXTRA"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null || true
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
