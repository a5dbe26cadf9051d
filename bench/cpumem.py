#!/usr/bin/env python3
"""CPU and memory: native vs container vs vireo vs QEMU (-M microvm, -M q35),
the same kernels everywhere.

The kernels are one freestanding C source, bench/kernels/kernels.c, built
into tools/hostbench (native, and inside bench/harness/container.py's Container)
and into pvguest (bench-cpu, bench-mem), which the VMMs boot with 2 GiB of
RAM. Each kernel does a fixed amount of work and returns a checksum; every
column must return the same one, or this script stops with an error.

  CPU     integer, hash, sort, interp on 1 thread (1 vCPU) and on every host
          CPU at once (as many vCPUs), each thread on its own buffers
  memory  memcpy (rep movsb, 512 MiB -> 512 MiB, 10 passes) with huge and
          with 4 KiB host pages, and on every CPU with huge pages; a
          dependent pointer chase over 16 MiB and 512 MiB, huge and 4 KiB

"Huge/4 KiB pages" is the host's backing: hostbench madvises its buffers
MADV_HUGEPAGE or MADV_NOHUGEPAGE; vireo runs with --memory 2G or
--memory 2G,thp=off; QEMU with its default RAM (anonymous, madvised
HUGEPAGE) or with a memfd backend, which is shmem and so gets 4 KiB pages
while /sys/kernel/mm/transparent_hugepage/shmem_enabled is never or deny
(otherwise that cell is skipped, with the reason). The pages really used are
read from /proc/PID/smaps during each memory run and kept in the JSON.

RUNS rounds; within a round each job runs on every column in turn (the
order rotated each round), so ratios within a round compare like with like.

usage: bench/cpumem.py [--runs N] [--out DIR] [--systems a,b,...] [--no-pin]
                       [--threads N]
Run from the repository root as root, after ./scripts/build.sh --no-san.
Writes cpu.json and memory.json (each with the "report" that
bench/report.py reads) into DIR (default bench/results/<UTC timestamp>/);
progress goes to stderr, one line per turn."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
import time

# bench/harness is the library shared with tests/e2e (bench/, the script's
# own directory, is on sys.path)
from harness import hostinfo, results, vmm
from harness.hostload import OTHER_MAX, HostLoad, wait_quiet
from harness.pin import on_cpu, pin_plan, pin_threads
from harness.results import COLUMNS

VIREO = vmm.VIREO
PVGUEST = vmm.PVGUEST
HOSTBENCH = "build/tools/hostbench/hostbench"
SHMEM_THP = "/sys/kernel/mm/transparent_hugepage/shmem_enabled"
MEM = "2G"
MEM_BYTES = 2 << 30
CONTAINER_MEM = 3 << 30     # hostbench's largest set is 1 GiB + 2 MiB at a time
WAIT_MS = 300               # the guest's head start, for the harness to pin vCPU threads
TIMEOUT_S = 240
QUIET_WAIT_S = 10

CPU_KERNELS = [("integer", "Mop/s", "integer mixing (multiply, rotate, xor, a data-dependent "
                "branch), million iterations/s"),
               ("hash", "MB/s", "a four-lane 64-bit multiply-rotate hash over 256 KiB held in "
                "L2, hashed 16,000 times"),
               ("sort", "Mop/s", "quicksort of 2 Mi random uint32 (8 MiB), 3 times, million "
                "elements sorted/s"),
               ("interp", "Mop/s", "a switch-dispatched bytecode interpreter running a Collatz "
                "program, million bytecode instructions/s")]
CHASE = [("16M", "16 MiB"), ("512M", "512 MiB")]
PAGES = {"huge": "huge pages", "4k": "4 KiB pages"}


def log(msg):
    print(f"cpumem: {msg}", file=sys.stderr, flush=True)


# --- what runs --------------------------------------------------------------

def jobs(nthreads):
    """The jobs of a round: (id, group, threads, pages, kernel or None)."""
    js = [("cpu-1", "cpu", 1, "huge", None)]
    if nthreads > 1:
        js.append(("cpu-all", "cpu", nthreads, "huge", None))
    js += [("mem-huge", "mem", 1, "huge", None), ("mem-4k", "mem", 1, "4k", None)]
    if nthreads > 1:
        js.append(("memcpy-all", "mem", nthreads, "huge", "memcpy"))
    return js


def hostbench_argv(group, threads, pages, kernel, pin):
    argv = [os.path.abspath(HOSTBENCH), group, "--threads", str(threads), "--pages", pages]
    if kernel:
        argv += ["--kernel", kernel]
    if pin and threads > 1:
        argv.append("--pin")
    return argv


def guest_cmdline(group, threads, pages, kernel, pin):
    opts = [f"threads={'all' if threads > 1 else 1}", f"pages={pages}"]
    if kernel:
        opts.append(f"kernel={kernel}")
    if pin:
        opts.append(f"wait_ms={WAIT_MS}")
    return f"pvguest.run=bench-{group}," + ",".join(opts)


def vireo_argv(group, threads, pages, kernel, pin):
    mem = MEM + (",thp=off" if pages == "4k" else "")
    return vmm.vireo_cmd(guest_cmdline(group, threads, pages, kernel, pin), PVGUEST, VIREO,
                         mem, threads)


def qemu_argv(machine, group, threads, pages, kernel, pin):
    # 4 KiB pages: guest RAM from a memfd (shmem), see qemu_4k_problem
    ram = (["-object", f"memory-backend-memfd,id=ram,size={MEM}", "-machine",
            "memory-backend=ram"] if pages == "4k" else [])
    return vmm.qemu_cmd(guest_cmdline(group, threads, pages, kernel, pin), machine, PVGUEST,
                        memory=MEM, cpus=threads, devices=ram)


def qemu_4k_problem():
    """Why QEMU cannot get 4 KiB pages here, or None."""
    try:
        with open(SHMEM_THP) as f:
            mode = re.search(r"\[(\w+)\]", f.read()).group(1)
    except (OSError, AttributeError):
        return f"cannot read {SHMEM_THP}"
    if mode in ("never", "deny"):
        return None
    return (f"QEMU 7.2 madvises all guest RAM MADV_HUGEPAGE and its memfd backend is shmem, "
            f"which this host backs with huge pages ({SHMEM_THP}: {mode})")


# --- one turn ---------------------------------------------------------------

def guest_ram_pages(pid):
    """The VMM's guest RAM mapping (the one of exactly MEM bytes): resident
    and huge-page-mapped KiB, or None."""
    best, cur, size = None, {}, 0
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    if size == MEM_BYTES >> 10:
                        best = cur
                    cur, size = {}, 0
                    continue
                k, _, v = line.partition(":")
                if k == "Size":
                    size = int(v.split()[0])
                elif k in ("Rss", "AnonHugePages", "ShmemPmdMapped", "FilePmdMapped"):
                    cur[k] = int(v.split()[0])
        if size == MEM_BYTES >> 10:
            best = cur
    except OSError:
        return None
    if best is None:
        return None
    return {"rss_kib": best.get("Rss", 0),
            "huge_kib": sum(best.get(k, 0) for k in ("AnonHugePages", "ShmemPmdMapped",
                                                      "FilePmdMapped"))}


class PageSampler(threading.Thread):
    """Reads guest_ram_pages(pid) every 0.2 s while the VM runs and keeps the
    sample with the most guest RAM resident (the buffers touched)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.best, self.stop = pid, None, threading.Event()

    def run(self):
        while not self.stop.wait(0.2):
            s = guest_ram_pages(self.pid)
            if s and (not self.best or s["rss_kib"] >= self.best["rss_kib"]):
                self.best = s


