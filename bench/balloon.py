#!/usr/bin/env python3
"""Memory that flows back to the host: pvguest touches MIB (1 GiB) and
gives it back, under vireo (--balloon) and QEMU (virtio-balloon-pci, the
target over QMP), through (a) a balloon inflate and (b) free page
reporting, with no host action; a process on the host (native) and in a
container does the same with madvise and munmap, for the classic
container-vs-VM table's "memory allocation" row.

Each VMM boots pvguest's `balloon` test (guest/pvguest/tests_balloon.c,
bench/harness/balloon.py runs it) once per round: it memsets MIB of free
RAM (first touch), inflates every page of it, deflates and touches one
word per page again (allocation after deflate), then reports the same
range free. The VMM's VmRSS is read at each phase the guest announces; the
guest times the inflate and the reports (from its first request until the
VMM has completed the last, i.e. has dropped the pages) and both touches,
with its TSC. Native and container: Python's mmap of MIB anonymous bytes,
written through (first touch), madvise(MADV_DONTNEED) (as "inflate"), one
byte written per page (after the return), munmap (as "reporting"); their
own VmRSS read around each step.

usage: bench/balloon.py [--runs N] [--systems a,b,...] [--out DIR]
                        [--mib N] [--quiet-wait S] [--vireo PATH] [--pvguest PATH]
Run from the repository root (as root for the container) after
./scripts/build.sh --no-san. Writes balloon.md and balloon.json (with the
"report" key bench/report.py reads) into DIR (default
bench/results/<UTC timestamp>/)."""
import argparse
import json
import shutil
import subprocess
import sys
import time

# bench/harness is the library shared with tests/e2e (bench/, the script's
# own directory, is on sys.path)
from harness import balloon, hostinfo, results, vmm
from harness.hostload import HostLoad, wait_quiet
from harness.results import COLUMNS
from harness.stats import median_range, summary

VMMS = ["vireo", "qemu-q35", "qemu-microvm"]
SYSTEMS = VMMS + ["native", "container"]
# guest RAM: the balloon's MIB plus room for pvguest and its rings
SPARE_MIB = 512
# before each turn, wait (at most this long) for the host to be about idle
QUIET_WAIT_S = 10
# (row, key, unit, better, decimals)
ROWS = [("inflate: MiB returned (RSS drop)", "inflate_mib", "MiB", "higher", 0),
        ("inflate: time to return", "inflate_ms", "ms", "lower", 0),
        ("free page reporting: MiB returned (RSS drop)", "report_mib", "MiB", "higher", 0),
        ("free page reporting: time to return", "report_ms", "ms", "lower", 0),
        ("allocation, first touch (memset)", "touch_mib_s", "MiB/s", "higher", 0),
        ("allocation after deflate (a word per page)", "alloc_mib_s", "MiB/s", "higher", 0)]

# native and container: the same steps on a process's own anonymous memory;
# prints one JSON object
NATIVE_PY = r"""
import json, mmap, sys, time
mib = int(sys.argv[1]); n = mib << 20
def rss():
    for l in open("/proc/self/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1]) / 1024
m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
m.madvise(mmap.MADV_NOHUGEPAGE)
chunk = b"\x5a" * (64 << 20)
t = time.perf_counter_ns()
for i in range(0, n, len(chunk)):
    m[i:i + len(chunk)] = chunk
touch = time.perf_counter_ns() - t
del chunk
r0 = rss()
t = time.perf_counter_ns(); m.madvise(mmap.MADV_DONTNEED); inflate = time.perf_counter_ns() - t
r1 = rss()
t = time.perf_counter_ns()
for i in range(0, n, 4096):
    m[i] = 1
alloc = time.perf_counter_ns() - t
r2 = rss()
t = time.perf_counter_ns(); m.close(); report = time.perf_counter_ns() - t
r3 = rss()
print(json.dumps({"inflate_mib": r0 - r1, "inflate_ms": inflate / 1e6,
                  "report_mib": r2 - r3, "report_ms": report / 1e6,
                  "touch_mib_s": mib * 1e9 / touch, "alloc_mib_s": mib * 1e9 / alloc,
                  "rss": {"touched": r0, "inflated": r1, "deflated": r2, "reported": r3}}))
"""


