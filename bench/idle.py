#!/usr/bin/env python3
"""What an idle VM costs the host: vireo (polled queues, the default),
vireo with poll=off on its disk and NIC, and QEMU (q35, virtio-blk-pci and
virtio-net-pci, vhost=off), side by side, on this host.

Each boots pvguest's `idle,io=1` (1 vCPU, 256 MiB) with a disk (a 64 MiB
raw image) and a NIC on a TAP in a fresh network namespace
(bench/harness/netns.py): the guest opens the NIC (its RX buffers stay
posted), resolves the host and sends it a datagram, reads 64 sectors,
says `PVGUEST INFO idle idle` and halts for good, as a guest that did
some I/O and then went quiet. From that line on, the VMM's process (all
its threads) is sampled once a second for SECS seconds: CPU time used
(utime + stime of the process, in clock ticks of 10 ms) and context
switches of its threads (each a sleep and a wake-up of one of them). The figures are per second:
the median and the max of the samples, and the whole window's mean.

usage: bench/idle.py [--runs N] [--secs S] [--systems a,b,...] [--out DIR]
                     [--vireo PATH] [--pvguest PATH]
Run from the repository root after ./scripts/build.sh --no-san, as root
(namespaces, TAP). QEMU's column needs qemu-system-x86_64 (a missing one is
reported, not fatal). Writes idle.md and idle.json into DIR (default
bench/results/<UTC timestamp>/). Nothing is asserted."""
import argparse
import glob
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

# bench/harness is the library shared with tests/e2e (bench/, the script's
# own directory, is on sys.path)
from harness import hostinfo, netns, results, vmm
from harness.hostload import wait_quiet
from harness.stats import median_range, summary

SYSTEMS = ["vireo", "vireo-nopoll", "qemu"]
LABEL = {"vireo": "vireo", "vireo-nopoll": "vireo poll=off", "qemu": "QEMU q35"}
BOOT_TIMEOUT = 60
QUIET_WAIT_S = 10
IMG_BYTES = 64 << 20
TICK = os.sysconf("SC_CLK_TCK")


def command(system, img, vireo, pvguest):
    cmdline = vmm.net_cmdline("idle,io=1")
    if system == "qemu":
        return vmm.qemu_cmd(cmdline, kernel=pvguest,
                            devices=vmm.qemu_disk(img) + vmm.qemu_net())
    off = ",poll=off" if system == "vireo-nopoll" else ""
    net = vmm.vireo_net()
    return vmm.vireo_cmd(cmdline, kernel=pvguest, vireo=vireo,
                         devices=["--disk", f"path={img}{off}", net[0], net[1] + off])


