"""pvguest's `balloon` test run under vireo (`--balloon`) or QEMU
(`virtio-balloon-pci`, the target given over QMP), with the VMM's resident
set read at each phase the guest announces. Shared by
tests/e2e/qemu_balloon.py (which judges it) and bench/balloon.py (which
times it); not the judging or the tables."""
import json
import os
import re
import socket
import subprocess
import tempfile
import time

from harness import vmm

PHASES = ["touched", "inflated", "deflated", "reported"]


class QMP:
    """QEMU's machine protocol on a Unix socket: the greeting, then
    qmp_capabilities, then one command at a time (events are skipped)."""

    def __init__(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            try:
                self.sock.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"QMP socket {path} never answered")
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.buf = b""
        self._line()                      # {"QMP": {...}}
        self.execute("qmp_capabilities")

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("QMP closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, cmd, args=None):
        """The command's "return", or RuntimeError with QEMU's error."""
        msg = {"execute": cmd} | ({"arguments": args} if args else {})
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._line()
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise RuntimeError(f"QMP {cmd}: {r['error']}")

    def close(self):
        self.sock.close()


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def qemu_balloon_dev(reporting=True):
    """QEMU's modern virtio-balloon-pci, with free page reporting."""
    return ["-device", "virtio-balloon-pci,id=bal0,disable-legacy=on,deflate-on-oom=on"
            + (",free-page-reporting=on" if reporting else "")]


def command(system, mib, memory_mib, reporting=True, hold_ms=300, vireo=vmm.VIREO,
            elf=vmm.PVGUEST, qmp=None):
    """The VMM's command line. vireo: the target by --balloon; QEMU: the
    guest waits (follow=1) for the target that run() gives over the QMP
    socket qmp."""
    if system == "vireo":
        spec = f"amount_mib={mib},deflate_on_oom=on" + (",free_page_reporting=on" if reporting
                                                       else "")
        return vmm.vireo_cmd(f"pvguest.run=balloon,hold_ms={hold_ms}", elf, vireo,
                             f"{memory_mib}M", 1, ["--balloon", spec])
    machine = "q35" if system == "qemu-q35" else "microvm,pcie=on"
    return vmm.qemu_cmd(f"pvguest.run=balloon,hold_ms={hold_ms},follow=1", machine, elf,
                        memory=f"{memory_mib}M", thread_names=False,
                        devices=["-qmp", f"unix:{qmp},server=on,wait=off"] +
                        qemu_balloon_dev(reporting))


def run(system, mib, memory_mib, reporting=True, hold_ms=300, vireo=vmm.VIREO,
        elf=vmm.PVGUEST, timeout=180, log=None):
    """One boot of pvguest's balloon test. Returns {"status", "rss":
    {phase: MiB, "waiting" under QEMU}, "result": the RESULT line or None,
    "kv": its key=value words, "lines": the guest's serial lines, "stderr"}."""
    with tempfile.TemporaryDirectory() as tmp:
        qsock = os.path.join(tmp, "qmp.sock")
        cmd = command(system, mib, memory_mib, reporting, hold_ms, vireo, elf, qsock)
        if log:
            log("$ " + " ".join(cmd))
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        rss, lines, qmp = {}, [], None
        deadline = time.monotonic() + timeout
        try:
            if system != "vireo":
                qmp = QMP(qsock)
            for raw in p.stdout:
                line = vmm.serial_text(raw.decode(errors="replace")).rstrip("\n")
                lines.append(line)
                m = re.search(r"PVGUEST INFO balloon phase=(\w+)", line)
                if m:
                    rss[m.group(1)] = rss_mib(p.pid)
                    if m.group(1) == "waiting" and qmp:
                        # the balloon command's value is the guest's memory
                        # once inflated, not the balloon's size
                        qmp.execute("balloon", {"value": (memory_mib - mib) << 20})
                if re.search(r"KVM internal error|PVGUEST RESULT balloon ", line):
                    if "KVM internal error" in line:
                        break
                if time.monotonic() > deadline:
                    break
            p.wait(timeout=max(1, deadline - time.monotonic()))
        except (subprocess.TimeoutExpired, RuntimeError, OSError) as e:
            lines.append(f"harness: {e}")
        finally:
            if qmp:
                qmp.close()
            if p.poll() is None:
                p.kill()
                p.wait()
        err = p.stderr.read().decode(errors="replace")
    res = next((l[l.index("PVGUEST RESULT"):] for l in lines if "PVGUEST RESULT balloon" in l),
               None)
    return {"status": p.returncode, "rss": rss, "result": res,
            "kv": vmm.parse_kv(res) if res else {}, "lines": lines, "stderr": err}
