#!/usr/bin/env python3
"""Start time and footprint: vireo vs QEMU (-M microvm, -M q35) on the same
pvguest (PVH ELF), side by side, on this host.

For each VMM, RUNS times:
  ready_ms  process start (just before exec) -> the guest's "PVGUEST READY" line
  exit_ms   process start -> the VMM has exited (pvguest.run=boot, then debug-exit)
  guest_us  the guest's own t_us: its entry -> READY, from kvmclock
and once per VMM, while pvguest idles after READY (pvguest.run=idle):
  rss_kib   the VMM's resident memory, total
  guest_kib the part of it that is guest RAM (the mapping of exactly --memory)
  own_kib   rss_kib - guest_kib: what the VMM itself costs
  own_private_kib  the VMM's private (non-shared-library) resident memory, less guest RAM

usage: bench/start.py [--runs N] [--out DIR]   (run from the repository root,
after ./scripts/build.sh). Prints a Markdown table; writes start.md and
start.json into DIR (default bench/results/<UTC timestamp>/)."""
import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

import hostinfo  # bench/, the script's own directory, is on sys.path

MEM = "256M"
MEM_BYTES = 256 << 20
PVGUEST = "build/guest/pvguest/pvguest.elf"


# The same flags as tests/e2e/qemu_pvguest.sh: this host's KVM cannot set
# MSR 0x10a, and microvm's default firmware (qboot) hands PVH guests an
# unsorted memory map, so microvm boots through SeaBIOS's microvm build.
MICROVM_BIOS = "/usr/share/seabios/bios-microvm.bin"


def qemu_cmd(machine, cmdline):
    fw = ["-bios", MICROVM_BIOS] if machine == "microvm" else []
    return ["qemu-system-x86_64", "-accel", "kvm", "-M", machine, "-cpu",
            "host,-arch-capabilities"] + fw + ["-m", MEM, "-smp", "1", "-nodefaults", "-nographic", "-no-reboot",
            "-serial", "stdio", "-device", "isa-debug-exit,iobase=0x501,iosize=2",
            "-kernel", PVGUEST, "-append", cmdline]


VMMS = {
    "vireo": lambda c: ["build/vireo", "run", "--kernel", PVGUEST, "--memory", MEM,
                        "--cpus", "1", "--debug-exit", "--cmdline", c],
    "qemu-microvm": lambda c: qemu_cmd("microvm", c),
    "qemu-q35": lambda c: qemu_cmd("q35", c),
}


