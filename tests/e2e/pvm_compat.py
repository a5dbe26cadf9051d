#!/usr/bin/env python3
"""vireo's PVM compatibility (--pvm-compat, src/arch/x86/pvm_compat.c) seen
from a guest: pvguest's "r0-insns" test runs int3 and fwait in ring 0 and
reads CPUID there.

usage: pvm_compat.py VIREO PVGUEST_ELF

  --pvm-compat=on   passes on any host: int3 returns just past itself, fwait
                    goes on, ring-0 CPUID has no cx16, the command line gets
                    clearcpuid= before "--" (init's arguments stay last),
                    and stderr says once what was done;
  --pvm-compat=off  no clearcpuid=; on a PVM host the VM ends at the ring-0
                    int3 with the usual report (status 1, "instruction
                    emulation failed", the registers); elsewhere it passes;
  (default) auto    as on where the host's KVM is PVM, else as off."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import vmm  # noqa: E402

TIMEOUT = 120       # a failure detector only: each run takes well under a second
CMDLINE = "pvguest.run=r0-insns console=ttyS0 -- init-arg"
PVM = os.path.isdir("/sys/module/kvm_pvm")


def run(vireo, kernel, compat):
    cmd = vmm.vireo_cmd(CMDLINE, kernel, vireo, "256M", 1,
                        [f"--pvm-compat={compat}"] if compat else [])
    print("$", " ".join(cmd))
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       errors="replace", timeout=TIMEOUT)
    print(p.stdout + p.stderr)
    return p.returncode, p.stdout, p.stderr


def check_on(status, out, err, problems, how):
    if status != 1:
        problems.append(f"{how}: exit status {status}, want 1 (debug-exit 0)")
    if not re.search(r"^PVGUEST RESULT r0-insns PASS cx16=0 syscall_cpl=[03] int3=ok fwait=ok",
                     out, re.M):
        problems.append(f"{how}: no 'RESULT r0-insns PASS cx16=0 ... int3=ok fwait=ok'")
    m = re.search(r"^PVGUEST CMDLINE (.*?)\r?$", out, re.M)
    want = r"pvguest\.run=r0-insns console=ttyS0 clearcpuid=[0-9,]+ -- init-arg"
    if not m or not re.fullmatch(want, m.group(1)):
        problems.append(f"{how}: command line {m.group(1) if m else None!r}, want {want!r}")
    notes = [line for line in err.splitlines() if "PVM compatibility" in line]
    if len(notes) != 1 or "popcnt" not in notes[0] or "int3" not in notes[0]:
        problems.append(f"{how}: want one stderr note naming what it hides and does: {notes}")


def check_off(status, out, err, problems, how):
    m = re.search(r"^PVGUEST CMDLINE (.*?)\r?$", out, re.M)
    if not m or m.group(1) != CMDLINE:
        problems.append(f"{how}: command line {m.group(1) if m else None!r}, want it as given")
    if "PVM compatibility" in err:
        problems.append(f"{how}: a PVM compatibility note without it")
    if PVM:
        if status != 1 or "instruction emulation failed" not in err or "rip=" not in err:
            problems.append(f"{how}: on this PVM host the ring-0 int3 should end the VM with "
                            f"the usual report (status 1, emulation failure, registers); "
                            f"got status {status}")
        if "PVGUEST RESULT" in out:
            problems.append(f"{how}: the test finished, yet this PVM host rejects ring-0 int3")
    elif status != 1 or not re.search(r"^PVGUEST RESULT r0-insns PASS .*int3=ok fwait=ok",
                                      out, re.M):
        problems.append(f"{how}: without PVM the CPU runs int3 and fwait itself; "
                        f"want a PASS, got status {status}")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    vireo, kernel = sys.argv[1:]
    problems = []
    check_on(*run(vireo, kernel, "on"), problems, "--pvm-compat=on")
    check_off(*run(vireo, kernel, "off"), problems, "--pvm-compat=off")
    status, out, err = run(vireo, kernel, None)
    (check_on if PVM else check_off)(status, out, err, problems, "auto")
    for pr in problems:
        print("FAIL:", pr)
    if not problems:
        print(f"PASS: PVM compatibility on, off and auto ({'a PVM host' if PVM else 'not PVM'})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
