#!/usr/bin/env python3
"""virtio-blk throughput and latency: vireo (engine=uring, engine=sync) vs
the same I/O done natively on the host file (fio, io_uring and psync) vs the
same fio run inside a container (bench/harness/container.py) vs QEMU (q35 with
aio=io_uring and aio=threads; microvm,pcie=on with aio=io_uring), side by
side, on this host.

The guest is pvguest's bench-blk (guest/pvguest/bench_blk.c): a polling
virtio-blk driver in ring 3 (no interrupts, EVENT_IDX, one kick decision per
pass over the used ring) that keeps qd requests in flight and times each
from just before it enters the avail ring to when the driver sees it in the
used ring (TSC). fio runs the same jobs on the same 1 GiB image file: same
block size, queue depth, offsets (sequential from 0, or random and aligned
to the block size), the same run time, and lat = submission to completion.

Jobs: sequential read and write of 1 MiB at QD4; 4 KiB random read and write
at QD1 and QD32. Each system runs all of them in one boot (one fio run), and
each figure is the median of RUNS runs with min and max; systems take turns
within a run (rotated each run) so that drift on the host hits them alike.
Before each system's turn the image is fsync'ed (and for cache=writeback
read once so it is in the page cache; for cache=none dropped from it).

usage: bench/blk.py [--runs N] [--secs S] [--cache writeback[,none]] [--out DIR]
                    [--systems a,b,... | --report] [--dir TMPDIR] [--vireo PATH]
                    [--pvguest PATH]
--report runs only the five systems of the comparison report's columns
(native-io_uring, container-io_uring, vireo-uring, qemu-microvm,
qemu-io_uring); blk.json always carries "reports" (one group per cache
mode, in bench/report.py's schema) and "report" (the first of them).
Run from the repository root after ./scripts/build.sh --no-san. Needs fio
(Debian: fio) and qemu-system-x86_64 (Debian: qemu-system-x86) for those
columns; a missing one is reported, not fatal. Writes blk.md and blk.json
into DIR (default bench/results/<UTC timestamp>/). Nothing is asserted: the
issue's goals are reported against the figures."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

# bench/harness is the library shared with tests/e2e (bench/, the script's
# own directory, is on sys.path)
from harness import hostinfo, results, vmm
from harness.container import Container
from harness.hostload import OTHER_MAX, HostLoad, wait_quiet
from harness.pin import on_cpu, pin_plan, pin_threads
from harness.stats import median_range, summary

VIREO = vmm.VIREO
PVGUEST = vmm.PVGUEST
MEM = vmm.MEM
IMAGE_BYTES = 1 << 30
BOOT_TIMEOUT = 60   # on top of the jobs' own time
RETRIES = 1         # a turn over OTHER_MAX (hostload.py) is run again at most this often; the last is kept
QUIET_WAIT_S = 10   # before a turn, wait at most this long for the host to be idle
PIN_WAIT_MS = 100   # the guest's head start for the harness to pin the vCPU thread

# (mode, bs, qd): the guest's names; fio's rw= is the same without "seq"
JOBS = [("seqread", "1M", 4), ("seqwrite", "1M", 4), ("randread", "4K", 1),
        ("randread", "4K", 32), ("randwrite", "4K", 1), ("randwrite", "4K", 32)]
SYSTEMS = ["vireo-uring", "vireo-sync", "native-io_uring", "native-psync",
           "qemu-io_uring", "qemu-threads", "container-io_uring", "qemu-microvm",
           "vireo-uring-nopoll"]
LABEL = {"vireo-uring": "vireo uring", "vireo-sync": "vireo sync",
         "vireo-uring-nopoll": "vireo uring poll=off",
         "native-io_uring": "native io_uring", "native-psync": "native psync",
         "qemu-io_uring": "QEMU io_uring", "qemu-threads": "QEMU threads",
         "container-io_uring": "container io_uring", "qemu-microvm": "QEMU microvm io_uring"}
# The comparison report's columns (bench/report.py) and the system behind each.
REPORT_COLUMNS = [("native", "native-io_uring"), ("container", "container-io_uring"),
                  ("vireo", "vireo-uring"), ("qemu-microvm", "qemu-microvm"),
                  ("qemu-q35", "qemu-io_uring")]
# The container column's cgroup: with pinning, fio gets one CPU in every
# column, so the container's CPU limit is that one CPU; the image is in the
# page cache already (charged to whoever read it), so the memory limit
# only has to hold fio itself.
CONTAINER_MEM = 2 << 30


def job_key(mode, bs, qd):
    return f"{mode}-{bs}-qd{qd}"


def bytes_of(bs):
    return int(bs[:-1]) << {"K": 10, "M": 20}[bs[-1]]


def guest_cmdline(secs, pin):
    jobs = ",".join(f"{m}:{bs}:{qd}" for m, bs, qd in JOBS)
    wait = f",wait_ms={PIN_WAIT_MS}" if pin else ""
    return f"pvguest.run=bench-blk,ms={int(secs * 1000)}{wait} pvguest.bench_jobs={jobs}"


def vireo_cmd(img, engine, cache, secs, pin, poll="on"):
    return vmm.vireo_cmd(guest_cmdline(secs, pin), PVGUEST, VIREO,
                         devices=["--disk", f"path={img},engine={engine},cache={cache},poll={poll}"])


def qemu_cmd(img, aio, cache, secs, pin, machine="q35", append=None):
    """machine: q35, or microvm (with PCIe on and SeaBIOS's microvm build)."""
    return vmm.qemu_cmd(append or guest_cmdline(secs, pin),
                        "microvm,pcie=on" if machine == "microvm" else machine, PVGUEST,
                        devices=vmm.qemu_disk(img, f",cache={cache},aio={aio}"))


def fio_jobfile(img, engine, cache, secs):
    """One fio run of every job in turn (stonewall). psync is synchronous:
    one thread, so its queue depth is 1 whatever the job's."""
    lines = ["[global]", f"filename={img}", f"size={IMAGE_BYTES}", f"ioengine={engine}",
             f"direct={1 if cache == 'none' else 0}", "invalidate=0", "time_based",
             f"runtime={int(secs * 1000)}ms", "lat_percentiles=1", "percentile_list=50:99",
             "randrepeat=1", "thread", ""]
    for m, bs, qd in JOBS:
        lines += [f"[{job_key(m, bs, qd)}]", f"rw={m.replace('seq', '')}", f"bs={bs}",
                  f"iodepth={qd}", "stonewall", ""]
    return "\n".join(lines)


def parse_bench(out):
    res = {}
    for line in out.splitlines():
        line = line.strip("\r")
        if not line.startswith("PVGUEST BENCH blk "):
            continue
        kv = dict(t.split("=", 1) for t in line.split()[3:] if "=" in t)
        bs = int(kv["bs"])
        bs_s = f"{bs >> 20}M" if bs % (1 << 20) == 0 else f"{bs >> 10}K"
        res[job_key(kv["mode"], bs_s, int(kv["qd"]))] = {
            "iops": float(kv["iops"]), "mbps": float(kv["mbps"]),
            "lat_p50_us": float(kv["lat_p50_us"]), "lat_p99_us": float(kv["lat_p99_us"]),
            "lat_avg_us": float(kv["lat_avg_us"]), "ops": int(kv["ops"]),
            "kicks": int(kv["kicks"])}
    return res


def run_guest(cmd, secs, pin, vcpu):
    """Runs a VMM to its exit and parses the BENCH lines. pin: the VMM
    starts on io_cpu (its threads inherit that) and its vCPU thread (named
    vcpu) is then moved to vcpu_cpu; the guest spins wait_ms before its
    first job."""
    timeout = BOOT_TIMEOUT + len(JOBS) * secs * 2
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE,
                         preexec_fn=on_cpu(pin[0] if pin else None))
    try:
        if pin and not pin_threads(p.pid, {vcpu: pin[1]}, t0 + 10):
            raise RuntimeError(f"no vCPU thread ({vcpu}) to pin")
        o, e = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"no exit within {timeout:.0f} s")
    finally:
        if p.poll() is None:
            p.kill()        # the VMM this function started
            p.communicate()
    out = o.decode(errors="replace")
    if p.returncode != 1 or "PVGUEST RESULT bench-blk PASS" not in out:
        tail = [l for l in (out + e.decode(errors="replace")).splitlines()
                if "PVGUEST INFO" in l or "RESULT" in l or "rror" in l][-3:]
        raise RuntimeError(f"exit status {p.returncode}: {' | '.join(tail)}")
    res = parse_bench(out)
    res["_wall_s"] = time.perf_counter() - t0
    return res


