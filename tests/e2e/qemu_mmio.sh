#!/bin/bash
# qemu_mmio.sh: pvguest's virtio-mmio transport (pvguest.transport=mmio) on
# QEMU -M microvm with modern (Version 2) virtio-mmio devices, the
# reference until vireo has its own. Discovery both ways: the DSDT's
# LNRO0005 devices (ACPI on; QEMU appends no virtio_mmio.device= then),
# the command line (acpi=off: QEMU appends virtio_mmio.device=512@...), both
# at once (one window, not two), and an empty slot (DeviceID 0) named on
# the command line. Then blk-verify (read-write, read-only), blk-flush up to
# its FLUSHED line, hostile-vq and hostile-blk in spec mode, a legacy
# (Version 1) device that must be refused, and with a TAP in a network
# namespace net-echo and hostile-net. Does not run vireo.
#
# usage: qemu_mmio.sh PVGUEST_ELF [NETPEER]
#   Exit 0 if all that ran passed, 1 if one failed, 77 if none could run
#   (prints SKIPPED (why)). The net runs need root, /dev/net/tun, ip and
#   NETPEER (tools/netpeer); without them they are skipped with the reason.
# QEMU choices as in qemu_microvm.sh (-cpu host,-arch-capabilities, SeaBIOS's
# microvm build), plus -global virtio-mmio.force-legacy=false: QEMU 7.2's
# virtio-mmio transports are legacy (Version 1) unless told otherwise.
#
# hostile-vq skips three cases QEMU fails by design, not pvguest:
#   indirect-after-direct          QEMU takes an indirect descriptor only at
#                                  the head of a chain (virtio-pci alike);
#   kick-before-driver-ok          QEMU serves a queue before DRIVER_OK
#                                  (virtio-pci alike; virtio 1.2 §2.1.2);
#   queue-ready-0-after-driver-ok  QEMU keeps serving a queue after the
#                                  driver wrote 0 to QueueReady (§4.2.2.1).
. "$(dirname "$0")/qemu_lib.sh"
set -u

elf=${1:?usage: qemu_mmio.sh PVGUEST_ELF [NETPEER]}
netpeer=${2:-}
qemu=${QEMU:-qemu-system-x86_64}
bios=${MICROVM_BIOS:-/usr/share/seabios/bios-microvm.bin}
timeout_s=${PVGUEST_QEMU_TIMEOUT:-300}
serial=vireo-test
qemu_skips=indirect-after-direct+kick-before-driver-ok+queue-ready-0-after-driver-ok

qemu_preflight "$qemu" "$elf"
if [ ! -r "$bios" ]; then
	echo "SKIPPED (no microvm firmware at $bios)"
	exit 77
fi

tmp=$(mktemp -d)
ns='' np_pid=''
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
	if [ -n "$np_pid" ]; then
		kill "$np_pid" 2>/dev/null
		wait "$np_pid" 2>/dev/null
	fi
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
img=$tmp/disk.img
# blk-verify and the hostile suites need 8192 sectors
if ! truncate -s 8M "$img"; then
	echo "FAIL: cannot create an image in $tmp"
	exit 1
fi

passed=0 failed=0
blk=(-drive "file=$img,if=none,format=raw,id=d0"
	-device "virtio-blk-device,drive=d0,serial=$serial")

# run NAME STATUS WANT-REGEX MACHINE-OPTS CMDLINE [QEMU ARGS...]: boot once
# (with $prefix in front, for a network namespace; within $limit seconds if
# set) and judge the output and QEMU's exit status (1: the guest passed, 3:
# it failed; isa-debug-exit; "timeout": still running at the limit).
prefix=()
legacy=false
limit=
run() {
	local name=$1 want_status=$2 want=$3 mopts=$4 cmdline=$5 out=$tmp/$1.out
	shift 5
	# shellcheck disable=SC2054  # the commas belong to QEMU's arguments
	local cmd=("${prefix[@]}" "$qemu" -accel kvm -cpu host,-arch-capabilities
		-M "microvm$mopts" -bios "$bios" -m 256M -smp 1 -nodefaults -nographic
		-no-reboot -serial stdio -device isa-debug-exit,iobase=0x501,iosize=2
		-global "virtio-mmio.force-legacy=$legacy" "$@" -kernel "$elf"
		-append "pvguest.transport=mmio $cmdline")
	qemu_check "$name" "$out" "${limit:-$timeout_s}" "$want_status" "$want" "${cmd[@]}"
}

# window NAME: "<base> <irq>" of the first window test NAME's mmio run found
window() {
	tr -d '\r' <"$tmp/$1.out" |
		sed -n 's/^PVGUEST INFO mmio window \(0x[0-9a-f]*\)+0x[0-9a-f]* irq \([0-9]*\) .*/\1 \2/p' |
		head -1
}

# ---- discovery ----
run mmio-dsdt 1 '^PVGUEST RESULT mmio PASS windows=1 cmdline=0 dsdt=1 both=0 devices=1 blk=1 ' \
	,auto-kernel-cmdline=off "pvguest.run=mmio" "${blk[@]}"
run mmio-cmdline 1 '^PVGUEST RESULT mmio PASS windows=1 cmdline=1 dsdt=0 both=0 devices=1 blk=1 ' \
	,acpi=off "pvguest.run=mmio" "${blk[@]}"
# the DSDT's window named on the command line too: one window, from both
read -r base irq <<<"$(window mmio-dsdt)"
if [ -n "${base:-}" ]; then
	run mmio-both 1 '^PVGUEST RESULT mmio PASS windows=1 cmdline=1 dsdt=1 both=1 devices=1 blk=1 ' \
		"" "pvguest.run=mmio virtio_mmio.device=512@$base:$irq" "${blk[@]}"
