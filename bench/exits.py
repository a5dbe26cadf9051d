#!/usr/bin/env python3
"""Exit costs: what a guest pays, from ring 3, for a PIO exit and an MMIO
exit answered by the VMM in userspace and for a queue kick that KVM absorbs
through an ioeventfd; vireo vs QEMU -M q35 vs QEMU -M microvm,pcie=on, all
running the same pvguest `bench-exits` (guest/pvguest/bench_exits.c).

Each VMM boots pvguest with `pvguest.run=bench-exits` and one virtio-blk
device (modern virtio-pci, on a 1 MiB scratch image in a temp dir): the
guest times n=2000 reads of the 8250 scratch register (PIO), n reads of the
device's virtio common config num_queues (MMIO) and n writes to queue 0's
notify address with nothing new in the ring (kick), each with rdtsc around
it, and prints the medians (and p90s). RUNS rounds, the VMMs in turn within
a round (the order rotated each round).

native and container make no VM exits; for scale, a system call round trip
(getppid, a tiny static C program built here with cc) is measured natively
and inside bench/harness/container.py's Container, where cc is found.

usage: bench/exits.py [--runs N] [--systems a,b,...] [--out DIR]
                      [--vireo PATH] [--pvguest PATH] [--n COUNT]
Run from the repository root after ./scripts/build.sh --no-san. Writes
exits.md and exits.json (with the "report" key bench/report.py reads) into
DIR (default bench/results/<UTC timestamp>/)."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

# bench/harness is the library shared with tests/e2e (bench/, the script's
# own directory, is on sys.path)
from harness import hostinfo, results, vmm
from harness.results import COLUMNS
from harness.stats import median_range, summary

VMMS = ["vireo", "qemu-q35", "qemu-microvm"]
SYSTEMS = VMMS + ["native", "container"]
QEMU = vmm.QEMU
TIMEOUT = 120       # one boot; QEMU's firmware alone takes ~3 s on a PVM host
ROWS = [("PIO exit round trip", "pio_ns"), ("MMIO exit round trip", "mmio_ns"),
        ("ioeventfd kick", "kick_ns")]
SYSCALL_ROW = "syscall round trip (getppid), for scale"
NO_EXITS = "no VM, so no VM exits (see the getppid row for scale)"
MICROVM_WHY = ("pvguest found no virtio-pci device on -M microvm,pcie=on (it reaches its "
               "ECAM-only config space through the DSDT's _CBA and places the BARs itself)")

# getppid in a tight loop: the median over 51 batches of 20000 calls, in ns
# per call, on one line. Static, so that it runs in any mount namespace.
SYSCALL_C = r"""
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}
int main(void)
{
	enum { BATCHES = 51, CALLS = 20000 };
	double ns[BATCHES];
	for (int b = 0; b < BATCHES; b++) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int i = 0; i < CALLS; i++)
			syscall(SYS_getppid);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ns[b] = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / CALLS;
	}
	qsort(ns, BATCHES, sizeof(ns[0]), cmp);
	printf("SYSCALL getppid_ns=%.1f min_ns=%.1f\n", ns[BATCHES / 2], ns[0]);
	return 0;
}
"""


def vmm_cmd(system, vireo, elf, img, n):
    cmdline = f"pvguest.run=bench-exits,n={n}"
    if system == "vireo":
        return vmm.vireo_cmd(cmdline, elf, vireo, devices=["--disk", f"path={img}"])
    machine = "q35" if system == "qemu-q35" else "microvm,pcie=on"
    # nothing is pinned here, so QEMU's threads keep their default names
    return vmm.qemu_cmd(cmdline, machine, elf, devices=vmm.qemu_disk(img), thread_names=False)


def run_vmm(system, args, img):
    """One boot; returns {pio_ns: .., mmio_ns: .., kick_ns: .., ...} (the
    fields the guest printed) or raises RuntimeError with the guest's reason."""
    cmd = vmm_cmd(system, args.vireo, args.pvguest, img, args.n)
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"no exit within {TIMEOUT} s")
    out = vmm.serial_text(p.stdout.decode(errors="replace"))
    m = re.findall(r"^.*PVGUEST BENCH exits (.*)$", out, re.M)
    got = {}
    if m:
        kv = vmm.parse_kv(m[-1])
        got = {k: float(v) for k, v in kv.items() if k.endswith("_ns")}
        got["kick_queue"] = kv.get("kick_queue")
    if got.get("pio_ns") is None or (p.returncode != 1 and not got):
        why = [l.split("PVGUEST ", 1)[1] for l in out.splitlines()
               if "PVGUEST RESULT" in l or "PVGUEST INFO" in l]
        err = (p.stderr.decode(errors="replace").strip().splitlines() or [""])[-1]
        raise RuntimeError(f"exit status {p.returncode}: {' | '.join(why[-2:]) or err or 'no output'}")
    return got


