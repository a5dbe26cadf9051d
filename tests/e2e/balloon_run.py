#!/usr/bin/env python3
"""virtio-balloon end to end: memory flows back to the host. Boots pvguest's
`balloon` test under `vireo run --balloon amount_mib=N,...` and reads
vireo's resident set (VmRSS of /proc/PID/status) at each phase the guest
announces ("PVGUEST INFO balloon phase=..."; the guest then waits so that
the reading is of that phase):

- touched: the guest wrote all N MiB;
- inflated: it gave every page back (inflateq): RSS must have fallen by
  at least 90% of N MiB;
- deflated: it took them back and wrote them again: RSS rose again;
- reported (free_page_reporting=on): it reported them free, with no host
  action: RSS fell by at least 90% of N MiB again.

Prints one line of figures (MiB returned, the guest's inflate and report
times, its write speed after deflate). Checks the RESULT line PASS and
vireo's status 1 (debug-exit 0).

usage: balloon_run.py VIREO PVGUEST_ELF [--mib N] [--memory SIZE]
                      [--transport pci|mmio] [--no-reporting]"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import vmm  # noqa: E402

TIMEOUT = 120


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("kernel")
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--memory", default="512M")
    ap.add_argument("--transport", choices=("pci", "mmio"), default="pci")
    ap.add_argument("--no-reporting", action="store_true")
    args = ap.parse_args()

    spec = f"amount_mib={args.mib},deflate_on_oom=on"
    if not args.no_reporting:
        spec += ",free_page_reporting=on"
    cmdline = "pvguest.run=balloon,hold_ms=400"
    devices = ["--balloon", spec]
    if args.transport == "mmio":
        cmdline += " pvguest.transport=mmio"
        devices += ["--transport", "mmio"]
    cmd = vmm.vireo_cmd(cmdline, args.kernel, args.vireo, args.memory, 1, devices)
    print("$", " ".join(cmd))
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    rss, out = {}, []
    try:
        for raw in p.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            out.append(line)
            m = re.match(r"PVGUEST INFO balloon phase=(\w+)", line)
            if m:
                rss[m.group(1)] = rss_kib(p.pid) >> 10
        p.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        print("\n".join(out))
        print(f"FAIL: vireo did not exit within {TIMEOUT}s")
        return 1
    err = p.stderr.read().decode(errors="replace")
    print("\n".join(out))
    if err:
        print("stderr:", err)
    print("RSS MiB by phase:", rss)

    problems = []
    if p.returncode != 1:
        problems.append(f"exit status {p.returncode}, expected 1 (debug-exit 0)")
    res = re.search(r"^PVGUEST RESULT balloon PASS .*$", "\n".join(out), re.M)
    if not res:
        problems.append("no PASS RESULT line")
    want = ["touched", "inflated", "deflated"] + ([] if args.no_reporting else ["reported"])
    missing = [k for k in want if k not in rss]
    if missing:
        problems.append(f"phases never announced: {missing}")
    else:
        need = args.mib * 0.9
        inflated = rss["touched"] - rss["inflated"]
        if inflated < need:
            problems.append(f"inflate gave back {inflated} MiB, wanted {need:.0f}")
        if rss["deflated"] - rss["inflated"] < need:
            problems.append(f"deflate and touch: RSS {rss['inflated']} -> {rss['deflated']} MiB")
        line = f"balloon: {args.mib} MiB target, inflate returned {inflated} MiB"
        if not args.no_reporting:
            reported = rss["deflated"] - rss["reported"]
            if reported < need:
                problems.append(f"free page reporting gave back {reported} MiB, wanted {need:.0f}")
            line += f", free page reporting returned {reported} MiB"
        if res:
            line += "; guest: " + res.group(0).split(" PASS ", 1)[1]
        print(line)
    for pr in problems:
        print("FAIL:", pr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
