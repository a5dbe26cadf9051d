#!/bin/sh
# Says whether this host can boot the default Linux guest in useful time.
# Prints the kernel to use on stdout and exits 0, or prints the reason on
# stdout and exits 1. A PVM host (kvm_pvm, no VT-x/AMD-V) interprets guest
# ring-0 code, so only a PVM guest kernel named by VIREO_TEST_KERNEL runs.
top=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${VIREO_TEST_KERNEL:-}" ]; then
	if [ -r "$VIREO_TEST_KERNEL" ]; then
		echo "$VIREO_TEST_KERNEL"
		exit 0
	fi
	echo "VIREO_TEST_KERNEL=$VIREO_TEST_KERNEL is not readable"
	exit 1
fi
if [ ! -e /dev/kvm ]; then
	echo "no /dev/kvm"
	exit 1
fi
if [ -d /sys/module/kvm_pvm ]; then
	echo "this host's KVM is PVM (no VT-x/AMD-V): an unmodified kernel's ring-0 code is interpreted; set VIREO_TEST_KERNEL to a PVM guest kernel"
	exit 1
fi
if [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; then
	echo "$top/guest/linux/out/vmlinuz"
	exit 0
fi
echo "KVM has neither VT-x nor AMD-V here"
exit 1
