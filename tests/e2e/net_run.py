#!/usr/bin/env python3
"""Runs one of pvguest's network tests under vireo (or QEMU, the reference)
on a TAP in a fresh network namespace, with netpeer echoing on the host end.

usage: net_run.py VIREO PVGUEST_ELF NETPEER [--test NAME[,opts]] [--extra CMDLINE]
                  [--queues N] [--qemu [QEMU]] [--timeout S]

What it sets up (bench/harness/netns.py, netpeer.py): a namespace with vtap0
at 10.77.0.1/24 (IFF_MULTI_QUEUE when --queues > 1), and `netpeer echo` bound
to 10.77.0.1:7777 in it. The VMM runs inside the namespace with the guest's
NIC on vtap0 and MAC 52:54:00:12:34:56 (bench/harness/vmm.py):

    vireo run ... --net tap=vtap0,mac=52:54:00:12:34:56[,queues=N]
    qemu-system-x86_64 ... -netdev tap,ifname=vtap0,vhost=off,... -device virtio-net-pci,...

and pvguest gets `pvguest.run=NAME pvguest.net_ip=10.77.0.2
pvguest.net_peer=10.77.0.1 pvguest.net_port=7777`. Passes when the guest
prints `PVGUEST RESULT <name> PASS` and the VMM exits with status 1
(debug-exit 0); for vireo also every stderr line must be a `vireo:` line.
On failure it says what it saw: the VMM's status and last lines, what the
echo peer got and the TAP's counters, and what that points at.

Exit 0 pass, 1 fail, 77 (SKIPPED) only when the host cannot make a TAP in a
network namespace (no /dev/net/tun, no netns, not root), or has no QEMU for
--qemu. The namespace, the TAP and every process started here are removed
on every path."""
import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# The harness shared with the benchmarks is bench/harness: bench/ on sys.path.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import netns, quiet, vmm  # noqa: E402
from harness.netpeer import Netpeer  # noqa: E402

TIMEOUT = 120       # a failure detector only: a healthy vireo run takes well under a second


def run_vmm(cmd, out_path, err_path, limit, is_qemu, watch=None):
    """Runs the VMM with stdout and stderr in files; returns its exit
    status, or "timeout" / "internal-error" (QEMU pauses instead of exiting
    on a KVM internal error, so its output is watched for one). watch:
    called with the VMM's pid once it runs; returns a thread to stop after."""
    print("$", shlex.join(cmd))
    with open(out_path, "w") as o, open(err_path, "w") as e:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=o, stderr=e)
    watcher = watch(p.pid) if watch else None
    end = time.monotonic() + limit
    status = None
    try:
        while p.poll() is None:
            if is_qemu:
                with open(out_path, errors="replace") as f:
                    text = f.read()
                if "KVM internal error" in text or "KVM: entry failed" in text:
                    status = "internal-error"
                    break
            if time.monotonic() > end:
                status = "timeout"
                break
            time.sleep(0.05)
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        if watcher:
            watcher.stop()
    return status if status else p.returncode


def diagnose(out, err, status, test, peer_line, tap, is_qemu):
    """Hints at where a failure lies, from what each side saw."""
    hints = []
    m = re.search(r"pkts=(\d+)", peer_line or "")
    echoed = int(m.group(1)) if m else None
    if status == "internal-error":
        return ["KVM internal error: a guest instruction this host's KVM cannot run"]
    if status == "timeout":
        hints.append("the VMM was still running at the time limit and was killed")
    if not is_qemu and status == 2:
        return hints + ["vireo rejected its command line (status 2: a usage error): does "
                        "this vireo have --net yet?"]
    if "PVGUEST READY" not in out:
        return hints + ["the guest never printed READY: it did not boot (see the VMM's output)"]
    if not re.search(r"^PVGUEST RESULT", out, re.M):
        hints.append("the guest booted but printed no RESULT line (hung, or killed)")
    if re.search(r"unknown.test", out):
        return hints + ["this pvguest does not know the test: is its net driver in?"]
    if re.search(r"^PVGUEST RESULT \S+ SKIP", out, re.M):
        hints.append("the guest skipped the test: did it find a virtio-net device?")
    m = re.search(r"^PVGUEST RESULT \S+ FAIL (.*)$", out, re.M)
    if m:
        hints.append(f"the guest says what failed: {m.group(1)}")
    # the TAP's view tells where an echo got lost; other tests send what they like
    if tap and test.startswith("net-echo"):
        if tap.get("rx_packets", 0) == 0:
            hints.append("the TAP received nothing from the guest: the device's transmit path "
                         "(or the guest driver's) never delivered a frame")
        elif echoed == 0:
            hints.append(f"the guest sent {tap['rx_packets']} frames but none reached the echo "
                         "peer: wrong addresses, a bad checksum or header, or ARP not answered")
        elif tap.get("tx_packets", 0) and echoed:
            hints.append(f"the peer echoed {echoed} datagrams and the TAP passed "
                         f"{tap['tx_packets']} frames towards the guest: if the guest missed "
                         "them, look at the device's receive path (or the guest driver's)")
        if tap.get("tx_dropped"):
            hints.append(f"the TAP dropped {tap['tx_dropped']} frames towards the guest: the "
                         "VMM did not read them (queue full, or nobody reading)")
    return hints


