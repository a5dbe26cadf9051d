#!/usr/bin/env python3
"""Entropy: how fast random bytes reach the guest through virtio-rng, in
vireo (--rng) and QEMU (-device virtio-rng-pci, on q35 and on
microvm,pcie=on), both running the same pvguest `bench-rng`
(guest/pvguest/tests_rng.c); native and the container call the host's
getrandom(2) directly, for scale.

Each VMM boots pvguest once per round with two benchmarks in turn: BYTES
(64 MiB) in 64 KiB requests with 32 in flight (throughput), then BYTES/16
in 4 KiB requests one at a time (each a kick and a completion). The guest
times them with rdtsc and prints MB/s. Native and container run
os.getrandom in 64 KiB and 4 KiB calls for the same byte counts (Python:
its per-call overhead is small beside 4 KiB of ChaCha20). RUNS rounds, the
systems in turn within a round (the order rotated each round).

usage: bench/rng.py [--runs N] [--systems a,b,...] [--out DIR]
                    [--vireo PATH] [--pvguest PATH] [--bytes N]
Run from the repository root after ./scripts/build.sh --no-san. Writes
rng.md and rng.json (with the "report" key bench/report.py reads) into DIR
(default bench/results/<UTC timestamp>/)."""
import argparse
import re
import shutil
import subprocess
import sys
import time

# bench/harness is the library shared with tests/e2e (bench/, the script's
# own directory, is on sys.path)
from harness import hostinfo, results, vmm
from harness.results import COLUMNS
from harness.stats import median_range, summary

VMMS = ["vireo", "qemu-q35", "qemu-microvm"]
SYSTEMS = VMMS + ["native", "container"]
QEMU = vmm.QEMU
TIMEOUT = 300
ROWS = [("entropy, 64 KiB requests, 32 in flight", "deep"),
        ("entropy, 4 KiB requests, one at a time", "single")]

# the host's getrandom for the same byte counts: "RNG deep=<MB/s> single=<MB/s>"
NATIVE_PY = r"""
import os, sys, time
n = int(sys.argv[1])
out = []
for size, total in ((65536, n), (4096, n // 16)):
    t0 = time.perf_counter_ns(); got = 0
    while got < total:
        got += len(os.getrandom(size))
    out.append(got * 1000 / (time.perf_counter_ns() - t0))
print(f"RNG deep={out[0]:.1f} single={out[1]:.1f}")
"""


def vmm_cmd(system, vireo, elf, nbytes):
    cmdline = (f"pvguest.run=bench-rng,bytes={nbytes},req=65536,depth=32"
               f"+bench-rng,bytes={nbytes // 16},req=4096,depth=1")
    if system == "vireo":
        return vmm.vireo_cmd(cmdline, elf, vireo, devices=["--rng"])
    machine = "q35" if system == "qemu-q35" else "microvm,pcie=on"
    return vmm.qemu_cmd(cmdline, machine, elf,
                        devices=["-device", "virtio-rng-pci,disable-legacy=on"], thread_names=False)


def run_vmm(system, args):
    """One boot: {"deep": MB/s, "single": MB/s}, or RuntimeError with the guest's reason."""
    try:
        p = subprocess.run(vmm_cmd(system, args.vireo, args.pvguest, args.bytes),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"no exit within {TIMEOUT} s")
    out = vmm.serial_text(p.stdout.decode(errors="replace"))
    got = {}
    for line in re.findall(r"^.*PVGUEST BENCH rng (.*)$", out, re.M):
        kv = vmm.parse_kv(line)
        key = "deep" if kv.get("depth") != "1" else "single"
        got[key] = int(kv["bytes"]) * 1000 / int(kv["ns"])
    if len(got) != 2:
        why = [l.split("PVGUEST ", 1)[1] for l in out.splitlines()
               if "PVGUEST RESULT" in l or "PVGUEST INFO" in l]
        err = (p.stderr.decode(errors="replace").strip().splitlines() or [""])[-1]
        raise RuntimeError(f"exit status {p.returncode}: {' | '.join(why[-2:]) or err or 'no output'}")
    return got


