#!/usr/bin/env python3
"""Host-guest communication without a network: vsock stream throughput and
request/response latency between pvguest and a host program under vireo
(`--vsock cid=3,uds=PATH`, Firecracker's hybrid vsock over Unix sockets),
beside the same traffic over vireo's virtio-net on a TAP, over a native
Unix socket pair on the host, and between a container and the host over a
Unix socket. QEMU has no vsock on this host (vhost-vsock-pci needs
/dev/vhost-vsock): its columns say so.

- vsock (vireo): pvguest's `bench-vsock` (guest/pvguest/bench_vsock.c)
  connects to host port 52, i.e. vireo connects to PATH_52, where this
  script's peer (Python, below) listens: `mode=tx` streams BYTES (64 MiB)
  in 4 KiB packets as the host's credit allows, and the peer's rate from
  its first byte to its last is the figure; `mode=rr` sends SIZE (64) bytes
  and waits for all of them to come back, for SECS; the guest's p50/p99.
- virtio-net (vireo): pvguest's `bench-net` (as bench/net.py) on a TAP in
  a namespace made for it, tools/netpeer as the host end: tx of 1472-byte
  UDP datagrams (the sink's rate, in MB/s of payload), rr of 64-byte
  datagrams. UDP, not a stream: pvguest has no TCP.
- native: socket.socketpair(AF_UNIX, SOCK_STREAM), a forked child as the
  sink or echo, the parent sends (64 KiB writes) or pings; the same Python
  as the vsock host peer.
- container: the client in bench/harness/container.py's Container (1 CPU),
  the peer on the host listening on a Unix socket in a temporary
  directory, which the container sees through the host's mount tree.

Nothing is pinned; the guest and the clients poll (pvguest's rings,
Python's blocking recv sleeps: the Python ends are the same in every
column). RUNS rounds, the systems in turn (the order rotated each round).

usage: bench/vsock.py [--runs N] [--systems a,b,...] [--out DIR]
                      [--secs S] [--bytes N] [--quiet-wait S] [--vireo PATH]
                      [--pvguest PATH]
Run from the repository root as root after ./scripts/build.sh --no-san.
Writes vsock.md and vsock.json (with the "report" key bench/report.py
reads) into DIR (default bench/results/<UTC timestamp>/)."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

# bench/harness is the library shared with tests/e2e (bench/, the script's
# own directory, is on sys.path)
from harness import hostinfo, netns, results, vmm
from harness.hostload import HostLoad, wait_quiet
from harness.netpeer import Netpeer
from harness.results import COLUMNS
from harness.stats import median_range, summary

SYSTEMS = ["vireo-vsock", "vireo-net", "native", "container"]
VSOCK_PORT = 52
RR_SIZE = 64
NET_SIZE = 1472
BOOT_TIMEOUT = 60
NO_QEMU_VSOCK = ("QEMU has no vsock on this host: vhost-vsock-pci needs /dev/vhost-vsock, "
                 "which this host lacks")
# before each turn, wait (at most this long) for the host to be about idle
QUIET_WAIT_S = 10
# (row, key, unit, better)
ROWS = [("stream guest->host", "mb_s", "MB/s", "higher"),
        (f"request/response {RR_SIZE} B, p50", "p50_us", "us", "lower"),
        (f"request/response {RR_SIZE} B, p99", "p99_us", "us", "lower")]

# The Python ends: "serve PATH tx|rr" (listen, accept one, sink or echo
# until EOF, print JSON), "client PATH tx|rr N SECS" (the guest's stand-in)
# and "pair tx|rr N SECS" (a socketpair and a forked server).
PEER_PY = r"""
import json, os, socket, sys, time

def serve(c, mode):
    n = 0; t0 = t1 = None
    while True:
        d = c.recv(1 << 20)
        if not d:
            break
        now = time.perf_counter()
        if t0 is None:
            t0 = now
        t1 = now; n += len(d)
        if mode == "rr":
            c.sendall(d)
    return {"bytes": n, "secs": (t1 - t0) if n else 0}

