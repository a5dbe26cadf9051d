#!/bin/sh
# The test command (README, .ci/run): installs what is missing, builds the
# normal and the sanitizer build, runs every test in both, and ends on a line
# "N passed, N failed, N skipped". Exit status 0 only if nothing failed.
set -eu
cd "$(dirname "$0")/.."

./scripts/deps.sh
./scripts/build.sh

status=0
# QEMU reference runs use no vireo code, and the fuzz targets build their own
# sanitized binaries, so both run once, in the normal build.
meson test -C build --num-processes 2 --print-errorlogs >/dev/null 2>&1 || status=1
meson test -C build-san --num-processes 2 --print-errorlogs --no-suite qemu --no-suite fuzz \
	>/dev/null 2>&1 || status=1
python3 scripts/test_summary.py build/meson-logs/testlog.json \
	build-san/meson-logs/testlog.json:san || status=1
exit $status
