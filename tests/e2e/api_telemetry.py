#!/usr/bin/env python3
"""vireo's logger and metrics as Firecracker's clients use them, and its
Prometheus metrics beyond Firecracker, with pvguest as the kernel:

- API: PUT /logger on a FIFO and PUT /metrics on a file that does not exist
  yet (both created or opened at once; bad paths, a directory and a second
  PUT answered 400, changing nothing; FlushMetrics before boot refused);
  pvguest runs blk-verify and resets; the log lines are in Firecracker's
  format with level and origin, the metrics line at exit parses as JSON
  with every group of Firecracker's schema and the drive's own object, and
  the block counters moved; the textfile for node-exporter is there from
  the start and has the last counts;
- flags: --log-path (a file created), --level Warning, --metrics-path on a
  FIFO, --prometheus-textfile; PUT /logger and /metrics refused after
  them; an idle guest with 2 vCPUs; GET /metrics passes `promtool check
  metrics` and has every vCPU's exits and every queue's kicks; two
  FlushMetrics give two lines whose counters are deltas; SIGTERM writes the
  last line;
- bad flags and config files: a log or textfile path that cannot be
  opened ends vireo with one line and status 1 (152 in a config file).

Without promtool (Debian's prometheus package) the test says SKIPPED and
why, after the other checks; it never passes without it.

usage: api_telemetry.py VIREO PVGUEST_ELF"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from api_firecracker import boot_source, expect, run_cli, start_vm  # noqa: E402
from harness import verdict  # noqa: E402

# Firecracker 1.12's groups: every one is on every metrics line
FC_GROUPS = ["api_server", "balloon", "block", "deprecated_api", "get_api_requests", "i8042",
             "uart", "latencies_us", "logger", "mmds", "net", "patch_api_requests",
             "put_api_requests", "seccomp", "vcpu", "vmm", "signals", "vsock", "entropy"]
TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}"
LEVELS = "ERROR|WARN|INFO|DEBUG|TRACE"
SKIP = 77  # meson's "skipped"


class FifoReader:
    """Reads a FIFO's lines as they come, until its last writer closes it."""

    def __init__(self, path):
        self.path = path
        self.lines = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        with open(self.path, "r", errors="replace") as f:
            for line in f:
                self.lines.append(line)

    def wait(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while len(self.lines) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.lines) >= count

    def join(self, timeout=30):
        self.thread.join(timeout)
        return list(self.lines)


def promtool(text, problems, what):
    """`promtool check metrics` on text; False when promtool is missing."""
    tool = shutil.which("promtool")
    if not tool:
        return False
    p = subprocess.run([tool, "check", "metrics"], input=text.encode(), capture_output=True,
                       timeout=60)
    if p.returncode != 0:
        problems.append(f"{what}: promtool check metrics: {(p.stdout + p.stderr).decode()!r}")
    return True


def metrics_line(problems, what, line):
    """One metrics line parsed, checked for every group; {} if it is not."""
    try:
        o = json.loads(line)
    except ValueError as err:
        problems.append(f"{what}: not JSON ({err}): {line[:200]!r}")
        return {}
    missing = [g for g in ["utc_timestamp_ms"] + FC_GROUPS if g not in o]
    if missing:
        problems.append(f"{what}: groups missing: {missing}")
    return o


def field(o, group, name):
    return o.get(group, {}).get(name, -1)


def log_lines(problems, what, lines, pattern):
    """Every line matches Firecracker's format; the lines' messages."""
    out = []
    for line in lines:
        m = re.match(pattern, line.rstrip("\n"))
        if not m:
            problems.append(f"{what}: not in Firecracker's format: {line!r}")
        else:
            out.append(line)
    return out


def start(problems, api, source, drive, img, read_only, vcpus):
    """Boot source, one drive, machine config, InstanceStart."""
    expect(problems, "PUT /boot-source", api.put("/boot-source", source), 204)
    expect(problems, f"PUT /drives/{drive}", api.put(f"/drives/{drive}", {
        "drive_id": drive, "path_on_host": img, "is_root_device": False,
        "is_read_only": read_only}), 204)
    expect(problems, "PUT /machine-config", api.put("/machine-config", {
        "vcpu_count": vcpus, "mem_size_mib": 128}), 204)
    expect(problems, "InstanceStart", api.put("/actions", {"action_type": "InstanceStart"}), 204)