def parse_line(line):
    """'BENCH cpu kernel=...' (the PVGUEST prefix removed) -> (group, keys
    in order, dict)."""
    words = line.split()
    kv = [w.split("=", 1) for w in words[2:] if "=" in w]
    return words[1], [k for k, _ in kv], dict(kv)


def run_turn(system, job, pin, container_cls):
    """Runs one job on one system. Returns {"lines": [...], "pages": ...,
    "wall_s": ...}; raises RuntimeError."""
    jid, group, threads, pages, kernel = job
    vm = system not in ("native", "container")
    cpus = pin or []
    preexec = None
    want = {}
    if vm:
        argv = (vireo_argv(group, threads, pages, kernel, bool(pin)) if system == "vireo" else
                qemu_argv(system.split("-")[1], group, threads, pages, kernel, bool(pin)))
        if pin and threads == 1:
            # as bench/blk.py: the VMM's own threads on one CPU, the vCPU on another
            preexec = on_cpu(cpus[0])
            want = {vmm.vcpu_thread(system): cpus[1]}
        elif pin:
            want = {vmm.vcpu_thread(system, i): cpus[i % len(cpus)] for i in range(threads)}
    else:
        argv = hostbench_argv(group, threads, pages, kernel, bool(pin))
        if pin and threads == 1:
            preexec = on_cpu(cpus[1])
    container = None
    if system == "container":
        container = container_cls("cpumem", cpus=threads, mem_bytes=CONTAINER_MEM).__enter__()
        argv = container.cmd(argv)
    t0 = time.perf_counter()
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
        killer = threading.Timer(TIMEOUT_S, p.kill)
        killer.start()
        err_lines = []
        drain = threading.Thread(target=lambda: err_lines.extend(p.stderr), daemon=True)
        drain.start()
        lines, out, page_info = [], [], None
        sampler = None
        if vm and group == "mem":
            sampler = PageSampler(p.pid)
            sampler.start()
        try:
            if want and not pin_threads(p.pid, want, t0 + 10):
                raise RuntimeError(f"vCPU threads {sorted(want)} not found to pin")
            for line in p.stdout:
                line = line.rstrip("\r\n")
                out.append(line)
                body = line[len("PVGUEST "):] if vm and line.startswith("PVGUEST BENCH ") else line
                if body.startswith("BENCH "):
                    lines.append(body)
                elif not vm and line.startswith("INFO pages"):
                    page_info = page_info or []
                    page_info.append(dict(w.split("=", 1) for w in line.split()[2:]))
            p.wait()
        finally:
            killer.cancel()
            if sampler:
                sampler.stop.set()
                sampler.join()
                page_info = sampler.best
            if p.poll() is None:
                p.kill()        # the process this function started
                p.wait()
            drain.join(1)
    finally:
        if container:
            container.__exit__(None, None, None)
    wall = time.perf_counter() - t0
    ok = (p.returncode == 1 and any(l.startswith(f"PVGUEST RESULT bench-{group} PASS")
                                     for l in out)) if vm else p.returncode == 0
    if not ok:
        tail = [l for l in out + [l.rstrip() for l in err_lines]
                if "INFO" in l or "RESULT" in l or "rror" in l or "hostbench" in l or
                "container" in l][-3:]
        raise RuntimeError(f"exit status {p.returncode}"
                           f"{' (killed after %d s)' % TIMEOUT_S if wall >= TIMEOUT_S else ''}: "
                           f"{' | '.join(tail) or 'no output'}")
    if not lines:
        raise RuntimeError("no BENCH lines")
    return {"lines": lines, "pages": page_info, "wall_s": round(wall, 2)}


