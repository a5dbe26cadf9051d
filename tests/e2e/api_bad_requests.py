#!/usr/bin/env python3
"""Hundreds of bad requests to vireo's Firecracker API, over HTTP on its
Unix socket: every resource's body broken field by field (wrong types,
negative and overflowing numbers, nulls, missing and unknown fields),
malformed JSON of every kind, bad ids and paths, oversize bodies, requests
in the wrong phase (before and after InstanceStart), raw HTTP that is not
HTTP, half-sent requests and 16 clients sending bad requests at once.

Each must be answered with its status (400 and a fault message that names
the field, where there is one; HTTP's own 4xx/5xx for broken HTTP) and
leave the VM as it was: GET /vm/config and GET / unchanged after every one.

usage: api_bad_requests.py VIREO PVGUEST_ELF [--transport pci|mmio]"""
import argparse
import concurrent.futures
import json
import os
import signal
import socket
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import fcapi  # noqa: E402

PAYLOAD_LIMIT = 4096

# A field's kind: which wrong values to try.
WRONG = {
    "int": [-1, 1.5, "2", True, [], {}],
    "bool": ["true", 1, [], {}],
    "str": [1, True, [], {}],
    "enum": ["Bogus", "", 1, [], {}],
}


def routes(elf, img):
    """(method, path, a good body, {field: (kind, required)}) for every
    resource a client configures before boot. The good bodies are never
    sent here."""
    return [
        ("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 256},
         {"vcpu_count": ("int", True), "mem_size_mib": ("int", True), "smt": ("bool", False),
          "track_dirty_pages": ("bool", False), "huge_pages": ("enum", False)}),
        ("PATCH", "/machine-config", {"vcpu_count": 2},
         {"vcpu_count": ("int", False), "mem_size_mib": ("int", False)}),
        ("PUT", "/boot-source", {"kernel_image_path": elf, "boot_args": "console=ttyS0"},
         {"kernel_image_path": ("str", True), "initrd_path": ("str", False),
          "boot_args": ("str", False)}),
        ("PUT", "/drives/data", {"drive_id": "data", "path_on_host": img,
                                 "is_root_device": False, "is_read_only": False},
         {"drive_id": ("str", True), "path_on_host": ("str", True),
          "is_root_device": ("bool", True), "is_read_only": ("bool", False),
          "cache_type": ("enum", False), "io_engine": ("enum", False),
          "partuuid": ("str", False)}),
        ("PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "vtap9"},
         {"iface_id": ("str", True), "host_dev_name": ("str", True),
          "guest_mac": ("str", False)}),
        ("PUT", "/logger", {"level": "Info"},
         {"level": ("enum", False), "log_path": ("str", False), "show_level": ("bool", False),
          "show_log_origin": ("bool", False), "module": ("str", False)}),
        ("PUT", "/metrics", {"metrics_path": "/tmp/never-written"},
         {"metrics_path": ("str", True)}),
        ("PUT", "/actions", {"action_type": "FlushMetrics"}, {"action_type": ("enum", True)}),
        ("PUT", "/serial", {"serial_out_path": "/tmp/never-written"},
         {"serial_out_path": ("str", False)}),
    ]