def case_api(vireo, elf, tmp):
    problems = []
    img = os.path.join(tmp, "data.img")
    with open(img, "wb") as f:
        f.truncate(64 << 20)
    log = os.path.join(tmp, "api-log.fifo")
    os.mkfifo(log)
    reader = FifoReader(log)
    metrics = os.path.join(tmp, "api.metrics")  # does not exist: vireo creates it
    prom = os.path.join(tmp, "api.prom")
    vm = start_vm(vireo, tmp, "tele-api", ["--enable-pci", "--prometheus-textfile", prom])
    if not vm.ok:
        vm.stop()
        return ["the API socket never answered"]
    api = vm.api
    if not os.path.exists(prom):
        problems.append("the textfile was not written at start")
    # hostile first: each changes nothing, so the good ones below still work
    expect(problems, "PUT /logger, a missing directory", api.put("/logger", {
        "log_path": os.path.join(tmp, "no", "such.log")}), 400,
        "Logger error: Failed to open target file")
    expect(problems, "PUT /logger, a directory", api.put("/logger", {"log_path": tmp}), 400,
           "Logger error")
    expect(problems, "PUT /logger, a bad level", api.put("/logger", {
        "log_path": log, "level": "Loud"}), 400, "level")
    expect(problems, "PUT /metrics, a missing directory", api.put("/metrics", {
        "metrics_path": os.path.join(tmp, "no", "such.json")}), 400, "Metrics error")
    expect(problems, "FlushMetrics before boot", api.put("/actions", {
        "action_type": "FlushMetrics"}), 400, "not supported before starting the microVM")
    expect(problems, "PUT /logger", api.put("/logger", {
        "log_path": log, "level": "Debug", "show_level": True, "show_log_origin": True}), 204)
    expect(problems, "PUT /logger again", api.put("/logger", {
        "log_path": log, "level": "Off"}), 400, "already configured")
    expect(problems, "PUT /metrics", api.put("/metrics", {"metrics_path": metrics}), 204)
    if not os.path.exists(metrics):
        problems.append("PUT /metrics did not create the file")
    expect(problems, "PUT /metrics again", api.put("/metrics", {
        "metrics_path": metrics}), 400, "already configured")
    start(problems, api, boot_source(elf, "pci", "blk-verify", "pvguest.blk_id=data.img"), "data", img,
          False, 1)
    status, out, err = vm.finish()
    if status != 0 or "PVGUEST RESULT blk-verify PASS" not in out:
        problems.append(f"blk-verify: status {status}, out {out[-300:]!r}, err {err!r}")
    if err.strip():
        problems.append(f"with the logger on a FIFO, stderr has: {err.strip()!r}")

    lines = reader.join()
    pattern = rf"^{TIME} \[tele-api:[^:\]]+:({LEVELS}):src/[\w/]+\.c:\d+\] \S.*$"
    ok = log_lines(problems, "the FIFO's log", lines, pattern)
    for want in (r":DEBUG:src/api/routes\.c:\d+\] api: PUT /drives/data: 204$",
                 r":INFO:src/vmm/vmm\.c:\d+\] the VM runs: 1 vCPU, 128 MiB, 1 disk",
                 r":INFO:src/main\.c:\d+\] exiting with status 0$"):
        if not any(re.search(want, x.rstrip("\n")) for x in ok):
            problems.append(f"no log line like /{want}/ in {lines[-6:]!r}")
    if not any("api: PUT /logger: 204" in x for x in lines):
        problems.append("the PUT /logger that set the logger is not in its log")

    with open(metrics) as f:
        mlines = f.read().splitlines()
    if len(mlines) != 1:
        problems.append(f"metrics file: {len(mlines)} lines, want 1 (the one at exit)")
    if mlines:
        o = metrics_line(problems, "the metrics line at exit", mlines[-1])
        for group, name in (("block", "read_count"), ("block", "write_count"),
                            ("block", "read_bytes"), ("block", "queue_event_count"),
                            ("block_data", "read_count"), ("vcpu", "exit_io_out"),
                            ("vmm", "device_events")):
            if field(o, group, name) <= 0:
                problems.append(f"metrics: {group}.{name} is {field(o, group, name)}, "
                                "want it to move")
        for group, name, want in (("put_api_requests", "drive_count", 1),
                                  ("put_api_requests", "logger_count", 5),
                                  ("put_api_requests", "logger_fails", 4),
                                  ("put_api_requests", "metrics_fails", 2),
                                  ("put_api_requests", "actions_count", 2),
                                  ("put_api_requests", "actions_fails", 1)):
            if field(o, group, name) != want:
                problems.append(f"metrics: {group}.{name} is {field(o, group, name)}, "
                                f"want {want}")
    with open(prom) as f:
        text = f.read()
    if not re.search(r'^vireo_blk_requests_total\{vm="tele-api",device="blk0",op="read"\} '
                     r'[1-9]\d*$', text, re.M):
        problems.append("the last textfile has no reads of blk0")
    leftovers = [n for n in os.listdir(tmp) if n.endswith(".tmp")]
    if leftovers:
        problems.append(f"temporary textfiles left behind: {leftovers}")
    have_promtool = promtool(text, problems, "the textfile")
    return problems, have_promtool


