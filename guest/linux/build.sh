#!/bin/sh
# Build vireo's default Linux guest from Debian packages:
#   OUTDIR/vmlinuz      Debian's linux-image-cloud-amd64 kernel (bzImage)
#   OUTDIR/initrd.img   gzip'd newc cpio: busybox-static, the virtio modules
#                       of that kernel, guest/linux/init as /init, and what
#                       checks.sh needs (lib.sh guest_tools)
# Usage: guest/linux/build.sh [OUTDIR]       (default guest/linux/out)
#
# Nothing is installed on the host: packages are fetched with
# `apt-get download` and unpacked with `dpkg-deb -x`. Downloads are kept in
# OUTDIR/.cache; a step whose output matches the current package versions
# is skipped. Set VIREO_KERNEL_PKG to use another kernel image package.
set -eu

me=build.sh
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/out}
kmeta=${VIREO_KERNEL_PKG:-linux-image-cloud-amd64}

# Modules wanted in the guest (module names); their dependencies are added.
# Those built into the kernel (=y) are reported and skipped.
WANT="virtio_pci virtio_blk virtio_net virtio_rng virtio_balloon \
virtio_console vmw_vsock_virtio_transport"

linux_dir=$here
. "$here/lib.sh"
need apt-cache apt-get dpkg-deb dpkg-query cpio gzip sha256sum tsort gcc

out_dir "$out"

# 1. resolve package versions
kver_meta=$(candidate "$kmeta")
[ -n "$kver_meta" ] || die "no installable version of $kmeta (run apt-get update?)"
kpkg=$(apt-cache depends "$kmeta=$kver_meta" 2>/dev/null |
	sed -n 's/^ *Depends: *\(linux-image-[^ ]*\).*/\1/p' | head -n 1)
[ -n "$kpkg" ] || kpkg=$kmeta   # given a versioned image package directly
kver=$(candidate "$kpkg")
[ -n "$kver" ] || die "no installable version of $kpkg"

busybox_resolve
log "packages: $kpkg $kver (via $kmeta), busybox-static $bbver ($bb_from)"

# Everything the outputs depend on; a change in any of them rebuilds.
key="kernel=$kpkg=$kver busybox=$bbver from=$bb_from\
 init=$(cat "$here/init" "$here/checks.sh" "$here/minimal/vsock_check.c" | sha256sum | cut -c1-16)\
 script=$(cat "$here/build.sh" "$here/lib.sh" | sha256sum | cut -c1-16)"

vmlinuz_ok=0
[ -f "$out/vmlinuz" ] && [ "$(cat "$out/vmlinuz.key" 2>/dev/null)" = "kernel=$kpkg=$kver" ] && vmlinuz_ok=1
initrd_ok=0
[ -f "$out/initrd.img" ] && [ "$(cat "$out/initrd.img.key" 2>/dev/null)" = "$key" ] && initrd_ok=1
if [ $vmlinuz_ok = 1 ] && [ $initrd_ok = 1 ]; then
	log "up to date: $out/vmlinuz, $out/initrd.img"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vireo-linux.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

