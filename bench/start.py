#!/usr/bin/env python3
"""Start time, start rate and footprint: a plain process (native), a
container, vireo, QEMU -M microvm and QEMU -M q35, side by side, on this
host. The VMMs boot the same pvguest (PVH ELF, 1 vCPU, 256 MiB); native and
the container run `busybox echo PVGUEST READY` (busybox-static).

Each round, every system in turn (the order rotated each round):
  ready_ms   start -> the "PVGUEST READY" line, the median of --per-round
             starts (pvguest.run=boot, then debug-exit) after one warm-up
             start that is not counted; for the container the
             start includes making its cgroup, network namespace and veth
  exit_ms    start -> the VMM (or process, or container command) has exited
  guest_us   VMMs: the guest's own t_us, its entry -> READY, from kvmclock
  first_ms   VMMs: ready_ms - guest_us, per start: process start -> the guest
             kernel's first instruction (for QEMU its firmware runs before)
and once, while the system idles after READY (pvguest.run=idle; busybox sh
printing READY, then exec'ing busybox sleep):
  rss_kib    the VMM's resident memory, total
  guest_kib  the part that is guest RAM (the mapping of exactly --memory)
  own_kib    rss_kib - guest_kib: what the VMM itself costs; for the
             container, the RSS of its runtime's processes (all but the
             workload); not applicable to native
  workload_kib  native, container: the busybox process's RSS; VMMs: guest_kib
then a launch test: for --launch-secs, up to --launch-k (default 2 x CPUs)
starts in flight, a new one as soon as one ends; those in flight at the end
are waited for; launches_per_s = starts that ended correctly / (first start
-> last end).

usage: bench/start.py [--runs N] [--per-round N] [--launch-secs S]
                      [--launch-k K] [--systems a,b,...] [--out DIR]
(run from the repository root as root, after ./scripts/build.sh --no-san).
Prints a Markdown table and progress on stderr; writes start.md and
start.json (with the "report" key bench/report.py reads) into DIR (default
bench/results/<UTC timestamp>/)."""
import argparse
import concurrent.futures
import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import threading
import time

# bench/harness is the library shared with tests/e2e (bench/, the script's
# own directory, is on sys.path)
from harness import hostinfo, procmem, results, vmm
from harness.container import Container, descendants
from harness.results import COLUMNS
from harness.stats import median_range, summary

MEM = vmm.MEM
MEM_BYTES = 256 << 20
VMM_NAMES = ["vireo", "qemu-microvm", "qemu-q35"]
READY_RE = re.compile(rb"PVGUEST READY(?: t_us=(\d+))?[ \r]*\n")  # the whole line

# Nothing is pinned here, so QEMU's threads keep their default names.
VMMS = {
    "vireo": vmm.vireo_cmd,
    "qemu-microvm": lambda c: vmm.qemu_cmd(c, "microvm", thread_names=False),
    "qemu-q35": lambda c: vmm.qemu_cmd(c, "q35", thread_names=False),
}


def busybox():
    return shutil.which("busybox") or "/bin/busybox"


def workload(mode):
    """The native / container workload: print READY and exit (boot), or
    print READY and stay (idle)."""
    if mode == "boot":
        return [busybox(), "echo", "PVGUEST READY"]
    return [busybox(), "sh", "-c", f"echo PVGUEST READY; exec {busybox()} sleep 600"]


def new_container():
    """A Container with its cgroup, netns and veth made. Retries when a
    name it picked is taken (its cgroup's name comes from id(), which two
    live Containers can share modulo 10000)."""
    keep = []
    for attempt in range(5):
        c = Container("start", cpus=1, mem_bytes=MEM_BYTES)
        try:
            return c.__enter__()
        except FileExistsError:
            keep.append(c)  # alive, so that the next one gets another id()
            if attempt == 4:
                raise


