#!/usr/bin/env python3
"""virtio-vsock end to end: pvguest's vsock and hostile-vsock tests under
`vireo run --vsock cid=3,uds=PATH`, with the host side of Firecracker's
hybrid protocol played by this script:

- an echo server on PATH_52 (the guest's streams to host port 52) and a
  server on PATH_53 that accepts and never reads (the guest's credit
  overrun case);
- once the guest says "PVGUEST INFO vsock listening port=N", a client that
  connects to PATH and sends "CONNECT N+1" (the guest refuses it: the
  client must see EOF and no "OK"), then "CONNECT N", reads "OK <port>",
  sends BYTES bytes (beyond both credit windows) while checking the echo,
  shuts its write side and waits for the guest's reset to close the
  connection.

Checks: both RESULT lines PASS, at least 15 hostile cases and all passed,
the guest served exactly BYTES, the host-side port vireo assigned, the
socket at PATH gone after exit, vireo's status 1 (debug-exit 0), and
nothing but "vireo: " lines on stderr.

With --api the VM is built through Firecracker's API instead (PUT
/boot-source, /machine-config, /vsock with the deprecated vsock_id,
InstanceStart; --enable-pci for pci), and ends with the guest's reset
(status 0).

usage: vsock_run.py VIREO PVGUEST_ELF [--transport pci|mmio] [--bytes N] [--api]"""
import argparse
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from harness import fcapi, quiet, vmm  # noqa: E402

TIMEOUT = 300  # a failure detector only: a healthy run takes a few seconds
LISTEN = 1234


def serve(path, echo, held, stop):
    """Accepts on path until stop; echo: each connection's bytes go back."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(64)
    srv.settimeout(0.2)

    def echo_one(conn):
        with conn:
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    conn.sendall(data)
            except OSError:
                pass

    def loop():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            if echo:
                threading.Thread(target=echo_one, args=(conn,), daemon=True).start()
            else:
                held.append(conn)  # never read: the guest's credit must stop it
        srv.close()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


def recv_line(s, limit=64):
    line = b""
    while not line.endswith(b"\n") and len(line) < limit:
        c = s.recv(1)
        if not c:
            break
        line += c
    return line


def client(path, port, nbytes, problems, result):
    """The host program: a refused stream, then an echoed one."""
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(path)
        s.sendall(f"CONNECT {port + 1}\n".encode())
        try:
            got = s.recv(64)
        except ConnectionResetError:
            got = b""
        if got:
            problems.append(f"CONNECT {port + 1}: the guest refused it, yet got {got!r}")
        s.close()

        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(path)
        s.sendall(f"CONNECT {port}\n".encode())
        line = recv_line(s)
        m = re.fullmatch(rb"OK (\d+)\n", line)
        if not m:
            problems.append(f"CONNECT {port}: answered {line!r}, want OK <port>")
            return
        result["hostport"] = int(m.group(1))
        data = random.Random(7).randbytes(nbytes)
        back = bytearray()

        def reader():
            try:
                while len(back) < nbytes:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    back.extend(chunk)
            except OSError as e:
                problems.append(f"reading the echo: {e}")

        r = threading.Thread(target=reader, daemon=True)
        r.start()
        s.sendall(data)
        r.join(60)
        if bytes(back) != data:
            problems.append(f"echo through the guest: {len(back)} of {nbytes} bytes, "
                            f"{'equal' if bytes(back) == data[:len(back)] else 'corrupt'}")
        s.shutdown(socket.SHUT_WR)
        try:
            rest = s.recv(64)
        except ConnectionResetError:
            rest = b""
        if rest:
            problems.append(f"after our close: {rest!r}, want EOF (the guest resets)")
        s.close()
    except OSError as e:
        problems.append(f"host client: {e}")


def knock(uds, ms):
    """A host program that connects while the guest keeps still and sends
    half a CONNECT line: the listening socket and a connection's fd turn
    readable, which a device left broken must neither spin on nor take to
    the guest (the line never ends, so no request reaches it)."""
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(uds)
        s.sendall(b"CONN")
        time.sleep(ms / 1000)
        s.close()
    except OSError:
        pass


def run_cli(args, uds, cmdline, start_client, out, err):
    """`vireo run --vsock`; the guest's output line by line. Its status."""
    devices = ["--transport", args.transport, "--vsock", f"cid=3,uds={uds}{args.vsock_opts}"]
    cmd = vmm.vireo_cmd(cmdline, args.kernel, args.vireo, "256M", 1, devices)
    print("$", " ".join(cmd))
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, errors="replace")
    et = threading.Thread(target=lambda: err.extend(p.stderr), daemon=True)
    et.start()
    timer = threading.Timer(TIMEOUT, p.kill)
    timer.start()
    watch = None
    if args.quiet:
        watch = quiet.QuietWatch(p.pid, during=lambda ms: knock(uds, ms))
        watch.start()
    for line in p.stdout:
        out.append(line)
        if watch:
            watch.feed(line)
        m = re.match(r"PVGUEST INFO vsock listening port=(\d+)", line)
        if m:
            start_client(int(m.group(1)))
    status = p.wait()
    timer.cancel()
    et.join(10)
    if watch:
        watch.stop()
        print("host:", watch.summary())
        args.quiet_problems = watch.problems()
    return status


