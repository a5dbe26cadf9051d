#!/usr/bin/env python3
"""virtio-balloon end to end: memory flows back to the host. Boots pvguest's
`balloon` test under `vireo run --balloon amount_mib=N,...` and reads
vireo's resident set (VmRSS of /proc/PID/status) at each phase the guest
announces ("PVGUEST INFO balloon phase=..."; the guest then waits so that
the reading is of that phase):

- touched: the guest wrote all N MiB;
- inflated: it gave every page back (inflateq): RSS must have fallen by
  at least 90% of N MiB;
- deflated: it took them back and wrote them again: RSS rose again;
- reported (free_page_reporting=on): it reported them free, with no host
  action: RSS fell by at least 90% of N MiB again.

The guest takes MUST_TELL_HOST, so vireo gives each 2 MiB region of
inflated pages back once more, whole: on a host that then frees the empty
page table (Linux 6.14's PT_RECLAIM, with transparent huge pages), the
pages the guest writes after the deflate are huge again. The test probes
whether this host does that with a mapping of its own; where it does, at
least 90% of N MiB must be in huge pages at "deflated" (AnonHugePages of
/proc/PID/smaps_rollup); elsewhere the figure is only printed.

With --api the VM is built through Firecracker's API (PUT /boot-source,
/machine-config, /balloon with amount_mib 0, InstanceStart; --enable-pci
for pci); once the guest waits, PATCH /balloon gives the target, which
the guest must see change (a configuration change), and GET /balloon
must say actual_pages once it has inflated. The VM ends with the guest's
reset (status 0).

With --extras (through the API) the guest runs `balloon-extras`: PUT
/balloon with stats_polling_interval_s 1 and free_page_hinting; once the
guest posted its statistics, GET /balloon/statistics must give back what
it sent (total_memory, major_faults 7, disk_caches 12288, minor_faults
growing with each poll), PATCH /balloon/statistics 0 is refused after
boot and 2 is taken (GET /balloon says 2); once it touched N MiB, PATCH
/balloon/hinting/start (acknowledge_on_stop) must get them hinted and
given back (RSS falls by at least 90% of N MiB) and GET
/balloon/hinting/status must say host_cmd 1 (DONE) and guest_cmd 0.

Prints one line of figures (MiB returned, the guest's inflate and report
times, its write speed after deflate). Checks the RESULT line PASS and
vireo's status (1, debug-exit 0; 0 with --api).

usage: balloon_run.py VIREO PVGUEST_ELF [--mib N] [--memory SIZE]
                      [--transport pci|mmio] [--no-reporting] [--api] [--extras]"""
import argparse
import ctypes
import json
import mmap
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import fcapi, vmm  # noqa: E402