def proc_sample(pid):
    """(CPU ticks of the whole process so far, exited threads in, {tid:
    context switches so far} of the threads alive now)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    switches = {}
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            with open(f"{task}/status") as f:
                status = f.read()
        except OSError:
            continue        # a thread that ended meanwhile
        switches[task] = sum(int(v) for v in re.findall(
            r"^(?:non)?voluntary_ctxt_switches:\s+(\d+)", status, re.M))
    return int(fields[11]) + int(fields[12]), switches


def switches_since(before, now):
    """Context switches between two samples: those of the threads alive at
    the second, a thread born since counted from 0 (one that ended in
    between is missed: QEMU's I/O workers come and go)."""
    return sum(n - before.get(tid, 0) for tid, n in now.items())


def run_one(system, img, secs, vireo, pvguest):
    with netns.TapNs() as ns:
        p = subprocess.Popen(ns.cmd(command(system, img, vireo, pvguest)),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        try:
            out = b""
            deadline = time.monotonic() + BOOT_TIMEOUT
            while b"PVGUEST INFO idle idle" not in out:
                left = deadline - time.monotonic()
                if left <= 0 or p.poll() is not None:
                    text = vmm.serial_text(out.decode(errors="replace")).strip()
                    raise RuntimeError("the guest never went idle: "
                                       f"{text.splitlines()[-1] if text else 'no output'}")
                if select.select([p.stdout], [], [], min(left, 1.0))[0]:
                    out += os.read(p.stdout.fileno(), 65536)
            cpu, ctx = [], []
            last = proc_sample(p.pid)
            t_last = t_first = time.monotonic()
            first = last
            for _ in range(int(secs)):
                time.sleep(1.0)
                now = proc_sample(p.pid)
                t_now = time.monotonic()
                dt = t_now - t_last
                cpu.append((now[0] - last[0]) / TICK / dt * 100)
                ctx.append(switches_since(last[1], now[1]) / dt)
                last, t_last = now, t_now
            whole = max(t_last - t_first, 1e-3)
            return {"cpu_pct": cpu, "ctx_per_s": ctx,
                    "cpu_pct_mean": (last[0] - first[0]) / TICK / whole * 100,
                    "ctx_per_s_mean": sum(ctx) / len(ctx) if ctx else 0.0}
        finally:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=int, default=30)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--out")
    ap.add_argument("--vireo", default=vmm.VIREO)
    ap.add_argument("--pvguest", default=vmm.PVGUEST)
    a = ap.parse_args()
    systems = [s for s in a.systems.split(",") if s]
    bad = [s for s in systems if s not in SYSTEMS]
    if bad:
        sys.exit(f"idle: unknown system {bad[0]}: one of {', '.join(SYSTEMS)}")
    stamp, out = results.out_dir(a.out)
    t0 = time.perf_counter()
    res = {s: {"runs": [], "errors": []} for s in systems}
    with tempfile.TemporaryDirectory() as tmp:
        img = os.path.join(tmp, "disk.img")
        with open(img, "wb") as f:
            f.write(os.urandom(1 << 20) * (IMG_BYTES >> 20))
        for r in range(a.runs):
            for s in systems[r % len(systems):] + systems[:r % len(systems)]:
                if s == "qemu" and not shutil.which(vmm.QEMU):
                    res[s]["errors"].append(f"{vmm.QEMU} not found")
                    continue
                wait_quiet(QUIET_WAIT_S)
                print(f"idle: run {r + 1}/{a.runs}: {s}", file=sys.stderr, flush=True)
                try:
                    res[s]["runs"].append(run_one(s, img, a.secs, a.vireo, a.pvguest))
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    res[s]["errors"].append(str(e))
    for s in systems:
        runs = res[s]["runs"]
        res[s]["cpu_pct"] = summary([x for r in runs for x in r["cpu_pct"]])
        res[s]["cpu_pct_max"] = max((x for r in runs for x in r["cpu_pct"]), default=None)
        res[s]["cpu_pct_mean"] = summary([r["cpu_pct_mean"] for r in runs])
        res[s]["ctx_per_s"] = summary([x for r in runs for x in r["ctx_per_s"]])
        res[s]["ctx_per_s_mean"] = summary([r["ctx_per_s_mean"] for r in runs])
    h = hostinfo.host_info(a.vireo)
    lines = [f"# An idle VM's cost to the host ({stamp})", "",
             f"Host: {h['cpu']}, {h['cores']} cores, Linux {h['kernel']}, KVM {h['kvm']}; "
             f"{h['vireo']} ({h['commit']}); {h.get('qemu') or 'no QEMU'}.",
             f"Guest: pvguest `idle,io=1`, 1 vCPU, {vmm.MEM}, a {IMG_BYTES >> 20} MiB disk and "
             f"a NIC on a TAP; {a.runs} runs of {a.secs} s samples, one a second, from the "
             "guest's `idle` line on. A tick is 10 ms of CPU: 1 tick in a 1-s sample is 1%.",
             "", "| figure | " + " | ".join(LABEL[s] for s in systems) + " |",
             "|---|" + "---|" * len(systems)]
    rows = [("CPU, % of one CPU, per 1-s sample: median [min-max]", "cpu_pct", 1),
            ("CPU, % of one CPU, whole window (mean of the runs' means)", "cpu_pct_mean", 2),
            ("context switches/s, per 1-s sample", "ctx_per_s", 0),
            ("context switches/s, whole window", "ctx_per_s_mean", 1)]
    for name, key, d in rows:
        lines.append(f"| {name} | " + " | ".join(median_range(res[s][key], d) for s in systems)
                     + " |")
    errs = [f"- {LABEL[s]}: {e}" for s in systems for e in res[s]["errors"]]
    if errs:
        lines += ["", "Errors:"] + errs
    lines += ["", f"Method: bench/idle.py; the systems take turns each run (rotated); before "
              f"each the script waits up to {QUIET_WAIT_S} s for the host to be about idle. "
              "Samples read /proc/PID/stat (utime, stime, exited threads in) and "
              "/proc/PID/task/*/status (voluntary and nonvoluntary context switches of the "
              "threads alive; a thread that ended between two samples is missed).",
              "", f"Whole run: {time.perf_counter() - t0:.0f} s."]
    results.write(out, "idle", lines, {"stamp": stamp, "host": h, "secs": a.secs,
                                       "runs": a.runs, "systems": res})


if __name__ == "__main__":
    main()
