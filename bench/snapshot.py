#!/usr/bin/env python3
"""Snapshots: what one costs to take and to start from, in vireo beside
QEMU's migration to a file and `-incoming` from it, on the same guest:
pvguest's tick test (a line every 200 us, so the harness sees within that
when a restored guest runs), 1 vCPU, no devices, for 256 MiB, 1 GiB and
4 GiB of RAM.

  create_ms     the paused VM to its files: PUT /snapshot/create's round
                trip (vireo); QMP `migrate` to "exec:cat > FILE" until
                query-migrate says completed (QEMU; it stops the guest
                itself)
  state_kib     the state file (vireo); QEMU writes one file
  mem_disk_mib  the memory file's blocks on disk (vireo's has holes for
                zero pages; QEMU's stream skips zero pages too)
  restore_ms    process start -> the guest's first tick after the restore:
                `vireo run --restore` with the memory file mapped
                (MAP_PRIVATE: pages read as the guest touches them), with
                eager=on (read into anonymous memory first), and through
                userfaultfd (uffd=: tools/uffd_handler serving the file,
                Firecracker's Uffd backend); QEMU with -incoming "exec:cat
                FILE"
  load_ms       vireo in Firecracker's API mode, started 200 ms before (as
                a pool of VMMs waiting for work is): PUT /snapshot/load
                (resume_vm) sent -> the first tick
  clones        --clones VMs restored at once from one snapshot (MAP_PRIVATE):
                clones/s (all ticking), and each clone's resident and
                proportional memory (Pss: pages shared with the others and
                the page cache counted in part)
  migrate       the running VM moved to a second process on this host:
                vireo's PUT /vm/migrate to `vireo run --incoming`, QEMU's
                QMP migrate to -incoming over a Unix socket (its defaults);
                total_ms from the request to the destination's first tick,
                downtime_ms the guest's gap: the source's last tick to the
                destination's first (ticks are 200 us apart)

Each time is the median of --runs (min and max beside). Goals (issue 16,
reported, not asserted): restore to running under 5 ms for 256 MiB,
migration downtime under 10 ms.

usage: bench/snapshot.py [--runs N] [--clones N] [--sizes 256,1024,4096]
                         [--out DIR] [--vireo PATH] [--pvguest PATH] [--qemu PATH]
                         [--uffd-handler PATH]
(run from the repository root after ./scripts/build.sh --no-san, as root).
Writes snapshot.md and snapshot.json into DIR (default
bench/results/<UTC timestamp>/)."""
import argparse
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from harness import fcapi, hostinfo, results, vmm  # bench/ is on sys.path
from harness.balloon import QMP
from harness.stats import median_range, summary

TIMEOUT = 60
TICK = b"PVGUEST TICK"
CMDLINE = "pvguest.run=tick,us=200"


def first_tick(proc, deadline, skip=b""):
    """Reads proc's stdout until a tick line comes; the time it came, or None."""
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.5)
        if not r:
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            return None
        buf += chunk
        if TICK in buf:
            return time.monotonic()
    return None


def kill(p):
    if p.poll() is None:
        p.kill()
    p.wait()


def disk_mib(path):
    return os.stat(path).st_blocks * 512 / (1 << 20)


def vireo_take(args, mib, tmp):
    """Boots, pauses, snapshots: (create_ms, state, mem)."""
    sock = os.path.join(tmp, "api.sock")
    state, mem = os.path.join(tmp, "vm.state"), os.path.join(tmp, "vm.mem")
    vm = fcapi.Instance(args.vireo, ["run", "--kernel", args.pvguest, "--memory", f"{mib}M",
                                     "--transport", "mmio", "--cmdline", CMDLINE,
                                     "--api-sock", sock], sock, boot_timeout=TIMEOUT)
    try:
        if not vm.ok or not vm.wait_output("PVGUEST TICK n=50"):
            raise RuntimeError("vireo: the guest never ticked")
        vm.api.patch("/vm", {"state": "Paused"})
        t = time.monotonic()
        status, body, _ = vm.api.put("/snapshot/create", {"snapshot_path": state,
                                                          "mem_file_path": mem})
        ms = (time.monotonic() - t) * 1000
        if status != 204:
            raise RuntimeError(f"vireo: PUT /snapshot/create: {status} {body}")
    finally:
        kill(vm.proc)
        vm.finish(10)
        if os.path.lexists(sock):
            os.unlink(sock)
    return ms, state, mem


