#!/usr/bin/env python3
"""pvguest's `balloon` test under QEMU, the reference VMM, on its modern
`virtio-balloon-pci` (deflate-on-oom=on, free-page-reporting=on), to tell
a pvguest driver bug from a vireo device bug. Does not run vireo.

The guest runs `balloon,follow=1`: it announces "phase=waiting" and waits
for the target to move; this script then gives it over QMP (`balloon`,
whose value is the guest's memory once inflated). QEMU's resident set
(VmRSS) is read at each phase the guest announces, as
tests/e2e/balloon_run.py reads vireo's (bench/harness/balloon.py runs both):

- touched: the guest wrote all N MiB;
- inflated: it gave every page back (inflateq): RSS fell by >= 90% of N;
- deflated: it took them back and wrote them again: RSS rose by >= 90% of N;
- reported: it reported them free (reporting_vq): RSS fell by >= 90% of N.

Checks those, the RESULT line PASS with reporting=1 and followed=0, and
QEMU's status 1 (debug-exit 0). Exit 77 (SKIPPED, with the reason) without
QEMU or a usable /dev/kvm.

usage: qemu_balloon.py PVGUEST_ELF [--mib N] [--memory-mib N]"""
import argparse
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import balloon, vmm  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kernel")
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--memory-mib", type=int, default=512)
    args = ap.parse_args()
    qemu = os.environ.get("QEMU", vmm.QEMU)
    if not shutil.which(qemu):
        print(f"SKIPPED (no {qemu})")
        return 77
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIPPED (no usable /dev/kvm)")
        return 77

    r = balloon.run("qemu-q35", args.mib, args.memory_mib, elf=args.kernel, log=print)
    for line in r["lines"]:
        if re.search(r"PVGUEST|KVM|^qemu|harness:", line):
            print("  |", line)
    if r["stderr"].strip():
        print("stderr:", r["stderr"].strip())
    rss = r["rss"]
    print("QEMU RSS MiB by phase:", {k: round(v) for k, v in rss.items()})

    problems = []
    if r["status"] != 1:
        problems.append(f"QEMU exit status {r['status']}, expected 1 (debug-exit 0)")
    if not r["result"] or " PASS " not in r["result"]:
        problems.append(f"no PASS RESULT line (got {r['result']!r})")
    elif r["kv"].get("reporting") != "1" or r["kv"].get("followed") != "0":
        problems.append(f"expected reporting=1 followed=0: {r['result']}")
    missing = [p for p in ["waiting"] + balloon.PHASES if p not in rss]
    if missing:
        problems.append(f"phases never announced: {missing}")
    else:
        need = args.mib * 0.9
        steps = [("inflate", rss["touched"] - rss["inflated"]),
                 ("deflate and touch", rss["deflated"] - rss["inflated"]),
                 ("free page reporting", rss["deflated"] - rss["reported"])]
        for what, mib in steps:
            if mib < need:
                problems.append(f"{what}: RSS moved {mib:.0f} MiB, wanted at least {need:.0f}")
        print(f"qemu balloon: {args.mib} MiB target, inflate returned {steps[0][1]:.0f} MiB, "
              f"free page reporting returned {steps[2][1]:.0f} MiB; guest: "
              + (r["result"].split(" PASS ", 1)[-1] if r["result"] else "-"))
    for pr in problems:
        print("FAIL:", pr)
    print("qemu balloon:", "FAIL" if problems else "PASS")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