def build_syscall_prog(tmp):
    cc = shutil.which("cc")
    if not cc:
        return None, "no C compiler (cc) on this host to build the getppid loop"
    src = os.path.join(tmp, "getppid.c")
    exe = os.path.join(tmp, "getppid")
    with open(src, "w") as f:
        f.write(SYSCALL_C)
    r = subprocess.run([cc, "-O2", "-static", "-o", exe, src], capture_output=True, text=True)
    if r.returncode:
        return None, f"cc failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}"
    return exe, None


def run_syscall(argv):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    m = re.search(r"SYSCALL (.*)", r.stdout)
    if r.returncode or not m:
        raise RuntimeError(f"exit status {r.returncode}: {(r.stderr.strip().splitlines() or [''])[-1]}")
    return float(vmm.parse_kv(m.group(1))["getppid_ns"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help=f"comma-separated, of {','.join(SYSTEMS)}")
    ap.add_argument("--out")
    ap.add_argument("--vireo", default="build/vireo")
    ap.add_argument("--pvguest", default=vmm.PVGUEST)
    ap.add_argument("--n", type=int, default=2000, help="exits of each kind per boot (10-20000)")
    args = ap.parse_args()
    systems = [s for s in args.systems.split(",") if s]
    bad = [s for s in systems if s not in SYSTEMS]
    if bad or args.runs < 1:
        ap.error(f"unknown system {bad}" if bad else "--runs must be at least 1")
    stamp, out = results.out_dir(args.out)

    # per round, None where a round did not measure it (rounds line up by index)
    vals = {s: {f: [None] * args.runs for f in ("pio_ns", "mmio_ns", "kick_ns", "pio_p90_ns",
                                                "mmio_p90_ns", "kick_p90_ns")} for s in VMMS}
    syscall = {"native": [None] * args.runs, "container": [None] * args.runs}
    errors = {}        # system -> the last reason it was not measured
    failures = {s: 0 for s in SYSTEMS}
    given_up = set()   # failed twice, or the guest said why it cannot
    kick_queue = {}
    turns = [s for s in SYSTEMS if s in systems]
    if any(s.startswith("qemu") for s in turns) and not shutil.which(QEMU):
        for s in turns:
            if s.startswith("qemu"):
                errors[s] = f"{QEMU} not installed"
    container = None
    with tempfile.TemporaryDirectory(prefix="vireo-exits-") as tmp:
        img = os.path.join(tmp, "scratch.img")
        with open(img, "wb") as f:
            f.truncate(1 << 20)
        prog = None
        if "native" in turns or "container" in turns:
            prog, why = build_syscall_prog(tmp)
            if why:
                errors["native"] = errors["container"] = why
        try:
            if "container" in turns and "container" not in errors:
                try:
                    from harness.container import Container
                    container = Container("exits", cpus=1, mem_bytes=256 << 20)
                    container.__enter__()
                except Exception as e:  # noqa: BLE001: any failure to set it up is reported
                    container = None
                    errors["container"] = f"no container: {e}"
            for r in range(args.runs):
                order = turns[r % len(turns):] + turns[:r % len(turns)] if turns else []
                for s in order:
                    if s in given_up or (s in errors and not failures[s]):
                        continue    # not set up at all, or given up
                    t0 = time.monotonic()
                    try:
                        if s in VMMS:
                            got = run_vmm(s, args, img)
                            for f in vals[s]:
                                if f in got:
                                    vals[s][f][r] = got[f] / 1000
                            kick_queue[s] = got.get("kick_queue")
                            note = " ".join(f"{k}={got[k] / 1000:.2f}us" for k in
                                            ("pio_ns", "mmio_ns", "kick_ns") if k in got)
                        else:
                            argv = [prog] if s == "native" else container.cmd([prog])
                            ns = run_syscall(argv)
                            syscall[s][r] = ns / 1000
                            note = f"getppid={ns:.0f}ns"
                    except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
                        errors[s] = str(e)
                        failures[s] += 1
                        if failures[s] >= 2 or "FAIL reason=" in str(e):
                            given_up.add(s)
                        note = f"not measured: {e}"
                    print(f"exits: round {r + 1}/{args.runs} {s}: {note} "
                          f"({time.monotonic() - t0:.1f} s)", file=sys.stderr, flush=True)
        finally:
            if container is not None:
                container.__exit__(None, None, None)

    host = hostinfo.host_info(args.vireo)
    cdesc = ""
    if container is not None:
        try:
            cdesc = " " + container.describe()
        except Exception:  # noqa: BLE001
            cdesc = ""
    method = (
        f"bench/exits.py, {args.runs} rounds; within a round each VMM boots pvguest once with "
        f"`pvguest.run=bench-exits,n={args.n}` (1 vCPU, {vmm.MEM}) and one modern virtio-blk "
        "PCI device on a 1 MiB scratch image (vireo `--disk`; QEMU `-device virtio-blk-pci,"
        "disable-legacy=on`, `-cpu host,-arch-capabilities`, microvm as `-M microvm,pcie=on` "
        "with SeaBIOS's microvm build), the order rotated each round. The guest, in ring 3, "
        f"times {args.n} of each with rdtsc (lfence-fenced) and reports the median: a read of "
        "the 8250 scratch register (a PIO exit answered by the VMM in userspace), a read of the "
        "device's virtio common-config num_queues (an MMIO exit answered in userspace) and a "
        "write to queue 0's notify address with nothing new in the ring (absorbed in the host "
        "kernel by an ioeventfd, no return to userspace; the device wakes and finds no work). "
        "Native and container make no VM exits; for scale the last row is a getppid system "
        "call round trip (the median of 51 batches of 20000 calls, a static C loop built with "
        f"cc), run as a plain process and inside the container.{cdesc} Threads are not pinned.")
    rows = []
    for name, f in ROWS:
        row = {"name": name, "unit": "us", "better": "lower", "runs": {}, "skip": {}}
        for c in COLUMNS:
            if c in ("native", "container"):
                row["skip"][c] = NO_EXITS
            elif c not in systems:
                row["skip"][c] = "not run (--systems)"
            elif any(v is not None for v in vals[c][f]):
                row["runs"][c] = vals[c][f]
            else:
                why = errors.get(c, "the guest reported no figure")
                if c == "qemu-microvm" and "reason=no-device" in why:
                    why = f"{MICROVM_WHY} (guest: FAIL reason=no-device)"
                row["skip"][c] = why
        rows.append(row)
    if "native" in systems or "container" in systems:
        row = {"name": SYSCALL_ROW, "unit": "us", "better": "lower", "runs": {}, "skip": {}}
        for c in COLUMNS:
            if c in ("native", "container"):
                if any(v is not None for v in syscall[c]):
                    row["runs"][c] = syscall[c]
                else:
                    row["skip"][c] = errors.get(c, "not run (--systems)")
            else:
                row["skip"][c] = ("not measured: pvguest makes no system calls (no kernel); "
                                  "the exit rows are the VM's costs")
        rows.append(row)
    report = results.report_group("exits", "Exit costs", method, rows)
    res = {"host": host, "runs": args.runs, "n": args.n, "memory": vmm.MEM,
               "systems": {s: {f: summary(v) for f, v in vals[s].items()} | {"raw": vals[s]}
                           for s in VMMS if s in systems},
               "syscall_us": {s: summary(v) for s, v in syscall.items() if s in systems},
               "kick_queue": kick_queue, "errors": errors, "report": report}

    def cell(xs):
        return median_range(summary(xs), 3, "")

    lines = [f"# Exit costs ({stamp})", "",
             f"Host: {host['cpu']}, {host['cores']} cores, Linux {host['kernel']}, KVM "
             f"{host['kvm']}; {host['vireo']}; {host['qemu']}.",
             f"Median of the guest's medians over {args.runs} rounds, in us, [min-max].", "",
             "| | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for row in rows:
        lines.append(f"| {row['name']} | " + " | ".join(
            cell(row["runs"][c]) if c in row["runs"] else "-" for c in COLUMNS) + " |")
    lines += ["", "Not measured:", ""]
    for row in rows:
        for c, why in row["skip"].items():
            lines.append(f"- {row['name']}, {c}: {why}")
    lines += ["", "Method: " + method]
    results.write(out, "exits", lines, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
