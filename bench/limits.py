#!/usr/bin/env python3
"""What a rate limiter that does not limit and the seccomp filters cost:
vireo with no limiter ("off") beside the same VM with buckets so large
they never run dry ("on", `bw=1T/1,ops=1T/1`: every request still reads
the clock and takes tokens), both with the filters on (the default), and
a third with no limiter and the filters off ("seccomp off", `--seccomp
off`), in one run, the three taking turns each round. Rows: pvguest's
bench-blk 4 KiB random reads at queue depth 1 (p50 latency) and 32
(IOPS), and bench-net 64-byte UDP TX to a sink on the TAP's host end
(packets/s).

usage: bench/limits.py [--runs N] [--secs S] [--out DIR] [--vireo PATH]
                       [--pvguest PATH] [--netpeer PATH]
Run from the repository root after ./scripts/build.sh --no-san, as root
(the TAP). Writes limits.md and limits.json into DIR (default
bench/results/<UTC timestamp>/)."""
import argparse
import os
import re
import subprocess
import sys
import tempfile

from harness import hostinfo, netns, results, vmm
from harness.netpeer import Netpeer
from harness.stats import median_range, summary

NEVER = "1T/1"     # 2^40 tokens a millisecond: never runs dry
MODES = ["off", "on", "seccomp off"]


def mode_flags(mode):
    """The flags beyond the device's own of a mode."""
    return ["--seccomp", "off"] if mode == "seccomp off" else []


def blk(args, mode, img, qd):
    """(iops, p50 us) of one bench-blk run."""
    opts = f",bw={NEVER},ops={NEVER}" if mode == "on" else ""
    cmd = vmm.vireo_cmd(f"pvguest.run=bench-blk,mode=randread,bs=4K,qd={qd},secs={args.secs}",
                        args.pvguest, args.vireo,
                        devices=["--disk", f"path={img}{opts}"] + mode_flags(mode))
    out = subprocess.run(cmd, capture_output=True, timeout=120).stdout.decode(errors="replace")
    m = re.search(r"PVGUEST BENCH blk (.*)", out)
    if not m:
        raise RuntimeError("no BENCH line")
    kv = vmm.parse_kv(m.group(1))
    return float(kv["iops"]), float(kv["lat_p50_us"])


def net(args, mode, ns):
    """Packets/s the sink got from bench-net TX."""
    opts = f",tx_bw={NEVER},tx_ops={NEVER}" if mode == "on" else ""
    sink = Netpeer(ns, ["sink", "--bind", f"{netns.HOST_IP}:{netns.PEER_PORT}",
                        "--secs", str(args.secs + 20)], netpeer=args.netpeer)
    cmd = vmm.vireo_cmd(vmm.net_cmdline(f"bench-net,mode=tx,size=64,ms={args.secs * 1000}"),
                        args.pvguest, args.vireo,
                        devices=["--net", f"tap={netns.TAP},mac={netns.GUEST_MAC}{opts}"]
                        + mode_flags(mode))
    subprocess.run(ns.cmd(cmd), capture_output=True, timeout=120)
    got = sink.result(3)
    return float(got["pkts"]) / float(got["secs"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--secs", type=int, default=2)
    ap.add_argument("--out")
    ap.add_argument("--vireo", default="build/vireo")
    ap.add_argument("--pvguest", default=vmm.PVGUEST)
    ap.add_argument("--netpeer", default="build/tools/netpeer/netpeer")
    args = ap.parse_args()
    stamp, out = results.out_dir(args.out)
    rows = ["blk randread 4K QD1, p50 us", "blk randread 4K QD32, IOPS", "net TX 64 B, pkt/s"]
    vals = {r: {m: [] for m in MODES} for r in rows}
    skip = netns.host_support()
    with tempfile.TemporaryDirectory() as tmp:
        img = os.path.join(tmp, "disk.img")
        with open(img, "wb") as f:
            f.truncate(256 << 20)
        for r in range(args.runs):
            # each mode goes first, in the middle and last in turn
            for mode in MODES[r % len(MODES):] + MODES[:r % len(MODES)]:
                vals[rows[0]][mode].append(blk(args, mode, img, 1)[1])
                vals[rows[1]][mode].append(blk(args, mode, img, 32)[0])
                if not skip:
                    with netns.TapNs(guest_mac=netns.GUEST_MAC) as ns:
                        vals[rows[2]][mode].append(net(args, mode, ns))
                print(f"limits: round {r + 1}/{args.runs} {mode}: "
                      + " ".join(f"{v[mode][-1]:.1f}" for v in vals.values() if v[mode]),
                      file=sys.stderr, flush=True)
    host = hostinfo.host_info(args.vireo)
    lines = [f"# What a rate limiter that does not limit and seccomp cost ({stamp})", "",
             f"Host: {host['cpu']}, {host['cores']} cores, Linux {host['kernel']}, KVM "
             f"{host['kvm']}; {host['vireo']}.",
             f"Median over {args.runs} rounds [min-max]; `on` is `bw={NEVER},ops={NEVER}` "
             "(the NIC's tx_), buckets that never run dry; both with the seccomp filters on "
             "(the default); `seccomp off` is no limiter and `--seccomp off`.", "",
             "| | off | on | seccomp off |", "|---|---|---|---|"]
    for row in rows:
        if not vals[row]["off"]:
            lines.append(f"| {row} | not measured: {skip} | | |")
            continue
        lines.append(f"| {row} | " + " | ".join(median_range(summary(vals[row][m]), 1, "")
                                              for m in MODES) + " |")
    results.write(out, "limits", lines, {"host": host, "runs": args.runs, "secs": args.secs,
                                         "rows": {r: {m: summary(v) | {"raw": v}
                                                      for m, v in vals[r].items()}
                                                  for r in rows}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