def run_host(argv):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    m = re.search(r"RNG (.*)", r.stdout)
    if r.returncode or not m:
        raise RuntimeError(f"exit status {r.returncode}: {(r.stderr.strip().splitlines() or [''])[-1]}")
    return {k: float(v) for k, v in vmm.parse_kv(m.group(1)).items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help=f"comma-separated, of {','.join(SYSTEMS)}")
    ap.add_argument("--out")
    ap.add_argument("--vireo", default="build/vireo")
    ap.add_argument("--pvguest", default=vmm.PVGUEST)
    ap.add_argument("--bytes", type=int, default=64 << 20, help="bytes for the deep row (1 MiB up)")
    args = ap.parse_args()
    systems = [s for s in args.systems.split(",") if s]
    bad = [s for s in systems if s not in SYSTEMS]
    if bad or args.runs < 1 or args.bytes < (1 << 20):
        ap.error(f"unknown system {bad}" if bad else "--runs >= 1 and --bytes >= 1 MiB")
    stamp, out = results.out_dir(args.out)

    vals = {s: {f: [None] * args.runs for _, f in ROWS} for s in SYSTEMS}
    errors, failures, given_up = {}, {s: 0 for s in SYSTEMS}, set()
    turns = [s for s in SYSTEMS if s in systems]
    if any(s.startswith("qemu") for s in turns) and not shutil.which(QEMU):
        for s in turns:
            if s.startswith("qemu"):
                errors[s] = f"{QEMU} not installed"
    container = None
    try:
        if "container" in turns:
            try:
                from harness.container import Container
                container = Container("rng", cpus=1, mem_bytes=256 << 20, net=False)
                container.__enter__()
            except Exception as e:  # noqa: BLE001: any failure to set it up is reported
                container = None
                errors["container"] = f"no container: {e}"
        for r in range(args.runs):
            order = turns[r % len(turns):] + turns[:r % len(turns)] if turns else []
            for s in order:
                if s in given_up or (s in errors and not failures[s]):
                    continue
                t0 = time.monotonic()
                try:
                    if s in VMMS:
                        got = run_vmm(s, args)
                    else:
                        argv = [sys.executable, "-c", NATIVE_PY, str(args.bytes)]
                        got = run_host(argv if s == "native" else container.cmd(argv))
                    for f in got:
                        vals[s][f][r] = got[f]
                    note = " ".join(f"{k}={v:.0f}MB/s" for k, v in got.items())
                except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
                    errors[s] = str(e)
                    failures[s] += 1
                    if failures[s] >= 2 or "FAIL reason=" in str(e):
                        given_up.add(s)
                    note = f"not measured: {e}"
                print(f"rng: round {r + 1}/{args.runs} {s}: {note} "
                      f"({time.monotonic() - t0:.1f} s)", file=sys.stderr, flush=True)
    finally:
        if container is not None:
            container.__exit__(None, None, None)

    host = hostinfo.host_info(args.vireo)
    method = (
        f"bench/rng.py, {args.runs} rounds; within a round each VMM boots pvguest once "
        f"(1 vCPU, {vmm.MEM}) with a virtio-rng device (vireo `--rng`; QEMU `-device "
        "virtio-rng-pci,disable-legacy=on`, its default rng-builtin backend, `-cpu "
        "host,-arch-capabilities`, microvm as `-M microvm,pcie=on` with SeaBIOS's microvm "
        f"build) and runs `bench-rng` twice: {args.bytes >> 20} MiB in 64 KiB requests with "
        f"32 in flight, then {args.bytes >> 24} MiB in 4 KiB requests one at a time (each a "
        "kick and a polled completion), timed in ring 3 with rdtsc. Native and container call "
        "os.getrandom (Python) in 64 KiB and 4 KiB calls for the same byte counts. The order "
        "is rotated each round; nothing is pinned.")
    rows = []
    for name, f in ROWS:
        row = {"name": name, "unit": "MB/s", "better": "higher", "runs": {}, "skip": {}}
        for c in COLUMNS:
            if c not in systems:
                row["skip"][c] = "not run (--systems)"
            elif any(v is not None for v in vals[c][f]):
                row["runs"][c] = vals[c][f]
            else:
                row["skip"][c] = errors.get(c, "no figure")
        rows.append(row)
    report = results.report_group("rng", "Entropy", method, rows)
    res = {"host": host, "runs": args.runs, "bytes": args.bytes, "memory": vmm.MEM,
           "systems": {s: {f: summary(v) for f, v in vals[s].items()} | {"raw": vals[s]}
                       for s in SYSTEMS if s in systems},
           "errors": errors, "report": report}

    lines = [f"# Entropy ({stamp})", "",
             f"Host: {host['cpu']}, {host['cores']} cores, Linux {host['kernel']}, KVM "
             f"{host['kvm']}; {host['vireo']}; {host['qemu']}.",
             f"Median over {args.runs} rounds, in MB/s, [min-max].", "",
             "| | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for row in rows:
        lines.append(f"| {row['name']} | " + " | ".join(
            median_range(summary(row["runs"][c]), 0, "") if c in row["runs"] else "-"
            for c in COLUMNS) + " |")
    lines += ["", "Not measured:", ""]
    for row in rows:
        for c, why in row["skip"].items():
            lines.append(f"- {row['name']}, {c}: {why}")
    lines += ["", "Method: " + method]
    results.write(out, "rng", lines, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
