#!/usr/bin/env python3
"""Boots pvguest under vireo and checks what the guest reports.

usage: pvguest_run.py VIREO KERNEL [--cpus N] [--memory SIZE] [--test NAME]
                      [--initrd-bytes N] [--expect REGEX]... [--transport mmio] [--rng]
                      [--console RX_BYTES]
                      [--balloon SPEC]

Checks: the guest prints PVGUEST READY, its echoed cmdline matches what was
passed (plus what vireo appends: the virtio_mmio.device= entries over
virtio-mmio, clearcpuid= on a PVM host), PVGUEST RESULT <test> PASS with cpus/mem_mib matching the flags, and
vireo exits with status 1 (debug-exit value 0).

--console N: a virtio-console on stdio (vireo's stdin and stdout) and the
serial port in a file, whose lines are the ones checked; N bytes of
CONSOLE_PATTERN go to stdin. For the `console` test, what came out of hvc0
must be exactly what tests_console.c writes."""
import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import zlib

# The harness shared with the benchmarks is bench/harness: bench/ on sys.path.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import quiet, vmm  # noqa: E402

TIMEOUT = 300  # a failure detector only: a healthy run takes well under a second
CONSOLE_PATTERN = b"abcdefghijklmnopqrstuvwxyz0123456789"  # tests_console.c's rx_pattern


