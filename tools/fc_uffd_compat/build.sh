#!/bin/sh
# Builds Firecracker's example page fault handlers (on_demand_handler and
# fault_all_handler from src/firecracker/examples/uffd/), their sources
# byte for byte unchanged, against vireo's shims of the crates they use
# that Debian does not package (shims/: userfaultfd, vmm-sys-util and
# Firecracker's own utils) and Debian's serde, serde_json and libc, offline.
#
# usage: FIRECRACKER_SRC=DIR build.sh OUTDIR
#   DIR: a Firecracker source tree (a checkout, or `git archive` of one)
#   OUTDIR: where on_demand_handler and fault_all_handler are put
# env: CARGO (default: cargo on PATH, else ~/.cargo/bin/cargo),
#      REGISTRY (default /usr/share/cargo/registry: Debian's librust-*-dev)
# Exit: 0 built; 77 something needed is missing (a line says what:
# FIRECRACKER_SRC unset, no cargo or one older than 1.87, no Debian
# crates); 1 FIRECRACKER_SRC without the examples, or the build failed.
#
# Nothing of Firecracker's is written into vireo's tree: the sources are
# copied into a temporary workspace beside copies of handlers/ and shims/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: FIRECRACKER_SRC=DIR build.sh OUTDIR}
registry=${REGISTRY:-/usr/share/cargo/registry}

skip() { echo "SKIPPED: $*"; exit 77; }

[ -n "${FIRECRACKER_SRC:-}" ] || skip "FIRECRACKER_SRC is not set (a Firecracker source tree)"
ex=$FIRECRACKER_SRC/src/firecracker/examples/uffd
for f in uffd_utils.rs on_demand_handler.rs fault_all_handler.rs; do
	[ -f "$ex/$f" ] || { echo "fc_uffd_compat: FIRECRACKER_SRC has no $ex/$f"; exit 1; }
done
cargo=${CARGO:-$(command -v cargo || echo "$HOME/.cargo/bin/cargo")}
[ -x "$cargo" ] || skip "no cargo (install rustup's, or set CARGO)"
# the examples use is_multiple_of and offset_from_unsigned (Rust 1.87)
ver=$("$cargo" --version 2>/dev/null | sed -n 's/^cargo 1\.\([0-9]*\)\..*/\1/p')
[ -n "$ver" ] && [ "$ver" -ge 87 ] ||
	skip "$("$cargo" --version 2>&1 | head -1) is older than the 1.87 that" \
	     "Firecracker's examples need (rustup's, or set CARGO)"
for c in serde serde_derive serde_json libc proc-macro2 quote syn; do
	ls -d "$registry/$c"-[0-9]* >/dev/null 2>&1 ||
		skip "no crate $c in $registry (apt install librust-serde-dev" \
		     "librust-serde-derive-dev librust-serde-json-dev librust-libc-dev)"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$here/handlers" "$here/shims" "$tmp/"
mkdir -p "$tmp/handlers/examples/uffd" "$tmp/cargo-home"
for f in uffd_utils.rs on_demand_handler.rs fault_all_handler.rs; do
	cp "$ex/$f" "$tmp/handlers/examples/uffd/$f"
	cmp -s "$ex/$f" "$tmp/handlers/examples/uffd/$f" || { echo "fc_uffd_compat: copying $f changed it"; exit 1; }
	echo "fc_uffd_compat: $f $(sha256sum <"$ex/$f" | cut -c1-16) (unchanged)"
done
# crates.io replaced by Debian's registry; nothing fetched
cat >"$tmp/cargo-home/config.toml" <<EOF
[source.crates-io]
replace-with = "debian"
[source.debian]
directory = "$registry"
[net]
offline = true
EOF
# rustup's cargo finds its toolchains through RUSTUP_HOME, not CARGO_HOME
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
if ! CARGO_HOME="$tmp/cargo-home" CARGO_TARGET_DIR="$tmp/target" \
	"$cargo" build --offline --release --quiet \
	--manifest-path "$tmp/handlers/Cargo.toml" --bins; then
	echo "fc_uffd_compat: the build failed ($("$cargo" --version 2>&1))"
	exit 1
fi
mkdir -p "$out"
for b in on_demand_handler fault_all_handler; do
	cp "$tmp/target/release/$b" "$out/$b"
done
echo "fc_uffd_compat: built $out/on_demand_handler $out/fault_all_handler"
