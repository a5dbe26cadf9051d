#!/bin/bash
# qemu_rng.sh: run pvguest's rng test under QEMU, the reference VMM, on a
# modern virtio-rng-pci device, to tell a pvguest driver bug from a vireo
# device bug; then bench-rng with a small byte count (the benchmark's path
# works there too). Does not run vireo.
#
# usage: qemu_rng.sh PVGUEST_ELF
#   Exit 0 if both runs passed, 1 if one failed, 77 if none could run
#   (prints SKIPPED (why)). QEMU flags as in qemu_blk.sh.
. "$(dirname "$0")/qemu_lib.sh"
set -u

elf=${1:?usage: qemu_rng.sh PVGUEST_ELF}
qemu=${QEMU:-qemu-system-x86_64}
timeout_s=${PVGUEST_QEMU_TIMEOUT:-300}

qemu_preflight "$qemu" "$elf"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

# run NAME TEST WANT: boot once, judge output and exit status.
run() {
	local name=$1 test=$2 want=$3
	# shellcheck disable=SC2054  # the commas belong to QEMU's arguments
	local cmd=("$qemu" -accel kvm -cpu host,-arch-capabilities -M q35 -m 256M
		-nodefaults -nographic -no-reboot -serial stdio
		-device isa-debug-exit,iobase=0x501,iosize=2
		-device virtio-rng-pci,disable-legacy=on
		-kernel "$elf" -append "pvguest.run=$test")
	qemu_check "$name" "$tmp/$name.out" "$timeout_s" 1 "$want" "${cmd[@]}"
}

# QEMU may fill less than a request (virtio 1.2 §5.4.6.2): no exact=1
run rng rng '^PVGUEST RESULT rng PASS event_idx=1 indirect=1 stream_bytes=1048576'
run bench-rng bench-rng,bytes=4M '^PVGUEST RESULT bench-rng PASS mb_s=[0-9]+'

qemu_exit rng
