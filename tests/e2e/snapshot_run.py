#!/usr/bin/env python3
"""Snapshots end to end: pvguest's snap test (a disk written and read
back, a counter, one line a round) under `vireo run --api-sock`, paused
after some round, snapshotted (PUT /snapshot/create), killed, and
restored in a new process (`vireo run --restore state=,mem=` with the
same flags).

With --netpeer (and a host that can make a TAP in a network namespace)
the VM also has a NIC on a TAP with netpeer echoing on the host end, and
each round sends a datagram and waits for its echo (net=1): every round
answered, no echo twice that a resend does not explain, and netpeer
echoing exactly as many datagrams as the guest sent in both lives.

Checks: the restored guest goes on from the round after the last one the
first process printed (none lost, none twice) and passes (every sector
written before the snapshot reads back after it); the memory file has the
VM's size and the state file vireo's header; snapshot refused while the
VM runs, for a Diff snapshot and into a directory that does not exist
(HTTP 400, nothing written); a restore refused, with one "vireo:" line,
status 1 and no guest output, from a corrupt, a truncated and a foreign
state file, a memory file of another size, and flags that build another
VM (other memory size, the other transport, a missing disk). --transport
pci|mmio: the VM's (the Firecracker part is always virtio-mmio, its
default).

Then Firecracker's way, all through its API: a VM built by PUTs and
InstanceStart, snapshotted the same way, and loaded into a fresh vireo
by PUT /snapshot/load (mem_backend File), once with resume_vm (it runs on
at once) and once without (GET / says Paused until PATCH /vm Resumed);
the configuration comes from the snapshot (GET /vm/config shows its
drive), a network override naming no NIC of the snapshot is refused, and
a load into a vireo that already booted is refused.

With --fixture DIR it restores the snapshot committed there instead (the
first state format, taken on a PVM host) and checks that its guest
finishes: a snapshot of an older format must load. It is skipped (status
77) on a host that is not PVM, whose KVM keeps other MSRs.

With --make-fixture DIR it writes that fixture (state, gzipped memory,
README) from a fresh snapshot.

With --uffd-handler (tools/uffd_handler), the first snapshot is also
restored lazily, its pages served by the handler over Firecracker's Uffd
handshake: from the command line (--restore state=,uffd=) and by PUT
/snapshot/load with mem_backend Uffd; the guest passes and the handler
served some pages (few: the rest are never touched).

usage: snapshot_run.py VIREO PVGUEST_ELF --uffd-handler HANDLER [--netpeer NETPEER]
                       [--transport pci|mmio] [--make-fixture DIR]
       snapshot_run.py VIREO PVGUEST_ELF --fixture DIR"""
import argparse
import filecmp
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import fcapi, netns, vmm  # noqa: E402
from harness.netpeer import Netpeer  # noqa: E402

TIMEOUT = 120  # a failure detector only
ROUNDS, SNAP_AT = 30, 8
ROUND = re.compile(r"^PVGUEST INFO snap round=(\d+)", re.M)


TRANSPORT = "mmio"   # --transport


def flags(disk, memory="256M", transport=None, with_disk=True, net=False):
    f = ["--memory", memory, "--cpus", "1", "--debug-exit", "--transport",
         transport or TRANSPORT]
    return f + (["--disk", f"path={disk}"] if with_disk else []) + \
        (vmm.vireo_net() if net else [])