def start(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    return t0, p


def wait_ready(p, t0, timeout):
    """Reads lines until READY; returns (ms, guest t_us) or raises."""
    deadline = t0 + timeout
    for raw in p.stdout:
        line = raw.decode(errors="replace")
        m = re.search(r"PVGUEST READY t_us=(\d+)", line)
        if m:
            return (time.perf_counter() - t0) * 1000, int(m.group(1))
        if time.perf_counter() > deadline:
            break
    raise RuntimeError("no PVGUEST READY")


def time_runs(name, build_cmd, runs, timeout):
    ready, exited, guest = [], [], []
    for _ in range(runs):
        t0, p = start(build_cmd("pvguest.run=boot"))
        try:
            r_ms, t_us = wait_ready(p, t0, timeout)
            p.stdout.read()
            p.wait(timeout=timeout)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        if p.returncode != 1:
            raise RuntimeError(f"{name}: exit status {p.returncode}, expected 1")
        exited.append((time.perf_counter() - t0) * 1000)
        ready.append(r_ms)
        guest.append(t_us)
    return ready, exited, guest


def smaps(pid):
    """(rss, guest, private) in KiB; guest = Rss of mappings of exactly MEM."""
    rss = guest = private = 0
    size = 0
    cur_rss = cur_priv = 0

    def flush():
        nonlocal rss, guest, private
        rss += cur_rss
        private += cur_priv
        if size == MEM_BYTES // 1024:
            guest += cur_rss

    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                flush()
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                size, cur_rss, cur_priv = (hi - lo) // 1024, 0, 0
            elif line.startswith("Rss:"):
                cur_rss = int(line.split()[1])
            elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                cur_priv += int(line.split()[1])
    flush()
    return rss, guest, private


def footprint(name, build_cmd, timeout):
    t0, p = start(build_cmd("pvguest.run=idle"))
    try:
        wait_ready(p, t0, timeout)
        time.sleep(0.3)  # let the VMM settle after the guest's last exit
        rss, guest, private = smaps(p.pid)
    finally:
        p.kill()
        p.wait()
    return {"rss_kib": rss, "guest_kib": guest, "own_kib": rss - guest,
            "own_private_kib": private - guest}


def summary(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def host_info():
    return hostinfo.host_info("build/vireo")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--out")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or os.path.join("bench", "results", stamp)
    os.makedirs(out, exist_ok=True)

    results = {"host": host_info(), "runs": args.runs, "memory": MEM, "vmms": {}}
    for name, build_cmd in VMMS.items():
        if name.startswith("qemu") and not shutil.which("qemu-system-x86_64"):
            results["vmms"][name] = {"error": "qemu-system-x86_64 not installed"}
            continue
        print(f"start: {name}: {args.runs} runs...", file=sys.stderr)
        try:
            ready, exited, guest = time_runs(name, build_cmd, args.runs, args.timeout)
            fp = footprint(name, build_cmd, args.timeout)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            results["vmms"][name] = {"error": str(e)}
            print(f"start: {name}: {e}", file=sys.stderr)
            continue
        results["vmms"][name] = {"ready_ms": summary(ready), "exit_ms": summary(exited),
                                 "guest_us": summary(guest), **fp,
                                 "raw": {"ready_ms": ready, "exit_ms": exited}}

    h = results["host"]
    lines = [f"# Start time and footprint ({stamp})", "",
             f"Host: {h['cpu']}, {h['cores']} cores, Linux {h['kernel']}, KVM {h['kvm']}; "
             f"{h['vireo']}; {h['qemu']}.",
             f"Guest: pvguest (PVH ELF), 1 vCPU, {MEM}; {args.runs} runs each; "
             "median [min-max].", "",
             "| VMM | start -> READY (ms) | start -> exit (ms) | guest entry -> READY (us) "
             "| RSS (KiB) | of it guest RAM | VMM own RSS (KiB) | VMM own private (KiB) |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in results["vmms"].items():
        if "error" in r:
            lines.append(f"| {name} | not measured: {r['error']} | | | | | | |")
            continue
        f = lambda s, d=1: f"{s['median']:.{d}f} [{s['min']:.{d}f}-{s['max']:.{d}f}]"
        lines.append(f"| {name} | {f(r['ready_ms'])} | {f(r['exit_ms'])} | "
                     f"{f(r['guest_us'], 0)} | {r['rss_kib']} | {r['guest_kib']} | "
                     f"{r['own_kib']} | {r['own_private_kib']} |")
    v = results["vmms"].get("vireo", {})
    mv = results["vmms"].get("qemu-microvm", {})
    if "ready_ms" in v and "ready_ms" in mv:
        lines += ["", f"vireo reaches READY {mv['ready_ms']['median'] / v['ready_ms']['median']:.0f}x sooner than "
                  f"QEMU microvm; vireo's own RSS is {v['own_kib'] / 1024:.2f} MiB, {mv['own_kib'] / v['own_kib']:.0f}x less than microvm's."]
    lines += ["", "Method: bench/start.py. Times are taken by the harness around the VMM "
              "process (fork/exec included); READY is the guest's first serial line after "
              "its ring-0 set-up. RSS is read from /proc/PID/smaps while pvguest idles "
              "after READY; guest RAM is the mapping whose size equals --memory."]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(out, "start.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "start.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"start: wrote {out}/start.md and start.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
