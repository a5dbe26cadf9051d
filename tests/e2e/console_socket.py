#!/usr/bin/env python3
"""--console socket=PATH end to end: pvguest's console test through a Unix
socket that vireo listens on, with this script as the client.

usage: console_socket.py VIREO PVGUEST_ELF [--transport pci|mmio]

Cases:
  through      one client sends 4 KiB of the pattern (the guest reads it
               first: console,rx_first=1), then reads hvc0's output, byte for
               byte what the guest wrote; a second client that comes
               meanwhile is closed at once and the first goes on
  mid-stream   a client reads the start of 500 KB of output and hangs up;
               the guest runs on, and the next client is taken: the 16
               bytes it sends reach the guest (console,rx_last=16)
  no client    nobody connects: the output is dropped, the guest passes
  exists       a regular file, then a live socket, already at PATH: exit
               status 1, one "vireo: --console: PATH: already exists" line,
               the file untouched, the other program's socket still served
  too long     a 108-byte PATH: exit status 2, one line
  failed start a start that fails after the socket was made leaves none
In every run vireo exits as the guest asks (status 1, debug-exit 0), says
nothing on stderr but "vireo: " lines, and leaves no socket file behind."""
import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import verdict, vmm  # noqa: E402
from pvguest_run import console_expected, console_input  # noqa: E402

TIMEOUT = 120  # a failure detector: each healthy run takes a second or two


class Run:
    """vireo running pvguest's console test with hvc0 on a socket."""

    def __init__(self, args, tmp, test, name):
        self.path = os.path.join(tmp, f"{name}.sock")
        self.serial = os.path.join(tmp, f"{name}.serial")
        cmdline = f"pvguest.run={test} console=ttyS0"
        devices = ["--serial", f"file={self.serial}", "--console", f"socket={self.path}"]
        if args.transport == "mmio":
            cmdline += " pvguest.transport=mmio"
            devices += ["--transport", "mmio"]
        cmd = vmm.vireo_cmd(cmdline, args.kernel, args.vireo, "256M", 1, devices)
        print("$", " ".join(cmd))
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.deadline = time.monotonic() + TIMEOUT

    def left(self):
        return max(0.1, self.deadline - time.monotonic())

    def wait_socket(self):
        while not os.path.exists(self.path):
            if self.p.poll() is not None or time.monotonic() > self.deadline:
                raise RuntimeError(f"no socket at {self.path} (vireo status {self.p.poll()})")
            time.sleep(0.005)

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.left())
        s.connect(self.path)
        return s

    def finish(self, problems):
        """Waits for vireo; checks its status, stderr, the guest's verdict and
        that the socket file is gone. Returns the serial output."""
        try:
            out, err = self.p.communicate(timeout=self.left())
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
            problems.append(f"vireo did not exit within {TIMEOUT}s")
        if self.p.returncode != 1:
            problems.append(f"exit status {self.p.returncode}, expected 1 (debug-exit 0)")
        if out:
            problems.append(f"stdout not empty: {out[:80]!r}")
        for line in err.decode(errors="replace").splitlines():
            if not line.startswith("vireo: "):
                problems.append(f"stray stderr line: {line!r}")
        serial = open(self.serial, errors="replace").read() if os.path.exists(self.serial) else ""
        if not re.search(r"^PVGUEST RESULT console PASS", serial, re.M):
            problems.append("no PVGUEST RESULT console PASS: " + serial[-300:])
        if os.path.exists(self.path):
            problems.append(f"{self.path} left behind")
        return serial

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.communicate()


def read_all(s, limit=None):
    """Reads until EOF (or limit bytes); a timeout ends it too."""
    data = b""
    try:
        while limit is None or len(data) < limit:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def case_through(args, tmp):
    problems = []
    r = Run(args, tmp, "console,rx=4096,rx_first=1", "through")
    try:
        r.wait_socket()
        a = r.connect()
        # the guest waits for input, so the first client is attached: a
        # second one is turned away at once (EOF, or a reset)
        b = r.connect()
        b.settimeout(10)
        try:
            got = b.recv(16)
        except ConnectionResetError:
            got = b""
        except socket.timeout:
            got = None
        if got != b"":
            problems.append(f"the second client was not closed: {got!r}")
        b.close()
        a.sendall(console_input(4096))
        hvc = read_all(a)
        a.close()
        serial = r.finish(problems)
        lines = re.search(r"\blines=(\d+)", serial)
        want = console_expected(int(lines.group(1)) if lines else 256,
                                re.search(r"\bindirect=1\b", serial) is not None)
        if not re.search(r"\brx_bytes=4096\b", serial):
            problems.append("the guest did not read the 4096 bytes sent")
        if hvc != want:
            problems.append(f"hvc0 gave {len(hvc)} bytes, not the {len(want)} written: "
                            f"{hvc[:120]!r}")
    finally:
        r.kill()
    return problems


