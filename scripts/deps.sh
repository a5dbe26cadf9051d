#!/bin/sh
# Installs the Debian packages vireo needs to build, test and demo.
# Safe to run again: it installs only what is missing.
#   scripts/deps.sh           what the build, tests and demo need
#   scripts/deps.sh --bench   that, plus what scripts/bench.sh needs
#   scripts/deps.sh --linux   that, plus what building the minimal Linux test
#                             kernel needs (guest/linux/minimal/build.sh)
set -eu

# prometheus: for its promtool, which e2e/api-telemetry-pci checks GET /metrics with
PACKAGES="gcc make meson ninja-build pkg-config libc6-dev linux-libc-dev libcmocka-dev \
liburing-dev libjansson-dev libseccomp-dev curl python3 prometheus busybox-static cpio gzip xz-utils iproute2 qemu-system-x86 acpica-tools \
clang libclang-rt-14-dev fio"
# the report's charts; unshare and the cgroup/namespace tools of its container column
[ "${1:-}" = "--bench" ] && PACKAGES="$PACKAGES python3-matplotlib util-linux iproute2"
# a kernel build: Kconfig's parsers, bc for its headers, libelf for objtool
[ "${1:-}" = "--linux" ] && PACKAGES="$PACKAGES bison flex bc libelf-dev patch"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "vireo: missing packages:$missing (run this script as root, or install them)" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
