#!/bin/bash
# qemu_microvm.sh: pvguest's PCI path on QEMU -M microvm,pcie=on, where PCI
# config space is ECAM only (no conf1 ports, no MCFG: the base comes from
# the host bridge's _CBA in the DSDT) and the firmware (SeaBIOS's microvm
# build) leaves BARs unassigned, so pvguest places them in the host
# bridge's _CRS windows. Boots: pci (finds the bridge and the device through
# ECAM), blk-verify on a modern virtio-blk-pci device, bench-exits with a
# small n (all three exits measured), and bench-exits without any device
# (the port exit is still reported). Does not run vireo.
#
# usage: qemu_microvm.sh PVGUEST_ELF
#   Exit 0 if all passed, 1 if one failed, 77 if none could run (prints
#   SKIPPED (why)). QEMU flags as in qemu_blk.sh, plus microvm's firmware.
. "$(dirname "$0")/qemu_lib.sh"
set -u

elf=${1:?usage: qemu_microvm.sh PVGUEST_ELF}
qemu=${QEMU:-qemu-system-x86_64}
bios=${MICROVM_BIOS:-/usr/share/seabios/bios-microvm.bin}
timeout_s=${PVGUEST_QEMU_TIMEOUT:-120}

qemu_preflight "$qemu" "$elf"
if [ ! -r "$bios" ]; then
	echo "SKIPPED (no microvm firmware at $bios)"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
img=$tmp/disk.img
# blk-verify needs 8192 sectors
if ! truncate -s 8M "$img"; then
	echo "FAIL: cannot create an image in $tmp"
	exit 1
fi

passed=0 failed=0

# run NAME STATUS WANT-REGEX DEVICE(yes|no) CMDLINE: boot once, judge the
# output and QEMU's exit status (1: the guest passed, 3: it failed; see
# isa-debug-exit).
run() {
	local name=$1 want_status=$2 want=$3 disk=$4 cmdline=$5 out=$tmp/$1.out
	local dev=()
	# shellcheck disable=SC2054  # the commas belong to QEMU's arguments
	[ "$disk" = yes ] && dev=(-drive "file=$img,if=none,format=raw,id=d0"
		-device virtio-blk-pci,drive=d0,disable-legacy=on)
	# shellcheck disable=SC2054
	local cmd=("$qemu" -accel kvm -cpu host,-arch-capabilities -M microvm,pcie=on
		-bios "$bios" -m 256M -smp 1 -nodefaults -nographic -no-reboot -serial stdio
		-device isa-debug-exit,iobase=0x501,iosize=2 "${dev[@]}"
		-kernel "$elf" -append "$cmdline")
	qemu_check "$name" "$out" "$timeout_s" "$want_status" "$want" "${cmd[@]}"
}

run pci 1 '^PVGUEST RESULT pci PASS devices=2 ecam=0x[0-9a-f]+ buses=1 from=dsdt-cba mech=ecam conf1=no' yes "pvguest.run=pci"
run blk-verify 1 '^PVGUEST RESULT blk-verify PASS capacity=16384 ' yes "pvguest.run=blk-verify"
run bench-exits 1 '^PVGUEST BENCH exits pio_ns=[0-9]+ mmio_ns=[0-9]+ kick_ns=[0-9]+ .*kick_queue=blk' \
	yes "pvguest.run=bench-exits,n=100"
# no device: the test fails (no-device) but still reports the port exit
run bench-exits-nodev 3 '^PVGUEST BENCH exits pio_ns=[0-9]+ .*kick_queue=none' \
	no "pvguest.run=bench-exits,n=100"

qemu_exit microvm