class Instance:
    """One start of a system in a mode ("boot" or "idle"). t0 is taken
    before anything is made: a container's set-up is part of its start."""

    def __init__(self, system, mode):
        self.system = system
        self.container = None
        self.t0 = time.perf_counter()
        if system == "native":
            argv = workload(mode)
        elif system == "container":
            self.container = new_container()
            argv = self.container.cmd(workload(mode))
        else:
            argv = VMMS[system](f"pvguest.run={mode}")
        self.t_setup = time.perf_counter()
        try:
            self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL)
        except BaseException:
            self._end_container()
            raise
        self.out = b""

    def wait_ready(self, timeout):
        """Reads until READY; returns (ms since t0, guest t_us or None)."""
        deadline = self.t0 + timeout
        fd = self.p.stdout.fileno()
        while True:
            m = READY_RE.search(self.out)
            if m:
                t = (time.perf_counter() - self.t0) * 1000
                return t, (int(m.group(1)) if m.group(1) else None)
            left = deadline - time.perf_counter()
            if left <= 0:
                raise RuntimeError(f"no PVGUEST READY within {timeout:g} s")
            if not select.select([fd], [], [], left)[0]:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError(f"exit status {self.p.wait()} before PVGUEST READY")
            self.out += chunk

    def wait_exit(self, timeout):
        """Reads to EOF and waits; returns ms since t0. Raises unless the
        run ended as it should (VMMs: debug-exit 0, i.e. status 1, and the
        boot test passed; native and container: status 0)."""
        try:
            rest, _ = self.p.communicate(timeout=max(0.1, self.t0 + timeout - time.perf_counter()))
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"no exit within {timeout:g} s")
        t = (time.perf_counter() - self.t0) * 1000
        self.out += rest or b""
        rc = self.p.returncode
        if self.system in VMMS:
            if rc != 1 or b"PVGUEST RESULT boot PASS" not in self.out:
                text = vmm.serial_text(self.out.decode(errors="replace"))
                why = [l for l in text.splitlines() if "PVGUEST RESULT" in l][-1:]
                raise RuntimeError(f"exit status {rc} (expected 1){': ' + why[0] if why else ''}")
        elif rc != 0 or not READY_RE.search(self.out):
            raise RuntimeError(f"exit status {rc}, output {self.out[:80]!r}")
        return t

    def close(self):
        if self.p.poll() is None:
            self.p.kill()   # the process this Instance started
        self.p.wait()
        self.p.stdout.close()
        self._end_container()

    def _end_container(self):
        """Tears the container down once its cgroups are empty: when the
        runtime is killed, its child gets its SIGKILL (unshare --kill-child)
        a moment later, and a cgroup that still holds it cannot be removed."""
        if self.container is None:
            return
        deadline = time.perf_counter() + 5
        for d in getattr(self.container, "cgroups", []):
            while time.perf_counter() < deadline:
                try:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        if not f.read().strip():
                            break
                except OSError:
                    break
                time.sleep(0.001)
        self.container.__exit__(None, None, None)
        self.container = None


def smaps(pid):
    """(rss, guest, private) in KiB of a VMM booted with MEM of guest RAM."""
    return procmem.smaps(pid, MEM_BYTES)


def footprint(system, timeout):
    inst = Instance(system, "idle")
    try:
        inst.wait_ready(timeout)
        time.sleep(0.3)  # let the VMM settle after the guest's last exit
        pid = inst.p.pid
        if system in VMMS:
            rss, guest, private = smaps(pid)
            return {"rss_kib": rss, "guest_kib": guest, "own_kib": rss - guest,
                    "own_private_kib": private - guest, "workload_kib": guest}
        if system == "native":
            rss, _, private = smaps(pid)
            return {"rss_kib": rss, "workload_kib": rss, "workload_private_kib": private}
        # container: the command's process is the runtime (sh -> ip netns exec
        # -> unshare, one pid, exec'd in turn); the workload is unshare's child
        # (busybox, pid 1 of the new pid namespace) and its own children.
        kids = descendants(pid)
        if not kids:
            raise RuntimeError("the container's workload process was not found")
        own = smaps(pid)
        wl = [smaps(k) for k in kids]
        return {"rss_kib": own[0] + sum(w[0] for w in wl), "own_kib": own[0],
                "own_private_kib": own[2], "workload_kib": sum(w[0] for w in wl),
                "workload_private_kib": sum(w[2] for w in wl)}
    finally:
        inst.close()


def time_starts(system, n, timeout):
    """One warm-up start (not counted: the first start after other work is
    often cold), then n starts to exit; returns lists (ready_ms, exit_ms,
    guest_us, first_ms)."""
    ready, exited, guest, first = [], [], [], []
    for i in range(n + 1):
        inst = Instance(system, "boot")
        try:
            r_ms, t_us = inst.wait_ready(timeout)
            e_ms = inst.wait_exit(timeout)
        finally:
            inst.close()
        if i == 0:
            continue
        ready.append(r_ms)
        exited.append(e_ms)
        if t_us is not None:
            guest.append(t_us)
            first.append(r_ms - t_us / 1000)
    return ready, exited, guest, first


