#!/usr/bin/env python3
"""vireo driven the way Firecracker's real clients drive Firecracker, with
pvguest as the kernel and every step checked:

- getting-started: the curl calls of Firecracker's docs/getting-started.md,
  run with curl as written there (only the file paths, the TAP's name and
  boot_args differ), then pvguest's blk and net tests in that VM;
- go-sdk: firecracker-go-sdk's order: --api-sock and --id, GET
  /machine-config every 10 ms until it answers (3 s limit), PUT logger,
  metrics, machine-config (read back with GET), boot-source, drive, NIC,
  InstanceStart; the guest's blk and net tests; then its stop,
  SendCtrlAltDel, which the guest sees and resets on;
- kata: `--version` read as Kata reads it (second word, semver >= 0.21.1),
  then --api-sock with --config-file: Kata's file (a read-only root as a
  plain drive, eight placeholder drives on empty files, a NIC with empty
  rate limiters, logger and metrics on FIFOs), GET / every 10 ms until
  "Running", a placeholder swapped with PATCH /drives (the guest sees the
  new capacity, a config-change interrupt and the new file's bytes), and
  SIGTERM. Kata's file also has its vsock (with the deprecated vsock_id):
  its socket must be there while the VM runs and gone after SIGTERM;
- flintlock: --id, --boot-timer, --no-api, --config-file, --metadata; no
  HTTP at all; the guest's blk test; SIGHUP stops it (status 156).

The NIC steps need a TAP in a network namespace (root); where this host
cannot make one they are left out and the output says SKIPPED for them.

usage: api_clients.py VIREO PVGUEST_ELF NETPEER [--transport pci|mmio]"""
import argparse
import json
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import fcapi, netns, verdict  # noqa: E402
from harness.netpeer import Netpeer  # noqa: E402

FC_MAC = "06:00:AC:10:00:02"   # getting-started.md's


class Net:
    """The TAP in its namespace, with netpeer echoing on the host end; or
    nothing where this host cannot make one (why says so)."""

    def __init__(self, netpeer):
        self.why = netns.host_support()
        self.ns = self.peer = None
        if self.why:
            return
        self.ns = netns.TapNs().create()
        try:
            self.peer = Netpeer(self.ns, ["echo", "--bind", f"{netns.HOST_IP}:{netns.PEER_PORT}"],
                                netpeer=netpeer)
        except RuntimeError:
            self.ns.destroy()
            raise

    def wrap(self, argv):
        return self.ns.cmd(argv) if self.ns else argv

    def tests(self, mmds=""):
        """pvguest's net test and its options, or nothing; with mmds, its
        metadata test's options after it (the MMDS on the same NIC)."""
        if self.why:
            return "", ""
        return "+net-echo" + (f"+mmds,{mmds}" if mmds else ""), (
            f" pvguest.net_ip={netns.GUEST_IP} pvguest.net_peer={netns.HOST_IP}"
            f" pvguest.net_port={netns.PEER_PORT}")

    def close(self):
        if self.peer:
            self.peer.stop()
        if self.ns:
            self.ns.destroy()


def boot_args(transport, run, extra=""):
    """getting-started.md's boot_args, and what pvguest is to do."""
    mmio = " pvguest.transport=mmio" if transport == "mmio" else ""
    return f"console=ttyS0 reboot=k panic=1 pvguest.run={run}{extra}{mmio}"


def pci_flag(transport):
    return ["--enable-pci"] if transport == "pci" else []


def expect(problems, what, got, want_status):
    status, body, _ = got
    if status != want_status:
        problems.append(f"{what}: status {status}, want {want_status} ({body})")


def guest_passed(problems, out, tests):
    for t in tests:
        if not re.search(rf"^PVGUEST RESULT {re.escape(t)} PASS", out, re.M):
            got = re.findall(rf"^PVGUEST RESULT {re.escape(t)} .*$", out, re.M)
            problems.append(f"guest: no {t} PASS" + (f" ({got[-1]})" if got else
                                                     f"; output ends {out[-300:]!r}"))


