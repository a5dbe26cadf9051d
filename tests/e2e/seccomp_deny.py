#!/usr/bin/env python3
"""A guest-triggered call outside its thread's seccomp list ends vireo, and
nothing else is harmed.

usage: seccomp_deny.py VIREO PVGUEST_ELF

`vireo run --seccomp-test-deny NAME` (for tests only) leaves the system
call NAME out of every list. pvguest then drives a device whose work on
the event loop needs that call:
  - blk-verify on a disk with engine=sync, pwritev2 denied: the guest's
    first write;
  - rng with --rng, getrandom denied: the guest's first entropy request.
Each run must end with status 159 (128 + SIGSYS) and exactly one report
line on stderr naming the vmm thread and the call; the disk image must be
untouched (the write never ran), and the same image must then serve a
normal run with the filters on (blk-verify passes: its lock was released,
nothing of the first run is left behind).

The same denial in Firecracker's mode (--config-file, --no-api,
--metrics-path): status 148 (its BadSyscall), and the metrics file's last
line says {"seccomp": {"num_faults": 1}}, as a client reading it
(flintlock) needs to learn why. And the API thread's own list: with
accept4 left out, the first client to connect ends vireo (status 148) with
the report naming the api thread."""
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import fcapi, vmm  # noqa: E402

TIMEOUT = 120
STATUS = 128 + 31  # SIGSYS
REPORT = re.compile(r"^vireo: seccomp: the (\w+) thread called (\w+) \((\d+)\), "
                    r"which its list does not allow: the VM ends$")


def run(vireo, kernel, cmdline, devices, extra):
    """--seccomp on, said outright; no leak check: a denied process ends
    inside its SIGSYS handler, where none can run."""
    cmd = vmm.vireo_cmd(cmdline, kernel, vireo, "256M", 1,
                        list(devices) + ["--seccomp", "on"] + list(extra))
    print("$", " ".join(cmd), flush=True)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0")
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT,
                          env=env)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def check_denied(p, call, problems, thread="vmm", status=STATUS, guest=True):
    err = p.stderr.decode(errors="replace").splitlines()
    reports = [line for line in err if line.startswith("vireo: seccomp:")]
    if p.returncode != status:
        problems.append(f"{call}: exit status {p.returncode}, expected {status}")
    if len(reports) != 1:
        problems.append(f"{call}: {len(reports)} report lines: {reports!r}")
        return
    m = REPORT.match(reports[0])
    if not m or m.group(1) != thread or m.group(2) != call:
        problems.append(f"{call}: unexpected report {reports[0]!r}")
    if err[-1] != reports[0]:
        problems.append(f"{call}: the report is not the last line: {err[-1]!r}")
    if guest and b"PVGUEST READY" not in p.stdout:
        problems.append(f"{call}: the guest never ran")


def main():
    vireo, kernel = sys.argv[1], sys.argv[2]
    problems = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("VIREO_TEST_TMPDIR")) as tmp:
        img = os.path.join(tmp, "disk.img")
        with open(img, "wb") as f:
            f.truncate(64 << 20)
        before = digest(img)
        disk = ["--disk", f"path={img},id=vireo-test,engine=sync"]
        blk = "pvguest.run=blk-verify pvguest.blk_id=vireo-test console=ttyS0"

        p = run(vireo, kernel, blk, disk, ["--seccomp-test-deny", "pwritev2"])
        check_denied(p, "pwritev2", problems)
        if digest(img) != before:
            problems.append("pwritev2: the image changed although the write was denied")

        p = run(vireo, kernel, "pvguest.run=rng console=ttyS0", ["--rng"],
                ["--seccomp-test-deny", "getrandom"])
        check_denied(p, "getrandom", problems)

        # Firecracker's mode: the denial counted in the metrics file
        conf, metrics = os.path.join(tmp, "vm.json"), os.path.join(tmp, "metrics")
        with open(conf, "w") as f:
            json.dump({"boot-source": {"kernel_image_path": kernel,
                                       "boot_args": "console=ttyS0 pvguest.run=rng "
                                                    "pvguest.transport=mmio"},
                       "drives": [], "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
                       "entropy": {}}, f)
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0")
        p = subprocess.run([vireo, "--no-api", "--config-file", conf, "--metrics-path", metrics,
                            "--seccomp-test-deny", "getrandom"], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=TIMEOUT, env=env)
        last = (open(metrics).read().strip().splitlines() or [""])[-1] \
            if os.path.exists(metrics) else ""
        try:
            faults = json.loads(last).get("seccomp", {}).get("num_faults")
        except ValueError:
            faults = None
        if p.returncode != 148 or faults != 1:
            problems.append(f"Firecracker's mode: status {p.returncode} (want 148), the metrics' "
                            f"last line {last[:200]!r} (want seccomp.num_faults 1)")

        # the API thread's own list: a client's connection is accepted
        # there, so with accept4 left out the first client ends vireo
        sock = os.path.join(tmp, "api.sock")
        r = fcapi.first_client([vireo, "--api-sock", sock, "--seccomp-test-deny", "accept4"],
                               sock, env, TIMEOUT)
        check_denied(r, "accept4", problems, thread="api", status=148, guest=False)

        # the same image, the filters on, nothing denied: all as usual
        p = run(vireo, kernel, blk, disk, [])
        if p.returncode != 1 or not re.search(rb"^PVGUEST RESULT blk-verify PASS", p.stdout,
                                              re.M):
            problems.append(f"the run after: status {p.returncode}, stderr "
                            f"{p.stderr.decode(errors='replace')[-400:]!r}")

        # an unknown name is the user's error, before anything runs
        p = run(vireo, kernel, blk, disk, ["--seccomp-test-deny", "no_such_call"])
        if p.returncode != 1 or b"no system call is named 'no_such_call'" not in p.stderr:
            problems.append(f"unknown name: status {p.returncode}, {p.stderr[-300:]!r}")
    for line in problems:
        print("FAIL:", line)
    print("seccomp-deny:", "FAIL" if problems else "PASS")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