def run_fio(img, engine, cache, secs, tmp, pin, wrap=None):
    """wrap: turns the fio command line into the one to run (a container's
    cmd); the job file and the image are the same either way."""
    path = os.path.join(tmp, f"{engine}-{cache}.fio")
    with open(path, "w") as f:
        f.write(fio_jobfile(img, engine, cache, secs))
    cmd = ["fio", "--output-format=json", path]
    p = subprocess.run(wrap(cmd) if wrap else cmd, capture_output=True,
                       timeout=BOOT_TIMEOUT + len(JOBS) * secs * 2,
                       preexec_fn=on_cpu(pin[0] if pin else None))
    out = p.stdout.decode(errors="replace")
    if p.returncode or "{" not in out:
        raise RuntimeError(f"fio status {p.returncode}: {p.stderr.decode(errors='replace')[-300:]}")
    data = json.loads(out[out.index("{"):])    # notes may come first
    res = {}
    for j in data["jobs"]:
        d = j["read"] if j["read"]["io_bytes"] else j["write"]
        pct = d["lat_ns"].get("percentile", {})
        res[j["jobname"]] = {
            "iops": d["iops"], "mbps": d["bw_bytes"] / 1e6,
            "lat_p50_us": pct.get("50.000000", 0) / 1000,
            "lat_p99_us": pct.get("99.000000", 0) / 1000,
            "lat_avg_us": d["lat_ns"]["mean"] / 1000, "ops": d["total_ios"]}
    return res