def disk(tmp, name, size):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def case_getting_started(args, tmp, net):
    """The curl calls of docs/getting-started.md, as written there."""
    problems = []
    api_socket = os.path.join(tmp, "firecracker.socket")
    logfile = os.path.join(tmp, "firecracker.log")
    rootfs = disk(tmp, "ubuntu-24.04.ext4", 64 << 20)
    net_test, net_args = net.tests()
    vm = fcapi.Instance(args.vireo, ["--api-sock", api_socket] + pci_flag(args.transport),
                        api_socket, wrap=net.wrap)
    if not vm.ok:
        return [f"the API socket never answered: {vm.stop()}"]
    tap_dev = netns.TAP

    def curl(data, url):
        p = subprocess.run(["curl", "-X", "PUT", "--unix-socket", api_socket, "--data", data,
                            "-s", "-o", "/dev/stderr", "-w", "%{http_code}", url],
                           capture_output=True, text=True, timeout=30)
        if p.stdout != "204":
            problems.append(f"curl {url}: {p.stdout} {p.stderr.strip()}")

    curl(f'''{{
        "log_path": "{logfile}",
        "level": "Debug",
        "show_level": true,
        "show_log_origin": true
    }}''', "http://localhost/logger")
    kernel_boot_args = boot_args(args.transport, "blk-verify" + net_test,
                                 " pvguest.blk_id=ubuntu-24.04.ext4" + net_args)
    curl(f'''{{
        "kernel_image_path": "{args.elf}",
        "boot_args": "{kernel_boot_args}"
    }}''', "http://localhost/boot-source")
    curl(f'''{{
        "drive_id": "rootfs",
        "path_on_host": "{rootfs}",
        "is_root_device": true,
        "is_read_only": false
    }}''', "http://localhost/drives/rootfs")
    if not net.why:
        curl(f'''{{
        "iface_id": "net1",
        "guest_mac": "{FC_MAC}",
        "host_dev_name": "{tap_dev}"
    }}''', "http://localhost/network-interfaces/net1")
    time.sleep(0.015)
    curl('''{
        "action_type": "InstanceStart"
    }''', "http://localhost/actions")
    status, out, err = vm.finish()
    if status != 0:
        problems.append(f"vireo exited {status}, want 0 (the guest resets): {err.strip()}")
    guest_passed(problems, out, ["blk-verify"] + (["net-echo"] if not net.why else []))
    if f"mac={FC_MAC.lower()}" not in out.lower() and not net.why:
        problems.append("the guest's NIC does not have guest_mac")
    if os.path.exists(api_socket):
        problems.append("the API socket was left behind")
    return problems


