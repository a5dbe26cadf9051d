#!/usr/bin/env python3
"""What Firecracker's REST API costs in vireo, beside `vireo run` on this
host, with pvguest as the guest (PVH ELF, 1 vCPU, 256 MiB of 4 KiB pages,
virtio over PCI in both, so that only the way in differs):

  sock_ms        process start -> the API socket answers GET / (200)
  api_ready_ms   process start -> PVGUEST READY when booted through the API
                 (PUT /boot-source, PUT /machine-config, PUT /actions
                 InstanceStart, on one connection, as the SDKs do)
  start_ready_ms InstanceStart sent -> PVGUEST READY
  run_ready_ms   `vireo run` process start -> PVGUEST READY
  added_ms       api_ready_ms - run_ready_ms of the same round: what the API
                 adds to a start (the requests' round trips included)
  latency        GET / and PUT /machine-config before boot, p50 and p99 of
                 each request's round trip, with 1 client and with 16
                 clients at once (each its own connection)
  own_kib        the VMM's resident memory less guest RAM, idle after READY
                 (pvguest.run=idle), booted through the API and by `vireo
                 run`; the difference is the API thread, its socket and
                 its HTTP server

Each start figure is the median of --runs rounds (min and max beside), the
two ways taking turns. Goal (reported, not asserted): the API adds at most
1 ms to a start and at most 0.5 MiB of resident memory.

usage: bench/api.py [--runs N] [--requests N] [--out DIR] [--vireo PATH]
                    [--pvguest PATH]
(run from the repository root after ./scripts/build.sh --no-san). Writes
api.md and api.json into DIR (default bench/results/<UTC timestamp>/)."""
import argparse
import concurrent.futures
import os
import select
import subprocess
import sys
import tempfile
import time

from harness import fcapi, hostinfo, procmem, results  # bench/ is on sys.path
from harness.stats import median_range, summary

VIREO = "build/vireo"
PVGUEST = "build/guest/pvguest/pvguest.elf"
MEM_MIB = 256
TIMEOUT = 60
READY = b"PVGUEST READY"


def wait_line(proc, text, deadline):
    """Reads proc's stdout until text; the time it came, or None."""
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.5)
        if not r:
            continue
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            return None
        buf += chunk
        if text in buf:
            return time.monotonic()
    return None