def vireo_restore(args, mib, state, mem, how):
    """Process start -> the first tick of `vireo run --restore`, ms; how:
    "map", "eager", or "uffd" (mem is then the handler's socket)."""
    spec = f"state={state}," + (f"uffd={mem}" if how == "uffd" else f"mem={mem}") + \
        (",eager=on" if how == "eager" else "")
    cmd = [args.vireo, "run", "--memory", f"{mib}M", "--transport", "mmio", "--restore", spec]
    t = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        got = first_tick(p, t + TIMEOUT)
    finally:
        kill(p)
    return (got - t) * 1000 if got else None


def vireo_restore_uffd(args, mib, tmp, state, mem):
    """The same with tools/uffd_handler serving mem."""
    sock = os.path.join(tmp, "uffd.sock")
    h = subprocess.Popen([args.uffd_handler, sock, mem], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.001)
        return vireo_restore(args, mib, state, sock, "uffd")
    finally:
        kill(h)


def vireo_load(args, tmp, state, mem):
    sock = os.path.join(tmp, "load.sock")
    vm = fcapi.Instance(args.vireo, ["--api-sock", sock], sock, boot_timeout=TIMEOUT)
    try:
        if not vm.ok:
            return None
        time.sleep(0.2)
        t = time.monotonic()
        status, body, _ = vm.api.put("/snapshot/load", {
            "snapshot_path": state, "resume_vm": True,
            "mem_backend": {"backend_path": mem, "backend_type": "File"}})
        if status != 204:
            raise RuntimeError(f"vireo: PUT /snapshot/load: {status} {body}")
        deadline = t + TIMEOUT
        while TICK not in vm.out and time.monotonic() < deadline:
            time.sleep(0.0002)
        got = time.monotonic() if TICK in vm.out else None
    finally:
        kill(vm.proc)
        vm.finish(10)
        if os.path.lexists(sock):
            os.unlink(sock)
    return (got - t) * 1000 if got else None


def vireo_clones(args, mib, state, mem, n):
    """(clones/s, [rss KiB], [pss KiB]) of n restores started at once."""
    cmd = [args.vireo, "run", "--memory", f"{mib}M", "--transport", "mmio",
           "--restore", f"state={state},mem={mem}"]
    procs = []
    t = time.monotonic()
    try:
        for _ in range(n):
            procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
        last = t
        for p in procs:
            got = first_tick(p, t + TIMEOUT)
            if not got:
                raise RuntimeError("a clone never ticked")
            last = max(last, got)
        rate = n / (last - t)
        time.sleep(0.5)      # each runs a while: what it holds once running
        rss, pss = [], []
        for p in procs:
            with open(f"/proc/{p.pid}/smaps_rollup") as f:
                kv = {ln.split(":")[0]: int(ln.split()[1]) for ln in f if ln.split()[-1] == "kB"}
            rss.append(kv["Rss"])
            pss.append(kv["Pss"])
    finally:
        for p in procs:
            kill(p)
    return rate, rss, pss


def qemu_cmd(args, mib, qmp, extra=()):
    return vmm.qemu_cmd(CMDLINE, kernel=args.pvguest, qemu=args.qemu, memory=f"{mib}M",
                        thread_names=False) + ["-qmp", f"unix:{qmp},server=on,wait=off"] + \
        list(extra)