else
	echo "FAIL: mmio-both: mmio-dsdt named no window"
	failed=$((failed + 1))
fi
# the transport below the device's (QEMU fills them from the top): DeviceID 0
read -r base irq <<<"$(window mmio-cmdline)"
if [ -n "${base:-}" ]; then
	empty=$(printf '0x%x' $((base - 0x200)))
	run mmio-empty-slot 1 '^PVGUEST RESULT mmio PASS windows=2 cmdline=2 dsdt=0 both=0 devices=1 blk=1 net=0 legacy=0 empty=1 ' \
		,acpi=off "pvguest.run=mmio virtio_mmio.device=0x200@$empty:$((irq - 1))" "${blk[@]}"
else
	echo "FAIL: mmio-empty-slot: mmio-cmdline named no window"
	failed=$((failed + 1))
fi

# ---- blk over MMIO, found each way ----
run blk-verify-dsdt 1 '^PVGUEST RESULT blk-verify PASS capacity=16384 .* transport=mmio' \
	"" "pvguest.run=blk-verify pvguest.blk_id=$serial" "${blk[@]}"
run blk-verify-cmdline 1 '^PVGUEST RESULT blk-verify PASS capacity=16384 .* transport=mmio' \
	,acpi=off "pvguest.run=blk-verify pvguest.blk_id=$serial" "${blk[@]}"
run blk-verify-readonly 1 '^PVGUEST RESULT blk-verify PASS capacity=16384 .*ro=1 .* transport=mmio' \
	"" "pvguest.run=blk-verify pvguest.blk_id=$serial pvguest.blk_ro=1" \
	-drive "file=$img,if=none,format=raw,id=d0,readonly=on" \
	-device "virtio-blk-device,drive=d0,serial=$serial"
# FLUSH then unflushed writes for ever (blk_durability.py's guest side): it
# must get as far as reporting the flush
flush_img=$tmp/flush.img
truncate -s 64M "$flush_img"
limit=15
run blk-flush timeout '^PVGUEST FLUSHED seed=1234 sectors=' "" "pvguest.run=blk-flush,seed=1234" \
	-drive "file=$flush_img,if=none,format=raw,id=d0" -device virtio-blk-device,drive=d0
limit=
run hostile-vq 1 '^PVGUEST RESULT hostile-vq PASS cases=[0-9]+ skipped=3 mode=spec ro=0 transport=mmio' \
	"" "pvguest.run=hostile-vq pvguest.hostile_skip=$qemu_skips" "${blk[@]}"
run hostile-blk 1 '^PVGUEST RESULT hostile-blk PASS cases=[0-9]+ skipped=[0-9]+ mode=spec ro=0 transport=mmio' \
	"" "pvguest.run=hostile-blk" "${blk[@]}"
# a legacy device is refused, with the reason
legacy=true
run legacy-refused 3 '^PVGUEST RESULT blk-verify FAIL reason=mmio-legacy' \
	"" "pvguest.run=blk-verify" "${blk[@]}"
legacy=false

# ---- net over MMIO: a TAP in a fresh namespace, netpeer echoing on the
# host end (the addresses of bench/harness/netns.py) ----
net_why=
if [ -z "$netpeer" ] || [ ! -x "$netpeer" ]; then
	net_why="no netpeer given"
elif [ "$(id -u)" != 0 ]; then
	net_why="not root"
elif [ ! -c /dev/net/tun ] || ! command -v ip >/dev/null; then
	net_why="no /dev/net/tun or no ip"
else
	ns=vireo-qemu-mmio-$$
	if ! { ip netns add "$ns" && ip -n "$ns" link set lo up &&
		ip -n "$ns" tuntap add dev vtap0 mode tap &&
		ip -n "$ns" addr add 10.77.0.1/24 dev vtap0 &&
		ip -n "$ns" link set vtap0 up; } 2>"$tmp/ip.err"; then
		net_why="cannot make a TAP in a namespace: $(head -1 "$tmp/ip.err")"
	else
		ip netns exec "$ns" "$netpeer" echo --bind 10.77.0.1:7777 \
			>"$tmp/netpeer.out" 2>"$tmp/netpeer.err" </dev/null &
		np_pid=$!
		for _ in $(seq 100); do
			grep -q "ready on" "$tmp/netpeer.err" && break
			sleep 0.1
		done
		grep -q "ready on" "$tmp/netpeer.err" ||
			net_why="netpeer did not start: $(head -1 "$tmp/netpeer.err")"
	fi
fi
if [ -n "$net_why" ]; then
	echo "SKIP: net-echo, hostile-net ($net_why)"
else
	prefix=(ip netns exec "$ns")
	# shellcheck disable=SC2054  # the commas belong to QEMU's arguments
	net=(-netdev tap,id=n0,ifname=vtap0,script=no,downscript=no,vhost=off
		-device virtio-net-device,netdev=n0,mac=52:54:00:12:34:56)
	netcmd="pvguest.net_ip=10.77.0.2 pvguest.net_peer=10.77.0.1 pvguest.net_port=7777"
	run net-echo 1 '^PVGUEST RESULT net-echo PASS .* transport=mmio' \
		"" "pvguest.run=net-echo $netcmd" "${net[@]}"
	run hostile-net 1 '^PVGUEST RESULT hostile-net PASS cases=[0-9]+ unexpected=[0-9]+ mode=spec transport=mmio' \
		"" "pvguest.run=hostile-net $netcmd" "${net[@]}"
	prefix=()
fi

qemu_exit mmio
