#!/bin/sh
# The comparison report (README): installs what is missing, builds vireo and
# pvguest, then runs every benchmark in bench/ for native, a container,
# vireo and QEMU, and writes bench/results/<UTC timestamp>/report.md,
# results.json and charts. Arguments go to bench/report.py (--runs N,
# --quick, --only GROUPS, --render DIR). Takes about half an hour; run as
# root on an otherwise idle host. Safe to run again.
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: run as root (network namespaces, TAP devices, cgroups)" >&2
	exit 1
fi
./scripts/deps.sh --bench
./scripts/build.sh --no-san >&2
# Debian's interpreter, which sees Debian's python3-matplotlib, whatever
# python3 comes first in PATH
exec /usr/bin/python3 bench/report.py "$@"