def launch_rate(system, secs, k, timeout):
    """K workers start instances back to back for secs; returns a dict with
    launches_per_s, ok, failed, span_s and the first error seen."""
    t_start = time.perf_counter()
    t_stop = t_start + secs
    lock = threading.Lock()
    st = {"ok": 0, "failed": 0, "last_end": t_start, "error": None}

    def worker():
        while time.perf_counter() < t_stop:
            try:
                inst = Instance(system, "boot")
            except Exception as e:  # noqa: BLE001: a start that fails counts as failed
                with lock:
                    st["failed"] += 1
                    st["error"] = st["error"] or f"start: {e}"
                continue
            try:
                inst.wait_exit(timeout)
                good, err = True, None
            except Exception as e:  # noqa: BLE001: counted as failed, the first one kept
                good, err = False, str(e)
            finally:
                inst.close()
            with lock:
                st["ok" if good else "failed"] += 1
                st["last_end"] = max(st["last_end"], time.perf_counter())
                if err and not st["error"]:
                    st["error"] = err

    with concurrent.futures.ThreadPoolExecutor(max_workers=k) as ex:
        for f in [ex.submit(worker) for _ in range(k)]:
            f.result()
    span = st["last_end"] - t_start
    return {"launches_per_s": st["ok"] / span if span > 0 else 0.0, "ok": st["ok"],
            "failed": st["failed"], "span_s": span, "k": k, "error": st["error"]}


def med(xs):
    return statistics.median(xs) if xs else None


def host_info():
    return hostinfo.host_info(vmm.VIREO)