def client(c, mode, n, secs):
    if mode == "tx":
        buf = b"\x5a" * 65536; sent = 0; t0 = time.perf_counter()
        while sent < n:
            sent += c.send(buf[:min(len(buf), n - sent)])
        c.shutdown(socket.SHUT_WR)
        c.recv(1)
        return {"bytes": sent, "send_secs": time.perf_counter() - t0}
    msg = b"\x42" * n; lat = []; end = time.perf_counter() + secs
    while time.perf_counter() < end:
        t0 = time.perf_counter_ns(); c.sendall(msg); got = 0
        while got < n:
            got += len(c.recv(n - got))
        lat.append(time.perf_counter_ns() - t0)
    lat.sort()
    return {"n": len(lat), "p50_us": lat[len(lat) // 2] / 1e3,
            "p99_us": lat[min(len(lat) - 1, len(lat) * 99 // 100)] / 1e3}

cmd = sys.argv[1]
if cmd == "serve":
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sys.argv[2]); s.listen(1)
    print("ready", flush=True)
    c, _ = s.accept()
    r = serve(c, sys.argv[3]); c.close()
    print(json.dumps(r), flush=True)
elif cmd == "client":
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(sys.argv[2])
    print(json.dumps(client(c, sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))))
else:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        a.close(); os.close(r)
        os.write(w, json.dumps(serve(b, sys.argv[2])).encode()); os._exit(0)
    b.close(); os.close(w)
    out = client(a, sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    a.close(); srv = json.loads(os.read(r, 65536)); os.waitpid(pid, 0)
    print(json.dumps(out | {"server": srv}))
"""


class Server:
    """The Python peer listening on path (sink or echo), on this host."""

    def __init__(self, path, mode):
        self.p = subprocess.Popen([sys.executable, "-c", PEER_PY, "serve", path, mode],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        if self.p.stdout.readline().strip() != "ready":
            self.stop()
            raise RuntimeError(f"peer did not start: {self.p.stderr.read()[-200:]!r}")

    def result(self, timeout):
        try:
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError("the host peer never saw the stream end")
        if self.p.returncode or not out.strip():
            raise RuntimeError(f"peer: status {self.p.returncode}: {err.strip()[-200:]!r}")
        return json.loads(out.strip().splitlines()[-1])

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.communicate()


def guest_line(out, what):
    """The key=value words of pvguest's PVGUEST BENCH <what> line."""
    m = re.search(rf"PVGUEST BENCH {what} (.*)$", out, re.M)
    if not m:
        why = [l.split("PVGUEST ", 1)[1] for l in out.splitlines() if "PVGUEST RESULT" in l]
        raise RuntimeError(f"no BENCH line: {' | '.join(why) or out.strip()[-200:]!r}")
    return vmm.parse_kv(m.group(1))


def boot(cmd, timeout):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return vmm.serial_text(p.stdout.decode(errors="replace"))


def run_vsock(args, mode):
    with tempfile.TemporaryDirectory() as tmp:
        uds = os.path.join(tmp, "v.sock")
        srv = Server(f"{uds}_{VSOCK_PORT}", "tx" if mode == "tx" else "rr")
        try:
            test = (f"bench-vsock,mode={mode},port={VSOCK_PORT},bytes={args.bytes}" if mode == "tx"
                    else f"bench-vsock,mode=rr,port={VSOCK_PORT},size={RR_SIZE},"
                    f"ms={int(args.secs * 1000)}")
            out = boot(vmm.vireo_cmd(f"pvguest.run={test}", args.pvguest, args.vireo,
                                     devices=["--vsock", f"cid=3,uds={uds}"]),
                       BOOT_TIMEOUT + args.secs * 3)
            g = guest_line(out, "vsock")
            got = srv.result(10)
        finally:
            srv.stop()
    if mode == "tx":
        if got["bytes"] != args.bytes or not got["secs"]:
            raise RuntimeError(f"the host got {got['bytes']} of {args.bytes} bytes")
        return {"mb_s": got["bytes"] / got["secs"] / 1e6}
    return {"p50_us": float(g["p50_us"]), "p99_us": float(g["p99_us"])}


def run_net(args, ns, mode):
    host = f"{netns.HOST_IP}:{netns.PEER_PORT}"
    secs = args.secs
    test = vmm.net_cmdline(f"bench-net,mode={mode},size={NET_SIZE if mode == 'tx' else RR_SIZE},"
                           f"ms={int(secs * 1000)}")
    cmd = ns.cmd(vmm.vireo_cmd(test, args.pvguest, args.vireo, devices=vmm.vireo_net()))
    timeout = BOOT_TIMEOUT + secs * 3
    if mode == "tx":
        sink = Netpeer(ns, ["sink", "--bind", host, "--secs", secs, "--wait", timeout])
        try:
            out = boot(cmd, timeout)
        except BaseException:
            sink.stop()
            raise
        got = sink.result(timeout=secs + 3)
        guest_line(out, "net")
        if int(got["pkts"]) < 2:
            raise RuntimeError(f"the host sink got {got['pkts']} datagrams")
        return {"mb_s": float(got["pps"]) * NET_SIZE / 1e6}
    echo = Netpeer(ns, ["echo", "--bind", host])
    try:
        out = boot(cmd, timeout)
    finally:
        echo.stop()
    g = guest_line(out, "net")
    return {"p50_us": float(g["p50_us"]), "p99_us": float(g["p99_us"])}


def run_py(argv, timeout):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode or not r.stdout.strip():
        raise RuntimeError(f"status {r.returncode}: {(r.stderr.strip().splitlines() or [''])[-1]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_native(args, mode):
    n = args.bytes if mode == "tx" else RR_SIZE
    got = run_py([sys.executable, "-c", PEER_PY, "pair", mode, str(n), str(args.secs)],
                 args.secs * 3 + 60)
    if mode == "tx":
        s = got["server"]
        return {"mb_s": s["bytes"] / s["secs"] / 1e6}
    return {"p50_us": got["p50_us"], "p99_us": got["p99_us"]}


def run_container(args, container, mode):
    n = args.bytes if mode == "tx" else RR_SIZE
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        path = os.path.join(tmp, "peer.sock")
        srv = Server(path, mode)
        try:
            cl = run_py(container.cmd([sys.executable, "-c", PEER_PY, "client", path, mode,
                                       str(n), str(args.secs)]), args.secs * 3 + 60)
            got = srv.result(10)
        finally:
            srv.stop()
    if mode == "tx":
        return {"mb_s": got["bytes"] / got["secs"] / 1e6}
    return {"p50_us": cl["p50_us"], "p99_us": cl["p99_us"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help=f"comma-separated, of {','.join(SYSTEMS)}")
    ap.add_argument("--out")
    ap.add_argument("--secs", type=float, default=2.0, help="request/response run time")
    ap.add_argument("--bytes", type=int, default=64 << 20, help="bytes streamed")
    ap.add_argument("--quiet-wait", type=float, default=QUIET_WAIT_S,
                    help="seconds to wait at most for an idle host before each test (0: none)")
    ap.add_argument("--vireo", default=vmm.VIREO)
    ap.add_argument("--pvguest", default=vmm.PVGUEST)
    args = ap.parse_args()
    systems = [s for s in args.systems.split(",") if s]
    bad = [s for s in systems if s not in SYSTEMS]
    if bad or args.runs < 1 or args.bytes < (1 << 20) or args.secs <= 0:
        ap.error(f"unknown system {bad}" if bad else "--runs >= 1, --bytes >= 1 MiB, --secs > 0")
    if os.geteuid() != 0:
        sys.exit("vsock: run as root (network namespaces, a TAP, the container)")
    stamp, out = results.out_dir(args.out)

    keys = [k for _, k, _, _ in ROWS]
    vals = {s: {k: [None] * args.runs for k in keys} for s in SYSTEMS}
    errors = {}
    turns = [s for s in SYSTEMS if s in systems]
    load, others, waited = HostLoad(), [], []
    container = tap = None
    unusable = set()          # systems whose setup failed
    try:
        if "container" in turns:
            try:
                from harness.container import Container
                container = Container("vsock", cpus=1, mem_bytes=512 << 20, net=False)
                container.__enter__()
            except Exception as e:  # noqa: BLE001: any failure to set it up is reported
                container = None
                errors["container"] = f"no container: {e}"
                unusable.add("container")
        if "vireo-net" in turns:
            why = netns.host_support()
            if why:
                errors["vireo-net"] = why
                unusable.add("vireo-net")
            else:
                tap = netns.TapNs(guest_mac=netns.GUEST_MAC)
                tap.__enter__()
        for r in range(args.runs):
            order = turns[r % len(turns):] + turns[:r % len(turns)] if turns else []
            for s in order:
                if s in unusable:
                    continue
                for mode in ("tx", "rr"):
                    if args.quiet_wait > 0:
                        waited.append(wait_quiet(args.quiet_wait, load))
                    t0 = time.monotonic()
                    before = load.snapshot()
                    try:
                        if s == "vireo-vsock":
                            got = run_vsock(args, mode)
                        elif s == "vireo-net":
                            got = run_net(args, tap, mode)
                        elif s == "native":
                            got = run_native(args, mode)
                        else:
                            got = run_container(args, container, mode)
                        for k, v in got.items():
                            if k in vals[s]:
                                vals[s][k][r] = v
                        note = " ".join(f"{k}={v:.1f}" for k, v in got.items() if k in keys)
                    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError,
                            KeyError) as e:
                        errors[s] = f"{mode}: {e}"
                        note = f"not measured: {e}"
                    secs = time.monotonic() - t0
                    share = load.others(before) / secs
                    others.append(share)
                    print(f"vsock: round {r + 1}/{args.runs} {s} {mode}: {note} ({secs:.1f} s, "
                          f"others {share:.0%} of a CPU)", file=sys.stderr, flush=True)
    finally:
        if tap is not None:
            tap.__exit__(None, None, None)
        if container is not None:
            container.__exit__(None, None, None)

    host = hostinfo.host_info(args.vireo)
    vhost = os.path.exists("/dev/vhost-vsock")
    qemu_why = NO_QEMU_VSOCK if not vhost else "not run: bench/vsock.py has no QEMU vsock column yet"
    if not shutil.which(vmm.QEMU):
        qemu_why = f"{vmm.QEMU} not installed"
    method = (
        f"bench/vsock.py, {args.runs} rounds, the systems in turn (the order rotated each round), "
        f"nothing pinned; before each test the script waits up to {args.quiet_wait:g} s for "
        f"the host to be about idle. vireo boots pvguest (1 vCPU, {vmm.MEM}) with `--vsock cid=3,uds=PATH` "
        f"and runs `bench-vsock`: a stream to host port {VSOCK_PORT} (vireo connects to "
        f"PATH_{VSOCK_PORT}, where a Python peer listens), tx: {args.bytes >> 20} MiB in 4 KiB "
        "packets as the host's credit allows, the peer's rate from its first byte to its last; "
        f"rr: {RR_SIZE} B out, all {RR_SIZE} B back, for {args.secs:g} s, the guest's p50/p99 "
        "(TSC). virtio-net: pvguest's `bench-net` under vireo on a TAP in a namespace made for "
        f"it (as bench/net.py), tools/netpeer sink/echo on the host end: UDP, tx of {NET_SIZE} B "
        f"datagrams for {args.secs:g} s (the sink's rate, payload MB/s), rr of {RR_SIZE} B. "
        "native: a Unix socketpair, a forked child as sink or echo, the parent writing 64 KiB "
        "at a time or pinging; container: the same client in bench/harness/container.py's "
        "Container (1 CPU) against the peer on the host over a Unix socket. The Python peer "
        "is the same program in the vsock, native and container columns. "
        f"QEMU: {qemu_why}. MB/s is 10^6 bytes/s.")

    # the comparison report: vsock rows (native: socketpair, container: Unix
    # socket to the host), then the same traffic over virtio-net (vireo only)
    cols = {"native": "native", "container": "container", "vireo": "vireo-vsock"}
    rows = []
    for prefix, colmap in (("vsock", cols), ("virtio-net on a TAP (UDP)", {"vireo": "vireo-net"})):
        for name, k, unit, better in ROWS:
            if prefix != "vsock" and k == "mb_s":
                name = f"guest->host {NET_SIZE} B datagrams"
            elif prefix != "vsock":
                name = name.replace("request/response", "request/response UDP")
            row = {"name": f"{prefix}: {name}", "unit": unit, "better": better, "runs": {},
                   "skip": {}}
            for c in COLUMNS:
                s = colmap.get(c)
                if c.startswith("qemu"):
                    row["skip"][c] = qemu_why if prefix == "vsock" else \
                        "QEMU's virtio-net: see the Network group (bench/net.py)"
                elif s is None:
                    row["skip"][c] = ("see the vsock rows (the same column) and the Network group"
                                      if prefix != "vsock" else "not run")
                elif s not in systems:
                    row["skip"][c] = "not run (--systems)"
                elif any(v is not None for v in vals[s][k]):
                    row["runs"][c] = vals[s][k]
                else:
                    row["skip"][c] = errors.get(s, "no figure")
            rows.append(row)
    report = results.report_group("vsock", "Host-guest communication (vsock)", method, rows)
    res = {"host": host, "runs": args.runs, "bytes": args.bytes, "secs": args.secs,
           "systems": {s: {k: summary(v) for k, v in vals[s].items()} | {"raw": vals[s]}
                       for s in SYSTEMS if s in systems},
           "others_cpu_share": summary(others), "waited_s": summary(waited),
           "errors": errors, "report": report}

    head = ["native (Unix socketpair)", "container (Unix socket to the host)", "vireo vsock",
            "vireo virtio-net on a TAP (UDP)", "QEMU vsock"]
    lines = [f"# Host-guest communication: vsock beside virtio-net and Unix sockets ({stamp})", "",
             f"Host: {host['cpu']}, {host['cores']} cores, Linux {host['kernel']}, KVM "
             f"{host['kvm']}; {host['vireo']}; {host['qemu']}.",
             f"Median over {args.runs} rounds [min-max]. The host was shared with other "
             "developers' builds and tests (others' CPU use during a turn, median [min-max]: "
             f"{median_range(summary([x * 100 for x in others]), 0)} % of a CPU).", "",
             "| | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for name, k, unit, _ in ROWS:
        label = name if k != "mb_s" else f"stream guest->host (net: {NET_SIZE} B UDP datagrams)"
        cells = [median_range(summary(vals[s][k]), 1, "-")
                 for s in ("native", "container", "vireo-vsock", "vireo-net")]
        lines.append(f"| {label} ({unit}) | " + " | ".join(cells) + f" | n/a: {qemu_why} |")
    if errors:
        lines += ["", "Not measured (last reason):", ""] + [f"- {s}: {e}" for s, e in errors.items()]
    lines += ["", "Method: " + method]
    results.write(out, "vsock", lines, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
