#!/usr/bin/env python3
"""Firecracker's own example page fault handlers against vireo's Uffd
handshake (issue 16: "the handler from Firecracker's examples must work
unchanged").

tools/fc_uffd_compat/build.sh builds on_demand_handler and
fault_all_handler from FIRECRACKER_SRC (a Firecracker source tree), their
sources unchanged, against vireo's shims of userfaultfd, vmm-sys-util and
Firecracker's utils.
Then a VM built through Firecracker's API (pvguest's snap test: a disk
written and read back, a counter, one line a round) is paused after round
SNAP_AT and snapshotted (PUT /snapshot/create), and for each handler a
fresh `vireo --api-sock` loads it by PUT /snapshot/load with mem_backend
Uffd (the handler listening on backend_path, serving the memory file) and
resume_vm: the guest must go on from the round after the last one printed
to the end and pass, and CHECK_AT rounds (over a second) after the load
the handler must still be running without having retried the handshake
(it takes a hangup of the handshake's connection for a handshake without
the userfaultfd, retries, panics and SIGKILLs vireo from its panic hook;
after vireo ends it does exactly that, and is killed first).

The handlers are on_demand_handler, fault_all_handler, and on_demand_handler
again with the handshake relayed (--relay, a process of this script's
between vireo and the handler): passed on only once the handler sleeps in
poll() on its connection, and vireo's hangup passed on only once the
handler has read the message and polls again, the order that a handler
quick to get ready meets, made certain. (Unrelayed, the handler is still
mapping the memory file when vireo's message and, before vireo kept the
connection, its hangup arrived, so that it saw both at once.)

Prints `SKIPPED: <reason>` and exits 77 without FIRECRACKER_SRC, a Rust
toolchain, Debian's serde/libc crates, or KVM.

usage: fc_uffd_handler.py VIREO PVGUEST_ELF [--handlers DIR]
  --handlers DIR: on_demand_handler and fault_all_handler already built
                  there (build.sh's OUTDIR); else they are built now."""
import argparse
import array
import fcntl
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "bench"))
from harness import fcapi  # noqa: E402

TIMEOUT = 120  # a failure detector only
ROUNDS, SNAP_AT = 80, 8
CHECK_AT = SNAP_AT + 50  # a second after the load: the handler still serving
ROUND = re.compile(r"^PVGUEST INFO snap round=(\d+)", re.M)
HANDLERS = ("on_demand_handler", "fault_all_handler")


def skip(why):
    print(f"SKIPPED: {why}")
    return 77


def build_handlers(out):
    """build.sh into out: None, or (status, its output) when it did not."""
    p = subprocess.run([os.path.join(ROOT, "tools", "fc_uffd_compat", "build.sh"), out],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True)
    print(p.stdout.strip())
    if p.returncode:
        return p.returncode, p.stderr.strip()[-3000:]
    return None


def boot_and_snapshot(args, tmp, disk, problems):
    """A VM built through Firecracker's API, paused after round SNAP_AT
    and snapshotted: (state, mem, last round printed) or None."""
    sock, state, mem = (os.path.join(tmp, n) for n in ("fc.sock", "fc.state", "fc.mem"))
    vm = fcapi.Instance(args.vireo, ["--api-sock", sock], sock, boot_timeout=TIMEOUT)
    try:
        if not vm.ok:
            problems.append("the API socket never answered")
            return None
        for path, body in (
                ("/boot-source", {"kernel_image_path": args.kernel, "boot_args":
                                  f"console=ttyS0 pvguest.run=snap,rounds={ROUNDS},ms=20 "
                                  "pvguest.transport=mmio"}),
                ("/machine-config", {"vcpu_count": 1, "mem_size_mib": 256}),
                ("/drives/scratch", {"drive_id": "scratch", "path_on_host": disk,
                                     "is_root_device": False, "is_read_only": False}),
                ("/actions", {"action_type": "InstanceStart"})):
            status, body, _ = vm.api.put(path, body)
            if status != 204:
                problems.append(f"PUT {path}: {status} {body}")
                return None
        if not vm.wait_output(f"PVGUEST INFO snap round={SNAP_AT}"):
            problems.append(f"the VM never reached round {SNAP_AT}")
            return None
        vm.api.patch("/vm", {"state": "Paused"})
        status, body, _ = vm.api.put("/snapshot/create", {"snapshot_path": state,
                                                          "mem_file_path": mem})
        if status != 204:
            problems.append(f"PUT /snapshot/create: {status} {body}")
            return None
    finally:
        vm.proc.kill()
        _, out, _ = vm.finish(30)
        if os.path.lexists(sock):
            os.unlink(sock)  # killed: nobody else removes it
    printed = [int(n) for n in ROUND.findall(out)]
    return state, mem, max(printed) if printed else -1


