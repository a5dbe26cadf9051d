#!/usr/bin/env python3
"""Boots vireo's minimal Linux test kernel (guest/linux/minimal) and lets
Linux's own virtio drivers check vireo's devices, over either transport.

usage: linux_guest.py VIREO [--transport pci|mmio] [--cpus N] [--qemu [QEMU]]
                      [--distro | --kernel K --initrd I] [--timeout S]

The guest's /init (guest/linux/minimal/init) reports, one VIREO-LINUX line
each: its CPU count, memory and virtio devices with their drivers; on the
scratch disk (a 64 MiB file here) 1 MiB written and read back with direct
I/O, then an ext2 filesystem made, mounted, written, remounted and read;
on the NIC (a TAP in a fresh network namespace, bench/harness/netns.py) a
ping of the host end, then 256 KiB sent over TCP to a peer this script
runs there, which answers with its SHA-256 of what it got and 256 KiB of
its own; from the entropy device (--rng; QEMU's virtio-rng-pci), 64 KiB
read whole from /dev/hwrng with Linux's virtio_rng as the current source;
on the vsock (vireo only: QEMU has no vsock without vhost here) 64 KiB
echoed by a Unix-socket server here (`<uds>_<port>`, the guest
connecting), then 64 KiB sent by a client here through `CONNECT <port>`
and echoed by the guest; on the virtio-console (vireo's --console file=)
a line through hvc0; on the virtio-balloon (vireo only, with
`--api-sock`): Linux's virtio_balloon inflates to the 2 MiB target (GET
/balloon's actual_mib), fills the statistics vireo polls every 5 s
(GET /balloon/statistics: its total and free memory) and reports free
pages on its own (vireo_balloon_reports_total in GET /metrics). Passes
when every check passes in the guest and here: the disk file holds what the guest wrote, the peer got what the
guest sent, the guest got what the peer sent, the vsock client got its
bytes back, and vireo exits 0 (the guest powered off).

It prints the times from start to the kernel's first line, to /init and to
the end of the checks. The kernel is built when missing
(guest/linux/minimal/build.sh, about 4 minutes); a build that fails fails
the test. --qemu runs the same under QEMU (-accel kvm, q35, the CPUID
features that vireo's PVM compatibility hides taken away with -cpu
host,-...), the reference. --distro runs the same checks on the default
Linux guest instead (Debian's cloud kernel, guest/linux/build.sh) where it
can run: not on a PVM host, where its init would die at its first system
call (README "PVM hosts").

Exit 0 pass, 1 fail, 77 (SKIPPED, with the reason) without /dev/kvm or
without TAP and network namespace support (not root)."""
import argparse
import hashlib
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "bench"))
from harness import fcapi, netns  # noqa: E402

MINIMAL = os.path.join(REPO, "guest", "linux", "minimal")
OUT = os.path.join(REPO, "guest", "linux", "out", "minimal")
DISTRO_OUT = os.path.join(REPO, "guest", "linux", "out")
PEER_PORT = 5000
SEND_BYTES = 256 << 10      # what the guest sends (guest/linux/minimal/init)
REPLY = bytes(i % 251 for i in range(256 << 10))
BLK_OFFSET = 32 << 20       # where the guest writes 1 MiB of /bin/busybox
BLK_BYTES = 1 << 20
VSOCK_PORT = 1234          # the host's echo port; the guest listens on the next one
VSOCK_BYTES = 64 << 10
TIMEOUT = 900               # a failure detector only; a boot here takes ~3 min
# What vireo's PVM compatibility hides (src/arch/x86/pvm_compat.c), as
# QEMU's -cpu names, for the reference run.
# and as the clearcpuid= that vireo adds to the command line (a PVM host's
# CPUID instruction reports some of them whatever the VMM's table says).
CLEARCPUID = ("clearcpuid=140,141,145,150,151,154,155,156,157,158,288,291,293,296,298,304,"
              "306,307,308,311,312,534,320,321,323")
QEMU_HIDE = ("fma cx16 pcid movbe popcnt xsave avx f16c rdrand fsgsbase bmi1 avx2 bmi2 "
             "invpcid avx512f rdseed adx smap clflushopt clwb rdpid xsaveopt xsavec "
             "xsaves").split()