TIMEOUT = 120
PHASES = ["touched", "inflated", "deflated", "reported"]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def huge_kib(pid):
    """AnonHugePages of the process, in KiB."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("AnonHugePages:"):
                return int(line.split()[1])
    return 0


def host_regrows_huge():
    """Does this host give a huge page again to a 2 MiB region first
    discarded in halves (splitting its huge page), then whole? What the
    balloon's inflate does with Linux's 256-page requests."""
    huge = 2 << 20
    m = mmap.mmap(-1, 2 * huge, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
        off = (-addr) % huge
        m.madvise(mmap.MADV_HUGEPAGE, off, huge)
        before = huge_kib(os.getpid())
        m[off:off + huge] = b"\1" * huge
        if huge_kib(os.getpid()) - before < 2048:
            return False        # no transparent huge pages here at all
        m.madvise(mmap.MADV_DONTNEED, off, huge // 2)
        m.madvise(mmap.MADV_DONTNEED, off + huge // 2, huge // 2)
        m.madvise(mmap.MADV_DONTNEED, off, huge)
        before = huge_kib(os.getpid())
        m[off:off + huge] = b"\2" * huge
        return huge_kib(os.getpid()) - before >= 2048
    finally:
        m.close()


def run_cli(args, cmdline, devices, rss, out, huge):
    """vireo run with --balloon; its status."""
    cmd = vmm.vireo_cmd(cmdline, args.kernel, args.vireo, args.memory, 1, devices)
    print("$", " ".join(cmd))
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        for raw in p.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            out.append(line)
            m = re.match(r"PVGUEST INFO balloon phase=(\w+)", line)
            if m:
                rss[m.group(1)] = rss_kib(p.pid) >> 10
                huge[m.group(1)] = huge_kib(p.pid) >> 10
        p.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        out.append(f"FAIL: vireo did not exit within {TIMEOUT}s")
    err = p.stderr.read().decode(errors="replace")
    if err:
        out.append("stderr: " + err)
    return p.returncode


def run_api(args, cmdline, rss, out, problems):
    """The same through Firecracker's API, the target given by PATCH; the status."""
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "fc.sock")
        vm = fcapi.Instance(args.vireo, ["--api-sock", sock] +
                            (["--enable-pci"] if args.transport == "pci" else []), sock,
                            boot_timeout=TIMEOUT)
        if not vm.ok:
            problems.append("the API socket never answered")
        else:
            balloon = {"amount_mib": 0, "deflate_on_oom": True,
                       "free_page_reporting": not args.no_reporting}
            for path, body in (
                    ("/boot-source", {"kernel_image_path": args.kernel,
                                      "boot_args": "console=ttyS0 " + cmdline}),
                    ("/machine-config", {"vcpu_count": 1,
                                         "mem_size_mib": int(args.memory.rstrip("M"))}),
                    ("/balloon", balloon),
                    ("/actions", {"action_type": "InstanceStart"})):
                status, text, _ = vm.api.put(path, body)
                if status != 204:
                    problems.append(f"PUT {path}: {status} {text}")
            if not vm.wait_output("PVGUEST INFO balloon phase=waiting"):
                problems.append("the guest never waited for the target")
            else:
                status, text, _ = vm.api.patch("/balloon", {"amount_mib": args.mib})
                if status != 204:
                    problems.append(f"PATCH /balloon: {status} {text}")
                for ph in PHASES[:3 if args.no_reporting else 4]:
                    if not vm.wait_output(f"PVGUEST INFO balloon phase={ph}"):
                        break
                    rss[ph] = rss_kib(vm.proc.pid) >> 10
                    if ph == "inflated":
                        status, got, _ = vm.api.get("/balloon")
                        got = got if status == 200 and isinstance(got, dict) else {}
                        if got.get("amount_mib") != args.mib or \
                                got.get("actual_pages") != args.mib * 256:
                            problems.append(f"GET /balloon after the inflate: {status} {got}")
                        else:
                            out.append("GET /balloon: " + json.dumps(got))
        status, text, etext = vm.finish(TIMEOUT)
        out.extend(text.splitlines())
        if etext:
            out.append("stderr: " + etext)
        return status


def api_boot(args, vm, cmdline, balloon, problems):
    """PUT boot-source, machine-config, balloon, InstanceStart."""
    for path, body in (
            ("/boot-source", {"kernel_image_path": args.kernel,
                              "boot_args": "console=ttyS0 " + cmdline}),
            ("/machine-config", {"vcpu_count": 1,
                                 "mem_size_mib": int(args.memory.rstrip("M"))}),
            ("/balloon", balloon),
            ("/actions", {"action_type": "InstanceStart"})):
        status, text, _ = vm.api.put(path, body)
        if status != 204:
            problems.append(f"PUT {path}: {status} {text}")


def stats_now(vm, want_minor=1, timeout=5.0):
    """GET /balloon/statistics until minor_faults reaches want_minor."""
    deadline = time.monotonic() + timeout
    while True:
        status, got, _ = vm.api.get("/balloon/statistics")
        got = got if status == 200 and isinstance(got, dict) else {}
        if got.get("minor_faults", 0) >= want_minor or time.monotonic() > deadline:
            return status, got
        time.sleep(0.05)