def run_vmm(system, args):
    """One boot: the row keys, the RSS by phase, or RuntimeError with why."""
    r = balloon.run(system, args.mib, args.mib + SPARE_MIB, True, 300, args.vireo,
                    args.pvguest)
    rss, kv = r["rss"], r["kv"]
    if r["status"] != 1 or not r["result"] or " PASS " not in r["result"] or \
            any(p not in rss for p in balloon.PHASES):
        why = [l.split("PVGUEST ", 1)[1] for l in r["lines"]
               if "PVGUEST RESULT" in l or "harness:" in l]
        err = (r["stderr"].strip().splitlines() or [""])[-1]
        raise RuntimeError(f"exit status {r['status']}: "
                           f"{' | '.join(why[-2:]) or err or 'no output'}")
    return {"inflate_mib": rss["touched"] - rss["inflated"],
            "inflate_ms": int(kv["inflate_ms"]),
            "report_mib": rss["deflated"] - rss["reported"],
            "report_ms": int(kv["report_ms"]),
            "touch_mib_s": int(kv["touch_mib_s"]), "alloc_mib_s": int(kv["alloc_mib_s"]),
            "rss": rss}


def run_host(argv):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=300)
    if r.returncode or not r.stdout.strip():
        raise RuntimeError(f"exit status {r.returncode}: "
                           f"{(r.stderr.strip().splitlines() or [''])[-1]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help=f"comma-separated, of {','.join(SYSTEMS)}")
    ap.add_argument("--out")
    ap.add_argument("--quiet-wait", type=float, default=QUIET_WAIT_S,
                    help="seconds to wait at most for an idle host before each turn (0: none)")
    ap.add_argument("--vireo", default=vmm.VIREO)
    ap.add_argument("--pvguest", default=vmm.PVGUEST)
    ap.add_argument("--mib", type=int, default=1024, help="MiB touched and given back")
    args = ap.parse_args()
    systems = [s for s in args.systems.split(",") if s]
    bad = [s for s in systems if s not in SYSTEMS]
    if bad or args.runs < 1 or args.mib < 16:
        ap.error(f"unknown system {bad}" if bad else "--runs >= 1 and --mib >= 16")
    stamp, out = results.out_dir(args.out)

    keys = [k for _, k, _, _, _ in ROWS]
    vals = {s: {k: [None] * args.runs for k in keys} for s in SYSTEMS}
    rss_log = {s: [None] * args.runs for s in SYSTEMS}
    errors, failures, given_up = {}, {s: 0 for s in SYSTEMS}, set()
    turns = [s for s in SYSTEMS if s in systems]
    others = []
    if any(s.startswith("qemu") for s in turns) and not shutil.which(vmm.QEMU):
        for s in turns:
            if s.startswith("qemu"):
                errors[s] = f"{vmm.QEMU} not installed"
    load, waited = HostLoad(), []
    container = None
    try:
        if "container" in turns:
            try:
                from harness.container import Container
                container = Container("balloon", cpus=1,
                                      mem_bytes=(args.mib + SPARE_MIB) << 20, net=False)
                container.__enter__()
            except Exception as e:  # noqa: BLE001: any failure to set it up is reported
                container = None
                errors["container"] = f"no container: {e}"
        for r in range(args.runs):
            order = turns[r % len(turns):] + turns[:r % len(turns)] if turns else []
            for s in order:
                if s in given_up or (s in errors and not failures[s]):
                    continue
                if args.quiet_wait > 0:
                    waited.append(wait_quiet(args.quiet_wait, load))
                t0 = time.monotonic()
                before = load.snapshot()
                try:
                    if s in VMMS:
                        got = run_vmm(s, args)
                    else:
                        argv = [sys.executable, "-c", NATIVE_PY, str(args.mib)]
                        got = run_host(argv if s == "native" else container.cmd(argv))
                    for k in keys:
                        vals[s][k][r] = got[k]
                    rss_log[s][r] = got["rss"]
                    note = " ".join(f"{k}={got[k]:.0f}" for k in keys)
                except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError) as e:
                    errors[s] = str(e)
                    failures[s] += 1
                    if failures[s] >= 2 or "FAIL reason=" in str(e):
                        given_up.add(s)
                    note = f"not measured: {e}"
                secs = time.monotonic() - t0
                share = load.others(before) / secs
                others.append(share)
                print(f"balloon: round {r + 1}/{args.runs} {s}: {note} ({secs:.1f} s, "
                      f"others {share:.0%} of a CPU)", file=sys.stderr, flush=True)
    finally:
        if container is not None:
            container.__exit__(None, None, None)

    host = hostinfo.host_info(args.vireo)
    method = (
        f"bench/balloon.py, {args.runs} rounds, the systems in turn (the order rotated each "
        f"round), nothing pinned; before each turn the script waits up to {args.quiet_wait:g} s "
        "for the host to be about idle. "
        f"The VMMs boot pvguest (1 vCPU, {args.mib + SPARE_MIB} MiB) "
        f"with a virtio-balloon device over PCI (vireo `--balloon amount_mib={args.mib},"
        "deflate_on_oom=on,free_page_reporting=on`; QEMU `-device virtio-balloon-pci,"
        "disable-legacy=on,deflate-on-oom=on,free-page-reporting=on`, the target given over "
        "QMP `balloon` once the guest waits for it; microvm as `-M microvm,pcie=on` with "
        f"SeaBIOS's microvm build) and run pvguest's `balloon` test: memset {args.mib} MiB of "
        "free RAM (first touch), inflate every page (arrays of 256 PFNs, one request at a time), "
        "deflate and write a word per page (allocation after deflate), then report the range "
        "free (4 MiB ranges, 32 a request). MiB returned: the VMM's VmRSS before less after "
        "the step, read when the guest announces the phase; time to return: the guest's, "
        "from its first request to the completion of the last (the VMM drops the pages "
        "before it completes a request). Native and container (the same Python in "
        "bench/harness/container.py's Container, 1 CPU): an anonymous mmap of the same size "
        "written through, MADV_DONTNEED in the inflate rows, a byte per page after it, munmap "
        "in the reporting rows; their own VmRSS. First touch writes every byte, allocation "
        "after deflate one word per page: compare a row across columns, not the two rows.")
    rows = []
    for name, k, unit, better, _ in ROWS:
        row = {"name": name, "unit": unit, "better": better, "runs": {}, "skip": {}}
        for c in COLUMNS:
            if c not in systems:
                row["skip"][c] = "not run (--systems)"
            elif any(v is not None for v in vals[c][k]):
                row["runs"][c] = vals[c][k]
            else:
                row["skip"][c] = errors.get(c, "no figure")
        rows.append(row)
    report = results.report_group("balloon", "Memory flows back (balloon)", method, rows)
    res = {"host": host, "runs": args.runs, "mib": args.mib,
           "guest_memory_mib": args.mib + SPARE_MIB,
           "systems": {s: {k: summary(v) for k, v in vals[s].items()} |
                       {"raw": vals[s], "rss_by_phase": rss_log[s]}
                       for s in SYSTEMS if s in systems},
           "others_cpu_share": summary(others), "waited_s": summary(waited),
           "errors": errors, "report": report}

    sv = {s: {k: summary(vals[s][k]) for k in keys} for s in SYSTEMS}
    lines = [f"# Memory flows back: balloon and free page reporting ({stamp})", "",
             f"Host: {host['cpu']}, {host['cores']} cores, Linux {host['kernel']}, KVM "
             f"{host['kvm']}; {host['vireo']}; {host['qemu']}.",
             f"{args.mib} MiB touched then given back. Median over {args.runs} rounds "
             "[min-max]. The host was shared with other developers' builds and tests "
             "(others' CPU use during a turn, median [min-max]: "
             f"{median_range(summary([x * 100 for x in others]), 0)} % of a CPU).", "",
             "| | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for row, (_, k, unit, _, d) in zip(rows, ROWS):
        lines.append(f"| {row['name']} ({unit}) | " + " | ".join(
            median_range(sv[c][k], d, "-") for c in COLUMNS) + " |")
    # the goals, against the better QEMU; reported, never asserted
    lines += ["", "Goals (issue 15), vireo against the better QEMU machine, medians; "
              "reported, not asserted:", ""]
    v = sv["vireo"]
    for what, mk, tk in (("inflate", "inflate_mib", "inflate_ms"),
                         ("free page reporting", "report_mib", "report_ms")):
        q = [sv[c] for c in ("qemu-q35", "qemu-microvm") if sv[c][mk] and sv[c][tk]]
        if not (v[mk] and v[tk] and q):
            lines.append(f"- {what}: not measured in both")
            continue
        qm = max(x[mk]["median"] for x in q)
        qt = min(x[tk]["median"] for x in q)
        speed = qt / v[tk]["median"] if v[tk]["median"] else float("inf")
        # RSS moves by whole pages, and by a few more than the guest's: within
        # 1 MiB counts as as much
        lines.append(
            f"- {what}: returned {v[mk]['median']:.1f} MiB vs QEMU {qm:.1f} "
            f"({'met' if v[mk]['median'] >= qm - 1 else 'NOT met'}: at least as much, "
            "within 1 MiB); "
            f"{v[tk]['median']:.0f} ms vs QEMU {qt:.0f} ms, {speed:.2f}x as fast "
            f"({'met' if speed >= 2 else 'NOT met'}: at least 2x)")
    lines += ["", "Not measured:", ""]
    for row in rows:
        for c, why in row["skip"].items():
            lines.append(f"- {row['name']}, {c}: {why}")
    lines += ["", "Method: " + method]
    results.write(out, "balloon", lines, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