def serve(host, port):
    """The peer (run inside the namespace): takes one connection, reads
    SEND_BYTES, answers "<sha256 hex>\\n" and REPLY, prints what it got."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(1)
    print("listening", flush=True)
    c, _ = s.accept()
    c.settimeout(300)
    got = b""
    while len(got) < SEND_BYTES:
        d = c.recv(65536)
        if not d:
            break
        got += d
    h = hashlib.sha256(got).hexdigest()
    c.sendall(h.encode() + b"\n" + REPLY)
    c.close()
    print(f"got bytes={len(got)} sha256={h}", flush=True)


def vsock_pattern(n):
    """What guest/linux/minimal/vsock_check.c sends: byte i is i*7 + i/251 + 3."""
    return bytes((i * 7 + i // 251 + 3) & 0xFF for i in range(n))


def vsock_echo_server(path):
    """A Unix-socket server at path (vireo connects there for the guest's
    connection to the host's port): echoes one connection until EOF."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(TIMEOUT)

    def serve_one():
        try:
            c, _ = srv.accept()
            c.settimeout(120)
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
            c.close()
        except OSError:
            pass
        finally:
            srv.close()
    t = threading.Thread(target=serve_one, daemon=True)
    t.start()
    return t


def vsock_client(uds, port, result):
    """Connects through vireo's socket with CONNECT, sends the pattern,
    shuts the write side and reads the echo; result gets a summary. The
    guest may not listen yet: a refused CONNECT is tried again."""
    want = vsock_pattern(VSOCK_BYTES)
    for _ in range(20):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(60)
        try:
            c.connect(uds)
            c.sendall(f"CONNECT {port}\n".encode())
            line = b""
            while not line.endswith(b"\n"):
                d = c.recv(1)
                if not d:
                    break
                line += d
            if not line.startswith(b"OK "):
                c.close()
                time.sleep(1)
                continue
            c.sendall(want)
            c.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                d = c.recv(65536)
                if not d:
                    break
                got += d
            result["line"] = line.decode(errors="replace").strip()
            result["ok"] = got == want
            result["got"] = len(got)
            return
        except OSError as e:
            result["error"] = str(e)
            time.sleep(1)
        finally:
            c.close()
    result.setdefault("error", "the guest never accepted CONNECT")


def build_kernel(distro):
    """guest/linux/minimal/build.sh (or guest/linux/build.sh); returns None
    or why it failed."""
    script = (os.path.join(REPO, "guest", "linux", "build.sh") if distro else
              os.path.join(MINIMAL, "build.sh"))
    p = subprocess.run([script, DISTRO_OUT if distro else OUT], capture_output=True, text=True)
    sys.stdout.write(p.stderr)
    return None if p.returncode == 0 else f"{os.path.relpath(script, REPO)} failed ({p.returncode})"


BALLOON_MIB = 2


def balloon_watch(sock, result, deadline_s=180):
    """Polls vireo's API (a thread, once the guest's driver is bound) until
    Linux's virtio_balloon has inflated to the target, filled the
    statistics and sent a free page report, or the deadline passes."""
    api = fcapi.Client(sock, timeout=10)
    end = time.monotonic() + deadline_s
    try:
        while time.monotonic() < end and not all(result.get(k) for k in
                                                  ("inflated", "stats", "reports")):
            _, bal, _ = api.get("/balloon")
            result["actual_mib"] = (bal or {}).get("actual_mib")
            result["inflated"] = result["actual_mib"] == BALLOON_MIB
            _, st, _ = api.get("/balloon/statistics")
            st = st or {}
            result["stats"] = bool(st.get("total_memory")) and "free_memory" in st
            result["stats_seen"] = {k: st.get(k) for k in ("total_memory", "free_memory")}
            _, body, _ = api.request("GET", "/metrics")
            text = (body or {}).get("raw", "") if isinstance(body, dict) else ""
            m = re.search(r"^vireo_balloon_reports_total\{[^}]*\} (\d+)", text, re.M)
            result["reports"] = int(m.group(1)) if m else 0
            time.sleep(1)
    except OSError as e:
        result["error"] = str(e)
    finally:
        api.close()


def vmm_cmd(args, kernel, initrd, disk, cmdline, uds, hvc, api_sock):
    if args.qemu:
        # -arch-capabilities: this host's KVM refuses MSR 0x10a (bench/harness/vmm.py)
        return [args.qemu, "-accel", "kvm", "-M", "q35", "-cpu",
                "host,-arch-capabilities," + ",".join("-" + f for f in QEMU_HIDE),
                "-smp", str(args.cpus), "-m", "256M", "-nographic", "-nodefaults",
                "-serial", "stdio", "-no-reboot", "-kernel", kernel, "-initrd", initrd,
                "-append", cmdline,
                "-drive", f"file={disk},format=raw,if=none,id=d0,cache=none,aio=threads",
                "-device", "virtio-blk-pci,drive=d0",
                "-netdev", f"tap,id=n0,ifname={netns.TAP},script=no,downscript=no,vhost=off",
                "-device", f"virtio-net-pci,netdev=n0,mac={netns.GUEST_MAC},romfile=",
                "-device", "virtio-rng-pci"]
    return [args.vireo, "run", "--kernel", kernel, "--initrd", initrd,
            "--cpus", str(args.cpus), "--memory", "256M", "--serial", "stdio",
            "--disk", f"path={disk}", "--net", f"tap={netns.TAP},mac={netns.GUEST_MAC}",
            "--vsock", f"cid=3,uds={uds}", "--rng", "--console", f"file={hvc}",
            "--balloon", f"amount_mib={BALLOON_MIB},free_page_reporting=on,"
            "stats_polling_interval_s=5", "--api-sock", api_sock,
            "--transport", args.transport, "--cmdline", cmdline]


def run_guest(cmd, out_path, limit, on_line=None):
    """Runs the VMM with its output in out_path, each line stamped with the
    seconds since the start, each given to on_line; returns (status, lines)."""
    t0 = time.monotonic()
    lines = []
    with open(out_path, "w") as log:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        os.set_blocking(p.stdout.fileno(), False)
        buf = b""
        status = None
        while True:
            chunk = p.stdout.read()
            if chunk:
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    text = line.decode(errors="replace").rstrip("\r")
                    lines.append((time.monotonic() - t0, text))
                    log.write(f"{lines[-1][0]:8.2f} {text}\n")
                    if on_line:
                        on_line(text)
                    if "KVM internal error" in text:
                        status = "internal-error"   # QEMU pauses there instead of exiting
            elif p.poll() is not None:
                break
            else:
                time.sleep(0.05)
            if status:
                time.sleep(0.5)     # the rest of QEMU's report
                lines += [(time.monotonic() - t0, t.rstrip("\r")) for t in
                          (buf + (p.stdout.read() or b"")).decode(errors="replace").split("\n")]
                break
            if time.monotonic() - t0 > limit:
                status = "timeout"
                break
        if p.poll() is None:
            p.kill()
        p.wait()
    return (status or p.returncode), lines


def first(lines, pattern):
    for t, text in lines:
        m = re.search(pattern, text)
        if m:
            return t, m
    return None, None


def check(args, status, lines, disk, peer_out, vsock, hvc, balloon):
    problems = []
    want_status = 0
    if status != want_status:
        problems.append(f"the VMM ended with {status}, want {want_status} (the guest powers off)")
    _, m = first(lines, r"^VIREO-LINUX CHECK cpus=(\d+) mem_kib=(\d+) virtio=(\S+) marker=(\S+)")
    if not m:
        problems.append("no VIREO-LINUX CHECK line: the guest did not reach /init")
        return problems
    if int(m.group(1)) != args.cpus:
        problems.append(f"the guest sees {m.group(1)} CPUs, want {args.cpus}")
    if not 196608 <= int(m.group(2)) <= 262144:
        problems.append(f"MemTotal {m.group(2)} KiB for 256 MiB (want 192-256 MiB)")
    for dev in ("2/virtio_blk", "1/virtio_net", "4/virtio_rng"):
        if dev not in m.group(3).split(","):
            problems.append(f"no {dev} among the guest's virtio devices ({m.group(3)})")
    if m.group(4) != args.marker:
        problems.append(f"marker {m.group(4)!r}, want {args.marker!r}: the command line was lost")
    results = {}
    for _, text in lines:
        r = re.match(r"^VIREO-LINUX RESULT (\S+) (PASS|FAIL) ?(.*)$", text)
        if r:
            results[r.group(1)] = (r.group(2), r.group(3))
    names = ["blk-rw", "blk-ext2", "net-ping", "net-tcp", "rng-read"]
    if not args.qemu:
        names += ["vsock-connect", "vsock-accept", "hvc-write"]
        try:
            with open(hvc, errors="replace") as f:
                hvc_text = f.read()
        except OSError:
            hvc_text = ""
        if f"VIREO-HVC0 marker={args.marker}" not in hvc_text:
            problems.append(f"the --console file lacks the guest's hvc0 line: {hvc_text[-200:]!r}")
        names.append("balloon-driver")
        if not balloon.get("inflated"):
            problems.append(f"balloon: actual_mib {balloon.get('actual_mib')}, want "
                            f"{BALLOON_MIB} (Linux's virtio_balloon inflating)")
        if not balloon.get("stats"):
            problems.append(f"balloon: statistics {balloon.get('stats_seen')}: Linux did not "
                            "fill them")
        if not balloon.get("reports"):
            problems.append("balloon: no free page report from Linux")
        if balloon.get("error"):
            problems.append(f"balloon: the API: {balloon['error']}")
        for dev in ("19/vmw_vsock_virtio_transport", "3/virtio_console", "5/virtio_balloon"):
            if dev not in m.group(3).split(","):
                problems.append(f"no {dev} among the guest's virtio devices ({m.group(3)})")
    for name in names:
        verdict, detail = results.get(name, ("missing", ""))
        if verdict != "PASS":
            problems.append(f"{name}: {verdict} {detail}")
    # what reached the host
    wrote = re.search(r"sha256=([0-9a-f]{64})", results.get("blk-rw", ("", ""))[1])
    with open(disk, "rb") as f:
        f.seek(BLK_OFFSET)
        on_disk = hashlib.sha256(f.read(BLK_BYTES)).hexdigest()
    if not wrote or wrote.group(1) != on_disk:
        problems.append(f"the disk file at 32 MiB has sha256 {on_disk}, the guest wrote "
                        f"{wrote.group(1) if wrote else '?'}")
    tcp = results.get("net-tcp", ("", ""))[1]
    sent = re.search(r"sent_sha256=([0-9a-f]{64})", tcp)
    got = re.search(r"got bytes=(\d+) sha256=([0-9a-f]{64})", peer_out)
    if not got or not sent or got.group(2) != sent.group(1) or int(got.group(1)) != SEND_BYTES:
        problems.append(f"the peer got {got.group(0) if got else 'nothing'}, "
                        f"the guest sent {sent.group(1) if sent else '?'}")
    back = re.search(r"reply_bytes=(\d+) reply_sha256=([0-9a-f]{64})", tcp)
    if not back or back.group(2) != hashlib.sha256(REPLY).hexdigest():
        problems.append(f"the guest got {back.group(0) if back else 'nothing'} back, "
                        f"want {len(REPLY)} bytes of sha256 {hashlib.sha256(REPLY).hexdigest()}")
    if not args.qemu:
        if not re.search(r"ok sent=65536 echoed=65536 mismatched=0",
                         results.get("vsock-connect", ("", ""))[1]):
            problems.append("vsock-connect: the guest did not get its 64 KiB back from the host")
        if not vsock.get("ok"):
            problems.append(f"vsock-accept: the host's client through CONNECT got {vsock}")
    _, done = first(lines, r"^VIREO-LINUX DONE fails=(\d+)")
    if not done:
        problems.append("no VIREO-LINUX DONE line: the checks did not finish")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vireo", nargs="?")
    ap.add_argument("--transport", default="pci", choices=("pci", "mmio"))
    ap.add_argument("--cpus", type=int, default=1)
    ap.add_argument("--qemu", nargs="?", const="qemu-system-x86_64")
    ap.add_argument("--distro", action="store_true")
    ap.add_argument("--kernel")
    ap.add_argument("--initrd")
    ap.add_argument("--timeout", type=float, default=TIMEOUT)
    ap.add_argument("--serve", nargs=2, metavar=("HOST", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return 0
    if not args.qemu and not args.vireo:
        ap.error("VIREO is required (or --qemu)")
    if not os.path.exists("/dev/kvm"):
        print("SKIPPED (no /dev/kvm)")
        return 77
    why = netns.host_support()
    if why:
        print(f"SKIPPED (cannot make a TAP in a network namespace: {why})")
        return 77
    if args.qemu and subprocess.run(["sh", "-c", f"command -v {shlex.quote(args.qemu)}"],
                                    capture_output=True).returncode:
        print(f"SKIPPED (no {args.qemu})")
        return 77
    if args.distro and os.path.isdir("/sys/module/kvm_pvm"):
        print("SKIPPED (the default guest's Debian kernel cannot run its init on a PVM host: "
              "SYSCALL stays in ring 3 there, and only the test kernel carries the patch for "
              "it; the linux-guest-* tests run the same checks on that kernel)")
        return 77
    if args.distro:
        kernel = os.path.join(DISTRO_OUT, "vmlinuz")
        initrd = os.path.join(DISTRO_OUT, "initrd.img")
    else:
        kernel = args.kernel or os.path.join(OUT, "vmlinux")
        initrd = args.initrd or os.path.join(OUT, "initrd.cpio")
    if not args.kernel:
        failed = build_kernel(args.distro)
        if failed:
            print(f"FAIL: {failed}")
            return 1
    args.marker = f"e2e-{os.getpid()}"
    cmdline = (f"console=ttyS0 panic=-1 lpj=1000000 tsc=reliable no_timer_check "
               f"vireo.marker={args.marker} vireo.blk=vda vireo.ip={netns.GUEST_IP}/"
               f"{netns.PREFIX} vireo.peer={netns.HOST_IP} vireo.port={PEER_PORT}")
    if not args.qemu:
        cmdline += f" vireo.vsock={VSOCK_PORT}"
    if args.qemu:
        cmdline += " " + CLEARCPUID

    with tempfile.TemporaryDirectory() as tmp, netns.TapNs() as ns:
        disk = os.path.join(tmp, "scratch.img")
        with open(disk, "wb") as f:
            f.truncate(64 << 20)
        peer = subprocess.Popen(ns.cmd([sys.executable, os.path.abspath(__file__), "--serve",
                                        netns.HOST_IP, str(PEER_PORT)]),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        uds = os.path.join(tmp, "v.sock")
        api_sock = os.path.join(tmp, "api.sock")
        vsock, balloon = {}, {}
        clients, watchers = [], []

        def on_line(text):
            m = re.match(r"^VIREO-LINUX VSOCK-LISTENING port=(\d+)", text)
            if m and not clients:
                clients.append(threading.Thread(target=vsock_client, daemon=True,
                                                args=(uds, int(m.group(1)), vsock)))
                clients[0].start()
            if text.startswith("VIREO-LINUX BALLOON-BOUND") and not args.qemu and not watchers:
                watchers.append(threading.Thread(target=balloon_watch, daemon=True,
                                                 args=(api_sock, balloon)))
                watchers[0].start()
        try:
            if peer.stdout.readline().strip() != "listening":
                print("FAIL: the TCP peer did not start")
                return 1
            if not args.qemu:
                vsock_echo_server(f"{uds}_{VSOCK_PORT}")
            hvc = os.path.join(tmp, "hvc0.log")
            cmd = ns.cmd(vmm_cmd(args, kernel, initrd, disk, cmdline, uds, hvc, api_sock))
            print("$", shlex.join(cmd))
            status, lines = run_guest(cmd, os.path.join(tmp, "serial.log"), args.timeout,
                                      on_line)
            for t in clients + watchers:
                t.join(timeout=30)
        finally:
            if peer.poll() is None:
                peer.kill()
            peer_out = peer.communicate()[0]
        problems = check(args, status, lines, disk, peer_out, vsock, hvc, balloon)

    if args.qemu and status == "internal-error" and os.path.isdir("/sys/module/kvm_pvm"):
        # QEMU has no answer to the instructions vireo's PVM compatibility
        # carries out: the reference cannot run here, and says so
        t_err, _ = first(lines, r"KVM internal error")
        t_kernel, _ = first(lines, r"Linux version")
        _, code = first(lines, r"^Code=.*<([0-9a-f]{2})>")
        insn = {"cc": "int3", "9b": "fwait"}.get(code.group(1) if code else "", "an instruction")
        print(f"TIMES QEMU cpus={args.cpus}: first kernel line "
              f"{t_kernel if t_kernel is None else round(t_kernel, 1)}s, "
              f"KVM internal error {round(t_err, 1)}s")
        print(f"SKIPPED (QEMU cannot run this kernel on a PVM host: KVM internal error at "
              f"{insn} in ring 0, which the host rejects and vireo's PVM compatibility "
              "carries out)")
        return 77
    t_kernel, _ = first(lines, r"Linux version")
    t_init, _ = first(lines, r"^VIREO-LINUX INIT")
    t_done, _ = first(lines, r"^VIREO-LINUX DONE")
    fmt = lambda t: f"{t:.1f}s" if t is not None else "never"  # noqa: E731
    who = "QEMU" if args.qemu else f"vireo ({args.transport})"
    print(f"TIMES {who} cpus={args.cpus}: first kernel line {fmt(t_kernel)}, "
          f"/init {fmt(t_init)}, checks done {fmt(t_done)}")
    for _, text in lines:
        if text.startswith("VIREO-LINUX "):
            print(text)
    if problems:
        print("FAIL: Linux guest under " + who + ":")
        for p in problems:
            print("  - " + p)
        print("--- the last 40 lines of the console ---")
        for _, text in lines[-40:]:
            print(text)
        return 1
    print(f"PASS: Linux's virtio drivers under {who}: blk (direct I/O, ext2), net "
          f"(ping, TCP both ways), rng{'' if args.qemu else ', vsock (both ways), console, balloon (inflate, statistics, reporting)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