def case_go_sdk(args, tmp, net):
    """firecracker-go-sdk's start-up order, and its stop."""
    problems = []
    sock = os.path.join(tmp, "sdk.sock")
    log, metrics = os.path.join(tmp, "sdk.log"), os.path.join(tmp, "sdk.metrics")
    rootfs = disk(tmp, "sdk-root.img", 32 << 20)
    net_test, net_args = net.tests("v=2,path=/latest/meta-data/instance-id,expect=sdk-vm")
    vm = fcapi.Instance(args.vireo, ["--api-sock", sock, "--id", "sdk-vm"] +
                        pci_flag(args.transport), None, wrap=net.wrap)
    # the SDK's waitForSocket: GET /machine-config every 10 ms, 3 s at most
    api, deadline = None, time.monotonic() + 3
    while time.monotonic() < deadline and api is None:
        try:
            c = fcapi.Client(sock, timeout=1)
            if c.get("/machine-config")[0] == 200:
                api = c
        except OSError:
            time.sleep(0.01)
    if api is None:
        vm.stop()
        return ["GET /machine-config never answered within 3 s"]
    vm.api = api
    for path in (log, metrics):
        open(path, "w").close()
    expect(problems, "PUT /logger", api.put("/logger", {
        "log_path": log, "level": "Debug", "show_level": True, "show_log_origin": False}), 204)
    expect(problems, "PUT /metrics", api.put("/metrics", {"metrics_path": metrics}), 204)
    machine = {"vcpu_count": 2, "mem_size_mib": 256, "smt": False}
    expect(problems, "PUT /machine-config", api.put("/machine-config", machine), 204)
    status, got, _ = api.get("/machine-config")
    if status != 200 or any(got.get(k) != v for k, v in machine.items()):
        problems.append(f"GET /machine-config after PUT: {status} {got}")
    expect(problems, "PUT /boot-source", api.put("/boot-source", {
        "kernel_image_path": args.elf, "boot_args": boot_args(
            args.transport, "blk-verify" + net_test + "+ctrlaltdel",
            " pvguest.blk_id=sdk-root.img" + net_args)}), 204)
    expect(problems, "PUT /drives/root", api.put("/drives/root", {
        "drive_id": "root", "path_on_host": rootfs, "is_root_device": True,
        "is_read_only": False, "cache_type": "Unsafe", "io_engine": "Sync"}), 204)
    if not net.why:
        expect(problems, "PUT /network-interfaces/1", api.put("/network-interfaces/1", {
            "iface_id": "1", "host_dev_name": netns.TAP, "guest_mac": FC_MAC.lower()}), 204)
        # a NIC with AllowMMDS: the SDK's MMDS config right after the NICs,
        # and its metadata (SetMetadata) before the start
        expect(problems, "PUT /mmds/config", api.put("/mmds/config", {
            "network_interfaces": ["1"], "version": "V2", "ipv4_address": "169.254.169.254"}),
            204)
        expect(problems, "PUT /mmds", api.put("/mmds", {
            "latest": {"meta-data": {"instance-id": "sdk-vm"}}}), 204)
    expect(problems, "InstanceStart", api.put("/actions", {"action_type": "InstanceStart"}),
           204)
    if not vm.wait_output("PVGUEST INFO ctrlaltdel waiting"):
        problems.append("the guest never got to waiting for Ctrl-Alt-Del")
    # the SDK's StopVMM: SendCtrlAltDel, then SIGTERM if it is still there
    expect(problems, "SendCtrlAltDel", api.put("/actions", {"action_type": "SendCtrlAltDel"}),
           204)
    try:
        vm.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        problems.append("vireo still ran 30 s after SendCtrlAltDel")
        vm.signal(signal.SIGTERM)
    status, out, err = vm.finish()
    if status != 0:
        problems.append(f"vireo exited {status}, want 0 (the guest resets): {err.strip()}")
    guest_passed(problems, out, ["blk-verify"] + (["net-echo", "mmds"] if not net.why else []) +
                 ["ctrlaltdel"])
    problems += telemetry_problems(open(log, "rb").read(), open(metrics, "rb").read(),
                                   "sdk-vm", "block_root", "PUT /actions")
    return problems


def telemetry_problems(log, metrics, vm_id, block, request):
    """The logger's lines in Firecracker's format, with the API's request
    at Debug; the metrics lines JSON, the last one counting the drive."""
    problems = []
    lines = log.decode(errors="replace").splitlines()
    line_re = re.compile(rf"^\d{{4}}-\d\d-\d\dT[\d:.]+ \[{re.escape(vm_id)}:[\w:./-]+\] ")
    if not lines or not all(line_re.match(x) for x in lines):
        bad = [x for x in lines if not line_re.match(x)][:2]
        problems.append(f"log lines not in Firecracker's format: {bad or 'none written'}")
    if not any(request in x for x in lines):
        problems.append(f"the log has no Debug line for {request}")
    try:
        rows = [json.loads(x) for x in metrics.decode().splitlines()]
        if not rows or block not in rows[-1] or "utc_timestamp_ms" not in rows[-1]:
            problems.append(f"metrics: {len(rows)} lines, the last without {block}")
    except ValueError as err:
        problems.append(f"metrics: a line is not JSON: {err}")
    return problems


def kata_version_ok(vireo):
    """Kata's check: the second word of `--version`'s first line is a
    semver of at least 0.21.1."""
    p = subprocess.run([vireo, "--version"], capture_output=True, text=True, timeout=30)
    words = p.stdout.splitlines()[0].split() if p.stdout else []
    m = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", words[1]) if len(words) > 1 else None
    return p.returncode == 0 and m and tuple(map(int, m.groups())) >= (0, 21, 1), p.stdout


