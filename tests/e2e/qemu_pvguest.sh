#!/bin/bash
# qemu_pvguest.sh: boot pvguest's PVH ELF under QEMU, the reference VMM, once
# with -M microvm and once with -M q35, and check its boot test passes there.
# This tells a pvguest bug from a vireo bug; it does not run vireo.
#
# usage: qemu_pvguest.sh PVGUEST_ELF [cpus] [mem] [initrd-bytes]
#   defaults: 2 CPUs, 256M, no initrd. Exit 0 if every machine that could run
#   passed, 1 if one failed, 77 if none could run (each prints SKIPPED (why)).
# QEMU choices, each forced by this host or by QEMU 7.2:
#   -cpu host,-arch-capabilities  plain "-cpu host" aborts when KVM refuses
#       MSR 0x10a (IA32_ARCH_CAPABILITIES), as PVM-based KVM does;
#   microvm with SeaBIOS's microvm build: microvm's default firmware, qboot,
#       hands a PVH memory map that is unsorted and ends with an empty entry,
#       which the boot test rightly rejects.
. "$(dirname "$0")/qemu_lib.sh"
set -u

elf=${1:?usage: qemu_pvguest.sh PVGUEST_ELF [cpus] [mem] [initrd-bytes]}
cpus=${2:-2}
mem=${3:-256M}
initrd_bytes=${4:-0}
qemu=${QEMU:-qemu-system-x86_64}
timeout_s=${PVGUEST_QEMU_TIMEOUT:-300}

case $mem in
*G) mib=$((${mem%G} * 1024)) ;;
*M) mib=${mem%M} ;;
*) echo "FAIL: memory size '$mem' must end in M or G"; exit 1 ;;
esac

qemu_preflight "$qemu" "$elf"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmdline="pvguest.run=boot pvguest.cpus=$cpus"
initrd_args=()
want="^PVGUEST RESULT boot PASS cpus=$cpus mem_mib=$mib( |\$)"
if [ "$initrd_bytes" -gt 0 ]; then
	head -c "$initrd_bytes" /dev/urandom >"$tmp/initrd"
	# gzip's trailer holds the CRC-32/IEEE of its input, little-endian.
	crc=$(gzip -c "$tmp/initrd" | tail -c 8 | od -An -tx4 -N4 | tr -d ' ')
	cmdline+=" pvguest.initrd=$initrd_bytes:$crc"
	initrd_args=(-initrd "$tmp/initrd")
	want="^PVGUEST RESULT boot PASS cpus=$cpus mem_mib=$mib initrd=$initrd_bytes( |\$)"
fi

microvm_bios=
for f in /usr/share/seabios/bios-microvm.bin /usr/share/qemu/bios-microvm.bin; do
	if [ -r "$f" ] && [ "$(readlink -f "$f")" != "$(readlink -f /usr/share/qemu/qboot.rom)" ]; then
		microvm_bios=$f
		break
	fi
done

passed=0 failed=0 skipped=0

# run NAME QEMU-MACHINE-ARGS...: boot once, judge the output and exit status.
run() {
	local name=$1
	shift
	local out=$tmp/$name.out
	# shellcheck disable=SC2054  # the commas belong to QEMU's -cpu argument
	local cmd=("$qemu" -accel kvm -cpu host,-arch-capabilities "$@" -smp "$cpus" -m "$mem"
		-nodefaults -nographic -no-reboot -serial stdio
		-device isa-debug-exit,iobase=0x501,iosize=2
		-kernel "$elf" "${initrd_args[@]}" -append "$cmdline")
	qemu_check "$name" "$out" "$timeout_s" 1 "$want" "${cmd[@]}"
}

if [ -n "$microvm_bios" ]; then
	run microvm -M microvm -bios "$microvm_bios"
else
	echo "SKIPPED (microvm: no SeaBIOS microvm build, and qboot's PVH memory map is unsorted with an empty entry)"
	skipped=$((skipped + 1))
fi
run q35 -M q35
# PCI through conf1 and ECAM: the reference for vireo's e2e/pvguest-pci
cmdline="pvguest.run=pci" want="^PVGUEST RESULT pci PASS devices=[0-9]+ ecam=0xb0000000" \
	run q35-pci -M q35

qemu_exit pvguest ", $skipped skipped"
