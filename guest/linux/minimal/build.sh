#!/bin/sh
# Build vireo's minimal Linux test kernel and its initramfs:
#   OUTDIR/vmlinux      ELF with a PVH entry (boot it with --kernel)
#   OUTDIR/bzImage      the same kernel for the Linux boot protocol
#   OUTDIR/initrd.cpio  uncompressed newc cpio: busybox-static, ./init and
#                       what ../checks.sh needs (lib.sh guest_tools)
# Usage: guest/linux/minimal/build.sh [OUTDIR]   (default guest/linux/out/minimal)
#
# From Debian packages only: linux-source-6.1 (fetched with apt-get download
# and unpacked, never installed), the patches in ./patches, ./kernel.config
# merged onto `make tinyconfig`, and busybox-static; built with the host's
# gcc, make, bison, flex, bc (scripts/deps.sh --linux installs them). The
# kernel takes about 4 minutes on 2 cores and is built once: a step whose
# inputs (package version, config, patches, this script) are unchanged is
# skipped. The build tree stays in OUTDIR/.build for the next config change.
set -eu

me=minimal/build.sh
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../out/minimal}
srcpkg=linux-source-6.1

linux_dir=$(cd "$here/.." && pwd)
. "$linux_dir/lib.sh"
need apt-cache apt-get dpkg-deb dpkg-query cpio sha256sum tar xz make gcc bison flex bc

out_dir "$out"

srcver=$(candidate "$srcpkg")
[ -n "$srcver" ] || die "no installable version of $srcpkg (run apt-get update?)"
busybox_resolve

sum() { cat "$@" | sha256sum | cut -c1-16; }
kkey="src=$srcpkg=$srcver config=$(sum "$here/kernel.config")\
 patches=$(sum "$here"/patches/*.patch) script=$(sum "$here/build.sh")"
ikey="busybox=$bbver from=$bb_from init=$(sum "$here/init" "$linux_dir/checks.sh" "$here/vsock_check.c")\
 script=$(sum "$here/build.sh" "$linux_dir/lib.sh")"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vireo-minimal.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

# 1. the kernel
if [ -f "$out/vmlinux" ] && [ -f "$out/bzImage" ] &&
   [ "$(cat "$out/kernel.key" 2>/dev/null)" = "$kkey" ]; then
	log "up to date: $out/vmlinux, $out/bzImage"
else
	tree=$out/.build/$srcpkg
	if [ "$(cat "$out/.build/tree.key" 2>/dev/null)" != "$srcver $(sum "$here"/patches/*.patch)" ]; then
		rm -rf "$out/.build"
		mkdir -p "$out/.build"
		deb=$(fetch "$srcpkg" "$srcver")
		log "unpacking $srcpkg $srcver"
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards '*.tar.xz' ||
			die "cannot unpack $deb"
		set -- "$tmp"/usr/src/linux-source-*.tar.xz
		[ -f "$1" ] || die "$srcpkg has no /usr/src/linux-source-*.tar.xz"
		tar -xJf "$1" -C "$out/.build" || die "cannot unpack $1"
		[ -d "$tree" ] || die "$1 did not give $tree"
		for p in "$here"/patches/*.patch; do
			patch -d "$tree" -p1 -s <"$p" || die "patch ${p##*/} does not apply to $srcpkg $srcver"
		done
		echo "$srcver $(sum "$here"/patches/*.patch)" >"$out/.build/tree.key"
	fi
	make -C "$tree" -s tinyconfig >/dev/null 2>&1 || die "make tinyconfig failed"
	"$tree/scripts/kconfig/merge_config.sh" -m -O "$tree" "$tree/.config" "$here/kernel.config" \
		>"$tmp/merge.log" 2>&1 || die "merging kernel.config failed (see merge_config.sh)"
	make -C "$tree" -s olddefconfig >/dev/null 2>&1 || die "make olddefconfig failed"
	# Every option asked for must have its value: Kconfig drops silently
	# what a dependency rules out.
	grep '^CONFIG_' "$here/kernel.config" | while IFS= read -r want; do
		name=${want%%=*}
		case $want in
		*=n) ! grep -q "^$name=" "$tree/.config" ;;
		*) grep -qx "$want" "$tree/.config" ;;
		esac || echo "$want (got: $(grep "^$name=\|^# $name " "$tree/.config" || echo unset))"
	done >"$tmp/unmet"
	[ ! -s "$tmp/unmet" ] || die "kernel.config: $(head -n 1 "$tmp/unmet") did not hold"
	log "building the kernel in $tree (about 4 minutes on 2 cores)"
	make -C "$tree" -j"$(nproc)" vmlinux bzImage >"$out/.build/make.log" 2>&1 ||
		die "kernel build failed; see $out/.build/make.log"
	cp "$tree/vmlinux" "$out/vmlinux.new$$" && mv "$out/vmlinux.new$$" "$out/vmlinux"
	cp "$tree/arch/x86/boot/bzImage" "$out/bzImage.new$$" && mv "$out/bzImage.new$$" "$out/bzImage"
	echo "$kkey" >"$out/kernel.key"
	log "wrote $out/vmlinux ($(wc -c <"$out/vmlinux") bytes), $out/bzImage"
fi

# 2. the initramfs: uncompressed, since the kernel would unpack it in ring 0
if [ -f "$out/initrd.cpio" ] && [ "$(cat "$out/initrd.key" 2>/dev/null)" = "$ikey" ]; then
	log "up to date: $out/initrd.cpio"
else
	bb=$(busybox_path "$tmp")
	busybox_tree "$bb" "$tmp/root"
	cp "$here/init" "$tmp/root/init"
	chmod 0755 "$tmp/root/init"
	guest_tools "$tmp/root"
	if [ "$(id -u)" = 0 ]; then
		mknod -m 600 "$tmp/root/dev/console" c 5 1 2>/dev/null || true
	fi
	cpio_pack "$tmp/root" >"$out/initrd.cpio.new$$" || die "cannot write the initramfs"
	mv "$out/initrd.cpio.new$$" "$out/initrd.cpio"
	echo "$ikey" >"$out/initrd.key"
	log "wrote $out/initrd.cpio ($(wc -c <"$out/initrd.cpio") bytes)"
fi
