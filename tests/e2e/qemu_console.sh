#!/bin/bash
# qemu_console.sh: run pvguest's console test under QEMU, the reference
# VMM, on virtio-serial-pci with a virtconsole (port 0, which a driver that
# does not take MULTIPORT gets, as with vireo's device), to tell a pvguest
# driver bug from a vireo device bug. The port's chardev is a pair of
# FIFOs: what hvc0 wrote must be byte for byte what pvguest_run.py expects,
# and the 4 KiB of its pattern written here must reach the guest. Does not
# run vireo.
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
	-chardev pipe,id=hvc,path="$tmp/hvc"
	-device virtconsole,chardev=hvc
	-kernel "$elf" -append "pvguest.run=console,rx=4096")
# QEMU opens both FIFOs read-write: neither side waits for the other here
mkfifo "$tmp/hvc.in" "$tmp/hvc.out"
cat "$tmp/hvc.out" >"$tmp/hvc.got" &
reader=$!
python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import pvguest_run
sys.stdout.buffer.write(pvguest_run.console_input(4096))' "$here" >"$tmp/hvc.in" &
writer=$!
qemu_check console "$tmp/console.out" "$timeout_s" 1 \
	'^PVGUEST RESULT console PASS event_idx=1 indirect=1 lines=256 rx_bytes=4096' "${cmd[@]}"
# QEMU has gone: the output FIFO's reader sees its end, the writer is done
# (both wait in open() for ever if QEMU never opened the FIFOs: ended here)
for _ in 1 2 3 4 5 6 7 8 9 10; do
	kill -0 "$reader" 2>/dev/null || break
	sleep 0.2
done
kill "$reader" "$writer" 2>/dev/null
wait "$reader" "$writer" 2>/dev/null
if [ "$passed" = 1 ]; then
	if python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import pvguest_run
want = pvguest_run.console_expected(256)
got = open(sys.argv[2], "rb").read()
print(f"hvc0: {len(got)} bytes, {len(want)} written")
sys.exit(got != want)' "$here" "$tmp/hvc.got"; then
		:
	else
		echo "FAIL: console: hvc0 output is not what the guest wrote"
		passed=0 failed=1
	fi
fi

qemu_exit console