def run_extras(args, cmdline, rss, out, problems):
    """Statistics and free page hinting through the API; the status."""
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "fc.sock")
        vm = fcapi.Instance(args.vireo, ["--api-sock", sock] +
                            (["--enable-pci"] if args.transport == "pci" else []), sock,
                            boot_timeout=TIMEOUT)
        if not vm.ok:
            problems.append("the API socket never answered")
            return vm.finish(TIMEOUT)[0]
        api_boot(args, vm, cmdline, {"amount_mib": 0, "deflate_on_oom": False,
                                     "stats_polling_interval_s": 1,
                                     "free_page_hinting": True}, problems)
        if not vm.wait_output("PVGUEST INFO balloon-extras phase=stats total="):
            problems.append("the guest never posted its statistics")
        else:
            # the line may still be arriving: wait for its end
            deadline = time.monotonic() + 5
            while not (m := re.search(rb"phase=stats total=(\d+)\r?\n", vm.out)) and \
                    time.monotonic() < deadline:
                time.sleep(0.01)
            total = int(m.group(1)) if m else -1
            status, got = stats_now(vm)
            out.append(f"GET /balloon/statistics: {status} {json.dumps(got)}")
            want = {"total_memory": total, "major_faults": 7, "disk_caches": 12288,
                    "swap_in": 0, "free_memory": total // 2,
                    "available_memory": total // 2 + 4096, "target_pages": 0,
                    "target_mib": 0, "actual_pages": 0}
            bad = {k: got.get(k) for k, v in want.items() if got.get(k) != v}
            if bad or "hugetlb_failures" in got:
                problems.append(f"GET /balloon/statistics: {bad or got}")
            status, text, _ = vm.api.patch("/balloon/statistics",
                                           {"stats_polling_interval_s": 0})
            if status != 400:
                problems.append(f"PATCH /balloon/statistics 0 after boot: {status} {text}")
            status, text, _ = vm.api.patch("/balloon/statistics",
                                           {"stats_polling_interval_s": 2})
            if status != 204:
                problems.append(f"PATCH /balloon/statistics 2: {status} {text}")
            status, got, _ = vm.api.get("/balloon")
            if status != 200 or got.get("stats_polling_interval_s") != 2:
                problems.append(f"GET /balloon after the PATCH: {status} {got}")
            if not vm.wait_output("PVGUEST INFO balloon-extras phase=stats-done", 30):
                problems.append("the guest's statistics were never polled again")
            else:
                status, got = stats_now(vm, 5)
                if got.get("minor_faults") != 5:
                    problems.append(f"after 4 polls: minor_faults {got.get('minor_faults')}")
        if not vm.wait_output("PVGUEST INFO balloon-extras phase=touched"):
            problems.append("the guest never touched its memory")
        else:
            rss["touched"] = rss_kib(vm.proc.pid) >> 10
            status, text, _ = vm.api.patch("/balloon/hinting/start",
                                           {"acknowledge_on_stop": True})
            if status != 204:
                problems.append(f"PATCH /balloon/hinting/start: {status} {text}")
            if vm.wait_output("PVGUEST INFO balloon-extras phase=hinted", 30):
                rss["hinted"] = rss_kib(vm.proc.pid) >> 10
                status, got, _ = vm.api.get("/balloon/hinting/status")
                out.append(f"GET /balloon/hinting/status: {status} {json.dumps(got)}")
                if status != 200 or got != {"host_cmd": 1, "guest_cmd": 0}:
                    problems.append(f"GET /balloon/hinting/status: {status} {got}")
                status, text, _ = vm.api.patch("/balloon/hinting/stop")
                if status != 204:
                    problems.append(f"PATCH /balloon/hinting/stop: {status} {text}")
        status, text, etext = vm.finish(TIMEOUT)
        out.extend(text.splitlines())
        if etext:
            out.append("stderr: " + etext)
        return status


