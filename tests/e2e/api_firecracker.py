#!/usr/bin/env python3
"""vireo as a drop-in Firecracker: its command line, its REST API on a Unix
socket and its config file, driven the way Firecracker's clients drive it,
with pvguest as the kernel.

- getting-started: the API sequence of Firecracker's docs/getting-started.md
  (logger, boot source, root drive, machine config, InstanceStart); the guest
  runs blk-verify on the root drive and resets, and vireo exits 0;
- lifecycle: the states GET / reports, the phase rules (before / after boot),
  pause and resume, InstanceStart twice, SIGTERM;
- bad requests: unknown paths and methods, bodies where none belong and none
  where one must, malformed JSON, bad ids, an oversize body, a half-sent
  request that never ends, 16 clients at once; each answered with the right
  status and Firecracker's fault message, and the configuration unchanged;
- SendCtrlAltDel: the guest sees Ctrl, Alt, Delete on its PS/2 controller;
- config file: --no-api --config-file boots at once; a bad file exits 152,
  bad flags 153; --version; an API socket path that exists is left alone;
- entropy: PUT /entropy (an empty rate_limiter) and InstanceStart, and the
  config file's entropy key: pvguest's rng test passes on the device, and
  GET /vm/config gives it back.

usage: api_firecracker.py VIREO PVGUEST_ELF [--transport pci|mmio]"""
import argparse
import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

# The harness shared with the benchmarks is bench/harness: bench/ on sys.path.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import fcapi, verdict  # noqa: E402

BOOT_TIMEOUT = 120  # a failure detector only: pvguest's tests take well under a second


def start_vm(vireo, tmp, name, extra=()):
    """vireo started as Firecracker's clients start it: --api-sock in tmp, --id name."""
    sock = os.path.join(tmp, name + ".sock")
    return fcapi.Instance(vireo, ["--api-sock", sock, "--id", name] + list(extra), sock)


def expect(problems, what, got, want_status, want_fault=None):
    """Checks one answer: its status and, for a 400, its fault message."""
    status, body, _ = got
    if status != want_status:
        problems.append(f"{what}: status {status}, want {want_status} ({body})")
    elif want_fault is not None:
        fault = (body or {}).get("fault_message", "")
        if want_fault not in fault:
            problems.append(f"{what}: fault {fault!r} lacks {want_fault!r}")


def boot_source(elf, transport, test, extra=""):
    """pvguest as the kernel, running test over the VM's virtio transport."""
    extra += " pvguest.transport=mmio" if transport == "mmio" else ""
    return {"kernel_image_path": elf,
            "boot_args": f"console=ttyS0 reboot=k panic=1 pvguest.run={test} {extra}".strip()}


def case_getting_started(vireo, elf, tmp, transport):
    problems = []
    img = os.path.join(tmp, "rootfs.ext4")
    with open(img, "wb") as f:
        f.truncate(64 << 20)
    log = os.path.join(tmp, "firecracker.log")
    open(log, "w").close()
    vm = start_vm(vireo, tmp, "started", ["--enable-pci"] if transport == "pci" else [])
    if not vm.ok:
        vm.stop()
        return ["the API socket never answered"]
    api = vm.api
    expect(problems, "PUT /logger", api.put("/logger", {
        "log_path": log, "level": "Debug", "show_level": True, "show_log_origin": True}), 204)
    expect(problems, "PUT /boot-source", api.put("/boot-source", boot_source(
        elf, transport, "blk-verify", "pvguest.blk_id=" + os.path.basename(img))), 204)
    expect(problems, "PUT /drives/rootfs", api.put("/drives/rootfs", {
        "drive_id": "rootfs", "path_on_host": img, "is_root_device": True,
        "is_read_only": False}), 204)
    expect(problems, "PUT /machine-config", api.put("/machine-config", {
        "vcpu_count": 2, "mem_size_mib": 256}), 204)
    expect(problems, "PUT /actions InstanceStart", api.put("/actions", {
        "action_type": "InstanceStart"}), 204)
    status, out, err = vm.finish()
    if status != 0:
        problems.append(f"vireo exited {status}, want 0 (the guest resets): {err.strip()}")
    if "PVGUEST RESULT blk-verify PASS" not in out:
        problems.append(f"no blk-verify PASS in the guest's output: {out[-400:]!r}")
    if "root=/dev/vda rw" not in out:
        problems.append("the root drive's root=/dev/vda rw is not on the guest's command line")
    if os.path.exists(vm.sock):
        problems.append("the API socket was left behind")
    return problems


