#!/usr/bin/env python3
"""pvguest's chaos mode (tests_chaos.c) for a list of seeds, under vireo or,
as a measurement, QEMU: random hostile bursts on every virtio device, each
followed by a reset and a request that must work.

usage: chaos_run.py VIREO KERNEL [--transport pci|mmio] [--seeds 1,2,5-9]
                    [--bursts B] [--ops K] [--quiet MS] [--qemu [QEMU]]
                    [--timeout S] [--table] [--net] [--guest-opts OPTS] [--show]

Under vireo the devices are a disk, rng, a balloon (free page reporting
and hinting, statistics), a console into a file and vsock (a socket
nobody serves: connections are refused), with --net a NIC on a TAP in a
fresh namespace (junk frames reach it through each quiet window); each
seed is one boot with quiet windows (quiet=MS) in which no VMM thread
but the vCPUs may work (bench/harness/quiet.py). A seed
passes when every burst passed, vireo exited with the guest's debug-exit
0, nothing but vireo's own lines reached stderr (a sanitizer report
fails it) and no quiet window was busy.

--qemu: the same seeds under QEMU (q35 for pci, microvm for mmio; no
vsock, which needs the host's vhost-vsock), each classed fine, fail (a
burst failed), crash (QEMU died or aborted), guest-reset (QEMU exited
0: the guest reset itself, -no-reboot), hang (no exit within --timeout);
never a failure of this script. --table prints one row for
the README/report table: seeds, bursts, operations, outcome."""
import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import pvguest_run  # noqa: E402
from harness import netns, vmm  # noqa: E402

RESULT_RE = re.compile(r"^PVGUEST RESULT chaos (PASS|FAIL)\b.*\bbursts=(\d+) ops=(\d+)", re.M)
CASE_RE = re.compile(r"^PVGUEST CASE chaos (\S+) ", re.M)
CASE_FAIL_RE = re.compile(r"^PVGUEST CASE chaos \S+ FAIL .*$", re.M)


def parse_seeds(text):
    seeds = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds += range(int(lo), int(hi or lo) + 1)
    return seeds


def guest_test(args, seed):
    t = f"chaos,seed={seed},bursts={args.bursts},ops={args.ops}"
    if args.guest_opts:
        t += "," + args.guest_opts
    if args.qemu:
        return t
    # vireo answers a REQUEST to a port nobody serves with an RST
    return t + ",vsock_rst=1" + (f",quiet={args.quiet}" if args.quiet else "")


def flooder(ns):
    """QuietWatch's during(ms) with a NIC: junk frames reach the TAP every
    5 ms through each window (a NIC that leaves one unread spins)."""
    if ns is None:
        return None
    sock = ns.packet_socket()

    def flood(ms):
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            ns.send_junk_frame(sock)
            time.sleep(0.005)
    return flood


def vireo_seed(args, seed, tmp, ns):
    img = os.path.join(tmp, "disk.img")
    with open(img, "wb") as f:
        f.truncate(64 << 20)
    devices = ["--disk", f"path={img}", "--rng",
               "--balloon",
               "amount_mib=16,free_page_reporting=on,free_page_hinting=on,stats_polling_interval_s=1",
               "--console", f"file={os.path.join(tmp, 'hvc0')}",
               "--vsock", f"cid=3,uds={os.path.join(tmp, 'vsock')}"]
    cmdline = f"pvguest.run={guest_test(args, seed)}"
    if args.transport == "mmio":
        devices += ["--transport", "mmio"]
        cmdline += " pvguest.transport=mmio"
    if ns:
        devices += vmm.vireo_net()
    cmd = vmm.vireo_cmd(cmdline, args.kernel, args.vireo, "256M", 1, devices)
    if ns:
        cmd = ns.cmd(cmd)
    pvguest_run.TIMEOUT = args.timeout
    try:
        p, watch = pvguest_run.run_watched(cmd, tmp, flooder(ns))
    except subprocess.TimeoutExpired:
        return "hang", "", [f"vireo did not exit within {args.timeout} s"], cmd
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    problems = list(watch.problems())
    if p.returncode != 1:
        problems.append(f"exit status {p.returncode}, expected 1 (debug-exit 0)")
    for line in err.splitlines():
        if not line.startswith("vireo: "):
            problems.append(f"stray stderr line: {line!r}")
    if not RESULT_RE.search(out):
        problems.append("no PVGUEST RESULT chaos line; vireo's last words: " +
                        " / ".join(err.splitlines()[-3:]))
    print(f"  host: {watch.summary()}")
    verdict = "fine" if not problems and RESULT_RE.search(out) else "fail"
    if verdict != "fine":
        problems += [f"vireo said: {line}" for line in err.splitlines()[-12:]]
    if p.returncode < 0 or p.returncode > 3:
        verdict = "crash"
    return verdict, out, problems, cmd


