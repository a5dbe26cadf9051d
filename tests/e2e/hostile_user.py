#!/usr/bin/env python3
"""What a careless or hostile user does beyond a bad command line (that is
bad_input.py, with FIFOs and sparse files as the kernel): two VMs on one
image, PATCH /drives to a locked one, signals while a start blocks,
SIGQUIT on a terminal, a console file kept when a start fails, file-size
and stack limits, stdout on a full disk. Each case must end with the
documented status, at most one "vireo: " line, and nothing of the user's
lost.

usage: hostile_user.py VIREO PVGUEST_ELF"""
import fcntl
import json
import os
import pty
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time

# The harness shared with the benchmarks is bench/harness: bench/ on sys.path.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import fcapi, verdict  # noqa: E402

TIMEOUT = 120  # a failure detector only: every case ends in well under a second
PATTERN = bytes(range(256)) * 256  # 64 KiB


def pvguest_args(elf, test, *extra):
    return ["run", "--kernel", elf, "--debug-exit",
            "--cmdline", f"pvguest.run={test} console=ttyS0", *extra]


def one_line(err):
    """The problems with stderr: at most one line, a "vireo: " one."""
    lines = err.decode(errors="replace").splitlines()
    if len(lines) > 1 or (lines and not lines[0].startswith("vireo: ")):
        return [f"stderr is not one 'vireo: ' line: {lines!r}"]
    return []


def wait_for(pred, what, proc=None):
    """Polls pred until true; the timeout only detects a hang."""
    end = time.monotonic() + TIMEOUT
    while not pred():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"vireo ended ({proc.returncode}) before {what}")
        if time.monotonic() > end:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


def read_until(proc, marker):
    """Reads proc's stdout until marker (bytes) has been seen."""
    buf = b""
    while marker not in buf:
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            raise RuntimeError(f"stdout ended before {marker!r}: {buf[-200:]!r}")
        buf += chunk
    return buf


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait(TIMEOUT)