def run_api(args, tmp, uds, cmdline, problems, start_client, out, err):
    """The same VM through Firecracker's API. Its status."""
    sock = os.path.join(tmp, "fc.sock")
    vm = fcapi.Instance(args.vireo, ["--api-sock", sock] +
                        (["--enable-pci"] if args.transport == "pci" else []), sock,
                        boot_timeout=TIMEOUT)
    if not vm.ok:
        problems.append("the API socket never answered")
    else:
        for path, body in (
                ("/boot-source", {"kernel_image_path": args.kernel,
                                  "boot_args": "console=ttyS0 reboot=k panic=1 " + cmdline}),
                ("/machine-config", {"vcpu_count": 1, "mem_size_mib": 256}),
                ("/vsock", {"vsock_id": "vsock0", "guest_cid": 3, "uds_path": uds}),
                ("/actions", {"action_type": "InstanceStart"})):
            status, body, headers = vm.api.put(path, body)
            if status != 204:
                problems.append(f"PUT {path}: {status} {body}")
            if path == "/vsock" and headers.get("Deprecation") != "true":
                problems.append("PUT /vsock with vsock_id: no Deprecation header")
        marker = "PVGUEST INFO vsock listening port="
        if vm.wait_output(marker):
            tail = vm.out.decode(errors="replace").split(marker, 1)[1]
            start_client(int(re.match(r"\d+", tail).group(0)))
    status, text, etext = vm.finish(TIMEOUT)
    out.append(text)
    err.append(etext)
    return status


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo")
    ap.add_argument("kernel")
    ap.add_argument("--transport", choices=("pci", "mmio"), default="pci")
    ap.add_argument("--bytes", type=int, default=1 << 20)
    ap.add_argument("--api", action="store_true")
    ap.add_argument("--guest-opts", default="", help="more options of the vsock test "
                    "(',event_idx=0')")
    ap.add_argument("--vsock-opts", default="", help="more --vsock options (',tx_bw=1M/100')")
    ap.add_argument("--min-echo-ms", type=int, default=0,
                    help="the guest's echo must take at least this long (a rate limit)")
    ap.add_argument("--quiet", type=int, default=0, metavar="MS",
                    help="quiet windows of MS ms after each hostile case (quiet.py)")
    args = ap.parse_args()
    args.quiet_problems = []

    problems, result, held = [], {}, []
    stop = threading.Event()
    with tempfile.TemporaryDirectory() as tmp:
        uds = os.path.join(tmp, "v.sock")
        servers = [serve(uds + "_52", True, held, stop), serve(uds + "_53", False, held, stop)]
        cmdline = (f"pvguest.run=vsock,bytes={args.bytes},listen={LISTEN}{args.guest_opts}"
                   f"+hostile-vsock{f',quiet={args.quiet}' if args.quiet else ''} "
                   f"pvguest.transport={args.transport}")
        clients, err, out = [], [], []

        def start_client(port):
            t = threading.Thread(target=client, args=(uds, port, args.bytes, problems, result),
                                 daemon=True)
            t.start()
            clients.append(t)

        if args.api:
            status = run_api(args, tmp, uds, cmdline, problems, start_client, out, err)
        else:
            status = run_cli(args, uds, cmdline, start_client, out, err)
        for t in clients:
            t.join(60)
        stop.set()
        for t in servers:
            t.join(5)
        for c in held:
            c.close()
        if os.path.lexists(uds):
            problems.append(f"{uds} outlived vireo")
    text = "".join(out)
    print(text)
    if err:
        print("stderr:", "".join(err))
    want = 0 if args.api else 1
    if status != want:
        problems.append(f"exit status {status}, expected {want} "
                        f"({'the guest reset' if args.api else 'debug-exit 0'})")
    if not clients:
        problems.append("the guest never listened")
    m = re.search(r"^PVGUEST RESULT vsock PASS.* served_bytes=(\d+)", text, re.M)
    if not m:
        problems.append("no PVGUEST RESULT vsock PASS")
    elif int(m.group(1)) != args.bytes:
        problems.append(f"the guest served {m.group(1)} bytes, the client sent {args.bytes}")
    m = re.search(r"^PVGUEST RESULT vsock PASS.* echo_us=(\d+)", text, re.M)
    if m and int(m.group(1)) < args.min_echo_ms * 1000:
        problems.append(f"echo took {int(m.group(1)) / 1000:.0f} ms, under the "
                        f"{args.min_echo_ms} ms the rate limit allows")
    if result.get("hostport", 0) < 1 << 30:
        problems.append(f"host port in OK: {result.get('hostport')}, want >= 2^30")
    cases = re.findall(r"^PVGUEST CASE hostile-vsock (\S+) (PASS|FAIL)", text, re.M)
    if len(cases) < 15:
        problems.append(f"{len(cases)} hostile cases ran, want at least 15")
    if any(v != "PASS" for _, v in cases):
        problems.append("hostile cases failed: " + " ".join(n for n, v in cases if v != "PASS"))
    if not re.search(r"^PVGUEST RESULT hostile-vsock PASS", text, re.M):
        problems.append("no PVGUEST RESULT hostile-vsock PASS")
    problems += args.quiet_problems
    for line in "".join(err).splitlines():
        if not line.startswith("vireo: "):
            problems.append(f"stray stderr line: {line!r}")
    for pr in problems:
        print("FAIL:", pr)
    print(f"vsock-run: transport={args.transport} api={int(args.api)} bytes={args.bytes} "
          f"hostile_cases={len(cases)}"
          f" {'FAIL' if problems else 'PASS'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