def run(args, cmdline):
    """Sets up, runs the VMM once and tears down; returns (status, guest
    output, VMM stderr, the echo peer's result line, TAP counters)."""
    with tempfile.TemporaryDirectory() as tmp, \
            netns.TapNs(multi_queue=args.queues > 1) as ns:
        peer = Netpeer(ns, ["echo", "--bind", f"{netns.HOST_IP}:{netns.PEER_PORT}"],
                       netpeer=args.netpeer)
        try:
            # bench/net.py runs the same command lines
            cmd = (vmm.qemu_cmd(cmdline, "q35", args.kernel, args.qemu,
                                devices=vmm.qemu_net(args.queues)) if args.qemu else
                   vmm.vireo_cmd(cmdline, args.kernel, args.vireo,
                                 devices=vmm.vireo_net(args.queues) +
                                 ["--transport", args.transport]))
            out_path, err_path = os.path.join(tmp, "vmm.out"), os.path.join(tmp, "vmm.err")
            quiet_watch = None

            def watch(pid):
                # quiet=MS in the test's options: frames keep reaching the
                # TAP through each window, as a broken NIC's host would see
                nonlocal quiet_watch
                sock = ns.packet_socket()

                def flood(ms):
                    # one frame every 5 ms: a NIC that takes them costs the
                    # loop ~1% (each wakeup polls 50 us, base/evloop.h);
                    # one that leaves a frame unread spins at once
                    end = time.monotonic() + ms / 1000
                    while time.monotonic() < end:
                        ns.send_junk_frame(sock)
                        time.sleep(0.005)
                quiet_watch = quiet.QuietWatch(pid, out_path, flood)
                quiet_watch.start()
                return quiet_watch
            wants_quiet = not args.qemu and "quiet=" in args.test
            status = run_vmm(ns.cmd(cmd), out_path, err_path, args.timeout, bool(args.qemu),
                             watch if wants_quiet else None)
            tap = ns.tap_stats()
        finally:
            peer_line = (peer.stop()[0] or "").strip()
        with open(out_path, errors="replace") as f:
            # the serial stream, less CRs and SeaBIOS's terminal escapes
            out = vmm.serial_text(f.read())
        with open(err_path, errors="replace") as f:
            err = f.read()
    return status, out, err, peer_line, tap, quiet_watch


def on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("kernel")
    ap.add_argument("netpeer")
    ap.add_argument("--test", default="net-echo")
    ap.add_argument("--extra", default="", help="more guest cmdline")
    ap.add_argument("--queues", type=int, default=1)
    ap.add_argument("--qemu", nargs="?", const="qemu-system-x86_64", default=None,
                    help="run under QEMU (this binary) instead of vireo")
    ap.add_argument("--timeout", type=float, default=TIMEOUT)
    ap.add_argument("--transport", choices=("pci", "mmio"), default="pci",
                    help="vireo's --transport; pvguest.transport follows it")
    args = ap.parse_args()
    # SIGTERM (meson's timeout, kill) unwinds like ^C: the VMM, netpeer and
    # the namespaces started here are removed on the way out
    signal.signal(signal.SIGTERM, on_sigterm)

    why = netns.host_support()
    if why:
        print(f"SKIPPED ({why})")
        return 77
    if args.qemu and not shutil.which(args.qemu):
        print(f"SKIPPED (no {args.qemu})")
        return 77
    for what, path in (("vireo", args.vireo), ("pvguest ELF", args.kernel),
                       ("netpeer", args.netpeer)):
        if not os.path.exists(path):
            print(f"FAIL: no {what} at {path}")
            return 1

    name = args.test.split(",")[0]
    extra = args.extra + (" pvguest.transport=mmio" if args.transport == "mmio" else "")
    cmdline = vmm.net_cmdline(args.test, extra.strip())
    who = "QEMU" if args.qemu else "vireo"
    problems, hints = [], []
    t0 = time.monotonic()
    try:
        status, out, err, peer_line, tap, quiet_watch = run(args, cmdline)
    except RuntimeError as e:   # the set-up failed: ip, netpeer
        print(f"FAIL: {e}")
        return 1
    elapsed = time.monotonic() - t0

    print(out.rstrip())
    if err.strip():
        print("stderr:", err.rstrip())
    print(f"host: echo peer: {peer_line or 'no result line'}")
    print(f"host: {netns.TAP} counters: {tap or 'unreadable'} "
          "(rx = frames from the guest, tx = frames towards it)")

    if status != 1:
        problems.append(f"{who} exit status {status}, expected 1 (debug-exit 0)")
    want = rf"^PVGUEST RESULT {re.escape(name)} PASS"
    if not re.search(want, out, re.M):
        got = re.findall(rf"^PVGUEST RESULT {re.escape(name)} .*$", out, re.M)
        problems.append(f"no line matching {want!r}" + (f"; got {got[-1]!r}" if got else ""))
    if quiet_watch:
        print("host:", quiet_watch.summary())
        problems += quiet_watch.problems()
    if not args.qemu:
        for line in err.splitlines():
            if line and not line.startswith("vireo: "):
                problems.append(f"stray stderr line: {line!r}")
    if problems:
        hints = diagnose(out, err, status, name, peer_line, tap, bool(args.qemu))
    for pr in problems:
        print("FAIL:", pr)
    for h in hints:
        print("  hint:", h)
    print(f"{'FAIL' if problems else 'PASS'}: {name} under {who} ({elapsed:.1f} s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
