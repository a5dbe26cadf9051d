#!/bin/bash
# qemu_console.sh: run pvguest's console test under QEMU, the reference
# VMM, on virtio-serial-pci with a virtconsole (port 0, which a driver that
# does not take MULTIPORT gets, as with vireo's device), to tell a pvguest
# driver bug from a vireo device bug. What hvc0 wrote (a chardev file) must
# be byte for byte what pvguest_run.py expects. Output only: QEMU's input
# side would need a socket. Does not run vireo.
#
# usage: qemu_console.sh PVGUEST_ELF
#   Exit 0 if it passed, 1 if it failed, 77 if it could not run (prints
#   SKIPPED (why)). QEMU flags as in qemu_blk.sh.
. "$(dirname "$0")/qemu_lib.sh"
set -u

elf=${1:?usage: qemu_console.sh PVGUEST_ELF}
qemu=${QEMU:-qemu-system-x86_64}
timeout_s=${PVGUEST_QEMU_TIMEOUT:-300}
here=$(dirname "$0")

qemu_preflight "$qemu" "$elf"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

# shellcheck disable=SC2054  # the commas belong to QEMU's arguments
cmd=("$qemu" -accel kvm -cpu host,-arch-capabilities -M q35 -m 256M
	-nodefaults -nographic -no-reboot -serial stdio
	-device isa-debug-exit,iobase=0x501,iosize=2
	-device virtio-serial-pci,disable-legacy=on
	-chardev file,id=hvc,path="$tmp/hvc.out"
	-device virtconsole,chardev=hvc
	-kernel "$elf" -append "pvguest.run=console")
qemu_check console "$tmp/console.out" "$timeout_s" 1 \
	'^PVGUEST RESULT console PASS event_idx=1 indirect=1 lines=256' "${cmd[@]}"
if [ "$passed" = 1 ]; then
	if python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import pvguest_run
want = pvguest_run.console_expected(256)
got = open(sys.argv[2], "rb").read()
print(f"hvc0: {len(got)} bytes, {len(want)} written")
sys.exit(got != want)' "$here" "$tmp/hvc.out"; then
		:
	else
		echo "FAIL: console: hvc0 output is not what the guest wrote"
		passed=0 failed=1
	fi
fi

qemu_exit console