def case_flags(vireo, elf, tmp):
    problems = []
    img = os.path.join(tmp, "idle.img")
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    log = os.path.join(tmp, "cli.log")       # created by vireo
    metrics = os.path.join(tmp, "cli-metrics.fifo")
    os.mkfifo(metrics)
    reader = FifoReader(metrics)
    prom = os.path.join(tmp, "cli.prom")
    vm = start_vm(vireo, tmp, "tele-cli", [
        "--enable-pci", "--log-path", log, "--level", "Warning", "--metrics-path", metrics,
        "--prometheus-textfile", prom])
    if not vm.ok:
        vm.stop()
        return ["the API socket never answered"], True
    api = vm.api
    expect(problems, "PUT /logger after --log-path", api.put("/logger", {
        "log_path": log}), 400, "already configured")
    expect(problems, "PUT /metrics after --metrics-path", api.put("/metrics", {
        "metrics_path": os.path.join(tmp, "other.metrics")}), 400, "already configured")
    if os.path.exists(os.path.join(tmp, "other.metrics")):
        problems.append("a refused PUT /metrics created its file")
    start(problems, api, boot_source(elf, "pci", "idle"), "idle", img, True, 2)
    if not vm.wait_output("PVGUEST READY"):
        problems.append("the guest never said READY")

    # GET /metrics: Prometheus's text, cumulative
    status, body, headers = api.get("/metrics")
    text = (body or {}).get("raw", "")
    if status != 200 or headers.get("Content-Type") != "text/plain; version=0.0.4":
        problems.append(f"GET /metrics: {status} {headers.get('Content-Type')}")
    for want in (r'^vireo_vcpu_exits_total\{vm="tele-cli",vcpu="1",reason="io_out"\} \d+$',
                 r'^vireo_vcpu_exits_total\{vm="tele-cli",vcpu="0",reason="io_out"\} [1-9]\d*$',
                 r'^vireo_virtio_queue_notifications_total\{vm="tele-cli",device="blk0",'
                 r'queue="0"\} \d+$',
                 r'^vireo_api_requests_total\{vm="tele-cli",method="GET",path="/metrics"\} 1$',
                 r'^# TYPE vireo_blk_requests_total counter$'):
        if not re.search(want, text, re.M):
            problems.append(f"GET /metrics has no line like /{want}/")
    have_promtool = promtool(text, problems, "GET /metrics")

    # FlushMetrics: a line each, counters as deltas
    for i in range(2):
        expect(problems, f"FlushMetrics #{i + 1}", api.put("/actions", {
            "action_type": "FlushMetrics"}), 204)
    if not reader.wait(2):
        problems.append(f"FlushMetrics twice: {len(reader.lines)} lines in the FIFO")
    else:
        first = metrics_line(problems, "line 1", reader.lines[0])
        second = metrics_line(problems, "line 2", reader.lines[1])
        for group, name, w1, w2 in (("put_api_requests", "boot_source_count", 1, 0),
                                    ("put_api_requests", "logger_fails", 1, 0),
                                    ("put_api_requests", "actions_count", 2, 1),
                                    ("get_api_requests", "machine_cfg_count", 0, 0)):
            got = (field(first, group, name), field(second, group, name))
            if got != (w1, w2):
                problems.append(f"{group}.{name}: {got} in lines 1 and 2, want {(w1, w2)}")
        if "block_idle" not in first:
            problems.append("no block_idle object for the drive")
        if field(first, "vcpu", "exit_io_out") <= 0:
            problems.append("vcpu.exit_io_out did not move before line 1")
    with open(prom) as f:
        if not re.search(r'^vireo_vmm_metrics_flushes_total\{vm="tele-cli"\} 2$', f.read(),
                         re.M):
            problems.append("the textfile was not rewritten by FlushMetrics")
    status, _, err = vm.stop()
    if status != 128 + signal.SIGTERM:
        problems.append(f"SIGTERM: status {status}: {err.strip()!r}")
    lines = reader.join()
    if len(lines) != 3:
        problems.append(f"after SIGTERM: {len(lines)} metrics lines, want 3 (the last at exit)")
    else:
        last = metrics_line(problems, "line 3", lines[2])
        if field(last, "put_api_requests", "actions_count") != 0 or \
                field(last, "get_api_requests", "instance_info_count") != 0:
            problems.append("the last line counts requests of the lines before it")
    # --level Warning: nothing below it; no level and no origin shown
    with open(log) as f:
        logged = f.read().splitlines()
    log_lines(problems, "--log-path's log", logged, rf"^{TIME} \[tele-cli:[^:\]]+\] \S.*$")
    if any("api:" in x or "the VM runs" in x for x in logged):
        problems.append(f"--level Warning let Info or Debug lines through: {logged}")
    if err.strip():
        problems.append(f"with --log-path, stderr has: {err.strip()!r}")
    return problems, have_promtool


