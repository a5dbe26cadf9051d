#!/bin/sh
# The main job (README): installs what is missing, builds vireo, and boots
# the default guest. That is the Debian Linux guest where a guest kernel can
# run, and pvguest (vireo's paravirtual test guest) where it cannot, e.g. on
# a PVM host. Says which it did and why. Safe to run again.
set -eu
cd "$(dirname "$0")/.."

./scripts/deps.sh
./scripts/build.sh --no-san

if kernel=$(./scripts/can_run_linux.sh); then
	echo "demo: booting the default Linux guest ($kernel) with 2 vCPUs and 512 MiB" >&2
	[ -n "${VIREO_TEST_KERNEL:-}" ] || ./guest/linux/build.sh >&2
	set -x
	exec ./build/vireo run --kernel "$kernel" --initrd guest/linux/out/initrd.img \
		--cpus 2 --memory 512M --cmdline "console=ttyS0 reboot=k panic=-1 quiet"
fi

echo "demo: not booting Linux: $kernel" >&2
echo "demo: booting pvguest instead: it checks the boot hand-off (memory map, cmdline, initrd," >&2
echo "demo: CPUs) in ring 0, then runs its test in ring 3 at native speed" >&2
echo "demo: \$ build/vireo run --kernel build/guest/pvguest/pvguest.elf --cpus 2 --memory 256M --debug-exit --cmdline pvguest.run=boot" >&2
status=0
./build/vireo run --kernel build/guest/pvguest/pvguest.elf --cpus 2 --memory 256M \
	--debug-exit --cmdline "pvguest.run=boot" || status=$?
if [ "$status" -eq 1 ]; then
	echo "demo: pvguest passed (debug-exit 0, so vireo's exit status is 1)" >&2
	exit 0
fi
echo "demo: pvguest failed (exit status $status)" >&2
exit 1