def boot_and_snapshot(args, tmp, problems):
    """The first process, up to its snapshot. (state, mem, rounds printed)."""
    disk = os.path.join(tmp, "disk.img")
    state, mem, sock = (os.path.join(tmp, n) for n in ("vm.state", "vm.mem", "api.sock"))
    test = f"snap,rounds={ROUNDS},ms=20"
    cmdline = (vmm.net_cmdline(test + ",net=1", f"pvguest.transport={TRANSPORT}") if args.ns
               else f"pvguest.run={test} pvguest.transport={TRANSPORT}")
    cmd = vmm.vireo_cmd(cmdline, args.kernel, args.vireo, "256M", 1,
                        ["--transport", TRANSPORT, "--disk", f"path={disk}"] +
                        (vmm.vireo_net() if args.ns else []))
    vm = fcapi.Instance(args.vireo, cmd[1:] + ["--api-sock", sock], sock,
                        wrap=args.ns.cmd if args.ns else None, boot_timeout=TIMEOUT)
    try:
        if not vm.ok or not vm.wait_output(f"PVGUEST INFO snap round={SNAP_AT}"):
            problems.append("the first VM never reached round %d" % SNAP_AT)
            return None
        status, body, _ = vm.api.put("/snapshot/create", {"snapshot_path": state,
                                                          "mem_file_path": mem})
        if status != 400 or "pause it first" not in str(body):
            problems.append(f"snapshot of a running VM: {status} {body}, want 400")
        status, body, _ = vm.api.patch("/vm", {"state": "Paused"})
        if status != 204:
            problems.append(f"PATCH /vm Paused: {status} {body}")
        for what, req, frag in (
                ("a Diff without tracking", {"snapshot_type": "Diff", "snapshot_path": state,
                                             "mem_file_path": mem}, "dirty page tracking"),
                ("into a missing directory", {"snapshot_path": os.path.join(tmp, "no", "s"),
                                              "mem_file_path": os.path.join(tmp, "no", "m")},
                 "No such file")):
            status, body, _ = vm.api.put("/snapshot/create", req)
            if status != 400 or frag not in str(body):
                problems.append(f"snapshot {what}: {status} {body}, want 400 ({frag})")
        if os.path.exists(state) or os.path.exists(mem):
            problems.append("a refused snapshot left files behind")
        status, body, _ = vm.api.put("/snapshot/create", {"snapshot_type": "Full",
                                                          "snapshot_path": state,
                                                          "mem_file_path": mem})
        if status != 204:
            problems.append(f"PUT /snapshot/create: {status} {body}")
        _, inst, _ = vm.api.get("/")
        if (inst or {}).get("state") != "Paused":
            problems.append(f"after the snapshot GET / says {inst}, want Paused")
    finally:
        vm.proc.kill()
        _, out, _ = vm.finish(30)
        if os.path.lexists(sock):
            os.unlink(sock)  # killed: nobody else removes it
    printed = [int(n) for n in ROUND.findall(out)]
    if not os.path.exists(state) or not os.path.exists(mem):
        problems.append("no snapshot files")
        return None
    if os.path.getsize(mem) != 256 << 20:
        problems.append(f"memory file of {os.path.getsize(mem)} bytes, want 256 MiB")
    with open(state, "rb") as f:
        if f.read(8) != b"VIREOSNP":
            problems.append("the state file has no VIREOSNP header")
    return state, mem, printed


def restore(args, state, mem, extra, uffd=False):
    """`vireo run --restore`: mem is the memory file, or with uffd the
    page fault handler's socket. (status, stdout, stderr)."""
    cmd = [args.vireo, "run"] + extra + ["--restore",
                                         f"state={state},{'uffd' if uffd else 'mem'}={mem}"]
    if args.ns:
        cmd = args.ns.cmd(cmd)
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       errors="replace", timeout=TIMEOUT)
    return p.returncode, p.stdout, p.stderr