# --- results ----------------------------------------------------------------

def row_key(group, kv):
    if group == "cpu":
        return ("cpu", kv["kernel"], int(kv["threads"]))
    return ("mem", kv["kernel"], kv["size"], kv["pages"], int(kv["threads"]))


def value_of(group, kv):
    if group == "cpu":
        return float(kv["score"])
    return float(kv["mbps"] if kv["kernel"] == "memcpy" else kv["ns_per_load"])


class Checksums:
    """The first checksum and key order seen per row; any other is fatal."""

    def __init__(self):
        self.seen = {}

    def check(self, system, line):
        group, keys, kv = parse_line(line)
        key = row_key(group, kv)
        first = self.seen.setdefault(key, (system, keys, kv["checksum"]))
        if keys != first[1]:
            sys.exit(f"cpumem: FORMAT MISMATCH for {key}: {system} prints {keys}, "
                     f"{first[0]} printed {first[1]}")
        if kv["checksum"] != first[2]:
            sys.exit(f"cpumem: CHECKSUM MISMATCH for {key}: {system} got {kv['checksum']}, "
                     f"{first[0]} got {first[2]}: the kernels did not do the same work")
        return group, key, value_of(group, kv)


def cpu_rows(nthreads):
    rows = []
    for t in ([1, nthreads] if nthreads > 1 else [1]):
        for k, unit, _ in CPU_KERNELS:
            name = f"{k}, 1 thread" if t == 1 else f"{k}, {t} threads (all CPUs)"
            rows.append((name, unit, "higher", ("cpu", k, t)))
    return rows