def prepare_image(img, cache):
    """fsync what earlier runs left dirty; then have the file in the page
    cache (writeback) or out of it (none)."""
    fd = os.open(img, os.O_RDWR)
    try:
        os.fsync(fd)
        if cache == "none":
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        else:
            while os.read(fd, 8 << 20):
                pass
    finally:
        os.close(fd)


def make_image(path):
    """1 GiB of non-zero data, allocated: reads hit real blocks, not holes."""
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(IMAGE_BYTES >> 20):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())


def run_system(name, img, cache, secs, tmp, pin):
    kind, _, how = name.partition("-")
    if kind == "vireo":
        engine, _, nopoll = how.partition("-")
        return run_guest(vireo_cmd(img, engine, cache, secs, pin, "off" if nopoll else "on"),
                         secs, pin, vmm.vcpu_thread("vireo"))
    if name == "qemu-microvm":
        try:
            return run_guest(qemu_cmd(img, "io_uring", cache, secs, pin, "microvm"), secs, pin,
                             vmm.vcpu_thread("qemu"))
        except RuntimeError as e:
            # pvguest's `pci` test on the same machine tells whether it sees PCI at all
            pci = qemu_cmd(img, "io_uring", cache, 0, None, "microvm", "pvguest.run=pci")
            why = vmm.microvm_skip_reason(str(e), pci, "virtio-blk", BOOT_TIMEOUT)
            if why:
                raise vmm.Skip(why) from e
            raise
    if kind == "qemu":
        return run_guest(qemu_cmd(img, how, cache, secs, pin), secs, pin,
                         vmm.vcpu_thread("qemu"))
    if kind == "container":
        with container_of(pin) as c:
            return run_fio(img, how, cache, secs, tmp, pin, wrap=c.cmd)
    return run_fio(img, how, cache, secs, tmp, pin)