def check_lock(vireo, elf, tmp):
    """Two VMs given one image: the second exits 1 with one line naming the
    image and the lock, and the first VM's data is intact; one image given
    twice to one VM is refused the same way; read-only users share."""
    problems = []
    img = os.path.join(tmp, "shared.img")
    with open(img, "wb") as f:
        f.write(PATTERN * 16)
    first = subprocess.Popen([vireo] + pvguest_args(elf, "idle", "--disk", f"path={img}"),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        read_until(first, b"PVGUEST READY")
        for opts, name in (("", "read-write"), (",readonly=on", "read-only")):
            p = subprocess.run([vireo] + pvguest_args(elf, "blk-verify",
                                                      "--disk", f"path={img}{opts}"),
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
            err = p.stderr.decode(errors="replace")
            if p.returncode != 1:
                problems.append(f"second VM ({name}): status {p.returncode}, want 1")
            problems += one_line(p.stderr)
            if img not in err or "locked for writing" not in err:
                problems.append(f"second VM ({name}): message lacks the image or the lock: "
                                f"{err!r}")
            if b"PVGUEST" in p.stdout:
                problems.append(f"second VM ({name}): its guest ran")
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(TIMEOUT)
    if first.returncode != 128 + signal.SIGTERM:
        problems.append(f"first VM: status {first.returncode} after SIGTERM")
    with open(img, "rb") as f:
        if f.read() != PATTERN * 16:
            problems.append("the first VM's image changed")

    p = subprocess.run([vireo] + pvguest_args(elf, "boot", "--disk", f"path={img}",
                                              "--disk", f"path={img},readonly=on"),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    err = p.stderr.decode(errors="replace")
    if p.returncode != 1 or "--disk #2" not in err or "in use" not in err:
        problems.append(f"one image twice in one VM: status {p.returncode}, {err!r}")
    problems += one_line(p.stderr)
    p = subprocess.run([vireo] + pvguest_args(elf, "boot", "--disk", f"path={img},readonly=on",
                                              "--disk", f"path={img},readonly=on"),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    if p.returncode != 1 or b"PVGUEST RESULT boot PASS" not in p.stdout:
        problems.append(f"one image read-only twice: status {p.returncode}, {p.stderr!r}")
    return problems


def check_patch_locked(vireo, elf, tmp):
    """PATCH /drives to an image another process has locked: 400 naming
    the lock, and the drive keeps its old file."""
    problems = []
    old, locked = os.path.join(tmp, "old.img"), os.path.join(tmp, "locked.img")
    for path in (old, locked):
        with open(path, "wb") as f:
            f.write(PATTERN)
    cfg = os.path.join(tmp, "vm.json")
    with open(cfg, "w") as f:
        json.dump({"boot-source": {"kernel_image_path": elf,
                                   "boot_args": "pvguest.run=idle console=ttyS0"},
                   "drives": [{"drive_id": "data", "path_on_host": old,
                               "is_root_device": False, "is_read_only": False}],
                   "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}, f)
    sock = os.path.join(tmp, "api.sock")
    holder = open(locked, "rb+")
    fcntl.lockf(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
    vm = fcapi.Instance(vireo, ["--api-sock", sock, "--config-file", cfg], sock=sock)
    try:
        if not vm.ok or not vm.wait_output("PVGUEST READY"):
            return [f"the VM did not start: {vm.finish()}"]
        status, body, _ = vm.api.patch("/drives/data", {"drive_id": "data",
                                                        "path_on_host": locked})
        msg = (body or {}).get("fault_message", "")
        if status != 400 or locked not in msg or f"process {os.getpid()}" not in msg:
            problems.append(f"PATCH to a locked image: {status} {body}")
        status, body, _ = vm.api.get("/vm/config")
        drives = (body or {}).get("drives", [{}])
        if status != 200 or drives[0].get("path_on_host") != old:
            problems.append(f"the drive's file changed: {drives}")
        holder.close()
        status, body, _ = vm.api.patch("/drives/data", {"drive_id": "data",
                                                        "path_on_host": locked})
        if status != 204:
            problems.append(f"PATCH once the lock is gone: {status} {body}")
        status, body, _ = vm.api.patch("/drives/data", {"drive_id": "data",
                                                        "path_on_host": locked})
        if status != 204:
            problems.append(f"PATCH to the same image again: {status} {body}")
    finally:
        holder.close()
        status, _, err = vm.stop()
    if status != 128 + signal.SIGTERM:
        problems.append(f"status {status} after SIGTERM: {err!r}")
    return problems


def blocked_in_open(pid):
    """True once pid sleeps in openat (waiting for a FIFO's other end)."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            return f.read().split()[0] == "257"
    except (OSError, IndexError):
        return False


def start_by_api(sock, proc, elf, fifo):
    """Configures a VM whose console is fifo and sends InstanceStart without
    waiting for the answer (it blocks); returns the socket it went on."""
    if not fcapi.wait_socket(sock, proc):
        raise RuntimeError("the API socket never answered")
    api = fcapi.Client(sock)
    for path, body in (("/boot-source", {"kernel_image_path": elf,
                                         "boot_args": "pvguest.run=boot"}),
                       ("/serial", {"serial_out_path": fifo})):
        status, reply, _ = api.put(path, body)
        if status != 204:
            raise RuntimeError(f"PUT {path}: {status} {reply}")
    api.close()
    body = b'{"action_type": "InstanceStart"}'
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(b"PUT /actions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
              b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    return s


def default_signals():
    """The dispositions of a shell's foreground job: a background one (the
    test run by a script with &) starts with SIGINT and SIGQUIT ignored,
    and vireo leaves ignored signals ignored."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


def check_signal_start(vireo, elf, tmp):
    """A start blocked in open() (a FIFO as the console file, nobody
    reading) ends on SIGTERM, SIGINT, SIGHUP and SIGQUIT with 128 + n
    (Firecracker's 156 for SIGHUP), the terminal as it was."""
    problems = []
    fifo = os.path.join(tmp, "console.fifo")
    os.mkfifo(fifo)
    cases = [(sig, ["run", "--kernel", elf, "--serial", f"file={fifo}"], 128 + sig)
             for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)]
    sock = os.path.join(tmp, "start.sock")
    cases.append((signal.SIGHUP, ["--api-sock", sock], 156))
    for sig, args, want in cases:
        master, slave = pty.openpty()
        before = termios.tcgetattr(slave)
        p = subprocess.Popen([vireo] + args, stdin=slave, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, preexec_fn=default_signals)
        start = None
        try:
            if args[0] == "--api-sock":
                start = start_by_api(sock, p, elf, fifo)
            wait_for(lambda: blocked_in_open(p.pid), "the blocking open()", p)
            p.send_signal(sig)
            _, err = p.communicate(timeout=TIMEOUT)
        finally:
            stop(p)
        if start is not None:
            start.close()
        what = f"{signal.Signals(sig).name} while {args[0]} blocks"
        if p.returncode != want:
            problems.append(f"{what}: status {p.returncode}, want {want}")
        problems += one_line(err)
        if termios.tcgetattr(slave) != before:
            problems.append(f"{what}: the terminal was left changed")
        os.close(master)
        os.close(slave)
    return problems


def check_sigquit_tty(vireo, elf, tmp):
    """SIGQUIT to a running VM on a terminal: 131, the terminal restored."""
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    p = subprocess.Popen([vireo] + pvguest_args(elf, "idle"), stdin=slave,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=default_signals)
    problems = []
    try:
        read_until(p, b"PVGUEST READY")
        if termios.tcgetattr(slave) == before:
            problems.append("the terminal was not made raw")
        p.send_signal(signal.SIGQUIT)
        _, err = p.communicate(timeout=TIMEOUT)
    finally:
        stop(p)
    if p.returncode != 128 + signal.SIGQUIT:
        problems.append(f"status {p.returncode}, want {128 + signal.SIGQUIT}")
    problems += one_line(err)
    if termios.tcgetattr(slave) != before:
        problems.append("the terminal was left raw")
    os.close(master)
    os.close(slave)
    return problems


def check_console_file_kept(vireo, elf, tmp):
    """--serial file=: a start that fails keeps the last log; one that
    succeeds replaces it."""
    problems = []
    log = os.path.join(tmp, "console.log")
    with open(log, "wb") as f:
        f.write(b"the last run's log\n")
    p = subprocess.run([vireo] + pvguest_args(elf, "boot", "--serial", f"file={log}",
                                              "--disk", "path=" + os.path.join(tmp, "nope")),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    if p.returncode != 1:
        problems.append(f"a failed start: status {p.returncode}")
    problems += one_line(p.stderr)
    with open(log, "rb") as f:
        if f.read() != b"the last run's log\n":
            problems.append("a failed start changed the console file")
    p = subprocess.run([vireo] + pvguest_args(elf, "boot", "--serial", f"file={log}"),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    with open(log, "rb") as f:
        text = f.read()
    if p.returncode != 1 or not text.startswith(b"PVGUEST READY") or b"last run" in text:
        problems.append(f"a run: status {p.returncode}, the file starts {text[:40]!r}")
    return problems


def check_file_size_limit(vireo, elf, tmp):
    """Under a file-size limit (ulimit -f) below the image's size, a guest
    write past it is an I/O error for that request, not SIGXFSZ (153)."""
    problems = []
    # /var/tmp: cache=none needs O_DIRECT, which tmpfs lacks
    vartmp = tempfile.mkdtemp(prefix="vireo-hostile-", dir="/var/tmp")
    img = os.path.join(vartmp, "fsize.img")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    try:
        for opts in ("engine=uring", "engine=sync", "cache=none"):
            with open(img, "wb") as f:
                f.truncate(64 << 20)
            p = subprocess.run([vireo, "run", "--kernel", elf, "--debug-exit",
                                "--disk", f"path={img},id=vireo-test,{opts}", "--cmdline",
                                "pvguest.run=blk-verify pvguest.blk_id=vireo-test"],
                               stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=TIMEOUT, preexec_fn=limit)
            out = p.stdout.decode(errors="replace")
            # the guest's verdict ends it through debug-exit: an odd status
            if p.returncode < 0 or p.returncode % 2 != 1 or "ioerr" not in out:
                problems.append(f"{opts}: status {p.returncode}, {out[-200:]!r}")
    finally:
        shutil.rmtree(vartmp, ignore_errors=True)
    return problems


def check_small_stack(vireo, elf, tmp):
    """ulimit -s 32: the main thread's stack, and every thread's by default;
    two vCPUs and a disk still pass blk-verify."""
    img = os.path.join(tmp, "stack.img")
    with open(img, "wb") as f:
        f.truncate(16 << 20)

    def limit():
        resource.setrlimit(resource.RLIMIT_STACK, (32 << 10, resource.RLIM_INFINITY))
    p = subprocess.run([vireo, "run", "--kernel", elf, "--debug-exit", "--cpus", "2",
                        "--disk", f"path={img},id=vireo-test", "--cmdline",
                        "pvguest.run=blk-verify pvguest.blk_id=vireo-test pvguest.cpus=2"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT,
                       preexec_fn=limit)
    if p.returncode != 1 or b"PVGUEST RESULT blk-verify PASS" not in p.stdout:
        return [f"status {p.returncode}: {p.stdout[-200:]!r} {p.stderr[-300:]!r}"]
    return []


def check_stdout_unwritable(vireo, elf, tmp):
    """--version and --help to a full disk: status 1 and why; the console
    on a full disk: the guest runs on, and the user is told once."""
    problems = []
    with open("/dev/full", "wb") as full:
        for args in (["--version"], ["run", "--version"], ["run", "--help"]):
            p = subprocess.run([vireo] + args, stdin=subprocess.DEVNULL, stdout=full,
                               stderr=subprocess.PIPE, timeout=TIMEOUT)
            if p.returncode != 1 or b"cannot write to stdout" not in p.stderr:
                problems.append(f"{args} > /dev/full: status {p.returncode}, {p.stderr!r}")
            problems += one_line(p.stderr)
        p = subprocess.run([vireo] + pvguest_args(elf, "boot"), stdin=subprocess.DEVNULL,
                           stdout=full, stderr=subprocess.PIPE, timeout=TIMEOUT)
    said = [ln for ln in p.stderr.decode(errors="replace").splitlines() if "console" in ln]
    if p.returncode != 1 or len(said) != 1 or "No space left" not in said[0]:
        problems.append(f"console on /dev/full: status {p.returncode}, {p.stderr!r}")
    for args, want in ((["run", "--version"], b"vireo v"), (["run", "--help"], b"usage:"),
                       (["run", "--kernel", elf, "--version"], b"vireo v")):
        p = subprocess.run([vireo] + args, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=TIMEOUT)
        if p.returncode != 0 or not p.stdout.startswith(want) or p.stderr:
            problems.append(f"{args}: status {p.returncode}, {p.stdout[:40]!r} {p.stderr!r}")
    return problems


CHECKS = [
    ("image locking", check_lock),
    ("PATCH /drives to a locked image", check_patch_locked),
    ("signals while a start blocks", check_signal_start),
    ("SIGQUIT on a terminal", check_sigquit_tty),
    ("console file kept by a failed start", check_console_file_kept),
    ("a file-size limit below the image", check_file_size_limit),
    ("ulimit -s 32", check_small_stack),
    ("stdout that cannot be written; run --version, --help", check_stdout_unwritable),
]


def main():
    vireo, elf = sys.argv[1:3]
    failures = 0
    tmp = tempfile.mkdtemp(prefix="vireo-hostile-")
    try:
        for name, fn in CHECKS:
            try:
                problems = fn(vireo, elf, tmp)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as ex:
                problems = [f"{type(ex).__name__}: {ex}"]
            failures += verdict.case(name, problems)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return verdict.tally(len(CHECKS), failures, "hostile-user cases")


if __name__ == "__main__":
    sys.exit(main())
