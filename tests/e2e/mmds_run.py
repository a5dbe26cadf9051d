#!/usr/bin/env python3
"""The metadata service (MMDS) end to end: pvguest fetches it with its own
TCP client (guest/pvguest/tests_mmds.c) from a VM that Firecracker's clients
configure, and nothing of it reaches the host's network.

usage: mmds_run.py VIREO PVGUEST_ELF [--transport pci|mmio] [--only CASE]
                   [--quiet MS]

Cases, each one VM on a TAP in a fresh namespace, with a packet socket on
the TAP that must see no frame for the service's address (ARP or IPv4):
  v1         the API: PUT /mmds/config (the NIC, V1), PUT /mmds, GET /mmds
             back, InstanceStart; the guest GETs a string (IMDS text), an
             object's keys and JSON (Accept); then PATCH /mmds after boot
             and GET /mmds again
  v2         the same with V2: a token first (PUT /latest/api/token)
  address    another ipv4_address (169.254.170.2), as the go-sdk sets it
  absent     two NICs, the service allowed on the second only: from the
             first, ARP and a SYN to it go unanswered; from the second it
             answers
  flintlock  no API: --config-file with "mmds-config" and --metadata FILE
  hostile-v1, hostile-v2
             pvguest's hostile-mmds (malformed ARP, IPv4, TCP, HTTP,
             floods, tokens), each case followed by a quiet window in which
             none of vireo's own threads may work (bench/harness/quiet.py),
             then the valid request

Exit 0 when every case behaves, 1 otherwise, 77 (SKIPPED, with the reason)
where this host cannot make TAPs in namespaces."""
import argparse
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import fcapi, netns, quiet, verdict  # noqa: E402

MAC0 = "06:00:ac:10:00:02"
MAC1 = "06:00:ac:10:00:03"
TAP1 = "vtap1"
DATA = {"latest": {"meta-data": {"ami-id": "ami-87654321", "reservation-id": "r-79054aef",
                                 "tags": {"env": "e2e"}}}}
TIMEOUT = 180


class Sniffer(threading.Thread):
    """Counts frames on a TAP (seen from the host) that are for the
    service's address: ARP asking for it, IPv4 to it."""

    def __init__(self, ns, addr):
        super().__init__(daemon=True)
        self.sock = ns.packet_socket(listen=True)
        self.addr = bytes(int(x) for x in addr.split("."))
        self.seen = 0
        self.stop_event = threading.Event()

    def run(self):
        while not self.stop_event.is_set():
            r, _, _ = select.select([self.sock], [], [], 0.05)
            if not r:
                continue
            try:
                f = self.sock.recv(65536)
            except OSError:
                return
            if len(f) >= 42 and f[12:14] == b"\x08\x06" and f[38:42] == self.addr:
                self.seen += 1
            elif len(f) >= 34 and f[12:14] == b"\x08\x00" and f[30:34] == self.addr:
                self.seen += 1

    def stop(self):
        self.stop_event.set()
        self.join(2)
        self.sock.close()
        return self.seen


def boot_args(args, run):
    mmio = " pvguest.transport=mmio" if args.transport == "mmio" else ""
    return f"console=ttyS0 reboot=k panic=1 pvguest.run={run}{mmio}"


def pci_flag(args):
    return ["--enable-pci"] if args.transport == "pci" else []


def guest_results(out, tests, problems):
    """Each "PVGUEST RESULT <t> PASS" in order; the rest's lines for the report."""
    lines = [ln for ln in out.splitlines() if ln.startswith("PVGUEST RESULT ")]
    for i, t in enumerate(tests):
        if i >= len(lines):
            problems.append(f"guest: no result for {t}; output ends {out[-400:]!r}")
            return
        if not lines[i].startswith(f"PVGUEST RESULT {t.split(',')[0]} PASS"):
            info = [ln for ln in out.splitlines() if ln.startswith("PVGUEST INFO ") and
                    ("verdict=fail" in ln or "verdict=" not in ln)][-8:]
            problems.append(f"guest: {lines[i]} ({' | '.join(info)})")


def expect(problems, what, got, status):
    if got[0] != status:
        problems.append(f"{what}: status {got[0]}, want {status} ({got[1]})")


