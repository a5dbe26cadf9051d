# The device checks of vireo's Linux guests, sourced by /init of the
# minimal test kernel (guest/linux/minimal/init) and of the default guest
# (guest/linux/init) once their drivers are in. Prints, as VIREO-LINUX
# lines: CHECK (CPUs, memory, each virtio device and its driver), one
# RESULT line per check, DONE; leaves the number of failed checks in
# $fails. Needs /proc, /sys, /dev and /tmp mounted, say() and up().
#
# Kernel command line options read here (all optional):
#   vireo.marker=WORD       echoed back in the CHECK line
#   vireo.blk=vdX           scratch disk: 1 MiB of /bin/busybox written at
#                           32 MiB and read back with direct I/O; then an ext2
#                           filesystem made in the first 16 MiB, mounted,
#                           written, remounted and read
#   vireo.ip=A.B.C.D/N      address for eth0; with vireo.peer=A.B.C.D: ping
#                           it, then a TCP round trip to vireo.port (5000)
#   vireo.vsock=PORT        vsock: send 64 KiB to the host's PORT and read
#                           the echo; listen on PORT+1 for the host (line
#                           "VSOCK-LISTENING port=N") and echo what it sends
# and, whenever the VM has them, 64 KiB read from /dev/hwrng (virtio-rng)
# and a line "VIREO-HVC0 marker=WORD" written to hvc0 (virtio-console), and
# that virtio_balloon drives the balloon (then "VIREO-LINUX BALLOON-BOUND").

