#!/usr/bin/env python3
"""The metadata service from the guest: requests per second and latency of
a metadata GET, each request on its own TCP connection, as cloud-init and
the AWS SDKs make them, with pvguest's own TCP client (pvguest.run=mmds,
guest/pvguest/tests_mmds.c) on a virtio-net NIC:

  vireo-v1     vireo's MMDS, V1: a GET
  vireo-v2     vireo's MMDS, V2: a GET with the session's token (taken once)
  host-httpd   the same GET from an HTTP server on the host end of the
               NIC's TAP (busybox httpd serving the same tree as files):
               what a metadata server reached over the VM's network costs

QEMU has no metadata service. Each figure is the median of --runs VMs
(min and max beside), --requests requests each, the systems taking turns.

usage: bench/mmds.py [--runs N] [--requests N] [--out DIR] [--vireo PATH]
                     [--pvguest PATH] [--transport pci|mmio]
(as root: the TAP; run from the repository root after ./scripts/build.sh
--no-san). Writes mmds.md and mmds.json into DIR (default
bench/results/<UTC timestamp>/)."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from harness import hostinfo, netns, results  # bench/ is on sys.path
from harness.stats import median_range, summary

DATA = {"latest": {"meta-data": {"ami-id": "ami-87654321", "reservation-id": "r-79054aef"}}}
PATH = "/latest/meta-data/ami-id"
SYSTEMS = ["vireo-v1", "vireo-v2", "host-httpd"]
BENCH_RE = re.compile(r"^PVGUEST BENCH mmds v=\d+ requests=(\d+) rps=(\d+) "
                      r"p50_us=([\d.]+) p99_us=([\d.]+)", re.M)
MAC = "06:00:ac:10:00:02"


def one_vm(args, tmp, system):
    """One VM's BENCH line as {rps, p50_us, p99_us}, or None."""
    version = 2 if system == "vireo-v2" else 1
    ip = netns.HOST_IP if system == "host-httpd" else "169.254.169.254"
    run = (f"mmds,v={version},ip={ip},path={PATH},expect=ami-87654321,"
           f"rounds={args.requests}")
    mmio = " pvguest.transport=mmio" if args.transport == "mmio" else ""
    cfg = {"boot-source": {"kernel_image_path": args.pvguest,
                           "boot_args": f"console=ttyS0 reboot=k panic=1 pvguest.run={run}{mmio}"},
           "drives": [], "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
           "network-interfaces": [{"iface_id": "eth0", "host_dev_name": netns.TAP,
                                   "guest_mac": MAC}]}
    if system != "host-httpd":
        cfg["mmds-config"] = {"network_interfaces": ["eth0"], "version": f"V{version}"}
    path, meta = os.path.join(tmp, "vm.json"), os.path.join(tmp, "meta.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    with open(meta, "w") as f:
        json.dump(DATA, f)
    argv = [args.vireo, "--no-api", "--config-file", path, "--metadata", meta]
    if args.transport == "pci":
        argv.append("--enable-pci")
    with netns.TapNs() as ns:
        httpd = None
        if system == "host-httpd":
            root = os.path.join(tmp, "www")
            os.makedirs(os.path.join(root, "latest", "meta-data"), exist_ok=True)
            with open(os.path.join(root, PATH.lstrip("/")), "w") as f:
                f.write(DATA["latest"]["meta-data"]["ami-id"])
            httpd = subprocess.Popen(ns.cmd([args.busybox, "httpd", "-f", "-p",
                                             f"{netns.HOST_IP}:80", "-h", root]),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.2)
        try:
            p = subprocess.Popen(ns.cmd(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            out = b""
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                chunk = p.stdout.read1(4096)
                if not chunk:
                    break
                out += chunk
                if b"PVGUEST RESULT mmds" in out and out.endswith(b"\n"):
                    break
            p.terminate()
            p.wait(30)
        finally:
            if httpd:
                httpd.kill()
                httpd.wait()
    m = BENCH_RE.search(out.decode(errors="replace"))
    if not m:
        print(f"mmds: {system}: no BENCH line; output ends {out[-300:]!r}", file=sys.stderr)
        return None
    return {"rps": int(m.group(2)), "p50_us": float(m.group(3)), "p99_us": float(m.group(4))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--out")
    ap.add_argument("--vireo", default="build/vireo")
    ap.add_argument("--pvguest", default="build/guest/pvguest/pvguest.elf")
    ap.add_argument("--transport", choices=("pci", "mmio"), default="mmio")
    args = ap.parse_args()
    args.vireo, args.pvguest = os.path.abspath(args.vireo), os.path.abspath(args.pvguest)
    args.busybox = shutil.which("busybox")
    why = netns.host_support() or (None if args.busybox else "no busybox (busybox-static)")
    if why:
        print(f"mmds: cannot run here: {why}", file=sys.stderr)
        return 1
    stamp, out = results.out_dir(args.out)
    rounds = {s: [] for s in SYSTEMS}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.runs):
            for s in SYSTEMS:
                rounds[s].append(one_vm(args, tmp, s))
                print(f"mmds: round {r + 1}/{args.runs} {s}: {rounds[s][-1]}", file=sys.stderr)
    figs = {s: {k: summary([x[k] if x else None for x in rounds[s]], count=True)
                for k in ("rps", "p50_us", "p99_us")} for s in SYSTEMS}
    data = {"host": hostinfo.host_info(args.vireo), "runs": args.runs,
            "requests": args.requests, "transport": args.transport, "rounds": rounds,
            "figures": figs}
    lines = [f"# The metadata service from the guest ({stamp})", "",
             f"Host: {data['host']}.", "",
             f"A GET of `{PATH}` on a new TCP connection each, {args.requests} per VM, "
             f"pvguest's TCP client, virtio-{args.transport}; median [min-max] of "
             f"{args.runs} VMs.", "",
             "| system | requests/s | p50 us | p99 us |", "|---|---|---|---|"]
    for s in SYSTEMS:
        f = figs[s]
        lines.append(f"| {s} | {median_range(f['rps'], 0)} | {median_range(f['p50_us'], 1)} | "
                     f"{median_range(f['p99_us'], 1)} |")
    results.write(out, "mmds", lines, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
