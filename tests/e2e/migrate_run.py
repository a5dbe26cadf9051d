#!/usr/bin/env python3
"""Live migration end to end: pvguest's snap test (a disk sector written
and every earlier one read back each round, a counter, and with
--netpeer a datagram echoed through netpeer on a TAP) under `vireo run
--api-sock`, moved while it runs to a second vireo started with the same
flags and `--incoming PATH`, by `vireo migrate` (`PUT /vm/migrate`).

Checks: first a destination built for 128 MiB refuses the 256 MiB VM and
the source runs on (its rounds keep coming), and since that migration
read the source's dirty log, a Diff snapshot is refused until a Full one
is taken; then the real move after
round 8: the source ends with status 0, the destination prints the
rounds from the one after the source's last (none lost, none twice) to
the end and passes (every sector reads back), netpeer echoed exactly
what the guest sent in both places; a destination path that exists is
refused; a migration to a path where nobody listens is refused (HTTP
400) and the VM runs on. Prints the downtime the guest saw (the gap
between the source's last line and the destination's first), not
asserted (bench/ measures it).

usage: migrate_run.py VIREO PVGUEST_ELF [--netpeer NETPEER] [--transport pci|mmio]"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import fcapi, netns, vmm  # noqa: E402
from harness.netpeer import Netpeer  # noqa: E402

TIMEOUT = 120  # a failure detector only
ROUNDS = 40
ROUND = re.compile(r"^PVGUEST INFO snap round=(\d+)")


class Reader:
    """A process's stdout, line by line, each with the time it came."""

    def __init__(self, proc):
        self.proc, self.lines = proc, []
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        for raw in iter(self.proc.stdout.readline, b""):
            self.lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))

    def wait(self, pattern, timeout=TIMEOUT):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(re.search(pattern, ln) for _, ln in self.lines):
                return True
            if self.proc.poll() is not None and not self.t.is_alive():
                return False
            time.sleep(0.01)
        return False

    def rounds(self):
        return [(t, int(m.group(1))) for t, ln in self.lines if (m := ROUND.match(ln))]

    def text(self):
        return "\n".join(ln for _, ln in self.lines)