def field_cases(method, path, good, fields):
    """(name, method, path, raw body, what the fault must name)."""
    out = []
    for f, (kind, required) in fields.items():
        for v in WRONG[kind]:
            out.append((f"{f}={json.dumps(v)}", method, path, {**good, f: v}, f))
        if kind == "int":
            # beyond what the fields (u8, u32, u64) hold; 10^30 beyond any
            # JSON integer the parser takes
            for big in (2 ** 32, 2 ** 64, 10 ** 30):
                raw = json.dumps({**good, f: "@"}).replace('"@"', str(big)).encode()
                out.append((f"{f}={big}", method, path, raw, None))
        if kind == "str" and f.endswith("_id"):
            out.append((f"{f} empty", method, path, {**good, f: ""}, None))
        if required:
            out.append((f"{f} missing", method, path,
                        {k: v for k, v in good.items() if k != f}, f))
            out.append((f"{f}=null", method, path, {**good, f: None}, f))
    # Firecracker's metrics config alone takes fields it does not know
    if path != "/metrics":
        out.append(("unknown field", method, path, {**good, "surprise": 1}, "surprise"))
    text = json.dumps(good)
    for name, raw in [
        ("truncated", text[:len(text) // 2]),
        ("trailing comma", text[:-1] + ",}"),
        ("trailing garbage", text + "}"),
        ("single quotes", text.replace('"', "'")),
        ("duplicate key", text[:-1] + ", " + text[1:]),
        ("array", "[" + text + "]"),
        ("number", "1"),
        ("string", '"x"'),
        ("null", "null"),
        ("NaN", text[:-1] + ', "n": NaN}'),
        ("NUL in a string", text[:-1] + ', "n": "a\\u0000b"}'),
        ("not UTF-8", text[:-1] + ', "n": "\xff"}'),
        ("deep nesting", "[" * 5000 + "]" * 5000),
    ]:
        body = raw.encode("latin-1") if raw.isascii() is False and "\xff" in raw else raw.encode()
        out.append((name, method, path, body, None))
    return out


def path_cases(elf):
    """Paths and ids no route takes, methods no path takes, bodies where
    none belong."""
    drive = {"drive_id": "a", "path_on_host": elf, "is_root_device": False,
             "is_read_only": True}
    out = [
        ("unknown path", "GET", "/nope", None, "Invalid request method and/or path"),
        ("DELETE /", "DELETE", "/", None, "Invalid request method and/or path"),
        ("POST /actions", "POST", "/actions", b"{}", "Invalid request method and/or path"),
        ("PUT /", "PUT", "/", b"{}", "Invalid request method and/or path"),
        ("GET /actions", "GET", "/actions", None, "Invalid request method and/or path"),
        ("PUT /version", "PUT", "/version", b"{}", "Invalid request method and/or path"),
        ("GET /drives", "GET", "/drives", None, "Invalid request method and/or path"),
        ("GET with a body", "GET", "/", b"{}", "GET request cannot have a body."),
        ("GET /vm/config with a body", "GET", "/vm/config", b"x",
         "GET request cannot have a body."),
        ("PUT without a body", "PUT", "/boot-source", None, "Empty PUT request."),
        ("PATCH without a body", "PATCH", "/machine-config", None, "Empty PATCH request."),
        ("drive without id", "PUT", "/drives", json.dumps(drive).encode(),
         "The ID cannot be empty."),
        ("drive with empty id", "PUT", "/drives/", json.dumps(drive).encode(),
         "The ID cannot be empty."),
        ("path too deep", "PUT", "/drives/a/b", json.dumps(drive).encode(),
         "Invalid request method and/or path"),
        ("id differs from the body's", "PUT", "/drives/b", json.dumps(drive).encode(),
         "drive_id"),
        ("NIC id differs", "PUT", "/network-interfaces/x",
         b'{"iface_id": "y", "host_dev_name": "t0"}', "iface_id"),
        ("vm/config deeper", "GET", "/vm/config/x", None, "Invalid request method and/or path"),
        ("oversize body", "PUT", "/machine-config",
         b'{"vcpu_count": 1, "mem_size_mib": 128, "x": "' + b"a" * PAYLOAD_LIMIT + b'"}',
         f"larger than the limit of {PAYLOAD_LIMIT}"),
        ("InstanceStart without a kernel", "PUT", "/actions",
         b'{"action_type": "InstanceStart"}', "without kernel configuration"),
        ("SendCtrlAltDel before boot", "PUT", "/actions", b'{"action_type": "SendCtrlAltDel"}',
         "not supported before starting"),
        ("pause before boot", "PATCH", "/vm", b'{"state": "Paused"}',
         "not supported before starting"),
        ("drive swap before boot", "PATCH", "/drives/data",
         b'{"drive_id": "data", "path_on_host": "/x"}', "not supported before starting"),
        ("missing kernel file", "PUT", "/boot-source",
         b'{"kernel_image_path": "/nonexistent/vmlinux"}', "kernel_image_path"),
        ("kernel is a directory", "PUT", "/boot-source", b'{"kernel_image_path": "/"}',
         "kernel_image_path"),
        ("too many vCPUs", "PUT", "/machine-config", b'{"vcpu_count": 33, "mem_size_mib": 128}',
         "vcpu_count"),
        ("no memory", "PUT", "/machine-config", b'{"vcpu_count": 1, "mem_size_mib": 0}',
         "mem_size_mib"),
        ("bad MAC", "PUT", "/network-interfaces/eth0",
         b'{"iface_id": "eth0", "host_dev_name": "t0", "guest_mac": "zz:00:00:00:00:00"}',
         "guest_mac"),
        ("multicast MAC", "PUT", "/network-interfaces/eth0",
         b'{"iface_id": "eth0", "host_dev_name": "t0", "guest_mac": "01:00:00:00:00:00"}',
         "guest_mac"),
        ("TAP name too long", "PUT", "/network-interfaces/eth0",
         b'{"iface_id": "eth0", "host_dev_name": "abcdefghijklmnopq"}', "host_dev_name"),
        ("rate limiter bucket without a refill time", "PUT", "/network-interfaces/eth0",
         b'{"iface_id": "eth0", "host_dev_name": "t0", "rx_rate_limiter": '
         b'{"bandwidth": {"size": 1000}}}', "refill_time: missing"),
        ("rate limiter one_time_burst past 2^40", "PUT", "/network-interfaces/eth0",
         b'{"iface_id": "eth0", "host_dev_name": "t0", "tx_rate_limiter": '
         b'{"ops": {"size": 1, "one_time_burst": 1099511627777, "refill_time": 1}}}',
         "size and one_time_burst are at most"),
        ("serial rate limiter with tokens", "PUT", "/serial",
         b'{"rate_limiter": {"size": 1000, "refill_time": 100}}', "not supported yet"),
        ("vsock on a file that is not a socket", "PUT", "/vsock",
         b'{"guest_cid": 3, "uds_path": "/etc/passwd"}', "not a socket"),
        ("vsock in no directory", "PUT", "/vsock",
         b'{"guest_cid": 3, "uds_path": "/nonexistent-dir/v.sock"}', "no such directory"),
        ("vsock guest_cid 2", "PUT", "/vsock", b'{"guest_cid": 2, "uds_path": "v.sock"}',
         "guest_cid"),
        ("vsock uds_path too long", "PUT", "/vsock",
         b'{"guest_cid": 3, "uds_path": "/' + b"a" * 120 + b'"}', "uds_path"),
        ("balloon with free page hinting not a bool", "PUT", "/balloon",
         b'{"amount_mib": 0, "deflate_on_oom": true, "free_page_hinting": 1}',
         "free_page_hinting"),
        ("balloon without deflate_on_oom", "PUT", "/balloon", b'{"amount_mib": 0}',
         "deflate_on_oom: missing"),
        ("balloon amount_mib negative", "PUT", "/balloon",
         b'{"amount_mib": -1, "deflate_on_oom": true}', "amount_mib"),
        ("balloon amount_mib huge", "PUT", "/balloon",
         b'{"amount_mib": 4294967296, "deflate_on_oom": true}', "amount_mib"),
        ("balloon stats interval too long", "PUT", "/balloon",
         b'{"amount_mib": 1, "deflate_on_oom": true, "stats_polling_interval_s": 65536}',
         "stats_polling_interval_s"),
        ("PATCH balloon without one", "PATCH", "/balloon", b'{"amount_mib": 1}',
         "there is no balloon device"),
        ("balloon statistics", "PATCH", "/balloon/statistics",
         b'{"stats_polling_interval_s": 1}', "there is no balloon device"),
        ("entropy with a refill time past 2^32 ms", "PUT", "/entropy",
         b'{"rate_limiter": {"bandwidth": {"size": 1000, "refill_time": 4294967297}}}',
         "refill_time is at most"),
        ("drive with a bucket past 2^40", "PUT", "/drives/d9",
         b'{"drive_id": "d9", "path_on_host": "/nonexistent", "is_root_device": false, '
         b'"rate_limiter": {"ops": {"size": 2199023255552, "refill_time": 1}}}',
         "size and one_time_burst are at most"),
        ("entropy unknown field", "PUT", "/entropy", b'{"rate": 5}', "unknown field"),
        ("PATCH mmds before any PUT", "PATCH", "/mmds", b'{"latest": {}}',
         "MMDS error: The MMDS data store is not initialized."),
        ("mmds malformed", "PUT", "/mmds", b'{"latest":', "malformed JSON"),
        ("mmds config unknown NIC", "PUT", "/mmds/config", b'{"network_interfaces": ["nope"]}',
         "does not correspond to any existing network interface"),
        ("mmds config empty", "PUT", "/mmds/config", b'{"network_interfaces": []}',
         "allow forwarding MMDS requests is empty"),
        ("mmds config not link-local", "PUT", "/mmds/config",
         b'{"network_interfaces": [], "ipv4_address": "10.0.0.1"}', "is not link local"),
        ("mmds config bad address", "PUT", "/mmds/config",
         b'{"network_interfaces": [], "ipv4_address": "169.254.1"}', "is not an IPv4 address"),
        ("mmds config V3", "PUT", "/mmds/config",
         b'{"network_interfaces": [], "version": "V3"}', "is not one of V1, V2"),
        ("GET /balloon without one", "GET", "/balloon", None, "there is no balloon device"),
        ("GET /balloon/statistics before boot", "GET", "/balloon/statistics", None,
         "not supported before"),
        ("hinting start before boot", "PATCH", "/balloon/hinting/start", None,
         "not supported before"),
        ("hinting status before boot", "GET", "/balloon/hinting/status", None,
         "not supported before"),
        ("snapshot create before boot", "PUT", "/snapshot/create",
         b'{"snapshot_path": "/tmp/s", "mem_file_path": "/tmp/m"}', "not supported before"),
    ]
    for bad_id in ["a-b", "a.b", "a b", "%00", "ä", "a" * 300]:
        out.append((f"drive id {bad_id[:12]!r}", "PUT", "/drives/" + urllib.parse.quote(bad_id),
                    json.dumps({**drive, "drive_id": bad_id}).encode(), None))
    return out


def raw_http_cases():
    """Bytes that are not a well-formed request: answered by HTTP's own
    status, or the connection closed; never a hang for anyone else."""
    return [
        ("HTTP/9.9", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n"),
        ("no request line", b"GARBAGE\r\n\r\n"),
        ("Content-Length not a number", b"PUT /machine-config HTTP/1.1\r\nHost: x\r\n"
         b"Content-Length: abc\r\n\r\n"),
        ("negative Content-Length", b"PUT /machine-config HTTP/1.1\r\nHost: x\r\n"
         b"Content-Length: -5\r\n\r\n"),
        ("huge Content-Length", b"PUT /machine-config HTTP/1.1\r\nHost: x\r\n"
         b"Content-Length: 99999999999999999999999\r\n\r\n"),
        ("lowercase method", b"get / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("path of 10 KiB", b"GET /" + b"a" * 10240 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("header of 64 KiB", b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 65536 + b"\r\n\r\n"),
        ("chunked malformed JSON", b"PUT /machine-config HTTP/1.1\r\nHost: x\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n"),
        ("chunk size garbage", b"PUT /machine-config HTTP/1.1\r\nHost: x\r\n"
         b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
    ]


def raw_send(sock_path, data, timeout=5):
    """The status line's code, or None for a connection closed unanswered."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while b"\r\n" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    except OSError:
        return None
    finally:
        s.close()
    parts = reply.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def vm_state(vm):
    """What must not change: (status, GET /vm/config, GET /'s state)."""
    status, vm_config, _ = vm.api.get("/vm/config")
    _, info, _ = vm.api.get("/")
    return status, vm_config, (info or {}).get("state")


def check(vm, cases, before, problems):
    """Sends each case; 400, a fault naming what it must, and the state
    unchanged after it. Returns how many were sent."""
    for name, method, path, body, names in cases:
        raw = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        try:
            status, answer, _ = vm.api.request(method, path, raw=raw)
        except OSError as err:
            problems.append(f"{method} {path} ({name}): {err}")
            continue
        fault = (answer or {}).get("fault_message") if isinstance(answer, dict) else None
        if status != 400 or not fault:
            problems.append(f"{method} {path} ({name}): {status} {answer}")
        elif names and names not in fault:
            problems.append(f"{method} {path} ({name}): fault {fault!r} does not name {names!r}")
        after = vm_state(vm)
        if after != before:
            problems.append(f"{method} {path} ({name}) changed the VM: {before} -> {after}")
            before = after
    return len(cases)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("elf")
    ap.add_argument("--transport", choices=("pci", "mmio"), default="mmio")
    args = ap.parse_args()
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        img = os.path.join(tmp, "data.img")
        with open(img, "wb") as f:
            f.truncate(16 << 20)
        sock = os.path.join(tmp, "api.sock")
        vm = fcapi.Instance(args.vireo, [
            "--api-sock", sock, "--id", "bad", "--http-api-max-payload-size", str(PAYLOAD_LIMIT)] +
            (["--enable-pci"] if args.transport == "pci" else []), sock)
        if not vm.ok:
            print("FAIL: the API socket never answered:", vm.stop())
            return 1
        before = vm_state(vm)
        if before[0] != 200 or before[2] != "Not started":
            problems.append(f"GET /vm/config, GET /: {before}")

        # before boot: every resource's body broken, paths, ids, phases
        cases = [c for r in routes(args.elf, img) for c in field_cases(*r)]
        cases += path_cases(args.elf)
        sent = check(vm, cases, before, problems)

        # raw bytes that are not HTTP, then a client that is served
        for name, data in raw_http_cases():
            status = raw_send(vm.sock, data)
            if status is not None and not 400 <= status < 600:
                problems.append(f"raw HTTP ({name}): status {status}")
            sent += 1
        # half-sent: headers without their end, a body shorter than said
        stuck = []
        for data in (b"PUT /machine-config HTTP/1.1\r\nHost: x\r\n",
                     b"PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(vm.sock)
            s.sendall(data)
            stuck.append(s)
            sent += 1
        if vm_state(vm) != before:
            problems.append(f"after raw and half-sent requests: {vm_state(vm)}")

        # 16 clients at once, 16 bad requests each
        def client(i):
            c = fcapi.Client(vm.sock)
            got = [c.request(*cases[(i * 16 + j) % len(cases)][1:3],
                             raw=json.dumps({"bogus": j}).encode())[0] for j in range(16)]
            c.close()
            return got
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            codes = [x for r in pool.map(client, range(16)) for x in r]
        sent += len(codes)
        if set(codes) != {400}:
            problems.append(f"16 clients: statuses {sorted(set(codes))}, all should be 400")
        for s in stuck:
            s.close()
        if vm_state(vm) != before:
            problems.append(f"after 16 clients: {vm_state(vm)}")

        # after boot: what only comes before it, and bad post-boot bodies
        boot = [("/boot-source", {"kernel_image_path": args.elf, "boot_args":
                                  "console=ttyS0 pvguest.run=idle" +
                                  (" pvguest.transport=mmio" if args.transport == "mmio"
                                   else "")}),
                ("/drives/data", {"drive_id": "data", "path_on_host": img,
                                  "is_root_device": False, "is_read_only": False}),
                ("/actions", {"action_type": "InstanceStart"})]
        for path, body in boot:
            status, answer, _ = vm.api.put(path, body)
            if status != 204:
                problems.append(f"PUT {path}: {status} {answer}")
        booted = vm_state(vm)
        if booted[2] != "Running":
            problems.append(f"after InstanceStart: {booted}")
        after_boot = [(f"{m} {p} after boot", m, p, good, "not supported after starting")
                      for m, p, good, _ in routes(args.elf, img)
                      if p not in ("/actions",)]
        after_boot += [
            ("second InstanceStart", "PUT", "/actions", {"action_type": "InstanceStart"}, None),
            ("vm state bogus", "PATCH", "/vm", {"state": "Stopped"}, "state"),
            ("vm state number", "PATCH", "/vm", {"state": 1}, "state"),
            ("vm state missing", "PATCH", "/vm", {}, "state"),
            ("vm unknown field", "PATCH", "/vm", {"state": "Paused", "x": 1}, "x"),
            ("swap an unknown drive", "PATCH", "/drives/nope",
             {"drive_id": "nope", "path_on_host": img}, None),
            ("swap to a missing file", "PATCH", "/drives/data",
             {"drive_id": "data", "path_on_host": os.path.join(tmp, "missing")},
             "path_on_host"),
            ("swap with a bad field", "PATCH", "/drives/data",
             {"drive_id": "data", "path_on_host": img, "is_read_only": True}, "is_read_only"),
            ("swap with id mismatch", "PATCH", "/drives/data",
             {"drive_id": "other", "path_on_host": img}, "drive_id"),
            ("swap malformed", "PATCH", "/drives/data", b'{"drive_id": "data", ', None),
            ("snapshot create", "PUT", "/snapshot/create",
             {"snapshot_path": "/tmp/s", "mem_file_path": "/tmp/m"}, None),
        ]
        sent += check(vm, after_boot, booted, problems)
        status, _, err = vm.stop()
        if status != 128 + signal.SIGTERM:
            problems.append(f"SIGTERM: vireo exited {status}: {err.strip()}")
    for p in problems:
        print("FAIL:", p)
    print(f"{sent} bad requests ({args.transport}), {len(problems)} answered wrongly or "
          "changed the VM")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