def start_handler(path, sock, mem):
    """Firecracker's handler on sock serving mem, waited for until its
    socket is there: (process, list its stdout's lines go into)."""
    h = subprocess.Popen([path, sock, mem], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []

    def read():
        for ln in iter(h.stdout.readline, ""):
            lines.append(ln)
    threading.Thread(target=read, daemon=True).start()
    end = time.monotonic() + 10
    while not os.path.exists(sock) and h.poll() is None and time.monotonic() < end:
        time.sleep(0.005)
    return h, lines


def polling(pid):
    """Whether process pid sleeps in poll()."""
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return "poll" in f.read()
    except OSError:
        return False


def relay(listen, target, pid):
    """--relay: the handshake passed on from vireo (accepted on listen) to
    the handler (pid, at target) once the handler sleeps in poll() on its
    connection, and vireo's hangup passed on once it has read the message
    and sleeps in poll() again: the order in which a handler that is quick
    to get ready meets a VMM, made certain."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(listen)
    srv.listen(1)
    c, _ = srv.accept()
    h = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    h.connect(target)

    def settle(cond):
        end = time.monotonic() + 30
        while not cond() and time.monotonic() < end:
            time.sleep(0.005)
        time.sleep(0.05)
    settle(lambda: polling(pid))
    fds = array.array("i")
    msg, anc, _, _ = c.recvmsg(4096, socket.CMSG_SPACE(8 * fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    h.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
    for fd in fds:
        os.close(fd)

    def unread():  # bytes the handler has yet to take (SIOCOUTQ)
        return struct.unpack("i", fcntl.ioctl(h, termios.TIOCOUTQ, b"\0" * 4))[0]
    settle(lambda: unread() == 0 and polling(pid))
    while c.recv(4096):
        pass  # until vireo hangs up
    h.close()
    return 0


def load(args, tmp, handler, state, mem, after, problems, relayed=False):
    """A fresh vireo loads the snapshot, its pages from handler (Uffd);
    relayed: through relay()."""
    name = os.path.basename(handler) + (" (relayed once it polls)" if relayed else "")
    base = os.path.join(tmp, os.path.basename(handler))
    usock, sock = base + ".uffd", base + ".sock"
    h, hlines = start_handler(handler, usock, mem)
    if h.poll() is not None or not os.path.exists(usock):
        problems.append(f"{name}: never listened on {usock}: {h.stderr.read()[-600:]}")
        h.kill()
        h.wait()
        return
    vm = rel = None
    if relayed:
        hsock, usock = usock, base + ".relay"
        rel = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--relay", usock,
                                hsock, str(h.pid)], stdin=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while not os.path.exists(usock) and rel.poll() is None and time.monotonic() < end:
            time.sleep(0.005)
    try:
        vm = fcapi.Instance(args.vireo, ["--api-sock", sock], sock, boot_timeout=TIMEOUT)
        if not vm.ok:
            problems.append(f"{name}: the API socket never answered")
            return
        t0 = time.monotonic()
        status, body, _ = vm.api.put("/snapshot/load", {
            "snapshot_path": state, "mem_backend": {"backend_path": usock,
                                                    "backend_type": "Uffd"},
            "resume_vm": True})
        took = time.monotonic() - t0
        if status != 204:
            problems.append(f"{name}: PUT /snapshot/load: {status} {body}")
            return
        if not vm.wait_output(f"PVGUEST INFO snap round={CHECK_AT}"):
            problems.append(f"{name}: the guest never reached round {CHECK_AT}")
        mid, alive = "".join(hlines), h.poll() is None
        if not alive:
            vm.proc.kill()  # its next fault would wait for ever
        status, out, err = vm.finish(TIMEOUT)
    finally:
        if vm and vm.proc.poll() is None:
            vm.proc.kill()
            vm.finish(30)
        # it serves until killed (when its VMM is gone it panics: "Could
        # not get UFFD and mappings after 5 retries", half a second on)
        for p in (h, rel):
            if p and p.poll() is None:
                p.kill()
            if p:
                p.wait()
        herr = h.stderr.read()
        hout = "".join(hlines)
        for p in (base + ".uffd", base + ".relay"):
            if os.path.lexists(p):
                os.unlink(p)
    got = [int(n) for n in ROUND.findall(out)]
    want = list(range(after + 1, ROUNDS))
    if got != want:
        problems.append(f"{name}: rounds {got[:3]}...{got[-3:]} after the load, want "
                        f"{after + 1}..{ROUNDS - 1}")
    if not re.search(rf"^PVGUEST RESULT snap PASS rounds={ROUNDS}", out, re.M):
        tail = [ln for ln in out.splitlines() if "PVGUEST" in ln][-2:]
        problems.append(f"{name}: no RESULT snap PASS ({tail})")
    if status != 0:
        problems.append(f"{name}: vireo's exit status {status}, want 0: {err[-300:]}")
    if not alive or "Retrying" in mid:
        problems.append(f"{name}: at round {CHECK_AT} the handler had "
                        f"{'retried the handshake' if alive else 'ended'}: {mid[-300:]} "
                        f"{herr[-600:]}")
    extra = " ".join(ln for ln in hout.splitlines() if "Finished Faulting All" in ln)
    if name == "fault_all_handler" and not extra:
        problems.append(f"{name}: it never said 'Finished Faulting All': {hout[-300:]}")
    print(f"{name}: loaded in {took * 1000:.0f} ms, rounds {got[0] if got else '-'}.."
          f"{got[-1] if got else '-'} after the load{'; ' + extra if extra else ''}")


def main():
    if sys.argv[1:2] == ["--relay"]:
        return relay(*sys.argv[2:5])
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("kernel")
    ap.add_argument("--handlers", help="build.sh's OUTDIR, already built")
    args = ap.parse_args()
    if not args.handlers and not os.environ.get("FIRECRACKER_SRC"):
        return skip("FIRECRACKER_SRC is not set (a Firecracker source tree, whose "
                    "src/firecracker/examples/uffd/ is built)")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return skip("no usable /dev/kvm")
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        hdir = args.handlers
        if not hdir:
            hdir = os.path.join(tmp, "handlers")
            failed = build_handlers(hdir)
            if failed and failed[0] == 77:
                return 77  # build.sh said SKIPPED and why
            if failed:
                if failed[1]:
                    print(failed[1])
                print("fc-uffd-handler: FAIL (the handlers did not build)")
                return 1
        disk = os.path.join(tmp, "fc.img")
        with open(disk, "wb") as f:
            f.truncate(1 << 20)
        got = boot_and_snapshot(args, tmp, disk, problems)
        if got:
            state, mem, after = got
            keep = disk + ".saved"  # the disk as the snapshot left it
            shutil.copy(disk, keep)
            for name, relayed in ((HANDLERS[0], False), (HANDLERS[1], False),
                                  (HANDLERS[0], True)):
                shutil.copy(keep, disk)
                load(args, tmp, os.path.join(hdir, name), state, mem, after, problems,
                     relayed)
    for pr in problems:
        print("FAIL:", pr)
    print(f"fc-uffd-handler: {'FAIL' if problems else 'PASS'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
