#!/bin/sh
# End-to-end test: boot the default Linux guest (guest/linux) under vireo and
# check what it reports.
# Usage: tests/e2e/linux_boot.sh VIREO_BINARY
#
# The guest kernel:
#   - $VIREO_TEST_KERNEL if set (e.g. a PVM guest kernel on a PVM host);
#   - else guest/linux/out/vmlinuz (built with guest/linux/build.sh if
#     missing), but only where KVM has hardware virtualization: on a PVM host
#     an unmodified kernel runs interpreted and cannot boot in useful time;
#   - otherwise the test prints "SKIPPED (...)" and exits 77 (meson's skip).
# The initrd is guest/linux/out/initrd.img, or $VIREO_TEST_INITRD.
# $VIREO_TEST_TIMEOUT (seconds, default 120) bounds the run;
# $VIREO_TEST_CMDLINE_EXTRA is appended to the guest command line.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
guest=$repo/guest/linux
out=$guest/out

skip() { echo "SKIPPED (no usable guest kernel on this host: $*)"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

[ $# -eq 1 ] || { echo "usage: $0 VIREO_BINARY" >&2; exit 2; }
vireo=$1
case $vireo in /*) ;; *) vireo=$(pwd)/$vireo ;; esac
[ -x "$vireo" ] || fail "$vireo is not an executable"

build() {
	if [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ]; then
		return 0
	fi
	command -v apt-get >/dev/null 2>&1 ||
		skip "$out has no guest build, and apt-get is not here to make one"
	echo "building the guest: $guest/build.sh"
	"$guest/build.sh" "$out" || fail "guest/linux/build.sh failed"
}

if [ -n "${VIREO_TEST_KERNEL:-}" ]; then
	[ -f "$VIREO_TEST_KERNEL" ] || fail "VIREO_TEST_KERNEL=$VIREO_TEST_KERNEL: no such file"
	kernel=$VIREO_TEST_KERNEL
	[ -n "${VIREO_TEST_INITRD:-}" ] || build
else
	[ -c /dev/kvm ] || skip "no /dev/kvm"
	if [ -d /sys/module/kvm_pvm ]; then
		skip "KVM is PVM (kvm_pvm), which runs an unmodified kernel interpreted; set VIREO_TEST_KERNEL to a PVM guest kernel"
	fi
	if [ ! -d /sys/module/kvm_intel ] && [ ! -d /sys/module/kvm_amd ]; then
		skip "neither kvm_intel nor kvm_amd is loaded (no hardware virtualization)"
	fi
	build
	kernel=$out/vmlinuz
fi
initrd=${VIREO_TEST_INITRD:-$out/initrd.img}
[ -f "$initrd" ] || fail "no initrd at $initrd"

limit=${VIREO_TEST_TIMEOUT:-120}
marker=e2e-$$
cmdline="console=ttyS0 reboot=k panic=-1 vireo.marker=$marker"
[ -z "${VIREO_TEST_CMDLINE_EXTRA:-}" ] || cmdline="$cmdline $VIREO_TEST_CMDLINE_EXTRA"

log=$(mktemp "${TMPDIR:-/tmp}/vireo-linux-boot.XXXXXX")
trap 'rm -f "$log" "$log.err"' EXIT

echo "booting $kernel with $initrd under $vireo (limit ${limit}s)"
timeout -k 10 "$limit" "$vireo" run --kernel "$kernel" --initrd "$initrd" \
	--cpus 2 --memory 512M --serial stdio --cmdline "$cmdline" \
	</dev/null >"$log" 2>"$log.err"
rc=$?

# Serial output may carry CRs; compare lines without them.
tr -d '\r' <"$log" >"$log.clean" && mv "$log.clean" "$log"

problems=
note() { problems="$problems
  - $*"; }
case $rc in
0) ;;
124|137) note "vireo did not end within ${limit}s (timeout, status $rc)" ;;
*) note "vireo exited with status $rc (want 0)" ;;
esac
check=$(grep -a '^VIREO-LINUX CHECK ' "$log" | tail -n 1)
if [ -z "$check" ]; then
	note "no 'VIREO-LINUX CHECK' line from the guest"
else
	case "$check " in
	*" cpus=2 "*) ;;
	*) note "guest saw the wrong CPU count (want cpus=2): $check" ;;
	esac
	mem=$(echo "$check" | sed -n 's/.* mem_kib=\([0-9]*\) .*/\1/p')
	# 512 MiB minus what the kernel keeps for itself.
	if [ -z "$mem" ] || [ "$mem" -gt 524288 ] || [ "$mem" -lt 393216 ]; then
		note "guest MemTotal out of range for --memory 512M (want 384-512 MiB): mem_kib=${mem:-?}"
	fi
	case "$check " in
	*" marker=$marker "*) ;;
	*) note "the CHECK line lacks marker=$marker (the command line was lost): $check" ;;
	esac
fi
grep -a -q '^VIREO-LINUX READY' "$log" || note "no 'VIREO-LINUX READY' line from the guest"
grep -a '^VIREO-LINUX MODULE .* FAILED' "$log" | while read -r l; do echo "warning: $l"; done

if [ -n "$problems" ]; then
	echo "FAIL: Linux guest boot:$problems"
	echo "--- vireo stderr (last 20 lines) ---"
	tail -n 20 "$log.err"
	echo "--- guest serial output (last 60 lines) ---"
	tail -n 60 "$log"
	exit 1
fi
echo "$check"
echo "PASS: Linux guest booted under vireo with 2 vCPUs and reported READY"
exit 0