def mem_rows(nthreads):
    rows = [(f"memcpy 1 GiB, {PAGES[p]}", "MB/s", "higher", ("mem", "memcpy", "1G", p, 1))
            for p in ("huge", "4k")]
    if nthreads > 1:
        rows.append((f"memcpy 1 GiB, huge pages, {nthreads} threads (all CPUs)", "MB/s",
                     "higher", ("mem", "memcpy", "1G", "huge", nthreads)))
    for size, label in CHASE:
        for p in ("huge", "4k"):
            rows.append((f"pointer chase {label}, {PAGES[p]}", "ns", "lower",
                         ("mem", "chase", size, p, 1)))
    return rows


def skip_reason(system, key, errors, job_errors, systems):
    if system not in systems:
        return "not run (--systems)"
    if system in errors:
        return errors[system]
    job = job_of_key(key)
    if (system, job) in errors:
        return errors[(system, job)]
    why = job_errors.get((system, job))
    return "; ".join(why[-2:]) if why else "not measured"


def job_of_key(key):
    if key[0] == "cpu":
        return "cpu-1" if key[2] == 1 else "cpu-all"
    if key[4] > 1:
        return "memcpy-all"
    return f"mem-{key[3]}"


def build_report(group, title, method, rows, values, runs, errors, job_errors, systems):
    out = []
    for name, unit, better, key in rows:
        row = {"name": name, "unit": unit, "better": better, "runs": {}, "skip": {}}
        for c in COLUMNS:
            vals = values.get((c, key))
            if c in systems and vals and any(v is not None for v in vals):
                row["runs"][c] = vals
            else:
                row["skip"][c] = skip_reason(c, key, errors, job_errors, systems)
        out.append(row)
    return results.report_group(group, title, method, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out")
    ap.add_argument("--systems", default=",".join(COLUMNS))
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="threads / vCPUs of the all-CPU rows (default: the host's CPUs)")
    ap.add_argument("--no-pin", action="store_true")
    args = ap.parse_args()
    systems = [s for s in args.systems.split(",") if s]
    bad = [s for s in systems if s not in COLUMNS]
    if bad or args.runs < 1 or args.threads < 1:
        ap.error(f"--systems from {','.join(COLUMNS)}; --runs and --threads at least 1")
    stamp, out = results.out_dir(args.out)
    pin = None if args.no_pin else pin_plan()
    nthreads = args.threads

    errors = {}         # system or (system, job) -> why it is not measured at all
    for s in systems:
        if s.startswith("qemu") and not shutil.which("qemu-system-x86_64"):
            errors[s] = "qemu-system-x86_64 not installed"
        elif s == "qemu-microvm" and not os.path.exists(vmm.MICROVM_BIOS):
            errors[s] = f"{vmm.MICROVM_BIOS} (seabios) not installed"
        elif s in ("native", "container") and not os.access(HOSTBENCH, os.X_OK):
            errors[s] = f"{HOSTBENCH} not built (./scripts/build.sh --no-san)"
        elif s not in ("native", "container") and not os.path.exists(PVGUEST):
            errors[s] = f"{PVGUEST} not built"
    problem = qemu_4k_problem()
    for s in ("qemu-microvm", "qemu-q35"):
        if problem and s in systems:
            errors[(s, "mem-4k")] = problem
    container_cls = None
    if "container" in systems and "container" not in errors:
        try:
            from harness.container import Container
            container_cls = Container
            Container("cpumem-probe", cpus=1, mem_bytes=CONTAINER_MEM).__enter__().__exit__(
                None, None, None)
        except Exception as e:  # noqa: BLE001: reported in the table
            errors["container"] = f"no container: {e}"
    live = [s for s in systems if s not in errors]

    js = jobs(nthreads)
    values = {}         # (system, row key) -> [value per round]
    raw = []            # every turn
    job_errors = {}     # (system, job) -> [why]
    sums = Checksums()
    load = HostLoad()
    for r in range(args.runs):
        for job in js:
            jid = job[0]
            cols = [s for s in live if (s, jid) not in errors]
            order = cols[r % len(cols):] + cols[:r % len(cols)] if cols else []
            for s in order:
                rec = {"round": r + 1, "job": jid, "system": s}
                for attempt in range(2):
                    waited = wait_quiet(QUIET_WAIT_S)
                    before = load.snapshot()
                    try:
                        res = run_turn(s, job, pin, container_cls)
                    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                        res = {"error": str(e)}
                    other = load.others(before) / max(res.get("wall_s", 1), 0.1)
                    res.update({"waited_s": round(waited, 1), "other_cpu": round(other, 3),
                                "attempt": attempt + 1})
                    if "error" in res or other <= OTHER_MAX or attempt == 1:
                        break
                    log(f"round {r + 1}/{args.runs} {jid} {s}: others used {other:.0%} of a "
                        "CPU; running it again")
                rec.update(res)
                raw.append(rec)
                if "error" in res:
                    job_errors.setdefault((s, jid), []).append(f"round {r + 1}: {res['error']}")
                    log(f"round {r + 1}/{args.runs} {jid} {s}: not measured: {res['error']}")
                    continue
                shown = []
                for line in res["lines"]:
                    group, key, v = sums.check(s, line)
                    values.setdefault((s, key), [None] * args.runs)[r] = v
                    kv = parse_line(line)[2]
                    shown.append(f"{kv['kernel']}{'/' + kv['size'] if 'size' in kv else ''} "
                                 f"{v:g}")
                pg = res.get("pages")
                if isinstance(pg, dict) and pg.get("rss_kib"):
                    shown.append(f"guest RAM {pg['huge_kib'] * 100 // pg['rss_kib']}% huge")
                log(f"round {r + 1}/{args.runs} {jid} {s}: {', '.join(shown)} "
                    f"({res['wall_s']:.1f} s{', others ' + format(res['other_cpu'], '.0%') if res['other_cpu'] > OTHER_MAX else ''})")

    # pages that were not what the cell says
    for rec in raw:
        pg, want = rec.get("pages"), rec["job"]
        if rec["system"] in ("native", "container") or not isinstance(pg, dict) or \
                want not in ("mem-huge", "mem-4k", "memcpy-all") or not pg.get("rss_kib"):
            continue
        share = pg["huge_kib"] / pg["rss_kib"]
        rec["huge_share"] = round(share, 3)
        if (want == "mem-4k" and share > 0.01) or (want != "mem-4k" and share < 0.5):
            log(f"warning: round {rec['round']} {want} {rec['system']}: {share:.0%} of guest "
                "RAM in huge pages")

    host = hostinfo.host_info(VIREO)
    cdesc = ""
    if container_cls:
        cdesc = container_cls("cpumem", cpus=1, mem_bytes=CONTAINER_MEM).describe()
    pin_txt = (f"Pinned: single-thread runs on CPU {pin[1]} (a VMM's own threads on CPU "
               f"{pin[0]}, its vCPU thread on CPU {pin[1]}); all-CPU runs put thread or "
               f"vCPU i on CPU i (the guest waits {WAIT_MS} ms before its first kernel so "
               "that its vCPU threads are pinned first)." if pin else
               "Threads not pinned (--no-pin, or a single CPU).")
    common = (
        f"bench/cpumem.py, {args.runs} rounds; within a round each job ran on every column "
        "in turn (the order rotated each round), one at a time, and a turn during which other "
        f"processes used more than {OTHER_MAX:.0%} of a CPU was run again once. The kernels "
        "are one freestanding C source (bench/kernels/kernels.c) compiled with the same "
        "flags (-O2, no libc, not PIE, each function page aligned) into tools/hostbench for "
        "native and container and into pvguest (bench-cpu, bench-mem) for the VMs: the same "
        "machine code at the same offsets within a page; every column returned the same "
        "checksum for every kernel. The VMs boot pvguest (PVH ELF) with 2 GiB of RAM and as many "
        "vCPUs as threads; pvguest runs the kernels in ring 3 (native speed on this PVM "
        "host), timed with the TSC scaled by kvmclock; hostbench uses CLOCK_MONOTONIC. "
        "With several threads (vCPUs: the APs wait in ring 3 on a mailbox), every thread "
        "runs the kernel on its own buffers once all have set up, and the figure is all "
        "threads' work over the time from the first start to the last end. Buffers are "
        "touched before the timed part. QEMU: `-cpu host,-arch-capabilities`, microvm "
        "through SeaBIOS's microvm build, q35 through SeaBIOS. "
        f"{cdesc} {pin_txt}")
    cpu_method = (common + " CPU kernels, each about 0.2-0.5 s on one thread: " +
                  "; ".join(f"{k}: {d}" for k, _, d in CPU_KERNELS) +
                  ". hostbench's buffers (at most 8 MiB) are madvised MADV_HUGEPAGE; the "
                  "VMs run with their default RAM (vireo and QEMU both madvise it huge).")
    mem_method = (
        common + " memcpy: one `rep movsb` (written in the kernel source, so host and guest "
        "run the same instruction) from a 512 MiB buffer to another, 10 times; MB/s is bytes "
        "copied (not read plus written) per microsecond; with several threads each copies "
        "its share of the 512 MiB. Pointer chase: one pointer per 64-byte line, all lines "
        "in one random cycle (Sattolo's shuffle, fixed seed), 2.5 million dependent loads; "
        "ns per load. Huge vs 4 KiB pages is the host's backing of the buffers (hostbench: "
        "MADV_HUGEPAGE / MADV_NOHUGEPAGE) or of guest RAM (vireo: --memory 2G / "
        "--memory 2G,thp=off; QEMU: its default anonymous RAM, which QEMU 7.2 madvises "
        "HUGEPAGE / `-object memory-backend-memfd` with `-machine memory-backend=`, shmem, "
        f"which stays in 4 KiB pages while {SHMEM_THP} is never or deny); the share of "
        "guest RAM actually in huge pages is read from /proc/PID/smaps during each run "
        "(raw[].pages). pvguest itself maps all guest RAM with 2 MiB pages; on this PVM "
        "host the guest's memory is translated by shadow page tables. Each kernel gets "
        "fresh buffers (the guest's from RAM no kernel used before).")

    common_raw = {"host": host, "runs": args.runs, "threads_all": nthreads,
                  "systems": systems, "pin": pin, "skipped": {str(k): v for k, v in errors.items()},
                  "commands": {
                      "native": " ".join(hostbench_argv("cpu|mem", 1, "huge|4k", None, bool(pin))),
                      "vireo": " ".join(vireo_argv("cpu|mem", 1, "huge|4k", None, bool(pin))),
                      "qemu-q35": " ".join(qemu_argv("q35", "cpu|mem", 1, "huge", None, bool(pin))),
                      "qemu-4k-ram": "-object memory-backend-memfd,id=ram,size=2G "
                                     "-machine memory-backend=ram"}}
    cpu_vals = {k: v for k, v in values.items() if k[1][0] == "cpu"}
    mem_vals = {k: v for k, v in values.items() if k[1][0] == "mem"}
    cpu = build_report("cpu", "CPU", cpu_method, cpu_rows(nthreads), cpu_vals, args.runs,
                       errors, job_errors, systems)
    memory = build_report("memory", "Memory", mem_method, mem_rows(nthreads), mem_vals,
                          args.runs, errors, job_errors, systems)
    for fn, rep, group in (("cpu.json", cpu, "cpu"), ("memory.json", memory, "mem")):
        data = dict(common_raw, report=rep,
                    raw=[t for t in raw if t["job"].startswith(group)])
        results.write_json(out, fn, data)
    log(f"wrote {os.path.join(out, 'cpu.json')} and {os.path.join(out, 'memory.json')}")


if __name__ == "__main__":
    main()