def case_lifecycle(vireo, elf, tmp, transport):
    problems = []
    vm = start_vm(vireo, tmp, "life", ["--enable-pci"] if transport == "pci" else [])
    if not vm.ok:
        vm.stop()
        return ["the API socket never answered"]
    api = vm.api
    status, info, _ = api.get("/")
    if status != 200 or info.get("state") != "Not started" or info.get("id") != "life":
        problems.append(f"GET / before boot: {status} {info}")
    expect(problems, "PATCH /vm before boot", api.patch("/vm", {"state": "Paused"}), 400,
           "not supported before starting the microVM")
    expect(problems, "InstanceStart without a kernel", api.put("/actions", {
        "action_type": "InstanceStart"}), 400, "without kernel configuration")
    # deprecated fields: accepted (or refused for another reason) with the header
    for what, got, want in (
            ("cpu_template None", api.put("/machine-config", {
                "vcpu_count": 1, "mem_size_mib": 256, "cpu_template": "None"}), 204),
            ("vsock_id", api.put("/vsock", {"vsock_id": "v", "guest_cid": 3,
                                            "uds_path": os.path.join(tmp, "v.sock")}), 204)):
        expect(problems, f"PUT with {what}", got, want)
        if got[2].get("Deprecation") != "true":
            problems.append(f"PUT with {what}: no Deprecation header: {got[2]}")
    status, _, headers = api.get("/")
    if "Deprecation" in headers:
        problems.append("GET / answered with a Deprecation header")
    expect(problems, "PUT /boot-source",
           api.put("/boot-source", boot_source(elf, transport, "idle")), 204)
    imgs = [os.path.join(tmp, f"swap{i}.img") for i in range(2)]
    for img in imgs:
        with open(img, "wb") as f:
            f.truncate(1 << 20)
    expect(problems, "PUT /drives/data", api.put("/drives/data", {
        "drive_id": "data", "path_on_host": imgs[0], "is_root_device": False,
        "is_read_only": False}), 204)
    expect(problems, "PATCH /drives before boot", api.patch("/drives/data", {
        "drive_id": "data", "path_on_host": imgs[1]}), 400, "before starting the microVM")
    expect(problems, "InstanceStart", api.put("/actions", {"action_type": "InstanceStart"}), 204)
    status, info, _ = api.get("/")
    if status != 200 or info.get("state") != "Running":
        problems.append(f"GET / after InstanceStart: {status} {info}")
    if not vm.wait_output("PVGUEST READY"):
        problems.append("the guest never said READY")
    expect(problems, "PUT /machine-config after boot", api.put("/machine-config", {
        "vcpu_count": 2, "mem_size_mib": 256}), 400, "not supported after starting the microVM")
    expect(problems, "InstanceStart again", api.put("/actions", {
        "action_type": "InstanceStart"}), 400)
    expect(problems, "PATCH /vm Paused", api.patch("/vm", {"state": "Paused"}), 204)
    status, info, _ = api.get("/")
    if info is None or info.get("state") != "Paused":
        problems.append(f"GET / after pausing: {status} {info}")
    expect(problems, "PATCH /vm Paused twice", api.patch("/vm", {"state": "Paused"}), 400)
    expect(problems, "PATCH /vm Resumed", api.patch("/vm", {"state": "Resumed"}), 204)
    status, info, _ = api.get("/")
    if info is None or info.get("state") != "Running":
        problems.append(f"GET / after resuming: {status} {info}")
    expect(problems, "PATCH /vm bad state", api.patch("/vm", {"state": "Asleep"}), 400, "state")
    # a drive's backing file swapped under the running VM, as Kata does
    if open_files(vm.proc.pid) & set(imgs) != {imgs[0]}:
        problems.append(f"before PATCH /drives: open {open_files(vm.proc.pid) & set(imgs)}")
    expect(problems, "PATCH /drives/data", api.patch("/drives/data", {
        "drive_id": "data", "path_on_host": imgs[1]}), 204)
    if open_files(vm.proc.pid) & set(imgs) != {imgs[1]}:
        problems.append(f"after PATCH /drives: open {open_files(vm.proc.pid) & set(imgs)}")
    expect(problems, "PATCH /drives to a missing file", api.patch("/drives/data", {
        "drive_id": "data", "path_on_host": os.path.join(tmp, "nope.img")}), 400,
        "No such file")
    expect(problems, "PATCH /drives of no drive", api.patch("/drives/other", {
        "drive_id": "other", "path_on_host": imgs[0]}), 400)
    if open_files(vm.proc.pid) & set(imgs) != {imgs[1]}:
        problems.append(f"after a failed PATCH /drives: open {open_files(vm.proc.pid)}")
    status, mc, _ = api.get("/machine-config")
    if status != 200 or mc.get("vcpu_count") != 1:
        problems.append(f"GET /machine-config after boot: {status} {mc}")
    status, out, err = vm.stop()
    if status != 128 + signal.SIGTERM:
        problems.append(f"SIGTERM: vireo exited {status}, want {128 + signal.SIGTERM}")
    stray = [line for line in err.splitlines() if not line.startswith("vireo:")]
    if stray:
        problems.append(f"stray stderr: {stray}")
    return problems


