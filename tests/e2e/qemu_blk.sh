#!/bin/bash
# qemu_blk.sh: run pvguest's blk-verify test under QEMU, the reference VMM,
# on a fresh raw image behind a modern virtio-blk-pci device: once read-write
# and once with readonly=on (pvguest.blk_ro=1). This tells a pvguest driver
# bug from a vireo device bug; it does not run vireo.
#
# usage: qemu_blk.sh PVGUEST_ELF [image-size]
#   default image size 64M. Exit 0 if both runs passed, 1 if one failed, 77
#   if none could run (prints SKIPPED (why)).
# QEMU choices: -cpu host,-arch-capabilities because plain "-cpu host" aborts
# when KVM refuses MSR 0x10a, as PVM-based KVM does (see qemu_pvguest.sh);
# disable-legacy=on so that QEMU offers the modern device (0x1042) only.
. "$(dirname "$0")/qemu_lib.sh"
set -u

elf=${1:?usage: qemu_blk.sh PVGUEST_ELF [image-size]}
size=${2:-64M}
qemu=${QEMU:-qemu-system-x86_64}
timeout_s=${PVGUEST_QEMU_TIMEOUT:-300}
serial=vireo-test

qemu_preflight "$qemu" "$elf"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
img=$tmp/disk.img
if ! truncate -s "$size" "$img"; then
	echo "FAIL: cannot create a $size image in $tmp"
	exit 1
fi
sectors=$(($(stat -c %s "$img") / 512))

passed=0 failed=0

# run NAME DRIVE-OPTIONS CMDLINE-EXTRA [TEST]: boot once, judge output and exit status.
run() {
	local name=$1 drive_opts=$2 extra=$3 test=${4:-blk-verify}
	local out=$tmp/$name.out
	local want="^PVGUEST RESULT blk-verify PASS capacity=$sectors( |\$)"
	[ "$test" = blk-verify ] || want="^PVGUEST RESULT $test PASS"
	# shellcheck disable=SC2054  # the commas belong to QEMU's arguments
	local cmd=("$qemu" -accel kvm -cpu host,-arch-capabilities -M q35 -m 256M
		-nodefaults -nographic -no-reboot -serial stdio
		-device isa-debug-exit,iobase=0x501,iosize=2
		-drive "file=$img,if=none,format=raw,id=d0,cache=writeback$drive_opts"
		-device "virtio-blk-pci,drive=d0,disable-legacy=on,serial=$serial"
		-kernel "$elf" -append "pvguest.run=$test pvguest.blk_id=$serial$extra")
	qemu_check "$name" "$out" "$timeout_s" 1 "$want" "${cmd[@]}"
}

run blk-rw "" ""
# the same image again, now holding the first run's patterns: must not change
sum=$(md5sum <"$img")
run blk-ro ",readonly=on" " pvguest.blk_ro=1"
if [ "$(md5sum <"$img")" != "$sum" ]; then
	echo "FAIL: blk-ro: the read-only run changed the image"
	failed=$((failed + 1))
fi

# MSI-X delivery of a completion, masking and the PBA
run msix "" "" msix

qemu_exit blk
