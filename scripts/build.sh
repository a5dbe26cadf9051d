#!/bin/sh
# Configures and builds vireo twice: build/ (release-ish, -O2 -g) and
# build-san/ (AddressSanitizer + UndefinedBehaviorSanitizer). Idempotent.
set -eu
cd "$(dirname "$0")/.."

setup() {
	dir=$1; shift
	if [ -f "$dir/build.ninja" ]; then
		meson configure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir" >/dev/null || { ninja -C "$dir"; exit 1; }
}

setup build -Dtests=enabled -Dpvguest=true -Db_sanitize=none
[ "${1:-}" = "--no-san" ] && exit 0
setup build-san -Dtests=enabled -Dpvguest=true -Db_sanitize=address,undefined -Db_lundef=false
