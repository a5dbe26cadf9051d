# Shell helpers shared by guest/linux/build.sh and guest/linux/minimal/build.sh
# (sourced; POSIX sh). The caller sets `me` (its name, for messages),
# `linux_dir` (guest/linux) and, before fetch, `cache` (for downloads).

log() { echo "$me: $*" >&2; }
die() { echo "$me: error: $*" >&2; exit 1; }

# need TOOL... : dies naming the first host tool that is missing
need() {
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || die "missing host tool '$t'"
	done
}

# out_dir DIR: makes DIR, sets out (its absolute path) and cache (DIR/.cache)
out_dir() {
	mkdir -p "$1" || die "cannot create $1"
	out=$(cd "$1" && pwd)
	cache=$out/.cache
	mkdir -p "$cache"
}

# candidate PKG: the version apt would install, or empty
candidate() {
	apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '^(none)$' || true
}

# fetch PKG VERSION: prints the path of the cached .deb (apt-get download,
# nothing installed)
fetch() {
	d=$cache/deb/$1_$(echo "$2" | tr ':' '+')
	if [ -f "$d/ok" ]; then
		log "have $1 $2"
	else
		rm -rf "$d" && mkdir -p "$d"
		# as root, apt would warn that its sandbox user cannot write here
		if [ "$(id -u)" = 0 ]; then sandbox=root; else sandbox=_apt; fi
		if ! (cd "$d" && apt-get -o APT::Sandbox::User=$sandbox download "$1=$2") \
			>"$cache/apt.log" 2>&1; then
			why=$(grep '^E:' "$cache/apt.log" | head -n 1)
			[ -n "$why" ] || why=$(tail -n 1 "$cache/apt.log")
			die "cannot fetch $1 $2 ($why)"
		fi
		touch "$d/ok"
		log "fetched $1 $2"
	fi
	set -- "$d"/*.deb
	[ -f "$1" ] || die "no .deb in $d"
	echo "$1"
}

# busybox_path TMPDIR: prints a static busybox: the host's (busybox-static
# installed) or one unpacked into TMPDIR from the fetched package. Sets
# bbver and bb_from (host or deb).
busybox_resolve() {
	bb_status=$(dpkg-query -W -f='${Status} ${Version}' busybox-static 2>/dev/null || true)
	case $bb_status in
	"install ok installed "*) bbver=${bb_status##* }; bb_from=host ;;
	*) bbver=$(candidate busybox-static); bb_from=deb
	   [ -n "$bbver" ] || die "no installable version of busybox-static" ;;
	esac
}
busybox_path() {
	if [ "$bb_from" = host ]; then
		[ -x /bin/busybox ] || die "busybox-static is installed but /bin/busybox is missing"
		echo /bin/busybox
	else
		bdeb=$(fetch busybox-static "$bbver")
		dpkg-deb -x "$bdeb" "$1/bb" || die "cannot unpack $bdeb"
		[ -x "$1/bb/bin/busybox" ] || die "busybox-static has no /bin/busybox"
		echo "$1/bb/bin/busybox"
	fi
}

# busybox_tree BUSYBOX ROOT: ROOT gets the usual directories, busybox and a
# link for each applet
busybox_tree() {
	mkdir -p "$2/bin" "$2/sbin" "$2/usr/bin" "$2/usr/sbin" "$2/dev" "$2/proc" \
		"$2/sys" "$2/tmp" "$2/run" "$2/root" "$2/etc" "$2/mnt"
	cp "$1" "$2/bin/busybox"
	"$1" --list-full | while read -r a; do
		case $a in */*) ;; *) continue ;; esac
		[ -e "$2/$a" ] || ln -s /bin/busybox "$2/$a"
	done
	[ -e "$2/bin/sh" ] || ln -s busybox "$2/bin/sh"
	: >"$2/etc/fstab"
	echo "root:x:0:0:root:/root:/bin/sh" >"$2/etc/passwd"
	echo "root:x:0:" >"$2/etc/group"
}

# cpio_pack ROOT: a newc archive of ROOT on stdout: sorted, root-owned,
# fixed mtimes, so that equal inputs give equal bytes
cpio_pack() {
	find "$1" -exec touch -h -d @0 {} +
	(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet)
}

# guest_tools ROOT: what guest/linux/checks.sh needs beside busybox, into
# ROOT: the script itself as /checks.sh and /bin/vsock_check, built here
# freestanding (a few KiB, no libc)
guest_tools() {
	cp "$linux_dir/checks.sh" "$1/checks.sh"
	gcc -static -nostdlib -ffreestanding -fno-stack-protector -fno-builtin -O2 \
		-o "$1/bin/vsock_check" "$linux_dir/minimal/vsock_check.c" ||
		die "cannot build vsock_check"
}