def case_bad_paths(vireo, elf, tmp):
    problems = []
    nowhere = os.path.join(tmp, "no", "such")
    for flag in ("--log-path", "--metrics-path", "--prometheus-textfile"):
        sock = os.path.join(tmp, "bad.sock")
        status, out, err = run_cli(vireo, ["--api-sock", sock, flag, nowhere], 30)
        lines = err.strip().splitlines()
        if status != 1 or len(lines) != 1 or not lines[0].startswith(f"vireo: {flag}") or \
                "No such file or directory" not in err or os.path.exists(sock):
            problems.append(f"{flag} {nowhere}: status {status}, stderr {err.strip()!r}")
    conf = {"boot-source": boot_source(elf, "pci", "boot"), "drives": [],
            "logger": {"log_path": nowhere}}
    path = os.path.join(tmp, "bad-log.json")
    with open(path, "w") as f:
        json.dump(conf, f)
    status, out, err = run_cli(vireo, ["--no-api", "--config-file", path], 30)
    if status != 152 or "Logger error" not in err or len(err.strip().splitlines()) != 1:
        problems.append(f"a config file's bad log_path: status {status}, stderr {err.strip()!r}")
    # the flags and the file both set the logger: once only
    conf["logger"] = {"log_path": os.path.join(tmp, "file.log")}
    with open(path, "w") as f:
        json.dump(conf, f)
    status, out, err = run_cli(vireo, ["--no-api", "--config-file", path, "--log-path",
                                       os.path.join(tmp, "flag.log")], 30)
    if status != 152 or "already configured" not in err:
        problems.append(f"--log-path and a config file's logger: status {status}, "
                        f"stderr {err.strip()!r}")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("elf")
    args = ap.parse_args()
    failures = 0
    have_promtool = True
    with tempfile.TemporaryDirectory() as tmp:
        problems, tool = case_api(args.vireo, args.elf, tmp)
        have_promtool &= tool
        failures += verdict.case("API: logger on a FIFO, metrics file, blk-verify", problems)
        problems, tool = case_flags(args.vireo, args.elf, tmp)
        have_promtool &= tool
        failures += verdict.case("flags, GET /metrics, FlushMetrics deltas, SIGTERM", problems)
        failures += verdict.case("bad log, metrics and textfile paths",
                                 case_bad_paths(args.vireo, args.elf, tmp))
    status = verdict.tally(3, failures, "logger and metrics cases")
    if status == 0 and not have_promtool:
        print("SKIPPED (promtool not found: `promtool check metrics` could not check the "
              "Prometheus text; install Debian's prometheus package, scripts/deps.sh does)")
        return SKIP
    return status


if __name__ == "__main__":
    sys.exit(main())