def check_extras(args, status, rss, out, problems):
    if status != 0:
        problems.append(f"exit status {status}, expected 0")
    res = re.search(r"^PVGUEST RESULT balloon-extras PASS .*$", "\n".join(out), re.M)
    if not res:
        problems.append("no PASS RESULT line")
    if "touched" in rss and "hinted" in rss:
        hinted = rss["touched"] - rss["hinted"]
        if hinted < args.mib * 0.9:
            problems.append(f"free page hinting gave back {hinted} MiB, wanted "
                            f"{args.mib * 0.9:.0f}")
        print(f"balloon: free page hinting returned {hinted} MiB of {args.mib}" +
              ("; guest: " + res.group(0).split(" PASS ", 1)[1] if res else ""))
    else:
        problems.append(f"phases never announced: {rss}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("kernel")
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--memory", default="512M")
    ap.add_argument("--transport", choices=("pci", "mmio"), default="pci")
    ap.add_argument("--no-reporting", action="store_true")
    ap.add_argument("--api", action="store_true")
    ap.add_argument("--extras", action="store_true")
    args = ap.parse_args()

    if args.extras:
        cmdline = f"pvguest.run=balloon-extras,mib={args.mib},polls=4,hold_ms=400"
        if args.transport == "mmio":
            cmdline += " pvguest.transport=mmio"
        rss, out, problems = {}, [], []
        t0 = time.monotonic()
        status = run_extras(args, cmdline, rss, out, problems)
        print("\n".join(out))
        print(f"RSS MiB by phase ({time.monotonic() - t0:.1f} s):", rss)
        check_extras(args, status, rss, out, problems)
        for pr in problems:
            print("FAIL:", pr)
        return 1 if problems else 0

    spec = f"amount_mib={args.mib},deflate_on_oom=on"
    if not args.no_reporting:
        spec += ",free_page_reporting=on"
    cmdline = "pvguest.run=balloon,hold_ms=400"
    devices = ["--balloon", spec]
    if args.transport == "mmio":
        cmdline += " pvguest.transport=mmio"
        devices += ["--transport", "mmio"]
    rss, out, problems, huge = {}, [], [], {}
    t0 = time.monotonic()
    if args.api:
        status = run_api(args, cmdline.replace("balloon,", "balloon,follow=1,"), rss, out,
                         problems)
    else:
        status = run_cli(args, cmdline, devices, rss, out, huge)
    print("\n".join(out))
    print(f"RSS MiB by phase ({time.monotonic() - t0:.1f} s):", rss)

    want_status = 0 if args.api else 1
    if status != want_status:
        problems.append(f"exit status {status}, expected {want_status}")
    res = re.search(r"^PVGUEST RESULT balloon PASS .*$", "\n".join(out), re.M)
    if not res:
        problems.append("no PASS RESULT line")
    want = PHASES[:3 if args.no_reporting else 4]
    missing = [k for k in want if k not in rss]
    if missing:
        problems.append(f"phases never announced: {missing}")
    else:
        need = args.mib * 0.9
        inflated = rss["touched"] - rss["inflated"]
        if inflated < need:
            problems.append(f"inflate gave back {inflated} MiB, wanted {need:.0f}")
        if rss["deflated"] - rss["inflated"] < need:
            problems.append(f"deflate and touch: RSS {rss['inflated']} -> {rss['deflated']} MiB")
        line = f"balloon: {args.mib} MiB target, inflate returned {inflated} MiB"
        if not args.no_reporting:
            reported = rss["deflated"] - rss["reported"]
            if reported < need:
                problems.append(f"free page reporting gave back {reported} MiB, wanted {need:.0f}")
            line += f", free page reporting returned {reported} MiB"
        if res:
            line += "; guest: " + res.group(0).split(" PASS ", 1)[1]
        print(line)
    if "deflated" in huge:
        regrows = host_regrows_huge()
        print(f"huge pages after the deflate: {huge['deflated']} MiB (host gives a split "
              f"2 MiB region a huge page again once discarded whole: {regrows})")
        if regrows and "must_tell_host=1" not in "\n".join(out):
            problems.append("the guest did not get MUST_TELL_HOST")
        elif regrows and huge["deflated"] < args.mib * 0.9:
            problems.append(f"after the deflate only {huge['deflated']} MiB are in huge "
                            f"pages, wanted {args.mib * 0.9:.0f}: inflated regions were "
                            "not given back whole")
    for pr in problems:
        print("FAIL:", pr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