def container_of(pin):
    """The container for one turn: fresh namespaces and cgroup each time."""
    return Container("blk", cpus=1 if pin else os.cpu_count(), mem_bytes=CONTAINER_MEM)


def host_info(img_dir):
    return hostinfo.host_info(VIREO, ("qemu-system-x86_64", "fio"), img_dir)


def fmt(s, key, d=0):
    return median_range((s or {}).get(key), d)


def med(res, cache, system, job, key):
    try:
        return res["caches"][cache][system]["jobs"][job][key]["median"]
    except (KeyError, TypeError):
        return None


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


def diff(a, b):
    return f"{a - b:+.1f} us" if a is not None and b is not None else "-"


def cache_tables(res, cache, systems):
    rows = []
    hdr = "| job | figure | " + " | ".join(LABEL[s] for s in systems) + " |"
    rows += [hdr, "|---|---|" + "---|" * len(systems)]
    for m, bs, qd in JOBS:
        k = job_key(m, bs, qd)
        figs = [("MB/s", "mbps", 0)] if m.startswith("seq") else [("IOPS", "iops", 0)]
        figs += [("p50 us", "lat_p50_us", 1), ("p99 us", "lat_p99_us", 1)]
        for label, key, d in figs:
            cells = []
            for s in systems:
                r = res["caches"][cache].get(s, {})
                cells.append(("skipped (below)" if r.get("skipped") else "not run (below)")
                             if "error" in r else fmt(r.get("jobs", {}).get(k), key, d))
            rows.append(f"| {m} {bs} QD{qd} | {label} | " + " | ".join(cells) + " |")
    why = [f"- {LABEL[s]}: {'skipped' if r.get('skipped') else 'not run'}: {r['error']}"
           for s in systems for r in [res["caches"][cache].get(s, {})] if "error" in r]
    if why:
        rows += [""] + why
    rows += ["", "Ratios of medians (throughput or IOPS; for QD1 also the p50 latency "
             "difference):", "",
             "| job | vireo uring / native io_uring | vireo uring / QEMU io_uring | "
             "vireo sync / native psync | vireo sync / QEMU threads | "
             "vireo uring / best native | vireo uring / best QEMU |",
             "|---|---|---|---|---|---|---|"]
    for m, bs, qd in JOBS:
        k = job_key(m, bs, qd)
        key = "mbps" if m.startswith("seq") else "iops"
        g = lambda s, kk=key: med(res, cache, s, k, kk)
        best_n = max([x for x in (g("native-io_uring"), g("native-psync")) if x] or [0]) or None
        best_q = max([x for x in (g("qemu-io_uring"), g("qemu-threads")) if x] or [0]) or None
        cells = [ratio(g("vireo-uring"), g("native-io_uring")),
                 ratio(g("vireo-uring"), g("qemu-io_uring")),
                 ratio(g("vireo-sync"), g("native-psync")),
                 ratio(g("vireo-sync"), g("qemu-threads")),
                 ratio(g("vireo-uring"), best_n), ratio(g("vireo-uring"), best_q)]
        if qd == 1:
            l = lambda s: med(res, cache, s, k, "lat_p50_us")
            cells[0] += f"; p50 {diff(l('vireo-uring'), l('native-io_uring'))}"
            cells[1] += f"; p50 {diff(l('vireo-uring'), l('qemu-io_uring'))}"
            cells[2] += f"; p50 {diff(l('vireo-sync'), l('native-psync'))}"
            cells[3] += f"; p50 {diff(l('vireo-sync'), l('qemu-threads'))}"
        rows.append(f"| {m} {bs} QD{qd} | " + " | ".join(cells) + " |")
    return rows