def case_mid_stream(args, tmp):
    problems = []
    lines = 8000
    # read 16 bytes, write 500 KB, then read 16 more: the second client's
    # input reaching the guest shows it was taken, however fast the guest
    # wrote meanwhile
    r = Run(args, tmp, f"console,rx=16,rx_first=1,lines={lines},rx_last=16", "midstream")
    try:
        r.wait_socket()
        a = r.connect()
        a.sendall(console_input(16))
        first = read_all(a, 4096)
        a.close()  # mid-stream: the guest is still writing
        want = console_expected(lines)
        if len(first) < 4096 or not want.startswith(first):
            problems.append(f"the first client got {len(first)} bytes, not the start of "
                            f"the output: {first[:80]!r}")
        # the next client is taken once the first one's hang-up is seen; one
        # turned away (EOF at once) tries again
        second, tries = None, 0
        while second is None and r.p.poll() is None and time.monotonic() < r.deadline:
            tries += 1
            s = r.connect()
            s.sendall(console_input(16))
            s.settimeout(r.left())
            data = read_all(s)  # to EOF: for a client taken, vireo's exit
            s.close()
            if data:
                second = data
                break
            try:
                r.p.wait(timeout=2)
                second = b""  # taken, and the guest wrote nothing more
            except subprocess.TimeoutExpired:
                pass  # turned away while vireo runs on
        print(f"the second client: {len(second or b'')} bytes after {tries} connect(s)")
        if second and (not re.fullmatch(rb"[ -~\n]*", second) or
                       b"PVGUEST-HVC0 " not in second):
            problems.append(f"the second client got something else: {second[:80]!r}")
        serial = r.finish(problems)
        if not re.search(r"\brx_last_bytes=16\b", serial):
            problems.append("the second client's 16 bytes did not reach the guest")
    finally:
        r.kill()
    return problems


def case_no_client(args, tmp):
    problems = []
    r = Run(args, tmp, "console", "noclient")
    try:
        r.finish(problems)
    finally:
        r.kill()
    return problems


def refused(args, value, want_status, word):
    """vireo must refuse --console value at once: status, one line, word in it."""
    problems = []
    cmd = [args.vireo, "run", "--kernel", args.kernel, "--serial", "none", "--console", value]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    err = p.stderr.decode(errors="replace").splitlines()
    if p.returncode != want_status:
        problems.append(f"status {p.returncode}, want {want_status}")
    if len(err) != 1 or not err[0].startswith("vireo: ") or word not in err[0]:
        problems.append(f"stderr is not one 'vireo: ' line with {word!r}: {err!r}")
    else:
        print("  " + err[0])
    if p.stdout:
        problems.append(f"stdout not empty: {p.stdout[:80]!r}")
    return problems


def case_exists(args, tmp):
    path = os.path.join(tmp, "taken")
    with open(path, "wb") as f:
        f.write(b"someone's log\n")
    before = os.stat(path)
    problems = refused(args, f"socket={path}", 1, f"--console: {path}: already exists")
    after = os.stat(path)
    if open(path, "rb").read() != b"someone's log\n" or \
            (before.st_ino, before.st_mtime_ns) != (after.st_ino, after.st_mtime_ns):
        problems.append("the file was touched")
    # a live socket of another program: refused too, and still its own
    live = os.path.join(tmp, "live.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(live)
    srv.listen(1)
    try:
        problems += refused(args, f"socket={live}", 1, f"--console: {live}: already exists")
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(5)
        try:
            c.connect(live)
            srv.settimeout(5)
            srv.accept()[0].close()
        except OSError as e:
            problems.append(f"the other program's socket no longer works: {e}")
        c.close()
    finally:
        srv.close()
    return problems


def case_too_long(args, tmp):
    path = os.path.join(tmp, "x" * (108 - len(tmp) - 1))
    assert len(path) == 108
    problems = refused(args, f"socket={path}", 2, "longer than 107 bytes")
    if os.path.exists(path):
        problems.append("a file was made at the long path")
    return problems


def case_failed_start(args, tmp):
    """A start that fails after the socket was made (a missing disk) leaves
    no socket file behind."""
    path = os.path.join(tmp, "failed.sock")
    cmd = [args.vireo, "run", "--kernel", args.kernel, "--serial", "none", "--console",
           f"socket={path}", "--disk", f"path={tmp}/missing.img"]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    problems = [] if p.returncode == 1 else [f"status {p.returncode}, want 1"]
    if os.path.exists(path):
        problems.append(f"{path} left behind")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("kernel")
    ap.add_argument("--transport", choices=("pci", "mmio"), default="pci")
    args = ap.parse_args()
    cases = [("through", case_through), ("mid-stream", case_mid_stream),
             ("no client", case_no_client), ("exists", case_exists),
             ("too long", case_too_long), ("failed start", case_failed_start)]
    failures = 0
    with tempfile.TemporaryDirectory(prefix="vireo-hvc-") as tmp:
        for name, fn in cases:
            print(f"--- {name}")
            t0 = time.monotonic()
            try:
                problems = fn(args, tmp)
            except (OSError, RuntimeError, subprocess.SubprocessError) as e:
                problems = [f"{type(e).__name__}: {e}"]
            print(f"    {time.monotonic() - t0:.1f} s")
            failures += verdict.case(name, problems)
    return verdict.tally(len(cases), failures, "console socket cases")


if __name__ == "__main__":
    sys.exit(main())