# 2. fetch and unpack the kernel
kdeb=$(fetch "$kpkg" "$kver")
dpkg-deb -x "$kdeb" "$tmp/k" || die "cannot unpack $kdeb"
set -- "$tmp"/k/boot/vmlinuz-*
[ -f "$1" ] || die "$kpkg has no /boot/vmlinuz-*"
kimage=$1
release=${kimage##*/vmlinuz-}
kconfig=$tmp/k/boot/config-$release
kmods=$tmp/k/lib/modules/$release
log "unpacked $kpkg: kernel release $release"

# 3. vmlinuz
if [ $vmlinuz_ok = 1 ]; then
	log "up to date: $out/vmlinuz"
else
	cp "$kimage" "$out/vmlinuz.new$$" && mv "$out/vmlinuz.new$$" "$out/vmlinuz"
	echo "kernel=$kpkg=$kver" >"$out/vmlinuz.key"
	log "wrote $out/vmlinuz ($(wc -c <"$out/vmlinuz") bytes)"
fi

if [ $initrd_ok = 1 ]; then
	log "up to date: $out/initrd.img"
	exit 0
fi

# 4. busybox
bb=$(busybox_path "$tmp")

# 5. modules: index name -> file, then close WANT over the dependencies
find "$kmods" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.gz' -o -name '*.ko.zst' |
while read -r f; do
	n=${f##*/}; n=${n%%.ko*}
	echo "$(echo "$n" | tr - _) ${f#"$kmods"/}"
done >"$tmp/modindex"

modfile() { awk -v n="$1" '$1 == n { print $2; exit }' "$tmp/modindex"; }
# module content on stdout, decompressed
modcat() {
	case $1 in
	*.xz) xz -dc "$1" ;;
	*.gz) gzip -dc "$1" ;;
	*.zst) zstd -qdc "$1" ;;
	*) cat "$1" ;;
	esac
}
moddeps() { modcat "$kmods/$1" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '; }

: >"$tmp/edges"
: >"$tmp/seen"
builtin=
todo=
for m in $WANT; do
	f=$(modfile "$m")
	if [ -n "$f" ]; then
		todo="$todo $m"
	elif grep -q "/$m.ko\$" "$kmods/modules.builtin" 2>/dev/null ||
	     grep -q "/$(echo "$m" | tr _ -).ko\$" "$kmods/modules.builtin" 2>/dev/null; then
		builtin="$builtin $m"
	else
		die "module $m is neither a module nor built into $release"
	fi
done
while [ -n "$todo" ]; do
	set -- $todo
	m=$1; shift; todo="$*"
	grep -qx "$m" "$tmp/seen" && continue
	echo "$m" >>"$tmp/seen"
	f=$(modfile "$m")
	[ -n "$f" ] || die "module $m (a dependency) not found in $kpkg"
	echo "$m $m" >>"$tmp/edges"
	for d in $(moddeps "$f"); do
		echo "$d $m" >>"$tmp/edges"
		todo="$todo $d"
	done
done
order=$(tsort "$tmp/edges") || die "module dependency cycle"
log "modules for $release: built in:${builtin:- none}; loaded in order: $(echo $order)"

# 6. the initramfs tree
r=$tmp/root
busybox_tree "$bb" "$r"
mkdir -p "$r/lib/modules/$release"
cp "$here/init" "$r/init"
chmod 0755 "$r/init"
guest_tools "$r"
for m in $order; do
	f=$(modfile "$m")
	dst=${f%%.ko*}.ko
	mkdir -p "$r/lib/modules/$release/${dst%/*}"
	modcat "$kmods/$f" >"$r/lib/modules/$release/$dst" || die "cannot decompress $f"
	echo "$dst" >>"$r/lib/modules/$release/vireo.load"
done
for f in modules.builtin modules.order; do
	[ -f "$kmods/$f" ] && cp "$kmods/$f" "$r/lib/modules/$release/"
done
# Root can give the archive a console node; otherwise /init opens devtmpfs's.
if [ "$(id -u)" = 0 ]; then
	mknod -m 600 "$r/dev/console" c 5 1 2>/dev/null || log "no /dev/console in the archive (mknod failed); /init opens devtmpfs's"
fi

# 7. pack: sorted, root-owned, fixed mtimes, so equal inputs give equal bytes
cpio_pack "$r" | gzip -9 -n >"$out/initrd.img.new$$" || die "cannot write the initramfs"
mv "$out/initrd.img.new$$" "$out/initrd.img"
echo "$key" >"$out/initrd.img.key"
log "wrote $out/initrd.img ($(wc -c <"$out/initrd.img") bytes, $(find "$r" | wc -l) entries)"

# 8. drop downloads of other versions
for d in "$cache"/deb/*; do
	[ -d "$d" ] || continue
	case ${d##*/} in
	"${kpkg}_$(echo "$kver" | tr ':' '+')"|"busybox-static_$(echo "$bbver" | tr ':' '+')") ;;
	*) rm -rf "$d"; log "removed old download ${d##*/}" ;;
	esac
done