def goals(res, cache):
    """The issue's goals, against vireo's default engine (uring) and the
    better of the two native engines / QEMU modes; reported, not asserted."""
    rows = ["| goal | vireo uring | best native | best QEMU | result |", "|---|---|---|---|---|"]

    def best(job, key, prefix, lower=False):
        vals = [med(res, cache, s, job, key) for s in SYSTEMS if s.startswith(prefix)]
        vals = [v for v in vals if v is not None]
        return (min(vals) if lower else max(vals)) if vals else None

    def line(name, job, key, unit, test):
        v, n, q = med(res, cache, "vireo-uring", job, key), best(job, key, "native",
                                                              key.startswith("lat")), \
            best(job, key, "qemu", key.startswith("lat"))
        if v is None:
            return
        rows.append(f"| {name} | {v:.1f} {unit} | {n if n is None else f'{n:.1f}'} {unit} | "
                    f"{q if q is None else f'{q:.1f}'} {unit} | {test(v, n, q)} |")

    for m in ("seqread", "seqwrite"):
        line(f"{m} 1M: >= 90% of native", job_key(m, "1M", 4), "mbps", "MB/s",
             lambda v, n, q: f"{v / n:.0%} of native" if n else "-")
    for m in ("randread", "randwrite"):
        line(f"{m} 4K QD32: >= 90% of native IOPS", job_key(m, "4K", 32), "iops", "IOPS",
             lambda v, n, q: f"{v / n:.0%} of native" if n else "-")
    for m in ("randread", "randwrite"):
        line(f"{m} 4K QD1: p50 <= native + 10 us", job_key(m, "4K", 1), "lat_p50_us", "us",
             lambda v, n, q: f"native {v - n:+.1f} us" if n is not None else "-")
    for m in ("randread", "randwrite"):
        for qd in (1, 32):
            line(f"{m} 4K QD{qd}: >= 1.2x QEMU IOPS", job_key(m, "4K", qd), "iops", "IOPS",
                 lambda v, n, q: f"{v / q:.2f}x QEMU" if q else "-")
    return rows


# --- the comparison report's group (bench/report.py's schema) ----------------

REPORT_ROWS = [  # (row name, job, field, unit, better)
    ("seq read 1M QD4", "seqread-1M-qd4", "mbps", "MB/s", "higher"),
    ("seq write 1M QD4", "seqwrite-1M-qd4", "mbps", "MB/s", "higher"),
    ("randread 4K QD1", "randread-4K-qd1", "iops", "IOPS", "higher"),
    ("randread 4K QD32", "randread-4K-qd32", "iops", "IOPS", "higher"),
    ("randwrite 4K QD1", "randwrite-4K-qd1", "iops", "IOPS", "higher"),
    ("randwrite 4K QD32", "randwrite-4K-qd32", "iops", "IOPS", "higher"),
    ("randread 4K QD1 latency p50", "randread-4K-qd1", "lat_p50_us", "us", "lower"),
    ("randread 4K QD1 latency p99", "randread-4K-qd1", "lat_p99_us", "us", "lower"),
    ("randwrite 4K QD1 latency p50", "randwrite-4K-qd1", "lat_p50_us", "us", "lower"),
    ("randwrite 4K QD1 latency p99", "randwrite-4K-qd1", "lat_p99_us", "us", "lower"),
]