class FifoReader(threading.Thread):
    """Kata reads its logger and metrics FIFOs as they come."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.data = path, b""
        os.mkfifo(path)
        self.start()

    def run(self):
        with open(self.path, "rb") as f:
            for chunk in iter(lambda: f.read1(4096), b""):
                self.data += chunk

    def finish(self):
        """Once the writer is gone: what was read. A reader still waiting
        for a writer to open the FIFO is let go by one that writes nothing."""
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass    # ENXIO: the reader has its writer's EOF already
        self.join(10)
        return self.data


def kata_config(args, tmp, net, vsock):
    rootfs = disk(tmp, "kata-containers.img", 16 << 20)
    drives = [{"drive_id": "rootfs", "path_on_host": rootfs, "is_root_device": False,
               "is_read_only": True}]
    for n in range(8):
        drives.append({"drive_id": f"drive_{n}", "path_on_host": disk(tmp, f"drive_{n}", 0),
                       "is_root_device": False, "is_read_only": False})
    net_test, net_args = net.tests()
    cfg = {
        "boot-source": {"kernel_image_path": args.elf, "boot_args": boot_args(
            args.transport, "blk-swap,dev=4" + net_test + "+idle",
            " pci=off acpi=off agent.log_vport=1025" + net_args)},
        "drives": drives,
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 256, "smt": False},
        "logger": {"log_path": os.path.join(tmp, "logs.fifo"), "level": "Debug",
                   "show_level": True, "show_log_origin": True},
        "metrics": {"metrics_path": os.path.join(tmp, "metrics.fifo")},
        "network-interfaces": [] if net.why else [{
            "iface_id": "eth0", "host_dev_name": netns.TAP, "guest_mac": FC_MAC.lower(),
            "rx_rate_limiter": {}, "tx_rate_limiter": {}}],
    }
    if vsock:
        cfg["vsock"] = {"vsock_id": "root", "guest_cid": 3,
                        "uds_path": os.path.join(tmp, "kata.hvsock")}
    return cfg


def case_kata(args, tmp, net):
    problems = []
    ok, text = kata_version_ok(args.vireo)
    if not ok:
        problems.append(f"--version as Kata reads it: {text!r}")
    cfg = kata_config(args, tmp, net, True)
    path = os.path.join(tmp, "kata.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    logs, metrics = FifoReader(cfg["logger"]["log_path"]), FifoReader(
        cfg["metrics"]["metrics_path"])
    sock = os.path.join(tmp, "kata.sock")
    vm = fcapi.Instance(args.vireo, ["--api-sock", sock, "--config-file", path] +
                        pci_flag(args.transport), sock, wrap=net.wrap)
    if not vm.ok:
        return problems + [f"the API socket never answered: {vm.stop()}"]
    # Kata's waitVMMRunning: GET / every 10 ms until Running
    state, deadline = None, time.monotonic() + 10
    while state != "Running" and time.monotonic() < deadline:
        state = (vm.api.get("/")[1] or {}).get("state")
        time.sleep(0.01)
    if state != "Running":
        problems.append(f"GET / never said Running: {state}")
    if not vm.wait_output("PVGUEST INFO blk-swap waiting"):
        problems.append("the guest never opened the placeholder drive")
    hvsock = cfg["vsock"]["uds_path"]
    if not stat.S_ISSOCK(os.lstat(hvsock).st_mode if os.path.lexists(hvsock) else 0):
        problems.append(f"the vsock's socket {hvsock} is not there while the VM runs")
    # the container's disk goes in place of placeholder drive_3
    image = disk(tmp, "container.img", 8 << 20)
    with open(image, "r+b") as f:
        f.write(b"KATADISK")
    expect(problems, "PATCH /drives/drive_3", vm.api.patch("/drives/drive_3", {
        "drive_id": "drive_3", "path_on_host": image}), 204)
    if not vm.wait_output("PVGUEST RESULT blk-swap"):
        problems.append("the guest never saw the swap")
    if not net.why and not vm.wait_output("PVGUEST RESULT net-echo"):
        problems.append("the guest's net test never ended")
    status, out, err = vm.stop()
    if status != 128 + signal.SIGTERM:
        problems.append(f"SIGTERM: vireo exited {status}: {err.strip()}")
    if os.path.lexists(hvsock):
        problems.append(f"the vsock's socket {hvsock} outlived the VM")
    guest_passed(problems, out, ["blk-swap"] + (["net-echo"] if not net.why else []))
    m = re.search(r"^PVGUEST RESULT blk-swap .*$", out, re.M)
    want = f"old_capacity=0 capacity={(8 << 20) // 512} cfgirq=1 head={b'KATADISK'.hex()}"
    if m and want not in m.group(0):
        problems.append(f"the swap as the guest saw it: {m.group(0)!r}, want {want!r}")
    problems += telemetry_problems(logs.finish(), metrics.finish(), "anonymous-instance",
                                   "block_drive_3", "PATCH /drives/drive_3")
    return problems


def case_flintlock(args, tmp, net):
    """No HTTP at all: the config file, --metadata, and SIGHUP to stop."""
    problems = []
    metadata = os.path.join(tmp, "metadata.json")
    with open(metadata, "w") as f:
        # flintlock's metadata: cloud-init's meta-data and user-data as strings
        json.dump({"latest": {"meta-data": "instance_id: flint-1\nlocal_hostname: flint-1\n",
                              "user-data": "#cloud-config\n"}}, f)
    metrics, log = os.path.join(tmp, "flint.metrics"), os.path.join(tmp, "flint.log")
    open(metrics, "w").close()
    root = disk(tmp, "flint-root.img", 32 << 20)
    net_test, net_args = net.tests("v=1,path=/latest/meta-data,expect=flint-1")
    cfg = {
        "boot-source": {"kernel_image_path": args.elf, "boot_args": boot_args(
            args.transport, "boot-timer+blk-verify" + net_test + "+idle",
            " pvguest.blk_id=flint-root.img" + net_args)},
        "drives": [{"drive_id": "root", "path_on_host": root, "is_root_device": True,
                    "is_read_only": False}],
        "machine-config": {"vcpu_count": 2, "mem_size_mib": 256},
        "metrics": {"metrics_path": metrics},
        "logger": {"log_path": log, "level": "Info"},
        "network-interfaces": [] if net.why else [{
            "iface_id": "eth0", "host_dev_name": netns.TAP, "guest_mac": FC_MAC.lower()}],
    }
    if not net.why:
        cfg["mmds-config"] = {"version": "V1", "network_interfaces": ["eth0"],
                              "ipv4_address": "169.254.169.254"}
    path = os.path.join(tmp, "flint.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    vm = fcapi.Instance(args.vireo, ["--id", "flint-1", "--boot-timer", "--no-api",
                                     "--config-file", path, "--metadata", metadata] +
                        pci_flag(args.transport), None, wrap=net.wrap)
    last = "mmds" if not net.why else "blk-verify"
    if not vm.wait_output(f"PVGUEST RESULT {last}"):
        problems.append(f"the guest's {last} never ended")
    vm.signal(signal.SIGHUP)
    status, out, err = vm.finish(30)
    if status != 156:
        problems.append(f"SIGHUP: vireo exited {status}, want 156: {err.strip()}")
    guest_passed(problems, out, ["blk-verify"] + (["net-echo", "mmds"] if not net.why else []))
    # flintlock reads the metrics file's last line: the VM's last moments
    with open(metrics) as f:
        lines = f.read().splitlines()
    try:
        last = json.loads(lines[-1])
        if not last.get("utc_timestamp_ms") or "block_root" not in last:
            problems.append(f"the metrics file's last line lacks its fields: {lines[-1][:200]}")
        elif last["signals"].get("sighup") != 1:
            problems.append(f"the last metrics line does not count the SIGHUP: {last['signals']}")
    except (IndexError, ValueError, KeyError) as err:
        problems.append(f"the metrics file's last line: {err}: {lines[-1:]}")
    with open(log) as f:
        text = f.read()
    if not re.search(r"Guest-boot-time = +\d+ us \d+ ms, +\d+ CPU us \d+ CPU ms", text):
        problems.append(f"--boot-timer: no Guest-boot-time line in the log: {text[-300:]!r}")
    return problems


CASES = [
    ("getting-started (curl)", case_getting_started),
    ("firecracker-go-sdk", case_go_sdk),
    ("Kata Containers", case_kata),
    ("flintlock", case_flintlock),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("elf")
    ap.add_argument("netpeer")
    ap.add_argument("--transport", choices=("pci", "mmio"), default="mmio")
    args = ap.parse_args()
    args.vireo, args.elf = os.path.abspath(args.vireo), os.path.abspath(args.elf)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    failures = 0
    for name, fn in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            net = Net(args.netpeer)
            try:
                if net.why:
                    print(f"SKIPPED the NIC steps of {name}: {net.why}")
                failures += verdict.case(f"{name} ({args.transport})", fn(args, tmp, net))
            finally:
                net.close()
    return verdict.tally(len(CASES), failures, "client sequences")


if __name__ == "__main__":
    sys.exit(main())