def end(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def start_run(args, test="boot"):
    """`vireo run`: (process, start time)."""
    t0 = time.monotonic()
    # 4 KiB pages, as a VM configured through the API gets by default
    # (Firecracker's huge_pages "None")
    p = subprocess.Popen([args.vireo, "run", "--kernel", args.pvguest, "--memory",
                          f"{MEM_MIB}M,thp=off", "--cmdline", f"pvguest.run={test}"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    return p, t0


def start_api(args, sock, test="boot"):
    """vireo with Firecracker's flags, booted through the API: (process,
    start, socket answered, InstanceStart sent), or raises."""
    t0 = time.monotonic()
    p = fcapi.start(args.vireo, ["--api-sock", sock, "--enable-pci"],
                    stderr=subprocess.DEVNULL)
    if not fcapi.wait_socket(sock, p, TIMEOUT):
        end(p)
        raise RuntimeError("the API socket never answered")
    t_sock = time.monotonic()
    api = fcapi.Client(sock)
    for path, body in (("/boot-source", {"kernel_image_path": os.path.abspath(args.pvguest),
                                         "boot_args": f"pvguest.run={test}"}),
                       ("/machine-config", {"vcpu_count": 1, "mem_size_mib": MEM_MIB})):
        status, reply, _ = api.put(path, body)
        if status != 204:
            end(p)
            raise RuntimeError(f"PUT {path}: {status} {reply}")
    t_start = time.monotonic()
    status, reply, _ = api.put("/actions", {"action_type": "InstanceStart"})
    api.close()
    if status != 204:
        end(p)
        raise RuntimeError(f"InstanceStart: {status} {reply}")
    return p, t0, t_sock, t_start


def round_starts(args, tmp, r):
    sock = os.path.join(tmp, f"start{r}.sock")
    out = {}
    ways = ["run", "api"] if r % 2 == 0 else ["api", "run"]
    for way in ways:
        if way == "run":
            p, t0 = start_run(args)
            t = wait_line(p, READY, time.monotonic() + TIMEOUT)
            end(p)
            out["run_ready_ms"] = (t - t0) * 1e3 if t else None
        else:
            p, t0, t_sock, t_start = start_api(args, sock)
            t = wait_line(p, READY, time.monotonic() + TIMEOUT)
            end(p)
            out["sock_ms"] = (t_sock - t0) * 1e3
            out["api_ready_ms"] = (t - t0) * 1e3 if t else None
            out["start_ready_ms"] = (t - t_start) * 1e3 if t else None
    if out.get("api_ready_ms") is not None and out.get("run_ready_ms") is not None:
        out["added_ms"] = out["api_ready_ms"] - out["run_ready_ms"]
    return out


def percentiles(xs):
    xs = sorted(xs)
    return {"p50_us": xs[len(xs) // 2] * 1e6, "p99_us": xs[min(len(xs) - 1,
                                                               int(len(xs) * 0.99))] * 1e6,
            "n": len(xs)}


def latencies(args, tmp):
    sock = os.path.join(tmp, "lat.sock")
    p = fcapi.start(args.vireo, ["--api-sock", sock], stderr=subprocess.DEVNULL)
    if not fcapi.wait_socket(sock, p, TIMEOUT):
        end(p)
        raise RuntimeError("the API socket never answered")
    mc = {"vcpu_count": 1, "mem_size_mib": MEM_MIB}

    def client(n, method):
        c = fcapi.Client(sock)
        times = []
        for _ in range(n):
            t = time.perf_counter()
            status = c.get("/")[0] if method == "GET" else c.put("/machine-config", mc)[0]
            times.append(time.perf_counter() - t)
            if status not in (200, 204):
                raise RuntimeError(f"{method}: status {status}")
        c.close()
        return times

    res = {}
    try:
        for method, key in (("GET", "get_root"), ("PUT", "put_machine_config")):
            client(50, method)  # warm-up
            res[f"{key}_1"] = percentiles(client(args.requests, method))
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                parts = pool.map(lambda _: client(max(1, args.requests // 16), method), range(16))
                res[f"{key}_16"] = percentiles([x for t in parts for x in t])
    finally:
        end(p)
    return res


def idle_own(p, what):
    """(own, own private) KiB of VMM process p once its guest is READY and
    idle: RSS less guest RAM. Ends p."""
    try:
        if not wait_line(p, READY, time.monotonic() + TIMEOUT):
            raise RuntimeError(f"no READY ({what})")
        time.sleep(0.3)
        rss, guest, private = procmem.smaps(p.pid, MEM_MIB << 20)
        return rss - guest, private - guest
    finally:
        end(p)


def footprint(args, tmp):
    """(own, own private) KiB, RSS less guest RAM, idle after READY: for
    (api, run)."""
    api_own = idle_own(start_api(args, os.path.join(tmp, "mem.sock"), "idle")[0], "API")
    return api_own, idle_own(start_run(args, "idle")[0], "run")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--out")
    ap.add_argument("--vireo", default=VIREO)
    ap.add_argument("--pvguest", default=PVGUEST)
    args = ap.parse_args()
    for path in (args.vireo, args.pvguest):
        if not os.path.exists(path):
            print(f"api: {path} missing: run ./scripts/build.sh --no-san first", file=sys.stderr)
            return 1
    stamp, out = results.out_dir(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        rounds = []
        for r in range(args.runs):
            rounds.append(round_starts(args, tmp, r))
            print(f"api: start round {r + 1}/{args.runs}: {rounds[-1]}", file=sys.stderr)
        lat = latencies(args, tmp)
        api_own, run_own = footprint(args, tmp)
    keys = ("sock_ms", "api_ready_ms", "start_ready_ms", "run_ready_ms", "added_ms")
    starts = {k: summary([rd.get(k) for rd in rounds], count=True) for k in keys}
    data = {"host": hostinfo.host_info(args.vireo), "runs": args.runs, "rounds": rounds,
            "starts": starts, "latency": lat,
            "footprint": {"api_own_kib": api_own[0], "run_own_kib": run_own[0],
                          "added_kib": api_own[0] - run_own[0],
                          "api_own_private_kib": api_own[1], "run_own_private_kib": run_own[1],
                          "added_private_kib": api_own[1] - run_own[1]}}
    lines = [f"# Firecracker's API in vireo ({stamp})", "",
             f"Host: {data['host']}.", "",
             f"Starts ({args.runs} rounds, median [min-max], ms):", "",
             "| figure | ms |", "|---|---|"]
    lines += [f"| {k} | {median_range(starts[k], 2)} |" for k in keys]
    lines += ["", f"Request round trips ({args.requests} requests; 16 clients share them):",
              "", "| request | clients | p50 us | p99 us |", "|---|---|---|---|"]
    for key, name in (("get_root", "GET /"), ("put_machine_config", "PUT /machine-config")):
        for n in (1, 16):
            v = lat[f"{key}_{n}"]
            lines.append(f"| {name} | {n} | {v['p50_us']:.1f} | {v['p99_us']:.1f} |")
    fp = data["footprint"]
    added = starts["added_ms"]["median"] if starts["added_ms"] else None
    lines += ["", "Resident memory of the VMM itself (guest RAM excluded), idle after READY "
              "(all / private: what no other process can share):", "",
              "| | all KiB | private KiB |", "|---|---|---|",
              f"| booted through the API | {fp['api_own_kib']} | {fp['api_own_private_kib']} |",
              f"| `vireo run` | {fp['run_own_kib']} | {fp['run_own_private_kib']} |",
              f"| the API adds | {fp['added_kib']} | {fp['added_private_kib']} |", "",
              "Goals (reported, not asserted): the API adds at most 1 ms to a start "
              f"(median added_ms: {added if added is None else round(added, 2)}) and at most "
              f"512 KiB of resident memory ({fp['added_kib']} KiB, {fp['added_private_kib']} "
              "KiB private)."]
    results.write(out, "api", lines, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