def api_vm(args, tmp, ns, tests, version="V1", address=None, two_nics=False):
    """One VM through the API; returns (problems, output)."""
    problems = []
    sock = os.path.join(tmp, "api.sock")
    vm = fcapi.Instance(args.vireo, ["--api-sock", sock, "--id", "mmds-vm"] + pci_flag(args),
                        sock, wrap=ns.cmd)
    if not vm.ok:
        return [f"the API socket never answered: {vm.finish(5)[2]}"], ""
    api = vm.api
    expect(problems, "PUT /machine-config", api.put("/machine-config", {
        "vcpu_count": 1, "mem_size_mib": 256}), 204)
    expect(problems, "PUT /boot-source", api.put("/boot-source", {
        "kernel_image_path": args.elf, "boot_args": boot_args(args, "+".join(tests + ["idle"]))}),
        204)
    expect(problems, "PUT /network-interfaces/eth0", api.put("/network-interfaces/eth0", {
        "iface_id": "eth0", "host_dev_name": netns.TAP, "guest_mac": MAC0}), 204)
    allowed = ["eth0"]
    if two_nics:
        expect(problems, "PUT /network-interfaces/eth1", api.put("/network-interfaces/eth1", {
            "iface_id": "eth1", "host_dev_name": TAP1, "guest_mac": MAC1}), 204)
        allowed = ["eth1"]
    cfg = {"network_interfaces": allowed, "version": version}
    if address:
        cfg["ipv4_address"] = address
    expect(problems, "PUT /mmds/config", api.put("/mmds/config", cfg), 204)
    expect(problems, "PUT /mmds", api.put("/mmds", DATA), 204)
    got = api.get("/mmds")
    if got[0] != 200 or got[1] != DATA:
        problems.append(f"GET /mmds before boot: {got[0]} {got[1]}")
    sniff = Sniffer(ns, address or "169.254.169.254")
    sniff.start()
    expect(problems, "InstanceStart", api.put("/actions", {"action_type": "InstanceStart"}), 204)
    deadline = time.monotonic() + TIMEOUT
    while vm.out.count(b"PVGUEST RESULT ") < len(tests) and time.monotonic() < deadline \
            and vm.proc.poll() is None:
        time.sleep(0.05)
    if vm.out.count(b"PVGUEST RESULT ") < len(tests):
        problems.append(f"the guest's {len(tests)} tests never ended")
    # after boot: the store changes under the running guest's feet
    patch = {"latest": {"meta-data": {"ami-id": "ami-patched", "tags": None}}}
    try:
        expect(problems, "PATCH /mmds", api.patch("/mmds", patch), 204)
        got = api.get("/mmds")
        want = {"latest": {"meta-data": {"ami-id": "ami-patched",
                                         "reservation-id": "r-79054aef"}}}
        if got[0] != 200 or got[1] != want:
            problems.append(f"GET /mmds after PATCH: {got[0]} {got[1]}")
    except OSError as e:
        status, out, err = vm.finish(5)
        return problems + [f"the API after boot: {e}; vireo exited {status}: {err[-300:]}"], out
    seen = sniff.stop()
    if seen and not two_nics:
        # (with two NICs the TAP's is the one the service is not for:
        # what its guest sends there goes out as any frame does)
        problems.append(f"{seen} frames for the service's address reached the TAP")
    status, out, err = vm.stop()
    guest_results(out, tests, problems)
    return problems, out


def case_v1(args, tmp, ns):
    p, _ = api_vm(args, tmp, ns, [
        "mmds,v=1,path=/latest/meta-data/ami-id,expect=ami-87654321",
        "mmds,v=1,path=/latest/meta-data,expect=reservation-id",
        "mmds,v=1,path=/latest/meta-data/tags,json=1,expect=e2e",
        "mmds,v=1,path=/latest/nothing-here,status=404",
        "mmds,v=1,path=/latest/meta-data/ami-id,rounds=200"])
    return p


def case_v2(args, tmp, ns):
    p, _ = api_vm(args, tmp, ns, [
        "mmds,v=2,path=/latest/meta-data/ami-id,expect=ami-87654321",
        "mmds,v=2,path=/latest/meta-data/tags,json=1,expect=e2e",
        "mmds,v=2,path=/latest/meta-data/ami-id,rounds=200"], version="V2")
    return p


def case_address(args, tmp, ns):
    p, _ = api_vm(args, tmp, ns, [
        "mmds,v=1,ip=169.254.170.2,path=/latest/meta-data/ami-id,expect=ami-87654321",
        "mmds,absent=1"], address="169.254.170.2")
    return p


def case_absent(args, tmp, ns):
    ns.ip("tuntap", "add", "dev", TAP1, "mode", "tap")
    ns.ip("link", "set", TAP1, "up")
    p, _ = api_vm(args, tmp, ns, [
        "mmds,absent=1,dev=0",
        "mmds,v=1,dev=1,path=/latest/meta-data/ami-id,expect=ami-87654321"], two_nics=True)
    return p