def start_handler(args, tmp, mem, name):
    """tools/uffd_handler serving mem on a socket of its own: (proc, socket)."""
    sock = os.path.join(tmp, f"{name}.uffd")
    h = subprocess.Popen([args.uffd_handler, sock, mem], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 10
    while not os.path.exists(sock) and h.poll() is None and time.monotonic() < end:
        time.sleep(0.005)
    return h, sock


def handler_pages(h, name, problems):
    """The pages the handler served once its VMM ended; problems if none."""
    try:
        out, err = h.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        h.kill()
        out, err = h.communicate()
    m = re.search(r"UFFD-HANDLER pages=(\d+)", out or "")
    if not m or int(m.group(1)) == 0:
        problems.append(f"{name}: the page fault handler served nothing: {out} {err}")
        return 0
    # the VMM keeps the handshake's connection while it runs (Firecracker's
    # example handlers take its hangup for the VMM's end, and kill it)
    if not re.search(r"early_hangup=0\b", out):
        problems.append(f"{name}: the VMM hung up the handler's connection while it ran: "
                        f"{out} {err}")
    return int(m.group(1))


def check_resumed(name, status, out, err, after, problems):
    """A restored guest went on from round after+1 to the end and passed.
    Returns its resends (net=1), or 0."""
    got = [int(n) for n in ROUND.findall(out)]
    want = list(range(after + 1, ROUNDS))
    if got != want:
        problems.append(f"{name}: rounds {got[:3]}...{got[-3:]} after the restore, want "
                        f"{after + 1}..{ROUNDS - 1}")
    if not re.search(rf"^PVGUEST RESULT snap PASS rounds={ROUNDS}", out, re.M):
        tail = [ln for ln in out.splitlines() if "PVGUEST" in ln][-2:]
        problems.append(f"{name}: no RESULT snap PASS ({tail})")
    if status != 1:
        problems.append(f"{name}: exit status {status}, want 1 (debug-exit 0): {err[-300:]}")
    m = re.search(r"^PVGUEST RESULT snap .*resends=(\d+)", out, re.M)
    return int(m.group(1)) if m else 0


def refusals(args, tmp, state, mem, problems):
    disk = os.path.join(tmp, "disk.img")
    net = bool(args.ns)
    blob = open(state, "rb").read()
    cases = []

    def variant(name, data):
        p = os.path.join(tmp, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    mid = len(blob) // 2
    cases.append(("corrupt state", variant("corrupt", blob[:mid] + bytes([blob[mid] ^ 1]) +
                                           blob[mid + 1:]), mem, flags(disk, net=net), "checksum"))
    cases.append(("truncated state", variant("short", blob[:-100]), mem,
                  flags(disk, net=net), "truncated"))
    cases.append(("foreign state", variant("foreign", b"\x7fELF" + bytes(200)), mem,
                  flags(disk, net=net), "not a vireo state file"))
    short_mem = os.path.join(tmp, "short.mem")
    with open(short_mem, "wb") as f:
        f.truncate(128 << 20)
    cases.append(("memory file of another size", state, short_mem, flags(disk, net=net),
                  "256 MiB"))
    cases.append(("another memory size", state, mem, flags(disk, memory="128M", net=net),
                  "saved from a VM of 256 MiB"))
    other = "pci" if TRANSPORT == "mmio" else "mmio"
    cases.append(("another transport", state, mem, flags(disk, transport=other, net=net),
                  f"this one has 256 MiB, 1 vCPUs on virtio-{other}"))
    cases.append(("a missing disk", state, mem, flags(disk, with_disk=False, net=net),
                  f"saved with {2 if net else 1} devices, this VM has {1 if net else 0}"))
    for name, st, me, fl, frag in cases:
        status, out, err = restore(args, st, me, fl)
        lines = err.strip().splitlines()
        bad = [ln for ln in lines if ln.startswith("vireo: ") and "note:" not in ln]
        if status != 1 or "PVGUEST" in out or len(bad) != 1 or frag not in bad[0]:
            problems.append(f"restore with {name}: status {status}, stderr {lines[-2:]}, "
                            f"want status 1, one line with '{frag}', no guest output")


def diff_flow(args, tmp, problems):
    """Diff snapshots: a tracking VM's full snapshot after round 3, a Diff
    after round 12, the diff rebased onto a copy of the base's memory, and
    the VM restored from it: it goes on from round 13, and base + diff is
    byte for byte a full snapshot taken at the same moment (every page the
    guest or a device wrote in between is in the diff)."""
    disk = os.path.join(tmp, "diff.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    sock = os.path.join(tmp, "diff.sock")
    names = {n: os.path.join(tmp, n) for n in ("base.state", "base.mem", "d.state", "d.mem",
                                               "full.state", "full.mem")}
    cmdline = f"pvguest.run=snap,rounds={ROUNDS},ms=20 pvguest.transport={TRANSPORT}"
    cmd = vmm.vireo_cmd(cmdline, args.kernel, args.vireo, "256M,track_dirty=on", 1,
                        ["--transport", TRANSPORT, "--disk", f"path={disk}"])
    vm = fcapi.Instance(args.vireo, cmd[1:] + ["--api-sock", sock], sock,
                        boot_timeout=TIMEOUT)
    try:
        if not vm.ok or not vm.wait_output("PVGUEST INFO snap round=3"):
            problems.append("diff: the VM never reached round 3")
            return
        # the base by the command line's client: pause, snapshot, resume
        p = subprocess.run([args.vireo, "snapshot", "--api-sock", sock, "--state-path",
                            names["base.state"], "--mem-path", names["base.mem"]],
                           capture_output=True, text=True, timeout=TIMEOUT)
        _, inst, _ = vm.api.get("/")
        if p.returncode or (inst or {}).get("state") != "Running":
            problems.append(f"diff: vireo snapshot: {p.returncode} {p.stderr.strip()}, then "
                            f"{inst}")
            return
        if not vm.wait_output("PVGUEST INFO snap round=12"):
            problems.append("diff: the VM never reached round 12")
            return
        vm.api.patch("/vm", {"state": "Paused"})
        status, body, _ = vm.api.put("/snapshot/create", {
            "snapshot_type": "Diff", "snapshot_path": names["d.state"],
            "mem_file_path": names["d.mem"]})
        if status != 204:
            problems.append(f"diff: the Diff: {status} {body}")
            return
        # the same moment in full: base + diff must be it byte for byte
        status, body, _ = vm.api.put("/snapshot/create", {
            "snapshot_path": names["full.state"], "mem_file_path": names["full.mem"]})
        if status != 204:
            problems.append(f"diff: the full snapshot beside it: {status} {body}")
            return
    finally:
        vm.proc.kill()
        _, out, _ = vm.finish(30)
        if os.path.lexists(sock):
            os.unlink(sock)
    after = max(int(n) for n in ROUND.findall(out))
    base_mib, diff_mib = (os.stat(names[n]).st_blocks / 2048 for n in ("base.mem", "d.mem"))
    print(f"diff: base {base_mib:.2f} MiB on disk, diff {diff_mib:.2f} MiB")
    if not diff_mib < base_mib:
        problems.append(f"diff: the diff takes {diff_mib:.2f} MiB, the base {base_mib:.2f}")
    merged = os.path.join(tmp, "merged.mem")
    shutil.copy(names["base.mem"], merged)
    p = subprocess.run([args.vireo, "rebase", "--memory-path", merged, "--diff-path",
                        names["d.mem"]], capture_output=True, text=True)
    if p.returncode:
        problems.append(f"diff: vireo rebase: {p.returncode} {p.stderr.strip()}")
        return
    if not filecmp.cmp(merged, names["full.mem"], shallow=False):
        problems.append("diff: base + diff differs from a full snapshot of the same moment "
                        "(a page written in between is missing from the diff)")
    # by `vireo restore`, the command line's other spelling of run --restore
    cmd = [args.vireo, "restore", f"state={names['d.state']},mem={merged}"] + \
        flags(disk, memory="256M,track_dirty=on")
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       errors="replace", timeout=TIMEOUT)
    status, out, err = p.returncode, p.stdout, p.stderr
    check_resumed("restored from base + diff", status, out, err, after, problems)
    print(f"diff: restored from base + diff: rounds {after + 1}..{ROUNDS - 1}")
    # without tracking, a Diff is refused
    p = subprocess.run([args.vireo, "rebase", "--memory-path", merged, "--diff-path",
                        names["base.state"]], capture_output=True, text=True)
    if p.returncode != 1 or "not a memory file of the base's size" not in p.stderr:
        problems.append(f"diff: rebase onto a file of another size: {p.returncode} "
                        f"{p.stderr.strip()}")


def fc_boot_and_snapshot(args, tmp, disk, problems):
    """A VM built through Firecracker's API, snapshotted after round SNAP_AT.
    (state, mem, last round printed) or None."""
    sock, state, mem = (os.path.join(tmp, n) for n in ("fc.sock", "fc.state", "fc.mem"))
    vm = fcapi.Instance(args.vireo, ["--api-sock", sock], sock, boot_timeout=TIMEOUT)
    try:
        if not vm.ok:
            problems.append("fc: the API socket never answered")
            return None
        for path, body in (
                ("/boot-source", {"kernel_image_path": args.kernel, "boot_args":
                                  f"console=ttyS0 pvguest.run=snap,rounds={ROUNDS},ms=20 "
                                  "pvguest.transport=mmio"}),
                ("/machine-config", {"vcpu_count": 1, "mem_size_mib": 256}),
                ("/drives/scratch", {"drive_id": "scratch", "path_on_host": disk,
                                     "is_root_device": False, "is_read_only": False}),
                ("/actions", {"action_type": "InstanceStart"})):
            status, body, _ = vm.api.put(path, body)
            if status != 204:
                problems.append(f"fc: PUT {path}: {status} {body}")
                return None
        if not vm.wait_output(f"PVGUEST INFO snap round={SNAP_AT}"):
            problems.append(f"fc: the VM never reached round {SNAP_AT}")
            return None
        vm.api.patch("/vm", {"state": "Paused"})
        status, body, _ = vm.api.put("/snapshot/create", {"snapshot_path": state,
                                                          "mem_file_path": mem})
        if status != 204:
            problems.append(f"fc: PUT /snapshot/create: {status} {body}")
            return None
    finally:
        vm.proc.kill()
        _, out, _ = vm.finish(30)
        if os.path.lexists(sock):
            os.unlink(sock)
    printed = [int(n) for n in ROUND.findall(out)]
    return state, mem, max(printed) if printed else -1


def fc_load(args, tmp, state, mem, after, resume, problems, uffd=False):
    """A fresh vireo loads the snapshot through the API (uffd: its pages
    from the handler, mem_backend Uffd)."""
    name = f"fc load (resume_vm {resume}{', Uffd' if uffd else ''})"
    handler = None
    if uffd:
        handler, mem = start_handler(args, tmp, mem, "fc")
    sock = os.path.join(tmp, "load.sock")
    vm = fcapi.Instance(args.vireo, ["--api-sock", sock], sock, boot_timeout=TIMEOUT)
    try:
        if not vm.ok:
            problems.append(f"{name}: the API socket never answered")
            return
        status, body, _ = vm.api.put("/snapshot/load", {
            "snapshot_path": state, "mem_backend": {"backend_path": mem,
                                                    "backend_type": "File"},
            "network_overrides": [{"iface_id": "eth9", "host_dev_name": "tap9"}]})
        if status != 400 or "no network interface 'eth9'" not in str(body):
            problems.append(f"{name}: an override of no NIC: {status} {body}, want 400")
        status, body, _ = vm.api.put("/snapshot/load", {
            "snapshot_path": state, "mem_backend": {"backend_path": mem,
                                                    "backend_type": "Uffd" if uffd else "File"},
            "resume_vm": resume})
        if status != 204:
            problems.append(f"{name}: {status} {body}")
            return
        _, inst, _ = vm.api.get("/")
        want = "Running" if resume else "Paused"
        if (inst or {}).get("state") != want:
            problems.append(f"{name}: GET / says {inst}, want {want}")
        _, cfg, _ = vm.api.get("/vm/config")
        drives = [d.get("drive_id") for d in (cfg or {}).get("drives") or []]
        if drives != ["scratch"]:
            problems.append(f"{name}: GET /vm/config has drives {drives}, want the snapshot's")
        status, body, _ = vm.api.put("/snapshot/load", {
            "snapshot_path": state, "mem_file_path": mem})
        if status != 400:
            problems.append(f"{name}: a second load: {status} {body}, want 400")
        if not resume:
            if ROUND.search(vm.out.decode(errors="replace")):
                problems.append(f"{name}: the guest ran while paused")
            vm.api.patch("/vm", {"state": "Resumed"})
        status, out, err = vm.finish(TIMEOUT)
    finally:
        if vm.proc.poll() is None:
            vm.proc.kill()
            vm.finish(30)
    check_resumed(name, 1 if status == 0 else status, out, err, after, problems)
    if handler:
        handler_pages(handler, name, problems)
    print(f"{name}: rounds {after + 1}..{ROUNDS - 1} after the load")


def fc_flow(args, tmp, problems):
    disk = os.path.join(tmp, "fc.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    got = fc_boot_and_snapshot(args, tmp, disk, problems)
    if not got:
        return
    state, mem, after = got
    # the disk as the snapshot left it, for each load
    keep = os.path.join(tmp, "fc.img.saved")
    shutil.copy(disk, keep)
    for resume in (True, False):
        shutil.copy(keep, disk)
        fc_load(args, tmp, state, mem, after, resume, problems)
    shutil.copy(keep, disk)
    fc_load(args, tmp, state, mem, after, True, problems, uffd=True)


def fixture(args, tmp, problems):
    """The committed snapshot: its memory unpacked, its disk made again
    (the snap test's pattern for the rounds it had written)."""
    with open(os.path.join(args.fixture, "README")) as f:
        after = int(re.search(r"after round (\d+)", f.read()).group(1))
    mem = os.path.join(tmp, "fixture.mem")
    with gzip.open(os.path.join(args.fixture, "vm.mem.gz")) as src, open(mem, "wb") as dst:
        shutil.copyfileobj(src, dst)
    disk = os.path.join(tmp, "fixture.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
        # the round after may have written its sector before the pause
        for i in range(after + 2):
            f.seek(i * 512)
            f.write(bytes((i * 31 + k * 7 + 1) & 0xff for k in range(512)))
    status, out, err = restore(args, os.path.join(args.fixture, "vm.state"), mem, flags(disk))
    check_resumed("the committed fixture", status, out, err, after, problems)


def make_fixture(d, state, mem, after):
    os.makedirs(d, exist_ok=True)
    shutil.copy(state, os.path.join(d, "vm.state"))
    with open(mem, "rb") as src, gzip.open(os.path.join(d, "vm.mem.gz"), "wb", 9) as dst:
        shutil.copyfileobj(src, dst)
    with open(os.path.join(d, "README"), "w") as f:
        f.write(f"A snapshot in vireo's first state format (format 1), taken on a PVM host\n"
                f"by tests/e2e/snapshot_run.py --make-fixture: pvguest's snap test\n"
                f"(rounds={ROUNDS}, ms=20, 256M, 1 vCPU, --transport mmio, one 1 MiB disk),\n"
                f"paused after round {after}. e2e/snapshot-fixture restores it; keep it\n"
                f"as it is: a newer vireo must load it.\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("kernel")
    ap.add_argument("--netpeer", help="tools/netpeer: the VM gets a NIC too")
    ap.add_argument("--uffd-handler", help="tools/uffd_handler (all but --fixture)")
    ap.add_argument("--transport", choices=("pci", "mmio"), default="mmio")
    ap.add_argument("--fixture", help="a committed snapshot's directory")
    ap.add_argument("--make-fixture", help="write a fixture into this directory")
    args = ap.parse_args()
    if not args.fixture and not args.uffd_handler:
        ap.error("--uffd-handler is required")
    global TRANSPORT
    TRANSPORT = args.transport
    args.ns = None
    problems = []
    if args.fixture:
        if not os.path.exists("/sys/module/kvm_pvm"):
            print("SKIPPED (the fixture was taken on a PVM host; this KVM is not PVM and "
                  "keeps other MSRs)")
            return 77
        with tempfile.TemporaryDirectory() as tmp:
            fixture(args, tmp, problems)
        for pr in problems:
            print("FAIL:", pr)
        print(f"snapshot-fixture: {'FAIL' if problems else 'PASS'}")
        return 1 if problems else 0
    args.ns = peer = None
    why = netns.host_support() if args.netpeer else "no --netpeer"
    if why:
        print(f"net: SKIPPED ({why}); the disk and the counter only")
    else:
        args.ns = netns.TapNs().create()
    try:
        if args.ns:
            peer = Netpeer(args.ns, ["echo", "--bind", f"{netns.HOST_IP}:{netns.PEER_PORT}"],
                           netpeer=args.netpeer)
        with tempfile.TemporaryDirectory() as tmp:
            snapshot_and_restore(args, tmp, problems, peer)
    finally:
        if peer:
            peer.stop()
        if args.ns:
            args.ns.destroy()
    for pr in problems:
        print("FAIL:", pr)
    print(f"snapshot-run: {'FAIL' if problems else 'PASS'}")
    return 1 if problems else 0


def snapshot_and_restore(args, tmp, problems, peer):
    if True:
        with open(os.path.join(tmp, "disk.img"), "wb") as f:
            f.truncate(1 << 20)
        got = boot_and_snapshot(args, tmp, problems)
        if got:
            state, mem, printed = got
            last = max(printed) if printed else -1
            if printed != list(range(last + 1)):
                problems.append(f"the first VM printed rounds {printed}")
            status, out, err = restore(args, state, mem, flags(os.path.join(tmp, "disk.img"),
                                                               net=bool(args.ns)))
            print(out)
            resends = check_resumed("restored", status, out, err, last, problems)
            # the same restore with its pages served by a handler (Uffd)
            h, hsock = start_handler(args, tmp, mem, "cli")
            ustatus, uout, uerr = restore(args, state, hsock,
                                          flags(os.path.join(tmp, "disk.img"),
                                                net=bool(args.ns)), uffd=True)
            ures = check_resumed("restored through uffd", ustatus, uout, uerr, last, problems)
            pages = handler_pages(h, "restored through uffd", problems)
            print(f"restored through uffd: the handler served {pages} pages")
            if peer:
                # the guest sent rounds 0..ROUNDS-1 with its resends, then
                # after last again (uffd): the round after last once more,
                # unless it had sent its datagram before the pause
                want = ROUNDS + resends + (ROUNDS - 1 - last) + ures
                res = peer.result(0.2)  # it echoes until stopped: stop it now
                if not want - 1 <= int(res.get("pkts", -1)) <= want:
                    problems.append(f"netpeer echoed {res.get('pkts')} datagrams; the guest "
                                    f"sent {want - 1} or {want} with its resends")
            refusals(args, tmp, state, mem, problems)
            print(f"snapshot after round {last}; restored rounds {last + 1}..{ROUNDS - 1}")
            if args.make_fixture and not problems:
                make_fixture(args.make_fixture, state, mem, last)
        fc_flow(args, tmp, problems)
        diff_flow(args, tmp, problems)


if __name__ == "__main__":
    sys.exit(main())