# (report row, field per round, unit, better, scale, systems it applies to,
#  why not for the others)
ROWS = [
    ("start to READY", "ready_ms", "ms", "lower", 1, COLUMNS, None),
    ("time to first guest instruction", "first_ms", "ms", "lower", 1, VMM_NAMES,
     "not applicable: no guest to boot (start to READY covers it)"),
    ("start to exit", "exit_ms", "ms", "lower", 1, COLUMNS, None),
    ("launches per second", "launches_per_s", "1/s", "higher", 1, COLUMNS, None),
    ("VMM or runtime resident memory, excluding guest RAM", "own_kib", "MiB", "lower", 1 / 1024,
     ["container"] + VMM_NAMES,
     "not applicable: no VMM or runtime (the process's own RSS is the workload row)"),
    ("workload resident memory (process, or resident guest RAM)", "workload_kib", "MiB",
     "lower", 1 / 1024, COLUMNS, None),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("--per-round", type=int, default=3,
                    help="starts timed per system per round; the round's figure is their median")
    ap.add_argument("--launch-secs", type=float, default=10,
                    help="how long the launch test starts new instances (0: no launch test)")
    ap.add_argument("--launch-k", type=int, default=2 * (os.cpu_count() or 1),
                    help="instances in flight in the launch test (default 2 x CPUs)")
    ap.add_argument("--systems", default=",".join(COLUMNS), help=f"of {','.join(COLUMNS)}")
    ap.add_argument("--out")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    systems = [s for s in COLUMNS if s in args.systems.split(",")]
    bad = [s for s in args.systems.split(",") if s and s not in COLUMNS]
    if bad or args.runs < 1 or args.per_round < 1 or args.launch_k < 1:
        ap.error(f"unknown system {bad[0]!r}" if bad else "--runs, --per-round, --launch-k >= 1")
    stamp, out = results.out_dir(args.out)

    errors = {}     # system -> why it is not measured at all
    for s in systems:
        if s.startswith("qemu") and not shutil.which("qemu-system-x86_64"):
            errors[s] = "qemu-system-x86_64 not installed"
        elif s in ("native", "container") and not shutil.which("busybox"):
            errors[s] = "busybox (busybox-static) not installed"
        elif s == "container":
            try:
                new_container().__exit__(None, None, None)
            except Exception as e:  # noqa: BLE001: reported in the table
                errors[s] = f"no container: {e}"
    fields = ["ready_ms", "exit_ms", "guest_us", "first_ms", "launches_per_s", "rss_kib",
              "guest_kib", "own_kib", "own_private_kib", "workload_kib"]
    rounds = {s: {f: [None] * args.runs for f in fields} for s in systems}
    raw = {s: {"ready_ms": [], "exit_ms": [], "guest_us": [], "first_ms": [], "launch": []}
           for s in systems}
    round_errors = {s: [] for s in systems}
    live = [s for s in systems if s not in errors]

    for r in range(args.runs):
        order = live[r % len(live):] + live[:r % len(live)] if live else []
        for s in order:     # timed starts and footprint: one system at a time, host otherwise idle
            t0 = time.perf_counter()
            try:
                ready, exited, guest, first = time_starts(s, args.per_round, args.timeout)
                fp = footprint(s, args.timeout)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                round_errors[s].append(f"round {r + 1}: {e}")
                print(f"start: round {r + 1}/{args.runs} {s}: not measured: {e}",
                      file=sys.stderr, flush=True)
                continue
            for f, v in (("ready_ms", ready), ("exit_ms", exited), ("guest_us", guest),
                         ("first_ms", first)):
                raw[s][f].append(v)
                rounds[s][f][r] = med(v)
            for f, v in fp.items():
                if f in rounds[s]:
                    rounds[s][f][r] = v
            x = rounds[s]
            extra = (f" (guest entry->READY {x['guest_us'][r]:.0f} us, first instruction "
                     f"{x['first_ms'][r]:.2f} ms)" if guest else "")
            own = f", own RSS {x['own_kib'][r] / 1024:.2f} MiB" if x["own_kib"][r] is not None else ""
            print(f"start: round {r + 1}/{args.runs} {s}: READY {x['ready_ms'][r]:.2f} ms{extra}, "
                  f"exit {x['exit_ms'][r]:.2f} ms{own}, workload RSS "
                  f"{x['workload_kib'][r] / 1024:.2f} MiB ({time.perf_counter() - t0:.1f} s)",
                  file=sys.stderr, flush=True)
        if args.launch_secs > 0:
            for s in order:
                lr = launch_rate(s, args.launch_secs, args.launch_k, args.timeout)
                raw[s]["launch"].append(lr)
                if lr["ok"]:
                    rounds[s]["launches_per_s"][r] = lr["launches_per_s"]
                else:
                    round_errors[s].append(f"round {r + 1} launch test: none ended correctly: "
                                           f"{lr['error']}")
                print(f"start: round {r + 1}/{args.runs} {s}: {lr['launches_per_s']:.2f} launches/s "
                      f"({lr['ok']} ok, {lr['failed']} failed, {args.launch_k} in flight, "
                      f"{lr['span_s']:.1f} s){' first error: ' + lr['error'] if lr['error'] else ''}",
                      file=sys.stderr, flush=True)

    cdesc = ""
    if "container" in live:
        cdesc = Container("start", cpus=1, mem_bytes=MEM_BYTES, net=True).describe()
    k = args.launch_k
    method = (
        f"bench/start.py, {args.runs} rounds, the systems in turn within a round (the order "
        "rotated each round), one at a time. The VMMs boot pvguest (PVH ELF, 1 vCPU, "
        f"{MEM}; QEMU with `-cpu host,-arch-capabilities`, microvm through SeaBIOS's microvm "
        "build, q35 through SeaBIOS) with `pvguest.run=boot`, which checks the hand-off, "
        "prints `PVGUEST READY` and ends by a debug-exit write; native runs "
        "`busybox echo PVGUEST READY` (busybox-static) as a plain process, the container "
        f"the same command in a fresh container each time. {cdesc} A container's start "
        "includes making its cgroup, network namespace and veth pair (as a container "
        "runtime does per container) and ends at its READY line; tearing them down after "
        "its exit is not in start to exit but is in the launch rate. Start to READY and to "
        "exit are taken by the harness around the process (fork and exec included), the "
        f"median of {args.per_round} starts per round after one warm-up start that is not "
        "counted. Time to first guest instruction is "
        "start to READY minus the guest's own entry-to-READY time (pvguest's t_us, TSC at "
        "its PVH entry to READY, converted by kvmclock), start by start: the time until "
        "pvguest's first instruction; under QEMU that includes the firmware, which runs "
        "before it (in guest ring 0, interpreted on this PVM host). Launches per second: "
        f"for {args.launch_secs:g} s, {k} starts in flight (2 per CPU), each replaced as "
        "soon as it ends; the ones in flight at the end are waited for; the figure is the "
        "starts that ended correctly (VMMs: exit status 1 and the boot test passed; "
        "native and container: status 0 and READY printed) divided by the time from the "
        "first start to the last end (Python threads start them: for native the harness "
        "is part of the cost). Resident memory is read from /proc/PID/smaps while the "
        "system idles after READY (pvguest.run=idle; busybox sh printing READY and "
        "exec'ing busybox sleep): for a VMM everything but the mapping of guest RAM (the "
        "one whose size equals the guest's memory), for the container the runtime "
        "process that stays (util-linux unshare, which waits for its child); the workload "
        "row is the busybox process's RSS, and for a VMM the guest RAM that is resident.")

    rows = []
    for name, f, unit, better, scale, applies, why_not in ROWS:
        row = {"name": name, "unit": unit, "better": better, "runs": {}, "skip": {}}
        for c in COLUMNS:
            vals = rounds.get(c, {}).get(f)
            if c not in systems:
                row["skip"][c] = "not run (--systems)"
            elif c not in applies:
                row["skip"][c] = why_not
            elif c in errors:
                row["skip"][c] = errors[c]
            elif f == "launches_per_s" and args.launch_secs <= 0:
                row["skip"][c] = "not run (--launch-secs 0)"
            elif vals is None or all(v is None for v in vals):
                row["skip"][c] = "; ".join(round_errors[c][-2:]) or "not measured"
            else:
                row["runs"][c] = [v * scale if v is not None else None for v in vals]
        rows.append(row)
    report = results.report_group("start", "Start and footprint", method, rows)

    res = {"host": host_info(), "runs": args.runs, "per_round": args.per_round,
               "launch_secs": args.launch_secs, "launch_k": k, "memory": MEM,
               "systems": {}, "report": report}
    for s in systems:
        if s in errors:
            res["systems"][s] = {"error": errors[s]}
            continue
        res["systems"][s] = {f: summary(v) for f, v in rounds[s].items()}
        res["systems"][s].update({"rounds": rounds[s], "raw": raw[s],
                                      "errors": round_errors[s]})

    h = res["host"]
    lines = [f"# Start time and footprint ({stamp})", "",
             f"Host: {h['cpu']}, {h['cores']} cores, Linux {h['kernel']}, KVM {h['kvm']}; "
             f"{h['vireo']}; {h['qemu']}.",
             f"{args.runs} rounds; per round the median of {args.per_round} starts; launch test "
             f"{args.launch_secs:g} s with {k} in flight. Median over rounds [min-max].", "",
             "| system | start -> READY (ms) | first guest instruction (ms) | start -> exit (ms) "
             "| guest entry -> READY (us) | launches/s | RSS (KiB) | of it guest RAM / workload "
             "| VMM or runtime own RSS (KiB) | own private (KiB) |",
             "|---|---|---|---|---|---|---|---|---|---|"]

    def cell(s, f, d=1):
        return median_range(res["systems"][s].get(f), d)
    for s in systems:
        r = res["systems"][s]
        if "error" in r:
            lines.append(f"| {s} | not measured: {r['error']} |" + " |" * 9)
            continue
        lines.append(f"| {s} | {cell(s, 'ready_ms', 2)} | {cell(s, 'first_ms', 2)} | "
                     f"{cell(s, 'exit_ms', 2)} | {cell(s, 'guest_us', 0)} | "
                     f"{cell(s, 'launches_per_s', 1)} | {cell(s, 'rss_kib', 0)} | "
                     f"{cell(s, 'workload_kib', 0)} | {cell(s, 'own_kib', 0)} | "
                     f"{cell(s, 'own_private_kib', 0)} |")
    sv = res["systems"]
    v, mv = sv.get("vireo", {}), sv.get("qemu-microvm", {})
    if v.get("ready_ms") and mv.get("ready_ms") and v.get("own_kib") and mv.get("own_kib"):
        lines += ["", f"vireo reaches READY {mv['ready_ms']['median'] / v['ready_ms']['median']:.0f}x "
                  f"sooner than QEMU microvm; vireo's own RSS is {v['own_kib']['median'] / 1024:.2f} "
                  f"MiB, {mv['own_kib']['median'] / v['own_kib']['median']:.0f}x less than microvm's."]
    skips = [f"- {row['name']}, {c}: {why}" for row in rows for c, why in row["skip"].items()
             if c in systems]
    if skips:
        lines += ["", "Not measured:", ""] + skips
    lines += ["", "Method: " + method]
    results.write(out, "start", lines, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