marker= blk= ip= peer= port=5000 vsock=
set -f
for w in $(cat /proc/cmdline); do
	case $w in
	vireo.marker=*) marker=${w#*=} ;;
	vireo.blk=*) blk=${w#*=} ;;
	vireo.ip=*) ip=${w#*=} ;;
	vireo.peer=*) peer=${w#*=} ;;
	vireo.port=*) port=${w#*=} ;;
	vireo.vsock=*) vsock=${w#*=} ;;
	esac
done
set +f

cpus=$(grep -c '^processor' /proc/cpuinfo)
mem_kib=$(sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' /proc/meminfo)
virtio=
for d in /sys/bus/virtio/devices/*; do
	[ -r "$d/device" ] || continue
	drv=none
	[ -L "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
	virtio="$virtio${virtio:+,}$(($(cat "$d/device")))/$drv"
done
say "CHECK cpus=$cpus mem_kib=$mem_kib virtio=${virtio:-none} marker=${marker:-none} kernel=$(uname -r)"

fails=0
result() { # name, status 0 or not, details
	if [ "$2" = 0 ]; then say "RESULT $1 PASS $3"; else say "RESULT $1 FAIL $3"; fails=$((fails + 1)); fi
}

# --- virtio-blk: 1 MiB of /bin/busybox at 32 MiB, direct I/O both ways
# (the host compares its file with the same bytes after the VM ends), then
# an ext2 filesystem in the first 16 MiB.
if [ -n "$blk" ]; then
	dev=/dev/$blk
	want=$(dd if=/bin/busybox bs=64k count=16 2>/dev/null | sha256sum | cut -d' ' -f1)
	dd if=/bin/busybox of="$dev" bs=64k count=16 seek=512 oflag=direct conv=fsync 2>/tmp/dd.err
	w=$?
	got=$(dd if="$dev" bs=64k count=16 skip=512 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
	st=1
	[ $w = 0 ] && [ "$got" = "$want" ] && st=0
	result blk-rw $st "sha256=$got size=$(cat /sys/block/$blk/size) ro=$(cat /sys/block/$blk/ro)"

	st=1 size=0
	dd if=/bin/busybox of=/tmp/file bs=64k count=4 2>/dev/null
	if mke2fs -q "$dev" 16384 >/tmp/mkfs.out 2>&1 && mount -t ext2 "$dev" /mnt; then
		cp /tmp/file /mnt/file && sync && umount /mnt &&
		mount -t ext2 -o ro "$dev" /mnt &&
		[ "$(sha256sum </mnt/file)" = "$(sha256sum </tmp/file)" ] && st=0
		size=$(wc -c </mnt/file)
		umount /mnt 2>/dev/null
	fi
	[ $st = 0 ] || cat /tmp/mkfs.out
	result blk-ext2 $st "file_bytes=$size"
fi

# --- virtio-net: ping, then send 256 KiB of /bin/busybox over TCP and read
# back what the host answers: its sha256 of what it got, then its payload.
if [ -n "$ip" ] && [ -n "$peer" ]; then
	ip link set lo up
	ip addr add "$ip" dev eth0 && ip link set eth0 up
	ping -c 3 -W 5 "$peer" >/tmp/ping.out 2>&1
	st=$?
	result net-ping $st "$(grep -o '[0-9]* packets received' /tmp/ping.out)"

	dd if=/bin/busybox of=/tmp/send bs=64k count=4 2>/dev/null
	want=$(sha256sum </tmp/send | cut -d' ' -f1)
	nc -w 10 "$peer" "$port" </tmp/send >/tmp/reply 2>/tmp/nc.err
	got=$(head -n 1 /tmp/reply)
	back=$(tail -c +66 /tmp/reply | sha256sum | cut -d' ' -f1)
	st=1
	[ "$got" = "$want" ] && st=0
	result net-tcp $st "sent_sha256=$want peer_sha256=${got:-none} reply_bytes=$(($(wc -c </tmp/reply) - 65)) reply_sha256=$back"
fi

# --- virtio-rng: when the VM has one, Linux's hwrng core uses it; 64 KiB
# read from /dev/hwrng must come whole and hold more than a few byte values
if grep -qx 0x0004 /sys/bus/virtio/devices/*/device 2>/dev/null; then
	cur=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
	dd if=/dev/hwrng of=/tmp/rng bs=4096 count=16 2>/dev/null
	n=$(wc -c </tmp/rng)
	vals=$(od -An -v -tu1 -w1 /tmp/rng | sort -u | wc -l)
	st=1
	case $cur in virtio_rng.*) [ "$n" = 65536 ] && [ "$vals" -gt 200 ] && st=0 ;; esac
	result rng-read $st "rng_current=${cur:-none} bytes=$n values=$vals"
fi

# --- virtio-console: a line to hvc0 (the host finds it in its --console file)
if grep -qx 0x0003 /sys/bus/virtio/devices/*/device 2>/dev/null; then
	st=1
	[ -c /dev/hvc0 ] && echo "VIREO-HVC0 marker=${marker:-none}" >/dev/hvc0 && st=0
	result hvc-write $st "dev=$(ls /dev/hvc0 2>/dev/null || echo none)"
fi

# --- virtio-balloon: Linux's driver bound to it; it inflates to the host's
# target, answers the statistics polls and reports free pages on its own
# (the host checks those through vireo's API while this runs)
if grep -qx 0x0005 /sys/bus/virtio/devices/*/device 2>/dev/null; then
	drv=none
	for d in /sys/bus/virtio/devices/*; do
		[ "$(cat "$d/device")" = 0x0005 ] && [ -L "$d/driver" ] &&
			drv=$(basename "$(readlink "$d/driver")")
	done
	st=1
	[ "$drv" = virtio_balloon ] && st=0
	result balloon-driver $st "driver=$drv"
	say "BALLOON-BOUND"
fi

# --- virtio-vsock: the guest connects to the host, then the host to the guest
if [ -n "$vsock" ]; then
	out=$(vsock_check send "$vsock" 65536)
	result vsock-connect $? "$out"
	timeout 120 vsock_check echo $((vsock + 1)) >/tmp/vsock.out 2>&1 &
	pid=$!
	sleep 1
	say "VSOCK-LISTENING port=$((vsock + 1))"
	wait $pid
	result vsock-accept $? "$(cat /tmp/vsock.out)"
fi

say "DONE fails=$fails uptime=$(up)"