def case_ctrl_alt_del(vireo, elf, tmp, transport):
    """firecracker-go-sdk's stop: SendCtrlAltDel; the guest sees the keys on
    its PS/2 controller and resets, and vireo exits 0."""
    problems = []
    vm = start_vm(vireo, tmp, "cad", ["--enable-pci"] if transport == "pci" else [])
    if not vm.ok:
        vm.stop()
        return ["the API socket never answered"]
    api = vm.api
    expect(problems, "PUT /boot-source", api.put("/boot-source",
                                                 boot_source(elf, transport, "ctrlaltdel")), 204)
    expect(problems, "InstanceStart", api.put("/actions", {"action_type": "InstanceStart"}), 204)
    if not vm.wait_output("PVGUEST INFO ctrlaltdel waiting"):
        problems.append("the guest never waited for the keys")
    expect(problems, "SendCtrlAltDel", api.put("/actions", {"action_type": "SendCtrlAltDel"}),
           204)
    status, out, err = vm.finish()
    if "PVGUEST RESULT ctrlaltdel PASS" not in out:
        problems.append(f"the guest did not see Ctrl-Alt-Del: {out[-300:]!r}")
    if status != 0:
        problems.append(f"vireo exited {status}, want 0 (the guest resets): {err.strip()}")
    return problems


def open_files(pid):
    """The paths a process has open."""
    fds = f"/proc/{pid}/fd"
    paths = set()
    for fd in os.listdir(fds):
        try:
            paths.add(os.readlink(os.path.join(fds, fd)))
        except OSError:
            pass
    return paths


