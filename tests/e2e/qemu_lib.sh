# Shared by the QEMU reference tests (sourced, bash).
#
# qemu_boot OUT TIMEOUT_S CMD...: runs CMD (a QEMU command line) with its
# output in OUT and sets qemu_status to its exit status, or to
# "internal-error" or "timeout". QEMU pauses instead of exiting on a KVM
# internal error, so the output is watched for one and QEMU is then killed
# (only the QEMU started here, by its pid).
qemu_boot() {
	local out=$1 limit=$2 start=$SECONDS
	shift 2
	echo "\$ ${*@Q}"
	: >"$out"
	"$@" </dev/null >"$out" 2>&1 &
	local pid=$!
	qemu_status=
	while kill -0 "$pid" 2>/dev/null; do
		if grep -aq "KVM internal error\|KVM: entry failed" "$out"; then
			qemu_status=internal-error
			break
		fi
		if [ $((SECONDS - start)) -ge "$limit" ]; then
			qemu_status=timeout
			break
		fi
		sleep 0.1
	done
	if [ -n "$qemu_status" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	else
		wait "$pid"
		qemu_status=$?
	fi
}

# qemu_check NAME OUT TIMEOUT_S WANT_STATUS WANT CMD...: qemu_boot, shows
# the guest's lines, then counts NAME in passed or failed: it passes when
# QEMU's status is WANT_STATUS and a line of OUT matches the extended
# regex WANT.
qemu_check() {
	local name=$1 out=$2 limit=$3 want_status=$4 want=$5 start=$SECONDS why=
	shift 5
	qemu_boot "$out" "$limit" "$@"
	tr -d '\r' <"$out" | grep -a 'PVGUEST\|^qemu\|KVM\|^[A-Z][A-Z0-9]* *=' | sed 's/^/  | /'
	if [ "$qemu_status" != "$want_status" ]; then
		why="QEMU exit status $qemu_status, expected $want_status"
		[ "$want_status" = 1 ] && why="$why (debug-exit 0)"
	elif ! tr -d '\r' <"$out" | grep -aqE "$want"; then
		why="no line matching '$want'"
	fi
	if [ -n "$why" ]; then
		echo "FAIL: $name: $why ($((SECONDS - start)) s)"
		failed=$((failed + 1))
	else
		echo "PASS: $name ($((SECONDS - start)) s)"
		passed=$((passed + 1))
	fi
}

# qemu_exit WHAT [MORE]: prints "qemu WHAT: N passed, N failed[MORE]" and
# exits 1 if one failed, 77 (skipped) if none passed, else 0.
qemu_exit() {
	echo "qemu $1: $passed passed, $failed failed${2:-}"
	if [ "$failed" -gt 0 ]; then
		exit 1
	elif [ "$passed" -eq 0 ]; then
		exit 77
	fi
	exit 0
}

# qemu_preflight QEMU ELF: exits 77 (SKIPPED, with the reason) without QEMU
# or a usable /dev/kvm, and 1 (FAIL) without the pvguest ELF to boot.
qemu_preflight() {
	if ! command -v "$1" >/dev/null; then
		echo "SKIPPED (no $1)"
		exit 77
	fi
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		echo "SKIPPED (no usable /dev/kvm)"
		exit 77
	fi
	if [ ! -r "$2" ]; then
		echo "FAIL: no pvguest ELF at $2"
		exit 1
	fi
}