def console_input(n):
    return (CONSOLE_PATTERN * (n // len(CONSOLE_PATTERN) + 1))[:n]


def console_expected(lines, indirect=True):
    """What pvguest's console test writes to hvc0."""
    out = b"PVGUEST-HVC0 hello\nPVGUEST-HVC0 chain a-b-c\n"
    if indirect:
        out += b"PVGUEST-HVC0 indirect x\n"
    for i in range(lines):
        out += b"PVGUEST-HVC0 %04d " % i
        out += bytes(97 + (i + j) % 26 for j in range(48)) + b"\n"
    return out


def mem_mib(size):
    units = {"K": 1 / 1024, "M": 1, "G": 1024}
    return int(float(size[:-1]) * units[size[-1]]) if size[-1] in units else int(size) >> 20


def run_watched(cmd, tmp, during=None):
    """subprocess.run, with the guest's output in a file that a
    quiet.QuietWatch follows (the test's option quiet=MS); during(ms), if
    given, runs in each window (QuietWatch's host-side traffic)."""
    out_path, err_path = os.path.join(tmp, "vmm.out"), os.path.join(tmp, "vmm.err")
    with open(out_path, "wb") as o, open(err_path, "wb") as e:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=o, stderr=e)
    watch = quiet.QuietWatch(proc.pid, out_path, during)
    watch.start()
    try:
        proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    finally:
        watch.stop()
    with open(out_path, "rb") as o, open(err_path, "rb") as e:
        return subprocess.CompletedProcess(cmd, proc.returncode, o.read(), e.read()), watch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("kernel")
    ap.add_argument("--cpus", type=int, default=1)
    ap.add_argument("--memory", default="256M")
    ap.add_argument("--test", default="boot")
    ap.add_argument("--initrd-bytes", type=int, default=0)
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--disk", action="append", default=[],
                    help="SIZE[,opts]: attach a fresh raw image of SIZE with --disk opts")
    ap.add_argument("--extra", default="", help="more guest cmdline")
    ap.add_argument("--transport", choices=("pci", "mmio"), default="pci",
                    help="vireo's --transport; pvguest.transport follows it")
    ap.add_argument("--rng", action="store_true", help="vireo's --rng (an entropy device)")
    ap.add_argument("--console", type=int, default=None, metavar="RX_BYTES",
                    help="--console stdio fed RX_BYTES of the pattern, --serial to a file")
    ap.add_argument("--balloon", help="vireo's --balloon value (a balloon device)")
    args = ap.parse_args()

    cmdline = f"pvguest.run={args.test} pvguest.cpus={args.cpus} console=ttyS0 x=\"a b\""
    devices = []
    if args.transport == "mmio":
        cmdline += " pvguest.transport=mmio"
        devices += ["--transport", "mmio"]
    if args.rng:
        devices += ["--rng"]
    if args.balloon:
        devices += ["--balloon", args.balloon]
    if args.extra:
        cmdline += " " + args.extra
    with tempfile.TemporaryDirectory() as tmp:
        for i, spec in enumerate(args.disk):
            size, _, opts = spec.partition(",")
            img = os.path.join(tmp, f"disk{i}.img")
            with open(img, "wb") as f:
                f.truncate(mem_mib(size) << 20)
            devices += ["--disk", f"path={img}" + (f",{opts}" if opts else "")]
        if args.initrd_bytes:
            data = random.Random(42).randbytes(args.initrd_bytes)
            path = os.path.join(tmp, "initrd")
            with open(path, "wb") as f:
                f.write(data)
            cmdline += f" pvguest.initrd={len(data)}:{zlib.crc32(data):08x}"
            devices += ["--initrd", path]
        serial_log = os.path.join(tmp, "serial.log")
        if args.console is not None:
            devices += ["--serial", f"file={serial_log}", "--console", "stdio"]
        cmd = vmm.vireo_cmd(cmdline, args.kernel, args.vireo, args.memory, args.cpus, devices)
        print("$", " ".join(cmd))
        stdin = {"stdin": subprocess.DEVNULL}
        if args.console is not None:
            stdin = {"input": console_input(args.console)}
        quiet_watch = None
        try:
            if "quiet=" in args.test and args.console is None:
                p, quiet_watch = run_watched(cmd, tmp)
            elif "quiet=" in args.test:
                # the guest's lines are the serial port's file; stdin feeds hvc0
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
                quiet_watch = quiet.QuietWatch(proc.pid, serial_log)
                quiet_watch.start()
                try:
                    o, e = proc.communicate(console_input(args.console), TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
                    raise
                finally:
                    quiet_watch.stop()
                p = subprocess.CompletedProcess(cmd, proc.returncode, o, e)
            else:
                p = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, **stdin)
        except subprocess.TimeoutExpired as e:
            print((e.stdout or b"").decode(errors="replace"))
            print(f"FAIL: vireo did not exit within {TIMEOUT}s")
            return 1
        hvc = None
        if args.console is not None:
            hvc = p.stdout
            with open(serial_log, "rb") as f:
                p.stdout = f.read()
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    print(out)
    if err:
        print("stderr:", err)

    problems = []
    if quiet_watch:
        print("host:", quiet_watch.summary())
        problems += quiet_watch.problems()
    if p.returncode != 1:
        problems.append(f"exit status {p.returncode}, expected 1 (debug-exit 0)")
    if not re.search(r"^PVGUEST READY t_us=\d+\r?$", out, re.M):
        problems.append("no PVGUEST READY line")
    m = re.search(r"^PVGUEST CMDLINE (.*?)\r?$", out, re.M)
    # vireo announces each virtio-mmio window after the given command line,
    # then, under PVM compatibility (a PVM host), clearcpuid=
    mmio_tail = r"( virtio_mmio\.device=4K@0x[0-9a-f]+:\d+)*" if args.transport == "mmio" else ""
    compat_tail = r"( clearcpuid=[0-9,]+)?"
    if not m or not re.fullmatch(re.escape(cmdline) + mmio_tail + compat_tail, m.group(1)):
        problems.append(f"cmdline not intact: {m.group(1) if m else None!r}")
    name = args.test.split(",")[0]  # options after a comma are not part of the name
    want = rf"^PVGUEST RESULT {re.escape(name)} PASS"
    if args.test == "boot":
        want += rf" cpus={args.cpus} mem_mib={mem_mib(args.memory)}\b"
        if args.initrd_bytes:
            want += rf".* initrd={args.initrd_bytes}\b"
    if not re.search(want, out, re.M):
        problems.append(f"no line matching {want!r}")
    for ex in args.expect:
        if not re.search(ex, out, re.M):
            problems.append(f"no line matching {ex!r}")
    if hvc is not None and name == "console":
        lines = re.search(r"\blines=(\d+)", out)
        want_hvc = console_expected(int(lines.group(1)) if lines else 256,
                                    re.search(r"\bindirect=1\b", out) is not None)
        if hvc != want_hvc:
            problems.append(f"hvc0 gave {len(hvc)} bytes, not the {len(want_hvc)} written: "
                            f"{hvc[:120]!r}")
        else:
            print(f"hvc0: {len(hvc)} bytes, as written")
    for line in err.splitlines():
        if not line.startswith("vireo: "):
            problems.append(f"stray stderr line: {line!r}")
    for pr in problems:
        print("FAIL:", pr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
