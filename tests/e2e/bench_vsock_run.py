#!/usr/bin/env python3
"""The vsock benchmark's path works (not how fast): bench/vsock.py, one
short round of vireo's vsock (pvguest's bench-vsock, tx and rr, with the
Python host peer on <uds>_52) and of the native socket pair; the script
must exit 0 and vsock.json give every vsock figure for both, with the
streamed byte count checked by the script itself (the host must get all
of it). Run from anywhere: it changes to the repository root.

usage: bench_vsock_run.py VIREO PVGUEST_ELF"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def main():
    vireo, elf = (os.path.abspath(a) for a in sys.argv[1:3])
    if os.geteuid() != 0:
        print("SKIPPED (bench/vsock.py runs as root)")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "bench/vsock.py", "--runs", "1", "--systems", "vireo-vsock,native",
               "--bytes", str(1 << 20), "--secs", "0.2", "--quiet-wait", "0", "--out", tmp, "--vireo", vireo,
               "--pvguest", elf]
        print("$", " ".join(cmd))
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
        print(p.stderr)
        problems = [] if p.returncode == 0 else [f"exit status {p.returncode}"]
        try:
            with open(os.path.join(tmp, "vsock.json")) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            data = {}
            problems.append(f"no vsock.json: {e}")
    for s in ("vireo-vsock", "native"):
        raw = data.get("systems", {}).get(s, {}).get("raw", {})
        for k in ("mb_s", "p50_us", "p99_us"):
            v = (raw.get(k) or [None])[0]
            if not isinstance(v, (int, float)) or v <= 0:
                problems.append(f"{s}: no {k} ({data.get('errors', {}).get(s, 'no reason')})")
    for pr in problems:
        print("FAIL:", pr)
    print("bench vsock:", "FAIL" if problems else "PASS")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
