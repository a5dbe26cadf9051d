#!/bin/sh
# The test command (README, .ci/run): installs what is missing, builds the
# normal and the sanitizer build, runs every test in both, and ends on a line
# "N passed, N failed, N skipped". Exit status 0 only if nothing failed.
#   scripts/test.sh           the default run (about 12 minutes on 2 cores
#                             from a clean clone, builds included)
#   scripts/test.sh --linux   that, then the slow suites: the libFuzzer
#                             targets (built in build-fuzz/ and run 10 s
#                             each: about 4 minutes), and the minimal test
#                             kernel built (about 4 minutes, once) and booted
#                             under vireo over both transports and under QEMU
#                             (about 14 minutes more); what CI runs
set -eu
cd "$(dirname "$0")/.."

linux=0
case ${1:-} in
--linux) linux=1 ;;
"") ;;
*) echo "usage: scripts/test.sh [--linux]" >&2; exit 2 ;;
esac

if [ $linux = 1 ]; then ./scripts/deps.sh --linux; else ./scripts/deps.sh; fi
./scripts/build.sh

status=0
logs="build/meson-logs/testlog.json build-san/meson-logs/testlog.json:san"
# QEMU reference runs use no vireo code, and the fuzz targets build their own
# sanitized binaries, so both run once, in the normal build, as does the
# suite 'once' (a test whose vireo code another test runs in both builds). The Linux
# suite runs there too: the sanitizers would only slow the host side. The
# fuzz suite is a slow one: it runs with the Linux suite, which keeps the
# default run well inside its 15 minutes.
meson test -C build --num-processes 2 --print-errorlogs --no-suite linux --no-suite fuzz \
	>/dev/null 2>&1 || status=1
# UBSan only reports by default: make undefined behaviour fail the test
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
meson test -C build-san --num-processes 2 --print-errorlogs --no-suite qemu --no-suite fuzz \
	--no-suite linux --no-suite rates --no-suite once >/dev/null 2>&1 || status=1
if [ $linux = 1 ]; then
	meson test -C build --num-processes 1 --print-errorlogs --suite fuzz --logbase fuzzlog \
		>/dev/null 2>&1 || status=1
	meson test -C build --num-processes 1 --print-errorlogs --suite linux --logbase linuxlog \
		>/dev/null 2>&1 || status=1
	logs="$logs build/meson-logs/fuzzlog.json build/meson-logs/linuxlog.json"
fi
# shellcheck disable=SC2086
python3 scripts/test_summary.py $logs || status=1
exit $status
