#!/bin/sh
# Builds the libFuzzer targets of tests/fuzz/ with clang (ASan + UBSan) into
# build-fuzz/ and runs each for a bounded time; no network, safe to re-run.
#   scripts/fuzz.sh [SECONDS]    per target, default 30
# Prints "fuzz: <target>: <N> runs, no crash" per target, or the crash (the
# input is kept as build-fuzz/crash-<target>-*), and exits non-zero on any
# crash, hang or build failure. Seeds come from the target itself (built with
# -DFUZZ_GEN_SEEDS), plus any inputs kept in tests/fuzz/corpus/<target>/.
set -eu

secs=${1:-30}
case $secs in
	''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
out=build-fuzz
cc=${CLANG:-clang}
cflags="-std=gnu11 -g -O1 -D_GNU_SOURCE -Isrc -Itests/unit -Wall -Wextra -Werror
	-fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"

# target -> the sources it links besides tests/fuzz/fuzz_<target>.c
sources() {
	case $1 in
		virtqueue) echo src/virtio/virtqueue.c src/core/gmem.c ;;
		blk_parse) echo src/virtio/blk.c src/virtio/virtio.c src/virtio/virtqueue.c \
			src/core/gmem.c src/core/log.c src/core/evloop.c src/core/iov.c src/backend/disk.c \
			src/backend/disk_sync.c src/backend/disk_uring.c -luring -lpthread ;;
		net) echo src/virtio/net.c src/virtio/net_rx.c src/virtio/net_tx.c src/virtio/virtio.c src/virtio/virtqueue.c \
			src/core/gmem.c src/core/log.c src/core/evloop.c src/core/iov.c src/backend/tap.c -luring -lpthread ;;
		*) echo "fuzz: no source list for target $1" >&2; return 1 ;;
	esac
}
targets="virtqueue blk_parse net"

mkdir -p "$out"
status=0
for t in $targets; do
	src="tests/fuzz/fuzz_$t.c $(sources "$t")"
	log="$out/fuzz_$t.log"
	# shellcheck disable=SC2086 # word splitting of flags and sources is intended
	if ! $cc $cflags -fsanitize=fuzzer -o "$out/fuzz_$t" $src ||
	   ! $cc $cflags -DFUZZ_GEN_SEEDS -o "$out/seeds_$t" $src; then
		echo "fuzz: $t: build failed"
		status=1
		continue
	fi
	rm -rf "$out/seeds/$t"
	mkdir -p "$out/seeds/$t" "$out/corpus/$t"
	if ! "$out/seeds_$t" "$out/seeds/$t"; then
		echo "fuzz: $t: seed generation failed"
		status=1
		continue
	fi
	dirs="$out/corpus/$t $out/seeds/$t"
	[ -d "tests/fuzz/corpus/$t" ] && dirs="$dirs tests/fuzz/corpus/$t"
	# shellcheck disable=SC2086
	if "$out/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
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