def file_vm(args, tmp, ns, tests, version, watch_quiet=False):
    """No API: the config file's mmds-config and --metadata (flintlock);
    the guest's output into a file that QuietWatch follows."""
    problems = []
    meta = os.path.join(tmp, "metadata.json")
    with open(meta, "w") as f:
        json.dump(DATA, f)
    cfg = {
        "boot-source": {"kernel_image_path": args.elf, "boot_args": boot_args(args,
                                                                              "+".join(tests))},
        "drives": [],
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
        "network-interfaces": [{"iface_id": "eth0", "host_dev_name": netns.TAP,
                                "guest_mac": MAC0}],
        "mmds-config": {"network_interfaces": ["eth0"], "version": version},
    }
    path = os.path.join(tmp, "vm.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    out_path = os.path.join(tmp, "out.txt")
    sniff = Sniffer(ns, "169.254.169.254")
    sniff.start()
    with open(out_path, "wb") as out_f:
        proc = subprocess.Popen(ns.cmd([args.vireo, "--id", "mmds-file", "--no-api",
                                        "--config-file", path, "--metadata", meta] +
                                       pci_flag(args)),
                                stdin=subprocess.DEVNULL, stdout=out_f, stderr=subprocess.PIPE)
    watch = quiet.QuietWatch(proc.pid, out_path) if watch_quiet else None
    if watch:
        watch.start()
    deadline = time.monotonic() + TIMEOUT
    text = ""
    while time.monotonic() < deadline and proc.poll() is None:
        with open(out_path, errors="replace") as f:
            text = f.read()
        if text.count("PVGUEST RESULT ") >= len(tests) and text.endswith("\n"):
            break
        time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    err = proc.stderr.read().decode(errors="replace")
    if watch:
        watch.stop()
        problems += watch.problems()
        measured = sum(1 for w in watch.windows if w[2])
        print(f"  quiet windows: {len(watch.windows)}, {measured} measured")
    with open(out_path, errors="replace") as f:
        text = f.read()
    seen = sniff.stop()
    if seen and not watch_quiet:
        # (the hostile cases send frames the service does not take, UDP or
        # not IPv4 at all, which go out as any frame does)
        problems.append(f"{seen} frames for the service's address reached the TAP")
    for line in err.splitlines():
        if "ERROR" in line or "AddressSanitizer" in line or "runtime error" in line:
            problems.append(f"vireo: {line}")
    guest_results(text, tests, problems)
    for line in text.splitlines():
        if line.startswith("PVGUEST RESULT ") or line.startswith("PVGUEST BENCH "):
            print("  " + line)
    return problems


def case_flintlock(args, tmp, ns):
    return file_vm(args, tmp, ns, ["mmds,v=1,path=/latest/meta-data/ami-id,expect=ami-87654321"],
                   "V1")


def case_hostile_v1(args, tmp, ns):
    return file_vm(args, tmp, ns, [f"hostile-mmds,v=1,path=/latest/meta-data/ami-id,"
                                   f"expect=ami-87654321,quiet={args.quiet}"], "V1", True)


def case_hostile_v2(args, tmp, ns):
    return file_vm(args, tmp, ns, [f"hostile-mmds,v=2,path=/latest/meta-data/ami-id,"
                                   f"expect=ami-87654321,quiet={args.quiet}"], "V2", True)


CASES = [("v1", case_v1), ("v2", case_v2), ("address", case_address), ("absent", case_absent),
         ("flintlock", case_flintlock), ("hostile-v1", case_hostile_v1),
         ("hostile-v2", case_hostile_v2)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("elf")
    ap.add_argument("--transport", choices=("pci", "mmio"), default="mmio")
    ap.add_argument("--only")
    ap.add_argument("--quiet", type=int, default=60)
    args = ap.parse_args()
    args.vireo, args.elf = os.path.abspath(args.vireo), os.path.abspath(args.elf)
    why = netns.host_support()
    if why:
        print(f"SKIPPED: {why}")
        return 77
    failures = ran = 0
    for name, fn in CASES:
        if args.only and name != args.only:
            continue
        ran += 1
        with tempfile.TemporaryDirectory() as tmp, netns.TapNs() as ns:
            failures += verdict.case(f"{name} ({args.transport})", fn(args, tmp, ns))
    return verdict.tally(ran, failures, "MMDS cases")


if __name__ == "__main__":
    sys.exit(main())