def qemu_seed(args, seed, tmp, ns):
    img = os.path.join(tmp, "disk.img")
    with open(img, "wb") as f:
        f.truncate(64 << 20)
    hvc = os.path.join(tmp, "hvc0")
    cmdline = f"pvguest.run={guest_test(args, seed)}"
    if args.transport == "pci":
        machine, sfx = "q35", "-pci,disable-legacy=on"
        serial = ["-device", "virtio-serial-pci,disable-legacy=on"]
    else:
        machine, sfx = "microvm", "-device"
        serial = ["-global", "virtio-mmio.force-legacy=false", "-device", "virtio-serial-device"]
        cmdline += " pvguest.transport=mmio"
    devices = (["-drive", f"file={img},if=none,format=raw,id=d0",
                "-device", f"virtio-blk{sfx},drive=d0", "-device", f"virtio-rng{sfx}",
                "-object", "iothread,id=io0",
                "-device", f"virtio-balloon{sfx},free-page-reporting=on,free-page-hint=on,iothread=io0"] + serial +
               ["-chardev", f"file,id=hvc,path={hvc}", "-device", "virtconsole,chardev=hvc"])
    if ns:
        netdev = f"tap,id=n0,ifname={netns.TAP},script=no,downscript=no,vhost=off"
        devices += ["-netdev", netdev, "-device",
                    f"virtio-net{sfx},netdev=n0,mac={netns.GUEST_MAC}" +
                    (",romfile=" if args.transport == "pci" else "")]
    cmd = vmm.qemu_cmd(cmdline, machine, args.kernel, args.qemu, "256M", 1, devices)
    if ns:
        cmd = ns.cmd(cmd)
    out_path = os.path.join(tmp, "qemu.out")
    with open(out_path, "wb") as o:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=o, stderr=subprocess.STDOUT)
    try:
        proc.wait(args.timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = None
    with open(out_path, "rb") as f:
        out = f.read().decode(errors="replace")
    qlines = [ln for ln in out.splitlines() if "PVGUEST" not in ln and ln.strip()]
    if rc is None:
        verdict = "hang"
    elif rc == 1 and RESULT_RE.search(out) and "RESULT chaos PASS" in out:
        verdict = "fine"
    elif rc in (1, 3):
        verdict = "fail"
    elif rc == 0:       # -no-reboot: the guest reset itself (a triple fault)
        verdict = "guest-reset"
    else:
        verdict = "crash"
    problems = [f"exit status {rc}"] if verdict != "fine" else []
    problems += [f"qemu: {ln.strip()}" for ln in qlines[-3:]]
    return verdict, out, problems, cmd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("kernel")
    ap.add_argument("--transport", choices=("pci", "mmio"), default="pci")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--bursts", type=int, default=4)
    ap.add_argument("--ops", type=int, default=40)
    ap.add_argument("--quiet", type=int, default=100, help="quiet window (ms) after each burst")
    ap.add_argument("--qemu", nargs="?", const=vmm.QEMU, default=None,
                    help="run under this QEMU instead (a measurement: always exits 0)")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per seed")
    ap.add_argument("--table", action="store_true", help="print a results row")
    ap.add_argument("--guest-opts", default="",
                    help="more chaos options: only=blk0-3,trace=1 replays one burst op by op")
    ap.add_argument("--show", action="store_true", help="print the guest's output")
    ap.add_argument("--net", action="store_true",
                    help="a NIC too, on a TAP in a fresh network namespace (root)")
    args = ap.parse_args()

    seeds = parse_seeds(args.seeds)
    if args.net and netns.host_support():
        print(f"SKIPPED ({netns.host_support()})")
        return 77
    outcome = {}
    bursts = ops = 0
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp, \
                (netns.TapNs() if args.net else contextlib.nullcontext()) as ns:
            run = qemu_seed if args.qemu else vireo_seed
            verdict, out, problems, cmd = run(args, seed, tmp, ns)
        m = RESULT_RE.search(out)
        cases = CASE_RE.findall(out)
        if m:
            bursts += int(m.group(2))
            ops += int(m.group(3))
        else:   # died on the way: the bursts that ended
            bursts += len(cases)
            ops += len(cases) * args.ops
        outcome.setdefault(verdict, []).append(seed)
        if args.show:
            print(out)
        print(f"seed {seed}: {verdict}" + (f" ({m.group(0)})" if m else ""))
        if verdict != "fine":
            print("  $", " ".join(cmd))
            for line in CASE_FAIL_RE.findall(out):
                print("  |", line)
            if not m:
                print(f"  | after {cases[-1] if cases else 'no burst'}: the last lines:",
                      *out.splitlines()[-5:], sep="\n  | ")
            for pr in problems:
                print("  FAIL:" if not args.qemu else "  note:", pr)
    who = "qemu" if args.qemu else args.vireo
    summary = ", ".join(f"{k} {len(v)} (seeds {','.join(map(str, v))})" if k != "fine"
                        else f"fine {len(v)}" for k, v in sorted(outcome.items()))
    print(f"chaos {who} {args.transport}: {len(seeds)} seeds, {bursts} bursts, {ops} operations: "
          f"{summary}")
    if args.table:
        print(f"| {who} | {args.transport} | {len(seeds)} | {bursts} | {ops} | {summary} |")
    if args.qemu:
        return 0
    return 0 if set(outcome) == {"fine"} else 1


if __name__ == "__main__":
    sys.exit(main())
