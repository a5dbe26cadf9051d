#!/bin/sh
# Builds the libFuzzer targets of tests/fuzz/ (meson, clang, ASan + UBSan)
# in build-fuzz/ and runs each for a bounded time; no network, safe to re-run.
#   scripts/fuzz.sh [SECONDS]    per target, default 30
# Prints "fuzz: <target>: <N> runs, no crash" per target, or the crash (the
# input is kept as build-fuzz/crash-<target>-*), and exits non-zero on any
# crash, hang or build failure. Seeds come from the target itself (its
# seeds_<target> build), plus any inputs kept in tests/fuzz/corpus/<target>/.
set -eu

secs=${1:-30}
case $secs in
	''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
out=build-fuzz
# the list is tests/fuzz/meson.build's
targets=$(sed -n "s/^fuzz_targets = \[\(.*\)\]/\1/p" tests/fuzz/meson.build | sed "s/[',]/ /g")

if [ ! -f "$out/build.ninja" ]; then
	CC=${CLANG:-clang} meson setup "$out" -Dfuzz=true -Dtests=disabled -Dpvguest=false \
		-Db_sanitize=address,undefined -Db_lundef=false -Doptimization=1 >/dev/null ||
		{ echo "fuzz: meson setup failed"; exit 1; }
fi
build=""
for t in $targets; do
	build="$build tests/fuzz/fuzz_$t tests/fuzz/seeds_$t"
done
# shellcheck disable=SC2086 # one word per target
if ! ninja -C "$out" $build >"$out/build.log" 2>&1; then
	echo "fuzz: build failed (log: $out/build.log)"
	tail -n 20 "$out/build.log"
	exit 1
fi

status=0
for t in $targets; do
	log="$out/fuzz_$t.log"
	rm -rf "$out/seeds/$t"
	mkdir -p "$out/seeds/$t" "$out/corpus/$t"
	if ! "$out/tests/fuzz/seeds_$t" "$out/seeds/$t"; then
		echo "fuzz: $t: seed generation failed"
		status=1
		continue
	fi
	dirs="$out/corpus/$t $out/seeds/$t"
	[ -d "tests/fuzz/corpus/$t" ] && dirs="$dirs tests/fuzz/corpus/$t"
	# shellcheck disable=SC2086
	if "$out/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$out/crash-$t-" $dirs >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
		echo "fuzz: $t: ${runs:-?} runs, no crash"
	else
		echo "fuzz: $t: CRASH (log: $log)"
		grep -E 'ERROR|SUMMARY|fuzz check failed|runtime error|Test unit written|ALARM' "$log" | head -n 20
		status=1
	fi
done
exit $status