def qemu_take(args, mib, tmp):
    """(create_ms, file) of QEMU's migration to a file."""
    qmp_path, path = os.path.join(tmp, "qmp.sock"), os.path.join(tmp, "qemu.mig")
    p = subprocess.Popen(qemu_cmd(args, mib, qmp_path), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        if not first_tick(p, time.monotonic() + TIMEOUT):
            raise RuntimeError("qemu: the guest never ticked")
        q = QMP(qmp_path)
        q.execute("stop")
        t = time.monotonic()
        q.execute("migrate", {"uri": f"exec:cat > {path}"})
        while q.execute("query-migrate").get("status") not in ("completed", "failed"):
            time.sleep(0.0005)
        ms = (time.monotonic() - t) * 1000
        if q.execute("query-migrate").get("status") != "completed":
            raise RuntimeError("qemu: the migration failed")
        q.close()
    finally:
        kill(p)
    return ms, path


def qemu_restore(args, mib, tmp, path):
    qmp_path = os.path.join(tmp, "qmp-in.sock")
    t = time.monotonic()
    p = subprocess.Popen(qemu_cmd(args, mib, qmp_path, ["-incoming", f"exec:cat {path}"]),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        # the source was stopped: the destination waits for `cont`
        q = QMP(qmp_path)
        while q.execute("query-migrate").get("status") not in ("completed", "failed"):
            time.sleep(0.0002)
        q.execute("cont")
        got = first_tick(p, t + TIMEOUT)
        q.close()
    finally:
        kill(p)
    return (got - t) * 1000 if got else None


class Ticks:
    """The time of each tick line a process prints."""

    def __init__(self, proc):
        self.times = []
        self.t = threading.Thread(target=self._run, args=(proc,), daemon=True)
        self.t.start()

    def _run(self, proc):
        for line in iter(proc.stdout.readline, b""):
            if line.startswith(TICK):
                self.times.append(time.monotonic())

    def wait(self, n, deadline):
        while len(self.times) < n and time.monotonic() < deadline:
            time.sleep(0.001)
        return len(self.times) >= n


def vireo_migrate(args, mib, tmp):
    """(total_ms, downtime_ms) of one vireo migration."""
    sock, dest = os.path.join(tmp, "mig-api.sock"), os.path.join(tmp, "mig-in.sock")
    src = subprocess.Popen([args.vireo, "run", "--kernel", args.pvguest, "--memory", f"{mib}M",
                            "--transport", "mmio", "--cmdline", CMDLINE, "--api-sock", sock],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
    dst = subprocess.Popen([args.vireo, "run", "--memory", f"{mib}M", "--transport", "mmio",
                            "--incoming", dest], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        st, dt = Ticks(src), Ticks(dst)
        deadline = time.monotonic() + TIMEOUT
        if not fcapi.wait_socket(sock, src) or not st.wait(50, deadline):
            raise RuntimeError("vireo: the source never ticked")
        while not os.path.exists(dest) and time.monotonic() < deadline:
            time.sleep(0.001)
        api = fcapi.Client(sock)
        t = time.monotonic()
        status, body, _ = api.put("/vm/migrate", {"destination": dest})
        if status != 204:
            raise RuntimeError(f"vireo: PUT /vm/migrate: {status} {body}")
        if not dt.wait(1, deadline):
            raise RuntimeError("vireo: the destination never ticked")
        src.wait(TIMEOUT)
        st.t.join(5)
        first = dt.times[0]
        last = max(x for x in st.times if x < first)
    finally:
        kill(src)
        kill(dst)
        if os.path.lexists(sock):
            os.unlink(sock)
    return (first - t) * 1000, (first - last) * 1000


def qemu_migrate(args, mib, tmp):
    """(total_ms, downtime_ms) of QEMU's migration over a Unix socket."""
    qs, qd = os.path.join(tmp, "qmp-src.sock"), os.path.join(tmp, "qmp-dst.sock")
    uri = os.path.join(tmp, "qemu-mig.sock")
    src = subprocess.Popen(qemu_cmd(args, mib, qs), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    dst = subprocess.Popen(qemu_cmd(args, mib, qd, ["-incoming", f"unix:{uri}"]),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
    try:
        st, dt = Ticks(src), Ticks(dst)
        deadline = time.monotonic() + TIMEOUT
        if not st.wait(50, deadline):
            raise RuntimeError("qemu: the source never ticked")
        while not os.path.exists(uri) and time.monotonic() < deadline:
            time.sleep(0.001)
        q = QMP(qs)
        t = time.monotonic()
        q.execute("migrate", {"uri": f"unix:{uri}"})
        if not dt.wait(1, deadline):
            raise RuntimeError("qemu: the destination never ticked")
        first = dt.times[0]
        last = max(x for x in st.times if x < first)
        q.close()
    finally:
        kill(src)
        kill(dst)
    return (first - t) * 1000, (first - last) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--clones", type=int, default=8)
    ap.add_argument("--sizes", default="256,1024,4096")
    ap.add_argument("--out")
    ap.add_argument("--vireo", default="build/vireo")
    ap.add_argument("--pvguest", default="build/guest/pvguest/pvguest.elf")
    ap.add_argument("--qemu", default=shutil.which("qemu-system-x86_64"))
    ap.add_argument("--uffd-handler", default="build/tools/uffd_handler/uffd_handler")
    args = ap.parse_args()
    stamp, out = results.out_dir(args.out)
    sizes = [int(s) for s in args.sizes.split(",")]
    data = {"host": hostinfo.host_info(args.vireo), "stamp": stamp, "runs": args.runs,
            "sizes": {}}
    for mib in sizes:
        row = {}
        with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
            creates, restores = [], {"map": [], "eager": [], "uffd": [], "load": [], "qemu": []}
            qcreates = []
            for r in range(args.runs):
                ms, state, mem = vireo_take(args, mib, tmp)
                creates.append(ms)
                row["state_kib"] = os.path.getsize(state) / 1024
                row["mem_disk_mib"] = disk_mib(mem)
                for how in ("map", "eager"):
                    restores[how].append(vireo_restore(args, mib, state, mem, how))
                restores["uffd"].append(vireo_restore_uffd(args, mib, tmp, state, mem))
                restores["load"].append(vireo_load(args, tmp, state, mem))
                if args.qemu:
                    qms, qpath = qemu_take(args, mib, tmp)
                    qcreates.append(qms)
                    row["qemu_file_mib"] = disk_mib(qpath)
                    restores["qemu"].append(qemu_restore(args, mib, tmp, qpath))
                print(f"{mib} MiB round {r + 1}: create {ms:.1f} ms, map "
                      f"{restores['map'][-1]:.1f}, eager {restores['eager'][-1]:.1f}, load "
                      f"{restores['load'][-1]:.1f}"
                      + (f"; qemu create {qcreates[-1]:.1f}, restore "
                         f"{restores['qemu'][-1]:.1f}" if args.qemu else ""), file=sys.stderr)
                mig = vireo_migrate(args, mib, tmp)
                restores.setdefault("mig_total", []).append(mig[0])
                restores.setdefault("mig_down", []).append(mig[1])
                if args.qemu:
                    qmig = qemu_migrate(args, mib, tmp)
                    restores.setdefault("qmig_total", []).append(qmig[0])
                    restores.setdefault("qmig_down", []).append(qmig[1])
            row["create_ms"] = summary(creates)
            row["qemu_create_ms"] = summary(qcreates)
            for k, v in restores.items():
                row[f"restore_{k}_ms"] = summary(v)
            if mib == sizes[0] and args.clones:
                rate, rss, pss = vireo_clones(args, mib, state, mem, args.clones)
                row["clones"] = {"n": args.clones, "per_s": rate, "rss_kib": summary(rss),
                                 "pss_kib": summary(pss)}
        data["sizes"][mib] = row

    lines = [f"# Snapshots ({stamp})", "",
             f"pvguest tick (1 vCPU, no devices); median [min-max] of {args.runs} rounds; "
             f"{data['host'].get('kvm', '')}", "",
             "| RAM | | create ms | state KiB | memory file on disk MiB | restore ms "
             "(exec -> running) | load ms (API, started) |",
             "|---|---|---|---|---|---|---|"]
    for mib, row in data["sizes"].items():
        lines.append(f"| {mib} MiB | vireo, mapped | {median_range(row['create_ms'], 1)} | "
                     f"{row['state_kib']:.0f} | {row['mem_disk_mib']:.1f} | "
                     f"{median_range(row['restore_map_ms'], 1)} | "
                     f"{median_range(row['restore_load_ms'], 1)} |")
        lines.append(f"| | vireo, eager | | | | {median_range(row['restore_eager_ms'], 1)} | |")
        lines.append(f"| | vireo, userfaultfd | | | | {median_range(row['restore_uffd_ms'], 1)} "
                     f"| |")
        if args.qemu:
            lines.append(f"| | QEMU (migrate to file, -incoming) | "
                         f"{median_range(row['qemu_create_ms'], 1)} | | "
                         f"{row['qemu_file_mib']:.1f} (one file) | "
                         f"{median_range(row['restore_qemu_ms'], 1)} | |")
    lines += ["", "| RAM | migration | total ms | downtime ms |", "|---|---|---|---|"]
    for mib, row in data["sizes"].items():
        lines.append(f"| {mib} MiB | vireo (PUT /vm/migrate, --incoming) | "
                     f"{median_range(row['restore_mig_total_ms'], 1)} | "
                     f"{median_range(row['restore_mig_down_ms'], 1)} |")
        if args.qemu:
            lines.append(f"| | QEMU (migrate unix:, -incoming) | "
                         f"{median_range(row['restore_qmig_total_ms'], 1)} | "
                         f"{median_range(row['restore_qmig_down_ms'], 1)} |")
    c = data["sizes"][sizes[0]].get("clones")
    if c:
        lines += ["", f"Clones: {c['n']} restored at once from one {sizes[0]} MiB snapshot: "
                  f"{c['per_s']:.0f} clones/s; each {median_range(c['rss_kib'], 0)} KiB "
                  f"resident, {median_range(c['pss_kib'], 0)} KiB proportional (Pss)."]
    results.write(out, "snapshot", lines, data)


if __name__ == "__main__":
    main()