def half_sent(sock):
    """A client that sends part of a request and then nothing."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(b"PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"vcpu")
    return s


def case_bad_requests(vireo, elf, tmp, transport):
    problems = []
    vm = start_vm(vireo, tmp, "bad", ["--http-api-max-payload-size", "4096"] +
                  (["--enable-pci"] if transport == "pci" else []))
    if not vm.ok:
        vm.stop()
        return ["the API socket never answered"]
    api = vm.api
    _, before, _ = api.get("/machine-config")
    cases = [
        ("GET unknown path", ("GET", "/nope", None), 400, "Invalid request method and/or path"),
        ("DELETE /", ("DELETE", "/", None), 400, "Invalid request method and/or path"),
        ("POST /actions", ("POST", "/actions", b"{}"), 400, "Invalid request"),
        ("GET with a body", ("GET", "/", b"{}"), 400, "GET request cannot have a body."),
        ("PUT without a body", ("PUT", "/boot-source", None), 400, "Empty PUT request."),
        ("PATCH without a body", ("PATCH", "/machine-config", None), 400,
         "Empty PATCH request."),
        ("malformed JSON", ("PUT", "/machine-config", b"{\"vcpu_count\": 2,"), 400, ""),
        ("not an object", ("PUT", "/machine-config", b"[1, 2]"), 400, ""),
        ("unknown field", ("PUT", "/machine-config",
                           b"{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"gpu\": 1}"), 400, "gpu"),
        ("wrong type", ("PUT", "/machine-config",
                        b"{\"vcpu_count\": \"two\", \"mem_size_mib\": 256}"), 400, "vcpu_count"),
        ("negative", ("PUT", "/machine-config",
                      b"{\"vcpu_count\": -1, \"mem_size_mib\": 256}"), 400, "vcpu_count"),
        ("overflow", ("PUT", "/machine-config",
                      b"{\"vcpu_count\": 1, \"mem_size_mib\": 99999999999999999999}"), 400, ""),
        ("too many vCPUs", ("PUT", "/machine-config",
                            b"{\"vcpu_count\": 33, \"mem_size_mib\": 256}"), 400, "vcpu_count"),
        ("missing kernel file", ("PUT", "/boot-source",
                                 json.dumps({"kernel_image_path": os.path.join(tmp, "nope")})
                                 .encode()), 400, "kernel_image_path"),
        ("empty drive id", ("PUT", "/drives/", b"{}"), 400, "The ID cannot be empty."),
        ("bad drive id", ("PUT", "/drives/bad-id",
                          b"{\"drive_id\": \"bad-id\", \"path_on_host\": \"/x\", "
                          b"\"is_root_device\": false, \"is_read_only\": true}"), 400,
         "alphanumeric characters and underscores"),
        ("path too deep", ("PUT", "/drives/a/b/c", b"{}"), 400, "Invalid request"),
        ("id differs from the path", ("PUT", "/drives/a",
                                      b"{\"drive_id\": \"b\", \"path_on_host\": \"/x\", "
                                      b"\"is_root_device\": false, \"is_read_only\": true}"),
         400, "drive_id"),
        ("oversize body", ("PUT", "/machine-config", b"{\"x\": \"" + b"a" * 5000 + b"\"}"),
         400, "larger than the limit of 4096"),
        ("action unknown", ("PUT", "/actions", b"{\"action_type\": \"Reboot\"}"), 400,
         "action_type"),
        ("vsock on a file that is not a socket", ("PUT", "/vsock",
                             b"{\"guest_cid\": 3, \"uds_path\": \"/etc/passwd\"}"), 400,
         "not a socket"),
    ]
    for name, (method, path, raw), want, fault in cases:
        try:
            got = api.request(method, path, raw=raw)
        except OSError as err:
            problems.append(f"{name}: {err}")
            continue
        expect(problems, name, got, want, fault)
    # a client that never finishes its request blocks nobody
    stuck = half_sent(vm.sock)
    t0 = time.monotonic()
    status, info, _ = fcapi.Client(vm.sock, timeout=10).get("/")
    if status != 200:
        problems.append(f"GET / beside a half-sent request: {status}")
    elif time.monotonic() - t0 > 5:
        problems.append("GET / waited for a half-sent request")
    stuck.close()

    # 16 clients at once, 20 requests each
    def client(_):
        c = fcapi.Client(vm.sock)
        codes = [c.get("/")[0] for _ in range(20)]
        c.close()
        return codes
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = [x for r in pool.map(client, range(16)) for x in r]
    if codes.count(200) != len(codes):
        problems.append(f"16 clients: {len(codes) - codes.count(200)} of {len(codes)} failed")
    status, after, _ = api.get("/machine-config")
    if after != before:
        problems.append(f"bad requests changed the configuration: {before} -> {after}")
    status, info, _ = api.get("/")
    if info is None or info.get("state") != "Not started":
        problems.append(f"after the bad requests: {status} {info}")
    status, _, err = vm.stop()
    if status != 128 + signal.SIGTERM:
        problems.append(f"SIGTERM: vireo exited {status}: {err.strip()}")
    return problems


def run_cli(vireo, args, timeout=BOOT_TIMEOUT):
    p = subprocess.run([vireo] + args, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def case_config_file(vireo, elf, tmp, transport):
    problems = []
    img = os.path.join(tmp, "data.img")
    with open(img, "wb") as f:
        f.truncate(64 << 20)
    conf = {
        "boot-source": boot_source(elf, transport, "blk-verify", "pvguest.blk_id=data.img"),
        "drives": [{"drive_id": "data", "path_on_host": img, "is_root_device": False,
                    "is_read_only": False}],
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
    }
    path = os.path.join(tmp, "vm.json")
    with open(path, "w") as f:
        json.dump(conf, f)
    args = ["--no-api", "--config-file", path, "--id", "fromfile"]
    if transport == "pci":
        args.append("--enable-pci")
    status, out, err = run_cli(vireo, args)
    if status != 0 or "PVGUEST RESULT blk-verify PASS" not in out:
        problems.append(f"--no-api --config-file: status {status}, out {out[-300:]!r}, "
                        f"err {err.strip()!r}")
    conf["machine-config"]["vcpu_count"] = "one"
    with open(path, "w") as f:
        json.dump(conf, f)
    status, out, err = run_cli(vireo, ["--no-api", "--config-file", path])
    lines = err.strip().splitlines()
    if status != 152 or len(lines) != 1 or "vcpu_count" not in err:
        problems.append(f"bad config file: status {status}, stderr {err.strip()!r}")
    for args, word in ((["--api-sock"], "missing value"), (["--frobnicate"], "unknown option"),
                       (["--no-api"], "--config-file"), (["--id", "a b"], "--id"),
                       (["--level", "loud"], "--level")):
        status, out, err = run_cli(vireo, args, 30)
        if status != 153 or word not in err or out:
            problems.append(f"{args}: status {status}, stderr {err.strip()!r}")
    status, out, _ = run_cli(vireo, ["--version"], 30)
    lines = out.splitlines()
    if status != 0 or len(lines) != 2 or not lines[0].startswith("vireo v1.") or \
            not lines[1].startswith("Firecracker v"):
        problems.append(f"--version: {status} {out!r}")
    taken = os.path.join(tmp, "taken.sock")
    with open(taken, "w") as f:
        f.write("keep me")
    status, out, err = run_cli(vireo, ["--api-sock", taken], 30)
    if status != 1 or "already exists" not in err or open(taken).read() != "keep me":
        problems.append(f"an existing --api-sock path: status {status}, stderr {err.strip()!r}")
    return problems


def case_entropy(vireo, elf, tmp, transport):
    problems = []
    test = "rng,exact=1,bytes=65536"
    vm = start_vm(vireo, tmp, "entropy", ["--enable-pci"] if transport == "pci" else [])
    if not vm.ok:
        vm.stop()
        return ["the API socket never answered"]
    api = vm.api
    expect(problems, "PUT /boot-source", api.put("/boot-source", boot_source(
        elf, transport, test)), 204)
    expect(problems, "PUT /entropy with a limit beyond the buckets' range",
           api.put("/entropy", {"rate_limiter": {"bandwidth": {"size": 1 << 41,
                                                               "refill_time": 100}}}), 400,
           "size and one_time_burst are at most")
    expect(problems, "PUT /entropy", api.put("/entropy", {"rate_limiter": {}}), 204)
    status, body, _ = api.get("/vm/config")
    if status != 200 or (body or {}).get("entropy") != {"rate_limiter": None}:
        problems.append(f"GET /vm/config: {status} entropy {(body or {}).get('entropy')!r}")
    expect(problems, "PUT /actions InstanceStart", api.put("/actions", {
        "action_type": "InstanceStart"}), 204)
    expect(problems, "PUT /entropy after boot", api.put("/entropy", {}), 400,
           "not supported after starting the microVM")
    status, out, err = vm.finish()
    if status != 0 or "PVGUEST RESULT rng PASS" not in out:
        problems.append(f"through the API: status {status}, out {out[-300:]!r}, "
                        f"err {err.strip()!r}")
    conf = {"boot-source": boot_source(elf, transport, test), "drives": [],
            "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}, "entropy": {}}
    path = os.path.join(tmp, "entropy.json")
    with open(path, "w") as f:
        json.dump(conf, f)
    args = ["--no-api", "--config-file", path]
    if transport == "pci":
        args.append("--enable-pci")
    status, out, err = run_cli(vireo, args)
    if status != 0 or "PVGUEST RESULT rng PASS" not in out:
        problems.append(f"config file's entropy: status {status}, out {out[-300:]!r}, "
                        f"err {err.strip()!r}")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("elf")
    ap.add_argument("--transport", choices=("pci", "mmio"), default="pci")
    args = ap.parse_args()
    cases = [("getting-started sequence", case_getting_started),
             ("lifecycle and phase rules", case_lifecycle),
             ("bad requests", case_bad_requests),
             ("SendCtrlAltDel", case_ctrl_alt_del),
             ("config file, flags, version", case_config_file),
             ("entropy device", case_entropy)]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in cases:
            failures += verdict.case(f"{name} ({args.transport})",
                                     fn(args.vireo, args.elf, tmp, args.transport))
    return verdict.tally(len(cases), failures, "Firecracker API cases")


if __name__ == "__main__":
    sys.exit(main())