def wait_listening(path, proc, timeout=30):
    """The destination's socket is there (not connected to: it takes one
    connection, the migration's)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if os.path.exists(path):
            return True
        time.sleep(0.005)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("kernel")
    ap.add_argument("--netpeer")
    ap.add_argument("--transport", choices=("pci", "mmio"), default="mmio")
    args = ap.parse_args()
    problems = []
    why = netns.host_support() if args.netpeer else "no --netpeer"
    ns = peer = None
    if why:
        print(f"net: SKIPPED ({why}); the disk and the counter only")
    else:
        ns = netns.TapNs().create()
    procs = []
    try:
        if ns:
            peer = Netpeer(ns, ["echo", "--bind", f"{netns.HOST_IP}:{netns.PEER_PORT}"],
                           netpeer=args.netpeer)
        with tempfile.TemporaryDirectory() as tmp:
            migrate(args, tmp, ns, peer, procs, problems)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        if peer:
            peer.stop()
        if ns:
            ns.destroy()
    for pr in problems:
        print("FAIL:", pr)
    print(f"migrate-run: transport={args.transport} {'FAIL' if problems else 'PASS'}")
    return 1 if problems else 0


def migrate(args, tmp, ns, peer, procs, problems):
    disk = os.path.join(tmp, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    sock = os.path.join(tmp, "api.sock")
    test = f"snap,rounds={ROUNDS},ms=20"
    cmdline = (vmm.net_cmdline(test + ",net=1", f"pvguest.transport={args.transport}") if ns
               else f"pvguest.run={test} pvguest.transport={args.transport}")
    devices = ["--transport", args.transport, "--disk", f"path={disk}"] + \
        (vmm.vireo_net() if ns else [])
    wrap = ns.cmd if ns else (lambda argv: argv)

    def start(argv):
        p = subprocess.Popen(wrap(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        procs.append(p)
        return p, Reader(p)

    def dest_flags(memory="256M,track_dirty=on"):
        return [args.vireo, "run", "--memory", memory, "--cpus", "1", "--debug-exit"] + devices

    # the source tracks dirty pages for Diff snapshots of its own
    src, out = start(vmm.vireo_cmd(cmdline, args.kernel, args.vireo, "256M,track_dirty=on", 1,
                                   devices) + ["--api-sock", sock])
    if not fcapi.wait_socket(sock, src) or not out.wait(r"snap round=4"):
        problems.append("the source never reached round 4")
        return
    api = fcapi.Client(sock)
    # nobody listening: refused, the VM runs on
    status, body, _ = api.put("/vm/migrate", {"destination": os.path.join(tmp, "none.sock")})
    if status != 400 or "No such file" not in str(body):
        problems.append(f"a migration to nowhere: {status} {body}, want 400")
    # a destination of another size refuses it; the source runs on
    small = os.path.join(tmp, "small.sock")
    dst, dout = start(dest_flags("128M") + ["--incoming", small])
    wait_listening(small, dst)
    status, body, _ = api.put("/vm/migrate", {"destination": small})
    if status != 204:
        problems.append(f"PUT /vm/migrate (to 128M): {status} {body}")
    dst.wait(30)
    derr = dst.stderr.read().decode(errors="replace")
    if dst.returncode != 1 or "the VM has 256 MiB of RAM, this one 128" not in derr:
        problems.append(f"a 128 MiB destination: status {dst.returncode}, {derr.strip()[-200:]}")
    last = out.rounds()[-1][1] if out.rounds() else 0
    if src.poll() is not None or not out.wait(rf"snap round={last + 2}\b"):
        problems.append("the source stopped after a refused migration")
        return
    # the refused migration read the dirty log: a Diff now would miss
    # pages, so it is refused until a Full snapshot
    api.patch("/vm", {"state": "Paused"})
    for kind, want in (("Diff", 400), ("Full", 204), ("Diff", 204)):
        status, body, _ = api.put("/snapshot/create", {
            "snapshot_type": kind, "snapshot_path": os.path.join(tmp, f"{kind}.state"),
            "mem_file_path": os.path.join(tmp, f"{kind}.mem")})
        if status != want or (want == 400 and "take a Full one first" not in str(body)):
            problems.append(f"a {kind} snapshot after the refused migration: {status} {body}, "
                            f"want {want}")
    api.patch("/vm", {"state": "Resumed"})
    # an --incoming path that exists is refused
    taken = os.path.join(tmp, "taken")
    open(taken, "w").close()
    p = subprocess.run(dest_flags() + ["--incoming", taken], capture_output=True, text=True,
                       timeout=30)
    if p.returncode != 1 or "Address already in use" not in p.stderr:
        problems.append(f"--incoming onto a path that exists: {p.returncode} {p.stderr.strip()}")
    # the move
    insock = os.path.join(tmp, "in.sock")
    dst, dout = start(dest_flags() + ["--incoming", insock])
    if not wait_listening(insock, dst):
        problems.append("the destination never listened")
        return
    out.wait(r"snap round=8\b")
    api.close()
    t0 = time.monotonic()
    # by the command line's client (PUT /vm/migrate)
    p = subprocess.run([args.vireo, "migrate", "--api-sock", sock, "--to", insock],
                       capture_output=True, text=True, timeout=TIMEOUT)
    if p.returncode:
        problems.append(f"vireo migrate: {p.returncode} {p.stderr.strip()}")
        return
    try:
        src.wait(TIMEOUT)
        dst.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        problems.append("the migration never ended")
        return
    out.t.join(5)
    dout.t.join(5)
    srounds, drounds = out.rounds(), dout.rounds()
    if src.returncode != 0:
        problems.append(f"the source: status {src.returncode}, want 0 (migrated): "
                        f"{src.stderr.read().decode(errors='replace')[-300:]}")
    if dst.returncode != 1:
        problems.append(f"the destination: status {dst.returncode}, want 1 (debug-exit 0): "
                        f"{dst.stderr.read().decode(errors='replace')[-300:]}")
    got = [n for _, n in srounds] + [n for _, n in drounds]
    if got != list(range(ROUNDS)):
        problems.append(f"rounds: the source {[n for _, n in srounds][-3:]}, the destination "
                        f"{[n for _, n in drounds][:3]}, want 0..{ROUNDS - 1} once each")
    m = re.search(rf"^PVGUEST RESULT snap PASS rounds={ROUNDS}.*", dout.text(), re.M)
    if not m:
        problems.append("the destination: no RESULT snap PASS: " + dout.text()[-300:])
    if peer:
        resends = int(re.search(r"resends=(\d+)", m.group(0)).group(1)) if m else 0
        res = peer.result(0.2)  # it echoes until stopped: stop it now
        if int(res.get("pkts", -1)) != ROUNDS + resends:
            problems.append(f"netpeer echoed {res.get('pkts')} datagrams; the guest sent "
                            f"{ROUNDS} and resent {resends}")
    if srounds and drounds:
        print(f"migrated after round {srounds[-1][1]}: {(time.monotonic() - t0):.2f} s in all; "
              f"the guest's gap {(drounds[0][0] - srounds[-1][0]) * 1000:.1f} ms (rounds are "
              f"20 ms apart)")


if __name__ == "__main__":
    sys.exit(main())