def report_method(cache, args, pin, method):
    direct = ("cache=writeback: through the host page cache (vireo and QEMU "
              "cache=writeback, fio direct=0), the image read into the page cache before "
              "each turn" if cache == "writeback" else
              "cache=none: O_DIRECT on the host's disk (vireo and QEMU cache=none, fio "
              "direct=1), the image dropped from the page cache before each turn")
    return (
        f"Six jobs on one {IMAGE_BYTES >> 30} GiB raw image of non-zero data: sequential "
        "read and write of 1 MiB at QD4, random 4 KiB read and write at QD1 and QD32 "
        f"(aligned offsets, fixed seed), {args.secs:g} s each; {direct}. native: fio "
        "(ioengine=io_uring, invalidate=0) on the image file; latency is fio's "
        "submission-to-completion lat. container: the same fio job file on the same "
        "file, run inside a container (bench/harness/container.py). "
        f"{method['container']} vireo (engine=uring) and "
        "QEMU (aio=io_uring, virtio-blk-pci with disable-legacy=on; qemu-q35: -M q35, "
        "qemu-microvm: -M microvm,pcie=on with SeaBIOS's microvm build) boot pvguest, "
        "whose bench-blk is a polling virtio-blk driver in ring 3 (EVENT_IDX, no "
        "interrupts) that keeps QD requests in flight and times each from just before "
        "it enters the avail ring to when it sees it used (TSC); 1 vCPU, "
        f"{MEM}. {args.runs} round{'s' if args.runs != 1 else ''}: in each, every system "
        "runs all six jobs once (one fio run, one boot), the systems taking turns in an "
        "order rotated each round; runs[i] is round i. " + (
            f"Pinned: the vCPU thread on CPU {pin[1]}, every other VMM thread and fio on "
            f"CPU {pin[0]} (the container's CPU limit is that one CPU)." if pin else
            "Not pinned (--no-pin).") +
        " A turn waits for the host to be about idle and is run again once if other "
        f"processes used more than {OTHER_MAX:.0%} of a CPU during it. bench/blk.py.")


def report_group(cache, systems, by_round, errors, args, pin, method):
    title = {"writeback": "Disk (virtio-blk, cache=writeback)",
             "none": "Disk (virtio-blk, cache=none, O_DIRECT)"}[cache]
    def figures(s, job, field):
        if s in errors:
            return None, errors[s]
        vals = [(g.get(job) or {}).get(field) if g else None for g in by_round[s]]
        if all(v is None for v in vals):
            return None, f"no {job} figure in {s}'s output"
        return [round(v, 3) if v is not None else None for v in vals], None

    rows = [results.report_row(name, unit, better, REPORT_COLUMNS, systems,
                               lambda s: figures(s, job, field))
            for name, job, field, unit, better in REPORT_ROWS]
    return results.report_group("disk" if cache == "writeback" else "disk-direct", title,
                                report_method(cache, args, pin, method), rows,
                                [c for c, _ in REPORT_COLUMNS])


def main():
    global VIREO, PVGUEST
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--secs", type=float, default=1.0, help="per job and run")
    ap.add_argument("--cache", default="writeback,none")
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--report", action="store_true",
                    help="only the comparison report's five columns: "
                         + ",".join(s for _, s in REPORT_COLUMNS))
    ap.add_argument("--out")
    ap.add_argument("--dir", help="where the 1 GiB image goes (default: the temp dir)")
    ap.add_argument("--no-pin", action="store_true",
                    help="leave thread placement to the host's scheduler")
    ap.add_argument("--vireo", default=VIREO)
    ap.add_argument("--pvguest", default=PVGUEST)
    args = ap.parse_args()
    VIREO, PVGUEST = args.vireo, args.pvguest
    caches = args.cache.split(",")
    systems = [s for s in args.systems.split(",") if s]
    if args.report:
        systems = [s for _, s in REPORT_COLUMNS]
    if any(c not in ("writeback", "none") for c in caches) or \
            any(s not in SYSTEMS for s in systems):
        ap.error(f"--cache: writeback,none; --systems: {','.join(SYSTEMS)}")
    for path in (VIREO, PVGUEST):
        if not os.path.exists(path):
            print(f"blk: {path} missing: run ./scripts/build.sh --no-san from the repository "
                  "root first", file=sys.stderr)
            return 2
    stamp, out = results.out_dir(args.out)
    missing = {s: f"{tool} not installed" for s in systems
               for tool in [{"native": "fio", "qemu": "qemu-system-x86_64", "container": "fio"}
                            .get(s.split("-")[0])]
               if tool and not shutil.which(tool)}
    if "container-io_uring" in systems and "container-io_uring" not in missing:
        if not shutil.which("unshare"):
            missing["container-io_uring"] = "unshare (util-linux) not installed"
        elif os.geteuid() != 0:
            missing["container-io_uring"] = "not root (the container needs namespaces and a cgroup)"
    if "qemu-microvm" in systems and "qemu-microvm" not in missing and \
            not os.path.exists(vmm.MICROVM_BIOS):
        missing["qemu-microvm"] = f"{vmm.MICROVM_BIOS} missing (Debian: seabios)"
    skipped = set()

    pin = None if args.no_pin else pin_plan()
    load = HostLoad()
    t_start = time.perf_counter()
    waited = 0.0
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        img = os.path.join(tmp, "blk.img")
        res = {"host": host_info(tmp), "runs": args.runs, "secs": args.secs,
               "image_bytes": IMAGE_BYTES, "memory": MEM, "disturbed": [],
               "jobs": [job_key(*j) for j in JOBS], "caches": {},
               "pin": {"io_cpu": pin[0], "vcpu_cpu": pin[1]} if pin else None,
               "method": {"guest_cmdline": guest_cmdline(args.secs, pin),
                          "vireo": " ".join(vireo_cmd("IMG", "ENGINE", "CACHE", args.secs, pin)),
                          "qemu": " ".join(qemu_cmd("IMG", "AIO", "CACHE", args.secs, pin)),
                          "qemu_microvm": " ".join(qemu_cmd("IMG", "io_uring", "CACHE",
                                                            args.secs, pin, "microvm")),
                          "fio_jobfile": fio_jobfile("IMG", "ENGINE", "CACHE", args.secs),
                          "container": container_of(pin).describe()}}
        print(f"blk: writing a {IMAGE_BYTES >> 30} GiB image in {tmp}...", file=sys.stderr)
        make_image(img)
        for cache in caches:
            raw = {s: {k: [] for k in res["jobs"]} for s in systems}
            by_round = {s: [None] * args.runs for s in systems}    # for the report
            others = []
            errors = dict(missing)
            for r in range(args.runs):
                order = systems[r % len(systems):] + systems[:r % len(systems)]
                for s in order:
                    if s in errors:
                        continue
                    for attempt in range(1 + RETRIES):
                        prepare_image(img, cache)
                        waited += wait_quiet(QUIET_WAIT_S)
                        before = load.snapshot()
                        t0 = time.perf_counter()
                        try:
                            got = run_system(s, img, cache, args.secs, tmp, pin)
                        except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
                            errors[s] = str(e)
                            if isinstance(e, vmm.Skip):
                                skipped.add(s)
                            print(f"blk: cache={cache} run {r + 1}/{args.runs}: {s}: "
                                  f"{'skipped' if isinstance(e, vmm.Skip) else 'failed'}: {e}",
                                  file=sys.stderr)
                            break
                        other = load.others(before) / (time.perf_counter() - t0)
                        print(f"blk: cache={cache} run {r + 1}/{args.runs}: {s}: done, other "
                              f"load {other:.0%} of a CPU", file=sys.stderr)
                        if other <= OTHER_MAX:
                            break
                        res["disturbed"].append({"cache": cache, "run": r + 1, "system": s,
                                                 "other_cpu": round(other, 3),
                                                 "kept": attempt == RETRIES})
                    if s in errors:
                        continue
                    others.append(other)
                    by_round[s][r] = got
                    for k in res["jobs"]:
                        if k in got:
                            raw[s][k].append(got[k])
            res["caches"][cache] = {"_other_cpu": summary(others)}
            for s in systems:
                if s in errors:
                    res["caches"][cache][s] = {"error": errors[s], "skipped": s in skipped}
                    continue
                jobs = {}
                for k, runs in raw[s].items():
                    if runs:
                        jobs[k] = {f: summary([x[f] for x in runs]) for f in
                                   ("iops", "mbps", "lat_p50_us", "lat_p99_us", "lat_avg_us")}
                        jobs[k]["raw"] = runs
                res["caches"][cache][s] = {"jobs": jobs}
            res.setdefault("reports", []).append(
                report_group(cache, systems, by_round, errors, args, pin, res["method"]))
    res["total_s"] = round(time.perf_counter() - t_start, 1)
    res["waited_for_quiet_s"] = round(waited, 1)
    res["report"] = res["reports"][0]

    h = res["host"]
    lines = [f"# virtio-blk: vireo vs native vs QEMU ({stamp})", "",
             f"Host: {h['cpu']}, {h['cores']} cores, {h['mem_gib']} GiB, Linux {h['kernel']}, "
             f"KVM {h['kvm']}; image on {h['image_fs']}; {h['vireo']} ({h['commit']}); {h['qemu']}; "
             f"{h['fio']}.",
             f"Guest: pvguest bench-blk (polling virtio-blk driver in ring 3, EVENT_IDX, no "
             f"interrupts), 1 vCPU, {MEM}; a {IMAGE_BYTES >> 30} GiB raw image of non-zero data. "
             f"{args.runs} runs of {args.secs:g} s per job; median [min-max]. Latency: "
             "submission to completion, per request (guest: TSC; fio: lat).", ""]
    titles = {"writeback": "cache=writeback (host page cache: vireo cache=writeback, QEMU "
                           "cache=writeback, fio --direct=0)",
              "none": "cache=none (O_DIRECT: vireo cache=none, QEMU cache=none, fio --direct=1)"}
    for cache in caches:
        oc = res["caches"][cache]["_other_cpu"]
        rep = [d for d in res["disturbed"] if d["cache"] == cache]
        kept = sum(d["kept"] for d in rep)
        load = (f"CPU used outside the measured processes during a turn: median "
                f"{oc['median']:.0%} of one CPU, max {oc['max']:.0%}; {len(rep)} turns were "
                f"run again because it exceeded {OTHER_MAX:.0%}"
                + (f" ({kept} kept after {RETRIES} retries)" if kept else "") + "."
                if oc else "")
        lines += [f"## {titles[cache]}", "", load, ""] + cache_tables(res, cache, systems) + [
            "", "The issue's goals (vireo's default engine, uring, against the better native "
            "engine and the better QEMU mode; reported, not asserted):", ""] + \
            goals(res, cache) + [""]
    lines += ["Method: bench/blk.py. Jobs: sequential read/write 1 MiB at QD4 (from offset "
              "0, wrapping), random read/write 4 KiB at QD1 and QD32 (offsets uniformly "
              "random, aligned to the block size, fixed seed). vireo and QEMU boot pvguest "
              "once per run and it runs every job in turn (`" + guest_cmdline(args.secs, pin) +
              "`); fio runs the same jobs on the image file (stonewall; invalidate=0; "
              "`--direct` as the cache mode). native psync is one synchronous thread (QD1 "
              "whatever the job's QD): the host-side shape of vireo's sync engine. Before "
              "each system's turn the image is fsync'ed, and read into the page cache "
              "(writeback) or dropped from it (none). Systems take turns within a run, the "
              "order rotated each run. " + (
                  f"Threads pinned: the guest's vCPU thread (it polls, so it keeps a CPU "
                  f"busy) on CPU {pin[1]}, every other VMM thread and fio on CPU {pin[0]}, "
                  "so that the host-side I/O path gets one CPU in every column and never "
                  "shares it with the spinning vCPU." if pin else
                  "Threads not pinned (--no-pin): placement is the host scheduler's."), "",
              "container io_uring: the native io_uring job file, run inside a container "
              "(bench/harness/container.py) on the same image file, which the container sees "
              "through the host's mount tree: " + res["method"]["container"] + " QEMU "
              "microvm: `-M microvm,pcie=on` with SeaBIOS's microvm build (as "
              "bench/start.py), otherwise the QEMU io_uring command line.", "",
              "A turn starts once the host is about idle (waiting at most "
              f"{QUIET_WAIT_S} s), and a turn during which processes outside the benchmark "
              f"used more than {OTHER_MAX:.0%} of a CPU is run again once.", "",
              f"Whole run: {res['total_s']:.0f} s, of which {waited:.0f} s waiting for the "
              "host to be idle."]
    results.write(out, "blk", lines, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
